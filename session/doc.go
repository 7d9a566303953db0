// Package session is a server-side session manager for net/http that is
// immune to session fixation and hardened against session hijacking by
// construction.
//
// # Guarantees
//
//   - Tokens are 32 bytes from crypto/rand, encoded as unpadded base64url
//     (43 characters). A store only ever sees the SHA-256 of a token, an [ID];
//     no method looks a session up by raw token, and raw tokens are never
//     logged ([ID.Short] is what logs and events carry).
//   - There are no anonymous sessions. A session exists only after
//     [Manager.Create], which is called when a user has authenticated; it
//     always issues a brand-new token and destroys whatever session the
//     request carried. There is nothing an attacker can plant in advance.
//   - Strict mode: a token the store does not know (never issued, expired,
//     revoked, rotated, malformed) is never adopted. The request proceeds as
//     anonymous, the cookie is cleared and an [Event] is reported. Two or
//     more cookies with the session's name are treated the same way.
//   - The token is read from the session cookie only. Query strings, paths
//     and form bodies are never read for it; a request that carries a
//     session-looking parameter is reported as [EventTokenInURL].
//   - [Manager.Rotate] swaps the current token for a new one in a single
//     conditional store operation: the old token is dead at once. So does
//     [Manager.Reauthenticated]; tokens replaced before it are refused.
//   - Rotation with reuse detection: a token in use for
//     [Options.RotationInterval] (10 minutes by default) is replaced by the
//     response to the next request. The new token is pending until a
//     request presents it; meanwhile the previous one still works (a lost
//     response, a second tab, a request in flight sign nobody out), and if
//     it keeps coming a fresh pending token is issued. Once the new token
//     has been seen the previous one is retired, and after a short
//     allowance for requests in flight, presenting it ends the whole
//     session and reports [EventTokenReused] with both clients: two
//     clients held the session, so its cookie was copied. Stores keep only
//     hashes of current, pending and retired tokens, and every step is a
//     conditional write, so concurrent requests across a rotation cause no
//     false alarm and a rotation racing a logout leaves the session dead.
//   - Device Bound Session Credentials (W3C webappsec-dbsc): [Manager.Create]
//     offers registration (ES256 and RS256, a one-time challenge), and
//     [Manager.Middleware] serves the registration and refresh endpoints
//     under [Options.BindingPath]. Proofs are verified with go-jose (type
//     dbsc+jwt, the embedded or stored key, the challenge as jti); anything
//     else is refused with [EventBindingRefused]. A bound session counts
//     as signed in only with a valid bound cookie, whose deadline
//     ([Options.BoundCookieLifetime]) is under a MAC with the session's
//     secret and checked on the server, so copies of the cookies stop
//     working off the device once it passes; requests without one are
//     refused and reported ([EventBindingMissing]), and
//     [MaxUnboundRequests] of them end the session. Challenges need no
//     write to issue and are single-use. Browsers without DBSC never
//     register and are unaffected.
//   - Every session has a [Handle] that names it for its whole life
//     (pages, events, revocation) and a secret that never leaves the
//     server, from which [CSRFToken] is derived: one form token per
//     session, stable across rotations.
//   - [Manager.Destroy] deletes the session server-side, expires the cookie
//     (Max-Age=0) and sends Clear-Site-Data.
//   - Idle and absolute timeouts are enforced on the server; each session
//     carries its own deadlines. Last-seen is written at most once per
//     [Options.TouchInterval], so an authenticated read stays a read.
//   - A session holds identity and metadata only (user ID, times, deadlines,
//     client IP and User-Agent at creation, last IP, credential epoch,
//     sign-in method, time of the last proof of identity, handle, secret,
//     token generations, device key). After creation
//     every write is conditional on the session still existing and being
//     valid, so a request that was in flight when the user logged out cannot
//     bring the session back.
//   - Every user's sessions can be listed and revoked, with a reason in
//     words: one (the owner is part of the query), all others, or all.
//   - Credential epochs: with [Options.Epoch], [Manager.Create] stores the
//     session first and then re-reads the user's epoch; if it moved, or the
//     user is gone, the session is deleted again, no cookie is set and
//     [ErrStaleEpoch] (or the hook's error) is returned. A credential change
//     that bumps the epoch and then calls [Manager.RevokeAll] therefore
//     leaves no session issued against the old credentials, however the
//     sign-ins interleave with it.
//   - [Manager.Reauthenticated] records a fresh proof of identity: a new
//     token, [Session.AuthAt] set to now and the session's epoch brought up
//     to date, checked against [Options.Epoch] as at sign-in.
//   - A session ended on purpose (signed out, revoked, evicted) is
//     remembered with its reason until its absolute deadline. A later
//     request with its token is refused and reported as [EventEndedToken]
//     with the reason, not as an unknown token, and [EndReason] tells the
//     handler why; for a session found expired it says "idle timeout" or
//     "absolute timeout".
//   - A user has at most [Options.MaxSessions] live sessions (50 by
//     default): a sign-in past the limit ends the least recently used ones
//     and reports [EventEvicted]. Concurrent sign-ins may exceed it until
//     the next one.
//   - When the middleware refuses a token that was never issued, a malformed
//     one or a duplicated cookie, it sets a marker cookie (the session
//     cookie's name with -refused appended, the same attributes, one hour)
//     that says which, never the token. The next sign-in on that browser,
//     or the sign-in that carried the refused cookie, reports
//     [EventForeignToken] with the user who signed in and clears the marker.
//     Beside the session cookie, a cookie named with -issued appended holds
//     the short ID of the session last issued to the browser (never the
//     token), so that the browser's own session, expired and swept since,
//     is reported as expired ([EventExpired]) and not as a stranger's token.
//   - With Options.ClientChanged, a session whose token is presented by
//     another browser family or operating system than the one that signed
//     in is ended and reported ([EventClientChanged]); a change of IP
//     address alone never ends a session.
//   - The cookie is __Host-cb_session by default: Secure, HttpOnly,
//     SameSite=Lax, Path=/, no Domain, no Expires or Max-Age.
//
// Stores live in sub-packages (sqlitestore, pgstore, redisstore) and all pass
// the conformance suite in storetest.
package session
