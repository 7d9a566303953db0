package web

import (
	"errors"
	"net/http"

	"github.com/connectbook/connectbook/internal/auth"
)

type profilePage struct {
	DisplayName, Bio, Error string
	Saved                   bool
}

func (a *app) profileForm(w http.ResponseWriter, r *http.Request) {
	u := viewer(r)
	a.render(w, r, http.StatusOK, "profile.html", &profilePage{
		DisplayName: u.DisplayName, Bio: u.Bio, Saved: r.URL.Query().Get("saved") == "1"})
}

func (a *app) profileSubmit(w http.ResponseWriter, r *http.Request) {
	u := viewer(r)
	page := &profilePage{DisplayName: r.PostForm.Get("display_name"), Bio: r.PostForm.Get("bio")}
	name, err := auth.CheckDisplayName(page.DisplayName)
	var bio string
	if err == nil {
		bio, err = auth.CheckBio(page.Bio)
	}
	var ie *auth.InputError
	if errors.As(err, &ie) {
		page.Error = ie.Message
		a.render(w, r, http.StatusUnprocessableEntity, "profile.html", page)
		return
	}
	err = a.DB.UpdateProfile(r.Context(), u.ID, name, bio, a.Now())
	a.users.drop(u.ID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/profile?saved=1", http.StatusSeeOther)
}
