package probe_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/probe"
)

// referencePrefixes are the only addresses the HTML report may link to.
var referencePrefixes = []string{
	"https://github.com/OWASP/ASVS/blob/v5.0.0/5.0/en/",
	"https://owasp.org/www-project-web-security-testing-guide/stable/",
}

// selfContained fails t unless page loads nothing: no scripts, no src,
// no styles from elsewhere, and links only to the references.
func selfContained(t *testing.T, page string) {
	t.Helper()
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "src=", "url(", "@import", "<link", "<iframe", "<object", "<embed", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page has %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`(?i)href\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1) {
		ok := false
		for _, p := range referencePrefixes {
			ok = ok || strings.HasPrefix(m[1], p)
		}
		if !ok {
			t.Errorf("link to %q", m[1])
		}
	}
}

func TestHTMLReport(t *testing.T) {
	rep := handReport(
		finding(probe.CookieScope, "low", "the sid cookie: its name lacks the __Host- prefix"),
		finding(probe.FixationAdoptedID, "high", "an id the attacker chose is logged in"),
		finding(probe.CookieFlags, "medium", `the sid cookie lacks <b>Secure</b>`),
	)
	rep.Tokens = &probe.TokenStats{Samples: 20, Alphabet: "decimal digits", EffectiveBits: 20, WantedBits: 128,
		Summary:   "20 fresh tokens of 6 characters (varying part: decimal digits)",
		Positions: []probe.PositionStat{{1, 3.3, true}, {2, 3.3, true}, {3, 0, false}, {4, 2, false}}}
	var b strings.Builder
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	high, medium, low := strings.Index(page, `id="fixation-adopted-id"`), strings.Index(page, `id="cookie-flags"`), strings.Index(page, `id="cookie-scope"`)
	if high < 0 || !(high < medium && medium < low) {
		t.Errorf("findings at %d, %d, %d: want high, medium, low in that order", high, medium, low)
	}
	for _, s := range []string{
		"<h1>Session probe of https://example.test</h1>",
		"3 findings: 1 high, 1 medium, 1 low.",
		`<span class="passed">Checks passed</span>: 1`,
		`<span class="skipped">skipped</span>: Not asked for:`,
		"An id the attacker chose is logged in.",
		"The sid cookie lacks &lt;b&gt;Secure&lt;/b&gt;.", // escaped
		`<pre class="request">GET /profile`,
		"Fix fixation-adopted-id.",
		`<a href="https://owasp.org/www-project-web-security-testing-guide/stable/4-Web_Application_Security_Testing/06-Session_Management_Testing/03-Testing_for_Session_Fixation">WSTG-SESS-03</a>`,
		">ASVS 5.0 V7.2.4</a>",
		"<svg", `class="strong"`, `class="weak"`, "<title>Position 4: 2.0 bits</title>",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if n := strings.Count(page, "<rect "); n != 4 {
		t.Errorf("%d bars, want 4", n)
	}
}

// Cookie values, tokens and passwords never reach the page, whatever the
// evidence holds; equal values get equal labels.
func TestHTMLMasksSecrets(t *testing.T) {
	const cookie, password, short = "planted-cookie-value-0123456789", "hunter2hunter2", "s3cr3t"
	f := finding(probe.FixationPreauthID, "high", "the cookies set before login (sid="+cookie+") are logged in")
	f.Evidence = []probe.Step{
		{Note: "the browser carries sid=" + cookie + ":", Request: "POST /login?sid=" + short + "\nCookie: sid=" + cookie + "; theme=dark-mode\n\nusername=alice&password=" + password,
			Response: "303 See Other\nLocation: /profile?sid=" + short + "\nSet-Cookie: sid=" + cookie + "; Path=/; HttpOnly"},
		{Note: "all the tokens:", Request: "GET /login, 2 times", Response: "tok111111\ntok222222"},
	}
	rep := handReport(f)
	var b strings.Builder
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, secret := range []string{cookie, password, short, "tok111111", "tok222222", "dark-mode"} {
		if strings.Contains(page, secret) {
			t.Errorf("the page holds %q", secret)
		}
	}
	labels := regexp.MustCompile(`plan…\[masked #\d+\]`).FindAllString(page, -1)
	if len(labels) != 4 || labels[0] != labels[3] {
		t.Errorf("labels %q, want the same 4 times (detail, note, cookie, set-cookie)", labels)
	}
	if !strings.Contains(page, "Cookie values, tokens and passwords are masked") {
		t.Error("the page does not say values are masked")
	}
}

// End to end: a real probe's page holds no token the probe saw and no
// password.
func TestHTMLFromProbe(t *testing.T) {
	srv := startLab(t, "seed2")
	rep := run(t, probe.Config{Target: srv.URL, Username: "alice", Password: "password123"})
	var b strings.Builder
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	selfContained(t, page)
	tokens := map[string]bool{}
	for _, f := range rep.Findings {
		for _, s := range f.Evidence {
			for _, m := range regexp.MustCompile(`session_id=(\w+)`).FindAllStringSubmatch(s.Request+"\n"+s.Response, -1) {
				tokens[m[1]] = true
			}
			if f.ID == probe.WeakToken && !strings.HasPrefix(s.Response, "200") {
				for _, tok := range strings.Fields(s.Response) {
					tokens[tok] = true
				}
			}
		}
	}
	if len(tokens) < 20 {
		t.Fatalf("only %d tokens in the evidence: %v", len(tokens), tokens)
	}
	for tok := range tokens {
		if strings.Contains(page, tok) {
			t.Errorf("the page holds the token %q", tok)
		}
	}
	if strings.Contains(page, "password123") {
		t.Error("the page holds the password")
	}
	if !strings.Contains(page, `id="weak-token"`) || !strings.Contains(page, "<h4>Evidence</h4>") {
		t.Error("the page lacks the findings' evidence")
	}
}

func TestFailedHTML(t *testing.T) {
	var b strings.Builder
	if err := probe.WriteFailedHTML(&b, "https://example.test", probe.ErrLogin); err != nil {
		t.Fatal(err)
	}
	selfContained(t, b.String())
	if !strings.Contains(b.String(), "The probe could not run. Login failed.") {
		t.Errorf("page %s", b.String())
	}
}

// The randomness tests' summary and where the login form was found reach
// the page.
func TestHTMLTokenTestsAndLoginPage(t *testing.T) {
	r := &probe.Report{Target: "http://127.0.0.1:1", Findings: []probe.Finding{}, LoginPage: "/members",
		Tokens:     &probe.TokenStats{Samples: 3, Alphabet: "hex", Positions: []probe.PositionStat{{Position: 1, Bits: 4, Passed: true}}, EffectiveBits: 4, WantedBits: 128, Summary: "3 fresh tokens"},
		TokenTests: "Effective entropy about 20 bits of 20 (significance 1%, 300 samples): the tokens are weak."}
	var b strings.Builder
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Effective entropy about 20 bits", "<code>/members</code>"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
