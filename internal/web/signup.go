package web

import "net/http"

func (a *app) signupSubmit(w http.ResponseWriter, r *http.Request) {
	if !a.parseForm(w, r) {
		return
	}
	username := r.PostForm.Get("username")
	_, err := a.Account.SignUp(w, r, username, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"))
	if err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			a.render(w, r, ae.Status, "signup.html", &credentialsPage{Username: clip(username, 64), Error: ae.Message, Field: ae.Field})
		}
		return
	}
	a.flash(w, "welcome")
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}
