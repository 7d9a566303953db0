package data

import (
	"context"
	"strings"
	"time"
)

// Login failure scopes.
const (
	ScopeAccount   = "account"    // one account, from anywhere
	ScopeAccountIP = "account_ip" // one account from one client network
	ScopeIP        = "ip"         // one client network, any account

	// Not failures, but limits on what succeeds, counted the same way.
	ScopeSignInAccount = "signin_account"     // successful sign-ins to one account from one client network
	ScopeSignInAnyNet  = "signin_account_any" // successful sign-ins to one account from anywhere
	ScopeSignInNetwork = "signin_network"     // successful sign-ins from one client network
	ScopeSignUp        = "signup"             // accounts created from one client network
)

// Scopes are every scope, in the order above.
var Scopes = []string{ScopeAccount, ScopeAccountIP, ScopeIP, ScopeSignInAccount, ScopeSignInAnyNet, ScopeSignInNetwork, ScopeSignUp}

// Failures is the failed-login record of one subject.
type Failures struct {
	Count int
	Last  time.Time
}

// FailureKey names one record.
type FailureKey struct{ Scope, Subject string }

// LoginFailures returns the records for keys, in order (zero values where
// there are none).
func (db *DB) LoginFailures(ctx context.Context, keys ...FailureKey) ([]Failures, error) {
	out := make([]Failures, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	where := make([]string, len(keys))
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		where[i] = "(scope = ? AND subject = ?)"
		args = append(args, k.Scope, k.Subject)
	}
	rows, err := db.query(ctx, `SELECT scope, subject, failures, last_failure FROM login_failures WHERE `+
		strings.Join(where, " OR "), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k FailureKey
		var f Failures
		var last int64
		if err := rows.Scan(&k.Scope, &k.Subject, &f.Count, &last); err != nil {
			return nil, mapErr(err)
		}
		f.Last = time.UnixMicro(last).UTC()
		for i := range keys {
			if keys[i] == k {
				out[i] = f
			}
		}
	}
	return out, mapErr(rows.Err())
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

// ForgiveLoginFailure takes one failure back from (scope, subject), for an
// attempt counted before it was checked that turned out to succeed.
func (db *DB) ForgiveLoginFailure(ctx context.Context, scope, subject string) error {
	_, err := db.exec(ctx, `UPDATE login_failures SET failures = failures - 1
		WHERE scope = ? AND subject = ? AND failures > 0`, scope, subject)
	return err
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
