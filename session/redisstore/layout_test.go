package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/redisstore"
)

func newStoreOn(t *testing.T, c *redis.Client, prefix string) *redisstore.Store {
	t.Helper()
	st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return st
}

// steady is a session as it looks after some use, with every field that use
// sets: a browser's User-Agent, IPv6 addresses, a renewed and re-seen token,
// a later proof of identity.
func steady(userID string, at time.Time) session.Session {
	s := newSession(userID, at.Add(-time.Hour))
	s.UserAgent = chromeUA
	s.CreatedIP, s.LastIP = "2001:db8:85a3:1f2e:8a2e:370:7334:abcd", "2001:db8:85a3:1f2e:8a2e:370:7334:1234"
	s.LastSeenAt, s.IdleDeadline = at, at.Add(30*time.Minute)
	s.Epoch, s.Method, s.AuthAt = 2, "password", at.Add(-30*time.Minute)
	s.Gen, s.SeenGen, s.SeenAt, s.IssuedAt = 6, 6, at.Add(-time.Minute), at.Add(-2*time.Minute)
	return s
}

// A session, its user's set and its handle's bucket stay in Redis's compact
// encoding with the server's default limits (hash-max-listpack-value 64 and
// so on), whatever its User-Agent and addresses, and bound to a device key
// too.
func TestCompactEncoding(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	s := f.create(t, steady("100042", at))
	bound := steady("100042", at)
	bound.BindKey = `{"crv":"P-256","kty":"EC","x":"WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis","y":"y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE"}`
	bound.BoundAt, bound.BindSeq = at.Add(-time.Minute), 1
	f.create(t, bound)
	for _, k := range []struct{ key, want string }{
		{f.sessionKey(s.ID), "listpack"},
		{f.sessionKey(bound.ID), "listpack"},
		{f.userKey("100042"), "listpack"},
		{f.bucketKey(s.Handle), "listpack"},
	} {
		if got, err := f.c.ObjectEncoding(ctx, k.key).Result(); err != nil || got != k.want {
			t.Errorf("OBJECT ENCODING %s = %q, %v; want %q", k.key, got, err, k.want)
		}
	}
	// The session's hash, key name and all, in 400 bytes: a listpack of at
	// most 256 (the test's prefix is as long as the default one, to the
	// allocator's size class).
	if got, err := f.c.MemoryUsage(ctx, f.sessionKey(s.ID)).Result(); err != nil || got > 400 {
		t.Errorf("MEMORY USAGE of the session hash = %d, %v; want at most 400", got, err)
	}
	for _, want := range []session.Session{s, bound} {
		if got, err := f.st.Find(ctx, want.ID); err != nil || got != want {
			t.Errorf("Find = %+v, %v; want %+v", got, err, want)
		}
	}
}

// Sessions with the same long User-Agent share one key; a short one stays
// in the session; a key that holds another User-Agent (a collision of the
// reference) is never believed.
func TestUserAgentShared(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	a := f.create(t, steady("alice", at))
	b := f.create(t, steady("bob", at))
	if got, err := f.c.Get(ctx, f.uaKey(chromeUA)).Result(); err != nil || got != chromeUA {
		t.Fatalf("User-Agent key = %q, %v; want %q", got, err, chromeUA)
	}
	short := newSession("carol", at)
	short.UserAgent = "curl/8.5.0"
	f.create(t, short)
	if f.exists(t, f.uaKey(short.UserAgent)) {
		t.Error("a short User-Agent got a key of its own")
	}
	other := steady("dave", at)
	other.UserAgent = chromeUA + " OPR/110.0.0.0"
	if err := f.c.Set(ctx, f.uaKey(other.UserAgent), "Evil/1.0", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	f.create(t, other)
	for _, want := range []session.Session{a, b, short, other} {
		if got, err := f.st.Find(ctx, want.ID); err != nil || got.UserAgent != want.UserAgent {
			t.Errorf("Find(%s).UserAgent = %q, %v; want %q", want.UserID, got.UserAgent, err, want.UserAgent)
		}
	}
	keys, err := f.keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(k, f.prefix+"ua:") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d User-Agent keys, want 2 (one shared, one planted)", n)
	}
}

// scripts is a client hook that calls after, if set, once each script
// call has returned, and counts the calls.
type scripts struct {
	mu    sync.Mutex
	calls int
	after func(cmd redis.Cmder)
}

func (h *scripts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			h.mu.Lock()
			h.calls++
			after := h.after
			h.mu.Unlock()
			if after != nil && err == nil {
				after(cmd)
			}
		}
		return err
	}
}

func (h *scripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// watch returns a store on f's keys whose script calls are counted, and
// passed to after; f's own store does the rest of the test's work.
func (f *fixture) watch(t *testing.T) (*scripts, session.Store) {
	t.Helper()
	h := &scripts{}
	c := redis.NewClient(f.c.Options())
	c.AddHook(h)
	t.Cleanup(func() { c.Close() })
	st := newStoreOn(t, c, f.prefix)
	return h, st
}

// many creates n sessions of userID with the same deadlines, so that their
// scores tie.
func (f *fixture) many(t *testing.T, userID string, n int, at time.Time) []session.Session {
	t.Helper()
	out := make([]session.Session, n)
	for i := range out {
		out[i] = f.create(t, newSession(userID, at))
	}
	return out
}

// List reads a user with many sessions in scripts of about 100 sessions,
// and lists each session that lives through it once, under its current ID,
// even when tokens are renewed between the scripts.
func TestListInBatches(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	all := f.many(t, "alice", 450, at)
	h, st := f.watch(t)
	renewed := map[session.Handle]session.ID{}
	largest := 0
	h.after = func(cmd redis.Cmder) {
		vals, _ := cmd.(*redis.Cmd).Val().([]any)
		largest = max(largest, (len(vals)-1)/22)
		if len(renewed) >= 3 {
			return
		}
		// Renew one session after each script: some were listed already,
		// some not yet.
		s := all[len(renewed)*150]
		to := randomID()
		if err := f.st.Renew(ctx, s.ID, to, 0, at, s.IdleDeadline, "192.0.2.9"); err != nil {
			t.Errorf("Renew: %v", err)
		}
		renewed[s.Handle] = to
	}
	list, err := st.List(ctx, "alice", at)
	if err != nil {
		t.Fatal(err)
	}
	if h.calls < 4 || largest > 2*100 {
		t.Errorf("List took %d scripts, the largest of %d sessions; want at least 4 of about 100", h.calls, largest)
	}
	if len(list) != len(all) {
		t.Fatalf("List = %d sessions, want %d", len(list), len(all))
	}
	first := map[session.Handle]session.ID{}
	for _, s := range all {
		first[s.Handle] = s.ID
	}
	seen := map[session.Handle]bool{}
	for _, s := range list {
		if seen[s.Handle] {
			t.Fatalf("List holds %s twice", s.Handle.Short())
		}
		seen[s.Handle] = true
		// Listed before its renewal or after: either is right, a mix not.
		if s.Gen == 0 && s.ID != first[s.Handle] || s.Gen == 1 && s.ID != renewed[s.Handle] || s.Gen > 1 {
			t.Errorf("List holds %s at generation %d under %s", s.Handle.Short(), s.Gen, s.ID.Short())
		}
	}
}

// DeleteAllForUser deletes a user's many sessions in scripts of about 100:
// every session the user had when it began, renewed or not meanwhile, but
// the one spared, which it follows across its renewals; it returns how
// many it deleted, and leaves the user's set holding that one alone.
func TestDeleteAllForUserInBatches(t *testing.T) {
	f := newFixture(t, redisOptions(t))
	ctx := context.Background()
	at := now()
	all := f.many(t, "alice", 450, at)
	spared := all[200]
	h, st := f.watch(t)
	var late []session.Session
	renewedSpared := randomID()
	h.after = func(cmd redis.Cmder) {
		if len(late) > 0 {
			return
		}
		// After the first script: renew the session spared and others,
		// and sign in anew.
		if err := f.st.Renew(ctx, spared.ID, renewedSpared, 0, at, spared.IdleDeadline, "192.0.2.9"); err != nil {
			t.Errorf("Renew of the session spared: %v", err)
		}
		for _, s := range all[1:] {
			if s.ID == spared.ID {
				continue
			}
			if err := f.st.Renew(ctx, s.ID, randomID(), 0, at, s.IdleDeadline, "192.0.2.9"); err != nil && !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Renew: %v", err)
			}
		}
		late = f.many(t, "alice", 5, at)
	}
	n, err := st.DeleteAllForUser(ctx, "alice", spared.ID, at, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if h.calls < 4 {
		t.Errorf("DeleteAllForUser took %d scripts; want at least 4 of about 100", h.calls)
	}
	lateGone := 0
	for _, s := range late {
		if _, err := f.st.Find(ctx, s.ID); errors.Is(err, session.ErrNotFound) {
			lateGone++
		}
	}
	if want := len(all) - 1 + lateGone; n != want {
		t.Errorf("DeleteAllForUser = %d, want %d (every session but one, and %d of those signed in since)", n, want, lateGone)
	}
	for _, s := range all {
		got, err := f.st.FindHandle(ctx, s.Handle)
		switch {
		case s.Handle == spared.Handle && (err != nil || got.ID != renewedSpared):
			t.Fatalf("the session spared = %s, %v; want it under its renewed ID", got.ID.Short(), err)
		case s.Handle != spared.Handle && !errors.Is(err, session.ErrNotFound):
			t.Fatalf("session %s, there when the revocation began, = %s, %v; want it gone", s.Handle.Short(), got.ID.Short(), err)
		}
	}
	left := []session.Session{spared}
	for _, s := range late {
		if _, err := f.st.Find(ctx, s.ID); err == nil {
			left = append(left, s)
		}
	}
	f.wantIndex(t, "alice", left...)
}
