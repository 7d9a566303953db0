package data_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

// A backup taken while writers commit holds every transaction committed
// before it started, each one whole, and nothing that was not committed;
// it opens as a ConnectBook database.
func TestBackupUnderWrites(t *testing.T) {
	ctx := context.Background()
	src := testdb.SQLite(t)
	db := open(t, src)
	now := time.UnixMicro(1_800_000_000_000_000).UTC()

	// Some bulk, so that the copy takes long enough for commits to land
	// while it runs.
	seed, err := db.CreateUser(ctx, "seed", "Seed", "$argon2id$x", now)
	if err != nil {
		t.Fatal(err)
	}
	const seedPosts = 40_000
	if _, err := db.SQL.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO posts (author_id, body, created_at) SELECT ?, printf('seed %d %s', i, hex(randomblob(100))), i FROM n`,
		seedPosts, seed.ID); err != nil {
		t.Fatal(err)
	}

	// Each writer makes a user, then a post by that user, over and over,
	// and logs each write whose commit returned success, in order, with
	// whether it returned before the backup started.
	type commit struct {
		key    string // "user w1u7", "post w1p7"
		before bool
	}
	const (
		writers     = 4
		beforeStart = 200 // commits, in all, before the backup starts
		afterEnd    = 20  // commits by each writer after it ends
	)
	var (
		started, ended atomic.Bool
		total, during  atomic.Int64
		ready          = make(chan struct{})
		readyOnce      sync.Once
		logs           = make([][]commit, writers)
		wg             sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			committed := func(key string) {
				before := !started.Load() // the commit returned before this
				logs[w] = append(logs[w], commit{key, before})
				if !before && !ended.Load() {
					during.Add(1)
				}
				if total.Add(1) == beforeStart {
					readyOnce.Do(func() { close(ready) })
				}
			}
			for i, left := 0, afterEnd; left > 0; i++ {
				if ended.Load() {
					left--
				}
				u, err := db.CreateUser(ctx, fmt.Sprintf("w%du%d", w, i), "Writer", "$argon2id$x", now)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				committed("user " + u.Username)
				p, err := db.CreatePost(ctx, u.ID, fmt.Sprintf("w%dp%d", w, i), nil, now)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				committed("post " + p.Body)
			}
		})
	}
	<-ready
	out := filepath.Join(t.TempDir(), "backup.db")
	started.Store(true)
	size, err := data.Backup(ctx, src, out)
	ended.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if during.Load() == 0 {
		t.Fatal("no commit completed while the backup ran: the test proves nothing")
	}
	t.Logf("%d commits in all, %d of them while the backup ran; copy of %d bytes", total.Load(), during.Load(), size)

	if fi, err := os.Stat(out); err != nil || fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600 and %d bytes", fi, err, size)
	}
	if files, _ := os.ReadDir(filepath.Dir(out)); len(files) != 1 {
		t.Errorf("the backup's directory holds %d files, want the backup alone", len(files))
	}

	raw, err := sql.Open("sqlite", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if got := column(t, raw, `PRAGMA integrity_check`); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("integrity_check: %q", got)
	}
	if got := column(t, raw, `SELECT "table" FROM pragma_foreign_key_check`); len(got) != 0 {
		t.Fatalf("foreign_key_check: rows in %q lack their parent", got)
	}
	// Each transaction whole: a user with its search key, a post with its
	// author's timeline entry.
	if got := column(t, raw, `SELECT username FROM users u WHERE NOT EXISTS
		(SELECT 1 FROM search_keys k WHERE k.user_id = u.id AND k.search_key = u.username)`); len(got) != 0 {
		t.Fatalf("users without their search key, half a transaction: %q", got)
	}
	if got := column(t, raw, `SELECT body FROM posts p WHERE body NOT LIKE 'seed %' AND NOT EXISTS
		(SELECT 1 FROM timelines l WHERE l.post_id = p.id AND l.user_id = p.author_id)`); len(got) != 0 {
		t.Fatalf("posts without their timeline entry, half a transaction: %q", got)
	}
	if got := column(t, raw, `SELECT count(*) FROM posts WHERE body LIKE 'seed %'`); got[0] != fmt.Sprint(seedPosts) {
		t.Fatalf("%s seed posts, want %d", got[0], seedPosts)
	}
	present := map[string]bool{}
	for _, name := range column(t, raw, `SELECT username FROM users WHERE username <> 'seed'`) {
		present["user "+name] = true
	}
	for _, body := range column(t, raw, `SELECT body FROM posts WHERE body NOT LIKE 'seed %'`) {
		present["post "+body] = true
	}

	logged := map[string]bool{}
	var before int
	var missing, unordered, unlogged []string
	var someone string // a user committed before the backup started
	for _, log := range logs {
		// One writer's commits follow one another: a copy of one moment
		// holds a first part of them and none after.
		gap := -1
		for i, c := range log {
			logged[c.key] = true
			switch {
			case c.before && !present[c.key]:
				missing = append(missing, c.key)
			case !present[c.key] && gap < 0:
				gap = i
			case present[c.key] && gap >= 0:
				unordered = append(unordered, c.key+" without "+log[gap].key)
			}
			if c.before {
				before++
				if name, ok := strings.CutPrefix(c.key, "user "); ok {
					someone = name
				}
			}
		}
	}
	for key := range present {
		if !logged[key] {
			unlogged = append(unlogged, key)
		}
	}
	for _, f := range []struct {
		keys []string
		what string
	}{
		{missing, "committed before the backup started, missing from it"},
		{unordered, "in the backup without a write its writer committed before"},
		{unlogged, "in the backup though no commit of theirs returned success"},
	} {
		if len(f.keys) > 0 {
			t.Errorf("%d writes %s: %q", len(f.keys), f.what, f.keys[:min(len(f.keys), 5)])
		}
	}
	t.Logf("%d commits returned before the backup started; the backup holds %d", before, len(present))

	if t.Failed() {
		t.FailNow()
	}

	// The copy is a ConnectBook database as it stands: nothing to migrate.
	b := open(t, out)
	var n int
	files, _ := filepath.Glob("migrations/*.sql")
	if err := b.SQL.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, len(files))
	}
	if u, err := b.UserByUsername(ctx, someone); err != nil || u.DisplayName != "Writer" {
		t.Fatalf("%s in the backup: %+v, %v", someone, u, err)
	}
}

// column returns the first column of query's rows, as text.
func column(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// Backup writes only a new file, whole and checked, and never creates the
// database it copies.
func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	src := testdb.SQLite(t)
	open(t, src)
	dir := t.TempDir()

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := data.Backup(ctx, src, existing); !errors.Is(err, fs.ErrExist) {
		t.Errorf("onto an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}

	missing := filepath.Join(dir, "missing.db")
	if _, err := data.Backup(ctx, missing, filepath.Join(dir, "out.db")); err == nil {
		t.Error("a missing database was backed up")
	}
	if _, err := data.Backup(ctx, src, filepath.Join(dir, "no such dir", "out.db")); err == nil {
		t.Error("a backup into a missing directory succeeded")
	}
	if _, err := data.Backup(ctx, "postgres://u:p@127.0.0.1:1/db", filepath.Join(dir, "out.db")); !errors.Is(err, data.ErrPostgresBackup) {
		t.Errorf("PostgreSQL: %v, want ErrPostgresBackup", err)
	}

	// An index out of step with its table is copied as it is, and the
	// check of the copy finds it.
	corrupt := filepath.Join(dir, "corrupt.db")
	raw, err := sql.Open("sqlite", corrupt)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE t (x TEXT)`,
		`CREATE INDEX t_x ON t (x COLLATE NOCASE)`,
		`INSERT INTO t VALUES ('a'), ('B'), ('c'), ('D')`,
		`PRAGMA writable_schema = ON`,
		`UPDATE sqlite_schema SET sql = 'CREATE INDEX t_x ON t (x)' WHERE name = 't_x'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	if _, err := data.Backup(ctx, corrupt, filepath.Join(dir, "out.db")); err == nil || !strings.Contains(err.Error(), "integrity check: row 1 missing from index t_x") {
		t.Errorf("a copy failing its integrity check: %v", err)
	}

	got, _ := os.ReadDir(dir)
	var names []string
	for _, f := range got {
		names = append(names, f.Name())
	}
	if strings.Join(names, " ") != "corrupt.db existing.db" {
		t.Errorf("files left: %q; want only those made by the test", names)
	}
}
