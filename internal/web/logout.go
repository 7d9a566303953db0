package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/audit"
)

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	e := a.event(r, audit.Logout, "")
	if err := a.Sessions.Destroy(w, r); err != nil {
		a.serverError(w, r, err)
		return
	}
	a.Audit.Record(r.Context(), e)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
