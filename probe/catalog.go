package probe

// catalog holds each finding's title, severity and fix.
var catalog = map[string]struct{ title, severity, fix string }{
	FixationAdoptedID: {
		"Session fixation: the site logs in a session id the client chose", "high",
		"Never use a session id the server did not issue: look every id up in the server's store and treat an unknown one as no session, " +
			"and issue a new id at login, destroying the session the request carried. " +
			"With github.com/connectbook/connectbook/session, Manager.Create does both and unknown tokens are never adopted. " +
			"Elsewhere: enable strict mode (PHP session.use_strict_mode) and regenerate the id at login " +
			"(session_regenerate_id(true), request.changeSessionId(), Django's cycle_key).",
	},
	FixationPreauthID: {
		"Session fixation: an id issued before login stays valid after it", "high",
		"Issue a new session id when the user logs in and invalidate the old one on the server; better, create no session before login. " +
			"With github.com/connectbook/connectbook/session, sessions exist only from Manager.Create at login, which also destroys any session the request carried.",
	},
	TokenInURL: {
		"The session is accepted from a URL parameter", "high",
		"Read the session only from its cookie and ignore ids in URLs: they leak through Referer headers, logs, history and shared links, " +
			"and a link is all an attacker needs to plant one. " +
			"github.com/connectbook/connectbook/session reads only the cookie and reports tokens offered in URLs as security events.",
	},
	WeakToken: {
		"Session tokens are guessable", "high",
		"Generate session ids from a cryptographically secure random source with at least 128 bits of entropy " +
			"(crypto/rand, Python's secrets.token_urlsafe(32)); never counters, timestamps, user data or small random numbers. " +
			"github.com/connectbook/connectbook/session uses 256-bit tokens from crypto/rand and stores only their SHA-256.",
	},
	LogoutReplay: {
		"A session token still works after logout", "high",
		"Destroy the session on the server at logout, not only the cookie in the browser. " +
			"Signed client-side sessions cannot be revoked this way: keep sessions on the server, or a server-side list of revoked ones. " +
			"With github.com/connectbook/connectbook/session, Manager.Destroy deletes the session from the store, and a deleted session cannot come back.",
	},
	CookieFlags: {
		"The session cookie lacks HttpOnly, Secure or SameSite", "medium",
		"Set HttpOnly (scripts cannot read the cookie), Secure (it is never sent over plain HTTP) and SameSite=Lax or Strict " +
			"(other sites' requests do not carry it), and prefer the __Host- name prefix (no Domain, Path=/, Secure). " +
			"github.com/connectbook/connectbook/session sets all of them and requires a __Host- cookie name.",
	},
	NoIdleTimeout: {
		"A session survives a long time without use", "medium",
		"Expire sessions on the server after a period without use (15 to 30 minutes for most sites) and after an absolute lifetime, " +
			"whatever the cookie says. github.com/connectbook/connectbook/session enforces both (Options.IdleTimeout, Options.AbsoluteTimeout) on every request.",
	},
}
