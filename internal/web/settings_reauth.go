package web

import (
	"net/http"
	"strings"
)

type reauthPage struct {
	Next, Error string
}

// reauthNext is where a confirmed password leads: a settings page, or the
// sessions page.
func reauthNext(p string) string {
	if p = safeNext(p); strings.HasPrefix(p, "/settings/") {
		return p
	}
	return "/settings/sessions"
}

func (a *app) reauthForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "reauth.html", &reauthPage{Next: reauthNext(r.URL.Query().Get("next"))})
}

func (a *app) reauthSubmit(w http.ResponseWriter, r *http.Request) {
	next := reauthNext(r.PostForm.Get("next"))
	if err := a.Account.Reauthenticate(w, r, r.PostForm.Get("password")); err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			a.render(w, r, ae.Status, "reauth.html", &reauthPage{Next: next, Error: ae.Message})
		}
		return
	}
	a.flash(w, "reauthenticated")
	http.Redirect(w, r, next, http.StatusSeeOther)
}
