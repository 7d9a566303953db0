package web

import (
	"net/http"
	"strings"
)

// reauthPage asks for the password: on its own page (posting to
// /settings/reauth, then going to Next), or in place of an action that
// needs it (posting to Action again with the password).
type reauthPage struct {
	Next, Error    string
	Action, Prompt string
	Cancel         string
}

// reauthNext is where a confirmed password leads: a settings page, or the
// sessions page.
func reauthNext(p string) string {
	if p = safeNext(p); strings.HasPrefix(p, "/settings/") {
		return p
	}
	return "/settings/sessions"
}

// reauthCancel is where Cancel leads from the prompt for next: back to it,
// unless next itself would ask again.
func reauthCancel(next string) string {
	if next == "/settings/delete" {
		return "/profile"
	}
	return next
}

func (a *app) reauthForm(w http.ResponseWriter, r *http.Request) {
	next := reauthNext(r.URL.Query().Get("next"))
	a.render(w, r, http.StatusOK, "reauth.html", &reauthPage{Next: next, Cancel: reauthCancel(next)})
}

func (a *app) reauthSubmit(w http.ResponseWriter, r *http.Request) {
	next := reauthNext(r.PostForm.Get("next"))
	if err := a.Account.Reauthenticate(w, r, r.PostForm.Get("password")); err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			a.render(w, r, ae.Status, "reauth.html", &reauthPage{Next: next, Cancel: reauthCancel(next), Error: ae.Message})
		}
		return
	}
	a.flash(w, "reauthenticated")
	http.Redirect(w, r, next, http.StatusSeeOther)
}
