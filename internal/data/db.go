// Package data stores ConnectBook's users, login throttling state and
// security events, in SQLite by default or in PostgreSQL. One set of
// queries serves both: they are written with ? placeholders, which are
// rewritten to $n for PostgreSQL, and the migrations are templates with the
// few dialect differences filled in.
package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/connectbook/connectbook/internal/config"
	"github.com/connectbook/connectbook/session/sqlitestore"
)

// Errors shared by both databases. Each driver's errors are mapped onto
// them in mapErr.
var (
	ErrNotFound = errors.New("data: not found")
	// ErrExists is a unique constraint's violation: the row's key (a
	// username, say) is taken.
	ErrExists = errors.New("data: already exists")
	// ErrConflict means a conditional write found the row changed.
	ErrConflict = errors.New("data: changed meanwhile")
)

// DB is ConnectBook's database.
type DB struct {
	SQL      *sql.DB
	postgres bool
	queries  sync.Map // query with ? → query for this database
	stmts    sync.Map // query with ? → *sql.Stmt
}

// Open opens the database named by dsn (a SQLite file path or a postgres://
// URL) and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db := &DB{postgres: config.IsPostgresURL(dsn)}
	var err error
	if db.postgres {
		db.SQL, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SQL.SetMaxOpenConns(20)
			db.SQL.SetMaxIdleConns(20)
			err = db.SQL.PingContext(ctx)
		}
	} else {
		db.SQL, err = sqlitestore.Open(dsn)
		if err == nil {
			// Opening a SQLite connection reads the schema, and every
			// connection prepares its own statements: keep them.
			db.SQL.SetMaxIdleConns(32)
			db.SQL.SetConnMaxIdleTime(10 * time.Minute)
		}
	}
	if err != nil {
		if db.SQL != nil {
			db.SQL.Close()
		}
		return nil, fmt.Errorf("data: open database: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		db.SQL.Close()
		return nil, err
	}
	return db, nil
}

// Ping runs a query, to check that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.scanRow(ctx, `SELECT 1`, nil, &one)
}

// Postgres reports whether the database is PostgreSQL.
func (db *DB) Postgres() bool { return db.postgres }

// Close closes the database.
func (db *DB) Close() error {
	db.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return db.SQL.Close()
}

// stmt returns query prepared, preparing it on first use: parsing and
// planning a statement costs more than running it.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := db.stmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.SQL.PrepareContext(ctx, db.q(query))
	if err != nil {
		return nil, mapErr(err)
	}
	if v, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// q returns query in this database's placeholder style.
func (db *DB) q(query string) string {
	if !db.postgres {
		return query
	}
	if v, ok := db.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	db.queries.Store(query, b.String())
	return b.String()
}

func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, args...)
	return res, mapErr(err)
}

// scanRow runs a query expected to return one row and scans it; no row is
// ErrNotFound.
func (db *DB) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return err
	}
	return mapErr(st.QueryRowContext(ctx, args...).Scan(dest...))
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, mapErr(err)
}

// inTx runs fn in a transaction, committed if fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// mapErr maps both drivers' errors onto the package's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%w: %v", ErrExists, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%w: %v", ErrExists, err)
	}
	return fmt.Errorf("data: %w", err)
}
