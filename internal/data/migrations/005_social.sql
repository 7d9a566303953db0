-- The social network: posts, follows and follow requests, blocks and
-- mutes, notifications, private accounts and finding people.

ALTER TABLE users ADD COLUMN private INTEGER NOT NULL DEFAULT 0;   -- 1: posts for approved followers only
-- The newest notification's ID, and the newest the user has seen: the
-- menu counts unread ones only when the first is ahead.
ALTER TABLE users ADD COLUMN last_notification BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN seen_notification BIGINT NOT NULL DEFAULT 0;

CREATE TABLE posts (
	id         {{.ID}},
	author_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	body       TEXT NOT NULL,            -- up to 500 characters, plain text
	created_at BIGINT NOT NULL
);
-- A profile's posts, and a feed's per-author ranges (author, id window).
CREATE INDEX posts_author ON posts (author_id, id);

CREATE TABLE follows (
	follower_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	followee_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at  BIGINT NOT NULL,
	PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id, follower_id);

-- Requests to follow a private account, until approved or declined.
CREATE TABLE follow_requests (
	requester_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	target_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   BIGINT NOT NULL,
	PRIMARY KEY (requester_id, target_id)
);
CREATE INDEX follow_requests_target ON follow_requests (target_id, created_at);

CREATE TABLE blocks (
	blocker_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	blocked_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE mutes (
	muter_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	muted_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (muter_id, muted_id)
);

CREATE INDEX mutes_muted ON mutes (muted_id);

CREATE TABLE notifications (
	id         {{.ID}},
	user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,            -- follow, follow_request, follow_accepted, mention, security
	actor_id   BIGINT REFERENCES users (id) ON DELETE CASCADE,
	post_id    BIGINT REFERENCES posts (id) ON DELETE CASCADE,
	notice_id  BIGINT REFERENCES notices (id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_actor ON notifications (actor_id);
CREATE INDEX notifications_post ON notifications (post_id);
CREATE INDEX notifications_notice ON notifications (notice_id);

-- Prefix search over usernames and display names, folded to lower case:
-- one row per user and key, compared byte by byte.
CREATE TABLE search_keys (
	search_key {{.ByteText}} NOT NULL,
	user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,            -- 'username' or 'name'
	PRIMARY KEY (search_key, user_id, kind)
);
CREATE INDEX search_keys_user ON search_keys (user_id);
INSERT INTO search_keys (search_key, user_id, kind) SELECT username, id, 'username' FROM users;
INSERT INTO search_keys (search_key, user_id, kind) SELECT lower(display_name), id, 'name' FROM users;
