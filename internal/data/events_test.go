package data_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

func TestFindEvents(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			db := open(t, be.DSN(t))
			ctx := context.Background()
			now := time.UnixMicro(1_800_000_000_000_000).UTC()
			alice, err := db.CreateUser(ctx, "alice", "alice", "h", now)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []data.Event{
				{At: now.Add(-48 * time.Hour), Kind: "session_created", UserID: alice.ID, Session: "abcdef012345"},                    // 1
				{At: now.Add(-2 * time.Hour), Kind: "login_failed", Username: "alice", ClientIP: "192.0.2.9"},                         // 2
				{At: now.Add(-time.Hour), Kind: "session_rotated", UserID: alice.ID, Session: "abcdef012345"},                         // 3
				{At: now.Add(-time.Hour), Kind: "session_created", UserID: alice.ID + 1, Session: "abcd99887766"},                     // 4
				{At: now, Kind: "logout", UserID: alice.ID, Username: "alice", Session: "abcdef012345"},                               // 5
				{At: now.Add(-time.Microsecond), Kind: "session_created", UserID: alice.ID, Session: "0123456789ab", Detail: "since"}, // 6
			} {
				if err := db.InsertEvent(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			ids := func(list []data.Event) []int64 {
				var out []int64
				for _, e := range list {
					out = append(out, e.ID)
				}
				return out
			}
			for _, c := range []struct {
				name string
				q    data.EventQuery
				want []int64 // the events' insertion order, newest first
			}{
				{"all", data.EventQuery{Limit: 10}, []int64{6, 5, 4, 3, 2, 1}},
				{"limit", data.EventQuery{Limit: 2}, []int64{6, 5}},
				{"kind", data.EventQuery{Kind: "session_created", Limit: 10}, []int64{6, 4, 1}},
				{"since, inclusive", data.EventQuery{Since: now.Add(-time.Hour), Limit: 10}, []int64{6, 5, 4, 3}},
				{"since a microsecond ago", data.EventQuery{Since: now.Add(-time.Microsecond), Limit: 10}, []int64{6, 5}},
				{"session", data.EventQuery{Session: "abcdef012345", Limit: 10}, []int64{5, 3, 1}},
				{"a session prefix is not a session", data.EventQuery{Session: "abcdef", Limit: 10}, nil},
				{"user, with failed sign-ins on the name", data.EventQuery{UserID: alice.ID, Username: "alice", Limit: 10}, []int64{6, 5, 3, 2, 1}},
				{"everything at once", data.EventQuery{UserID: alice.ID, Username: "alice", Kind: "session_rotated",
					Since: now.Add(-3 * time.Hour), Session: "abcdef012345", Limit: 10}, []int64{3}},
				{"kind and user", data.EventQuery{UserID: alice.ID, Username: "alice", Kind: "session_created", Limit: 10}, []int64{6, 1}},
			} {
				list, err := db.FindEvents(ctx, c.q)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				// IDs count from 1 in a new database on both backends.
				if got := ids(list); !slices.Equal(got, c.want) {
					t.Errorf("%s: got events %v, want %v", c.name, got, c.want)
				}
			}
			for _, c := range []struct {
				prefix string
				limit  int
				want   []string
			}{
				{"abcd", 10, []string{"abcd99887766", "abcdef012345"}},
				{"abcd", 1, []string{"abcd99887766"}},
				{"abcde", 10, []string{"abcdef012345"}},
				{"abcdef012345", 10, []string{"abcdef012345"}},
				{"0123", 10, []string{"0123456789ab"}},
				{"fff", 10, []string{}},
				{"ABCD", 10, []string{}}, // ids are lower case
				{"%", 10, []string{}},
				{"_bcd", 10, []string{}},
			} {
				got, err := db.EventSessions(ctx, c.prefix, c.limit)
				if err != nil || !slices.Equal(got, c.want) {
					t.Errorf("EventSessions(%q, %d) = %q, %v; want %q", c.prefix, c.limit, got, err, c.want)
				}
			}
		})
	}
}
