//! Settlements (结算), reversals (冲红) and annual accumulators (年度累计).
//!
//! One write transaction per settlement: lock the person's accumulator rows
//! for the year, check idempotency on (hospital, claim_id), let the caller
//! compute with the engine on the locked accumulators, append the settlement
//! and its per-layer rows, add the deltas to the accumulators, commit. A
//! cancellation appends a reversal with every amount negated and subtracts
//! exactly the original's stored deltas. Nothing is updated or deleted in
//! the money tables; only `accumulators` moves, always inside the same
//! transaction as the row that explains the move.

use super::reversal::insert_reversal;
use super::{begin_write, booking_month, with_pool, Db, Result, StorageError};
use crate::engine::Accumulator;
use sqlx::Row;
use std::collections::HashMap;
use std::fmt::Write as _;

use super::append::{insert_new_settlement, move_accumulator};
pub use super::append::{Amounts, LayerRow, NewReversal, NewSettlement, SettlementRow};
use super::settle::{accumulator_of, outcome_of, settle_steps, BY_CLAIM};
pub use super::settle::{SettleKey, SettleOutcome};

/// A stored settlement or reversal, with its current answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSettlement {
    pub id: String,
    pub kind: String,
    pub reverses: Option<String>,
    pub hospital: String,
    pub claim_id: String,
    pub person_id: String,
    pub year: i32,
    pub answer_json: String,
    /// The reversal's answer (status `cancelled`) when this settlement was
    /// cancelled; otherwise its own.
    pub current_answer_json: String,
    pub cancelled: bool,
    /// What the slip prints beside the answer: the level and registry
    /// categories (comma-separated ids) it was settled with, the stay, the
    /// claim as stored, and when the original and (if cancelled) its
    /// reversal were committed.
    pub level: String,
    pub categories: String,
    pub admitted_on: String,
    pub discharged_on: String,
    pub claim_json: String,
    pub committed_at: String,
    pub cancelled_at: Option<String>,
}

/// How a cancellation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled {
        answer_json: String,
    },
    AlreadyCancelled {
        answer_json: String,
    },
    /// No such settlement (or not the caller's hospital's, or a reversal).
    NotFound,
}

/// Filters of the settlement list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this hospital's settlements (a hospital key).
    pub hospital: Option<String>,
    pub person_id: Option<String>,
    /// Only this claim id (冲正: did my claim settle?).
    pub claim_id: Option<String>,
    /// Discharge date bounds, inclusive, `YYYY-MM-DD`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// One line of the settlement list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: String,
    pub claim_id: String,
    pub hospital: String,
    pub person_id: String,
    pub medical_type: String,
    pub admitted_on: String,
    pub discharged_on: String,
    pub policy_id: String,
    pub total: i64,
    pub hospital_waived: i64,
    pub fund_paid: i64,
    pub patient_payable: i64,
    pub committed_at: String,
    pub cancelled: bool,
}

/// An accumulator that does not equal the sum of its person's rows (should
/// never exist; see [`Db::audit_accumulators`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub person_id: String,
    pub year: i32,
    pub layer_id: String,
    pub stored: [i64; 3],
    pub summed: [i64; 3],
}

const BY_ID: &str =
    "SELECT s.id, s.kind, s.reverses, s.hospital, s.claim_id, s.person_id, s.year, s.answer_json,
            r.answer_json AS reversal_answer, s.level, s.categories, s.admitted_on, s.discharged_on,
            s.claim_json, s.committed_at, r.committed_at AS cancelled_at
     FROM settlements s LEFT JOIN settlements r ON r.reverses = s.id
     WHERE s.id = $1";

impl Db {
    /// Settle under lock: see the module docs. `compute` runs inside the
    /// transaction with the person's accumulators for the year, one per
    /// `key.layer_ids` entry, and returns the rows to write; its error rolls
    /// everything back.
    pub async fn commit_settlement<F>(
        &self,
        key: &SettleKey<'_>,
        compute: F,
    ) -> Result<SettleOutcome>
    where
        F: Fn(&[Accumulator]) -> Result<NewSettlement> + Send + Sync + 'static,
    {
        let committed = match &self.group {
            // The writer checks idempotency with the rest of the batch.
            Some(writer) => {
                writer
                    .settle(super::group::OwnedKey::of(key), Box::new(compute))
                    .await
            }
            None => {
                // A retry needs no lock.
                if let Some(found) = self
                    .find_by_claim(key.hospital, key.claim_id, key.claim_hash)
                    .await?
                {
                    return Ok(found);
                }
                self.commit_locked(key, compute).await
            }
        };
        match committed {
            Err(e) if e.is_unique_violation() => {
                // Raced with a settlement of the same (hospital, claim_id)
                // for another person: it won; answer as for a retry.
                match self
                    .find_by_claim(key.hospital, key.claim_id, key.claim_hash)
                    .await?
                {
                    Some(found) => Ok(found),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    async fn find_by_claim(
        &self,
        hospital: &str,
        claim_id: &str,
        claim_hash: &str,
    ) -> Result<Option<SettleOutcome>> {
        with_pool!(self, |pool, backend| {
            let row = sqlx::query(BY_CLAIM)
                .bind(hospital)
                .bind(claim_id)
                .fetch_optional(pool)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => {
                    let stored_hash: String = r.try_get("claim_hash")?;
                    Ok(Some(outcome_of(
                        r.try_get("id")?,
                        &stored_hash,
                        r.try_get("answer_json")?,
                        r.try_get("reversal_answer")?,
                        claim_hash,
                    )))
                }
            }
        })
    }

    async fn commit_locked<F>(&self, key: &SettleKey<'_>, compute: F) -> Result<SettleOutcome>
    where
        F: FnOnce(&[Accumulator]) -> Result<NewSettlement>,
    {
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let (outcome, keep) = settle_steps!(tx, backend, key, compute)?;
            if keep {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(outcome)
        })
    }

    /// A settlement or reversal by id, with its current answer.
    pub async fn settlement(&self, id: &str) -> Result<Option<StoredSettlement>> {
        with_pool!(self, |pool, backend| {
            let row = sqlx::query(BY_ID).bind(id).fetch_optional(pool).await?;
            row.map(|r| {
                let answer_json: String = r.try_get("answer_json")?;
                let reversal: Option<String> = r.try_get("reversal_answer")?;
                let year: i64 = r.try_get("year")?;
                Ok(StoredSettlement {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    reverses: r.try_get("reverses")?,
                    hospital: r.try_get("hospital")?,
                    claim_id: r.try_get("claim_id")?,
                    person_id: r.try_get("person_id")?,
                    year: i32::try_from(year)
                        .map_err(|_| StorageError::Corrupt(format!("year {year}")))?,
                    cancelled: reversal.is_some(),
                    current_answer_json: reversal.unwrap_or_else(|| answer_json.clone()),
                    answer_json,
                    level: r.try_get("level")?,
                    categories: r.try_get("categories")?,
                    admitted_on: r.try_get("admitted_on")?,
                    discharged_on: r.try_get("discharged_on")?,
                    claim_json: r.try_get("claim_json")?,
                    committed_at: r.try_get("committed_at")?,
                    cancelled_at: r.try_get("cancelled_at")?,
                })
            })
            .transpose()
        })
    }

    /// Cancel (撤销) settlement `id`: append its reversal and move the
    /// accumulators back by exactly its stored deltas. `hospital`, when
    /// given, must be the settlement's. Idempotent: a second call answers
    /// the stored cancellation.
    pub async fn cancel_settlement<F>(
        &self,
        id: &str,
        hospital: Option<&str>,
        make: F,
    ) -> Result<CancelOutcome>
    where
        F: FnOnce(&StoredSettlement) -> Result<NewReversal>,
    {
        let original = match self.settlement(id).await? {
            Some(s) if s.kind == "settlement" && hospital.is_none_or(|h| h == s.hospital) => s,
            _ => return Ok(CancelOutcome::NotFound),
        };
        if original.cancelled {
            return Ok(CancelOutcome::AlreadyCancelled {
                answer_json: original.current_answer_json,
            });
        }
        match self.cancel_locked(&original, make).await {
            Err(e) if e.is_unique_violation() => match self.settlement(id).await? {
                Some(s) if s.cancelled => Ok(CancelOutcome::AlreadyCancelled {
                    answer_json: s.current_answer_json,
                }),
                _ => Err(e),
            },
            other => other,
        }
    }

    async fn cancel_locked<F>(&self, original: &StoredSettlement, make: F) -> Result<CancelOutcome>
    where
        F: FnOnce(&StoredSettlement) -> Result<NewReversal>,
    {
        let year = i64::from(original.year);
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let lock_sql = match backend {
                super::Backend::Postgres => {
                    "SELECT layer_id FROM accumulators WHERE person_id = $1 AND year = $2 ORDER BY layer_id FOR UPDATE"
                }
                super::Backend::Sqlite => "SELECT layer_id FROM accumulators WHERE person_id = $1 AND year = $2 ORDER BY layer_id",
            };
            sqlx::query(lock_sql)
                .bind(&original.person_id)
                .bind(year)
                .fetch_all(&mut *tx)
                .await?;
            if let Some(r) = sqlx::query("SELECT answer_json FROM settlements WHERE reverses = $1")
                .bind(&original.id)
                .fetch_optional(&mut *tx)
                .await?
            {
                let answer_json: String = r.try_get("answer_json")?;
                tx.rollback().await?;
                return Ok(CancelOutcome::AlreadyCancelled { answer_json });
            }
            let rev = make(original)?;
            let booked = booking_month!(tx, backend, &rev.booked_month);
            insert_reversal!(tx, &rev, &booked, &original.id, &original.person_id, {
                return Err(StorageError::Corrupt(format!(
                    "settlement {} vanished",
                    original.id
                )));
            });
            // Every accumulator the original moved, moved back by exactly as much.
            let moved = sqlx::query(
                "SELECT layer_id AS acc_key, deductible, eligible, paid FROM settlement_layers WHERE settlement_id = $1
                 UNION ALL
                 SELECT acc_key, 0 AS deductible, 0 AS eligible, paid FROM settlement_accumulators WHERE settlement_id = $1",
            )
            .bind(&original.id)
            .fetch_all(&mut *tx)
            .await?;
            for l in moved {
                let acc_key: String = l.try_get("acc_key")?;
                let d: [i64; 3] = [
                    l.try_get("deductible")?,
                    l.try_get("eligible")?,
                    l.try_get("paid")?,
                ];
                if d == [0, 0, 0] {
                    continue;
                }
                move_accumulator!(
                    tx,
                    &original.person_id,
                    year,
                    &acc_key,
                    [-d[0], -d[1], -d[2]]
                );
            }
            tx.commit().await?;
            Ok(CancelOutcome::Cancelled {
                answer_json: rev.answer_json,
            })
        })
    }

    /// The person's accumulators for a year, by layer id (sorted), in
    /// decimal yuan. A read without lock (a snapshot).
    pub async fn accumulators(
        &self,
        person_id: &str,
        year: i32,
    ) -> Result<Vec<(String, Accumulator)>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT layer_id, deductible_used, eligible_cum, paid FROM accumulators
                 WHERE person_id = $1 AND year = $2 ORDER BY layer_id",
            )
            .bind(person_id)
            .bind(i64::from(year))
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|r| {
                    Ok((
                        r.try_get("layer_id")?,
                        accumulator_of(
                            r.try_get("deductible_used")?,
                            r.try_get("eligible_cum")?,
                            r.try_get("paid")?,
                        ),
                    ))
                })
                .collect()
        })
    }

    /// The claims (as stored) of the person's active settlements in `year`.
    pub async fn active_claims_of(&self, person_id: &str, year: i32) -> Result<Vec<String>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT s.claim_json FROM settlements s LEFT JOIN settlements r ON r.reverses = s.id
                 WHERE s.person_id = $1 AND s.year = $2 AND s.kind = 'settlement' AND r.id IS NULL
                 ORDER BY s.seq",
            )
            .bind(person_id)
            .bind(i64::from(year))
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|r| r.try_get("claim_json").map_err(Into::into))
                .collect()
        })
    }

    /// The policy id of the person's latest settlement in `year`, if any.
    pub async fn latest_policy_of(&self, person_id: &str, year: i32) -> Result<Option<String>> {
        with_pool!(self, |pool, backend| {
            let row = sqlx::query(
                "SELECT policy_id FROM settlements WHERE person_id = $1 AND year = $2 AND kind = 'settlement'
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(person_id)
            .bind(i64::from(year))
            .fetch_optional(pool)
            .await?;
            row.map(|r| r.try_get("policy_id"))
                .transpose()
                .map_err(Into::into)
        })
    }

    /// A page of settlements (not reversals), oldest first, and the total
    /// count under the filter.
    pub async fn list_settlements(&self, f: &ListFilter) -> Result<(Vec<Summary>, i64)> {
        const WHERE: &str = "s.kind = 'settlement' AND ($1 IS NULL OR s.hospital = $1) AND ($2 IS NULL OR s.person_id = $2)
             AND ($3 IS NULL OR s.discharged_on >= $3) AND ($4 IS NULL OR s.discharged_on <= $4)
             AND ($CLAIM IS NULL OR s.claim_id = $CLAIM)";
        with_pool!(self, |pool, backend| {
            let count: i64 = sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM settlements s WHERE {}",
                WHERE.replace("$CLAIM", "$5")
            ))
            .bind(&f.hospital)
            .bind(&f.person_id)
            .bind(&f.from)
            .bind(&f.to)
            .bind(&f.claim_id)
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            let rows = sqlx::query(&format!(
                "SELECT s.id, s.claim_id, s.hospital, s.person_id, s.medical_type, s.admitted_on, s.discharged_on, s.policy_id,
                        s.total, s.hospital_waived, s.fund_paid, s.patient_payable, s.committed_at, r.id AS reversal_id
                 FROM settlements s LEFT JOIN settlements r ON r.reverses = s.id
                 WHERE {} ORDER BY s.seq LIMIT $5 OFFSET $6",
                WHERE.replace("$CLAIM", "$7")
            ))
            .bind(&f.hospital)
            .bind(&f.person_id)
            .bind(&f.from)
            .bind(&f.to)
            .bind(f.limit)
            .bind(f.offset)
            .bind(&f.claim_id)
            .fetch_all(pool)
            .await?;
            let items = rows
                .into_iter()
                .map(|r| {
                    let reversal: Option<String> = r.try_get("reversal_id")?;
                    Ok(Summary {
                        id: r.try_get("id")?,
                        claim_id: r.try_get("claim_id")?,
                        hospital: r.try_get("hospital")?,
                        person_id: r.try_get("person_id")?,
                        medical_type: r.try_get("medical_type")?,
                        admitted_on: r.try_get("admitted_on")?,
                        discharged_on: r.try_get("discharged_on")?,
                        policy_id: r.try_get("policy_id")?,
                        total: r.try_get("total")?,
                        hospital_waived: r.try_get("hospital_waived")?,
                        fund_paid: r.try_get("fund_paid")?,
                        patient_payable: r.try_get("patient_payable")?,
                        committed_at: r.try_get("committed_at")?,
                        cancelled: reversal.is_some(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((items, count))
        })
    }

    /// Every accumulator that differs from the sum of its person's
    /// settlement and reversal rows (the service's invariant: none).
    pub async fn audit_accumulators(&self) -> Result<Vec<Mismatch>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT a.person_id, a.year, a.layer_id, a.deductible_used, a.eligible_cum, a.paid,
                        COALESCE(x.ded, 0) AS ded, COALESCE(x.elig, 0) AS elig, COALESCE(x.paid, 0) AS spaid
                 FROM accumulators a LEFT JOIN (
                     SELECT s.person_id, s.year, l.layer_id, CAST(SUM(l.deductible) AS BIGINT) AS ded,
                            CAST(SUM(l.eligible) AS BIGINT) AS elig, CAST(SUM(l.paid) AS BIGINT) AS paid
                     FROM (
                         SELECT settlement_id, layer_id, deductible, eligible, paid FROM settlement_layers
                         UNION ALL
                         SELECT settlement_id, acc_key AS layer_id, 0 AS deductible, 0 AS eligible, paid
                         FROM settlement_accumulators
                     ) l JOIN settlements s ON s.id = l.settlement_id
                     GROUP BY s.person_id, s.year, l.layer_id
                 ) x ON x.person_id = a.person_id AND x.year = a.year AND x.layer_id = a.layer_id
                 WHERE a.deductible_used <> COALESCE(x.ded, 0) OR a.eligible_cum <> COALESCE(x.elig, 0)
                    OR a.paid <> COALESCE(x.paid, 0)",
            )
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|r| {
                    let year: i64 = r.try_get("year")?;
                    Ok(Mismatch {
                        person_id: r.try_get("person_id")?,
                        year: year as i32,
                        layer_id: r.try_get("layer_id")?,
                        stored: [
                            r.try_get("deductible_used")?,
                            r.try_get("eligible_cum")?,
                            r.try_get("paid")?,
                        ],
                        summed: [r.try_get("ded")?, r.try_get("elig")?, r.try_get("spaid")?],
                    })
                })
                .collect()
        })
    }
}
