package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync/atomic"
	"testing"

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

// newStore returns a store on a table of its own, dropped at the end.
func newStore(t testing.TB, pool *pgxpool.Pool) *pgstore.Store {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	table := "sessions_test_" + hex.EncodeToString(b[:])
	st, err := pgstore.New(context.Background(), pool, pgstore.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return st
}

func TestConformance(t *testing.T) {
	pool := newPool(t, nil)
	storetest.Run(t, "postgres", func(t *testing.T) storetest.Harness {
		st := newStore(t, pool)
		return storetest.Harness{Store: st, Dump: func(ctx context.Context) ([]byte, error) {
			// Every row as text: bytea columns appear as \x followed by hex.
			rows, err := pool.Query(ctx, "SELECT t::text FROM "+st.Table()+" t")
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []byte
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					return nil, err
				}
				out = append(append(out, line...), '\n')
			}
			return out, rows.Err()
		}}
	})
}

func TestInvalidTable(t *testing.T) {
	pool := newPool(t, nil)
	for _, name := range []string{"x; DROP TABLE users", "Sessions", "1abc", "a-b"} {
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
