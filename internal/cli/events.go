package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
)

var eventsHelp = help{
	name: "events",
	synopsis: []string{
		"connectbook events [--user <username> | --user-id N] [--type TYPE] [--since WHEN]",
		"                   [--session ID] [--limit N] [--json] [flags]",
	},
	about: `Shows the security event log, newest first. --user-id also finds the
events of a deleted account, which are kept for 90 days.

--since takes a duration back from now (90m, 24h, 7d), an RFC 3339 time
(2026-01-02T15:04:05Z) or a date (2026-01-02, from midnight UTC).

--session takes a session's id as events and "connectbook sessions list"
show it, or as few as 4 of its first digits if no other session's id
begins with them.

With --json, each event is one JSON object on a line of its own, with these
fields:
  id          the event's number; later events have greater numbers
  time        when it happened: RFC 3339 in UTC, such as 2026-01-02T15:04:05.123456Z
  type        what happened: one of the types below
  user_id     the user's id, or null when no user is known
  username    the user's name, or "" when none is known
  client_ip   the client's address, or "command line"
  user_agent  the client's User-Agent header, or ""
  session     the first 12 hexadecimal digits of the session's id, or ""
  detail      more about the event, in words
These names are stable; fields may be added.

Event types:
` + wrapList(audit.Kinds(), "  ", 76),
}

// wrapList writes words separated by commas, in lines of at most width
// characters after indent.
func wrapList(words []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

func eventsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("events", &eventsHelp)
	var af adminFlags
	af.register(f.FlagSet)
	user := f.String("user", "", "only this user's events")
	userID := f.Int64("user-id", 0, "only the events of the user with this id (a deleted user's too)")
	kind := f.String("type", "", "only events of this type (see above)")
	since := f.String("since", "", "only events since this long ago or this time (see above)")
	session := f.String("session", "", "only the events of the session with this id, or the start of it")
	limit := f.Int("limit", 50, "how many events to show (at most 10000)")
	asJSON := f.Bool("json", false, "write one JSON object per event and line (see above)")
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	switch {
	case f.NArg() > 0:
		return f.misuse(stderr, "unexpected argument %q", f.Arg(0))
	case *limit < 1 || *limit > 10000:
		return f.misuse(stderr, "--limit takes 1 to 10000, not %d", *limit)
	case *userID < 0:
		return f.misuse(stderr, "--user-id takes a user's id, a positive number")
	case *userID > 0 && *user != "":
		return f.misuse(stderr, "give --user or --user-id, not both")
	}
	// Checked here too, before anything is opened.
	if err := audit.CheckKind(*kind); err != nil {
		return f.misuse(stderr, "--type: %v", err)
	}
	if *session != "" {
		if err := audit.CheckSession(*session); err != nil {
			return f.misuse(stderr, "--session: %v", err)
		}
	}
	q := audit.Query{UserID: *userID, Kind: *kind, Session: *session, Limit: *limit}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return f.misuse(stderr, "--since %q: %v", *since, err)
		}
		q.Since = t
	}
	st, code := af.open(ctx, "events", stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if *user != "" {
		u, err := lookupUser(ctx, st.Account, *user)
		if err != nil {
			return report(stderr, "events", err)
		}
		q.UserID, q.Username = u.ID, u.Username
	}
	list, err := st.Audit.Events(ctx, q)
	var qe *audit.QueryError
	if errors.As(err, &qe) {
		flag := map[string]string{"kind": "--type"}[qe.Field]
		if flag == "" {
			flag = "--" + qe.Field
		}
		return f.misuse(stderr, "%s: %s", flag, qe.Message)
	}
	if err != nil {
		fmt.Fprintf(stderr, "connectbook events: %v\n", err)
		return 1
	}
	if *asJSON {
		err = writeEventsJSON(stdout, list)
	} else {
		err = writeEventsText(stdout, list)
	}
	if err != nil {
		fmt.Fprintf(stderr, "connectbook events: %v\n", err)
		return 1
	}
	return 0
}

// parseSince reads --since: a duration back from now (Go's, or whole days
// such as 7d), an RFC 3339 time, or a date meaning its midnight in UTC.
func parseSince(s string, now time.Time) (time.Time, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, aerr := strconv.Atoi(days)
		if aerr == nil && n >= 0 && n <= 100000 {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if err == nil {
		return time.Time{}, errors.New("give a duration back from now, without a minus sign")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want a duration such as 24h or 7d, an RFC 3339 time such as 2026-01-02T15:04:05Z, or a date such as 2026-01-02")
}

func writeEventsText(w io.Writer, list []data.Event) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "No events.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tUSER\tIP\tSESSION\tDETAIL")
	for _, e := range list {
		who := e.Username
		if who == "" && e.UserID != 0 {
			who = "#" + strconv.FormatInt(e.UserID, 10)
		}
		// Every column may hold what a client sent: keep control characters
		// away from the terminal.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", stamp(e.At), clipText(e.Kind, 40), dash(clipText(who, 40)),
			dash(clipText(e.ClientIP, 64)), dash(clipText(e.Session, 16)), clipText(e.Detail, 80))
	}
	return tw.Flush()
}

// eventJSON is an event as "events --json" writes it. The field names are
// documented, and stay.
type eventJSON struct {
	ID        int64  `json:"id"`
	Time      string `json:"time"`
	Type      string `json:"type"`
	UserID    *int64 `json:"user_id"`
	Username  string `json:"username"`
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
	Session   string `json:"session"`
	Detail    string `json:"detail"`
}

func writeEventsJSON(w io.Writer, list []data.Event) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, e := range list {
		j := eventJSON{ID: e.ID, Time: e.At.UTC().Format(time.RFC3339Nano), Type: e.Kind, Username: e.Username,
			ClientIP: e.ClientIP, UserAgent: e.UserAgent, Session: e.Session, Detail: e.Detail}
		if e.UserID != 0 {
			j.UserID = &e.UserID
		}
		buf.Reset()
		if err := enc.Encode(j); err != nil {
			return err
		}
		if _, err := w.Write(escapeInvisible(buf.Bytes())); err != nil {
			return err
		}
	}
	return nil
}

// escapeInvisible writes the characters of a JSON line that a terminal
// would act on or not show (DEL and C1 controls, which encoding/json
// leaves as they are, and invisible formatting such as bidirectional
// overrides) as \u escapes: the line means the same, and shows what is
// there when it reaches a terminal. Outside strings, JSON has none of
// them.
func escapeInvisible(line []byte) []byte {
	out := make([]byte, 0, len(line))
	for len(line) > 0 {
		r, size := utf8.DecodeRune(line)
		if r != '\n' && (unicode.IsControl(r) || auth.Invisible(r)) {
			if r > 0xFFFF {
				hi, lo := utf16.EncodeRune(r)
				out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, line[:size]...)
		}
		line = line[size:]
	}
	return out
}
