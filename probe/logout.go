package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The logout phase: logging a browser out as its user would, replaying a
// token afterwards, and signing out every session the probe opened.

// signOutAll logs out the sessions the probe opened, the way the logout
// check found to work, so that none stays usable after the probe; on the
// sites where logout works. It stops at the first failure, or when the
// time it may take is up; what it could not do, and why, is in the
// report.
func (p *prober) signOutAll(ctx context.Context, way *url.URL) {
	left := p.opened
	why := ""
	defer func() {
		p.rep.LeftSignedIn = len(left)
		if len(left) > 0 {
			p.rep.LeftSignedInWhy = why
		}
	}()
	if len(left) == 0 {
		return
	}
	if way == nil {
		why = "logging out did not work on this site, or the probe found no way to"
		return
	}
	if len(left) == 1 {
		p.progress("logging out the other session the probe opened")
	} else {
		p.progress("logging out the %d other sessions the probe opened", len(left))
	}
	// Four requests or so a session, at the configured rate, and time to
	// spare.
	limit := signOutTime + time.Duration(float64(len(left)*signOutRequests)/p.cfg.Rate*float64(time.Second))
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for len(left) > 0 {
		lo, err := p.logOut(ctx, left[0], way)
		switch {
		case errors.Is(err, ErrBudget):
			why = "the request budget ran out (raise --max-requests)"
			return
		case ctx.Err() != nil:
			why = fmt.Sprintf("logging out took longer than %s", limit.Round(time.Second))
			return
		case err != nil:
			why = err.Error()
			return
		case lo.why != "" && !strings.HasPrefix(lo.why, "the session was not signed in"):
			why = lo.why
			return
		case lo.survived:
			why = "logging out left a session signed in"
			return
		}
		left = left[1:]
	}
}

// signOutTime is the time signOutAll may take beyond signOutRequests
// requests a session.
const (
	signOutTime     = 30 * time.Second
	signOutRequests = 5
)

// checkLogoutReplay logs the main session out and replays its token. It
// returns where logging out worked, if it did.
func (p *prober) checkLogoutReplay(ctx context.Context, s signedIn) (*url.URL, verdict, error) {
	p.progress("logging out and replaying the token")
	copied := s.session
	lo, err := p.logOut(ctx, copied(), nil)
	if err != nil {
		return nil, verdict{}, err
	}
	switch {
	case lo.why != "":
		return nil, skipped("%s", lo.why), nil
	case lo.survived:
		// Logging out did nothing: the browser itself is still signed in.
		ok, res, err := p.isAuthed(ctx, copied(), nil)
		if err != nil || !ok {
			return nil, passed(""), err
		}
		return nil, failed(Finding{ID: LogoutReplay,
			Detail: fmt.Sprintf("logging out (%s, answered %d) did not end the session: the browser and its %s token are still signed in", lo.way, lo.status, s.name),
			Evidence: append(note(lo.steps, "The user logs out, and is still signed in:"),
				note(res.steps, "The token still opens the signed-in page:")...)}), nil
	}
	way := lo.way.target()
	ok, res, err := p.isAuthed(ctx, copied(), nil)
	if err != nil || !ok {
		return way, passed(""), err
	}
	return way, failed(Finding{ID: LogoutReplay,
		Detail: fmt.Sprintf("the %s token still opens %s after the user logged out", s.name, p.authed.Path),
		Evidence: append(note(lo.steps, "The user logs out, and the browser is signed out:"),
			note(res.steps, "A copy of the token taken before logout still works:")...)}), nil
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
