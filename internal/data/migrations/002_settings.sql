-- Facts about the deployment that every command must agree on, such as
-- where sessions live.
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
