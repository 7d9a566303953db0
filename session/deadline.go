package session

import (
	"context"
	"time"
)

// DefaultStoreTimeout bounds each store call (Options.StoreTimeout).
const DefaultStoreTimeout = time.Second

// deadlineStore gives every call to a store a deadline, so that a stalled
// store (a paused Redis, a locked database) fails a request quickly, closed,
// instead of holding it and its connection for as long as the stall lasts.
// Stores must honour their context's deadline.
type deadlineStore struct {
	s Store
	d time.Duration
}

func (t deadlineStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, t.d)
}

func (t deadlineStore) Create(ctx context.Context, s Session) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Create(ctx, s)
}

func (t deadlineStore) Find(ctx context.Context, id ID) (Session, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Find(ctx, id)
}

func (t deadlineStore) Touch(ctx context.Context, id ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Touch(ctx, id, now, seenBefore, idleDeadline, lastIP)
}

func (t deadlineStore) Rotate(ctx context.Context, oldID, newID ID, now, authAt time.Time, epoch int64) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Rotate(ctx, oldID, newID, now, authAt, epoch)
}

func (t deadlineStore) Renew(ctx context.Context, oldID, newID ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Renew(ctx, oldID, newID, gen, now, idleDeadline, lastIP)
}

func (t deadlineStore) Seen(ctx context.Context, id ID, gen int64, now time.Time) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Seen(ctx, id, gen, now)
}

func (t deadlineStore) FindHandle(ctx context.Context, h Handle) (Session, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.FindHandle(ctx, h)
}

func (t deadlineStore) Bind(ctx context.Context, id ID, now time.Time, seq int64, key string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Bind(ctx, id, now, seq, key)
}

func (t deadlineStore) NoteUnbound(ctx context.Context, id ID, now time.Time) (int64, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.NoteUnbound(ctx, id, now)
}

func (t deadlineStore) Delete(ctx context.Context, id ID, now time.Time, why string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Delete(ctx, id, now, why)
}

func (t deadlineStore) DeleteForUser(ctx context.Context, userID string, id ID, now time.Time, why string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.DeleteForUser(ctx, userID, id, now, why)
}

func (t deadlineStore) DeleteAllForUser(ctx context.Context, userID string, except ID, now time.Time, why string) (int, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.DeleteAllForUser(ctx, userID, except, now, why)
}

func (t deadlineStore) Ended(ctx context.Context, id ID) (Ending, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.Ended(ctx, id)
}

func (t deadlineStore) List(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.s.List(ctx, userID, now)
}

// DeleteExpired is the sweeper's, in batches: it gets a longer deadline.
func (t deadlineStore) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*t.d)
	defer cancel()
	return t.s.DeleteExpired(ctx, now, limit)
}
