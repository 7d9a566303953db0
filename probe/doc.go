// Package probe runs session attacks against a web site and reports the
// ones that work: a client-chosen id accepted at login (session fixation),
// an id issued before login still valid after it, a session accepted from a
// URL, guessable tokens, a token that still works after logout, a cookie
// without HttpOnly, Secure or SameSite, and (optionally) a session that
// survives a period without use.
//
// It needs an account on the site and behaves like a browser with a
// cookie jar of its own: it fills in the site's login form, follows
// redirects, and decides whether a set of cookies is logged in by loading
// a page only a signed-in user sees. Every finding carries the requests
// and responses that prove it, with the password masked. It talks to the
// target's host only, bounds the number of its requests and their rate,
// and logs out the sessions it opened when it is done.
//
// Point it only at sites you are allowed to test.
package probe
