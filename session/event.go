package session

import "time"

// EventKind names something that happened to a session. The values are
// stable and suitable for an audit log.
type EventKind string

const (
	// EventCreated: a user authenticated and received a new session.
	EventCreated EventKind = "session_created"
	// EventRotated: the session's token was replaced by a new one.
	EventRotated EventKind = "session_rotated"
	// EventDestroyed: the session was ended by its user (logout), or
	// replaced by a new session at login.
	EventDestroyed EventKind = "session_destroyed"
	// EventExpired: a request presented a session past its idle or absolute
	// deadline; Detail says which.
	EventExpired EventKind = "session_expired"
	// EventRevoked: sessions were ended through the per-user index; Detail
	// gives the count and by whom, in words ("2 sessions revoked by an
	// administrator").
	EventRevoked EventKind = "session_revoked"
	// EventUnknownToken: a request presented a token the store does not know,
	// or one that is not a well-formed token; Detail says which. The request
	// proceeded as anonymous and the cookie was cleared.
	EventUnknownToken EventKind = "session_unknown_token"
	// EventEndedToken: a request presented the token of a session that had
	// been ended on purpose (signed out, revoked; see Store.Ended) or that
	// ended while the request was being served; Detail says how. The request
	// proceeded as anonymous and the cookie was cleared. A stale tab does
	// this; so does someone replaying a stolen token.
	EventEndedToken EventKind = "session_ended_token"
	// EventClientChanged: a request presented a session's token from
	// another browser family or operating system than the session signed in
	// with (Options.ClientChanged); the session was ended. Detail says what
	// changed. The client's IP and User-Agent are the event's; the session's
	// own are in Detail.
	EventClientChanged EventKind = "session_client_changed"
	// EventEvicted: a session was ended because a new sign-in of its user
	// went past Options.MaxSessions, as the least recently used.
	EventEvicted EventKind = "session_evicted"
	// EventForeignToken: a user signed in on a browser that, within the
	// hour before, presented a session token that was never issued, a
	// malformed one or the cookie twice (planted by someone else, or left
	// over from another site). Detail says which.
	EventForeignToken EventKind = "session_foreign_token"
	// EventDuplicateCookie: a request carried the session cookie more than
	// once. It proceeded as anonymous and the cookie was cleared.
	EventDuplicateCookie EventKind = "session_duplicate_cookie"
	// EventTokenInURL: a request carried a session-looking parameter in its
	// query, path or form; Detail names it. The parameter was not read.
	EventTokenInURL EventKind = "session_token_in_url"
	// EventTokenReused: a request presented a token that rotation had
	// retired after its successor was in use: two clients held the
	// session, so its cookie was copied. The whole session was ended. The
	// event's client is the one that presented the retired token; Detail
	// names the other (the session's last IP address and its User-Agent).
	EventTokenReused EventKind = "session_token_reused"
	// EventBound: the session was bound to a key held by the browser
	// (Device Bound Session Credentials); Detail names the algorithm.
	EventBound EventKind = "session_bound"
	// EventBindingMissing: a request presented the token of a bound
	// session without a valid bound cookie (missing, expired or forged): the
	// cookie was most likely copied off the device. The request proceeded
	// as anonymous. After a few such requests the session is ended; Detail
	// says so.
	EventBindingMissing EventKind = "session_binding_missing"
	// EventBindingRefused: a registration or refresh of a device binding
	// was refused (malformed or wrongly signed proof, wrong key, replayed or
	// expired challenge); Detail says why.
	EventBindingRefused EventKind = "session_binding_refused"
)

// Event is reported through Options.OnEvent. It never holds a token: Session
// is a short prefix of the session's ID.
type Event struct {
	Kind      EventKind
	Time      time.Time
	UserID    string // when known
	Session   string // ID.Short(), when known
	ClientIP  string
	UserAgent string
	Detail    string
	// Ended says the event ended the session, as a defence: its cookie was
	// used from another client (EventClientChanged), a retired token came
	// back (EventTokenReused), or a bound session was used without its
	// device too often (EventBindingMissing). Apps tell the owner.
	Ended bool
	// Ends is how many sessions the event ended: 1 for a sign-out, a
	// session replaced at sign-in, an expiry noticed at a request, an
	// eviction or a defence; the number revoked for EventRevoked; 0 for
	// events that ended none (among them an expired token whose session
	// the sweeper had removed already).
	Ends int
}

// Why a session ended, in the Detail of EventDestroyed and EventExpired.
const (
	WhySignedOut       = "signed out"
	WhyReplaced        = "replaced by a new sign-in in the same browser"
	WhyIdleTimeout     = "idle timeout"
	WhyAbsoluteTimeout = "absolute timeout"
)

// ends is an Event's Ends for one session that ended or did not.
func ends(ended bool) int {
	if ended {
		return 1
	}
	return 0
}
