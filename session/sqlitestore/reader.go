package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

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
//	"<created> <last seen> <idle deadline> <abs deadline> <auth at> <epoch> <len user_id> <len created_ip> <len user_agent> <len last_ip> <len method> " user_id created_ip user_agent last_ip method
//
// with byte lengths, so no value needs escaping.
//
// The query runs without the caller's context: the driver watches a
// cancellable context with a goroutine per query, which costs more than the
// read itself, and a read in WAL mode does not wait for writers. Find checks
// the context before it starts.
//
// There are several readers per CPU. Besides not queueing requests, this
// lets read transactions overlap: SQLite takes the WAL read lock from the
// operating system (an fcntl call to take it, another to drop it) only when
// no other connection of the process holds it.
const findRecord = `SELECT printf('%%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d ',
	created_at, last_seen_at, idle_deadline, abs_deadline, coalesce(auth_at, created_at), epoch,
	length(CAST(user_id AS BLOB)), length(CAST(created_ip AS BLOB)),
	length(CAST(user_agent AS BLOB)), length(CAST(last_ip AS BLOB)), length(CAST(method AS BLOB)))
	|| user_id || created_ip || user_agent || last_ip || method
FROM %s WHERE id = ?`

// The record's numbers: times and the epoch, then the lengths of the texts.
const (
	recordNumbers = 11
	recordTexts   = 5
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

// openReaders opens the readers; on failure it closes those it opened.
func (s *Store) openReaders(ctx context.Context) (err error) {
	n := min(max(4*runtime.GOMAXPROCS(0), 16), 64)
	if limit := s.db.Stats().MaxOpenConnections; limit > 0 && limit < n+spareConns {
		return fmt.Errorf("the database allows %d open connections; the store needs %d of them for reads and at least %d left for writes: raise SetMaxOpenConns or leave it unlimited",
			limit, n, spareConns)
	}
	s.readers = make(chan *reader, n)
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
		s.readers <- r
		s.nreaders++
	}
	return nil
}

// closeReaders closes every reader, waiting for those in use. Find fails
// afterwards.
func (s *Store) closeReaders() error {
	var errs []error
	for ; s.nreaders > 0; s.nreaders-- {
		r := <-s.readers
		errs = append(errs, r.conn.Raw(func(any) error { return r.stmt.Close() }), r.conn.Close())
	}
	close(s.readers)
	return errors.Join(errs...)
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
	var r *reader
	select {
	case r = <-s.readers:
		if r == nil {
			return session.Session{}, errClosed
		}
	case <-ctx.Done():
		return session.Session{}, fmt.Errorf("sqlitestore: %w", ctx.Err())
	}
	r.id = id
	err := r.conn.Raw(r.run)
	rec, _ := r.dest[0].(string)
	found := r.found
	r.dest[0] = nil
	s.readers <- r
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
	return ss, nil
}

// decodeRecord parses the text findRecord returns. The texts are substrings
// of rec, not copies.
func decodeRecord(rec string) (session.Session, bool) {
	var n [recordNumbers]int64
	for i := range n {
		field, rest, ok := strings.Cut(rec, " ")
		if !ok {
			return session.Session{}, false
		}
		v, err := strconv.ParseInt(field, 10, 64)
		if err != nil || (i >= recordNumbers-recordTexts && v < 0) {
			return session.Session{}, false
		}
		n[i], rec = v, rest
	}
	var text [recordTexts]string
	for i := range text {
		l := n[recordNumbers-recordTexts+i]
		if l > int64(len(rec)) {
			return session.Session{}, false
		}
		text[i], rec = rec[:l], rec[l:]
	}
	if rec != "" {
		return session.Session{}, false
	}
	return session.Session{
		UserID:           text[0],
		CreatedAt:        fromMicros(n[0]),
		LastSeenAt:       fromMicros(n[1]),
		IdleDeadline:     fromMicros(n[2]),
		AbsoluteDeadline: fromMicros(n[3]),
		CreatedIP:        text[1],
		UserAgent:        text[2],
		LastIP:           text[3],
		Epoch:            n[5],
		Method:           text[4],
		AuthAt:           fromMicros(n[4]),
	}, true
}
