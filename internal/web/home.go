package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/feed"
	"github.com/connectbook/connectbook/internal/post"
)

// feedPage is the signed-in home page: the box to write a post and the
// home feed.
type feedPage struct {
	Page        feed.Page
	Body, Error string // the post being written, and what was wrong with it
	MaxLength   int
	Suggestions []data.Person // when the feed is empty
	Older       bool          // a page after the first
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if viewer(r) == nil {
		a.render(w, r, http.StatusOK, "home.html", nil)
		return
	}
	a.showFeed(w, r, http.StatusOK, &feedPage{})
}

// showFeed renders the home feed, with fp's post box.
func (a *app) showFeed(w http.ResponseWriter, r *http.Request, status int, fp *feedPage) {
	v := viewer(r)
	before := r.URL.Query().Get("before")
	page, err := a.Feed.Home(r.Context(), v.ID, before)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fp.Page, fp.MaxLength, fp.Older = page, post.MaxLength, before != ""
	if len(page.Posts) == 0 && before == "" {
		if fp.Suggestions, err = a.Follow.Suggestions(r.Context(), v.ID, 8); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	a.render(w, r, status, "feed.html", fp)
}
