package web

import (
	"net/http"
	"time"

	"github.com/connectbook/connectbook/internal/account"
)

type sessionsPage struct {
	Sessions  []account.SessionInfo
	Others    int
	InSudo    bool
	SudoUntil time.Time
}

func (a *app) sessionsShow(w http.ResponseWriter, r *http.Request) {
	list, err := a.Account.ListSessions(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "sessions.html", &sessionsPage{Sessions: list, Others: len(list) - 1,
		InSudo: a.Account.InSudo(r), SudoUntil: a.Account.SudoUntil(r)})
}

func (a *app) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	self, err := a.Account.RevokeSession(w, r, r.PathValue("id"), r.PostForm.Get("password"))
	if err != nil {
		a.confirmFirst(w, r, err, "Confirm your password to sign that session out.")
		return
	}
	if self {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	a.flash(w, "session_ended")
	http.Redirect(w, r, "/settings/sessions", http.StatusSeeOther)
}

func (a *app) sessionsRevokeOthers(w http.ResponseWriter, r *http.Request) {
	if _, err := a.Account.RevokeOtherSessions(w, r, r.PostForm.Get("password")); err != nil {
		a.confirmFirst(w, r, err, "Confirm your password to sign out everywhere else.")
		return
	}
	a.flash(w, "others_ended")
	http.Redirect(w, r, "/settings/sessions", http.StatusSeeOther)
}

// confirmFirst answers an action that needs the password confirmed (or got
// a wrong one) with a password prompt that submits the same action again,
// so that it goes through once confirmed; other errors as usual.
func (a *app) confirmFirst(w http.ResponseWriter, r *http.Request, err error, prompt string) {
	ae, ok := accountError(err)
	switch {
	case ok && ae == account.ErrSudoRequired:
		a.render(w, r, http.StatusForbidden, "reauth.html", &reauthPage{Action: r.URL.Path, Prompt: prompt, Cancel: "/settings/sessions"})
	case ok && ae.Field == "password":
		if ae.RetryAfter > 0 {
			retryAfter(w, ae.RetryAfter)
		}
		a.render(w, r, ae.Status, "reauth.html", &reauthPage{Action: r.URL.Path, Prompt: prompt, Cancel: "/settings/sessions", Error: ae.Message})
	default:
		a.fail(w, r, err)
	}
}

// needSudo sends a request that needs the password confirmed to do so,
// coming back to back afterwards; other errors are answered as usual.
func (a *app) needSudo(w http.ResponseWriter, r *http.Request, err error, back string) {
	if ae, ok := accountError(err); ok && ae == account.ErrSudoRequired {
		http.Redirect(w, r, "/settings/reauth?next="+back, http.StatusSeeOther)
		return
	}
	a.fail(w, r, err)
}
