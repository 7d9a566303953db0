package web

import (
	"net/http"
	"net/url"
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
	http.Redirect(w, r, orDefault(next, "/"), http.StatusSeeOther)
}

// safeNext returns p if it is an address on this site that is safe to
// send a browser to after signing in, and "" otherwise: a path of "/"
// followed by letters, digits and a few punctuation marks, never "//" or
// "/\\" (which browsers read as another host), and optionally a query of
// the same characters and "=&%+". No scheme, host or fragment can pass.
func safeNext(p string) string {
	path, query, hasQuery := strings.Cut(p, "?")
	if len(p) > 300 || len(path) < 1 || path[0] != '/' || len(path) > 1 && (path[1] == '/' || path[1] == '\\') {
		return ""
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/_-.", c) >= 0) {
			return ""
		}
	}
	if strings.Contains(path, "//") || strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") || path == "/" && !hasQuery {
		return ""
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.=&%+", c) >= 0) {
			return ""
		}
	}
	if hasQuery && query == "" {
		return path
	}
	return p
}

// returnTo is where a browser sent to sign in should come back to: the
// page it asked for, or for a form sent from a page of this site (whose
// session had ended meanwhile), that page.
func returnTo(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if r.URL.RawQuery == "" {
			return safeNext(r.URL.Path)
		}
		return safeNext(r.URL.Path + "?" + r.URL.RawQuery)
	}
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || ref.User != nil {
		return ""
	}
	if ref.RawQuery == "" {
		return safeNext(ref.Path)
	}
	return safeNext(ref.Path + "?" + ref.RawQuery)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
