-- Version-2 policies (shared pools, per-disease limits, insured region).

-- The person's insured/recognised region (参保地/认定地); the latest row
-- that names one is the claim's insured region.
ALTER TABLE registry ADD COLUMN region TEXT;

-- What a settlement added to accumulators that are not layers: a shared
-- pool (`pool:ID`) or a per-disease limit (`layer@group`). Only `paid`
-- moves for those. Negated on a reversal, append-only like the layers.
CREATE TABLE settlement_accumulators (
    settlement_id TEXT NOT NULL REFERENCES settlements (id),
    acc_key       TEXT NOT NULL,
    paid          BIGINT NOT NULL,
    PRIMARY KEY (settlement_id, acc_key)
);
CREATE TRIGGER settlement_accumulators_append_only_u BEFORE UPDATE ON settlement_accumulators
BEGIN SELECT RAISE(ABORT, 'settlement_accumulators are append-only'); END;
CREATE TRIGGER settlement_accumulators_append_only_d BEFORE DELETE ON settlement_accumulators
BEGIN SELECT RAISE(ABORT, 'settlement_accumulators are append-only'); END;
