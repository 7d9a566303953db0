package data

import (
	"context"
	"database/sql"
	"time"
)

// Block makes blocker block blocked: follows and follow requests end both
// ways (each leaves the other's timeline), and blocked's notifications to
// blocker go, in one transaction.
func (db *DB) Block(ctx context.Context, blocker, blocked int64, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, []any{blocker, blocked, now.UnixMicro()}},
			{`DELETE FROM follows WHERE (follower_id = ? AND followee_id = ?) OR (follower_id = ? AND followee_id = ?)`, []any{blocker, blocked, blocked, blocker}},
			{`DELETE FROM timelines WHERE (user_id = ? AND author_id = ?) OR (user_id = ? AND author_id = ?)`, []any{blocker, blocked, blocked, blocker}},
			{`DELETE FROM follow_requests WHERE (requester_id = ? AND target_id = ?) OR (requester_id = ? AND target_id = ?)`, []any{blocker, blocked, blocked, blocker}},
			{`DELETE FROM notifications WHERE user_id = ? AND actor_id = ?`, []any{blocker, blocked}},
		} {
			if _, err := tx.ExecContext(ctx, db.q(q.query), q.args...); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

// Unblock ends a block. Follows it ended stay ended.
func (db *DB) Unblock(ctx context.Context, blocker, blocked int64) error {
	_, err := db.exec(ctx, `DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?`, blocker, blocked)
	return err
}

// Mute hides muted's posts from muter's home feed.
func (db *DB) Mute(ctx context.Context, muter, muted int64, now time.Time) error {
	_, err := db.exec(ctx, `INSERT INTO mutes (muter_id, muted_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, muter, muted, now.UnixMicro())
	return err
}

// Unmute ends a mute.
func (db *DB) Unmute(ctx context.Context, muter, muted int64) error {
	_, err := db.exec(ctx, `DELETE FROM mutes WHERE muter_id = ? AND muted_id = ?`, muter, muted)
	return err
}

// Blocked returns the people blocker blocks, most recent first, at most limit.
func (db *DB) Blocked(ctx context.Context, blocker int64, limit int) ([]Person, error) {
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM blocks b JOIN users u ON u.id = b.blocked_id
		WHERE b.blocker_id = ? ORDER BY b.created_at DESC, u.id LIMIT ?`, blocker, limit))
}

// Muted returns the people muter mutes, most recent first, at most limit.
func (db *DB) Muted(ctx context.Context, muter int64, limit int) ([]Person, error) {
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM mutes m JOIN users u ON u.id = m.muted_id
		WHERE m.muter_id = ? ORDER BY m.created_at DESC, u.id LIMIT ?`, muter, limit))
}
