package auth

import (
	"context"
	"errors"
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

// Past its CPU slots and queue, the hasher refuses at once with ErrBusy.
func TestHasherBound(t *testing.T) {
	h := NewHasherLimits(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 1, 50*time.Millisecond)
	h.slots <- struct{}{}
	h.slots <- struct{}{} // both slots busy
	start := time.Now()
	if _, err := h.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with slots busy = %v, want ErrBusy after waiting", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("the one allowed waiter did not wait")
	}
	h.waiting.Store(1) // the queue is full
	if _, err := h.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with the queue full = %v, want ErrBusy", err)
	}
	h.waiting.Store(0)
	<-h.slots
	if _, err := h.Hash(context.Background(), "x"); err != nil {
		t.Fatalf("Hash with a free slot = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.slots <- struct{}{}
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context = %v", err)
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
