-- Credential epochs: bumped by every password change, account deletion and
-- revocation of every session, so that no session issued for older
-- credentials survives (sessions carry the epoch they were issued for).
ALTER TABLE users ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;
-- When the newest security notice for the user was made (0: none), so that
-- a page view looks for notices only when there may be some.
ALTER TABLE users ADD COLUMN notice_at BIGINT NOT NULL DEFAULT 0;

-- Security notices shown to a user's sessions, such as a sign-in from a new
-- device. A notice is shown to the sessions that existed when it was made,
-- except the one it is about, until the user dismisses it.
CREATE TABLE notices (
	id           {{.ID}},
	user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind         TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	session      TEXT NOT NULL,          -- hex id of the session it is about ('' if none)
	device       TEXT NOT NULL,          -- "Firefox on Linux"
	client_ip    TEXT NOT NULL,
	dismissed_at BIGINT                  -- NULL while shown
);
CREATE INDEX notices_user ON notices (user_id, id);

-- The browsers and systems each user signed in with, for "new sign-in"
-- notices: one row per user and device, with the last sign-in.
CREATE TABLE known_devices (
	user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	device    TEXT NOT NULL,
	last_seen BIGINT NOT NULL,
	PRIMARY KEY (user_id, device)
);

-- Failed sign-ins on a username are recorded without a user ID.
CREATE INDEX security_events_username ON security_events (username, id);
