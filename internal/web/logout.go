package web

import (
	"crypto/subtle"
	"net/http"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/session"
)

// logoutPage asks "Sign out?" with a fresh form.
type logoutPage struct {
	Stale bool // a sign-out came with a form token that no longer matches
}

// logoutForm asks before signing out (GET /logout); signed out already,
// there is nothing to ask.
func (a *app) logoutForm(w http.ResponseWriter, r *http.Request) {
	if viewer(r) == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "logout.html", &logoutPage{})
}

// logout signs the browser out. Signed out already (the session ended,
// or another tab signed out), it says so. A form from a stale tab (its
// token no longer matches the session's) signs nobody out, for a forged
// form looks the same: it asks again with a fresh form, rather than
// failing while leaving the user signed in.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if !a.parseForm(w, r) {
		return
	}
	if viewer(r) == nil {
		a.flash(w, "already_signed_out")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	want := session.CSRFToken(r.Context())
	if got := r.PostForm.Get("csrf_token"); want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		a.Audit.Record(r.Context(), a.event(r, audit.CSRFRejected, "missing or wrong form token on /logout; asked to confirm"))
		a.render(w, r, http.StatusOK, "logout.html", &logoutPage{Stale: true})
		return
	}
	if err := a.Account.LogOut(w, r); err != nil {
		a.fail(w, r, err)
		return
	}
	a.flash(w, "signed_out")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
