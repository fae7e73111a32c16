-- Version 5: the audit log, one row per security event (portal/audit.go),
-- never a secret; and what a login is for (a portal step-up or a login).
CREATE TABLE audit (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	time     INTEGER NOT NULL,
	event    TEXT NOT NULL,
	username TEXT NOT NULL DEFAULT '',
	device   TEXT NOT NULL DEFAULT '',
	ip       TEXT NOT NULL DEFAULT '',
	outcome  TEXT NOT NULL DEFAULT '',
	detail   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_user ON audit(username, time);
ALTER TABLE logins ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
