package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/connectbook/connectbook/internal/testlog"
)

// ChromiumEnv names the variable that points the tests at a Chromium binary.
const ChromiumEnv = "CONNECTBOOK_TEST_CHROMIUM"

// ScreenshotsEnv names the variable that says where screenshots go (a
// temporary directory if unset).
const ScreenshotsEnv = "CONNECTBOOK_TEST_SCREENSHOTS"

const (
	// testTimeout bounds the browser's whole life, so that a hung Chromium
	// fails the test rather than stalling CI.
	testTimeout = 2 * time.Minute
	// stepTimeout bounds each action: a page load, a click and the load it
	// causes, a read.
	stepTimeout = 15 * time.Second
)

// findChromium returns the Chromium to drive, or skips the test.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(ChromiumEnv); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("%s=%s: %v", ChromiumEnv, p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium found: install Debian's chromium package or set " + ChromiumEnv)
	return ""
}

// startBrowser starts a headless Chromium that trusts the test server's
// certificate and resolves no host but loopback (there is no network), and
// returns a context for opening tabs in it. The browser is killed, with
// its child processes and profile, when the test ends.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	return startBrowserWith(t, path, chromedp.IgnoreCertErrors) // httptest's self-signed certificate
}

// startBrowserWith is startBrowser with other options for the certificate
// and features.
func startBrowserWith(t *testing.T, path string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	output := &testlog.Buffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.CombinedOutput(output),
		// No UserDataDir: chromedp makes a fresh profile directory and,
		// when the browser exits, kills the child processes that still
		// use it and removes it.
	}
	opts = append(opts, extra...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, browserCancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		browserCancel()
		allocCancel()
		if t.Failed() {
			t.Logf("Chromium's output:\n%s", output)
		}
	})
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return browserCtx
}

// tab is a tab in a browser context of its own: its own cookie jar, as
// another browser on another computer would have.
type tab struct {
	t    *testing.T
	name string // for messages
	base string // the site's URL
	ctx  context.Context
}

// Window sizes for screenshots.
const (
	phoneWidth, phoneHeight     = 390, 844
	desktopWidth, desktopHeight = 1280, 900
)

// newTab opens a tab in a new browser context that presents itself with
// the given User-Agent.
func newTab(t *testing.T, browser context.Context, name, base, userAgent string) *tab {
	t.Helper()
	return openTab(t, browser, name, base, userAgent, chromedp.WithNewBrowserContext())
}

// profileTab opens a tab in the browser's own profile, with its real
// User-Agent if userAgent is empty: device-bound sessions need a profile
// that keeps keys, which the fresh contexts of newTab are not.
func profileTab(t *testing.T, browser context.Context, name, base, userAgent string) *tab {
	t.Helper()
	return openTab(t, browser, name, base, userAgent)
}

func openTab(t *testing.T, browser context.Context, name, base, userAgent string, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, opts...)
	t.Cleanup(cancel)
	// The first action opens the tab, and the tab lives as long as the
	// context of that action: the tab's own, bounded by testTimeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	b := &tab{t: t, name: name, base: base, ctx: ctx}
	if userAgent != "" {
		b.do("setting the User-Agent",
			chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
				_, err := cdp.Call(ctx, tt, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent})
				return err
			}))
	}
	b.do("setting the window", chromedp.EmulateViewport(desktopWidth, desktopHeight))
	return b
}

// cookies returns the tab's cookies for the site, by name.
func (b *tab) cookies() map[string]*network.Cookie {
	b.t.Helper()
	res := get(b, "reading cookies", chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tt *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tt, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
	}))
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// setCookie sets a cookie for the site in the tab's browser context, as
// one copied from elsewhere: Secure, HttpOnly, with no expiry.
func (b *tab) setCookie(name, value string) {
	b.t.Helper()
	yes := true
	b.do("setting cookie "+name, chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tt, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: b.base + "/",
			Path: "/", Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax})
		return err
	}))
}

// do runs actions within stepTimeout and fails the test on an error.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// get runs an action that returns a value, as do does.
func get[T any](b *tab, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
	return v
}

// open loads a page of the site, following redirects.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.base+path))
}

// fill types into empty form fields, named by id, value after id.
func (b *tab) fill(idsAndValues ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(idsAndValues); i += 2 {
		id, v := idsAndValues[i], idsAndValues[i+1]
		b.do("typing into #"+id, chromedp.SendKeys(chromedp.ID(id), v))
		if got := get(b, "reading #"+id, chromedp.Value(chromedp.ID(id))); got != v {
			b.t.Fatalf("%s: #%s holds %q after typing %q into it", b.name, id, got, v)
		}
	}
}

// click clicks the element that sel selects and waits for the page that
// the click loads.
func (b *tab) click(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("%s: clicking %s: %v", b.name, sel, err)
	}
}

// at returns the path and query of the page the tab shows.
func (b *tab) at() *url.URL {
	b.t.Helper()
	loc := get(b, "reading the address", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("%s: address %q: %v", b.name, loc, err)
	}
	if base, _ := url.Parse(b.base); u.Host != base.Host {
		b.t.Fatalf("%s: on %s, off the site", b.name, loc)
	}
	return u
}

// wantAt checks that the tab shows path, with next=next if next is not "".
func (b *tab) wantAt(path, next string) {
	b.t.Helper()
	u := b.at()
	if u.Path != path || u.Query().Get("next") != next {
		b.t.Fatalf("%s: on %s, want %s with next=%q", b.name, u.RequestURI(), path, next)
	}
}

// text returns the visible text of the first element sel selects, waiting
// for it to appear.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return get(b, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// wantText checks that the visible text of sel contains each of wants.
func (b *tab) wantText(sel string, wants ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range wants {
		if !strings.Contains(got, w) {
			b.t.Fatalf("%s on %s: %s shows %q, want it to contain %q", b.name, b.at().RequestURI(), sel, got, w)
		}
	}
}

// count returns how many elements sel selects now, without waiting.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return get(b, "counting "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// wantCount checks that sel selects n elements.
func (b *tab) wantCount(sel string, n int) {
	b.t.Helper()
	if got := b.count(sel); got != n {
		b.t.Fatalf("%s on %s: %d elements match %s, want %d", b.name, b.at().RequestURI(), got, sel, n)
	}
}

// screenshots saves full-page PNGs of the page at phone and desktop widths
// as dir/name-390.png and dir/name-1280.png, and returns how wide the page
// is at phone width (wider than the phone means sideways scrolling).
func (b *tab) screenshots(dir, name string) (phoneScrollWidth int) {
	b.t.Helper()
	for _, size := range []struct {
		w, h   int64
		mobile bool
	}{{phoneWidth, phoneHeight, true}, {desktopWidth, desktopHeight, false}} {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
		if size.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
		}
		b.do(fmt.Sprintf("resizing to %d×%d", size.w, size.h), chromedp.EmulateViewport(size.w, size.h, opts...))
		if size.mobile {
			phoneScrollWidth = get(b, "measuring the page", chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
		}
		png := get(b, "taking a screenshot", chromedp.FullScreenshot(100))
		file := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, size.w))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do("restoring the window", chromedp.EmulateViewport(desktopWidth, desktopHeight))
	return phoneScrollWidth
}

// screenshotDir returns where screenshots go.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
