package sqlitestore

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(context.Background(), db, Options{})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); db.Close() })
	return st
}

// Values that could confuse the single-value record: separators, digits,
// NUL, multi-byte characters, empty strings.
func TestFindRoundTripsAwkwardValues(t *testing.T) {
	st := newTestStore(t)
	now := time.UnixMicro(1_700_000_000_123_456).UTC()
	epochs := []int64{0, 1, -1, 1<<53 + 1, math.MaxInt64, math.MinInt64, 42}
	for i, v := range []string{"", " ", "1 2 3 ", "a\x00b", "ü 🌍 ", strings.Repeat("9", 600), "line\nbreak"} {
		s := session.Session{
			UserID: "u" + v, CreatedAt: now, LastSeenAt: now.Add(time.Second),
			IdleDeadline: now.Add(time.Minute), AbsoluteDeadline: now.Add(time.Hour),
			CreatedIP: v, UserAgent: v + v, LastIP: v,
			Epoch: epochs[i], Method: v + "m", AuthAt: now.Add(-time.Duration(i) * time.Microsecond),
		}
		s.ID[0], s.ID[1] = byte(i), 0xAA
		if err := st.Create(context.Background(), s); err != nil {
			t.Fatalf("Create %q: %v", v, err)
		}
		got, err := st.Find(context.Background(), s.ID)
		if err != nil {
			t.Fatalf("Find %q: %v", v, err)
		}
		if got != s {
			t.Fatalf("Find %q = %+v, want %+v", v, got, s)
		}
	}
}

func TestDecodeRecordRejectsCorruption(t *testing.T) {
	good := "1 2 3 4 5 -6 1 0 2 1 3 aUAipwd"
	s, ok := decodeRecord(good)
	if !ok || s.UserID != "a" || s.UserAgent != "UA" || s.LastIP != "i" || s.CreatedIP != "" || s.Method != "pwd" ||
		s.Epoch != -6 || s.AuthAt.UnixMicro() != 5 || s.AbsoluteDeadline.UnixMicro() != 4 {
		t.Fatalf("decodeRecord(%q) = %+v, %v", good, s, ok)
	}
	for _, rec := range []string{
		"", "1 2 3 4", "1 2 3 4 5 6 1 0 2 1 3 ", "1 2 3 4 5 6 1 0 2 1 3 aUAipwdX", "1 2 3 4 5 6 -1 0 2 1 3 aUAipwd",
		"1 2 3 4 5 6 1 0 2 1 -3 aUAipwd", "x 2 3 4 5 6 1 0 2 1 3 aUAipwd", "1 2 3 4 5 6 99 0 2 1 3 aUAipwd",
		"1 2 3 4 5 6 1 0 2 1 3aUAipwd", "1 2 3 4 5 6 1 0 2 1 4 aUAipwd",
		"1 2 3 4 1 0 2 1 aUAi", // the record of an earlier version
	} {
		if _, ok := decodeRecord(rec); ok {
			t.Errorf("decodeRecord accepted %q", rec)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add("1 2 3 4 5 6 1 0 2 1 3 aUAipwd")
	f.Fuzz(func(t *testing.T, rec string) { decodeRecord(rec) })
}

func TestFindHonoursContext(t *testing.T) {
	st := newTestStore(t)
	// Hold every reader, so Find can only wait.
	var held []*reader
	for range st.nreaders {
		held = append(held, <-st.readers)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := st.Find(ctx, session.ID{1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Find with every reader busy = %v, want the context's error", err)
	}
	for _, r := range held {
		st.readers <- r
	}
	// A context that has ended is refused before any reader is taken.
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := st.Find(done, session.ID{1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Find with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := st.Find(context.Background(), session.ID{1}); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find = %v, want ErrNotFound", err)
	}
}

func TestNewRefusesTooFewConnections(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := New(ctx, db, Options{}); err == nil || !strings.Contains(err.Error(), "SetMaxOpenConns") {
		t.Fatalf("New with one connection allowed = %v, want an error naming SetMaxOpenConns", err)
	}
	db.SetMaxOpenConns(0)
	st, err := New(ctx, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find(ctx, session.ID{1}); !errors.Is(err, errClosed) {
		t.Fatalf("Find after Close = %v, want errClosed", err)
	}
}
