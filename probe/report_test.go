package probe_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/connectbook/connectbook/probe"
)

// handReport is a report with findings of every severity, out of order.
func handReport(findings ...probe.Finding) *probe.Report {
	return &probe.Report{Target: "https://example.test", Requests: 42, Findings: findings,
		Checks: []probe.Check{
			{ID: probe.CookieFlags, Outcome: probe.OutcomeFailed},
			{ID: probe.WeakToken, Outcome: probe.OutcomePassed},
			{ID: probe.LogoutReplay, Outcome: probe.OutcomeSkipped, Why: "no form or link on /profile whose address or text says log out; name it with the logout path"},
			{ID: probe.NoIdleTimeout, Outcome: probe.OutcomeSkipped, Why: "not asked for: give an idle wait longer than the site's idle timeout to run it"},
		},
		Skipped: []string{probe.LogoutReplay + ": no form or link on /profile whose address or text says log out; name it with the logout path"},
	}
}

func finding(id, severity, detail string) probe.Finding {
	return probe.Finding{ID: id, Severity: severity, Title: "Title of " + id, Detail: detail, Fix: "Fix " + id + ".",
		Evidence: []probe.Step{{Note: "the request:", Request: "GET /profile\nCookie: sid=abcdefgh", Response: "200 OK"}}}
}

func TestTextOrdersFindingsBySeverity(t *testing.T) {
	rep := handReport(
		finding(probe.CookieScope, "low", "the sid cookie: its name lacks the __Host- prefix"),
		finding(probe.FixationAdoptedID, "high", "an id the attacker chose is logged in"),
		finding(probe.CookieFlags, "medium", "the sid cookie lacks Secure"),
		finding(probe.WeakToken, "high", "under 128 bits of entropy"),
	)
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^== \[(\w+)\] ([\w-]+)`).FindAllStringSubmatch(text, -1) {
		got = append(got, m[1]+" "+m[2])
	}
	want := []string{"HIGH fixation-adopted-id", "HIGH weak-token", "MEDIUM cookie-flags", "LOW cookie-scope"}
	if !slices.Equal(got, want) {
		t.Errorf("sections %v, want %v\n%s", got, want, text)
	}
	for _, s := range []string{
		"4 findings (2 high, 1 medium, 1 low)",
		"\nAn id the attacker chose is logged in.\n",
		"\nThe sid cookie: its name lacks the __Host- prefix.\n",
		"\nUnder 128 bits of entropy.\n",
		"  The request:\n",
		"cookie-flags     Failed.",
		"weak-token       Passed.",
		"logout-replay    Skipped: No form or link",
		"no-idle-timeout  Skipped: Not asked for:",
		"(1 passed, 1 failed, 2 skipped)",
		"See: ASVS 5.0 V7.2.4, WSTG-SESS-03.",
		"Device Bound Session Credentials: not offered",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("report lacks %q:\n%s", s, text)
		}
	}
	// Each skipped check's reason is said once, in the list of checks.
	if n := strings.Count(text, "No form or link on /profile"); n != 1 || strings.Contains(text, "Not checked") {
		t.Errorf("the skipped check's reason is said %d times:\n%s", n, text)
	}
	for i, line := range strings.Split(text, "\n") {
		evidence := strings.HasPrefix(line, "    > ") || strings.HasPrefix(line, "    < ")
		if n := utf8.RuneCountInString(line); n > 100 && !evidence {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
	}
}

func TestTextCountsFindings(t *testing.T) {
	for _, tc := range []struct {
		findings []probe.Finding
		want     string
		notWant  string
	}{
		{nil, "No findings: none of the attacks worked.", "0 findings"},
		{[]probe.Finding{finding(probe.WeakToken, "high", "x")}, "\n1 finding (1 high)", "1 findings"},
		{[]probe.Finding{finding(probe.WeakToken, "high", "x"), finding(probe.CookieFlags, "low", "y")}, "\n2 findings (1 high, 1 low)", "finding(s)"},
	} {
		var b strings.Builder
		handReport(tc.findings...).WriteText(&b)
		if !strings.Contains(b.String(), tc.want) || strings.Contains(b.String(), tc.notWant) {
			t.Errorf("got %q, want %q and not %q", b.String(), tc.want, tc.notWant)
		}
	}
}

// A finding's detail and a skipped check's reason read as sentences,
// whatever the checks wrote.
func TestTextSentences(t *testing.T) {
	rep := handReport(finding(probe.WeakToken, "high", "20 fresh tokens (at least 128 wanted)"),
		finding(probe.CookieFlags, "medium", "already a sentence."))
	var b strings.Builder
	rep.WriteText(&b)
	for _, s := range []string{"\n20 fresh tokens (at least 128 wanted).\n", "\nAlready a sentence.\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
	if strings.Contains(b.String(), "sentence..") {
		t.Errorf("doubled full stop:\n%s", b.String())
	}
}
