package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The sign-in phase: finding the login form, logging in, telling a signed-in
// page from another, and saying why a login did not work.

// signIn visits the login page, logs in, and works out which cookie holds
// the session.
func (p *prober) signIn(ctx context.Context) (signedIn, error) {
	var s signedIn
	p.progress("visiting %s", p.login.Redacted())
	pre := newJar()
	page, err := p.c.do(ctx, http.MethodGet, p.login, nil, pre)
	if err != nil {
		if errors.Is(err, ErrBudget) || ctx.Err() != nil {
			return s, err
		}
		if untrustedCertificate(err) {
			return s, fmt.Errorf("%w: the certificate of %s is not trusted (%v); for a test site with a self-signed certificate, run with --insecure (Config.Client with InsecureSkipVerify)",
				ErrUnreachable, p.base.Host, err)
		}
		return s, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if forms, _ := parsePage(page.url, page.body); page.status >= 400 || !hasPasswordField(forms) {
		found, fpre, fpage, err := p.discoverLogin(ctx)
		if err != nil {
			return s, err
		}
		if found == nil {
			if page.status >= 400 {
				return s, fmt.Errorf("%w: the login page %s answered %d, and no login form was found on %s or behind its log-in links; give the login path",
					ErrLogin, page.url.Redacted(), page.status, p.base.Redacted())
			}
			return s, fmt.Errorf("%w: no login form at %s (answer %d), nor on %s or behind its log-in links; give the login path",
				ErrLogin, page.url.Redacted(), page.status, p.base.Redacted())
		}
		p.progress("%s has no login form; found one at %s", p.login.Path, found.Path)
		p.rep.LoginPage = found.Path
		p.login, pre, page = found, fpre, fpage
	}
	p.loginAt = page.url.Path
	s.pre, s.preSteps = pre.cookies, page.steps
	s.setCookies = append(s.setCookies, page.setCookies...)

	// Without cookies the signed-in page must not look signed in, or
	// every attack would seem to work.
	ok, anon, err := p.isAuthed(ctx, newJar(), nil)
	if err != nil {
		return s, err
	}
	if ok {
		return s, fmt.Errorf("%w: %s shows %q to a browser without cookies (answer %d at %s), so it cannot tell who is signed in; give a page and text only a signed-in user sees (--authed-path, --authed-text)",
			ErrLogin, p.authed.Path, p.cfg.AuthedText, anon.status, anon.url.Path)
	}

	p.progress("logging in as %s", p.who())
	main := newJar(s.pre...)
	login, err := p.signInWith(ctx, main, nil)
	if err != nil {
		return s, err
	}
	s.loginSteps, s.deviceBound = login.steps, login.deviceBound
	s.setCookies = append(s.setCookies, login.setCookies...)
	ok, check, err := p.isAuthed(ctx, main, nil)
	if err != nil {
		return s, err
	}
	// A site may set the session cookie again on the signed-in page.
	s.setCookies = append(s.setCookies, check.setCookies...)
	s.checkSteps = check.steps
	if !ok {
		return s, p.whyNotSignedIn(p.who(), login.answer, check)
	}
	// The session cookie is the one that keeps the login on its own. The
	// most recently set cookies are the likeliest.
	for i := len(main.cookies) - 1; i >= 0; i-- {
		c := main.cookies[i]
		ok, _, err := p.isAuthed(ctx, newJar(c), nil)
		if err != nil {
			return s, err
		}
		if ok {
			s.name, s.token = c.Name, c.Value
			p.progress("the session cookie is %s", c.Name)
			return s, p.checkSecondAccount(ctx)
		}
	}
	// Some sessions are a pair: the data in one cookie and its signature
	// in another (cookie-session's "session" and "session.sig", Koa's).
	if c, sig, err := p.cookiePair(ctx, main.cookies); err != nil || c != nil {
		if c != nil {
			s.name, s.token, s.companions = c.Name, c.Value, []*http.Cookie{sig}
			p.progress("the session is in the %s cookie, signed in %s", c.Name, sig.Name)
			err = p.checkSecondAccount(ctx)
		}
		return s, err
	}
	names := make([]string, len(main.cookies))
	for i, c := range main.cookies {
		names[i] = c.Name
	}
	return s, fmt.Errorf("%w: no single cookie keeps the login on its own (cookies: %s); the probe needs a session cookie",
		ErrLogin, strings.Join(names, ", "))
}

// checkSecondAccount logs in as the second account, when one is given,
// so that wrong credentials stop the probe now with a clear message rather
// than make the fixation-authenticated-id check judge an anonymous session.
func (p *prober) checkSecondAccount(ctx context.Context) error {
	if p.cfg.Username2 == "" || p.cfg.Password2 == "" {
		return nil
	}
	who := strconv.Quote(p.cfg.Username2) + " (the second account, --user2)"
	p.progress("logging in as %s", who)
	j := newJar()
	p.opened = append(p.opened, j)
	login, err := p.signInAs(ctx, j, nil, account{p.cfg.Username2, p.cfg.Password2})
	if err != nil {
		return err
	}
	check, err := p.c.do(ctx, http.MethodGet, p.authed, nil, j)
	if err != nil {
		return err
	}
	// The signed-in text is the first account's; the second's page must
	// at least be no login form, and name the second account when the
	// text looked for is the first's username.
	forms, _ := parsePage(check.url, check.body)
	ok := check.status == http.StatusOK && !hasPasswordField(forms) && check.url.Path != p.login.Path && check.url.Path != p.loginAt
	if ok && p.cfg.AuthedText == p.cfg.Username {
		ok = strings.Contains(check.body, p.cfg.Username2)
	}
	if ok {
		return nil
	}
	return p.whyNotSignedIn(who, login.answer, check)
}

// maxPairCookies bounds the cookies cookiePair tries in pairs.
const maxPairCookies = 6

// cookiePair finds two of cookies that keep the login together: the
// session's data and its signature. The one whose name the other's
// extends (session, session.sig) holds the data.
func (p *prober) cookiePair(ctx context.Context, cookies []*http.Cookie) (data, sig *http.Cookie, err error) {
	if len(cookies) > maxPairCookies {
		return nil, nil, nil
	}
	for i, a := range cookies {
		for _, b := range cookies[i+1:] {
			if !strings.HasPrefix(b.Name, a.Name) && !strings.HasPrefix(a.Name, b.Name) {
				continue // a signature cookie is named after its data's
			}
			ok, _, err := p.isAuthed(ctx, newJar(a, b), nil)
			if err != nil || !ok {
				if err != nil {
					return nil, nil, err
				}
				continue
			}
			if len(a.Name) > len(b.Name) {
				a, b = b, a
			}
			return a, b, nil
		}
	}
	return nil, nil, nil
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

// whyNotSignedIn explains a login as who after which the signed-in page
// (check) did not show the signed-in text: answer is the answer to the
// login form.
func (p *prober) whyNotSignedIn(who string, answer, check *response) error {
	checkForms, _ := parsePage(check.url, check.body)
	if !hasPasswordField(checkForms) && check.url.Path != p.login.Path && check.url.Path != p.loginAt {
		// Signed in or not, the page is not the login form: the text
		// looked for is not on it.
		return fmt.Errorf("%w: after logging in as %s, %s answered %d at %s without %q; check --authed-path and --authed-text",
			ErrLogin, who, p.authed.Path, check.status, check.url.Path, p.cfg.AuthedText)
	}
	// The first hop of the answer says what the site made of the form: a
	// redirect back to the login page (?error=1) or the form shown again
	// refused it; a redirect elsewhere accepted it.
	what := fmt.Sprintf("%d at %s", answer.status, answer.url.Path)
	backToLogin := false
	if to := answer.firstTo; to != nil {
		what = fmt.Sprintf("%d to %s, then %d at %s", answer.first, to.RequestURI(), answer.status, answer.url.Path)
		backToLogin = to.Path == p.login.Path || to.Path == p.loginAt
	}
	answerForms, _ := parsePage(answer.url, answer.body)
	refused := backToLogin || (answer.firstTo == nil && hasPasswordField(answerForms))
	switch {
	case refused:
		return fmt.Errorf("%w: after logging in as %s, the site showed the login form again (%s): check the username and password (or the --field values)",
			ErrLogin, who, what)
	case len(answer.firstSetCookies) == 0:
		// Accepted, yet the answer set no cookie: the login form at the
		// signed-in page is the site sending a browser without a session
		// back to log in.
		why := "a site that keeps sessions in a cookie must set one at login"
		if p.base.Scheme == "http" {
			why = "a site that sends its session cookie only over HTTPS (a Secure cookie, express-session's cookie.secure, say) sets none over plain HTTP: probe its https:// address"
		}
		return fmt.Errorf("%w: the site took the login as %s (%s) but its answer set no cookie (no Set-Cookie header), and %s then showed the login form; %s",
			ErrLogin, who, what, p.authed.Path, why)
	}
	return fmt.Errorf("%w: the site took the login as %s (%s) and set cookies, but %s then showed the login form (%d at %s): the cookies did not keep the login; check --authed-path",
		ErrLogin, who, what, p.authed.Path, check.status, check.url.Path)
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

// attempt is one login: its requests, the Set-Cookie lines of the login
// page and of the answer to the form, that answer, and the Device Bound
// Session Credentials offered on the way.
type attempt struct {
	steps       []Step
	setCookies  []string
	answer      *response
	deviceBound DeviceBound
}

// signInWith logs in with the browser j as the configured user, adding q
// to the login page's and the form's URLs.
func (p *prober) signInWith(ctx context.Context, j *jar, q url.Values) (attempt, error) {
	return p.signInAs(ctx, j, q, account{p.cfg.Username, p.cfg.Password})
}

// errNoForm is a login page that shows no login form.
var errNoForm = errors.New("no login form")

// signInAs logs in with the browser j as who.
func (p *prober) signInAs(ctx context.Context, j *jar, q url.Values, who account) (attempt, error) {
	page, err := p.c.do(ctx, http.MethodGet, withQuery(p.login, q), nil, j)
	if err != nil {
		return attempt{}, err
	}
	forms, _ := parsePage(page.url, page.body)
	f, ok := loginForm(forms, p.cfg.Fields)
	if !ok {
		return attempt{}, fmt.Errorf("%w: %w at %s (answer %d)", ErrLogin, errNoForm, page.url.Redacted(), page.status)
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
		return attempt{}, fmt.Errorf("%w: the login form sends to another host (%s); the probe only talks to the target", ErrLogin, action.Host)
	}
	if err != nil {
		return attempt{}, err
	}
	a := attempt{steps: append(page.steps, res.steps...), setCookies: append(page.setCookies, res.setCookies...), answer: res}
	for _, h := range append(page.registrations, res.registrations...) {
		if d, ok := parseRegistration(h); ok {
			a.deviceBound = d
			break
		}
	}
	return a, nil
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
