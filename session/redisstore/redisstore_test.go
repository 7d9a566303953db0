package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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
		AuthAt:           now,
		Handle:           session.NewHandle(),
		Secret:           newSecret(),
		SeenAt:           now,
		IssuedAt:         now,
	}
}

func newSecret() [32]byte {
	var k [32]byte
	rand.Read(k[:])
	return k
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (f *fixture) sessionKey(id session.ID) string { return f.prefix + "s:" + id.String() }
func (f *fixture) userKey(userID string) string    { return f.prefix + "user:" + userID }

func (f *fixture) bucketKey(h session.Handle) string {
	return f.prefix + fmt.Sprintf("handles:%03x", int(h[0])<<4|int(h[1])>>4)
}

func (f *fixture) uaKey(ua string) string {
	sum := sha256.Sum256([]byte(ua))
	return f.prefix + "ua:" + hex.EncodeToString(sum[:16])
}

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

// indexed reports whether the user's set holds the handle.
func (f *fixture) indexed(t *testing.T, userID string, h session.Handle) bool {
	t.Helper()
	err := f.c.ZScore(context.Background(), f.userKey(userID), string(h[:])).Err()
	if err != nil && err != redis.Nil {
		t.Fatalf("ZSCORE: %v", err)
	}
	return err == nil
}

// index returns the entries of the user's set.
func (f *fixture) index(t *testing.T, userID string) []redis.Z {
	t.Helper()
	zs, err := f.c.ZRangeWithScores(context.Background(), f.userKey(userID), 0, -1).Result()
	if err != nil {
		t.Fatalf("ZRANGE: %v", err)
	}
	return zs
}

// wantIndex checks that the user's set holds the handles of want, each
// scored by its session's earlier deadline, and that the due set schedules
// the user at the earliest of them.
func (f *fixture) wantIndex(t *testing.T, userID string, want ...session.Session) {
	t.Helper()
	got := f.index(t, userID)
	ok := len(got) == len(want)
	first := math.Inf(1)
	for _, s := range want {
		score := float64(min(s.IdleDeadline.UnixMicro(), s.AbsoluteDeadline.UnixMicro()))
		first = min(first, score)
		ok = ok && slices.Contains(got, redis.Z{Score: score, Member: string(s.Handle[:])})
	}
	if !ok {
		t.Fatalf("index of %s = %v, want the handles of %d sessions scored by their deadlines", userID, got, len(want))
	}
	due, err := f.c.ZScore(context.Background(), f.prefix+"due", userID).Result()
	switch {
	case len(want) == 0 && err != redis.Nil:
		t.Fatalf("due entry of %s = %v, %v; want none", userID, due, err)
	case len(want) > 0 && (err != nil || due != first):
		t.Fatalf("due entry of %s = %v, %v; want %v", userID, due, err, first)
	}
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

// chromeUA is a User-Agent as browsers send them, longer than a listpack
// value.
const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.207 Safari/537.36"

func TestKeyExpiresAtAbsoluteDeadline(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	start := now()
	s := newSession("alice", start)
	s.UserAgent = chromeUA
	s.AbsoluteDeadline = start.Add(time.Hour + 1500*time.Microsecond) // not a whole millisecond
	f.create(t, s)
	want := ceilMillis(s.AbsoluteDeadline)
	if got := f.expireTime(t, f.sessionKey(s.ID)); got != want {
		t.Errorf("session key PEXPIRETIME = %d, want %d", got, want)
	}
	if got := f.expireTime(t, f.uaKey(chromeUA)); got != want {
		t.Errorf("User-Agent key PEXPIRETIME = %d, want %d", got, want)
	}
	// The indexes have none: the sweep takes their entries out.
	for _, key := range []string{f.userKey("alice"), f.bucketKey(s.Handle), f.prefix + "due"} {
		if got := f.expireTime(t, key); got != -1 {
			t.Errorf("%s PEXPIRETIME = %d, want -1 (none)", key, got)
		}
	}

	// A later deadline pushes the User-Agent's expiry out; an earlier one
	// leaves it.
	later := newSession("alice", start)
	later.UserAgent, later.AbsoluteDeadline = chromeUA, start.Add(3*time.Hour)
	f.create(t, later)
	earlier := newSession("alice", start)
	earlier.UserAgent, earlier.AbsoluteDeadline = chromeUA, start.Add(2*time.Hour)
	f.create(t, earlier)
	if got, want := f.expireTime(t, f.uaKey(chromeUA)), ceilMillis(later.AbsoluteDeadline); got != want {
		t.Errorf("User-Agent key PEXPIRETIME = %d, want %d (the latest deadline)", got, want)
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
}

// A session whose absolute deadline has passed on the server's clock cannot
// get a TTL; it is kept, findable, until DeleteExpired removes it, and so
// is its User-Agent, in its hash.
func TestCreatePastDeadline(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	s := newSession("alice", now().Add(-13*time.Hour))
	s.UserAgent = chromeUA + " past"
	f.create(t, s)
	got, err := f.st.Find(ctx, s.ID)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if got.AbsoluteDeadline != s.AbsoluteDeadline || got.UserAgent != s.UserAgent {
		t.Errorf("AbsoluteDeadline, UserAgent = %v, %q; want %v, %q", got.AbsoluteDeadline, got.UserAgent, s.AbsoluteDeadline, s.UserAgent)
	}
	if got := f.expireTime(t, f.sessionKey(s.ID)); got != -1 {
		t.Errorf("session key PEXPIRETIME = %d, want -1 (none)", got)
	}
	if f.exists(t, f.uaKey(s.UserAgent)) {
		t.Error("a User-Agent key outside the session, which could expire before it")
	}
	live := f.create(t, newSession("alice", now()))
	if n, err := f.st.DeleteExpired(ctx, now(), 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if f.exists(t, f.sessionKey(s.ID)) {
		t.Error("the swept session is still there")
	}
	f.wantIndex(t, "alice", live)
	f.wantNoHandle(t, s.Handle)
}

// vanish removes just the session key, as Redis does at its expiry.
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
	f.wantIndex(t, "alice", kept)
	f.wantNoHandle(t, gone.Handle)
	f.wantHandle(t, kept.Handle, kept.ID)
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
	if f.exists(t, f.sessionKey(dead.ID)) {
		t.Error("DeleteExpired left the expired session's key")
	}
	f.wantIndex(t, "alice", live)
	f.wantNoHandle(t, gone.Handle)
	f.wantNoHandle(t, dead.Handle)
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
		if err := f.st.Renew(ctx, s.ID, fresh, 0, at, at.Add(time.Hour), "x"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Renew = %v, want ErrNotFound", end.name, err)
		}
		if err := f.st.Seen(ctx, s.ID, 0, at); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Seen = %v, want ErrNotFound", end.name, err)
		}
		if err := f.st.Bind(ctx, s.ID, at, 0, `{"kty":"EC"}`); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Bind = %v, want ErrNotFound", end.name, err)
		}
		if n, err := f.st.NoteUnbound(ctx, s.ID, at); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: NoteUnbound = %d, %v, want ErrNotFound", end.name, n, err)
		}
		if _, err := f.st.FindHandle(ctx, s.Handle); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: FindHandle = %v, want ErrNotFound", end.name, err)
		}
		if f.exists(t, f.sessionKey(s.ID)) || f.exists(t, f.sessionKey(fresh)) || f.exists(t, f.endingKey(fresh)) {
			t.Errorf("%s: a write re-created a key", end.name)
		}
		if end.name == "delete" {
			f.wantNoHandle(t, s.Handle)
			f.wantIndex(t, "alice")
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

	if n, err := f.st.DeleteAllForUser(ctx, "alice", session.ID{}, at, "revoked"); err != nil || n != 0 {
		t.Fatalf("DeleteAllForUser(alice) = %d, %v; want 0, nil", n, err)
	}
	if list, err := f.st.List(ctx, "alice", at); err != nil || len(list) != 0 {
		t.Fatalf("List(alice) = %d sessions, %v; want none", len(list), err)
	}
	if err := f.st.DeleteForUser(ctx, "alice", s.ID, at, "revoked"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("DeleteForUser(alice) = %v, want ErrNotFound", err)
	}
	if got, err := f.st.Find(ctx, s.ID); err != nil || got.UserID != "bob" {
		t.Fatalf("Find = %+v, %v; want bob's session", got, err)
	}
	if got, err := f.st.FindHandle(ctx, bob.Handle); err != nil || got.UserID != "bob" {
		t.Fatalf("FindHandle = %+v, %v; want bob's session", got, err)
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
	f.wantIndex(t, "alice", s)
	f.wantHandle(t, s.Handle, s.ID)
}

func TestCorruptHash(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := newSession("alice", at)
	s.UserAgent = chromeUA
	f.create(t, s)
	key := f.sessionKey(s.ID)

	if err := f.c.HSet(ctx, key, "c", "yesterday").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Find(ctx, s.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Find of a bad time = %v, want a corruption error", err)
	}
	if _, err := f.st.List(ctx, "alice", at); err == nil {
		t.Error("List of a bad time succeeded")
	}

	// Its User-Agent is gone: Find fails rather than return another.
	if err := f.c.Del(ctx, f.uaKey(chromeUA)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.c.HSet(ctx, key, "c", s.CreatedAt.UnixMicro()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Find(ctx, s.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Find without the User-Agent = %v, want a corruption error", err)
	}

	if err := f.c.HDel(ctx, key, "a").Err(); err != nil {
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

	// A hash without the fields a session must have is corrupt, not missing.
	if err := f.c.HSet(ctx, key, "m", "password").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Find(ctx, s.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Find of a hash without an owner = %v, want a corruption error", err)
	}
	if err := f.st.Delete(ctx, s.ID, at, ""); err != nil {
		t.Errorf("Delete of a hash without an owner = %v, want nil", err)
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

func randomID() session.ID {
	var id session.ID
	rand.Read(id[:])
	return id
}

// Layouts of earlier versions, for writeOld.
const (
	layoutFirst    = iota // the first eight fields only
	layoutEpoch           // and epoch, method and auth_at
	layoutPrevious        // every field, and a handle key: the layout just before this one
)

// writeOld writes s as an earlier version did: the session hash, its TTL,
// its index entries and, from layoutPrevious on, its handle key.
func (f *fixture) writeOld(t *testing.T, s session.Session, layout int) {
	t.Helper()
	ctx := context.Background()
	us := func(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }
	key := f.sessionKey(s.ID)
	vals := []any{"user_id", s.UserID, "created_at", us(s.CreatedAt), "last_seen_at", us(s.LastSeenAt),
		"idle_deadline", us(s.IdleDeadline), "abs_deadline", us(s.AbsoluteDeadline),
		"created_ip", s.CreatedIP, "user_agent", s.UserAgent, "last_ip", s.LastIP}
	if layout >= layoutEpoch {
		vals = append(vals, "epoch", s.Epoch, "method", s.Method, "auth_at", us(s.AuthAt))
	}
	if layout >= layoutPrevious {
		vals = append(vals, "handle", s.Handle.String(), "secret", hex.EncodeToString(s.Secret[:]),
			"gen", s.Gen, "seen_gen", s.SeenGen, "seen_at", us(s.SeenAt), "issued_at", us(s.IssuedAt),
			"bind_key", s.BindKey, "bound_at", us(s.BoundAt), "bind_seq", s.BindSeq, "unbound", s.Unbound)
	}
	first := s.IdleDeadline
	if s.AbsoluteDeadline.Before(first) {
		first = s.AbsoluteDeadline
	}
	expireAt := time.UnixMilli(ceilMillis(s.AbsoluteDeadline))
	pipe := f.c.TxPipeline()
	pipe.HSet(ctx, key, vals...)
	pipe.PExpireAt(ctx, key, expireAt)
	pipe.SAdd(ctx, f.prefix+"u:"+s.UserID, s.ID.String())
	pipe.PExpireAt(ctx, f.prefix+"u:"+s.UserID, expireAt)
	pipe.ZAdd(ctx, f.prefix+"expiry", redis.Z{Score: float64(first.UnixMicro()), Member: s.ID.String() + ":" + s.UserID})
	if layout >= layoutPrevious {
		pipe.Set(ctx, f.prefix+"h:"+s.Handle.String(), s.ID.String(), 0)
		pipe.PExpireAt(ctx, f.prefix+"h:"+s.Handle.String(), expireAt)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("writing an old hash: %v", err)
	}
	if n, err := f.c.HLen(ctx, key).Result(); err != nil || n != int64(len(vals)/2) {
		t.Fatalf("HLEN = %d, %v; want the %d fields of an old hash", n, err, len(vals)/2)
	}
}

// wantNoOldKeys checks that no key of an earlier layout is left.
func (f *fixture) wantNoOldKeys(t *testing.T) {
	t.Helper()
	keys, err := f.keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, f.prefix)
		if rest == "expiry" || strings.HasPrefix(rest, "u:") || strings.HasPrefix(rest, "h:") {
			t.Errorf("key of an earlier layout left: %s", k)
		}
	}
}

// wantHandle checks that the handle's entry names id.
func (f *fixture) wantHandle(t *testing.T, h session.Handle, id session.ID) {
	t.Helper()
	got, err := f.c.HGet(context.Background(), f.bucketKey(h), string(h[:])).Result()
	if err != nil || got != string(id[:]) {
		t.Fatalf("handle entry of %s = %x, %v; want %s", h.Short(), got, err, id)
	}
}

func (f *fixture) wantNoHandle(t *testing.T, h session.Handle) {
	t.Helper()
	ok, err := f.c.HExists(context.Background(), f.bucketKey(h), string(h[:])).Result()
	if err != nil || ok {
		t.Fatalf("handle entry of %s exists (%v)", h.Short(), err)
	}
	if s, err := f.st.FindHandle(context.Background(), h); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("FindHandle(%s) = %+v, %v; want ErrNotFound", h.Short(), s, err)
	}
}

// A session hash written before epochs, methods, handles and the rest
// existed is converted in place: see storetest.CheckUpgradedRow.
func TestUpgradesOldHash(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	at := now()
	old := storetest.OldSession(at)
	f.writeOld(t, old, layoutFirst)
	storetest.CheckUpgradedRow(t, f.st, old, at)
	// The session is gone, with its index entries; only the endings are left.
	keys, err := f.keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{f.endingKey(old.ID), f.endingKey(session.ID{2}), f.prefix + "endings"}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys left = %q, want %q", keys, want)
	}
}

// A hash with epoch, method and auth_at but no handle keeps them, and gains
// a handle and secret on its first read, with its index entries; every
// reader, concurrent or later, sees the same ones.
func TestUpgradesPreviousHash(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	old := newSession("alice", at.Add(-time.Hour))
	old.IdleDeadline = at.Add(29 * time.Minute)
	old.AbsoluteDeadline = old.AbsoluteDeadline.Add(1500 * time.Microsecond)
	old.Epoch, old.Method, old.AuthAt = 4, "passkey", at.Add(-time.Minute)
	f.writeOld(t, old, layoutEpoch)
	want := old
	want.SeenAt, want.IssuedAt = old.CreatedAt, old.CreatedAt

	got := make([]session.Session, 16)
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				got[i], errs[i] = f.st.Find(ctx, old.ID)
				return
			}
			var list []session.Session
			list, errs[i] = f.st.List(ctx, "alice", at)
			if errs[i] == nil && len(list) != 1 {
				errs[i] = fmt.Errorf("List returned %d sessions", len(list))
			} else if errs[i] == nil {
				got[i] = list[0]
			}
		}()
	}
	wg.Wait()
	want.Handle, want.Secret = got[0].Handle, got[0].Secret
	if want.Handle.IsZero() || want.Secret == ([32]byte{}) {
		t.Fatalf("Find = %+v; want a handle and a secret", got[0])
	}
	for i := range got {
		if errs[i] != nil || got[i] != want {
			t.Fatalf("read %d = %+v, %v; want %+v", i, got[i], errs[i], want)
		}
	}
	f.wantHandle(t, want.Handle, old.ID)
	f.wantIndex(t, "alice", want)
	if s, err := f.st.FindHandle(ctx, want.Handle); err != nil || s != want {
		t.Fatalf("FindHandle = %+v, %v; want %+v", s, err, want)
	}
	if got := f.expireTime(t, f.sessionKey(old.ID)); got != ceilMillis(old.AbsoluteDeadline) {
		t.Errorf("session key PEXPIRETIME = %d, want %d", got, ceilMillis(old.AbsoluteDeadline))
	}
	// Converted once: u c l i a p q y e m A h, and none of the old fields.
	if n, err := f.c.HLen(ctx, f.sessionKey(old.ID)).Result(); err != nil || n != 12 {
		t.Errorf("HLEN after the upgrade = %d, %v; want 12", n, err)
	}
	f.wantNoOldKeys(t)
}

// A Renew or Rotate of an old hash that nothing has read yet gives it its
// handle and secret, and points the handle entry at its new ID.
func TestUpgradesOnMove(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	for _, move := range []string{"renew", "rotate"} {
		old := newSession("alice", at)
		f.writeOld(t, old, layoutFirst)
		to := randomID()
		var err error
		if move == "renew" {
			err = f.st.Renew(ctx, old.ID, to, 0, at, at.Add(time.Hour), "x")
		} else {
			err = f.st.Rotate(ctx, old.ID, to, at, at, 2)
		}
		if err != nil {
			t.Fatalf("%s: %v", move, err)
		}
		got, err := f.st.Find(ctx, to)
		if err != nil || got.Handle.IsZero() || got.Secret == ([32]byte{}) || got.Gen != 1 {
			t.Fatalf("%s: Find = %+v, %v; want generation 1 with a handle and a secret", move, got, err)
		}
		f.wantHandle(t, got.Handle, to)
		if got := f.expireTime(t, f.sessionKey(to)); got != ceilMillis(old.AbsoluteDeadline) {
			t.Errorf("%s: session key PEXPIRETIME = %d, want %d", move, got, ceilMillis(old.AbsoluteDeadline))
		}
		if s, err := f.st.FindHandle(ctx, got.Handle); err != nil || s != got {
			t.Fatalf("%s: FindHandle = %+v, %v; want %+v", move, s, err, got)
		}
		if move == "renew" {
			f.wantEnded(t, old.ID, session.Ending{UserID: "alice", At: at, Handle: got.Handle, Seen: true})
		} else {
			f.wantNoEnding(t, old.ID)
		}
	}
	f.wantNoOldKeys(t)

	// Nothing fills in a session that is gone.
	gone := newSession("alice", at)
	f.writeOld(t, gone, layoutFirst)
	f.vanish(t, gone.ID)
	if s, err := f.st.Find(ctx, gone.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find of a vanished old hash = %+v, %v; want ErrNotFound", s, err)
	}
	if f.exists(t, f.sessionKey(gone.ID)) {
		t.Fatal("Find re-created a vanished session")
	}
}

// oldRich is a session of user with every field set, as the layout before
// this one could hold it: a long User-Agent, IPv6 addresses, a bind key.
func oldRich(user string, at time.Time) session.Session {
	s := newSession(user, at.Add(-time.Hour))
	s.LastSeenAt, s.IdleDeadline = at.Add(-time.Minute), at.Add(29*time.Minute)
	s.CreatedIP, s.LastIP, s.UserAgent = "2001:db8::7", "\x04not an address", chromeUA
	s.Epoch, s.Method, s.AuthAt = 3, "password", at.Add(-50*time.Minute)
	s.Gen, s.SeenGen, s.SeenAt, s.IssuedAt = 7, 6, at.Add(-20*time.Minute), at.Add(-10*time.Minute)
	s.BindKey, s.BoundAt, s.BindSeq, s.Unbound = strings.Repeat("k", 150), at.Add(-40*time.Minute), 2, 1
	return s
}

// A session of the layout just before this one reads back as it was,
// whichever operation meets it first, and leaves no key of that layout
// behind; one nothing met is swept from that layout's index.
func TestConvertsPreviousLayout(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	for _, first := range []string{"Find", "FindHandle", "List", "Touch", "DeleteForUser", "DeleteAllForUser"} {
		user := "user-" + first
		s := oldRich(user, at)
		f.writeOld(t, s, layoutPrevious)
		other := f.create(t, newSession(user, at)) // in the current layout
		want := []session.Session{s}
		var err error
		switch first {
		case "Find":
			var got session.Session
			if got, err = f.st.Find(ctx, s.ID); err == nil && got != s {
				t.Fatalf("%s: got %+v, want %+v", first, got, s)
			}
		case "FindHandle":
			var got session.Session
			if got, err = f.st.FindHandle(ctx, s.Handle); err == nil && got != s {
				t.Fatalf("%s: got %+v, want %+v", first, got, s)
			}
		case "List":
			var list []session.Session
			if list, err = f.st.List(ctx, user, at); err == nil && (len(list) != 2 || list[1] != s) {
				t.Fatalf("%s: got %+v, want it and another", first, list)
			}
		case "Touch":
			err = f.st.Touch(ctx, s.ID, at, at, at.Add(30*time.Minute), "192.0.2.8")
			want[0].LastSeenAt, want[0].IdleDeadline, want[0].LastIP = at, at.Add(30*time.Minute), "192.0.2.8"
		case "DeleteForUser":
			err = f.st.DeleteForUser(ctx, user, s.ID, at, "revoked")
			want = nil
		case "DeleteAllForUser":
			var n int
			if n, err = f.st.DeleteAllForUser(ctx, user, other.ID, at, "revoked"); err == nil && n != 1 {
				t.Fatalf("%s deleted %d sessions, want 1", first, n)
			}
			want = nil
		}
		if err != nil {
			t.Fatalf("%s: %v", first, err)
		}
		if want == nil {
			mustBeGone(t, f.st, s.ID)
			f.wantEnded(t, s.ID, session.Ending{UserID: user, At: at, Why: "revoked"})
			f.wantIndex(t, user, other)
			continue
		}
		if got, err := f.st.Find(ctx, s.ID); err != nil || got != want[0] {
			t.Fatalf("%s: Find = %+v, %v; want %+v", first, got, err, want[0])
		}
		f.wantHandle(t, s.Handle, s.ID)
		f.wantIndex(t, user, want[0], other)
		if got := f.expireTime(t, f.sessionKey(s.ID)); got != ceilMillis(s.AbsoluteDeadline) {
			t.Errorf("%s: session key PEXPIRETIME = %d, want %d", first, got, ceilMillis(s.AbsoluteDeadline))
		}
	}
	f.wantNoOldKeys(t)

	// Left alone, it is swept from the old index, with its old keys.
	idle := oldRich("idle", at)
	idle.IdleDeadline = at.Add(10 * time.Minute) // before the others'
	f.writeOld(t, idle, layoutPrevious)
	if n, err := f.st.DeleteExpired(ctx, idle.IdleDeadline, 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	mustBeGone(t, f.st, idle.ID)
	f.wantNoOldKeys(t)
}

func mustBeGone(t *testing.T, st session.Store, id session.ID) {
	t.Helper()
	if s, err := st.Find(context.Background(), id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find(%s) = %+v, %v; want ErrNotFound", id.Short(), s, err)
	}
}

// Every field comes back as Create stored it, and Rotate sets the auth
// time, epoch, generations and times, also onto the same ID.
func TestLaterFields(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := newSession("alice", at)
	s.Epoch, s.Method, s.AuthAt = -3, "password", at.Add(-time.Minute+time.Microsecond)
	s.Gen, s.SeenGen, s.SeenAt, s.IssuedAt = 5, 4, at.Add(-2*time.Second), at.Add(-time.Second)
	s.BindKey, s.BoundAt, s.BindSeq, s.Unbound = `{"kty":"EC","crv":"P-256","x":"…","y":"…"}`, at.Add(-3*time.Second), 3, 2
	s.LastIP = "2001:db8::1"
	f.create(t, s)
	if got, err := f.st.Find(ctx, s.ID); err != nil || got != s {
		t.Fatalf("Find = %+v, %v; want %+v", got, err, s)
	}
	if list, err := f.st.List(ctx, "alice", at); err != nil || len(list) != 1 || list[0] != s {
		t.Fatalf("List = %+v, %v; want [%+v]", list, err, s)
	}
	if got, err := f.st.FindHandle(ctx, s.Handle); err != nil || got != s {
		t.Fatalf("FindHandle = %+v, %v; want %+v", got, err, s)
	}

	var moved session.ID
	rand.Read(moved[:])
	for i, to := range []session.ID{moved, moved} {
		authAt := at.Add(time.Duration(i+1) * time.Second)
		if err := f.st.Rotate(ctx, s.ID, to, at, authAt, int64(10+i)); err != nil {
			t.Fatalf("Rotate %d: %v", i, err)
		}
		want := s
		want.ID, want.AuthAt, want.Epoch = to, authAt, int64(10+i)
		want.Gen, want.SeenGen, want.SeenAt, want.IssuedAt = s.Gen+1, s.Gen+1, at, at
		if got, err := f.st.Find(ctx, to); err != nil || got != want {
			t.Fatalf("Find after Rotate %d = %+v, %v; want %+v", i, got, err, want)
		}
		if got, err := f.st.FindHandle(ctx, s.Handle); err != nil || got != want {
			t.Fatalf("FindHandle after Rotate %d = %+v, %v; want %+v", i, got, err, want)
		}
		s = want
	}

	for _, bad := range []struct{ field, value string }{{"e", "seven"}, {"A", "noon"}, {"e", ""},
		{"h", "xyz"}, {"h", string(s.Handle[:]) + string(s.Secret[:]) + "0"}, {"g", "1.5"}, {"n", ""},
		{"S", "now"}, {"I", ""}, {"B", ""}, {"Q", "x"}, {"N", "-"}, {"c", "-"},
		{"p", "\x04abc"}, {"q", "\x06abcd"}, {"l", "x"}} {
		key := f.sessionKey(moved)
		was, err := f.c.HGet(ctx, key, bad.field).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		missing := err == redis.Nil
		if err := f.c.HSet(ctx, key, bad.field, bad.value).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Find(ctx, moved); err == nil || errors.Is(err, session.ErrNotFound) {
			t.Errorf("Find with %s = %q: %v, want a corruption error", bad.field, bad.value, err)
		}
		if _, err := f.st.List(ctx, "alice", at); err == nil {
			t.Errorf("List with %s = %q succeeded", bad.field, bad.value)
		}
		if bad.field != "h" {
			if _, err := f.st.FindHandle(ctx, s.Handle); err == nil || errors.Is(err, session.ErrNotFound) {
				t.Errorf("FindHandle with %s = %q: %v, want a corruption error", bad.field, bad.value, err)
			}
		}
		if missing {
			err = f.c.HDel(ctx, key, bad.field).Err()
		} else {
			err = f.c.HSet(ctx, key, bad.field, was).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := f.st.Find(ctx, moved); err != nil || got != s {
		t.Fatalf("Find after the repairs = %+v, %v; want %+v", got, err, s)
	}
	if list, err := f.st.List(ctx, "alice", at); err != nil || len(list) != 1 || list[0] != s {
		t.Fatalf("List after the repairs = %+v, %v; want [%+v]", list, err, s)
	}

	big := newSession("alice", at)
	big.BindKey = strings.Repeat("k", 4097)
	if err := f.st.Create(ctx, big); err == nil {
		t.Error("Create accepted a bind key of 4097 bytes")
	}
	if err := f.st.Bind(ctx, moved, at, s.BindSeq, big.BindKey); err == nil {
		t.Error("Bind accepted a key of 4097 bytes")
	}
	if err := f.st.Create(ctx, newSessionWithHandle("alice", at, session.Handle{})); err == nil {
		t.Error("Create accepted a session without a handle")
	}
}

func newSessionWithHandle(userID string, at time.Time, h session.Handle) session.Session {
	s := newSession(userID, at)
	s.Handle = h
	return s
}

// The handle entry names the session's current ID; every way a session
// ends takes it away, and the user's set holds the handle meanwhile,
// scored by the session's earlier deadline.
func TestHandleKeys(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	mk := func(user string) session.Session {
		s := newSession(user, at)
		s.AbsoluteDeadline = s.AbsoluteDeadline.Add(1500 * time.Microsecond) // not a whole millisecond
		return f.create(t, s)
	}
	s := mk("alice")
	ttl := ceilMillis(s.AbsoluteDeadline)
	f.wantHandle(t, s.Handle, s.ID)
	f.wantIndex(t, "alice", s)

	// Renew moves it and leaves the link, expiring with the session.
	renewed := randomID()
	if err := f.st.Renew(ctx, s.ID, renewed, 0, at.Add(time.Second), at.Add(time.Hour), "192.0.2.9"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	f.wantHandle(t, s.Handle, renewed)
	f.wantEnded(t, s.ID, session.Ending{UserID: "alice", At: at.Add(time.Second), Handle: s.Handle, Seen: true})
	if got := f.expireTime(t, f.endingKey(s.ID)); got != ttl {
		t.Errorf("link ending PEXPIRETIME = %d, want %d", got, ttl)
	}
	if got := f.endingEntries(t); len(got) != 1 || got[0].Member != s.ID.String() ||
		got[0].Score != float64(s.AbsoluteDeadline.UnixMicro()) {
		t.Errorf("endings = %v, want %s scored by its absolute deadline", got, s.ID.Short())
	}
	want := s
	want.IdleDeadline = at.Add(time.Hour)
	f.wantIndex(t, "alice", want)
	if got := f.expireTime(t, f.sessionKey(renewed)); got != ttl {
		t.Errorf("renewed key PEXPIRETIME = %d, want %d", got, ttl)
	}

	// Touch moves its score; Rotate moves the entry again; Delete takes it.
	if err := f.st.Touch(ctx, renewed, at.Add(time.Second), at.Add(time.Second), at.Add(2*time.Hour), "x"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	want.IdleDeadline = at.Add(2 * time.Hour)
	f.wantIndex(t, "alice", want)
	rotated := randomID()
	if err := f.st.Rotate(ctx, renewed, rotated, at.Add(time.Second), at, 1); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	f.wantHandle(t, s.Handle, rotated)
	f.wantIndex(t, "alice", want)
	if got, err := f.st.FindHandle(ctx, s.Handle); err != nil || got.ID != rotated || got.Gen != 2 {
		t.Fatalf("FindHandle = %+v, %v; want generation 2 under the rotated ID", got, err)
	}
	if err := f.st.Delete(ctx, rotated, at.Add(time.Second), "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	f.wantNoHandle(t, s.Handle)
	f.wantIndex(t, "alice")

	// DeleteForUser and DeleteAllForUser take theirs, and only theirs.
	a, b, c := mk("alice"), mk("alice"), mk("alice")
	if err := f.st.DeleteForUser(ctx, "alice", a.ID, at, ""); err != nil {
		t.Fatalf("DeleteForUser: %v", err)
	}
	f.wantNoHandle(t, a.Handle)
	if n, err := f.st.DeleteAllForUser(ctx, "alice", c.ID, at, "revoked"); err != nil || n != 1 {
		t.Fatalf("DeleteAllForUser = %d, %v; want 1, nil", n, err)
	}
	f.wantNoHandle(t, b.Handle)
	f.wantHandle(t, c.Handle, c.ID)
	f.wantIndex(t, "alice", c)

	// The sweep takes those of the sessions it deletes.
	idle := newSession("bob", at)
	idle.IdleDeadline = at.Add(time.Minute)
	f.create(t, idle)
	if n, err := f.st.DeleteExpired(ctx, at.Add(2*time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	f.wantNoHandle(t, idle.Handle)
	f.wantIndex(t, "bob")
	f.wantHandle(t, c.Handle, c.ID)

	// A handle naming another live session is refused, and writes nothing.
	dup := newSession("dave", at)
	dup.Handle = c.Handle
	if err := f.st.Create(ctx, dup); !errors.Is(err, session.ErrExists) {
		t.Fatalf("Create with a handle in use = %v, want ErrExists", err)
	}
	if f.exists(t, f.sessionKey(dup.ID)) || f.exists(t, f.userKey("dave")) {
		t.Fatal("a refused Create wrote keys")
	}
	f.wantHandle(t, c.Handle, c.ID)

	// An entry that names a session without that handle, or none, is not
	// believed; one that is no ID is an error.
	for _, id := range []session.ID{a.ID, c.ID} {
		if err := f.c.HSet(ctx, f.bucketKey(a.Handle), string(a.Handle[:]), string(id[:])).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := f.st.FindHandle(ctx, a.Handle); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("FindHandle through a stale entry naming %s = %+v, %v; want ErrNotFound", id.Short(), got, err)
		}
	}
	if err := f.c.HSet(ctx, f.bucketKey(c.Handle), string(c.Handle[:]), "nonsense").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.FindHandle(ctx, c.Handle); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("FindHandle through an entry naming no session = %v, want an error", err)
	}
	if got, err := f.st.FindHandle(ctx, session.Handle{}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("FindHandle of the zero handle = %+v, %v; want ErrNotFound", got, err)
	}
}

// A link ending is swept at its session's absolute deadline, exactly.
func TestRenewEndingSwept(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	renewed := randomID()
	if err := f.st.Renew(ctx, s.ID, renewed, 0, at, s.AbsoluteDeadline, "192.0.2.9"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if n, err := f.st.DeleteExpired(ctx, s.AbsoluteDeadline.Add(-time.Microsecond), 10); err != nil || n != 0 {
		t.Fatalf("DeleteExpired before the deadline = %d, %v; want 0, nil", n, err)
	}
	f.wantEnded(t, s.ID, session.Ending{UserID: "alice", At: at, Handle: s.Handle, Seen: true})
	if n, err := f.st.DeleteExpired(ctx, s.AbsoluteDeadline, 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired at the deadline = %d, %v; want 1, nil", n, err)
	}
	f.wantNoEnding(t, s.ID)
	if keys, err := f.keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("keys left = %q, %v; want none", keys, err)
	}
}

// A link ending replaces whatever ending the ID had, and a later ending of
// the same ID carries no handle of it.
func TestEndingFieldsDoNotLinger(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	renewed := randomID()
	if err := f.st.Renew(ctx, s.ID, renewed, 0, at, at.Add(time.Hour), "x"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	again := newSession("alice", at)
	again.ID = s.ID
	f.create(t, again)
	if err := f.st.Delete(ctx, s.ID, at, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	f.wantEnded(t, s.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})
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
	h := session.NewHandle().String()
	for _, fields := range [][]string{{"user_id", "alice", "why", "x"}, {"user_id", "alice", "at", "noon", "why", "x"},
		{"user_id", "alice", "at", "1", "why", "", "handle", h, "gen", "2", "seen", "true"},
		{"user_id", "alice", "at", "1", "why", "", "handle", h, "gen", "2", "seen", ""}} {
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

// A link written before the seen field existed reads as a token not
// presented.
func TestOlderLinkEnding(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	id, h := randomID(), session.NewHandle()
	err := f.c.HSet(ctx, f.endingKey(id), "user_id", "alice", "at", at.UnixMicro(), "why", "",
		"abs_deadline", at.Add(time.Hour).UnixMicro(), "handle", h.String(), "gen", "4").Err()
	if err != nil {
		t.Fatal(err)
	}
	f.wantEnded(t, id, session.Ending{UserID: "alice", At: at, Handle: h, Gen: 4})
}

// scriptProbe counts, for each script the client runs, by how much the
// endings set shrank, as seen through a client of its own.
type scriptProbe struct {
	c    *redis.Client
	key  string
	mu   sync.Mutex
	gone []int64 // entries removed by each script
	err  error
}

func (p *scriptProbe) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *scriptProbe) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (p *scriptProbe) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name != "evalsha" && name != "eval" {
			return next(ctx, cmd)
		}
		before, err1 := p.c.ZCard(ctx, p.key).Result()
		err := next(ctx, cmd)
		after, err2 := p.c.ZCard(ctx, p.key).Result()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err == nil {
			p.err = errors.Join(err1, err2)
		}
		p.gone = append(p.gone, before-after)
		return err
	}
}

// A backlog of endings due, more than a batch of them, is forgotten by one
// DeleteExpired, in scripts that each forget at most a batch, so that none
// blocks the server for the whole backlog.
func TestSweepForgetsEndingsInBatches(t *testing.T) {
	opt := redisOptions(t)
	f := newFixture(t, opt)
	ctx := context.Background()
	at := now()
	const n = 2*redisstore.EndingsBatch + 100
	var last session.Session
	for i := range n {
		last = f.create(t, newSession(fmt.Sprintf("user%d", i%10), at))
		if err := f.st.Delete(ctx, last.ID, at, "signed out"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if got := len(f.endingEntries(t)); got != n {
		t.Fatalf("%d endings, want %d", got, n)
	}

	probe := &scriptProbe{c: redis.NewClient(opt), key: f.prefix + "endings"}
	defer probe.c.Close()
	f.c.AddHook(probe)
	if got, err := f.st.DeleteExpired(ctx, last.AbsoluteDeadline, 100); err != nil || got != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0, nil", got, err)
	}
	if probe.err != nil {
		t.Fatal(probe.err)
	}
	var total int64
	for i, gone := range probe.gone {
		if gone > redisstore.EndingsBatch {
			t.Errorf("script %d forgot %d endings, more than a batch (%d)", i, gone, redisstore.EndingsBatch)
		}
		total += gone
	}
	if total != n {
		t.Errorf("scripts forgot %d endings in all (%v), want %d", total, probe.gone, n)
	}
	if keys, err := f.keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("%d keys left (%v), want none", len(keys), err)
	}
}

// An ending whose session's absolute deadline has passed on the server's
// clock is not answered, even while its key is still there and the sweep
// has not run (here its key outlives the deadline, as a key whose expiry
// was lost would).
func TestEndedPastDeadline(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, newSession("alice", at))
	if err := f.st.Delete(ctx, s.ID, at, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	f.wantEnded(t, s.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})

	server, err := f.c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	ekey := f.endingKey(s.ID)
	for _, d := range []time.Duration{time.Second, 0} {
		past := strconv.FormatInt(server.Add(-d).UnixMicro(), 10)
		if err := f.c.HSet(ctx, ekey, "abs_deadline", past).Err(); err != nil {
			t.Fatal(err)
		}
		if e, err := f.st.Ended(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Ended with the deadline %v before the server's time = %+v, %v; want ErrNotFound", d, e, err)
		}
	}
	if !f.exists(t, ekey) || len(f.endingEntries(t)) != 1 {
		t.Fatal("the ending was removed; the test needs it left unswept")
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
