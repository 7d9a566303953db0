package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// storeCases check the Store contract directly.
var storeCases = []testCase{
	{"create_find", testCreateFind},
	{"create_existing", testCreateExisting},
	{"find_missing", testFindMissing},
	{"touch", testTouch},
	{"touch_seen_recently", testTouchSeenRecently},
	{"touch_expired", testTouchExpired},
	{"absolute_deadline_alone", testAbsoluteDeadlineAlone},
	{"rotate", testRotate},
	{"rotate_expired", testRotateExpired},
	{"delete", testDelete},
	{"delete_for_user", testDeleteForUser},
	{"list", testList},
	{"revoke_others", testRevokeOthers},
	{"revoke_all", testRevokeAll},
	{"delete_expired", testDeleteExpired},
	{"no_resurrection", testNoResurrection},
	{"concurrent", testConcurrent},
}

func testCreateFind(t *testing.T, h Harness) {
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	wantSession(t, mustFind(t, h.Store, s.ID), s)
	if got := mustFind(t, h.Store, s.ID); got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
}

func testCreateExisting(t *testing.T, h Harness) {
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	other := sample(t, "mallory", now)
	other.ID = s.ID
	wantErr(t, "Create with a taken ID", h.Store.Create(context.Background(), other), session.ErrExists)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
}

func testFindMissing(t *testing.T, h Harness) {
	mustBeGone(t, h.Store, newID(t))
}

func testTouch(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	later := now.Add(5 * time.Minute)
	if err := h.Store.Touch(ctx, s.ID, later, later, later.Add(30*time.Minute), "198.51.100.7"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	want := s
	want.LastSeenAt, want.IdleDeadline, want.LastIP = later, later.Add(30*time.Minute), "198.51.100.7"
	wantSession(t, mustFind(t, h.Store, s.ID), want)

	missing := newID(t)
	wantErr(t, "Touch of a missing session", h.Store.Touch(ctx, missing, later, later, later.Add(time.Hour), "x"), session.ErrNotFound)
	mustBeGone(t, h.Store, missing)
}

// Touch writes at most once per interval, and never moves last-seen back.
func testTouchSeenRecently(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	first := now.Add(2 * time.Minute)
	if err := h.Store.Touch(ctx, s.ID, first, first.Add(-time.Minute), first.Add(30*time.Minute), "198.51.100.1"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	want := s
	want.LastSeenAt, want.IdleDeadline, want.LastIP = first, first.Add(30*time.Minute), "198.51.100.1"
	for _, at := range []time.Duration{10 * time.Second, -30 * time.Second} { // a concurrent request; a late one
		t2 := first.Add(at)
		if err := h.Store.Touch(ctx, s.ID, t2, t2.Add(-time.Minute), t2.Add(30*time.Minute), "198.51.100.2"); err != nil {
			t.Fatalf("Touch of a session touched since seenBefore = %v, want nil", err)
		}
		wantSession(t, mustFind(t, h.Store, s.ID), want)
	}
}

// The absolute deadline binds on its own, even when the idle deadline lies
// beyond it.
func testAbsoluteDeadlineAlone(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := sample(t, "alice", now)
	s.IdleDeadline = now.Add(20 * time.Hour)
	create(t, h.Store, s)
	at := now.Add(12*time.Hour + time.Minute)
	wantErr(t, "Touch after the absolute deadline", h.Store.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Rotate after the absolute deadline", h.Store.Rotate(ctx, s.ID, newID(t), at), session.ErrNotFound)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
	if list, err := h.Store.List(ctx, "alice", at); err != nil || len(list) != 0 {
		t.Fatalf("List after the absolute deadline = %v, %v; want none", ids(list), err)
	}
	if n, err := h.Store.DeleteExpired(ctx, at, 10); err != nil || n != 1 {
		t.Fatalf("DeleteExpired after the absolute deadline = %d, %v; want 1", n, err)
	}
	mustBeGone(t, h.Store, s.ID)
}

func testTouchExpired(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	for _, tc := range []struct {
		name string
		at   time.Duration // when the touch happens, after creation
	}{
		{"idle deadline reached", 30 * time.Minute},
		{"idle deadline passed", 31 * time.Minute},
		{"absolute deadline passed", 13 * time.Hour},
	} {
		s := create(t, h.Store, sample(t, "alice", now))
		at := now.Add(tc.at)
		err := h.Store.Touch(ctx, s.ID, at, at, at.Add(30*time.Minute), "203.0.113.9")
		if !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s: Touch = %v, want ErrNotFound", tc.name, err)
		}
		wantSession(t, mustFind(t, h.Store, s.ID), s) // deadlines not pushed out
	}
}

func testRotate(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	moved := newID(t)
	if err := h.Store.Rotate(ctx, s.ID, moved, now.Add(time.Minute)); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	want := s
	want.ID = moved
	wantSession(t, mustFind(t, h.Store, moved), want)

	// The old ID is dead for every operation.
	third := newID(t)
	wantErr(t, "Rotate of the old ID", h.Store.Rotate(ctx, s.ID, third, now.Add(2*time.Minute)), session.ErrNotFound)
	wantErr(t, "Touch of the old ID", h.Store.Touch(ctx, s.ID, now, now, now.Add(time.Hour), "x"), session.ErrNotFound)
	mustBeGone(t, h.Store, s.ID)
	mustBeGone(t, h.Store, third)

	// Rotating onto a taken ID fails and changes nothing.
	other := create(t, h.Store, sample(t, "bob", now))
	err := h.Store.Rotate(ctx, moved, other.ID, now.Add(time.Minute))
	if err == nil {
		t.Fatal("Rotate onto a taken ID succeeded")
	}
	wantSession(t, mustFind(t, h.Store, moved), want)
	wantSession(t, mustFind(t, h.Store, other.ID), other)

	list, err := h.Store.List(ctx, "alice", now.Add(time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 || list[0].ID != moved {
		t.Fatalf("List after rotate = %v, want only the new ID", ids(list))
	}
}

func testRotateExpired(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	fresh := newID(t)
	wantErr(t, "Rotate after the idle deadline",
		h.Store.Rotate(ctx, s.ID, fresh, now.Add(31*time.Minute)), session.ErrNotFound)
	wantErr(t, "Rotate after the absolute deadline",
		h.Store.Rotate(ctx, s.ID, fresh, now.Add(13*time.Hour)), session.ErrNotFound)
	mustBeGone(t, h.Store, fresh)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
}

func testDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	keep := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(ctx, s.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	wantErr(t, "second Delete", h.Store.Delete(ctx, s.ID), session.ErrNotFound)
	wantSession(t, mustFind(t, h.Store, keep.ID), keep)
	list, err := h.Store.List(ctx, "alice", now)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 || list[0].ID != keep.ID {
		t.Fatalf("List after Delete = %v, want [%s]", ids(list), keep.ID.Short())
	}
}

func testDeleteForUser(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	wantErr(t, "DeleteForUser by another user", h.Store.DeleteForUser(ctx, "mallory", s.ID), session.ErrNotFound)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
	wantErr(t, "DeleteForUser of a missing session", h.Store.DeleteForUser(ctx, "alice", newID(t)), session.ErrNotFound)
	if err := h.Store.DeleteForUser(ctx, "alice", s.ID); err != nil {
		t.Fatalf("DeleteForUser by the owner: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
}

func testList(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	var want []session.Session
	for i := range 3 {
		s := sample(t, "alice", now.Add(time.Duration(i)*time.Minute))
		want = append([]session.Session{create(t, h.Store, s)}, want...) // newest first
	}
	create(t, h.Store, sample(t, "bob", now))
	create(t, h.Store, sample(t, "alice2", now))
	// Idle-expired by the time of listing.
	create(t, h.Store, sample(t, "alice", now.Add(-40*time.Minute)))

	got, err := h.Store.List(ctx, "alice", now.Add(3*time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", ids(got), ids(want))
	}
	for i := range want {
		wantSession(t, got[i], want[i])
	}

	none, err := h.Store.List(ctx, "nobody", now)
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("List(nobody) = %v, %v; want an empty, non-nil list", none, err)
	}
	later, err := h.Store.List(ctx, "alice", now.Add(13*time.Hour))
	if err != nil || len(later) != 0 {
		t.Fatalf("List after the absolute deadline = %v, %v; want none", ids(later), err)
	}
}

func testRevokeOthers(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	keep := create(t, h.Store, sample(t, "alice", now))
	var gone []session.ID
	for range 3 {
		gone = append(gone, create(t, h.Store, sample(t, "alice", now)).ID)
	}
	bob := create(t, h.Store, sample(t, "bob", now))
	n, err := h.Store.DeleteAllForUser(ctx, "alice", keep.ID)
	if err != nil || n != 3 {
		t.Fatalf("DeleteAllForUser(alice, except current) = %d, %v; want 3, nil", n, err)
	}
	for _, id := range gone {
		mustBeGone(t, h.Store, id)
	}
	wantSession(t, mustFind(t, h.Store, keep.ID), keep)
	wantSession(t, mustFind(t, h.Store, bob.ID), bob)
	n, err = h.Store.DeleteAllForUser(ctx, "alice", keep.ID)
	if err != nil || n != 0 {
		t.Fatalf("second DeleteAllForUser = %d, %v; want 0, nil", n, err)
	}
}

func testRevokeAll(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	var gone []session.ID
	for range 4 {
		gone = append(gone, create(t, h.Store, sample(t, "alice", now)).ID)
	}
	bob := create(t, h.Store, sample(t, "bob", now))
	n, err := h.Store.DeleteAllForUser(ctx, "alice", session.ID{})
	if err != nil || n != 4 {
		t.Fatalf("DeleteAllForUser(alice) = %d, %v; want 4, nil", n, err)
	}
	for _, id := range gone {
		mustBeGone(t, h.Store, id)
	}
	wantSession(t, mustFind(t, h.Store, bob.ID), bob)
	list, err := h.Store.List(ctx, "alice", now)
	if err != nil || len(list) != 0 {
		t.Fatalf("List after revoking all = %v, %v; want none", ids(list), err)
	}
}

func testDeleteExpired(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	live := create(t, h.Store, sample(t, "alice", now))
	var dead []session.ID
	for range 5 { // idle deadline long past at now+2h
		dead = append(dead, create(t, h.Store, sample(t, "alice", now.Add(-time.Hour))).ID)
	}
	// Absolute deadline passes before the idle one.
	abs := sample(t, "bob", now.Add(-11*time.Hour-50*time.Minute))
	abs.IdleDeadline = now.Add(2 * time.Hour)
	dead = append(dead, create(t, h.Store, abs).ID)
	// Touched recently: its idle deadline moved out, so it survives.
	touched := create(t, h.Store, sample(t, "carol", now.Add(-20*time.Minute)))
	if err := h.Store.Touch(ctx, touched.ID, now, now, now.Add(30*time.Minute), "x"); err != nil {
		t.Fatalf("Touch: %v", err)
	}

	at := now.Add(20 * time.Minute) // after every dead deadline, before the live ones
	n, err := h.Store.DeleteExpired(ctx, at, 4)
	if err != nil || n != 4 {
		t.Fatalf("DeleteExpired(limit 4) = %d, %v; want 4, nil", n, err)
	}
	n, err = h.Store.DeleteExpired(ctx, at, 100)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired(limit 100) = %d, %v; want 2, nil", n, err)
	}
	for _, id := range dead {
		mustBeGone(t, h.Store, id)
	}
	mustFind(t, h.Store, live.ID)
	mustFind(t, h.Store, touched.ID)
	if n, err := h.Store.DeleteExpired(ctx, at, 100); err != nil || n != 0 {
		t.Fatalf("DeleteExpired with nothing expired = %d, %v; want 0, nil", n, err)
	}
}

// testNoResurrection: once a session is deleted, rotated away, revoked or
// swept, no write can bring it back.
func testNoResurrection(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	later := now.Add(2 * time.Minute)
	kill := map[string]func(s session.Session) error{
		"delete":          func(s session.Session) error { return h.Store.Delete(ctx, s.ID) },
		"delete_for_user": func(s session.Session) error { return h.Store.DeleteForUser(ctx, s.UserID, s.ID) },
		"rotate":          func(s session.Session) error { return h.Store.Rotate(ctx, s.ID, newID(t), now) },
		"revoke_all": func(s session.Session) error {
			_, err := h.Store.DeleteAllForUser(ctx, s.UserID, session.ID{})
			return err
		},
		"sweep": func(s session.Session) error {
			_, err := h.Store.DeleteExpired(ctx, s.IdleDeadline, 100)
			return err
		},
	}
	for name, end := range kill {
		s := create(t, h.Store, sample(t, "user_"+name, now))
		loaded := mustFind(t, h.Store, s.ID) // an in-flight request loaded it...
		if err := end(s); err != nil {       // ...then it ended...
			t.Fatalf("%s: %v", name, err)
		}
		at := later
		if name == "sweep" {
			at = now // the in-flight request still believes it is alive
		}
		// ...and the request now writes to it.
		wantErr(t, name+": Touch", h.Store.Touch(ctx, loaded.ID, at, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		wantErr(t, name+": Rotate", h.Store.Rotate(ctx, loaded.ID, newID(t), at), session.ErrNotFound)
		mustBeGone(t, h.Store, loaded.ID)
		list, err := h.Store.List(ctx, s.UserID, at)
		if err != nil {
			t.Fatalf("%s: List: %v", name, err)
		}
		for _, got := range list {
			if got.ID == loaded.ID {
				t.Fatalf("%s: the ended session is listed again", name)
			}
		}
	}
}

func testConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- func() error {
				own := fmt.Sprintf("own%d", w)         // this worker's alone
				shared := fmt.Sprintf("shared%d", w%3) // revoked by other workers
				for i := range rounds {
					s := sample(t, own, now)
					if err := h.Store.Create(ctx, s); err != nil {
						return fmt.Errorf("Create: %w", err)
					}
					if _, err := h.Store.Find(ctx, s.ID); err != nil {
						return fmt.Errorf("Find: %w", err)
					}
					at := now.Add(time.Duration(i+1) * time.Second)
					// Touch races with a Delete of the same session: either
					// order is fine, but the session must end up gone.
					var race sync.WaitGroup
					var touchErr, delErr error
					race.Add(2)
					go func() { defer race.Done(); touchErr = h.Store.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x") }()
					go func() { defer race.Done(); delErr = h.Store.Delete(ctx, s.ID) }()
					race.Wait()
					if touchErr != nil && !errors.Is(touchErr, session.ErrNotFound) {
						return fmt.Errorf("Touch: %w", touchErr)
					}
					if delErr != nil {
						return fmt.Errorf("Delete: %w", delErr)
					}
					if _, err := h.Store.Find(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("session alive after Touch raced Delete: %v", err)
					}
					r := sample(t, shared, now)
					if err := h.Store.Create(ctx, r); err != nil {
						return fmt.Errorf("Create: %w", err)
					}
					if err := h.Store.Rotate(ctx, r.ID, newID(t), at); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Rotate: %w", err) // ErrNotFound: another worker revoked it
					}
					if _, err := h.Store.List(ctx, shared, at); err != nil {
						return fmt.Errorf("List: %w", err)
					}
					if i%10 == 9 {
						if _, err := h.Store.DeleteAllForUser(ctx, shared, session.ID{}); err != nil {
							return fmt.Errorf("DeleteAllForUser: %w", err)
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func ids(list []session.Session) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID.Short()
	}
	return out
}
