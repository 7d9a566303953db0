package probe

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Config says where and how to probe. Target, and Username and Password
// (or Fields), are required; the rest have defaults.
type Config struct {
	// Target is the site's base URL, such as https://example.com.
	Target string
	// Username and Password go into the login form's first text field and
	// first password field.
	Username, Password string
	// Fields are form fields to send at login, by name, over whatever the
	// form holds: for forms with other fields, or none for the username.
	Fields map[string]string
	// Username2 and Password2 are a second account of the tester's, for
	// fixation by an authenticated session: without them that check is
	// not run.
	Username2, Password2 string
	// LoginPath is where the login form is (default /login).
	LoginPath string
	// AuthedPath is a page only a signed-in user sees (default /profile),
	// and AuthedText a text on it (default: the username). A set of
	// cookies is logged in when AuthedPath answers 200 with AuthedText.
	AuthedPath, AuthedText string
	// LogoutPath is the path of the logout form's action or the logout
	// link. By default the probe looks for a form or link on AuthedPath
	// whose address or text says log out or sign out.
	LogoutPath string
	// IdleWait, if set, adds the idle-timeout check: a session unused for
	// IdleWait must be gone.
	IdleWait time.Duration
	// TokenSamples is how many fresh tokens the weak-token check collects
	// (default and minimum 20, at most MaxTokenSamples). Past the quick
	// default of 20 the sample also goes through bit- and character-level
	// randomness tests (FIPS 140-2 monobit, poker, runs and long runs,
	// per-position tests), held to Significance; the sample must fit in
	// MaxRequests.
	TokenSamples int
	// Significance is the level the randomness tests are held to, over
	// all of them together (default 0.01).
	Significance float64
	// MaxRequests bounds the requests sent (default 500), and Rate their
	// number per second (default 20).
	MaxRequests int
	Rate        float64
	// Client sends the requests (default: one with a 15-second timeout).
	// The probe handles redirects and cookies itself.
	Client *http.Client
	// Progress, if set, hears what the probe is doing.
	Progress func(string)
}

// Check is the outcome of one of the probe's checks.
type Check struct {
	// ID is the finding the check looks for.
	ID string `json:"id"`
	// Outcome is OutcomePassed, OutcomeFailed or OutcomeSkipped.
	Outcome string `json:"outcome"`
	// Why says why a check was skipped, or what a passed one saw when
	// that needs saying.
	Why string `json:"why,omitempty"`
}

// Check outcomes.
const (
	OutcomePassed  = "passed"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped"
)

// Step is one request and its response, as evidence.
type Step struct {
	Note     string `json:"note,omitempty"`
	Request  string `json:"request"`
	Response string `json:"response"`
}

// Finding is an attack that worked.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Detail   string `json:"detail,omitempty"`
	Evidence []Step `json:"evidence"`
	Fix      string `json:"fix"`
}

// Report is the outcome of a probe.
type Report struct {
	Target   string    `json:"target"`
	Findings []Finding `json:"findings"`
	// Checks says what became of each check: passed, failed (it has
	// findings) or skipped, in the order they ran.
	Checks []Check `json:"checks"`
	// Skipped names checks that could not run, and why: the Why of the
	// skipped Checks, each after its check's ID. Checks that were not
	// asked for (the idle timeout without an idle wait) are only in
	// Checks.
	Skipped []string `json:"skipped,omitempty"`
	// LeftSignedIn counts the sessions the probe opened and could not log
	// out at the end (none could be where logout does not work).
	LeftSignedIn int `json:"left_signed_in,omitempty"`
	// LoginPage is where the probe found the login form when the login
	// path showed none; empty when it was there.
	LoginPage string `json:"login_page,omitempty"`
	Requests  int    `json:"requests"`
	// DeviceBound says whether the site offered Device Bound Session
	// Credentials when the probe signed in: for information, not a finding
	// (a site without them is not vulnerable for it, but a copied session
	// cookie then works on any device).
	DeviceBound DeviceBound `json:"device_bound_sessions"`
	Tokens      *TokenStats `json:"tokens,omitempty"`
	// TokenTests sums up the randomness tests of a sample larger than the
	// quick default: effective entropy, significance, confidence.
	TokenTests string `json:"token_tests,omitempty"`
}

// DeviceBound describes a site's offer of Device Bound Session Credentials
// (W3C webappsec-dbsc), as read from the Secure-Session-Registration
// headers of its sign-in responses.
type DeviceBound struct {
	Offered bool `json:"offered"`
	// Algorithms are the signature algorithms offered (ES256, RS256, ...).
	Algorithms []string `json:"algorithms,omitempty"`
	// Registration is the path the browser registers its key at.
	Registration string `json:"registration,omitempty"`
}

// MaxTokenSamples is the most fresh tokens the weak-token check collects;
// quickSamples the default, too few for the randomness tests to judge.
const (
	MaxTokenSamples = 5000
	quickSamples    = 20
)

// Errors that mean the probe could not run; Run wraps them with details.
var (
	ErrConfig      = errors.New("invalid probe configuration")
	ErrUnreachable = errors.New("target unreachable")
	ErrLogin       = errors.New("login failed")
)

// Finding ids.
const (
	FixationAdoptedID = "fixation-adopted-id"
	FixationPreauthID = "fixation-preauth-id"
	TokenInURL        = "token-in-url"
	WeakToken         = "weak-token"
	LogoutReplay      = "logout-replay"
	CookieFlags       = "cookie-flags"
	NoIdleTimeout     = "no-idle-timeout"
	// CookieScope: the session cookie is shared with subdomains (a Domain
	// attribute) or outlives any session (a persistent lifetime), or, as a
	// low-severity hardening note, lacks the __Host- prefix.
	CookieScope = "cookie-scope"
	// FixationAuthenticatedID: a signed-in session's token stays the same
	// when another user signs in on that browser.
	FixationAuthenticatedID = "fixation-authenticated-id"
)

// urlParams are the query parameters tried for token-in-url, besides the
// cookie's own name.
var urlParams = []string{"session_id", "sessionid", "sid", "session", "token", "PHPSESSID", "JSESSIONID"}

type prober struct {
	cfg         Config
	deviceBound DeviceBound // what the first sign-in offered
	c           *client
	base        *url.URL
	login       *url.URL
	authed      *url.URL
	rep         *Report

	// Learnt along the way.
	pre        []*http.Cookie // cookies the login page sets before login
	preSteps   []Step
	loginSteps []Step
	checkSteps []Step    // the signed-in page's, right after login
	lastAnswer *response // the answer to the last login form sent
	// passedBecause, set by a check that passed without playing its
	// attack to the end, says why.
	passedBecause string
	setCookies    []string
	name          string   // the session cookie
	token         string   // its value in the main session
	urlParam      string   // the URL parameter the site reads a session from
	opened        []*jar   // browsers the probe signed in, to sign out at the end
	logoutWay     *url.URL // where logging out worked
	loginAt       string   // the login page's path after its redirects
	samples       []string // fresh tokens of the weak-token check
}

// Run probes cfg.Target. It returns an error wrapping ErrConfig,
// ErrUnreachable, ErrLogin or ErrBudget when it cannot run the checks;
// otherwise the report, whose Findings are empty when no attack worked.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	p, err := newProber(cfg)
	if err != nil {
		return nil, err
	}
	defer func() { p.rep.Requests = p.c.sent }()
	defer p.signOutAll(ctx)
	if err := p.signIn(ctx); err != nil {
		return nil, err
	}
	for _, check := range []struct {
		id  string
		run func(context.Context) error
	}{
		{CookieFlags, p.checkCookieFlags},
		{CookieScope, p.checkCookieScope},
		{FixationPreauthID, p.checkPreauth},
		{TokenInURL, p.checkTokenInURL},
		{WeakToken, p.checkWeakToken},
		{FixationAdoptedID, p.checkAdopted},
		{FixationAuthenticatedID, p.checkAuthenticatedFixation},
		{LogoutReplay, p.checkLogoutReplay},
		{NoIdleTimeout, p.checkIdle},
	} {
		found, skipped := len(p.rep.Findings), len(p.rep.Skipped)
		if check.id == NoIdleTimeout && p.cfg.IdleWait == 0 {
			p.rep.Checks = append(p.rep.Checks, Check{ID: check.id, Outcome: OutcomeSkipped,
				Why: "not asked for: give an idle wait longer than the site's idle timeout to run it"})
			continue
		}
		if check.id == FixationAuthenticatedID && (p.cfg.Username2 == "" || p.cfg.Password2 == "") {
			p.rep.Checks = append(p.rep.Checks, Check{ID: check.id, Outcome: OutcomeSkipped,
				Why: "not asked for: give a second account of yours (--user2, --password2) to check whether a signed-in session's token survives another user's login"})
			continue
		}
		if err := check.run(ctx); err != nil {
			return nil, err
		}
		c := Check{ID: check.id, Outcome: OutcomePassed, Why: p.passedBecause}
		p.passedBecause = ""
		switch {
		case len(p.rep.Findings) > found:
			c.Outcome, c.Why = OutcomeFailed, ""
		case len(p.rep.Skipped) > skipped:
			c.Outcome = OutcomeSkipped
			c.Why = strings.TrimPrefix(p.rep.Skipped[len(p.rep.Skipped)-1], check.id+": ")
		}
		p.rep.Checks = append(p.rep.Checks, c)
	}
	return p.rep, nil
}

// signOutAll logs out the sessions the probe opened, the way the logout
// check found to work, so that none stays usable after the probe; on the
// sites where logout works. It stops at the first failure or after
// signOutTime; what it could not do is counted in the report.
func (p *prober) signOutAll(ctx context.Context) {
	left := p.opened
	defer func() { p.rep.LeftSignedIn = len(left) }()
	if len(left) == 0 || p.logoutWay == nil {
		return
	}
	p.progress("logging out the %d other sessions the probe opened", len(left))
	ctx, cancel := context.WithTimeout(ctx, signOutTime)
	defer cancel()
	for len(left) > 0 {
		lo, err := p.logOut(ctx, left[0], p.logoutWay)
		if err != nil || (lo.why != "" && !strings.HasPrefix(lo.why, "the session was not signed in")) || lo.survived {
			return
		}
		left = left[1:]
	}
}

// signOutTime bounds signOutAll.
const signOutTime = 30 * time.Second

func newProber(cfg Config) (*prober, error) {
	base, err := url.Parse(cfg.Target)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: the target must be an http:// or https:// URL, got %q", ErrConfig, cfg.Target)
	}
	if cfg.Username == "" && len(cfg.Fields) == 0 {
		return nil, fmt.Errorf("%w: give a username and password, or login form fields", ErrConfig)
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.AuthedPath == "" {
		cfg.AuthedPath = "/profile"
	}
	if cfg.AuthedText == "" {
		cfg.AuthedText = cfg.Username
	}
	if cfg.AuthedText == "" {
		return nil, fmt.Errorf("%w: without a username, say what text a signed-in page shows", ErrConfig)
	}
	if cfg.TokenSamples > MaxTokenSamples {
		return nil, fmt.Errorf("%w: at most %d token samples", ErrConfig, MaxTokenSamples)
	}
	cfg.TokenSamples = max(cfg.TokenSamples, quickSamples)
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 500
	}
	// A sample costs a login each (two or three requests), and the other
	// checks about a hundred.
	if need := 3*cfg.TokenSamples + 100; cfg.TokenSamples > quickSamples && cfg.MaxRequests < need {
		return nil, fmt.Errorf("%w: %d token samples need about %d requests; raise the request budget (--max-requests %d)", ErrConfig, cfg.TokenSamples, need, need)
	}
	if cfg.Significance == 0 {
		cfg.Significance = 0.01
	}
	if cfg.Significance < 0 || cfg.Significance >= 0.5 {
		return nil, fmt.Errorf("%w: a significance level between 0 and 0.5, such as 0.01", ErrConfig)
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20
	}
	if cfg.IdleWait < 0 {
		return nil, fmt.Errorf("%w: a negative idle wait", ErrConfig)
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	if cfg.Client != nil {
		c := *cfg.Client
		hc = &c
	}
	hc.Jar = nil
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p := &prober{
		cfg:  cfg,
		base: base,
		c: &client{hc: hc, base: base, budget: cfg.MaxRequests,
			interval: time.Duration(float64(time.Second) / cfg.Rate), secrets: map[string]bool{},
			now: time.Now, sleep: sleep},
		rep: &Report{Target: base.String(), Findings: []Finding{}},
	}
	if p.login, err = base.Parse(cfg.LoginPath); err != nil {
		return nil, fmt.Errorf("%w: login path %q: %v", ErrConfig, cfg.LoginPath, err)
	}
	if p.authed, err = base.Parse(cfg.AuthedPath); err != nil {
		return nil, fmt.Errorf("%w: signed-in path %q: %v", ErrConfig, cfg.AuthedPath, err)
	}
	return p, nil
}

// who names the account for messages.
func (p *prober) who() string {
	if p.cfg.Username != "" {
		return strconv.Quote(p.cfg.Username)
	}
	return "the given form fields"
}

func (p *prober) progress(format string, args ...any) {
	if p.cfg.Progress != nil {
		p.cfg.Progress(fmt.Sprintf(format, args...))
	}
}

func (p *prober) add(f Finding) {
	p.progress("found %s", f.ID)
	c := catalog[f.ID]
	f.Title, f.Fix = c.title, c.fix
	if f.Severity == "" {
		f.Severity = c.severity
	}
	p.rep.Findings = append(p.rep.Findings, f)
}

func (p *prober) skip(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.progress("skipped: %s", msg)
	p.rep.Skipped = append(p.rep.Skipped, msg)
}

func withQuery(u *url.URL, q url.Values) *url.URL {
	v := *u
	if len(q) > 0 {
		all := v.Query()
		for k, vs := range q {
			all[k] = vs
		}
		v.RawQuery = all.Encode()
	}
	return &v
}

// signIn visits the login page, logs in, and works out which cookie holds
// the session.
func (p *prober) signIn(ctx context.Context) error {
	p.progress("visiting %s", p.login.Redacted())
	pre := newJar()
	page, err := p.c.do(ctx, http.MethodGet, p.login, nil, pre)
	if err != nil {
		if errors.Is(err, ErrBudget) || ctx.Err() != nil {
			return err
		}
		if untrustedCertificate(err) {
			return fmt.Errorf("%w: the certificate of %s is not trusted (%v); for a test site with a self-signed certificate, run with --insecure (Config.Client with InsecureSkipVerify)",
				ErrUnreachable, p.base.Host, err)
		}
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if forms, _ := parsePage(page.url, page.body); page.status >= 400 || !hasPasswordField(forms) {
		found, fpre, fpage, err := p.discoverLogin(ctx)
		if err != nil {
			return err
		}
		if found == nil {
			if page.status >= 400 {
				return fmt.Errorf("%w: the login page %s answered %d, and no login form was found on %s or behind its log-in links; give the login path",
					ErrLogin, page.url.Redacted(), page.status, p.base.Redacted())
			}
			return fmt.Errorf("%w: no login form at %s (answer %d), nor on %s or behind its log-in links; give the login path",
				ErrLogin, page.url.Redacted(), page.status, p.base.Redacted())
		}
		p.progress("%s has no login form; found one at %s", p.login.Path, found.Path)
		p.rep.LoginPage = found.Path
		p.login, pre, page = found, fpre, fpage
	}
	p.pre, p.preSteps, p.loginAt = pre.cookies, page.steps, page.url.Path
	p.setCookies = append(p.setCookies, page.setCookies...)

	// Without cookies the signed-in page must not look signed in, or
	// every attack would seem to work.
	ok, anon, err := p.isAuthed(ctx, newJar(), nil)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%w: %s shows %q to a browser without cookies (answer %d at %s), so it cannot tell who is signed in; give a page and text only a signed-in user sees (--authed-path, --authed-text)",
			ErrLogin, p.authed.Path, p.cfg.AuthedText, anon.status, anon.url.Path)
	}

	p.progress("logging in as %s", p.who())
	main := newJar(p.pre...)
	steps, setCookies, err := p.signInWith(ctx, main, nil)
	if err != nil {
		return err
	}
	answer := p.lastAnswer
	p.loginSteps = steps
	p.setCookies = append(p.setCookies, setCookies...)
	p.rep.DeviceBound = p.deviceBound
	ok, check, err := p.isAuthed(ctx, main, nil)
	if err != nil {
		return err
	}
	// A site may set the session cookie again on the signed-in page.
	p.setCookies = append(p.setCookies, check.setCookies...)
	p.checkSteps = check.steps
	if !ok {
		return p.whyNotSignedIn(setCookies, answer, check)
	}
	// The session cookie is the one that keeps the login on its own. The
	// most recently set cookies are the likeliest.
	for i := len(main.cookies) - 1; i >= 0; i-- {
		c := main.cookies[i]
		ok, _, err := p.isAuthed(ctx, newJar(c), nil)
		if err != nil {
			return err
		}
		if ok {
			p.name, p.token = c.Name, c.Value
			p.progress("the session cookie is %s", c.Name)
			return nil
		}
	}
	names := make([]string, len(main.cookies))
	for i, c := range main.cookies {
		names[i] = c.Name
	}
	return fmt.Errorf("%w: no single cookie keeps the login on its own (cookies: %s); the probe needs a session cookie",
		ErrLogin, strings.Join(names, ", "))
}

// maxLoginLinks bounds how many log-in links discoverLogin follows.
const maxLoginLinks = 3

// discoverLogin looks for the login form when the login path shows none:
// on the target's root page, then behind the links there whose text or
// address says log in or sign in. It returns the page's URL (nil if none
// was found), and the browser and answer of the visit that found it.
func (p *prober) discoverLogin(ctx context.Context) (*url.URL, *jar, *response, error) {
	root, _ := p.base.Parse("/")
	p.progress("no login form at %s; looking on %s", p.login.Path, root.Redacted())
	j := newJar()
	page, err := p.c.do(ctx, http.MethodGet, root, nil, j)
	if err != nil {
		return nil, nil, nil, err
	}
	forms, links := parsePage(page.url, page.body)
	if page.status < 400 && hasPasswordField(forms) {
		return page.url, j, page, nil
	}
	tried := 0
	for _, l := range links {
		if tried == maxLoginLinks {
			break
		}
		if !isLoginLink(l) || l.href.Host != p.base.Host || l.href.Path == p.login.Path {
			continue
		}
		tried++
		j := newJar()
		page, err := p.c.do(ctx, http.MethodGet, l.href, nil, j)
		if errors.Is(err, errOffSite) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if forms, _ := parsePage(page.url, page.body); page.status < 400 && hasPasswordField(forms) {
			return page.url, j, page, nil
		}
	}
	return nil, nil, nil, nil
}

// isLoginLink reports whether a link's text or address says log in or
// sign in (and not log out, sign up or register).
func isLoginLink(l link) bool {
	say := strings.ToLower(l.text + " " + l.href.Path)
	for _, no := range []string{"logout", "log out", "log-out", "signout", "sign out", "sign-out", "signup", "sign up", "sign-up", "register", "forgot", "reset"} {
		if strings.Contains(say, no) {
			return false
		}
	}
	for _, yes := range []string{"login", "log in", "log-in", "signin", "sign in", "sign-in", "anmelden", "connexion"} {
		if strings.Contains(say, yes) {
			return true
		}
	}
	return false
}

// whyNotSignedIn explains a login after which the signed-in page (check)
// did not show the signed-in text: setCookies are the Set-Cookie lines of
// the login page and the form's answer, answer that answer.
func (p *prober) whyNotSignedIn(setCookies []string, answer, check *response) error {
	formAgain := false
	if forms, _ := parsePage(answer.url, answer.body); hasPasswordField(forms) {
		formAgain = true
	}
	// A login that redirected elsewhere looked accepted: if it set no
	// cookie, the form shown at the end of the redirects is the signed-in
	// page sending a browser without a session back to log in.
	accepted := answer.first >= 300 && answer.first < 400
	if len(setCookies) == 0 && (accepted || !formAgain) {
		why := "a site that keeps sessions in a cookie must set one at login"
		if p.base.Scheme == "http" {
			why = "a site that sends its session cookie only over HTTPS (a Secure cookie, express-session's cookie.secure, say) sets none over plain HTTP: probe its https:// address"
		}
		return fmt.Errorf("%w: logging in as %s set no cookie at all (neither the login page nor the answer to the login form, %d at %s, had a Set-Cookie header); %s",
			ErrLogin, p.who(), answer.status, answer.url.Path, why)
	}
	if formAgain {
		return fmt.Errorf("%w: after logging in as %s, the site showed the login form again (%d at %s): check the username and password (or the --field values)",
			ErrLogin, p.who(), answer.status, answer.url.Path)
	}
	shown := ""
	if forms, _ := parsePage(check.url, check.body); hasPasswordField(forms) {
		shown = " but a login form"
	}
	return fmt.Errorf("%w: after logging in as %s, %s answered %d at %s without %q%s; check the credentials, --authed-path and --authed-text",
		ErrLogin, p.who(), p.authed.Path, check.status, check.url.Path, p.cfg.AuthedText, shown)
}

// untrustedCertificate reports whether err is a TLS certificate the
// system does not trust (unknown authority, wrong host, expired).
func untrustedCertificate(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

// account is a set of credentials to log in with.
type account struct{ username, password string }

// signInWith logs in with the browser j as the configured user, adding q
// to the login page's and the form's URLs.
func (p *prober) signInWith(ctx context.Context, j *jar, q url.Values) ([]Step, []string, error) {
	return p.signInAs(ctx, j, q, account{p.cfg.Username, p.cfg.Password})
}

// errNoForm is a login page that shows no login form.
var errNoForm = errors.New("no login form")

// signInAs logs in with the browser j as who.
func (p *prober) signInAs(ctx context.Context, j *jar, q url.Values, who account) ([]Step, []string, error) {
	page, err := p.c.do(ctx, http.MethodGet, withQuery(p.login, q), nil, j)
	if err != nil {
		return nil, nil, err
	}
	forms, _ := parsePage(page.url, page.body)
	f, ok := loginForm(forms, p.cfg.Fields)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %w at %s (answer %d)", ErrLogin, errNoForm, page.url.Redacted(), page.status)
	}
	vals := f.values(who.username, who.password, p.cfg.Fields)
	for _, in := range f.inputs {
		if in.typ == "password" && vals.Get(in.name) != "" {
			p.c.secrets[vals.Get(in.name)] = true
		}
	}
	action := withQuery(f.action, q)
	var res *response
	if f.method == http.MethodPost {
		res, err = p.c.do(ctx, http.MethodPost, action, vals, j)
	} else {
		res, err = p.c.do(ctx, http.MethodGet, withQuery(action, vals), nil, j)
	}
	if errors.Is(err, errOffSite) {
		return nil, nil, fmt.Errorf("%w: the login form sends to another host (%s); the probe only talks to the target", ErrLogin, action.Host)
	}
	if err != nil {
		return nil, nil, err
	}
	p.lastAnswer = res
	if !p.deviceBound.Offered {
		for _, h := range append(page.registrations, res.registrations...) {
			if d, ok := parseRegistration(h); ok {
				p.deviceBound = d
				break
			}
		}
	}
	return append(page.steps, res.steps...), append(page.setCookies, res.setCookies...), nil
}

// parseRegistration reads a Secure-Session-Registration header, a
// structured field such as
//
//	(ES256 RS256);path="/dbsc/register";challenge="…"
//
// and reports whether it is one.
func parseRegistration(h string) (DeviceBound, bool) {
	h = strings.TrimSpace(h)
	if !strings.HasPrefix(h, "(") {
		return DeviceBound{}, false
	}
	list, params, ok := strings.Cut(h[1:], ")")
	if !ok {
		return DeviceBound{}, false
	}
	d := DeviceBound{Offered: true}
	for alg := range strings.FieldsSeq(list) {
		if len(alg) <= 16 && strings.Trim(alg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == "" {
			d.Algorithms = append(d.Algorithms, alg)
		}
	}
	for param := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
		if k == "path" {
			if u, err := strconv.Unquote(v); err == nil && len(u) <= 200 {
				d.Registration = u
			}
		}
	}
	return d, len(d.Algorithms) > 0
}

// isAuthed loads the signed-in page with j's cookies (and q in the URL).
func (p *prober) isAuthed(ctx context.Context, j *jar, q url.Values) (bool, *response, error) {
	res, err := p.c.do(ctx, http.MethodGet, withQuery(p.authed, q), nil, j)
	if err != nil {
		return false, nil, err
	}
	// A page that shows the login form is not signed in, though it may
	// echo the username; the login page itself may be the signed-in page
	// once the form is gone (sites that show members their content there).
	ok := res.status == http.StatusOK && strings.Contains(res.body, p.cfg.AuthedText)
	if ok && (res.url.Path == p.login.Path || res.url.Path == p.loginAt) {
		forms, _ := parsePage(res.url, res.body)
		ok = !hasPasswordField(forms)
	}
	last := &res.steps[len(res.steps)-1]
	if ok {
		last.Response += "\n\n" + excerpt(res.body, p.cfg.AuthedText)
	}
	return ok, res, nil
}

// excerpt is the line of body holding text, shortened.
func excerpt(body, text string) string {
	i := strings.Index(body, text)
	if i < 0 {
		return ""
	}
	start := strings.LastIndexByte(body[:i], '\n') + 1
	end := strings.IndexByte(body[i:], '\n')
	if end < 0 {
		end = len(body)
	} else {
		end += i
	}
	line := strings.TrimSpace(body[start:end])
	if len(line) > 200 {
		j := max(0, strings.Index(line, text)-80)
		line = "…" + line[j:min(len(line), j+200)] + "…"
	}
	return line
}

func note(steps []Step, text string) []Step {
	if len(steps) > 0 {
		steps[0].Note = text
	}
	return steps
}

// plant makes an id shaped like the site's own, that the site never
// issued. With a sample of the site's tokens of like's length, it keeps
// what the sample shares (prefixes, suffixes, separators, version digits)
// and draws every position that varies from the alphabet of the varying
// part. Otherwise each letter or digit of like becomes a random one of its
// kind (within a-f for hex), and other characters and %XX escapes stay.
func plant(like string, sample []string) string {
	if strings.IndexFunc(like, func(r rune) bool { return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }) < 0 {
		like = "probe00000000000000000000000000" // nothing to imitate
	}
	a := analyzeTokens(sample)
	alphabet := ""
	for _, al := range alphabets {
		if al.name == a.Alphabet {
			alphabet = strings.TrimRight(al.chars, "=")
		}
	}
	// A sample whose values are all the same (records signed in the same
	// second) shows nothing that varies: imitate like itself then.
	useSample := len(sample) > 1 && a.MinLen == len(like) && a.MaxLen == len(like) && alphabet != "" &&
		slices.Contains(a.varies, true)
	kind, _ := alphabetOf([]string{like})
	lower, upper := "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	switch kind {
	case "lowercase hex":
		lower = "abcdef"
	case "uppercase hex":
		upper = "ABCDEF"
	}
	for {
		b := []byte(like)
		r := make([]byte, len(b))
		rand.Read(r)
		for i := 0; i < len(b); i++ {
			c := b[i]
			var set string
			switch {
			case useSample:
				if !a.varies[i] {
					continue
				}
				set = alphabet
			case c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
				i += 2
				continue
			case c >= '0' && c <= '9':
				set = "0123456789"
			case c >= 'a' && c <= 'z':
				set = lower
			case c >= 'A' && c <= 'Z':
				set = upper
			default:
				continue
			}
			b[i] = set[int(r[i])%len(set)]
		}
		if string(b) != like {
			return string(b)
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *prober) checkPreauth(ctx context.Context) error {
	if len(p.pre) == 0 {
		return nil // nothing issued before login
	}
	p.progress("checking whether the cookies issued before login work after it")
	ok, res, err := p.isAuthed(ctx, newJar(p.pre...), nil)
	if err != nil || !ok {
		return err
	}
	var before []string
	for _, c := range p.pre {
		before = append(before, c.Name+"="+c.Value)
	}
	p.add(Finding{ID: FixationPreauthID,
		Detail: fmt.Sprintf("the cookies the login page set before login (%s) are logged in once the user logs in", strings.Join(before, "; ")),
		Evidence: append(append(note(append([]Step{}, p.preSteps...), "Before login, the site issues a session:"),
			note(append([]Step{}, p.loginSteps...), "The user logs in carrying it:")...),
			note(res.steps, "The id issued before login now opens the signed-in page:")...)})
	return nil
}

func (p *prober) checkTokenInURL(ctx context.Context) error {
	p.progress("checking whether a session is accepted from the URL")
	params := append([]string{p.name}, urlParams...)
	seen := map[string]bool{}
	for _, name := range params {
		if seen[name] {
			continue
		}
		seen[name] = true
		ok, res, err := p.isAuthed(ctx, newJar(), url.Values{name: {p.token}})
		if err != nil {
			return err
		}
		if ok {
			p.urlParam = name
			p.add(Finding{ID: TokenInURL,
				Detail:   fmt.Sprintf("the session is read from the URL parameter %q", name),
				Evidence: note(res.steps, "Without any cookie, the session token in the URL opens the signed-in page:")})
			return nil
		}
	}
	return nil
}

func (p *prober) checkAdopted(ctx context.Context) error {
	p.progress("planting a session id before the victim logs in")
	var evidence []Step
	var where []string

	id := plant(p.token, p.samples)
	planted := func(...*http.Cookie) *jar { return newJar(&http.Cookie{Name: p.name, Value: id}) }
	ev, ok, err := p.plantAndLogin(ctx, planted, nil,
		fmt.Sprintf("The victim's browser carries %s=%s, chosen by the attacker, and logs in:", p.name, id))
	if err != nil {
		return err
	}
	if ok {
		where = append(where, fmt.Sprintf("in the %s cookie", p.name))
		evidence = append(evidence, ev...)
	}

	if p.urlParam != "" {
		id := plant(p.token, p.samples)
		ev, ok, err := p.plantAndLogin(ctx, newJar, url.Values{p.urlParam: {id}},
			fmt.Sprintf("The victim follows the attacker's link with %s=%s and logs in:", p.urlParam, id))
		if err != nil {
			return err
		}
		if ok {
			where = append(where, fmt.Sprintf("in the URL parameter %s", p.urlParam))
			evidence = append(evidence, ev...)
		}
	}
	if len(where) > 0 {
		p.add(Finding{ID: FixationAdoptedID,
			Detail:   "an id the attacker chose, " + strings.Join(where, " and ") + ", is logged in after the victim logs in with it",
			Evidence: evidence})
	}
	return nil
}

// plantAndLogin plays one fixation: browser gives a browser carrying the
// attacker's id, and q the id in the URL. The id must not be signed in
// before the victim logs in with it, and is then tried on its own.
func (p *prober) plantAndLogin(ctx context.Context, browser func(...*http.Cookie) *jar, q url.Values, story string) ([]Step, bool, error) {
	ok, before, err := p.isAuthed(ctx, browser(), q)
	if err != nil || ok {
		return nil, false, err
	}
	victim := browser()
	p.opened = append(p.opened, victim)
	steps, _, err := p.signInWith(ctx, victim, q)
	if err != nil {
		return nil, false, err
	}
	ok, after, err := p.isAuthed(ctx, browser(), q)
	if err != nil || !ok {
		return nil, false, err
	}
	return append(append(note(before.steps, "Before the victim logs in, the attacker's id is not signed in:"),
		note(steps, story)...),
		note(after.steps, "The attacker, with only the id they chose, is signed in as the victim:")...), true, nil
}

func (p *prober) checkLogoutReplay(ctx context.Context) error {
	p.progress("logging out and replaying the token")
	browser := newJar(&http.Cookie{Name: p.name, Value: p.token})
	lo, err := p.logOut(ctx, browser, nil)
	if err != nil {
		return err
	}
	switch {
	case lo.why != "":
		p.skip("%s: %s", LogoutReplay, lo.why)
		return nil
	case lo.survived:
		// Logging out did nothing: the browser itself is still signed in.
		ok, res, err := p.isAuthed(ctx, newJar(&http.Cookie{Name: p.name, Value: p.token}), nil)
		if err != nil || !ok {
			return err
		}
		p.add(Finding{ID: LogoutReplay,
			Detail: fmt.Sprintf("logging out (%s, answered %d) did not end the session: the browser and its %s token are still signed in", lo.way, lo.status, p.name),
			Evidence: append(note(lo.steps, "The user logs out, and is still signed in:"),
				note(res.steps, "The token still opens the signed-in page:")...)})
		return nil
	}
	p.logoutWay = lo.way.target()
	ok, res, err := p.isAuthed(ctx, newJar(&http.Cookie{Name: p.name, Value: p.token}), nil)
	if err != nil || !ok {
		return err
	}
	p.add(Finding{ID: LogoutReplay,
		Detail: fmt.Sprintf("the %s token still opens %s after the user logged out", p.name, p.authed.Path),
		Evidence: append(note(lo.steps, "The user logs out, and the browser is signed out:"),
			note(res.steps, "A copy of the token taken before logout still works:")...)})
	return nil
}

// logout is what logging a browser out came to.
type logout struct {
	steps    []Step
	way      logoutWay // the way that signed the browser out, or was tried
	status   int       // its answer
	survived bool      // a way whose address names a logout answered, and the browser stayed signed in
	why      string    // why logging out could not be done or judged
}

// maxLogoutWays bounds how many ways to log out are tried on one page.
const maxLogoutWays = 3

// logOut logs the browser j out as its user would: the ways to log out on
// the signed-in page are tried in turn until j is signed out (a
// confirmation page's logout form is submitted too). With only set, only a
// way to that address is used.
func (p *prober) logOut(ctx context.Context, j *jar, only *url.URL) (logout, error) {
	ok, page, err := p.isAuthed(ctx, j, nil)
	if err != nil {
		return logout{}, err
	}
	if !ok {
		return logout{why: "the session was not signed in before logging out"}, nil
	}
	path := p.cfg.LogoutPath
	if only != nil {
		path = only.Path
	}
	forms, links := parsePage(page.url, page.body)
	ways := logoutWays(p.base, page.url, forms, links, path)
	if len(ways) == 0 && path != "" {
		// Not on the page (a logout done by a script, say): POST to it,
		// as a sound site wants, and GET it if that does not do it.
		u, err := p.base.Parse(path)
		if err != nil {
			return logout{}, fmt.Errorf("%w: logout path %q: %v", ErrConfig, path, err)
		}
		ways = []logoutWay{{form: &form{action: u, method: http.MethodPost}, byPath: true}, {link: &link{href: u}, byPath: true}}
	}
	if len(ways) == 0 {
		return logout{why: fmt.Sprintf("no form or link on %s whose address or text says log out; name it with the logout path", p.authed.Path)}, nil
	}
	var res logout
	for _, w := range ways[:min(len(ways), maxLogoutWays)] {
		out, err := p.submitLogout(ctx, w, j)
		if errors.Is(err, errOffSite) {
			continue
		}
		if err != nil {
			return logout{}, err
		}
		steps := out.steps
		ok, _, err := p.isAuthed(ctx, j, nil)
		if err != nil {
			return logout{}, err
		}
		if ok && w.link != nil && w.link.form == nil && out.first < 400 {
			// A confirmation page: its form must name a logout too.
			forms, _ := parsePage(out.url, out.body)
			for _, c := range logoutWays(p.base, out.url, forms, nil, "") {
				if c.form == nil || !c.byPath {
					continue
				}
				confirm, err := p.submitLogout(ctx, c, j)
				if err != nil {
					return logout{}, err
				}
				steps, out = append(steps, confirm.steps...), confirm
				if ok, _, err = p.isAuthed(ctx, j, nil); err != nil {
					return logout{}, err
				}
				break
			}
		}
		if !ok {
			return logout{steps: steps, way: w, status: out.status}, nil
		}
		if w.byPath && out.first < 400 && !res.survived {
			res = logout{steps: steps, way: w, status: out.first, survived: true}
		}
	}
	if res.survived {
		return res, nil
	}
	return logout{why: fmt.Sprintf("none of the ways to log out on %s (%s) signed the browser out; name the right one with the logout path", p.authed.Path, ways[0])}, nil
}

func (p *prober) submitLogout(ctx context.Context, w logoutWay, j *jar) (*response, error) {
	switch {
	case w.form != nil && w.form.method == http.MethodPost:
		return p.c.do(ctx, http.MethodPost, w.form.action, w.form.values("", "", nil), j)
	case w.form != nil:
		return p.c.do(ctx, http.MethodGet, withQuery(w.form.action, w.form.values("", "", nil)), nil, j)
	case w.link.form != nil:
		return p.c.do(ctx, http.MethodPost, w.link.href, w.link.form, j)
	default:
		return p.c.do(ctx, http.MethodGet, w.link.href, nil, j)
	}
}

func (p *prober) checkWeakToken(ctx context.Context) error {
	n := p.cfg.TokenSamples
	var tokens []string
	var first []Step
	preIssued := false
	for _, c := range p.pre {
		preIssued = preIssued || (c.Name == p.name && c.Value == p.token)
	}
	// A fresh token comes from the login page when the id it issues before
	// login is the one the session keeps, and otherwise from a fresh login.
	fresh := func(j *jar) ([]Step, error) {
		p.opened = append(p.opened, j)
		steps, _, err := p.signInWith(ctx, j, nil)
		return steps, err
	}
	how, from := fmt.Sprintf("%d logins, each from a browser without cookies", n), "logging in"
	if preIssued {
		fresh = func(j *jar) ([]Step, error) {
			res, err := p.c.do(ctx, http.MethodGet, p.login, nil, j)
			if err != nil {
				return nil, err
			}
			return res.steps, nil
		}
		how, from = fmt.Sprintf("GET %s, %d times, each without cookies", p.login.Path, n), "the login page"
	}
	p.progress("collecting %d fresh tokens (%s)", n, from)
	for len(tokens) < n {
		j := newJar()
		steps, err := fresh(j)
		if err != nil {
			return err
		}
		v, ok := j.get(p.name)
		if !ok {
			p.skip("%s: %s did not set %s (after %d tokens)", WeakToken, from, p.name, len(tokens))
			return nil
		}
		tokens = append(tokens, v)
		if first == nil {
			first = steps
		}
	}
	p.samples = tokens
	p.rep.Tokens = newTokenStats(tokens)
	a := analyzeTokens(tokens)
	if format, ok := recordFormat(tokens); ok {
		same := ""
		if a.Duplicates > 0 {
			same = fmt.Sprintf(" (%d values were issued twice: a record of the same data signed in the same second is the same record, not a guessable id)", a.Duplicates)
		}
		p.skip("%s: the session cookie holds %s, not random ids, so its strength is the key's, which no sample of values can show%s; %s", WeakToken, format, same, a)
		return nil
	}
	why := a.Weak()
	detail := a.String()
	if len(tokens) > quickSamples {
		// Enough tokens for the statistics to say something; at the quick
		// default they would only see bits that never vary, which the
		// estimate above already counts.
		r := randomnessTests(tokens, p.cfg.Significance)
		if verdict, reasons := r.verdict(); verdict == weakTokens {
			why = append(why, reasons...)
		}
		detail += ". " + r.summary()
		p.rep.TokenTests = r.summary()
	}
	if len(why) == 0 {
		return nil
	}
	p.add(Finding{ID: WeakToken,
		Detail: strings.Join(why, "; ") + ". " + detail,
		Evidence: append(note(first, "The first of the fresh tokens:"),
			Step{Note: "All the fresh tokens, in the order issued:", Request: how, Response: strings.Join(tokens, "\n")})})
	return nil
}

func (p *prober) checkIdle(ctx context.Context) error {
	if p.cfg.IdleWait == 0 {
		return nil
	}
	p.progress("logging in, then leaving the session unused for %s", p.cfg.IdleWait)
	j := newJar()
	p.opened = append(p.opened, j)
	if _, _, err := p.signInWith(ctx, j, nil); err != nil {
		return err
	}
	ok, before, err := p.isAuthed(ctx, j, nil)
	if err != nil {
		return err
	}
	if !ok {
		p.skip("%s: a fresh login was not signed in", NoIdleTimeout)
		return nil
	}
	if err := p.c.sleep(ctx, p.cfg.IdleWait); err != nil {
		return err
	}
	ok, after, err := p.isAuthed(ctx, j, nil)
	if err != nil || !ok {
		return err
	}
	p.add(Finding{ID: NoIdleTimeout,
		Detail: fmt.Sprintf("the session still works after %s without use", p.cfg.IdleWait),
		Evidence: append(note(before.steps, "The session's last use:"),
			note(after.steps, fmt.Sprintf("%s later, still signed in:", p.cfg.IdleWait))...)})
	return nil
}
