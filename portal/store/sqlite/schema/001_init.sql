-- Version 1 of the IB Key service schema. Times are Unix nanoseconds; 0 is none.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
CREATE TABLE accounts (
	username     TEXT PRIMARY KEY,
	account      TEXT NOT NULL UNIQUE,
	phone        TEXT NOT NULL,
	password     TEXT NOT NULL,
	must_change  INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL
);
CREATE TABLE enrollments (
	id        TEXT PRIMARY KEY,
	username  TEXT NOT NULL REFERENCES accounts(username),
	state     TEXT NOT NULL,
	channel   TEXT NOT NULL,
	code_hash BLOB NOT NULL,
	tries     INTEGER NOT NULL,
	sends     INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	last_sent INTEGER NOT NULL,
	created   INTEGER NOT NULL
);
CREATE TABLE devices (
	id                TEXT PRIMARY KEY,
	username          TEXT NOT NULL REFERENCES accounts(username),
	enrollment        TEXT NOT NULL,
	state             TEXT NOT NULL, -- pending, active, retired
	suite             TEXT NOT NULL,
	secret            BLOB NOT NULL,
	pin_hash          BLOB,
	channel_hash      BLOB NOT NULL,
	delivery_key      BLOB NOT NULL,
	confirm_challenge TEXT NOT NULL,
	created           INTEGER NOT NULL,
	expires           INTEGER NOT NULL,
	activated         INTEGER NOT NULL DEFAULT 0,
	retired           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_user ON devices(username, state);
CREATE TABLE logins (
	id             TEXT PRIMARY KEY,
	username       TEXT NOT NULL,
	device_id      TEXT NOT NULL,
	kind           TEXT NOT NULL, -- login, inbox
	challenge      TEXT NOT NULL,
	push_challenge TEXT NOT NULL DEFAULT '',
	number         INTEGER NOT NULL DEFAULT 0,
	payload        BLOB,
	status         TEXT NOT NULL, -- pending, approved, denied, failed
	created        INTEGER NOT NULL,
	expires        INTEGER NOT NULL,
	app            TEXT NOT NULL DEFAULT '',
	ip             TEXT NOT NULL DEFAULT '',
	browser        TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX logins_user ON logins(username, status, expires);
CREATE TABLE events (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	device_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	ref_id    TEXT NOT NULL,
	payload   BLOB NOT NULL,
	signature BLOB NOT NULL,
	expires   INTEGER NOT NULL
);
CREATE INDEX events_device ON events(device_id, seq);
CREATE TABLE deliveries (
	id        TEXT PRIMARY KEY,
	device_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	label     TEXT NOT NULL,
	sealed    BLOB NOT NULL,
	created   INTEGER NOT NULL,
	delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_device ON deliveries(device_id, delivered);
CREATE TABLE fraud_reports (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	login_id  TEXT NOT NULL,
	username  TEXT NOT NULL,
	device_id TEXT NOT NULL,
	ip        TEXT NOT NULL,
	app       TEXT NOT NULL,
	browser   TEXT NOT NULL,
	time      INTEGER NOT NULL
);
