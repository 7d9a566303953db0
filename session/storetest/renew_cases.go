package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// renewCases check Renew, Seen, FindHandle, Bind and NoteUnbound.
var renewCases = []testCase{
	{"find_handle", testFindHandle},
	{"renew", testRenew},
	{"renew_wrong_gen", testRenewWrongGen},
	{"renew_expired", testRenewExpired},
	{"renew_after_end", testRenewAfterEnd},
	{"renew_onto_taken", testRenewOntoTaken},
	{"renew_chain", testRenewChain},
	{"renew_link_expiry", testRenewLinkExpiry},
	{"renew_link_seen", testRenewLinkSeen},
	{"seen", testSeen},
	{"seen_gone", testSeenGone},
	{"rotate_after_renew", testRotateAfterRenew},
	{"bind", testBind},
	{"bind_gone", testBindGone},
	{"bind_race", testBindRace},
	{"note_unbound", testNoteUnbound},
	{"note_unbound_race", testNoteUnboundRace},
	{"renew_race", testRenewRace},
	{"renew_delete_race", testRenewDeleteRace},
}

// rich returns sample with every renewal and binding field set to
// something other than its zero value: three renewals, the last one not
// yet seen, bound, five binding challenges used, two requests refused.
func rich(t testing.TB, userID string, now time.Time) session.Session {
	s := sample(t, userID, now)
	s.Gen, s.SeenGen = 3, 2
	s.SeenAt, s.IssuedAt = now.Add(-10*time.Minute+time.Microsecond), now.Add(-5*time.Minute)
	s.BindKey, s.BoundAt = jwk(180, "rich ü"), now.Add(-7*time.Minute)
	s.BindSeq, s.Unbound = 5, 2
	return s
}

// jwk returns a JSON Web Key of exactly n bytes (at least 140) with the
// given key ID.
func jwk(n int, kid string) string {
	head := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"` + kid
	const tail = `"}`
	return head + strings.Repeat("k", n-len(head)-len(tail)) + tail
}

func mustFindHandle(t testing.TB, st session.Store, h session.Handle) session.Session {
	t.Helper()
	s, err := st.FindHandle(context.Background(), h)
	if err != nil {
		t.Fatalf("FindHandle(%s): %v", h.Short(), err)
	}
	return s
}

func wantHandleGone(t testing.TB, st session.Store, h session.Handle) {
	t.Helper()
	if s, err := st.FindHandle(context.Background(), h); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("FindHandle(%s) = %+v, %v; want ErrNotFound", h.Short(), s, err)
	}
}

// sameEnding reports whether got is want, times compared as instants.
func sameEnding(got, want session.Ending) bool {
	return got.UserID == want.UserID && got.At.Equal(want.At) && got.Why == want.Why &&
		got.Handle == want.Handle && got.Gen == want.Gen && got.Seen == want.Seen
}

// link is the Ending that Renew leaves under the ID of the token it
// replaced, of generation gen, at at; seen says whether a request had
// presented that token (the session's SeenGen was gen).
func link(s session.Session, gen int64, seen bool, at time.Time) session.Ending {
	return session.Ending{UserID: s.UserID, At: at, Handle: s.Handle, Gen: gen, Seen: seen}
}

// renew renews s (as the store holds it) to newID at at, and returns what
// the store must hold afterwards.
func renew(t testing.TB, st session.Store, s session.Session, newID session.ID, at time.Time, lastIP string) session.Session {
	t.Helper()
	idle := at.Add(30 * time.Minute)
	if err := st.Renew(context.Background(), s.ID, newID, s.Gen, at, idle, lastIP); err != nil {
		t.Fatalf("Renew(%s, gen %d): %v", s.ID.Short(), s.Gen, err)
	}
	s.ID, s.Gen, s.IssuedAt, s.LastSeenAt, s.IdleDeadline, s.LastIP = newID, s.Gen+1, at, at, idle, lastIP
	return s
}

// unchanged checks that the store holds s exactly, under its ID and its
// handle, and remembers no ending for its ID.
func unchanged(t testing.TB, st session.Store, s session.Session) {
	t.Helper()
	wantSession(t, mustFind(t, st, s.ID), s)
	wantSession(t, mustFindHandle(t, st, s.Handle), s)
	wantNoEnding(t, st, s.ID)
}

// testFindHandle: FindHandle finds each session by its handle, under its
// current ID, even past its deadlines, until it is deleted or swept.
func testFindHandle(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	a := create(t, h.Store, rich(t, "alice", now))
	b := create(t, h.Store, sample(t, "alice", now))
	c := create(t, h.Store, sample(t, "bob", now))
	old := create(t, h.Store, sample(t, "alice", now.Add(-13*time.Hour))) // past both deadlines, not swept
	for _, s := range []session.Session{a, b, c, old} {
		wantSession(t, mustFindHandle(t, h.Store, s.Handle), s)
	}
	wantHandleGone(t, h.Store, session.NewHandle())
	wantHandleGone(t, h.Store, session.Handle{})

	moved := newID(t)
	if err := h.Store.Rotate(ctx, b.ID, moved, now, now, 2); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	got := mustFindHandle(t, h.Store, b.Handle)
	if got.ID != moved {
		t.Fatalf("FindHandle after Rotate = %s, want %s", got.ID.Short(), moved.Short())
	}

	if err := h.Store.Delete(ctx, a.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantHandleGone(t, h.Store, a.Handle)
	if n, err := h.Store.DeleteExpired(ctx, now, 100); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	wantHandleGone(t, h.Store, old.Handle)
	wantSession(t, mustFindHandle(t, h.Store, c.Handle), c)
}

// testRenew: Renew moves the session to the new ID with the next
// generation, a new token issued and in use at now, and keeps everything
// else; under the old ID it leaves the link to the session, and nothing
// can write through the old ID any more.
func testRenew(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, rich(t, "alice", now))
	at := now.Add(4*time.Minute + time.Microsecond)
	next := newID(t)
	idle := at.Add(25 * time.Minute)
	if err := h.Store.Renew(ctx, s.ID, next, s.Gen, at, idle, "198.51.100.23"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	mustBeGone(t, h.Store, s.ID)
	want := s
	want.ID, want.Gen, want.IssuedAt, want.LastSeenAt, want.IdleDeadline, want.LastIP = next, s.Gen+1, at, at, idle, "198.51.100.23"
	got := mustFind(t, h.Store, next)
	wantSession(t, got, want)
	if got.IssuedAt.Location() != time.UTC || got.LastSeenAt.Location() != time.UTC {
		t.Errorf("IssuedAt, LastSeenAt locations = %v, %v; want UTC", got.IssuedAt.Location(), got.LastSeenAt.Location())
	}
	if !got.Pending() {
		t.Errorf("the renewed session is not pending: Gen %d, SeenGen %d", got.Gen, got.SeenGen)
	}
	wantEnded(t, h.Store, s.ID, link(s, s.Gen, false, at))
	if e, _ := h.Store.Ended(ctx, s.ID); !e.Renewed() || e.Why != "" {
		t.Fatalf("Ended of the replaced token = %+v; want a renewal without a reason", e)
	}
	wantNoEnding(t, h.Store, next)
	wantSession(t, mustFindHandle(t, h.Store, s.Handle), want)
	list, err := h.Store.List(ctx, "alice", at)
	if err != nil || len(list) != 1 {
		t.Fatalf("List after Renew = %v, %v; want only the new ID", ids(list), err)
	}
	wantSession(t, list[0], want)

	// Every write through the old ID fails and changes nothing.
	later := at.Add(time.Minute)
	var fresh []session.ID
	other := func() session.ID { id := newID(t); fresh = append(fresh, id); return id }
	wantErr(t, "Renew of the old ID", h.Store.Renew(ctx, s.ID, other(), s.Gen, later, later.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Renew of the old ID with the new gen", h.Store.Renew(ctx, s.ID, other(), s.Gen+1, later, later.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Rotate of the old ID", h.Store.Rotate(ctx, s.ID, other(), later, later, 9), session.ErrNotFound)
	wantErr(t, "Touch of the old ID", h.Store.Touch(ctx, s.ID, later, later, later.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Seen of the old ID", h.Store.Seen(ctx, s.ID, s.Gen+1, later), session.ErrNotFound)
	wantErr(t, "Bind of the old ID", h.Store.Bind(ctx, s.ID, later, s.BindSeq, ""), session.ErrNotFound)
	if n, err := h.Store.NoteUnbound(ctx, s.ID, later); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("NoteUnbound of the old ID = %d, %v; want ErrNotFound", n, err)
	}
	// A Delete of the old ID finds no session and leaves the link as it is.
	wantErr(t, "Delete of the old ID", h.Store.Delete(ctx, s.ID, later, "signed out"), session.ErrNotFound)
	wantErr(t, "DeleteForUser of the old ID", h.Store.DeleteForUser(ctx, "alice", s.ID, later, "revoked"), session.ErrNotFound)
	for _, id := range fresh {
		mustBeGone(t, h.Store, id)
		wantNoEnding(t, h.Store, id)
	}
	mustBeGone(t, h.Store, s.ID)
	wantEnded(t, h.Store, s.ID, link(s, s.Gen, false, at))
	wantSession(t, mustFind(t, h.Store, next), want)
	wantNoEnding(t, h.Store, next)
}

// testRenewWrongGen: Renew with any generation but the session's own
// changes nothing.
func testRenewWrongGen(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, rich(t, "alice", now)) // Gen 3, SeenGen 2
	at := now.Add(time.Minute)
	for _, gen := range []int64{s.SeenGen, s.Gen - 1, s.Gen + 1, 0, -1} {
		next := newID(t)
		wantErr(t, fmt.Sprintf("Renew with gen %d of a session of gen %d", gen, s.Gen),
			h.Store.Renew(ctx, s.ID, next, gen, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		mustBeGone(t, h.Store, next)
		wantNoEnding(t, h.Store, next)
	}
	unchanged(t, h.Store, s)
}

// testRenewExpired: a session past either deadline is not renewed, and
// nothing is left under either ID.
func testRenewExpired(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	for _, tc := range []struct {
		name string
		at   time.Duration // after creation
		idle time.Duration // the session's idle timeout
	}{
		{"idle deadline reached", 30 * time.Minute, 30 * time.Minute},
		{"idle deadline passed", 31 * time.Minute, 30 * time.Minute},
		{"absolute deadline reached", 12 * time.Hour, 20 * time.Hour},
		{"absolute deadline passed", 13 * time.Hour, 20 * time.Hour},
	} {
		s := sample(t, "alice", now)
		s.IdleDeadline = now.Add(tc.idle)
		create(t, h.Store, s)
		at := now.Add(tc.at)
		next := newID(t)
		wantErr(t, tc.name+": Renew", h.Store.Renew(ctx, s.ID, next, s.Gen, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
		mustBeGone(t, h.Store, next)
		wantNoEnding(t, h.Store, next)
		unchanged(t, h.Store, s)
	}
}

// testRenewAfterEnd: a session deleted, revoked or swept while a request
// held it is not renewed: no row comes back under either ID, its handle
// finds nothing, and its ending stays as it was.
func testRenewAfterEnd(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	at := now.Add(time.Minute)
	for _, tc := range []struct {
		name string
		end  func(s session.Session) error
		why  string // the ending it leaves
	}{
		{"delete", func(s session.Session) error { return h.Store.Delete(ctx, s.ID, now, "signed out") }, "signed out"},
		{"delete_quiet", func(s session.Session) error { return h.Store.Delete(ctx, s.ID, now, "") }, ""},
		{"delete_for_user", func(s session.Session) error {
			return h.Store.DeleteForUser(ctx, s.UserID, s.ID, now, "revoked")
		}, "revoked"},
		{"delete_all_for_user", func(s session.Session) error {
			n, err := h.Store.DeleteAllForUser(ctx, s.UserID, session.ID{}, now, "password changed")
			if err == nil && n != 1 {
				err = fmt.Errorf("DeleteAllForUser removed %d sessions, want 1", n)
			}
			return err
		}, "password changed"},
		{"sweep", func(s session.Session) error {
			_, err := h.Store.DeleteExpired(ctx, s.IdleDeadline, 100)
			return err
		}, ""},
	} {
		s := create(t, h.Store, rich(t, "user_"+tc.name, now))
		if err := tc.end(s); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		when := at
		if tc.name == "sweep" {
			when = now // the request still believes it alive
		}
		next := newID(t)
		wantErr(t, tc.name+": Renew", h.Store.Renew(ctx, s.ID, next, s.Gen, when, when.Add(30*time.Minute), "x"), session.ErrNotFound)
		mustBeGone(t, h.Store, s.ID)
		mustBeGone(t, h.Store, next)
		wantHandleGone(t, h.Store, s.Handle)
		if list, err := h.Store.List(ctx, s.UserID, when); err != nil || len(list) != 0 {
			t.Fatalf("%s: List = %v, %v; want none", tc.name, ids(list), err)
		}
		if tc.why == "" {
			wantNoEnding(t, h.Store, s.ID)
		} else {
			wantEnded(t, h.Store, s.ID, session.Ending{UserID: s.UserID, At: now, Why: tc.why})
		}
		wantNoEnding(t, h.Store, next)
	}
}

// testRenewOntoTaken: Renew onto the ID of another session fails with
// ErrExists and changes neither.
func testRenewOntoTaken(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, rich(t, "alice", now))
	for _, other := range []session.Session{
		create(t, h.Store, sample(t, "bob", now)),
		create(t, h.Store, sample(t, "alice", now)),
	} {
		at := now.Add(time.Minute)
		wantErr(t, "Renew onto a taken ID", h.Store.Renew(ctx, s.ID, other.ID, s.Gen, at, at.Add(30*time.Minute), "x"), session.ErrExists)
		unchanged(t, h.Store, s)
		unchanged(t, h.Store, other)
	}
	// The session can still be renewed.
	renew(t, h.Store, s, newID(t), now.Add(2*time.Minute), "x")
}

// testRenewChain: renewals one after the other move the session along a
// chain of IDs, each one's generation one more than the last, and leave a
// link under every replaced token with its own generation and time; only
// the last token can renew. Seen in between moves SeenGen on, and Renew
// keeps it.
func testRenewChain(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	want := s
	var replaced []session.ID
	var times []time.Time
	for i := range 4 {
		at := now.Add(time.Duration(i+1)*5*time.Minute + time.Duration(i)*time.Microsecond)
		replaced, times = append(replaced, want.ID), append(times, at)
		want = renew(t, h.Store, want, newID(t), at, fmt.Sprintf("198.51.100.%d", i+1))
		if i%2 == 0 {
			seenAt := at.Add(time.Second)
			if err := h.Store.Seen(ctx, want.ID, want.Gen, seenAt); err != nil {
				t.Fatalf("Seen: %v", err)
			}
			want.SeenGen, want.SeenAt = want.Gen, seenAt
		}
		wantSession(t, mustFind(t, h.Store, want.ID), want)
	}
	if want.Gen != 4 || want.SeenGen != 3 {
		t.Fatalf("the chain's arithmetic is off: Gen %d, SeenGen %d", want.Gen, want.SeenGen)
	}
	// Token 0 was seen since creation, 1 and 3 by Seen; 2 was still
	// pending when it was replaced.
	seen := []bool{true, true, false, true}
	for i, id := range replaced {
		mustBeGone(t, h.Store, id)
		wantEnded(t, h.Store, id, link(s, int64(i), seen[i], times[i]))
	}
	wantNoEnding(t, h.Store, want.ID)
	wantSession(t, mustFindHandle(t, h.Store, s.Handle), want)
	list, err := h.Store.List(ctx, "alice", times[3])
	if err != nil || len(list) != 1 {
		t.Fatalf("List after renewals = %v, %v; want only the last ID", ids(list), err)
	}
	wantSession(t, list[0], want)

	// A replaced token cannot renew, with its own generation or the current one.
	at := times[3].Add(time.Minute)
	for i, id := range replaced {
		for _, gen := range []int64{int64(i), want.Gen} {
			next := newID(t)
			wantErr(t, fmt.Sprintf("Renew of replaced token %d with gen %d", i, gen),
				h.Store.Renew(ctx, id, next, gen, at, at.Add(30*time.Minute), "x"), session.ErrNotFound)
			mustBeGone(t, h.Store, next)
		}
		wantEnded(t, h.Store, id, link(s, int64(i), seen[i], times[i]))
	}
	wantSession(t, mustFind(t, h.Store, want.ID), want)
}

// testRenewLinkExpiry: the link under a replaced token lasts until the
// session's absolute deadline, after the session is swept or deleted, and
// DeleteExpired forgets it then without counting it.
func testRenewLinkExpiry(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	at := now.Add(time.Minute)
	// a is renewed, then swept once idle; b is renewed, then signed out.
	a := create(t, h.Store, sample(t, "alice", now))
	a2 := renew(t, h.Store, a, newID(t), at, "x")
	b := create(t, h.Store, sample(t, "alice", now.Add(time.Hour))) // absolute deadline an hour after a's
	b2 := renew(t, h.Store, b, newID(t), at, "x")
	if err := h.Store.Delete(ctx, b2.ID, at, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	aLink, bLink := link(a, 0, true, at), link(b, 0, true, at)
	wantEnded(t, h.Store, b.ID, bLink)
	wantEnded(t, h.Store, b2.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})

	if n, err := h.Store.DeleteExpired(ctx, a2.IdleDeadline, 100); err != nil || n != 1 {
		t.Fatalf("DeleteExpired at the renewed session's idle deadline = %d, %v; want 1 (the session, not its link)", n, err)
	}
	mustBeGone(t, h.Store, a2.ID)
	wantHandleGone(t, h.Store, a.Handle)
	wantEnded(t, h.Store, a.ID, aLink)
	wantNoEnding(t, h.Store, a2.ID)

	if n, err := h.Store.DeleteExpired(ctx, a.AbsoluteDeadline.Add(-time.Microsecond), 100); err != nil || n != 0 {
		t.Fatalf("DeleteExpired before the absolute deadline = %d, %v; want 0", n, err)
	}
	wantEnded(t, h.Store, a.ID, aLink)
	wantEnded(t, h.Store, b.ID, bLink)

	if n, err := h.Store.DeleteExpired(ctx, a.AbsoluteDeadline, 100); err != nil || n != 0 {
		t.Fatalf("DeleteExpired at the absolute deadline = %d, %v; want 0", n, err)
	}
	wantNoEnding(t, h.Store, a.ID)
	wantEnded(t, h.Store, b.ID, bLink)
	wantEnded(t, h.Store, b2.ID, session.Ending{UserID: "alice", At: at, Why: "signed out"})

	if n, err := h.Store.DeleteExpired(ctx, b.AbsoluteDeadline, 100); err != nil || n != 0 {
		t.Fatalf("DeleteExpired at b's absolute deadline = %d, %v; want 0", n, err)
	}
	wantNoEnding(t, h.Store, b.ID)
	wantNoEnding(t, h.Store, b2.ID)
}

// testRenewLinkSeen: the link Renew leaves says whether the replaced
// token had been presented, from the session as Renew found it: a token
// fresh from Create counts as presented, a renewed one not until Seen, and
// a Seen after the renewal changes no link.
func testRenewLinkSeen(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now)) // Gen 0, SeenGen 0

	at1 := now.Add(time.Minute)
	r1 := renew(t, h.Store, s, newID(t), at1, "198.51.100.1") // Gen 1, SeenGen 0
	link0 := link(s, 0, true, at1)
	wantEnded(t, h.Store, s.ID, link0)

	// A Seen of another generation does not present r1's token.
	if err := h.Store.Seen(ctx, r1.ID, 0, at1); err != nil {
		t.Fatalf("Seen with a stale gen: %v", err)
	}
	wantSession(t, mustFind(t, h.Store, r1.ID), r1)
	at2 := now.Add(2 * time.Minute)
	r2 := renew(t, h.Store, r1, newID(t), at2, "198.51.100.2") // Gen 2, SeenGen 0
	link1 := link(s, 1, false, at2)
	wantEnded(t, h.Store, r1.ID, link1)

	at3 := now.Add(3 * time.Minute)
	if err := h.Store.Seen(ctx, r2.ID, r2.Gen, at3); err != nil {
		t.Fatalf("Seen: %v", err)
	}
	r2.SeenGen, r2.SeenAt = r2.Gen, at3
	wantSession(t, mustFind(t, h.Store, r2.ID), r2)
	at4 := now.Add(4*time.Minute + time.Microsecond)
	r3 := renew(t, h.Store, r2, newID(t), at4, "198.51.100.3") // Gen 3, SeenGen 2
	link2 := link(s, 2, true, at4)
	wantEnded(t, h.Store, r2.ID, link2)

	if r3.Gen != 3 || r3.SeenGen != 2 {
		t.Fatalf("the case's arithmetic is off: Gen %d, SeenGen %d", r3.Gen, r3.SeenGen)
	}
	unchanged(t, h.Store, r3)
	wantEnded(t, h.Store, s.ID, link0)
	wantEnded(t, h.Store, r1.ID, link1)
	wantEnded(t, h.Store, r2.ID, link2)
}

// testSeen: Seen moves SeenGen on to the current generation, once, at the
// time given; any other generation, or a second call, writes nothing and
// returns nil.
func testSeen(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now)) // Gen 0, SeenGen 0
	if err := h.Store.Seen(ctx, s.ID, 0, now.Add(time.Minute)); err != nil {
		t.Fatalf("Seen of a session's first token: %v", err)
	}
	unchanged(t, h.Store, s)

	want := renew(t, h.Store, s, newID(t), now.Add(2*time.Minute), "198.51.100.5") // Gen 1, SeenGen 0
	at := now.Add(3*time.Minute + time.Microsecond)
	for _, gen := range []int64{0, 2, -1} {
		if err := h.Store.Seen(ctx, want.ID, gen, at); err != nil {
			t.Fatalf("Seen with gen %d of a session of gen 1: %v, want nil", gen, err)
		}
		wantSession(t, mustFind(t, h.Store, want.ID), want)
	}
	if err := h.Store.Seen(ctx, want.ID, 1, at); err != nil {
		t.Fatalf("Seen: %v", err)
	}
	want.SeenGen, want.SeenAt = 1, at
	got := mustFind(t, h.Store, want.ID)
	wantSession(t, got, want)
	if got.SeenAt.Location() != time.UTC {
		t.Errorf("SeenAt location = %v, want UTC", got.SeenAt.Location())
	}
	if got.Pending() {
		t.Errorf("the session is pending after Seen")
	}
	if err := h.Store.Seen(ctx, want.ID, 1, at.Add(time.Minute)); err != nil {
		t.Fatalf("second Seen: %v, want nil", err)
	}
	wantSession(t, mustFind(t, h.Store, want.ID), want)
	wantEnded(t, h.Store, s.ID, link(s, 0, true, now.Add(2*time.Minute)))

	// Between SeenGen and Gen, only Gen counts.
	p := sample(t, "alice", now)
	p.Gen, p.SeenGen = 5, 2
	create(t, h.Store, p)
	for _, gen := range []int64{3, 4, 2, 6} {
		if err := h.Store.Seen(ctx, p.ID, gen, at); err != nil {
			t.Fatalf("Seen with gen %d of a session of gen 5: %v, want nil", gen, err)
		}
		unchanged(t, h.Store, p)
	}
	if err := h.Store.Seen(ctx, p.ID, 5, at); err != nil {
		t.Fatalf("Seen: %v", err)
	}
	p.SeenGen, p.SeenAt = 5, at
	unchanged(t, h.Store, p)
}

// testSeenGone: Seen of a session that is not there, expired, ended or
// renewed away returns ErrNotFound and writes nothing.
func testSeenGone(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	wantErr(t, "Seen of a missing session", h.Store.Seen(ctx, newID(t), 0, now), session.ErrNotFound)
	for _, tc := range []struct {
		name string
		at   time.Duration
		idle time.Duration
	}{
		{"idle deadline reached", 30 * time.Minute, 30 * time.Minute},
		{"idle deadline passed", 31 * time.Minute, 30 * time.Minute},
		{"absolute deadline reached", 12 * time.Hour, 20 * time.Hour},
		{"absolute deadline passed", 13 * time.Hour, 20 * time.Hour},
	} {
		s := sample(t, "alice", now)
		s.Gen, s.IdleDeadline = 1, now.Add(tc.idle) // pending: a write would show
		create(t, h.Store, s)
		wantErr(t, tc.name+": Seen", h.Store.Seen(ctx, s.ID, 1, now.Add(tc.at)), session.ErrNotFound)
		unchanged(t, h.Store, s)
	}

	s := sample(t, "alice", now)
	s.Gen = 1
	create(t, h.Store, s)
	if err := h.Store.Delete(ctx, s.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantErr(t, "Seen of a deleted session", h.Store.Seen(ctx, s.ID, 1, now), session.ErrNotFound)
	mustBeGone(t, h.Store, s.ID)
	wantHandleGone(t, h.Store, s.Handle)
	wantEnded(t, h.Store, s.ID, session.Ending{UserID: "alice", At: now, Why: "signed out"})

	r := create(t, h.Store, sample(t, "alice", now))
	r2 := renew(t, h.Store, r, newID(t), now, "x")
	wantErr(t, "Seen of a replaced token", h.Store.Seen(ctx, r.ID, 1, now), session.ErrNotFound)
	wantErr(t, "Seen of a replaced token with its own gen", h.Store.Seen(ctx, r.ID, 0, now), session.ErrNotFound)
	unchanged(t, h.Store, r2)
	wantEnded(t, h.Store, r.ID, link(r, 0, true, now))
}

// testRotateAfterRenew: a rotation of a pending session makes its new
// token current and seen at once, leaves nothing under the renewed ID and
// keeps the link of the token renewed before.
func testRotateAfterRenew(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, rich(t, "alice", now)) // Gen 3, SeenGen 2
	renewed := renew(t, h.Store, s, newID(t), now.Add(time.Minute), "198.51.100.8")
	rotated := newID(t)
	at, authAt := now.Add(2*time.Minute+time.Microsecond), now.Add(2*time.Minute)
	if err := h.Store.Rotate(ctx, renewed.ID, rotated, at, authAt, 9); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	want := renewed
	want.ID, want.AuthAt, want.Epoch = rotated, authAt, 9
	want.Gen, want.SeenGen, want.IssuedAt, want.SeenAt = 5, 5, at, at
	mustBeGone(t, h.Store, renewed.ID)
	wantNoEnding(t, h.Store, renewed.ID)
	unchanged(t, h.Store, want)
	wantEnded(t, h.Store, s.ID, link(s, 3, false, now.Add(time.Minute)))

	wantErr(t, "Renew of the rotated-away ID", h.Store.Renew(ctx, renewed.ID, newID(t), 4, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	wantErr(t, "Seen of the rotated-away ID", h.Store.Seen(ctx, renewed.ID, 4, at), session.ErrNotFound)
	wantErr(t, "Renew with the gen before the rotation", h.Store.Renew(ctx, rotated, newID(t), 4, at, at.Add(time.Hour), "x"), session.ErrNotFound)
	unchanged(t, h.Store, want)
	// The rotated token renews with its own generation.
	again := renew(t, h.Store, want, newID(t), at.Add(time.Minute), "x")
	if again.Gen != 6 || again.SeenGen != 5 {
		t.Fatalf("the case's arithmetic is off: Gen %d, SeenGen %d", again.Gen, again.SeenGen)
	}
	wantSession(t, mustFind(t, h.Store, again.ID), again)
	wantEnded(t, h.Store, rotated, link(s, 5, true, at.Add(time.Minute)))
}

// testBind: each binding challenge number is used once, in order; a key
// binds a session once and for all.
func testBind(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now)) // BindSeq 0, not bound
	key := jwk(200, "first ü")
	at := now.Add(time.Minute)
	for _, seq := range []int64{1, -1, 5} {
		for _, k := range []string{key, ""} {
			wantErr(t, fmt.Sprintf("Bind with seq %d of a session at 0", seq), h.Store.Bind(ctx, s.ID, at, seq, k), session.ErrNotFound)
			unchanged(t, h.Store, s)
		}
	}

	// An empty key uses the challenge and binds nothing.
	if err := h.Store.Bind(ctx, s.ID, at, 0, ""); err != nil {
		t.Fatalf("Bind without a key: %v", err)
	}
	want := s
	want.BindSeq = 1
	unchanged(t, h.Store, want)
	if got := mustFind(t, h.Store, s.ID); got.Bound() || !got.BoundAt.IsZero() {
		t.Fatalf("bound without a key: %q at %v", got.BindKey, got.BoundAt)
	}
	wantErr(t, "Bind with a used seq", h.Store.Bind(ctx, s.ID, at, 0, key), session.ErrNotFound)
	unchanged(t, h.Store, want)

	// A key binds.
	boundAt := now.Add(2*time.Minute + time.Microsecond)
	if err := h.Store.Bind(ctx, s.ID, boundAt, 1, key); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	want.BindSeq, want.BindKey, want.BoundAt = 2, key, boundAt
	got := mustFind(t, h.Store, s.ID)
	wantSession(t, got, want)
	if got.BoundAt.Location() != time.UTC {
		t.Errorf("BoundAt location = %v, want UTC", got.BoundAt.Location())
	}

	// Once bound, no key binds it again, not even the same one, and the
	// challenge is not used.
	later := now.Add(3 * time.Minute)
	for _, k := range []string{jwk(200, "second"), key} {
		wantErr(t, "Bind of a bound session", h.Store.Bind(ctx, s.ID, later, 2, k), session.ErrNotFound)
		unchanged(t, h.Store, want)
	}
	// An empty key still uses challenges, and leaves the binding as it is.
	if err := h.Store.Bind(ctx, s.ID, later, 2, ""); err != nil {
		t.Fatalf("Bind without a key of a bound session: %v", err)
	}
	want.BindSeq = 3
	unchanged(t, h.Store, want)

	// The largest key binds, byte for byte.
	b := create(t, h.Store, sample(t, "bob", now))
	big := jwk(4096, "ключ")
	if err := h.Store.Bind(ctx, b.ID, at, 0, big); err != nil {
		t.Fatalf("Bind with a key of 4096 bytes: %v", err)
	}
	b.BindSeq, b.BindKey, b.BoundAt = 1, big, at
	unchanged(t, h.Store, b)

	// The binding stays with the session through Renew.
	want = renew(t, h.Store, want, newID(t), later, "x")
	if err := h.Store.Bind(ctx, want.ID, later, 3, ""); err != nil {
		t.Fatalf("Bind after Renew: %v", err)
	}
	want.BindSeq = 4
	unchanged(t, h.Store, want)
}

// testBindGone: Bind of a session that is not there, expired, ended or
// renewed away returns ErrNotFound and writes nothing.
func testBindGone(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	key := jwk(200, "k")
	wantErr(t, "Bind of a missing session", h.Store.Bind(ctx, newID(t), now, 0, key), session.ErrNotFound)
	for _, tc := range []struct {
		name string
		at   time.Duration
		idle time.Duration
	}{
		{"idle deadline reached", 30 * time.Minute, 30 * time.Minute},
		{"idle deadline passed", 31 * time.Minute, 30 * time.Minute},
		{"absolute deadline reached", 12 * time.Hour, 20 * time.Hour},
		{"absolute deadline passed", 13 * time.Hour, 20 * time.Hour},
	} {
		s := sample(t, "alice", now)
		s.IdleDeadline = now.Add(tc.idle)
		create(t, h.Store, s)
		wantErr(t, tc.name+": Bind", h.Store.Bind(ctx, s.ID, now.Add(tc.at), 0, key), session.ErrNotFound)
		wantErr(t, tc.name+": Bind without a key", h.Store.Bind(ctx, s.ID, now.Add(tc.at), 0, ""), session.ErrNotFound)
		unchanged(t, h.Store, s)
	}

	s := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(ctx, s.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantErr(t, "Bind of a deleted session", h.Store.Bind(ctx, s.ID, now, 0, key), session.ErrNotFound)
	mustBeGone(t, h.Store, s.ID)
	wantHandleGone(t, h.Store, s.Handle)
	wantEnded(t, h.Store, s.ID, session.Ending{UserID: "alice", At: now, Why: "signed out"})

	r := create(t, h.Store, sample(t, "alice", now))
	r2 := renew(t, h.Store, r, newID(t), now, "x")
	wantErr(t, "Bind of a replaced token", h.Store.Bind(ctx, r.ID, now, 0, key), session.ErrNotFound)
	unchanged(t, h.Store, r2)
	wantEnded(t, h.Store, r.ID, link(r, 0, true, now))
}

// testBindRace: of many Binds with the same challenge number at once,
// exactly one succeeds, with a key or without.
func testBindRace(t *testing.T, h Harness) {
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	const workers = 16
	keys := make([]string, workers)
	for i := range keys {
		keys[i] = jwk(200, fmt.Sprint("worker ", i))
	}
	at := now.Add(time.Minute)
	race := func(seq int64, key func(i int) string) int {
		t.Helper()
		errs := make([]error, workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = h.Store.Bind(context.Background(), s.ID, at, seq, key(i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("Binds %d and %d with seq %d both succeeded", winner, i, seq)
			case err == nil:
				winner = i
			case !errors.Is(err, session.ErrNotFound):
				t.Fatalf("Bind %d: %v, want nil or ErrNotFound", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("no Bind with seq %d succeeded", seq)
		}
		return winner
	}
	w := race(0, func(i int) string { return keys[i] })
	want := s
	want.BindSeq, want.BindKey, want.BoundAt = 1, keys[w], at
	unchanged(t, h.Store, want)
	race(1, func(int) string { return "" })
	want.BindSeq = 2
	unchanged(t, h.Store, want)
}

// testNoteUnbound: NoteUnbound counts each refused request and returns
// the count, through Renew too; it counts nothing for a session that is
// not there, expired, ended or renewed away.
func testNoteUnbound(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	at := now.Add(time.Minute)
	for want := int64(1); want <= 3; want++ {
		if n, err := h.Store.NoteUnbound(ctx, s.ID, at); err != nil || n != want {
			t.Fatalf("NoteUnbound = %d, %v; want %d, nil", n, err, want)
		}
	}
	want := s
	want.Unbound = 3
	unchanged(t, h.Store, want)

	want = renew(t, h.Store, want, newID(t), at, "x")
	if n, err := h.Store.NoteUnbound(ctx, want.ID, at); err != nil || n != 4 {
		t.Fatalf("NoteUnbound after Renew = %d, %v; want 4, nil", n, err)
	}
	want.Unbound = 4
	if n, err := h.Store.NoteUnbound(ctx, s.ID, at); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("NoteUnbound of a replaced token = %d, %v; want ErrNotFound", n, err)
	}
	unchanged(t, h.Store, want)
	wantEnded(t, h.Store, s.ID, link(s, 0, true, at))

	if n, err := h.Store.NoteUnbound(ctx, newID(t), at); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("NoteUnbound of a missing session = %d, %v; want ErrNotFound", n, err)
	}
	for _, tc := range []struct {
		name string
		at   time.Duration
		idle time.Duration
	}{
		{"idle deadline reached", 30 * time.Minute, 30 * time.Minute},
		{"absolute deadline passed", 13 * time.Hour, 20 * time.Hour},
	} {
		e := sample(t, "alice", now)
		e.IdleDeadline, e.Unbound = now.Add(tc.idle), 7
		create(t, h.Store, e)
		if n, err := h.Store.NoteUnbound(ctx, e.ID, now.Add(tc.at)); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s: NoteUnbound = %d, %v; want ErrNotFound", tc.name, n, err)
		}
		unchanged(t, h.Store, e)
	}

	d := create(t, h.Store, sample(t, "alice", now))
	if err := h.Store.Delete(ctx, d.ID, now, "signed out"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n, err := h.Store.NoteUnbound(ctx, d.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("NoteUnbound of a deleted session = %d, %v; want ErrNotFound", n, err)
	}
	mustBeGone(t, h.Store, d.ID)
	wantHandleGone(t, h.Store, d.Handle)
	wantEnded(t, h.Store, d.ID, session.Ending{UserID: "alice", At: now, Why: "signed out"})
}

// testNoteUnboundRace: concurrent NoteUnbounds count every one, and each
// returns a different count.
func testNoteUnboundRace(t *testing.T, h Harness) {
	now := NewClock().Now()
	s := create(t, h.Store, sample(t, "alice", now))
	const workers, calls = 8, 25
	counts := make([][]int64, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range calls {
				n, err := h.Store.NoteUnbound(context.Background(), s.ID, now)
				if err != nil {
					errs[w] = err
					return
				}
				counts[w] = append(counts[w], n)
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("NoteUnbound: %v", err)
		}
	}
	all := slices.Sorted(slices.Values(slices.Concat(counts...)))
	for i, n := range all {
		if n != int64(i+1) {
			t.Fatalf("NoteUnbound returned counts %v; want each of 1 to %d once", all, workers*calls)
		}
	}
	want := s
	want.Unbound = workers * calls
	unchanged(t, h.Store, want)
}

// testRenewRace: of many Renews of the same token and generation at once,
// onto different IDs, exactly one succeeds, and the session lives under
// its new ID only.
func testRenewRace(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	const workers, rounds = 12, 5
	for round := range rounds {
		s := create(t, h.Store, sample(t, fmt.Sprint("user", round), now))
		at := now.Add(time.Duration(round+1) * time.Minute)
		next := make([]session.ID, workers)
		errs := make([]error, workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range workers {
			next[i] = newID(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = h.Store.Renew(ctx, s.ID, next[i], 0, at, at.Add(30*time.Minute), fmt.Sprint("198.51.100.", i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("Renews %d and %d of the same token both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, session.ErrNotFound):
				t.Fatalf("Renew %d: %v, want nil or ErrNotFound", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no Renew succeeded")
		}
		want := s
		want.ID, want.Gen, want.IssuedAt, want.LastSeenAt, want.IdleDeadline, want.LastIP =
			next[winner], 1, at, at, at.Add(30*time.Minute), fmt.Sprint("198.51.100.", winner)
		unchanged(t, h.Store, want)
		for i, id := range next {
			if i != winner {
				mustBeGone(t, h.Store, id)
				wantNoEnding(t, h.Store, id)
			}
		}
		mustBeGone(t, h.Store, s.ID)
		wantEnded(t, h.Store, s.ID, link(s, 0, true, at))
		list, err := h.Store.List(ctx, s.UserID, at)
		if err != nil || len(list) != 1 || list[0].ID != want.ID {
			t.Fatalf("List after racing Renews = %v, %v; want [%s]", ids(list), err, want.ID.Short())
		}
	}
}

// testRenewDeleteRace: Renew races Delete, DeleteForUser or
// DeleteAllForUser of the same session. Either may win, but never both: a
// session whose deletion succeeded stays dead under every ID and its
// handle, and one that was renewed first lives on under its new ID only
// if the deletion named the old one.
func testRenewDeleteRace(t *testing.T, h Harness) {
	ctx := context.Background()
	now := NewClock().Now()
	kinds := []struct {
		name string
		kill func(s session.Session, at time.Time) (removed bool, err error)
		why  string
		all  bool // the kill ends the session under whatever ID it has
	}{
		{"delete", func(s session.Session, at time.Time) (bool, error) {
			err := h.Store.Delete(ctx, s.ID, at, "signed out")
			return err == nil, err
		}, "signed out", false},
		{"delete_for_user", func(s session.Session, at time.Time) (bool, error) {
			err := h.Store.DeleteForUser(ctx, s.UserID, s.ID, at, "revoked")
			return err == nil, err
		}, "revoked", false},
		{"delete_all_for_user", func(s session.Session, at time.Time) (bool, error) {
			n, err := h.Store.DeleteAllForUser(ctx, s.UserID, session.ID{}, at, "password changed")
			if err == nil && n != 1 {
				err = fmt.Errorf("DeleteAllForUser removed %d sessions, want 1", n)
			}
			return err == nil, err
		}, "password changed", true},
	}
	const rounds = 30
	won := map[string][2]int{} // per kind: renewals first, deletions first
	for round := range rounds {
		for _, k := range kinds {
			s := create(t, h.Store, sample(t, fmt.Sprint(k.name, round), now))
			at := now.Add(time.Duration(round+1) * time.Second)
			next := newID(t)
			var renewErr, killErr error
			var removed bool
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				renewErr = h.Store.Renew(ctx, s.ID, next, 0, at, at.Add(30*time.Minute), "x")
			}()
			go func() { defer wg.Done(); <-start; removed, killErr = k.kill(s, at) }()
			close(start)
			wg.Wait()
			if renewErr != nil && !errors.Is(renewErr, session.ErrNotFound) {
				t.Fatalf("%s: Renew: %v", k.name, renewErr)
			}
			if killErr != nil && !errors.Is(killErr, session.ErrNotFound) {
				t.Fatalf("%s: %v", k.name, killErr)
			}
			ending := session.Ending{UserID: s.UserID, At: at, Why: k.why}
			switch {
			case renewErr == nil && removed && !k.all:
				t.Fatalf("%s: both the Renew and the deletion of %s succeeded", k.name, s.ID.Short())
			case renewErr != nil && !removed:
				t.Fatalf("%s: neither the Renew (%v) nor the deletion (%v) succeeded", k.name, renewErr, killErr)
			case renewErr == nil && removed: // renewed, then the new ID revoked
				mustBeGone(t, h.Store, next)
				wantHandleGone(t, h.Store, s.Handle)
				wantEnded(t, h.Store, s.ID, link(s, 0, true, at))
				wantEnded(t, h.Store, next, ending)
				won[k.name] = [2]int{won[k.name][0] + 1, won[k.name][1]}
			case renewErr == nil: // renewed; the deletion found nothing under the old ID
				want := s
				want.ID, want.Gen, want.IssuedAt, want.LastSeenAt, want.IdleDeadline, want.LastIP = next, 1, at, at, at.Add(30*time.Minute), "x"
				unchanged(t, h.Store, want)
				wantEnded(t, h.Store, s.ID, link(s, 0, true, at))
				won[k.name] = [2]int{won[k.name][0] + 1, won[k.name][1]}
			default: // deleted; the renewal found nothing
				mustBeGone(t, h.Store, next)
				wantNoEnding(t, h.Store, next)
				wantHandleGone(t, h.Store, s.Handle)
				wantEnded(t, h.Store, s.ID, ending)
				won[k.name] = [2]int{won[k.name][0], won[k.name][1] + 1}
			}
			mustBeGone(t, h.Store, s.ID)
			if list, err := h.Store.List(ctx, s.UserID, at); err != nil {
				t.Fatalf("%s: List: %v", k.name, err)
			} else if n := len(list); n > 1 || n == 1 && (list[0].ID != next || removed) {
				t.Fatalf("%s: List after the race = %v (Renew %v, deletion %v)", k.name, ids(list), renewErr, killErr)
			}
		}
	}
	t.Logf("renewals first, deletions first: %v", won)
}
