package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/testdb"
)

const (
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	chromeMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	newPW        = "a brand new passphrase"
)

func TestAccountCenter(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){
		"sessions_list_owner_scoped":      testSessionsList,
		"revoke_one_signs_out_next":       testRevokeOne,
		"revoke_other_users_session_404":  testRevokeForeign,
		"revoke_this_device":              testRevokeSelf,
		"sudo_window_per_session":         testSudoWindow,
		"reauth_rotates_and_throttles":    testReauth,
		"revoke_others_needs_sudo":        testRevokeOthers,
		"change_password":                 testChangePassword,
		"password_change_race":            testPasswordChangeRace,
		"admin_password_change_race":      testAdminPasswordChangeRace,
		"delete_account":                  testDeleteAccount,
		"new_sign_in_notice":              testNewSignInNotice,
		"activity":                        testActivity,
		"admin_revocation_not_an_attack":  testAdminRevocation,
		"planted_token_shown_in_activity": testForeignTokenActivity,
		"sign_in_returns_same_site_only":  testSignInNext,
		"cookie_used_from_another_client": testClientChanged,
		"bad_input_on_account_pages":      testAccountBadInput,
	})
}

// browserAs returns a browser with that User-Agent, signed in as user.
func (s *server) browserAs(ua, user, password string) *browser {
	s.t.Helper()
	b := s.browser()
	b.ua = ua
	b.mustLogin(user, password)
	return b
}

var sessionIDRE = regexp.MustCompile(`action="/settings/sessions/([0-9a-f]{32})/revoke"`)

// currentSessionRE finds the browser's own session on the sessions page.
var currentSessionRE = regexp.MustCompile(`(?s)<li class="session current"[^>]*>.*?action="/settings/sessions/([0-9a-f]{32})/revoke"`)

// sessionIDs returns the session IDs listed on the browser's sessions page.
func (b *browser) sessionIDs() []string {
	b.t.Helper()
	r := b.get("/settings/sessions")
	if r.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /settings/sessions: %d", r.StatusCode)
	}
	var ids []string
	for _, m := range sessionIDRE.FindAllStringSubmatch(r.body, -1) {
		ids = append(ids, m[1])
	}
	slices.Sort(ids)
	return ids
}

// sessionID is the handle of the browser's session, in hex, as its
// sessions page shows it.
func (b *browser) sessionID() string {
	b.t.Helper()
	r := b.get("/settings/sessions")
	m := currentSessionRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("the sessions page (status %d) does not show this browser's session", r.StatusCode)
	}
	return m[1]
}

// formToken returns the csrf_token of any signed-in page.
func (b *browser) formToken(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no csrf_token on %s (status %d)", path, r.StatusCode)
	}
	return m[1]
}

func (b *browser) postForm(path string, form url.Values) *response {
	b.t.Helper()
	form.Set("csrf_token", b.formToken("/settings/sessions"))
	return b.post(path, form)
}

func sortedIDs(bs ...*browser) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.sessionID())
	}
	slices.Sort(ids)
	return ids
}

func testSessionsList(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	s.addUser("bob", alicePW)
	a1 := s.browserAs(firefoxLinux, "alice", alicePW)
	a2 := s.browserAs(safariPhone, "alice", alicePW)
	bob := s.browserAs(chromeMac, "bob", alicePW)
	if got, want := a1.sessionIDs(), sortedIDs(a1, a2); !slices.Equal(got, want) {
		t.Fatalf("alice's sessions page lists %v, want exactly %v", got, want)
	}
	if got, want := bob.sessionIDs(), sortedIDs(bob); !slices.Equal(got, want) {
		t.Fatalf("bob's sessions page lists %v, want %v", got, want)
	}
	r := a1.get("/settings/sessions")
	for _, want := range []string{"Firefox on Linux", "Safari on iOS", "This device", "127.0.0.1", "Signed in with password", "Sign out everywhere else"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("sessions page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "Chrome on macOS") || strings.Contains(r.body, bob.sessionID()) {
		t.Error("alice's sessions page shows bob's session")
	}
	// "This device" marks the request's own session, first.
	cur := strings.Index(r.body, `id="session-`+a1.sessionID()[:12]+`"`)
	other := strings.Index(r.body, `id="session-`+a2.sessionID()[:12]+`"`)
	badge := strings.Index(r.body, "This device")
	if cur < 0 || other < 0 || !(cur < badge && badge < other) {
		t.Errorf("this device is not marked first: session at %d, badge at %d, other at %d", cur, badge, other)
	}
	// Last active, relative to now.
	s.clock.Advance(5 * time.Minute)
	a2.get("/profile") // a2 is seen again now
	s.clock.Advance(7 * time.Minute)
	if r := a1.get("/settings/sessions"); !strings.Contains(r.body, "7 minutes ago") {
		t.Errorf("sessions page does not say a2 was active 7 minutes ago:\n%s", r.body)
	}
	// The menu links to it.
	if r := a1.get("/"); !strings.Contains(r.body, `href="/settings/sessions"`) {
		t.Error("the signed-in menu has no link to the sessions page")
	}
	// Anonymous: sent to sign in.
	if r := s.browser().get("/settings/sessions"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("anonymous /settings/sessions: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func testRevokeOne(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a1 := s.browserAs(firefoxLinux, "alice", alicePW)
	a2 := s.browserAs(safariPhone, "alice", alicePW)
	victimID := a2.sessionID()
	r := a1.postForm("/settings/sessions/"+victimID+"/revoke", url.Values{})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/sessions" {
		t.Fatalf("revoke: %d %q %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	// Its very next request is signed out, and told why.
	r = a2.get("/settings/sessions")
	if r.StatusCode != http.StatusSeeOther || a2.token() != "" {
		t.Fatalf("revoked browser's next request: %d, token %q", r.StatusCode, a2.token())
	}
	if r := a2.get(r.Header.Get("Location")); !strings.Contains(r.body, "Your session ended: signed out from another of your sessions.") {
		t.Fatalf("the sign-in page it is sent to does not say why:\n%s", r.body)
	}
	if r := a2.get("/login"); strings.Contains(r.body, "Your session ended") {
		t.Fatal("the reason is shown again")
	}
	if a1.signedInAs() != "alice" {
		t.Fatal("revoking another session signed this one out")
	}
	if got := a1.sessionIDs(); !slices.Equal(got, sortedIDs(a1)) {
		t.Fatalf("after revoking, sessions page lists %v", got)
	}
	evs := s.eventsOf("session_ended_token")
	if len(evs) == 0 || !strings.Contains(evs[0].Detail, "signed out from another of your sessions") {
		t.Fatalf("no session_ended_token event saying who revoked it: %+v", evs)
	}
	// Revoking it again: it is gone.
	if r := a1.postForm("/settings/sessions/"+victimID+"/revoke", url.Values{}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking a revoked session: %d, want 404", r.StatusCode)
	}
}

// eventsOf returns the stored events of a kind, newest first.
func (s *server) eventsOf(kind string) []struct{ Detail, Session string } {
	s.t.Helper()
	list, err := s.st.DB.Events(context.Background(), 0, "", 1000)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []struct{ Detail, Session string }
	for _, e := range list {
		if e.Kind == kind {
			out = append(out, struct{ Detail, Session string }{e.Detail, e.Session})
		}
	}
	return out
}

func testRevokeForeign(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	s.addUser("bob", alicePW)
	alice := s.browserAs(firefoxLinux, "alice", alicePW)
	bob := s.browserAs(chromeMac, "bob", alicePW)
	for _, id := range []string{bob.sessionID(), "zz", strings.Repeat("0", 32), strings.ToUpper(bob.sessionID())} {
		r := alice.postForm("/settings/sessions/"+id+"/revoke", url.Values{})
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("revoking %q of another user: %d, want 404", id, r.StatusCode)
		}
		if strings.Contains(r.body, "bob") {
			t.Fatalf("the 404 names the session's owner: %s", r.body)
		}
	}
	// Past the sudo window too: not found, not "confirm your password".
	s.clock.Advance(account.DefaultSudoWindow + time.Minute)
	if r := alice.postForm("/settings/sessions/"+bob.sessionID()+"/revoke", url.Values{}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking another user's session outside sudo mode: %d, want 404", r.StatusCode)
	}
	if bob.signedInAs() != "bob" {
		t.Fatal("alice ended bob's session")
	}
	if alice.signedInAs() != "alice" {
		t.Fatal("alice was signed out")
	}
}

func testRevokeSelf(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	tok := a.token()
	r := a.postForm("/settings/sessions/"+a.sessionID()+"/revoke", url.Values{})
	if r.StatusCode != http.StatusSeeOther || a.token() != "" {
		t.Fatalf("signing out this device: %d, token %q", r.StatusCode, a.token())
	}
	a.setToken(tok)
	if a.signedInAs() != "" {
		t.Fatal("the revoked token still works")
	}
}

// The sudo window is the session's: it opens at sign-in or re-auth and
// closes after ReauthWindow, on an injected clock.
func testSudoWindow(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	if r := a.get("/settings/delete"); r.StatusCode != http.StatusOK {
		t.Fatalf("right after sign-in, /settings/delete: %d, want 200", r.StatusCode)
	}
	s.clock.Advance(account.DefaultSudoWindow - time.Second)
	if r := a.get("/settings/delete"); r.StatusCode != http.StatusOK {
		t.Fatalf("within the window: %d, want 200", r.StatusCode)
	}
	s.clock.Advance(2 * time.Second)
	r := a.get("/settings/delete")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/reauth?next=/settings/delete" {
		t.Fatalf("past the window: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := a.postForm("/settings/delete", url.Values{"confirm_username": {"alice"}}); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/settings/reauth") {
		t.Fatalf("deleting past the window: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if a.signedInAs() != "alice" {
		t.Fatal("account deleted without sudo")
	}
	// Another session re-authenticating does not open this one's window.
	b := s.browserAs(safariPhone, "alice", alicePW)
	s.clock.Advance(account.DefaultSudoWindow + time.Second)
	if r := b.postForm("/settings/reauth", url.Values{"password": {alicePW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reauth: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/settings/delete"); r.StatusCode != http.StatusOK {
		t.Fatalf("after reauth: %d", r.StatusCode)
	}
	if r := a.get("/settings/delete"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("another session's reauth opened this one's window: %d", r.StatusCode)
	}
}

func testReauth(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	s.clock.Advance(account.DefaultSudoWindow + time.Minute)
	if r := a.get("/settings/reauth?next=/settings/delete"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="next" value="/settings/delete"`) {
		t.Fatalf("reauth form: %d", r.StatusCode)
	}
	// An off-site next is not followed.
	old := a.token()
	r := a.postForm("/settings/reauth", url.Values{"password": {alicePW}, "next": {"//evil.example/x"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/sessions" {
		t.Fatalf("reauth with an off-site next: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// The token rotated: the old one is dead, the new one works.
	if a.token() == old || a.token() == "" {
		t.Fatal("re-authenticating did not rotate the token")
	}
	stale := s.browser()
	stale.setToken(old)
	if stale.signedInAs() != "" {
		t.Fatal("the token from before re-authentication still works")
	}
	if a.signedInAs() != "alice" {
		t.Fatal("signed out by re-authentication")
	}
	s.wantEvent("reauthenticated")
	// Wrong passwords count toward throttling like sign-ins.
	for i := range 5 {
		if r := a.postForm("/settings/reauth", url.Values{"password": {"wrong " + string(rune('a'+i))}}); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong reauth %d: %d", i+1, r.StatusCode)
		}
	}
	s.wantEvent("reauth_failed")
	if r := a.postForm("/settings/reauth", url.Values{"password": {alicePW}}); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("reauth after 5 failures: %d, want 429 with Retry-After", r.StatusCode)
	}
	// And so do sign-ins of the same account from the same network.
	if r := s.browser().login("alice", alicePW); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sign-in after 5 failed re-authentications: %d, want 429", r.StatusCode)
	}
}

func testRevokeOthers(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	s.addUser("bob", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	others := []*browser{s.browserAs(safariPhone, "alice", alicePW), s.browserAs(chromeMac, "alice", alicePW)}
	bob := s.browserAs(chromeMac, "bob", alicePW)
	s.clock.Advance(account.DefaultSudoWindow + time.Minute)
	r := a.postForm("/settings/sessions/revoke-others", url.Values{})
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, `action="/settings/sessions/revoke-others"`) {
		t.Fatalf("sign out everywhere else without sudo: %d, want a password prompt", r.StatusCode)
	}
	for _, o := range others {
		if o.signedInAs() != "alice" {
			t.Fatal("sessions ended without the password confirmed")
		}
	}
	// One at a time, too.
	one := "/settings/sessions/" + others[0].sessionID() + "/revoke"
	r = a.postForm(one, url.Values{})
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, `action="`+one+`"`) || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("signing out another session without sudo: %d, want a password prompt for the same action", r.StatusCode)
	}
	if r := a.postForm(one, url.Values{"password": {"wrong password"}}); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "not right") {
		t.Fatalf("with a wrong password: %d", r.StatusCode)
	}
	if others[0].signedInAs() != "alice" {
		t.Fatal("a session was signed out without the password confirmed")
	}
	// Confirmed in the prompt, the action goes through at once.
	if r := a.postForm(one, url.Values{"password": {alicePW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the password: %d %s", r.StatusCode, r.body)
	}
	if others[0].signedInAs() != "" {
		t.Fatal("confirming the password did not sign the session out")
	}
	others = others[1:]
	s.clock.Advance(account.DefaultSudoWindow + time.Minute)
	if r := a.postForm("/settings/reauth", url.Values{"password": {alicePW}, "next": {"/settings/sessions"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reauth: %d", r.StatusCode)
	}
	if r := a.postForm("/settings/sessions/revoke-others", url.Values{}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/sessions" {
		t.Fatalf("sign out everywhere else: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	for _, o := range others {
		if o.signedInAs() != "" {
			t.Fatal("another session survived sign out everywhere else")
		}
	}
	if a.signedInAs() != "alice" || bob.signedInAs() != "bob" {
		t.Fatal("sign out everywhere else ended the wrong sessions")
	}
	if got := a.sessionIDs(); !slices.Equal(got, sortedIDs(a)) {
		t.Fatalf("sessions left: %v", got)
	}
}

func testChangePassword(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	others := []*browser{s.browserAs(safariPhone, "alice", alicePW), s.browserAs(chromeMac, "alice", alicePW)}
	for _, tc := range []struct {
		current, pw, confirm string
		status               int
		msg                  string
	}{
		{"wrong current", newPW, newPW, http.StatusUnauthorized, "current password is not right"},
		{alicePW, newPW, "something else", http.StatusUnprocessableEntity, "do not match"},
		{alicePW, "password", "password", http.StatusUnprocessableEntity, "common"},
		{alicePW, "short", "short", http.StatusUnprocessableEntity, "Use at least 8 characters (you typed 5)."},
		{alicePW, "Alice2024!", "Alice2024!", http.StatusUnprocessableEntity, "Your password contains your username"},
		{alicePW, alicePW, alicePW, http.StatusUnprocessableEntity, "differs from your current one"},
	} {
		r := a.postForm("/settings/password", url.Values{"current_password": {tc.current}, "password": {tc.pw}, "password_confirm": {tc.confirm}})
		if r.StatusCode != tc.status || !strings.Contains(r.body, tc.msg) {
			t.Fatalf("change password (%q, %q, %q): %d, want %d with %q", tc.current, tc.pw, tc.confirm, r.StatusCode, tc.status, tc.msg)
		}
	}
	if others[0].signedInAs() != "alice" {
		t.Fatal("a failed password change signed other sessions out")
	}
	old := a.token()
	r := a.postForm("/settings/password", url.Values{"current_password": {alicePW}, "password": {newPW}, "password_confirm": {newPW}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("change password: %d %s", r.StatusCode, r.body)
	}
	if a.token() == old || a.signedInAs() != "alice" {
		t.Fatal("the current session did not continue under a new token")
	}
	stale := s.browser()
	stale.setToken(old)
	if stale.signedInAs() != "" {
		t.Fatal("the current session's old token survived the password change")
	}
	for _, o := range others {
		if o.signedInAs() != "" {
			t.Fatal("another session survived the password change")
		}
	}
	if r := s.browser().login("alice", alicePW); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old password: %d", r.StatusCode)
	}
	s.browser().mustLogin("alice", newPW)
	s.wantEvent("password_changed")
}

// Sign-ins with the old password, in flight on several goroutines while
// the password changes: afterwards, none of the tokens they got works.
func testPasswordChangeRace(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	passwordRace(t, s, func() {
		r := a.postForm("/settings/password", url.Values{"current_password": {alicePW}, "password": {newPW}, "password_confirm": {newPW}})
		if r.StatusCode != http.StatusSeeOther {
			t.Errorf("change password: %d %s", r.StatusCode, r.body)
		}
	})
	if a.signedInAs() != "alice" {
		t.Fatal("the session that changed the password was signed out")
	}
}

// The same race with the command line's path (connectbook user passwd).
func testAdminPasswordChangeRace(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	passwordRace(t, s, func() {
		if _, err := s.st.Account.SetPassword(context.Background(), "alice", newPW, newPW); err != nil {
			t.Errorf("SetPassword: %v", err)
		}
	})
}

func passwordRace(t *testing.T, s *server, change func()) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		tokens   []string
		stop     atomic.Bool
		started  atomic.Int32
		signedIn atomic.Int32
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				b := s.browser()
				started.Add(1)
				r, err := b.tryLogin("alice", alicePW)
				if err != nil || r.StatusCode != http.StatusSeeOther {
					continue
				}
				signedIn.Add(1)
				mu.Lock()
				tokens = append(tokens, b.token())
				mu.Unlock()
			}
		}()
	}
	for signedIn.Load() < 6 {
		time.Sleep(time.Millisecond)
	}
	change()
	// Keep the old-password sign-ins going a little longer: those already
	// past the password check are the race.
	for n := started.Load(); started.Load() < n+12; {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	alive := 0
	for _, tok := range tokens {
		b := s.browser()
		b.setToken(tok)
		if b.signedInAs() != "" {
			alive++
		}
	}
	if alive > 0 {
		t.Fatalf("%d of %d sessions signed in with the old password survived the change", alive, len(tokens))
	}
	t.Logf("%d sign-ins with the old password, none survived", len(tokens))
}

func testDeleteAccount(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	s.addUser("bob", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	other := s.browserAs(safariPhone, "alice", alicePW)
	bob := s.browserAs(chromeMac, "bob", alicePW)
	if r := a.get("/settings/delete"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="confirm_username"`) {
		t.Fatalf("delete form: %d", r.StatusCode)
	}
	if r := a.postForm("/settings/delete", url.Values{"confirm_username": {"bob"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("delete with the wrong username: %d", r.StatusCode)
	}
	if a.signedInAs() != "alice" {
		t.Fatal("deleted with the wrong username")
	}
	if r := s.browser().login("alice", "not her password"); r.StatusCode != http.StatusUnauthorized {
		t.Fatal(r.StatusCode)
	}
	u, err := s.st.DB.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	r := a.postForm("/settings/delete", url.Values{"confirm_username": {"Alice"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Your account has been deleted") || a.token() != "" {
		t.Fatalf("delete: %d, token %q", r.StatusCode, a.token())
	}
	if strings.Contains(r.body, `action="/logout"`) || strings.Contains(r.body, "@alice") {
		t.Fatal("the deleted-account page shows the signed-in menu")
	}
	if other.signedInAs() != "" {
		t.Fatal("another session survived the deletion")
	}
	if bob.signedInAs() != "bob" {
		t.Fatal("bob was signed out")
	}
	if r := s.browser().login("alice", alicePW); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deleted account signs in: %d", r.StatusCode)
	}
	if r := s.browser().get("/u/alice"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted profile: %d", r.StatusCode)
	}
	// Events stay, with the user ID.
	events, err := s.st.DB.Events(context.Background(), u.ID, "alice", 100)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, e := range events {
		if e.UserID == u.ID {
			kept[e.Kind] = true
		}
	}
	if !kept["user_deleted"] || !kept["login_succeeded"] || !kept["session_revoked"] {
		t.Fatalf("events after deletion: %+v", events)
	}
	// The username is free again, for a new account with a new ID.
	fresh := s.browser()
	if r := fresh.post("/signup", url.Values{"username": {"alice"}, "password": {newPW}, "password_confirm": {newPW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up with the freed username: %d", r.StatusCode)
	}
	// The new alice sees nothing of the old one's activity.
	if r := fresh.get("/settings/activity"); strings.Contains(r.body, "Failed sign-in") || strings.Contains(r.body, "Safari on iOS") {
		t.Fatalf("the new owner of the username sees the old account's activity:\n%s", r.body)
	}
}

var dismissRE = regexp.MustCompile(`action="/notices/(\d+)/dismiss"`)

func hasNotice(b *browser) bool {
	b.t.Helper()
	return strings.Contains(b.get("/profile").body, "New sign-in:")
}

func testNewSignInNotice(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	c := s.browserAs(firefoxLinux, "alice", alicePW)
	s.clock.Advance(time.Second)
	b := s.browserAs(safariPhone, "alice", alicePW) // new to alice
	r := a.get("/profile")
	if !strings.Contains(r.body, "New sign-in:") || !strings.Contains(r.body, "Safari on iOS") || !strings.Contains(r.body, "127.0.0.1") {
		t.Fatalf("the other session shows no new sign-in notice:\n%s", r.body)
	}
	// It links to the sessions page only, never to anything that signs in.
	notice := r.body[strings.Index(r.body, `<aside class="alert"`):]
	notice = notice[:strings.Index(notice, "</aside>")]
	for _, href := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(notice, -1) {
		if href[1] != "/settings/sessions" {
			t.Fatalf("the notice links to %q", href[1])
		}
	}
	id := dismissRE.FindStringSubmatch(r.body)
	if id == nil {
		t.Fatal("no dismiss button")
	}
	if hasNotice(b) {
		t.Fatal("the session that signed in is told about itself")
	}
	// The session the notice is about cannot dismiss it for the others.
	if r := b.postForm("/notices/"+id[1]+"/dismiss", url.Values{}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("the new session dismissing its own notice: %d, want 404", r.StatusCode)
	}
	// Dismissed by one session, it is gone there only.
	if r := a.postForm("/notices/"+id[1]+"/dismiss", url.Values{"next": {"/profile"}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/profile" {
		t.Fatalf("dismiss: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if hasNotice(a) {
		t.Fatal("the notice is still shown after dismissing it")
	}
	if !hasNotice(c) {
		t.Fatal("dismissing in one session hid the notice from another")
	}
	// The dismissal survives this session's new token.
	s.clock.Advance(account.DefaultSudoWindow + time.Minute)
	if r := a.postForm("/settings/reauth", url.Values{"password": {alicePW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reauth: %d", r.StatusCode)
	}
	if hasNotice(a) {
		t.Fatal("the dismissed notice came back after re-authenticating")
	}
	// Signing the owner out does not hide it: signing in again shows it.
	if r := b.postForm("/settings/reauth", url.Values{"password": {alicePW}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reauth: %d", r.StatusCode)
	}
	if r := b.postForm("/settings/sessions/"+c.sessionID()+"/revoke", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	c.mustLogin("alice", alicePW)
	if !hasNotice(c) {
		t.Fatal("a session signed in after the notice does not see it")
	}
	// A known device: no notice.
	if n := strings.Count(c.get("/profile").body, "New sign-in:"); n != 1 {
		t.Fatalf("%d notices", n)
	}
	s.clock.Advance(time.Second)
	s.browserAs(safariPhone, "alice", alicePW)
	if n := strings.Count(c.get("/profile").body, "New sign-in:"); n != 1 {
		t.Fatalf("a sign-in from a known device made a notice: %d notices", n)
	}
	// A later sign-in on the same kind of device as the one the notice is
	// about is not told about it: most likely, that is the user again.
	if d := s.browserAs(safariPhone, "alice", alicePW); hasNotice(d) {
		t.Fatal("a later session on the notice's own device is told about it")
	}
	// Another user cannot dismiss alice's notices.
	s.addUser("bob", alicePW)
	bob := s.browserAs(chromeMac, "bob", alicePW)
	if r := bob.postForm("/notices/"+id[1]+"/dismiss", url.Values{}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("bob dismissing alice's notice: %d, want 404", r.StatusCode)
	}
	// Notices are shown for two weeks.
	s.clock.Advance(account.NoticeLifetime)
	c.mustLogin("alice", alicePW)
	if hasNotice(c) {
		t.Fatal("a notice older than two weeks is still shown")
	}
}

func testActivity(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	s.addUser("bob", alicePW)
	if r := s.browser().login("alice", "not her password"); r.StatusCode != http.StatusUnauthorized {
		t.Fatal(r.StatusCode)
	}
	s.browserAs(chromeMac, "bob", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	r := a.get("/settings/activity")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("activity: %d", r.StatusCode)
	}
	for _, want := range []string{"Signed in", "Firefox on Linux", "Failed sign-in", "today "} {
		if !strings.Contains(r.body, want) {
			t.Errorf("activity lacks %q", want)
		}
	}
	if strings.Contains(r.body, "Chrome on macOS") {
		t.Error("alice's activity shows bob's sign-in")
	}
	// Newest first, paginated.
	for range account.ActivityPageSize {
		s.browserAs(safariPhone, "alice", alicePW)
	}
	r = a.get("/settings/activity")
	next := regexp.MustCompile(`href="/settings/activity\?before=(\d+)"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no link to older activity")
	}
	if strings.Contains(r.body, "Failed sign-in") {
		t.Error("the oldest event is on the first page")
	}
	if r := a.get("/settings/activity?before=" + next[1]); !strings.Contains(r.body, "Failed sign-in") {
		t.Error("older activity lacks the oldest event")
	}
	if r := a.get("/settings/activity?before=-1"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("bad cursor: %d", r.StatusCode)
	}
}

// A session ended by an administrator is reported as that when its
// browser comes back, not as an unknown token.
func testAdminRevocation(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	before := len(s.eventsOf("session_unknown_token"))
	if _, err := s.st.Account.AdminRevokeAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if r := a.get("/settings/sessions"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after revocation: %d", r.StatusCode)
	}
	evs := s.eventsOf("session_ended_token")
	if len(evs) == 0 || !strings.Contains(evs[0].Detail, "administrator") {
		t.Fatalf("no session_ended_token naming the administrator: %+v", evs)
	}
	if len(s.eventsOf("session_unknown_token")) != before {
		t.Fatal("an administrator's revocation was reported as an unknown token")
	}
	revoked := s.eventsOf("session_revoked")
	if len(revoked) == 0 || !strings.Contains(revoked[0].Detail, "1 session revoked by an administrator") {
		t.Fatalf("session_revoked detail not in words: %+v", revoked)
	}
	// The sign-in page says why.
	b := s.browserAs(firefoxLinux, "alice", alicePW)
	tok := b.token()
	if _, err := s.st.Account.AdminRevokeAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	c := s.browser()
	c.setToken(tok)
	if r := c.get("/login"); !strings.Contains(r.body, "Your session ended: revoked by an administrator.") {
		t.Fatalf("the login page does not say why:\n%s", r.body)
	}
}

func testForeignTokenActivity(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	victim := s.browser()
	victim.ua = firefoxLinux
	victim.setToken(randomToken()) // planted by someone who can write its cookies
	victim.get("/login")
	victim.mustLogin("alice", alicePW)
	if r := victim.get("/settings/activity"); !strings.Contains(r.body, "Refused a session token ConnectBook never issued") {
		t.Fatalf("activity does not show the planted token:\n%s", r.body)
	}
}

// The session limit ends the least recently used session.
func TestSessionLimit(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			opts := be.store(t)
			opts.MaxSessions = 3
			s := newServerOn(t, opts, defaultHasher())
			s.addUser("alice", alicePW)
			var bs []*browser
			for range 3 {
				bs = append(bs, s.browserAs(firefoxLinux, "alice", alicePW))
				s.clock.Advance(2 * time.Minute)
			}
			bs[0].get("/profile") // the oldest is used again: bs[1] is now the least recently used
			s.clock.Advance(2 * time.Minute)
			bs = append(bs, s.browserAs(firefoxLinux, "alice", alicePW))
			if bs[1].signedInAs() != "" {
				t.Fatal("the least recently used session survived a sign-in past the limit")
			}
			for _, i := range []int{0, 2, 3} {
				if bs[i].signedInAs() != "alice" {
					t.Fatalf("session %d was ended instead", i)
				}
			}
			s.wantEvent("session_evicted")
		})
	}
}

// Admin commands refuse a Redis store other than serve's, down to the
// key prefix and database number.
func TestAdminRefusesAnotherRedis(t *testing.T) {
	url, prefix := testdb.Redis(t)
	dsn := testdb.SQLite(t)
	s := newServerOn(t, app.Options{DB: dsn, SessionStore: url, RedisPrefix: prefix}, defaultHasher())
	s.addUser("alice", alicePW)
	for _, tc := range []struct {
		name, url, prefix string
		ok                bool
	}{
		{"same", url, prefix, true},
		{"other prefix", url, prefix + "x:", false},
		{"other database", otherRedisDB(url), prefix, false},
		{"no redis", "", "", false},
	} {
		a, err := app.Open(context.Background(), app.Options{DB: dsn, SessionStore: tc.url, RedisPrefix: tc.prefix, Admin: true})
		if tc.ok != (err == nil) {
			t.Errorf("%s: Open error %v, want ok=%v", tc.name, err, tc.ok)
		}
		if a != nil {
			a.Close()
		}
	}
}

func otherRedisDB(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	if p.Path == "/1" {
		p.Path = "/2"
	} else {
		p.Path = "/1"
	}
	return p.String()
}

// After signing in, the browser goes back to the page it was on: a path
// on this site, never another site.
func testSignInNext(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	if r := s.browser().get("/settings/activity"); r.Header.Get("Location") != "/login?next=%2Fsettings%2Factivity" {
		t.Fatalf("redirect to sign in: %q", r.Header.Get("Location"))
	}
	// Spaces around the username are not part of it.
	if r := s.browser().login("  alice ", alicePW); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("username with spaces around it: %d", r.StatusCode)
	}
	for _, tc := range []struct{ next, want string }{
		{"/settings/activity", "/settings/activity"},
		{"/settings/activity?x=1", "/settings/activity?x=1"},
		{"/?before=42", "/?before=42"},
		{"/search?q=ada%20l", "/search?q=ada%20l"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"/x/../../evil", "/"},
		{"javascript:alert(1)", "/"},
		{"/search?q=//evil.example", "/"},
		{"/search?q=<script>", "/"},
		{"/settings#x", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"", "/"},
	} {
		r := s.browser().post("/login", url.Values{"username": {"alice"}, "password": {alicePW}, "next": {tc.next}})
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tc.want {
			t.Errorf("next %q: %d to %q, want %q", tc.next, r.StatusCode, r.Header.Get("Location"), tc.want)
		}
	}
	// A NUL in it: the form is refused, and nobody is sent anywhere.
	if r := s.browser().post("/login", url.Values{"username": {"alice"}, "password": {alicePW}, "next": {"/a\x00b"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("next with a NUL: %d, want 400", r.StatusCode)
	}
}

// A session cookie replayed from another browser or system ends the
// session, and the owner is told; a browser update or a new address does
// not sign anyone out.
func testClientChanged(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	phone := s.browserAs(safariPhone, "alice", alicePW)
	s.clock.Advance(time.Second)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	// Firefox updates itself: same session.
	a.ua = strings.ReplaceAll(firefoxLinux, "128.0", "131.0")
	if a.signedInAs() != "alice" {
		t.Fatal("a browser update signed the session out")
	}
	// The cookie, copied into another browser.
	thief := s.browser()
	thief.ua = chromeMac
	thief.setToken(a.token())
	if thief.signedInAs() != "" {
		t.Fatal("the session cookie works from another browser and system")
	}
	s.wantEvent("session_client_changed")
	if a.signedInAs() != "" {
		t.Fatal("the session survived its cookie being used from another client")
	}
	// The owner is told, on their other sessions and when signing in again.
	r := phone.get("/profile")
	if !strings.Contains(r.body, "A session of yours was ended") || !strings.Contains(r.body, "Chrome on macOS") {
		t.Fatalf("no notice for the owner:\n%s", r.body)
	}
	a.mustLogin("alice", alicePW)
	if r := a.get("/profile"); !strings.Contains(r.body, "A session of yours was ended") {
		t.Fatal("no notice on signing in again")
	}
	if r := a.get("/settings/activity"); !strings.Contains(r.body, "used from another browser or system") {
		t.Fatal("the activity does not show it")
	}
}

// Bad input on the account pages gets a clear 4xx, never a 500, and
// changes nothing.
func testAccountBadInput(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	long := strings.Repeat("x", 60<<10)
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"POST", "/settings/sessions/%00/revoke", url.Values{}},
		{"POST", "/settings/sessions/" + strings.Repeat("f", 5000) + "/revoke", url.Values{}},
		{"POST", "/settings/sessions/%ff%fe/revoke", url.Values{}},
		{"POST", "/notices/%00/dismiss", url.Values{}},
		{"POST", "/notices/99999999999999999999999/dismiss", url.Values{}},
		{"POST", "/notices/-1/dismiss", url.Values{}},
		{"GET", "/settings/activity?before=%00", nil},
		{"GET", "/settings/activity?before=99999999999999999999999", nil},
		{"POST", "/settings/password", url.Values{"current_password": {"\x00"}, "password": {long}, "password_confirm": {long}}},
		{"POST", "/settings/password", url.Values{"current_password": {alicePW}, "password": {"new\x00password"}, "password_confirm": {"other"}}},
		{"POST", "/settings/reauth", url.Values{"password": {"\x00" + long}, "next": {"\x00"}}},
		{"POST", "/settings/delete", url.Values{"confirm_username": {"alice\x00"}}},
		{"POST", "/settings/delete", url.Values{"confirm_username": {long}}},
	} {
		var r *response
		if tc.method == "GET" {
			r = a.get(tc.path)
		} else {
			r = a.postForm(tc.path, tc.form)
		}
		if r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("%s %s: %d, want a 4xx", tc.method, tc.path, r.StatusCode)
		}
	}
	// Invalid UTF-8 in a form.
	if r := a.postRaw("/settings/password", "csrf_token="+url.QueryEscape(a.formToken("/settings/password"))+"&current_password=%ff&password=%fe&password_confirm=%fe"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("invalid UTF-8 in the password form: %d", r.StatusCode)
	}
	if a.signedInAs() != "alice" {
		t.Fatal("bad input signed alice out or deleted her")
	}
	if r := s.browser().login("alice", alicePW); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the password changed: %d", r.StatusCode)
	}
}
