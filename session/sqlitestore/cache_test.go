package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// The environment variables that make the test binary the other process of
// TestFindCacheSeesOtherProcesses instead of running the tests.
const (
	helperDB  = "SQLITESTORE_TEST_HELPER_DB"
	helperSQL = "SQLITESTORE_TEST_HELPER_SQL"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(helperDB); path != "" {
		os.Exit(runHelper(path, os.Getenv(helperSQL)))
	}
	os.Exit(m.Run())
}

// runHelper runs one statement on the database at path, as another
// program would, and exits. A SELECT's single number is printed.
func runHelper(path, stmt string) int {
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	if strings.HasPrefix(stmt, "SELECT") {
		var n int64
		if err := db.QueryRow(stmt).Scan(&n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(n)
		return 0
	}
	res, err := db.Exec(stmt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		fmt.Fprintf(os.Stderr, "%d rows changed, want 1 (%v)\n", n, err)
		return 1
	}
	return 0
}

// newCachedStore returns a Store on a new database file, its *sql.DB and
// the file's path; it fails the test if Find's cache is off.
func newCachedStore(t testing.TB) (*Store, *sql.DB, string) {
	t.Helper()
	st, db, path := openTestStore(t)
	if !st.cache.on() {
		t.Fatal("Find's cache is off on a database file in WAL mode")
	}
	return st, db, path
}

func cacheTestSession(t testing.TB, st *Store, n byte) session.Session {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := session.Session{
		UserID: fmt.Sprintf("user-%d", n), CreatedAt: now, LastSeenAt: now, IdleDeadline: now.Add(time.Hour),
		AbsoluteDeadline: now.Add(12 * time.Hour), CreatedIP: "192.0.2.1", UserAgent: "test", LastIP: "192.0.2.1",
		Method: "password", AuthAt: now, Handle: session.NewHandle(), SeenAt: now, IssuedAt: now,
	}
	s.ID[0], s.ID[1], s.Secret[0] = n, 0xCA, n
	if err := st.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// findCached finds id twice and fails the test unless the second Find came
// from the cache: the state a change is then made in has the row cached.
func findCached(t *testing.T, st *Store, id session.ID) session.Session {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Find(ctx, id); err != nil {
		t.Fatal(err)
	}
	hits, _ := st.CacheStats()
	s, err := st.Find(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := st.CacheStats(); h != hits+1 {
		t.Fatalf("a second Find in the same state did not come from the cache (hits %d -> %d)", hits, h)
	}
	if c, ok := st.FindCached(id); !ok || *c != s {
		t.Fatalf("FindCached = %v, %v; want the session Find returned", c, ok)
	}
	return s
}

// notCached fails the test if FindCached answers for id.
func notCached(t *testing.T, st *Store, id session.ID, after string) {
	t.Helper()
	if _, ok := st.FindCached(id); ok {
		t.Fatalf("FindCached answered after %s", after)
	}
}

// Every change to a cached session is seen by the next Find, whoever
// makes it: the Store itself, other statements on the same connection
// pool, another pool on the file, another process.
func TestFindCacheSeesEveryCommit(t *testing.T) {
	ctx := context.Background()
	st, db, path := newCachedStore(t)
	q := func(s string) string { return fmt.Sprintf(s, st.Table()) }

	s := cacheTestSession(t, st, 1)
	findCached(t, st, s.ID)
	if err := st.Delete(ctx, s.ID, time.Now(), "signed out"); err != nil {
		t.Fatal(err)
	}
	notCached(t, st, s.ID, "the Store's Delete")
	if _, err := st.Find(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find after the Store's Delete = %v, want ErrNotFound", err)
	}

	s = cacheTestSession(t, st, 2)
	findCached(t, st, s.ID)
	if _, err := db.ExecContext(ctx, q(`UPDATE %s SET epoch = 7 WHERE id = ?`), s.ID[:]); err != nil {
		t.Fatal(err)
	}
	notCached(t, st, s.ID, "an UPDATE on the same pool")
	if got, err := st.Find(ctx, s.ID); err != nil || got.Epoch != 7 {
		t.Fatalf("Find after an UPDATE on the same pool: epoch %d, %v; want 7", got.Epoch, err)
	}

	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	findCached(t, st, s.ID)
	if _, err := other.ExecContext(ctx, q(`UPDATE %s SET idle_deadline = 0 WHERE id = ?`), s.ID[:]); err != nil {
		t.Fatal(err)
	}
	notCached(t, st, s.ID, "an UPDATE through another pool")
	if got, err := st.Find(ctx, s.ID); err != nil || !got.IdleDeadline.Equal(time.UnixMicro(0)) {
		t.Fatalf("Find after an UPDATE through another pool: idle deadline %v, %v; want the epoch", got.IdleDeadline, err)
	}

	// A change to another table moves the state on too: the row is
	// read again, and cached again.
	findCached(t, st, s.ID)
	if _, err := other.ExecContext(ctx, `CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, misses := st.CacheStats()
	findCached(t, st, s.ID)
	if _, m := st.CacheStats(); m != misses+1 {
		t.Fatalf("after a commit to another table, Find did not read the database (misses %d -> %d)", misses, m)
	}
}

// The command-line tool revokes sessions from a process of its own: the
// server's next Find must not find them.
func TestFindCacheSeesOtherProcesses(t *testing.T) {
	ctx := context.Background()
	st, _, path := newCachedStore(t)
	run := func(stmt string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperDB+"="+path, helperSQL+"="+stmt)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the other process: %v\n%s", err, out)
		}
	}
	s := cacheTestSession(t, st, 3)
	findCached(t, st, s.ID)
	run(fmt.Sprintf(`UPDATE %s SET method = 'changed elsewhere' WHERE user_id = 'user-3'`, st.Table()))
	notCached(t, st, s.ID, "another process's UPDATE")
	if got, err := st.Find(ctx, s.ID); err != nil || got.Method != "changed elsewhere" {
		t.Fatalf("Find after another process's UPDATE: method %q, %v", got.Method, err)
	}
	findCached(t, st, s.ID)
	// A checkpoint that starts the log over, then a delete: the header's
	// salts change as well as its frame count.
	run(fmt.Sprintf(`PRAGMA wal_checkpoint(TRUNCATE); DELETE FROM %s WHERE user_id = 'user-3'`, st.Table()))
	notCached(t, st, s.ID, "another process's DELETE")
	if _, err := st.Find(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Find after another process deleted the session = %v, want ErrNotFound", err)
	}
}

// Another process that opens the database and closes it again (the
// command-line tool) leaves it to this one: the log stays in place, and
// what this process commits afterwards is what the next process reads. A
// process that dropped its own locks (by closing a descriptor of one of
// the files, which drops them all) would see the other one delete the log
// it goes on writing to, and lose those commits.
func TestAnotherProcessLeavesTheLog(t *testing.T) {
	// A database that exists already, as a server's does when it starts:
	// opening it maps its WAL index and takes the locks at once.
	path := filepath.Join(t.TempDir(), "s.db")
	first, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), first, Options{}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := New(context.Background(), db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func() string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperDB+"="+path, helperSQL+"="+fmt.Sprintf("SELECT count(*) FROM %s", st.Table()))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the other process: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	cacheTestSession(t, st, 7)
	if n := count(); n != "1" {
		t.Fatalf("the other process counted %s sessions, want 1", n)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err != nil {
			t.Fatalf("after another process closed the database: %v", err)
		}
	}
	cacheTestSession(t, st, 8)
	if n := count(); n != "2" {
		t.Fatalf("the other process counted %s sessions after this one added one, want 2", n)
	}
}

// Under concurrent commits, no Find returns an older row than the last
// one committed before it started. A writer counts a session's epoch up,
// checkpointing now and then (the log starts over); readers check what
// they get against the count published after each commit.
func TestFindCacheNeverStale(t *testing.T) {
	ctx := context.Background()
	st, db, path := newCachedStore(t)
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s := cacheTestSession(t, st, 4)
	var committed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Half through the Store's pool, half through another.
			w := db
			if i%2 == 0 {
				w = other
			}
			if _, err := w.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET epoch = ? WHERE id = ?`, st.Table()), i, s.ID[:]); err != nil {
				t.Error(err)
				return
			}
			committed.Store(i)
			if i%50 == 0 {
				if _, err := w.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`); err != nil {
					t.Error(err)
					return
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	var errs atomic.Int64
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Answers from memory never block: leave the writer
				// a processor.
				runtime.Gosched()
				before := committed.Load()
				// Half as the Manager asks: FindCached, then Find.
				var got session.Session
				cached, ok := st.FindCached(s.ID)
				var err error
				if i%2 == 0 || !ok {
					got, err = st.Find(ctx, s.ID)
				} else {
					got = *cached
				}
				if err != nil || got.Epoch < before {
					if errs.Add(1) <= 5 {
						t.Errorf("Find returned epoch %d (%v) after epoch %d was committed", got.Epoch, err, before)
					}
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	hits, misses := st.CacheStats()
	if n := committed.Load(); n < 100 {
		t.Fatalf("only %d commits in the test's time", n)
	}
	if hits == 0 || misses == 0 {
		t.Fatalf("cache hits %d, misses %d: both should have happened", hits, misses)
	}
	t.Logf("%d commits, %d hits, %d misses", committed.Load(), hits, misses)
}

// A header being rewritten (its copies differ), one with a wrong checksum,
// one not yet initialized or of another version: none is a state.
func TestWALHeaderRejectsUnstableHeaders(t *testing.T) {
	var good walStamp
	good[0] = walIndexVersion
	good[2] = 41 // iChange
	var b [4]byte
	b[0] = 1 // isInit
	b[2], b[3] = 0x00, 0x10
	good[3] = nativeWord(b)
	good[4] = 17 // mxFrame
	good[8], good[9] = 0xDEADBEEF, 0x12345678
	good[10], good[11] = walChecksum(good[:10])
	mem := func(a, b walStamp) *walHeader {
		m := make([]byte, 2*walHeaderSize)
		for i := range a {
			putNative(m[4*i:], a[i])
			putNative(m[walHeaderSize+4*i:], b[i])
		}
		return &walHeader{mem: m}
	}
	if got, ok := mem(good, good).read(); !ok || got != good {
		t.Fatalf("a good header: %v, %v", got, ok)
	}
	if _, size := headerBytes(good); size != 4096 {
		t.Fatalf("page size %d, want 4096", size)
	}
	changed := good
	changed[4]++
	changed[10], changed[11] = walChecksum(changed[:10])
	badSum := good
	badSum[11]++
	notInit := good
	notInit[3] = nativeWord([4]byte{0, 0, 0x00, 0x10})
	notInit[10], notInit[11] = walChecksum(notInit[:10])
	version := good
	version[0]++
	version[10], version[11] = walChecksum(version[:10])
	for name, h := range map[string]*walHeader{
		"copies differ":   mem(changed, good),
		"copies differ 2": mem(good, changed),
		"bad checksum":    mem(badSum, badSum),
		"not initialized": mem(notInit, notInit),
		"other version":   mem(version, version),
	} {
		if got, ok := h.read(); ok {
			t.Errorf("%s: read as a state: %v", name, got)
		}
	}
}

// The cache is off where it cannot be kept right, and Find works.
func TestFindCacheOff(t *testing.T) {
	ctx := context.Background()
	for name, dsn := range map[string]string{
		"in memory":        "file:/cachetest?vfs=memdb",
		"rollback journal": "file:" + filepath.Join(t.TempDir(), "j.db") + "?_pragma=journal_mode(DELETE)",
	} {
		t.Run(name, func(t *testing.T) {
			db, err := sql.Open("sqlite", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			st, err := New(ctx, db, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.cache.on() {
				t.Fatal("Find's cache is on")
			}
			s := cacheTestSession(t, st, 5)
			for range 2 {
				if _, err := st.Find(ctx, s.ID); err != nil {
					t.Fatal(err)
				}
			}
			if hits, _ := st.CacheStats(); hits != 0 {
				t.Fatalf("%d cache hits with the cache off", hits)
			}
		})
	}
}

// A session cached before Close is not found after it.
func TestFindCacheClosed(t *testing.T) {
	st, _, _ := newCachedStore(t)
	s := cacheTestSession(t, st, 6)
	findCached(t, st, s.ID)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find(context.Background(), s.ID); !errors.Is(err, errClosed) {
		t.Fatalf("Find of a cached session after Close = %v, want errClosed", err)
	}
}

// The cache holds at most findCacheMax sessions.
func TestFindCacheBounded(t *testing.T) {
	c := findCache{m: map[session.ID]*session.Session{}}
	h := &walHeader{mem: make([]byte, 2*walHeaderSize)}
	var st walStamp
	st[0] = walIndexVersion
	st[3] = nativeWord([4]byte{1, 0, 0, 0x10})
	st[10], st[11] = walChecksum(st[:10])
	for i := range st {
		putNative(h.mem[4*i:], st[i])
		putNative(h.mem[walHeaderSize+4*i:], st[i])
	}
	c.hdr = h
	for i := range findCacheMax + 10 {
		var s session.Session
		s.ID[0], s.ID[1], s.ID[2] = byte(i), byte(i>>8), byte(i>>16)
		c.put(st, s)
		if len(c.m) > findCacheMax {
			t.Fatalf("%d entries", len(c.m))
		}
	}
}

func nativeWord(b [4]byte) uint32  { return binary.NativeEndian.Uint32(b[:]) }
func putNative(m []byte, v uint32) { binary.NativeEndian.PutUint32(m, v) }
