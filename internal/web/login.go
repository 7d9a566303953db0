package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
)

// credentialsPage is the data of the sign-up and login forms.
type credentialsPage struct {
	Username, Error string
}

// userKey is the session package's user ID for a user.
func userKey(id int64) string { return strconv.FormatInt(id, 10) }

// credentialsForm shows the sign-up or login form; signed-in users are
// sent home.
func (a *app) credentialsForm(page string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if viewer(r) != nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		a.render(w, r, http.StatusOK, page, &credentialsPage{})
	})
}

func (a *app) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !a.parseForm(w, r) {
		return
	}
	username := r.PostForm.Get("username")
	page := &credentialsPage{Username: clip(username, 64)}
	user, err := a.Auth.Login(r.Context(), username, r.PostForm.Get("password"), ClientIP(a.BehindProxy)(r))
	var throttled *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		e := a.event(r, audit.LoginFailed, "invalid username or password")
		e.Username = eventUsername(username)
		a.Audit.Record(r.Context(), e)
		page.Error = "Invalid username or password."
		a.render(w, r, http.StatusUnauthorized, "login.html", page)
		return
	case errors.As(err, &throttled):
		secs := retryAfter(w, throttled.RetryAfter)
		e := a.event(r, audit.LoginThrottled, "too many failed logins for this "+throttled.Scope)
		e.Username = eventUsername(username)
		a.Audit.Record(r.Context(), e)
		page.Error = "Too many failed attempts. Please wait " + plural(secs, "second") + " and try again."
		a.render(w, r, http.StatusTooManyRequests, "login.html", page)
		return
	case a.handleAuthError(w, r, err):
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	if _, err := a.Sessions.Create(w, r, userKey(user.ID)); err != nil {
		a.serverError(w, r, err)
		return
	}
	e := a.event(r, audit.LoginSucceeded, "")
	e.UserID, e.Username = user.ID, user.Username
	a.Audit.Record(r.Context(), e)
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}

// eventUsername is what a login event records of a typed username: the
// username, or a marker when the text could not be one (people type their
// password into the wrong field).
func eventUsername(typed string) string {
	u, err := auth.NormalizeUsername(typed)
	if err != nil {
		return "(not a username)"
	}
	return u
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
