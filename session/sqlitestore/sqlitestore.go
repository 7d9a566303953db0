// Package sqlitestore keeps sessions in SQLite through modernc.org/sqlite,
// a pure-Go driver: no cgo, no server.
//
// Each session is one row keyed by the SHA-256 of its token; the token
// itself is never stored. Every write after the insert is a conditional
// UPDATE or DELETE, so nothing can re-create a session that is gone.
//
// The Ending of a session deleted with a reason is a row in a second table,
// named after the first with "_endings" appended, under the same ID until
// the session's absolute deadline. It is copied from the session's row in
// the transaction that deletes the row, so the two happen together or not
// at all. A token replaced by Renew leaves a row there too, with the
// session's handle, the token's generation and whether a request had
// presented it, written in the transaction that moves the session to its
// new ID.
//
// New brings tables created by an earlier version up to date in place: it
// adds the columns that version lacked and gives the rows that predate
// handles and secrets random ones.
//
// Find keeps the rows it read in memory for as long as the database is in
// the state they were read in: any commit to the database, by any
// connection of any process, and the next Find reads again (see cache.go).
// A session deleted or revoked by anyone is therefore refused from the
// first request after the call that ended it, as without the cache.
//
// Nothing in the process may open and close the database's files while it
// has them open through SQLite: closing any descriptor of a file drops
// every POSIX lock the process holds on it, SQLite's included, and another
// process would then take the database for unused and delete its log.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	mathrand "math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/connectbook/connectbook/session"
)

// Open opens (creating if needed) the SQLite database at path with the
// settings the stores expect: WAL journal, a busy timeout, foreign keys on,
// and write transactions that take the write lock up front. The path is a
// file name, whatever characters it holds, not a URI.
//
// A database Open creates is readable and writable by its owner only
// (0600), whatever the umask, and so are its -wal and -shm files, which
// SQLite creates with the database file's mode. The mode of an existing
// file is left as it is.
//
// Open refuses a database, -wal or -shm file that belongs to another user
// than the process's (on Unix): that user could read the sessions through
// it whatever its mode, having created it first in a directory both can
// write to, say. It checks before SQLite opens the files and again after,
// in case one appeared in between.
func Open(path string) (*sql.DB, error) {
	if path == "" || path == ":memory:" {
		return open(path)
	}
	if err := checkFiles(path); err != nil {
		return nil, err
	}
	// O_EXCL: the file is either made here, owner-only, or was there
	// already, and nothing can slip in between the two.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		err = f.Chmod(0o600) // the umask may have taken bits off
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: create %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("sqlitestore: create %s: %w", path, err)
	}
	db, err := open(path)
	if err != nil {
		return nil, err
	}
	if err := checkFiles(path); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// open opens the database at path through a file: URI. The path is
// escaped, so that SQLite, which decodes %XX and ends the name at ? or #,
// opens the file Open checked and created.
func open(path string) (*sql.DB, error) {
	q := url.Values{}
	// The busy timeout first: switching to WAL takes a lock that another
	// process opening the database at the same moment may hold, and
	// without a timeout that fails at once with SQLITE_BUSY.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// After a checkpoint, the write-ahead log is cut back to 64 MiB: a
	// burst of writes must not leave a log of gigabytes behind for good.
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Set("_txlock", "immediate")
	uri := url.URL{Scheme: "file", Opaque: url.PathEscape(path), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", uri.String())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// Processes opening a new database at the same moment each switch it
	// to WAL; SQLite fails one of two such switches at once with
	// SQLITE_BUSY, without waiting (each would wait for the other), so
	// opening tries again for as long as the busy timeout.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err = db.Ping()
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Duration(5+mathrand.IntN(20)) * time.Millisecond)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return db, nil
}

// checkFiles returns an error if the database at path, its -wal or its
// -shm file belongs to another user than the process's.
func checkFiles(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := checkOwner(p); err != nil {
			return err
		}
	}
	return nil
}

func checkOwner(path string) error {
	// By its name, never through a descriptor of its own: closing any
	// descriptor of a file drops every POSIX lock the process holds on
	// it (fcntl(2)), SQLite's included, and this runs while the process
	// has the database open. Without its locks, another process (the
	// command-line tool) takes the database for unused, checkpoints it
	// and deletes the log that this one goes on writing to.
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: check the owner of %s: %w", path, err)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("sqlitestore: %s belongs to user %d, not to user %d that opens the database, and that user could read the sessions through it: "+
			"open the database as the file's owner, or, if the file is not yours, remove it and keep the database in a directory only you can write to",
			path, uid, os.Getuid())
	}
	return nil
}

// Options configure a Store.
type Options struct {
	// Table is the name of the sessions table; "sessions" if empty.
	Table string
	// MmapSize is how many bytes of the database file each of the
	// Store's readers maps into memory (see reader.go); DefaultMmapSize
	// if 0, none if negative. SQLite caps it at about 2 GB.
	MmapSize int64
}

// Store is a session.Store on SQLite.
type Store struct {
	db       *sql.DB
	table    string
	readers  readerPool // see reader.go
	nreaders int
	mmapSize int64 // of each reader
	touch    *sql.Stmt
	seen     *sql.Stmt
	alive    *sql.Stmt
	cache    findCache // see cache.go

	closeOnce sync.Once
	closeErr  error
}

var _ session.Store = (*Store)(nil)

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// New creates the sessions and endings tables if they do not exist, adds
// missing columns to an existing sessions table, and returns a Store on
// them. The caller keeps ownership of db. The Store holds 16 to 64 of db's
// connections for reads, four per CPU, each mapping up to opts.MmapSize
// bytes of the file into memory (see reader.go), until Close; New fails if
// db's SetMaxOpenConns leaves fewer than 4 others, and db's limit must not
// be lowered afterwards.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	table := opts.Table
	if table == "" {
		table = "sessions"
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("sqlitestore: invalid table name %q", table)
	}
	if err := migrate(ctx, db, table); err != nil {
		return nil, fmt.Errorf("sqlitestore: create tables: %w", err)
	}
	s := &Store{db: db, table: table, mmapSize: max(opts.MmapSize, 0)}
	if opts.MmapSize == 0 {
		s.mmapSize = DefaultMmapSize
	}
	if err := s.prepare(ctx); err != nil {
		return nil, fmt.Errorf("sqlitestore: prepare: %w", err)
	}
	return s, nil
}

// prepare prepares the statements of the request path and opens the
// readers; on failure it closes what it prepared.
func (s *Store) prepare(ctx context.Context) error {
	var (
		stmts []*sql.Stmt
		err   error
	)
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.touch, `UPDATE %s SET last_seen_at = ?, idle_deadline = ?, last_ip = ?
			WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? AND last_seen_at <= ?`},
		{&s.seen, `UPDATE %s SET seen_gen = ?, seen_at = ?
			WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? AND gen = ? AND seen_gen < ?`},
		{&s.alive, `SELECT 1 FROM %s WHERE id = ? AND idle_deadline > ? AND abs_deadline > ?`},
	} {
		if *p.stmt, err = s.db.PrepareContext(ctx, s.q(p.query)); err != nil {
			break
		}
		stmts = append(stmts, *p.stmt)
	}
	if err == nil {
		err = s.openReaders(ctx)
	}
	if err == nil {
		r, _ := s.readers.get(ctx)
		s.cache.hdr, err = openCache(ctx, r.conn)
		s.readers.put(r)
		if err != nil {
			s.closeReaders()
		}
	}
	if err != nil {
		for _, st := range stmts {
			st.Close()
		}
	}
	return err
}

// column is a column that a later version added to a table, with the
// definition that adds it to an existing one.
type column struct{ name, def string }

// added are the columns later versions added to the sessions table. Rows
// written before auth_at existed have it NULL and are read with their
// created_at: those sessions were authenticated when they were created, and
// nothing could re-authenticate them since. Their epoch is 0, the epoch of a
// user whose credentials never changed, so an app that compares epochs
// treats them as stale once the user's epoch has moved on.
//
// Rows written before handle and secret existed get random ones from
// migrate. Their token is of generation 0 and counts as seen; seen_at and
// issued_at are NULL and read as created_at (the token they have is the one
// issued at creation, as far as anyone can tell); they are not bound.
var added = []column{
	{"epoch", "epoch INTEGER NOT NULL DEFAULT 0"},
	{"method", "method TEXT NOT NULL DEFAULT ''"},
	{"auth_at", "auth_at INTEGER"},
	{"handle", "handle BLOB"},
	{"secret", "secret BLOB"},
	{"gen", "gen INTEGER NOT NULL DEFAULT 0"},
	{"seen_gen", "seen_gen INTEGER NOT NULL DEFAULT 0"},
	{"seen_at", "seen_at INTEGER"},
	{"issued_at", "issued_at INTEGER"},
	{"bind_key", "bind_key TEXT NOT NULL DEFAULT ''"},
	{"bound_at", "bound_at INTEGER"},
	{"bind_seq", "bind_seq INTEGER NOT NULL DEFAULT 0"},
	{"unbound", "unbound INTEGER NOT NULL DEFAULT 0"},
}

// addedEndings are the columns later versions added to the endings table.
// Endings written before handle are of ended sessions, with no handle;
// those of replaced tokens written before seen read as not presented.
var addedEndings = []column{
	{"handle", "handle BLOB"},
	{"gen", "gen INTEGER NOT NULL DEFAULT 0"},
	{"seen", "seen INTEGER NOT NULL DEFAULT 0"},
}

// migrate creates the tables, adds missing columns and fills in missing
// handles and secrets in one transaction, which takes the write lock up
// front (Open's _txlock=immediate), so that processes starting together do
// not both add a column. (On a database opened otherwise, one of them may
// fail with SQLITE_BUSY instead.)
//
// The handle index is created after the columns are added, since an older
// table lacks the column until then; the backfill runs on every start and
// finds the rows to fill through that index, so it costs nothing once done
// (and catches rows that a process of an older version inserted since).
func migrate(ctx context.Context, db *sql.DB, table string) error {
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
	last_ip       TEXT NOT NULL,
	epoch         INTEGER NOT NULL DEFAULT 0,
	method        TEXT NOT NULL DEFAULT '',
	auth_at       INTEGER,           -- NULL in rows older than the column: read as created_at
	handle        BLOB,              -- 16 random bytes; NULL only until migrate fills in older rows
	secret        BLOB,              -- 32 random bytes; likewise
	gen           INTEGER NOT NULL DEFAULT 0,
	seen_gen      INTEGER NOT NULL DEFAULT 0,
	seen_at       INTEGER,           -- NULL in rows older than the column: read as created_at
	issued_at     INTEGER,           -- likewise
	bind_key      TEXT NOT NULL DEFAULT '', -- JSON Web Key; '' if not bound
	bound_at      INTEGER,           -- NULL if not bound
	bind_seq      INTEGER NOT NULL DEFAULT 0,
	unbound       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS %[1]s_user ON %[1]s (user_id);
CREATE INDEX IF NOT EXISTS %[1]s_expiry ON %[1]s (min(idle_deadline, abs_deadline));
CREATE TABLE IF NOT EXISTS %[1]s_endings (
	id         BLOB PRIMARY KEY,     -- the ended session's ID
	user_id    TEXT NOT NULL,
	at         INTEGER NOT NULL,     -- microseconds since the Unix epoch
	why        TEXT NOT NULL,        -- '' for a token replaced by Renew
	expires_at INTEGER NOT NULL,     -- the session's absolute deadline
	handle     BLOB,                 -- for a replaced token, its session's handle; NULL for an ended session
	gen        INTEGER NOT NULL DEFAULT 0, -- for a replaced token, its generation
	seen       INTEGER NOT NULL DEFAULT 0  -- for a replaced token, 1 if a request had presented it
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS %[1]s_endings_expiry ON %[1]s_endings (expires_at);`, table)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	if err := addColumns(ctx, tx, table, added); err != nil {
		return err
	}
	if err := addColumns(ctx, tx, table+"_endings", addedEndings); err != nil {
		return err
	}
	fill := fmt.Sprintf(`
CREATE UNIQUE INDEX IF NOT EXISTS %[1]s_handle ON %[1]s (handle);
UPDATE %[1]s SET handle = randomblob(16), secret = coalesce(secret, randomblob(32)) WHERE handle IS NULL;`, table)
	if _, err := tx.ExecContext(ctx, fill); err != nil {
		return err
	}
	return tx.Commit()
}

// addColumns adds to table those of cols it lacks.
func addColumns(ctx context.Context, tx *sql.Tx, table string, cols []column) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, c := range cols {
		if !have[c.name] {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s`, table, c.def)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close releases the connections and statements the Store holds; it does
// not close the database. Calling it again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// The map first, while the readers keep the file in place.
		s.closeErr = errors.Join(s.cache.close(), s.closeReaders(), s.touch.Close(), s.seen.Close(), s.alive.Close())
	})
	return s.closeErr
}

// Table returns the name of the sessions table.
func (s *Store) Table() string { return s.table }

// columns are those Create writes; readColumns those scan reads.
const (
	columns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip,
		epoch, method, auth_at, handle, secret, gen, seen_gen, seen_at, issued_at, bind_key, bound_at, bind_seq, unbound`
	readColumns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip,
		epoch, method, coalesce(auth_at, created_at), handle, secret, gen, seen_gen, coalesce(seen_at, created_at),
		coalesce(issued_at, created_at), bind_key, bound_at, bind_seq, unbound`
)

func (s *Store) q(query string) string { return fmt.Sprintf(query, s.table) }

func (s *Store) Create(ctx context.Context, ss session.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO %s (`+columns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ss.ID[:], ss.UserID, micros(ss.CreatedAt), micros(ss.LastSeenAt), micros(ss.IdleDeadline),
		micros(ss.AbsoluteDeadline), ss.CreatedIP, ss.UserAgent, ss.LastIP, ss.Epoch, ss.Method, micros(ss.AuthAt),
		ss.Handle[:], ss.Secret[:], ss.Gen, ss.SeenGen, micros(ss.SeenAt), micros(ss.IssuedAt),
		ss.BindKey, nullMicros(ss.BoundAt), ss.BindSeq, ss.Unbound)
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

// Rotate's new generation counts as seen: seen_gen = gen + 1 reads the
// row's gen before the update, as every expression of an UPDATE does.
func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now, authAt time.Time, epoch int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE %s SET id = ?, auth_at = ?, epoch = ?,
			issued_at = ?, seen_at = ?, gen = gen + 1, seen_gen = gen + 1
		WHERE id = ? AND idle_deadline > ? AND abs_deadline > ?`),
		newID[:], micros(authAt), epoch, micros(now), micros(now), oldID[:], micros(now), micros(now))
	return affected(res, err)
}

// Renew moves the session and remembers the old token's ending in one
// transaction. The first statement writes, so the transaction holds the
// write lock from its start; it returns what the ending needs from the row
// it moved, so the ending is of exactly that row. Renew does not change
// seen_gen, so the returned one is the one the row had.
func (s *Store) Renew(ctx context.Context, oldID, newID session.ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	var (
		userID   string
		handle   []byte
		deadline int64
		seen     bool
	)
	err = tx.QueryRowContext(ctx, s.q(`UPDATE %s SET id = ?, gen = ?, issued_at = ?, last_seen_at = ?,
			idle_deadline = ?, last_ip = ?
		WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? AND gen = ?
		RETURNING user_id, handle, abs_deadline, seen_gen = ?`),
		newID[:], gen+1, micros(now), micros(now), micros(idleDeadline), lastIP,
		oldID[:], micros(now), micros(now), gen, gen).Scan(&userID, &handle, &deadline, &seen)
	if err != nil {
		return mapErr(err)
	}
	// As in end, a conflict cannot happen with random IDs; the later ending wins.
	_, err = tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %[1]s_endings (id, user_id, at, why, expires_at, handle, gen, seen)
		VALUES (?, ?, ?, '', ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, at = excluded.at, why = excluded.why,
			expires_at = excluded.expires_at, handle = excluded.handle, gen = excluded.gen, seen = excluded.seen`, s.table),
		oldID[:], userID, micros(now), deadline, handle, gen, seen)
	if err != nil {
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

func (s *Store) Seen(ctx context.Context, id session.ID, gen int64, now time.Time) error {
	res, err := s.seen.ExecContext(ctx, gen, micros(now), id[:], micros(now), micros(now), gen, gen)
	if err := affected(res, err); !errors.Is(err, session.ErrNotFound) {
		return err
	}
	// Nothing written: gone, or not of generation gen, or seen already.
	var one int
	return mapErr(s.alive.QueryRowContext(ctx, id[:], micros(now), micros(now)).Scan(&one))
}

func (s *Store) FindHandle(ctx context.Context, h session.Handle) (session.Session, error) {
	ss, err := scan(s.db.QueryRowContext(ctx, s.q(`SELECT `+readColumns+` FROM %s WHERE handle = ?`), h[:]))
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	return ss, nil
}

// Bind is one conditional UPDATE: with a key, the session must not be bound
// yet, or nothing changes (the challenge is not used either).
func (s *Store) Bind(ctx context.Context, id session.ID, now time.Time, seq int64, key string) error {
	var res sql.Result
	var err error
	if key == "" {
		res, err = s.db.ExecContext(ctx, s.q(`UPDATE %s SET bind_seq = ?
			WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? AND bind_seq = ?`),
			seq+1, id[:], micros(now), micros(now), seq)
	} else {
		res, err = s.db.ExecContext(ctx, s.q(`UPDATE %s SET bind_seq = ?, bind_key = ?, bound_at = ?
			WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? AND bind_seq = ? AND bind_key = ''`),
			seq+1, key, micros(now), id[:], micros(now), micros(now), seq)
	}
	return affected(res, err)
}

func (s *Store) NoteUnbound(ctx context.Context, id session.ID, now time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(`UPDATE %s SET unbound = unbound + 1
		WHERE id = ? AND idle_deadline > ? AND abs_deadline > ? RETURNING unbound`),
		id[:], micros(now), micros(now)).Scan(&n)
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

func (s *Store) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	_, err := s.end(ctx, now, why, `id = ?`, id[:])
	return err
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID, now time.Time, why string) error {
	_, err := s.end(ctx, now, why, `id = ? AND user_id = ?`, id[:], userID)
	return err
}

func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID, now time.Time, why string) (int, error) {
	n, err := s.end(ctx, now, why, `user_id = ? AND id <> ?`, userID, except[:])
	if errors.Is(err, session.ErrNotFound) {
		return 0, nil
	}
	return n, err
}

// end deletes the sessions that match where (a condition on the sessions
// table, with args for its placeholders) and returns how many it deleted,
// or ErrNotFound for none. If why is not empty, their endings are written
// in the same transaction, before the rows go: the first statement writes,
// so the transaction holds the write lock from its start, and both
// statements see the same rows.
func (s *Store) end(ctx context.Context, now time.Time, why, where string, args ...any) (int, error) {
	del := s.q(`DELETE FROM %s WHERE ` + where)
	if why == "" {
		res, err := s.db.ExecContext(ctx, del, args...)
		return countFound(res, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr(err)
	}
	defer tx.Rollback()
	// Conflicts cannot happen with random IDs; if one did, the later ending wins.
	remember := fmt.Sprintf(`INSERT INTO %[1]s_endings (id, user_id, at, why, expires_at, handle, gen, seen)
		SELECT id, user_id, ?, ?, abs_deadline, NULL, 0, 0 FROM %[1]s WHERE `+where+`
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, at = excluded.at, why = excluded.why,
			expires_at = excluded.expires_at, handle = excluded.handle, gen = excluded.gen, seen = excluded.seen`, s.table)
	if _, err := tx.ExecContext(ctx, remember, append([]any{micros(now), why}, args...)...); err != nil {
		return 0, mapErr(err)
	}
	res, err := tx.ExecContext(ctx, del, args...)
	n, err := countFound(res, err)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

func (s *Store) Ended(ctx context.Context, id session.ID) (session.Ending, error) {
	var (
		e      session.Ending
		at     int64
		handle []byte
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_id, at, why, handle, gen, seen FROM %s_endings WHERE id = ?`), id[:]).
		Scan(&e.UserID, &at, &e.Why, &handle, &e.Gen, &e.Seen)
	if err != nil {
		return session.Ending{}, mapErr(err)
	}
	if handle != nil && len(handle) != len(e.Handle) {
		return session.Ending{}, fmt.Errorf("sqlitestore: corrupt handle of %d bytes in the ending of %s", len(handle), id.Short())
	}
	copy(e.Handle[:], handle)
	e.At = fromMicros(at)
	return e, nil
}

func (s *Store) List(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+readColumns+` FROM %s
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

// endingsBatch is how many endings DeleteExpired forgets per transaction.
const endingsBatch = 500

func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM %[1]s WHERE id IN (
		SELECT id FROM %[1]s WHERE min(idle_deadline, abs_deadline) <= ? LIMIT ?)`), micros(now), limit)
	n, err := count(res, err)
	if err != nil {
		return 0, err
	}
	// Every ending past its deadline goes, whatever limit says, but in
	// batches, so that a backlog does not hold the write lock for long.
	forget := s.q(`DELETE FROM %[1]s_endings WHERE id IN (
		SELECT id FROM %[1]s_endings WHERE expires_at <= ? LIMIT ?)`)
	for {
		res, err := s.db.ExecContext(ctx, forget, micros(now), endingsBatch)
		m, err := count(res, err)
		if err != nil {
			return n, err
		}
		if m < endingsBatch {
			return n, nil
		}
	}
}

type scanner interface{ Scan(dest ...any) error }

// scan reads readColumns. A handle or secret of the wrong size (NULL
// included) makes the row corrupt: a session is never handed out with a
// zero secret.
func scan(row scanner) (session.Session, error) {
	var (
		ss                                    session.Session
		id, handle, secret                    []byte
		created, seen, idle, absolute, authAt int64
		seenAt, issuedAt                      int64
		boundAt                               sql.NullInt64
	)
	if err := row.Scan(&id, &ss.UserID, &created, &seen, &idle, &absolute, &ss.CreatedIP, &ss.UserAgent, &ss.LastIP,
		&ss.Epoch, &ss.Method, &authAt, &handle, &secret, &ss.Gen, &ss.SeenGen, &seenAt, &issuedAt,
		&ss.BindKey, &boundAt, &ss.BindSeq, &ss.Unbound); err != nil {
		return session.Session{}, err
	}
	if len(id) != len(ss.ID) {
		return session.Session{}, fmt.Errorf("sqlitestore: corrupt session id of %d bytes", len(id))
	}
	copy(ss.ID[:], id)
	if len(handle) != len(ss.Handle) || len(secret) != len(ss.Secret) {
		return session.Session{}, fmt.Errorf("sqlitestore: corrupt session %s: handle of %d bytes, secret of %d",
			ss.ID.Short(), len(handle), len(secret))
	}
	copy(ss.Handle[:], handle)
	copy(ss.Secret[:], secret)
	ss.CreatedAt, ss.LastSeenAt = fromMicros(created), fromMicros(seen)
	ss.IdleDeadline, ss.AbsoluteDeadline = fromMicros(idle), fromMicros(absolute)
	ss.AuthAt = fromMicros(authAt)
	ss.SeenAt, ss.IssuedAt = fromMicros(seenAt), fromMicros(issuedAt)
	if boundAt.Valid {
		ss.BoundAt = fromMicros(boundAt.Int64)
	}
	return ss, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros is micros, with NULL for the zero time.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

func affected(res sql.Result, err error) error {
	_, err = countFound(res, err)
	return err
}

// countFound is count, with ErrNotFound for none.
func countFound(res sql.Result, err error) (int, error) {
	n, err := count(res, err)
	if err == nil && n == 0 {
		err = session.ErrNotFound
	}
	return n, err
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
