package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// Query selects events of the log. Its zero fields select every event.
type Query struct {
	// UserID selects the events of the user with this ID and Username,
	// events about that username with no known user (such as failed
	// sign-ins) included.
	UserID   int64
	Username string
	Kind     string    // only events of this kind, one of Kinds
	Since    time.Time // only events at or after this
	// Session selects the events of one session: the hexadecimal digits
	// its ID begins with, as events show it (a short ID) or in full, or
	// fewer of them if no other session's ID begins with those.
	Session string
	Limit   int
}

// QueryError is a query the log cannot answer as asked. Its message is
// meant for the person who asked.
type QueryError struct {
	Field   string // the Query field at fault, in lower case: "kind" or "session"
	Message string
}

func (e *QueryError) Error() string { return e.Message }

// shortID is how many digits of a session's ID events keep.
var shortID = len(session.Handle{}.Short())

// minSessionPrefix is the fewest digits that can select a session.
const minSessionPrefix = 4

// ambiguousShown is how many sessions a QueryError about an ambiguous
// prefix names.
const ambiguousShown = 5

// Events returns the events q selects, newest first.
func (l *Log) Events(ctx context.Context, q Query) ([]data.Event, error) {
	if err := CheckKind(q.Kind); err != nil {
		return nil, err
	}
	dq := data.EventQuery{UserID: q.UserID, Username: q.Username, Kind: q.Kind, Since: q.Since, Limit: q.Limit}
	if q.Session != "" {
		id, err := l.sessionID(ctx, q.Session)
		if err != nil || id == "" {
			return []data.Event{}, err
		}
		dq.Session = id
	}
	return l.DB.FindEvents(ctx, dq)
}

// CheckKind returns a *QueryError if kind is neither "" nor one of Kinds.
func CheckKind(kind string) error {
	if kind != "" && !slices.Contains(knownKinds, kind) {
		return &QueryError{"kind", fmt.Sprintf("unknown event type %q; the types are %s", kind, strings.Join(Kinds(), ", "))}
	}
	return nil
}

// CheckSession returns a *QueryError if prefix cannot select a session:
// it is not 4 to 32 hexadecimal digits.
func CheckSession(prefix string) error {
	p := strings.ToLower(prefix)
	if len(p) < minSessionPrefix || len(p) > 2*len(session.Handle{}) || strings.Trim(p, "0123456789abcdef") != "" {
		return &QueryError{"session", fmt.Sprintf("%q is not a session id: give %d to %d of its hexadecimal digits",
			prefix, minSessionPrefix, 2*len(session.Handle{}))}
	}
	return nil
}

// sessionID returns the short ID of the one session in the log whose ID
// begins with prefix, or "" if none does.
func (l *Log) sessionID(ctx context.Context, prefix string) (string, error) {
	if err := CheckSession(prefix); err != nil {
		return "", err
	}
	p := strings.ToLower(prefix)
	p = p[:min(len(p), shortID)]
	ids, err := l.DB.EventSessions(ctx, p, ambiguousShown+1)
	switch {
	case err != nil:
		return "", err
	case len(ids) == 0:
		return "", nil
	case len(ids) == 1:
		return ids[0], nil
	}
	some := "the ids of " + strings.Join(ids, ", ")
	if len(ids) > ambiguousShown {
		some = fmt.Sprintf("the ids of more than %d sessions, such as %s", ambiguousShown, strings.Join(ids[:ambiguousShown], ", "))
	}
	return "", &QueryError{"session", fmt.Sprintf("%s begins %s: give more of its digits", p, some)}
}
