package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/internal/testlog"
	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/storetest"
)

// testParams keep argon2id cheap in tests (the race detector slows it
// tenfold); the production parameters are tested in the auth package.
var testParams = auth.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// backends give each server fresh stores: the database on SQLite and on
// PostgreSQL, with sessions in it; and SQLite with sessions in Redis.
var backends = []struct {
	name  string
	store func(t *testing.T) app.Options
}{
	{"sqlite", func(t *testing.T) app.Options { return app.Options{DB: testdb.SQLite(t)} }},
	{"postgres", func(t *testing.T) app.Options { return app.Options{DB: testdb.Postgres(t)} }},
	{"redis_sessions", func(t *testing.T) app.Options {
		url, prefix := testdb.Redis(t)
		return app.Options{DB: testdb.SQLite(t), SessionStore: url, RedisPrefix: prefix}
	}},
}

// forEachBackend runs each case on a fresh server per backend.
func forEachBackend(t *testing.T, cases map[string]func(*testing.T, *server)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for name, run := range cases {
				t.Run(name, func(t *testing.T) { run(t, newServerOn(t, be.store(t), defaultHasher())) })
			}
		})
	}
}

// defaultHasher is cheap, and gives loopback, where every test client
// is, all of it (the share per network has tests of its own).
func defaultHasher() *auth.Hasher {
	return auth.NewHasherLimits(testParams, 2, 8, 3*time.Second).WithShare(16)
}

// server is ConnectBook behind an httptest TLS server.
type server struct {
	t     testing.TB
	opts  app.Options
	st    *app.App
	srv   *httptest.Server
	clock *storetest.Clock
	log   *testlog.Buffer // everything the app logged
}

// newServer starts a server on a SQLite database.
func newServer(t testing.TB, dsn string) *server {
	return newServerOn(t, app.Options{DB: dsn}, defaultHasher())
}

// newServerOn starts a server on the stores opts names, with hasher h.
func newServerOn(t testing.TB, opts app.Options, h *auth.Hasher) *server {
	t.Helper()
	log := &testlog.Buffer{}
	logger := slog.New(slog.NewTextHandler(log, nil))
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	opts.AbsoluteTimeout = 12 * time.Hour
	clock := storetest.NewClock()
	opts.Logger, opts.TLS, opts.Hasher = logger, true, h
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.SignUpsPerHour == 0 {
		opts.SignUpsPerHour = -1 // every test client is on loopback; limits have tests of their own
	}
	st, err := app.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st.Auth.SignInAccount.Free, st.Auth.SignInAnyNet.Free, st.Auth.SignInNetwork.Free = 1000, 1000, 1000 // likewise
	if err := st.RecordStore(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(st.Handler())
	srv.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &server{t: t, opts: opts, st: st, srv: srv, clock: clock, log: log}
}

// addUser creates an account directly.
func (s *server) addUser(name, password string) {
	s.t.Helper()
	if _, err := s.st.Auth.SignUp(context.Background(), name, password, password); err != nil {
		s.t.Fatalf("adding %s: %v", name, err)
	}
}

// events returns the kinds of the recorded security events, oldest first.
func (s *server) events() []string {
	s.t.Helper()
	list, err := s.st.DB.Events(context.Background(), 0, "", 1000)
	if err != nil {
		s.t.Fatal(err)
	}
	var kinds []string
	for i := len(list) - 1; i >= 0; i-- {
		kinds = append(kinds, list[i].Kind)
	}
	return kinds
}

func (s *server) wantEvent(kind string) {
	s.t.Helper()
	for _, k := range s.events() {
		if k == kind {
			return
		}
	}
	s.t.Fatalf("no %s event among %v", kind, s.events())
}

// browser is a client with its own cookie jar that does not follow
// redirects, so every response can be inspected.
type browser struct {
	t    testing.TB
	s    *server
	c    *http.Client
	base *url.URL
	ua   string // User-Agent, if set
	xff  string // X-Forwarded-For, if set (a server behind a proxy reads it)
}

func (s *server) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	c := *s.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u, _ := url.Parse(s.srv.URL)
	return &browser{t: s.t, s: s, c: &c, base: u}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	if b.ua != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", b.ua)
	}
	if b.xff != "" {
		req.Header.Set("X-Forwarded-For", b.xff)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		b.t.Fatalf("%s %s: status %d: %s", req.Method, req.URL, resp.StatusCode, body)
	}
	return &response{resp, string(body)}
}

func (b *browser) get(path string) *response {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.s.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) *response {
	b.t.Helper()
	return b.postRaw(path, form.Encode(), header...)
}

func (b *browser) postRaw(path, body string, header ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// tryLogin signs in without failing the test on a transport error, for
// use from other goroutines.
func (b *browser) tryLogin(user, password string) (*http.Response, error) {
	form := url.Values{"username": {user}, "password": {password}}
	req, err := http.NewRequest("POST", b.s.srv.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func (b *browser) login(user, password string) *response {
	b.t.Helper()
	return b.post("/login", url.Values{"username": {user}, "password": {password}})
}

func (b *browser) mustLogin(user, password string) {
	b.t.Helper()
	if r := b.login(user, password); r.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login %s: status %d: %s", user, r.StatusCode, r.body)
	}
}

// token returns the session token in the jar, or "".
func (b *browser) token() string {
	for _, c := range b.c.Jar.Cookies(b.base) {
		if c.Name == session.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// setToken puts a session cookie in the jar, as an attacker who can write
// cookies for the site would.
func (b *browser) setToken(v string) {
	b.c.Jar.SetCookies(b.base, []*http.Cookie{{Name: session.DefaultCookieName, Value: v, Path: "/", Secure: true}})
}

// signedInAs reports whose /profile the browser sees ("" when sent to log
// in).
func (b *browser) signedInAs() string {
	b.t.Helper()
	r := b.get("/profile")
	if r.StatusCode == http.StatusSeeOther {
		return ""
	}
	m := regexp.MustCompile(`<h1>Welcome, ([a-z0-9_]+)!</h1>`).FindStringSubmatch(r.body)
	if r.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("GET /profile: status %d: %s", r.StatusCode, r.body)
	}
	return m[1]
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the form token of the browser's session.
func (b *browser) csrf() string {
	b.t.Helper()
	r := b.get("/profile")
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no csrf_token on /profile (status %d)", r.StatusCode)
	}
	return m[1]
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
