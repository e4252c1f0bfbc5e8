-- Reconciliation (issue 5): re-settlement links, month close, and the
-- per-month sums statements are read from.

-- 应退应补: a re-settlement under a corrected identity is a new settlement
-- of the same claim, linked to the one it replaces (which is reversed in
-- the same transaction). Only first settlements are unique per claim id.
ALTER TABLE settlements ADD COLUMN replaces TEXT REFERENCES settlements (id);
DROP INDEX settlements_claim;
CREATE UNIQUE INDEX settlements_claim ON settlements (hospital, claim_id)
    WHERE kind = 'settlement' AND replaces IS NULL;
CREATE UNIQUE INDEX settlements_replaces ON settlements (replaces) WHERE replaces IS NOT NULL;

-- Month close (月结). A closed month's statement is stored (snapshot, JSON)
-- and served as stored. Reopening is recorded in month_events with its
-- reason; the row keeps the last state.
CREATE TABLE months (
    month      TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at  TEXT,
    closed_by  TEXT,
    snapshot   TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE month_events (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month  TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('close', 'reopen')),
    actor  TEXT NOT NULL,
    reason TEXT,
    at     TEXT NOT NULL
);


-- Distinct persons of a month per category (the disbursement report),
-- read from the index alone.
CREATE INDEX settlements_month_persons ON settlements (booked_month, kind, primary_category, person_id);
