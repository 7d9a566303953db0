// Package lab serves deliberately vulnerable copies of the ConnectBook app
// ("lab variants") for teaching session attacks and for proving a scanner
// against holes that are known to be there. Each variant has one kind of
// hole and is otherwise kept sound. They are meant for loopback only.
package lab

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// Variants lists the variant names in a stable order: seed1, seed2, adopt, stateless, laxcookie.
var Variants = []string{"seed1", "seed2", "adopt", "stateless", "laxcookie"}

// Users are the accounts every variant has.
var Users = map[string]string{"alice": "password123", "bob": "securepassword"}

var descriptions = map[string]string{
	"seed1":     "session fixation: sequential ids (session1, session2, ...); any session_id cookie or /set_session/{id} value is used as is and kept across login",
	"seed2":     "session fixation: weak 6-digit random ids; the id is taken from the session_id cookie or URL parameter and kept across login",
	"adopt":     "session adoption: strong random ids, but a SESSIONID cookie carried into login becomes the logged-in session's id",
	"stateless": "client-side signed session cookie: logout only clears the browser's copy, so a copied cookie can be replayed",
	"laxcookie": "sound server-side sessions, but the session cookie lacks HttpOnly, Secure and SameSite",
}

// cookieNames is each variant's session cookie.
var cookieNames = map[string]string{
	"seed1":     seed1Cookie,
	"seed2":     seed2Cookie,
	"adopt":     adoptCookie,
	"stateless": statelessCookie,
	"laxcookie": laxCookie,
}

// Describe returns a one-line description of a variant (what hole it has), "" if unknown.
func Describe(variant string) string { return descriptions[variant] }

// New returns the handler of a variant, or an error naming the known variants if variant is unknown.
func New(variant string) (http.Handler, error) { return build(variant, time.Now) }

// build is New with the clock injectable, so tests can age sessions.
func build(variant string, now func() time.Time) (http.Handler, error) {
	var s scheme
	switch variant {
	case "seed1":
		s = newSeed1()
	case "seed2":
		s = newSeed2()
	case "adopt":
		s = newAdopt()
	case "stateless":
		s = newStateless()
	case "laxcookie":
		s = newLaxcookie(now)
	default:
		return nil, fmt.Errorf("lab: unknown variant %q (known: %s)", variant, strings.Join(Variants, ", "))
	}
	// A copy, so each app is independent of later changes to Users.
	return newApp(s, maps.Clone(Users), variant, cookieNames[variant]), nil
}
