package web

import "net/http"

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.Account.LogOut(w, r); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
