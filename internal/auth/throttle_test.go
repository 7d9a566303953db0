package auth

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newService(t *testing.T, dsn string, h *Hasher) (*Service, *clock) {
	t.Helper()
	db, err := data.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewService(db)
	s.Hasher = h
	c := &clock{now: time.Now().UTC()}
	s.Now = c.Now
	for _, u := range []string{"alice", "bob"} {
		if _, err := s.SignUp(context.Background(), u, "correct horse "+u, "correct horse "+u); err != nil {
			t.Fatal(err)
		}
	}
	return s, c
}

func login(s *Service, user, pw, ip string) error {
	_, err := s.Login(context.Background(), user, pw, ip)
	return err
}

func throttledScope(err error) string {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te.Scope
	}
	return ""
}

func TestThrottling(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			t.Run("attacker_cannot_lock_out_the_owner", func(t *testing.T) {
				s, _ := newService(t, be.DSN(t), NewHasherLimits(cheap, 2, 8, time.Second))
				for i := range AccountIPPolicy.Free {
					if err := login(s, "alice", "guess "+strconv.Itoa(i), "203.0.113.9"); !errors.Is(err, ErrInvalidCredentials) {
						t.Fatalf("guess %d: %v", i, err)
					}
				}
				if got := throttledScope(login(s, "alice", "correct horse alice", "203.0.113.9")); got != data.ScopeAccountIP {
					t.Fatalf("the attacker's network is not throttled on alice (scope %q)", got)
				}
				// The owner, from another network, signs in at once.
				if err := login(s, "alice", "correct horse alice", "198.51.100.20"); err != nil {
					t.Fatalf("the owner was locked out by someone else's guesses: %v", err)
				}
				// And the attacker's network can still use other accounts.
				if err := login(s, "bob", "correct horse bob", "203.0.113.9"); err != nil {
					t.Fatalf("bob from the attacker's network: %v", err)
				}
			})
			t.Run("ipv6_counts_per_64", func(t *testing.T) {
				s, _ := newService(t, be.DSN(t), NewHasherLimits(cheap, 2, 8, time.Second))
				for i := range IPPolicy.Free {
					ip := "2001:db8:1:2::" + strconv.FormatInt(int64(i+1), 16)
					login(s, "user"+strconv.Itoa(i), "whatever", ip)
				}
				if got := throttledScope(login(s, "bob", "correct horse bob", "2001:db8:1:2:ffff::1")); got != data.ScopeIP {
					t.Fatalf("another address of the same /64: scope %q, want ip", got)
				}
				if err := login(s, "bob", "correct horse bob", "2001:db8:1:3::1"); err != nil {
					t.Fatalf("another /64: %v", err)
				}
			})
			t.Run("spread_guessing_waits_at_most_a_minute", func(t *testing.T) {
				s, c := newService(t, be.DSN(t), NewHasherLimits(cheap, 2, 8, time.Second))
				for i := range AccountPolicy.Free {
					login(s, "alice", "guess", "192.0.2."+strconv.Itoa(i+1))
				}
				err := login(s, "alice", "correct horse alice", "198.51.100.20")
				var te *ThrottledError
				if !errors.As(err, &te) || te.Scope != data.ScopeAccount || te.RetryAfter > time.Minute {
					t.Fatalf("after %d guesses from as many networks: %v", AccountPolicy.Free, err)
				}
				c.Advance(te.RetryAfter)
				if err := login(s, "alice", "correct horse alice", "198.51.100.20"); err != nil {
					t.Fatalf("after the wait: %v", err)
				}
			})
			t.Run("attempts_made_meanwhile_count", func(t *testing.T) {
				h := NewHasherLimits(cheap, 2, 8, time.Second)
				s, c := newService(t, be.DSN(t), h)
				// Between this attempt's read and its count, other attempts
				// from the same network use up the free allowance.
				s.afterRead = func() {
					s.afterRead = nil
					for range AccountIPPolicy.Free {
						s.DB.RecordLoginFailure(context.Background(), data.ScopeAccountIP, "alice 203.0.113.60", c.Now(), time.Hour)
					}
				}
				before := h.Computed()
				if got := throttledScope(login(s, "alice", "a guess", "203.0.113.60")); got != data.ScopeAccountIP {
					t.Fatalf("an attempt racing %d others: scope %q, want account_ip", AccountIPPolicy.Free, got)
				}
				if h.Computed() != before {
					t.Fatal("the racing attempt was checked")
				}
			})
			t.Run("parallel_guesses_are_bounded", func(t *testing.T) {
				h := NewHasherLimits(cheap, 8, 64, 10*time.Second)
				s, _ := newService(t, be.DSN(t), h)
				before := h.Computed()
				var wg sync.WaitGroup
				for i := range 24 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						login(s, "alice", "parallel guess "+strconv.Itoa(i), "203.0.113.50")
					}()
				}
				wg.Wait()
				if n := h.Computed() - before; n > int64(AccountIPPolicy.Free) {
					t.Fatalf("%d parallel guesses were checked; at most %d may be", n, AccountIPPolicy.Free)
				}
			})
			t.Run("successes_are_limited", func(t *testing.T) {
				s, clk := newService(t, be.DSN(t), NewHasherLimits(cheap, 2, 8, time.Second))
				for i := range s.SignInAccount.Free {
					if err := login(s, "alice", "correct horse alice", "192.0.2.78"); err != nil {
						t.Fatalf("successful login %d: %v", i, err)
					}
				}
				before := s.Hasher.Computed()
				err := login(s, "alice", "correct horse alice", "192.0.2.78")
				if got := throttledScope(err); got != data.ScopeSignInAccount {
					t.Fatalf("login past the account's successes = %v, want throttled on %s", err, data.ScopeSignInAccount)
				}
				if s.Hasher.Computed() != before {
					t.Fatal("a login refused for the account's successes still hashed")
				}
				// The owner elsewhere, and the owner confirming the
				// password in a session, are not held back by it.
				if err := login(s, "alice", "correct horse alice", "198.51.100.78"); err != nil {
					t.Fatalf("the account from another network: %v", err)
				}
				if _, err := s.Reauthenticate(context.Background(), "alice", "correct horse alice", "192.0.2.78"); err != nil {
					t.Fatalf("re-authentication on the busy network: %v", err)
				}
				clk.Advance(s.SignInAccount.Window + time.Second)
				if err := login(s, "alice", "correct horse alice", "192.0.2.78"); err != nil {
					t.Fatalf("after the window: %v", err)
				}
				// Per account from anywhere, with a larger allowance.
				s.SignInAnyNet.Free = 3 // one sign-in so far in this window, two more below
				for i := range 2 {
					if err := login(s, "alice", "correct horse alice", "203.0.113."+strconv.Itoa(100+i)); err != nil {
						t.Fatalf("alice from another network %d: %v", i, err)
					}
				}
				if got := throttledScope(login(s, "alice", "correct horse alice", "203.0.113.120")); got != data.ScopeSignInAnyNet {
					t.Fatalf("past the account's allowance from anywhere: %q, want %s", got, data.ScopeSignInAnyNet)
				}
				if _, err := s.Reauthenticate(context.Background(), "alice", "correct horse alice", "203.0.113.121"); err != nil {
					t.Fatalf("re-authentication past it: %v", err)
				}
				// Per network, across accounts.
				s.SignInAnyNet.Free = 1000
				s.SignInNetwork.Free = 3
				for i := range 3 {
					if err := login(s, "bob", "correct horse bob", "203.0.113.80"); err != nil {
						t.Fatalf("bob's login %d: %v", i, err)
					}
				}
				if got := throttledScope(login(s, "alice", "correct horse alice", "203.0.113.80")); got != data.ScopeSignInNetwork {
					t.Fatalf("a fourth success from the network: %q, want %s", got, data.ScopeSignInNetwork)
				}
			})
			t.Run("success_is_not_a_failure", func(t *testing.T) {
				s, _ := newService(t, be.DSN(t), NewHasherLimits(cheap, 2, 8, time.Second))
				// Successes have limits of their own (tested below); here
				// they are out of the way.
				s.SignInAccount.Free, s.SignInAnyNet.Free, s.SignInNetwork.Free = 1000, 1000, 1000
				for range 3 * IPPolicy.Free {
					if err := login(s, "alice", "correct horse alice", "192.0.2.77"); err != nil {
						t.Fatalf("repeated successful logins: %v", err)
					}
				}
			})
		})
	}
}
