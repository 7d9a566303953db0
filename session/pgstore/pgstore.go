// Package pgstore keeps sessions in PostgreSQL through jackc/pgx/v5, for
// deployments of several instances.
//
// Each session is one row keyed by the SHA-256 of its token; the token
// itself is never stored. Every operation is a single statement (one round
// trip), and every write after the insert is a conditional UPDATE or DELETE,
// so nothing can re-create a session that is gone.
//
// The Ending of a session deleted with a reason is a row in a second table,
// named after the first with "_endings" appended, under the same ID until
// the session's absolute deadline. The statement that deletes the session
// writes it from the deleted row, so the two happen together or not at all.
//
// New brings a sessions table created by an earlier version up to date in
// place: it adds the columns that version lacked.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connectbook/connectbook/session"
)

// Options configure a Store.
type Options struct {
	// Table is the name of the sessions table; "sessions" if empty.
	Table string
}

// Store is a session.Store on PostgreSQL.
type Store struct {
	pool  *pgxpool.Pool
	table string
	// Queries with the table name filled in, built once.
	qCreate, qFind, qTouch, qAlive, qRotate, qDelete, qDeleteFor, qDeleteAll, qEnded, qList, qSweep string
}

var _ session.Store = (*Store)(nil)

// tableName leaves room for the longest name derived from it,
// <table>_endings_expiry, within PostgreSQL's 63 bytes: a longer name would
// be cut short, and could then name an existing relation.
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// columns are those Create writes; readColumns those scan reads.
const (
	columns     = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip, epoch, method, auth_at`
	readColumns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip, epoch, method, COALESCE(auth_at, created_at)`
)

// ending deletes the sessions that match a condition on $3 (and $4) and,
// when the reason $2 is not empty, writes their endings at $1 from the
// deleted rows, in one statement. It returns the number deleted. Conflicts
// cannot happen with random IDs; if one did, the later ending wins.
const ending = `WITH d AS (DELETE FROM %[1]s WHERE %[2]s RETURNING id, user_id, abs_deadline),
e AS (INSERT INTO %[1]s_endings (id, user_id, at, why, expires_at)
	SELECT id, user_id, $1::timestamptz, $2::text, abs_deadline FROM d WHERE $2::text <> ''
	ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, at = excluded.at,
		why = excluded.why, expires_at = excluded.expires_at)
SELECT count(*) FROM d`

// New creates the sessions and endings tables if they do not exist, adds
// missing columns to an existing sessions table, and returns a Store on
// them. The caller keeps ownership of pool. The table name may be at most
// 48 bytes.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	table := opts.Table
	if table == "" {
		table = "sessions"
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("pgstore: invalid table name %q", table)
	}
	if err := migrate(ctx, pool, table); err != nil {
		return nil, err
	}
	q := func(query string) string { return fmt.Sprintf(query, table) }
	end := func(where string) string { return fmt.Sprintf(ending, table, where) }
	return &Store{
		pool:       pool,
		table:      table,
		qCreate:    q(`INSERT INTO %s (` + columns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`),
		qFind:      q(`SELECT ` + readColumns + ` FROM %s WHERE id = $1`),
		qTouch:     q(`UPDATE %s SET last_seen_at = $2, idle_deadline = $3, last_ip = $4 WHERE id = $1 AND idle_deadline > $2 AND abs_deadline > $2 AND last_seen_at <= $5`),
		qAlive:     q(`SELECT 1 FROM %s WHERE id = $1 AND idle_deadline > $2 AND abs_deadline > $2`),
		qRotate:    q(`UPDATE %s SET id = $2, auth_at = $4, epoch = $5 WHERE id = $1 AND idle_deadline > $3 AND abs_deadline > $3`),
		qDelete:    end(`id = $3`),
		qDeleteFor: end(`id = $3 AND user_id = $4`),
		qDeleteAll: end(`user_id = $3 AND id <> $4`),
		qEnded:     q(`SELECT user_id, at, why FROM %s_endings WHERE id = $1`),
		qList:      q(`SELECT ` + readColumns + ` FROM %s WHERE user_id = $1 AND idle_deadline > $2 AND abs_deadline > $2 ORDER BY created_at DESC, id`),
		// Endings past their deadline all go, whatever the limit; a large
		// delete does not block PostgreSQL's readers or other writers.
		qSweep: fmt.Sprintf(`WITH e AS (DELETE FROM %[1]s_endings WHERE id IN (
			SELECT id FROM %[1]s_endings WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED))
		DELETE FROM %[1]s WHERE id IN (
			SELECT id FROM %[1]s WHERE LEAST(idle_deadline, abs_deadline) <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, table),
	}, nil
}

// migrate creates the tables and adds missing columns under an advisory
// lock, so that instances starting together do not race on the catalog.
//
// Rows written before auth_at existed have it NULL and are read with their
// created_at: those sessions were authenticated when they were created,
// and nothing could re-authenticate them since. Leaving it nullable also
// keeps instances of the earlier version, which do not write it, working
// during a rolling upgrade. Older rows' epoch is 0, the epoch of a user
// whose credentials never changed, so an app that compares epochs treats
// them as stale once the user's epoch has moved on.
func migrate(ctx context.Context, pool *pgxpool.Pool, table string) error {
	schema := fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s (
	id            bytea PRIMARY KEY,  -- SHA-256 of the token
	user_id       text NOT NULL,
	created_at    timestamptz NOT NULL,
	last_seen_at  timestamptz NOT NULL,
	idle_deadline timestamptz NOT NULL,
	abs_deadline  timestamptz NOT NULL,
	created_ip    text NOT NULL,
	user_agent    text NOT NULL,
	last_ip       text NOT NULL,
	epoch         bigint NOT NULL DEFAULT 0,
	method        text NOT NULL DEFAULT '',
	auth_at       timestamptz         -- NULL in rows older than the column: read as created_at
);
CREATE INDEX IF NOT EXISTS %[1]s_user ON %[1]s (user_id);
CREATE INDEX IF NOT EXISTS %[1]s_expiry ON %[1]s (LEAST(idle_deadline, abs_deadline));
CREATE TABLE IF NOT EXISTS %[1]s_endings (
	id         bytea PRIMARY KEY,     -- the ended session's ID
	user_id    text NOT NULL,
	at         timestamptz NOT NULL,
	why        text NOT NULL,
	expires_at timestamptz NOT NULL   -- the session's absolute deadline
);
CREATE INDEX IF NOT EXISTS %[1]s_endings_expiry ON %[1]s_endings (expires_at);`, table)
	// ALTER TABLE takes a lock that stops every query on the table, even
	// when there is nothing to add, so it runs only when a column is missing.
	upgrade := fmt.Sprintf(`ALTER TABLE %s
	ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS method text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS auth_at timestamptz`, table)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "pgstore:"+table); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, schema); err != nil {
			return err
		}
		var have int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attname IN ('epoch', 'method', 'auth_at') AND NOT attisdropped`, table).Scan(&have)
		if err != nil || have == 3 {
			return err
		}
		_, err = tx.Exec(ctx, upgrade)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: create tables: %w", err)
	}
	return nil
}

// Table returns the name of the sessions table.
func (s *Store) Table() string { return s.table }

func (s *Store) Create(ctx context.Context, ss session.Session) error {
	_, err := s.pool.Exec(ctx, s.qCreate, ss.ID[:], ss.UserID, ss.CreatedAt, ss.LastSeenAt,
		ss.IdleDeadline, ss.AbsoluteDeadline, ss.CreatedIP, ss.UserAgent, ss.LastIP, ss.Epoch, ss.Method, ss.AuthAt)
	return mapErr(err)
}

func (s *Store) Find(ctx context.Context, id session.ID) (session.Session, error) {
	ss, err := scan(s.pool.QueryRow(ctx, s.qFind, id[:]))
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	return ss, nil
}

func (s *Store) Touch(ctx context.Context, id session.ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	err := affected(s.pool.Exec(ctx, s.qTouch, id[:], now, idleDeadline, lastIP, seenBefore))
	if !errors.Is(err, session.ErrNotFound) {
		return err
	}
	// Nothing written: gone, or touched since seenBefore.
	var one int
	return mapErr(s.pool.QueryRow(ctx, s.qAlive, id[:], now).Scan(&one))
}

func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now, authAt time.Time, epoch int64) error {
	return affected(s.pool.Exec(ctx, s.qRotate, oldID[:], newID[:], now, authAt, epoch))
}

func (s *Store) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	return found(s.end(ctx, s.qDelete, now, why, id[:]))
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID, now time.Time, why string) error {
	return found(s.end(ctx, s.qDeleteFor, now, why, id[:], userID))
}

func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID, now time.Time, why string) (int, error) {
	return s.end(ctx, s.qDeleteAll, now, why, userID, except[:])
}

// end runs one of the statements built from ending and returns how many
// sessions it deleted.
func (s *Store) end(ctx context.Context, query string, now time.Time, why string, cond ...any) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, query, append([]any{now, why}, cond...)...).Scan(&n); err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

func found(n int, err error) error {
	if err == nil && n == 0 {
		err = session.ErrNotFound
	}
	return err
}

func (s *Store) Ended(ctx context.Context, id session.ID) (session.Ending, error) {
	var e session.Ending
	if err := s.pool.QueryRow(ctx, s.qEnded, id[:]).Scan(&e.UserID, &e.At, &e.Why); err != nil {
		return session.Ending{}, mapErr(err)
	}
	e.At = e.At.UTC()
	return e, nil
}

func (s *Store) List(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	rows, err := s.pool.Query(ctx, s.qList, userID, now)
	if err != nil {
		return nil, mapErr(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (session.Session, error) { return scan(row) })
	if err != nil {
		return nil, mapErr(err)
	}
	if list == nil {
		list = []session.Session{}
	}
	return list, nil
}

func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, s.qSweep, now, limit)
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

func scan(row pgx.Row) (session.Session, error) {
	var (
		ss session.Session
		id []byte
	)
	err := row.Scan(&id, &ss.UserID, &ss.CreatedAt, &ss.LastSeenAt, &ss.IdleDeadline,
		&ss.AbsoluteDeadline, &ss.CreatedIP, &ss.UserAgent, &ss.LastIP, &ss.Epoch, &ss.Method, &ss.AuthAt)
	if err != nil {
		return session.Session{}, err
	}
	if len(id) != len(ss.ID) {
		return session.Session{}, fmt.Errorf("pgstore: corrupt session id of %d bytes", len(id))
	}
	copy(ss.ID[:], id)
	ss.CreatedAt, ss.LastSeenAt = ss.CreatedAt.UTC(), ss.LastSeenAt.UTC()
	ss.IdleDeadline, ss.AbsoluteDeadline = ss.IdleDeadline.UTC(), ss.AbsoluteDeadline.UTC()
	ss.AuthAt = ss.AuthAt.UTC()
	return ss, nil
}

func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return session.ErrNotFound
	}
	return nil
}

// mapErr maps driver errors onto the session package's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return session.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return session.ErrExists
	}
	return fmt.Errorf("pgstore: %w", err)
}
