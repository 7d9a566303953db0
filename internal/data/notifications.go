package data

import (
	"context"
	"database/sql"
	"time"
)

// Notification kinds.
const (
	NotifyFollow         = "follow"          // someone followed the user
	NotifyFollowRequest  = "follow_request"  // someone asked to follow the user
	NotifyFollowAccepted = "follow_accepted" // the user's request was approved
	NotifyMention        = "mention"         // a post mentions the user
	NotifySecurity       = "security"        // a security notice (Notice)
)

// Notification is something that happened to a user. Actor and Post are
// read with it, where it has them; a security notification has a Notice.
type Notification struct {
	ID        int64
	UserID    int64
	Kind      string
	ActorID   int64
	PostID    int64
	NoticeID  int64
	CreatedAt time.Time

	Actor  Person
	Post   Post
	Notice Notice
}

// notify stores n in tx and moves the user's newest notification on.
func (db *DB) notify(ctx context.Context, tx *sql.Tx, n Notification) error {
	var id int64
	if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO notifications (user_id, kind, actor_id, post_id, notice_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), n.UserID, n.Kind, nullID(n.ActorID), nullID(n.PostID), nullID(n.NoticeID),
		n.CreatedAt.UnixMicro()).Scan(&id); err != nil {
		return mapErr(err)
	}
	_, err := tx.ExecContext(ctx, db.q(`UPDATE users SET last_notification = ? WHERE id = ? AND last_notification < ?`), id, n.UserID, id)
	return mapErr(err)
}

// readable is the condition that a notification's post (a mention's),
// if it has one, is one its reader may still see: its author (the actor)
// and the reader block neither the other, and a private author's post
// only for an approved follower. What changed since (a block, an account
// gone private, a follow ended) hides it from the list and the count.
const readable = `(n.post_id IS NULL OR (
		NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = n.actor_id AND b.blocked_id = n.user_id) OR (b.blocker_id = n.user_id AND b.blocked_id = n.actor_id))
		AND (NOT EXISTS (SELECT 1 FROM users pa WHERE pa.id = n.actor_id AND pa.private <> 0)
			OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = n.user_id AND f.followee_id = n.actor_id))))`

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// Notifications returns the user's notifications older than before (an
// ID; 0 for the newest), newest first, at most limit.
func (db *DB) Notifications(ctx context.Context, userID, before int64, limit int) ([]Notification, error) {
	if before <= 0 {
		before = maxID
	}
	rows, err := db.query(ctx, `SELECT n.id, n.kind, n.created_at,
			COALESCE(a.id, 0), COALESCE(a.username, ''), COALESCE(a.display_name, ''), COALESCE(a.private, 0),
			COALESCE(p.id, 0), COALESCE(p.body, ''),
			COALESCE(c.id, 0), COALESCE(c.kind, ''), COALESCE(c.device, ''), COALESCE(c.client_ip, ''), COALESCE(c.created_at, 0)
		FROM notifications n
		LEFT JOIN users a ON a.id = n.actor_id
		LEFT JOIN posts p ON p.id = n.post_id
		LEFT JOIN notices c ON c.id = n.notice_id
		WHERE n.user_id = ? AND n.id < ? AND `+readable+`
		ORDER BY n.id DESC LIMIT ?`, userID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		n := Notification{UserID: userID}
		var at, private, noticeAt int64
		if err := rows.Scan(&n.ID, &n.Kind, &at, &n.Actor.ID, &n.Actor.Username, &n.Actor.DisplayName, &private,
			&n.Post.ID, &n.Post.Body, &n.Notice.ID, &n.Notice.Kind, &n.Notice.Device, &n.Notice.ClientIP, &noticeAt); err != nil {
			return nil, mapErr(err)
		}
		n.CreatedAt = time.UnixMicro(at).UTC()
		n.Actor.Private = private != 0
		n.ActorID, n.PostID, n.NoticeID = n.Actor.ID, n.Post.ID, n.Notice.ID
		n.Post.AuthorID, n.Post.Username, n.Post.DisplayName = n.Actor.ID, n.Actor.Username, n.Actor.DisplayName
		if noticeAt != 0 {
			n.Notice.CreatedAt = time.UnixMicro(noticeAt).UTC()
			n.Notice.UserID = userID
		}
		out = append(out, n)
	}
	return out, mapErr(rows.Err())
}

// CountUnread counts the user's notifications newer than seen, up to at
// most limit.
func (db *DB) CountUnread(ctx context.Context, userID, seen int64, limit int) (int, error) {
	var n int
	err := db.scanRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM notifications n WHERE n.user_id = ? AND n.id > ? AND `+readable+` LIMIT ?) unread`,
		[]any{userID, seen, limit}, &n)
	return n, err
}

// SeeNotifications marks the user's notifications up to the ID upTo as
// seen.
func (db *DB) SeeNotifications(ctx context.Context, userID, upTo int64) error {
	_, err := db.exec(ctx, `UPDATE users SET seen_notification = ? WHERE id = ? AND seen_notification < ?`, upTo, userID, upTo)
	return err
}
