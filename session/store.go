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

// Ending is what a store remembers of a session that was ended on purpose
// (signed out, revoked), until the session's absolute deadline: enough to
// tell a later request with its token apart from one with a token that was
// never issued.
type Ending struct {
	UserID string
	At     time.Time
	// Why says in words how the session ended, for example "signed out" or
	// "revoked by an administrator"; at most 200 bytes.
	Why string
}

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
}

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
	// authAt and epoch; everything else about it is kept. Otherwise it
	// returns ErrNotFound (ErrExists if newID is taken). The old ID leaves
	// no Ending behind.
	Rotate(ctx context.Context, oldID, newID ID, now, authAt time.Time, epoch int64) error

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

	// Ended returns the Ending of the session with that ID, or ErrNotFound
	// if the store does not remember one (never issued, expired, deleted
	// without a reason, or past its absolute deadline).
	Ended(ctx context.Context, id ID) (Ending, error)

	// List returns the sessions of userID that are valid at now, most
	// recently created first.
	List(ctx context.Context, userID string, now time.Time) ([]Session, error)

	// DeleteExpired removes up to limit sessions that are no longer valid at
	// now and returns how many it removed. It also forgets Endings past
	// their session's absolute deadline (those are not counted).
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}
