package web

import (
	"net/http"
	"strconv"

	"github.com/connectbook/connectbook/internal/account"
)

func (a *app) activityShow(w http.ResponseWriter, r *http.Request) {
	var before int64
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			a.clientError(w, r, http.StatusBadRequest, "Bad request", "That page of your activity does not exist.")
			return
		}
		before = n
	}
	page, err := a.Account.Activity(r, before)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "activity.html", &activityPage{ActivityPage: page, First: before == 0})
}

type activityPage struct {
	account.ActivityPage
	First bool
}
