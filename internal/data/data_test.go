package data_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

func open(t *testing.T, dsn string) *data.DB {
	t.Helper()
	db, err := data.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestData(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			t.Run("migrations_apply_once", func(t *testing.T) {
				dsn := be.DSN(t)
				open(t, dsn)
				db := open(t, dsn) // a second start finds everything in place
				var n int
				if err := db.SQL.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != 2 { // one row per migration file
					t.Fatalf("schema_migrations rows = %d, %v; want 2", n, err)
				}
			})
			t.Run("users", func(t *testing.T) { testUsers(t, open(t, be.DSN(t))) })
			t.Run("login_failures", func(t *testing.T) { testFailures(t, open(t, be.DSN(t))) })
			t.Run("events", func(t *testing.T) { testEvents(t, open(t, be.DSN(t))) })
		})
	}
}

func testUsers(t *testing.T, db *data.DB) {
	ctx := context.Background()
	now := time.UnixMicro(1_800_000_000_000_000).UTC()
	u, err := db.CreateUser(ctx, "alice", "alice", "$argon2id$x", now)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Username != "alice" || !u.CreatedAt.Equal(now) || u.Bio != "" {
		t.Fatalf("created %+v", u)
	}
	if _, err := db.CreateUser(ctx, "alice", "other", "h", now); !errors.Is(err, data.ErrUsernameTaken) {
		t.Fatalf("duplicate username: %v", err)
	}
	if err := db.UpdateProfile(ctx, u.ID, "Alice", "Hello 👋", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := db.UserByUsername(ctx, "alice")
	if err != nil || got.DisplayName != "Alice" || got.Bio != "Hello 👋" || !got.UpdatedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	if err := db.UpdatePassword(ctx, u.ID, "$argon2id$y", now); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.UserByID(ctx, u.ID); got.PasswordHash != "$argon2id$y" {
		t.Fatalf("password hash %q", got.PasswordHash)
	}
	for _, err := range []error{
		db.UpdateProfile(ctx, 999, "x", "", now),
		db.UpdatePassword(ctx, 999, "x", now),
		db.DeleteUser(ctx, 999),
	} {
		if !errors.Is(err, data.ErrNotFound) {
			t.Errorf("write to a missing user: %v, want ErrNotFound", err)
		}
	}
	if _, err := db.UserByUsername(ctx, "nobody"); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("missing user: %v", err)
	}
	if err := db.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByID(ctx, u.ID); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
}

func testFailures(t *testing.T, db *data.DB) {
	ctx := context.Background()
	now := time.UnixMicro(1_800_000_000_000_000).UTC()
	for i := 1; i <= 3; i++ {
		n, err := db.RecordLoginFailure(ctx, data.ScopeAccount, "alice", now.Add(time.Duration(i)*time.Second), time.Hour)
		if err != nil || n != i {
			t.Fatalf("failure %d: count %d, %v", i, n, err)
		}
	}
	db.RecordLoginFailure(ctx, data.ScopeIP, "192.0.2.1", now, time.Hour)
	got, err := db.LoginFailures(ctx, data.FailureKey{Scope: data.ScopeAccount, Subject: "alice"},
		data.FailureKey{Scope: data.ScopeIP, Subject: "192.0.2.1"}, data.FailureKey{Scope: data.ScopeIP, Subject: "alice"})
	if err != nil || len(got) != 3 || got[0].Count != 3 || !got[0].Last.Equal(now.Add(3*time.Second)) || got[1].Count != 1 || got[2].Count != 0 {
		t.Fatalf("LoginFailures = %+v, %v", got, err)
	}
	if err := db.ForgiveLoginFailure(ctx, data.ScopeAccount, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LoginFailures(ctx, data.FailureKey{Scope: data.ScopeAccount, Subject: "alice"}); got[0].Count != 2 {
		t.Fatalf("after forgiving one: %+v", got)
	}
	// A failure after a quiet window starts over.
	if n, _ := db.RecordLoginFailure(ctx, data.ScopeAccount, "alice", now.Add(2*time.Hour), time.Hour); n != 1 {
		t.Fatalf("after a quiet hour: count %d, want 1", n)
	}
	if err := db.ClearLoginFailures(ctx, data.ScopeAccount, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LoginFailures(ctx, data.FailureKey{Scope: data.ScopeAccount, Subject: "alice"}); got[0].Count != 0 {
		t.Fatalf("after clearing: %+v", got)
	}
	if n, err := db.PruneLoginFailures(ctx, now.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want the IP's record", n, err)
	}
}

func testEvents(t *testing.T, db *data.DB) {
	ctx := context.Background()
	now := time.UnixMicro(1_800_000_000_000_000).UTC()
	u, err := db.CreateUser(ctx, "alice", "alice", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []data.Event{
		{At: now, Kind: "login_failed", Username: "mallory", ClientIP: "192.0.2.9"},
		{At: now, Kind: "session_created", UserID: u.ID, Session: "abcdef012345"},
		{At: now, Kind: "logout", UserID: u.ID, Username: "alice"},
	} {
		if err := db.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.Events(ctx, 0, "", 10)
	if err != nil || len(all) != 3 || all[0].Kind != "logout" || all[2].Kind != "login_failed" {
		t.Fatalf("Events = %+v, %v", all, err)
	}
	if err := db.InsertEvent(ctx, data.Event{At: now, Kind: "login_failed", Username: "alice", ClientIP: "203.0.113.1"}); err != nil {
		t.Fatal(err)
	}
	mine, err := db.Events(ctx, u.ID, "alice", 10)
	if err != nil || len(mine) != 3 || mine[0].Kind != "login_failed" || mine[2].Username != "alice" || mine[2].Session != "abcdef012345" {
		t.Fatalf("Events(alice) = %+v, %v; the session event should be named by the join", mine, err)
	}
	if one, _ := db.Events(ctx, 0, "", 1); len(one) != 1 {
		t.Fatalf("limit not applied: %d", len(one))
	}
	db.InsertEvent(ctx, data.Event{At: now.Add(-100 * 24 * time.Hour), Kind: "old"})
	if n, err := db.PruneEvents(ctx, now.Add(-90*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneEvents = %d, %v; want the old one", n, err)
	}
}
