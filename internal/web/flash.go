package web

import (
	"net/http"
	"strings"
)

// flashCookie carries a one-time message across a redirect: a code from
// flashes, never text a client chose, so it cannot inject anything.
const flashCookie = "__Host-cb_flash"

var flashes = map[string]string{
	"saved":            "Your profile is saved.",
	"signed_out":       "You have signed out.",
	"session_ended":    "That session has been signed out.",
	"others_ended":     "You have signed out everywhere else.",
	"password_changed": "Your password has been changed, and every other session has been signed out.",
	"reauthenticated":  "Password confirmed. You won't be asked again for a few minutes.",
	"account_deleted":  "Your account has been deleted.",
	"notice_dismissed": "Notice dismissed.",
}

// flash sets the message for the next page this browser sees.
func (a *app) flash(w http.ResponseWriter, code string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: code, Path: "/", MaxAge: 60,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the pending message, if any, and clears it.
func (a *app) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	// The cookie may also be cleared by Clear-Site-Data on sign-out; a
	// second Set-Cookie for it is harmless.
	if !strings.Contains(strings.Join(w.Header().Values("Set-Cookie"), "\n"), flashCookie+"=") {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	return flashes[c.Value]
}
