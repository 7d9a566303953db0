package data

import (
	"context"
	"database/sql"
	"time"
)

// Notice is a security notice for a user's sessions.
type Notice struct {
	ID        int64
	UserID    int64
	Kind      string
	CreatedAt time.Time
	Session   string // hex id of the session the notice is about ('' if none)
	Device    string
	ClientIP  string
}

// CreateNotice stores a notice, marks the user as having one and adds it
// to their notifications, in one transaction.
func (db *DB) CreateNotice(ctx context.Context, n Notice) (Notice, error) {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return Notice{}, mapErr(err)
	}
	defer tx.Rollback()
	at := n.CreatedAt.UnixMicro()
	if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO notices (user_id, kind, created_at, session, device, client_ip)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), n.UserID, n.Kind, at, n.Session, n.Device, n.ClientIP).Scan(&n.ID); err != nil {
		return Notice{}, mapErr(err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET notice_at = ? WHERE id = ? AND notice_at < ?`), at, n.UserID, at); err != nil {
		return Notice{}, mapErr(err)
	}
	// The notice is also in the user's notifications, as a security one.
	if err := db.notify(ctx, tx, Notification{UserID: n.UserID, Kind: NotifySecurity, NoticeID: n.ID, CreatedAt: n.CreatedAt}); err != nil {
		return Notice{}, err
	}
	return n, mapErr(tx.Commit())
}

// ShownNotices returns the user's notices made after since that the
// session (hex id) has not dismissed, newest first, at most 20.
func (db *DB) ShownNotices(ctx context.Context, userID int64, since time.Time, session string) ([]Notice, error) {
	rows, err := db.query(ctx, `SELECT n.id, n.user_id, n.kind, n.created_at, n.session, n.device, n.client_ip FROM notices n
		WHERE n.user_id = ? AND n.created_at > ?
		AND NOT EXISTS (SELECT 1 FROM notice_dismissals d WHERE d.notice_id = n.id AND d.session = ?)
		ORDER BY n.id DESC LIMIT 20`, userID, since.UnixMicro(), session)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []Notice{}
	for rows.Next() {
		var n Notice
		var at int64
		if err := rows.Scan(&n.ID, &n.UserID, &n.Kind, &at, &n.Session, &n.Device, &n.ClientIP); err != nil {
			return nil, mapErr(err)
		}
		n.CreatedAt = time.UnixMicro(at).UTC()
		list = append(list, n)
	}
	return list, mapErr(rows.Err())
}

// Notice returns one of the user's notices; ErrNotFound if the user has no
// such notice.
func (db *DB) Notice(ctx context.Context, userID, id int64) (Notice, error) {
	var n Notice
	var at int64
	err := db.scanRow(ctx, `SELECT id, user_id, kind, created_at, session, device, client_ip FROM notices WHERE id = ? AND user_id = ?`,
		[]any{id, userID}, &n.ID, &n.UserID, &n.Kind, &at, &n.Session, &n.Device, &n.ClientIP)
	n.CreatedAt = time.UnixMicro(at).UTC()
	return n, err
}

// DismissNotice dismisses one of the user's notices for one session (hex
// id); ErrNotFound if the user has no such notice. Dismissing twice is no
// error.
func (db *DB) DismissNotice(ctx context.Context, userID, id int64, session string, now time.Time) error {
	_, err := db.exec(ctx, `INSERT INTO notice_dismissals (notice_id, session, at)
		SELECT id, ?, ? FROM notices WHERE id = ? AND user_id = ?
		ON CONFLICT (notice_id, session) DO NOTHING`, session, now.UnixMicro(), id, userID)
	if err != nil {
		return err
	}
	_, err = db.Notice(ctx, userID, id)
	return err
}

// KnownDevices returns how many devices the user has signed in with (in
// the retention period).
func (db *DB) KnownDevices(ctx context.Context, userID int64) (int, error) {
	var n int
	err := db.scanRow(ctx, `SELECT count(*) FROM known_devices WHERE user_id = ?`, []any{userID}, &n)
	return n, err
}

// SeenDevice records a sign-in of userID with device at now, and returns
// when the user last signed in with it before (zero if never).
func (db *DB) SeenDevice(ctx context.Context, userID int64, device string, now time.Time) (time.Time, error) {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return time.Time{}, mapErr(err)
	}
	defer tx.Rollback()
	var last sql.NullInt64
	err = tx.QueryRowContext(ctx, db.q(`SELECT last_seen FROM known_devices WHERE user_id = ? AND device = ?`), userID, device).Scan(&last)
	if err != nil && err != sql.ErrNoRows {
		return time.Time{}, mapErr(err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO known_devices (user_id, device, last_seen) VALUES (?, ?, ?)
		ON CONFLICT (user_id, device) DO UPDATE SET last_seen = excluded.last_seen`), userID, device, now.UnixMicro()); err != nil {
		return time.Time{}, mapErr(err)
	}
	if err := tx.Commit(); err != nil {
		return time.Time{}, mapErr(err)
	}
	if !last.Valid {
		return time.Time{}, nil
	}
	return time.UnixMicro(last.Int64).UTC(), nil
}

// PruneNotices deletes notices made before before, and forgets devices
// last used before it; it returns how many rows it deleted.
func (db *DB) PruneNotices(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for _, q := range []string{`DELETE FROM notices WHERE created_at < ?`, `DELETE FROM known_devices WHERE last_seen < ?`} {
		res, err := db.exec(ctx, q, before.UnixMicro())
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, mapErr(err)
		}
		total += int(n)
	}
	return total, nil
}
