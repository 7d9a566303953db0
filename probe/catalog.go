package probe

import (
	"slices"
	"strings"
)

// entry is what the report says of one finding, whoever found it: its
// title, severity and fix, what its check tries, and where the standards
// ask for what it checks.
type entry struct {
	title, severity, fix string
	// checks says what the check tries, as a sentence.
	checks string
	// asvs are OWASP ASVS 5.0 requirements ("7.2.4") and wstg OWASP WSTG
	// test ids ("WSTG-SESS-03"); cwe are CWE numbers.
	asvs, wstg []string
	cwe        []int
}

// findingIDs lists every finding the probe knows, in the order its checks
// run; the SARIF rules and the README's table follow it.
var findingIDs = []string{
	CookieFlags, CookieScope, FixationPreauthID, TokenInURL, WeakToken,
	FixationAdoptedID, FixationAuthenticatedID, LogoutReplay, NoIdleTimeout,
}

// catalog holds each finding's entry.
var catalog = map[string]entry{
	FixationAdoptedID: {
		title: "Session fixation: the site logs in a session id the client chose", severity: "high",
		fix: "Never use a session id the server did not issue: look every id up in the server's store and treat an unknown one as no session, " +
			"and issue a new id at login, destroying the session the request carried. " +
			"With github.com/connectbook/connectbook/session, Manager.Create does both and unknown tokens are never adopted. " +
			"Elsewhere: enable strict mode (PHP session.use_strict_mode) and regenerate the id at login " +
			"(session_regenerate_id(true), request.changeSessionId(), Django's cycle_key).",
		checks: "Plants an id of the probe's choosing in the victim's browser, logs the victim in, and tries the id.",
		asvs:   []string{"7.2.4"}, wstg: []string{"WSTG-SESS-03"}, cwe: []int{384},
	},
	FixationPreauthID: {
		title: "Session fixation: an id issued before login stays valid after it", severity: "high",
		fix: "Issue a new session id when the user logs in and invalidate the old one on the server; better, create no session before login. " +
			"With github.com/connectbook/connectbook/session, sessions exist only from Manager.Create at login, which also destroys any session the request carried.",
		checks: "Tries the cookies the login page set before login once the user has logged in.",
		asvs:   []string{"7.2.4"}, wstg: []string{"WSTG-SESS-03"}, cwe: []int{384},
	},
	FixationAuthenticatedID: {
		title: "Session fixation: a signed-in session keeps its id when another user signs in", severity: "high",
		fix: "Issue a new session id on every login, re-authentication included, and destroy the session the request carried, " +
			"even when it is already signed in: otherwise whoever planted or kept that id is signed in as the next user of the browser. " +
			"With github.com/connectbook/connectbook/session, Manager.Create issues a new token at every login and destroys the carried session.",
		checks: "Signs a second user in on a browser that is already signed in, and compares the session ids.",
		asvs:   []string{"7.2.4"}, wstg: []string{"WSTG-SESS-03"}, cwe: []int{384},
	},
	TokenInURL: {
		title: "The session is accepted from a URL parameter", severity: "high",
		fix: "Read the session only from its cookie and ignore ids in URLs: they leak through Referer headers, logs, history and shared links, " +
			"and a link is all an attacker needs to plant one. " +
			"github.com/connectbook/connectbook/session reads only the cookie and reports tokens offered in URLs as security events.",
		checks: "Sends the signed-in token without a cookie, as a URL parameter under the usual names.",
		asvs:   []string{"14.2.1"}, wstg: []string{"WSTG-SESS-04"}, cwe: []int{598},
	},
	WeakToken: {
		title: "Session tokens are guessable", severity: "high",
		fix: "Generate session ids from a cryptographically secure random source with at least 128 bits of entropy " +
			"(crypto/rand, Python's secrets.token_urlsafe(32)); never counters, timestamps, user data or small random numbers. " +
			"github.com/connectbook/connectbook/session uses 256-bit tokens from crypto/rand and stores only their SHA-256.",
		checks: "Collects fresh tokens and looks for duplicates, counters and under 128 bits of estimated entropy.",
		asvs:   []string{"7.2.3"}, wstg: []string{"WSTG-SESS-01"}, cwe: []int{330},
	},
	LogoutReplay: {
		title: "A session token still works after logout", severity: "high",
		fix: "Destroy the session on the server at logout, not only the cookie in the browser. " +
			"Signed client-side sessions cannot be revoked this way: keep sessions on the server, or a server-side list of revoked ones. " +
			"With github.com/connectbook/connectbook/session, Manager.Destroy deletes the session from the store, and a deleted session cannot come back.",
		checks: "Logs out, then replays a copy of the token taken before.",
		asvs:   []string{"7.4.1"}, wstg: []string{"WSTG-SESS-06"}, cwe: []int{613},
	},
	CookieFlags: {
		title: "The session cookie lacks HttpOnly, Secure or SameSite", severity: "medium",
		fix: "Set HttpOnly (scripts cannot read the cookie), Secure (it is never sent over plain HTTP) and SameSite=Lax or Strict " +
			"(other sites' requests do not carry it), and prefer the __Host- name prefix (no Domain, Path=/, Secure). " +
			"github.com/connectbook/connectbook/session sets all of them and requires a __Host- cookie name.",
		checks: "Reads the HttpOnly, Secure and SameSite attributes of the session cookie's Set-Cookie header.",
		asvs:   []string{"3.3.1", "3.3.2", "3.3.4"}, wstg: []string{"WSTG-SESS-02"}, cwe: []int{1004, 614, 1275},
	},
	CookieScope: {
		title: "The session cookie is scoped or kept wider than it needs to be", severity: "medium",
		fix: "Leave out the Domain attribute, so that only the host that set the cookie gets it back (subdomains cannot read or overwrite it), " +
			"and give the session cookie no Expires or Max-Age beyond the session's own lifetime; " +
			"name it with the __Host- prefix, which browsers only accept without Domain, with Path=/ and Secure. " +
			"github.com/connectbook/connectbook/session requires a __Host- cookie name.",
		checks: "Reads the Domain, Path, Expires and Max-Age attributes and the name prefix of the session cookie.",
		asvs:   []string{"3.3.3"}, wstg: []string{"WSTG-SESS-02"}, cwe: []int{539},
	},
	NoIdleTimeout: {
		title: "A session survives a long time without use", severity: "medium",
		fix: "Expire sessions on the server after a period without use (15 to 30 minutes for most sites) and after an absolute lifetime, " +
			"whatever the cookie says. github.com/connectbook/connectbook/session enforces both (Options.IdleTimeout, Options.AbsoluteTimeout) on every request.",
		checks: "Leaves a fresh session unused for the idle wait, then tries it.",
		asvs:   []string{"7.3.1", "7.3.2"}, wstg: []string{"WSTG-SESS-07"}, cwe: []int{613},
	},
}

// Severities, most severe first.
var severities = []string{"high", "medium", "low"}

// severityRank orders severities, most severe first; unknown ones last.
func severityRank(s string) int {
	if i := slices.Index(severities, s); i >= 0 {
		return i
	}
	return len(severities)
}

// bySeverity is a copy of fs, most severe first and otherwise in the
// order found.
func bySeverity(fs []Finding) []Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b Finding) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	return out
}

// A reference is a link to the part of a standard that asks for what a
// check checks.
type reference struct{ Name, URL string }

// references links a finding's ASVS requirements and WSTG tests.
func references(id string) []reference {
	e := catalog[id]
	var refs []reference
	for _, r := range e.asvs {
		refs = append(refs, reference{"ASVS 5.0 V" + r, asvsURL(r)})
	}
	for _, t := range e.wstg {
		refs = append(refs, reference{t, wstgURL(t)})
	}
	return refs
}

// asvsChapters are the files of ASVS 5.0's chapters the catalog cites.
var asvsChapters = map[string]string{
	"3":  "0x12-V3-Web-Frontend-Security.md",
	"7":  "0x16-V7-Session-Management.md",
	"14": "0x23-V14-Data-Protection.md",
}

func asvsURL(req string) string {
	chapter, _, _ := strings.Cut(req, ".")
	return "https://github.com/OWASP/ASVS/blob/v5.0.0/5.0/en/" + asvsChapters[chapter]
}

// wstgTests are the WSTG session management tests the catalog cites.
var wstgTests = map[string]string{
	"WSTG-SESS-01": "01-Testing_for_Session_Management_Schema",
	"WSTG-SESS-02": "02-Testing_for_Cookies_Attributes",
	"WSTG-SESS-03": "03-Testing_for_Session_Fixation",
	"WSTG-SESS-04": "04-Testing_for_Exposed_Session_Variables",
	"WSTG-SESS-06": "06-Testing_for_Logout_Functionality",
	"WSTG-SESS-07": "07-Testing_Session_Timeout",
}

func wstgURL(id string) string {
	return "https://owasp.org/www-project-web-security-testing-guide/stable/4-Web_Application_Security_Testing/06-Session_Management_Testing/" + wstgTests[id]
}
