-- Home timelines, written when a post is made: an entry in the timeline
-- of the author and of each of their followers, so that a page of a home
-- feed is one range of one index rather than a look into every followed
-- author's posts. Entries are kept for the newest posts only, those after
-- timeline_horizon.post_id; a feed's older pages are read from posts.
CREATE TABLE timelines (
	user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	post_id   BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
	author_id BIGINT NOT NULL,           -- the post's: to leave out mutes, and to drop on unfollow
	PRIMARY KEY (user_id, post_id)
);
-- A deleted post's entries, and trimming past the horizon.
CREATE INDEX timelines_post ON timelines (post_id);

-- One row: timelines hold every entry for posts with a greater ID. Posts
-- made before timelines existed are past it from the start.
CREATE TABLE timeline_horizon (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	post_id BIGINT NOT NULL
);
INSERT INTO timeline_horizon (one, post_id) SELECT 1, COALESCE(MAX(id), 0) FROM posts;
