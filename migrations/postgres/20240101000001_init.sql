-- medaid service schema (PostgreSQL). Money is integer fen (BIGINT); dates are
-- ISO text ('YYYY-MM-DD'), timestamps RFC 3339 in China time (+08:00), so
-- both sort lexically and compare the same on SQLite and PostgreSQL.

-- Hospital directory (医疗机构目录): the level and region of a hospital come
-- from here, never from the claim.
CREATE TABLE hospitals (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    level      TEXT NOT NULL,
    region     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Eligibility registry (救助对象名册): one row per person and category period.
-- category '' registers an insured person with no aid category.
CREATE TABLE registry (
    person_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    category   TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to   TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (person_id, category, valid_from)
);

-- API keys: only the SHA-256 of the key is stored.
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('hospital', 'centre', 'admin')),
    hospital   TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((role = 'hospital') = (hospital IS NOT NULL))
);

-- Every policy text a service has loaded, by content hash, so a settlement's
-- (policy_id, policy_hash) can always be traced to the exact rules.
CREATE TABLE policies (
    hash           TEXT PRIMARY KEY,
    id             TEXT NOT NULL,
    region         TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to   TEXT NOT NULL,
    source         TEXT NOT NULL,
    loaded_at      TEXT NOT NULL
);

-- Settlements (结算) and reversals (冲红), append-only. A reversal carries
-- every amount negated and `reverses` = the original's id; it is booked in
-- the month it was committed (booked_month, China time).
CREATE TABLE settlements (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('settlement', 'reversal')),
    reverses         TEXT UNIQUE REFERENCES settlements (id),
    hospital         TEXT NOT NULL,
    claim_id         TEXT NOT NULL,
    person_id        TEXT NOT NULL,
    medical_type     TEXT NOT NULL,
    level            TEXT NOT NULL,
    region           TEXT NOT NULL,
    categories       TEXT NOT NULL,
    primary_category TEXT NOT NULL,
    admitted_on      TEXT NOT NULL,
    discharged_on    TEXT NOT NULL,
    year             BIGINT NOT NULL,
    policy_id        TEXT NOT NULL,
    policy_hash      TEXT NOT NULL,
    total            BIGINT NOT NULL,
    free_items       BIGINT NOT NULL,
    reduction        BIGINT NOT NULL,
    hospital_waived  BIGINT NOT NULL,
    over_limit       BIGINT NOT NULL,
    self_pay_first   BIGINT NOT NULL,
    fully_self_pay   BIGINT NOT NULL,
    in_policy        BIGINT NOT NULL,
    fund_paid        BIGINT NOT NULL,
    patient_payable  BIGINT NOT NULL,
    claim_hash       TEXT NOT NULL,
    claim_json       TEXT NOT NULL,
    answer_json      TEXT NOT NULL,
    committed_at     TEXT NOT NULL,
    booked_month     TEXT NOT NULL,
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
-- Idempotency: one settlement per (hospital, claim_id).
CREATE UNIQUE INDEX settlements_claim ON settlements (hospital, claim_id) WHERE kind = 'settlement';
CREATE INDEX settlements_person ON settlements (person_id, year);
CREATE INDEX settlements_hospital ON settlements (hospital, seq);
CREATE INDEX settlements_month ON settlements (booked_month, hospital);

-- Per-layer shares of a settlement (one row per policy layer): what each
-- fund paid and what it added to the accumulators (deductible, eligible,
-- paid), negated on a reversal.
CREATE TABLE settlement_layers (
    settlement_id TEXT NOT NULL REFERENCES settlements (id),
    position      BIGINT NOT NULL,
    layer_id      TEXT NOT NULL,
    fund_code     TEXT NOT NULL,
    payer         TEXT NOT NULL,
    applied       BOOLEAN NOT NULL,
    cap_limited   BOOLEAN NOT NULL,
    base          BIGINT NOT NULL,
    deductible    BIGINT NOT NULL,
    eligible      BIGINT NOT NULL,
    paid          BIGINT NOT NULL,
    PRIMARY KEY (settlement_id, position)
);
CREATE INDEX settlement_layers_fund ON settlement_layers (fund_code);

-- Annual accumulators (年度累计) per person, year and layer id. Always equal
-- to the sum of settlement_layers over the person's rows of that year.
CREATE TABLE accumulators (
    person_id       TEXT NOT NULL,
    year            BIGINT NOT NULL,
    layer_id        TEXT NOT NULL,
    deductible_used BIGINT NOT NULL DEFAULT 0,
    eligible_cum    BIGINT NOT NULL DEFAULT 0,
    paid            BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (person_id, year, layer_id)
);

-- Money rows are append-only.
CREATE FUNCTION medaid_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER settlements_append_only BEFORE UPDATE OR DELETE ON settlements
    FOR EACH ROW EXECUTE FUNCTION medaid_append_only();
CREATE TRIGGER settlement_layers_append_only BEFORE UPDATE OR DELETE ON settlement_layers
    FOR EACH ROW EXECUTE FUNCTION medaid_append_only();
