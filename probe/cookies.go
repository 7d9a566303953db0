package probe

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The cookie phase judges the attributes the site gives its session cookie.
// Both checks read the same Set-Cookie header: the most recent one that set
// the session cookie's name to a value. Sites whose cookie store re-encrypts
// the session on every response send a new value each time, so the header
// that set the token the probe holds may not be the last one, nor the one
// the browser keeps.

// maxSessionLifetime is the longest persistent lifetime a session cookie
// may have before cookie-scope reports it: a week, far beyond the idle and
// absolute timeouts sessions should have (OWASP suggests hours).
const maxSessionLifetime = 7 * 24 * time.Hour

// lastSetCookie returns the most recent of lines that sets the cookie
// name to a non-empty value (a deletion is not how the site issues it),
// parsed, and the line itself.
func lastSetCookie(lines []string, name string) (*http.Cookie, string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		c, err := http.ParseSetCookie(lines[i])
		if err != nil || c.Name != name || c.Value == "" || c.MaxAge < 0 {
			continue
		}
		return c, lines[i], true
	}
	return nil, "", false
}

// missingFlags lists the protective attributes c lacks.
func missingFlags(c *http.Cookie) []string {
	var missing []string
	if !c.HttpOnly {
		missing = append(missing, "HttpOnly")
	}
	if !c.Secure {
		missing = append(missing, "Secure")
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteNoneMode {
		missing = append(missing, "SameSite")
	}
	return missing
}

// scope is what cookie-scope finds wrong with a cookie's reach, and how
// badly: a Domain shares it with every subdomain (medium), a persistent
// lifetime beyond maxSessionLifetime keeps it on disk long after use (low),
// and without the __Host- prefix a subdomain or a plain-HTTP page can set
// a cookie of its name (low, a hardening note).
type scope struct {
	problems []string
	severity string
}

// judgeScope judges c, received at now.
func judgeScope(c *http.Cookie, now time.Time) scope {
	var s scope
	worse := func(sev string) {
		if s.severity == "" || sev == "medium" {
			s.severity = sev
		}
	}
	if c.Domain != "" {
		s.problems = append(s.problems, fmt.Sprintf("it carries Domain=%s, so every subdomain receives it and can set a cookie of the same name (cookie tossing)", c.Domain))
		worse("medium")
	}
	life := time.Duration(0)
	switch {
	case c.MaxAge > 0:
		life = time.Duration(c.MaxAge) * time.Second
	case !c.Expires.IsZero():
		life = c.Expires.Sub(now)
	}
	if life > maxSessionLifetime {
		s.problems = append(s.problems, fmt.Sprintf("it is persistent for %s, far beyond any session timeout, so it stays on the device's disk after the browser closes", days(life)))
		worse("low")
	}
	if !strings.HasPrefix(c.Name, "__Host-") {
		s.problems = append(s.problems, "its name lacks the __Host- prefix, which would make browsers refuse it unless it is Secure, host-only and for Path=/ (a hardening measure)")
		worse("low")
	}
	return s
}

// days writes d in days, or hours under two days.
func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.0f hours", d.Hours())
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}

// setCookieEvidence returns the step whose response carries line.
func setCookieEvidence(s signedIn, line string) []Step {
	var ev []Step
	for _, st := range slices.Concat(s.preSteps, s.loginSteps, s.checkSteps) {
		if strings.Contains(st.Response, "Set-Cookie: "+line) {
			ev = []Step{st}
		}
	}
	return note(ev, "The response that sets the session cookie:")
}

// sessionSetCookie is the most recent Set-Cookie line that sets the
// session cookie, parsed; ok is false when none was seen.
func sessionSetCookie(s signedIn) (c *http.Cookie, line string, ok bool) {
	return lastSetCookie(s.setCookies, s.name)
}

func (p *prober) checkCookieFlags(s signedIn) verdict {
	p.progress("checking the session cookie's attributes")
	c, line, ok := sessionSetCookie(s)
	if !ok {
		return skipped("no Set-Cookie header that sets %s was seen", s.name)
	}
	missing := missingFlags(c)
	if len(missing) == 0 {
		return passed("")
	}
	f := Finding{ID: CookieFlags, Detail: fmt.Sprintf("the %s cookie lacks %s", s.name, strings.Join(missing, ", ")),
		Evidence: setCookieEvidence(s, line)}
	if len(missing) == 1 && missing[0] == "SameSite" {
		f.Severity = "low"
	}
	return failed(f)
}

func (p *prober) checkCookieScope(s signedIn) verdict {
	p.progress("checking the session cookie's scope and lifetime")
	c, line, ok := sessionSetCookie(s)
	if !ok {
		return skipped("no Set-Cookie header that sets %s was seen", s.name)
	}
	scope := judgeScope(c, p.c.now())
	if len(scope.problems) == 0 {
		return passed("")
	}
	return failed(Finding{ID: CookieScope, Severity: scope.severity,
		Detail:   fmt.Sprintf("the %s cookie: %s", s.name, strings.Join(scope.problems, "; ")),
		Evidence: setCookieEvidence(s, line)})
}
