package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/session"
)

func TestMetrics(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Run("requests", func(t *testing.T) { testMetricsRequests(t, newServerOn(t, be.store(t), defaultHasher())) })
			t.Run("sessions", func(t *testing.T) {
				opts := be.store(t)
				opts.MaxSessions = 2
				testMetricsSessions(t, newServerOn(t, opts, defaultHasher()), be.name)
			})
			t.Run("logins", func(t *testing.T) { testMetricsLogins(t, newServerOn(t, be.store(t), defaultHasher())) })
		})
	}
}

// metric returns the value of a series of the app's metrics with exactly
// these labels (a histogram's count), or -1 if there is none.
func (s *server) metric(name string, labels ...string) float64 {
	s.t.Helper()
	v, ok, err := s.st.Metrics.Value(name, labels...)
	if err != nil {
		s.t.Fatal(err)
	}
	if !ok {
		return -1
	}
	return v
}

// scrape returns the metrics page.
func (s *server) scrape() string {
	rec := httptest.NewRecorder()
	s.st.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		s.t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// Requests count under their route pattern and status: nothing a client
// sent (a path naming someone, a query, a cookie) reaches the metrics.
func testMetricsRequests(t *testing.T, s *server) {
	s.addUser("zelda_sample", alicePW)
	b := s.browserAs(firefoxLinux, "zelda_sample", alicePW)
	secret := randomToken()
	for range 3 {
		if r := b.get("/u/zelda_sample?token=" + secret); r.StatusCode != http.StatusOK {
			t.Fatalf("GET /u/zelda_sample: %d", r.StatusCode)
		}
	}
	b.get("/no_such_place_" + secret)
	if r := b.get("/profile"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /profile: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		route, code string
		n           float64
	}{
		{"GET /u/{username}", "200", 3},
		{"GET /profile", "200", 1},
		{"POST /login", "303", 1},
		{"/", "404", 1}, // the site's page for every path no other route takes
	} {
		if n := s.metric("connectbook_http_requests_total", "route", tc.route, "code", tc.code); n != tc.n {
			t.Errorf("requests %s %s: %v, want %v", tc.route, tc.code, n, tc.n)
		}
		if n := s.metric("connectbook_http_request_duration_seconds", "route", tc.route, "code", tc.code); n != tc.n {
			t.Errorf("durations %s %s: %v, want %v", tc.route, tc.code, n, tc.n)
		}
	}
	if n := s.metric("connectbook_http_requests_in_flight"); n != 0 {
		t.Errorf("in flight after the requests: %v", n)
	}
	page := s.scrape()
	for _, leak := range []string{"zelda", secret, b.token(), "no_such_place", alicePW} {
		if strings.Contains(page, leak) {
			t.Errorf("the metrics hold %q", leak)
		}
	}
	// The SQLite store answers most of them from memory (the database is
	// unchanged between the requests), counted apart.
	finds := s.metric("connectbook_session_store_call_duration_seconds", "store", storeKind(s), "op", "find")
	hits := 0.0
	if storeKind(s) == "sqlite" {
		if hits = s.metric("connectbook_session_store_cache_hits_total", "store", "sqlite"); hits == 0 {
			t.Errorf("no session read from the SQLite store's cache:\n%s", grep(page, "session_store"))
		}
	} else if strings.Contains(page, "cache_hits_total") {
		t.Errorf("cache hits reported for store %s", storeKind(s))
	}
	if finds < 1 || finds+hits < 5 {
		t.Errorf("session store finds not counted for store %s:\n%s", storeKind(s), grep(page, "session_store"))
	}
	if n := s.metric("connectbook_session_store_errors_total", "store", storeKind(s), "op", "find"); n != 0 {
		t.Errorf("%v find errors", n)
	}
}

func storeKind(s *server) string {
	switch {
	case s.opts.SessionStore != "":
		return "redis"
	case strings.HasPrefix(s.opts.DB, "postgres"):
		return "postgres"
	}
	return "sqlite"
}

func grep(page, what string) string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		if strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Sessions created and ended count by reason, each once, whichever way the
// session ended.
func testMetricsSessions(t *testing.T, s *server, backend string) {
	s.addUser("alice", alicePW)
	ended := func(reason string) float64 {
		t.Helper()
		return s.metric("connectbook_sessions_ended_total", "reason", reason)
	}
	want := map[string]float64{}
	check := func(step string) {
		t.Helper()
		for _, r := range []string{"signed_out", "replaced", "idle_timeout", "absolute_timeout", "swept", "revoked",
			"evicted", "client_changed", "token_reused", "binding_missing"} {
			if got := ended(r); got != want[r] {
				t.Errorf("after %s: %s %v, want %v", step, r, got, want[r])
			}
		}
	}

	a := s.browserAs(firefoxLinux, "alice", alicePW)
	a.mustLogin("alice", alicePW) // again, in the same browser
	want["replaced"]++
	check("a second sign-in")
	if r := a.post("/logout", url.Values{"csrf_token": {a.csrf()}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", r.StatusCode)
	}
	want["signed_out"]++
	check("a sign-out")

	a.mustLogin("alice", alicePW)
	s.clock.Advance(31 * time.Minute)
	if a.signedInAs() != "" {
		t.Fatal("signed in past the idle timeout")
	}
	want["idle_timeout"]++
	check("an idle timeout")

	a.mustLogin("alice", alicePW)
	renewed := s.metric("connectbook_session_store_call_duration_seconds", "store", storeKind(s), "op", "renew")
	for range 12 * 3 {
		s.clock.Advance(20 * time.Minute)
		a.get("/profile")
	}
	if a.signedInAs() != "" {
		t.Fatal("signed in past the absolute timeout")
	}
	want["absolute_timeout"]++
	check("an absolute timeout")
	if n := s.metric("connectbook_session_store_call_duration_seconds", "store", storeKind(s), "op", "renew") - renewed; n < 12 {
		t.Errorf("%v tokens renewed in 12 hours of use every 20 minutes", n)
	}

	// The limit of two sessions: a third sign-in evicts the oldest.
	b1, b2 := s.browserAs(firefoxLinux, "alice", alicePW), s.browserAs(firefoxLinux, "alice", alicePW)
	s.browserAs(firefoxLinux, "alice", alicePW)
	want["evicted"]++
	check("a sign-in past the limit")
	_ = b1
	n, err := s.st.Sessions.RevokeAll(context.Background(), account.UserKey(1), "by an administrator")
	if err != nil || n != 2 {
		t.Fatalf("revoking: %d, %v", n, err)
	}
	want["revoked"] += 2
	check("a revocation")
	if b2.signedInAs() != "" {
		t.Fatal("revoked session still works")
	}

	// A copied cookie, used from another browser.
	c := s.browserAs(firefoxLinux, "alice", alicePW)
	thief := s.browser()
	thief.ua = chromeMac
	thief.setToken(c.token())
	if thief.signedInAs() != "" {
		t.Fatal("a cookie works from another browser")
	}
	want["client_changed"]++
	check("a cookie used from another browser")

	// A retired token that comes back.
	d := s.browserAs(firefoxLinux, "alice", alicePW)
	stolen := d.token()
	s.clock.Advance(session.DefaultRotationInterval)
	if d.signedInAs() != "alice" || d.token() == stolen || d.signedInAs() != "alice" {
		t.Fatal("no rotation")
	}
	s.clock.Advance(time.Minute)
	thief = s.browser()
	thief.ua = firefoxLinux
	thief.setToken(stolen)
	thief.get("/profile")
	want["token_reused"]++
	check("a retired token used")

	// Expired and never seen again: the sweeper removes it.
	s.browserAs(firefoxLinux, "alice", alicePW)
	s.clock.Advance(31 * time.Minute)
	if _, err := s.st.Sessions.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	want["swept"]++
	check("a sweep")

	if n := s.metric("connectbook_sessions_created_total"); n != 10 {
		t.Errorf("%v sessions created, want 10", n)
	}
}

// Sign-ins count by outcome; throttling by scope; security events by kind,
// those past the per-client limit too.
func testMetricsLogins(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	b.mustLogin("alice", alicePW)
	b = s.browser()
	failed, throttled := 0, 0
	for throttled == 0 {
		switch r := b.login("alice", "not the password"); r.StatusCode {
		case http.StatusUnauthorized:
			failed++
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Fatalf("wrong password: %d", r.StatusCode)
		}
		if failed > 20 {
			t.Fatal("never throttled")
		}
	}
	for outcome, n := range map[string]int{"succeeded": 1, "failed": failed, "throttled": throttled, "busy": 0, "error": 0} {
		if got := s.metric("connectbook_logins_total", "outcome", outcome); got != float64(n) {
			t.Errorf("logins %s: %v, want %d", outcome, got, n)
		}
	}
	if got := s.metric("connectbook_throttled_total", "scope", "account_ip"); got != float64(throttled) {
		t.Errorf("throttled account_ip: %v, want %d\n%s", got, throttled, grep(s.scrape(), "throttled_total"))
	}
	if got := s.metric("connectbook_security_events_total", "event", "login_failed"); got != float64(failed) {
		t.Errorf("login_failed events: %v, want %d", got, failed)
	}

	// Forged cookies past the per-client limit are counted, not recorded.
	for range 25 {
		f := s.browser()
		f.setToken(randomToken())
		f.get("/")
	}
	if got := s.metric("connectbook_security_events_total", "event", "session_unknown_token"); got != 25 {
		t.Errorf("unknown-token events: %v, want 25", got)
	}
	if got := s.metric("connectbook_security_events_suppressed_total"); got != 5 {
		t.Errorf("suppressed: %v, want 5", got)
	}
	if got := s.metric("connectbook_password_hashing_hashes_total"); got < float64(1+failed) {
		t.Errorf("hashes: %v, want at least %d", got, 1+failed)
	}
}
