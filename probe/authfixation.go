package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// checkAuthenticatedFixation plays fixation by an authenticated session,
// which works on sites that create no session before login (nothing
// anonymous to plant) but keep the token a browser carries when someone
// signs in on it: the attacker signs in to their own second account,
// plants that session's token in the victim's browser, the victim signs
// in, and the attacker's copy of the token is now the victim's session.
func (p *prober) checkAuthenticatedFixation(ctx context.Context, s signedIn) (verdict, error) {
	p.progress("signing in as the second account and planting its session before the victim signs in")
	second := account{p.cfg.Username2, p.cfg.Password2}
	attacker := newJar()
	p.opened = append(p.opened, attacker)
	own, err := p.signInAs(ctx, attacker, nil, second)
	if err != nil {
		return verdict{}, err
	}
	token, ok := attacker.get(s.name)
	if !ok {
		return skipped("signing in as %s set no %s cookie", strconv.Quote(second.username), s.name), nil
	}
	// The attacker's token must not show the victim's page yet, or the
	// check could not tell anything.
	companions := s.companionsIn(attacker)
	planted := func() *jar {
		return newJar(append([]*http.Cookie{{Name: s.name, Value: token}}, companions...)...)
	}
	if ok, _, err := p.isAuthed(ctx, planted(), nil); err != nil || ok {
		if err != nil {
			return verdict{}, err
		}
		return skipped("the second account's session already shows %q, the first account's text; give a second account whose pages do not", p.cfg.AuthedText), nil
	}
	victim := planted()
	p.opened = append(p.opened, victim)
	login, err := p.signInWith(ctx, victim, nil)
	if errors.Is(err, errNoForm) {
		return passed("the login page shows no login form to a browser that is signed in, so a victim cannot sign in over a planted session"), nil
	}
	if err != nil {
		return verdict{}, err
	}
	ok, after, err := p.isAuthed(ctx, planted(), nil)
	if err != nil || !ok {
		return passed(""), err
	}
	return failed(Finding{ID: FixationAuthenticatedID,
		Detail: fmt.Sprintf("the %s token of a session signed in as %s stayed the same when %s signed in on that browser, and now opens %s's session",
			s.name, strconv.Quote(second.username), p.who(), p.who()),
		Evidence: append(append(note(own.steps, fmt.Sprintf("The attacker signs in to their own account %s and takes the session token %s=%s:", strconv.Quote(second.username), s.name, token)),
			note(login.steps, "The victim's browser carries the attacker's token, and the victim signs in:")...),
			note(after.steps, "The attacker, with their old token, is now signed in as the victim:")...)}), nil
}
