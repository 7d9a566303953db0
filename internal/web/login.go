package web

import (
	"net/http"
	"strings"
)

// credentialsPage is the data of the sign-up and login forms.
type credentialsPage struct {
	Username, Error, Field string
	Next                   string // where to go after signing in
	Ended                  string // why the browser's session ended, in words
}

// credentialsForm shows the sign-up or login form; signed-in users are
// sent on.
func (a *app) credentialsForm(page string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := safeNext(r.URL.Query().Get("next"))
		if viewer(r) != nil {
			http.Redirect(w, r, orDefault(next, "/"), http.StatusSeeOther)
			return
		}
		a.render(w, r, http.StatusOK, page, &credentialsPage{Next: next, Ended: a.endedText(w, r)})
	})
}

func (a *app) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !a.parseForm(w, r) {
		return
	}
	username, next := r.PostForm.Get("username"), safeNext(r.PostForm.Get("next"))
	_, err := a.Account.LogIn(w, r, username, r.PostForm.Get("password"))
	if err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			a.render(w, r, ae.Status, "login.html", &credentialsPage{Username: clip(username, 64), Error: ae.Message, Field: ae.Field, Next: next})
		}
		return
	}
	http.Redirect(w, r, orDefault(next, "/profile"), http.StatusSeeOther)
}

// safeNext returns p if it is a path on this site that is safe to send a
// browser to after signing in, and "" otherwise: only "/" followed by
// letters, digits and a few punctuation marks, never "//" or "/\" (which
// browsers read as another host).
func safeNext(p string) string {
	if len(p) < 2 || len(p) > 200 || p[0] != '/' || p[1] == '/' || p[1] == '\\' {
		return ""
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/_-.", c) >= 0) {
			return ""
		}
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return ""
	}
	return p
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
