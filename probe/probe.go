package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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

func note(steps []Step, text string) []Step {
	if len(steps) > 0 {
		steps[0].Note = text
	}
	return steps
}
