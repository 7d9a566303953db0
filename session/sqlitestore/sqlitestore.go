// Package sqlitestore keeps sessions in SQLite through modernc.org/sqlite,
// a pure-Go driver: no cgo, no server.
//
// Each session is one row keyed by the SHA-256 of its token; the token
// itself is never stored. Every write after the insert is a conditional
// UPDATE or DELETE, so nothing can re-create a session that is gone.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/connectbook/connectbook/session"
)

// Open opens (creating if needed) the SQLite database at path with the
// settings the stores expect: WAL journal, a busy timeout, foreign keys on,
// and write transactions that take the write lock up front.
func Open(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return db, nil
}

// Options configure a Store.
type Options struct {
	// Table is the name of the sessions table; "sessions" if empty.
	Table string
}

// Store is a session.Store on SQLite.
type Store struct {
	db       *sql.DB
	table    string
	readers  chan *reader // see reader.go
	nreaders int
	touch    *sql.Stmt
	alive    *sql.Stmt
}

var _ session.Store = (*Store)(nil)

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// New creates the sessions table if it does not exist and returns a Store on
// it. The caller keeps ownership of db. The Store holds 16 to 64 of db's
// connections for reads, four per CPU (see reader.go), until Close; New
// fails if db's SetMaxOpenConns leaves fewer than 4 others, and db's limit
// must not be lowered afterwards.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	table := opts.Table
	if table == "" {
		table = "sessions"
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("sqlitestore: invalid table name %q", table)
	}
	schema := fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s (
	id            BLOB PRIMARY KEY,  -- SHA-256 of the token
	user_id       TEXT NOT NULL,
	created_at    INTEGER NOT NULL,  -- microseconds since the Unix epoch
	last_seen_at  INTEGER NOT NULL,
	idle_deadline INTEGER NOT NULL,
	abs_deadline  INTEGER NOT NULL,
	created_ip    TEXT NOT NULL,
	user_agent    TEXT NOT NULL,
	last_ip       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS %[1]s_user ON %[1]s (user_id);
CREATE INDEX IF NOT EXISTS %[1]s_expiry ON %[1]s (min(idle_deadline, abs_deadline));`, table)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("sqlitestore: create table: %w", err)
	}
	s := &Store{db: db, table: table}
	var err error
	if s.touch, err = db.PrepareContext(ctx, s.q(`UPDATE %s SET last_seen_at = ?, idle_deadline = ?, last_ip = ?
		WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? AND last_seen_at <= ?`)); err != nil {
		return nil, fmt.Errorf("sqlitestore: prepare: %w", err)
	}
	if s.alive, err = db.PrepareContext(ctx, s.q(`SELECT 1 FROM %s WHERE id = ? AND idle_deadline > ? AND abs_deadline > ?`)); err != nil {
		s.touch.Close()
		return nil, fmt.Errorf("sqlitestore: prepare: %w", err)
	}
	if err := s.openReaders(ctx); err != nil {
		s.touch.Close()
		s.alive.Close()
		return nil, fmt.Errorf("sqlitestore: prepare: %w", err)
	}
	return s, nil
}

// Close releases the connections and statements the Store holds; it does
// not close the database.
func (s *Store) Close() error {
	return errors.Join(s.closeReaders(), s.touch.Close(), s.alive.Close())
}

// Table returns the name of the sessions table.
func (s *Store) Table() string { return s.table }

const columns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip`

func (s *Store) q(query string) string { return fmt.Sprintf(query, s.table) }

func (s *Store) Create(ctx context.Context, ss session.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO %s (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ss.ID[:], ss.UserID, micros(ss.CreatedAt), micros(ss.LastSeenAt), micros(ss.IdleDeadline),
		micros(ss.AbsoluteDeadline), ss.CreatedIP, ss.UserAgent, ss.LastIP)
	return mapErr(err)
}

func (s *Store) Touch(ctx context.Context, id session.ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	res, err := s.touch.ExecContext(ctx, micros(now), micros(idleDeadline), lastIP, id[:], micros(now), micros(now), micros(seenBefore))
	if err := affected(res, err); !errors.Is(err, session.ErrNotFound) {
		return err
	}
	// Nothing written: gone, or touched since seenBefore.
	var one int
	return mapErr(s.alive.QueryRowContext(ctx, id[:], micros(now), micros(now)).Scan(&one))
}

func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE %s SET id = ? WHERE id = ? AND idle_deadline > ? AND abs_deadline > ?`),
		newID[:], oldID[:], micros(now), micros(now))
	return affected(res, err)
}

func (s *Store) Delete(ctx context.Context, id session.ID) error {
	return affected(s.db.ExecContext(ctx, s.q(`DELETE FROM %s WHERE id = ?`), id[:]))
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID) error {
	return affected(s.db.ExecContext(ctx, s.q(`DELETE FROM %s WHERE id = ? AND user_id = ?`), id[:], userID))
}

func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM %s WHERE user_id = ? AND id <> ?`), userID, except[:])
	return count(res, err)
}

func (s *Store) List(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+columns+` FROM %s
		WHERE user_id = ? AND idle_deadline > ? AND abs_deadline > ? ORDER BY created_at DESC, id`),
		userID, micros(now), micros(now))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	list := []session.Session{}
	for rows.Next() {
		ss, err := scan(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		list = append(list, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return list, nil
}

func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM %[1]s WHERE id IN (
		SELECT id FROM %[1]s WHERE min(idle_deadline, abs_deadline) <= ? LIMIT ?)`), micros(now), limit)
	return count(res, err)
}

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (session.Session, error) {
	var (
		ss                            session.Session
		id                            []byte
		created, seen, idle, absolute int64
	)
	if err := row.Scan(&id, &ss.UserID, &created, &seen, &idle, &absolute, &ss.CreatedIP, &ss.UserAgent, &ss.LastIP); err != nil {
		return session.Session{}, err
	}
	if len(id) != len(ss.ID) {
		return session.Session{}, fmt.Errorf("sqlitestore: corrupt session id of %d bytes", len(id))
	}
	copy(ss.ID[:], id)
	ss.CreatedAt, ss.LastSeenAt = fromMicros(created), fromMicros(seen)
	ss.IdleDeadline, ss.AbsoluteDeadline = fromMicros(idle), fromMicros(absolute)
	return ss, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func affected(res sql.Result, err error) error {
	n, err := count(res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		return session.ErrNotFound
	}
	return nil
}

func count(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: %w", err)
	}
	return int(n), nil
}

// mapErr maps driver errors onto the session package's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return session.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return session.ErrExists
	}
	return fmt.Errorf("sqlitestore: %w", err)
}
