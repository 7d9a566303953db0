package storetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/bindtest"
)

// bindingCases check Device Bound Session Credentials through a Manager,
// with a client that plays the browser's part.
var bindingCases = []testCase{
	{"binding_register_refresh", testBindingRegisterRefresh},
	{"binding_copied_cookies", testBindingCopiedCookies},
	{"binding_refusals", testBindingRefusals},
	{"binding_not_offered_not_needed", testBindingUnboundBrowser},
}

const boundLife = 10 * time.Minute

// device is a browser with a device key and its cookies for one session.
type device struct {
	a       *app
	key     *bindtest.Key
	token   string
	bound   string // the bound cookie's value
	id      string // the session identifier the server gave
	ahead   string // a challenge sent ahead
	refresh string
}

// cookies returns the Cookie header of the device.
func (d *device) cookies() string {
	c := d.a.cookie(d.token)
	if d.bound != "" {
		c += "; " + d.a.m.CookieName() + "-bound=" + d.bound
	}
	return c
}

func (d *device) whoami() string {
	d.a.t.Helper()
	resp := d.a.send("GET", "/whoami", d.cookies())
	if c := d.a.sessionCookie(resp); c != nil && c.Value != "" {
		d.token = c.Value // rotation
	}
	return readBody(resp)
}

// signInBound signs alice in and registers a key as a browser with DBSC
// does on the response.
func signInBound(t *testing.T, a *app, key *bindtest.Key) *device {
	t.Helper()
	resp := a.send("POST", "/login", "", "X-User", "alice", "X-Epoch", "0")
	d := &device{a: a, key: key, token: a.sessionCookie(resp).Value}
	reg, err := bindtest.ParseRegistration(resp.Header.Get("Secure-Session-Registration"))
	if err != nil {
		t.Fatalf("sign-in offers no registration: %v (%q)", err, resp.Header)
	}
	if strings.Join(reg.Algorithms, " ") != "ES256 RS256" {
		t.Fatalf("algorithms offered = %q, want ES256 RS256", reg.Algorithms)
	}
	resp = a.send("POST", reg.Path, d.cookies(), "Secure-Session-Response", key.Proof(reg.Challenge, true))
	d.take(t, resp)
	return d
}

// take reads a successful registration or refresh answer.
func (d *device) take(t *testing.T, resp *http.Response) {
	t.Helper()
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("binding answer: status %d: %s", resp.StatusCode, body)
	}
	var ans struct {
		ID          string `json:"session_identifier"`
		Refresh     string `json:"refresh_url"`
		Credentials []struct {
			Type, Name, Attributes string
		} `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.ID == "" || ans.Refresh == "" || len(ans.Credentials) != 1 {
		t.Fatalf("binding answer %q: %v", body, err)
	}
	if c := ans.Credentials[0]; c.Type != "cookie" || c.Name != d.a.m.CookieName()+"-bound" ||
		strings.Contains(strings.ToLower(c.Attributes), "max-age") || strings.Contains(strings.ToLower(c.Attributes), "expires") {
		t.Fatalf("credential %+v: want the bound cookie, with no lifetime in its attributes", c)
	}
	bc := d.a.cookieNamed(resp, d.a.m.CookieName()+"-bound")
	if bc == nil || bc.Value == "" || bc.MaxAge <= 0 || bc.MaxAge > int(boundLife/time.Second) || !bc.Secure || !bc.HttpOnly {
		t.Fatalf("bound cookie %+v", bc)
	}
	d.bound, d.id, d.refresh = bc.Value, ans.ID, ans.Refresh
	if h := resp.Header.Get("Secure-Session-Challenge"); h != "" {
		c, id, err := bindtest.ParseChallenge(h)
		if err != nil || id != d.id {
			t.Fatalf("challenge sent ahead %q: %v", h, err)
		}
		d.ahead = c
	}
}

// refreshed refreshes the binding the long way: a 403 with a challenge,
// then the signed proof.
func (d *device) refreshed(t *testing.T) {
	t.Helper()
	resp := d.a.send("POST", d.refresh, d.cookies(), "Sec-Secure-Session-Id", d.id)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("refresh without proof: status %d, want 403", resp.StatusCode)
	}
	c, id, err := bindtest.ParseChallenge(resp.Header.Get("Secure-Session-Challenge"))
	if err != nil || id != d.id {
		t.Fatalf("refresh challenge: %v, id %q want %q", err, id, d.id)
	}
	resp = d.a.send("POST", d.refresh, d.cookies(), "Sec-Secure-Session-Id", d.id, "Secure-Session-Response", d.key.Proof(c, false))
	d.take(t, resp)
}

func testBindingRegisterRefresh(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{BoundCookieLifetime: boundLife, RotationInterval: -1})
	d := signInBound(t, a, bindtest.NewES256())
	s := mustFind(t, h.Store, idOf(t, d.token))
	if !s.Bound() || !s.BoundAt.Equal(a.clock.Now()) || s.Handle.String() != d.id {
		t.Fatalf("after registration: bound %v at %v, handle %s; want bound now, handle %s", s.Bound(), s.BoundAt, s.Handle, d.id)
	}
	a.wantEvent(session.EventBound, "bound to a P-256 key held by the browser")
	if got := d.whoami(); got != "alice" {
		t.Fatalf("bound session with its bound cookie = %q", got)
	}
	// The bound cookie's deadline is the server's: past it, the cookie
	// does not count, whatever the browser kept.
	a.clock.Advance(boundLife)
	if got := d.whoami(); got != "anonymous" {
		t.Fatalf("bound cookie past its lifetime = %q, want anonymous", got)
	}
	a.wantEvent(session.EventBindingMissing, "")
	d.refreshed(t)
	if got := d.whoami(); got != "alice" {
		t.Fatalf("after refresh = %q", got)
	}
	// The challenge sent ahead saves the 403: one signed request.
	a.clock.Advance(boundLife - time.Minute)
	resp := a.send("POST", d.refresh, d.cookies(), "Sec-Secure-Session-Id", d.id, "Secure-Session-Response", d.key.Proof(d.ahead, false))
	d.take(t, resp)
	a.clock.Advance(2 * time.Minute)
	if got := d.whoami(); got != "alice" {
		t.Fatalf("after a refresh with the challenge sent ahead = %q", got)
	}
	// Back-to-back refreshes are fine.
	d.refreshed(t)
	d.refreshed(t)
	if s := mustFind(t, h.Store, idOf(t, d.token)); s.Unbound != 1 {
		t.Fatalf("refused requests counted = %d, want 1", s.Unbound)
	}
	// An RSA key works as well.
	b := newApp(t, h.Store, session.Options{BoundCookieLifetime: boundLife})
	rsa := signInBound(t, b, bindtest.NewRS256(2048))
	if got := rsa.whoami(); got != "alice" {
		t.Fatalf("RS256-bound session = %q", got)
	}
	b.clock.Advance(boundLife)
	rsa.refreshed(t)
	if got := rsa.whoami(); got != "alice" {
		t.Fatalf("RS256-bound session after refresh = %q", got)
	}
}

// testBindingCopiedCookies: cookies copied off the device (session cookie
// and bound cookie) stop working with the bound cookie's lifetime, and
// repeated use ends the session.
func testBindingCopiedCookies(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{BoundCookieLifetime: boundLife, RotationInterval: -1})
	owner := signInBound(t, a, bindtest.NewES256())
	a.clock.Advance(time.Minute)
	thief := &device{a: a, token: owner.token, bound: owner.bound}
	if got := thief.whoami(); got != "alice" {
		t.Fatalf("copied cookies within the bound cookie's lifetime = %q (the copy is live until then)", got)
	}
	a.clock.Advance(boundLife)
	owner.refreshed(t) // the owner's browser refreshes; the thief cannot
	for i := 1; i < session.MaxUnboundRequests; i++ {
		if got := thief.whoami(); got != "anonymous" {
			t.Fatalf("copied cookies after the lifetime, try %d = %q", i, got)
		}
		if got := owner.whoami(); got != "alice" {
			t.Fatalf("owner after %d refused copies = %q", i, got)
		}
	}
	thief.bound = ""
	resp := a.send("GET", "/whoami", thief.cookies())
	if body := readBody(resp); body != "anonymous" {
		t.Fatalf("last try = %q", body)
	}
	ev := a.wantEvent(session.EventBindingMissing, "")
	if !strings.Contains(ev.Detail, "ended") {
		t.Fatalf("the last refused request did not end the session: %+v", ev)
	}
	resp = a.send("GET", "/whoami", owner.cookies())
	if body := readBody(resp); body != "anonymous" || !strings.Contains(resp.Header.Get("X-Ended"), "without the device") {
		t.Fatalf("owner after the session was ended = %q (%q)", body, resp.Header.Get("X-Ended"))
	}
	// Its refresh is told to stop.
	resp = a.send("POST", owner.refresh, owner.cookies(), "Sec-Secure-Session-Id", owner.id)
	if body := readBody(resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"continue":false`) {
		t.Fatalf("refresh of an ended session: %d %s", resp.StatusCode, body)
	}
}

func testBindingRefusals(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{BoundCookieLifetime: boundLife, RotationInterval: -1})
	key := bindtest.NewES256()
	resp := a.send("POST", "/login", "", "X-User", "alice", "X-Epoch", "0")
	tok := a.sessionCookie(resp).Value
	reg, err := bindtest.ParseRegistration(resp.Header.Get("Secure-Session-Registration"))
	if err != nil {
		t.Fatal(err)
	}
	cookie := a.cookie(tok)
	jwk := key.PublicJWK()
	refused := func(what, path, proof string, header ...string) {
		t.Helper()
		mark := a.mark()
		resp := a.send("POST", path, cookie, append([]string{"Secure-Session-Response", proof}, header...)...)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || resp.StatusCode == http.StatusForbidden {
			t.Fatalf("%s: status %d, want a 4xx refusal", what, resp.StatusCode)
		}
		if evs := a.eventsSince(mark, session.EventBindingRefused); len(evs) != 1 {
			t.Fatalf("%s: %d refusal events, want 1", what, len(evs))
		}
		if s := mustFind(t, h.Store, idOf(t, tok)); s.Bound() {
			t.Fatalf("%s bound the session", what)
		}
	}
	refused("alg none", reg.Path, bindtest.Unsigned(map[string]any{"alg": "none", "typ": "dbsc+jwt", "jwk": jwk}, reg.Challenge))
	refused("HS256", reg.Path, bindtest.Unsigned(map[string]any{"alg": "HS256", "typ": "dbsc+jwt", "jwk": jwk}, reg.Challenge)+"c2ln")
	refused("malformed", reg.Path, "not.a.jwt")
	refused("garbage", reg.Path, strings.Repeat("A", 20000))
	refused("no key", reg.Path, key.Proof(reg.Challenge, false))
	refused("wrong challenge", reg.Path, key.Proof("bm90IGEgY2hhbGxlbmdl", true))
	refused("weak RSA", reg.Path, bindtest.NewRS256(1024).Proof(reg.Challenge, true))
	refused("wrong typ", reg.Path, key.ProofOfType(reg.Challenge, true, "JWT"))
	// The challenge and the cookie, read off the wire and used elsewhere.
	mark := a.mark()
	resp = a.sendFrom("198.51.100.9", "POST", reg.Path, cookie, "Secure-Session-Response", bindtest.NewES256().Proof(reg.Challenge, true))
	if s := mustFind(t, h.Store, idOf(t, tok)); resp.StatusCode != http.StatusBadRequest || len(a.eventsSince(mark, session.EventBindingRefused)) != 1 || s.Bound() {
		t.Fatalf("registration from another address: status %d", resp.StatusCode)
	}

	// Expired challenge.
	a.clock.Advance(3 * time.Minute)
	refused("expired challenge", reg.Path, key.Proof(reg.Challenge, true))

	// A fresh sign-in, registered properly; then the same proof again.
	d := signInBound(t, a, key)
	cookie = d.cookies()
	tok = d.token
	mark = a.mark()
	resp = a.send("POST", "/dbsc/register", cookie, "Secure-Session-Response", key.Proof(reg.Challenge, true))
	if resp.StatusCode != http.StatusConflict || len(a.eventsSince(mark, session.EventBindingRefused)) != 1 {
		t.Fatalf("second registration: %d", resp.StatusCode)
	}
	// Refresh: a proof by another key, a replayed proof.
	a.clock.Advance(boundLife)
	resp = a.send("POST", d.refresh, cookie, "Sec-Secure-Session-Id", d.id)
	c, _, _ := bindtest.ParseChallenge(resp.Header.Get("Secure-Session-Challenge"))
	other := bindtest.NewES256()
	mark = a.mark()
	resp = a.send("POST", d.refresh, cookie, "Sec-Secure-Session-Id", d.id, "Secure-Session-Response", other.Proof(c, true))
	if resp.StatusCode != http.StatusBadRequest || len(a.eventsSince(mark, session.EventBindingRefused)) != 1 {
		t.Fatalf("refresh signed by another key: status %d", resp.StatusCode)
	}
	proof := key.Proof(c, false)
	resp = a.send("POST", d.refresh, cookie, "Sec-Secure-Session-Id", d.id, "Secure-Session-Response", proof)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("good refresh: %d %s", resp.StatusCode, readBody(resp))
	}
	mark = a.mark()
	resp = a.send("POST", d.refresh, cookie, "Sec-Secure-Session-Id", d.id, "Secure-Session-Response", proof)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Secure-Session-Challenge") == "" || a.cookieNamed(resp, a.m.CookieName()+"-bound") != nil {
		t.Fatalf("replayed proof: status %d, cookies %q; want 403 with a new challenge and no cookie", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if evs := a.eventsSince(mark, session.EventBindingRefused); len(evs) != 1 {
		t.Fatalf("replayed proof: %d refusal events, want 1", len(evs))
	}
	// An expired challenge, signed properly, is refused the same way.
	c, _, _ = bindtest.ParseChallenge(resp.Header.Get("Secure-Session-Challenge"))
	a.clock.Advance(3 * time.Minute)
	mark = a.mark()
	resp = a.send("POST", d.refresh, cookie, "Sec-Secure-Session-Id", d.id, "Secure-Session-Response", key.Proof(c, false))
	if resp.StatusCode != http.StatusForbidden || len(a.eventsSince(mark, session.EventBindingRefused)) != 1 || a.cookieNamed(resp, a.m.CookieName()+"-bound") != nil {
		t.Fatalf("expired challenge on refresh: status %d", resp.StatusCode)
	}
	resp = a.send("POST", d.refresh, cookie, "Sec-Secure-Session-Id", "another", "Secure-Session-Response", proof)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh for another session id: %d", resp.StatusCode)
	}
	for _, m := range []string{"GET", "PUT"} {
		if resp := a.send(m, d.refresh, cookie); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s refresh: %d", m, resp.StatusCode)
		}
	}
	if resp := a.send("POST", "/dbsc/other", cookie); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown binding endpoint: %d", resp.StatusCode)
	}
	if resp := a.send("POST", "/dbsc/register", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("registration without a session: %d", resp.StatusCode)
	}
}

// testBindingUnboundBrowser: a browser without DBSC never registers and
// keeps working; with binding off, nothing is offered.
func testBindingUnboundBrowser(t *testing.T, h Harness) {
	a := newApp(t, h.Store, session.Options{BoundCookieLifetime: boundLife})
	tok := a.login("alice", "")
	for range 4 {
		a.clock.Advance(boundLife)
		resp := a.do("GET", "/whoami", tok)
		if body := readBody(resp); body != "alice" {
			t.Fatalf("unbound session = %q", body)
		}
		if c := a.sessionCookie(resp); c != nil {
			tok = c.Value
		}
	}
	off := newApp(t, h.Store, session.Options{DisableBinding: true})
	resp := off.send("POST", "/login", "", "X-User", "bob", "X-Epoch", "0")
	if h := resp.Header.Get("Secure-Session-Registration"); h != "" {
		t.Fatalf("binding off, yet registration offered: %q", h)
	}
	if resp := off.send("POST", "/dbsc/register", off.cookie(off.sessionCookie(resp).Value)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("binding off, register answers %d", resp.StatusCode)
	}
}
