package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/connectbook/connectbook/session"
)

var errClosed = errors.New("sqlitestore: store is closed")

// Find is on every authenticated request. Through database/sql the driver
// allocates for every column of a result (its name, its declared type, the
// boxed value) and database/sql adds its own bookkeeping: over forty
// allocations for one session row. So Find runs on a few dedicated
// connections, each with its statement prepared once at the driver level,
// and the query returns the row as a single text value:
//
//	"<created> <last seen> <idle deadline> <abs deadline> <auth at> <epoch> <gen> <seen gen> <seen at> <issued at> <bound at> <bind seq> <unbound> <handle> <secret> <len user_id> <len created_ip> <len user_agent> <len last_ip> <len method> <len bind_key> " user_id created_ip user_agent last_ip method bind_key
//
// with byte lengths, so no value needs escaping. Times are microseconds
// since the Unix epoch; bound at is empty when the session is not bound
// (NULL). The handle and the secret are in upper-case hexadecimal, of
// exactly 32 and 64 digits (a NULL one, empty, makes the record corrupt),
// decoded straight into the session's arrays.
//
// The query runs without the caller's context: the driver watches a
// cancellable context with a goroutine per query, which costs more than the
// read itself, and a read in WAL mode does not wait for writers. Find checks
// the context before it starts.
//
// There are several readers per CPU. Besides not queueing requests, this
// lets read transactions overlap: SQLite takes the WAL read lock from the
// operating system (an fcntl call to take it, another to drop it) only when
// no other connection of the process holds it. Idle readers are taken last
// in, first out, so that at light load the same few serve every Find,
// their maps and caches warm, and the others only under concurrency.
//
// Each reader maps the database file into memory (PRAGMA mmap_size), up to
// Options.MmapSize bytes, so that reading a page costs neither a system
// call nor a copy into the connection's page cache. Without the map, once
// the table outgrows the readers' page caches (2 MB each), a Find reads
// three or four pages with pread: at a million sessions (a 560 MB file),
// most of its time. Each map is the reader's own, though: the first time a
// reader touches a part of the file, the kernel takes a page fault to map
// it (tens of microseconds on some virtual machines). Taking readers in
// turn spread those faults over every reader's map: at a million sessions,
// most sequential Finds took one, which doubled their time. Larger page
// caches do not help: each reader would need the whole table in a copy of
// its own, and SQLite's cache slows down as it grows. Mapped pages are the operating system's cache of the file, shared
// by all the readers (and any other process reading the file) and
// reclaimed under memory pressure like any cached file data; they are not
// in the Go heap. The RSS that ps and top show, though, counts a page once
// for every reader's map that has touched it, so with a large database it
// can show several times the file's size; the PSS in
// /proc/<pid>/smaps_rollup, or a cgroup's memory.current, show the memory
// actually used. An I/O error while reading a mapped page (a failing disk)
// ends the process with SIGBUS rather than failing the Find.
const findRecord = `SELECT printf('%%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%s %%d %%d %%s %%s %%d %%d %%d %%d %%d %%d ',
	created_at, last_seen_at, idle_deadline, abs_deadline, coalesce(auth_at, created_at), epoch,
	gen, seen_gen, coalesce(seen_at, created_at), coalesce(issued_at, created_at), ifnull(bound_at, ''), bind_seq, unbound,
	hex(handle), hex(secret),
	octet_length(user_id), octet_length(created_ip), octet_length(user_agent), octet_length(last_ip),
	octet_length(method), octet_length(bind_key))
	|| user_id || created_ip || user_agent || last_ip || method || bind_key
FROM %s WHERE id = ?`

// The record's fields before the texts: numbers (the one at recordBoundAt
// may be empty), the handle and the secret in hexadecimal, and the lengths
// of the texts.
const (
	recordNumbers = 13
	recordBoundAt = 10
	recordTexts   = 6
)

// reader is one dedicated connection for Find. Its fields are reused across
// calls; a reader is used by one goroutine at a time.
type reader struct {
	conn  *sql.Conn
	stmt  driver.Stmt
	id    [32]byte
	args  [1]driver.NamedValue
	dest  [1]driver.Value
	found bool
	run   func(any) error // r.query, bound once so that calls do not allocate
}

// spareConns is how many connections the Store leaves to everything else
// that uses the database.
const spareConns = 4

// DefaultMmapSize is how many bytes of the database file each reader maps
// unless Options.MmapSize says otherwise: room for the sessions table and
// its indexes up to about 1.8 million sessions (a million take 560 MB). A
// map covers at most the file's size, and grows with it.
const DefaultMmapSize = 1 << 30

// openReaders opens the readers; on failure it closes those it opened.
func (s *Store) openReaders(ctx context.Context) (err error) {
	n := min(max(4*runtime.GOMAXPROCS(0), 16), 64)
	if limit := s.db.Stats().MaxOpenConnections; limit > 0 && limit < n+spareConns {
		return fmt.Errorf("the database allows %d open connections; the store needs %d of them for reads and at least %d left for writes: raise SetMaxOpenConns or leave it unlimited",
			limit, n, spareConns)
	}
	s.readers = readerPool{free: make(chan struct{}, n), idle: make([]*reader, 0, n)}
	defer func() {
		if err != nil {
			s.closeReaders()
		}
	}()
	for range n {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		// PRAGMA takes no bound parameters.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size = %d", s.mmapSize)); err != nil {
			conn.Close()
			return err
		}
		r := &reader{conn: conn}
		r.args[0] = driver.NamedValue{Ordinal: 1, Value: r.id[:]}
		r.run = r.query
		err = conn.Raw(func(dc any) error {
			pc, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return errors.New("driver cannot prepare with a context")
			}
			st, err := pc.PrepareContext(ctx, s.q(findRecord))
			if err != nil {
				return err
			}
			if _, ok := st.(driver.StmtQueryContext); !ok {
				st.Close()
				return errors.New("driver statement cannot query with a context")
			}
			r.stmt = st
			return nil
		})
		if err != nil {
			conn.Close()
			return err
		}
		s.readers.put(r)
		s.nreaders++
	}
	return nil
}

// closeReaders closes every reader, waiting for those in use. Find fails
// afterwards.
func (s *Store) closeReaders() error {
	var errs []error
	for ; s.nreaders > 0; s.nreaders-- {
		r, _ := s.readers.get(context.Background())
		errs = append(errs, r.conn.Raw(func(any) error { return r.stmt.Close() }), r.conn.Close())
	}
	close(s.readers.free)
	return errors.Join(errs...)
}

// readerPool holds the idle readers, the most recently used on top.
type readerPool struct {
	free chan struct{} // a token for each idle reader; closed with the Store
	mu   sync.Mutex
	idle []*reader
}

// get waits for an idle reader; it fails once the pool is closed, or with
// ctx's error.
func (p *readerPool) get(ctx context.Context) (*reader, error) {
	select {
	case _, ok := <-p.free:
		if !ok {
			return nil, errClosed
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("sqlitestore: %w", ctx.Err())
	}
	p.mu.Lock()
	r := p.idle[len(p.idle)-1]
	p.idle = p.idle[:len(p.idle)-1]
	p.mu.Unlock()
	return r, nil
}

// put gives back r, which get returned.
func (p *readerPool) put(r *reader) {
	p.mu.Lock()
	p.idle = append(p.idle, r)
	p.mu.Unlock()
	p.free <- struct{}{}
}

// query runs inside conn.Raw and leaves the record in r.dest[0].
func (r *reader) query(any) error {
	rows, err := r.stmt.(driver.StmtQueryContext).QueryContext(context.Background(), r.args[:])
	if err != nil {
		return err
	}
	err = rows.Next(r.dest[:])
	r.found = err == nil
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return errors.Join(err, rows.Close())
}

func (s *Store) Find(ctx context.Context, id session.ID) (session.Session, error) {
	if err := ctx.Err(); err != nil {
		return session.Session{}, fmt.Errorf("sqlitestore: %w", err)
	}
	cached, stamp, hit, stampOK := s.cache.get(id)
	if hit {
		s.cache.hits.Add(1)
		return *cached, nil
	}
	s.cache.misses.Add(1)
	r, err := s.readers.get(ctx)
	if err != nil {
		return session.Session{}, err
	}
	r.id = id
	err = r.conn.Raw(r.run)
	rec, _ := r.dest[0].(string)
	found := r.found
	r.dest[0] = nil
	s.readers.put(r)
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	if !found {
		return session.Session{}, session.ErrNotFound
	}
	ss, ok := decodeRecord(rec)
	if !ok {
		return session.Session{}, fmt.Errorf("sqlitestore: corrupt session record %s", id.Short())
	}
	ss.ID = id
	if stampOK {
		s.cache.put(stamp, ss)
	}
	return ss, nil
}

// decodeRecord parses the text findRecord returns. The texts are substrings
// of rec, not copies.
func decodeRecord(rec string) (session.Session, bool) {
	var (
		ss    session.Session
		n     [recordNumbers]int64
		ok    bool
		bound bool // bound_at is not NULL
	)
	for i := range n {
		if i == recordBoundAt && rec != "" && rec[0] == ' ' {
			rec = rec[1:]
			continue // not bound: BoundAt stays the zero time
		}
		if n[i], rec, ok = cutInt(rec); !ok {
			return session.Session{}, false
		}
		bound = bound || i == recordBoundAt
	}
	var field string
	if field, rec, ok = strings.Cut(rec, " "); !ok || !unhex(ss.Handle[:], field) {
		return session.Session{}, false
	}
	if field, rec, ok = strings.Cut(rec, " "); !ok || !unhex(ss.Secret[:], field) {
		return session.Session{}, false
	}
	var l [recordTexts]int64
	for i := range l {
		if l[i], rec, ok = cutInt(rec); !ok || l[i] < 0 {
			return session.Session{}, false
		}
	}
	var text [recordTexts]string
	for i := range text {
		if l[i] > int64(len(rec)) {
			return session.Session{}, false
		}
		text[i], rec = rec[:l[i]], rec[l[i]:]
	}
	if rec != "" {
		return session.Session{}, false
	}
	ss.UserID = text[0]
	ss.CreatedAt = fromMicros(n[0])
	ss.LastSeenAt = fromMicros(n[1])
	ss.IdleDeadline = fromMicros(n[2])
	ss.AbsoluteDeadline = fromMicros(n[3])
	ss.CreatedIP = text[1]
	ss.UserAgent = text[2]
	ss.LastIP = text[3]
	ss.Epoch = n[5]
	ss.Method = text[4]
	ss.AuthAt = fromMicros(n[4])
	ss.Gen, ss.SeenGen = n[6], n[7]
	ss.SeenAt, ss.IssuedAt = fromMicros(n[8]), fromMicros(n[9])
	ss.BindKey = text[5]
	if bound {
		ss.BoundAt = fromMicros(n[recordBoundAt])
	}
	ss.BindSeq, ss.Unbound = n[11], n[12]
	return ss, true
}

// cutInt parses the decimal integer at the start of rec, which a space
// ends, and returns it and the rest of rec after the space. It does in one
// pass what strings.Cut and strconv.ParseInt do in two, and accepts only
// what SQLite's printf writes: an optional minus sign and digits.
func cutInt(rec string) (v int64, rest string, ok bool) {
	i, neg := 0, false
	if rec != "" && rec[0] == '-' {
		i, neg = 1, true
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	start := i
	var u uint64
	for ; i < len(rec) && rec[i] != ' '; i++ {
		d := uint64(rec[i] - '0')
		if d > 9 {
			return 0, "", false
		}
		// 18 digits cannot overflow; from the 19th on, check.
		if i-start >= 18 && u > (limit-d)/10 {
			return 0, "", false
		}
		u = u*10 + d
	}
	if i == start || i == len(rec) {
		return 0, "", false
	}
	if neg {
		return -int64(u), rec[i+1:], true // -(1<<63) wraps to itself: math.MinInt64
	}
	return int64(u), rec[i+1:], true
}

// unhex decodes the hexadecimal s into dst, which it must fill exactly.
func unhex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&0xF0 == 0
}

// hexValue maps hexadecimal digits to their values and everything else
// to 0xFF.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i, c := range "0123456789ABCDEF" {
		t[c] = byte(i)
		t[c|0x20] = byte(i) // lower case (digits are unchanged)
	}
	return t
}()
