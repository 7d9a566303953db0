package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connectbook/connectbook/session/pgstore"
	"github.com/connectbook/connectbook/session/storetest"
)

const envVar = "CONNECTBOOK_TEST_POSTGRES"

// newPool connects to the test database; dial, if set, wraps every
// connection.
func newPool(t testing.TB, dial func(net.Conn) net.Conn) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(envVar)
	if url == "" {
		t.Skipf("%s is not set; set it to a postgres:// URL to run the PostgreSQL store tests", envVar)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("%s: %v", envVar, err)
	}
	if dial != nil {
		d := &net.Dialer{}
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return dial(c), nil
		}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newTable returns the name of a table of its own for a test, whose
// sessions and endings tables are dropped at the end.
func newTable(t testing.TB, pool *pgxpool.Pool) string {
	var b [6]byte
	rand.Read(b[:])
	table := "sessions_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table+", "+table+"_endings"); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return table
}

// newStore returns a store on tables of its own, dropped at the end.
func newStore(t testing.TB, pool *pgxpool.Pool) *pgstore.Store {
	t.Helper()
	st, err := pgstore.New(context.Background(), pool, pgstore.Options{Table: newTable(t, pool)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	pool := newPool(t, nil)
	storetest.Run(t, "postgres", func(t *testing.T) storetest.Harness {
		st := newStore(t, pool)
		return storetest.Harness{Store: st, Dump: func(ctx context.Context) ([]byte, error) {
			var out []byte
			for _, table := range []string{st.Table(), st.Table() + "_endings"} {
				// Every row as text: bytea columns appear as \x followed by hex.
				rows, err := pool.Query(ctx, "SELECT t::text FROM "+table+" t")
				if err != nil {
					return nil, err
				}
				for rows.Next() {
					var line string
					if err := rows.Scan(&line); err != nil {
						rows.Close()
						return nil, err
					}
					out = append(append(out, line...), '\n')
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return nil, err
				}
			}
			return out, nil
		}}
	})
}

// A sessions table made by the version before epochs, methods and
// re-authentication times gains their columns in place; its rows read with
// epoch 0, no method and their creation as the time of authentication.
func TestUpgradesOlderTable(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil)
	table := newTable(t, pool)
	_, err := pool.Exec(ctx, fmt.Sprintf(`
CREATE TABLE %[1]s (
	id bytea PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL, idle_deadline timestamptz NOT NULL, abs_deadline timestamptz NOT NULL,
	created_ip text NOT NULL, user_agent text NOT NULL, last_ip text NOT NULL);
CREATE INDEX %[1]s_user ON %[1]s (user_id);
CREATE INDEX %[1]s_expiry ON %[1]s (LEAST(idle_deadline, abs_deadline));`, table))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := storetest.OldSession(now)
	_, err = pool.Exec(ctx, `INSERT INTO `+table+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, old.ID[:], old.UserID,
		old.CreatedAt, old.LastSeenAt, old.IdleDeadline, old.AbsoluteDeadline, old.CreatedIP, old.UserAgent, old.LastIP)
	if err != nil {
		t.Fatal(err)
	}
	var st *pgstore.Store
	for range 2 { // the second finds nothing to add
		if st, err = pgstore.New(ctx, pool, pgstore.Options{Table: table}); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckUpgradedRow(t, st, old, now)
}

func TestInvalidTable(t *testing.T) {
	pool := newPool(t, nil)
	// 49 bytes: <name>_endings_expiry would not fit in PostgreSQL's 63.
	for _, name := range []string{"x; DROP TABLE users", "Sessions", "1abc", "a-b", strings.Repeat("s", 49)} {
		if _, err := pgstore.New(context.Background(), pool, pgstore.Options{Table: name}); err == nil {
			t.Errorf("New accepted table name %q", name)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	var writes atomic.Int64
	pool := newPool(b, func(c net.Conn) net.Conn { return storetest.CountWrites(c, &writes) })
	// Baseline: the smallest query, one round trip.
	storetest.Benchmark(b, newStore(b, pool), storetest.BenchOptions{
		RoundTrips: writes.Load,
		Baseline: func(ctx context.Context) error {
			var n int
			return pool.QueryRow(ctx, "SELECT 1").Scan(&n)
		},
	})
}
