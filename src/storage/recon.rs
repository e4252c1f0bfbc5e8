//! Reconciliation queries: a month's grouped sums, its records and month
//! close. The re-settlement transaction of 应退应补 is in
//! [`super::resettle`].
//!
//! On SQLite a month's sums are read from `month_cells` /
//! `month_layer_cells`, kept by triggers in the transaction that appends
//! each settlement row (one writer at a time, so they cost no
//! concurrency); on PostgreSQL they are grouped from the rows themselves
//! (several writers would queue on shared sum rows). Both paths give the
//! same [`Cells`]; [`Db::month_cells_from_rows`] recomputes from the rows on
//! either backend, for audits and tests.

use super::{begin_write, now_text, with_pool, Backend, Db, Result, StorageError};
use crate::engine::amounts::{Breakdown, FIELDS};
use crate::money::from_fen;
use crate::recon::record::{accounting_month, Kind, LayerRecord, Month, SettlementRecord};
use crate::recon::statement::{CellKey, Cells, LayerKey, LayerSums, Sums};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// The amount columns, in [`Breakdown`] order.
const AMOUNTS: [&str; 10] = {
    let mut columns = [""; 10];
    let mut i = 0;
    while i < 10 {
        columns[i] = FIELDS[i].0;
        i += 1;
    }
    columns
};

/// A month's close state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRow {
    pub month: String,
    pub status: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub snapshot: Option<String>,
}

/// How a close ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    Closed { closed_at: String },
    AlreadyClosed { closed_at: Option<String> },
}

/// How a reopen ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReopenOutcome {
    Reopened,
    NotClosed,
}

/// The queries of a month's cells: from the trigger-kept sums (`stored`,
/// SQLite) or grouped from the rows; `$1` the month, `$2` the hospital.
fn cells_sql(stored: bool, one_hospital: bool) -> (String, String) {
    if stored {
        let hfilter = if one_hospital {
            " AND hospital = $2"
        } else {
            ""
        };
        let cells_sql = format!(
            "SELECT hospital, kind, medical_type, category, n, {} FROM month_cells WHERE booked_month = $1{hfilter}",
            AMOUNTS.join(", ")
        );
        let layers_sql = format!(
            "SELECT hospital, kind, medical_type, category, layer_id, fund_code, payer, applied, base, deductible,
                    eligible, paid, position
             FROM month_layer_cells WHERE booked_month = $1{hfilter}"
        );
        return (cells_sql, layers_sql);
    }
    let hfilter = if one_hospital {
        " AND s.hospital = $2"
    } else {
        ""
    };
    let sums: Vec<String> = AMOUNTS
        .iter()
        .map(|a| format!("CAST(SUM(s.{a}) AS BIGINT) AS {a}"))
        .collect();
    let cells_sql = format!(
        "SELECT s.hospital, s.kind, s.medical_type, s.primary_category AS category, CAST(COUNT(*) AS BIGINT) AS n, {}
         FROM settlements s WHERE s.booked_month = $1{hfilter}
         GROUP BY s.hospital, s.kind, s.medical_type, s.primary_category",
        sums.join(", ")
    );
    let layers_sql = format!(
        "SELECT s.hospital, s.kind, s.medical_type, s.primary_category AS category, l.layer_id, l.fund_code, l.payer,
                CAST(SUM(CASE WHEN l.applied THEN 1 ELSE 0 END) AS BIGINT) AS applied,
                CAST(SUM(l.base) AS BIGINT) AS base, CAST(SUM(l.deductible) AS BIGINT) AS deductible,
                CAST(SUM(l.eligible) AS BIGINT) AS eligible, CAST(SUM(l.paid) AS BIGINT) AS paid,
                CAST(MIN(l.position) AS BIGINT) AS position
         FROM settlements s JOIN settlement_layers l ON l.settlement_id = s.id
         WHERE s.booked_month = $1{hfilter}
         GROUP BY s.hospital, s.kind, s.medical_type, s.primary_category, l.layer_id, l.fund_code, l.payer"
    );
    (cells_sql, layers_sql)
}

/// Read a month's cells on `$conn` (a pooled connection or a transaction)
/// into `$cells`.
macro_rules! read_cells_on {
    ($conn:expr, $cells:expr, $hospital:expr, $m:expr, $cells_sql:expr, $layers_sql:expr) => {{
        let mut q = sqlx::query($cells_sql).bind($m);
        if let Some(h) = $hospital {
            q = q.bind(h);
        }
        for r in q.fetch_all(&mut *$conn).await? {
            let kind: String = r.try_get("kind")?;
            let key = CellKey {
                hospital: r.try_get("hospital")?,
                kind: Kind::parse(&kind)
                    .ok_or_else(|| StorageError::Corrupt(format!("kind {kind}")))?,
                medical_type: r.try_get("medical_type")?,
                category: r.try_get("category")?,
            };
            let mut sums = Sums {
                count: r.try_get("n")?,
                ..Sums::default()
            };
            for (i, a) in AMOUNTS.iter().enumerate() {
                sums.amounts[i] = r.try_get(*a)?;
            }
            $cells.add_cell(key, sums);
        }
        let mut q = sqlx::query($layers_sql).bind($m);
        if let Some(h) = $hospital {
            q = q.bind(h);
        }
        for r in q.fetch_all(&mut *$conn).await? {
            let kind: String = r.try_get("kind")?;
            let key = LayerKey {
                cell: CellKey {
                    hospital: r.try_get("hospital")?,
                    kind: Kind::parse(&kind)
                        .ok_or_else(|| StorageError::Corrupt(format!("kind {kind}")))?,
                    medical_type: r.try_get("medical_type")?,
                    category: r.try_get("category")?,
                },
                layer_id: r.try_get("layer_id")?,
                fund_code: r.try_get("fund_code")?,
                payer: r.try_get("payer")?,
            };
            $cells.add_layer_cell(
                key,
                LayerSums {
                    applied: r.try_get("applied")?,
                    base: r.try_get("base")?,
                    deductible: r.try_get("deductible")?,
                    eligible: r.try_get("eligible")?,
                    paid: r.try_get("paid")?,
                    position: r.try_get("position")?,
                },
            );
        }
    }};
}

/// Distinct persons of a month (see [`Db::month_persons`]) on `$conn`, into
/// `$out`.
macro_rules! persons_on {
    ($conn:expr, $out:expr, $hospital:expr, $m:expr) => {{
        let hospital: Option<&str> = $hospital;
        let hfilter = if hospital.is_some() {
            " AND hospital = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT primary_category AS category, CAST(COUNT(DISTINCT person_id) AS BIGINT) AS n FROM settlements
             WHERE booked_month = $1 AND kind = 'settlement'{hfilter} GROUP BY primary_category"
        );
        let all_sql = format!(
            "SELECT CAST(COUNT(DISTINCT person_id) AS BIGINT) AS n FROM settlements
             WHERE booked_month = $1 AND kind = 'settlement'{hfilter}"
        );
        let mut q = sqlx::query(&sql).bind($m);
        if let Some(h) = hospital {
            q = q.bind(h);
        }
        for r in q.fetch_all(&mut *$conn).await? {
            $out.insert(
                r.try_get::<String, _>("category")?,
                r.try_get::<i64, _>("n")?,
            );
        }
        let mut q = sqlx::query(&all_sql).bind($m);
        if let Some(h) = hospital {
            q = q.bind(h);
        }
        let r = q.fetch_one(&mut *$conn).await?;
        $out.insert("*".to_string(), r.try_get::<i64, _>("n")?);
    }};
}

/// A settlement row of [`Db::month_records`] as a record (its layers
/// empty), inside the caller's `with_pool!` body: `$claims` when the row
/// carries the claim, for its primary diagnosis.
macro_rules! record_of_row {
    ($r:expr, $id:expr, $claims:expr) => {{
        let r = $r;
        let claims: bool = $claims;
        let date = |c: &str| -> Result<chrono::NaiveDate> {
            let s: String = r.try_get(c)?;
            chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|e| StorageError::Corrupt(format!("{c} {s:?}: {e}")))
        };
        let kind: String = r.try_get("kind")?;
        let committed_at: String = r.try_get("committed_at")?;
        let categories: String = r.try_get("categories")?;
        let mut fen = [0i64; 10];
        for (slot, a) in fen.iter_mut().zip(AMOUNTS) {
            *slot = r.try_get(a)?;
        }
        let amounts = Breakdown::from_array(fen).to_decimal();
        let primary_diagnosis = if claims {
            let cj: String = r.try_get("claim_json")?;
            serde_json::from_str::<serde_json::Value>(&cj)
                .ok()
                .and_then(|v| v["diagnoses"][0].as_str().map(str::to_string))
        } else {
            None
        };
        SettlementRecord {
            settlement_id: $id,
            kind: Kind::parse(&kind)
                .ok_or_else(|| StorageError::Corrupt(format!("kind {kind}")))?,
            reverses: r.try_get("reverses")?,
            hospital: r.try_get("hospital")?,
            person_id: r.try_get("person_id")?,
            person_name: r.try_get("person_name")?,
            categories: categories
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            primary_category: r.try_get("primary_category")?,
            medical_type: r.try_get("medical_type")?,
            level: r.try_get("level")?,
            claim_id: r.try_get("claim_id")?,
            admitted_on: date("admitted_on")?,
            discharged_on: date("discharged_on")?,
            month: accounting_month(&committed_at).map_err(StorageError::Corrupt)?,
            committed_at,
            policy_id: r.try_get("policy_id")?,
            primary_diagnosis,
            disease_groups: Vec::new(),
            total: amounts.total,
            free_items: amounts.free_items,
            reduction: amounts.reduction,
            hospital_waived: amounts.hospital_waived,
            over_limit: amounts.over_limit,
            self_pay_first: amounts.self_pay_first,
            fully_self_pay: amounts.fully_self_pay,
            in_policy: amounts.in_policy,
            fund_paid: amounts.fund_paid,
            patient_payable: amounts.patient_payable,
            layers: Vec::new(),
        }
    }};
}

impl Db {
    /// A month's grouped sums, one hospital or all.
    pub async fn month_cells(&self, month: Month, hospital: Option<&str>) -> Result<Cells> {
        match self.backend() {
            Backend::Sqlite => self.month_cells_stored(month, hospital).await,
            Backend::Postgres => self.month_cells_from_rows(month, hospital).await,
        }
    }

    /// SQLite: the trigger-kept sums.
    async fn month_cells_stored(&self, month: Month, hospital: Option<&str>) -> Result<Cells> {
        let (cells_sql, layers_sql) = cells_sql(true, hospital.is_some());
        self.read_cells(month, hospital, &month.to_string(), &cells_sql, &layers_sql)
            .await
    }

    /// The month's sums grouped from the settlement rows (both backends).
    pub async fn month_cells_from_rows(
        &self,
        month: Month,
        hospital: Option<&str>,
    ) -> Result<Cells> {
        let (cells_sql, layers_sql) = cells_sql(false, hospital.is_some());
        self.read_cells(month, hospital, &month.to_string(), &cells_sql, &layers_sql)
            .await
    }

    async fn read_cells(
        &self,
        month: Month,
        hospital: Option<&str>,
        m: &str,
        cells_sql: &str,
        layers_sql: &str,
    ) -> Result<Cells> {
        let mut cells = Cells::new(Some(month), hospital.map(str::to_string));
        with_pool!(self, |pool, backend| {
            let mut conn = pool.acquire().await?;
            read_cells_on!(conn, cells, hospital, m, cells_sql, layers_sql);
        });
        Ok(cells)
    }

    /// Distinct persons with a settlement (not a reversal) booked in the
    /// month, per primary category, and `*` for all.
    pub async fn month_persons(
        &self,
        month: Month,
        hospital: Option<&str>,
    ) -> Result<BTreeMap<String, i64>> {
        let m = month.to_string();
        let mut out = BTreeMap::new();
        with_pool!(self, |pool, backend| {
            let mut conn = pool.acquire().await?;
            persons_on!(conn, out, hospital, &m);
        });
        Ok(out)
    }

    /// The settlements and reversals booked from month `from` to month `to`
    /// (inclusive), one hospital or all, in commit order, with their layers
    /// and the registry's names. With `claims`, the primary diagnosis is
    /// read from the stored claim.
    pub async fn month_records(
        &self,
        from: Month,
        to: Month,
        hospital: Option<&str>,
        claims: bool,
    ) -> Result<Vec<SettlementRecord>> {
        let hfilter = if hospital.is_some() {
            " AND s.hospital = $3"
        } else {
            ""
        };
        let claim_col = if claims { ", s.claim_json" } else { "" };
        let sql = format!(
            "SELECT s.id, s.kind, s.reverses, s.hospital, s.claim_id, s.person_id, s.medical_type, s.level, s.categories,
                    s.primary_category, s.admitted_on, s.discharged_on, s.policy_id, s.committed_at, {}{claim_col},
                    (SELECT MAX(g.name) FROM registry g WHERE g.person_id = s.person_id) AS person_name
             FROM settlements s WHERE s.booked_month >= $1 AND s.booked_month <= $2{hfilter} ORDER BY s.seq",
            AMOUNTS.iter().map(|a| format!("s.{a}")).collect::<Vec<_>>().join(", ")
        );
        let layers_sql = format!(
            "SELECT l.settlement_id, l.layer_id, l.fund_code, l.payer, l.applied, l.base, l.deductible, l.eligible, l.paid
             FROM settlements s JOIN settlement_layers l ON l.settlement_id = s.id
             WHERE s.booked_month >= $1 AND s.booked_month <= $2{hfilter} ORDER BY l.settlement_id, l.position"
        );
        let (f, t) = (from.to_string(), to.to_string());
        let mut out = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        with_pool!(self, |pool, backend| {
            let mut q = sqlx::query(&sql).bind(&f).bind(&t);
            if let Some(h) = hospital {
                q = q.bind(h);
            }
            for r in q.fetch_all(pool).await? {
                let record = record_of_row!(&r, r.try_get("id")?, claims);
                index.insert(record.settlement_id.clone(), out.len());
                out.push(record);
            }
            let mut q = sqlx::query(&layers_sql).bind(&f).bind(&t);
            if let Some(h) = hospital {
                q = q.bind(h);
            }
            for r in q.fetch_all(pool).await? {
                let sid: String = r.try_get("settlement_id")?;
                if let Some(i) = index.get(&sid) {
                    out[*i].layers.push(LayerRecord {
                        layer_id: r.try_get("layer_id")?,
                        layer_name: String::new(),
                        payer: r.try_get("payer")?,
                        fund_code: r.try_get("fund_code")?,
                        applied: r.try_get("applied")?,
                        base: from_fen(r.try_get("base")?),
                        deductible: from_fen(r.try_get("deductible")?),
                        eligible: from_fen(r.try_get("eligible")?),
                        paid: from_fen(r.try_get("paid")?),
                    });
                }
            }
        });
        Ok(out)
    }

    /// A month's close state (`None`: never closed).
    pub async fn month_row(&self, month: Month) -> Result<Option<MonthRow>> {
        with_pool!(self, |pool, backend| {
            let r = sqlx::query(
                "SELECT month, status, closed_at, closed_by, snapshot FROM months WHERE month = $1",
            )
            .bind(month.to_string())
            .fetch_optional(pool)
            .await?;
            r.map(|r| {
                Ok(MonthRow {
                    month: r.try_get("month")?,
                    status: r.try_get("status")?,
                    closed_at: r.try_get("closed_at")?,
                    closed_by: r.try_get("closed_by")?,
                    snapshot: r.try_get("snapshot")?,
                })
            })
            .transpose()
        })
    }

    /// Close a month: lock its row, take its snapshot inside the same
    /// transaction, store it. Holding the month row (the write lock on
    /// SQLite, the row lock on PostgreSQL that every settlement booking into
    /// the month share-locks), no row can be booked into the month while
    /// the snapshot is read, and every row committed before is in it; rows
    /// committing after the close go to the next open month. Settlements of
    /// other months do not wait. `snapshot` lays out the month's cells and
    /// its distinct persons per hospital (`*` = all). Refused when it is
    /// already closed.
    pub async fn close_month<F>(
        &self,
        month: Month,
        actor: &str,
        snapshot: F,
    ) -> Result<CloseOutcome>
    where
        F: FnOnce(Cells, BTreeMap<String, BTreeMap<String, i64>>) -> Result<String>,
    {
        let now = now_text();
        let m = month.to_string();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            sqlx::query(
                "INSERT INTO months (month, status, updated_at) VALUES ($1, 'open', $2) ON CONFLICT (month) DO NOTHING",
            )
            .bind(&m)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            let lock = match backend {
                Backend::Postgres => {
                    "SELECT status, closed_at FROM months WHERE month = $1 FOR UPDATE"
                }
                Backend::Sqlite => "SELECT status, closed_at FROM months WHERE month = $1",
            };
            let r = sqlx::query(lock).bind(&m).fetch_one(&mut *tx).await?;
            let status: String = r.try_get("status")?;
            if status == "closed" {
                let closed_at: Option<String> = r.try_get("closed_at")?;
                tx.rollback().await?;
                return Ok(CloseOutcome::AlreadyClosed { closed_at });
            }
            let (cells_sql, layers_sql) = cells_sql(backend == Backend::Sqlite, false);
            let mut cells = Cells::new(Some(month), None);
            read_cells_on!(tx, cells, None::<&str>, &m, &cells_sql, &layers_sql);
            let mut persons = BTreeMap::new();
            let mut all = BTreeMap::new();
            persons_on!(tx, all, None, &m);
            persons.insert("*".to_string(), all);
            let hospitals: std::collections::BTreeSet<String> = cells
                .settlements
                .keys()
                .map(|k| k.hospital.clone())
                .collect();
            for h in hospitals {
                let mut p = BTreeMap::new();
                persons_on!(tx, p, Some(h.as_str()), &m);
                persons.insert(h, p);
            }
            let snap = snapshot(cells, persons)?;
            sqlx::query(
                "UPDATE months SET status = 'closed', closed_at = $2, closed_by = $3, snapshot = $4, updated_at = $2
                 WHERE month = $1 AND status = 'open'",
            )
            .bind(&m)
            .bind(&now)
            .bind(actor)
            .bind(&snap)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO month_events (month, action, actor, reason, at) VALUES ($1, 'close', $2, NULL, $3)")
                .bind(&m)
                .bind(actor)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(CloseOutcome::Closed { closed_at: now })
    }

    /// Reopen a closed month, recording who and why.
    pub async fn reopen_month(
        &self,
        month: Month,
        actor: &str,
        reason: &str,
    ) -> Result<ReopenOutcome> {
        let now = now_text();
        let m = month.to_string();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let done = sqlx::query(
                "UPDATE months SET status = 'open', snapshot = NULL, updated_at = $2 WHERE month = $1 AND status = 'closed'",
            )
            .bind(&m)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(ReopenOutcome::NotClosed);
            }
            sqlx::query("INSERT INTO month_events (month, action, actor, reason, at) VALUES ($1, 'reopen', $2, $3, $4)")
                .bind(&m)
                .bind(actor)
                .bind(reason)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(ReopenOutcome::Reopened)
    }

    /// How many rows (settlements and reversals) are booked in a month.
    pub async fn month_row_count(&self, month: Month) -> Result<i64> {
        let m = month.to_string();
        with_pool!(self, |pool, backend| {
            let _ = backend;
            Ok(sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM settlements WHERE booked_month = $1",
            )
            .bind(&m)
            .fetch_one(pool)
            .await?)
        })
    }

    /// The close/reopen history of a month: (action, actor, reason, at).
    pub async fn month_events(
        &self,
        month: Month,
    ) -> Result<Vec<(String, String, Option<String>, String)>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT action, actor, reason, at FROM month_events WHERE month = $1 ORDER BY seq",
            )
            .bind(month.to_string())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("action")?,
                        r.try_get("actor")?,
                        r.try_get("reason")?,
                        r.try_get("at")?,
                    ))
                })
                .collect()
        })
    }
}
