package web

import (
	"errors"
	"net/http"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
)

func (a *app) signupSubmit(w http.ResponseWriter, r *http.Request) {
	if !a.parseForm(w, r) {
		return
	}
	username := r.PostForm.Get("username")
	user, err := a.Auth.SignUp(r.Context(), username, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"))
	var ie *auth.InputError
	switch {
	case errors.As(err, &ie):
		a.render(w, r, http.StatusUnprocessableEntity, "signup.html",
			&credentialsPage{Username: clip(username, 64), Error: ie.Message})
		return
	case a.handleAuthError(w, r, err):
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	e := a.event(r, audit.SignedUp, "")
	e.UserID, e.Username = user.ID, user.Username
	a.Audit.Record(r.Context(), e)
	if _, err := a.Sessions.Create(w, r, userKey(user.ID)); err != nil {
		a.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}
