package web

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
)

type userPage struct {
	Profile data.User
	Initial string
	Own     bool
}

func (a *app) userShow(w http.ResponseWriter, r *http.Request) {
	name, err := auth.NormalizeUsername(r.PathValue("username"))
	var u data.User
	if err == nil {
		u, err = a.DB.UserByUsername(r.Context(), name)
	}
	var ie *auth.InputError
	if errors.Is(err, data.ErrNotFound) || errors.As(err, &ie) {
		a.clientError(w, r, http.StatusNotFound, "No such person", "Nobody on ConnectBook has that username.")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	u.PasswordHash = ""
	first, _ := utf8.DecodeRuneInString(u.DisplayName)
	v := viewer(r)
	a.render(w, r, http.StatusOK, "user.html", &userPage{
		Profile: u, Initial: strings.ToUpper(string(first)), Own: v != nil && v.ID == u.ID})
}
