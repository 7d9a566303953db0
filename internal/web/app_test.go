package web_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/internal/web"
	"github.com/connectbook/connectbook/session"
)

const alicePW = "correct horse battery"

func TestApp(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){
		"signup_profile_flow":         testSignupProfileFlow,
		"signup_errors":               testSignupErrors,
		"login_logout":                testLoginLogout,
		"attack_planted_id":           testAttackPlantedID,
		"attack_url_id":               testAttackURLID,
		"attack_replay_after_logout":  testAttackReplayAfterLogout,
		"cross_site_requests_refused": testCrossSiteRefused,
		"no_account_enumeration":      testNoEnumeration,
		"throttling":                  testThrottling,
		"bad_input":                   testBadInput,
		"security_headers":            testSecurityHeaders,
		"deleted_user_signed_out":     testDeletedUser,
		"no_secrets_in_events_or_log": testNoSecretsLogged,
	})
}

func testSignupProfileFlow(t *testing.T, s *server) {
	b := s.browser()
	if r := b.get("/"); r.StatusCode != 200 || !strings.Contains(r.body, "Create your account") {
		t.Fatalf("landing page: %d", r.StatusCode)
	}
	if r := b.get("/signup"); r.StatusCode != 200 || !strings.Contains(r.body, `name="password_confirm"`) {
		t.Fatalf("GET /signup: %d", r.StatusCode)
	}
	r := b.post("/signup", url.Values{"username": {"Alice_1"}, "password": {alicePW}, "password_confirm": {alicePW}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/profile" || b.token() == "" {
		t.Fatalf("sign-up: %d %q, token %q", r.StatusCode, r.Header.Get("Location"), b.token())
	}
	if got := b.signedInAs(); got != "alice_1" {
		t.Fatalf("signed in as %q, want alice_1 (usernames are lowercase)", got)
	}
	r = b.post("/profile", url.Values{"csrf_token": {b.csrf()}, "display_name": {"  Alice Liddell "}, "bio": {"Down the <b>rabbit</b> hole.\r\nSecond line"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/profile" {
		t.Fatalf("saving the profile: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/profile"); !strings.Contains(r.body, "Your profile is saved.") || !strings.Contains(r.body, `value="Alice Liddell"`) {
		t.Fatalf("profile after saving: %s", r.body)
	}
	// The message is shown once, not again on reload.
	if r := b.get("/profile"); strings.Contains(r.body, "Your profile is saved.") {
		t.Fatalf("the saved message repeats on reload")
	}
	// Anyone can see the public profile, with the bio escaped.
	other := s.browser()
	// Another case of the name redirects to the lowercase address.
	if r := other.get("/u/ALICE_1?before=5"); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/u/alice_1?before=5" {
		t.Fatalf("/u/ALICE_1: %d to %q, want a redirect to /u/alice_1?before=5", r.StatusCode, r.Header.Get("Location"))
	}
	r = other.get("/u/alice_1")
	if r.StatusCode != 200 || !strings.Contains(r.body, "<h1><bdi>Alice Liddell</bdi></h1>") ||
		!strings.Contains(r.body, "Down the &lt;b&gt;rabbit&lt;/b&gt; hole.\nSecond line") || !strings.Contains(r.body, "@alice_1") {
		t.Fatalf("public profile: %d %s", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, "Edit your profile") || strings.Contains(r.body, "argon2") {
		t.Fatal("the public profile shows the owner's controls or the password hash")
	}
	// Signed-in users are sent home from the sign-up and login pages.
	for _, p := range []string{"/signup", "/login"} {
		if r := b.get(p); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("GET %s signed in: %d", p, r.StatusCode)
		}
	}
	if r := b.get("/"); !strings.Contains(r.body, "What's new, <bdi>Alice Liddell</bdi>?") || !strings.Contains(r.body, `action="/logout"`) || !strings.Contains(r.body, `action="/posts"`) {
		t.Fatalf("home signed in: %s", r.body)
	}
	s.wantEvent("user_created")
	s.wantEvent("session_created")
}

func testSignupErrors(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	for _, tc := range []struct {
		name, user, pw, confirm, field, want string
	}{
		{"bad username", "a!", alicePW, alicePW, "username", "Usernames are 3 to 30 characters"},
		{"short username", "ab", alicePW, alicePW, "username", "Usernames are 3 to 30 characters"},
		{"long username", strings.Repeat("a", 31), alicePW, alicePW, "username", "Usernames are 3 to 30 characters"},
		{"taken, other case", "ALICE", alicePW, alicePW, "username", "That username is taken"},
		{"short password", "bob", "1234567", "1234567", "password", "Use at least 8 characters (you typed 7)."},
		{"three characters of nine bytes", "bob", "€€€", "€€€", "password", "Use at least 8 characters (you typed 3)."},
		{"long password", "bob", strings.Repeat("x", 257), strings.Repeat("x", 257), "password", "Use at most 256 characters (you typed 257)."},
		{"common password", "bob", "football", "football", "password", "on the list of the most common passwords"},
		{"common password, other case", "bob", "PASSWORD", "PASSWORD", "password", "on the list of the most common passwords"},
		{"common password with digits", "bob", "password123", "password123", "password", "on the list of the most common passwords"},
		{"common password with look-alikes", "bob", "Pa$$w0rd!", "Pa$$w0rd!", "password", "one of the most common passwords with small changes"},
		{"password is username", "bobbybobby", "BobbyBobby", "BobbyBobby", "password", "Your password contains your username"},
		{"username and digits", "bobbybobby", "bobbybobby2024!", "bobbybobby2024!", "password", "Your password contains your username"},
		{"site name", "bob", "ConnectBook2024", "ConnectBook2024", "password", "Your password contains the name ConnectBook"},
		{"mismatch", "bob", alicePW, alicePW + "!", "password_confirm", "do not match"},
	} {
		b := s.browser()
		r := b.post("/signup", url.Values{"username": {tc.user}, "password": {tc.pw}, "password_confirm": {tc.confirm}})
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, html.EscapeString(tc.want)) {
			t.Errorf("%s: status %d, body lacks %q", tc.name, r.StatusCode, tc.want)
		}
		// The reason is tied to the field it is about.
		if !regexp.MustCompile(`<input id="` + tc.field + `"[^>]* aria-invalid="true" aria-describedby="form-error[ "]`).MatchString(r.body) {
			t.Errorf("%s: the %s field is not marked as the one refused", tc.name, tc.field)
		}
		if b.token() != "" {
			t.Errorf("%s: a failed sign-up set a session", tc.name)
		}
	}
	// Passwords are taken exactly as typed: spaces count.
	b := s.browser()
	pw := "  spaced out  "
	if r := b.post("/signup", url.Values{"username": {"carol"}, "password": {pw}, "password_confirm": {pw}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up with spaces: %d", r.StatusCode)
	}
	if r := s.browser().login("carol", strings.TrimSpace(pw)); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("trimmed password accepted: %d", r.StatusCode)
	}
	if r := s.browser().login("carol", pw); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("exact password refused: %d", r.StatusCode)
	}
}

func testLoginLogout(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	if r := b.get("/login"); r.StatusCode != 200 || !strings.Contains(r.body, `name="username"`) || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("GET /login: %d", r.StatusCode)
	}
	if r := b.get("/profile"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fprofile" {
		t.Fatalf("anonymous /profile: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r := b.login("ALICE", alicePW)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("login: %d", r.StatusCode)
	}
	if got := b.signedInAs(); got != "alice" {
		t.Fatalf("signed in as %q", got)
	}
	r = b.post("/logout", url.Values{"csrf_token": {b.csrf()}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("logout: %d %s", r.StatusCode, r.body)
	}
	if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Fatalf("logout Clear-Site-Data = %q", got)
	}
	if b.token() != "" || b.signedInAs() != "" {
		t.Fatal("still signed in after logout")
	}
	s.wantEvent("login_succeeded")
	s.wantEvent("logout")
	// Logging out is a POST: a GET only asks "Sign out?".
	b.mustLogin("alice", alicePW)
	if r := b.get("/logout"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "<h1>Sign out?</h1>") || !strings.Contains(r.body, `action="/logout"`) {
		t.Fatalf("GET /logout: %d, want the Sign out? page", r.StatusCode)
	}
	if b.signedInAs() != "alice" {
		t.Fatal("GET /logout ended the session")
	}
}

// The seeds' first attack: the attacker plants a session id in the
// victim's browser before the victim logs in.
func testAttackPlantedID(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	for _, planted := range []string{randomToken(), "session1", "fixated_session", "123456"} {
		victim := s.browser()
		victim.setToken(planted)
		if r := victim.get("/"); r.StatusCode != 200 || strings.Contains(r.body, "Welcome,") {
			t.Fatalf("planted %q: the landing page shows a signed-in user", planted)
		}
		victim.setToken(planted) // the middleware cleared it; plant again
		victim.mustLogin("alice", alicePW)
		if tok := victim.token(); tok == planted || tok == "" {
			t.Fatalf("planted %q: login kept the planted id (now %q)", planted, tok)
		}
		attacker := s.browser()
		attacker.setToken(planted)
		if who := attacker.signedInAs(); who != "" {
			t.Fatalf("planted %q: the attacker is signed in as %q", planted, who)
		}
		if victim.signedInAs() != "alice" {
			t.Fatal("the victim lost the session")
		}
	}
	s.wantEvent("session_unknown_token")
}

// The seeds' second attack: a session id in the URL.
func testAttackURLID(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	victim := s.browser()
	victim.mustLogin("alice", alicePW)
	tok := victim.token()
	attacker := s.browser()
	for _, path := range []string{
		"/profile?session_id=" + tok,
		"/profile?sid=" + tok,
		"/profile?__Host-cb_session=" + tok,
		"/profile;jsessionid=" + tok,
	} {
		if r := attacker.get(path); r.StatusCode == http.StatusOK {
			t.Fatalf("GET %s authenticated the attacker", path)
		}
	}
	r := attacker.get("/u/alice?session_id=" + tok)
	if r.StatusCode != 200 || strings.Contains(r.body, `action="/logout"`) {
		t.Fatal("a token in the URL signed the attacker in")
	}
	r = attacker.post("/login", url.Values{"session_id": {tok}, "username": {"alice"}, "password": {"wrong password!"}})
	if r.StatusCode != http.StatusUnauthorized || attacker.token() != "" {
		t.Fatalf("a token in a form did something: %d", r.StatusCode)
	}
	// A signed-in form (the handler sees a copy of the request) is
	// reported too.
	victim.post("/profile", url.Values{"csrf_token": {victim.csrf()}, "display_name": {"Alice"}, "PHPSESSID": {tok}})
	kinds := s.events()
	n := 0
	for _, k := range kinds {
		if k == string(session.EventTokenInURL) {
			n++
		}
	}
	if n != 7 {
		t.Fatalf("%d token-in-URL events, want one per attempt (7); events %v", n, kinds)
	}
}

// The seeds' third weakness: a copied cookie that still works after logout.
func testAttackReplayAfterLogout(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	victim := s.browser()
	victim.mustLogin("alice", alicePW)
	stolen := victim.token()
	attacker := s.browser()
	attacker.setToken(stolen)
	if attacker.signedInAs() != "alice" {
		t.Fatal("setup: the copied cookie does not work before logout")
	}
	if r := victim.post("/logout", url.Values{"csrf_token": {victim.csrf()}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	attacker.setToken(stolen)
	r := attacker.get("/profile")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %d", r.StatusCode)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("the replayed cookie was not cleared: %q", r.Header["Set-Cookie"])
	}
	// Logging in again gives a new id; the old one stays dead.
	victim.mustLogin("alice", alicePW)
	if victim.token() == stolen {
		t.Fatal("the old id was issued again")
	}
	attacker.setToken(stolen)
	if attacker.signedInAs() != "" {
		t.Fatal("the old id came back")
	}
}

func testCrossSiteRefused(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	b.mustLogin("alice", alicePW)
	token := b.csrf()
	for _, tc := range []struct {
		name, path string
		form       url.Values
		header     []string
	}{
		{"logout from another site", "/logout", url.Values{"csrf_token": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"profile from another origin", "/profile", url.Values{"csrf_token": {token}, "display_name": {"pwned"}}, []string{"Origin", "https://evil.example"}},
		{"profile without a form token", "/profile", url.Values{"display_name": {"pwned"}}, nil},
		{"profile with a wrong form token", "/profile", url.Values{"csrf_token": {randomToken()}, "display_name": {"pwned"}}, nil},
	} {
		r := b.post(tc.path, tc.form, tc.header...)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, r.StatusCode)
		}
	}
	// A sign-out without the right form token signs nobody out: it asks
	// again, with a form carrying the session's token.
	for _, form := range []url.Values{{}, {"csrf_token": {randomToken()}}} {
		r := b.post("/logout", form)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "<h1>Sign out?</h1>") || !strings.Contains(r.body, `value="`+token+`"`) {
			t.Errorf("logout with form token %q: %d, want the Sign out? page with a fresh form:\n%s", form.Get("csrf_token"), r.StatusCode, r.body)
		}
	}
	if b.signedInAs() != "alice" {
		t.Fatal("a refused request ended the session")
	}
	if r := b.get("/profile"); strings.Contains(r.body, "pwned") {
		t.Fatal("a refused request changed the profile")
	}
	// Login CSRF: another site cannot sign the browser into an account.
	victim := s.browser()
	r := victim.post("/login", url.Values{"username": {"alice"}, "password": {alicePW}}, "Sec-Fetch-Site", "cross-site")
	if r.StatusCode != http.StatusForbidden || victim.token() != "" {
		t.Fatalf("cross-site login: %d", r.StatusCode)
	}
	// Another session's form token does not work either.
	other := s.browser()
	other.mustLogin("alice", alicePW)
	if r := b.post("/profile", url.Values{"csrf_token": {other.csrf()}, "display_name": {"pwned"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's form token: %d", r.StatusCode)
	}
	s.wantEvent("csrf_rejected")
}

// An unknown username and a wrong password cost the same work and get the
// same answer.
func testNoEnumeration(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	answer := func(user string) (int, string, int64) {
		before := s.st.Auth.Hasher.Computed()
		r := s.browser().login(user, "not the password")
		echoed := user[:min(len(user), 64)] // the form shows at most 64 bytes back
		body := strings.ReplaceAll(r.body, `value="`+echoed+`"`, `value="USER"`)
		return r.StatusCode, body, s.st.Auth.Hasher.Computed() - before
	}
	knownStatus, knownBody, knownWork := answer("alice")
	for _, user := range []string{"mallory", "x", strings.Repeat("z", 300)} {
		st, body, work := answer(user)
		if st != knownStatus || work != knownWork {
			t.Errorf("unknown user %.20q: status %d and %d hashes, wrong password: %d and %d", user, st, work, knownStatus, knownWork)
		}
		if body != knownBody {
			t.Errorf("unknown user %.20q: the page differs from a wrong password's", user)
		}
	}
	if knownStatus != http.StatusUnauthorized || knownWork != 1 || !strings.Contains(knownBody, "Invalid username or password.") {
		t.Fatalf("wrong password: status %d, %d hashes", knownStatus, knownWork)
	}
}

func testThrottling(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	s.addUser("bob", alicePW)
	b := s.browser()
	for i := range auth.AccountIPPolicy.Free {
		if r := b.login("alice", "wrong "+strconv.Itoa(i)); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, r.StatusCode)
		}
	}
	// Now even the right password waits.
	before := s.st.Auth.Hasher.Computed()
	r := b.login("alice", alicePW)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("throttled login: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if s.st.Auth.Hasher.Computed() != before {
		t.Fatal("a throttled login still computed a hash")
	}
	s.wantEvent("login_throttled")
	// Another account from another client is not affected by alice's.
	// (All test clients share 127.0.0.1, which has 5 failures so far.)
	// The state lives in the database: a second instance sees it.
	s2 := newServerOn(t, s.opts, s.st.Auth.Hasher)
	s2.clock.Advance(s.clock.Now().Sub(s2.clock.Now()))
	if r := s2.browser().login("alice", alicePW); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second instance: %d, want 429", r.StatusCode)
	}
	// The wait is short and ends: no lockout an attacker could impose.
	s.clock.Advance(1100 * time.Millisecond)
	b.mustLogin("alice", alicePW)
	// A success clears the account's count.
	if r := s.browser().login("alice", "wrong again"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after a success: %d", r.StatusCode)
	}
	// Per client IP: failures over many accounts add up. This IP has 6
	// failures so far; 4 more reach the IP's free allowance.
	var codes []int
	for i := range auth.IPPolicy.Free {
		codes = append(codes, s.browser().login("nobody"+strconv.Itoa(i), "whatever").StatusCode)
	}
	if codes[3] != http.StatusUnauthorized || codes[4] != http.StatusTooManyRequests {
		t.Fatalf("failures over many accounts from one IP: %v; want 401 up to the 10th failure, then 429", codes)
	}
	r = s.browser().login("bob", alicePW)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("an untouched account from a throttled IP: %d, want 429", r.StatusCode)
	}
	secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if secs < 1 {
		t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	s.clock.Advance(time.Duration(secs) * time.Second)
	s.browser().mustLogin("bob", alicePW)
}

func testBadInput(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	huge := "username=alice&password=" + strings.Repeat("x", 1<<20)
	if r := b.postRaw("/login", huge); r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "Too much data") {
		t.Errorf("huge body: %d", r.StatusCode)
	}
	for _, tc := range []struct{ name, path, body string }{
		{"invalid UTF-8 username", "/login", "username=%ff%fe&password=x"},
		{"invalid UTF-8 password", "/signup", "username=bob&password=%c3%28aaaaaaaa&password_confirm=x"},
		{"invalid UTF-8 field name", "/login", "%ff=1&username=alice&password=x"},
		{"broken percent-encoding", "/signup", "username=%zz&password=x"},
	} {
		if r := b.postRaw(tc.path, tc.body); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "Bad request") {
			t.Errorf("%s: status %d", tc.name, r.StatusCode)
		}
	}
	if r := b.postRaw("/login", ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty login form: %d", r.StatusCode)
	}
	for _, ct := range []string{"multipart/form-data; boundary=x", "text/plain", "application/json"} {
		if r := b.postRaw("/login", "username=alice&password=x", "Content-Type", ct); r.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("login as %s: %d, want 415", ct, r.StatusCode)
		}
	}
	for _, p := range []string{"/static/", "/static"} {
		if r := b.get(p); r.StatusCode != http.StatusNotFound && r.StatusCode/100 != 3 {
			t.Errorf("GET %s: %d, want no listing", p, r.StatusCode)
		} else if strings.Contains(r.body, `<a href="style.css">`) || strings.Contains(r.body, `<a href="favicon.svg">`) {
			t.Errorf("GET %s lists the static files", p)
		}
	}
	for _, cookie := range []string{
		session.DefaultCookieName + "=",
		session.DefaultCookieName + "=" + strings.Repeat("A", 4000),
		session.DefaultCookieName + "=\"quoted\"",
		session.DefaultCookieName + "=a; " + session.DefaultCookieName + "=b",
		"=;;;=" + session.DefaultCookieName,
		session.DefaultCookieName + "=\xff\xfe",
	} {
		for _, path := range []string{"/", "/profile", "/u/alice"} {
			req, _ := http.NewRequest("GET", s.srv.URL+path, nil)
			req.Header.Set("Cookie", cookie)
			r := b.do(req)
			if r.StatusCode >= 500 || r.StatusCode == http.StatusOK && strings.Contains(r.body, `action="/logout"`) {
				t.Errorf("cookie %.30q on %s: status %d", cookie, path, r.StatusCode)
			}
		}
	}
	// A valid session sent twice is not accepted.
	b.mustLogin("alice", alicePW)
	tok := b.token()
	req, _ := http.NewRequest("GET", s.srv.URL+"/profile", nil)
	req.Header.Set("Cookie", session.DefaultCookieName+"="+tok+"; "+session.DefaultCookieName+"="+tok)
	anon := s.browser()
	if r := anon.do(req); r.StatusCode != http.StatusSeeOther {
		t.Errorf("duplicated cookie: %d", r.StatusCode)
	}
	csrf := b.csrf()
	for _, tc := range []struct {
		name string
		form url.Values
		code int
		want string
	}{
		{"long bio", url.Values{"csrf_token": {csrf}, "display_name": {"A"}, "bio": {strings.Repeat("é", 301)}}, 422, "at most 300 characters"},
		{"empty name", url.Values{"csrf_token": {csrf}, "display_name": {"  "}}, 422, "Enter a display name"},
		{"long name", url.Values{"csrf_token": {csrf}, "display_name": {strings.Repeat("n", 51)}}, 422, "at most 50 characters"},
		{"control characters", url.Values{"csrf_token": {csrf}, "display_name": {"a\x1b[31m"}}, 400, "control character"},
		{"bidi override", url.Values{"csrf_token": {csrf}, "display_name": {"a\u202Eb"}}, 422, "invisible characters"},
	} {
		if r := b.post("/profile", tc.form); r.StatusCode != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d", tc.name, r.StatusCode)
		}
	}
	if r := b.post("/profile", url.Values{"csrf_token": {csrf}, "display_name": {"A"}, "bio": {strings.Repeat("é", 300)}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a 300-character bio: %d", r.StatusCode)
	}
	for _, path := range []string{"/u/nobody", "/u/" + url.PathEscape("bad name!"), "/u/%00", "/nothing-here"} {
		if r := b.get(path); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.StatusCode)
		}
	}
}

func testSecurityHeaders(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	check := func(r *response, path string) {
		want := map[string]string{
			"Content-Security-Policy":    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options":     "nosniff",
			"Referrer-Policy":            "same-origin",
			"Cross-Origin-Opener-Policy": "same-origin",
			"Strict-Transport-Security":  "max-age=63072000; includeSubDomains",
		}
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	r := b.get("/")
	check(r, "/")
	b.mustLogin("alice", alicePW)
	for _, p := range []string{"/", "/profile", "/u/alice"} {
		r := b.get(p)
		check(r, p)
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s signed in: Cache-Control = %q, want no-store", p, got)
		}
	}
	r = b.get("/static/style.css")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style sheet: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	check(r, "/static/style.css")
}

// A session whose account was deleted ends at its next request.
func testDeletedUser(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	b.mustLogin("alice", alicePW)
	u, err := s.st.DB.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.DB.DeleteUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	r := b.get("/profile")
	if r.StatusCode != http.StatusSeeOther || b.token() != "" {
		t.Fatalf("deleted user's session: %d, token %q", r.StatusCode, b.token())
	}
}

// When password hashing is at capacity, logins get 503 with Retry-After
// instead of piling up.
func TestLoginFloodGets503(t *testing.T) {
	s := newServerOn(t, app.Options{DB: testdb.SQLite(t)}, auth.NewHasherLimits(auth.DefaultParams, 1, 0, 0))
	s.addUser("alice", alicePW)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	retry := true
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.browser().login("user"+strconv.Itoa(i), "wrong password")
			mu.Lock()
			defer mu.Unlock()
			codes[r.StatusCode]++
			if r.StatusCode == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
				retry = false
			}
		}()
	}
	wg.Wait()
	if codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusUnauthorized] == 0 ||
		codes[http.StatusServiceUnavailable]+codes[http.StatusUnauthorized] != 16 || !retry {
		t.Fatalf("status counts %v (Retry-After on every 503: %v); want 401s and 503s only", codes, retry)
	}
}

// Every kind of event is recorded, in the database and the log, and none
// holds a password or a session token.
func testNoSecretsLogged(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	var secrets []string
	b := s.browser()
	wrong := "wrong-password-XYZ"
	b.login("alice", wrong)
	secrets = append(secrets, wrong, alicePW)
	planted := randomToken()
	b.setToken(planted)
	b.get("/")
	b.mustLogin("alice", alicePW)
	tok := b.token()
	b.get("/u/alice?session_id=" + tok)
	b.post("/profile", url.Values{"csrf_token": {"forged"}, "display_name": {"x"}})
	csrf := b.csrf()
	b.post("/logout", url.Values{"csrf_token": {csrf}})
	secrets = append(secrets, planted, tok, csrf)
	typo := "my pass phrase!" // typed into the username field
	b2 := s.browser()
	b2.login(typo, "x")
	secrets = append(secrets, typo)
	signup := "signup secret 123"
	s.browser().post("/signup", url.Values{"username": {"bobby"}, "password": {signup}, "password_confirm": {signup}})
	secrets = append(secrets, signup)

	events, err := s.st.DB.Events(context.Background(), 0, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	kinds := map[string]bool{}
	for _, e := range events {
		fmt.Fprintf(&all, "%+v\n", e)
		kinds[e.Kind] = true
	}
	for _, k := range []string{"login_failed", "login_succeeded", "logout", "session_created", "session_destroyed",
		"session_unknown_token", "session_token_in_url", "csrf_rejected", "user_created"} {
		if !kinds[k] {
			t.Errorf("no %s event; have %v", k, kinds)
		}
		if !strings.Contains(s.log.String(), "event="+k) {
			t.Errorf("%s was not logged", k)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(all.String(), secret) {
			t.Fatalf("an event holds a secret (%.8s...)", secret)
		}
		if strings.Contains(s.log.String(), secret) {
			t.Fatalf("the log holds a secret (%.8s...)", secret)
		}
	}
	for _, e := range events {
		if e.Kind == "login_failed" && (e.ClientIP == "" || e.UserAgent == "") {
			t.Fatalf("login_failed without client details: %+v", e)
		}
	}
}

// Behind a proxy, the client's address is the one the proxy appended, and
// HSTS follows the proxy's X-Forwarded-Proto; only from a loopback or
// private peer, where a proxy can be.
func TestBehindProxy(t *testing.T) {
	s := newServer(t, testdb.SQLite(t))
	h := web.New(web.Deps{Account: s.st.Account, Sessions: s.st.Sessions, Audit: s.st.Audit,
		Logger: slog.New(slog.DiscardHandler), BehindProxy: true})
	for _, tc := range []struct {
		peer, proto string
		hsts        bool
	}{{"10.0.0.2:5000", "https", true}, {"10.0.0.2:5000", "http", false}, {"10.0.0.2:5000", "", false}, {"203.0.113.5:5000", "https", false}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Strict-Transport-Security") != ""; got != tc.hsts {
			t.Errorf("peer %s, X-Forwarded-Proto %q: HSTS %v, want %v", tc.peer, tc.proto, got, tc.hsts)
		}
	}
	ip := web.ClientIP(true)
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"127.0.0.1:1234", nil, "127.0.0.1"},
		{"127.0.0.1:1234", []string{"203.0.113.7"}, "203.0.113.7"},
		{"10.1.2.3:1234", []string{"10.0.0.1, 198.51.100.2"}, "198.51.100.2"}, // the client's claim comes first
		{"[fd00::1]:1234", []string{"1.1.1.1", "198.51.100.3"}, "198.51.100.3"},
		{"127.0.0.1:1234", []string{"not an ip"}, "127.0.0.1"},
		{"192.0.2.1:1234", []string{"203.0.113.7"}, "192.0.2.1"}, // a public peer is no proxy
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		r.Header["X-Forwarded-For"] = tc.xff
		if got := ip(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1234"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	if got := web.ClientIP(false)(r); got != "127.0.0.1" {
		t.Errorf("without --behind-proxy X-Forwarded-For was trusted: %q", got)
	}
}
