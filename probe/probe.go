package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
	// LeftSignedInWhy says why they could not be logged out.
	LeftSignedInWhy string `json:"left_signed_in_why,omitempty"`
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
	cfg    Config
	c      *client
	base   *url.URL
	authed *url.URL
	rep    *Report
	// Where the login form is, and the path it ends up at after its
	// redirects: set by the sign-in before any check runs, and fixed from
	// then on.
	login   *url.URL
	loginAt string
	// opened are the browsers the probe signed in, to sign out at the end.
	opened []*jar
}

// signedIn is what the sign-in learnt about the site's sessions, handed
// to each check.
type signedIn struct {
	name, token string         // the session cookie, and its value in the main session
	companions  []*http.Cookie // cookies the session needs besides it: its signature's
	pre         []*http.Cookie // cookies the login page sets before login
	preSteps    []Step         // the login page's visit
	loginSteps  []Step         // the login
	checkSteps  []Step         // the signed-in page's, right after login
	setCookies  []string       // every Set-Cookie line of those
	deviceBound DeviceBound    // what the login offered
}

// verdict is what one check concluded: findings when its attack worked,
// why it could not judge when skipped, and otherwise (passed) what it saw
// when that needs saying.
type verdict struct {
	findings []Finding
	skipped  string
	passed   string
}

// session is a browser carrying the main session: a copy of its cookies.
func (s signedIn) session() *jar {
	return newJar(append([]*http.Cookie{{Name: s.name, Value: s.token}}, s.companions...)...)
}

// companionsIn returns j's values of the session's companion cookies.
func (s signedIn) companionsIn(j *jar) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range s.companions {
		if v, ok := j.get(c.Name); ok {
			out = append(out, &http.Cookie{Name: c.Name, Value: v})
		}
	}
	return out
}

func failed(f ...Finding) verdict { return verdict{findings: f} }

func skipped(format string, args ...any) verdict {
	return verdict{skipped: fmt.Sprintf(format, args...)}
}

func passed(why string) verdict { return verdict{passed: why} }

// Run probes cfg.Target. It returns an error wrapping ErrConfig,
// ErrUnreachable, ErrLogin or ErrBudget when it cannot run the checks;
// otherwise the report, whose Findings are empty when no attack worked.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	p, err := newProber(cfg)
	if err != nil {
		return nil, err
	}
	defer func() { p.rep.Requests = p.c.sent }()
	var signOut *url.URL // where logging out works, once the logout check found it
	defer func() { p.signOutAll(ctx, signOut) }()
	s, err := p.signIn(ctx)
	if err != nil {
		return nil, err
	}
	p.rep.DeviceBound = s.deviceBound

	var urlParam string // the URL parameter the site reads a session from
	var sample []string // fresh tokens
	for _, check := range []struct {
		id  string
		run func() (verdict, error)
	}{
		{CookieFlags, func() (verdict, error) { return p.checkCookieFlags(s), nil }},
		{CookieScope, func() (verdict, error) { return p.checkCookieScope(s), nil }},
		{FixationPreauthID, func() (verdict, error) { return p.checkPreauth(ctx, s) }},
		{TokenInURL, func() (v verdict, err error) {
			urlParam, v, err = p.checkTokenInURL(ctx, s)
			return v, err
		}},
		{WeakToken, func() (verdict, error) {
			t, v, err := p.checkWeakToken(ctx, s)
			sample = t.tokens
			// The statistics of records left unjudged would read as a
			// judgement: they stay out of the report.
			if len(t.tokens) > 0 && v.skipped == "" {
				p.rep.Tokens, p.rep.TokenTests = newTokenStats(t.tokens), t.tests
			}
			return v, err
		}},
		{FixationAdoptedID, func() (verdict, error) { return p.checkAdopted(ctx, s, urlParam, sample) }},
		{FixationAuthenticatedID, func() (verdict, error) {
			if p.cfg.Username2 == "" || p.cfg.Password2 == "" {
				return verdict{}, errNotAsked
			}
			return p.checkAuthenticatedFixation(ctx, s)
		}},
		{LogoutReplay, func() (v verdict, err error) {
			signOut, v, err = p.checkLogoutReplay(ctx, s)
			return v, err
		}},
		{NoIdleTimeout, func() (verdict, error) {
			if p.cfg.IdleWait == 0 {
				return verdict{}, errNotAsked
			}
			return p.checkIdle(ctx)
		}},
	} {
		v, err := check.run()
		if errors.Is(err, errNotAsked) {
			p.rep.Checks = append(p.rep.Checks, Check{ID: check.id, Outcome: OutcomeSkipped, Why: notAsked[check.id]})
			continue
		}
		if err != nil {
			return nil, err
		}
		p.record(check.id, v)
	}
	return p.rep, nil
}

// errNotAsked is a check the configuration does not ask for; notAsked
// says how to ask.
var errNotAsked = errors.New("not asked for")

var notAsked = map[string]string{
	NoIdleTimeout:           "not asked for: give an idle wait longer than the site's idle timeout to run it",
	FixationAuthenticatedID: "not asked for: give a second account of yours (--user2, --password2) to check whether a signed-in session's token survives another user's login",
}

// record adds a check's verdict to the report.
func (p *prober) record(id string, v verdict) {
	c := Check{ID: id, Outcome: OutcomePassed, Why: v.passed}
	switch {
	case len(v.findings) > 0:
		c.Outcome, c.Why = OutcomeFailed, ""
		for _, f := range v.findings {
			p.progress("found %s", f.ID)
			cat := catalog[f.ID]
			f.Title, f.Fix = cat.title, cat.fix
			if f.Severity == "" {
				f.Severity = cat.severity
			}
			p.rep.Findings = append(p.rep.Findings, f)
		}
	case v.skipped != "":
		c.Outcome, c.Why = OutcomeSkipped, v.skipped
		p.progress("skipped: %s: %s", id, v.skipped)
		p.rep.Skipped = append(p.rep.Skipped, id+": "+v.skipped)
	}
	p.rep.Checks = append(p.rep.Checks, c)
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
	// A sample costs a login (three requests or so) and, at the end, a
	// logout (four or so); the other checks about a hundred and fifty.
	if need := 8*cfg.TokenSamples + 150; cfg.TokenSamples > quickSamples && cfg.MaxRequests < need {
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
