package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/data"
)

type userPage struct {
	Profile data.User
	Initial string
	Own     bool
}

func (a *app) userShow(w http.ResponseWriter, r *http.Request) {
	u, err := a.Account.User(r.Context(), r.PathValue("username"))
	if err != nil {
		if ae, ok := accountError(err); ok && ae.Status == http.StatusNotFound {
			a.clientError(w, r, http.StatusNotFound, "No such person", ae.Message)
			return
		}
		a.fail(w, r, err)
		return
	}
	first, _ := utf8.DecodeRuneInString(u.DisplayName)
	v := viewer(r)
	a.render(w, r, http.StatusOK, "user.html", &userPage{
		Profile: u, Initial: strings.ToUpper(string(first)), Own: v != nil && v.ID == u.ID})
}
