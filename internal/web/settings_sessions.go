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
	self, err := a.Account.RevokeSession(w, r, r.PathValue("id"))
	if err != nil {
		a.needSudo(w, r, err, "/settings/sessions")
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
	if _, err := a.Account.RevokeOtherSessions(r); err != nil {
		a.needSudo(w, r, err, "/settings/sessions")
		return
	}
	a.flash(w, "others_ended")
	http.Redirect(w, r, "/settings/sessions", http.StatusSeeOther)
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
