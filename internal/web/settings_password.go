package web

import "net/http"

type passwordPage struct {
	Error, Field string
}

func (a *app) passwordForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "password.html", &passwordPage{})
}

func (a *app) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	_, err := a.Account.ChangePassword(w, r, f.Get("current_password"), f.Get("password"), f.Get("password_confirm"))
	if err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			a.render(w, r, ae.Status, "password.html", &passwordPage{Error: ae.Message, Field: ae.Field})
		}
		return
	}
	a.flash(w, "password_changed")
	http.Redirect(w, r, "/settings/sessions", http.StatusSeeOther)
}
