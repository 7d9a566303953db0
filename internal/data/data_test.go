package data_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
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
				files, _ := filepath.Glob("migrations/*.sql")
				if err := db.SQL.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) || n < 5 { // one row per migration file
					t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, len(files))
				}
			})
			t.Run("users", func(t *testing.T) { testUsers(t, open(t, be.DSN(t))) })
			t.Run("login_failures", func(t *testing.T) { testFailures(t, open(t, be.DSN(t))) })
			t.Run("events", func(t *testing.T) { testEvents(t, open(t, be.DSN(t))) })
			t.Run("notices_and_devices", func(t *testing.T) { testNotices(t, open(t, be.DSN(t))) })
			t.Run("activity", func(t *testing.T) { testActivity(t, open(t, be.DSN(t))) })
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
	if _, err := db.CreateUser(ctx, "alice", "other", "h", now); !errors.Is(err, data.ErrExists) {
		t.Fatalf("duplicate username: %v", err)
	}
	if err := db.UpdateProfile(ctx, u.ID, "Alice", "Hello 👋", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := db.UserByUsername(ctx, "alice")
	if err != nil || got.DisplayName != "Alice" || got.Bio != "Hello 👋" || !got.UpdatedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	// A password change moves the credential epoch on; a rehash of the
	// same password does not, and never overwrites a newer password.
	epoch, err := db.SetPassword(ctx, u.ID, "$argon2id$y", now)
	if err != nil || epoch != u.Epoch+1 {
		t.Fatalf("SetPassword: epoch %d, %v; want %d", epoch, err, u.Epoch+1)
	}
	if c, _ := db.CredentialsByUsername(ctx, "alice"); c.PasswordHash != "$argon2id$y" || c.Epoch != epoch || c.UserID != u.ID {
		t.Fatalf("credentials %+v", c)
	}
	if err := db.RehashPassword(ctx, u.ID, "$argon2id$x", "$argon2id$stale"); !errors.Is(err, data.ErrConflict) {
		t.Fatalf("rehash of an old hash: %v, want ErrConflict", err)
	}
	if err := db.RehashPassword(ctx, u.ID, "$argon2id$y", "$argon2id$z"); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.CredentialsByUsername(ctx, "alice"); c.PasswordHash != "$argon2id$z" || c.Epoch != epoch {
		t.Fatalf("after rehash: %+v", c)
	}
	if e, err := db.BumpEpoch(ctx, u.ID); err != nil || e != epoch+1 {
		t.Fatalf("BumpEpoch: %d, %v", e, err)
	}
	if e, err := db.Epoch(ctx, u.ID); err != nil || e != epoch+1 {
		t.Fatalf("Epoch: %d, %v", e, err)
	}
	_, setErr := db.SetPassword(ctx, 999, "x", now)
	_, bumpErr := db.BumpEpoch(ctx, 999)
	_, epochErr := db.Epoch(ctx, 999)
	for _, err := range []error{
		db.UpdateProfile(ctx, 999, "x", "", now),
		setErr, bumpErr, epochErr,
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

func testNotices(t *testing.T, db *data.DB) {
	ctx := context.Background()
	now := time.UnixMicro(1_800_000_000_000_000).UTC()
	alice, _ := db.CreateUser(ctx, "alice", "alice", "h", now)
	bob, _ := db.CreateUser(ctx, "bob", "bob", "h", now)
	if n, err := db.KnownDevices(ctx, alice.ID); err != nil || n != 0 {
		t.Fatalf("KnownDevices before any: %d, %v", n, err)
	}
	if last, err := db.SeenDevice(ctx, alice.ID, "Firefox on Linux", now); err != nil || !last.IsZero() {
		t.Fatalf("first sign-in with a device: %v, %v", last, err)
	}
	later := now.Add(time.Hour)
	if last, err := db.SeenDevice(ctx, alice.ID, "Firefox on Linux", later); err != nil || !last.Equal(now) {
		t.Fatalf("second sign-in: %v, %v; want %v", last, err, now)
	}
	if last, _ := db.SeenDevice(ctx, bob.ID, "Firefox on Linux", later); !last.IsZero() {
		t.Fatal("bob sees alice's device")
	}
	if n, err := db.KnownDevices(ctx, alice.ID); err != nil || n != 1 {
		t.Fatalf("KnownDevices: %d, %v; want 1", n, err)
	}
	n, err := db.CreateNotice(ctx, data.Notice{UserID: alice.ID, Kind: "new_sign_in", CreatedAt: later, Session: "ab", Device: "Safari on iOS", ClientIP: "203.0.113.7"})
	if err != nil || n.ID == 0 {
		t.Fatalf("CreateNotice: %+v, %v", n, err)
	}
	if u, _ := db.UserByID(ctx, alice.ID); !u.NoticeAt.Equal(later) {
		t.Fatalf("NoticeAt = %v, want %v", u.NoticeAt, later)
	}
	if list, _ := db.ShownNotices(ctx, alice.ID, now, "s1"); len(list) != 1 || list[0].Device != "Safari on iOS" || list[0].ClientIP != "203.0.113.7" || list[0].Session != "ab" {
		t.Fatalf("shown: %+v", list)
	}
	if list, _ := db.ShownNotices(ctx, alice.ID, later, "s1"); len(list) != 0 {
		t.Fatalf("shown though older than since: %+v", list)
	}
	if err := db.DismissNotice(ctx, bob.ID, n.ID, "s1", later); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("bob dismissing alice's notice: %v", err)
	}
	if _, err := db.Notice(ctx, bob.ID, n.ID); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("bob reading alice's notice: %v", err)
	}
	for range 2 { // twice is no error
		if err := db.DismissNotice(ctx, alice.ID, n.ID, "s1", later); err != nil {
			t.Fatal(err)
		}
	}
	// Dismissed for that session only.
	if list, _ := db.ShownNotices(ctx, alice.ID, now, "s1"); len(list) != 0 {
		t.Fatalf("dismissed notice still shown: %+v", list)
	}
	if list, _ := db.ShownNotices(ctx, alice.ID, now, "s2"); len(list) != 1 {
		t.Fatalf("dismissed by one session, hidden from another: %+v", list)
	}
	// Pruning forgets what is older than the retention.
	if n, err := db.PruneNotices(ctx, later); err != nil || n != 0 {
		t.Fatalf("PruneNotices at the cut-off: %d, %v; want 0", n, err)
	}
	if n, err := db.PruneNotices(ctx, later.Add(time.Second)); err != nil || n != 3 { // a notice, two devices
		t.Fatalf("PruneNotices: %d, %v; want 3", n, err)
	}
	if last, _ := db.SeenDevice(ctx, bob.ID, "Firefox on Linux", later); !last.IsZero() {
		t.Fatalf("a pruned device is still known: %v", last)
	}
	// Deleting the user deletes their notices and devices.
	db.CreateNotice(ctx, data.Notice{UserID: alice.ID, Kind: "new_sign_in", CreatedAt: later})
	if err := db.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	db.SQL.QueryRow("SELECT (SELECT count(*) FROM notices) + (SELECT count(*) FROM known_devices WHERE user_id = " + strconv.FormatInt(alice.ID, 10) + ")").Scan(&left)
	if left != 0 {
		t.Fatalf("%d notices and devices left after deleting the user", left)
	}
}

func testActivity(t *testing.T, db *data.DB) {
	ctx := context.Background()
	now := time.UnixMicro(1_800_000_000_000_000).UTC()
	alice, _ := db.CreateUser(ctx, "alice", "alice", "h", now)
	for i, e := range []data.Event{
		{Kind: "login_failed", Username: "alice", UserID: alice.ID}, // on her account
		{Kind: "login_failed", Username: "alice"},                   // on her name before her account: not hers
		{Kind: "login_succeeded", UserID: alice.ID},                 // hers
		{Kind: "login_succeeded", UserID: alice.ID + 1},             // someone else's
		{Kind: "session_created", UserID: alice.ID},                 // a kind not asked for
		{Kind: "logout", UserID: alice.ID},                          // hers
		{Kind: "login_failed", Username: "bob"},                     // on another name
		{Kind: "login_failed", Username: "alice", UserID: 7},        // with another user's ID
	} {
		e.At = now.Add(time.Duration(i) * time.Second)
		if err := db.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	q := data.ActivityQuery{UserID: alice.ID, Since: now, Kinds: []string{"login_failed", "login_succeeded", "logout"}, Limit: 2}
	page, err := db.Activity(ctx, q)
	if err != nil || len(page) != 2 || page[0].Kind != "logout" || page[1].Kind != "login_succeeded" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	q.Before = page[1].ID
	page, err = db.Activity(ctx, q)
	if err != nil || len(page) != 1 || page[0].Kind != "login_failed" || page[0].Username != "alice" {
		t.Fatalf("second page: %+v, %v", page, err)
	}
	q.Before, q.Since = 0, now.Add(3*time.Second)
	if page, _ := db.Activity(ctx, q); len(page) != 1 || page[0].Kind != "logout" {
		t.Fatalf("since: %+v", page)
	}
}
