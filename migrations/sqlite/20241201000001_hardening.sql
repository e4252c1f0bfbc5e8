-- Hardening (issue 10): 冲正 tombstones and the access record.

-- 冲正 (the platform's 2601) of a claim that never arrived: a late copy of
-- the original is refused (409) instead of settling. One row per
-- (hospital, claim_id); never deleted.
CREATE TABLE claim_tombstones (
    hospital  TEXT NOT NULL,
    claim_id  TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (hospital, claim_id)
);
CREATE TRIGGER claim_tombstones_append_only_u BEFORE UPDATE ON claim_tombstones
BEGIN SELECT RAISE(ABORT, 'claim_tombstones are append-only'); END;
CREATE TRIGGER claim_tombstones_append_only_d BEFORE DELETE ON claim_tombstones
BEGIN SELECT RAISE(ABORT, 'claim_tombstones are append-only'); END;

-- The access record: every request an API key made (or a command an
-- operator ran: source 'cli'), append-only. `status` is the HTTP status
-- answered (CLI: 0 success, 1 failure).
CREATE TABLE access_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    source   TEXT NOT NULL,
    key_id   TEXT NOT NULL,
    role     TEXT NOT NULL,
    hospital TEXT,
    action   TEXT NOT NULL,
    method   TEXT NOT NULL,
    target   TEXT NOT NULL,
    status   BIGINT NOT NULL,
    detail   TEXT
);
CREATE INDEX access_log_key ON access_log (key_id, seq);
CREATE INDEX access_log_at ON access_log (at);
CREATE TRIGGER access_log_append_only_u BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TRIGGER access_log_append_only_d BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
