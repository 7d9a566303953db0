package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/feed"
	"github.com/connectbook/connectbook/internal/follow"
)

type userPage struct {
	Profile data.User
	Own     bool
	View    follow.View
	Counts  follow.Counts
	Page    feed.Page
	Older   bool
}

// canonicalUser redirects /u/Alice or /u/@alice (and their sub-pages) to
// the lowercase address, and reports whether it did.
func canonicalUser(w http.ResponseWriter, r *http.Request) bool {
	raw := r.PathValue("username")
	name, err := auth.NormalizeUsername(strings.TrimPrefix(raw, "@"))
	if err != nil || name == raw {
		return false
	}
	u := *r.URL
	u.Path = "/u/" + name + strings.TrimPrefix(r.URL.Path, "/u/"+raw)
	u.RawPath = ""
	http.Redirect(w, r, (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String(), http.StatusMovedPermanently)
	return true
}

func (a *app) userShow(w http.ResponseWriter, r *http.Request) {
	if canonicalUser(w, r) {
		return
	}
	ctx := r.Context()
	u, view, ok := a.viewing(w, r)
	if !ok {
		return
	}
	var err error
	before := r.URL.Query().Get("before")
	page := &userPage{Profile: u, Own: view.Self, View: view, Older: before != ""}
	if view.SeesProfile() && view.SeesPosts() {
		if page.Counts, err = a.Follow.Counts(ctx, u.ID); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if page.Page, err = a.Feed.Profile(ctx, view, u.ID, before); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "user.html", page)
}

// viewing looks up the user the path names and what the request's viewer
// may see of them; on failure it has answered.
func (a *app) viewing(w http.ResponseWriter, r *http.Request) (data.User, follow.View, bool) {
	u, err := follow.Lookup(r.Context(), a.Follow.DB, r.PathValue("username"))
	if err != nil {
		a.fail(w, r, err)
		return u, follow.View{}, false
	}
	var vid int64
	if v := viewer(r); v != nil {
		vid = v.ID
	}
	view, err := a.Follow.Viewing(r.Context(), vid, u)
	if err != nil {
		a.fail(w, r, err)
		return u, view, false
	}
	return u, view, true
}
