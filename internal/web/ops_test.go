package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestOperations(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){
		"health":           testHealth,
		"not_ready":        testNotReady,
		"draining":         testDraining,
		"access_log":       testAccessLog,
		"access_log_level": testAccessLogLevel,
	})
}

// /healthz and /readyz answer without a session: no cookie set, no
// security event, nothing stored, and other methods get 405.
func testHealth(t *testing.T, s *server) {
	b := s.browser()
	before := len(s.events())
	for _, tc := range []struct{ path, body string }{{"/healthz", "ok\n"}, {"/readyz", "ready\n"}} {
		for range 3 {
			r := b.get(tc.path)
			if r.StatusCode != http.StatusOK || r.body != tc.body || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: %d %q (Cache-Control %q)", tc.path, r.StatusCode, r.body, r.Header.Get("Cache-Control"))
			}
			if len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("GET %s set cookies: %v", tc.path, r.Header.Values("Set-Cookie"))
			}
		}
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+tc.path, nil)
		if r := b.do(req); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q", tc.path, r.StatusCode, r.Header.Get("Allow"))
		}
	}
	// A health check with a stale or forged session cookie is still just a
	// health check.
	b.setToken(randomToken())
	if r := b.get("/readyz"); r.StatusCode != http.StatusOK {
		t.Errorf("readyz with a cookie: %d", r.StatusCode)
	}
	if after := s.events(); len(after) != before {
		t.Errorf("health checks recorded security events: %v", after[before:])
	}
}

// With the database gone, /readyz says so with 503, naming the part but not
// the cause, while /healthz still answers.
func testNotReady(t *testing.T, s *server) {
	s.st.DB.SQL.Close()
	b := s.browser()
	r := b.get("/readyz")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(r.body, "not ready: the database did not answer within ") ||
		strings.Contains(r.body, "sql") || r.Header.Get("Retry-After") == "" {
		t.Errorf("readyz without a database: %d %q", r.StatusCode, r.body)
	}
	if r := b.get("/healthz"); r.StatusCode != http.StatusOK {
		t.Errorf("healthz without a database: %d", r.StatusCode)
	}
	if !strings.Contains(s.log.String(), "not ready") {
		t.Error("the reason was not logged")
	}
}

var accessLineRE = regexp.MustCompile(`(?m)^.*msg=request stream=access .*$`)

// accessLines returns the access log's lines so far.
func (s *server) accessLines() []string { return accessLineRE.FindAllString(s.log.String(), -1) }

// Each request gets a line with its method, route pattern, status, size,
// duration, client address and the ID sent back in X-Request-ID; never
// the path, the query, a cookie or a form field.
func testAccessLog(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	b.mustLogin("alice", alicePW)
	secret := randomToken()
	r := b.get("/u/alice?session_id=" + secret)
	id := r.Header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("X-Request-ID %q", id)
	}
	var line string
	for _, l := range s.accessLines() {
		if strings.Contains(l, "request_id="+id) {
			line = l
		}
	}
	for _, want := range []string{`method=GET`, `route="GET /u/{username}"`, `status=200`, `bytes=` + r.Header.Get("Content-Length"), `duration_ms=`, `client_ip=127.0.0.1`} {
		if !strings.Contains(line, want) {
			t.Errorf("the access line lacks %s: %q", want, line)
		}
	}
	b.post("/profile", url.Values{"csrf_token": {b.csrf()}, "display_name": {"Alice " + secret[:8]}, "bio": {"x"}})
	b.get("/no-such-page/" + secret)
	ids := map[string]bool{}
	for _, l := range s.accessLines() {
		for _, bad := range []string{secret, secret[:8], "alice", alicePW, "session_id", "cb_session", "csrf"} {
			if strings.Contains(l, bad) {
				t.Errorf("an access line holds %q: %s", bad, l)
			}
		}
		m := regexp.MustCompile(`request_id=([0-9a-f]+)`).FindStringSubmatch(l)
		if m == nil || ids[m[1]] {
			t.Errorf("an access line without a request ID of its own: %s", l)
			continue
		}
		ids[m[1]] = true
	}
	if !strings.Contains(s.log.String(), `route="POST /profile" status=303`) || !strings.Contains(s.log.String(), `route=/ status=404`) {
		t.Errorf("no lines for the form and the unknown page:\n%s", strings.Join(s.accessLines(), "\n"))
	}
}

// Health checks are not in the access log at the info level (a load
// balancer asks every few seconds); the rest is.
func testAccessLogLevel(t *testing.T, s *server) {
	b := s.browser()
	n := len(s.accessLines())
	b.get("/healthz")
	b.get("/readyz")
	if got := s.accessLines()[n:]; len(got) != 0 {
		t.Errorf("health checks logged at info: %v", got)
	}
	b.get("/login")
	if got := s.accessLines()[n:]; len(got) != 1 || !strings.Contains(got[0], `route="GET /login"`) {
		t.Errorf("GET /login logged as %v", got)
	}
}

// Once the instance drains, /readyz says so and every response closes its
// connection (a proxy's kept-alive ones end after an answer, never while a
// request is on its way); pages are still served.
func testDraining(t *testing.T, s *server) {
	b := s.browser()
	if r := b.get("/"); r.StatusCode != http.StatusOK || r.Close {
		t.Fatalf("before draining: %d, connection closed: %v", r.StatusCode, r.Close)
	}
	s.st.Drain()
	r := b.get("/readyz")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down") || !r.Close {
		t.Errorf("readyz while draining: %d %q, connection closed: %v", r.StatusCode, r.body, r.Close)
	}
	for _, path := range []string{"/", "/login", "/healthz", "/no-such-page"} {
		if r := b.get(path); r.StatusCode >= 500 || !r.Close {
			t.Errorf("GET %s while draining: %d, connection closed: %v", path, r.StatusCode, r.Close)
		}
	}
}
