package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

// jsonEvents decodes the output of events --json, checking each line is
// one object with the documented fields and a time in RFC 3339 UTC.
func jsonEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	fields := []string{"client_ip", "detail", "id", "session", "time", "type", "user_agent", "user_id", "username"}
	var list []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || !strings.HasSuffix(line, "}\n") {
			t.Fatalf("not one JSON object per line: %q (%v)", line, err)
		}
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, fields) {
			t.Fatalf("fields %q, want %q", got, fields)
		}
		at, err := time.Parse(time.RFC3339Nano, m["time"].(string))
		if err != nil || !strings.HasSuffix(m["time"].(string), "Z") || at.Location() != time.UTC {
			t.Fatalf("time %q is not RFC 3339 in UTC: %v", m["time"], err)
		}
		list = append(list, m)
	}
	return list
}

func types(list []map[string]any) []string {
	var out []string
	for _, m := range list {
		out = append(out, m["type"].(string))
	}
	return out
}

func TestEventsCommand(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			dsn := be.DSN(t)
			db := []string{"--db", dsn}
			events := func(args ...string) (int, string, string) {
				t.Helper()
				return cmd(t, "", append(append([]string{"events"}, args...), db...)...)
			}

			// An empty log.
			if code, out, errs := events("--json", "--since", "1h"); code != 0 || out != "" || errs != "" {
				t.Fatalf("--json on an empty log: exit %d, stdout %q, stderr %q", code, out, errs)
			}
			if code, out, _ := events(); code != 0 || out != "No events.\n" {
				t.Fatalf("text on an empty log: exit %d, %q", code, out)
			}

			if code, _, errs := cmd(t, "correct horse battery\n", append([]string{"user", "add", "alice"}, db...)...); code != 0 {
				t.Fatal(errs)
			}
			handle := login(t, dsn, "alice") // a session_created event, its short id the first 12 digits
			short := handle[:12]
			// Another session whose id shares the first 4 digits, not the 5th.
			other := short[:4] + "00000000"
			if short[4] == '0' {
				other = short[:4] + "10000000"
			}
			st, err := data.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now().UTC()
			for _, e := range []data.Event{
				{At: now.Add(-48 * time.Hour), Kind: "login_failed", Username: "old", ClientIP: "192.0.2.1"},
				{At: now.Add(-time.Minute), Kind: "session_created", UserID: 99, Session: other},
				{At: now, Kind: "login_failed", Username: "mallory", ClientIP: "192.0.2.9", UserAgent: "<b>&</b>",
					Detail: "evil\u202Etxt.exe \u0085\x7f\u200b end"},
			} {
				if err := st.InsertEvent(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}

			code, out, errs := events("--json")
			all := jsonEvents(t, out)
			// Newest first means last recorded first: the backdated event is third.
			if code != 0 || len(all) != 5 || all[0]["type"] != "login_failed" || all[2]["username"] != "old" || all[4]["type"] != "user_created" {
				t.Fatalf("--json: exit %d, %q, %q", code, out, errs)
			}
			last := all[0]
			if last["user_id"] != nil || last["username"] != "mallory" || last["client_ip"] != "192.0.2.9" || last["session"] != "" ||
				last["user_agent"] != "<b>&</b>" || last["detail"] != "evil\u202Etxt.exe \u0085\x7f\u200b end" {
				t.Errorf("the last event: %v", last)
			}
			// What a terminal would act on or hide is escaped, not removed.
			line, _, _ := strings.Cut(out, "\n")
			for _, r := range []string{"\u202E", "\u0085", "\x7f", "\u200b"} {
				if strings.Contains(line, r) {
					t.Errorf("the JSON line carries %+q raw: %s", r, line)
				}
			}
			if !strings.Contains(line, `evil\u202etxt.exe \u0085\u007f\u200b end`) || !strings.Contains(line, `"<b>&</b>"`) {
				t.Errorf("the JSON line: %s", line)
			}
			for _, m := range all {
				if m["type"] == "user_created" && (m["user_id"] != float64(1) || m["username"] != "alice" || m["client_ip"] != "command line") {
					t.Errorf("user_created: %v", m)
				}
			}

			for _, c := range []struct {
				args []string
				want []string // the types found, newest first
			}{
				{[]string{"--since", "24h"}, []string{"login_failed", "session_created", "session_created", "user_created"}},
				{[]string{"--since", "2d1h"}, nil}, // not a duration: refused below
				{[]string{"--since", "3d"}, []string{"login_failed", "session_created", "login_failed", "session_created", "user_created"}},
				{[]string{"--since", "30s"}, []string{"login_failed", "session_created", "user_created"}},
				{[]string{"--since", now.Add(-time.Hour).Format(time.RFC3339)}, []string{"login_failed", "session_created", "session_created", "user_created"}},
				{[]string{"--since", now.Add(time.Hour).Format(time.RFC3339)}, nil},
				{[]string{"--since", "2000-01-01"}, []string{"login_failed", "session_created", "login_failed", "session_created", "user_created"}},
				{[]string{"--type", "session_created"}, []string{"session_created", "session_created"}},
				{[]string{"--type", "login_failed", "--since", "1h"}, []string{"login_failed"}},
				{[]string{"--session", short}, []string{"session_created"}},
				{[]string{"--session", handle}, []string{"session_created"}},
				{[]string{"--session", strings.ToUpper(short[:5])}, []string{"session_created"}},
				{[]string{"--session", other[:5]}, []string{"session_created"}},
				{[]string{"--user", "alice"}, []string{"session_created", "user_created"}},
				{[]string{"--user", "alice", "--type", "user_created"}, []string{"user_created"}},
				{[]string{"--limit", "2"}, []string{"login_failed", "session_created"}},
			} {
				code, out, errs := events(append(c.args, "--json")...)
				if c.args[1] == "2d1h" {
					if code != 2 || !strings.Contains(errs, `--since "2d1h"`) {
						t.Errorf("%q: exit %d, %q; want a refusal", c.args, code, errs)
					}
					continue
				}
				if got := types(jsonEvents(t, out)); code != 0 || !slices.Equal(got, c.want) {
					t.Errorf("%q: exit %d, got %q, want %q; stderr %q", c.args, code, got, c.want, errs)
				}
			}

			// The text shows the session as its short id, which --session
			// takes back.
			code, out, _ = events("--type", "session_created")
			if code != 0 || !strings.Contains(out, " "+short+" ") || strings.Contains(out, handle) {
				t.Fatalf("text output lacks the short id %s: %q", short, out)
			}
			if !strings.HasPrefix(out, "TIME") || !strings.Contains(out, "SESSION") {
				t.Fatalf("text output: %q", out)
			}
			code, _, errs = events("--session", short[:4])
			if code != 2 || !strings.Contains(errs, short[:4]+" begins the ids of ") || !strings.Contains(errs, short) ||
				!strings.Contains(errs, other) || !strings.Contains(errs, "give more of its digits") {
				t.Errorf("an ambiguous prefix: exit %d, %q", code, errs)
			}
			if code, out, errs := events("--session", "ffffffff"); code != 0 || out != "No events.\n" {
				t.Errorf("no such session: exit %d, %q %q", code, out, errs)
			}
			if code, _, errs := events("--user", "nobody"); code != 2 || !strings.Contains(errs, `there is no user "nobody"`) {
				t.Errorf("--user nobody: exit %d, %q", code, errs)
			}
			if code, _, errs := events("--user", "alice", "--user-id", "1"); code != 2 || !strings.Contains(errs, "not both") {
				t.Errorf("--user and --user-id: exit %d, %q", code, errs)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time // zero: an error
	}{
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"0s", now},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0d", now},
		{"2026-03-01T08:30:00Z", time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)},
		{"2026-03-01T08:30:00+02:00", time.Date(2026, 3, 1, 6, 30, 0, 0, time.UTC)},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"-1h", time.Time{}},
		{"-2d", time.Time{}},
		{"1.5d", time.Time{}},
		{"yesterday", time.Time{}},
		{"", time.Time{}},
		{"d", time.Time{}},
		{"99999999999d", time.Time{}},
		{"2026-13-01", time.Time{}},
	} {
		got, err := parseSince(c.in, now)
		if c.want.IsZero() != (err != nil) || !got.Equal(c.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestEscapeInvisible(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":"plain Zoë 👍"}` + "\n", `{"a":"plain Zoë 👍"}` + "\n"},
		{`{"a":"x` + "\u202E" + `y"}`, `{"a":"x\u202ey"}`},
		{`{"a":"` + "\x7f\u009b" + `"}`, `{"a":"\u007f\u009b"}`},
		{`{"a":"` + "\U000E0041" + `"}`, `{"a":"\udb40\udc41"}`}, // a tag character, outside the BMP
	} {
		got := escapeInvisible([]byte(c.in))
		if string(got) != c.want {
			t.Errorf("escapeInvisible(%+q) = %+q, want %+q", c.in, got, c.want)
		}
		var a, b any
		if json.Unmarshal([]byte(c.in), &a) == nil && (json.Unmarshal(got, &b) != nil || !bytes.Equal(must(json.Marshal(a)), must(json.Marshal(b)))) {
			t.Errorf("escapeInvisible(%+q) changed the meaning: %+q", c.in, got)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
