package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultStoreTimeout bounds each store call (Options.StoreTimeout).
const DefaultStoreTimeout = time.Second

// ErrUnavailable is wrapped around the error of a store call that did not
// finish within Options.StoreTimeout. Whether the store carried out a
// write it timed out on is unknown.
var ErrUnavailable = errors.New("session: the store did not answer in time")

// deadlineStore gives every call to a store a deadline, so that a stalled
// store (a paused Redis, a locked database) fails a request quickly, closed,
// instead of holding it and its connection for as long as the stall lasts.
// Stores must honour their context's deadline.
type deadlineStore struct {
	s      Store
	d      time.Duration
	cached CachedFinder // s, if it is one
}

func newDeadlineStore(s Store, d time.Duration) deadlineStore {
	cf, _ := s.(CachedFinder)
	return deadlineStore{s: s, d: d, cached: cf}
}

func (t deadlineStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, t.d)
}

// done marks err as ErrUnavailable when the call ran out of time.
func (t deadlineStore) done(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (no answer within %v): %w", ErrUnavailable, t.d, err)
	}
	return err
}

func (t deadlineStore) Create(ctx context.Context, s Session) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Create(ctx, s))
}

// Find takes a session the store has at hand without a deadline: nothing
// to wait for.
func (t deadlineStore) Find(ctx context.Context, id ID) (Session, error) {
	if t.cached != nil {
		if s, ok := t.cached.FindCached(id); ok {
			return *s, nil
		}
	}
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.s.Find(ctx, id)
	return v, t.done(ctx, err)
}

func (t deadlineStore) Touch(ctx context.Context, id ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Touch(ctx, id, now, seenBefore, idleDeadline, lastIP))
}

func (t deadlineStore) Rotate(ctx context.Context, oldID, newID ID, now, authAt time.Time, epoch int64) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Rotate(ctx, oldID, newID, now, authAt, epoch))
}

func (t deadlineStore) Renew(ctx context.Context, oldID, newID ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Renew(ctx, oldID, newID, gen, now, idleDeadline, lastIP))
}

func (t deadlineStore) Seen(ctx context.Context, id ID, gen int64, now time.Time) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Seen(ctx, id, gen, now))
}

func (t deadlineStore) FindHandle(ctx context.Context, h Handle) (Session, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.s.FindHandle(ctx, h)
	return v, t.done(ctx, err)
}

func (t deadlineStore) Bind(ctx context.Context, id ID, now time.Time, seq int64, key string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Bind(ctx, id, now, seq, key))
}

func (t deadlineStore) NoteUnbound(ctx context.Context, id ID, now time.Time) (int64, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.s.NoteUnbound(ctx, id, now)
	return v, t.done(ctx, err)
}

func (t deadlineStore) Delete(ctx context.Context, id ID, now time.Time, why string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.Delete(ctx, id, now, why))
}

func (t deadlineStore) DeleteForUser(ctx context.Context, userID string, id ID, now time.Time, why string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.done(ctx, t.s.DeleteForUser(ctx, userID, id, now, why))
}

func (t deadlineStore) DeleteAllForUser(ctx context.Context, userID string, except ID, now time.Time, why string) (int, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.s.DeleteAllForUser(ctx, userID, except, now, why)
	return v, t.done(ctx, err)
}

func (t deadlineStore) Ended(ctx context.Context, id ID) (Ending, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.s.Ended(ctx, id)
	return v, t.done(ctx, err)
}

func (t deadlineStore) List(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.s.List(ctx, userID, now)
	return v, t.done(ctx, err)
}

// DeleteExpired is the sweeper's, in batches: it gets a longer deadline.
func (t deadlineStore) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*t.d)
	defer cancel()
	v, err := t.s.DeleteExpired(ctx, now, limit)
	return v, t.done(ctx, err)
}
