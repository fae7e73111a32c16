-- Version 1 of the IB Key service schema on PostgreSQL: the tables of the
-- SQLite schema's version 8, in PostgreSQL's types. Times are BIGINT Unix
-- nanoseconds, 0 for none (store.StoreTime). The Go step of this version
-- records the id of the master key in meta.key_id.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);
CREATE TABLE accounts (
	username     TEXT PRIMARY KEY,
	account      TEXT NOT NULL UNIQUE,
	phone        TEXT NOT NULL,
	password     TEXT NOT NULL,
	must_change  BOOLEAN NOT NULL DEFAULT false,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	hard_lock    BOOLEAN NOT NULL DEFAULT false,
	created      BIGINT NOT NULL,
	CHECK (username = lower(username))
);
CREATE TABLE enrollments (
	seq       BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	id        TEXT PRIMARY KEY,
	username  TEXT NOT NULL REFERENCES accounts(username),
	state     TEXT NOT NULL,
	channel   TEXT NOT NULL,
	code_hash BYTEA NOT NULL,
	tries     INTEGER NOT NULL,
	sends     INTEGER NOT NULL,
	expires   BIGINT NOT NULL,
	last_sent BIGINT NOT NULL,
	locator   TEXT NOT NULL DEFAULT '',
	channels  TEXT NOT NULL DEFAULT '',
	created   BIGINT NOT NULL
);
CREATE INDEX enrollments_locator ON enrollments(locator, state) WHERE locator <> '';
CREATE INDEX enrollments_user ON enrollments(username, created);
CREATE TABLE devices (
	seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	id                TEXT PRIMARY KEY,
	username          TEXT NOT NULL REFERENCES accounts(username),
	enrollment        TEXT NOT NULL,
	state             TEXT NOT NULL, -- pending, active, retired
	suite             TEXT NOT NULL,
	secret            BYTEA NOT NULL,
	pin_hash          BYTEA,
	channel_hash      BYTEA NOT NULL,
	delivery_key      BYTEA NOT NULL,
	confirm_challenge TEXT NOT NULL,
	created           BIGINT NOT NULL,
	expires           BIGINT NOT NULL,
	activated         BIGINT NOT NULL DEFAULT 0,
	retired           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_user ON devices(username, state);
-- One active device per user, whatever the service's transactions do.
CREATE UNIQUE INDEX devices_one_active ON devices(username) WHERE state = 'active';
CREATE TABLE logins (
	id             TEXT PRIMARY KEY,
	username       TEXT NOT NULL,
	device_id      TEXT NOT NULL,
	kind           TEXT NOT NULL, -- login, inbox, pin
	challenge      TEXT NOT NULL,
	push_challenge TEXT NOT NULL DEFAULT '',
	number         INTEGER NOT NULL DEFAULT 0,
	payload        BYTEA,
	status         TEXT NOT NULL, -- pending, approved, denied, failed
	created        BIGINT NOT NULL,
	expires        BIGINT NOT NULL,
	app            TEXT NOT NULL DEFAULT '',
	ip             TEXT NOT NULL DEFAULT '',
	browser        TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL DEFAULT '',
	purpose        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX logins_user ON logins(username, status, expires);
CREATE TABLE events (
	seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	device_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	ref_id    TEXT NOT NULL,
	payload   BYTEA NOT NULL,
	signature BYTEA NOT NULL,
	expires   BIGINT NOT NULL
);
CREATE INDEX events_device ON events(device_id, seq);
CREATE TABLE deliveries (
	id        TEXT PRIMARY KEY,
	device_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	label     TEXT NOT NULL,
	sealed    BYTEA NOT NULL,
	created   BIGINT NOT NULL,
	delivered BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_device ON deliveries(device_id, delivered);
CREATE TABLE fraud_reports (
	id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	login_id  TEXT NOT NULL,
	username  TEXT NOT NULL,
	device_id TEXT NOT NULL,
	ip        TEXT NOT NULL,
	app       TEXT NOT NULL,
	browser   TEXT NOT NULL,
	time      BIGINT NOT NULL
);
CREATE TABLE audit (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time     BIGINT NOT NULL,
	event    TEXT NOT NULL,
	username TEXT NOT NULL DEFAULT '',
	device   TEXT NOT NULL DEFAULT '',
	ip       TEXT NOT NULL DEFAULT '',
	outcome  TEXT NOT NULL DEFAULT '',
	detail   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_user ON audit(username, time);
CREATE TABLE sends (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time     BIGINT NOT NULL,
	username TEXT NOT NULL,
	phone    TEXT NOT NULL,
	channel  TEXT NOT NULL
);
CREATE INDEX sends_user ON sends(username, time);
CREATE INDEX sends_phone ON sends(phone, time);
CREATE INDEX sends_time ON sends(time);
CREATE TABLE sessions (
	key       BYTEA PRIMARY KEY,
	data      BYTEA NOT NULL,
	logged_in BOOLEAN NOT NULL,
	created   BIGINT NOT NULL,
	seen      BIGINT NOT NULL
);
CREATE INDEX sessions_seen ON sessions(logged_in, seen);
CREATE INDEX sessions_created ON sessions(created);
CREATE TABLE buckets (
	key      TEXT PRIMARY KEY,
	tokens   DOUBLE PRECISION NOT NULL,
	updated  BIGINT NOT NULL,
	full_at  BIGINT NOT NULL,
	reported BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX buckets_full ON buckets(full_at);
