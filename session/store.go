package session

import (
	"context"
	"errors"
	"time"
)

// Errors shared by every store. Stores map their drivers' errors onto these.
var (
	// ErrNotFound means the session does not exist, or (for conditional
	// writes) no longer satisfies the condition: it was deleted, rotated,
	// revoked, belongs to another user or has expired.
	ErrNotFound = errors.New("session: not found")
	// ErrExists means a session with that ID already exists.
	ErrExists = errors.New("session: already exists")
)

// Ending is what a store remembers of a token that no longer names a
// session, until the session's absolute deadline: either the session was
// ended on purpose (signed out, revoked), or the token was replaced by
// Renew. It is enough to tell a later request with the token apart from
// one with a token that was never issued, and, for a replaced token, to
// find the session it belonged to.
type Ending struct {
	UserID string
	At     time.Time
	// Why says in words how the session ended, for example "signed out" or
	// "revoked by an administrator"; at most 200 bytes. It is empty for a
	// token replaced by Renew.
	Why string
	// Handle is, for a token replaced by Renew, the handle of its session,
	// and Gen the token's generation; zero for a session that ended.
	Handle Handle
	Gen    int64
	// Seen is, for a token replaced by Renew, whether a request had
	// presented it by then (its session's SeenGen equalled its Gen): a
	// token that never was is one the browser lost or never adopted.
	Seen bool
}

// Renewed reports whether the Ending is that of a token replaced by Renew
// rather than of a session that ended.
func (e Ending) Renewed() bool { return !e.Handle.IsZero() }

// Session is everything a store keeps about one session: identity and
// metadata, never free-form data. Times have microsecond precision.
type Session struct {
	ID               ID
	UserID           string
	CreatedAt        time.Time
	LastSeenAt       time.Time
	IdleDeadline     time.Time // the session is dead at or after this instant
	AbsoluteDeadline time.Time // and at or after this one, whatever its use
	CreatedIP        string
	UserAgent        string // at creation
	LastIP           string
	// Epoch is the user's credential epoch that the session was issued
	// for (see Options.Epoch): a session whose epoch is behind the user's
	// belongs to credentials that have since changed.
	Epoch int64
	// Method says how the user signed in (at most 32 bytes), for people
	// reviewing their sessions: "password", "signup", ...
	Method string
	// AuthAt is when the user last proved who they are in this session: at
	// sign-in, or at a later re-authentication (Manager.Reauthenticated).
	AuthAt time.Time

	// Handle names the session for its whole life, across token rotations.
	// It is random and public (pages and events show it); it cannot sign
	// anyone in. Secret is the session's own key for the values derived
	// from it (form tokens, bound cookies, challenges); it never leaves the
	// server. Both are set at creation and never change; a store that
	// upgrades rows written before they existed fills them in with random
	// values.
	Handle Handle
	Secret [32]byte

	// Gen is the generation of the current token: 0 at creation, one more
	// at every Renew. SeenGen is the newest generation a request has
	// presented (Store.Seen); while it is behind Gen, the current token is
	// pending and the one before it still works. SeenAt is when SeenGen
	// last moved on (at creation, the creation time). IssuedAt is when the
	// current token was issued (Create, Renew or Rotate).
	Gen      int64
	SeenGen  int64
	SeenAt   time.Time
	IssuedAt time.Time

	// BindKey is the public key the session is bound to (Device Bound
	// Session Credentials), as a JSON Web Key, or "" if it is not bound;
	// at most 4096 bytes. BoundAt is when it was bound. BindSeq counts the
	// binding challenges used so far (Store.Bind). Unbound counts requests
	// refused because they lacked proof of the bound key.
	BindKey string
	BoundAt time.Time
	BindSeq int64
	Unbound int64
}

// Pending reports whether the session's current token has been issued but
// not yet presented by any request.
func (s *Session) Pending() bool { return s.SeenGen < s.Gen }

// Bound reports whether the session is bound to a device key.
func (s *Session) Bound() bool { return s.BindKey != "" }

// ValidAt reports whether the session is alive at now: both deadlines lie
// after it.
func (s *Session) ValidAt(now time.Time) bool {
	return now.Before(s.IdleDeadline) && now.Before(s.AbsoluteDeadline)
}

// ExpiresAt returns the earlier of the two deadlines.
func (s *Session) ExpiresAt() time.Time {
	if s.IdleDeadline.Before(s.AbsoluteDeadline) {
		return s.IdleDeadline
	}
	return s.AbsoluteDeadline
}

// A CachedFinder is a Store that can answer some Finds from memory, at
// once: FindCached returns the session that Find would return at this
// moment, if it has it at hand, and false otherwise (the caller then calls
// Find). It must never return a session that Find would not return, nor
// an older copy of one: a session that a call to the store has changed or
// deleted by the time FindCached is called is never returned as it was.
// The Manager tries it before giving Find its deadline, which costs more
// than the answer. (sqlitestore's Store is one.)
//
// The session returned is shared: it must not be changed.
type CachedFinder interface {
	FindCached(id ID) (*Session, bool)
}

// Store keeps sessions by ID. Implementations must be safe for concurrent
// use, and every write after Create must be conditional as documented, so
// that nothing can re-create a session that was deleted, rotated or expired.
type Store interface {
	// Create stores a new session. It returns ErrExists if the ID is taken.
	Create(ctx context.Context, s Session) error

	// Find returns the session with the given ID, whether or not its
	// deadlines have passed, or ErrNotFound.
	Find(ctx context.Context, id ID) (Session, error)

	// Touch records use of the session: it sets LastSeenAt to now, the idle
	// deadline to idleDeadline and LastIP to lastIP, only if the session
	// exists and is valid at now, and only if its LastSeenAt is not after
	// seenBefore; a session touched since then (by a concurrent request, or
	// one that arrived out of order) is left as it is and Touch returns nil.
	// If the session does not exist or is not valid at now, Touch changes
	// nothing and returns ErrNotFound.
	Touch(ctx context.Context, id ID, now, seenBefore, idleDeadline time.Time, lastIP string) error

	// Rotate moves the session from oldID to newID in one atomic step, only
	// if it exists and is valid at now, and sets its AuthAt and Epoch to
	// authAt and epoch, its IssuedAt and SeenAt to now and both Gen and
	// SeenGen to Gen+1 (the new token counts as seen: the old one is dead
	// at once);
	// everything else about it is kept. Otherwise it returns ErrNotFound
	// (ErrExists if newID is taken). The old ID leaves no Ending behind.
	Rotate(ctx context.Context, oldID, newID ID, now, authAt time.Time, epoch int64) error

	// Renew replaces the session's token in the course of rotation, in one
	// atomic step, only if the session exists under oldID, is valid at now
	// and its Gen is gen: the session moves to newID with Gen gen+1,
	// IssuedAt and LastSeenAt now, IdleDeadline idleDeadline and LastIP
	// lastIP (SeenGen is kept: the new token is pending until Seen), and
	// under oldID the store remembers the Ending {UserID, At: now, Handle,
	// Gen: gen, Seen: SeenGen == gen} until the session's absolute
	// deadline. Otherwise it returns ErrNotFound (ErrExists if newID is
	// taken).
	Renew(ctx context.Context, oldID, newID ID, gen int64, now, idleDeadline time.Time, lastIP string) error

	// Seen records that a request presented the session's current token,
	// of generation gen: only if the session exists under id, is valid at
	// now, its Gen is gen and its SeenGen is below gen, it sets SeenGen to
	// gen and SeenAt to now. It returns nil when the session exists under
	// id and is valid at now, whether it wrote or not, and ErrNotFound
	// otherwise.
	Seen(ctx context.Context, id ID, gen int64, now time.Time) error

	// FindHandle returns the session with the given handle, under its
	// current ID, whether or not its deadlines have passed, or ErrNotFound.
	FindHandle(ctx context.Context, h Handle) (Session, error)

	// Bind uses the binding challenge number seq: only if the session
	// exists under id, is valid at now and its BindSeq is seq, it sets
	// BindSeq to seq+1, and, when key is not empty, binds the session to
	// key (BindKey = key, BoundAt = now), which it does only if it is not
	// bound yet. Otherwise it returns ErrNotFound.
	Bind(ctx context.Context, id ID, now time.Time, seq int64, key string) error

	// NoteUnbound adds one to the session's Unbound count, only if it
	// exists under id and is valid at now, and returns the new count;
	// ErrNotFound otherwise.
	NoteUnbound(ctx context.Context, id ID, now time.Time) (int64, error)

	// Delete removes the session. It returns ErrNotFound if there was none.
	// If why is not empty, the store remembers the Ending (why, at now)
	// until the session's absolute deadline, in the same atomic step.
	Delete(ctx context.Context, id ID, now time.Time, why string) error

	// DeleteForUser removes the session only if it belongs to userID, and
	// returns ErrNotFound otherwise. It remembers the Ending as Delete does.
	DeleteForUser(ctx context.Context, userID string, id ID, now time.Time, why string) error

	// DeleteAllForUser removes every session of userID except the one with
	// ID except (the zero ID excepts none), remembers each one's Ending as
	// Delete does, and returns how many it removed.
	DeleteAllForUser(ctx context.Context, userID string, except ID, now time.Time, why string) (int, error)

	// Ended returns the Ending of the session or token with that ID, or
	// ErrNotFound if the store does not remember one (never issued,
	// expired, deleted without a reason, or past its absolute deadline).
	Ended(ctx context.Context, id ID) (Ending, error)

	// List returns the sessions of userID that are valid at now, most
	// recently created first.
	List(ctx context.Context, userID string, now time.Time) ([]Session, error)

	// DeleteExpired removes up to limit sessions that are no longer valid at
	// now and returns how many it removed. It also forgets Endings past
	// their session's absolute deadline (those are not counted).
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}
