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
	// List has marked the first page seen: the menu above it counts only
	// what came after. (v is this request's copy of the user.)
	if r.URL.Query().Get("before") == "" && len(page.Notifications) > 0 {
		v.SeenNotification = max(v.SeenNotification, page.Notifications[0].ID)
	}
	requests, err := a.Follow.DB.CountFollowRequests(r.Context(), v.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "notifications.html", &notificationsPage{Page: page, Requests: requests})
}
