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
		case "string":
			v, err := f.c.Get(ctx, k).Result()
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&buf, "\t%s\n", v)
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
	if err := f.st.Rotate(ctx, s.ID, moved, start.Add(time.Minute), start, 0); err != nil {
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
		{"delete", func(id session.ID) error { return f.st.Delete(ctx, id, at, "signed out") }},
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
		if err := f.st.Rotate(ctx, s.ID, fresh, at, at, 0); !errors.Is(err, session.ErrNotFound) {
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
	if err := f.st.DeleteForUser(ctx, "alice", s.ID, at, "revoked"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("DeleteForUser(alice) = %v, want ErrNotFound", err)
	}
	if n, err := f.st.DeleteAllForUser(ctx, "alice", session.ID{}, at, "revoked"); err != nil || n != 0 {
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
	if err := f.st.Rotate(ctx, s.ID, s.ID, at, at, 0); err != nil {
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
	if err := f.st.Delete(ctx, s.ID, at, "signed out"); err != nil {
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

// A hash written before epoch, method and auth_at existed loads with their
// zero values, and every operation works on it.
func TestHashWithoutLaterFields(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	key := f.sessionKey(s.ID)
	if err := f.c.HDel(ctx, key, "epoch", "method", "auth_at").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := f.c.HLen(ctx, key).Result(); err != nil || n != 8 {
		t.Fatalf("HLEN = %d, %v; want the 8 fields of an old hash", n, err)
	}
	got, err := f.st.Find(ctx, s.ID)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if got.Epoch != 0 || got.Method != "" || got.AuthAt != (time.Time{}) || got.UserID != "alice" {
		t.Errorf("Find = %+v; want alice's session with a zero epoch, method and auth time", got)
	}
	list, err := f.st.List(ctx, "alice", at)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d sessions, %v; want 1", len(list), err)
	}
	if list[0] != got {
		t.Errorf("List = %+v, want %+v", list[0], got)
	}
	if err := f.st.Touch(ctx, s.ID, at.Add(time.Minute), at.Add(time.Minute), at.Add(31*time.Minute), "x"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	var moved session.ID
	rand.Read(moved[:])
	authAt := at.Add(time.Minute)
	if err := f.st.Rotate(ctx, s.ID, moved, at.Add(time.Minute), authAt, 7); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got, err := f.st.Find(ctx, moved); err != nil || got.Epoch != 7 || !got.AuthAt.Equal(authAt) || got.Method != "" {
		t.Errorf("Find after Rotate = %+v, %v; want epoch 7, auth time %v", got, err, authAt)
	}
	if err := f.st.DeleteForUser(ctx, "alice", moved, at.Add(2*time.Minute), "revoked"); err != nil {
		t.Fatalf("DeleteForUser: %v", err)
	}
	if e, err := f.st.Ended(ctx, moved); err != nil || e.Why != "revoked" {
		t.Errorf("Ended = %+v, %v; want the revocation", e, err)
	}
}

func TestLaterFields(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := newSession("alice", at)
	s.Epoch, s.Method, s.AuthAt = -3, "password", at.Add(-time.Minute+time.Microsecond)
	f.create(t, s)
	if got, err := f.st.Find(ctx, s.ID); err != nil || got != s {
		t.Fatalf("Find = %+v, %v; want %+v", got, err, s)
	}
	if list, err := f.st.List(ctx, "alice", at); err != nil || len(list) != 1 || list[0] != s {
		t.Fatalf("List = %+v, %v; want [%+v]", list, err, s)
	}

	// Rotate sets the auth time and epoch and keeps the rest, also onto
	// the same ID.
	var moved session.ID
	rand.Read(moved[:])
	for i, to := range []session.ID{moved, moved} {
		authAt := at.Add(time.Duration(i+1) * time.Second)
		if err := f.st.Rotate(ctx, s.ID, to, at, authAt, int64(10+i)); err != nil {
			t.Fatalf("Rotate %d: %v", i, err)
		}
		want := s
		want.ID, want.AuthAt, want.Epoch = to, authAt, int64(10+i)
		if got, err := f.st.Find(ctx, to); err != nil || got != want {
			t.Fatalf("Find after Rotate %d = %+v, %v; want %+v", i, got, err, want)
		}
		s.ID = to
	}

	for _, bad := range []struct{ field, value string }{{"epoch", "seven"}, {"auth_at", "noon"}, {"epoch", ""}} {
		if err := f.c.HSet(ctx, f.sessionKey(moved), bad.field, bad.value).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Find(ctx, moved); err == nil || errors.Is(err, session.ErrNotFound) {
			t.Errorf("Find with %s = %q: %v, want a corruption error", bad.field, bad.value, err)
		}
		if _, err := f.st.List(ctx, "alice", at); err == nil {
			t.Errorf("List with %s = %q succeeded", bad.field, bad.value)
		}
		if err := f.c.HSet(ctx, f.sessionKey(moved), "epoch", "1", "auth_at", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) endingKey(id session.ID) string { return f.prefix + "e:" + id.String() }

func (f *fixture) endingEntries(t *testing.T) []redis.Z {
	t.Helper()
	zs, err := f.c.ZRangeWithScores(context.Background(), f.prefix+"endings", 0, -1).Result()
	if err != nil {
		t.Fatalf("ZRANGE: %v", err)
	}
	return zs
}

func (f *fixture) wantEnded(t *testing.T, id session.ID, want session.Ending) {
	t.Helper()
	got, err := f.st.Ended(context.Background(), id)
	if err != nil || got != want {
		t.Fatalf("Ended(%s) = %+v, %v; want %+v", id.Short(), got, err, want)
	}
}

func (f *fixture) wantNoEnding(t *testing.T, id session.ID) {
	t.Helper()
	if e, err := f.st.Ended(context.Background(), id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Ended(%s) = %+v, %v; want ErrNotFound", id.Short(), e, err)
	}
	if f.exists(t, f.endingKey(id)) {
		t.Fatalf("ending key of %s exists", id.Short())
	}
}

// An ending expires with its session's key, at the absolute deadline
// rounded up to the millisecond, and only a delete with a reason of a
// session with a deadline ahead leaves one.
func TestEndingKeys(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	mk := func(user string) session.Session {
		s := newSession(user, at)
		s.AbsoluteDeadline = s.AbsoluteDeadline.Add(1500 * time.Microsecond) // not a whole millisecond
		return f.create(t, s)
	}

	out := mk("alice")
	if err := f.st.Delete(ctx, out.ID, at.Add(time.Second), "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	f.wantEnded(t, out.ID, session.Ending{UserID: "alice", At: at.Add(time.Second), Why: "signed out"})
	if got, want := f.expireTime(t, f.endingKey(out.ID)), ceilMillis(out.AbsoluteDeadline); got != want {
		t.Errorf("ending PEXPIRETIME = %d, want %d", got, want)
	}
	if got := f.endingEntries(t); len(got) != 1 || got[0].Member != out.ID.String() ||
		got[0].Score != float64(out.AbsoluteDeadline.UnixMicro()) {
		t.Errorf("endings = %v, want %s scored by its absolute deadline", got, out.ID.Short())
	}

	quiet := mk("alice")
	if err := f.st.Delete(ctx, quiet.ID, at, ""); err != nil {
		t.Fatalf("Delete without a reason: %v", err)
	}
	f.wantNoEnding(t, quiet.ID)

	// Another user's revocation neither deletes nor remembers.
	kept := mk("alice")
	if err := f.st.DeleteForUser(ctx, "mallory", kept.ID, at, "revoked"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("DeleteForUser by another user = %v, want ErrNotFound", err)
	}
	f.wantNoEnding(t, kept.ID)
	revoked := mk("alice")
	if err := f.st.DeleteForUser(ctx, "alice", revoked.ID, at, "revoked by an administrator"); err != nil {
		t.Fatalf("DeleteForUser: %v", err)
	}
	f.wantEnded(t, revoked.ID, session.Ending{UserID: "alice", At: at, Why: "revoked by an administrator"})

	others := []session.Session{mk("alice"), mk("alice")}
	if n, err := f.st.DeleteAllForUser(ctx, "alice", kept.ID, at, "password changed"); err != nil || n != 2 {
		t.Fatalf("DeleteAllForUser = %d, %v; want 2, nil", n, err)
	}
	for _, o := range others {
		f.wantEnded(t, o.ID, session.Ending{UserID: "alice", At: at, Why: "password changed"})
		if got, want := f.expireTime(t, f.endingKey(o.ID)), ceilMillis(o.AbsoluteDeadline); got != want {
			t.Errorf("ending PEXPIRETIME = %d, want %d", got, want)
		}
	}
	f.wantNoEnding(t, kept.ID)
	if got := f.endingEntries(t); len(got) != 4 {
		t.Errorf("endings = %v, want 4", got)
	}

	// Past the deadline on the server's clock (the session has no TTL), or
	// at the caller's now: nothing to remember.
	old := f.create(t, newSession("bob", now().Add(-13*time.Hour)))
	if err := f.st.Delete(ctx, old.ID, old.CreatedAt, "signed out"); err != nil {
		t.Fatalf("Delete of a session past its deadline: %v", err)
	}
	f.wantNoEnding(t, old.ID)
	late := mk("bob")
	if n, err := f.st.DeleteAllForUser(ctx, "bob", session.ID{}, late.AbsoluteDeadline, "revoked"); err != nil || n != 1 {
		t.Fatalf("DeleteAllForUser at the deadline = %d, %v; want 1, nil", n, err)
	}
	f.wantNoEnding(t, late.ID)
	if got := f.endingEntries(t); len(got) != 4 {
		t.Errorf("endings = %v, want still 4", got)
	}
}

func TestDeleteExpiredForgetsEndings(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	first := newSession("alice", at)
	second := newSession("alice", at)
	second.AbsoluteDeadline = second.AbsoluteDeadline.Add(time.Hour)
	vanished := newSession("alice", at)
	// A session that expires with the first ending, for the sweep to count.
	swept := newSession("alice", at)
	swept.IdleDeadline = swept.AbsoluteDeadline
	for _, s := range []session.Session{first, second, vanished, swept} {
		f.create(t, s)
	}
	for _, s := range []session.Session{first, second, vanished} {
		if err := f.st.Delete(ctx, s.ID, at, "signed out"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	// As Redis does at the ending's expiry.
	if err := f.c.Del(ctx, f.endingKey(vanished.ID)).Err(); err != nil {
		t.Fatal(err)
	}

	// Exact comparison: a microsecond before the deadline nothing goes.
	if n, err := f.st.DeleteExpired(ctx, first.AbsoluteDeadline.Add(-time.Microsecond), 10); err != nil || n != 0 {
		t.Fatalf("DeleteExpired before the deadline = %d, %v; want 0, nil", n, err)
	}
	f.wantEnded(t, first.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})
	if got := f.endingEntries(t); len(got) != 3 {
		t.Fatalf("endings = %v, want 3", got)
	}

	// At the deadline: the other session is swept and counted, the first
	// ending forgotten and not counted, and the vanished one's entry gone.
	if n, err := f.st.DeleteExpired(ctx, first.AbsoluteDeadline, 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired at the deadline = %d, %v; want 1, nil", n, err)
	}
	f.wantNoEnding(t, first.ID)
	f.wantEnded(t, second.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})
	if got := f.endingEntries(t); len(got) != 1 || got[0].Member != second.ID.String() {
		t.Fatalf("endings = %v, want only %s", got, second.ID.Short())
	}

	if n, err := f.st.DeleteExpired(ctx, second.AbsoluteDeadline, 10); err != nil || n != 0 {
		t.Fatalf("DeleteExpired at the second deadline = %d, %v; want 0, nil", n, err)
	}
	f.wantNoEnding(t, second.ID)
	if keys, err := f.keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("keys left = %q, %v; want none", keys, err)
	}
}

func TestEndedMissingOrCorrupt(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	var id session.ID
	rand.Read(id[:])
	f.wantNoEnding(t, id)
	for _, fields := range [][]string{{"user_id", "alice", "why", "x"}, {"user_id", "alice", "at", "noon", "why", "x"}} {
		if err := f.c.Del(ctx, f.endingKey(id)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := f.c.HSet(ctx, f.endingKey(id), fields).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Ended(ctx, id); err == nil || errors.Is(err, session.ErrNotFound) {
			t.Errorf("Ended of %q = %v, want a corruption error", fields, err)
		}
	}
}

func TestIdentity(t *testing.T) {
	opt := redisOptions(t)
	f := newFixture(t, opt)
	ctx := context.Background()
	if id, err := f.st.Identity(ctx, false); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Identity(false) of a new store = %q, %v; want ErrNotFound", id, err)
	}
	if f.exists(t, f.prefix+"store_id") {
		t.Fatal("Identity(false) created the marker")
	}

	// Concurrent creators all get the one that won.
	ids := make([]string, 8)
	errs := make([]error, len(ids))
	done := make(chan int)
	for i := range ids {
		go func() {
			ids[i], errs[i] = f.st.Identity(ctx, true)
			done <- i
		}()
	}
	for range ids {
		<-done
	}
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("Identity(true) #%d = %q, %v; want %q like #0", i, ids[i], errs[i], ids[0])
		}
	}
	if b, err := hex.DecodeString(ids[0]); err != nil || len(b) != 16 {
		t.Errorf("Identity = %q; want 16 random bytes in hex", ids[0])
	}
	for _, create := range []bool{false, true} {
		if id, err := f.st.Identity(ctx, create); err != nil || id != ids[0] {
			t.Errorf("Identity(%v) again = %q, %v; want %q", create, id, err, ids[0])
		}
	}
	if got := f.expireTime(t, f.prefix+"store_id"); got != -1 {
		t.Errorf("marker PEXPIRETIME = %d, want -1 (none)", got)
	}

	// A store on the same keys shares it; one on other keys has its own.
	same, err := redisstore.New(f.c, redisstore.Options{Prefix: f.prefix})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := same.Identity(ctx, false); err != nil || id != ids[0] {
		t.Errorf("Identity of a second Store on the prefix = %q, %v; want %q", id, err, ids[0])
	}
	other := newFixture(t, opt)
	if id, err := other.st.Identity(ctx, true); err != nil || id == ids[0] {
		t.Errorf("Identity on another prefix = %q, %v; want a new one", id, err)
	}

	if err := f.c.Set(ctx, f.prefix+"store_id", "", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{false, true} {
		if id, err := f.st.Identity(ctx, create); err == nil {
			t.Errorf("Identity(%v) of an empty marker = %q, want an error", create, id)
		}
	}
}

// The sweep forgets every ending that is due, past its limit and across
// batches, and compares deadlines exactly where the index's doubles cannot.
func TestSweepForgetsEveryEnding(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	far := time.UnixMicro(1<<53 + 1).UTC() // a double rounds it down to 1<<53
	s := newSession("alice", at)
	s.IdleDeadline, s.AbsoluteDeadline = far, far
	f.create(t, s)
	if err := f.st.Delete(ctx, s.ID, at, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	// Entries of endings that Redis has expired already, more than a batch.
	orphans := make([]redis.Z, 2500)
	for i := range orphans {
		orphans[i] = redis.Z{Score: float64(at.UnixMicro()), Member: fmt.Sprintf("%064x", i)}
	}
	if err := f.c.ZAdd(ctx, f.prefix+"endings", orphans...).Err(); err != nil {
		t.Fatal(err)
	}

	if n, err := f.st.DeleteExpired(ctx, time.UnixMicro(1<<53).UTC(), 1); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0, nil", n, err)
	}
	f.wantEnded(t, s.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})
	if got := f.endingEntries(t); len(got) != 1 || got[0].Member != s.ID.String() {
		t.Fatalf("endings = %d entries, want only %s", len(got), s.ID.Short())
	}
	if n, err := f.st.DeleteExpired(ctx, far, 1); err != nil || n != 0 {
		t.Fatalf("DeleteExpired at the deadline = %d, %v; want 0, nil", n, err)
	}
	f.wantNoEnding(t, s.ID)
	if keys, err := f.keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("keys left = %q, %v; want none", keys, err)
	}
}
