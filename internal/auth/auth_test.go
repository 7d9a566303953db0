package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestHashAndVerify(t *testing.T) {
	h := NewHasher(DefaultParams)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id with m=19 MiB, t=2, p=1 in PHC form", phc)
	}
	other, _ := h.Hash(ctx, "correct horse")
	if other == phc {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horse ", false}, {"Correct horse", false}, {"", false}} {
		ok, err := h.Verify(ctx, phc, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	if h.NeedsRehash(phc) {
		t.Error("a fresh hash needs rehashing")
	}
	if !NewHasher(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}).NeedsRehash(phc) {
		t.Error("a hash with other parameters does not need rehashing")
	}
	before := h.Computed()
	if err := h.VerifyDummy(ctx, "x"); err != nil || h.Computed() != before+1 {
		t.Fatalf("VerifyDummy: %v, computed %d", err, h.Computed()-before)
	}
}

func TestParsePHCRejects(t *testing.T) {
	good := "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	if _, _, _, err := parsePHC(good); err != nil {
		t.Fatalf("parsePHC(good) = %v", err)
	}
	for _, phc := range []string{
		"", "plaintext", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$c2hvcnQ",
	} {
		if _, _, _, err := parsePHC(phc); err == nil {
			t.Errorf("parsePHC(%q) accepted", phc)
		}
		if ok, err := NewHasher(DefaultParams).Verify(context.Background(), phc, "x"); ok || err == nil {
			t.Errorf("Verify against %q = %v, %v", phc, ok, err)
		}
	}
}

// Past its CPU slots and queue, the hasher refuses with ErrBusy.
func TestHasherBound(t *testing.T) {
	ctx := context.Background()
	h := NewHasherLimits(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 1, 50*time.Millisecond)
	a, _ := h.Reserve(ctx)
	b, _ := h.Reserve(ctx) // both slots busy
	start := time.Now()
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with slots busy = %v, want ErrBusy after waiting", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("the one allowed waiter did not wait")
	}
	// The queue holds one: a second waiter is refused at once.
	h.maxWait = time.Minute
	waited := make(chan error)
	go func() { _, err := h.Hash(ctx, "x"); waited <- err }()
	for h.queuedNow() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with the queue full = %v, want ErrBusy", err)
	}
	a.Release()
	if err := <-waited; err != nil {
		t.Fatalf("the waiter, given a released slot: %v", err)
	}
	if _, err := h.Hash(ctx, "x"); err != nil {
		t.Fatalf("Hash with a free slot = %v", err)
	}
	c, _ := h.Reserve(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Hash(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context = %v", err)
	}
	b.Release()
	c.Release()
	if h.running != 0 || h.queued != 0 || len(h.clients) != 0 || len(h.groups) != 0 || len(h.ring) != 0 {
		t.Fatalf("after everything was released: %d running, %d waiting, clients %v, groups %v", h.running, h.queued, h.clients, h.groups)
	}
}

// One client network gets a share of the hasher: past it, its requests
// are refused at once with ErrClientBusy, and other networks still get
// slots and places in the queue, first come, first served.
func TestHasherFairShare(t *testing.T) {
	ctx := context.Background()
	h := NewHasherLimits(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 8, time.Minute)
	flood := ForClient(ctx, "198.51.100.7")
	first, err := h.Reserve(flood)
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan *Slot, 1)
	go func() { s, _ := h.Reserve(flood); queued <- s }()
	for h.queuedNow() != 1 {
		time.Sleep(time.Millisecond)
	}
	// The same /64 is the same network.
	for _, ip := range []string{"198.51.100.7", "::ffff:198.51.100.7"} {
		if _, err := h.Reserve(ForClient(ctx, ip)); !errors.Is(err, ErrClientBusy) {
			t.Fatalf("a third request from %s = %v, want ErrClientBusy", ip, err)
		}
	}
	v6 := ForClient(ctx, "2001:db8:1:2::1")
	go func() { s, _ := h.Reserve(v6); queued <- s }()
	for h.queuedNow() != 2 {
		time.Sleep(time.Millisecond)
	}
	// Another network is served next after the flood's queued one.
	other := make(chan error, 1)
	go func() {
		s, err := h.Reserve(ForClient(ctx, "203.0.113.9"))
		if err == nil {
			s.Release()
		}
		other <- err
	}()
	for h.queuedNow() < 3 {
		time.Sleep(time.Millisecond)
	}
	first.Release()
	(<-queued).Release() // the flood's second
	(<-queued).Release() // the IPv6 client
	if err := <-other; err != nil {
		t.Fatalf("another network's request: %v", err)
	}
	if h.running != 0 || h.queued != 0 || len(h.clients) != 0 || len(h.groups) != 0 || len(h.ring) != 0 {
		t.Fatalf("after everything was released: %d running, %d waiting, clients %v, groups %v", h.running, h.queued, h.clients, h.groups)
	}
}

func TestPolicyDelay(t *testing.T) {
	p := Policy{Free: 5, Base: time.Second, Max: time.Minute, Window: time.Hour}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {4, 0}, {5, time.Second}, {6, 2 * time.Second}, {10, 32 * time.Second}, {11, time.Minute}, {1000, time.Minute}} {
		if got := p.Delay(tc.n); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	if AccountPolicy.Delay(1<<20) > time.Minute {
		t.Fatal("an account can be locked for more than a minute")
	}
}

func TestNormalizeUsername(t *testing.T) {
	for in, want := range map[string]string{"Alice": "alice", "bob_99": "bob_99", "ABC": "abc"} {
		if got, err := NormalizeUsername(in); err != nil || got != want {
			t.Errorf("NormalizeUsername(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "ab", strings.Repeat("a", 31), "al ice", "alice!", "ålice", "a.b", "İstanbul", "\u212Aelvin"} {
		if _, err := NormalizeUsername(in); err == nil {
			t.Errorf("NormalizeUsername(%q) accepted", in)
		}
	}
}

func TestProfileChecks(t *testing.T) {
	if n, err := CheckDisplayName("  Zoë  "); err != nil || n != "Zoë" {
		t.Fatalf("CheckDisplayName = %q, %v", n, err)
	}
	for _, s := range []string{"", "   ", strings.Repeat("x", 51), "a\x00b", "a\u2028b", "\xff"} {
		if _, err := CheckDisplayName(s); err == nil {
			t.Errorf("CheckDisplayName(%q) accepted", s)
		}
	}
	if b, err := CheckBio("line one\r\nline two\n"); err != nil || b != "line one\nline two" {
		t.Fatalf("CheckBio = %q, %v", b, err)
	}
	if _, err := CheckBio(strings.Repeat("€", 300)); err != nil {
		t.Fatalf("a 300-character bio: %v", err)
	}
	for _, s := range []string{strings.Repeat("€", 301), "bell\a", "\xc3\x28"} {
		if _, err := CheckBio(s); err == nil {
			t.Errorf("CheckBio(%q) accepted", s)
		}
	}
}

// Many networks of one party (a /48's /64s, or addresses in several
// /24s) fill the queue: a newcomer from elsewhere still gets a place, by
// evicting the newest waiter of the busiest group, and its turn comes
// after at most one waiter per group.
func TestHasherManyNetworks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attacker func(i int) string
		groups   int // distinct groups the attacker's requests fall in
	}{
		{"one /48", func(i int) string { return fmt.Sprintf("2001:db8:1:%x::1", i/2+1) }, 1},
		{"several /24s", func(i int) string { return fmt.Sprintf("198.51.%d.7", i/2) }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := NewHasherLimits(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 8, time.Minute)
			holder, _ := h.Reserve(ForClient(ctx, "192.0.2.1"))
			type result struct {
				s   *Slot
				err error
			}
			attacks := make(chan result, 16)
			for i := range 8 {
				go func() { s, err := h.Reserve(ForClient(ctx, tc.attacker(i))); attacks <- result{s, err} }()
			}
			for h.queuedNow() != 8 {
				time.Sleep(time.Millisecond)
			}
			legit := make(chan result, 1)
			go func() { s, err := h.Reserve(ForClient(ctx, "203.0.113.9")); legit <- result{s, err} }()
			// One attacker's waiter is evicted to make room.
			if r := <-attacks; !errors.Is(r.err, ErrClientBusy) {
				t.Fatalf("evicted waiter: %v, want ErrClientBusy", r.err)
			}
			// Slots go round the groups: the newcomer is served after at
			// most one waiter of each of the attacker's groups.
			holder.Release()
			for turn := 0; ; turn++ {
				select {
				case r := <-legit:
					if r.err != nil {
						t.Fatalf("the newcomer: %v", r.err)
					}
					if turn > tc.groups {
						t.Fatalf("the newcomer waited %d turns, want at most %d", turn, tc.groups)
					}
					r.s.Release()
					for range 7 - turn {
						(<-attacks).s.Release()
					}
					return
				case r := <-attacks:
					if r.err != nil {
						t.Fatalf("an attacker's waiter: %v", r.err)
					}
					r.s.Release()
				}
			}
		})
	}
}
