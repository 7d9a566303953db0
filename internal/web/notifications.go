package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/notify"
)

type notificationsPage struct {
	Page     notify.Page
	Requests int // pending requests to follow the viewer
}

func (a *app) notificationsShow(w http.ResponseWriter, r *http.Request) {
	v := viewer(r)
	page, err := a.Notify.List(r.Context(), *v, r.URL.Query().Get("before"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	requests, err := a.Follow.DB.CountFollowRequests(r.Context(), v.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "notifications.html", &notificationsPage{Page: page, Requests: requests})
}
