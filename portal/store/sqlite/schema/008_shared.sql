-- Version 8: what the service kept in each process's memory is in the
-- database, so that it holds across restarts and across the instances of
-- one service: the Client Portal's sessions (keyed by the SHA-256 of their
-- ids; the state sealed under the master key like the devices' secrets)
-- and the rate limits' token buckets. The database keeps one active device
-- per user: were there two (no version ever made them), the older ones are
-- retired first.
CREATE TABLE sessions (
	key       BLOB PRIMARY KEY,
	data      BLOB NOT NULL,
	logged_in INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	seen      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_seen ON sessions(logged_in, seen);
CREATE INDEX sessions_created ON sessions(created);
CREATE TABLE buckets (
	key      TEXT PRIMARY KEY,
	tokens   REAL NOT NULL,
	updated  INTEGER NOT NULL,
	full_at  INTEGER NOT NULL,
	reported INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX buckets_full ON buckets(full_at);
UPDATE devices SET state = 'retired', retired = activated
	WHERE state = 'active' AND EXISTS (SELECT 1 FROM devices n WHERE n.username = devices.username
		AND n.state = 'active' AND (n.activated > devices.activated OR (n.activated = devices.activated AND n.rowid > devices.rowid)));
CREATE UNIQUE INDEX devices_one_active ON devices(username) WHERE state = 'active';
