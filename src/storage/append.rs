//! Appending settlements (结算入账): the multi-row statements every writer
//! of settlements shares — the per-request transaction, the group-commit
//! batch and re-settlement (应退应补) — and the placeholder text they are
//! built from, which differs by database (see [`values_sql`]), and the
//! rows they append.

use super::Backend;
use std::fmt::Write as _;

/// The amounts of a settlement in fen (negated on a reversal).
pub type Amounts = crate::engine::amounts::Breakdown<i64>;

/// One policy layer's share of a settlement, in fen. `deductible`,
/// `eligible` and `paid` are exactly what the settlement added to the
/// person's accumulator for `layer_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    pub position: i64,
    pub layer_id: String,
    pub fund_code: String,
    pub payer: String,
    pub applied: bool,
    pub cap_limited: bool,
    pub base: i64,
    pub deductible: i64,
    pub eligible: i64,
    pub paid: i64,
}

/// A settlement row as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRow {
    pub id: String,
    pub hospital: String,
    pub claim_id: String,
    pub person_id: String,
    pub medical_type: String,
    pub level: String,
    pub region: String,
    /// The registry categories the settlement was computed with, in policy
    /// order, comma-separated.
    pub categories: String,
    /// The first of them (policy order: the most protected first), `''`
    /// for none; what monthly statements group by.
    pub primary_category: String,
    pub admitted_on: String,
    pub discharged_on: String,
    pub year: i32,
    pub policy_id: String,
    pub policy_hash: String,
    pub amounts: Amounts,
    /// SHA-256 of `claim_json`: what idempotency compares.
    pub claim_hash: String,
    /// The claim as parsed, re-serialized canonically.
    pub claim_json: String,
    /// The answer exactly as sent, so a retry gets the same bytes.
    pub answer_json: String,
    pub committed_at: String,
    /// `YYYY-MM` of `committed_at` in China time: the month the row is
    /// booked in (a reversal in the month it was committed).
    pub booked_month: String,
}

/// What the engine produced for a settlement, ready to write.
#[derive(Debug, Clone)]
pub struct NewSettlement {
    pub row: SettlementRow,
    pub layers: Vec<LayerRow>,
    /// What the settlement adds to accumulators that are not layers
    /// (`pool:ID`, `layer@group`), `paid` in fen; nonzero entries only.
    pub extra: Vec<(String, i64)>,
}

impl NewSettlement {
    /// What the settlement adds to its person's accumulators, by key: the
    /// layers that moved (deductible, eligible, paid), then the pools and
    /// per-group caps (`paid` only).
    pub(crate) fn deltas(&self) -> impl Iterator<Item = (&str, [i64; 3])> {
        let layers = self
            .layers
            .iter()
            .filter(|l| l.deductible != 0 || l.eligible != 0 || l.paid != 0)
            .map(|l| (l.layer_id.as_str(), [l.deductible, l.eligible, l.paid]));
        let extra = self
            .extra
            .iter()
            .map(|(k, paid)| (k.as_str(), [0, 0, *paid]));
        layers.chain(extra)
    }
}

/// The reversal row a cancellation writes (the rest is copied from the
/// original, negated).
#[derive(Debug, Clone)]
pub struct NewReversal {
    pub id: String,
    pub committed_at: String,
    pub booked_month: String,
    pub answer_json: String,
}

pub(crate) const SETTLEMENT_COLUMNS: &str = "id, kind, reverses, hospital, claim_id, person_id, medical_type, level, region, categories, \
     primary_category, admitted_on, discharged_on, year, policy_id, policy_hash, total, free_items, reduction, hospital_waived, \
     over_limit, self_pay_first, fully_self_pay, in_policy, fund_paid, patient_payable, claim_hash, claim_json, answer_json, \
     committed_at, booked_month";

/// Append a new settlement row and its layer rows (inside the caller's
/// write transaction), booked in `$booked`, optionally replacing an earlier
/// settlement (应退应补). One text for every place that writes a settlement:
/// it is [`insert_settlements!`] with one row.
macro_rules! insert_new_settlement {
    ($tx:expr, $new:expr, $booked:expr, $replaces:expr) => {{
        let replaces: Option<&str> = $replaces;
        let booked: &str = $booked;
        let rows = [$crate::storage::append::Appended {
            new: $new,
            booked,
            replaces,
        }];
        $crate::storage::append::insert_settlements!($tx, &rows);
    }};
}
pub(crate) use insert_new_settlement;

/// One settlement to append: what the engine produced, the month it is
/// booked in, and the settlement it replaces (应退应补), if any.
pub(crate) struct Appended<'a> {
    pub new: &'a NewSettlement,
    pub booked: &'a str,
    pub replaces: Option<&'a str>,
}

/// Bind parameters one statement carries at most (SQLite allows 32,766,
/// PostgreSQL 65,535): rows beyond it go to the next statement.
pub(crate) const MAX_PARAMS: usize = 30_000;

/// Rows of `cols` columns per multi-row statement.
pub(crate) fn rows_per_statement(cols: usize) -> usize {
    (MAX_PARAMS / cols).max(1)
}

/// Append settlements with their layer rows and non-layer accumulator rows
/// (`$rows: &[Appended]`) in as few statements as the parameter limit
/// allows: one per table for a whole group-commit batch.
macro_rules! insert_settlements {
    ($tx:expr, $rows:expr) => {{
        let rows: &[$crate::storage::append::Appended<'_>] = $rows;
        let backend = $crate::storage::append::backend_of(&*$tx);
        let per = $crate::storage::append::rows_per_statement(32);
        for chunk in rows.chunks(per) {
            let sql = $crate::storage::append::values_sql(
                backend,
                &format!(
                    "INSERT INTO settlements ({}, replaces)",
                    $crate::storage::append::SETTLEMENT_COLUMNS
                ),
                32,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for ap in chunk {
                let row = &ap.new.row;
                let a = &row.amounts;
                q = q
                    .bind(&row.id)
                    .bind("settlement")
                    .bind(None::<String>)
                    .bind(&row.hospital)
                    .bind(&row.claim_id)
                    .bind(&row.person_id)
                    .bind(&row.medical_type)
                    .bind(&row.level)
                    .bind(&row.region)
                    .bind(&row.categories)
                    .bind(&row.primary_category)
                    .bind(&row.admitted_on)
                    .bind(&row.discharged_on)
                    .bind(i64::from(row.year))
                    .bind(&row.policy_id)
                    .bind(&row.policy_hash)
                    .bind(a.total)
                    .bind(a.free_items)
                    .bind(a.reduction)
                    .bind(a.hospital_waived)
                    .bind(a.over_limit)
                    .bind(a.self_pay_first)
                    .bind(a.fully_self_pay)
                    .bind(a.in_policy)
                    .bind(a.fund_paid)
                    .bind(a.patient_payable)
                    .bind(&row.claim_hash)
                    .bind(&row.claim_json)
                    .bind(&row.answer_json)
                    .bind(&row.committed_at)
                    .bind(ap.booked)
                    .bind(ap.replaces);
            }
            q.execute(&mut *$tx).await?;
        }
        let layers: Vec<(&str, &$crate::storage::LayerRow)> = rows
            .iter()
            .flat_map(|ap| ap.new.layers.iter().map(move |l| (ap.new.row.id.as_str(), l)))
            .collect();
        for chunk in layers.chunks($crate::storage::append::rows_per_statement(11)) {
            let sql = $crate::storage::append::values_sql(
                backend,
                "INSERT INTO settlement_layers (settlement_id, position, layer_id, fund_code, payer, applied, cap_limited, \
                 base, deductible, eligible, paid)",
                11,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for (id, l) in chunk {
                q = q
                    .bind(*id)
                    .bind(l.position)
                    .bind(&l.layer_id)
                    .bind(&l.fund_code)
                    .bind(&l.payer)
                    .bind(l.applied)
                    .bind(l.cap_limited)
                    .bind(l.base)
                    .bind(l.deductible)
                    .bind(l.eligible)
                    .bind(l.paid);
            }
            q.execute(&mut *$tx).await?;
        }
        let extra: Vec<(&str, &(String, i64))> = rows
            .iter()
            .flat_map(|ap| ap.new.extra.iter().map(move |e| (ap.new.row.id.as_str(), e)))
            .collect();
        for chunk in extra.chunks($crate::storage::append::rows_per_statement(3)) {
            let sql = $crate::storage::append::values_sql(
                backend,
                "INSERT INTO settlement_accumulators (settlement_id, acc_key, paid)",
                3,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for (id, (key, paid)) in chunk {
                q = q.bind(*id).bind(key).bind(*paid);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use insert_settlements;

/// Move the accumulator `key` of (`person`, `year`) by (deductible,
/// eligible, paid) fen inside the caller's transaction; a missing row is
/// corruption (rows are created and locked first).
macro_rules! move_accumulator {
    ($tx:expr, $person:expr, $year:expr, $key:expr, $d:expr) => {{
        let d: [i64; 3] = $d;
        let done = sqlx::query(
            "UPDATE accumulators SET deductible_used = deductible_used + $4, eligible_cum = eligible_cum + $5,
                 paid = paid + $6
             WHERE person_id = $1 AND year = $2 AND layer_id = $3",
        )
        .bind($person)
        .bind($year)
        .bind($key)
        .bind(d[0])
        .bind(d[1])
        .bind(d[2])
        .execute(&mut *$tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StorageError::Corrupt(format!(
                "no accumulator row {} for {} in {}",
                $key, $person, $year
            )));
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use move_accumulator;

/// `INSERT INTO … VALUES ($1, …), (…)` for `rows` rows of `cols` columns,
/// bound in row order.
///
/// On SQLite the placeholders are plain `?`: the driver looks up the name
/// of every numbered parameter, and SQLite finds a name by walking the
/// statement's list of names, so a statement with n numbered parameters
/// costs n²/2 steps to bind — a tenth of the server's time with a batch's
/// thousands of parameters. Unnamed ones are bound by position at no cost.
pub(crate) fn values_sql(backend: Backend, prefix: &str, cols: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * cols * 5);
    sql.push_str(prefix);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders(backend, r * cols + 1, cols));
        sql.push(')');
    }
    sql
}

/// The placeholders of parameters `first ..= first + n - 1`, comma-separated
/// (`?` on SQLite, see [`values_sql`]; the caller binds them in order).
pub(crate) fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        match backend {
            Backend::Sqlite => s.push('?'),
            Backend::Postgres => {
                let _ = write!(s, "${}", first + i);
            }
        }
    }
    s
}

/// Which database a connection (or the transaction that derefs to it)
/// talks to: for SQL text written inside macros that see only `$tx`.
pub(crate) trait Dialect {
    const BACKEND: Backend;
}

impl Dialect for sqlx::SqliteConnection {
    const BACKEND: Backend = Backend::Sqlite;
}

impl Dialect for sqlx::PgConnection {
    const BACKEND: Backend = Backend::Postgres;
}

pub(crate) fn backend_of<C: Dialect>(_: &C) -> Backend {
    C::BACKEND
}
