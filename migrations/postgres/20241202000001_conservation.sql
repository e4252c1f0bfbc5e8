-- Conservation, to the fen, for every settlement and reversal row: the
-- hospital's waivers, the funds and the patient share add up to the total.
ALTER TABLE settlements ADD CONSTRAINT settlements_conserve
    CHECK (total = hospital_waived + fund_paid + patient_payable);
