package web

import (
	"context"
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
)

type deletePage struct {
	Error, Typed string
}

func (a *app) deleteForm(w http.ResponseWriter, r *http.Request) {
	if !a.Account.InSudo(r) {
		http.Redirect(w, r, "/settings/reauth?next=/settings/delete", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "delete.html", &deletePage{})
}

func (a *app) deleteSubmit(w http.ResponseWriter, r *http.Request) {
	typed := r.PostForm.Get("confirm_username")
	if err := a.Account.DeleteAccount(w, r, typed); err != nil {
		if ae, ok := accountError(err); ok && ae.Field != "" {
			a.render(w, r, ae.Status, "delete.html", &deletePage{Error: ae.Message, Typed: clip(typed, 64)})
			return
		}
		a.needSudo(w, r, err, "/settings/delete")
		return
	}
	// The page is shown signed out, as the browser now is.
	r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, (*data.User)(nil)))
	a.clientError(w, r, http.StatusOK, "Your account has been deleted",
		"Your profile and sessions are gone, and this browser is signed out. Thank you for having been part of ConnectBook.")
}
