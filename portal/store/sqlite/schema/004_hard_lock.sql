-- Version 4: a hard lock (100 consecutive failures; only an administrator
-- lifts it) is its own column. Before, it was locked_until = the year 9999,
-- which does not fit in int64 nanoseconds and came back as a time in 1815:
-- every account with 100 failures or more is hard-locked now.
ALTER TABLE accounts ADD COLUMN hard_lock INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET hard_lock = 1, locked_until = 0 WHERE failures >= 100;
