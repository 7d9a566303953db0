package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
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
)

// The scale tests fill a real server and take minutes, so they run only
// when asked for, each on a prefix of its own that they remove afterwards:
//
//	CONNECTBOOK_TEST_REDIS=redis://127.0.0.1:6379/0 CONNECTBOOK_TEST_REDIS_SCALE=1000000 \
//		go test -run '^TestScaleMemory$' -v -timeout 1h ./session/redisstore/
//	CONNECTBOOK_TEST_REDIS=redis://127.0.0.1:6379/0 CONNECTBOOK_TEST_REDIS_USER_SCALE=10000 \
//		go test -run '^TestScaleOneUser$' -v -timeout 1h ./session/redisstore/
const (
	scaleVar     = "CONNECTBOOK_TEST_REDIS_SCALE"      // sessions to fill for TestScaleMemory
	userScaleVar = "CONNECTBOOK_TEST_REDIS_USER_SCALE" // sessions of the one user of TestScaleOneUser
)

func scaleFromEnv(t *testing.T, name string) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skip(name + " is not set; set it to a number of sessions to run this scale test")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s = %q; want a positive number", name, v)
	}
	return n
}

// scaleFixture is a store on a prefix of its own on a client with a pool
// for concurrent fills. Its cleanup unlinks the keys in batches, so that
// no single command blocks the server for long.
func scaleFixture(t *testing.T) *fixture {
	t.Helper()
	opt := redisOptions(t)
	opt.PoolSize = 16
	// As long as DefaultPrefix, so that key names take as much memory.
	var b [3]byte
	rand.Read(b[:])
	f := &fixture{c: redis.NewClient(opt), prefix: "cbs:" + hex.EncodeToString(b[:]) + ":"}
	t.Cleanup(func() {
		ctx := context.Background()
		n, err := unlinkPrefix(ctx, f.c, f.prefix)
		if err != nil {
			t.Errorf("cleanup of %s*: %v", f.prefix, err)
		}
		t.Logf("removed %d keys under %s", n, f.prefix)
		f.c.Close()
	})
	st, err := redisstore.New(f.c, redisstore.Options{Prefix: f.prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.st = st
	return f
}

func unlinkPrefix(ctx context.Context, c *redis.Client, prefix string) (int, error) {
	n := 0
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.Unlink(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for it.Next(ctx) {
		batch = append(batch, it.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := it.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// userAgents are 1,000 distinct User-Agents of 110 to 140 bytes, as
// browsers send them: four browsers on several systems, in many versions.
var userAgents = func() []string {
	templates := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36 Edg/%[1]d.0.%[2]d.%[3]d",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.%d Mobile/15E148 Safari/604.1 (%d)",
	}
	var uas []string
	for i := 0; len(uas) < 1000; i++ {
		tpl := templates[i%len(templates)]
		uas = append(uas, fmt.Sprintf(tpl, 110+i%20, 6000+i, 100+i%97))
	}
	return uas
}()

// scaleSession returns a live session of userID as it looks after some
// use, with realistic values: a User-Agent from userAgents, an IPv4 address
// at sign-in and, for half of them, an IPv6 address last, a token renewed
// and presented a few times, a later proof of identity.
func scaleSession(rng *mathrand.Rand, userID string, now time.Time) session.Session {
	s := newSession(userID, now.Add(-time.Duration(rng.Int64N(int64(time.Hour)))))
	s.LastSeenAt = now.Add(-time.Duration(rng.Int64N(int64(time.Minute))))
	s.IdleDeadline = s.LastSeenAt.Add(30 * time.Minute)
	s.CreatedIP = fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
	s.LastIP = s.CreatedIP
	if rng.IntN(2) == 0 {
		s.LastIP = fmt.Sprintf("2001:db8:%x:%x:%x:%x:%x:%x", rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16),
			rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16))
	}
	s.UserAgent = userAgents[rng.IntN(len(userAgents))]
	s.Epoch = 1 + rng.Int64N(3)
	s.Method = "password"
	s.AuthAt = s.CreatedAt.Add(time.Duration(rng.Int64N(int64(time.Minute))))
	s.Gen = 1 + rng.Int64N(5)
	s.SeenGen = s.Gen
	s.IssuedAt = s.LastSeenAt.Add(-time.Duration(rng.Int64N(int64(time.Minute))))
	s.SeenAt = s.LastSeenAt
	return s
}

// fill creates n sessions through st, for users "100000", "100001", ...
// with 1 to 50 sessions each, from 8 goroutines, and returns the number
// of users.
func fill(t *testing.T, st session.Store, n int) int {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	type job struct {
		user  string
		count int
		seed  uint64
	}
	jobs := make(chan job)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				rng := mathrand.New(mathrand.NewPCG(j.seed, 1))
				for range j.count {
					if failed.Load() != nil {
						continue
					}
					if err := st.Create(ctx, scaleSession(rng, j.user, now)); err != nil {
						failed.Store(&err)
					}
				}
			}
		}()
	}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	users := 0
	start := time.Now()
	for left := n; left > 0 && failed.Load() == nil; users++ {
		k := min(1+rng.IntN(50), left)
		jobs <- job{user: strconv.Itoa(100000 + users), count: k, seed: uint64(users)}
		left -= k
	}
	close(jobs)
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("Create: %v", *err)
	}
	t.Logf("created %d sessions of %d users in %v", n, users, time.Since(start).Round(time.Second))
	return users
}

func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatalf("INFO memory: %v", err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("used_memory: %v", err)
			}
			return n
		}
	}
	t.Fatal("INFO memory has no used_memory")
	return 0
}

// TestScaleMemory fills the store with sessions and reports what the
// server holds per session, in all (the growth of used_memory) and by kind
// of key (MEMORY USAGE of a sample of each).
func TestScaleMemory(t *testing.T) {
	n := scaleFromEnv(t, scaleVar)
	f := scaleFixture(t)
	ctx := context.Background()
	before := usedMemory(t, f.c)
	users := fill(t, f.st, n)
	after := usedMemory(t, f.c)
	perSession := float64(after-before) / float64(n)
	t.Logf("used_memory grew by %d bytes: %.0f B/session (%d sessions, %d users, %d distinct User-Agents)",
		after-before, perSession, n, users, len(userAgents))
	// Below 100,000 sessions other clients' keys and the dictionaries'
	// growth steps weigh too much for a verdict.
	if n >= 100000 && perSession >= 600 {
		t.Errorf("%.0f B/session; want less than 600", perSession)
	}

	// By kind of key: the name up to the first colon after the prefix.
	type kind struct {
		keys, sampled, bytes int64
		encodings            map[string]int
	}
	kinds := map[string]*kind{}
	it := f.c.Scan(ctx, 0, f.prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		name, _, _ := strings.Cut(strings.TrimPrefix(it.Val(), f.prefix), ":")
		k := kinds[name]
		if k == nil {
			k = &kind{encodings: map[string]int{}}
			kinds[name] = k
		}
		k.keys++
		if k.sampled < 2000 {
			size, err := f.c.MemoryUsage(ctx, it.Val(), 0).Result()
			if err != nil {
				t.Fatalf("MEMORY USAGE: %v", err)
			}
			enc, err := f.c.ObjectEncoding(ctx, it.Val()).Result()
			if err != nil {
				t.Fatalf("OBJECT ENCODING: %v", err)
			}
			k.sampled++
			k.bytes += size
			k.encodings[enc]++
		}
	}
	if err := it.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		k := kinds[name]
		mean := float64(k.bytes) / float64(k.sampled)
		t.Logf("%-8s %8d keys, %8.0f B each (MEMORY USAGE of %d, encodings %v): %6.0f B/session",
			name, k.keys, mean, k.sampled, k.encodings, mean*float64(k.keys)/float64(n))
	}
}

// scriptTimes is a hook that records how long each script call took, as
// the client saw it: an upper bound on how long the server was busy with
// it.
type scriptTimes struct {
	mu    sync.Mutex
	times []time.Duration
}

func (h *scriptTimes) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptTimes) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			d := time.Since(start)
			h.mu.Lock()
			h.times = append(h.times, d)
			h.mu.Unlock()
		}
		return err
	}
}

func (h *scriptTimes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// reset returns a summary of the calls since the last reset: how many,
// the median and the longest.
func (h *scriptTimes) reset() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.times
	h.times = nil
	if len(t) == 0 {
		return "no scripts"
	}
	slices.Sort(t)
	return fmt.Sprintf("%d scripts, median %v, longest %v", len(t), t[len(t)/2].Round(time.Microsecond), t[len(t)-1].Round(time.Microsecond))
}

// slowest returns the longest command in the server's slow log after the
// entry with ID since that names a key under prefix, and the newest ID.
func slowest(t *testing.T, c *redis.Client, prefix string, since int64) (time.Duration, int64) {
	t.Helper()
	logs, err := c.SlowLogGet(context.Background(), 128).Result()
	if err != nil {
		t.Fatalf("SLOWLOG GET: %v", err)
	}
	var longest time.Duration
	newest := since
	for _, l := range logs {
		newest = max(newest, l.ID)
		if l.ID <= since || !slices.ContainsFunc(l.Args, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
			continue
		}
		longest = max(longest, l.Duration)
	}
	return longest, newest
}

// TestScaleOneUser gives one user many sessions and reports the scripts
// that List and DeleteAllForUser run on the server. On a shared machine
// the longest may include time the server was not scheduled; the slow log
// (commands over 10 ms by default) tells the server's own view.
func TestScaleOneUser(t *testing.T) {
	n := scaleFromEnv(t, userScaleVar)
	f := scaleFixture(t)
	ctx := context.Background()
	hook := &scriptTimes{}
	f.c.AddHook(hook)
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	at := now()
	for range n {
		if err := f.st.Create(ctx, scaleSession(rng, "100000", at)); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	_, mark := slowest(t, f.c, f.prefix, 0)
	hook.reset()

	start := time.Now()
	list, err := f.st.List(ctx, "100000", at)
	if err != nil || len(list) != n {
		t.Fatalf("List = %d sessions, %v; want %d", len(list), err, n)
	}
	took := time.Since(start)
	var slow time.Duration
	slow, mark = slowest(t, f.c, f.prefix, mark)
	t.Logf("List of %d sessions: %v in all; %s; slow log: %v", n, took.Round(time.Microsecond), hook.reset(), slow)

	start = time.Now()
	deleted, err := f.st.DeleteAllForUser(ctx, "100000", session.ID{}, at, "revoked")
	if err != nil || deleted != n {
		t.Fatalf("DeleteAllForUser = %d, %v; want %d", deleted, err, n)
	}
	took = time.Since(start)
	slow, _ = slowest(t, f.c, f.prefix, mark)
	t.Logf("DeleteAllForUser of %d sessions: %v in all; %s; slow log: %v", n, took.Round(time.Microsecond), hook.reset(), slow)
}
