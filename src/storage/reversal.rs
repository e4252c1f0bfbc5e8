//! Writing a reversal (冲红): a new settlement row with every amount of the
//! original negated, and its layer and accumulator rows negated likewise.
//! Cancellation and 应退应补 both append reversals; writing them with one
//! statement set keeps the two from drifting apart, so a month's sums and
//! `audit` treat every reversal alike.

/// Append the reversal `$rev` ([`super::append::NewReversal`]) of the
/// active settlement `$original` of person `$person`, booked in `$booked`,
/// inside the caller's transaction. When no settlement row was written
/// (the original is not an active settlement of that person) `$missing`
/// runs before the layer and accumulator rows are copied, so the caller
/// decides whether that is corruption.
macro_rules! insert_reversal {
    ($tx:expr, $rev:expr, $booked:expr, $original:expr, $person:expr, $missing:block) => {{
        let rev: &$crate::storage::append::NewReversal = $rev;
        let original: &str = $original;
        let inserted = sqlx::query(&format!(
            "INSERT INTO settlements ({})
             SELECT $1, 'reversal', id, hospital, claim_id, person_id, medical_type, level, region, categories,
                    primary_category, admitted_on, discharged_on, year, policy_id, policy_hash, -total, -free_items,
                    -reduction, -hospital_waived, -over_limit, -self_pay_first, -fully_self_pay, -in_policy, -fund_paid,
                    -patient_payable, claim_hash, claim_json, $2, $3, $4
             FROM settlements WHERE id = $5 AND kind = 'settlement' AND person_id = $6",
            $crate::storage::append::SETTLEMENT_COLUMNS
        ))
        .bind(&rev.id)
        .bind(&rev.answer_json)
        .bind(&rev.committed_at)
        .bind($booked)
        .bind(original)
        .bind($person)
        .execute(&mut *$tx)
        .await?;
        if inserted.rows_affected() != 1 $missing
        sqlx::query(
            "INSERT INTO settlement_layers (settlement_id, position, layer_id, fund_code, payer, applied, cap_limited,
                 base, deductible, eligible, paid)
             SELECT $1, position, layer_id, fund_code, payer, applied, cap_limited, -base, -deductible, -eligible, -paid
             FROM settlement_layers WHERE settlement_id = $2",
        )
        .bind(&rev.id)
        .bind(original)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO settlement_accumulators (settlement_id, acc_key, paid)
             SELECT $1, acc_key, -paid FROM settlement_accumulators WHERE settlement_id = $2",
        )
        .bind(&rev.id)
        .bind(original)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use insert_reversal;
