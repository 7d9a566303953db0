package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/follow"
)

type peoplePage struct {
	Profile   data.User
	Followers bool // else following
	View      follow.View
	People    follow.People
}

func (a *app) userFollowers(w http.ResponseWriter, r *http.Request) { a.userPeople(w, r, true) }

func (a *app) userFollowing(w http.ResponseWriter, r *http.Request) { a.userPeople(w, r, false) }

func (a *app) userPeople(w http.ResponseWriter, r *http.Request, followers bool) {
	if canonicalUser(w, r) {
		return
	}
	ctx := r.Context()
	u, view, ok := a.viewing(w, r)
	if !ok {
		return
	}
	list := a.Follow.Following
	if followers {
		list = a.Follow.Followers
	}
	people, err := list(ctx, view, u.ID, r.URL.Query().Get("after"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "people.html", &peoplePage{Profile: u, Followers: followers, View: view, People: people})
}
