// Package pgstore keeps sessions in PostgreSQL (13 or later) through
// jackc/pgx/v5, for deployments of several instances.
//
// Each session is one row keyed by the SHA-256 of its token; the token
// itself is never stored. Every operation is a single statement (one round
// trip), and every write after the insert is a conditional UPDATE or DELETE,
// so nothing can re-create a session that is gone.
//
// The Ending of a session deleted with a reason, and the link that Renew
// leaves under a replaced token, are rows in a second table, named after
// the first with "_endings" appended, under the ID they were left under
// until the session's absolute deadline. The statement that deletes or
// renews the session writes them from the row it changed, so the two
// happen together or not at all.
//
// New brings tables created by an earlier version up to date in place: it
// adds the columns that version lacked, filling in a random handle and
// secret for the sessions it already holds.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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
	qCreate, qFind, qFindHandle, qTouch, qAlive, qRotate, qRenew, qSeen, qBind, qUnbound,
	qDelete, qDeleteFor, qDeleteAll, qEnded, qList, qSweep, qForget string
}

var _ session.Store = (*Store)(nil)

// tableName leaves room for the longest name derived from it,
// <table>_endings_expiry, within PostgreSQL's 63 bytes: a longer name would
// be cut short, and could then name an existing relation.
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// columns are those Create writes; readColumns those scan reads.
const (
	columns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip, epoch, method, auth_at,
		handle, secret, gen, seen_gen, seen_at, issued_at, bind_key, bound_at, bind_seq, unbound`
	readColumns = `id, user_id, created_at, last_seen_at, idle_deadline, abs_deadline, created_ip, user_agent, last_ip, epoch, method, COALESCE(auth_at, created_at),
		handle, secret, gen, seen_gen, COALESCE(seen_at, created_at), COALESCE(issued_at, created_at), bind_key, bound_at, bind_seq, unbound`
)

// alive is the condition that the session is valid at the instant in the
// given parameter.
func alive(now string) string {
	return `idle_deadline > ` + now + ` AND abs_deadline > ` + now
}

// ending deletes the sessions that match a condition on $3 (and $4) and,
// when the reason $2 is not empty, writes their endings at $1 from the
// deleted rows, in one statement. It returns the number deleted. Conflicts
// cannot happen with random IDs; if one did, the later ending wins.
const ending = `WITH d AS (DELETE FROM %[1]s WHERE %[2]s RETURNING id, user_id, abs_deadline),
e AS (INSERT INTO %[1]s_endings (id, user_id, at, why, expires_at)
	SELECT id, user_id, $1::timestamptz, $2::text, abs_deadline FROM d WHERE $2::text <> ''
	ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, at = excluded.at,
		why = excluded.why, expires_at = excluded.expires_at, handle = excluded.handle, gen = excluded.gen,
		seen = excluded.seen)
SELECT count(*) FROM d`

// The sweep runs every minute or so on a table that may hold millions of
// sessions, and nearly always finds nothing due. It must find what is due
// through the expiry indexes whatever the planner believes about how many
// rows are due: a LIMIT alone lets the planner expect a sequential scan to
// stop early, and when its statistics (or a generic plan, which a prepared
// statement switches to after a few runs) say many rows are due, it reads
// the whole table to find none. Ordered by the indexed expression, the
// first rows come cheapest from the index, in any plan. The rows chosen are
// then deleted by primary key (= ANY of an array, not IN, which the planner
// may turn into a join that hashes the whole table).
//
// forget deletes up to endingsBatch endings past their deadline at $1 and
// returns 1 for each. DeleteExpired repeats it until a batch comes back
// short, so every ending due goes, whatever the caller's limit, in
// transactions of bounded size.
const (
	forget = `DELETE FROM %[1]s_endings WHERE id = ANY(ARRAY(
			SELECT id FROM %[1]s_endings WHERE expires_at <= $1
			ORDER BY expires_at LIMIT %[2]d FOR UPDATE SKIP LOCKED))
			RETURNING 1`
	endingsBatch = 1000
)

// New creates the sessions and endings tables if they do not exist, brings
// existing ones up to date, and returns a Store on them. The caller keeps
// ownership of pool. The table name may be at most 48 bytes.
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
		pool:  pool,
		table: table,
		qCreate: q(`INSERT INTO %s (` + columns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
			$13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`),
		qFind:       q(`SELECT ` + readColumns + ` FROM %s WHERE id = $1`),
		qFindHandle: q(`SELECT ` + readColumns + ` FROM %s WHERE handle = $1`),
		qTouch:      q(`UPDATE %s SET last_seen_at = $2, idle_deadline = $3, last_ip = $4 WHERE id = $1 AND ` + alive("$2") + ` AND last_seen_at <= $5`),
		qAlive:      q(`SELECT 1 FROM %s WHERE id = $1 AND ` + alive("$2")),
		// In SET, gen is the value before the update.
		qRotate: q(`UPDATE %s SET id = $2, auth_at = $4, epoch = $5, issued_at = $3, seen_at = $3, gen = gen + 1, seen_gen = gen + 1
			WHERE id = $1 AND ` + alive("$3")),
		// The session moves and its link is written in one statement; a
		// taken new ID fails the whole statement. The link's seen comes
		// from the row moved: Renew keeps seen_gen, so RETURNING gives the
		// value it had.
		qRenew: fmt.Sprintf(`WITH r AS (
			UPDATE %[1]s SET id = $2::bytea, gen = gen + 1, issued_at = $4::timestamptz, last_seen_at = $4, idle_deadline = $5, last_ip = $6
			WHERE id = $1::bytea AND gen = $3::bigint AND `+alive("$4")+`
			RETURNING user_id, handle, abs_deadline, seen_gen = $3 AS seen),
		e AS (INSERT INTO %[1]s_endings (id, user_id, at, why, expires_at, handle, gen, seen)
			SELECT $1, user_id, $4, '', abs_deadline, handle, $3, seen FROM r
			ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, at = excluded.at,
				why = excluded.why, expires_at = excluded.expires_at, handle = excluded.handle, gen = excluded.gen,
				seen = excluded.seen)
		SELECT count(*) FROM r`, table),
		// One UPDATE of the live row, which writes its own values back
		// when there is nothing to record: a statement that read the row
		// apart from writing it could answer for a version that a
		// concurrent Renew has moved since. In SET, gen and seen_gen are
		// the values before the update.
		qSeen: q(`UPDATE %s SET
				seen_gen = CASE WHEN gen = $2 AND seen_gen < $2 THEN $2 ELSE seen_gen END,
				seen_at = CASE WHEN gen = $2 AND seen_gen < $2 THEN $3 ELSE seen_at END
			WHERE id = $1 AND ` + alive("$3")),
		qBind: q(`UPDATE %s SET bind_seq = $3::bigint + 1,
				bind_key = CASE WHEN $4::text = '' THEN bind_key ELSE $4::text END,
				bound_at = CASE WHEN $4::text = '' THEN bound_at ELSE $2::timestamptz END
			WHERE id = $1 AND ` + alive("$2") + ` AND bind_seq = $3 AND ($4::text = '' OR bind_key = '')`),
		qUnbound:   q(`UPDATE %s SET unbound = unbound + 1 WHERE id = $1 AND ` + alive("$2") + ` RETURNING unbound`),
		qDelete:    end(`id = $3`),
		qDeleteFor: end(`id = $3 AND user_id = $4`),
		qDeleteAll: end(`user_id = $3 AND id <> $4`),
		qEnded:     q(`SELECT user_id, at, why, handle, gen, seen FROM %s_endings WHERE id = $1`),
		qList:      q(`SELECT ` + readColumns + ` FROM %s WHERE user_id = $1 AND ` + alive("$2") + ` ORDER BY created_at DESC, id`),
		qSweep: fmt.Sprintf(`WITH e AS (`+forget+`),
		d AS (DELETE FROM %[1]s WHERE id = ANY(ARRAY(
			SELECT id FROM %[1]s WHERE LEAST(idle_deadline, abs_deadline) <= $1
			ORDER BY LEAST(idle_deadline, abs_deadline) LIMIT $2 FOR UPDATE SKIP LOCKED))
			RETURNING 1)
		SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM e)`, table, endingsBatch),
		qForget: fmt.Sprintf(`WITH e AS (`+forget+`) SELECT count(*) FROM e`, table, endingsBatch),
	}, nil
}

// The columns and indexes of the current layout, which migrate looks for.
var (
	sessionColumns = []string{"id", "user_id", "created_at", "last_seen_at", "idle_deadline", "abs_deadline",
		"created_ip", "user_agent", "last_ip", "epoch", "method", "auth_at", "handle", "secret", "gen", "seen_gen",
		"seen_at", "issued_at", "bind_key", "bound_at", "bind_seq", "unbound"}
	endingColumns = []string{"id", "user_id", "at", "why", "expires_at", "handle", "gen", "seen"}
	indexes       = []string{"%s_user", "%s_expiry", "%s_handle", "%s_endings_expiry"}
)

// The SQL for 16 and 32 random bytes: gen_random_uuid draws from
// PostgreSQL's strong random source (a version 4 UUID has 122 random bits).
const (
	random16 = `uuid_send(gen_random_uuid())`
	random32 = `(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))`
)

// migrate creates the tables, adds missing columns and indexes, under an
// advisory lock, so that instances starting together do not race on the
// catalog. It first looks in the catalog and changes nothing when all is
// there: DDL takes locks that stop queries on the table, even when it has
// nothing to do.
//
// Rows written before auth_at existed have it NULL and are read with their
// created_at: those sessions were authenticated when they were created,
// and nothing could re-authenticate them since. Leaving it nullable also
// keeps instances of the earlier version, which do not write it, working
// during a rolling upgrade. Older rows' epoch is 0, the epoch of a user
// whose credentials never changed, so an app that compares epochs treats
// them as stale once the user's epoch has moved on.
//
// Likewise seen_at and issued_at are NULL in older rows and read as
// created_at (their token has been issued and seen since creation, at
// generation 0). Handle and secret have random defaults, which fill in the
// rows a table already holds when the columns are added (the table is
// rewritten once) and the rows that instances of the earlier version insert
// during a rolling upgrade; this version always writes its own. A handle is
// NULL only for a session created without one (the zero Handle), which no
// FindHandle finds. bound_at is NULL while the session is not bound; the
// handle and gen of an ending are NULL and 0 for a session that ended, as
// opposed to a token replaced by Renew; seen is false for an ended session
// and for the endings of replaced tokens written before the column.
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
	auth_at       timestamptz,        -- NULL in rows older than the column: read as created_at
	handle        bytea DEFAULT %[2]s,  -- 16 bytes, for the session's life
	secret        bytea NOT NULL DEFAULT %[3]s,  -- 32 bytes
	gen           bigint NOT NULL DEFAULT 0,
	seen_gen      bigint NOT NULL DEFAULT 0,
	seen_at       timestamptz,        -- NULL in rows older than the column: read as created_at
	issued_at     timestamptz,        -- likewise
	bind_key      text NOT NULL DEFAULT '',  -- JWK, '' if not bound
	bound_at      timestamptz,        -- NULL if not bound
	bind_seq      bigint NOT NULL DEFAULT 0,
	unbound       bigint NOT NULL DEFAULT 0
);
ALTER TABLE %[1]s
	ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS method text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS auth_at timestamptz,
	ADD COLUMN IF NOT EXISTS handle bytea DEFAULT %[2]s,
	ADD COLUMN IF NOT EXISTS secret bytea NOT NULL DEFAULT %[3]s,
	ADD COLUMN IF NOT EXISTS gen bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS seen_gen bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS seen_at timestamptz,
	ADD COLUMN IF NOT EXISTS issued_at timestamptz,
	ADD COLUMN IF NOT EXISTS bind_key text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS bound_at timestamptz,
	ADD COLUMN IF NOT EXISTS bind_seq bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS unbound bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS %[1]s_user ON %[1]s (user_id);
CREATE INDEX IF NOT EXISTS %[1]s_expiry ON %[1]s (LEAST(idle_deadline, abs_deadline));
CREATE UNIQUE INDEX IF NOT EXISTS %[1]s_handle ON %[1]s (handle);
CREATE TABLE IF NOT EXISTS %[1]s_endings (
	id         bytea PRIMARY KEY,     -- the ID the ending is left under
	user_id    text NOT NULL,
	at         timestamptz NOT NULL,
	why        text NOT NULL,         -- '' for a token replaced by Renew
	expires_at timestamptz NOT NULL,  -- the session's absolute deadline
	handle     bytea,                 -- for a token replaced by Renew: its session's handle
	gen        bigint NOT NULL DEFAULT 0,  -- the token's generation
	seen       boolean NOT NULL DEFAULT false  -- and whether a request had presented it
);
ALTER TABLE %[1]s_endings
	ADD COLUMN IF NOT EXISTS handle bytea,
	ADD COLUMN IF NOT EXISTS gen bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS seen boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS %[1]s_endings_expiry ON %[1]s_endings (expires_at);`, table, random16, random32)
	names := make([]string, len(indexes))
	for i, f := range indexes {
		names[i] = fmt.Sprintf(f, table)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "pgstore:"+table); err != nil {
			return err
		}
		var current bool
		err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = ANY($2) AND NOT attisdropped) = cardinality($2)
			AND (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1 || '_endings') AND attname = ANY($3) AND NOT attisdropped) = cardinality($3)
			AND (SELECT count(*) FROM unnest($4::text[]) AS i (name) WHERE to_regclass(name) IS NOT NULL) = cardinality($4)`,
			table, sessionColumns, endingColumns, names).Scan(&current)
		if err != nil || current {
			return err
		}
		_, err = tx.Exec(ctx, schema)
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
	var handle []byte // NULL for the zero handle, which names no session
	if !ss.Handle.IsZero() {
		handle = ss.Handle[:]
	}
	_, err := s.pool.Exec(ctx, s.qCreate, ss.ID[:], ss.UserID, ss.CreatedAt, ss.LastSeenAt,
		ss.IdleDeadline, ss.AbsoluteDeadline, ss.CreatedIP, ss.UserAgent, ss.LastIP, ss.Epoch, ss.Method, ss.AuthAt,
		handle, ss.Secret[:], ss.Gen, ss.SeenGen, ss.SeenAt, ss.IssuedAt,
		ss.BindKey, pgtype.Timestamptz{Time: ss.BoundAt, Valid: !ss.BoundAt.IsZero()}, ss.BindSeq, ss.Unbound)
	return mapErr(err)
}

func (s *Store) Find(ctx context.Context, id session.ID) (session.Session, error) {
	return s.findOne(ctx, s.qFind, id[:])
}

func (s *Store) FindHandle(ctx context.Context, h session.Handle) (session.Session, error) {
	if h.IsZero() {
		return session.Session{}, session.ErrNotFound
	}
	return s.findOne(ctx, s.qFindHandle, h[:])
}

func (s *Store) findOne(ctx context.Context, query string, key []byte) (session.Session, error) {
	ss, err := scan(s.pool.QueryRow(ctx, query, key))
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

func (s *Store) Renew(ctx context.Context, oldID, newID session.ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	return found(s.count(ctx, s.qRenew, oldID[:], newID[:], gen, now, idleDeadline, lastIP))
}

func (s *Store) Seen(ctx context.Context, id session.ID, gen int64, now time.Time) error {
	return affected(s.pool.Exec(ctx, s.qSeen, id[:], gen, now))
}

func (s *Store) Bind(ctx context.Context, id session.ID, now time.Time, seq int64, key string) error {
	return affected(s.pool.Exec(ctx, s.qBind, id[:], now, seq, key))
}

func (s *Store) NoteUnbound(ctx context.Context, id session.ID, now time.Time) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, s.qUnbound, id[:], now).Scan(&n); err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

func (s *Store) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	return found(s.count(ctx, s.qDelete, now, why, id[:]))
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID, now time.Time, why string) error {
	return found(s.count(ctx, s.qDeleteFor, now, why, id[:], userID))
}

func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID, now time.Time, why string) (int, error) {
	return s.count(ctx, s.qDeleteAll, now, why, userID, except[:])
}

// count runs a statement that answers with one count, such as those built
// from ending, and returns it.
func (s *Store) count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
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
	err := s.pool.QueryRow(ctx, s.qEnded, id[:]).Scan(&e.UserID, (*timeScan)(&e.At), &e.Why, (*handleScan)(&e.Handle), &e.Gen, &e.Seen)
	if err != nil {
		return session.Ending{}, mapErr(err)
	}
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
	var n, forgot int
	if err := s.pool.QueryRow(ctx, s.qSweep, now, limit).Scan(&n, &forgot); err != nil {
		return 0, mapErr(err)
	}
	for forgot == endingsBatch {
		if err := s.pool.QueryRow(ctx, s.qForget, now).Scan(&forgot); err != nil {
			return n, mapErr(err)
		}
	}
	return n, nil
}

func scan(row pgx.Row) (session.Session, error) {
	var ss session.Session
	err := row.Scan((*idScan)(&ss.ID), &ss.UserID, (*timeScan)(&ss.CreatedAt), (*timeScan)(&ss.LastSeenAt),
		(*timeScan)(&ss.IdleDeadline), (*timeScan)(&ss.AbsoluteDeadline), &ss.CreatedIP, &ss.UserAgent, &ss.LastIP,
		&ss.Epoch, &ss.Method, (*timeScan)(&ss.AuthAt), (*handleScan)(&ss.Handle), (*secretScan)(&ss.Secret),
		&ss.Gen, &ss.SeenGen, (*timeScan)(&ss.SeenAt), (*timeScan)(&ss.IssuedAt),
		&ss.BindKey, (*timeScan)(&ss.BoundAt), &ss.BindSeq, &ss.Unbound)
	if err != nil {
		return session.Session{}, err
	}
	return ss, nil
}

// Scan targets that read bytea and timestamptz columns straight into a
// Session's fields: fewer allocations than pgx's own for []byte and
// time.Time, which matters on the request path.
type (
	idScan     session.ID
	handleScan session.Handle // NULL reads as the zero handle
	secretScan [32]byte
	timeScan   time.Time // in UTC; NULL reads as the zero time
)

func (p *idScan) ScanBytes(v []byte) error     { return scanFixed(p[:], v, false, "id") }
func (p *handleScan) ScanBytes(v []byte) error { return scanFixed(p[:], v, true, "handle") }
func (p *secretScan) ScanBytes(v []byte) error { return scanFixed(p[:], v, false, "secret") }

func scanFixed(dst, v []byte, nullable bool, what string) error {
	switch {
	case v == nil && nullable:
		clear(dst)
	case len(v) != len(dst):
		return fmt.Errorf("pgstore: corrupt session %s of %d bytes", what, len(v))
	default:
		copy(dst, v)
	}
	return nil
}

func (p *timeScan) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*p = timeScan{}
	case v.InfinityModifier != pgtype.Finite:
		return errors.New("pgstore: infinite session time")
	default:
		*p = timeScan(v.Time.UTC())
	}
	return nil
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
