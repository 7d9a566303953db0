package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/session"
)

// dbscFeatures turns on Device Bound Session Credentials in Debian's
// Chromium, with keys in software (Linux has no key store it uses).
const dbscFeatures = "DeviceBoundSessions,EnableBoundSessionCredentialsSoftwareKeysForManualTesting"

// signUp creates an account in the tab and leaves it on its profile page.
func (b *tab) signUp(username, password string) {
	b.t.Helper()
	b.open("/signup")
	b.fill("username", username, "password", password, "password_confirm", password)
	b.click(`form[action="/signup"] button[type=submit]`)
	b.wantAt("/profile", "")
}

// sessionOf returns the one live session of username.
func sessionOf(t *testing.T, s *site, username string) (session.Session, bool) {
	t.Helper()
	ctx := context.Background()
	u, err := s.App.DB.UserByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.App.Sessions.Sessions(ctx, account.UserKey(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		return session.Session{}, false
	}
	return list[0], true
}

// waitFor polls cond every 100 ms for up to limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeviceBoundSession: Chromium binds its session to a key at sign-up,
// refreshes the short-lived bound cookie by itself when it runs out, and
// stays signed in; the same cookies copied into another browser profile
// stop working once the bound cookie's lifetime has passed, and the owner
// sees the refused copies on the sessions page.
func TestDeviceBoundSession(t *testing.T) {
	chromium := findChromium(t)
	const life = 5 * time.Second
	s := startSiteWith(t, func(o *app.Options) {
		o.Now = time.Now // the browser's cookie clock is the real one
		o.BoundCookieLifetime = life
		o.RotationInterval = -1
	})
	shots := screenshotDir(t)
	device := startBrowserWith(t, chromium,
		chromedp.Flag("ignore-certificate-errors-spki-list", s.SPKI),
		chromedp.Flag("enable-features", dbscFeatures))
	owner := profileTab(t, device, "owner", s.URL, "")
	owner.signUp("dora_dbsc", "violet-otter-91-lantern")

	// Chromium registers a key right after the sign-up response.
	var bound session.Session
	waitFor(t, "Chromium to register a device key", 10*time.Second, func() bool {
		var ok bool
		bound, ok = sessionOf(t, s, "dora_dbsc")
		return ok && bound.Bound()
	})
	if !strings.Contains(bound.BindKey, `"crv":"P-256"`) {
		t.Fatalf("bound to %s, want Chromium's P-256 software key", bound.BindKey)
	}

	// Past the bound cookie's lifetime, a navigation makes Chromium refresh
	// (a signed proof) before the page loads: still signed in.
	time.Sleep(life + time.Second)
	owner.open("/settings/sessions")
	owner.wantAt("/settings/sessions", "")
	owner.wantText(".session.current", "Bound to this device")
	if now, _ := sessionOf(t, s, "dora_dbsc"); now.BindSeq < 2 {
		t.Fatalf("challenges used = %d: the page loaded without a refresh", now.BindSeq)
	}

	// Someone copies every cookie of the site into a fresh profile of
	// another browser and keeps them, ignoring their expiry.
	copied := owner.cookies()
	for _, name := range []string{"__Host-cb_session", "__Host-cb_session-bound"} {
		if copied[name] == nil {
			t.Fatalf("the owner's browser has no %s cookie: %v", name, copied)
		}
	}
	elsewhere := startBrowser(t, chromium)
	thief := newTab(t, elsewhere, "copy", s.URL, "")
	for name, c := range copied {
		thief.setCookie(name, c.Value)
	}
	time.Sleep(life + time.Second)
	thief.open("/settings/sessions")
	thief.wantAt("/login", "/settings/sessions")
	thief.open("/profile")
	thief.wantAt("/login", "/profile")

	// The owner carries on, and sees what was refused.
	owner.open("/settings/sessions")
	owner.wantAt("/settings/sessions", "")
	owner.wantText(".session.current", "Bound to this device", "Refused", "without proof of its device's key")
	owner.screenshots(shots, "sessions-bound")
	owner.open("/settings/activity")
	owner.wantText("main", "Refused a copy of a session cookie without its device")
}

// TestReplayedCookieAfterRotation: a session cookie copied out of the
// browser and replayed with an HTTP client after the browser's token was
// rotated ends the session; the owner is signed out and, signing in again,
// is told the session was used from two places.
func TestReplayedCookieAfterRotation(t *testing.T) {
	chromium := findChromium(t)
	const every = 5 * time.Second
	s := startSiteWith(t, func(o *app.Options) {
		o.Now = time.Now
		o.RotationInterval = every
	})
	shots := screenshotDir(t)
	browser := startBrowser(t, chromium)
	owner := newTab(t, browser, "owner", s.URL, chromeOnLinux)
	const password = "quiet-harbour-27-maple"
	owner.signUp("rory_rotation", password)
	stolen := owner.cookies()["__Host-cb_session"].Value

	// The browser's token is replaced after the interval, and the new one
	// is used.
	time.Sleep(every + 500*time.Millisecond)
	owner.open("/profile")
	owner.open("/profile")
	owner.wantAt("/profile", "")
	if now := owner.cookies()["__Host-cb_session"].Value; now == stolen {
		t.Fatal("the token was not rotated")
	}
	time.Sleep(6 * time.Second) // past the allowance for requests in flight (5 s at this interval)

	// The copy is replayed, as with curl.
	req, _ := http.NewRequest("GET", s.URL+"/profile", nil)
	req.Header.Set("Cookie", "__Host-cb_session="+stolen)
	req.Header.Set("User-Agent", "curl/8.14.1")
	client := *s.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("replayed cookie: %d to %q, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, ok := sessionOf(t, s, "rory_rotation"); ok {
		t.Fatal("the session survived the replay")
	}

	// The owner is signed out, told why, and warned after signing in.
	owner.open("/profile")
	owner.wantAt("/login", "/profile")
	owner.wantText("main", "used from two places")
	owner.fill("username", "rory_rotation", "password", password)
	owner.click(`form[action="/login"] button[type=submit]`)
	owner.wantAt("/profile", "")
	owner.wantText(`aside[aria-label="Security notice"]`, "Your session was used from two places and has been ended")
	owner.screenshots(shots, "notice-token-reused")
}
