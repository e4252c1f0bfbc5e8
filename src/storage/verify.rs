//! What `medaid verify` reads: every settlement and reversal in commit
//! order with its layer rows, the stored policy texts, and the
//! accumulators.

use super::{with_pool, Db, Result};
use crate::engine::amounts::FIELDS;
use sqlx::Row;
use std::collections::HashMap;

/// One stored settlement or reversal, as `verify` replays it.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub reverses: Option<String>,
    pub person_id: String,
    pub year: i32,
    pub level: String,
    pub categories: String,
    pub policy_id: String,
    pub policy_hash: String,
    /// total, free_items, reduction, hospital_waived, over_limit,
    /// self_pay_first, fully_self_pay, in_policy, fund_paid,
    /// patient_payable (fen).
    pub amounts: [i64; 10],
    pub claim_json: String,
    pub answer_json: String,
    pub layers: Vec<StoredLayer>,
    /// Deltas of the accumulators that are not layers (`pool:ID`,
    /// `layer@group`): `paid` in fen, sorted by key.
    pub extra: Vec<(String, i64)>,
}

/// One stored layer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLayer {
    pub position: i64,
    pub layer_id: String,
    pub applied: bool,
    pub cap_limited: bool,
    /// base, deductible, eligible, paid (fen).
    pub amounts: [i64; 4],
}

impl Db {
    /// Every settlement and reversal in commit order (`seq`), with layers.
    pub async fn rows_for_verify(&self) -> Result<Vec<StoredRow>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT seq, id, kind, reverses, person_id, year, level, categories, policy_id, policy_hash,
                        total, free_items, reduction, hospital_waived, over_limit, self_pay_first, fully_self_pay,
                        in_policy, fund_paid, patient_payable, claim_json, answer_json
                 FROM settlements ORDER BY seq",
            )
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            let mut index = HashMap::with_capacity(rows.len());
            for r in rows {
                let mut amounts = [0i64; 10];
                for (slot, (column, _)) in amounts.iter_mut().zip(FIELDS) {
                    *slot = r.try_get(column)?;
                }
                let year: i64 = r.try_get("year")?;
                let id: String = r.try_get("id")?;
                index.insert(id.clone(), out.len());
                out.push(StoredRow {
                    seq: r.try_get("seq")?,
                    id,
                    kind: r.try_get("kind")?,
                    reverses: r.try_get("reverses")?,
                    person_id: r.try_get("person_id")?,
                    year: year as i32,
                    level: r.try_get("level")?,
                    categories: r.try_get("categories")?,
                    policy_id: r.try_get("policy_id")?,
                    policy_hash: r.try_get("policy_hash")?,
                    amounts,
                    claim_json: r.try_get("claim_json")?,
                    answer_json: r.try_get("answer_json")?,
                    layers: Vec::new(),
                    extra: Vec::new(),
                });
            }
            let layers = sqlx::query(
                "SELECT settlement_id, position, layer_id, applied, cap_limited, base, deductible, eligible, paid
                 FROM settlement_layers ORDER BY settlement_id, position",
            )
            .fetch_all(pool)
            .await?;
            for l in layers {
                let sid: String = l.try_get("settlement_id")?;
                if let Some(&i) = index.get(&sid) {
                    out[i].layers.push(StoredLayer {
                        position: l.try_get("position")?,
                        layer_id: l.try_get("layer_id")?,
                        applied: l.try_get("applied")?,
                        cap_limited: l.try_get("cap_limited")?,
                        amounts: [
                            l.try_get("base")?,
                            l.try_get("deductible")?,
                            l.try_get("eligible")?,
                            l.try_get("paid")?,
                        ],
                    });
                }
            }
            let extra = sqlx::query(
                "SELECT settlement_id, acc_key, paid FROM settlement_accumulators ORDER BY settlement_id, acc_key",
            )
            .fetch_all(pool)
            .await?;
            for x in extra {
                let sid: String = x.try_get("settlement_id")?;
                if let Some(&i) = index.get(&sid) {
                    out[i]
                        .extra
                        .push((x.try_get("acc_key")?, x.try_get("paid")?));
                }
            }
            Ok(out)
        })
    }

    /// The stored policy texts by hash.
    pub async fn policy_sources(&self) -> Result<HashMap<String, String>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query("SELECT hash, source FROM policies")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("hash")?, r.try_get("source")?)))
                .collect()
        })
    }

    /// Every accumulator row: ((person, year, layer), [deductible_used,
    /// eligible_cum, paid]) in fen.
    pub async fn all_accumulators(&self) -> Result<Vec<((String, i32, String), [i64; 3])>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT person_id, year, layer_id, deductible_used, eligible_cum, paid FROM accumulators",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let year: i64 = r.try_get("year")?;
                    Ok((
                        (r.try_get("person_id")?, year as i32, r.try_get("layer_id")?),
                        [
                            r.try_get("deductible_used")?,
                            r.try_get("eligible_cum")?,
                            r.try_get("paid")?,
                        ],
                    ))
                })
                .collect()
        })
    }
}
