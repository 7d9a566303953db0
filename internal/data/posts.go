package data

import (
	"context"
	"database/sql"
	"time"
)

// Post is a post and the names of its author.
type Post struct {
	ID        int64
	AuthorID  int64
	Body      string
	CreatedAt time.Time
	// Author's username and display name, read with the post.
	Username, DisplayName string
}

const postColumns = `p.id, p.author_id, p.body, p.created_at, u.username, u.display_name`

func scanPosts(rows *sql.Rows, err error) ([]Post, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	posts := []Post{}
	for rows.Next() {
		var p Post
		var at int64
		if err := rows.Scan(&p.ID, &p.AuthorID, &p.Body, &at, &p.Username, &p.DisplayName); err != nil {
			return nil, mapErr(err)
		}
		p.CreatedAt = time.UnixMicro(at).UTC()
		posts = append(posts, p)
	}
	return posts, mapErr(rows.Err())
}

// CreatePost stores a post and notifies the users it mentions (IDs in
// mentioned, already filtered for who may be told), in one transaction.
func (db *DB) CreatePost(ctx context.Context, authorID int64, body string, mentioned []int64, now time.Time) (Post, error) {
	p := Post{AuthorID: authorID, Body: body, CreatedAt: now.UTC()}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockUsers(ctx, tx, append([]int64{authorID}, mentioned...)...); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO posts (author_id, body, created_at) VALUES (?, ?, ?)
			RETURNING id, (SELECT username FROM users WHERE id = ?), (SELECT display_name FROM users WHERE id = ?)`),
			authorID, body, now.UnixMicro(), authorID, authorID).Scan(&p.ID, &p.Username, &p.DisplayName); err != nil {
			return mapErr(err)
		}
		if err := db.fanOut(ctx, tx, authorID, p.ID); err != nil {
			return err
		}
		for _, uid := range mentioned {
			if err := db.notify(ctx, tx, Notification{UserID: uid, Kind: NotifyMention, ActorID: authorID, PostID: p.ID, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	return p, err
}

// Post returns a post with its author's names, or ErrNotFound.
func (db *DB) Post(ctx context.Context, id int64) (Post, error) {
	posts, err := scanPosts(db.query(ctx, `SELECT `+postColumns+` FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = ?`, id))
	if err != nil {
		return Post{}, err
	}
	if len(posts) == 0 {
		return Post{}, ErrNotFound
	}
	return posts[0], nil
}

// DeletePost deletes the author's post; ErrNotFound if they have no such
// post. Its mention notifications go with it.
func (db *DB) DeletePost(ctx context.Context, authorID, id int64) error {
	return affectedOne(db.exec(ctx, `DELETE FROM posts WHERE id = ? AND author_id = ?`, id, authorID))
}

// PostsSince counts the author's posts made at or after since, looking at
// the newest limit only.
func (db *DB) PostsSince(ctx context.Context, authorID int64, since time.Time, limit int) (int, error) {
	var n int
	err := db.scanRow(ctx, `SELECT count(*) FROM (SELECT created_at FROM posts WHERE author_id = ? ORDER BY id DESC LIMIT ?) recent
		WHERE created_at >= ?`, []any{authorID, limit, since.UnixMicro()}, &n)
	return n, err
}

// PostsByAuthor returns the author's posts older than before (an ID; 0
// for the newest), newest first, at most limit.
func (db *DB) PostsByAuthor(ctx context.Context, authorID, before int64, limit int) ([]Post, error) {
	if before <= 0 {
		before = maxID
	}
	return scanPosts(db.query(ctx, PostsByAuthorQuery, authorID, before, limit))
}

// CountPosts counts the author's posts.
func (db *DB) CountPosts(ctx context.Context, authorID int64) (int, error) {
	var n int
	err := db.scanRow(ctx, CountPostsQuery, []any{authorID}, &n)
	return n, err
}

const maxID = int64(1<<63 - 1)

// MaxID is the cursor of a first page: older than any post.
const MaxID = maxID

// FeedWindow is the first range of post IDs a home feed page looks in;
// each further range is FeedGrowth times wider.
const (
	FeedWindow = 4096
	FeedGrowth = 8
)

// The queries behind the feed and profile pages, exported so that the
// benchmark shows their plans (bench/feedgen -explain).
const (
	// HomeFeedQuery reads one range of post IDs of a home feed: user,
	// user, user, hi, lo, limit. The page's IDs come from posts_author
	// alone (author and ID are all it holds); only the posts shown are
	// then read, with their authors' names. Joining first would read every
	// post of the range by a followed author: on PostgreSQL, whose planner
	// then scans the range by ID and filters on the author, every post of
	// the range.
	HomeFeedQuery = `SELECT ` + postColumns + ` FROM posts p JOIN users u ON u.id = p.author_id
			WHERE p.id IN (
				SELECT id FROM posts WHERE author_id IN (
					SELECT followee_id FROM follows WHERE follower_id = ?
						AND followee_id NOT IN (SELECT muted_id FROM mutes WHERE muter_id = ?)
					UNION ALL SELECT ?)
				AND id < ? AND id >= ?
				ORDER BY id DESC LIMIT ?)
			ORDER BY p.id DESC`
	// PostsByAuthorQuery reads a profile's page: author, before, limit.
	PostsByAuthorQuery = `SELECT ` + postColumns + ` FROM posts p JOIN users u ON u.id = p.author_id
		WHERE p.author_id = ? AND p.id < ? ORDER BY p.id DESC LIMIT ?`
	// CountPostsQuery counts an author's posts: author.
	CountPostsQuery = `SELECT count(*) FROM posts WHERE author_id = ?`
)

// HomeFeed returns the posts of the user and of the people they follow
// and have not muted, older than before (an ID; 0 for the newest), newest
// first, at most limit: from the user's timeline while the page is after
// the horizon, then from posts.
func (db *DB) HomeFeed(ctx context.Context, userID, before int64, limit int) ([]Post, error) {
	hi := before
	if hi <= 0 {
		hi = maxID
	}
	posts, horizon, err := db.timeline(ctx, userID, hi, limit)
	if err != nil || len(posts) == limit {
		return posts, err
	}
	// The timeline holds every post of the feed after the horizon: the
	// rest of the page is older. (With no post, the horizon is read on
	// its own; it may have moved on since, but the timeline held nothing
	// between the page's start and where it is now either.)
	if horizon < 0 {
		if horizon, err = db.horizon(ctx); err != nil {
			return nil, err
		}
	}
	older, err := db.homeFeedFromPosts(ctx, userID, min(hi, horizon+1), limit-len(posts))
	return append(posts, older...), err
}

// homeFeedFromPosts returns a home feed's posts older than before, as
// HomeFeed does, reading posts alone. HomeFeed calls it for what is past
// the horizon, so before is at most a few thousand IDs past the newest.
//
// It reads ranges of post IDs going back in time, each wider than the
// last, until it has limit posts or reaches the first post: within a
// range every followed author's posts are one index range (posts_author),
// so a page costs about one index seek per author per range, however many
// posts the authors have and however far back the page is.
func (db *DB) homeFeedFromPosts(ctx context.Context, userID, before int64, limit int) ([]Post, error) {
	hi := before
	posts := []Post{}
	for width := int64(FeedWindow); hi > 0 && len(posts) < limit; width *= FeedGrowth {
		lo := max(hi-width, 0)
		page, err := scanPosts(db.query(ctx, HomeFeedQuery, userID, userID, userID, hi, lo, limit-len(posts)))
		if err != nil {
			return nil, err
		}
		posts = append(posts, page...)
		hi = lo
	}
	return posts, nil
}
