package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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

// A sessions table made by the version before epochs, methods and
// re-authentication times gains their columns in place; its rows read with
// epoch 0, no method and their creation as the time of authentication.
func TestUpgradesOlderTable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `
CREATE TABLE sessions (
	id BLOB PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL, idle_deadline INTEGER NOT NULL, abs_deadline INTEGER NOT NULL,
	created_ip TEXT NOT NULL, user_agent TEXT NOT NULL, last_ip TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (min(idle_deadline, abs_deadline));`)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := storetest.OldSession(now)
	_, err = db.ExecContext(ctx, `INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, old.ID[:], old.UserID,
		old.CreatedAt.UnixMicro(), old.LastSeenAt.UnixMicro(), old.IdleDeadline.UnixMicro(), old.AbsoluteDeadline.UnixMicro(),
		old.CreatedIP, old.UserAgent, old.LastIP)
	if err != nil {
		t.Fatal(err)
	}
	var st *sqlitestore.Store
	for range 2 { // the second finds nothing to add
		if st != nil {
			st.Close()
		}
		if st, err = sqlitestore.New(ctx, db, sqlitestore.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	defer st.Close()
	storetest.CheckUpgradedRow(t, st, old, now)
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
		INSERT INTO sessions_endings SELECT CAST(printf('%032d', n) AS BLOB), 'alice', 1, 'revoked', 1000 + n % 2 FROM i`, n)
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
