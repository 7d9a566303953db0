package e2e_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"time"

	"github.com/connectbook/connectbook/internal/account"
)

// User-Agents of the two browsers, so that the sessions page tells them
// apart.
const (
	chromeOnLinux  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	firefoxOnLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)

// TestSecurityCenter walks one account through the security center from two
// browsers: a new sign-in is announced, one browser signs the other out, a
// password change signs every other browser out, and deleting the account
// asks for the password again and leaves nothing to sign in to.
func TestSecurityCenter(t *testing.T) {
	chromium := findChromium(t)
	s := startSite(t)
	shots := screenshotDir(t)
	browser := startBrowser(t, chromium)
	a := newTab(t, browser, "browser A", s.URL, chromeOnLinux)
	b := newTab(t, browser, "browser B", s.URL, firefoxOnLinux)

	const (
		username = "ada_e2e"
		password = "violet-otter-91-lantern"
		changed  = "quiet-harbour-27-maple"
	)
	// noScroll checks that a page fits a phone's width.
	noScroll := func(page string, width int) {
		t.Helper()
		if width > phoneWidth {
			t.Errorf("%s is %dpx wide at a %dpx window: it scrolls sideways on a phone", page, width, phoneWidth)
		}
	}

	// A signs up.
	a.open("/signup")
	a.fill("username", username, "password", password, "password_confirm", password)
	a.click(`form[action="/signup"] button[type=submit]`)
	a.wantAt("/profile", "")
	a.wantText("h1", "Welcome, "+username+"!")
	a.wantText("main p.notice", "Welcome to ConnectBook!")
	a.open("/profile")
	a.wantCount("main p.notice", 0) // once only

	// B signs in from another browser and system.
	b.open("/login")
	b.fill("username", username, "password", password)
	b.click(`form[action="/login"] button[type=submit]`)
	b.wantAt("/", "")
	b.wantText("#feed-title", "Your feed")

	// A is told, and sees both sessions.
	a.click(`header a[href="/settings/sessions"]`)
	a.wantAt("/settings/sessions", "")
	a.wantText("aside.alert", "New sign-in:", "Firefox on Linux", "Review your sessions")
	a.wantCount("li.session", 2)
	a.wantText("li.session.current", "Chrome on Linux", "This device", "Last active", "Signed in", "How", "Sign out of this device")
	a.wantText("li.session:not(.current)", "Firefox on Linux", "Last active", "Signed in", "How", "Sign out")
	a.wantCount("li.session:not(.current) .badge", 0)
	a.wantText("main", "Sign out everywhere else")
	noScroll("the sessions page", a.screenshots(shots, "sessions"))

	// Dismissing the notice dismisses it.
	a.click("aside.alert button.dismiss")
	a.wantAt("/settings/sessions", "")
	a.wantCount("aside.alert", 0)

	// A signs B out.
	a.click("li.session:not(.current) form button")
	a.wantAt("/settings/sessions", "")
	a.wantText("main", "That session has been signed out.", "not signed in anywhere else")
	a.wantCount("li.session", 1)
	a.wantCount("li.session.current", 1)

	// B's next page sends it to sign in again, and says why.
	b.open("/settings/sessions")
	b.wantAt("/login", "/settings/sessions")
	b.wantText("main", "Your session ended: signed out from another of your sessions.")
	noScroll("the login page", b.screenshots(shots, "login-signed-out"))
	b.fill("username", username, "password", password)
	b.click(`form[action="/login"] button[type=submit]`)
	// Back on the page it was on.
	b.wantAt("/settings/sessions", "")
	b.wantText("li.session.current", "Firefox on Linux", "This device")
	b.wantCount("li.session", 2)

	// A changes the password; B's browser and system are known by now, so
	// A is not told of B's second sign-in.
	a.click(`nav.tabs a[href="/settings/password"]`)
	a.wantAt("/settings/password", "")
	a.wantCount("aside.alert", 0)
	noScroll("the password page", a.screenshots(shots, "password"))
	a.fill("current_password", password, "password", changed, "password_confirm", changed)
	a.click(`form[action="/settings/password"] button[type=submit]`)
	a.wantAt("/settings/sessions", "")
	a.wantText("main", "Your password has been changed, and every other session has been signed out.")
	a.wantCount("li.session", 1)

	// B is signed out on its next page, and told why; A stays signed in.
	b.open("/profile")
	b.wantAt("/login", "/profile")
	b.wantText("main", "Log in", "Your session ended: signed out because the password was changed from another of your sessions.")
	b.wantCount("header form[action=\"/logout\"]", 0)
	// Signing in again brings B back to the page it asked for.
	b.fill("username", username, "password", changed)
	b.click(`form[action="/login"] button[type=submit]`)
	b.wantAt("/profile", "")
	b.wantText("h1", "Welcome, "+username+"!")
	a.click(`nav.tabs a[href="/settings/activity"]`)
	a.wantAt("/settings/activity", "")
	a.wantText("ol.activity", "Password changed", "Sessions ended", "Signed in", "Account created", "Firefox on Linux")
	// Newest first.
	titles := get(a, "reading the activity", chromedp.Evaluate[[]string](`[...document.querySelectorAll("ol.activity li strong")].map(e => e.innerText)`))
	if want := []string{"Password changed", "Signed in", "Sessions ended", "Signed in", "Account created"}; !inOrder(titles, want) {
		t.Errorf("the activity page lists %q, want %q in that order", titles, want)
	}
	noScroll("the activity page", a.screenshots(shots, "activity"))

	// Past the re-authentication window, deleting the account asks for the
	// password first.
	s.clock.Skip(account.DefaultSudoWindow + time.Minute)
	a.click(`nav.tabs a[href="/settings/delete"]`)
	a.wantAt("/settings/reauth", "/settings/delete")
	a.fill("password", changed)
	a.click(`form[action="/settings/reauth"] button[type=submit]`)
	a.wantAt("/settings/delete", "")
	a.fill("confirm_username", username)
	a.click(`form[action="/settings/delete"] button[type=submit]`)
	a.wantText("main", "Your account has been deleted")
	a.screenshots(shots, "deleted")
	a.open("/settings/sessions")
	a.wantAt("/login", "/settings/sessions")

	// Neither password signs in any more.
	for _, pw := range []string{password, changed} {
		b.open("/login")
		b.fill("username", username, "password", pw)
		b.click(`form[action="/login"] button[type=submit]`)
		b.wantAt("/login", "")
		b.wantText("main", "Invalid username or password.")
	}
}

// inOrder reports whether want is a subsequence of got.
func inOrder(got, want []string) bool {
	for _, g := range got {
		if len(want) > 0 && g == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}
