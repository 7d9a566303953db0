package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// managerCases check a Manager on the store end to end.
var managerCases = []testCase{
	{"manager_planted_token", testManagerPlantedToken},
	{"manager_login_replaces_session", testManagerLoginReplaces},
	{"manager_rotate", testManagerRotate},
	{"manager_logout", testManagerLogout},
	{"manager_idle_timeout", testManagerIdleTimeout},
	{"manager_absolute_timeout", testManagerAbsoluteTimeout},
	{"manager_touch_interval", testManagerTouchInterval},
	{"manager_logout_race", testManagerLogoutRace},
	{"manager_revoke", testManagerRevoke},
	{"manager_raw_token_not_stored", testManagerRawTokenNotStored},
	{"manager_sweep", testManagerSweep},
	{"epoch_stale_refused", testEpochStaleRefused},
	{"epoch_race", testEpochRace},
	{"max_sessions", testMaxSessions},
	{"reauthenticated", testReauthenticated},
	{"ended_token", testEndedToken},
	{"foreign_token_marker", testForeignTokenMarker},
}

// app is a minimal web app on a Manager, driven through its handler.
type app struct {
	t     *testing.T
	m     *session.Manager
	clock *Clock
	h     http.Handler

	mu     sync.Mutex
	events []session.Event
}

// newApp builds the app on st. opts may set anything but Now and OnEvent,
// which the app provides.
func newApp(t *testing.T, st session.Store, opts session.Options) *app {
	return newAppAt(t, st, opts, NewClock())
}

// newAppAt is newApp on the given clock: several apps on one store and
// one clock are instances of one site.
func newAppAt(t *testing.T, st session.Store, opts session.Options, clock *Clock) *app {
	a := &app{t: t, clock: clock}
	opts.Now = a.clock.Now
	opts.OnEvent = func(_ context.Context, ev session.Event) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.events = append(a.events, ev)
	}
	m, err := session.New(st, opts)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	a.m = m
	// The user and their credential epoch come in headers: the suite tests
	// sessions, not password checks.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		epoch, _ := strconv.ParseInt(r.Header.Get("X-Epoch"), 10, 64)
		l := session.Login{UserID: r.Header.Get("X-User"), Epoch: epoch, Method: "password"}
		if _, err := m.Create(w, r, l); err != nil {
			httpError(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		if why, ok := session.EndReason(r.Context()); ok {
			w.Header().Set("X-Ended", why)
		}
		if id := session.UserID(r.Context()); id != "" {
			io.WriteString(w, id)
			return
		}
		io.WriteString(w, "anonymous")
	})
	mux.HandleFunc("GET /csrf", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.CSRFToken(r.Context()))
	})
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Rotate(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		epoch, _ := strconv.ParseInt(r.Header.Get("X-Epoch"), 10, 64)
		if _, err := m.Reauthenticated(w, r, epoch); err != nil {
			httpError(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.RevokeOthers(r, "revoked from another session")
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		io.WriteString(w, strconv.Itoa(n))
	})
	// One of the user's own sessions, ended from the list of sessions.
	mux.Handle("POST /sessions/revoke", m.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := session.ParseHandle(r.Header.Get("X-Session"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := m.Revoke(r.Context(), r, session.UserID(r.Context()), h, r.Header.Get("X-Why")); err != nil {
			httpError(w, err)
			return
		}
		io.WriteString(w, "ok")
	})))
	a.h = m.Middleware(mux)
	return a
}

// httpError answers with a status the tests can tell apart.
func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, session.ErrNoSession):
		code = http.StatusUnauthorized
	case errors.Is(err, session.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, session.ErrStaleEpoch):
		code = http.StatusConflict
	}
	http.Error(w, err.Error(), code)
}

// send serves one request with the given Cookie header (none if empty) and
// header name/value pairs.
func (a *app) send(method, path, cookie string, header ...string) *http.Response {
	a.t.Helper()
	return a.sendFrom("192.0.2.1", method, path, cookie, header...)
}

// sendFrom is send from the client address ip.
func (a *app) sendFrom(ip, method, path, cookie string, header ...string) *http.Response {
	a.t.Helper()
	r := httptest.NewRequest(method, "https://example.test"+path, nil)
	r.RemoteAddr = ip + ":4321"
	r.Header.Set("User-Agent", "storetest")
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Result()
}

// cookie returns a Cookie header carrying token (none if empty).
func (a *app) cookie(token string) string {
	if token == "" {
		return ""
	}
	return a.m.CookieName() + "=" + token
}

// do serves one request carrying the given session token (none if empty).
func (a *app) do(method, path, token string) *http.Response {
	a.t.Helper()
	return a.send(method, path, a.cookie(token))
}

func (a *app) whoami(token string) string {
	a.t.Helper()
	resp := a.do("GET", "/whoami", token)
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET /whoami: status %d: %s", resp.StatusCode, body)
	}
	return body
}

func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// login signs user in at credential epoch 0 from a browser carrying the
// given token (none if empty), and returns the new token.
func (a *app) login(user, carried string) string {
	a.t.Helper()
	return a.signIn(user, 0, a.cookie(carried))
}

// signIn signs user in at the given epoch, with the given Cookie header,
// and returns the new token.
func (a *app) signIn(user string, epoch int64, cookie string) string {
	a.t.Helper()
	resp := a.send("POST", "/login", cookie, "X-User", user, "X-Epoch", strconv.FormatInt(epoch, 10))
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("login %s: status %d: %s", user, resp.StatusCode, readBody(resp))
	}
	tok := a.sessionCookie(resp)
	if tok == nil || tok.Value == "" {
		a.t.Fatalf("login %s set no session cookie", user)
	}
	return tok.Value
}

// sessionCookie returns the session cookie the response sets, if any.
func (a *app) sessionCookie(resp *http.Response) *http.Cookie {
	return a.cookieNamed(resp, a.m.CookieName())
}

// cookieNamed returns the cookie called name that the response sets, if
// any; setting it twice is a failure.
func (a *app) cookieNamed(resp *http.Response, name string) *http.Cookie {
	a.t.Helper()
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			if found != nil {
				a.t.Fatalf("response sets cookie %s twice: %q", name, resp.Header["Set-Cookie"])
			}
			found = c
		}
	}
	return found
}

func (a *app) wantCleared(resp *http.Response) {
	a.t.Helper()
	c := a.sessionCookie(resp)
	if c == nil || c.Value != "" || c.MaxAge >= 0 {
		a.t.Fatalf("response does not clear the session cookie: %q", resp.Header["Set-Cookie"])
	}
}

func (a *app) lastEvent(kind session.EventKind) (session.Event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.events) - 1; i >= 0; i-- {
		if a.events[i].Kind == kind {
			return a.events[i], true
		}
	}
	return session.Event{}, false
}

func (a *app) wantEvent(kind session.EventKind, detail string) session.Event {
	a.t.Helper()
	ev, ok := a.lastEvent(kind)
	if !ok {
		a.t.Fatalf("no %s event; got %+v", kind, a.events)
	}
	if detail != "" && ev.Detail != detail {
		a.t.Fatalf("%s event detail = %q, want %q", kind, ev.Detail, detail)
	}
	return ev
}

// mark returns a position in the events, for eventsSince.
func (a *app) mark() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.events)
}

// eventsSince returns the events reported after mark, of the given kinds
// (all if none).
func (a *app) eventsSince(mark int, kinds ...session.EventKind) []session.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []session.Event
	for _, ev := range a.events[mark:] {
		if len(kinds) == 0 || slices.Contains(kinds, ev.Kind) {
			out = append(out, ev)
		}
	}
	return out
}

func idOf(t testing.TB, token string) session.ID {
	t.Helper()
	id, ok := session.IDOfToken(token)
	if !ok {
		t.Fatalf("malformed token %q", token)
	}
	return id
}

// handleOf returns the handle of the live session with the given token.
func handleOf(t testing.TB, st session.Store, token string) session.Handle {
	t.Helper()
	return mustFind(t, st, idOf(t, token)).Handle
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// The seeds' attack: a token chosen by the attacker is never adopted,
// neither before nor after the victim logs in with it.
func testManagerPlantedToken(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	planted := randomToken()
	resp := a.do("GET", "/whoami", planted)
	a.wantCleared(resp)
	if ev := a.wantEvent(session.EventUnknownToken, "unknown token"); ev.ClientIP != "192.0.2.1" || ev.UserAgent != "storetest" {
		t.Fatalf("event lacks client details: %+v", ev)
	}

	tok := a.login("alice", planted)
	if tok == planted {
		t.Fatal("login kept the planted token")
	}
	if got := a.whoami(planted); got != "anonymous" {
		t.Fatalf("planted token authenticates as %q after login", got)
	}
	mustBeGone(t, h.Store, idOf(t, planted))
	if got := a.whoami(tok); got != "alice" {
		t.Fatalf("issued token authenticates as %q, want alice", got)
	}
}

func testManagerLoginReplaces(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	first := a.login("alice", "")
	second := a.login("bob", first)
	if got := a.whoami(first); got != "anonymous" {
		t.Fatalf("session carried into a new login still authenticates as %q", got)
	}
	mustBeGone(t, h.Store, idOf(t, first))
	a.wantEvent(session.EventDestroyed, "replaced by a new sign-in in the same browser")
	if got := a.whoami(second); got != "bob" {
		t.Fatalf("new session authenticates as %q, want bob", got)
	}
}

func testManagerRotate(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	old := a.login("alice", "")
	resp := a.do("POST", "/rotate", old)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: status %d", resp.StatusCode)
	}
	c := a.sessionCookie(resp)
	if c == nil || c.Value == "" || c.Value == old {
		t.Fatalf("rotate set no new token: %q", resp.Header["Set-Cookie"])
	}
	if got := a.whoami(old); got != "anonymous" {
		t.Fatalf("old token authenticates as %q after rotation", got)
	}
	if got := a.whoami(c.Value); got != "alice" {
		t.Fatalf("rotated token authenticates as %q, want alice", got)
	}
	a.wantEvent(session.EventRotated, "")
	if resp := a.do("POST", "/rotate", old); resp.StatusCode != http.StatusConflict {
		t.Fatalf("rotating a dead token: status %d, want 409", resp.StatusCode)
	}
}

func testManagerLogout(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	tok := a.login("alice", "")
	other := a.login("alice", "")
	resp := a.do("POST", "/logout", tok)
	a.wantCleared(resp)
	if got := resp.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Fatalf("Clear-Site-Data = %q", got)
	}
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("token replayed after logout authenticates as %q", got)
	}
	mustBeGone(t, h.Store, idOf(t, tok))
	a.wantEvent(session.EventDestroyed, "signed out")
	if got := a.whoami(other); got != "alice" {
		t.Fatalf("logout ended the user's other session too (got %q)", got)
	}
}

func testManagerIdleTimeout(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	tok := a.login("alice", "")
	for range 3 { // each use within the idle timeout extends it
		a.clock.Advance(29 * time.Minute)
		if got := a.whoami(tok); got != "alice" {
			t.Fatalf("session used within the idle timeout: got %q", got)
		}
	}
	a.clock.Advance(30 * time.Minute)
	resp := a.do("GET", "/whoami", tok)
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "anonymous" {
		t.Fatalf("session idle for 30 minutes still authenticates as %q", body)
	}
	a.wantCleared(resp)
	if ev := a.wantEvent(session.EventExpired, "idle timeout"); ev.UserID != "alice" {
		t.Fatalf("expiry event user = %q", ev.UserID)
	}
	if got := resp.Header.Get("X-Ended"); got != "idle timeout" {
		t.Fatalf("EndReason = %q, want idle timeout", got)
	}
	mustBeGone(t, h.Store, idOf(t, tok))
}

func testManagerAbsoluteTimeout(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	tok := a.login("alice", "")
	for elapsed := 10 * time.Minute; elapsed < 12*time.Hour; elapsed += 10 * time.Minute {
		a.clock.Advance(10 * time.Minute)
		resp := a.do("GET", "/whoami", tok)
		if got := readBody(resp); got != "alice" {
			t.Fatalf("busy session ended after %v (got %q)", elapsed, got)
		}
		if c := a.sessionCookie(resp); c != nil {
			tok = c.Value // rotation, as a browser takes it
		}
	}
	a.clock.Advance(10 * time.Minute) // 12h since login
	resp := a.do("GET", "/whoami", tok)
	if got := readBody(resp); got != "anonymous" {
		t.Fatalf("session still authenticates as %q at its absolute deadline", got)
	}
	a.wantEvent(session.EventExpired, "absolute timeout")
	if got := resp.Header.Get("X-Ended"); got != "absolute timeout" {
		t.Fatalf("EndReason = %q, want absolute timeout", got)
	}
}

// countingStore counts writes and can run a hook after a Find or before a
// Create, once.
type countingStore struct {
	session.Store
	touches      atomic.Int32
	misses       atomic.Int32 // touches that found no live session
	afterFind    func(id session.ID)
	beforeCreate func()
}

func (s *countingStore) Create(ctx context.Context, ss session.Session) error {
	if f := s.beforeCreate; f != nil {
		s.beforeCreate = nil
		f()
	}
	return s.Store.Create(ctx, ss)
}

func (s *countingStore) Find(ctx context.Context, id session.ID) (session.Session, error) {
	ss, err := s.Store.Find(ctx, id)
	if f := s.afterFind; f != nil {
		s.afterFind = nil
		f(id)
	}
	return ss, err
}

func (s *countingStore) Touch(ctx context.Context, id session.ID, now, before, idle time.Time, ip string) error {
	s.touches.Add(1)
	err := s.Store.Touch(ctx, id, now, before, idle, ip)
	if errors.Is(err, session.ErrNotFound) {
		s.misses.Add(1)
	}
	return err
}

// An authenticated read within the touch interval writes nothing.
func testManagerTouchInterval(t *testing.T, h Harness) {
	cs := &countingStore{Store: h.Store}
	a := newApp(t, cs, session.Options{})
	tok := a.login("alice", "")
	created := mustFind(t, h.Store, idOf(t, tok))
	for range 10 {
		a.clock.Advance(5 * time.Second)
		if got := a.whoami(tok); got != "alice" {
			t.Fatalf("got %q", got)
		}
	}
	if n := cs.touches.Load(); n != 0 {
		t.Fatalf("%d touches within the touch interval, want 0", n)
	}
	wantSession(t, mustFind(t, h.Store, idOf(t, tok)), created)
	a.clock.Advance(15 * time.Second) // 65s since login: past the 1-minute interval
	a.whoami(tok)
	if n := cs.touches.Load(); n != 1 {
		t.Fatalf("%d touches after the interval, want 1", n)
	}
	if got := mustFind(t, h.Store, idOf(t, tok)); !got.LastSeenAt.Equal(a.clock.Now()) {
		t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, a.clock.Now())
	}
}

// A request loads the session, a concurrent logout deletes it, and the
// first request then touches it: the session stays dead.
func testManagerLogoutRace(t *testing.T, h Harness) {
	cs := &countingStore{Store: h.Store}
	a := newApp(t, cs, session.Options{})
	tok := a.login("alice", "")
	a.clock.Advance(2 * time.Minute) // the next request will touch
	var logout *http.Response
	cs.afterFind = func(session.ID) { logout = a.do("POST", "/logout", tok) }
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("request in flight during logout ended as %q", got)
	}
	if logout == nil || logout.StatusCode != http.StatusOK {
		t.Fatal("the concurrent logout did not run")
	}
	if n := cs.misses.Load(); n != 1 {
		t.Fatalf("touches of the dead session = %d, want 1 (the race was not exercised)", n)
	}
	mustBeGone(t, h.Store, idOf(t, tok))
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("session came back after logout as %q", got)
	}
}

func testManagerRevoke(t *testing.T, h Harness) {
	ctx := context.Background()
	a := newApp(t, h.Store, session.Options{})
	one := a.login("alice", "")
	two := a.login("alice", "")
	bob := a.login("bob", "")
	list, err := a.m.Sessions(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("Sessions(alice) = %v, %v; want 2", ids(list), err)
	}
	if err := a.m.Revoke(ctx, nil, "bob", handleOf(t, h.Store, one), "revoked by an administrator"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("bob revoked alice's session: %v", err)
	}
	if got := a.whoami(one); got != "alice" {
		t.Fatalf("got %q", got)
	}
	if err := a.m.Revoke(ctx, nil, "alice", handleOf(t, h.Store, one), "revoked by an administrator"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := a.whoami(one); got != "anonymous" {
		t.Fatalf("revoked session authenticates as %q", got)
	}
	three := a.login("alice", "")
	resp := a.do("POST", "/revoke-others", two)
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "1" {
		t.Fatalf("revoke-others ended %s sessions, want 1", body)
	}
	if a.whoami(three) != "anonymous" || a.whoami(two) != "alice" {
		t.Fatal("revoke-others ended the wrong sessions")
	}
	if n, err := a.m.RevokeAll(ctx, "alice", "revoked by an administrator"); err != nil || n != 1 {
		t.Fatalf("RevokeAll = %d, %v; want 1", n, err)
	}
	if a.whoami(two) != "anonymous" || a.whoami(bob) != "bob" {
		t.Fatal("RevokeAll ended the wrong sessions")
	}
	a.wantEvent(session.EventRevoked, "1 session revoked by an administrator")
}

// The raw token, in any encoding, appears nowhere in what the store holds.
func testManagerRawTokenNotStored(t *testing.T, h Harness) {
	if h.Dump == nil {
		t.Fatal("the harness has no Dump")
	}
	a := newApp(t, h.Store, session.Options{})
	var tokens []string
	for _, user := range []string{"alice", "bob"} {
		tokens = append(tokens, a.login(user, ""))
	}
	resp := a.do("POST", "/rotate", tokens[0])
	rotated := a.sessionCookie(resp)
	if rotated == nil {
		t.Fatal("rotate set no cookie")
	}
	tokens = append(tokens, rotated.Value)
	a.clock.Advance(2 * time.Minute)
	a.whoami(rotated.Value) // a touch, so the write path is covered too

	dump, err := h.Dump(context.Background())
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	lower := bytes.ToLower(dump)
	for _, tok := range tokens[1:] {
		id := idOf(t, tok)
		// The dump must hold the ID, or this test proves nothing.
		if !bytes.Contains(dump, id[:]) && !bytes.Contains(lower, []byte(id.String())) {
			t.Fatalf("the dump does not contain session %s: it does not cover the store", id.Short())
		}
	}
	for _, tok := range tokens {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		forms := map[string][]byte{
			"token":         []byte(tok),
			"raw bytes":     raw,
			"hex":           []byte(hex.EncodeToString(raw)),
			"std base64":    []byte(base64.StdEncoding.EncodeToString(raw)),
			"token (lower)": []byte(strings.ToLower(tok)),
		}
		for name, form := range forms {
			if bytes.Contains(dump, form) || bytes.Contains(lower, bytes.ToLower(form)) {
				t.Fatalf("the store holds the raw token (%s)", name)
			}
		}
	}
}

func testManagerSweep(t *testing.T, h Harness) {
	ctx := context.Background()
	a := newApp(t, h.Store, session.Options{})
	var old []string
	for range 3 {
		old = append(old, a.login("alice", ""))
	}
	a.clock.Advance(20 * time.Minute)
	fresh := a.login("alice", "")
	a.clock.Advance(11 * time.Minute) // the first three are idle for 31 minutes
	n, err := a.m.Sweep(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3", n, err)
	}
	for _, tok := range old {
		mustBeGone(t, h.Store, idOf(t, tok))
	}
	if got := a.whoami(fresh); got != "alice" {
		t.Fatalf("sweep ended a live session (got %q)", got)
	}
}

// epochHook is an Options.Epoch that answers the epoch it holds, or err.
type epochHook struct {
	epoch atomic.Int64
	mu    sync.Mutex
	err   error
}

func (e *epochHook) get(context.Context, string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return 0, e.err
	}
	return e.epoch.Load(), nil
}

func (e *epochHook) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = err
}

// A sign-in that verified credentials which changed meanwhile (the hook
// answers another epoch, or fails because the user is gone) leaves no
// session behind and sets no cookie.
func testEpochStaleRefused(t *testing.T, h Harness) {
	ctx := context.Background()
	var hook epochHook
	hook.epoch.Store(7)
	a := newApp(t, h.Store, session.Options{Epoch: hook.get})

	create := func(epoch int64) (*http.Response, error) {
		r := httptest.NewRequest("POST", "https://example.test/login", nil)
		w := httptest.NewRecorder()
		_, err := a.m.Create(w, r, session.Login{UserID: "alice", Epoch: epoch, Method: "password"})
		return w.Result(), err
	}
	resp, err := create(7)
	if err != nil {
		t.Fatalf("Create at the current epoch: %v", err)
	}
	good := a.sessionCookie(resp)
	if good == nil || good.Value == "" {
		t.Fatal("Create at the current epoch set no cookie")
	}
	if s := mustFind(t, h.Store, idOf(t, good.Value)); s.Epoch != 7 || s.Method != "password" || !s.AuthAt.Equal(a.clock.Now()) {
		t.Fatalf("stored session has epoch %d, method %q, AuthAt %v; want 7, password, %v", s.Epoch, s.Method, s.AuthAt, a.clock.Now())
	}

	errGone := errors.New("no such user")
	for _, tc := range []struct {
		name    string
		epoch   int64
		hookErr error
		want    error
	}{
		{"epoch behind", 6, nil, session.ErrStaleEpoch},
		{"epoch ahead", 8, nil, session.ErrStaleEpoch},
		{"user gone", 7, errGone, errGone},
	} {
		hook.fail(tc.hookErr)
		mark := a.mark()
		resp, err := create(tc.epoch)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: Create returned %v, want %v", tc.name, err, tc.want)
		}
		if c := a.sessionCookie(resp); c != nil && c.Value != "" {
			t.Fatalf("%s: a refused sign-in set a session cookie: %q", tc.name, resp.Header["Set-Cookie"])
		}
		if evs := a.eventsSince(mark, session.EventCreated); len(evs) != 0 {
			t.Fatalf("%s: a refused sign-in reported %+v", tc.name, evs)
		}
		list, err := h.Store.List(ctx, "alice", a.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != idOf(t, good.Value) {
			t.Fatalf("%s: sessions of alice = %v, want only %s: the refused sign-in left its session behind",
				tc.name, ids(list), idOf(t, good.Value).Short())
		}
	}
	hook.fail(nil)
	if got := a.whoami(good.Value); got != "alice" {
		t.Fatalf("the session issued at the current epoch authenticates as %q", got)
	}
}

// No session survives a credential change: sign-ins race with a change
// that bumps the epoch and then revokes every session, and afterwards only
// sessions issued for the new epoch remain.
func testEpochRace(t *testing.T, h Harness) {
	const (
		signers  = 16
		perRound = 2 // sign-ins of each signer per round
		rounds   = 8
	)
	ctx := context.Background()
	var hook epochHook
	cs := &countingStore{Store: h.Store}
	a := newApp(t, cs, session.Options{
		Epoch:       hook.get,
		MaxSessions: -1, // evicting the oldest sessions would hide survivors
	})

	// First the worst interleaving, forced: the credentials were verified,
	// then the change and its revocation land before the session is stored.
	verified := hook.epoch.Load()
	cs.beforeCreate = func() {
		hook.epoch.Add(1)
		if _, err := a.m.RevokeAll(ctx, "alice", "password changed"); err != nil {
			t.Errorf("RevokeAll: %v", err)
		}
	}
	r := httptest.NewRequest("POST", "https://example.test/login", nil)
	if _, err := a.m.Create(httptest.NewRecorder(), r, session.Login{UserID: "alice", Epoch: verified}); !errors.Is(err, session.ErrStaleEpoch) {
		t.Fatalf("a sign-in stored after the credential change and its revocation: Create returned %v, want ErrStaleEpoch", err)
	}
	if list, err := h.Store.List(ctx, "alice", a.clock.Now()); err != nil || len(list) != 0 {
		t.Fatalf("sessions %v (%v) survived the credential change", ids(list), err)
	}

	// Then many sign-ins racing with changes.
	var created, stale atomic.Int64
	for round := range rounds {
		var done atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, signers)
		for range signers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perRound {
					epoch := hook.epoch.Load() // read with the credentials, before issuing
					r := httptest.NewRequest("POST", "https://example.test/login", nil)
					_, err := a.m.Create(httptest.NewRecorder(), r, session.Login{UserID: "alice", Epoch: epoch, Method: "password"})
					done.Add(1)
					switch {
					case err == nil:
						created.Add(1)
					case errors.Is(err, session.ErrStaleEpoch):
						stale.Add(1)
					default:
						errc <- err
						return
					}
				}
			}()
		}
		// Change the credentials while sign-ins are under way: the new
		// epoch first, then the revocation, as the app does.
		for done.Load() < signers && len(errc) == 0 {
			runtime.Gosched()
		}
		hook.epoch.Add(1)
		if _, err := a.m.RevokeAll(ctx, "alice", "password changed"); err != nil {
			t.Fatalf("RevokeAll: %v", err)
		}
		wg.Wait()
		close(errc)
		if err := <-errc; err != nil {
			t.Fatalf("Create: %v", err)
		}
		list, err := h.Store.List(ctx, "alice", a.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		want := hook.epoch.Load()
		for _, s := range list {
			if s.Epoch != want {
				t.Fatalf("round %d: session %s issued for epoch %d survived the change to epoch %d",
					round, s.ID.Short(), s.Epoch, want)
			}
		}
	}
	t.Logf("%d sign-ins, %d refused as stale", created.Load(), stale.Load())
}

// Past MaxSessions, a sign-in ends the least recently used session (not
// the oldest), which is then remembered as ended.
func testMaxSessions(t *testing.T, h Harness) {
	ctx := context.Background()
	a := newApp(t, h.Store, session.Options{MaxSessions: 3})
	bob := a.login("bob", "")
	s1 := a.login("alice", "")
	a.clock.Advance(2 * time.Minute)
	s2 := a.login("alice", "")
	a.clock.Advance(2 * time.Minute)
	s3 := a.login("alice", "")
	if evs := a.eventsSince(0, session.EventEvicted); len(evs) != 0 {
		t.Fatalf("three sessions within a limit of three: %+v", evs)
	}
	// Use the first and third past the touch interval: the second is now
	// the least recently used, though the first is the oldest.
	for _, tok := range []string{s1, s3} {
		a.clock.Advance(2 * time.Minute)
		if got := a.whoami(tok); got != "alice" {
			t.Fatalf("got %q", got)
		}
	}
	a.clock.Advance(2 * time.Minute)
	mark := a.mark()
	h2 := handleOf(t, h.Store, s2)
	s4 := a.login("alice", "")

	evs := a.eventsSince(mark, session.EventEvicted)
	if len(evs) != 1 || evs[0].UserID != "alice" || evs[0].Session != h2.Short() {
		t.Fatalf("evictions = %+v, want one of alice's session %s (the least recently used)", evs, h2.Short())
	}
	mustBeGone(t, h.Store, idOf(t, s2))
	list, err := a.m.Sessions(ctx, "alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("Sessions(alice) = %v, %v; want 3", ids(list), err)
	}

	mark = a.mark()
	resp := a.do("GET", "/whoami", s2)
	if got := readBody(resp); got != "anonymous" {
		t.Fatalf("the evicted session authenticates as %q", got)
	}
	a.wantCleared(resp)
	why := resp.Header.Get("X-Ended")
	ended := a.eventsSince(mark, session.EventEndedToken)
	if why == "" || len(ended) != 1 || ended[0].Session != idOf(t, s2).Short() || !strings.Contains(ended[0].Detail, why) {
		t.Fatalf("the evicted token: EndReason %q, events %+v; want an ended-token event giving the reason", why, a.eventsSince(mark))
	}
	for _, tok := range []string{s1, s3, s4} {
		if got := a.whoami(tok); got != "alice" {
			t.Fatalf("a session within the limit authenticates as %q", got)
		}
	}
	if got := a.whoami(bob); got != "bob" {
		t.Fatalf("another user's session authenticates as %q", got)
	}
}

// Re-authentication rotates the token, records when and at which epoch,
// and ends the session when the epoch moved on meanwhile.
func testReauthenticated(t *testing.T, h Harness) {
	ctx := context.Background()
	var hook epochHook
	hook.epoch.Store(1)
	a := newApp(t, h.Store, session.Options{Epoch: hook.get})
	old := a.signIn("alice", 1, "")
	signedIn := a.clock.Now()
	a.clock.Advance(10 * time.Minute)

	if resp := a.send("POST", "/reauth", "", "X-Epoch", "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("re-authenticating without a session: status %d, want 401", resp.StatusCode)
	}
	hook.epoch.Store(2) // say the user changed their password in this session
	resp := a.send("POST", "/reauth", a.cookie(old), "X-Epoch", "2")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reauth: status %d: %s", resp.StatusCode, readBody(resp))
	}
	c := a.sessionCookie(resp)
	if c == nil || c.Value == "" || c.Value == old {
		t.Fatalf("reauth set no new token: %q", resp.Header["Set-Cookie"])
	}
	tok := c.Value
	if got := a.whoami(old); got != "anonymous" {
		t.Fatalf("the token from before re-authentication authenticates as %q", got)
	}
	if got := a.whoami(tok); got != "alice" {
		t.Fatalf("the new token authenticates as %q, want alice", got)
	}
	s := mustFind(t, h.Store, idOf(t, tok))
	if !s.AuthAt.Equal(a.clock.Now()) || s.Epoch != 2 || !s.CreatedAt.Equal(signedIn) || s.Method != "password" {
		t.Fatalf("after re-authentication: AuthAt %v, epoch %d, created %v, method %q; want %v, 2, %v, password",
			s.AuthAt, s.Epoch, s.CreatedAt, s.Method, a.clock.Now(), signedIn)
	}
	if ev := a.wantEvent(session.EventRotated, ""); ev.Session != handleOf(t, h.Store, tok).Short() || !strings.Contains(ev.Detail, "re-authenticated") {
		t.Fatalf("rotation event = %+v", ev)
	}

	// The credentials change elsewhere while the user re-authenticates
	// against the old ones.
	a.clock.Advance(time.Minute)
	hook.epoch.Store(3)
	resp = a.send("POST", "/reauth", a.cookie(tok), "X-Epoch", "2")
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("stale reauth: status %d, want 409 (ErrStaleEpoch): %s", resp.StatusCode, readBody(resp))
	}
	a.wantCleared(resp)
	if list, err := h.Store.List(ctx, "alice", a.clock.Now()); err != nil || len(list) != 0 {
		t.Fatalf("after a stale re-authentication alice has sessions %v (%v), want none", ids(list), err)
	}
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("the session re-authenticated against stale credentials authenticates as %q", got)
	}
}

// A token of a session ended on purpose is refused with the reason it
// ended, which both the event and the handler learn; a token that was never
// issued is still reported as unknown.
func testEndedToken(t *testing.T, h Harness) {
	ctx := context.Background()
	a := newApp(t, h.Store, session.Options{})
	revoked := a.login("alice", "")
	loggedOut := a.login("alice", "")
	current := a.login("alice", "")
	bob := a.login("bob", "")

	resp := a.send("POST", "/sessions/revoke", a.cookie(current),
		"X-Session", handleOf(t, h.Store, revoked).String(), "X-Why", "revoked from another device")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d: %s", resp.StatusCode, readBody(resp))
	}
	if resp := a.do("POST", "/logout", loggedOut); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: status %d", resp.StatusCode)
	}
	if n, err := a.m.RevokeAll(ctx, "alice", "revoked after a password change"); err != nil || n != 1 {
		t.Fatalf("RevokeAll = %d, %v; want 1", n, err)
	}

	for _, tc := range []struct{ name, token, why string }{
		{"revoked", revoked, "revoked from another device"},
		{"signed out", loggedOut, "signed out"},
		{"revoked with all others", current, "revoked after a password change"},
	} {
		for range 2 { // the ending is remembered, not used up
			mark := a.mark()
			resp := a.do("GET", "/whoami", tc.token)
			if got := readBody(resp); got != "anonymous" {
				t.Fatalf("%s: token authenticates as %q", tc.name, got)
			}
			a.wantCleared(resp)
			if got := resp.Header.Get("X-Ended"); got != tc.why {
				t.Fatalf("%s: EndReason = %q, want %q", tc.name, got, tc.why)
			}
			evs := a.eventsSince(mark)
			if len(evs) != 1 || evs[0].Kind != session.EventEndedToken || evs[0].UserID != "alice" ||
				evs[0].Session != idOf(t, tc.token).Short() || !strings.Contains(evs[0].Detail, tc.why) {
				t.Fatalf("%s: events = %+v, want one %s of alice's session giving %q", tc.name, evs, session.EventEndedToken, tc.why)
			}
		}
	}

	mark := a.mark()
	resp = a.do("GET", "/whoami", randomToken())
	if got := readBody(resp); got != "anonymous" {
		t.Fatalf("a never-issued token authenticates as %q", got)
	}
	if got, ok := resp.Header["X-Ended"]; ok {
		t.Fatalf("EndReason = %q for a token that was never issued", got)
	}
	if evs := a.eventsSince(mark); len(evs) != 1 || evs[0].Kind != session.EventUnknownToken {
		t.Fatalf("never-issued token: events = %+v, want one %s", evs, session.EventUnknownToken)
	}
	if got := a.whoami(bob); got != "bob" {
		t.Fatalf("another user's session authenticates as %q", got)
	}
}

// A refused token leaves a marker (never the token) on the browser, and
// the next sign-in there is reported with the signed-in user.
func testForeignTokenMarker(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{})
	marker := a.m.CookieName() + "-refused"
	planted := randomToken()
	refused := []struct{ name, cookie, value string }{
		{"never issued", a.cookie(planted), "unknown-" + idOf(t, planted).Short()},
		{"malformed", a.cookie(planted[:40]), "malformed"},
		{"duplicate", a.cookie(planted) + "; " + a.cookie(planted), "duplicate"},
	}
	for _, tc := range refused {
		resp := a.send("GET", "/whoami", tc.cookie)
		if got := readBody(resp); got != "anonymous" {
			t.Fatalf("%s: authenticates as %q", tc.name, got)
		}
		c := a.cookieNamed(resp, marker)
		if c == nil || c.Value != tc.value || c.MaxAge <= 0 {
			t.Fatalf("%s: marker = %+v, want %q to be kept a while", tc.name, c, tc.value)
		}
		if lines := strings.Join(resp.Header["Set-Cookie"], "\n"); strings.Contains(lines, planted[:40]) {
			t.Fatalf("%s: the response sends the refused token back: %q", tc.name, lines)
		}
	}

	// Tokens that were issued leave no marker, live or ended.
	tok := a.login("alice", "")
	for _, step := range []struct{ method, path string }{{"GET", "/whoami"}, {"POST", "/logout"}, {"GET", "/whoami"}} {
		if resp := a.do(step.method, step.path, tok); a.cookieNamed(resp, marker) != nil {
			t.Fatalf("%s %s with an issued token sets the marker: %q", step.method, step.path, resp.Header["Set-Cookie"])
		}
	}

	// A sign-in on a marked browser is reported for the user who signed
	// in, and clears the marker.
	for _, tc := range refused {
		mark := a.mark()
		resp := a.send("POST", "/login", marker+"="+tc.value, "X-User", "bob")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: login: status %d", tc.name, resp.StatusCode)
		}
		evs := a.eventsSince(mark, session.EventForeignToken)
		if len(evs) != 1 || evs[0].UserID != "bob" || evs[0].Detail == "" {
			t.Fatalf("%s: foreign-token events = %+v, want one for bob", tc.name, evs)
		}
		if c := a.cookieNamed(resp, marker); c == nil || c.Value != "" || c.MaxAge >= 0 {
			t.Fatalf("%s: sign-in does not clear the marker: %q", tc.name, resp.Header["Set-Cookie"])
		}
	}
	// A sign-in that itself carries a planted token is reported at once,
	// and leaves no marker for whoever signs in next.
	mark := a.mark()
	resp := a.send("POST", "/login", a.cookie(randomToken()), "X-User", "carol")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login with a planted token: status %d", resp.StatusCode)
	}
	if evs := a.eventsSince(mark, session.EventForeignToken); len(evs) != 1 || evs[0].UserID != "carol" {
		t.Fatalf("login with a planted token: foreign-token events = %+v, want one for carol", evs)
	}
	if c := a.cookieNamed(resp, marker); c != nil && c.Value != "" {
		t.Fatalf("login with a planted token leaves the marker set: %q", resp.Header["Set-Cookie"])
	}

	// No marker, or one the server did not write: no event.
	for _, cookie := range []string{
		"",
		marker + "=unknown-" + planted,
		marker + "=unknown-ABCDEF012345",
		marker + "=unknown-0123456789a",
		marker + "=unknown-0123456789abc",
		marker + "=unknown-",
		marker + "=Malformed",
		marker + "=duplicate2",
		marker + "=%3Cscript%3E",
	} {
		mark := a.mark()
		a.send("POST", "/login", cookie, "X-User", "dave")
		if evs := a.eventsSince(mark, session.EventForeignToken); len(evs) != 0 {
			t.Fatalf("cookie %q: foreign-token events %+v, want none", cookie, evs)
		}
	}
}
