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
	// if it exists and is valid at now; everything else about it is kept.
	// Otherwise it returns ErrNotFound (ErrExists if newID is taken).
	Rotate(ctx context.Context, oldID, newID ID, now time.Time) error

	// Delete removes the session. It returns ErrNotFound if there was none.
	Delete(ctx context.Context, id ID) error

	// DeleteForUser removes the session only if it belongs to userID, and
	// returns ErrNotFound otherwise.
	DeleteForUser(ctx context.Context, userID string, id ID) error

	// DeleteAllForUser removes every session of userID except the one with
	// ID except (the zero ID excepts none), and returns how many it removed.
	DeleteAllForUser(ctx context.Context, userID string, except ID) (int, error)

	// List returns the sessions of userID that are valid at now, most
	// recently created first.
	List(ctx context.Context, userID string, now time.Time) ([]Session, error)

	// DeleteExpired removes up to limit sessions that are no longer valid at
	// now and returns how many it removed.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}
