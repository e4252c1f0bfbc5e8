//! Re-settlement (应退应补): when a person's categories or policy change
//! after the fact, their active settlements are reversed and settled again
//! in one transaction on the locked accumulators, which move by exactly
//! new − old.

use super::append::{insert_new_settlement, NewReversal, NewSettlement};
use super::reversal::insert_reversal;
use super::{begin_write, booking_month, with_pool, Backend, Db, Result, StorageError};
use crate::engine::Accumulator;
use crate::money::from_fen;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// An active settlement (not reversed) that may need re-settling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSettlement {
    pub id: String,
    pub hospital: String,
    pub claim_id: String,
    pub person_id: String,
    pub year: i32,
    pub categories: String,
    pub discharged_on: String,
    pub policy_id: String,
    pub claim_json: String,
    pub claim_hash: String,
    pub answer_json: String,
    /// What it added to the accumulators, per layer id: (deductible,
    /// eligible, paid) in fen.
    pub deltas: Vec<(String, [i64; 3])>,
}

/// One re-settlement to write: the original's reversal and its successor.
#[derive(Debug, Clone)]
pub struct ResettleWrite {
    pub original_id: String,
    pub reversal: NewReversal,
    pub new: NewSettlement,
}

/// How a re-settlement transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResettleOutcome {
    /// Written: (original id, reversal id, new settlement id).
    Done(Vec<(String, String, String)>),
    /// An original was reversed meanwhile: plan again.
    Stale(String),
}

/// Create the person's accumulator rows for `$years` × `$layers` where
/// missing, lock all of their rows for those years in key order (the order
/// every writer takes), and read them: what the re-settlement plans on.
macro_rules! lock_accumulators {
    ($tx:expr, $backend:expr, $person:expr, $years:expr, $layers:expr) => {{
        let mut current: HashMap<(i32, String), Accumulator> = HashMap::new();
        for &year in $years {
            for l in $layers {
                sqlx::query(
                    "INSERT INTO accumulators (person_id, year, layer_id) VALUES ($1, $2, $3)
                     ON CONFLICT (person_id, year, layer_id) DO NOTHING",
                )
                .bind($person)
                .bind(i64::from(year))
                .bind(*l)
                .execute(&mut *$tx)
                .await?;
            }
            let lock_sql = match $backend {
                Backend::Postgres => {
                    "SELECT layer_id, deductible_used, eligible_cum, paid FROM accumulators
                     WHERE person_id = $1 AND year = $2 ORDER BY layer_id FOR UPDATE"
                }
                Backend::Sqlite => {
                    "SELECT layer_id, deductible_used, eligible_cum, paid FROM accumulators
                     WHERE person_id = $1 AND year = $2 ORDER BY layer_id"
                }
            };
            for r in sqlx::query(lock_sql)
                .bind($person)
                .bind(i64::from(year))
                .fetch_all(&mut *$tx)
                .await?
            {
                current.insert(
                    (year, r.try_get("layer_id")?),
                    Accumulator {
                        deductible_used: from_fen(r.try_get("deductible_used")?),
                        eligible_cum: from_fen(r.try_get("eligible_cum")?),
                        paid: from_fen(r.try_get("paid")?),
                    },
                );
            }
        }
        current
    }};
}

/// Move the person's accumulators by `$delta` ((year, key) → (deductible,
/// eligible, paid) fen) inside the caller's transaction; a missing row is
/// corruption (rows are created and locked first).
macro_rules! move_accumulators_by {
    ($tx:expr, $person:expr, $delta:expr) => {{
        for ((year, layer_id), d) in $delta {
            if d == [0, 0, 0] {
                continue;
            }
            let n = sqlx::query(
                "UPDATE accumulators SET deductible_used = deductible_used + $4, eligible_cum = eligible_cum + $5,
                     paid = paid + $6
                 WHERE person_id = $1 AND year = $2 AND layer_id = $3",
            )
            .bind($person)
            .bind(year)
            .bind(&layer_id)
            .bind(d[0])
            .bind(d[1])
            .bind(d[2])
            .execute(&mut *$tx)
            .await?;
            if n.rows_affected() != 1 {
                return Err(StorageError::Corrupt(format!(
                    "no accumulator row for {} {year} {layer_id}",
                    $person
                )));
            }
        }
    }};
}

impl Db {
    /// Active settlements (not reversed) of `persons` (every person when
    /// empty), in commit order, with their accumulator deltas.
    pub async fn active_settlements(&self, persons: &[String]) -> Result<Vec<ActiveSettlement>> {
        let mut sql = String::from(
            "SELECT s.id, s.hospital, s.claim_id, s.person_id, s.year, s.categories, s.discharged_on, s.policy_id,
                    s.claim_json, s.claim_hash, s.answer_json
             FROM settlements s
             WHERE s.kind = 'settlement' AND NOT EXISTS (SELECT 1 FROM settlements r WHERE r.reverses = s.id)",
        );
        if !persons.is_empty() {
            sql.push_str(" AND s.person_id IN (");
            for i in 0..persons.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "${}", i + 1);
            }
            sql.push(')');
        }
        sql.push_str(" ORDER BY s.seq");
        let mut out: Vec<ActiveSettlement> = Vec::new();
        with_pool!(self, |pool, backend| {
            let mut q = sqlx::query(&sql);
            for p in persons {
                q = q.bind(p);
            }
            for r in q.fetch_all(pool).await? {
                let year: i64 = r.try_get("year")?;
                out.push(ActiveSettlement {
                    id: r.try_get("id")?,
                    hospital: r.try_get("hospital")?,
                    claim_id: r.try_get("claim_id")?,
                    person_id: r.try_get("person_id")?,
                    year: year as i32,
                    categories: r.try_get("categories")?,
                    discharged_on: r.try_get("discharged_on")?,
                    policy_id: r.try_get("policy_id")?,
                    claim_json: r.try_get("claim_json")?,
                    claim_hash: r.try_get("claim_hash")?,
                    answer_json: r.try_get("answer_json")?,
                    deltas: Vec::new(),
                });
            }
            for s in out.iter_mut() {
                let rows = sqlx::query(
                    "SELECT layer_id, deductible, eligible, paid FROM (
                         SELECT layer_id, deductible, eligible, paid, position, '' AS k FROM settlement_layers
                         WHERE settlement_id = $1
                         UNION ALL
                         SELECT acc_key AS layer_id, 0 AS deductible, 0 AS eligible, paid, 1000000 AS position, acc_key AS k
                         FROM settlement_accumulators WHERE settlement_id = $1
                     ) x ORDER BY position, k",
                )
                .bind(&s.id)
                .fetch_all(pool)
                .await?;
                for l in rows {
                    s.deltas.push((
                        l.try_get("layer_id")?,
                        [
                            l.try_get("deductible")?,
                            l.try_get("eligible")?,
                            l.try_get("paid")?,
                        ],
                    ));
                }
            }
        });
        Ok(out)
    }

    /// 应退应补 in one transaction: lock the person's accumulators for
    /// `years` (creating rows for `layer_ids`), check that none of
    /// `originals` was reversed meanwhile, let `compute` plan on the locked
    /// accumulators, then for each write append the original's reversal and
    /// the new settlement (linked by `replaces`) and move the accumulators
    /// by exactly new − old.
    pub async fn resettle<F>(
        &self,
        person_id: &str,
        years: &[i32],
        layer_ids: &[String],
        originals: &[String],
        compute: F,
    ) -> Result<ResettleOutcome>
    where
        F: FnOnce(&HashMap<(i32, String), Accumulator>) -> Result<Vec<ResettleWrite>>,
    {
        let mut sorted: Vec<&str> = layer_ids.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut years: Vec<i32> = years.to_vec();
        years.sort_unstable();
        years.dedup();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let current = lock_accumulators!(tx, backend, person_id, &years, &sorted);
            for id in originals {
                let reversed = sqlx::query("SELECT id FROM settlements WHERE reverses = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if reversed.is_some() {
                    tx.rollback().await?;
                    return Ok(ResettleOutcome::Stale(id.clone()));
                }
            }
            let writes = compute(&current)?;
            let mut done = Vec::new();
            for w in &writes {
                let rev = &w.reversal;
                let booked = booking_month!(tx, backend, &rev.booked_month);
                insert_reversal!(tx, rev, &booked, &w.original_id, person_id, {});
                let old = sqlx::query(
                    "SELECT s.year, l.layer_id, l.deductible, l.eligible, l.paid FROM (
                         SELECT settlement_id, layer_id, deductible, eligible, paid FROM settlement_layers
                         UNION ALL
                         SELECT settlement_id, acc_key AS layer_id, 0 AS deductible, 0 AS eligible, paid
                         FROM settlement_accumulators
                     ) l JOIN settlements s ON s.id = l.settlement_id WHERE l.settlement_id = $1",
                )
                .bind(&w.original_id)
                .fetch_all(&mut *tx)
                .await?;
                let row = &w.new.row;
                if row.person_id != person_id {
                    return Err(StorageError::Corrupt(
                        "re-settlement of another person".into(),
                    ));
                }
                insert_new_settlement!(tx, &w.new, &booked, Some(w.original_id.as_str()));
                let mut moved_before = Vec::with_capacity(old.len());
                for l in &old {
                    moved_before.push((
                        (l.try_get("year")?, l.try_get("layer_id")?),
                        [
                            l.try_get::<i64, _>("deductible")?,
                            l.try_get::<i64, _>("eligible")?,
                            l.try_get::<i64, _>("paid")?,
                        ],
                    ));
                }
                move_accumulators_by!(tx, person_id, accumulator_moves(&moved_before, &w.new));
                done.push((w.original_id.clone(), rev.id.clone(), row.id.clone()));
            }
            tx.commit().await?;
            Ok(ResettleOutcome::Done(done))
        })
    }
}

/// How the accumulators move when a settlement that moved them by
/// `before` ((year, key) → (deductible, eligible, paid) fen) is replaced
/// by `new`: by new − old, per (year, key).
fn accumulator_moves(
    before: &[((i64, String), [i64; 3])],
    new: &NewSettlement,
) -> BTreeMap<(i64, String), [i64; 3]> {
    let row = &new.row;
    let mut delta: BTreeMap<(i64, String), [i64; 3]> = BTreeMap::new();
    for (key, d) in before {
        let e = delta.entry(key.clone()).or_default();
        e[0] -= d[0];
        e[1] -= d[1];
        e[2] -= d[2];
    }
    for l in &new.layers {
        let e = delta
            .entry((i64::from(row.year), l.layer_id.clone()))
            .or_default();
        e[0] += l.deductible;
        e[1] += l.eligible;
        e[2] += l.paid;
    }
    for (key, paid) in &new.extra {
        delta.entry((i64::from(row.year), key.clone())).or_default()[2] += paid;
    }
    delta
}
