package web_test

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestProduct(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){
		"site_files":           testSiteFiles,
		"styled_errors":        testStyledErrors,
		"landing_and_security": testLandingAndSecurity,
		"one_time_notices":     testOneTimeNotices,
		"sign_out_stale_tab":   testSignOutStaleTab,
		"return_after_sign_in": testReturnAfterSignIn,
		"form_input_kept":      testFormInputKept,
	})
}

// The files browsers and crawlers ask for by name are there, and are what
// they claim to be.
func testSiteFiles(t *testing.T, s *server) {
	b := s.browser()
	r := b.get("/apple-touch-icon.png")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("apple-touch-icon: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if img, err := png.Decode(strings.NewReader(r.body)); err != nil || img.Bounds().Dx() != 180 || img.Bounds().Dy() != 180 {
		t.Errorf("apple-touch-icon: not a 180-pixel PNG (%v)", err)
	}
	r = b.get("/favicon.ico")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/x-icon" {
		t.Fatalf("favicon.ico: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	// An ICO directory whose entries point at PNG images of their size.
	ico := []byte(r.body)
	var head [3]uint16
	if err := binary.Read(bytes.NewReader(ico), binary.LittleEndian, &head); err != nil || head[0] != 0 || head[1] != 1 || head[2] == 0 {
		t.Fatalf("favicon.ico: header %v, %v", head, err)
	}
	for i := range int(head[2]) {
		e := ico[6+16*i : 6+16*(i+1)]
		size, offset := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		if int(offset+size) > len(ico) {
			t.Fatalf("favicon.ico: entry %d past the end", i)
		}
		img, err := png.Decode(bytes.NewReader(ico[offset : offset+size]))
		if err != nil || img.Bounds().Dx() != int(e[0]) {
			t.Errorf("favicon.ico: entry %d is not a %d-pixel PNG (%v)", i, e[0], err)
		}
	}
	r = b.get("/robots.txt")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(r.body, "User-agent: *") || !strings.Contains(r.body, "Disallow: /settings") {
		t.Errorf("robots.txt: %d %q", r.StatusCode, r.body)
	}
	r = b.get("/")
	for _, link := range []string{`rel="apple-touch-icon" href="/apple-touch-icon.png"`, `href="/favicon.ico"`, `href="/static/favicon.svg"`} {
		if !strings.Contains(r.body, link) {
			t.Errorf("the page head has no %s", link)
		}
	}
}

// Every path, /static/ included, answers an unknown page or method with
// the site's own page, in its frame, with the status that says what
// happened.
func testStyledErrors(t *testing.T, s *server) {
	b := s.browser()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/no-such-page", 404, ""},
		{"GET", "/static/no-such-file.css", 404, ""},
		{"GET", "/static/icons/", 404, ""},
		{"GET", "/static/icons/nope.svg", 404, ""},
		{"GET", "/static/", 404, ""},
		{"GET", "/u/alice/nothing-here", 404, ""},
		{"POST", "/", 405, "GET, HEAD"},
		{"POST", "/static/style.css", 405, "GET, HEAD"},
		{"DELETE", "/security", 405, "GET, HEAD"},
		{"PUT", "/logout", 405, "GET, HEAD, POST"},
	} {
		req, err := http.NewRequest(tc.method, s.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := b.do(req)
		if r.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, r.StatusCode, tc.status)
			continue
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, `<link rel="stylesheet" href="/static/style.css">`) ||
			!strings.Contains(r.body, `<a class="skip" href="#main">`) {
			t.Errorf("%s %s: not the site's page:\n%s", tc.method, tc.path, r.body)
		}
		if got := r.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	// The style sheet itself is served as before.
	if r := b.get("/static/style.css"); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
}

// The landing page speaks to people, with one call to sign up, and the
// security story is one click away.
func testLandingAndSecurity(t *testing.T, s *server) {
	b := s.browser()
	r := b.get("/")
	if r.StatusCode != 200 || strings.Count(r.body, `href="/signup"`) != 2 || // the header's and the page's
		!strings.Contains(r.body, "Create your account") || !strings.Contains(r.body, `href="/security"`) {
		t.Errorf("landing page: %d\n%s", r.StatusCode, r.body)
	}
	r = b.get("/security")
	if r.StatusCode != 200 || !strings.Contains(r.body, "<h1>How we keep your account safe</h1>") {
		t.Errorf("/security: %d", r.StatusCode)
	}
	// Signed in, it is there too, in the signed-in frame.
	s.addUser("alice", alicePW)
	b.mustLogin("alice", alicePW)
	if r := b.get("/security"); r.StatusCode != 200 || !strings.Contains(r.body, `action="/logout"`) {
		t.Errorf("/security signed in: %d", r.StatusCode)
	}
}

// notice returns the one-time notice a page shows, or "".
func notice(body string) string {
	m := regexp.MustCompile(`<p class="notice" role="status">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// Sign-up, saving and signing out each say so once, on the page they lead
// to, and not again on reload; the address carries nothing.
func testOneTimeNotices(t *testing.T, s *server) {
	b := s.browser()
	r := b.post("/signup", url.Values{"username": {"newbie"}, "password": {alicePW}, "password_confirm": {alicePW}})
	if r.StatusCode != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), "?") {
		t.Fatalf("sign-up: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	steps := []struct {
		name, want string
		do         func() *response
	}{
		{"sign-up", "Welcome to ConnectBook!", func() *response { return r }},
		{"save", "Your profile is saved.", func() *response {
			return b.post("/profile", url.Values{"csrf_token": {b.csrf()}, "display_name": {"New Bie"}, "bio": {"hello"}})
		}},
		{"sign-out", "You have signed out.", func() *response { return b.post("/logout", url.Values{"csrf_token": {b.csrf()}}) }},
	}
	for _, step := range steps {
		r := step.do()
		loc := r.Header.Get("Location")
		if r.StatusCode != http.StatusSeeOther || strings.Contains(loc, "?") {
			t.Fatalf("%s: %d to %q", step.name, r.StatusCode, loc)
		}
		if got := notice(b.get(loc).body); !strings.Contains(got, step.want) {
			t.Errorf("%s: the next page says %q, want %q", step.name, got, step.want)
		}
		if got := notice(b.get(loc).body); got != "" {
			t.Errorf("%s: on reload the page still says %q", step.name, got)
		}
	}
	// Signing out again, from a tab that did not know: told, not failed.
	r = b.post("/logout", url.Values{"csrf_token": {"stale"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("sign-out when signed out: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if got := notice(b.get("/").body); got != "You are signed out already." {
		t.Errorf("sign-out when signed out says %q", got)
	}
}

// A tab left open while the user signed out and in again elsewhere holds
// an old form token: its sign-out asks again with a fresh form (and does
// not sign anyone out on its own), and that form signs out.
func testSignOutStaleTab(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	b.mustLogin("alice", alicePW)
	old := b.csrf()
	if r := b.post("/logout", url.Values{"csrf_token": {old}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", r.StatusCode)
	}
	b.mustLogin("alice", alicePW)
	r := b.post("/logout", url.Values{"csrf_token": {old}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "<h1>Sign out?</h1>") {
		t.Fatalf("stale sign-out: %d\n%s", r.StatusCode, r.body)
	}
	if b.signedInAs() != "alice" {
		t.Fatal("a stale form signed the user out without asking")
	}
	fresh := csrfRE.FindStringSubmatch(r.body)
	if fresh == nil || fresh[1] == old || fresh[1] != b.csrf() {
		t.Fatalf("the Sign out? page's form does not carry the session's token")
	}
	if r := b.post("/logout", url.Values{"csrf_token": {fresh[1]}}); r.StatusCode != http.StatusSeeOther || b.signedInAs() != "" {
		t.Fatalf("the fresh form did not sign out: %d", r.StatusCode)
	}
	s.wantEvent("csrf_rejected")
}

// Sent to sign in, the browser comes back to the page it was on, query
// and all, and never to another site.
func testReturnAfterSignIn(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	r := b.get("/notifications?before=5")
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || loc != "/login?next=%2Fnotifications%3Fbefore%3D5" {
		t.Fatalf("signed out /notifications?before=5: %d to %q", r.StatusCode, loc)
	}
	if r := b.get(loc); !strings.Contains(r.body, `name="next" value="/notifications?before=5"`) {
		t.Fatalf("the login form does not carry where to go:\n%s", r.body)
	}
	r = b.post("/login", url.Values{"username": {"alice"}, "password": {alicePW}, "next": {"/notifications?before=5"}})
	if r.Header.Get("Location") != "/notifications?before=5" {
		t.Errorf("after signing in: to %q", r.Header.Get("Location"))
	}
	// A form sent after the session ended: back to the page it was on
	// (its Referer), if that page is on this site.
	for _, tc := range []struct{ referer, want string }{
		{s.srv.URL + "/settings/privacy", "/login?next=%2Fsettings%2Fprivacy"},
		{"https://evil.example/settings/privacy", "/login"},
		{s.srv.URL + "//evil.example/x", "/login"},
		{"", "/login"},
	} {
		anon := s.browser()
		r := anon.post("/settings/privacy", url.Values{"private": {"1"}}, "Referer", tc.referer)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tc.want {
			t.Errorf("form from %q after the session ended: %d to %q, want %q", tc.referer, r.StatusCode, r.Header.Get("Location"), tc.want)
		}
	}
}

// A form refused for what was typed comes back with it, the field in
// error marked, described and focused.
func testFormInputKept(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	b := s.browser()
	r := b.post("/login", url.Values{"username": {"alice"}, "password": {"wrong password"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, `value="alice"`) ||
		!regexp.MustCompile(`<input id="password"[^>]* aria-invalid="true" aria-describedby="form-error" autofocus>`).MatchString(r.body) ||
		!strings.Contains(r.body, `id="form-error"`) {
		t.Errorf("wrong password: %d\n%s", r.StatusCode, r.body)
	}
	b.mustLogin("alice", alicePW)
	bio := "A bio that was typed with care"
	r = b.post("/profile", url.Values{"csrf_token": {b.csrf()}, "display_name": {""}, "bio": {bio}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, bio) ||
		!regexp.MustCompile(`<input id="display_name"[^>]* aria-invalid="true" aria-describedby="form-error" autofocus>`).MatchString(r.body) {
		t.Errorf("empty display name: %d\n%s", r.StatusCode, r.body)
	}
	long := strings.Repeat("y", 600)
	r = b.post("/posts", url.Values{"csrf_token": {b.csrf()}, "body": {long}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, long) || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Errorf("a post too long: %d", r.StatusCode)
	}
}
