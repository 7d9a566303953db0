package data

import (
	"context"
	"time"
)

// Login failure scopes.
const (
	ScopeAccount = "account"
	ScopeIP      = "ip"
)

// Failures is the failed-login record of one subject.
type Failures struct {
	Count int
	Last  time.Time
}

// LoginFailures returns the records of an account and of a client IP (zero
// values when there are none).
func (db *DB) LoginFailures(ctx context.Context, username, clientIP string) (account, ip Failures, err error) {
	rows, err := db.query(ctx, `SELECT scope, failures, last_failure FROM login_failures
		WHERE (scope = ? AND subject = ?) OR (scope = ? AND subject = ?)`,
		ScopeAccount, username, ScopeIP, clientIP)
	if err != nil {
		return Failures{}, Failures{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var scope string
		var f Failures
		var last int64
		if err := rows.Scan(&scope, &f.Count, &last); err != nil {
			return Failures{}, Failures{}, mapErr(err)
		}
		f.Last = time.UnixMicro(last).UTC()
		if scope == ScopeAccount {
			account = f
		} else {
			ip = f
		}
	}
	return account, ip, mapErr(rows.Err())
}

// RecordLoginFailure counts one more failure for (scope, subject) and
// returns the new count. A failure more than window after the previous one
// starts the count again, so nothing is locked for good.
func (db *DB) RecordLoginFailure(ctx context.Context, scope, subject string, now time.Time, window time.Duration) (int, error) {
	var n int
	err := db.scanRow(ctx, `INSERT INTO login_failures (scope, subject, failures, last_failure) VALUES (?, ?, 1, ?)
		ON CONFLICT (scope, subject) DO UPDATE SET
			failures = CASE WHEN excluded.last_failure - login_failures.last_failure > ? THEN 1 ELSE login_failures.failures + 1 END,
			last_failure = excluded.last_failure
		RETURNING failures`, []any{scope, subject, now.UnixMicro(), window.Microseconds()}, &n)
	return n, err
}

// ClearLoginFailures forgets the failures of (scope, subject).
func (db *DB) ClearLoginFailures(ctx context.Context, scope, subject string) error {
	_, err := db.exec(ctx, `DELETE FROM login_failures WHERE scope = ? AND subject = ?`, scope, subject)
	return err
}

// PruneLoginFailures deletes records whose last failure is older than
// before, and returns how many.
func (db *DB) PruneLoginFailures(ctx context.Context, before time.Time) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM login_failures WHERE last_failure < ?`, before.UnixMicro())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}
