package data

import (
	"context"
	"time"
)

// User is an account and its public profile.
type User struct {
	ID           int64
	Username     string
	DisplayName  string
	Bio          string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const userColumns = `id, username, display_name, bio, password_hash, created_at, updated_at`

// user runs a query returning one user's columns.
func (db *DB) user(ctx context.Context, query string, args ...any) (User, error) {
	var u User
	var created, updated int64
	if err := db.scanRow(ctx, query, args, &u.ID, &u.Username, &u.DisplayName, &u.Bio, &u.PasswordHash, &created, &updated); err != nil {
		return User{}, err
	}
	u.CreatedAt, u.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return u, nil
}

// CreateUser stores a new user and returns it with its ID. It returns
// ErrUsernameTaken if the username is in use. username must already be
// normalised (lowercase).
func (db *DB) CreateUser(ctx context.Context, username, displayName, passwordHash string, now time.Time) (User, error) {
	return db.user(ctx, `INSERT INTO users (username, display_name, bio, password_hash, created_at, updated_at)
		VALUES (?, ?, '', ?, ?, ?) RETURNING `+userColumns,
		username, displayName, passwordHash, now.UnixMicro(), now.UnixMicro())
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

// UpdateProfile sets a user's display name and bio.
func (db *DB) UpdateProfile(ctx context.Context, id int64, displayName, bio string, now time.Time) error {
	return affectedOne(db.exec(ctx, `UPDATE users SET display_name = ?, bio = ?, updated_at = ? WHERE id = ?`,
		displayName, bio, now.UnixMicro(), id))
}

// UpdatePassword sets a user's password hash.
func (db *DB) UpdatePassword(ctx context.Context, id int64, passwordHash string, now time.Time) error {
	return affectedOne(db.exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
		passwordHash, now.UnixMicro(), id))
}

// DeleteUser removes a user.
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
