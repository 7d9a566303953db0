package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/redisstore"
	"github.com/connectbook/connectbook/session/storetest"
)

const envVar = "CONNECTBOOK_TEST_REDIS"

// redisOptions returns the client options for the test server, or skips.
func redisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	url := os.Getenv(envVar)
	if url == "" {
		tb.Skip(envVar + " is not set; set it to a redis:// URL to run the Redis store tests")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", envVar, err)
	}
	return opt
}

// fixture is a store on a prefix of its own, removed with every key under it
// when the test ends.
type fixture struct {
	c      *redis.Client
	st     *redisstore.Store
	prefix string
}

func newFixture(tb testing.TB, opt *redis.Options) *fixture {
	tb.Helper()
	var b [8]byte
	rand.Read(b[:])
	f := &fixture{c: redis.NewClient(opt), prefix: "cbtest:" + hex.EncodeToString(b[:]) + ":"}
	tb.Cleanup(func() {
		ctx := context.Background()
		keys, err := f.keys(ctx)
		if err == nil && len(keys) > 0 {
			err = f.c.Del(ctx, keys...).Err()
		}
		if err != nil {
			tb.Errorf("cleanup of %s*: %v", f.prefix, err)
		}
		f.c.Close()
	})
	st, err := redisstore.New(f.c, redisstore.Options{Prefix: f.prefix})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	f.st = st
	return f
}

// keys returns every key under the fixture's prefix, sorted.
func (f *fixture) keys(ctx context.Context) ([]string, error) {
	var keys []string
	it := f.c.Scan(ctx, 0, f.prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return keys, nil
}

// dump returns every key name under the prefix and all its contents.
func (f *fixture) dump(ctx context.Context) ([]byte, error) {
	keys, err := f.keys(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, k := range keys {
		typ, err := f.c.Type(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "%s (%s)\n", k, typ)
		switch typ {
		case "hash":
			m, err := f.c.HGetAll(ctx, k).Result()
			if err != nil {
				return nil, err
			}
			for field, v := range m {
				fmt.Fprintf(&buf, "\t%s = %s\n", field, v)
			}
		case "set":
			ms, err := f.c.SMembers(ctx, k).Result()
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				fmt.Fprintf(&buf, "\t%s\n", m)
			}
		case "zset":
			zs, err := f.c.ZRangeWithScores(ctx, k, 0, -1).Result()
			if err != nil {
				return nil, err
			}
			for _, z := range zs {
				fmt.Fprintf(&buf, "\t%v %v\n", z.Member, z.Score)
			}
		case "none": // expired between SCAN and TYPE
		default:
			return nil, fmt.Errorf("unexpected %s key %s", typ, k)
		}
	}
	return buf.Bytes(), nil
}

func newHarness(t *testing.T) storetest.Harness {
	f := newFixture(t, redisOptions(t))
	return storetest.Harness{Store: f.st, Dump: f.dump}
}

func TestConformance(t *testing.T) { storetest.Run(t, "redis", newHarness) }

func newSession(userID string, now time.Time) session.Session {
	var id session.ID
	rand.Read(id[:])
	return session.Session{
		ID:               id,
		UserID:           userID,
		CreatedAt:        now,
		LastSeenAt:       now,
		IdleDeadline:     now.Add(30 * time.Minute),
		AbsoluteDeadline: now.Add(12 * time.Hour),
		CreatedIP:        "192.0.2.1",
		UserAgent:        "test",
		LastIP:           "192.0.2.1",
	}
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (f *fixture) sessionKey(id session.ID) string { return f.prefix + "s:" + id.String() }
func (f *fixture) userKey(userID string) string    { return f.prefix + "u:" + userID }

func (f *fixture) create(t *testing.T, s session.Session) session.Session {
	t.Helper()
	if err := f.st.Create(context.Background(), s); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

func (f *fixture) expireTime(t *testing.T, key string) int64 {
	t.Helper()
	ms, err := f.c.Do(context.Background(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", key, err)
	}
	return ms
}

func (f *fixture) isMember(t *testing.T, userID string, id session.ID) bool {
	t.Helper()
	ok, err := f.c.SIsMember(context.Background(), f.userKey(userID), id.String()).Result()
	if err != nil {
		t.Fatalf("SISMEMBER: %v", err)
	}
	return ok
}

func (f *fixture) expiryEntries(t *testing.T) []string {
	t.Helper()
	ms, err := f.c.ZRange(context.Background(), f.prefix+"expiry", 0, -1).Result()
	if err != nil {
		t.Fatalf("ZRANGE: %v", err)
	}
	return ms
}

func (f *fixture) exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := f.c.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	return n == 1
}

// ceilMillis is the instant, in ms, at which a key must expire: the first
// millisecond at or after the deadline.
func ceilMillis(t time.Time) int64 {
	us := t.UnixMicro()
	return (us + 999) / 1000
}

func TestKeyExpiresAtAbsoluteDeadline(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	start := now()
	s := newSession("alice", start)
	s.AbsoluteDeadline = start.Add(time.Hour + 1500*time.Microsecond) // not a whole millisecond
	f.create(t, s)
	want := ceilMillis(s.AbsoluteDeadline)
	if got := f.expireTime(t, f.sessionKey(s.ID)); got != want {
		t.Errorf("session key PEXPIRETIME = %d, want %d", got, want)
	}
	if got := f.expireTime(t, f.userKey("alice")); got != want {
		t.Errorf("user set PEXPIRETIME = %d, want %d", got, want)
	}

	// A later deadline pushes the user set's expiry out; an earlier one
	// leaves it.
	later := newSession("alice", start)
	later.AbsoluteDeadline = start.Add(3 * time.Hour)
	f.create(t, later)
	earlier := newSession("alice", start)
	earlier.AbsoluteDeadline = start.Add(2 * time.Hour)
	f.create(t, earlier)
	if got, want := f.expireTime(t, f.userKey("alice")), ceilMillis(later.AbsoluteDeadline); got != want {
		t.Errorf("user set PEXPIRETIME = %d, want %d (the latest deadline)", got, want)
	}

	// Touch leaves the TTL; Rotate carries it to the new key.
	if err := f.st.Touch(ctx, s.ID, start.Add(time.Minute), start.Add(time.Minute), start.Add(31*time.Minute), "x"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	var moved session.ID
	rand.Read(moved[:])
	if err := f.st.Rotate(ctx, s.ID, moved, start.Add(time.Minute)); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got := f.expireTime(t, f.sessionKey(moved)); got != want {
		t.Errorf("rotated key PEXPIRETIME = %d, want %d", got, want)
	}
	if got, want := f.expireTime(t, f.userKey("alice")), ceilMillis(later.AbsoluteDeadline); got != want {
		t.Errorf("user set PEXPIRETIME after Rotate = %d, want %d", got, want)
	}
}

// A session whose absolute deadline has passed on the server's clock cannot
// get a TTL; it is kept, findable, until DeleteExpired removes it.
func TestCreatePastDeadline(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	s := f.create(t, newSession("alice", now().Add(-13*time.Hour)))
	got, err := f.st.Find(ctx, s.ID)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if got.AbsoluteDeadline != s.AbsoluteDeadline {
		t.Errorf("AbsoluteDeadline = %v, want %v", got.AbsoluteDeadline, s.AbsoluteDeadline)
	}
	if got := f.expireTime(t, f.sessionKey(s.ID)); got != -1 {
		t.Errorf("session key PEXPIRETIME = %d, want -1 (none)", got)
	}
	live := f.create(t, newSession("alice", now()))
	if got := f.expireTime(t, f.userKey("alice")); got != -1 {
		t.Errorf("user set PEXPIRETIME = %d, want -1: it holds a session without a TTL", got)
	}
	if n, err := f.st.DeleteExpired(ctx, now(), 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if f.exists(t, f.sessionKey(s.ID)) || f.isMember(t, "alice", s.ID) {
		t.Error("the swept session or its index entry is still there")
	}
	if !f.isMember(t, "alice", live.ID) {
		t.Error("the live session left the user set")
	}
}

// vanish removes just the session key, as Redis does at the key's expiry.
func (f *fixture) vanish(t *testing.T, id session.ID) {
	t.Helper()
	if err := f.c.Del(context.Background(), f.sessionKey(id)).Err(); err != nil {
		t.Fatalf("DEL: %v", err)
	}
}

func TestListCleansExpiredKeys(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	gone := f.create(t, newSession("alice", at))
	kept := f.create(t, newSession("alice", at))
	f.vanish(t, gone.ID)
	list, err := f.st.List(ctx, "alice", at)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 || list[0].ID != kept.ID {
		t.Fatalf("List = %d sessions, want only the kept one", len(list))
	}
	if f.isMember(t, "alice", gone.ID) {
		t.Error("List left the vanished session in the user set")
	}
	if !f.isMember(t, "alice", kept.ID) {
		t.Error("List removed the kept session from the user set")
	}
	if got := f.expiryEntries(t); len(got) != 1 || got[0] != kept.ID.String()+":alice" {
		t.Errorf("expiry entries = %q, want only the kept session's", got)
	}
}

func TestDeleteExpiredCleansExpiredKeys(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	gone := f.create(t, newSession("alice", at))
	dead := f.create(t, newSession("alice", at))
	live := newSession("alice", at)
	live.IdleDeadline = at.Add(2 * time.Hour)
	f.create(t, live)
	f.vanish(t, gone.ID)
	// Only keys the sweep itself deleted count.
	if n, err := f.st.DeleteExpired(ctx, at.Add(time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if f.isMember(t, "alice", gone.ID) || f.isMember(t, "alice", dead.ID) {
		t.Error("DeleteExpired left a vanished or swept session in the user set")
	}
	if f.exists(t, f.sessionKey(dead.ID)) {
		t.Error("DeleteExpired left the expired session's key")
	}
	if got := f.expiryEntries(t); len(got) != 1 || got[0] != live.ID.String()+":alice" {
		t.Errorf("expiry entries = %q, want only the live session's", got)
	}
	if n, err := f.st.DeleteExpired(ctx, at.Add(time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func TestWritesAfterEndLeaveNoKey(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	for _, end := range []struct {
		name string
		kill func(session.ID) error
	}{
		{"delete", func(id session.ID) error { return f.st.Delete(ctx, id) }},
		{"expiry", func(id session.ID) error { f.vanish(t, id); return nil }},
	} {
		s := f.create(t, newSession("alice", at))
		if err := end.kill(s.ID); err != nil {
			t.Fatalf("%s: %v", end.name, err)
		}
		if err := f.st.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Touch = %v, want ErrNotFound", end.name, err)
		}
		var fresh session.ID
		rand.Read(fresh[:])
		if err := f.st.Rotate(ctx, s.ID, fresh, at); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Rotate = %v, want ErrNotFound", end.name, err)
		}
		if f.exists(t, f.sessionKey(s.ID)) || f.exists(t, f.sessionKey(fresh)) {
			t.Errorf("%s: a write re-created a key", end.name)
		}
	}
}

// An ID that comes back for another user after Redis expired it must not
// be listed, revoked or swept as the first user's.
func TestStaleMembershipOfReusedID(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	f.vanish(t, s.ID)
	bob := newSession("bob", at)
	bob.ID = s.ID
	f.create(t, bob)

	if list, err := f.st.List(ctx, "alice", at); err != nil || len(list) != 0 {
		t.Fatalf("List(alice) = %d sessions, %v; want none", len(list), err)
	}
	if err := f.st.DeleteForUser(ctx, "alice", s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("DeleteForUser(alice) = %v, want ErrNotFound", err)
	}
	if n, err := f.st.DeleteAllForUser(ctx, "alice", session.ID{}); err != nil || n != 0 {
		t.Fatalf("DeleteAllForUser(alice) = %d, %v; want 0, nil", n, err)
	}
	if got, err := f.st.Find(ctx, s.ID); err != nil || got.UserID != "bob" {
		t.Fatalf("Find = %+v, %v; want bob's session", got, err)
	}
	if n, err := f.st.DeleteExpired(ctx, at.Add(time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if keys, err := f.keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("keys left = %q, %v; want none", keys, err)
	}
}

func TestRotateOntoItself(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	if err := f.st.Rotate(ctx, s.ID, s.ID, at); err != nil {
		t.Fatalf("Rotate onto the same ID = %v, want nil", err)
	}
	if _, err := f.st.Find(ctx, s.ID); err != nil {
		t.Fatalf("Find: %v", err)
	}
	if !f.isMember(t, "alice", s.ID) {
		t.Error("the session left the user set")
	}
}

func TestCorruptHash(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	key := f.sessionKey(s.ID)

	if err := f.c.HSet(ctx, key, "created_at", "yesterday").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Find(ctx, s.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Find of a bad time = %v, want a corruption error", err)
	}
	if _, err := f.st.List(ctx, "alice", at); err == nil {
		t.Error("List of a bad time succeeded")
	}

	if err := f.c.HDel(ctx, key, "abs_deadline").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Find(ctx, s.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Find of a missing field = %v, want a corruption error", err)
	}
	if err := f.st.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x"); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Touch of a missing field = %v, want a corruption error", err)
	}
	if err := f.st.Delete(ctx, s.ID); err != nil {
		t.Errorf("Delete of a corrupt session = %v, want nil", err)
	}
}

func TestInvalidPrefix(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	for _, p := range []string{" ", "cb session:", "cb:\n", "cb:\x00", "cb:\t", "cb:\u00a0", "cb:\xff"} {
		if _, err := redisstore.New(c, redisstore.Options{Prefix: p}); err == nil {
			t.Errorf("New accepted prefix %q", p)
		}
	}
	st, err := redisstore.New(c, redisstore.Options{})
	if err != nil || st.Prefix() != redisstore.DefaultPrefix {
		t.Errorf("New with no prefix = %v; want the default prefix", err)
	}
	if _, err := redisstore.New(nil, redisstore.Options{}); err == nil {
		t.Error("New accepted a nil client")
	}

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if _, err := redisstore.New(cc, redisstore.Options{}); err == nil {
		t.Error("New accepted a prefix without a hash tag on Redis Cluster")
	}
	if _, err := redisstore.New(cc, redisstore.Options{Prefix: "{cb}:session:"}); err != nil {
		t.Errorf("New with a hash-tagged prefix on Redis Cluster: %v", err)
	}
}

func benchFixture(b *testing.B) (*fixture, *atomic.Int64) {
	opt := redisOptions(b)
	writes := new(atomic.Int64)
	tlsConfig := opt.TLSConfig
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tlsConfig != nil {
			conn = tls.Client(conn, tlsConfig)
		}
		return storetest.CountWrites(conn, writes), nil
	}
	return newFixture(b, opt), writes
}

func reportRoundTrips(b *testing.B, writes *atomic.Int64) {
	b.ReportMetric(float64(writes.Load())/float64(b.N), "roundtrips/op")
}

func BenchmarkFind(b *testing.B) {
	f, writes := benchFixture(b)
	ctx := context.Background()
	s := newSession("alice", now())
	if err := f.st.Create(ctx, s); err != nil {
		b.Fatal(err)
	}
	if _, err := f.st.Find(ctx, s.ID); err != nil { // connect outside the count
		b.Fatal(err)
	}
	b.ReportAllocs()
	writes.Store(0)
	b.ResetTimer()
	for range b.N {
		if _, err := f.st.Find(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRoundTrips(b, writes)
}

func BenchmarkTouch(b *testing.B) {
	f, writes := benchFixture(b)
	ctx := context.Background()
	at := now()
	s := newSession("alice", at)
	if err := f.st.Create(ctx, s); err != nil {
		b.Fatal(err)
	}
	// Load the script outside the count.
	if err := f.st.Touch(ctx, s.ID, at, at, at.Add(30*time.Minute), "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	writes.Store(0)
	b.ResetTimer()
	for i := range b.N {
		t := at.Add(time.Duration(i) * time.Microsecond)
		if err := f.st.Touch(ctx, s.ID, t, t, t.Add(30*time.Minute), "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRoundTrips(b, writes)
}

// BenchmarkRequest measures the Manager's request path on this store, with
// a GET of a missing key (one round trip) as the baseline.
func BenchmarkRequest(b *testing.B) {
	f, writes := benchFixture(b)
	missing := f.st.Prefix() + "baseline"
	storetest.Benchmark(b, f.st, storetest.BenchOptions{
		RoundTrips: writes.Load,
		Baseline: func(ctx context.Context) error {
			if err := f.c.Get(ctx, missing).Err(); err != redis.Nil {
				return err
			}
			return nil
		},
	})
}

func TestCheckAcceptsNoEviction(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	policy, err := f.c.ConfigGet(context.Background(), "maxmemory-policy").Result()
	if err != nil {
		t.Fatal(err)
	}
	err = f.st.Check(context.Background())
	if policy["maxmemory-policy"] == "noeviction" && err != nil {
		t.Fatalf("Check on a noeviction server = %v", err)
	}
	if policy["maxmemory-policy"] != "noeviction" && err == nil {
		t.Fatalf("Check accepted policy %q", policy["maxmemory-policy"])
	}
}
