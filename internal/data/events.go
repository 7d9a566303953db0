package data

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one entry of the security event log.
type Event struct {
	ID        int64
	At        time.Time
	Kind      string
	UserID    int64 // 0 when no user is known
	Username  string
	ClientIP  string
	UserAgent string
	Session   string // a short prefix of the session's hash, never a token
	Detail    string
}

// InsertEvent appends an event to the log.
func (db *DB) InsertEvent(ctx context.Context, e Event) error {
	var uid sql.NullInt64
	if e.UserID != 0 {
		uid = sql.NullInt64{Int64: e.UserID, Valid: true}
	}
	// Events describe what clients sent: paths, names, headers. Whatever
	// they hold, the event is stored, as text both databases accept.
	_, err := db.exec(ctx, `INSERT INTO security_events (at, kind, user_id, username, client_ip, user_agent, session, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UnixMicro(), Text(e.Kind, 64), uid, Text(e.Username, 64), Text(e.ClientIP, 64), Text(e.UserAgent, 512),
		Text(e.Session, 64), Text(e.Detail, 2000))
	return err
}

// Text returns s as text any database stores: valid UTF-8 (invalid bytes
// become U+FFFD), no NUL (PostgreSQL refuses it; it becomes U+FFFD), at
// most max bytes (cut at a character boundary).
func Text(s string, max int) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Events returns up to limit events, newest first: every user's when
// userID is 0, else those of the user with that ID and username (events
// about a username with no known user, such as failed logins, included).
func (db *DB) Events(ctx context.Context, userID int64, username string, limit int) ([]Event, error) {
	return db.FindEvents(ctx, EventQuery{UserID: userID, Username: username, Limit: limit})
}

// EventQuery selects events of the log. Its zero fields select every
// event.
type EventQuery struct {
	// UserID selects the events of the user with this ID and Username,
	// events about that username with no known user (such as failed
	// sign-ins) included.
	UserID   int64
	Username string
	Kind     string    // only events of this kind
	Since    time.Time // only events at or after this
	Session  string    // only events of the session with this short ID
	Limit    int
}

// FindEvents returns up to q.Limit events that q selects, newest first.
func (db *DB) FindEvents(ctx context.Context, q EventQuery) ([]Event, error) {
	// Events of the session manager know the user's ID only; the join
	// names the user while the account exists.
	query := `SELECT e.id, e.at, e.kind, e.user_id, COALESCE(NULLIF(e.username, ''), u.username, ''),
		e.client_ip, e.user_agent, e.session, e.detail
		FROM security_events e LEFT JOIN users u ON u.id = e.user_id`
	var where []string
	var args []any
	if q.UserID != 0 {
		where = append(where, `(e.user_id = ? OR (e.user_id IS NULL AND e.username = ?))`)
		args = append(args, q.UserID, q.Username)
	}
	if q.Kind != "" {
		where = append(where, `e.kind = ?`)
		args = append(args, q.Kind)
	}
	if !q.Since.IsZero() {
		where = append(where, `e.at >= ?`)
		args = append(args, q.Since.UnixMicro())
	}
	if q.Session != "" {
		where = append(where, `e.session = ?`)
		args = append(args, q.Session)
	}
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return scanEvents(db.query(ctx, query+` ORDER BY e.id DESC LIMIT ?`, append(args, q.Limit)...))
}

// EventSessions returns the short session IDs in the log that begin with
// prefix, up to limit of them, in order.
func (db *DB) EventSessions(ctx context.Context, prefix string, limit int) ([]string, error) {
	rows, err := db.query(ctx, `SELECT DISTINCT session FROM security_events
		WHERE session <> '' AND substr(session, 1, ?) = ? ORDER BY session LIMIT ?`, utf8.RuneCountInString(prefix), prefix, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, mapErr(err)
		}
		list = append(list, s)
	}
	return list, mapErr(rows.Err())
}

// ActivityQuery selects a user's own security events.
type ActivityQuery struct {
	UserID int64
	Since  time.Time // only events at or after this
	Before int64     // only events with a smaller ID (0: from the newest)
	Kinds  []string  // only events of these kinds
	Limit  int
}

// Activity returns the events q selects, newest first.
func (db *DB) Activity(ctx context.Context, q ActivityQuery) ([]Event, error) {
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	args := []any{q.UserID, q.Since.UnixMicro(), before}
	marks := make([]string, len(q.Kinds))
	for i, k := range q.Kinds {
		marks[i] = "?"
		args = append(args, k)
	}
	args = append(args, q.Limit)
	rows, err := db.query(ctx, `SELECT id, at, kind, user_id, username, client_ip, user_agent, session, detail
		FROM security_events
		WHERE user_id = ? AND at >= ? AND id < ?
		AND kind IN (`+strings.Join(marks, ", ")+`)
		ORDER BY id DESC LIMIT ?`, args...)
	return scanEvents(rows, err)
}

// scanEvents reads the rows of a query selecting id, at, kind, user_id,
// username, client_ip, user_agent, session and detail.
func scanEvents(rows *sql.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []Event{}
	for rows.Next() {
		var e Event
		var at int64
		var uid sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &uid, &e.Username, &e.ClientIP, &e.UserAgent, &e.Session, &e.Detail); err != nil {
			return nil, mapErr(err)
		}
		e.At, e.UserID = time.UnixMicro(at).UTC(), uid.Int64
		list = append(list, e)
	}
	return list, mapErr(rows.Err())
}

// PruneEvents deletes events older than before and returns how many.
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM security_events WHERE at < ?`, before.UnixMicro())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}
