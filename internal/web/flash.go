package web

import (
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/connectbook/connectbook/session"
)

// flashCookie carries a one-time message across a redirect: a code from
// flashes, never text a client chose, so it cannot inject anything.
const flashCookie = "__Host-cb_flash"

// endedCookie carries why a session ended across the redirect to the
// sign-in page (the request that found it ended cleared its cookie). Its
// value is text ConnectBook wrote, base64url-encoded; a __Host- cookie can
// only be set by this site over HTTPS.
const endedCookie = "__Host-cb_ended"

var flashes = map[string]string{
	"saved":              "Your profile is saved.",
	"signed_out":         "You have signed out. See you soon!",
	"already_signed_out": "You are signed out already.",
	"welcome":            "Welcome to ConnectBook! Your account is ready. Add a display name and a bio so people know it's you, then find people to follow.",
	"session_ended":      "That session has been signed out.",
	"others_ended":       "You have signed out everywhere else.",
	"password_changed":   "Your password has been changed, and every other session has been signed out.",
	"reauthenticated":    "Password confirmed. You won't be asked again for a few minutes.",
	"notice_dismissed":   "Notice dismissed.",
	"posted":             "Your post is up.",
	"post_deleted":       "Your post has been deleted.",
	"followed":           "You now follow them: their posts will show in your home feed.",
	"requested":          "Their account is private: you have asked to follow them, and they can approve or decline.",
	"unfollowed":         "You no longer follow them.",
	"blocked":            "Blocked. They can no longer follow you, see your posts and profile, or mention you; follows between you have ended.",
	"unblocked":          "Unblocked. Follows that the block ended stay ended.",
	"muted":              "Muted: their posts no longer show in your home feed.",
	"unmuted":            "Unmuted: their posts show in your home feed again.",
	"request_approved":   "Approved: they now follow you.",
	"request_declined":   "Request declined.",
	"privacy_saved":      "Your privacy setting is saved.",
}

// flash sets the message for the next page this browser sees.
func (a *app) flash(w http.ResponseWriter, code string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: code, Path: "/", MaxAge: 60,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// carryEnded remembers why the request's session ended, for the sign-in
// page it is sent to.
func (a *app) carryEnded(w http.ResponseWriter, r *http.Request) {
	why, ok := session.EndReason(r.Context())
	if !ok {
		return
	}
	if len(why) > 200 {
		why = why[:200]
	}
	http.SetCookie(w, &http.Cookie{Name: endedCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(why)), Path: "/",
		MaxAge: 300, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// endedText says why the browser's session ended, for the sign-in page:
// found on this request, or carried by carryEnded; "" if it did not.
func (a *app) endedText(w http.ResponseWriter, r *http.Request) string {
	why, ok := session.EndReason(r.Context())
	if c, err := r.Cookie(endedCookie); err == nil {
		http.SetCookie(w, &http.Cookie{Name: endedCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && !ok && len(b) <= 200 && utf8.Valid(b) {
			why, ok = string(b), true
		}
	}
	if !ok {
		return ""
	}
	switch why {
	case "idle timeout":
		why = "it was not used for a while"
	case "expired":
		why = "it expired"
	case "absolute timeout":
		why = "it reached its maximum length, so please sign in afresh"
	}
	return "Your session ended: " + why + "."
}

// takeFlash returns the pending message, if any, and clears it.
func (a *app) takeFlash(w http.ResponseWriter, r *http.Request) string {
	// Most requests carry no message: spare them parsing every cookie.
	if !strings.Contains(r.Header.Get("Cookie"), flashCookie+"=") {
		return ""
	}
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
