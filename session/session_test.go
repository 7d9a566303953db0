package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/sqlitestore"
	"github.com/connectbook/connectbook/session/storetest"
)

// env is a Manager on a fresh SQLite store, with a handler that reports
// who the request is and records every event.
type env struct {
	t  testing.TB
	m  *session.Manager
	st session.Store
	h  http.Handler

	mu     sync.Mutex
	events []session.Event
}

func newStore(t testing.TB) *sqlitestore.Store {
	t.Helper()
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestore.New(context.Background(), db, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); db.Close() })
	return st
}

func newEnv(t testing.TB, opts session.Options) *env {
	t.Helper()
	return newEnvOn(t, newStore(t), opts)
}

// newEnvOn is newEnv on the store st.
func newEnvOn(t testing.TB, st session.Store, opts session.Options) *env {
	t.Helper()
	e := &env{t: t, st: st}
	if opts.OnEvent == nil {
		opts.OnEvent = func(_ context.Context, ev session.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}
	}
	m, err := session.New(e.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		epoch, _ := strconv.ParseInt(r.Header.Get("X-Epoch"), 10, 64)
		if _, err := m.Create(w, r, session.Login{UserID: "alice", Epoch: epoch, Method: "password"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { // /whoami, and any path
		if r.Method == "POST" {
			r.ParseForm()
		}
		io.WriteString(w, "user="+session.UserID(r.Context()))
	})
	mux.Handle("GET /private", m.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	})))
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Rotate(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Reauthenticated(w, r, 0); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	e.h = m.Middleware(mux)
	return e
}

func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) login() string {
	e.t.Helper()
	w := e.serve(httptest.NewRequest("POST", "/login", nil))
	if w.Code != 200 {
		e.t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == e.m.CookieName() {
			return c.Value
		}
	}
	e.t.Fatal("login set no cookie")
	return ""
}

func (e *env) whoami(r *http.Request) (string, *httptest.ResponseRecorder) {
	e.t.Helper()
	w := e.serve(r)
	if w.Code != 200 {
		e.t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, w.Code, w.Body)
	}
	return strings.TrimPrefix(w.Body.String(), "user="), w
}

func (e *env) eventsOf(kind session.EventKind) []session.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []session.Event
	for _, ev := range e.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func withCookie(r *http.Request, name, value string) *http.Request {
	r.Header.Add("Cookie", name+"="+value)
	return r
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t, session.Options{})
	w := e.serve(httptest.NewRequest("POST", "/login", nil))
	lines := w.Result().Header["Set-Cookie"]
	if len(lines) != 2 {
		t.Fatalf("Set-Cookie lines = %q, want the session cookie and the issued one", lines)
	}
	// The issued cookie names the session by its short ID, never the token.
	tok, _, _ := strings.Cut(strings.TrimPrefix(lines[0], "__Host-cb_session="), ";")
	id, _ := session.IDOfToken(tok)
	if want := "__Host-cb_session-issued=" + id.Short() + "; Path=/; HttpOnly; Secure; SameSite=Lax"; lines[1] != want {
		t.Errorf("issued cookie %q, want %q", lines[1], want)
	}
	name, rest, _ := strings.Cut(lines[0], "=")
	value, attrs, _ := strings.Cut(rest, "; ")
	if name != "__Host-cb_session" {
		t.Errorf("cookie name = %q", name)
	}
	if !tokenRE.MatchString(value) {
		t.Errorf("token %q is not 43 characters of base64url", value)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(value); err != nil || len(raw) != 32 {
		t.Errorf("token decodes to %d bytes (%v), want 32", len(raw), err)
	}
	if attrs != "Path=/; HttpOnly; Secure; SameSite=Lax" {
		t.Errorf("attributes = %q, want exactly Path=/; HttpOnly; Secure; SameSite=Lax (no Domain, Expires or Max-Age)", attrs)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}

	w = e.serve(withCookie(httptest.NewRequest("POST", "/logout", nil), e.m.CookieName(), value))
	lines = w.Result().Header["Set-Cookie"]
	want := []string{"__Host-cb_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
		"__Host-cb_session-issued=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"}
	if !slices.Equal(lines, want) {
		t.Errorf("logout Set-Cookie = %q, want %q", lines, want)
	}
}

func TestTokensAreFreshAndDistinct(t *testing.T) {
	e := newEnv(t, session.Options{})
	seen := map[string]bool{}
	for range 200 {
		tok := e.login()
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

// The token is read from the cookie only: a valid token in the query, the
// path or a form is ignored, and the attempt is reported.
func TestTokenOutsideCookieIgnored(t *testing.T) {
	e := newEnv(t, session.Options{})
	tok := e.login()
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		detail string
	}{
		{"query session_id", func() *http.Request { return httptest.NewRequest("GET", "/whoami?session_id="+tok, nil) }, "query parameter session_id"},
		{"query cookie name", func() *http.Request { return httptest.NewRequest("GET", "/whoami?__Host-cb_session="+tok, nil) }, "query parameter __host-cb_session"},
		{"query bare cookie name", func() *http.Request { return httptest.NewRequest("GET", "/whoami?cb_session="+tok, nil) }, "query parameter cb_session"},
		{"query PHPSESSID", func() *http.Request { return httptest.NewRequest("GET", "/whoami?PHPSESSID="+tok, nil) }, "query parameter phpsessid"},
		{"query sid", func() *http.Request { return httptest.NewRequest("GET", "/whoami?x=1&sid="+tok, nil) }, "query parameter sid"},
		{"path jsessionid", func() *http.Request { return httptest.NewRequest("GET", "/whoami;jsessionid="+tok, nil) }, "path parameter jsessionid"},
		{"form session_id", func() *http.Request {
			r := httptest.NewRequest("POST", "/whoami", strings.NewReader(url.Values{"session_id": {tok}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "form parameter session_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.eventsOf(session.EventTokenInURL))
			user, _ := e.whoami(tc.req())
			if user != "" {
				t.Fatalf("token outside the cookie authenticated the request as %q", user)
			}
			evs := e.eventsOf(session.EventTokenInURL)
			if len(evs) != before+1 || evs[len(evs)-1].Detail != tc.detail {
				t.Fatalf("events = %+v, want one %q", evs[before:], tc.detail)
			}
			if strings.Contains(evs[len(evs)-1].Detail, tok) {
				t.Fatal("the event holds the token")
			}
		})
	}
	// Many spellings of the names make one event, which names the user of a
	// signed-in request.
	var q []string
	for _, k := range []string{"sid", "SID", "sId", "Sid", "session_id", "SESSION_ID", "jsessionid", "x"} {
		for i := range 50 {
			q = append(q, k+"="+strconv.Itoa(i))
		}
	}
	before := len(e.eventsOf(session.EventTokenInURL))
	r := withCookie(httptest.NewRequest("GET", "/whoami?"+strings.Join(q, "&")+";jsessionid=1", nil), e.m.CookieName(), tok)
	if user, _ := e.whoami(r); user != "alice" {
		t.Fatalf("user = %q", user)
	}
	evs := e.eventsOf(session.EventTokenInURL)[before:]
	if len(evs) != 1 || evs[0].UserID != "alice" || evs[0].Detail != "query parameter jsessionid, query parameter session_id, query parameter sid" {
		t.Fatalf("events = %+v, want one naming alice and three parameters", evs)
	}
	// An ordinary query is not reported.
	before = len(e.eventsOf(session.EventTokenInURL))
	e.whoami(httptest.NewRequest("GET", "/whoami?q=sessions&page=2", nil))
	if n := len(e.eventsOf(session.EventTokenInURL)); n != before {
		t.Fatalf("an ordinary query was reported")
	}
}

func TestDuplicateCookies(t *testing.T) {
	e := newEnv(t, session.Options{})
	tok := e.login()
	planted := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	name := e.m.CookieName()
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"same token twice", []string{name + "=" + tok + "; " + name + "=" + tok}},
		{"planted first", []string{name + "=" + planted + "; " + name + "=" + tok}},
		{"planted last", []string{name + "=" + tok + "; other=1; " + name + "=" + planted}},
		{"two header lines", []string{name + "=" + tok, name + "=" + planted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/whoami", nil)
			r.Header["Cookie"] = tc.lines
			before := len(e.eventsOf(session.EventDuplicateCookie))
			user, w := e.whoami(r)
			if user != "" {
				t.Fatalf("duplicate cookies authenticated as %q", user)
			}
			if len(e.eventsOf(session.EventDuplicateCookie)) != before+1 {
				t.Fatal("duplicate cookies were not reported")
			}
			if !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
				t.Fatalf("cookie not cleared: %q", w.Header()["Set-Cookie"])
			}
		})
	}
	// The real session is untouched by the rejection.
	if user, _ := e.whoami(withCookie(httptest.NewRequest("GET", "/whoami", nil), name, tok)); user != "alice" {
		t.Fatalf("after duplicate cookies the session authenticates as %q", user)
	}
}

func TestMalformedTokens(t *testing.T) {
	e := newEnv(t, session.Options{})
	tok := e.login()
	for _, v := range []string{
		"",
		"x",
		tok[:42],
		tok + "A",
		tok[:42] + "+",                // not base64url
		tok[:42] + "B",                // non-canonical: the last character has bits beyond 256 set (if tok ends in A)
		`"` + tok + `"`,               // quoted
		strings.Repeat("é", 21) + "A", // 43 bytes, not ASCII
		strings.Repeat("A", 4096),     // long
		tok[:20] + "\x00" + tok[21:],  // NUL
		"session1",                    // the seeds' ids
		"123456",
	} {
		r := httptest.NewRequest("GET", "/whoami", nil)
		r.Header.Set("Cookie", e.m.CookieName()+"="+v)
		user, w := e.whoami(r)
		if user != "" && v != tok {
			t.Errorf("cookie %q authenticated as %q", v, user)
		}
		if user == "" && !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("cookie %q not cleared", v)
		}
	}
}

// A well-formed token the store does not know is never adopted, including
// through login (session fixation).
func TestPlantedTokenNotAdopted(t *testing.T) {
	e := newEnv(t, session.Options{})
	planted := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	user, w := e.whoami(withCookie(httptest.NewRequest("GET", "/whoami", nil), e.m.CookieName(), planted))
	if user != "" || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("planted token: user %q, Set-Cookie %q", user, w.Header()["Set-Cookie"])
	}
	evs := e.eventsOf(session.EventUnknownToken)
	if len(evs) != 1 || evs[0].ClientIP != "192.0.2.1" || evs[0].Detail != "unknown token" {
		t.Fatalf("events = %+v", evs)
	}
	lw := e.serve(withCookie(httptest.NewRequest("POST", "/login", nil), e.m.CookieName(), planted))
	for _, c := range lw.Result().Cookies() {
		if c.Value == planted {
			t.Fatal("login re-issued the planted token")
		}
	}
	if user, _ := e.whoami(withCookie(httptest.NewRequest("GET", "/whoami", nil), e.m.CookieName(), planted)); user != "" {
		t.Fatalf("planted token authenticates as %q after login", user)
	}
}

func TestRequireUser(t *testing.T) {
	e := newEnv(t, session.Options{})
	if w := e.serve(httptest.NewRequest("GET", "/private", nil)); w.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous: status %d, want 401", w.Code)
	}
	tok := e.login()
	w := e.serve(withCookie(httptest.NewRequest("GET", "/private", nil), e.m.CookieName(), tok))
	if w.Code != 200 || w.Body.String() != "secret" {
		t.Fatalf("authenticated: %d %q", w.Code, w.Body)
	}
}

func TestRotateAndLogoutWithoutSession(t *testing.T) {
	e := newEnv(t, session.Options{})
	if w := e.serve(httptest.NewRequest("POST", "/rotate", nil)); w.Code != http.StatusConflict {
		t.Fatalf("rotate without a session: %d", w.Code)
	}
	w := e.serve(httptest.NewRequest("POST", "/logout", nil))
	if w.Code != 200 || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout without a session: %d %q", w.Code, w.Header()["Set-Cookie"])
	}
}

// failingStore fails every call.
type failingStore struct{ session.Store }

var errDown = errors.New("store is down")

func (failingStore) Find(context.Context, session.ID) (session.Session, error) {
	return session.Session{}, errDown
}

func TestStoreFailureIs503(t *testing.T) {
	m, err := session.New(failingStore{}, session.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	h := m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", m.CookieName()+"="+base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || called {
		t.Fatalf("status %d, handler called %v; want 503 and not called", w.Code, called)
	}
	if strings.Contains(w.Body.String(), errDown.Error()) {
		t.Fatal("the internal error reached the client")
	}
	if strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatal("a store failure cleared the cookie")
	}
}

// stallingStore never answers Find until its context is done, as a paused
// Redis or a locked database would not.
type stallingStore struct{ session.Store }

func (stallingStore) Find(ctx context.Context, _ session.ID) (session.Session, error) {
	<-ctx.Done()
	return session.Session{}, ctx.Err()
}

// A stalled store fails the request closed within the store timeout, logged
// once, and the handler never runs.
func TestStalledStoreFailsFast(t *testing.T) {
	var logged bytes.Buffer
	m, err := session.New(stallingStore{}, session.Options{StoreTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	h := m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", m.CookieName()+"="+base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, r)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the request waited %v for a stalled store", took)
	}
	if w.Code != http.StatusServiceUnavailable || called {
		t.Fatalf("status %d, handler called %v; want 503 and not called", w.Code, called)
	}
	if n := strings.Count(logged.String(), "level=ERROR"); n != 1 {
		t.Fatalf("logged %d errors, want 1:\n%s", n, logged.String())
	}
}

// A client that goes away while its session is read is no failure of the
// server's: nothing is logged as an error, the handler does not run.
func TestClientGoneWhileLoading(t *testing.T) {
	var logged bytes.Buffer
	m, err := session.New(stallingStore{}, session.Options{StoreTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	h := m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	r.Header.Set("Cookie", m.CookieName()+"="+base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	time.AfterFunc(20*time.Millisecond, cancel)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if called {
		t.Fatal("the handler ran")
	}
	if strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), "client went away") {
		t.Fatalf("logged:\n%s", logged.String())
	}
}

// stallingFinder stalls every Find until its context is done, as a locked
// database would, but answers FindCached from its SQLite store's cache.
type stallingFinder struct{ *sqlitestore.Store }

func (stallingFinder) Find(ctx context.Context, _ session.ID) (session.Session, error) {
	<-ctx.Done()
	return session.Session{}, ctx.Err()
}

// A session the store has at hand (session.CachedFinder) is taken without
// a call to Find; one it does not have, or no longer has once it has been
// ended, goes to Find, within the store timeout.
func TestManagerTakesCachedSessions(t *testing.T) {
	st := newStore(t)
	e := newEnvOn(t, st, session.Options{})
	cookie := e.m.CookieName() + "=" + e.login()
	stalled, err := session.New(stallingFinder{st}, session.Options{StoreTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := stalled.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user="+session.UserID(r.Context()))
	}))
	get := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get(); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("before any Find: %d %s; want 503 (Find stalls)", w.Code, w.Body)
	}
	// A request through the store itself reads the session into its cache.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookie)
	if who, _ := e.whoami(r); who != "alice" {
		t.Fatalf("signed in as %q", who)
	}
	if w := get(); w.Code != 200 || w.Body.String() != "user=alice" {
		t.Fatalf("with the session cached: %d %s; want alice's answer without Find", w.Code, w.Body)
	}
	r = httptest.NewRequest("POST", "/logout", nil)
	r.Header.Set("Cookie", cookie)
	if w := e.serve(r); w.Code != 200 {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if w := get(); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("after sign-out: %d %s; want 503 (not cached any more, and Find stalls)", w.Code, w.Body)
	}
}

func TestOptionsValidated(t *testing.T) {
	st := newStore(t)
	for _, o := range []session.Options{
		{CookieName: "bad name"},
		{CookieName: "cb_session"},
		{CookieName: "__Host-"},
		{CookieName: "__Secure-cb"},
		{CookieName: "a;b"},
		{IdleTimeout: time.Millisecond},
		{IdleTimeout: time.Hour, AbsoluteTimeout: time.Minute},
		{TouchInterval: 20 * time.Minute},
		{TouchInterval: -time.Second},
	} {
		if _, err := session.New(st, o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	if _, err := session.New(nil, session.Options{}); err == nil {
		t.Error("New accepted a nil store")
	}
	m, err := session.New(st, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.IdleTimeout() != 30*time.Minute || m.AbsoluteTimeout() != 12*time.Hour || m.CookieName() != "__Host-cb_session" {
		t.Fatalf("defaults: %v %v %q", m.IdleTimeout(), m.AbsoluteTimeout(), m.CookieName())
	}
}

func TestCreateRejectsBadUserID(t *testing.T) {
	e := newEnv(t, session.Options{})
	for _, id := range []string{"", strings.Repeat("x", 256)} {
		if _, err := e.m.Create(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), session.Login{UserID: id}); err == nil {
			t.Errorf("Create accepted user id of %d bytes", len(id))
		}
	}
}

// Hostile metadata is clipped to valid UTF-8 of bounded size.
func TestMetadataClipped(t *testing.T) {
	e := newEnv(t, session.Options{})
	r := httptest.NewRequest("POST", "/login", nil)
	r.Header.Set("User-Agent", strings.Repeat("é", 400)+"\xff\xfe")
	s, err := e.m.Create(httptest.NewRecorder(), r, session.Login{UserID: "alice", Method: strings.Repeat("ü", 20)})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.UserAgent) > 512 || !utf8Valid(s.UserAgent) {
		t.Fatalf("user agent of %d bytes, valid UTF-8 %v", len(s.UserAgent), utf8Valid(s.UserAgent))
	}
	if len(s.Method) > 32 || !utf8Valid(s.Method) {
		t.Fatalf("method of %d bytes, valid UTF-8 %v", len(s.Method), utf8Valid(s.Method))
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// With no OnEvent hook, events go to the logger; neither the log nor any
// event ever holds a raw token.
func TestNoTokenInLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, session.Options{Logger: logger, OnEvent: func(context.Context, session.Event) {}})
	// Replace the hook so events are logged.
	m, err := session.New(e.st, session.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	var tokens []string
	rec := httptest.NewRecorder()
	if _, err := m.Create(rec, httptest.NewRequest("POST", "/", nil), session.Login{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	tok := rec.Result().Cookies()[0].Value
	tokens = append(tokens, tok)
	planted := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	tokens = append(tokens, planted)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/rotate" {
			if _, err := m.Rotate(w, r); err != nil {
				t.Error(err)
			}
			tokens = append(tokens, w.Header().Get("Set-Cookie"))
		}
		if r.URL.Path == "/logout" {
			m.Destroy(w, r)
		}
	}))
	for _, r := range []*http.Request{
		withCookie(httptest.NewRequest("GET", "/x?session_id="+tok, nil), m.CookieName(), planted),
		withCookie(httptest.NewRequest("POST", "/rotate", nil), m.CookieName(), tok),
		withCookie(httptest.NewRequest("POST", "/logout", nil), m.CookieName(), tok),
	} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	log := buf.String()
	for _, want := range []string{"session_created", "session_unknown_token", "session_token_in_url", "session_rotated"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	for _, tok := range tokens {
		v := tok
		if name, rest, ok := strings.Cut(tok, "="); ok && name == m.CookieName() {
			v, _, _ = strings.Cut(rest, ";")
		}
		if len(v) != 43 {
			t.Fatalf("bad token %q", v)
		}
		if strings.Contains(log, v) {
			t.Fatalf("the log holds a raw token:\n%s", log)
		}
	}
}

func TestParseID(t *testing.T) {
	id, ok := session.IDOfToken(base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	if !ok {
		t.Fatal("IDOfToken rejected a valid token")
	}
	got, err := session.ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseID(%s) = %v, %v", id, got, err)
	}
	for _, s := range []string{"", "zz", id.String()[:63], id.String() + "0", strings.Repeat("g", 64)} {
		if _, err := session.ParseID(s); !errors.Is(err, session.ErrBadID) {
			t.Errorf("ParseID(%q) = %v, want ErrBadID", s, err)
		}
	}
	if len(id.Short()) != 12 || !strings.HasPrefix(id.String(), id.Short()) {
		t.Fatalf("Short() = %q", id.Short())
	}
}

func TestParseHandle(t *testing.T) {
	h := session.NewHandle()
	if h.IsZero() || h == session.NewHandle() {
		t.Fatal("NewHandle is not random")
	}
	got, err := session.ParseHandle(h.String())
	if err != nil || got != h || len(h.String()) != 32 {
		t.Fatalf("ParseHandle(%s) = %v, %v", h, got, err)
	}
	for _, s := range []string{"", "zz", h.String()[:31], h.String() + "0", strings.Repeat("g", 32), strings.Repeat("0", 64)} {
		if got, err := session.ParseHandle(s); !errors.Is(err, session.ErrBadID) || !got.IsZero() {
			t.Errorf("ParseHandle(%q) = %v, %v; want the zero handle and ErrBadID", s, got, err)
		}
	}
	if len(h.Short()) != 12 || !strings.HasPrefix(h.String(), h.Short()) {
		t.Fatalf("Short() = %q", h.Short())
	}
}

func TestCSRFToken(t *testing.T) {
	e := newEnv(t, session.Options{})
	if got := session.CSRFToken(context.Background()); got != "" {
		t.Fatalf("anonymous CSRF token = %q", got)
	}
	var seen []string
	h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, session.CSRFToken(r.Context()))
		if r.URL.Path == "/rotate" {
			if _, err := e.m.Rotate(w, r); err != nil {
				t.Error(err)
			}
			seen = append(seen, session.CSRFToken(r.Context()))
		}
	}))
	tok := e.login()
	other := e.login()
	for _, path := range []string{"/a", "/a", "/rotate"} {
		h.ServeHTTP(httptest.NewRecorder(), withCookie(httptest.NewRequest("POST", path, nil), e.m.CookieName(), tok))
	}
	h.ServeHTTP(httptest.NewRecorder(), withCookie(httptest.NewRequest("GET", "/", nil), e.m.CookieName(), other))
	// seen: tok, tok, tok (before rotation), rotated, other. A token
	// replacement keeps the session, and forms opened before it work after.
	if len(seen) != 5 || seen[0] == "" || seen[0] != seen[1] || seen[1] != seen[2] || seen[3] != seen[2] {
		t.Fatalf("CSRF tokens = %q: want one stable token per session", seen)
	}
	if seen[4] == seen[0] {
		t.Fatal("two sessions share a CSRF token")
	}
	id, _ := session.IDOfToken(tok)
	s, err := e.st.Find(context.Background(), id)
	if err == nil {
		t.Fatal("the rotated-away token still names a session")
	}
	list, err := e.st.List(context.Background(), "alice", time.Now())
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d sessions, %v", len(list), err)
	}
	for _, s = range list {
		secret := base64.RawURLEncoding.EncodeToString(s.Secret[:])
		if strings.Contains(seen[0], tok) || seen[0] == id.String() || seen[0] == secret || seen[0] == s.Handle.String() {
			t.Fatal("the CSRF token reveals the session token, its stored ID, secret or handle")
		}
	}
	// Anonymous requests get none.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if seen[len(seen)-1] != "" {
		t.Fatal("an anonymous request got a CSRF token")
	}
}

// A handler behind another middleware parses a copy of the request; it
// reports the form itself, once.
func TestReportFormParamsOnCopy(t *testing.T) {
	e := newEnv(t, session.Options{})
	h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), struct{}{}, 1))
		r.ParseForm()
		e.m.ReportFormParams(r)
		e.m.ReportFormParams(r)
	}))
	r := httptest.NewRequest("POST", "/", strings.NewReader("PHPSESSID=abc&sid=1&name=x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(httptest.NewRecorder(), r)
	evs := e.eventsOf(session.EventTokenInURL)
	if len(evs) != 1 || evs[0].Detail != "form parameter phpsessid, form parameter sid" {
		t.Fatalf("events = %+v", evs)
	}
}

// A request with many copies of the cookie costs a bounded number of store
// operations at logout.
func TestDestroyBoundsCarriedTokens(t *testing.T) {
	e := newEnv(t, session.Options{})
	cs := &countingDeletes{Store: e.st}
	m, err := session.New(cs, session.Options{OnEvent: func(context.Context, session.Event) {}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for range 1000 {
		parts = append(parts, m.CookieName()+"="+base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{byte(len(parts))}, 32)))
	}
	r := httptest.NewRequest("POST", "/logout", nil)
	r.Header.Set("Cookie", strings.Join(parts, "; "))
	if err := m.Destroy(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	if cs.deletes > 2 || cs.finds > 0 {
		t.Fatalf("logout with 1000 cookies did %d deletes and %d finds, want at most 2 and 0", cs.deletes, cs.finds)
	}
}

type countingDeletes struct {
	session.Store
	deletes, finds int
}

func (c *countingDeletes) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	c.deletes++
	return c.Store.Delete(ctx, id, now, why)
}

func (c *countingDeletes) Find(ctx context.Context, id session.ID) (session.Session, error) {
	c.finds++
	return c.Store.Find(ctx, id)
}

// Only the canonical encoding of 32 bytes is a token: a last character
// with stray low bits decodes to the same bytes without Strict, and must
// be refused.
func TestNonCanonicalTokenRefused(t *testing.T) {
	canonical := strings.Repeat("A", 43)
	if _, ok := session.IDOfToken(canonical); !ok {
		t.Fatal("canonical token refused")
	}
	for _, tok := range []string{strings.Repeat("A", 42) + "B", strings.Repeat("A", 42) + "D", strings.Repeat("A", 42) + "-"} {
		if _, ok := session.IDOfToken(tok); ok {
			t.Errorf("non-canonical token %q accepted", tok)
		}
	}
}

// A real token sent in a malformed cookie (quoted, cut short, with junk)
// is refused, and it reaches neither the events nor the log.
func TestMalformedCookieNotLogged(t *testing.T) {
	var buf bytes.Buffer
	var events []session.Event
	st := newStore(t)
	m, err := session.New(st, session.Options{
		Logger:  slog.New(slog.NewTextHandler(&buf, nil)),
		OnEvent: func(_ context.Context, ev session.Event) { events = append(events, ev) },
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := m.Create(rec, httptest.NewRequest("POST", "/", nil), session.Login{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	tok := rec.Result().Cookies()[0].Value
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.UserID(r.Context()) != "" {
			t.Errorf("malformed cookie authenticated: %q", r.Header.Get("Cookie"))
		}
	}))
	for _, v := range []string{`"` + tok + `"`, tok[:40], tok + "x", " " + tok + "\x00"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", m.CookieName()+"="+v)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(events) != 5 { // created + four refusals
		t.Fatalf("%d events, want 5", len(events))
	}
	for _, ev := range events {
		if strings.Contains(fmt.Sprintf("%+v", ev), tok[:20]) {
			t.Fatalf("event holds the token: %+v", ev)
		}
	}
	if strings.Contains(buf.String(), tok[:20]) {
		t.Fatalf("log holds the token:\n%s", buf.String())
	}
}

func TestMaxSessionsOption(t *testing.T) {
	for _, tc := range []struct {
		set, want int // Options.MaxSessions, and what the Manager keeps to
		signIns   int
	}{
		{0, session.DefaultMaxSessions, session.DefaultMaxSessions + 2},
		{1, 1, 3},
		{-1, -1, session.DefaultMaxSessions + 5},
	} {
		t.Run(strconv.Itoa(tc.set), func(t *testing.T) {
			e := newEnv(t, session.Options{MaxSessions: tc.set})
			if got := e.m.MaxSessions(); got != tc.want {
				t.Fatalf("MaxSessions() = %d, want %d", got, tc.want)
			}
			for range tc.signIns {
				e.login()
			}
			list, err := e.m.Sessions(context.Background(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			want := min(tc.signIns, tc.want)
			if tc.want < 0 {
				want = tc.signIns
			}
			if len(list) != want {
				t.Fatalf("%d sign-ins left %d sessions, want %d", tc.signIns, len(list), want)
			}
			if n := len(e.eventsOf(session.EventEvicted)); n != tc.signIns-want {
				t.Fatalf("%d evictions, want %d", n, tc.signIns-want)
			}
		})
	}
}

type wantEvent struct {
	kind   session.EventKind
	detail string
}

// eventsSince returns the kind and detail of the events after the first n.
func (e *env) eventsSince(n int) []wantEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []wantEvent
	for _, ev := range e.events[n:] {
		out = append(out, wantEvent{ev.Kind, ev.Detail})
	}
	return out
}

func (e *env) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events)
}

// Events say what happened in words a person reviewing an audit log
// understands, and never carry a token.
func TestEventDetails(t *testing.T) {
	ctx := context.Background()
	planted := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	plantedID, _ := session.IDOfToken(planted)
	refusedBefore := "within the hour before this sign-in, the browser was refused: "
	for _, tc := range []struct {
		name string
		opts session.Options
		// run does the setup and returns an action; the events of the
		// action are compared with want.
		run func(e *env, clock *storetest.Clock) (action func(), want []wantEvent)
	}{
		{"sign-in", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.login() }, []wantEvent{{session.EventCreated, "password"}}
		}},
		{"sign-in replacing a session", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			return func() { e.post("/login", e.m.CookieName()+"="+tok) }, []wantEvent{
				{session.EventDestroyed, "replaced by a new sign-in in the same browser"},
				{session.EventCreated, "password"},
			}
		}},
		{"stale epoch", session.Options{Epoch: func(context.Context, string) (int64, error) { return 4, nil }}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.post("/login", "", "X-Epoch", "3") }, []wantEvent{
				{session.EventDestroyed, "credentials changed while signing in"},
			}
		}},
		{"rotation", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			return func() { e.post("/rotate", e.m.CookieName()+"="+tok) }, []wantEvent{{session.EventRotated, "token replaced"}}
		}},
		{"re-authentication", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			return func() { e.post("/reauth", e.m.CookieName()+"="+tok) }, []wantEvent{{session.EventRotated, "re-authenticated; token replaced"}}
		}},
		{"sign-out", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			return func() { e.post("/logout", e.m.CookieName()+"="+tok) }, []wantEvent{{session.EventDestroyed, "signed out"}}
		}},
		{"token of a signed-out session", session.Options{}, func(e *env, clock *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			e.post("/logout", e.m.CookieName()+"="+tok)
			clock.Advance(time.Minute)
			return func() { e.get(e.m.CookieName() + "=" + tok) }, []wantEvent{
				{session.EventEndedToken, "its session had ended: signed out"},
			}
		}},
		{"revocation of one", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			id, _ := session.IDOfToken(e.login())
			s, err := e.st.Find(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			revoke := func() {
				if err := e.m.Revoke(ctx, nil, "alice", s.Handle, "revoked by an administrator"); err != nil {
					t.Fatal(err)
				}
			}
			return revoke, []wantEvent{{session.EventRevoked, "1 session revoked by an administrator"}}
		}},
		{"revocation of all", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			e.login()
			e.login()
			revoke := func() {
				for range 2 { // the second finds none and says nothing
					if _, err := e.m.RevokeAll(ctx, "alice", "revoked after a password change"); err != nil {
						t.Fatal(err)
					}
				}
			}
			return revoke, []wantEvent{{session.EventRevoked, "2 sessions revoked after a password change"}}
		}},
		{"eviction", session.Options{MaxSessions: 1}, func(e *env, clock *storetest.Clock) (func(), []wantEvent) {
			e.login()
			at := clock.Now().Format(time.RFC3339)
			clock.Advance(10 * time.Minute)
			return func() { e.login() }, []wantEvent{
				{session.EventCreated, "password"},
				{session.EventEvicted, "the least recently used session (last active " + at + ") was ended: a new sign-in went past the limit of 1"},
			}
		}},
		{"idle timeout", session.Options{}, func(e *env, clock *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			clock.Advance(30 * time.Minute)
			return func() { e.get(e.m.CookieName() + "=" + tok) }, []wantEvent{{session.EventExpired, "idle timeout"}}
		}},
		{"absolute timeout", session.Options{AbsoluteTimeout: time.Hour}, func(e *env, clock *storetest.Clock) (func(), []wantEvent) {
			tok := e.login()
			for range 2 {
				clock.Advance(25 * time.Minute)
				e.get(e.m.CookieName() + "=" + tok)
			}
			clock.Advance(10 * time.Minute)
			return func() { e.get(e.m.CookieName() + "=" + tok) }, []wantEvent{{session.EventExpired, "absolute timeout"}}
		}},
		{"never-issued token", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.get(e.m.CookieName() + "=" + planted) }, []wantEvent{{session.EventUnknownToken, "unknown token"}}
		}},
		{"malformed token", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.get(e.m.CookieName() + "=" + planted[1:]) }, []wantEvent{{session.EventUnknownToken, "malformed token"}}
		}},
		{"duplicate cookie", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			c := e.m.CookieName() + "=" + planted
			return func() { e.get(c + "; " + c) }, []wantEvent{{session.EventDuplicateCookie, "cookie sent more than once"}}
		}},
		{"sign-in after a never-issued token", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.post("/login", e.m.CookieName()+"-refused=unknown-"+plantedID.Short()) }, []wantEvent{
				{session.EventCreated, "password"},
				{session.EventForeignToken, refusedBefore + "it presented a session token that was never issued (" + plantedID.Short() + ")"},
			}
		}},
		{"sign-in after a malformed token", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.post("/login", e.m.CookieName()+"-refused=malformed") }, []wantEvent{
				{session.EventCreated, "password"},
				{session.EventForeignToken, refusedBefore + "it presented a malformed session token"},
			}
		}},
		{"sign-in after a duplicate cookie", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.post("/login", e.m.CookieName()+"-refused=duplicate") }, []wantEvent{
				{session.EventCreated, "password"},
				{session.EventForeignToken, refusedBefore + "it sent the session cookie twice"},
			}
		}},
		{"sign-in carrying a never-issued token", session.Options{}, func(e *env, _ *storetest.Clock) (func(), []wantEvent) {
			return func() { e.post("/login", e.m.CookieName()+"="+planted) }, []wantEvent{
				{session.EventUnknownToken, "unknown token"},
				{session.EventCreated, "password"},
				{session.EventForeignToken, "with this sign-in, the browser was refused: it presented a session token that was never issued (" + plantedID.Short() + ")"},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := storetest.NewClock()
			tc.opts.Now = clock.Now
			e := newEnv(t, tc.opts)
			action, want := tc.run(e, clock)
			n := e.mark()
			action()
			if got := e.eventsSince(n); !slices.Equal(got, want) {
				t.Fatalf("events\n\t%q\nwant\n\t%q", got, want)
			}
		})
	}
}

// get serves a GET with the given Cookie header.
func (e *env) get(cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/whoami", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return e.serve(r)
}

// post serves a POST to path with the given Cookie header and header
// name/value pairs.
func (e *env) post(path, cookie string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return e.serve(r)
}

// The marker of a refused token is a __Host- cookie with the session
// cookie's attributes and a lifetime, it holds no token, and a sign-in
// clears it.
func TestRefusedMarkerCookie(t *testing.T) {
	planted := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	id, _ := session.IDOfToken(planted)
	const attrs = "; Path=/; HttpOnly; Secure; SameSite=Lax"
	for _, name := range []string{"", "__Host-app"} {
		e := newEnv(t, session.Options{CookieName: name})
		name := e.m.CookieName()
		marker := name + "-refused"
		if !strings.HasPrefix(marker, "__Host-") {
			t.Fatalf("marker %q lacks the __Host- prefix", marker)
		}
		cleared := name + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
		clearedIssued := name + "-issued=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
		for _, tc := range []struct{ cookie, value string }{
			{name + "=" + planted, "unknown-" + id.Short()},
			{name + "=" + planted[:42], "malformed"},
			{name + "=" + planted + "; " + name + "=" + planted, "duplicate"},
		} {
			w := e.get(tc.cookie)
			want := []string{cleared, clearedIssued, marker + "=" + tc.value + "; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"}
			if got := w.Result().Header["Set-Cookie"]; !slices.Equal(got, want) {
				t.Errorf("cookie %q: Set-Cookie\n\t%q\nwant\n\t%q", tc.cookie, got, want)
			}
		}

		clearedMarker := marker + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
		for _, cookie := range []string{marker + "=malformed", name + "=" + planted, name + "=" + planted + "; " + marker + "=duplicate"} {
			lines := e.post("/login", cookie).Result().Header["Set-Cookie"]
			if len(lines) != 3 || !slices.Contains(lines, clearedMarker) ||
				!slices.ContainsFunc(lines, func(l string) bool {
					return strings.HasPrefix(l, name+"=") && strings.HasSuffix(l, attrs) && len(l) == len(name)+1+43+len(attrs)
				}) {
				t.Errorf("sign-in with cookie %q: Set-Cookie %q, want a new session cookie and %q", cookie, lines, clearedMarker)
			}
		}
	}
}

// A browser whose own session expired and was swept is not taken for one
// carrying a planted token: no marker, and the reason is "expired".
func TestSweptOwnSessionIsNotForeign(t *testing.T) {
	for _, tc := range []struct {
		name    string
		issued  bool
		foreign bool
	}{{"own session", true, false}, {"planted token", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := storetest.NewClock()
			e := newEnv(t, session.Options{Now: clock.Now})
			w := e.post("/login", "")
			var cookies []string
			for _, c := range w.Result().Cookies() {
				if tc.issued || !strings.HasSuffix(c.Name, "-issued") {
					cookies = append(cookies, c.Name+"="+c.Value)
				}
			}
			clock.Advance(time.Hour)
			if n, err := e.m.Sweep(context.Background()); err != nil || n != 1 {
				t.Fatalf("Sweep: %d, %v", n, err)
			}
			lines := e.get(strings.Join(cookies, "; ")).Result().Header["Set-Cookie"]
			marked := slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "__Host-cb_session-refused=unknown-") })
			if marked != tc.foreign {
				t.Fatalf("Set-Cookie %q: marker set %v, want %v", lines, marked, tc.foreign)
			}
			if got := len(e.eventsOf(session.EventExpired)); (got == 1) == tc.foreign {
				t.Fatalf("%d expired events, foreign %v", got, tc.foreign)
			}
		})
	}
}

// A session used from another client, as Options.ClientChanged tells, is
// ended; the same client under another User-Agent string (an update) and
// other addresses are not a reason.
func TestClientChanged(t *testing.T) {
	var calls [][2]string
	e := newEnv(t, session.Options{ClientChanged: func(signedIn, now string) string {
		calls = append(calls, [2]string{signedIn, now})
		if strings.HasPrefix(now, "Other") {
			return "A became B"
		}
		return ""
	}})
	login := httptest.NewRequest("POST", "/login", nil)
	login.Header.Set("User-Agent", "Browser/1")
	tok := ""
	for _, c := range e.serve(login).Result().Cookies() {
		if c.Name == e.m.CookieName() {
			tok = c.Value
		}
	}
	use := func(ua, ip string) string {
		r := httptest.NewRequest("GET", "/whoami", nil)
		r.Header.Set("Cookie", e.m.CookieName()+"="+tok)
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = ip + ":1234"
		return e.serve(r).Body.String()
	}
	if got := use("Browser/1", "203.0.113.9"); got != "user=alice" || len(calls) != 0 {
		t.Fatalf("same User-Agent from another address: %q, %d calls", got, len(calls))
	}
	if got := use("Browser/2", "192.0.2.1"); got != "user=alice" || len(calls) != 1 || calls[0] != [2]string{"Browser/1", "Browser/2"} {
		t.Fatalf("an update: %q, calls %q", got, calls)
	}
	if got := use("Other/1", "192.0.2.1"); got != "user=" {
		t.Fatalf("another client: %q, want signed out", got)
	}
	evs := e.eventsOf(session.EventClientChanged)
	if len(evs) != 1 || evs[0].UserID != "alice" || !strings.Contains(evs[0].Detail, "A became B") || evs[0].UserAgent != "Other/1" {
		t.Fatalf("events: %+v", evs)
	}
	// Ended for the owner too, with its reason remembered.
	if got := use("Browser/1", "192.0.2.1"); got != "user=" {
		t.Fatalf("the owner's client after the session was ended: %q", got)
	}
	if evs := e.eventsOf(session.EventEndedToken); len(evs) != 1 || !strings.Contains(evs[0].Detail, "another browser or system (A became B)") {
		t.Fatalf("ended-token events: %+v", evs)
	}
}
