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

func newApp(t *testing.T, st session.Store) *app {
	a := &app{t: t, clock: NewClock()}
	m, err := session.New(st, session.Options{
		Now: a.clock.Now,
		OnEvent: func(_ context.Context, ev session.Event) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.events = append(a.events, ev)
		},
	})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	a.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Create(w, r, r.Header.Get("X-User")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		if id := session.UserID(r.Context()); id != "" {
			io.WriteString(w, id)
			return
		}
		io.WriteString(w, "anonymous")
	})
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Rotate(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
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
		n, err := m.RevokeOthers(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		io.WriteString(w, strconv.Itoa(n))
	})
	a.h = m.Middleware(mux)
	return a
}

// do serves one request carrying the given session token (none if empty).
func (a *app) do(method, path, token string) *http.Response {
	a.t.Helper()
	r := httptest.NewRequest(method, "https://example.test"+path, nil)
	r.RemoteAddr = "192.0.2.1:4321"
	r.Header.Set("User-Agent", "storetest")
	if token != "" {
		r.Header.Set("Cookie", a.m.CookieName()+"="+token)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Result()
}

func (a *app) whoami(token string) string {
	a.t.Helper()
	resp := a.do("GET", "/whoami", token)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET /whoami: status %d: %s", resp.StatusCode, body)
	}
	return string(body)
}

func (a *app) login(user, carried string) string {
	a.t.Helper()
	r := httptest.NewRequest("POST", "https://example.test/login", nil)
	r.RemoteAddr = "192.0.2.1:4321"
	r.Header.Set("X-User", user)
	if carried != "" {
		r.Header.Set("Cookie", a.m.CookieName()+"="+carried)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		a.t.Fatalf("login %s: status %d: %s", user, w.Code, w.Body)
	}
	tok := a.sessionCookie(w.Result())
	if tok == nil || tok.Value == "" {
		a.t.Fatalf("login %s set no session cookie", user)
	}
	return tok.Value
}

// sessionCookie returns the session cookie the response sets, if any.
func (a *app) sessionCookie(resp *http.Response) *http.Cookie {
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == a.m.CookieName() {
			if found != nil {
				a.t.Fatalf("response sets the session cookie twice: %q", resp.Header["Set-Cookie"])
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

func idOf(t testing.TB, token string) session.ID {
	t.Helper()
	id, ok := session.IDOfToken(token)
	if !ok {
		t.Fatalf("malformed token %q", token)
	}
	return id
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// The seeds' attack: a token chosen by the attacker is never adopted,
// neither before nor after the victim logs in with it.
func testManagerPlantedToken(t *testing.T, h Harness) {
	a := newApp(t, h.Store)
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
	a := newApp(t, h.Store)
	first := a.login("alice", "")
	second := a.login("bob", first)
	if got := a.whoami(first); got != "anonymous" {
		t.Fatalf("session carried into a new login still authenticates as %q", got)
	}
	mustBeGone(t, h.Store, idOf(t, first))
	a.wantEvent(session.EventDestroyed, "replaced by a new login")
	if got := a.whoami(second); got != "bob" {
		t.Fatalf("new session authenticates as %q, want bob", got)
	}
}

func testManagerRotate(t *testing.T, h Harness) {
	a := newApp(t, h.Store)
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
	a := newApp(t, h.Store)
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
	a.wantEvent(session.EventDestroyed, "logout")
	if got := a.whoami(other); got != "alice" {
		t.Fatalf("logout ended the user's other session too (got %q)", got)
	}
}

func testManagerIdleTimeout(t *testing.T, h Harness) {
	a := newApp(t, h.Store)
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
	mustBeGone(t, h.Store, idOf(t, tok))
}

func testManagerAbsoluteTimeout(t *testing.T, h Harness) {
	a := newApp(t, h.Store)
	tok := a.login("alice", "")
	for elapsed := 10 * time.Minute; elapsed < 12*time.Hour; elapsed += 10 * time.Minute {
		a.clock.Advance(10 * time.Minute)
		if got := a.whoami(tok); got != "alice" {
			t.Fatalf("busy session ended after %v (got %q)", elapsed, got)
		}
	}
	a.clock.Advance(10 * time.Minute) // 12h since login
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("session still authenticates as %q at its absolute deadline", got)
	}
	a.wantEvent(session.EventExpired, "absolute timeout")
}

// countingStore counts writes and can run a hook after a Find.
type countingStore struct {
	session.Store
	touches   atomic.Int32
	misses    atomic.Int32 // touches that found no live session
	afterFind func(id session.ID)
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
	a := newApp(t, cs)
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
	a := newApp(t, cs)
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
	a := newApp(t, h.Store)
	one := a.login("alice", "")
	two := a.login("alice", "")
	bob := a.login("bob", "")
	list, err := a.m.Sessions(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("Sessions(alice) = %v, %v; want 2", ids(list), err)
	}
	if err := a.m.Revoke(ctx, "bob", idOf(t, one)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("bob revoked alice's session: %v", err)
	}
	if got := a.whoami(one); got != "alice" {
		t.Fatalf("got %q", got)
	}
	if err := a.m.Revoke(ctx, "alice", idOf(t, one)); err != nil {
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
	if n, err := a.m.RevokeAll(ctx, "alice"); err != nil || n != 1 {
		t.Fatalf("RevokeAll = %d, %v; want 1", n, err)
	}
	if a.whoami(two) != "anonymous" || a.whoami(bob) != "bob" {
		t.Fatal("RevokeAll ended the wrong sessions")
	}
	a.wantEvent(session.EventRevoked, "1")
}

// The raw token, in any encoding, appears nowhere in what the store holds.
func testManagerRawTokenNotStored(t *testing.T, h Harness) {
	if h.Dump == nil {
		t.Fatal("the harness has no Dump")
	}
	a := newApp(t, h.Store)
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
	a := newApp(t, h.Store)
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
