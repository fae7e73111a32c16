-- Version 7: the codes sent by SMS or voice, over every enrollment, so that
-- the caps per user and per phone number, per hour and per day, hold across
-- enrollments and restarts (rows older than two days are dropped); and the
-- channels an enrollment has sent codes by (the first code by a channel
-- goes at once).
CREATE TABLE sends (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	time     INTEGER NOT NULL,
	username TEXT NOT NULL,
	phone    TEXT NOT NULL,
	channel  TEXT NOT NULL
);
CREATE INDEX sends_user ON sends(username, time);
CREATE INDEX sends_phone ON sends(phone, time);
CREATE INDEX sends_time ON sends(time);
ALTER TABLE enrollments ADD COLUMN channels TEXT NOT NULL DEFAULT '';
UPDATE enrollments SET channels = channel WHERE channel <> 'link';
