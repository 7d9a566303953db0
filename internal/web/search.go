package web

import (
	"net/http"
	"strings"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/follow"
)

type searchPage struct {
	Query, Error string
	Results      []data.Person
	Searched     bool
	Recent       []data.Person
	MaxQuery     int
}

func (a *app) search(w http.ResponseWriter, r *http.Request) {
	var vid int64
	if v := viewer(r); v != nil {
		vid = v.ID
	}
	q := r.URL.Query().Get("q")
	// The box shows the query back; bytes that are not text are not sent.
	page := &searchPage{Query: strings.ToValidUTF8(q, "\uFFFD"), Searched: q != "", MaxQuery: follow.MaxQuery}
	status := http.StatusOK
	results, err := a.Follow.Search(r.Context(), vid, q)
	if err != nil {
		ae, ok := a.formError(w, r, err)
		if !ok {
			return
		}
		status, page.Error = ae.Status, ae.Message
	}
	page.Results = results
	if page.Recent, err = a.Follow.RecentlyJoined(r.Context(), vid, 8); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, "search.html", page)
}
