CREATE TABLE users (
	id            {{.ID}},
	username      TEXT NOT NULL UNIQUE,  -- lowercase [a-z0-9_]{3,30}
	display_name  TEXT NOT NULL,
	bio           TEXT NOT NULL,
	password_hash TEXT NOT NULL,         -- argon2id, PHC string form
	created_at    BIGINT NOT NULL,       -- microseconds since the Unix epoch
	updated_at    BIGINT NOT NULL
);

-- Failed logins per account and per client IP. Rows decay: a failure long
-- after the previous one starts the count again.
CREATE TABLE login_failures (
	scope        TEXT NOT NULL,          -- 'account' or 'ip'
	subject      TEXT NOT NULL,
	failures     INTEGER NOT NULL,
	last_failure BIGINT NOT NULL,
	PRIMARY KEY (scope, subject)
);

CREATE TABLE security_events (
	id         {{.ID}},
	at         BIGINT NOT NULL,
	kind       TEXT NOT NULL,
	user_id    BIGINT,                   -- NULL when no user is known
	username   TEXT NOT NULL,
	client_ip  TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	session    TEXT NOT NULL,            -- a short prefix of the session's hash
	detail     TEXT NOT NULL
);
CREATE INDEX security_events_user ON security_events (user_id, id);
