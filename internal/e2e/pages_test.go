package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connectbook/connectbook/internal/post"
)

// PagesScreenshotsEnv names the variable that makes TestPages save a
// screenshot of what the window shows of each page, at each size, in the
// directory it names (relative to internal/e2e, where the test runs).
// scripts/screenshots makes the README's images so.
const PagesScreenshotsEnv = "CONNECTBOOK_SCREENSHOTS"

// sweepSizes are the windows every page is checked in: a desktop, and a
// phone (390×844 CSS pixels at three device pixels each).
var sweepSizes = []struct {
	w, h   int64
	mobile bool
}{{1280, 800, false}, {390, 844, true}}

// sweepPage is a page of the sweep and how to reach it.
type sweepPage struct {
	name string // for the subtest and the screenshot's file
	tab  *tab
	path string     // opened, unless load is set
	load func(*tab) // brings the tab to the page
	// To be sure the page is the one meant: a CSS selector that must
	// match, and text that main must show.
	sel, text string
}

// finding is one problem TestPages found on one page at one size.
type finding struct {
	where string // page/width
	rule  string // axe-core's rule ID, or "overflow"
	what  string // the rule's help, or how wide the page is
	elem  string // a selector and an excerpt
}

// TestPages visits every page of the site, signed out and signed in, in a
// state with people, posts, follows, a request to follow a private
// account, notifications and a security notice, and forms showing their
// errors. At 1280×800 and on a 390×844 phone, each page must not scroll
// sideways and must have no violation of WCAG 2.2 A and AA that axe-core
// finds; the colour contrast must hold in the dark colour scheme too.
// Every problem is reported, by page and size, then once more grouped by
// rule.
func TestPages(t *testing.T) {
	chromium := findChromium(t)
	axeSrc := loadAxe(t)
	var shots string
	if dir := os.Getenv(PagesScreenshotsEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		shots = dir
	}
	s := startSite(t)
	st := seedNetwork(t, s)
	browser := startBrowser(t, chromium)

	anon := newTab(t, browser, "a visitor's browser", s.URL, chromeOnLinux)
	// Ada signs in on Firefox first, then on Chrome: the Firefox session
	// is told of the new sign-in.
	adaFirefox := newTab(t, browser, "Ada's Firefox", s.URL, firefoxOnLinux)
	adaFirefox.signIn(st.ada, st.password)
	ada := newTab(t, browser, "Ada's browser", s.URL, chromeOnLinux)
	ada.signIn(st.ada, st.password)
	alan := newTab(t, browser, "Alan's browser", s.URL, chromeOnLinux)
	alan.signIn(st.alan, st.password)
	joan := newTab(t, browser, "Joan's browser", s.URL, chromeOnLinux)
	joan.signIn(st.joan, st.password)

	adaPost := fmt.Sprintf("/posts/%d", st.adaPost)
	graceAt, alanAt, joanAt := "/u/"+st.grace, "/u/"+st.alan, "/u/"+st.joan
	pages := []sweepPage{
		// Signed out.
		{name: "landing", tab: anon, path: "/", sel: `main a[href="/signup"]`},
		{name: "login", tab: anon, path: "/login", sel: `main form[action="/login"]`},
		{name: "signup", tab: anon, path: "/signup", sel: `main form[action="/signup"]`},
		{name: "search-signed-out", tab: anon, path: "/search", sel: `main form[role=search]`},
		{name: "profile-signed-out", tab: anon, path: graceAt, sel: `main a[href^="/login"]`},
		{name: "post-signed-out", tab: anon, path: adaPost, sel: `main li.post`},
		{name: "not-found", tab: anon, path: "/no-such-page"},
		{name: "static-not-found", tab: anon, path: "/static/no-such-file"},
		{name: "method-not-allowed", tab: anon, path: "/posts"}, // a form's address, typed in
		{name: "security-signed-out", tab: anon, path: "/security"},
		{name: "login-error", tab: anon, sel: `main [role=alert]`, text: "Invalid username or password", load: func(b *tab) {
			b.open("/login")
			b.submit(`form[action="/login"]`, "username", st.ada, "password", "not-her-password-at-all")
		}},
		{name: "signup-taken", tab: anon, sel: `#username[aria-invalid=true]`, load: func(b *tab) {
			b.open("/signup")
			b.submit(`form[action="/signup"]`, "username", st.grace, "password", st.password, "password_confirm", st.password)
		}},
		{name: "signup-short-password", tab: anon, sel: `#password[aria-invalid=true]`, load: func(b *tab) {
			b.open("/signup")
			b.submit(`form[action="/signup"]`, "username", "new_person", "password", "short1", "password_confirm", "short1")
		}},

		// Signed in as Ada.
		{name: "feed", tab: ada, path: "/", sel: `main li.post`},
		{name: "post-too-long", tab: ada, sel: `#body[aria-invalid=true]`, load: func(b *tab) {
			b.open("/")
			body := strings.Repeat("Too many words for one post. ", post.MaxLength/29+1)
			b.submit(`form[action="/posts"]`, "body", body)
		}},
		{name: "profile-edit", tab: ada, path: "/profile", sel: `main form[action="/profile"]`},
		{name: "profile", tab: ada, path: "/u/" + st.ada, sel: `main a[href="/profile"]`},
		{name: "profile-other", tab: ada, path: graceAt, sel: fmt.Sprintf(`form[action="%s/unfollow"]`, graceAt)},
		{name: "profile-private", tab: ada, path: alanAt, sel: fmt.Sprintf(`form[action="%s/unfollow"]`, alanAt), text: "private"},
		{name: "profile-blocking", tab: ada, path: joanAt, sel: fmt.Sprintf(`form[action="%s/unblock"]`, joanAt)},
		{name: "followers", tab: ada, path: "/u/" + st.ada + "/followers", sel: fmt.Sprintf(`main a[href=%q]`, graceAt)},
		{name: "following", tab: ada, path: "/u/" + st.ada + "/following", sel: fmt.Sprintf(`main a[href=%q]`, graceAt)},
		{name: "followers-private", tab: ada, path: alanAt + "/followers", text: "private"},
		{name: "post", tab: ada, path: adaPost, sel: fmt.Sprintf(`main a[href="%s/delete"]`, adaPost)},
		{name: "post-delete", tab: ada, path: adaPost + "/delete", sel: fmt.Sprintf(`main form[action="%s/delete"]`, adaPost)},
		{name: "search", tab: ada, path: "/search?q=gr", sel: fmt.Sprintf(`main a[href=%q]`, graceAt)},
		{name: "notifications", tab: ada, path: "/notifications", text: "mentioned you"},
		{name: "sessions", tab: adaFirefox, path: "/settings/sessions", sel: `main [aria-label="Security notice"]`},
		{name: "password", tab: ada, path: "/settings/password", sel: `main form[action="/settings/password"]`},
		{name: "reauth", tab: ada, path: "/settings/reauth", sel: `main form[action="/settings/reauth"]`},
		{name: "delete-account", tab: ada, path: "/settings/delete", sel: `main form[action="/settings/delete"]`},
		{name: "activity", tab: ada, path: "/settings/activity", sel: `main ol.activity`},
		{name: "privacy", tab: ada, path: "/settings/privacy", sel: `main form[action="/settings/privacy"]`},
		{name: "security", tab: ada, path: "/security"},
		{name: "logout", tab: ada, path: "/logout", sel: `main form[action="/logout"]`},

		// Signed in as Alan, whose account is private, and Joan, who is new.
		{name: "follow-requests", tab: alan, path: "/follow-requests", sel: fmt.Sprintf(`form[action="/follow-requests/%s/approve"]`, st.ada)},
		{name: "feed-empty", tab: joan, path: "/", sel: `main a[href^="/u/"]`}, // someone to follow
		{name: "profile-blocked", tab: joan, path: "/u/" + st.ada, text: "has blocked you"},
	}
	// Pages that are new or on their way are checked once they are there.
	optional := map[string]bool{"/security": exists(t, s, "/security"), "/logout": exists(t, s, "/logout")}

	var found []finding
	t.Run("checks-catch-faults", func(t *testing.T) {
		b := anon.as(t)
		b.open("/login")
		b.injectAxe(axeSrc)
		for _, v := range b.axe(axeOptions(wcagTags...)).Violations {
			t.Logf("before planting anything: %s", describe(v))
		}
		// Pale grey on white: axe-core counts text the colour of its
		// background (1:1) as hidden on purpose, and asks for a review
		// rather than reporting a violation.
		b.do("planting pale text and a box too wide", chromedp.Evaluate[chromedp.Void](`(() => {
			const p = document.createElement("p");
			p.id = "planted-pale";
			p.textContent = "Hard to read";
			p.style.color = "#bbb";
			p.style.background = "#fff";
			const wide = document.createElement("div");
			wide.className = "planted-wide";
			wide.textContent = "Too wide";
			wide.style.width = "3000px";
			document.querySelector("main").append(p, wide);
		})()`))
		res := b.axeOn(`{include: [["#planted-pale"]]}`, axeOptions(wcagTags...))
		if !slices.ContainsFunc(res.Violations, func(v axeViolation) bool {
			return v.ID == "color-contrast" && slices.ContainsFunc(v.Nodes, func(n axeNode) bool { return n.Target == "#planted-pale" })
		}) {
			t.Errorf("axe-core missed pale grey text on white: %+v", res.Violations)
		}
		o := b.overflow(1280)
		if o.ScrollWidth <= 1280 || !slices.ContainsFunc(o.Culprits, func(e overflowElement) bool { return e.Class == "planted-wide" }) {
			t.Errorf("the overflow check missed a 3000px box: %+v", o)
		}
	})

	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if there, ok := optional[p.path]; ok && !there {
				t.Skipf("no %s page yet", p.path)
			}
			found = append(found, p.sweep(t, p.name, axeSrc, shots)...)
		})
	}

	// The dark colour scheme, on a few pages at desktop size.
	for _, p := range []sweepPage{
		{name: "feed", tab: ada, path: "/"},
		{name: "profile", tab: ada, path: "/u/" + st.ada},
		{name: "login", tab: anon, path: "/login"},
		{name: "sessions", tab: adaFirefox, path: "/settings/sessions"},
	} {
		t.Run("dark/"+p.name, func(t *testing.T) {
			b := p.tab.as(t)
			b.open(p.path)
			b.injectAxe(axeSrc)
			const bg = `getComputedStyle(document.body).backgroundColor`
			light := get(b, "reading the background", chromedp.Evaluate[string](bg))
			b.colorScheme("dark")
			if dark := get(b, "reading the background", chromedp.Evaluate[string](bg)); dark == light {
				t.Logf("%s looks the same in the dark colour scheme (background %s)", p.path, light)
			}
			where := "dark/" + p.name + "/1280"
			for _, v := range b.axe(axeRuleOptions("color-contrast")).Violations {
				t.Errorf("%s", describe(v))
				found = append(found, findings(where, v)...)
			}
			if shots != "" {
				b.screenshot(filepath.Join(shots, p.name+"-dark-1280.png"))
			}
			b.colorScheme("")
		})
	}

	if len(found) > 0 {
		t.Errorf("%d problems on the pages; by rule:\n%s", len(found), summarize(found))
	}
}

// sweep brings p's tab to the page, makes sure it is the page meant, and
// checks it at each of sweepSizes, in a subtest per width, saving a
// screenshot of each in shots if that is not "". The problems found are
// reported, and returned with where naming the page. The tab is left at
// the first size.
func (p sweepPage) sweep(t *testing.T, where, axeSrc, shots string) []finding {
	t.Helper()
	b := p.tab.as(t)
	if p.load != nil {
		p.load(b)
	} else {
		b.open(p.path)
	}
	if p.sel != "" && b.count(p.sel) == 0 {
		t.Errorf("%s: nothing matches %s: not the page meant", b.at().RequestURI(), p.sel)
	}
	if p.text != "" {
		if got := b.text("main"); !strings.Contains(got, p.text) {
			t.Errorf("%s: the page shows %q, want it to contain %q", b.at().RequestURI(), got, p.text)
		}
	}
	b.injectAxe(axeSrc)
	var found []finding
	for _, size := range sweepSizes {
		t.Run(fmt.Sprint(size.w), func(t *testing.T) {
			b := b.as(t)
			b.resize(size.w, size.h, size.mobile)
			found = append(found, b.check(fmt.Sprintf("%s/%d", where, size.w), size.w)...)
			if shots != "" {
				b.screenshot(filepath.Join(shots, fmt.Sprintf("%s-%d.png", p.name, size.w)))
			}
		})
	}
	b.resize(sweepSizes[0].w, sweepSizes[0].h, sweepSizes[0].mobile)
	return found
}

// check checks the page the tab shows at its present size: it must not
// scroll sideways, and axe-core must find no violation. It reports each
// problem and returns them.
func (b *tab) check(where string, width int64) []finding {
	b.t.Helper()
	var out []finding
	o := b.overflow(width)
	if o.ScrollWidth > min(o.InnerWidth, int(width)) {
		var list []string
		for _, e := range o.Culprits {
			list = append(list, "\n\t"+e.String())
			out = append(out, finding{where: where, rule: "overflow", what: "the page scrolls sideways", elem: e.String()})
		}
		if len(o.Culprits) == 0 {
			out = append(out, finding{where: where, rule: "overflow", what: "the page scrolls sideways", elem: "(no element found)"})
		}
		b.t.Errorf("the page is %dpx wide in a %dpx window (%d asked for): it scrolls sideways; the widest elements:%s",
			o.ScrollWidth, o.InnerWidth, width, strings.Join(list, ""))
	}
	for _, v := range b.axe(axeOptions(wcagTags...)).Violations {
		b.t.Errorf("%s", describe(v))
		out = append(out, findings(where, v)...)
	}
	return out
}

// describe says what a violation is and where, for a test's log.
func describe(v axeViolation) string {
	var s strings.Builder
	fmt.Fprintf(&s, "axe: %s (%s): %s; %d element(s)", v.ID, v.Impact, v.Help, v.Count)
	for _, n := range v.Nodes {
		fmt.Fprintf(&s, "\n\t%s\n\t\t%s", n.Target, n.HTML)
		if n.Why != "" {
			fmt.Fprintf(&s, "\n\t\t%s", n.Why)
		}
	}
	return s.String()
}

func findings(where string, v axeViolation) []finding {
	var out []finding
	for _, n := range v.Nodes {
		elem := n.Target + "  " + n.HTML
		if n.Why != "" {
			elem += "\n\t\t" + n.Why
		}
		out = append(out, finding{where: where, rule: v.ID, what: fmt.Sprintf("%s: %s", v.Impact, v.Help), elem: elem})
	}
	return out
}

// summarize groups findings by rule, then by element, each with the pages
// and sizes it was found on.
func summarize(found []finding) string {
	type key struct{ rule, elem string }
	where := map[key][]string{}
	what := map[string]string{}
	var rules []string
	var elems = map[string][]string{}
	for _, f := range found {
		k := key{f.rule, f.elem}
		if _, ok := what[f.rule]; !ok {
			what[f.rule] = f.what
			rules = append(rules, f.rule)
		}
		if _, ok := where[k]; !ok {
			elems[f.rule] = append(elems[f.rule], f.elem)
		}
		if !slices.Contains(where[k], f.where) {
			where[k] = append(where[k], f.where)
		}
	}
	slices.Sort(rules)
	var s strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&s, "%s (%s)\n", r, what[r])
		for _, e := range elems[r] {
			fmt.Fprintf(&s, "\t%s\n\t\ton %s\n", e, strings.Join(where[key{r, e}], ", "))
		}
	}
	return s.String()
}

// as returns the tab for use in the subtest t: its failures are t's.
func (b *tab) as(t *testing.T) *tab {
	c := *b
	c.t = t
	return &c
}

// resize sets the window: a desktop's, or a phone's at three device pixels
// to the CSS pixel, with touch.
func (b *tab) resize(w, h int64, mobile bool) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if mobile {
		opts = append(opts, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.do(fmt.Sprintf("resizing to %d×%d", w, h), chromedp.EmulateViewport(w, h, opts...))
}

// screenshot saves what the window shows as a PNG.
func (b *tab) screenshot(file string) {
	b.t.Helper()
	png := get(b, "taking a screenshot", chromedp.CaptureScreenshot())
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs the tab in.
func (b *tab) signIn(username, password string) {
	b.t.Helper()
	b.open("/login")
	b.fill("username", username, "password", password)
	b.click(`form[action="/login"] button[type=submit]`)
	if u := b.at(); u.Path == "/login" || b.count(`form[action="/logout"], a[href="/logout"]`) == 0 {
		b.t.Fatalf("%s: signing in as %s led to %s, with no way to sign out", b.name, username, u.RequestURI())
	}
}

// submit sets the form's fields, named by id, value after id, and submits
// it as it is: the browser's own checks (lengths, required fields) are
// skipped, as a script or an older browser would skip them, so that the
// server's answer shows.
func (b *tab) submit(form string, idsAndValues ...string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const f = document.querySelector(%q); const v = %s;`, form, jsStrings(idsAndValues)) +
		`for (let i = 0; i + 1 < v.length; i += 2) f.querySelector("#" + v[i]).value = v[i + 1];` +
		`HTMLFormElement.prototype.submit.call(f); })()`
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
		b.t.Fatalf("%s: submitting %s: %v", b.name, form, err)
	}
}

// exists reports whether the site has a page at path: one that a
// visitor's GET finds, or is redirected from.
func exists(t *testing.T, s *site, path string) bool {
	t.Helper()
	client := *s.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode < 400
}

// sweepState is the state TestPages builds: three people and a newcomer.
type sweepState struct {
	ada, grace, alan, joan string // usernames
	password               string // everyone's
	adaPost                int64  // a post of Ada's
}

// seedNetwork builds, through the data layer, a small network: Ada and
// Grace follow each other and post, Grace mentions Ada; Alan's account is
// private and Ada has asked to follow it; Ada has blocked Joan, who has
// just joined and follows nobody.
func seedNetwork(t *testing.T, s *site) sweepState {
	t.Helper()
	ctx := context.Background()
	n := sweepState{ada: "ada_lovelace", grace: "grace_hopper", alan: "alan_turing", joan: "joan_clarke",
		password: "violet-otter-91-lantern"}
	now := s.clock.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	db := s.App.DB
	ids := map[string]int64{}
	for _, p := range []struct{ username, name, bio string }{
		{n.ada, "Ada Lovelace", "Poetical science, one punched card at a time. Notes on the Analytical Engine."},
		{n.grace, "Grace Hopper", "Compilers, nanoseconds and naval history. It's easier to ask forgiveness than it is to get permission."},
		{n.alan, "Alan Turing", "On computable numbers. Long-distance runner."},
		{n.joan, "Joan Clarke", ""},
	} {
		u, err := s.App.Account.AddUser(ctx, p.username, n.password, n.password)
		if err != nil {
			t.Fatalf("adding %s: %v", p.username, err)
		}
		if err := db.UpdateProfile(ctx, u.ID, p.name, p.bio, now); err != nil {
			t.Fatal(err)
		}
		ids[p.username] = u.ID
	}
	ada, grace, alan, joan := ids[n.ada], ids[n.grace], ids[n.alan], ids[n.joan]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.SetPrivate(ctx, alan, true, now))
	_, err := db.Follow(ctx, grace, ada, ago(26*time.Hour))
	must(err)
	_, err = db.Follow(ctx, ada, grace, ago(25*time.Hour))
	must(err)
	_, err = db.RequestFollow(ctx, ada, alan, ago(3*time.Hour))
	must(err)
	must(db.Block(ctx, ada, joan, ago(2*time.Hour)))
	for _, p := range []struct {
		author    int64
		body      string
		mentioned []int64
		ago       time.Duration
	}{
		{grace, "First day back at the lab. Found a moth in relay 70, panel F.", nil, 30 * time.Hour},
		{ada, "The engine might compose elaborate and scientific pieces of music of any degree of complexity.", nil, 20 * time.Hour},
		{alan, "Ran to the next town and back before breakfast.", nil, 9 * time.Hour},
		{grace, "Read the notes at https://example.com/sketch/notes?part=G, thanks @" + n.ada + "!", []int64{ada}, 5 * time.Hour},
		{grace, "A nanosecond is 11.8 inches of wire: https://example.com/talks/1985/nanoseconds-and-microseconds-a-very-long-address-indeed", nil, 3 * time.Hour},
		{ada, "Note G is done.\nIt computes the Bernoulli numbers, and it is longer than the paper it annotates.", nil, 40 * time.Minute},
	} {
		created, err := db.CreatePost(ctx, p.author, p.body, p.mentioned, ago(p.ago))
		must(err)
		if p.author == ada {
			n.adaPost = created.ID
		}
	}
	return n
}
