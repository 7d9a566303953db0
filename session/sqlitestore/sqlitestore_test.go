package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

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
	return storetest.Harness{Store: st, Dump: func(ctx context.Context) ([]byte, error) { return dump(ctx, db, st.Table()) }}
}

// dump returns every column of every row, and the raw database file pages
// are not needed: the table is the only place sessions live.
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
