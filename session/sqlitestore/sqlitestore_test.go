package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/sqlitestore"
	"github.com/connectbook/connectbook/session/storetest"
)

func newHarness(t *testing.T) storetest.Harness {
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestore.New(context.Background(), db, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		db.Close()
	})
	return storetest.Harness{Store: st, Dump: func(ctx context.Context) ([]byte, error) {
		sessions, err := dump(ctx, db, st.Table())
		if err != nil {
			return nil, err
		}
		endings, err := dump(ctx, db, st.Table()+"_endings")
		return append(sessions, endings...), err
	}}
}

// dump returns every column of every row of table. The raw database file
// pages are not needed: the two tables are the only places sessions and
// their endings live.
func dump(ctx context.Context, db *sql.DB, table string) ([]byte, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				buf.Write(v)
			default:
				fmt.Fprint(&buf, v)
			}
			buf.WriteByte(0)
		}
	}
	return buf.Bytes(), rows.Err()
}

func TestConformance(t *testing.T) {
	storetest.Run(t, "sqlite", newHarness)
}

// The layouts of earlier versions: the one before epochs, methods and
// re-authentication times, and the one before handles, secrets, token
// generations and device binding (which also had an endings table without
// handles and generations). insert writes a session as that version did.
var oldLayouts = []struct {
	name, schema, insert string
}{
	{"before_epochs", `
CREATE TABLE sessions (
	id BLOB PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL, idle_deadline INTEGER NOT NULL, abs_deadline INTEGER NOT NULL,
	created_ip TEXT NOT NULL, user_agent TEXT NOT NULL, last_ip TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (min(idle_deadline, abs_deadline));`,
		`INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	{"before_handles", `
CREATE TABLE sessions (
	id BLOB PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL, idle_deadline INTEGER NOT NULL, abs_deadline INTEGER NOT NULL,
	created_ip TEXT NOT NULL, user_agent TEXT NOT NULL, last_ip TEXT NOT NULL,
	epoch INTEGER NOT NULL DEFAULT 0, method TEXT NOT NULL DEFAULT '', auth_at INTEGER) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (min(idle_deadline, abs_deadline));
CREATE TABLE sessions_endings (
	id BLOB PRIMARY KEY, user_id TEXT NOT NULL, at INTEGER NOT NULL, why TEXT NOT NULL,
	expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX sessions_endings_expiry ON sessions_endings (expires_at);`,
		`INSERT INTO sessions (id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
}

// openOld returns a database at path holding the layout and one row of
// the older session old, written as that version did.
func openOld(t *testing.T, path, schema, insert string, old session.Session) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(ctx, schema); err != nil {
		t.Fatal(err)
	}
	if err := insertOld(db, insert, old); err != nil {
		t.Fatal(err)
	}
	return db
}

func insertOld(db *sql.DB, insert string, old session.Session) error {
	_, err := db.Exec(insert, old.ID[:], old.UserID,
		old.CreatedAt.UnixMicro(), old.LastSeenAt.UnixMicro(), old.IdleDeadline.UnixMicro(), old.AbsoluteDeadline.UnixMicro(),
		old.CreatedIP, old.UserAgent, old.LastIP)
	return err
}

// newStore runs New on db twice (the second finds nothing to add) and
// returns the second Store.
func newStore(t *testing.T, db *sql.DB) *sqlitestore.Store {
	t.Helper()
	var st *sqlitestore.Store
	for range 2 {
		if st != nil {
			st.Close()
		}
		var err error
		if st, err = sqlitestore.New(context.Background(), db, sqlitestore.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A sessions table made by an earlier version gains the new columns in
// place; its rows read with epoch 0, no method, their creation as the time
// of authentication, of seeing and of issue, and a random handle and
// secret, and they are found by handle, renewed, rotated and ended like
// any other.
func TestUpgradesOlderTable(t *testing.T) {
	for _, l := range oldLayouts {
		t.Run(l.name, func(t *testing.T) {
			now := time.Now().UTC().Truncate(time.Microsecond)
			old := storetest.OldSession(now)
			db := openOld(t, filepath.Join(t.TempDir(), "s.db"), l.schema, l.insert, old)
			storetest.CheckUpgradedRow(t, newStore(t, db), old, now)
		})
	}
}

// An upgraded database has the same tables, columns and indexes as a new
// one: the columns that migrate adds are those of the CREATE TABLE, in its
// order, with its definitions.
func TestUpgradedSchemaIsCurrent(t *testing.T) {
	ctx := context.Background()
	fresh, err := sqlitestore.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	newStore(t, fresh)
	want, err := schemaOf(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range oldLayouts {
		db := openOld(t, filepath.Join(t.TempDir(), l.name+".db"), l.schema, l.insert, storetest.OldSession(time.Now()))
		newStore(t, db)
		got, err := schemaOf(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s upgraded:\n%s\nwant, as created new:\n%s", l.name, got, want)
		}
	}
	for _, index := range []string{"sessions_handle", "sessions_user", "sessions_expiry", "sessions_endings_expiry"} {
		if !strings.Contains(want, "index "+index) {
			t.Errorf("no index %s in\n%s", index, want)
		}
	}
	if !strings.Contains(want, "index sessions_handle unique=1") {
		t.Errorf("the handle index is not unique:\n%s", want)
	}
}

// schemaOf describes the columns and indexes of the sessions and endings
// tables.
func schemaOf(ctx context.Context, db *sql.DB) (string, error) {
	var b strings.Builder
	for _, table := range []string{"sessions", "sessions_endings"} {
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", coalesce(dflt_value, 'NULL'), pk FROM pragma_table_info(?)`, table)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var name, typ, dflt string
			var notNull, pk int
			if err := rows.Scan(&name, &typ, &notNull, &dflt, &pk); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintf(&b, "%s.%s %s notnull=%d default=%s pk=%d\n", table, name, typ, notNull, dflt, pk)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return "", err
		}
		rows, err = db.QueryContext(ctx, `SELECT name, "unique" FROM pragma_index_list(?) WHERE origin = 'c' ORDER BY name`, table)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var name string
			var unique int
			if err := rows.Scan(&name, &unique); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintf(&b, "index %s unique=%d\n", name, unique)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// Upgrading from the version before handles: every row gets its own random
// handle and secret, once; the columns that version had keep their values;
// its endings read as endings of sessions, not of replaced tokens; a row
// that a process of that version inserts after the upgrade gets its handle
// and secret at the next start.
func TestUpgradeFillsHandlesAndSecrets(t *testing.T) {
	ctx := context.Background()
	l := oldLayouts[1]
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := storetest.OldSession(now)
	db := openOld(t, filepath.Join(t.TempDir(), "s.db"), l.schema, l.insert, old)
	// More rows of that version, one with every column it had.
	var ids []session.ID
	for i := range 50 {
		s := storetest.OldSession(now)
		s.ID[0], s.ID[1] = 2, byte(i)
		if err := insertOld(db, l.insert, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	full := storetest.OldSession(now)
	full.ID[0] = 3
	full.Epoch, full.Method, full.AuthAt = 7, "passkey", now.Add(-time.Second)
	_, err := db.ExecContext(ctx, `INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, full.ID[:], full.UserID,
		full.CreatedAt.UnixMicro(), full.LastSeenAt.UnixMicro(), full.IdleDeadline.UnixMicro(), full.AbsoluteDeadline.UnixMicro(),
		full.CreatedIP, full.UserAgent, full.LastIP, full.Epoch, full.Method, full.AuthAt.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	ended := session.ID{4}
	_, err = db.ExecContext(ctx, `INSERT INTO sessions_endings VALUES (?, 'bob', ?, 'signed out', ?)`,
		ended[:], now.UnixMicro(), now.Add(time.Hour).UnixMicro())
	if err != nil {
		t.Fatal(err)
	}

	st := newStore(t, db) // New twice: the second must not change what the first filled in
	var rows, handles, secrets, good int
	err = db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT handle), count(DISTINCT secret),
		count(*) FILTER (WHERE length(handle) = 16 AND length(secret) = 32 AND typeof(handle) = 'blob' AND typeof(secret) = 'blob')
		FROM sessions`).Scan(&rows, &handles, &secrets, &good)
	if err != nil || rows != 52 || handles != rows || secrets != rows || good != rows {
		t.Fatalf("after the upgrade: %d rows, %d distinct handles, %d distinct secrets, %d of the right types and sizes (%v); want all %d",
			rows, handles, secrets, good, err, 52)
	}

	// Find (the record), FindHandle and List (database/sql) agree.
	want := full
	want.SeenAt, want.IssuedAt = full.CreatedAt, full.CreatedAt
	got, err := st.Find(ctx, full.ID)
	if err != nil {
		t.Fatal(err)
	}
	want.Handle, want.Secret = got.Handle, got.Secret
	if got != want {
		t.Fatalf("Find = %+v, want %+v", got, want)
	}
	if got, err := st.FindHandle(ctx, want.Handle); err != nil || got != want {
		t.Fatalf("FindHandle = %+v, %v; want %+v", got, err, want)
	}
	for _, id := range ids {
		s, err := st.Find(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if byHandle, err := st.FindHandle(ctx, s.Handle); err != nil || byHandle != s {
			t.Fatalf("FindHandle = %+v, %v; want %+v", byHandle, err, s)
		}
	}
	list, err := st.List(ctx, "alice", now)
	if err != nil || len(list) != 52 {
		t.Fatalf("List = %d sessions, %v; want 52", len(list), err)
	}
	for _, s := range list {
		if f, err := st.Find(ctx, s.ID); err != nil || f != s {
			t.Fatalf("Find = %+v, %v; List gave %+v", f, err, s)
		}
	}
	if e, err := st.Ended(ctx, ended); err != nil || e.Renewed() ||
		e != (session.Ending{UserID: "bob", At: now, Why: "signed out"}) {
		t.Fatalf("Ended of an older ending = %+v, %v", e, err)
	}

	// A process of the older version, still running, inserts a session
	// without handle or secret; the next start fills them in.
	late := storetest.OldSession(now)
	late.ID[0] = 5
	if err := insertOld(db, l.insert, late); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find(ctx, late.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find of a session without a secret = %v, want an error (never a zero secret)", err)
	}
	st2 := newStore(t, db)
	s, err := st2.Find(ctx, late.ID)
	if err != nil || s.Handle.IsZero() || s.Secret == ([32]byte{}) {
		t.Fatalf("Find of a late older row after a restart = %+v, %v; want a handle and a secret", s, err)
	}
	if again, err := st2.Find(ctx, full.ID); err != nil || again != want {
		t.Fatalf("Find after a restart = %+v, %v; want %+v (the same handle and secret)", again, err, want)
	}
}

// Upgrading from the version whose endings table had handles and
// generations but not seen: the column is added in place, as a new table
// has it, and the links that version left read as tokens not presented,
// with their handle and generation.
func TestUpgradeAddsSeenToEndings(t *testing.T) {
	ctx := context.Background()
	fresh, err := sqlitestore.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	newStore(t, fresh)
	want, err := schemaOf(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}

	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := sqlitestore.New(ctx, db, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := db.ExecContext(ctx, `ALTER TABLE sessions_endings DROP COLUMN seen`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	h := session.NewHandle()
	linked, ended := session.ID{6}, session.ID{7}
	_, err = db.ExecContext(ctx, `INSERT INTO sessions_endings (id, user_id, at, why, expires_at, handle, gen)
		VALUES (?, 'alice', ?, '', ?, ?, 4), (?, 'bob', ?, 'signed out', ?, NULL, 0)`,
		linked[:], now.UnixMicro(), now.Add(time.Hour).UnixMicro(), h[:],
		ended[:], now.UnixMicro(), now.Add(time.Hour).UnixMicro())
	if err != nil {
		t.Fatal(err)
	}

	st2 := newStore(t, db)
	if got, err := schemaOf(ctx, db); err != nil || got != want {
		t.Fatalf("upgraded:\n%s%v\nwant, as created new:\n%s", got, err, want)
	}
	if e, err := st2.Ended(ctx, linked); err != nil || e != (session.Ending{UserID: "alice", At: now, Handle: h, Gen: 4}) {
		t.Fatalf("Ended of an older link = %+v, %v; want it not presented", e, err)
	}
	if e, err := st2.Ended(ctx, ended); err != nil || e != (session.Ending{UserID: "bob", At: now, Why: "signed out"}) {
		t.Fatalf("Ended of an older ending = %+v, %v", e, err)
	}
}

// FindHandle reads through the unique index, not a scan of the table.
func TestFindHandleUsesIndex(t *testing.T) {
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	newStore(t, db)
	var plan strings.Builder
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT * FROM sessions WHERE handle = ?`, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if !strings.Contains(plan.String(), "INDEX sessions_handle") {
		t.Fatalf("query plan:\n%s", plan.String())
	}
}

// Renew is one transaction: when the new ID is taken, neither the move nor
// the old token's ending happens; when the generation is not the
// session's, nothing happens either.
func TestRenewIsAtomic(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := newStore(t, db)
	now := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(b byte) session.Session {
		s := storetest.OldSession(now)
		s.ID[0], s.Handle, s.Secret[0], s.AuthAt, s.SeenAt, s.IssuedAt = b, session.NewHandle(), b, now, now, now
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk(1), mk(2)
	if err := st.Renew(ctx, a.ID, b.ID, 0, now, now.Add(time.Hour), "x"); !errors.Is(err, session.ErrExists) {
		t.Fatalf("Renew onto a taken ID = %v, want ErrExists", err)
	}
	if err := st.Renew(ctx, a.ID, session.ID{9}, 1, now, now.Add(time.Hour), "x"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Renew of another generation = %v, want ErrNotFound", err)
	}
	for _, s := range []session.Session{a, b} {
		if got, err := st.Find(ctx, s.ID); err != nil || got != s {
			t.Fatalf("Find = %+v, %v; want %+v unchanged", got, err, s)
		}
	}
	if e, err := st.Ended(ctx, a.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Ended after failed Renews = %+v, %v; want ErrNotFound", e, err)
	}
	if _, err := st.Find(ctx, session.ID{9}); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find of the new ID after a failed Renew = %v", err)
	}
}

// DeleteExpired forgets every ending past its deadline, however many more
// than its limit there are.
func TestDeleteExpiredForgetsEveryEnding(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := sqlitestore.New(ctx, db, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 1234 // more than a few batches, and not a multiple of one
	_, err = db.ExecContext(ctx, `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO sessions_endings (id, user_id, at, why, expires_at)
		SELECT CAST(printf('%032d', n) AS BLOB), 'alice', 1, 'revoked', 1000 + n % 2 FROM i`, n)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.DeleteExpired(ctx, time.UnixMicro(1000), 1); err != nil || got != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0 (endings are not counted)", got, err)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sessions_endings`).Scan(&left); err != nil || left != n/2 {
		t.Fatalf("endings left = %d, %v; want %d, those whose deadline is after now", left, err, n/2)
	}
}

func TestInvalidTable(t *testing.T) {
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"x; DROP TABLE users", "Sessions", "1abc", "a-b"} {
		if _, err := sqlitestore.New(context.Background(), db, sqlitestore.Options{Table: name}); err == nil {
			t.Errorf("New accepted table name %q", name)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	db, err := sqlitestore.Open(filepath.Join(b.TempDir(), "sessions.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st, err := sqlitestore.New(context.Background(), db, sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// Baseline: one column of a missing row through database/sql, the floor
	// of any query on this driver.
	var id [32]byte
	storetest.Benchmark(b, st, storetest.BenchOptions{
		Baseline: func(ctx context.Context) error {
			var user string
			err := db.QueryRowContext(ctx, "SELECT user_id FROM sessions WHERE id = ?", id[:]).Scan(&user)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		},
	})
}
