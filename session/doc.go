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
//     conditional store operation: the old token is dead at once.
//   - [Manager.Destroy] deletes the session server-side, expires the cookie
//     (Max-Age=0) and sends Clear-Site-Data.
//   - Idle and absolute timeouts are enforced on the server; each session
//     carries its own deadlines. Last-seen is written at most once per
//     [Options.TouchInterval], so an authenticated read stays a read.
//   - A session holds identity and metadata only (user ID, times, deadlines,
//     client IP and User-Agent at creation, last IP). After creation every
//     write is conditional on the session still existing and being valid, so
//     a request that was in flight when the user logged out cannot bring the
//     session back.
//   - Every user's sessions can be listed and revoked: one (the owner is part
//     of the query), all others, or all.
//   - The cookie is __Host-cb_session by default: Secure, HttpOnly,
//     SameSite=Lax, Path=/, no Domain, no Expires or Max-Age.
//
// Stores live in sub-packages (sqlitestore, pgstore, redisstore) and all pass
// the conformance suite in storetest.
package session
