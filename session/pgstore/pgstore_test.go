package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connectbook/connectbook/session"
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

// Tables made by earlier versions gain the columns they lack in place, even
// with several instances starting at once: the version before epochs,
// methods and re-authentication times (no endings table either), and the
// one before handles, secrets, generations and binding. Their rows read
// with epoch 0, no method, their creation as the time of authentication,
// of issue and of the last presented token, and a random handle and
// secret of their own; their endings read as endings, not renewals.
func TestUpgradesOlderTable(t *testing.T) {
	for _, layout := range []struct {
		name, schema, insert string
	}{
		{"before epochs", `
CREATE TABLE %[1]s (
	id bytea PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL, idle_deadline timestamptz NOT NULL, abs_deadline timestamptz NOT NULL,
	created_ip text NOT NULL, user_agent text NOT NULL, last_ip text NOT NULL);
CREATE INDEX %[1]s_user ON %[1]s (user_id);
CREATE INDEX %[1]s_expiry ON %[1]s (LEAST(idle_deadline, abs_deadline));`,
			`INSERT INTO %s VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`},
		{"before handles", `
CREATE TABLE %[1]s (
	id bytea PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL, idle_deadline timestamptz NOT NULL, abs_deadline timestamptz NOT NULL,
	created_ip text NOT NULL, user_agent text NOT NULL, last_ip text NOT NULL,
	epoch bigint NOT NULL DEFAULT 0, method text NOT NULL DEFAULT '', auth_at timestamptz);
CREATE INDEX %[1]s_user ON %[1]s (user_id);
CREATE INDEX %[1]s_expiry ON %[1]s (LEAST(idle_deadline, abs_deadline));
CREATE TABLE %[1]s_endings (
	id bytea PRIMARY KEY, user_id text NOT NULL, at timestamptz NOT NULL, why text NOT NULL,
	expires_at timestamptz NOT NULL);
CREATE INDEX %[1]s_endings_expiry ON %[1]s_endings (expires_at);`,
			// As that version's Create wrote them.
			`INSERT INTO %s (id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip, epoch, method, auth_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, '', $3)`},
	} {
		t.Run(strings.ReplaceAll(layout.name, " ", "_"), func(t *testing.T) {
			ctx := context.Background()
			pool := newPool(t, nil)
			table := newTable(t, pool)
			if _, err := pool.Exec(ctx, fmt.Sprintf(layout.schema, table)); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			old := storetest.OldSession(now)
			bob := old
			bob.ID, bob.UserID = session.ID{9}, "bob"
			for _, s := range []session.Session{old, bob} {
				_, err := pool.Exec(ctx, fmt.Sprintf(layout.insert, table), s.ID[:], s.UserID,
					s.CreatedAt, s.LastSeenAt, s.IdleDeadline, s.AbsoluteDeadline, s.CreatedIP, s.UserAgent, s.LastIP)
				if err != nil {
					t.Fatal(err)
				}
			}
			ended := session.ID{8}
			if strings.Contains(layout.schema, "_endings") {
				_, err := pool.Exec(ctx, `INSERT INTO `+table+`_endings VALUES ($1, 'carol', $2, 'signed out', $3)`,
					ended[:], now, now.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
			}

			// Instances starting together, then one more that finds nothing to add.
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { _, errs[i] = pgstore.New(ctx, pool, pgstore.Options{Table: table}) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			st, err := pgstore.New(ctx, pool, pgstore.Options{Table: table})
			if err != nil {
				t.Fatal(err)
			}

			b, err := st.Find(ctx, bob.ID)
			if err != nil {
				t.Fatal(err)
			}
			storetest.CheckUpgradedRow(t, st, old, now)
			if b2, err := st.Find(ctx, bob.ID); err != nil || b2.Handle != b.Handle || b2.Secret != b.Secret {
				t.Fatalf("Find of the second older row = %+v, %v; want handle and secret unchanged", b2, err)
			}
			if b.Handle.IsZero() || b.Secret == ([32]byte{}) || [16]byte(b.Secret[:16]) == [16]byte(b.Secret[16:]) {
				t.Fatalf("second older row: handle %x, secret %x; want random ones", b.Handle, b.Secret)
			}
			if got, err := st.FindHandle(ctx, b.Handle); err != nil || got.ID != bob.ID {
				t.Fatalf("FindHandle of the second older row = %+v, %v", got, err)
			}
			if strings.Contains(layout.schema, "_endings") {
				want := session.Ending{UserID: "carol", At: now, Why: "signed out"}
				if e, err := st.Ended(ctx, ended); err != nil || e != want {
					t.Fatalf("Ended of an older ending = %+v, %v; want %+v", e, err, want)
				}
			}
		})
	}
}

// An endings table of the version before seen gains the column in place,
// and the links that version left read as tokens not presented, with their
// handle and generation.
func TestUpgradeAddsSeenToEndings(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil)
	st := newStore(t, pool)
	if _, err := pool.Exec(ctx, `ALTER TABLE `+st.Table()+`_endings DROP COLUMN seen`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	h := session.NewHandle()
	linked, ended := session.ID{6}, session.ID{7}
	_, err := pool.Exec(ctx, `INSERT INTO `+st.Table()+`_endings (id, user_id, at, why, expires_at, handle, gen)
		VALUES ($1, 'alice', $2, '', $3, $4, 4), ($5, 'bob', $2, 'signed out', $3, NULL, 0)`,
		linked[:], now, now.Add(time.Hour), h[:], ended[:])
	if err != nil {
		t.Fatal(err)
	}
	st2, err := pgstore.New(ctx, pool, pgstore.Options{Table: st.Table()})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := st2.Ended(ctx, linked); err != nil || e != (session.Ending{UserID: "alice", At: now, Handle: h, Gen: 4}) {
		t.Fatalf("Ended of an older link = %+v, %v; want it not presented", e, err)
	}
	if e, err := st2.Ended(ctx, ended); err != nil || e != (session.Ending{UserID: "bob", At: now, Why: "signed out"}) {
		t.Fatalf("Ended of an older ending = %+v, %v", e, err)
	}
	// The column is back, and renewals write it.
	s := storetest.OldSession(now)
	s.Handle, s.Secret[0], s.AuthAt, s.SeenAt, s.IssuedAt = session.NewHandle(), 1, now, now, now
	if err := st2.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := st2.Renew(ctx, s.ID, session.ID{8}, 0, now, now.Add(time.Minute), "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
	if e, err := st2.Ended(ctx, s.ID); err != nil || e != (session.Ending{UserID: "alice", At: now, Handle: s.Handle, Seen: true}) {
		t.Fatalf("Ended after a Renew = %+v, %v", e, err)
	}
}

// An instance of the version before handles, still running during a
// rolling upgrade, keeps creating sessions that this version reads whole:
// with a random handle and secret of their own, and issued and seen at
// creation.
func TestEarlierVersionWritesDuringUpgrade(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil)
	st := newStore(t, pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var handles []session.Handle
	for i := range 2 {
		s := storetest.OldSession(now)
		s.ID[1] = byte(i)
		_, err := pool.Exec(ctx, `INSERT INTO `+st.Table()+` (id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip, epoch, method, auth_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, '', $3)`, s.ID[:], s.UserID,
			s.CreatedAt, s.LastSeenAt, s.IdleDeadline, s.AbsoluteDeadline, s.CreatedIP, s.UserAgent, s.LastIP)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Find(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := s
		want.AuthAt, want.SeenAt, want.IssuedAt, want.Handle, want.Secret = s.CreatedAt, s.CreatedAt, s.CreatedAt, got.Handle, got.Secret
		if got != want || got.Handle.IsZero() || got.Secret == ([32]byte{}) {
			t.Fatalf("Find of a session written by the earlier version = %+v; want %+v with a handle and a secret", got, want)
		}
		handles = append(handles, got.Handle)
	}
	if handles[0] == handles[1] {
		t.Fatalf("two sessions with handle %x", handles[0])
	}
}

// New on tables that are up to date changes nothing, so it does not wait
// for a transaction writing to them.
func TestNewWaitsForNoWriter(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil)
	st := newStore(t, pool)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, table := range []string{st.Table(), st.Table() + "_endings"} {
		if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN ROW EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := pgstore.New(ctx, pool, pgstore.Options{Table: st.Table()}); err != nil {
		t.Fatalf("New while a transaction writes: %v", err)
	}
}

// Every operation but a Touch that finds nothing to write is one round
// trip, once the connection has prepared its statements.
func TestOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	var writes atomic.Int64
	pool := newPool(t, func(c net.Conn) net.Conn { return storetest.CountWrites(c, &writes) })
	st := newStore(t, pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for pass := range 2 { // the first prepares
		s := storetest.OldSession(now)
		s.ID[1], s.Handle = byte(pass), session.NewHandle()
		renewed, moved := s.ID, s.ID
		renewed[2], moved[2] = 1, 2
		at := now.Add(time.Minute)
		for _, op := range []struct {
			name string
			run  func() error
		}{
			{"Create", func() error { return st.Create(ctx, s) }},
			{"Find", func() error { _, err := st.Find(ctx, s.ID); return err }},
			{"FindHandle", func() error { _, err := st.FindHandle(ctx, s.Handle); return err }},
			{"Touch", func() error { return st.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "192.0.2.9") }},
			{"Renew", func() error { return st.Renew(ctx, s.ID, renewed, 0, at, at.Add(time.Hour), "192.0.2.9") }},
			{"Seen", func() error { return st.Seen(ctx, renewed, 1, at) }},
			{"Seen again", func() error { return st.Seen(ctx, renewed, 1, at) }},
			{"Bind", func() error { return st.Bind(ctx, renewed, at, 0, `{"kty":"EC"}`) }},
			{"NoteUnbound", func() error { _, err := st.NoteUnbound(ctx, renewed, at); return err }},
			{"Rotate", func() error { return st.Rotate(ctx, renewed, moved, at, at, 1) }},
			{"List", func() error { _, err := st.List(ctx, s.UserID, at); return err }},
			{"Ended", func() error { _, err := st.Ended(ctx, s.ID); return err }},
			{"Delete", func() error { return st.Delete(ctx, moved, at, "signed out") }},
			{"DeleteAllForUser", func() error { _, err := st.DeleteAllForUser(ctx, s.UserID, session.ID{}, at, "revoked"); return err }},
			{"DeleteExpired", func() error { _, err := st.DeleteExpired(ctx, at, 10); return err }},
		} {
			before := writes.Load()
			if err := op.run(); err != nil {
				t.Fatalf("%s: %v", op.name, err)
			}
			if n := writes.Load() - before; pass == 1 && n != 1 {
				t.Errorf("%s took %d round trips, want 1", op.name, n)
			}
		}
	}
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

// The sweep finds what is due through the expiry indexes, whatever the
// planner believes about how many rows are due. Here its statistics say
// every row is, when reading the table in order looks cheapest for finding
// a few; the plans are checked as planned for the values (a custom plan)
// and as planned once for any values (a generic plan, which a prepared
// statement may switch to after five runs).
func TestSweepUsesExpiryIndexes(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil)
	st := newStore(t, pool)
	table := st.Table()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const rows = 20_000
	// Deadlines spread over the hour before now, so that ANALYZE sees a
	// range of values, all of them due.
	_, err := pool.Exec(ctx, `INSERT INTO `+table+` (id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline,
			created_ip, user_agent, last_ip)
		SELECT sha256(int4send(i)), 'user' || i % 25000, $1::timestamptz - interval '2 hours', $1, $1 - i * interval '36 ms',
			$1 + interval '10 hours', '192.0.2.1', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36', '192.0.2.1'
		FROM generate_series(1, $2::int) AS i`, now, rows)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO `+table+`_endings (id, user_id, at, why, expires_at)
		SELECT sha256(int4send(-i)), 'user' || i % 25000, $1::timestamptz - interval '12 hours', 'signed out', $1 - i * interval '36 ms'
		FROM generate_series(1, $2::int) AS i`, now, rows)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE `+table+`, `+table+`_endings`); err != nil {
		t.Fatal(err)
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	sweep, forget := st.SweepStatements()
	at := "'" + now.Format(time.RFC3339Nano) + "'"
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		if _, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []struct {
			name, query, args string
			indexes           []string // the expiry indexes the plan must scan
		}{
			{"sweep", sweep, at + ", 500", []string{table + "_expiry", table + "_endings_expiry"}},
			{"forget", forget, at, []string{table + "_endings_expiry"}},
		} {
			if _, err := conn.Exec(ctx, `PREPARE s AS `+stmt.query); err != nil {
				t.Fatal(err)
			}
			var plan []struct{ Plan planNode }
			err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) EXECUTE s(`+stmt.args+`)`).Scan(&plan)
			if _, err := conn.Exec(ctx, `DEALLOCATE s`); err != nil {
				t.Fatal(err)
			}
			if err != nil || len(plan) != 1 {
				t.Fatalf("%s, %s: EXPLAIN = %v, %v", mode, stmt.name, plan, err)
			}
			scans := plan[0].Plan.scans(nil)
			for _, sc := range scans {
				if sc.NodeType == "Seq Scan" {
					t.Errorf("%s, %s: sequential scan of %s; plan: %v", mode, stmt.name, sc.RelationName, scans)
				}
			}
			for _, index := range stmt.indexes {
				if !slices.ContainsFunc(scans, func(sc planNode) bool {
					return sc.NodeType == "Index Scan" && sc.IndexName == index
				}) {
					t.Errorf("%s, %s: no index scan of %s; plan: %v", mode, stmt.name, index, scans)
				}
			}
		}
	}
}

// planNode is a node of a plan from EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
}

func (n planNode) String() string {
	return fmt.Sprintf("%s on %s (%s)", n.NodeType, n.RelationName, n.IndexName)
}

// scans appends the nodes of the plan that read a relation.
func (n planNode) scans(list []planNode) []planNode {
	if n.RelationName != "" {
		list = append(list, planNode{NodeType: n.NodeType, RelationName: n.RelationName, IndexName: n.IndexName})
	}
	for _, c := range n.Plans {
		list = c.scans(list)
	}
	return list
}

// Endings past their deadline all go in one DeleteExpired, however many
// there are and whatever its limit, in batches.
func TestSweepForgetsEveryEndingDue(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, nil)
	st := newStore(t, pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err := pool.Exec(ctx, `INSERT INTO `+st.Table()+`_endings (id, user_id, at, why, expires_at)
		SELECT sha256(int4send(i)), 'alice', $1::timestamptz - interval '12 hours', 'signed out', $1 - i * interval '1 ms'
		FROM generate_series(1, 2500) AS i`, now)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteExpired(ctx, now, 10); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0, nil", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+st.Table()+`_endings`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d endings left, %v; want none", left, err)
	}
}
