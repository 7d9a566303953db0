package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

func newTestStore(t testing.TB) *Store {
	t.Helper()
	st, _, _ := openTestStore(t)
	return st
}

// openTestStore returns a Store on a new database file, its *sql.DB and
// the file's path, all closed at the end of the test.
func openTestStore(t testing.TB) (*Store, *sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(context.Background(), db, Options{})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); db.Close() })
	return st, db, path
}

// Values that could confuse the single-value record: separators, digits,
// NUL, multi-byte characters, empty strings; handles and secrets whose
// bytes are spaces, digits, NUL or 0xFF; a binding at the Unix epoch
// (microsecond 0, not NULL). Find (the record) and FindHandle and List
// (database/sql) return the same.
func TestFindRoundTripsAwkwardValues(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	now := time.UnixMicro(1_700_000_000_123_456).UTC()
	numbers := []int64{0, 1, -1, 1<<53 + 1, math.MaxInt64, math.MinInt64, 42}
	bytesOf := []byte{0, ' ', '1', 0xFF, 0x80, '\n', 0x7F}
	boundAt := []time.Time{{}, time.UnixMicro(0).UTC(), now.Add(time.Microsecond), {}, time.UnixMicro(-1).UTC(), now, {}}
	for i, v := range []string{"", " ", "1 2 3 ", "a\x00b", "ü 🌍 ", strings.Repeat("9", 600), "line\nbreak"} {
		s := session.Session{
			UserID: "u" + v, CreatedAt: now, LastSeenAt: now.Add(time.Second),
			IdleDeadline: now.Add(time.Minute), AbsoluteDeadline: now.Add(time.Hour),
			CreatedIP: v, UserAgent: v + v, LastIP: v,
			Epoch: numbers[i], Method: v + "m", AuthAt: now.Add(-time.Duration(i) * time.Microsecond),
			Gen: numbers[(i+1)%len(numbers)], SeenGen: numbers[(i+2)%len(numbers)],
			SeenAt: now.Add(time.Duration(i) * time.Second), IssuedAt: now.Add(-time.Duration(i) * time.Second),
			BoundAt: boundAt[i], BindSeq: numbers[(i+3)%len(numbers)], Unbound: numbers[(i+4)%len(numbers)],
		}
		if !boundAt[i].IsZero() || i == 0 {
			s.BindKey = `{"kty":"EC","crv":"P-256","x":"` + v + `"}`
		}
		s.ID[0], s.ID[1] = byte(i), 0xAA
		for j := range s.Handle {
			s.Handle[j] = bytesOf[i]
		}
		s.Handle[0] = byte(i) + 1 // distinct, and none zero
		for j := range s.Secret {
			s.Secret[j] = bytesOf[(i+j)%len(bytesOf)]
		}
		if err := st.Create(ctx, s); err != nil {
			t.Fatalf("Create %q: %v", v, err)
		}
		got, err := st.Find(ctx, s.ID)
		if err != nil {
			t.Fatalf("Find %q: %v", v, err)
		}
		if got != s {
			t.Fatalf("Find %q = %+v, want %+v", v, got, s)
		}
		if got, err := st.FindHandle(ctx, s.Handle); err != nil || got != s {
			t.Fatalf("FindHandle %q = %+v, %v; want %+v", v, got, err, s)
		}
		list, err := st.List(ctx, s.UserID, now)
		if err != nil || len(list) != 1 || list[0] != s {
			t.Fatalf("List %q = %+v, %v; want [%+v]", v, list, err, s)
		}
	}
}

// A bind key of the largest size the contract allows reads back whole.
func TestFindLargestBindKey(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	now := time.UnixMicro(1_700_000_000_123_456).UTC()
	s := session.Session{
		UserID: "alice", CreatedAt: now, LastSeenAt: now, IdleDeadline: now.Add(time.Minute),
		AbsoluteDeadline: now.Add(time.Hour), AuthAt: now, SeenAt: now, IssuedAt: now,
		BindKey: `{"k":"` + strings.Repeat("ü", (4096-8)/2) + `"}`, BoundAt: now, BindSeq: 1,
		Handle: session.NewHandle(),
	}
	s.ID[0], s.Secret[31] = 1, 1
	if len(s.BindKey) != 4096 {
		t.Fatalf("test key of %d bytes", len(s.BindKey))
	}
	if err := st.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Find(ctx, s.ID); err != nil || got != s {
		t.Fatalf("Find = %+v, %v; want %+v", got, err, s)
	}
}

// Records for decodeRecord's tests: a handle and a secret in hexadecimal,
// and a record of a bound session made of them.
var (
	testHandle = "000102030405060708090A0B0C0D0E0F"
	testSecret = "FF" + strings.Repeat("00", 30) + "ab"
	goodRecord = "1 2 3 4 5 -6 7 6 8 9 10 11 12 " + testHandle + " " + testSecret + " 1 0 2 1 3 2 aUAipwd{}"
)

func TestDecodeRecord(t *testing.T) {
	s, ok := decodeRecord(goodRecord)
	want := session.Session{
		UserID: "a", CreatedAt: time.UnixMicro(1).UTC(), LastSeenAt: time.UnixMicro(2).UTC(),
		IdleDeadline: time.UnixMicro(3).UTC(), AbsoluteDeadline: time.UnixMicro(4).UTC(),
		UserAgent: "UA", LastIP: "i", Epoch: -6, Method: "pwd", AuthAt: time.UnixMicro(5).UTC(),
		Handle: session.Handle{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		Gen:    7, SeenGen: 6, SeenAt: time.UnixMicro(8).UTC(), IssuedAt: time.UnixMicro(9).UTC(),
		BindKey: "{}", BoundAt: time.UnixMicro(10).UTC(), BindSeq: 11, Unbound: 12,
	}
	want.Secret[0], want.Secret[31] = 0xFF, 0xAB
	if !ok || s != want {
		t.Fatalf("decodeRecord(%q) = %+v, %v; want %+v", goodRecord, s, ok, want)
	}
	// Not bound: an empty bound at, the zero time.
	unbound := strings.Replace(goodRecord, " 9 10 11 ", " 9  11 ", 1)
	unbound = strings.Replace(unbound, " 3 2 aUAipwd{}", " 3 0 aUAipwd", 1)
	want.BindKey, want.BoundAt = "", time.Time{}
	if s, ok := decodeRecord(unbound); !ok || s != want {
		t.Fatalf("decodeRecord(%q) = %+v, %v; want %+v", unbound, s, ok, want)
	}
}

func TestDecodeRecordRejectsCorruption(t *testing.T) {
	h, k := testHandle, testSecret
	for _, rec := range []string{
		"",
		"1 2 3 4",
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 2 ",              // texts missing
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 2 aUAipwd{}X",    // one byte too many
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " -1 0 2 1 3 2 aUAipwd{}",    // negative length
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 -2 aUAipwd{}",    // negative length
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 99 aUAipwd{}",    // length past the end
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 2aUAipwd{}",      // no separator
		"x 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 2 aUAipwd{}",     // not a number
		"1 2 3 4 5 -6 7 6 8 9 1.5 11 12 " + h + " " + k + " 1 0 2 1 3 2 aUAipwd{}",    // not a number
		"1 2 3 4 5 -6 7 6 8 9 10  12 " + h + " " + k + " 1 0 2 1 3 2 aUAipwd{}",       // only bound at may be empty
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k + " 1 0 2 1 3 2 aUAipwd{}" + h, // trailing bytes
		"1 2 3 4 5 -6 7 6 8 9 10 11 12  " + k + " 1 0 2 1 3 2 aUAipwd{}",              // NULL handle
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + "  1 0 2 1 3 2 aUAipwd{}",              // NULL secret
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h[2:] + " " + k + " 1 0 2 1 3 2 aUAipwd{}", // short handle
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + "00 " + k + " 1 0 2 1 3 2 aUAipwd{}",   // long handle
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k[1:] + " 1 0 2 1 3 2 aUAipwd{}", // odd secret
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k[2:] + " 1 0 2 1 3 2 aUAipwd{}", // short secret
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 0G" + h[2:] + " " + k + " 1 0 2 1 3 2 aUAipwd{}",
		"1 2 3 4 5 -6 7 6 8 9 10 11 12 " + h + " " + k[:62] + "x1 1 0 2 1 3 2 aUAipwd{}",
		"1 2 3 4 5 -6 7 6 8 9 10 11 " + h + " " + k + " 1 0 2 1 3 2 aUAipwd{}", // a number missing
		"1 2 3 4 5 -6 1 0 2 1 3 aUAipwd",                                       // the record of the previous version
		"1 2 3 4 1 0 2 1 aUAi",                                                 // and of the one before
	} {
		if s, ok := decodeRecord(rec); ok {
			t.Errorf("decodeRecord accepted %q as %+v", rec, s)
		}
	}
}

func TestUnhex(t *testing.T) {
	var dst [2]byte
	for in, want := range map[string]bool{"00ff": true, "A0fF": true, "0": false, "000": false, "00000": false,
		"0g00": false, "g000": false, "00 0": false, "": false, "-100": false} {
		if got := unhex(dst[:], in); got != want {
			t.Errorf("unhex(%q) = %v, want %v", in, got, want)
		}
	}
	if !unhex(dst[:], "9aF0") || dst != [2]byte{0x9A, 0xF0} {
		t.Fatalf("unhex(9aF0) = %x", dst)
	}
}

func TestCutInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		v    int64
		rest string
		ok   bool
	}{
		{"0 ", 0, "", true},
		{"-0 x", 0, "x", true},
		{"42 7 ", 42, "7 ", true},
		{"-42 ", -42, "", true},
		{"1764606401123456 ", 1764606401123456, "", true},
		{"999999999999999999 ", 999999999999999999, "", true},
		{"9223372036854775807 ", math.MaxInt64, "", true},
		{"-9223372036854775808 ", math.MinInt64, "", true},
		{"00000000000000000000000042 ", 42, "", true},
		{"9223372036854775808 ", 0, "", false},
		{"-9223372036854775809 ", 0, "", false},
		{"18446744073709551616 ", 0, "", false},
		{"99999999999999999999 ", 0, "", false},
		{"", 0, "", false},
		{" ", 0, "", false},
		{"- ", 0, "", false},
		{"-", 0, "", false},
		{"12", 0, "", false},
		{"+1 ", 0, "", false},
		{"1-2 ", 0, "", false},
		{"1.5 ", 0, "", false},
		{"0x1 ", 0, "", false},
		{"٣ ", 0, "", false},
	} {
		v, rest, ok := cutInt(tc.in)
		if v != tc.v || rest != tc.rest || ok != tc.ok {
			t.Errorf("cutInt(%q) = %d, %q, %v; want %d, %q, %v", tc.in, v, rest, ok, tc.v, tc.rest, tc.ok)
		}
	}
}

func FuzzCutInt(f *testing.F) {
	f.Add("-9223372036854775808 ")
	f.Fuzz(func(t *testing.T, in string) {
		v, rest, ok := cutInt(in)
		field, after, found := strings.Cut(in, " ")
		want, err := strconv.ParseInt(field, 10, 64)
		wantOK := found && err == nil && field != "" && field[0] != '+'
		if ok != wantOK || ok && (v != want || rest != after) {
			t.Fatalf("cutInt(%q) = %d, %q, %v; strconv says %d, %v", in, v, rest, ok, want, err)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(goodRecord)
	f.Add(strings.Replace(goodRecord, " 10 ", "  ", 1))
	f.Fuzz(func(t *testing.T, rec string) { decodeRecord(rec) })
}

func TestFindHonoursContext(t *testing.T) {
	st := newTestStore(t)
	// Hold every reader, so Find can only wait.
	var held []*reader
	for range st.nreaders {
		r, _ := st.readers.get(context.Background())
		held = append(held, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := st.Find(ctx, session.ID{1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Find with every reader busy = %v, want the context's error", err)
	}
	for _, r := range held {
		st.readers.put(r)
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

// BenchmarkFind is the store's share of the request path: one Find of a
// bound session, from the cache (the database unchanged since the last
// Find), and through a reader (the cache off).
func BenchmarkFind(b *testing.B) {
	b.Run("cached", func(b *testing.B) { benchmarkFind(b, true) })
	b.Run("read", func(b *testing.B) { benchmarkFind(b, false) })
}

func benchmarkFind(b *testing.B, cached bool) {
	st := newTestStore(b)
	if !cached {
		st.cache.close()
	}
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := session.Session{
		UserID: "bench-user", CreatedAt: now, LastSeenAt: now, IdleDeadline: now.Add(time.Hour),
		AbsoluteDeadline: now.Add(12 * time.Hour), CreatedIP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		LastIP: "192.0.2.1", Epoch: 1, Method: "password", AuthAt: now, Handle: session.NewHandle(),
		Gen: 3, SeenGen: 3, SeenAt: now, IssuedAt: now,
		BindKey: `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`,
		BoundAt: now, BindSeq: 2,
	}
	s.ID[0], s.Secret[0] = 1, 1
	if err := st.Create(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Find(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// Every reader maps the database file, as much of it as asked for.
func TestReadersMapTheFile(t *testing.T) {
	for _, c := range []struct {
		opt, want int64
	}{
		{0, DefaultMmapSize},
		{64 << 20, 64 << 20},
		{-1, 0},
	} {
		t.Run(strconv.FormatInt(c.opt, 10), func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			st, err := New(ctx, db, Options{MmapSize: c.opt})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var readers []*reader
			for range st.nreaders {
				r, _ := st.readers.get(ctx)
				readers = append(readers, r)
			}
			for i, r := range readers {
				var got int64
				if err := r.conn.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&got); err != nil || got != c.want {
					t.Errorf("reader %d: mmap_size = %d, %v; want %d", i, got, err, c.want)
				}
				st.readers.put(r)
			}
		})
	}
}

func TestReadersLastInFirstOut(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	// At light load one reader serves every Find: the one put back last.
	first, err := st.readers.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.readers.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.readers.put(second)
	st.readers.put(first)
	// Every reader taken is put back before the test can fail, or Close
	// (in the cleanup) would wait for it.
	for i := range 3 {
		r, err := st.readers.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.readers.put(r)
		if r != first {
			t.Fatalf("get %d took another reader than the one put back last", i)
		}
	}
	for range 10 {
		if _, err := st.Find(ctx, session.ID{1}); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Find = %v, want ErrNotFound", err)
		}
	}
	r, err := st.readers.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.readers.put(r)
	if r != first {
		t.Fatal("sequential Finds did not leave the same reader on top")
	}
}

func TestFindAfterCloseFails(t *testing.T) {
	st := newTestStore(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find(context.Background(), session.ID{1}); !errors.Is(err, errClosed) {
		t.Fatalf("Find after Close = %v, want errClosed", err)
	}
}
