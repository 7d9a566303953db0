package audit

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/session"
)

func TestKinds(t *testing.T) {
	k := Kinds()
	if !slices.IsSorted(k) || len(slices.Compact(slices.Clone(k))) != len(k) {
		t.Fatalf("Kinds() = %q, want sorted and without repeats", k)
	}
	for _, want := range []string{LoginFailed, SessionsRevokedAllUsers, string(session.EventCreated), string(session.EventBindingRefused)} {
		if !slices.Contains(k, want) {
			t.Errorf("Kinds() lacks %s", want)
		}
	}
	k[0] = "changed"
	if Kinds()[0] == "changed" {
		t.Error("Kinds() returns the package's own slice")
	}
}

func TestEventsQuery(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			db, err := data.Open(context.Background(), be.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			l := &Log{DB: db, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
			ctx := context.Background()
			for _, e := range []data.Event{
				{At: now.Add(-48 * time.Hour), Kind: string(session.EventCreated), UserID: 1, Session: "abcdef012345"},
				{At: now.Add(-time.Hour), Kind: string(session.EventRotated), UserID: 1, Session: "abcdef012345"},
				{At: now.Add(-time.Hour), Kind: string(session.EventCreated), UserID: 2, Session: "abcd99887766"},
				{At: now, Kind: Logout, UserID: 1, Session: "abcdef012345"},
				{At: now, Kind: LoginFailed, Username: "mallory"},
			} {
				l.Record(ctx, e)
			}
			for _, c := range []struct {
				name  string
				q     Query
				want  []string // the kinds of the events found, newest first
				field string   // of the QueryError, if one
				msg   string   // in it
			}{
				{"everything", Query{Limit: 10}, []string{"login_failed", "logout", "session_created", "session_rotated", "session_created"}, "", ""},
				{"a type", Query{Kind: "session_created", Limit: 10}, []string{"session_created", "session_created"}, "", ""},
				{"an unknown type", Query{Kind: "session_made", Limit: 10}, nil, "kind", `unknown event type "session_made"; the types are csrf_rejected, login_failed`},
				{"since", Query{Since: now.Add(-time.Hour), Limit: 10}, []string{"login_failed", "logout", "session_created", "session_rotated"}, "", ""},
				{"a short id", Query{Session: "abcdef012345", Limit: 10}, []string{"logout", "session_rotated", "session_created"}, "", ""},
				{"a full id", Query{Session: "ABCDEF012345" + strings.Repeat("0", 20), Limit: 10}, []string{"logout", "session_rotated", "session_created"}, "", ""},
				{"an unambiguous prefix", Query{Session: "abcde", Limit: 10}, []string{"logout", "session_rotated", "session_created"}, "", ""},
				{"the other session", Query{Session: "abcd9", Limit: 10}, []string{"session_created"}, "", ""},
				{"a prefix and a type", Query{Session: "abcde", Kind: "session_created", Limit: 10}, []string{"session_created"}, "", ""},
				{"no such session", Query{Session: "ffff", Limit: 10}, nil, "", ""},
				{"an ambiguous prefix", Query{Session: "abcd", Limit: 10}, nil, "session", "abcd begins the ids of abcd99887766, abcdef012345: give more of its digits"},
				{"too short", Query{Session: "abc", Limit: 10}, nil, "session", `"abc" is not a session id: give 4 to 32 of its hexadecimal digits`},
				{"too long", Query{Session: strings.Repeat("a", 33), Limit: 10}, nil, "session", "is not a session id"},
				{"not hexadecimal", Query{Session: "abcz", Limit: 10}, nil, "session", "is not a session id"},
				{"a LIKE pattern", Query{Session: "ab%_", Limit: 10}, nil, "session", "is not a session id"},
			} {
				list, err := l.Events(ctx, c.q)
				var qe *QueryError
				switch {
				case c.field == "" && err != nil:
					t.Errorf("%s: %v", c.name, err)
				case c.field != "" && (!errors.As(err, &qe) || qe.Field != c.field || !strings.Contains(qe.Message, c.msg)):
					t.Errorf("%s: got %v, want a QueryError on %s saying %q", c.name, err, c.field, c.msg)
				}
				var got []string
				for _, e := range list {
					got = append(got, e.Kind)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("%s: got %q, want %q", c.name, got, c.want)
				}
			}
			// Past a few sessions, an ambiguous prefix names some of them.
			for _, s := range []string{"abcd00000001", "abcd00000002", "abcd00000003", "abcd00000004", "abcd00000005"} {
				l.Record(ctx, data.Event{At: now, Kind: Logout, UserID: 3, Session: s})
			}
			_, err = l.Events(ctx, Query{Session: "abcd", Limit: 10})
			var qe *QueryError
			if !errors.As(err, &qe) || !strings.Contains(qe.Message, "more than 5 sessions, such as abcd00000001, abcd00000002, abcd00000003, abcd00000004, abcd00000005") {
				t.Errorf("many sessions: %v", err)
			}
		})
	}
}
