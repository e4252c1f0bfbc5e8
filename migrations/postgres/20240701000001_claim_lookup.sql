-- The retry lookup (hospital, claim_id → newest settlement) must not scan:
-- since re-settlements (应退应补) share a claim id, the unique index on
-- (hospital, claim_id) is partial and a lookup without its predicate cannot
-- use it. This one serves every settle call.
CREATE INDEX settlements_by_claim ON settlements (hospital, claim_id, seq);
