package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectbook/connectbook/session"
)

// storeOps are the session store's operations, as the op label.
var storeOps = []string{"create", "find", "touch", "rotate", "renew", "seen", "find_handle", "bind",
	"note_unbound", "delete", "delete_for_user", "delete_all_for_user", "ended", "list", "delete_expired"}

// Store returns st timed and counted under the name of its kind ("sqlite",
// "postgres", "redis"). A nil *Metrics returns st itself.
func (m *Metrics) Store(st session.Store, name string) session.Store {
	if m == nil {
		return st
	}
	if c, ok := st.(cacheCounter); ok {
		// Read at each scrape: nothing to count on the request path.
		hits := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "session_store", Name: "cache_hits_total",
			Help:        "Sessions the store answered from its memory, the database unchanged since it read them (not counted as find calls).",
			ConstLabels: prometheus.Labels{"store": name},
		}, func() float64 { h, _ := c.CacheStats(); return float64(h) })
		if err := m.reg.Register(hits); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			panic(err)
		}
	}
	s := &store{s: st, ops: make(map[string]storeOp, len(storeOps))}
	for _, op := range storeOps {
		s.ops[op] = storeOp{
			duration: m.storeDuration.WithLabelValues(name, op),
			errors:   m.storeErrors.WithLabelValues(name, op),
		}
	}
	return s
}

type storeOp struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// store times each call of s. An answer that a session is not there, or
// already there, is no failure; nor is a call its caller gave up on (a
// client that went away), unless it ran out of time.
type store struct {
	s   session.Store
	ops map[string]storeOp
}

func (s *store) done(op string, start time.Time, err error) {
	o := s.ops[op]
	o.duration.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrExists) &&
		(!errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		o.errors.Inc()
	}
}

func (s *store) Create(ctx context.Context, sess session.Session) error {
	start := time.Now()
	err := s.s.Create(ctx, sess)
	s.done("create", start, err)
	return err
}

func (s *store) Find(ctx context.Context, id session.ID) (session.Session, error) {
	start := time.Now()
	v, err := s.s.Find(ctx, id)
	s.done("find", start, err)
	return v, err
}

// cacheCounter is a store that counts the Finds it answers from memory
// (sqlitestore's Store).
type cacheCounter interface {
	CacheStats() (hits, misses int64)
}

// FindCached passes the call on to a store that answers from memory. Its
// answers are not timed (they take a fraction of a microsecond, on every
// request); a store that counts them has them read at each scrape.
func (s *store) FindCached(id session.ID) (*session.Session, bool) {
	cf, ok := s.s.(session.CachedFinder)
	if !ok {
		return nil, false
	}
	return cf.FindCached(id)
}

func (s *store) Touch(ctx context.Context, id session.ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	start := time.Now()
	err := s.s.Touch(ctx, id, now, seenBefore, idleDeadline, lastIP)
	s.done("touch", start, err)
	return err
}

func (s *store) Rotate(ctx context.Context, oldID, newID session.ID, now, authAt time.Time, epoch int64) error {
	start := time.Now()
	err := s.s.Rotate(ctx, oldID, newID, now, authAt, epoch)
	s.done("rotate", start, err)
	return err
}

func (s *store) Renew(ctx context.Context, oldID, newID session.ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	start := time.Now()
	err := s.s.Renew(ctx, oldID, newID, gen, now, idleDeadline, lastIP)
	s.done("renew", start, err)
	return err
}

func (s *store) Seen(ctx context.Context, id session.ID, gen int64, now time.Time) error {
	start := time.Now()
	err := s.s.Seen(ctx, id, gen, now)
	s.done("seen", start, err)
	return err
}

func (s *store) FindHandle(ctx context.Context, h session.Handle) (session.Session, error) {
	start := time.Now()
	v, err := s.s.FindHandle(ctx, h)
	s.done("find_handle", start, err)
	return v, err
}

func (s *store) Bind(ctx context.Context, id session.ID, now time.Time, seq int64, key string) error {
	start := time.Now()
	err := s.s.Bind(ctx, id, now, seq, key)
	s.done("bind", start, err)
	return err
}

func (s *store) NoteUnbound(ctx context.Context, id session.ID, now time.Time) (int64, error) {
	start := time.Now()
	v, err := s.s.NoteUnbound(ctx, id, now)
	s.done("note_unbound", start, err)
	return v, err
}

func (s *store) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	start := time.Now()
	err := s.s.Delete(ctx, id, now, why)
	s.done("delete", start, err)
	return err
}

func (s *store) DeleteForUser(ctx context.Context, userID string, id session.ID, now time.Time, why string) error {
	start := time.Now()
	err := s.s.DeleteForUser(ctx, userID, id, now, why)
	s.done("delete_for_user", start, err)
	return err
}

func (s *store) DeleteAllForUser(ctx context.Context, userID string, except session.ID, now time.Time, why string) (int, error) {
	start := time.Now()
	v, err := s.s.DeleteAllForUser(ctx, userID, except, now, why)
	s.done("delete_all_for_user", start, err)
	return v, err
}

func (s *store) Ended(ctx context.Context, id session.ID) (session.Ending, error) {
	start := time.Now()
	v, err := s.s.Ended(ctx, id)
	s.done("ended", start, err)
	return v, err
}

func (s *store) List(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	start := time.Now()
	v, err := s.s.List(ctx, userID, now)
	s.done("list", start, err)
	return v, err
}

func (s *store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	start := time.Now()
	v, err := s.s.DeleteExpired(ctx, now, limit)
	s.done("delete_expired", start, err)
	return v, err
}
