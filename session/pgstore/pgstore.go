// Package pgstore keeps sessions in PostgreSQL through jackc/pgx/v5, for
// deployments of several instances.
//
// Each session is one row keyed by the SHA-256 of its token; the token
// itself is never stored. Every operation is a single statement (one round
// trip), and every write after the insert is a conditional UPDATE or DELETE,
// so nothing can re-create a session that is gone.
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
	qCreate, qFind, qTouch, qAlive, qRotate, qDelete, qDeleteFor, qDeleteAll, qList, qSweep string
}

var _ session.Store = (*Store)(nil)

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

const columns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip`

// New creates the sessions table if it does not exist and returns a Store on
// it. The caller keeps ownership of pool.
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
	return &Store{
		pool:       pool,
		table:      table,
		qCreate:    q(`INSERT INTO %s (` + columns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
		qFind:      q(`SELECT ` + columns + ` FROM %s WHERE id = $1`),
		qTouch:     q(`UPDATE %s SET last_seen_at = $2, idle_deadline = $3, last_ip = $4 WHERE id = $1 AND idle_deadline > $2 AND abs_deadline > $2 AND last_seen_at <= $5`),
		qAlive:     q(`SELECT 1 FROM %s WHERE id = $1 AND idle_deadline > $2 AND abs_deadline > $2`),
		qRotate:    q(`UPDATE %s SET id = $2 WHERE id = $1 AND idle_deadline > $3 AND abs_deadline > $3`),
		qDelete:    q(`DELETE FROM %s WHERE id = $1`),
		qDeleteFor: q(`DELETE FROM %s WHERE id = $1 AND user_id = $2`),
		qDeleteAll: q(`DELETE FROM %s WHERE user_id = $1 AND id <> $2`),
		qList:      q(`SELECT ` + columns + ` FROM %s WHERE user_id = $1 AND idle_deadline > $2 AND abs_deadline > $2 ORDER BY created_at DESC, id`),
		qSweep: fmt.Sprintf(`DELETE FROM %[1]s WHERE id IN (
			SELECT id FROM %[1]s WHERE LEAST(idle_deadline, abs_deadline) <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, table),
	}, nil
}

// migrate creates the table under an advisory lock, so that instances
// starting together do not race on the catalog.
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
	last_ip       text NOT NULL
);
CREATE INDEX IF NOT EXISTS %[1]s_user ON %[1]s (user_id);
CREATE INDEX IF NOT EXISTS %[1]s_expiry ON %[1]s (LEAST(idle_deadline, abs_deadline));`, table)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "pgstore:"+table); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: create table: %w", err)
	}
	return nil
}

// Table returns the name of the sessions table.
func (s *Store) Table() string { return s.table }

func (s *Store) Create(ctx context.Context, ss session.Session) error {
	_, err := s.pool.Exec(ctx, s.qCreate, ss.ID[:], ss.UserID, ss.CreatedAt, ss.LastSeenAt,
		ss.IdleDeadline, ss.AbsoluteDeadline, ss.CreatedIP, ss.UserAgent, ss.LastIP)
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

func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now time.Time) error {
	return affected(s.pool.Exec(ctx, s.qRotate, oldID[:], newID[:], now))
}

func (s *Store) Delete(ctx context.Context, id session.ID) error {
	return affected(s.pool.Exec(ctx, s.qDelete, id[:]))
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID) error {
	return affected(s.pool.Exec(ctx, s.qDeleteFor, id[:], userID))
}

func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID) (int, error) {
	tag, err := s.pool.Exec(ctx, s.qDeleteAll, userID, except[:])
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
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
		&ss.AbsoluteDeadline, &ss.CreatedIP, &ss.UserAgent, &ss.LastIP)
	if err != nil {
		return session.Session{}, err
	}
	if len(id) != len(ss.ID) {
		return session.Session{}, fmt.Errorf("pgstore: corrupt session id of %d bytes", len(id))
	}
	copy(ss.ID[:], id)
	ss.CreatedAt, ss.LastSeenAt = ss.CreatedAt.UTC(), ss.LastSeenAt.UTC()
	ss.IdleDeadline, ss.AbsoluteDeadline = ss.IdleDeadline.UTC(), ss.AbsoluteDeadline.UTC()
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
