package web

import "net/http"

type profilePage struct {
	DisplayName, Bio, Error, Field string
}

func (a *app) profileForm(w http.ResponseWriter, r *http.Request) {
	u := viewer(r)
	a.render(w, r, http.StatusOK, "profile.html", &profilePage{DisplayName: u.DisplayName, Bio: u.Bio})
}

func (a *app) profileSubmit(w http.ResponseWriter, r *http.Request) {
	page := &profilePage{DisplayName: r.PostForm.Get("display_name"), Bio: r.PostForm.Get("bio")}
	if err := a.Account.UpdateProfile(r, page.DisplayName, page.Bio); err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			page.Error, page.Field = ae.Message, ae.Field
			a.render(w, r, ae.Status, "profile.html", page)
		}
		return
	}
	a.flash(w, "saved")
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}
