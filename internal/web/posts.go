package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
)

func (a *app) postCreate(w http.ResponseWriter, r *http.Request) {
	body := r.PostForm.Get("body")
	if _, err := a.Posts.Create(r.Context(), *viewer(r), body); err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			// The text stays in the box, to fix and send again.
			a.showFeed(w, r, ae.Status, &feedPage{Body: body, Error: ae.Message})
		}
		return
	}
	a.flash(w, "posted")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type postPage struct {
	Post data.Post
	Own  bool
}

func (a *app) postShow(w http.ResponseWriter, r *http.Request) {
	a.showPost(w, r, "post.html")
}

func (a *app) postDeleteForm(w http.ResponseWriter, r *http.Request) {
	a.showPost(w, r, "post_delete.html")
}

func (a *app) showPost(w http.ResponseWriter, r *http.Request, page string) {
	var vid int64
	if v := viewer(r); v != nil {
		vid = v.ID
	}
	p, err := a.Posts.Get(r.Context(), vid, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if page == "post_delete.html" && p.AuthorID != vid {
		a.clientError(w, r, http.StatusNotFound, "Not found", "You have no such post.")
		return
	}
	a.render(w, r, http.StatusOK, page, &postPage{Post: p, Own: p.AuthorID == vid})
}

func (a *app) postDelete(w http.ResponseWriter, r *http.Request) {
	v := viewer(r)
	if err := a.Posts.Delete(r.Context(), v.ID, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	a.flash(w, "post_deleted")
	http.Redirect(w, r, "/u/"+v.Username, http.StatusSeeOther)
}
