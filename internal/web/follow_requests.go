package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
)

type requestsPage struct {
	People []data.Person
}

func (a *app) requestsShow(w http.ResponseWriter, r *http.Request) {
	people, err := a.Follow.Requests(r.Context(), viewer(r).ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "requests.html", &requestsPage{People: people})
}

func (a *app) requestApprove(w http.ResponseWriter, r *http.Request) {
	if _, err := a.Follow.Approve(r.Context(), viewer(r).ID, r.PathValue("username")); err != nil {
		a.fail(w, r, err)
		return
	}
	a.flash(w, "request_approved")
	http.Redirect(w, r, "/follow-requests", http.StatusSeeOther)
}

func (a *app) requestDecline(w http.ResponseWriter, r *http.Request) {
	if _, err := a.Follow.Decline(r.Context(), viewer(r).ID, r.PathValue("username")); err != nil {
		a.fail(w, r, err)
		return
	}
	a.flash(w, "request_declined")
	http.Redirect(w, r, "/follow-requests", http.StatusSeeOther)
}
