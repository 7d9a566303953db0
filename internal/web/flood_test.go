package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/testdb"
)

// from sends the browser's requests as the client at ip, through the
// reverse proxy the server trusts (X-Forwarded-For from loopback).
func (b *browser) from(ip string) *browser {
	b.xff = ip
	return b
}

// p99 returns the 99th percentile of ds.
func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// TestLoginFlood: one client network floods the sign-in form with 200
// concurrent requests, with its own valid account and with wrong
// passwords. Users on other networks still sign in on the first try,
// quickly, and other pages stay fast.
func TestLoginFlood(t *testing.T) {
	// One hashing slot of real weight (4 MiB; less under the race
	// detector, which slows hashing tenfold), as on a small server.
	memory := uint32(4 * 1024)
	if raceEnabled {
		memory = 512
	}
	hasher := auth.NewHasherLimits(auth.Params{Memory: memory, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 8, time.Second)
	workers := 200
	if raceEnabled {
		workers = 50 // the race detector makes each of them several times heavier
	}
	s := newServerOn(t, app.Options{DB: testdb.SQLite(t), BehindProxy: true, Now: time.Now}, hasher)
	s.st.Auth.SignInAccount, s.st.Auth.SignInNetwork = auth.SignInAccountPolicy, auth.SignInNetworkPolicy
	const users = 10
	s.addUser("mallory", alicePW)
	for i := range users {
		s.addUser("user"+string(rune('a'+i)), alicePW)
	}

	// The flood keeps its connections alive, as an attacker's tool would
	// (a new TLS handshake per request would flood the CPU, not the form).
	floodTransport := s.srv.Client().Transport.(*http.Transport).Clone()
	floodTransport.MaxIdleConnsPerHost = 200
	t.Cleanup(floodTransport.CloseIdleConnections)
	ctx, stop := context.WithCancel(context.Background())
	var (
		wg                      sync.WaitGroup
		flood, refused, busy503 atomic.Int64
	)
	for i := range workers {
		wg.Go(func() {
			b := s.browser().from("198.51.100.7")
			b.c.Transport = floodTransport
			pw := alicePW
			if i%2 == 1 {
				pw = "wrong password " + string(rune('a'+i%26))
			}
			form := url.Values{"username": {"mallory"}, "password": {pw}}.Encode()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", s.srv.URL+"/login", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", b.xff)
				resp, err := b.c.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				flood.Add(1)
				switch resp.StatusCode {
				case http.StatusTooManyRequests:
					refused.Add(1)
				case http.StatusServiceUnavailable:
					busy503.Add(1)
				}
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	time.Sleep(500 * time.Millisecond) // the flood is under way

	var signIns, pages []time.Duration
	for i := range users {
		b := s.browser().from("203.0.113.9")
		start := time.Now()
		r := b.login("user"+string(rune('a'+i)), alicePW)
		signIns = append(signIns, time.Since(start))
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d during the flood: status %d: %s", i, r.StatusCode, r.body)
		}
		for range 5 {
			start := time.Now()
			if r := s.browser().from("192.0.2.50").get("/u/mallory"); r.StatusCode != http.StatusOK {
				t.Fatalf("profile page during the flood: %d", r.StatusCode)
			}
			pages = append(pages, time.Since(start))
		}
	}
	stop()
	wg.Wait()
	t.Logf("flood: %d requests, %d refused with 429, %d with 503; sign-ins p99 %v; pages p99 %v",
		flood.Load(), refused.Load(), busy503.Load(), p99(signIns), p99(pages))
	if got, limit := p99(signIns), signInLimit(); got > limit {
		t.Errorf("sign-in p99 during the flood = %v, want under %v", got, limit)
	}
	if got, limit := p99(pages), pageLimit(); got > limit {
		t.Errorf("profile page p99 during the flood = %v, want at most %v", got, limit)
	}
	if refused.Load() == 0 {
		t.Error("the flooding network was never refused")
	}
}

// Successful sign-ins are limited too: one account signed in to in a loop
// from one network is refused after forty in ten minutes, with
// Retry-After; its owner elsewhere is not.
func TestSignInSuccessLimit(t *testing.T) {
	s := newServerOn(t, app.Options{DB: testdb.SQLite(t), BehindProxy: true}, defaultHasher())
	s.st.Auth.SignInAccount, s.st.Auth.SignInNetwork = auth.SignInAccountPolicy, auth.SignInNetworkPolicy
	s.addUser("mallory", alicePW)
	for i := range auth.SignInAccountPolicy.Free {
		if r := s.browser().from("198.51.100.7").login("mallory", alicePW); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d", i, r.StatusCode)
		}
	}
	r := s.browser().from("198.51.100.7").login("mallory", alicePW)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(r.body, "many sign-ins to this account from your network") {
		t.Fatalf("the eleventh sign-in: %d %q: %s", r.StatusCode, r.Header.Get("Retry-After"), r.body)
	}
	// From another network the account is not held back.
	if r := s.browser().from("198.51.100.8").login("mallory", alicePW); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the account from another network: %d", r.StatusCode)
	}
	s.clock.Advance(11 * time.Minute)
	if r := s.browser().from("198.51.100.7").login("mallory", alicePW); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d", r.StatusCode)
	}
}

// Sign-ups are limited per client network and hour, with a message that
// says so; other networks are not affected.
func TestSignUpLimit(t *testing.T) {
	s := newServerOn(t, app.Options{DB: testdb.SQLite(t), BehindProxy: true, SignUpsPerHour: 3}, defaultHasher())
	signUp := func(ip, name string) *response {
		t.Helper()
		return s.browser().from(ip).post("/signup", url.Values{"username": {name}, "password": {alicePW}, "password_confirm": {alicePW}})
	}
	for i := range 3 {
		if r := signUp("2001:db8:5:6::1", "spam"+string(rune('a'+i))); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-up %d: %d %s", i, r.StatusCode, r.body)
		}
	}
	r := signUp("2001:db8:5:6::ffff", "spamd") // the same /64
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(r.body, "Too many accounts were created from your network") {
		t.Fatalf("the fourth sign-up: %d %q: %s", r.StatusCode, r.Header.Get("Retry-After"), r.body)
	}
	if !strings.Contains(r.body, `value="spamd"`) {
		t.Fatal("the refused form lost what was typed")
	}
	// The limit is said first, not after the password is fixed.
	weak := s.browser().from("2001:db8:5:6::2").post("/signup", url.Values{"username": {"spame"}, "password": {"password123"}, "password_confirm": {"password123"}})
	if weak.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("past the limit, a weak password was judged first: %d", weak.StatusCode)
	}
	s.wantEvent("signup_throttled")
	if r := signUp("2001:db8:5:7::1", "honest"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("another network: %d", r.StatusCode)
	}
	s.clock.Advance(61 * time.Minute)
	if r := signUp("2001:db8:5:6::1", "spamd"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("an hour later: %d %s", r.StatusCode, r.body)
	}
}

// pausableProxy forwards TCP connections to a backend until paused; while
// paused it holds every byte, as a paused Redis would.
type pausableProxy struct {
	ln     net.Listener
	paused atomic.Bool
}

func newPausableProxy(t *testing.T, backend string) *pausableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pausableProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(c, b)
			go p.pipe(b, c)
		}
	}()
	return p
}

func (p *pausableProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.paused.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestStalledSessionStore: with Redis paused, signed-in requests fail
// within the store timeout with the site's 503 page, logged once each.
func TestStalledSessionStore(t *testing.T) {
	redisURL, prefix := testdb.Redis(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPausableProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	s := newServerOn(t, app.Options{DB: testdb.SQLite(t), SessionStore: u.String(), RedisPrefix: prefix,
		StoreTimeout: 300 * time.Millisecond}, defaultHasher())
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	if a.signedInAs() != "alice" {
		t.Fatal("not signed in")
	}
	before := strings.Count(s.log.String(), "level=ERROR")
	proxy.paused.Store(true)
	start := time.Now()
	r := a.get("/profile")
	took := time.Since(start)
	proxy.paused.Store(false)
	if r.StatusCode != http.StatusServiceUnavailable || took > 2*time.Second {
		t.Fatalf("with the store paused: status %d after %v; want 503 within the timeout", r.StatusCode, took)
	}
	if !strings.Contains(r.body, "<html") || !strings.Contains(r.body, "Temporarily unavailable") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("not the site's 503 page: %q\n%s", r.Header, r.body)
	}
	if n := strings.Count(s.log.String(), "level=ERROR") - before; n != 1 {
		t.Fatalf("the stalled request logged %d errors, want 1:\n%s", n, s.log)
	}
	// When the store answers again, so does the site, still signed in.
	time.Sleep(100 * time.Millisecond)
	if a.signedInAs() != "alice" {
		t.Fatal("not signed in once the store is back")
	}
	// Requests whose handlers call the store (signing in, signing out)
	// fail the same way: the 503 page, not a 500.
	b := s.browser()
	proxy.paused.Store(true)
	for _, tc := range []struct {
		name string
		do   func() *response
	}{
		{"sign-in", func() *response { return b.login("alice", alicePW) }},
		{"sign-up", func() *response {
			return b.post("/signup", url.Values{"username": {"newbie"}, "password": {alicePW}, "password_confirm": {alicePW}})
		}},
	} {
		start := time.Now()
		r := tc.do()
		if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, "Temporarily unavailable") || time.Since(start) > 2*time.Second {
			t.Errorf("%s with the store paused: %d after %v", tc.name, r.StatusCode, time.Since(start))
		}
	}
	proxy.paused.Store(false)
}

// pageLimit and signInLimit bound the p99s that pages and sign-ins keep
// during the flood. The goals (50 ms and 1 s) are measured without other
// load by bench/flood.sh (figures in BENCHMARKS.md); this test runs beside
// other packages' tests, under the race detector in CI, so it allows ten
// and two times as much (five times more again under the race detector):
// enough to catch sign-ins held behind the flood, not a noisy neighbour.
func pageLimit() time.Duration {
	if raceEnabled {
		return 2500 * time.Millisecond
	}
	return 500 * time.Millisecond
}

func signInLimit() time.Duration {
	if raceEnabled {
		return 10 * time.Second
	}
	return 2 * time.Second
}
