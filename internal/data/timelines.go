package data

import (
	"context"
	"database/sql"
	"time"
)

// Home timelines are the home feeds written ahead: making a post adds an
// entry to the timeline of its author and of each of their followers, and
// a new follow adds the followee's posts to the follower's. A page of a
// home feed is then one range of one index. Entries are kept for posts
// after the horizon only (TimelinePosts of the newest, moved on by
// TrimTimelines); pages older than that are read from posts, as the feed
// was before timelines (homeFeedFromPosts).
//
// An entry is a hint, never a permission: the page's query keeps only the
// reader's own posts and those of people they follow now and have not
// muted, so an entry left behind by an unfollow or a block shows nothing.
// What an entry must never be is missing: a follow and a post by the
// followee, made at the same time, are serialised on the followee's row
// (lockUsers), so that either the post sees the follow or the follow sees
// the post.

// TimelinePosts is how many of the newest posts have timeline entries.
const TimelinePosts = 10000

// TimelineQuery reads a page of a home timeline, each post with the
// horizon: user, before (an ID), user, user, user, limit. (The horizon is
// read twice in one statement, so the same value: a join to its table
// instead leads PostgreSQL to read the whole timeline and sort it.)
const TimelineQuery = `SELECT ` + postColumns + `, (SELECT post_id FROM timeline_horizon) FROM timelines t
	JOIN posts p ON p.id = t.post_id JOIN users u ON u.id = p.author_id
	WHERE t.user_id = ? AND t.post_id < ? AND t.post_id > (SELECT post_id FROM timeline_horizon)
	AND t.author_id NOT IN (SELECT muted_id FROM mutes WHERE muter_id = ?)
	AND (t.author_id = ? OR t.author_id IN (SELECT followee_id FROM follows WHERE follower_id = ?))
	ORDER BY t.post_id DESC LIMIT ?`

// timeline reads a page of user's timeline, and the horizon it read it
// to (-1 when the page is empty).
func (db *DB) timeline(ctx context.Context, user, before int64, limit int) ([]Post, int64, error) {
	horizon := int64(-1)
	rows, err := db.query(ctx, TimelineQuery, user, before, user, user, user, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	posts := []Post{}
	for rows.Next() {
		var p Post
		var at int64
		if err := rows.Scan(&p.ID, &p.AuthorID, &p.Body, &at, &p.Username, &p.DisplayName, &horizon); err != nil {
			return nil, 0, mapErr(err)
		}
		p.CreatedAt = time.UnixMicro(at).UTC()
		posts = append(posts, p)
	}
	return posts, horizon, mapErr(rows.Err())
}

// horizon returns the ID after which timelines are complete.
func (db *DB) horizon(ctx context.Context) (int64, error) {
	var h int64
	err := db.scanRow(ctx, `SELECT post_id FROM timeline_horizon`, nil, &h)
	return h, err
}

// lockUsers locks users' rows against other writers until tx ends, in
// the order of their IDs. A post locks its author's (and those it
// mentions, whose rows their notification updates), a follow its
// followee's: so a follow and a post by the followee do not pass each
// other, and no two transactions wait for each other's rows. SQLite needs
// nothing: a transaction holds the database's write lock from its start.
func (db *DB) lockUsers(ctx context.Context, tx *sql.Tx, ids ...int64) error {
	if !db.postgres {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	if err != nil {
		return mapErr(err)
	}
	return mapErr(rows.Close())
}

// fanOut adds a new post to the timelines of its author and their
// followers. The caller holds lockUsers(author).
func (db *DB) fanOut(ctx context.Context, tx *sql.Tx, author, post int64) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO timelines (user_id, post_id, author_id)
		SELECT follower_id, CAST(? AS BIGINT), CAST(? AS BIGINT) FROM follows WHERE followee_id = ?
		UNION SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT)`),
		post, author, author, author, post, author)
	return mapErr(err)
}

// backfill adds followee's posts after the horizon to follower's
// timeline, for a new follow. The caller holds lockUsers(followee).
func (db *DB) backfill(ctx context.Context, tx *sql.Tx, follower, followee int64) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO timelines (user_id, post_id, author_id)
		SELECT ?, id, author_id FROM posts WHERE author_id = ? AND id > (SELECT post_id FROM timeline_horizon)
		ON CONFLICT DO NOTHING`), follower, followee)
	return mapErr(err)
}

// dropFromTimeline removes author's posts from user's timeline, after an
// unfollow or a block.
func (db *DB) dropFromTimeline(ctx context.Context, tx *sql.Tx, user, author int64) error {
	_, err := tx.ExecContext(ctx, db.q(`DELETE FROM timelines WHERE user_id = ? AND author_id = ?`), user, author)
	return mapErr(err)
}

// TrimTimelines keeps timeline entries for the newest keep posts: it moves
// the horizon up to them, and deletes the entries the horizon had already
// passed at the previous call. Deleting one call late leaves a page being
// read meanwhile (it read the horizon first) every entry it may ask for,
// so housekeeping calls it every few minutes. It returns the number of
// entries deleted.
func (db *DB) TrimTimelines(ctx context.Context, keep int64) (int64, error) {
	h, err := db.horizon(ctx)
	if err != nil {
		return 0, err
	}
	var deleted int64
	var lowest sql.NullInt64
	if err := db.scanRow(ctx, `SELECT MIN(post_id) FROM timelines`, nil, &lowest); err != nil {
		return 0, err
	}
	// A few hundred posts' entries a statement, so that no transaction
	// holds the write lock for long.
	const batch = 256
	for lo := lowest.Int64; lowest.Valid && lo <= h; lo += batch {
		res, err := db.exec(ctx, `DELETE FROM timelines WHERE post_id <= ?`, min(lo+batch, h))
		if err != nil {
			return deleted, err
		}
		n, _ := res.RowsAffected()
		deleted += n
	}
	var newest int64
	if err := db.scanRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM posts`, nil, &newest); err != nil {
		return deleted, err
	}
	if to := newest - keep; to > h {
		_, err = db.exec(ctx, `UPDATE timeline_horizon SET post_id = ? WHERE post_id < ?`, to, to)
	}
	return deleted, err
}
