package e2e_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/connectbook/connectbook/internal/lab"
)

// TestLabPages is TestPages for the lab: every variant, served on
// loopback, has each of its pages visited signed out and signed in as
// alice, the sign-in form with its error, its message pages, and its
// walkthrough in every state from the first step to the comparison with
// ConnectBook. At 1280×800 and on a 390×844 phone each page must not
// scroll sideways and must have no WCAG 2.2 A or AA violation that
// axe-core finds; at 1280 the colour contrast must also hold in the dark
// colour scheme. Every problem is reported, by page and size, then once
// more grouped by rule.
func TestLabPages(t *testing.T) {
	chromium := findChromium(t)
	axeSrc := loadAxe(t)

	var found []finding
	for _, variant := range lab.Variants {
		t.Run(variant, func(t *testing.T) {
			base := startLab(t, variant)
			// A browser for each variant, so that testTimeout bounds one
			// variant's pages rather than all of them.
			browser := startBrowser(t, chromium)
			anon := newTab(t, browser, "a visitor's browser", base, chromeOnLinux)
			alice := newTab(t, browser, "alice's browser", base, chromeOnLinux)
			alice.labSignIn("alice", lab.Users["alice"])

			pages := []sweepPage{
				{name: "home", tab: anon, path: "/", sel: `main a[href="/login"]`},
				{name: "login", tab: anon, path: "/login", sel: `main form[action="/login"]`},
				{name: "login-error", tab: anon, text: "Invalid credentials", load: func(b *tab) {
					b.open("/login")
					b.submitNamed(`form[action="/login"]`, "username", "alice", "password", "not-her-password")
				}},
				{name: "profile", tab: alice, path: "/profile", sel: `main a[href="/logout"]`, text: "Welcome, alice!"},
				{name: "not-found", tab: anon, path: "/no-such-page", text: "There is no such page"},
				{name: "static-not-found", tab: anon, path: "/static/no-such-file", text: "There is no such file"},
				{name: "method-not-allowed", tab: anon, path: "/walkthrough/step", text: "does not take that kind of request"},
			}
			switch variant {
			case "seed1":
				pages = append(pages,
					sweepPage{name: "bad-session-id", tab: anon, path: "/set_session/a%20b", text: "Bad session id"},
					// The write-up's proof: alice signs in under the id
					// named fixated_session.
					sweepPage{name: "congrats", tab: newTab(t, browser, "a fixed browser", base, chromeOnLinux), text: "You hijacked a session", load: func(b *tab) {
						b.open("/set_session/fixated_session")
						b.labSignIn("alice", lab.Users["alice"])
					}},
				)
			case "seed2":
				pages = append(pages, sweepPage{name: "congratulations", tab: alice, path: "/set_congrats", text: "is logged in as alice"})
			}
			pages = append(pages, walkthroughPages(t, anon)...)

			for _, p := range pages {
				t.Run(p.name, func(t *testing.T) {
					where := variant + "/" + p.name
					found = append(found, p.sweep(t, where, axeSrc, "")...)
					b := p.tab.as(t)
					b.colorScheme("dark")
					for _, v := range b.axe(axeRuleOptions("color-contrast")).Violations {
						t.Errorf("in the dark colour scheme: %s", describe(v))
						found = append(found, findings("dark/"+where+"/1280", v)...)
					}
					b.colorScheme("")
				})
			}
		})
	}

	if len(found) > 0 {
		t.Errorf("%d problems on the lab's pages; by rule:\n%s", len(found), summarize(found))
	}
}

// walkthroughPages returns the walkthrough in each of its states: before
// the first step, after each step, and with the steps run against
// ConnectBook as well. Each page gets there from the start, pressing one
// button after another, so that none depends on the page before it.
func walkthroughPages(t *testing.T, b *tab) []sweepPage {
	t.Helper()
	const stepButton = `main form[action="/walkthrough/step"] button[type=submit]`
	b.open("/walkthrough")
	n := b.count("main ol.steps > li")
	if n == 0 {
		t.Fatalf("%s: the walkthrough shows no steps", b.name)
	}
	walk := func(steps int) func(*tab) {
		return func(b *tab) {
			b.open("/walkthrough")
			for range steps {
				b.click(stepButton)
			}
		}
	}
	pages := []sweepPage{{name: "walkthrough", tab: b, path: "/walkthrough", sel: `main input[name=step][value="1"]`}}
	for done := 1; done <= n; done++ {
		// The step just done shows its outcome, and the next one its button.
		sel := fmt.Sprintf(`main ol.steps > li.current:has(.verdict) + li input[name=step][value="%d"]`, done+1)
		if done == n {
			sel = `main ol.steps:has(> li.current:last-child .verdict) ~ .again a[href="/walkthrough"]`
		}
		pages = append(pages, sweepPage{name: fmt.Sprintf("walkthrough-step%d", done), tab: b, load: walk(done), sel: sel})
	}
	pages = append(pages, sweepPage{name: "walkthrough-connectbook", tab: b, text: "Why it fails",
		sel: "main .verdict.good", load: func(b *tab) {
			walk(n)(b)
			b.click(`main form[action="/walkthrough/connectbook"] button[type=submit]`)
		}})
	return pages
}

// startLab serves a lab variant, built by the lab package as `connectbook
// lab` builds it, on a loopback port until the test ends, and returns its
// URL.
func startLab(t *testing.T, variant string) string {
	t.Helper()
	h, err := lab.New(variant)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // 127.0.0.1, a port of its own
	t.Cleanup(srv.Close)
	return srv.URL
}

// labSignIn signs the tab in to the lab through its sign-in form.
func (b *tab) labSignIn(username, password string) {
	b.t.Helper()
	b.open("/login")
	b.submitNamed(`form[action="/login"]`, "username", username, "password", password)
	if u := b.at(); u.Path == "/login" {
		b.t.Fatalf("%s: signing in as %s failed: %q", b.name, username, b.text("main"))
	}
}

// submitNamed is submit with the form's fields named by name rather than
// id.
func (b *tab) submitNamed(form string, namesAndValues ...string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const f = document.querySelector(%q); const v = %s;`, form, jsStrings(namesAndValues)) +
		`for (let i = 0; i + 1 < v.length; i += 2) f.elements.namedItem(v[i]).value = v[i + 1];` +
		`HTMLFormElement.prototype.submit.call(f); })()`
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
		b.t.Fatalf("%s: submitting %s: %v", b.name, form, err)
	}
}
