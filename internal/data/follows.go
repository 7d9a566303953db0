package data

import (
	"context"
	"database/sql"
	"time"
)

// Person is a user as lists of people show them.
type Person struct {
	ID          int64
	Username    string
	DisplayName string
	Private     bool
	CreatedAt   time.Time
}

const personColumns = `u.id, u.username, u.display_name, u.private, u.created_at`

func scanPeople(rows *sql.Rows, err error) ([]Person, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	people := []Person{}
	for rows.Next() {
		var p Person
		var private, at int64
		if err := rows.Scan(&p.ID, &p.Username, &p.DisplayName, &private, &at); err != nil {
			return nil, mapErr(err)
		}
		p.Private, p.CreatedAt = private != 0, time.UnixMicro(at).UTC()
		people = append(people, p)
	}
	return people, mapErr(rows.Err())
}

// Relationship is how one user (the viewer) stands with another.
type Relationship struct {
	Following  bool // the viewer follows them
	FollowedBy bool // they follow the viewer
	Requested  bool // the viewer asked to follow them
	RequestsMe bool // they asked to follow the viewer
	Blocking   bool // the viewer blocks them
	BlockedBy  bool // they block the viewer
	Muting     bool // the viewer mutes them
}

// Relationship returns how viewer stands with other.
func (db *DB) Relationship(ctx context.Context, viewer, other int64) (Relationship, error) {
	var r Relationship
	var f, fb, rq, rm, b, bb, m int
	err := db.scanRow(ctx, `SELECT
		(SELECT count(*) FROM follows WHERE follower_id = ? AND followee_id = ?),
		(SELECT count(*) FROM follows WHERE follower_id = ? AND followee_id = ?),
		(SELECT count(*) FROM follow_requests WHERE requester_id = ? AND target_id = ?),
		(SELECT count(*) FROM follow_requests WHERE requester_id = ? AND target_id = ?),
		(SELECT count(*) FROM blocks WHERE blocker_id = ? AND blocked_id = ?),
		(SELECT count(*) FROM blocks WHERE blocker_id = ? AND blocked_id = ?),
		(SELECT count(*) FROM mutes WHERE muter_id = ? AND muted_id = ?)`,
		[]any{viewer, other, other, viewer, viewer, other, other, viewer, viewer, other, other, viewer, viewer, other},
		&f, &fb, &rq, &rm, &b, &bb, &m)
	r = Relationship{Following: f > 0, FollowedBy: fb > 0, Requested: rq > 0, RequestsMe: rm > 0, Blocking: b > 0, BlockedBy: bb > 0, Muting: m > 0}
	return r, err
}

// Follow makes follower follow followee and notifies followee, unless
// either blocks the other (ErrConflict). It reports whether the follow is
// new.
func (db *DB) Follow(ctx context.Context, follower, followee int64, now time.Time) (bool, error) {
	created := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := noBlockEitherWay(ctx, db, tx, follower, followee); err != nil {
			return err
		}
		if err := db.lockUsers(ctx, tx, followee); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`), follower, followee, now.UnixMicro())
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		created = true
		if err := db.backfill(ctx, tx, follower, followee); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?`), follower, followee); err != nil {
			return mapErr(err)
		}
		return db.notifyOnce(ctx, tx, Notification{UserID: followee, Kind: NotifyFollow, ActorID: follower, CreatedAt: now})
	})
	return created, err
}

// notifyOnce notifies as notify does, replacing an earlier notification
// of the same kind from the same person: following, unfollowing and
// following again leaves one "followed you", not a notification each time.
func (db *DB) notifyOnce(ctx context.Context, tx *sql.Tx, n Notification) error {
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM notifications WHERE user_id = ? AND kind = ? AND actor_id = ?`),
		n.UserID, n.Kind, n.ActorID); err != nil {
		return mapErr(err)
	}
	return db.notify(ctx, tx, n)
}

// noBlockEitherWay returns ErrConflict when a or b blocks the other.
func noBlockEitherWay(ctx context.Context, db *DB, tx *sql.Tx, a, b int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)`),
		a, b, b, a).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n > 0 {
		return ErrConflict
	}
	return nil
}

// Unfollow ends a follow, and withdraws a request to follow.
func (db *DB) Unfollow(ctx context.Context, follower, followee int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM follows WHERE follower_id = ? AND followee_id = ?`), follower, followee); err != nil {
			return mapErr(err)
		}
		if err := db.dropFromTimeline(ctx, tx, follower, followee); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?`), follower, followee)
		return mapErr(err)
	})
}

// RequestFollow asks target (a private account) to let requester follow
// them, and notifies target, unless either blocks the other (ErrConflict).
// It reports whether the request is new.
func (db *DB) RequestFollow(ctx context.Context, requester, target int64, now time.Time) (bool, error) {
	created := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := noBlockEitherWay(ctx, db, tx, requester, target); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO follow_requests (requester_id, target_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`), requester, target, now.UnixMicro())
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		created = true
		return db.notifyOnce(ctx, tx, Notification{UserID: target, Kind: NotifyFollowRequest, ActorID: requester, CreatedAt: now})
	})
	return created, err
}

// ApproveRequest turns requester's request to follow target into a follow
// and tells requester; ErrNotFound if there is no such request.
func (db *DB) ApproveRequest(ctx context.Context, target, requester int64, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?`), requester, target)
		if err := affectedOne(res, mapErr(err)); err != nil {
			return err
		}
		if err := db.lockUsers(ctx, tx, target, requester); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`), requester, target, now.UnixMicro()); err != nil {
			return mapErr(err)
		}
		if err := db.backfill(ctx, tx, requester, target); err != nil {
			return err
		}
		return db.notify(ctx, tx, Notification{UserID: requester, Kind: NotifyFollowAccepted, ActorID: target, CreatedAt: now})
	})
}

// DeclineRequest drops requester's request to follow target; ErrNotFound
// if there is none.
func (db *DB) DeclineRequest(ctx context.Context, target, requester int64) error {
	return affectedOne(db.exec(ctx, `DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?`, requester, target))
}

// AcceptAllRequests turns every request to follow target into a follow:
// when an account goes public, nobody need wait any more.
func (db *DB) AcceptAllRequests(ctx context.Context, target int64, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockUsers(ctx, tx, target); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO follows (follower_id, followee_id, created_at)
			SELECT requester_id, target_id, ? FROM follow_requests WHERE target_id = ? ON CONFLICT DO NOTHING`), now.UnixMicro(), target); err != nil {
			return mapErr(err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO timelines (user_id, post_id, author_id)
			SELECT r.requester_id, p.id, p.author_id FROM follow_requests r JOIN posts p ON p.author_id = r.target_id
			WHERE r.target_id = ? AND p.id > (SELECT post_id FROM timeline_horizon) ON CONFLICT DO NOTHING`), target); err != nil {
			return mapErr(err)
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM follow_requests WHERE target_id = ?`), target)
		return mapErr(err)
	})
}

// FollowRequests returns the people asking to follow target, oldest first,
// at most limit.
func (db *DB) FollowRequests(ctx context.Context, target int64, limit int) ([]Person, error) {
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM follow_requests r JOIN users u ON u.id = r.requester_id
		WHERE r.target_id = ? ORDER BY r.created_at, u.id LIMIT ?`, target, limit))
}

// CountFollowRequests counts the requests to follow target.
func (db *DB) CountFollowRequests(ctx context.Context, target int64) (int, error) {
	var n int
	err := db.scanRow(ctx, `SELECT count(*) FROM follow_requests WHERE target_id = ?`, []any{target}, &n)
	return n, err
}

// Followers returns the people who follow userID, by username after the
// username after ("" for the first page), at most limit.
func (db *DB) Followers(ctx context.Context, userID int64, after string, limit int) ([]Person, error) {
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM follows f JOIN users u ON u.id = f.follower_id
		WHERE f.followee_id = ? AND u.username > ? ORDER BY u.username LIMIT ?`, userID, after, limit))
}

// Following returns the people userID follows, by username after after,
// at most limit.
func (db *DB) Following(ctx context.Context, userID int64, after string, limit int) ([]Person, error) {
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM follows f JOIN users u ON u.id = f.followee_id
		WHERE f.follower_id = ? AND u.username > ? ORDER BY u.username LIMIT ?`, userID, after, limit))
}

// FollowCounts returns how many people follow userID and how many userID
// follows.
func (db *DB) FollowCounts(ctx context.Context, userID int64) (followers, following int, err error) {
	err = db.scanRow(ctx, `SELECT (SELECT count(*) FROM follows WHERE followee_id = ?), (SELECT count(*) FROM follows WHERE follower_id = ?)`,
		[]any{userID, userID}, &followers, &following)
	return followers, following, err
}

// SearchPeople returns the people whose username or display name starts
// with prefix (folded by SearchKey), in the order of the key that matched,
// leaving out those who block viewer; at most limit.
func (db *DB) SearchPeople(ctx context.Context, viewer int64, prefix string, limit int) ([]Person, error) {
	key := SearchKey(prefix)
	if key == "" {
		return []Person{}, nil
	}
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM users u JOIN (
			SELECT user_id, MIN(search_key) AS k FROM (
				SELECT user_id, search_key FROM search_keys WHERE search_key >= ? AND search_key < ? ORDER BY search_key LIMIT ?) m
			GROUP BY user_id) s ON s.user_id = u.id
		WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = ?)
		ORDER BY s.k, u.id LIMIT ?`, key, key+"\U0010FFFF", 4*limit, viewer, limit))
}

// RecentlyJoined returns the newest accounts other than viewer's, leaving
// out those who block viewer, at most limit; with unfollowed set, only
// those viewer neither follows nor blocks (suggestions to follow).
func (db *DB) RecentlyJoined(ctx context.Context, viewer int64, unfollowed bool, limit int) ([]Person, error) {
	return scanPeople(db.query(ctx, `SELECT `+personColumns+` FROM users u
		WHERE u.id <> ?
		AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = u.id AND b.blocked_id = ?) OR (? = 1 AND b.blocker_id = ? AND b.blocked_id = u.id))
		AND (? = 0 OR NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ? AND f.followee_id = u.id))
		ORDER BY u.id DESC LIMIT ?`, viewer, viewer, boolInt(unfollowed), viewer, boolInt(unfollowed), viewer, limit))
}
