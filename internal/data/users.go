package data

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"
)

// User is an account and its public profile. It holds no credentials: what
// the web layer and the CLI receive cannot leak a password hash.
type User struct {
	ID          int64
	Username    string
	DisplayName string
	Bio         string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Epoch is the credential epoch: it grows with every password change
	// and every revocation of all the user's sessions. Sessions issued for
	// an older epoch are dead.
	Epoch int64
	// NoticeAt is when the newest security notice for the user was made
	// (zero if never).
	NoticeAt time.Time
	// Private accounts show their posts to approved followers only.
	Private bool
	// LastNotification is the ID of the user's newest notification, and
	// SeenNotification the newest they have seen.
	LastNotification, SeenNotification int64
}

// HasUnread reports whether the user may have unread notifications.
func (u User) HasUnread() bool { return u.LastNotification > u.SeenNotification }

// Credentials are what signing in checks: only the auth package reads them.
type Credentials struct {
	UserID       int64
	Username     string
	PasswordHash string
	// Epoch is the credential epoch read with the hash.
	Epoch int64
}

const userColumns = `id, username, display_name, bio, created_at, updated_at, credential_epoch, notice_at, private, last_notification, seen_notification`

// scanUser scans one user's columns (userColumns).
func (db *DB) scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, updated, notice, private int64
	if err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Bio, &created, &updated, &u.Epoch, &notice,
		&private, &u.LastNotification, &u.SeenNotification); err != nil {
		return User{}, mapErr(err)
	}
	u.Private = private != 0
	u.CreatedAt, u.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if notice != 0 {
		u.NoticeAt = time.UnixMicro(notice).UTC()
	}
	return u, nil
}

// user runs a query returning one user's columns.
func (db *DB) user(ctx context.Context, query string, args ...any) (User, error) {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return User{}, err
	}
	return db.scanUser(st.QueryRowContext(ctx, args...))
}

// CreateUser stores a new user and returns it with its ID. It returns
// ErrExists if the username is in use. username must already be normalised
// (lowercase).
func (db *DB) CreateUser(ctx context.Context, username, displayName, passwordHash string, now time.Time) (User, error) {
	var u User
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = db.scanUser(tx.QueryRowContext(ctx, db.q(`INSERT INTO users (username, display_name, bio, password_hash, created_at, updated_at)
			VALUES (?, ?, '', ?, ?, ?) RETURNING `+userColumns), username, displayName, passwordHash, now.UnixMicro(), now.UnixMicro()))
		if err != nil {
			return err
		}
		return setSearchKeys(ctx, db, tx, u.ID, username, displayName)
	})
	return u, err
}

// setSearchKeys stores the keys a prefix search finds the user by: the
// username, and the display name folded to lower case.
func setSearchKeys(ctx context.Context, db *DB, tx *sql.Tx, id int64, username, displayName string) error {
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM search_keys WHERE user_id = ?`), id); err != nil {
		return mapErr(err)
	}
	keys := map[string]string{username: "username"}
	if name := SearchKey(displayName); name != "" && name != username {
		keys[name] = "name"
	}
	for key, kind := range keys {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO search_keys (search_key, user_id, kind) VALUES (?, ?, ?)`), key, id, kind); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// SearchKey folds a name or a query for prefix search: lower case, spaces
// collapsed, at most 60 bytes.
func SearchKey(s string) string {
	s = strings.Join(strings.Fields(strings.ToLower(s)), " ")
	for len(s) > 60 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// UserByUsername returns the user with that (normalised) username, or
// ErrNotFound.
func (db *DB) UserByUsername(ctx context.Context, username string) (User, error) {
	return db.user(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username)
}

// UserByID returns the user with that ID, or ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (User, error) {
	return db.user(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
}

// CredentialsByUsername returns the credentials of the user with that
// (normalised) username, or ErrNotFound.
func (db *DB) CredentialsByUsername(ctx context.Context, username string) (Credentials, error) {
	var c Credentials
	err := db.scanRow(ctx, `SELECT id, username, password_hash, credential_epoch FROM users WHERE username = ?`,
		[]any{username}, &c.UserID, &c.Username, &c.PasswordHash, &c.Epoch)
	return c, err
}

// Epoch returns the current credential epoch of the user, or ErrNotFound.
func (db *DB) Epoch(ctx context.Context, id int64) (int64, error) {
	var e int64
	err := db.scanRow(ctx, `SELECT credential_epoch FROM users WHERE id = ?`, []any{id}, &e)
	return e, err
}

// UpdateProfile sets a user's display name and bio.
func (db *DB) UpdateProfile(ctx context.Context, id int64, displayName, bio string, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var username string
		err := tx.QueryRowContext(ctx, db.q(`UPDATE users SET display_name = ?, bio = ?, updated_at = ? WHERE id = ? RETURNING username`),
			displayName, bio, now.UnixMicro(), id).Scan(&username)
		if err != nil {
			return mapErr(err)
		}
		return setSearchKeys(ctx, db, tx, id, username, displayName)
	})
}

// SetPrivate makes the user's account private or public.
func (db *DB) SetPrivate(ctx context.Context, id int64, private bool, now time.Time) error {
	return affectedOne(db.exec(ctx, `UPDATE users SET private = ?, updated_at = ? WHERE id = ?`, boolInt(private), now.UnixMicro(), id))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetPassword sets a user's password hash and moves the credential epoch
// on, in one statement, and returns the new epoch.
func (db *DB) SetPassword(ctx context.Context, id int64, passwordHash string, now time.Time) (int64, error) {
	var e int64
	err := db.scanRow(ctx, `UPDATE users SET password_hash = ?, credential_epoch = credential_epoch + 1, updated_at = ?
		WHERE id = ? RETURNING credential_epoch`, []any{passwordHash, now.UnixMicro(), id}, &e)
	return e, err
}

// RehashPassword replaces a password hash by a stronger hash of the same
// password, only if the hash is still old: a password changed meanwhile
// is never overwritten. The epoch stays, since the password does.
func (db *DB) RehashPassword(ctx context.Context, id int64, old, hash string) error {
	err := affectedOne(db.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, hash, id, old))
	if err == ErrNotFound {
		return ErrConflict
	}
	return err
}

// BumpEpoch moves the user's credential epoch on, so that every session
// issued before is dead, and returns the new epoch.
func (db *DB) BumpEpoch(ctx context.Context, id int64) (int64, error) {
	var e int64
	err := db.scanRow(ctx, `UPDATE users SET credential_epoch = credential_epoch + 1 WHERE id = ? RETURNING credential_epoch`,
		[]any{id}, &e)
	return e, err
}

// BumpAllEpochs moves every user's credential epoch on and returns how many
// users there are.
func (db *DB) BumpAllEpochs(ctx context.Context) (int, error) {
	res, err := db.exec(ctx, `UPDATE users SET credential_epoch = credential_epoch + 1`)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err)
}

// UserIDs returns up to limit user IDs greater than after, in order, for
// walking every user in batches.
func (db *DB) UserIDs(ctx context.Context, after int64, limit int) ([]int64, error) {
	rows, err := db.query(ctx, `SELECT id FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		ids = append(ids, id)
	}
	return ids, mapErr(rows.Err())
}

// DeleteUser removes a user and, with it (foreign keys that cascade),
// their profile, posts, follows both ways, follow requests, blocks, mutes,
// notifications (theirs, and those they caused), notices and known
// devices. Security events stay (with the user ID) for their retention.
func (db *DB) DeleteUser(ctx context.Context, id int64) error {
	return affectedOne(db.exec(ctx, `DELETE FROM users WHERE id = ?`, id))
}

func affectedOne(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
