package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/connectbook/connectbook/session"
)

// Find's cache. Find is on every authenticated request, and most of its
// time is SQLite's: a read transaction (its WAL read lock taken and
// dropped with fcntl), the statement, the record. Yet between two commits
// to the database, whoever makes them, the same ID reads the same row. So
// Find keeps the sessions it read, each under the state of the database it
// was read in, and hands one out again only while the database is still in
// exactly that state: any commit since, by any connection of any process,
// and the next Find reads the row again. A session deleted, revoked,
// renewed or touched is therefore never served from the cache once the
// call that changed it has returned, whether it came from this Store,
// from other code on the same database or from another process (the
// command-line tool, say). What is cached is the row, not a verdict: the
// caller still checks the deadlines against the clock on every request.
//
// The state of a database in WAL mode is the header of its WAL index, the
// first 48 bytes of the -shm file, which every process that opens the
// database maps into memory (https://www.sqlite.org/walformat.html). Each
// commit rewrites it: it names the last frame of the log, the log's salts
// (new each time the log starts over) and their checksums, so no two
// states since the file was created share a header. A writer writes the
// second copy of the header, then the first; SQLite's readers, and this
// cache, read the first, then the second, and take them only if the two
// are the same (and the checksum holds): a header being rewritten is never
// mistaken for a stable one. The Store maps the header read-only while it
// holds its readers, whose connections keep the file in place (SQLite
// resets the -shm file only when it is the only process with the database
// open).
//
// A row is cached under the header read before the statement ran, and
// handed out only while the header is still that one: no commit happened
// since before the read, so the row read is that state's. (A row read
// after a commit that came during the read is of a later state; that
// earlier header never comes back, so the entry could never be used, and
// put does not keep it.) The cache holds one state's rows, at most
// findCacheMax of them; when the state moves on, the whole cache is
// dropped at the next put, since none of it can be used again.
//
// The cache is off (every Find reads the database) when the database is
// not a file in WAL mode with normal locking, or the header cannot be
// mapped or does not look like one. It maps the header through SQLite's own
// descriptor of the file (see mapWALHeader), on Linux; elsewhere it is off.

// findCacheMax bounds how many sessions the cache holds.
const findCacheMax = 1 << 14

// walHeaderSize is the size of one copy of the WAL index header; the
// second copy follows the first.
const walHeaderSize = 48

// walIndexVersion is the WAL index format that the header's first field
// names, the only one SQLite has had since 3.7.0.
const walIndexVersion = 3007000

// walStamp is a copy of the WAL index header: the state of the database.
type walStamp [walHeaderSize / 4]uint32

type findCache struct {
	// mu guards everything below. The header is read under it too (a
	// read lock: gets run side by side), so that close cannot unmap it
	// under a reader.
	mu    sync.RWMutex
	hdr   *walHeader // nil: the cache is off, or closed
	stamp walStamp
	m     map[session.ID]*session.Session // never changed once put

	hits, misses atomic.Int64 // answers from the cache, and Finds that read the database
}

// get returns the session cached under id for the database's present
// state, and that state for put. ok is false on a miss; stampOK is false
// when the state cannot be read now (then nothing is to be put).
func (c *findCache) get(id session.ID) (ss *session.Session, stamp walStamp, ok, stampOK bool) {
	c.mu.RLock()
	if c.hdr != nil {
		if stamp, stampOK = c.hdr.read(); stampOK && c.stamp == stamp {
			ss, ok = c.m[id]
		}
	}
	c.mu.RUnlock()
	return ss, stamp, ok, stampOK
}

// put caches ss, read from the database after get returned before, if the
// database is still in that state.
func (c *findCache) put(before walStamp, ss session.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hdr == nil {
		return
	}
	if after, ok := c.hdr.read(); !ok || after != before {
		return // committed to meanwhile: an entry that could never be used
	}
	if c.stamp != before || c.m == nil || len(c.m) >= findCacheMax {
		// Another state's entries can never be used again (or this
		// state has enough).
		if c.m == nil {
			c.m = make(map[session.ID]*session.Session)
		}
		clear(c.m)
		c.stamp = before
	}
	c.m[ss.ID] = &ss
}

// on reports whether the cache is in use.
func (c *findCache) on() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.hdr != nil
}

// close turns the cache off for good and unmaps the header.
func (c *findCache) close() error {
	c.mu.Lock()
	h := c.hdr
	c.hdr, c.m = nil, nil
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	if err := h.unmap(); err != nil {
		return fmt.Errorf("sqlitestore: unmap the WAL index: %w", err)
	}
	return nil
}

// walHeader is the WAL index header of a database, mapped read-only.
type walHeader struct {
	mem   []byte // the mapping, len(mem) >= 2*walHeaderSize
	unmap func() error
}

// read returns the header if its two copies are the same, initialized,
// of the known version and with a valid checksum.
func (h *walHeader) read() (walStamp, bool) {
	var a, b walStamp
	for i := range a {
		a[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&h.mem[4*i])))
	}
	for i := range b {
		b[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&h.mem[walHeaderSize+4*i])))
	}
	if a != b || a[0] != walIndexVersion {
		return walStamp{}, false
	}
	if isInit, _ := headerBytes(a); !isInit {
		return walStamp{}, false
	}
	s1, s2 := walChecksum(a[:10])
	if s1 != a[10] || s2 != a[11] {
		return walStamp{}, false
	}
	return a, true
}

// walChecksum is SQLite's checksum of the header's first 40 bytes, in the
// machine's byte order, as the WAL index keeps it.
func walChecksum(w []uint32) (s1, s2 uint32) {
	for i := 0; i+1 < len(w); i += 2 {
		s1 += w[i] + s2
		s2 += w[i+1] + s1
	}
	return s1, s2
}

// headerBytes returns the fields of the header's fourth word: isInit,
// bigEndCksum (not needed here), then szPage, the page size, a 16-bit
// field where 1 means 65536.
func headerBytes(stamp walStamp) (isInit bool, pageSize int) {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], stamp[3])
	pageSize = int(binary.NativeEndian.Uint16(b[2:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	return b[0] == 1, pageSize
}

// openCache maps the WAL index header of the database conn is connected
// to, if it is a file in WAL mode with normal locking and its header holds
// what conn sees. A database that does not qualify gets no cache, without
// an error; only a failure to ask the database is one.
func openCache(ctx context.Context, conn *sql.Conn) (*walHeader, error) {
	var mode, locking string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return nil, err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA locking_mode`).Scan(&locking); err != nil {
		return nil, err
	}
	if mode != "wal" || locking != "normal" {
		return nil, nil
	}
	var path string
	if err := conn.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, nil // in memory, or a temporary database
	}
	var pageSize int
	// Reading page_size starts a read transaction: the WAL index exists
	// (and is at least one region) from here on, while conn is open.
	if err := conn.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return nil, err
	}
	h, err := mapWALHeader(path + "-shm")
	if err != nil || h == nil {
		return nil, nil
	}
	stamp, ok := h.read()
	if _, size := headerBytes(stamp); !ok || size != pageSize {
		h.unmap()
		return nil, nil
	}
	return h, nil
}

// errNoMmap is mapWALHeader's answer on systems where the cache is off.
var errNoMmap = errors.New("sqlitestore: the WAL index is not mapped on this system")

// FindCached returns the session Find would return if the cache has it
// (see session.CachedFinder).
func (s *Store) FindCached(id session.ID) (*session.Session, bool) {
	ss, _, ok, _ := s.cache.get(id)
	if ok {
		s.cache.hits.Add(1)
	}
	return ss, ok
}

// CacheStats reports how many Finds the cache answered and how many read
// the database (all of them when the cache is off).
func (s *Store) CacheStats() (hits, misses int64) {
	return s.cache.hits.Load(), s.cache.misses.Load()
}
