// Package storetest is the conformance suite for session stores. Every
// store in this module passes it, and a store written elsewhere can run it
// from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, "mystore", func(t *testing.T) storetest.Harness { ... })
//	}
//
// The suite checks the Store contract directly (create, find, touch, rotate,
// delete, list, revocation, endings, expiry, no resurrection, concurrency,
// a revocation racing sign-ins and rotations) and then
// end to end through a session.Manager with an injected clock (planted,
// rotated and logged-out tokens are not adopted, timeouts, the logout race,
// raw tokens never reach the store).
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// testCase is one conformance case.
type testCase struct {
	name string
	run  func(*testing.T, Harness)
}

// Harness is what a backend gives the suite.
type Harness struct {
	// Store is an empty store, used by one subtest only.
	Store session.Store
	// Dump returns every byte the backend holds for Store (all rows of its
	// sessions and of its endings, or all key names and values) so that the
	// suite can search it for raw tokens.
	Dump func(ctx context.Context) ([]byte, error)
}

// Run runs the suite as subtests named backend/case. newHarness is called
// once per subtest; it must return an empty store and clean up after itself
// with t.Cleanup.
func Run(t *testing.T, backend string, newHarness func(t *testing.T) Harness) {
	t.Run(backend, func(t *testing.T) {
		for _, c := range slices.Concat(storeCases, renewCases, managerCases, rotationCases, bindingCases) {
			t.Run(c.name, func(t *testing.T) { c.run(t, newHarness(t)) })
		}
	})
}

// Clock is a settable clock for Options.Now. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to the current time, to the microsecond.
func NewClock() *Clock {
	return &Clock{now: time.Now().UTC().Truncate(time.Microsecond)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newID(t testing.TB) session.ID {
	t.Helper()
	var id session.ID
	rand.Read(id[:])
	return id
}

// sample returns a session signed in at now with the default timeouts.
func sample(t testing.TB, userID string, now time.Time) session.Session {
	return session.Session{
		ID:               newID(t),
		UserID:           userID,
		CreatedAt:        now,
		LastSeenAt:       now,
		IdleDeadline:     now.Add(30 * time.Minute),
		AbsoluteDeadline: now.Add(12 * time.Hour),
		CreatedIP:        "192.0.2.10",
		UserAgent:        "Mozilla/5.0 (conformance; ü)",
		LastIP:           "192.0.2.10",
		Epoch:            1,
		Method:           "password",
		AuthAt:           now,
		Handle:           session.NewHandle(),
		Secret:           newSecret(t),
		SeenAt:           now,
		IssuedAt:         now,
	}
}

func newSecret(t testing.TB) [32]byte {
	t.Helper()
	var k [32]byte
	rand.Read(k[:])
	return k
}

func create(t testing.TB, st session.Store, s session.Session) session.Session {
	t.Helper()
	if err := st.Create(context.Background(), s); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

func mustFind(t testing.TB, st session.Store, id session.ID) session.Session {
	t.Helper()
	s, err := st.Find(context.Background(), id)
	if err != nil {
		t.Fatalf("Find(%s): %v", id.Short(), err)
	}
	return s
}

func mustBeGone(t testing.TB, st session.Store, id session.ID) {
	t.Helper()
	if s, err := st.Find(context.Background(), id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find(%s) = %+v, %v; want ErrNotFound", id.Short(), s, err)
	}
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %v", what, got, want)
	}
}

func equal(a, b session.Session) bool {
	return a.ID == b.ID && a.UserID == b.UserID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) &&
		a.IdleDeadline.Equal(b.IdleDeadline) && a.AbsoluteDeadline.Equal(b.AbsoluteDeadline) &&
		a.CreatedIP == b.CreatedIP && a.UserAgent == b.UserAgent && a.LastIP == b.LastIP &&
		a.Epoch == b.Epoch && a.Method == b.Method && a.AuthAt.Equal(b.AuthAt) &&
		a.Handle == b.Handle && a.Secret == b.Secret && a.Gen == b.Gen && a.SeenGen == b.SeenGen &&
		a.SeenAt.Equal(b.SeenAt) && a.IssuedAt.Equal(b.IssuedAt) &&
		a.BindKey == b.BindKey && a.BoundAt.Equal(b.BoundAt) && a.BindSeq == b.BindSeq && a.Unbound == b.Unbound
}

func wantSession(t testing.TB, got, want session.Session) {
	t.Helper()
	if !equal(got, want) {
		t.Fatalf("got session\n\t%+v\nwant\n\t%+v", got, want)
	}
}

// wantEnded checks that the store remembers exactly want for id.
func wantEnded(t testing.TB, st session.Store, id session.ID, want session.Ending) {
	t.Helper()
	got, err := st.Ended(context.Background(), id)
	if err != nil {
		t.Fatalf("Ended(%s): %v; want %+v", id.Short(), err, want)
	}
	if !sameEnding(got, want) {
		t.Fatalf("Ended(%s) = %+v, want %+v", id.Short(), got, want)
	}
	if got.At.Location() != time.UTC {
		t.Fatalf("Ended(%s).At location = %v, want UTC", id.Short(), got.At.Location())
	}
}

// wantNoEnding checks that the store remembers no ending for id.
func wantNoEnding(t testing.TB, st session.Store, id session.ID) {
	t.Helper()
	if e, err := st.Ended(context.Background(), id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Ended(%s) = %+v, %v; want ErrNotFound", id.Short(), e, err)
	}
}

// OldSession is a session of alice, live at now, as a store kept it before
// Epoch, Method and AuthAt (and everything after them): for a store's
// upgrade test to write in the old layout and hand to CheckUpgradedRow.
func OldSession(now time.Time) session.Session {
	old := session.Session{UserID: "alice", CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Minute),
		IdleDeadline: now.Add(29 * time.Minute), AbsoluteDeadline: now.Add(11 * time.Hour),
		CreatedIP: "192.0.2.1", UserAgent: "old", LastIP: "192.0.2.2"}
	old.ID[0] = 1
	return old
}

// CheckUpgradedRow checks, for a store's own upgrade test, a session
// written before the store knew of Epoch, Method and AuthAt and of the
// fields after them: st returns it with AuthAt = CreatedAt, SeenAt and
// IssuedAt = CreatedAt, a random Handle and Secret that stay the same from
// then on, and the rest zero; it finds it by handle, renews, rotates and
// ends it like any other.
func CheckUpgradedRow(t testing.TB, st session.Store, old session.Session, now time.Time) {
	t.Helper()
	ctx := context.Background()
	want := old
	want.AuthAt, want.SeenAt, want.IssuedAt = old.CreatedAt, old.CreatedAt, old.CreatedAt
	first, err := st.Find(ctx, old.ID)
	if err != nil || first.Handle.IsZero() || first.Secret == ([32]byte{}) {
		t.Fatalf("Find of an older row = %+v, %v; want a handle and a secret filled in", first, err)
	}
	want.Handle, want.Secret = first.Handle, first.Secret
	if first != want {
		t.Fatalf("Find of an older row = %+v; want %+v", first, want)
	}
	if got, err := st.Find(ctx, old.ID); err != nil || got != want {
		t.Fatalf("second Find of an older row = %+v, %v; want %+v (the same handle and secret)", got, err, want)
	}
	if list, err := st.List(ctx, old.UserID, now); err != nil || len(list) != 1 || list[0] != want {
		t.Fatalf("List of an older row = %+v, %v; want [%+v]", list, err, want)
	}
	if got, err := st.FindHandle(ctx, want.Handle); err != nil || got != want {
		t.Fatalf("FindHandle of an older row = %+v, %v; want %+v", got, err, want)
	}
	renewed := session.ID{3}
	if err := st.Renew(ctx, old.ID, renewed, 0, now, now.Add(time.Minute), "192.0.2.3"); err != nil {
		t.Fatalf("Renew of an older row: %v", err)
	}
	want.ID, want.Gen, want.IssuedAt, want.LastSeenAt, want.IdleDeadline, want.LastIP = renewed, 1, now, now, now.Add(time.Minute), "192.0.2.3"
	if got, err := st.Find(ctx, renewed); err != nil || got != want {
		t.Fatalf("Find after Renew = %+v, %v; want %+v", got, err, want)
	}
	// Generation 0, seen since creation: the replaced token counts as presented.
	if e, err := st.Ended(ctx, old.ID); err != nil || e != (session.Ending{UserID: old.UserID, At: now, Handle: want.Handle, Seen: true}) {
		t.Fatalf("Ended of the renewed token = %+v, %v", e, err)
	}
	moved := session.ID{2}
	if err := st.Rotate(ctx, renewed, moved, now, now, 3); err != nil {
		t.Fatalf("Rotate of an older row: %v", err)
	}
	want.ID, want.AuthAt, want.Epoch, want.Gen, want.SeenGen, want.SeenAt = moved, now, 3, 2, 2, now
	if got, err := st.Find(ctx, moved); err != nil || got != want {
		t.Fatalf("Find after Rotate = %+v, %v; want %+v", got, err, want)
	}
	if err := st.Delete(ctx, moved, now, "signed out"); err != nil {
		t.Fatalf("Delete of an older row: %v", err)
	}
	if e, err := st.Ended(ctx, moved); err != nil || e != (session.Ending{UserID: old.UserID, At: now, Why: "signed out"}) {
		t.Fatalf("Ended = %+v, %v", e, err)
	}
}
