package storetest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/bindtest"
)

// rotationCases check token rotation with reuse detection through a
// Manager.
var rotationCases = []testCase{
	{"rotation_after_interval", testRotationAfterInterval},
	{"rotation_grace_and_reuse", testRotationGraceAndReuse},
	{"rotation_reissue", testRotationReissue},
	{"rotation_concurrent", testRotationConcurrent},
	{"rotation_racing_logout", testRotationRacingLogout},
	{"rotation_form_token_stable", testRotationFormToken},
	{"rotation_and_binding_across_instances", testAcrossInstances},
	{"rotation_then_privilege_rotation", testRotationThenPrivilegeRotation},
	{"rotation_logout_after_renewal", testLogoutAfterRenewal},
	{"rotation_ignored_tokens", testIgnoredTokens},
	{"rotation_only_on_get", testRotationOnlyOnGet},
}

const interval = 10 * time.Minute

// testRotationAfterInterval: no new token before the interval, one after
// it, and the old ID then names a renewal, not a session.
func testRotationAfterInterval(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval - time.Second)
	resp := a.do("GET", "/whoami", tok)
	if c := a.sessionCookie(resp); c != nil {
		t.Fatalf("a token was replaced before the interval: %q", resp.Header["Set-Cookie"])
	}
	a.clock.Advance(time.Second)
	resp = a.do("GET", "/whoami", tok)
	if body := readBody(resp); body != "alice" {
		t.Fatalf("request at the rotation = %q, want alice", body)
	}
	next := a.sessionCookie(resp)
	if next == nil || next.Value == "" || next.Value == tok || next.MaxAge != 0 {
		t.Fatalf("no new session cookie at the interval: %q", resp.Header["Set-Cookie"])
	}
	mustBeGone(t, h.Store, idOf(t, tok))
	s := mustFind(t, h.Store, idOf(t, next.Value))
	if s.Gen != 1 || s.SeenGen != 0 || !s.IssuedAt.Equal(a.clock.Now()) {
		t.Fatalf("renewed session: gen %d, seen %d, issued %v; want 1, 0, %v", s.Gen, s.SeenGen, s.IssuedAt, a.clock.Now())
	}
	// The new token is used; the next rotation comes an interval later.
	if got := a.whoami(next.Value); got != "alice" {
		t.Fatalf("new token = %q", got)
	}
	if s := mustFind(t, h.Store, idOf(t, next.Value)); s.SeenGen != 1 {
		t.Fatalf("after its first use the new token's generation is not seen: %d", s.SeenGen)
	}
	a.clock.Advance(interval / 2)
	if c := a.sessionCookie(a.do("GET", "/whoami", next.Value)); c != nil {
		t.Fatal("a renewed token was replaced again before its own interval")
	}
	if evs := a.eventsSince(0, session.EventTokenReused, session.EventUnknownToken, session.EventEndedToken); len(evs) != 0 {
		t.Fatalf("unexpected events: %+v", evs)
	}
}

// testRotationGraceAndReuse: the previous token works while its successor
// is unseen and for a moment after (requests in flight); after that,
// presenting it ends the whole session.
func testRotationGraceAndReuse(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	next := a.sessionCookie(a.do("GET", "/whoami", tok)).Value

	// Unseen: a second tab, a lost response.
	for range 3 {
		resp := a.do("GET", "/whoami", tok)
		if body := readBody(resp); body != "alice" {
			t.Fatalf("previous token while the new one is unseen = %q, want alice", body)
		}
		if c := a.sessionCookie(resp); c != nil {
			t.Fatalf("grace request changed the cookie: %q", resp.Header["Set-Cookie"])
		}
	}
	if got := a.whoami(next); got != "alice" {
		t.Fatalf("new token = %q", got)
	}
	// Seen; a request sent just before is still the same browser's.
	a.clock.Advance(time.Second)
	if got := a.whoami(tok); got != "alice" {
		t.Fatalf("previous token in flight right after the new one was seen = %q, want alice", got)
	}
	if evs := a.eventsSince(0, session.EventTokenReused); len(evs) != 0 {
		t.Fatalf("reuse reported within the grace: %+v", evs)
	}

	// Later, the previous token is a copy in someone else's hands.
	a.clock.Advance(time.Minute)
	r := fromElsewhere(a, tok, "198.51.100.7", "Thief/1.0")
	if body := readBody(r); body != "anonymous" {
		t.Fatalf("retired token = %q, want anonymous", body)
	}
	a.wantCleared(r)
	ev := a.wantEvent(session.EventTokenReused, "")
	if ev.UserID != "alice" || ev.ClientIP != "198.51.100.7" || ev.UserAgent != "Thief/1.0" ||
		!strings.Contains(ev.Detail, "192.0.2.1") || !strings.Contains(ev.Detail, "storetest") {
		t.Fatalf("reuse event lacks one of the two clients: %+v", ev)
	}
	// Both are signed out: the owner's current token is dead too, and says why.
	resp := a.do("GET", "/whoami", next)
	if body := readBody(resp); body != "anonymous" {
		t.Fatalf("the session survived a reuse: %q", body)
	}
	if why := resp.Header.Get("X-Ended"); !strings.Contains(why, "used from two places") {
		t.Fatalf("end reason = %q", why)
	}
	if list, err := h.Store.List(context.Background(), "alice", a.clock.Now()); err != nil || len(list) != 0 {
		t.Fatalf("alice still has sessions after the reuse: %v, %v", ids(list), err)
	}
	// And the retired token stays refused.
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("retired token later = %q", got)
	}
}

// fromElsewhere sends GET /whoami with token from another client.
func fromElsewhere(a *app, token, ip, ua string) *http.Response {
	a.t.Helper()
	return a.sendFrom(ip, "GET", "/whoami", a.cookie(token), "User-Agent", ua)
}

// testRotationReissue: a pending token that stays unseen while its
// predecessor keeps coming is issued again; none of the tokens handed out
// to the browser signs it out.
func testRotationReissue(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	lost := a.sessionCookie(a.do("GET", "/whoami", tok)).Value // its response never arrives
	a.clock.Advance(time.Minute)
	resp := a.do("GET", "/whoami", tok)
	again := a.sessionCookie(resp)
	if readBody(resp) != "alice" || again == nil || again.Value == lost || again.Value == tok {
		t.Fatalf("no fresh pending token for the previous one: %q", resp.Header["Set-Cookie"])
	}
	// Either pending token works; the lost one, arriving late, too.
	if got := a.whoami(lost); got != "alice" {
		t.Fatalf("the first pending token = %q", got)
	}
	if got := a.whoami(again.Value); got != "alice" {
		t.Fatalf("the reissued token = %q", got)
	}
	if evs := a.eventsSince(0, session.EventTokenReused); len(evs) != 0 {
		t.Fatalf("reuse reported: %+v", evs)
	}
	// A token that no request presented before it was replaced (the
	// first pending one was presented only while still pending) comes
	// back late, as the cookie of a slow response would: refused, and no
	// alarm.
	if got := a.whoami(again.Value); got != "alice" {
		t.Fatalf("the reissued token = %q", got)
	}
	a.clock.Advance(time.Minute)
	resp = a.do("GET", "/whoami", again.Value)
	third := a.sessionCookie(resp) // renewed again? not yet: the interval has not passed
	if third != nil {
		t.Fatalf("renewed before the interval: %v", third)
	}
	a.clock.Advance(interval)
	third = a.sessionCookie(a.do("GET", "/whoami", again.Value))
	if third == nil {
		t.Fatal("no renewal after the interval")
	}
	a.clock.Advance(time.Second)
	a.whoami(third.Value)
	a.clock.Advance(time.Minute)
	mark := a.mark()
	if got := a.whoami(lost); got != "anonymous" {
		t.Fatalf("a pending token that lost the race, presented late = %q", got)
	}
	if evs := a.eventsSince(mark, session.EventTokenReused); len(evs) != 0 {
		t.Fatalf("a never-used token taken for a copy: %+v", evs)
	}
	if got := a.whoami(third.Value); got != "alice" {
		t.Fatalf("the current token after the late one = %q", got)
	}
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("the original token after its successors were seen = %q", got)
	}
	a.wantEvent(session.EventTokenReused, "")
}

// testRotationConcurrent: many requests with the same token across a
// rotation, then with either token: all signed in, one renewal, no reuse.
func testRotationConcurrent(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	const n = 24
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		issued = map[string]bool{}
		anon   atomic.Int32
	)
	for range n {
		wg.Go(func() {
			resp := a.do("GET", "/whoami", tok)
			if readBody(resp) != "alice" {
				anon.Add(1)
			}
			if c := a.sessionCookie(resp); c != nil {
				mu.Lock()
				issued[c.Value] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if anon.Load() != 0 || len(issued) != 1 {
		t.Fatalf("%d of %d requests signed out; %d new tokens issued (want 0 and 1)", anon.Load(), n, len(issued))
	}
	var next string
	for k := range issued {
		next = k
	}
	for i := range n {
		wg.Go(func() {
			use := tok
			if i%2 == 0 {
				use = next
			}
			if a.whoami(use) != "alice" {
				anon.Add(1)
			}
		})
	}
	wg.Wait()
	if anon.Load() != 0 {
		t.Fatalf("%d requests across the rotation were signed out", anon.Load())
	}
	if evs := a.eventsSince(0, session.EventTokenReused, session.EventEndedToken, session.EventUnknownToken); len(evs) != 0 {
		t.Fatalf("false alarm: %+v", evs)
	}
}

// renewingStore runs beforeRenew (once) before Renew.
type renewingStore struct {
	session.Store
	beforeRenew func()
}

func (s *renewingStore) Renew(ctx context.Context, oldID, newID session.ID, gen int64, now, idle time.Time, ip string) error {
	if f := s.beforeRenew; f != nil {
		s.beforeRenew = nil
		f()
	}
	return s.Store.Renew(ctx, oldID, newID, gen, now, idle, ip)
}

// testRotationRacingLogout: a sign-out between reading a session due for
// rotation and renewing it leaves it dead; so does one right after, with
// the previous token.
func testRotationRacingLogout(t *testing.T, h Harness) {
	rs := &renewingStore{Store: h.Store}
	a := newApp(t, rs, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	var logout *http.Response
	rs.beforeRenew = func() { logout = a.do("POST", "/logout", tok) }
	resp := a.do("GET", "/whoami", tok)
	if body := readBody(resp); body != "anonymous" {
		t.Fatalf("request racing a logout = %q, want anonymous", body)
	}
	if logout == nil || logout.StatusCode != http.StatusOK {
		t.Fatal("the racing logout did not run")
	}
	if c := a.sessionCookie(resp); c != nil && c.Value != "" {
		t.Fatalf("a token was issued for a signed-out session: %q", resp.Header["Set-Cookie"])
	}
	if list, err := h.Store.List(context.Background(), "alice", a.clock.Now()); err != nil || len(list) != 0 {
		t.Fatalf("sessions after the race: %v, %v", ids(list), err)
	}

	// Logout after the renewal, with the previous token (a tab that had not
	// yet seen the new one): the session ends, under its new token too.
	tok = a.login("alice", "")
	a.clock.Advance(interval)
	next := a.sessionCookie(a.do("GET", "/whoami", tok)).Value
	if resp := a.do("POST", "/logout", tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout with the previous token: %d", resp.StatusCode)
	}
	wantSignedOut(t, a, h, tok, next)
}

// testRotationFormToken: forms opened before a rotation still carry the
// right token after it.
func testRotationFormToken(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	before := readBody(a.do("GET", "/csrf", tok))
	a.clock.Advance(interval)
	resp := a.do("GET", "/csrf", tok)
	next := a.sessionCookie(resp)
	if next == nil {
		t.Fatal("no rotation")
	}
	if after := readBody(a.do("GET", "/csrf", next.Value)); before == "" || after != before {
		t.Fatalf("form token changed across rotation: %q then %q", before, after)
	}
	other := a.login("alice", "")
	if readBody(a.do("GET", "/csrf", other)) == before {
		t.Fatal("two sessions share a form token")
	}
}

// testAcrossInstances: two instances of a site on one store: a token
// renewed by one is honoured as pending by the other, its reuse is caught
// by the other, and a device registered through one refreshes through the
// other.
func testAcrossInstances(t *testing.T, h Harness) {
	clock := NewClock()
	opts := session.Options{RotationInterval: interval, BoundCookieLifetime: boundLife}
	one, two := newAppAt(t, h.Store, opts, clock), newAppAt(t, h.Store, opts, clock)

	tok := one.login("alice", "")
	clock.Advance(interval)
	next := one.sessionCookie(one.do("GET", "/whoami", tok)).Value
	if got := two.whoami(tok); got != "alice" {
		t.Fatalf("the other instance refuses the previous token while the new one is pending: %q", got)
	}
	if got := two.whoami(next); got != "alice" {
		t.Fatalf("the other instance refuses the renewed token: %q", got)
	}
	clock.Advance(time.Minute)
	if got := one.whoami(tok); got != "anonymous" {
		t.Fatalf("retired token on the first instance = %q", got)
	}
	one.wantEvent(session.EventTokenReused, "")
	if got := two.whoami(next); got != "anonymous" {
		t.Fatalf("the other instance still honours a session ended for reuse: %q", got)
	}

	d := signInBound(t, one, bindtest.NewES256())
	d.a = two
	clock.Advance(boundLife)
	d.refreshed(t)
	if got := d.whoami(); got != "alice" {
		t.Fatalf("refreshed through the other instance = %q", got)
	}
	d.a = one
	if got := d.whoami(); got != "alice" {
		t.Fatalf("bound cookie from the other instance = %q", got)
	}
}

// testRotationThenPrivilegeRotation: a token replaced by rotation, and then
// a privilege rotation (Manager.Rotate), is dead at once: no allowance for
// requests in flight reaches across a privilege change.
func testRotationThenPrivilegeRotation(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	renewed := a.sessionCookie(a.do("GET", "/whoami", tok)).Value
	a.clock.Advance(time.Second)
	resp := a.do("POST", "/rotate", renewed) // first use of the renewed token, and a privilege change
	next := a.sessionCookie(resp)
	if resp.StatusCode != http.StatusOK || next == nil {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("the token from before a privilege rotation = %q", got)
	}
	// A request in flight with it is refused, not taken for a thief's.
	if got := a.whoami(next.Value); got != "alice" {
		t.Fatalf("the rotated token after the old one came back in flight = %q", got)
	}
	if evs := a.eventsSince(0, session.EventTokenReused); len(evs) != 0 {
		t.Fatalf("false alarm: %+v", evs)
	}
	// Later, it is a copy.
	a.clock.Advance(time.Minute)
	if got := a.whoami(tok); got != "anonymous" {
		t.Fatalf("the token from before a privilege rotation, later = %q", got)
	}
	a.wantEvent(session.EventTokenReused, "")
}

// deletingStore runs beforeDelete (once) before Delete.
type deletingStore struct {
	session.Store
	beforeDelete func()
}

func (s *deletingStore) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	if f := s.beforeDelete; f != nil {
		s.beforeDelete = nil
		f()
	}
	return s.Store.Delete(ctx, id, now, why)
}

// testLogoutAfterRenewal: another tab's request renews the token between a
// sign-out reading the session and deleting it: the session still ends.
func testLogoutAfterRenewal(t *testing.T, h Harness) {
	ds := &deletingStore{Store: h.Store}
	a := newApp(t, ds, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	var next *http.Cookie
	ds.beforeDelete = func() { next = a.sessionCookie(a.do("GET", "/whoami", tok)) }
	resp := a.do("POST", "/logout", tok)
	if resp.StatusCode != http.StatusOK || next == nil {
		t.Fatalf("logout %d; renewal during it: %v", resp.StatusCode, next)
	}
	wantSignedOut(t, a, h, tok, next.Value)
}

// wantSignedOut checks that none of tokens signs in and that alice has no
// session left.
func wantSignedOut(t *testing.T, a *app, h Harness, tokens ...string) {
	t.Helper()
	for _, k := range tokens {
		if got := a.whoami(k); got != "anonymous" {
			t.Fatalf("signed out, yet a token signs in as %q", got)
		}
	}
	if list, err := h.Store.List(context.Background(), "alice", a.clock.Now()); err != nil || len(list) != 0 {
		t.Fatalf("sessions after logout: %v, %v", ids(list), err)
	}
}

// testIgnoredTokens: a client that keeps presenting the old token and
// ignores every new one is a copy being replayed (a browser adopts the
// cookies it is sent): after a few, the session is ended.
func testIgnoredTokens(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	issued := 0
	for i := 0; i < 10; i++ {
		resp := a.do("GET", "/whoami", tok)
		body := readBody(resp)
		if body == "anonymous" {
			break
		}
		if c := a.sessionCookie(resp); c != nil && c.Value != "" {
			issued++
		}
		a.clock.Advance(time.Minute)
	}
	if issued != 3 {
		t.Fatalf("%d tokens issued before the session was ended, want 3", issued)
	}
	ev := a.wantEvent(session.EventTokenReused, "")
	if !strings.Contains(ev.Detail, "never used") {
		t.Fatalf("reuse event: %+v", ev)
	}
}

// testRotationOnlyOnGet: a POST that comes due is not answered with a new
// token (a slow upload's response would arrive after newer ones); the next
// GET is.
func testRotationOnlyOnGet(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{RotationInterval: interval})
	tok := a.login("alice", "")
	a.clock.Advance(interval)
	if c := a.sessionCookie(a.do("POST", "/rotate-not", tok)); c != nil {
		t.Fatalf("a POST was answered with a new token: %v", c)
	}
	if c := a.sessionCookie(a.do("GET", "/whoami", tok)); c == nil || c.Value == tok {
		t.Fatal("the next GET was not answered with a new token")
	}
}
