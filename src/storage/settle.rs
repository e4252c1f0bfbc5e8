//! One settlement's steps inside a write transaction (结算事务): lock,
//! check idempotency, compute, append. Shared by the per-request path
//! (`settlements.rs`) and the group-commit writer's fallback (`group.rs`).

use super::append::SettlementRow;
use super::{Result, StorageError};
use crate::engine::Accumulator;
use crate::money::from_fen;

/// What a settlement locks and is idempotent on.
#[derive(Debug, Clone, Copy)]
pub struct SettleKey<'a> {
    pub hospital: &'a str,
    pub claim_id: &'a str,
    pub claim_hash: &'a str,
    pub person_id: &'a str,
    pub year: i32,
    /// The policy's layer ids, in policy order.
    pub layer_ids: &'a [String],
}

/// How a settlement request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    /// Newly committed.
    Created { id: String, answer_json: String },
    /// The same claim was settled before: its stored (current) answer.
    Replayed { id: String, answer_json: String },
    /// A different claim was settled under this (hospital, claim_id).
    Conflict { id: String },
    /// The claim was reversed (冲正) before it arrived, at `at`.
    Voided { at: String },
}

/// The newest settlement of a claim: after a re-settlement (应退应补) that is
/// the one that replaced the first.
pub(crate) const BY_CLAIM: &str =
    "SELECT s.id, s.claim_hash, s.answer_json, r.answer_json AS reversal_answer
     FROM settlements s LEFT JOIN settlements r ON r.reverses = s.id
     WHERE s.hospital = $1 AND s.claim_id = $2 AND s.kind = 'settlement'
     ORDER BY s.seq DESC LIMIT 1";

pub(crate) fn outcome_of(
    id: String,
    stored_hash: &str,
    answer: String,
    reversal: Option<String>,
    claim_hash: &str,
) -> SettleOutcome {
    if stored_hash == claim_hash {
        SettleOutcome::Replayed {
            id,
            answer_json: reversal.unwrap_or(answer),
        }
    } else {
        SettleOutcome::Conflict { id }
    }
}

/// The steps of one settlement inside an open write transaction `$tx` (a
/// transaction, or a savepoint of the group writer's batch): create and
/// lock the person's accumulator rows, check idempotency and 冲正
/// tombstones, compute on the locked accumulators, append the rows and move
/// the accumulators. Evaluates to `Result<(SettleOutcome, keep)>`: `keep`
/// false when nothing was written and the caller rolls back.
macro_rules! settle_steps {
    ($tx:ident, $backend:ident, $key:ident, $compute:ident) => {{
        let r: $crate::storage::Result<(SettleOutcome, bool)> = async {
            let year = i64::from($key.year);
            let mut sorted: Vec<&str> = $key.layer_ids.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            sorted.dedup();
            if $backend == $crate::storage::Backend::Postgres {
                // Against a concurrent 冲正 of the same claim (see
                // `void_claim`); SQLite has one writer at a time.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind($crate::storage::access::claim_lock(
                        $key.hospital,
                        $key.claim_id,
                    ))
                    .execute(&mut *$tx)
                    .await?;
            }

            // 1. Create missing accumulator rows, in layer-id order, then lock
            //    all of the person's rows for the year in the same order.
            if !sorted.is_empty() {
                let mut sql =
                    String::from("INSERT INTO accumulators (person_id, year, layer_id) VALUES ");
                for i in 0..sorted.len() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    let _ = write!(sql, "($1, $2, ${})", i + 3);
                }
                sql.push_str(" ON CONFLICT (person_id, year, layer_id) DO NOTHING");
                let mut q = sqlx::query(&sql).bind($key.person_id).bind(year);
                for l in &sorted {
                    q = q.bind(*l);
                }
                q.execute(&mut *$tx).await?;
            }
            let lock_sql = match $backend {
                $crate::storage::Backend::Postgres => {
                    "SELECT layer_id, deductible_used, eligible_cum, paid FROM accumulators
                             WHERE person_id = $1 AND year = $2 ORDER BY layer_id FOR UPDATE"
                }
                $crate::storage::Backend::Sqlite => {
                    "SELECT layer_id, deductible_used, eligible_cum, paid FROM accumulators
                             WHERE person_id = $1 AND year = $2 ORDER BY layer_id"
                }
            };
            let rows = sqlx::query(lock_sql)
                .bind($key.person_id)
                .bind(year)
                .fetch_all(&mut *$tx)
                .await?;
            let mut current: HashMap<String, Accumulator> = HashMap::with_capacity(rows.len());
            for r in rows {
                current.insert(
                    r.try_get("layer_id")?,
                    accumulator_of(
                        r.try_get("deductible_used")?,
                        r.try_get("eligible_cum")?,
                        r.try_get("paid")?,
                    ),
                );
            }

            // 2. Idempotency, now that any racing twin has committed.
            if let Some(r) = sqlx::query(BY_CLAIM)
                .bind($key.hospital)
                .bind($key.claim_id)
                .fetch_optional(&mut *$tx)
                .await?
            {
                let stored_hash: String = r.try_get("claim_hash")?;
                let outcome = outcome_of(
                    r.try_get("id")?,
                    &stored_hash,
                    r.try_get("answer_json")?,
                    r.try_get("reversal_answer")?,
                    $key.claim_hash,
                );
                return Ok((outcome, false));
            }
            // A claim reversed (冲正) before it arrived never settles.
            if let Some(at) = sqlx::query_scalar::<_, String>(
                "SELECT at FROM claim_tombstones WHERE hospital = $1 AND claim_id = $2",
            )
            .bind($key.hospital)
            .bind($key.claim_id)
            .fetch_optional(&mut *$tx)
            .await?
            {
                return Ok((SettleOutcome::Voided { at }, false));
            }

            // 3. Compute on the locked accumulators.
            let accs: Vec<Accumulator> = $key
                .layer_ids
                .iter()
                .map(|l| current.get(l).copied().unwrap_or_default())
                .collect();
            let new = $compute(&accs)?;
            let row = &new.row;
            $crate::storage::settle::check_row_matches(&$key, row)?;

            // 4. Append the settlement and its layers; move the accumulators.
            let booked = booking_month!($tx, $backend, &row.booked_month);
            insert_new_settlement!($tx, &new, &booked, None);
            for (acc_key, d) in new.deltas() {
                move_accumulator!($tx, $key.person_id, year, acc_key, d);
            }
            Ok((
                SettleOutcome::Created {
                    id: row.id.clone(),
                    answer_json: row.answer_json.clone(),
                },
                true,
            ))
        }
        .await;
        r
    }};
}
pub(crate) use settle_steps;

/// The computed row is for the claim and person that were locked: anything
/// else is a bug, and nothing of it may be written.
pub(crate) fn check_row_matches(key: &SettleKey<'_>, row: &SettlementRow) -> Result<()> {
    if row.hospital != key.hospital
        || row.claim_id != key.claim_id
        || row.person_id != key.person_id
    {
        return Err(StorageError::Corrupt(
            "settlement row does not match its key".into(),
        ));
    }
    Ok(())
}

pub(crate) fn accumulator_of(ded: i64, elig: i64, paid: i64) -> Accumulator {
    Accumulator {
        deductible_used: from_fen(ded),
        eligible_cum: from_fen(elig),
        paid: from_fen(paid),
    }
}
