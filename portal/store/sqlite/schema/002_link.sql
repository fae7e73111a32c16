-- Version 2: enrollments by Client Portal link. locator is the first
-- characters of the Session ID ('' for SMS and voice enrollments).
ALTER TABLE enrollments ADD COLUMN locator TEXT NOT NULL DEFAULT '';
CREATE INDEX enrollments_locator ON enrollments(locator, state) WHERE locator <> '';
CREATE INDEX enrollments_user ON enrollments(username, created);
