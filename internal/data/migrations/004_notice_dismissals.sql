-- A notice is dismissed by each session for itself: one session dismissing
-- it (perhaps the very one it warns about) hides it from no other.
CREATE TABLE notice_dismissals (
	notice_id BIGINT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	session   TEXT NOT NULL,   -- hex id of the session that dismissed it
	at        BIGINT NOT NULL,
	PRIMARY KEY (notice_id, session)
);
CREATE INDEX notice_dismissals_session ON notice_dismissals (session);
