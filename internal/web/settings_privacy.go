package web

import (
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
)

type privacyPage struct {
	Private        bool
	Blocked, Muted []data.Person
}

func (a *app) privacyShow(w http.ResponseWriter, r *http.Request) {
	v := viewer(r)
	page := &privacyPage{Private: v.Private}
	var err error
	if page.Blocked, err = a.Follow.Blocked(r.Context(), v.ID); err == nil {
		page.Muted, err = a.Follow.Muted(r.Context(), v.ID)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "privacy.html", page)
}

func (a *app) privacySubmit(w http.ResponseWriter, r *http.Request) {
	private := r.PostForm.Get("private") == "on"
	if err := a.Follow.SetPrivate(r.Context(), viewer(r).ID, private); err != nil {
		a.fail(w, r, err)
		return
	}
	a.flash(w, "privacy_saved")
	http.Redirect(w, r, "/settings/privacy", http.StatusSeeOther)
}
