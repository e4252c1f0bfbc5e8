-- Conservation, to the fen, for every settlement and reversal row: the
-- hospital's waivers, the funds and the patient share add up to the total.
-- (SQLite cannot add a CHECK to an existing table: a trigger refuses the row.)
CREATE TRIGGER settlements_conserve BEFORE INSERT ON settlements
WHEN NEW.total <> NEW.hospital_waived + NEW.fund_paid + NEW.patient_payable
BEGIN SELECT RAISE(ABORT, 'settlement does not conserve: total <> waived + funds + patient'); END;
