package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/bindtest"
)

func TestStolenCookie(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){
		"rotation_reuse_ends_session_and_tells_owner": testRotationReuse,
		"rotation_keeps_open_forms_working":           testRotationKeepsForms,
		"device_bound_session":                        testDeviceBound,
	})
}

// testRotationReuse: the token is replaced after the interval; a copy
// taken before, presented after the browser moved on, ends the session,
// and the owner is told on signing in again.
func testRotationReuse(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	stolen := a.token()
	s.clock.Advance(session.DefaultRotationInterval)
	if a.signedInAs() != "alice" || a.token() == stolen {
		t.Fatal("no rotation after the interval")
	}
	if a.signedInAs() != "alice" {
		t.Fatal("the new token does not work")
	}
	s.clock.Advance(time.Minute)
	thief := s.browser()
	thief.ua = firefoxLinux // a careful thief copies the User-Agent too
	thief.setToken(stolen)
	if thief.signedInAs() != "" {
		t.Fatal("the retired token still signs in")
	}
	s.wantEvent("session_token_reused")
	if a.signedInAs() != "" {
		t.Fatal("the session survived the reuse of a retired token")
	}
	r := a.get("/login")
	if !strings.Contains(r.body, "used from two places") {
		t.Fatalf("the sign-in page does not say why:\n%s", r.body)
	}
	a.mustLogin("alice", alicePW)
	if r := a.get("/profile"); !strings.Contains(r.body, "Your session was used from two places and has been ended") {
		t.Fatalf("no notice on signing in again:\n%s", r.body)
	}
	if r := a.get("/settings/activity"); !strings.Contains(r.body, "used from two places at once") {
		t.Fatal("the activity does not show it")
	}
}

// testRotationKeepsForms: a form opened before a rotation is accepted
// after it.
func testRotationKeepsForms(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	form := a.csrf()
	s.clock.Advance(session.DefaultRotationInterval + time.Minute)
	before := a.token()
	if a.get("/settings/sessions"); a.token() == before {
		t.Fatal("no rotation")
	}
	r := a.post("/profile", map[string][]string{"csrf_token": {form}, "display_name": {"Alice"}, "bio": {"kept"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("profile with a form from before the rotation: status %d", r.StatusCode)
	}
	if r := a.get("/profile"); !strings.Contains(r.body, "kept") {
		t.Fatal("the profile was not saved")
	}
}

// testDeviceBound plays Chromium's part against the whole app (its
// cross-origin protection and body limits included): registration at
// sign-in, the bound session on the sessions page, a refresh, and copied
// cookies refused once the bound cookie has run out.
func testDeviceBound(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	b.ua = firefoxLinux
	r := b.login("alice", alicePW)
	reg, err := bindtest.ParseRegistration(r.Header.Get("Secure-Session-Registration"))
	if err != nil {
		t.Fatalf("no registration offered at sign-in: %v", err)
	}
	key := bindtest.NewES256()
	dbsc := func(path string, header ...string) *response {
		t.Helper()
		return b.postRaw(path, "", append([]string{"Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin"}, header...)...)
	}
	r = dbsc(reg.Path, "Secure-Session-Response", key.Proof(reg.Challenge, true))
	var ans struct {
		ID      string `json:"session_identifier"`
		Refresh string `json:"refresh_url"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.body), &ans) != nil || ans.ID == "" {
		t.Fatalf("registration: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/settings/sessions"); !strings.Contains(r.body, "Bound to this device") {
		t.Fatalf("the sessions page does not show the binding:\n%s", r.body)
	}
	copied := b.c.Jar.Cookies(b.base)

	// The bound cookie runs out; the browser refreshes, the copy cannot.
	s.clock.Advance(session.DefaultBoundCookieLifetime)
	if b.signedInAs() != "" {
		t.Fatal("signed in with an expired bound cookie")
	}
	r = dbsc(ans.Refresh, "Sec-Secure-Session-Id", ans.ID)
	c, _, err := bindtest.ParseChallenge(r.Header.Get("Secure-Session-Challenge"))
	if r.StatusCode != http.StatusForbidden || err != nil {
		t.Fatalf("refresh without proof: %d, %v", r.StatusCode, err)
	}
	r = dbsc(ans.Refresh, "Sec-Secure-Session-Id", ans.ID, "Secure-Session-Response", key.Proof(c, false))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	if b.signedInAs() != "alice" {
		t.Fatal("not signed in after the refresh")
	}
	thief := s.browser()
	thief.ua = firefoxLinux
	thief.c.Jar.SetCookies(b.base, copied)
	if thief.signedInAs() != "" {
		t.Fatal("copied cookies work after the bound cookie's lifetime")
	}
	s.wantEvent("session_binding_missing")
	// The count on the session is what records every refused request:
	// the owner's own lapse above, and the copy's.
	r = b.get("/settings/sessions")
	if !strings.Contains(r.body, "2 requests with this session") {
		t.Fatalf("the owner does not see both refused requests (its own lapse and the copy):\n%s", r.body)
	}
	// A proof signed by another key is refused, with an event, not a 500.
	r = dbsc(ans.Refresh, "Sec-Secure-Session-Id", ans.ID, "Secure-Session-Response", bindtest.NewES256().Proof(c, false))
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh signed by another key: %d", r.StatusCode)
	}
	s.wantEvent("session_binding_refused")
}
