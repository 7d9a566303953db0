package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
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
	{"renewal_fields", testRenewalFields},
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
	{"dump_no_raw_tokens", testDumpNoRawTokens},
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
	s := create(t, h.Store, rich(t, "alice", now))
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
	s := rich(t, "alice", now)
	s.IdleDeadline = now.Add(20 * time.Hour)
	create(t, h.Store, s)
	at := now.Add(12*time.Hour + time.Minute)
	next := newID(t)
	wantErr(t, "Touch after the absolute deadline", h.Store.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Rotate after the absolute deadline", h.Store.Rotate(ctx, s.ID, next, at, at, 2), session.ErrNotFound)
	wantErr(t, "Renew after the absolute deadline", h.Store.Renew(ctx, s.ID, next, s.Gen, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Seen after the absolute deadline", h.Store.Seen(ctx, s.ID, s.Gen, at), session.ErrNotFound)
	wantErr(t, "Bind after the absolute deadline", h.Store.Bind(ctx, s.ID, at, s.BindSeq, ""), session.ErrNotFound)
	if n, err := h.Store.NoteUnbound(ctx, s.ID, at); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("NoteUnbound after the absolute deadline = %d, %v; want ErrNotFound", n, err)
	}
	wantSession(t, mustFind(t, h.Store, s.ID), s)
	mustBeGone(t, h.Store, next)
	wantNoEnding(t, h.Store, s.ID)
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

// testRenewalFields: the handle, the secret, the generations, the times of
// issue and of the last presented token and the binding round-trip through
// Create, Find, List and FindHandle, whatever their values: binary handles
// and secrets, numbers beyond a double's precision, a key of 4096 bytes,
// non-ASCII, and a session never bound, whose BoundAt reads back as zero.
func testRenewalFields(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	var want []session.Session
	for i, f := range []struct {
		gen, seenGen     int64
		seenAt, issuedAt time.Duration // after creation
		key              string
		boundAt          time.Duration // after creation; only with a key
		bindSeq, unbound int64
	}{
		{0, 0, 0, 0, "", 0, 0, 0},
		{1, 0, 0, 10*time.Minute + time.Microsecond, "", 0, 3, 1},
		{1<<53 + 1, 1 << 53, 5*time.Minute + 7*time.Microsecond, 9 * time.Minute, jwk(4096, "clé ü"), time.Microsecond, 1<<53 + 1, 1<<53 + 3},
		{math.MaxInt64, math.MaxInt64, 11 * time.Hour, 11 * time.Hour, `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ключ"}`, 2 * time.Hour, math.MaxInt64, math.MaxInt64},
	} {
		s := sample(t, "alice", now.Add(time.Duration(i)*time.Second))
		s.Gen, s.SeenGen, s.BindSeq, s.Unbound = f.gen, f.seenGen, f.bindSeq, f.unbound
		s.SeenAt, s.IssuedAt = s.CreatedAt.Add(f.seenAt), s.CreatedAt.Add(f.issuedAt)
		if f.key != "" {
			s.BindKey, s.BoundAt = f.key, s.CreatedAt.Add(f.boundAt)
		}
		switch i { // handles and secrets with NUL and high bytes
		case 1:
			s.Handle[0], s.Handle[15], s.Secret[0], s.Secret[31] = 0, 0, 0, 0
		case 2:
			for j := range s.Secret {
				s.Secret[j] = byte(255 - j)
			}
		case 3:
			s.Handle = session.Handle{0xff, 0, 0xfe, 0x80, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
		}
		create(t, h.Store, s)
		for name, find := range map[string]func() (session.Session, error){
			"Find":       func() (session.Session, error) { return h.Store.Find(ctx, s.ID) },
			"FindHandle": func() (session.Session, error) { return h.Store.FindHandle(ctx, s.Handle) },
		} {
			got, err := find()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantSession(t, got, s)
			if f.key == "" && !got.BoundAt.IsZero() {
				t.Fatalf("%s: BoundAt of a session never bound = %v, want the zero time", name, got.BoundAt)
			}
			for field, at := range map[string]time.Time{"SeenAt": got.SeenAt, "IssuedAt": got.IssuedAt, "BoundAt": got.BoundAt} {
				if !at.IsZero() && at.Location() != time.UTC {
					t.Errorf("%s: %s location = %v, want UTC", name, field, at.Location())
				}
			}
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
		if want[i].BindKey == "" && !list[i].BoundAt.IsZero() {
			t.Fatalf("List: BoundAt of a session never bound = %v, want the zero time", list[i].BoundAt)
		}
	}
	wantHandleGone(t, h.Store, session.NewHandle())
}

// testRotate: the session moves to the new ID with the new time of
// authentication and epoch, a new token issued and seen at once (Gen and
// SeenGen both one more than Gen was, however far SeenGen lagged), and
// keeps everything else, including what touches changed.
func testRotate(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, rich(t, "alice", now)) // Gen 3, SeenGen 2: pending
	seen := now.Add(time.Minute)
	if err := h.Store.Touch(ctx, s.ID, seen, seen, seen.Add(30*time.Minute), "198.51.100.7"); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	moved := newID(t)
	at := now.Add(2*time.Minute + 3*time.Microsecond)
	authAt := now.Add(2*time.Minute + time.Microsecond)
	if err := h.Store.Rotate(ctx, s.ID, moved, at, authAt, 1<<53+3); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	want := s
	want.ID, want.AuthAt, want.Epoch = moved, authAt, 1<<53+3
	want.LastSeenAt, want.IdleDeadline, want.LastIP = seen, seen.Add(30*time.Minute), "198.51.100.7"
	want.IssuedAt, want.SeenAt, want.Gen, want.SeenGen = at, at, s.Gen+1, s.Gen+1
	got := mustFind(t, h.Store, moved)
	wantSession(t, got, want)
	if got.IssuedAt.Location() != time.UTC || got.SeenAt.Location() != time.UTC {
		t.Errorf("IssuedAt, SeenAt locations = %v, %v; want UTC", got.IssuedAt.Location(), got.SeenAt.Location())
	}
	wantSession(t, mustFindHandle(t, h.Store, s.Handle), want)
	wantNoEnding(t, h.Store, s.ID)

	// The old ID is dead for every operation.
	third := newID(t)
	wantErr(t, "Rotate of the old ID", h.Store.Rotate(ctx, s.ID, third, at, now, 9), session.ErrNotFound)
	wantErr(t, "Touch of the old ID", h.Store.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Renew of the old ID", h.Store.Renew(ctx, s.ID, third, s.Gen, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Renew of the old ID with the new gen", h.Store.Renew(ctx, s.ID, third, s.Gen+1, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Seen of the old ID", h.Store.Seen(ctx, s.ID, s.Gen+1, at), session.ErrNotFound)
	mustBeGone(t, h.Store, s.ID)
	mustBeGone(t, h.Store, third)
	wantSession(t, mustFind(t, h.Store, moved), want)

	// Rotating onto a taken ID fails with ErrExists and changes nothing.
	other := create(t, h.Store, sample(t, "bob", now))
	wantErr(t, "Rotate onto a taken ID", h.Store.Rotate(ctx, moved, other.ID, at, at, 9), session.ErrExists)
	wantSession(t, mustFind(t, h.Store, moved), want)
	wantSession(t, mustFind(t, h.Store, other.ID), other)
	wantNoEnding(t, h.Store, moved)

	list, err := h.Store.List(ctx, "alice", at)
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

// testDumpCoversEndings: the harness's Dump covers the endings too, those
// of sessions that ended and those of tokens that Renew replaced, so that
// the search for raw tokens does.
func testDumpCoversEndings(t *testing.T, h Harness) {
	if h.Dump == nil {
		t.Fatal("the harness has no Dump")
	}
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(ctx, s.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	r := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Renew(ctx, r.ID, newID(t), r.Gen, now, now.Add(30*time.Minute), "x"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	dump, err := h.Dump(ctx)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if !dumpHolds(dump, s.ID) {
		t.Fatalf("the dump does not contain the ending of session %s", s.ID.Short())
	}
	if !dumpHolds(dump, r.ID) {
		t.Fatalf("the dump does not contain the ending of renewed token %s", r.ID.Short())
	}
}

// dumpHolds reports whether dump holds id, as bytes or in hexadecimal.
func dumpHolds(dump []byte, id session.ID) bool {
	return bytes.Contains(dump, id[:]) || bytes.Contains(bytes.ToLower(dump), []byte(id.String()))
}

// testDumpNoRawTokens: a session created, renewed twice, seen, bound and
// counted under the IDs of minted tokens leaves its IDs in the dump (its
// row and both endings of replaced tokens: the dump covers them) and none
// of the tokens, in any encoding.
func testDumpNoRawTokens(t *testing.T, h Harness) {
	if h.Dump == nil {
		t.Fatal("the harness has no Dump")
	}
	ctx := context.Background()
	now := NewClock().Now()
	var tokens []string
	var tokenIDs []session.ID
	for range 3 {
		raw := newSecret(t)
		tok := base64.RawURLEncoding.EncodeToString(raw[:])
		id, ok := session.IDOfToken(tok)
		if !ok {
			t.Fatalf("IDOfToken(%q) refused a minted token", tok)
		}
		tokens, tokenIDs = append(tokens, tok), append(tokenIDs, id)
	}
	s := sample(t, "alice", now)
	s.ID = tokenIDs[0]
	create(t, h.Store, s)
	for i, id := range tokenIDs[1:] {
		at := now.Add(time.Duration(i+1) * time.Minute)
		if err := h.Store.Renew(ctx, tokenIDs[i], id, int64(i), at, at.Add(30*time.Minute), "x"); err != nil {
			t.Fatalf("Renew: %v", err)
		}
	}
	last := tokenIDs[len(tokenIDs)-1]
	at := now.Add(5 * time.Minute)
	if err := h.Store.Seen(ctx, last, 2, at); err != nil {
		t.Fatalf("Seen: %v", err)
	}
	if err := h.Store.Bind(ctx, last, at, 0, jwk(300, "device")); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if _, err := h.Store.NoteUnbound(ctx, last, at); err != nil {
		t.Fatalf("NoteUnbound: %v", err)
	}
	dump, err := h.Dump(ctx)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	for _, id := range tokenIDs {
		// The dump must hold the ID, or this test proves nothing.
		if !dumpHolds(dump, id) {
			t.Fatalf("the dump does not contain %s: it does not cover the store", id.Short())
		}
	}
	lower := bytes.ToLower(dump)
	for _, tok := range tokens {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		for name, form := range map[string][]byte{
			"token":      []byte(tok),
			"raw bytes":  raw,
			"hex":        []byte(hex.EncodeToString(raw)),
			"std base64": []byte(base64.StdEncoding.EncodeToString(raw)),
		} {
			if bytes.Contains(dump, form) || bytes.Contains(lower, bytes.ToLower(form)) {
				t.Fatalf("the store holds a raw token (%s)", name)
			}
		}
	}
}

// testNoResurrection: once a session is deleted, rotated or renewed away,
// revoked or swept, no write can bring it back under its old ID, nor
// change or remove what the store remembers of the old ID.
func testNoResurrection(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	later := now.Add(2 * time.Minute)
	type killer struct {
		end func(s session.Session) error
		// what it leaves under the old ID, if anything
		ending func(s session.Session) *session.Ending
		moved  bool // the session lives on under another ID
	}
	ended := func(why string) func(s session.Session) *session.Ending {
		return func(s session.Session) *session.Ending { return &session.Ending{UserID: s.UserID, At: now, Why: why} }
	}
	none := func(session.Session) *session.Ending { return nil }
	kill := map[string]killer{
		"delete":       {func(s session.Session) error { return h.Store.Delete(ctx, s.ID, now, "signed out") }, ended("signed out"), false},
		"delete_quiet": {func(s session.Session) error { return h.Store.Delete(ctx, s.ID, now, "") }, none, false},
		"delete_for_user": {func(s session.Session) error {
			return h.Store.DeleteForUser(ctx, s.UserID, s.ID, now, "revoked")
		}, ended("revoked"), false},
		"rotate": {func(s session.Session) error { return h.Store.Rotate(ctx, s.ID, newID(t), now, now, 2) }, none, true},
		"renew": {func(s session.Session) error {
			return h.Store.Renew(ctx, s.ID, newID(t), s.Gen, now, now.Add(30*time.Minute), "198.51.100.4")
		}, func(s session.Session) *session.Ending {
			// rich: Gen 3, SeenGen 2, so the replaced token was never presented.
			return &session.Ending{UserID: s.UserID, At: now, Handle: s.Handle, Gen: s.Gen, Seen: false}
		}, true},
		"revoke_all": {func(s session.Session) error {
			_, err := h.Store.DeleteAllForUser(ctx, s.UserID, session.ID{}, now, "password changed")
			return err
		}, ended("password changed"), false},
		"sweep": {func(s session.Session) error {
			_, err := h.Store.DeleteExpired(ctx, s.IdleDeadline, 100)
			return err
		}, none, false},
	}
	for name, k := range kill {
		s := create(t, h.Store, rich(t, "user_"+name, now))
		loaded := mustFind(t, h.Store, s.ID) // an in-flight request loaded it...
		if err := k.end(s); err != nil {     // ...then it ended...
			t.Fatalf("%s: %v", name, err)
		}
		at := later
		if name == "sweep" {
			at = now // the in-flight request still believes it is alive
		}
		// ...and the request now writes to it.
		var fresh []session.ID
		next := func() session.ID { id := newID(t); fresh = append(fresh, id); return id }
		wantErr(t, name+": Touch", h.Store.Touch(ctx, loaded.ID, at, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		wantErr(t, name+": Rotate", h.Store.Rotate(ctx, loaded.ID, next(), at, at, 3), session.ErrNotFound)
		wantErr(t, name+": Renew", h.Store.Renew(ctx, loaded.ID, next(), loaded.Gen, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		wantErr(t, name+": Renew with the next gen", h.Store.Renew(ctx, loaded.ID, next(), loaded.Gen+1, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		wantErr(t, name+": Seen", h.Store.Seen(ctx, loaded.ID, loaded.Gen, at), session.ErrNotFound)
		wantErr(t, name+": Seen of the next gen", h.Store.Seen(ctx, loaded.ID, loaded.Gen+1, at), session.ErrNotFound)
		wantErr(t, name+": Bind", h.Store.Bind(ctx, loaded.ID, at, loaded.BindSeq, ""), session.ErrNotFound)
		if n, err := h.Store.NoteUnbound(ctx, loaded.ID, at); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s: NoteUnbound = %d, %v; want ErrNotFound", name, n, err)
		}
		mustBeGone(t, h.Store, loaded.ID)
		for _, id := range fresh {
			mustBeGone(t, h.Store, id)
			wantNoEnding(t, h.Store, id)
		}
		got, err := h.Store.FindHandle(ctx, loaded.Handle)
		switch {
		case k.moved && (err != nil || got.ID == loaded.ID):
			t.Fatalf("%s: FindHandle = %s, %v; want the session under its new ID", name, got.ID.Short(), err)
		case !k.moved && !errors.Is(err, session.ErrNotFound):
			t.Fatalf("%s: FindHandle = %+v, %v; want ErrNotFound", name, got, err)
		}
		list, err := h.Store.List(ctx, s.UserID, at)
		if err != nil {
			t.Fatalf("%s: List: %v", name, err)
		}
		for _, got := range list {
			if got.ID == loaded.ID || slices.Contains(fresh, got.ID) {
				t.Fatalf("%s: List holds %s, which no write may bring back", name, got.ID.Short())
			}
		}
		if e := k.ending(s); e == nil {
			wantNoEnding(t, h.Store, loaded.ID)
		} else {
			wantEnded(t, h.Store, loaded.ID, *e)
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
					// Touch, Seen, Bind and NoteUnbound race with a Delete
					// of the same session: any order is fine, but the
					// session must end up gone, with its ending.
					var race sync.WaitGroup
					var delErr error
					errs := make([]error, 4)
					race.Add(5)
					go func() { defer race.Done(); errs[0] = h.Store.Touch(ctx, s.ID, at, at, at.Add(time.Hour), "x") }()
					go func() { defer race.Done(); errs[1] = h.Store.Seen(ctx, s.ID, 0, at) }()
					go func() { defer race.Done(); errs[2] = h.Store.Bind(ctx, s.ID, at, 0, jwk(200, own)) }()
					go func() { defer race.Done(); _, errs[3] = h.Store.NoteUnbound(ctx, s.ID, at) }()
					go func() { defer race.Done(); delErr = h.Store.Delete(ctx, s.ID, at, "signed out") }()
					race.Wait()
					for j, err := range errs {
						if err != nil && !errors.Is(err, session.ErrNotFound) {
							return fmt.Errorf("%s: %w", []string{"Touch", "Seen", "Bind", "NoteUnbound"}[j], err)
						}
					}
					if delErr != nil {
						return fmt.Errorf("Delete: %w", delErr)
					}
					if _, err := h.Store.Find(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("session alive after writes raced Delete: %v", err)
					}
					if _, err := h.Store.FindHandle(ctx, s.Handle); !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("FindHandle after writes raced Delete: %v", err)
					}
					if e, err := h.Store.Ended(ctx, s.ID); err != nil || !sameEnding(e, session.Ending{UserID: own, At: at, Why: "signed out"}) {
						return fmt.Errorf("Ended after writes raced Delete = %+v, %v", e, err)
					}
					// A session of a user other workers revoke: renewed,
					// seen, bound, counted and rotated unless it is revoked
					// first (ErrNotFound), and never found again once it is.
					r := sample(t, shared, now)
					if err := h.Store.Create(ctx, r); err != nil {
						return fmt.Errorf("Create: %w", err)
					}
					renewed := newID(t)
					if err := h.Store.Renew(ctx, r.ID, renewed, 0, at, at.Add(time.Hour), "x"); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Renew: %w", err)
					} else if err != nil {
						renewed = r.ID // revoked already: the writes below must all fail
					}
					if err := h.Store.Seen(ctx, renewed, 1, at); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Seen: %w", err)
					}
					if err := h.Store.Bind(ctx, renewed, at, 0, jwk(200, shared)); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Bind: %w", err)
					}
					if n, err := h.Store.NoteUnbound(ctx, renewed, at); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("NoteUnbound: %w", err)
					} else if err == nil && n != 1 {
						return fmt.Errorf("NoteUnbound = %d, want 1", n)
					}
					if err := h.Store.Rotate(ctx, renewed, newID(t), at, at, int64(i)); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("Rotate: %w", err) // ErrNotFound: another worker revoked it
					}
					if _, err := h.Store.FindHandle(ctx, r.Handle); err != nil && !errors.Is(err, session.ErrNotFound) {
						return fmt.Errorf("FindHandle: %w", err)
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

// testRevokeRace: DeleteAllForUser races sign-ins (Create), rotations and
// renewals of the same user. Every session whose Create returned before a
// revocation started must be gone afterwards, under whatever ID rotations
// and renewals moved it to, and must have left its ending there.
func testRevokeRace(t *testing.T, h Harness) {
	now := NewClock().Now()
	// Each sign-in is rotated or renewed (and seen) in turn up to rotations
	// times, so that revocations often meet one in flight.
	const workers, revocations, rotations = 6, 20, 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A lineage is one sign-in: seq is the value of created just after its
	// Create returned, id its current ID. mu guards id and lineages.
	type lineage struct {
		seq    int64
		id     session.ID
		handle session.Handle
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
					l := &lineage{seq: created.Add(1), id: s.ID, handle: s.Handle}
					writes.Add(1)
					mu.Lock()
					lineages = append(lineages, l)
					mu.Unlock()
					for r := range rotations { // unless a revocation ends it first
						next := newID(t)
						at := now.Add(time.Duration(r+1) * time.Second)
						var err error
						if r%2 == 0 {
							err = h.Store.Renew(ctx, s.ID, next, s.Gen, at, at.Add(30*time.Minute), "198.51.100.9")
						} else {
							err = h.Store.Rotate(ctx, s.ID, next, at, at, int64(r+2))
						}
						if errors.Is(err, session.ErrNotFound) {
							break
						}
						if err != nil {
							return fmt.Errorf("Rotate or Renew: %w", err)
						}
						s.ID = next
						s.Gen++
						if err := h.Store.Seen(ctx, s.ID, s.Gen, at); err != nil && !errors.Is(err, session.ErrNotFound) {
							return fmt.Errorf("Seen: %w", err)
						}
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
		if e, err := h.Store.Ended(context.Background(), l.id); err != nil || !sameEnding(e, session.Ending{UserID: "alice", At: at, Why: "revoked"}) {
			t.Errorf("Ended(%s) after a revocation = %+v, %v; want the revocation's ending", l.id.Short(), e, err)
		}
		if s, err := h.Store.FindHandle(context.Background(), l.handle); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("FindHandle(%s) after a revocation = %s, %v; want ErrNotFound", l.handle.Short(), s.ID.Short(), err)
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
