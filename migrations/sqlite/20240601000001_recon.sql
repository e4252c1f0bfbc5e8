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
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    month  TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('close', 'reopen')),
    actor  TEXT NOT NULL,
    reason TEXT,
    at     TEXT NOT NULL
);

-- Per-month sums (SQLite only), kept by triggers in the transaction that
-- appends each row, so a month's statement reads a few hundred rows however
-- many settlements it has. SQLite has one writer at a time, so these rows
-- cost no concurrency; PostgreSQL computes the same sums with GROUP BY.
CREATE TABLE month_cells (
    booked_month     TEXT NOT NULL,
    hospital         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    medical_type     TEXT NOT NULL,
    category         TEXT NOT NULL,
    n                BIGINT NOT NULL,
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
    PRIMARY KEY (booked_month, hospital, kind, medical_type, category)
);
CREATE TABLE month_layer_cells (
    booked_month TEXT NOT NULL,
    hospital     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    medical_type TEXT NOT NULL,
    category     TEXT NOT NULL,
    layer_id     TEXT NOT NULL,
    fund_code    TEXT NOT NULL,
    payer        TEXT NOT NULL,
    applied      BIGINT NOT NULL,
    base         BIGINT NOT NULL,
    deductible   BIGINT NOT NULL,
    eligible     BIGINT NOT NULL,
    paid         BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    PRIMARY KEY (booked_month, hospital, kind, medical_type, category, layer_id, fund_code, payer)
);
INSERT INTO month_cells
    SELECT booked_month, hospital, kind, medical_type, primary_category, COUNT(*),
           SUM(total), SUM(free_items), SUM(reduction), SUM(hospital_waived), SUM(over_limit), SUM(self_pay_first), SUM(fully_self_pay), SUM(in_policy), SUM(fund_paid), SUM(patient_payable)
    FROM settlements GROUP BY booked_month, hospital, kind, medical_type, primary_category;
INSERT INTO month_layer_cells
    SELECT s.booked_month, s.hospital, s.kind, s.medical_type, s.primary_category, l.layer_id, l.fund_code, l.payer,
           SUM(l.applied), SUM(l.base), SUM(l.deductible), SUM(l.eligible), SUM(l.paid), MIN(l.position)
    FROM settlements s JOIN settlement_layers l ON l.settlement_id = s.id
    GROUP BY s.booked_month, s.hospital, s.kind, s.medical_type, s.primary_category, l.layer_id, l.fund_code, l.payer;
CREATE TRIGGER settlements_month_cells AFTER INSERT ON settlements
BEGIN
    INSERT INTO month_cells VALUES (NEW.booked_month, NEW.hospital, NEW.kind, NEW.medical_type, NEW.primary_category, 1,
        NEW.total, NEW.free_items, NEW.reduction, NEW.hospital_waived, NEW.over_limit, NEW.self_pay_first, NEW.fully_self_pay, NEW.in_policy, NEW.fund_paid, NEW.patient_payable)
    ON CONFLICT (booked_month, hospital, kind, medical_type, category) DO UPDATE SET n = n + 1,
        total = total + excluded.total, free_items = free_items + excluded.free_items, reduction = reduction + excluded.reduction, hospital_waived = hospital_waived + excluded.hospital_waived, over_limit = over_limit + excluded.over_limit, self_pay_first = self_pay_first + excluded.self_pay_first, fully_self_pay = fully_self_pay + excluded.fully_self_pay, in_policy = in_policy + excluded.in_policy, fund_paid = fund_paid + excluded.fund_paid, patient_payable = patient_payable + excluded.patient_payable;
END;
CREATE TRIGGER settlement_layers_month_cells AFTER INSERT ON settlement_layers
BEGIN
    INSERT INTO month_layer_cells
        SELECT s.booked_month, s.hospital, s.kind, s.medical_type, s.primary_category, NEW.layer_id, NEW.fund_code,
               NEW.payer, NEW.applied, NEW.base, NEW.deductible, NEW.eligible, NEW.paid, NEW.position
        FROM settlements s WHERE s.id = NEW.settlement_id
    ON CONFLICT (booked_month, hospital, kind, medical_type, category, layer_id, fund_code, payer) DO UPDATE SET
        applied = applied + excluded.applied, base = base + excluded.base, deductible = deductible + excluded.deductible,
        eligible = eligible + excluded.eligible, paid = paid + excluded.paid, position = MIN(position, excluded.position);
END;

-- Distinct persons of a month per category (the disbursement report),
-- read from the index alone.
CREATE INDEX settlements_month_persons ON settlements (booked_month, kind, primary_category, person_id);
