package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
	{"new_fields", testNewFields},
	{"rotate", testRotate},
	{"rotate_expired", testRotateExpired},
	{"delete", testDelete},
	{"delete_for_user", testDeleteForUser},
	{"list", testList},
	{"revoke_others", testRevokeOthers},
	{"revoke_all", testRevokeAll},
	{"delete_expired", testDeleteExpired},
	{"ended_delete", testEndedDelete},
	{"ended_delete_for_user", testEndedDeleteForUser},
	{"ended_delete_all", testEndedDeleteAll},
	{"ended_never_issued", testEndedNeverIssued},
	{"ended_rotate", testEndedRotate},
	{"ended_expiry", testEndedExpiry},
	{"dump_covers_endings", testDumpCoversEndings},
	{"no_resurrection", testNoResurrection},
	{"concurrent", testConcurrent},
	{"revoke_race", testRevokeRace},
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
	wantErr(t, "Rotate after the absolute deadline", h.Store.Rotate(ctx, s.ID, newID(t), at, at, 2), session.ErrNotFound)
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

// testNewFields: the epoch, the sign-in method and the time of
// authentication round-trip through Create, Find and List, whatever their
// values: epochs beyond a double's precision, methods of 32 bytes, an
// authentication later than the creation.
func testNewFields(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	var want []session.Session
	for i, f := range []struct {
		epoch  int64
		method string
		authAt time.Duration // after creation
	}{
		{0, "", 0},
		{1<<53 + 1, "passkey ü", 90*time.Second + time.Microsecond},
		{math.MaxInt64, strings.Repeat("m", 32), 11 * time.Hour},
		{42, "password", -time.Microsecond},
	} {
		s := sample(t, "alice", now.Add(time.Duration(i)*time.Second))
		s.Epoch, s.Method, s.AuthAt = f.epoch, f.method, s.CreatedAt.Add(f.authAt)
		create(t, h.Store, s)
		got := mustFind(t, h.Store, s.ID)
		wantSession(t, got, s)
		if got.AuthAt.Location() != time.UTC {
			t.Errorf("AuthAt location = %v, want UTC", got.AuthAt.Location())
		}
		want = append([]session.Session{s}, want...) // newest first
	}
	list, err := h.Store.List(ctx, "alice", now.Add(time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != len(want) {
		t.Fatalf("List = %v, want %v", ids(list), ids(want))
	}
	for i := range want {
		wantSession(t, list[i], want[i])
	}
}

// testRotate: the session moves to the new ID with the new time of
// authentication and epoch, and keeps everything else, including what
// touches changed.
func testRotate(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	seen := now.Add(time.Minute)
	if err := h.Store.Touch(ctx, s.ID, seen, seen, seen.Add(30*time.Minute), "198.51.100.7"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	moved := newID(t)
	authAt := now.Add(2*time.Minute + time.Microsecond)
	if err := h.Store.Rotate(ctx, s.ID, moved, now.Add(2*time.Minute), authAt, 1<<53+3); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	want := s
	want.ID, want.AuthAt, want.Epoch = moved, authAt, 1<<53+3
	want.LastSeenAt, want.IdleDeadline, want.LastIP = seen, seen.Add(30*time.Minute), "198.51.100.7"
	wantSession(t, mustFind(t, h.Store, moved), want)

	// The old ID is dead for every operation.
	third := newID(t)
	wantErr(t, "Rotate of the old ID", h.Store.Rotate(ctx, s.ID, third, now.Add(2*time.Minute), now, 9), session.ErrNotFound)
	wantErr(t, "Touch of the old ID", h.Store.Touch(ctx, s.ID, now, now, now.Add(time.Hour), "x"), session.ErrNotFound)
	mustBeGone(t, h.Store, s.ID)
	mustBeGone(t, h.Store, third)

	// Rotating onto a taken ID fails and changes nothing.
	other := create(t, h.Store, sample(t, "bob", now))
	err := h.Store.Rotate(ctx, moved, other.ID, now.Add(time.Minute), now.Add(time.Minute), 9)
	if err == nil {
		t.Fatal("Rotate onto a taken ID succeeded")
	}
	wantSession(t, mustFind(t, h.Store, moved), want)
	wantSession(t, mustFind(t, h.Store, other.ID), other)

	list, err := h.Store.List(ctx, "alice", now.Add(time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("List after rotate = %v, want only the new ID", ids(list))
	}
	wantSession(t, list[0], want)
}

func testRotateExpired(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	fresh := newID(t)
	at := now.Add(31 * time.Minute)
	wantErr(t, "Rotate after the idle deadline",
		h.Store.Rotate(ctx, s.ID, fresh, at, at, 2), session.ErrNotFound)
	at = now.Add(13 * time.Hour)
	wantErr(t, "Rotate after the absolute deadline",
		h.Store.Rotate(ctx, s.ID, fresh, at, at, 2), session.ErrNotFound)
	mustBeGone(t, h.Store, fresh)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
}

func testDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	keep := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(ctx, s.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	wantErr(t, "second Delete", h.Store.Delete(ctx, s.ID, now, "signed out"), session.ErrNotFound)
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
	wantErr(t, "DeleteForUser by another user", h.Store.DeleteForUser(ctx, "mallory", s.ID, now, "revoked"), session.ErrNotFound)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
	wantErr(t, "DeleteForUser of a missing session", h.Store.DeleteForUser(ctx, "alice", newID(t), now, "revoked"), session.ErrNotFound)
	if err := h.Store.DeleteForUser(ctx, "alice", s.ID, now, "revoked"); err != nil {
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
	n, err := h.Store.DeleteAllForUser(ctx, "alice", keep.ID, now, "signed out everywhere else")
	if err != nil || n != 3 {
		t.Fatalf("DeleteAllForUser(alice, except current) = %d, %v; want 3, nil", n, err)
	}
	for _, id := range gone {
		mustBeGone(t, h.Store, id)
	}
	wantSession(t, mustFind(t, h.Store, keep.ID), keep)
	wantSession(t, mustFind(t, h.Store, bob.ID), bob)
	n, err = h.Store.DeleteAllForUser(ctx, "alice", keep.ID, now, "signed out everywhere else")
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
	n, err := h.Store.DeleteAllForUser(ctx, "alice", session.ID{}, now, "")
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

// testEndedDelete: Delete with a reason remembers exactly who, when and
// why; without one, or of a session that is not there, it remembers nothing.
func testEndedDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	at := now.Add(3*time.Minute + time.Microsecond)
	why := "signed out by " + strings.Repeat("ü", 93) // 200 bytes
	if err := h.Store.Delete(ctx, s.ID, at, why); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	wantEnded(t, h.Store, s.ID, session.Ending{UserID: "alice", At: at, Why: why})
	// A second Delete finds nothing and leaves the ending as it was.
	wantErr(t, "second Delete", h.Store.Delete(ctx, s.ID, at.Add(time.Minute), "again"), session.ErrNotFound)
	wantEnded(t, h.Store, s.ID, session.Ending{UserID: "alice", At: at, Why: why})

	quiet := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(ctx, quiet.ID, at, ""); err != nil {
		t.Fatalf("Delete without a reason: %v", err)
	}
	mustBeGone(t, h.Store, quiet.ID)
	wantNoEnding(t, h.Store, quiet.ID)

	missing := newID(t)
	wantErr(t, "Delete of a missing session", h.Store.Delete(ctx, missing, at, "signed out"), session.ErrNotFound)
	wantNoEnding(t, h.Store, missing)
	mustBeGone(t, h.Store, missing)
}

// testEndedDeleteForUser: a revocation that names the wrong owner neither
// ends the session nor leaves an ending for it.
func testEndedDeleteForUser(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	at := now.Add(time.Minute)
	wantErr(t, "DeleteForUser by another user", h.Store.DeleteForUser(ctx, "mallory", s.ID, at, "revoked"), session.ErrNotFound)
	wantSession(t, mustFind(t, h.Store, s.ID), s)
	wantNoEnding(t, h.Store, s.ID)
	missing := newID(t)
	wantErr(t, "DeleteForUser of a missing session", h.Store.DeleteForUser(ctx, "alice", missing, at, "revoked"), session.ErrNotFound)
	wantNoEnding(t, h.Store, missing)

	if err := h.Store.DeleteForUser(ctx, "alice", s.ID, at, "revoked by an administrator"); err != nil {
		t.Fatalf("DeleteForUser by the owner: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	wantEnded(t, h.Store, s.ID, session.Ending{UserID: "alice", At: at, Why: "revoked by an administrator"})
}

// testEndedDeleteAll: every session a revocation removes has its ending;
// the excepted one and other users' sessions have none.
func testEndedDeleteAll(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	keep := create(t, h.Store, sample(t, "alice", now))
	var gone []session.ID
	for i := range 3 {
		gone = append(gone, create(t, h.Store, sample(t, "alice", now.Add(-time.Duration(i)*time.Hour))).ID)
	}
	bob := create(t, h.Store, sample(t, "bob", now))
	at := now.Add(time.Minute)
	n, err := h.Store.DeleteAllForUser(ctx, "alice", keep.ID, at, "password changed")
	if err != nil || n != 3 {
		t.Fatalf("DeleteAllForUser(alice, except current) = %d, %v; want 3, nil", n, err)
	}
	for _, id := range gone {
		mustBeGone(t, h.Store, id)
		wantEnded(t, h.Store, id, session.Ending{UserID: "alice", At: at, Why: "password changed"})
	}
	wantSession(t, mustFind(t, h.Store, keep.ID), keep)
	wantNoEnding(t, h.Store, keep.ID)
	wantSession(t, mustFind(t, h.Store, bob.ID), bob)
	wantNoEnding(t, h.Store, bob.ID)

	// Without a reason, nothing is remembered.
	var quiet []session.ID
	for range 2 {
		quiet = append(quiet, create(t, h.Store, sample(t, "alice", now)).ID)
	}
	if n, err := h.Store.DeleteAllForUser(ctx, "alice", keep.ID, at, ""); err != nil || n != 2 {
		t.Fatalf("DeleteAllForUser without a reason = %d, %v; want 2, nil", n, err)
	}
	for _, id := range quiet {
		mustBeGone(t, h.Store, id)
		wantNoEnding(t, h.Store, id)
	}

	// Excepting none ends the last one too; earlier endings stay as they were.
	later := at.Add(time.Minute)
	if n, err := h.Store.DeleteAllForUser(ctx, "alice", session.ID{}, later, "account deleted"); err != nil || n != 1 {
		t.Fatalf("DeleteAllForUser(alice) = %d, %v; want 1, nil", n, err)
	}
	wantEnded(t, h.Store, keep.ID, session.Ending{UserID: "alice", At: later, Why: "account deleted"})
	wantEnded(t, h.Store, gone[0], session.Ending{UserID: "alice", At: at, Why: "password changed"})
	wantNoEnding(t, h.Store, bob.ID)
}

func testEndedNeverIssued(t *testing.T, h Harness) {
	wantNoEnding(t, h.Store, newID(t))
	wantNoEnding(t, h.Store, session.ID{})
}

// testEndedRotate: a rotation is not an ending; the old ID leaves none
// behind, and a later ending is kept under the new ID only.
func testEndedRotate(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	moved := newID(t)
	at := now.Add(time.Minute)
	if err := h.Store.Rotate(ctx, s.ID, moved, at, at, 2); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	wantNoEnding(t, h.Store, s.ID)
	wantNoEnding(t, h.Store, moved)
	if err := h.Store.Delete(ctx, moved, at, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantEnded(t, h.Store, moved, session.Ending{UserID: "alice", At: at, Why: "signed out"})
	wantNoEnding(t, h.Store, s.ID)
}

// testEndedExpiry: an ending is kept until its session's absolute deadline,
// not its idle one, and DeleteExpired forgets every ending past it, however
// many, without counting them.
func testEndedExpiry(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	a := create(t, h.Store, sample(t, "alice", now))
	b := create(t, h.Store, sample(t, "alice", now.Add(time.Hour))) // its absolute deadline is an hour after a's
	at := now.Add(time.Minute)
	for _, s := range []session.Session{a, b} {
		if err := h.Store.Delete(ctx, s.ID, at, "signed out"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	ended := session.Ending{UserID: "alice", At: at, Why: "signed out"}
	stale := create(t, h.Store, sample(t, "bob", now)) // never used: idle-expired with a
	for i, sweep := range []time.Time{a.IdleDeadline, a.AbsoluteDeadline.Add(-time.Microsecond)} {
		wantN := 0
		if i == 0 {
			wantN = 1 // stale, and only stale
		}
		if n, err := h.Store.DeleteExpired(ctx, sweep, 100); err != nil || n != wantN {
			t.Fatalf("DeleteExpired before the absolute deadline = %d, %v; want %d, nil", n, err, wantN)
		}
		wantEnded(t, h.Store, a.ID, ended)
		wantEnded(t, h.Store, b.ID, ended)
	}
	mustBeGone(t, h.Store, stale.ID)
	if n, err := h.Store.DeleteExpired(ctx, a.AbsoluteDeadline, 100); err != nil || n != 0 {
		t.Fatalf("DeleteExpired at a's absolute deadline = %d, %v; want 0, nil", n, err)
	}
	wantNoEnding(t, h.Store, a.ID)
	wantEnded(t, h.Store, b.ID, ended)

	// More endings past their deadline than the limit, among expired
	// sessions: the limit counts sessions only.
	var more []session.ID
	for range 5 {
		s := create(t, h.Store, sample(t, "carol", now))
		if err := h.Store.Delete(ctx, s.ID, at, "revoked"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		more = append(more, s.ID)
	}
	for range 3 {
		create(t, h.Store, sample(t, "dave", now))
	}
	sweep := b.AbsoluteDeadline
	if n, err := h.Store.DeleteExpired(ctx, sweep, 2); err != nil || n != 2 {
		t.Fatalf("DeleteExpired(limit 2) = %d, %v; want 2, nil", n, err)
	}
	for _, id := range append(more, b.ID) {
		wantNoEnding(t, h.Store, id)
	}
	if n, err := h.Store.DeleteExpired(ctx, sweep, 2); err != nil || n != 1 {
		t.Fatalf("second DeleteExpired(limit 2) = %d, %v; want 1, nil", n, err)
	}
}

// testDumpCoversEndings: the harness's Dump covers the endings too, so
// that the search for raw tokens does.
func testDumpCoversEndings(t *testing.T, h Harness) {
	if h.Dump == nil {
		t.Fatal("the harness has no Dump")
	}
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(context.Background(), s.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	dump, err := h.Dump(context.Background())
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if !bytes.Contains(dump, s.ID[:]) && !bytes.Contains(bytes.ToLower(dump), []byte(s.ID.String())) {
		t.Fatalf("the dump does not contain the ending of session %s", s.ID.Short())
	}
}

// testNoResurrection: once a session is deleted, rotated away, revoked or
// swept, no write can bring it back, nor change or remove its ending.
func testNoResurrection(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	later := now.Add(2 * time.Minute)
	kill := map[string]struct {
		end func(s session.Session) error
		why string // the ending it leaves, if any
	}{
		"delete":       {func(s session.Session) error { return h.Store.Delete(ctx, s.ID, now, "signed out") }, "signed out"},
		"delete_quiet": {func(s session.Session) error { return h.Store.Delete(ctx, s.ID, now, "") }, ""},
		"delete_for_user": {func(s session.Session) error {
			return h.Store.DeleteForUser(ctx, s.UserID, s.ID, now, "revoked")
		}, "revoked"},
		"rotate": {func(s session.Session) error { return h.Store.Rotate(ctx, s.ID, newID(t), now, now, 2) }, ""},
		"revoke_all": {func(s session.Session) error {
			_, err := h.Store.DeleteAllForUser(ctx, s.UserID, session.ID{}, now, "password changed")
			return err
		}, "password changed"},
		"sweep": {func(s session.Session) error {
			_, err := h.Store.DeleteExpired(ctx, s.IdleDeadline, 100)
			return err
		}, ""},
	}
	for name, k := range kill {
		s := create(t, h.Store, sample(t, "user_"+name, now))
		loaded := mustFind(t, h.Store, s.ID) // an in-flight request loaded it...
		if err := k.end(s); err != nil {     // ...then it ended...
			t.Fatalf("%s: %v", name, err)
		}
		at := later
		if name == "sweep" {
			at = now // the in-flight request still believes it is alive
		}
		// ...and the request now writes to it.
		wantErr(t, name+": Touch", h.Store.Touch(ctx, loaded.ID, at, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		wantErr(t, name+": Rotate", h.Store.Rotate(ctx, loaded.ID, newID(t), at, at, 3), session.ErrNotFound)
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
		if k.why == "" {
			wantNoEnding(t, h.Store, loaded.ID)
		} else {
			wantEnded(t, h.Store, loaded.ID, session.Ending{UserID: s.UserID, At: now, Why: k.why})
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
					// order is fine, but the session must end up gone, with
					// its ending.
					var race sync.WaitGroup
					var touchErr, delErr error
					race.Add(2)
					go func() { defer race.Done(); touchErr = h.Store.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x") }()
					go func() { defer race.Done(); delErr = h.Store.Delete(ctx, s.ID, at, "signed out") }()
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
					if e, err := h.Store.Ended(ctx, s.ID); err != nil || e.UserID != own || !e.At.Equal(at) || e.Why != "signed out" {
						return fmt.Errorf("Ended after Touch raced Delete = %+v, %v", e, err)
					}
					r := sample(t, shared, now)
					if err := h.Store.Create(ctx, r); err != nil {
						return fmt.Errorf("Create: %w", err)
					}
					if err := h.Store.Rotate(ctx, r.ID, newID(t), at, at, int64(i)); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Rotate: %w", err) // ErrNotFound: another worker revoked it
					}
					if _, err := h.Store.List(ctx, shared, at); err != nil {
						return fmt.Errorf("List: %w", err)
					}
					if _, err := h.Store.Ended(ctx, r.ID); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Ended: %w", err)
					}
					if i%10 == 9 {
						if _, err := h.Store.DeleteAllForUser(ctx, shared, session.ID{}, at, "revoked"); err != nil {
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

// testRevokeRace: DeleteAllForUser races sign-ins (Create) and rotations
// of the same user. Every session whose Create returned before a
// revocation started must be gone afterwards, under whatever ID rotations
// moved it to, and must have left its ending there.
func testRevokeRace(t *testing.T, h Harness) {
	now := NewClock().Now()
	// Each sign-in is rotated up to rotations times, so that revocations
	// often meet a rotation in flight.
	const workers, revocations, rotations = 6, 20, 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A lineage is one sign-in: seq is the value of created just after its
	// Create returned, id its current ID. mu guards id and lineages.
	type lineage struct {
		seq int64
		id  session.ID
	}
	var (
		created  atomic.Int64
		writes   atomic.Int64 // successful Creates and Rotates
		mu       sync.Mutex
		lineages []*lineage
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		errc     = make(chan error, workers)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				for {
					select {
					case <-stop:
						return nil
					default:
					}
					s := sample(t, "alice", now)
					if err := h.Store.Create(ctx, s); err != nil {
						return fmt.Errorf("Create: %w", err)
					}
					l := &lineage{seq: created.Add(1), id: s.ID}
					writes.Add(1)
					mu.Lock()
					lineages = append(lineages, l)
					mu.Unlock()
					for r := range rotations { // unless a revocation ends it first
						next := newID(t)
						at := now.Add(time.Duration(r+1) * time.Second)
						err := h.Store.Rotate(ctx, s.ID, next, at, at, int64(r+2))
						if errors.Is(err, session.ErrNotFound) {
							break
						}
						if err != nil {
							return fmt.Errorf("Rotate: %w", err)
						}
						s.ID = next
						mu.Lock()
						l.id = next
						mu.Unlock()
						writes.Add(1)
					}
				}
			}()
			if err != nil {
				cancel()
			}
			errc <- err
		}()
	}
	var last int64 // created, read just before the last revocation started
	at := now.Add(time.Minute)
	for range revocations {
		// Let sign-ins and rotations happen between revocations.
		for since := writes.Load(); writes.Load() < since+3*workers && ctx.Err() == nil; {
			runtime.Gosched()
		}
		last = created.Load()
		if _, err := h.Store.DeleteAllForUser(ctx, "alice", session.ID{}, at, "revoked"); err != nil && ctx.Err() == nil {
			t.Errorf("DeleteAllForUser: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if t.Failed() {
		return
	}

	current := map[session.ID]*lineage{}
	for _, l := range lineages {
		current[l.id] = l
		if l.seq > last {
			continue
		}
		if s, err := h.Store.Find(context.Background(), l.id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("session %s, signed in before the last revocation, is still there: %+v, %v", l.id.Short(), s, err)
			continue
		}
		if e, err := h.Store.Ended(context.Background(), l.id); err != nil || e.UserID != "alice" || !e.At.Equal(at) || e.Why != "revoked" {
			t.Errorf("Ended(%s) after a revocation = %+v, %v; want the revocation's ending", l.id.Short(), e, err)
		}
	}
	list, err := h.Store.List(context.Background(), "alice", now)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, s := range list {
		if l := current[s.ID]; l == nil || l.seq <= last {
			t.Errorf("List holds %s, which is not a session signed in after the last revocation", s.ID.Short())
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
