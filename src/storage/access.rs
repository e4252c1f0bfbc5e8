//! The access record (append-only): who did what with which key, when, and
//! how it ended; and the 冲正 tombstones of claims reversed before they
//! arrived.

use super::{begin_write, with_pool, Db, Result};
use crate::calendar::now_text;
use sqlx::Row;

/// One act of an API key (or of an operator at the command line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AccessEntry {
    /// Assigned by the database (0 before it is written).
    pub seq: i64,
    /// RFC 3339, China time.
    pub at: String,
    /// `api` or `cli`.
    pub source: String,
    pub key_id: String,
    pub role: String,
    pub hospital: Option<String>,
    /// `settle`, `preview`, `cancel`, `reverse`, `close`, `reopen`,
    /// `simulate`, `read`, …
    pub action: String,
    pub method: String,
    /// The path (and query) of the request.
    pub target: String,
    /// The HTTP status answered (CLI: 0 success, 1 failure).
    pub status: i64,
    /// e.g. the settlement a settle created.
    pub detail: Option<String>,
}

/// Filters of the access record.
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    pub key_id: Option<String>,
    pub action: Option<String>,
    /// `at` bounds (inclusive prefix comparison: `2017-05` or a full time).
    pub from: Option<String>,
    pub to: Option<String>,
    pub hospital: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

const COLUMNS: &str = "at, source, key_id, role, hospital, action, method, target, status, detail";

impl Db {
    /// Append entries to the access record, in one transaction.
    pub async fn record_access(&self, entries: &[AccessEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // 10 columns; stay well under SQLite's 32766 parameters.
        for chunk in entries.chunks(500) {
            with_pool!(self, |pool, backend| {
                let sql = super::append::values_sql(
                    backend,
                    &format!("INSERT INTO access_log ({COLUMNS})"),
                    10,
                    chunk.len(),
                );
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(&e.at)
                        .bind(&e.source)
                        .bind(&e.key_id)
                        .bind(&e.role)
                        .bind(&e.hospital)
                        .bind(&e.action)
                        .bind(&e.method)
                        .bind(&e.target)
                        .bind(e.status)
                        .bind(&e.detail);
                }
                match backend {
                    // Behind the process's write queue, like every writer.
                    super::Backend::Sqlite => {
                        let (_guard, mut tx) = begin_write!(self, pool, backend);
                        q.execute(&mut *tx).await?;
                        tx.commit().await?;
                    }
                    super::Backend::Postgres => {
                        q.execute(pool).await?;
                    }
                }
            });
        }
        Ok(())
    }

    /// Record an operator's command (`source = 'cli'`): imports and key
    /// changes. The operator is the OS user (`$USER`); `ok` is the outcome.
    pub async fn record_cli(&self, action: &str, target: &str, ok: bool) -> Result<()> {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_default();
        self.record_access(&[AccessEntry {
            seq: 0,
            at: now_text(),
            source: "cli".into(),
            key_id: String::new(),
            role: format!("operator {user}").trim().to_string(),
            hospital: None,
            action: action.into(),
            method: "CLI".into(),
            target: target.chars().take(500).collect(),
            status: i64::from(!ok),
            detail: None,
        }])
        .await
    }

    /// A page of the access record, newest first, and the count under the
    /// filter.
    pub async fn access_log(&self, f: &AccessFilter) -> Result<(Vec<AccessEntry>, i64)> {
        const WHERE: &str = "($1 IS NULL OR key_id = $1) AND ($2 IS NULL OR action = $2)
             AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at <= $4) AND ($5 IS NULL OR hospital = $5)";
        // `to` as a prefix: everything that starts with it is before it.
        let to = f.to.as_ref().map(|t| format!("{t}\u{10FFFF}"));
        with_pool!(self, |pool, backend| {
            let total: i64 = sqlx::query(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM access_log WHERE {WHERE}"
            ))
            .bind(&f.key_id)
            .bind(&f.action)
            .bind(&f.from)
            .bind(&to)
            .bind(&f.hospital)
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            let rows = sqlx::query(&format!(
                "SELECT seq, {COLUMNS} FROM access_log WHERE {WHERE} ORDER BY seq DESC LIMIT $6 OFFSET $7"
            ))
            .bind(&f.key_id)
            .bind(&f.action)
            .bind(&f.from)
            .bind(&to)
            .bind(&f.hospital)
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(pool)
            .await?;
            let items = rows
                .iter()
                .map(|r| {
                    Ok(AccessEntry {
                        seq: r.try_get("seq")?,
                        at: r.try_get("at")?,
                        source: r.try_get("source")?,
                        key_id: r.try_get("key_id")?,
                        role: r.try_get("role")?,
                        hospital: r.try_get("hospital")?,
                        action: r.try_get("action")?,
                        method: r.try_get("method")?,
                        target: r.try_get("target")?,
                        status: r.try_get("status")?,
                        detail: r.try_get("detail")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((items, total))
        })
    }

    /// Whether `(hospital, claim_id)` was reversed (冲正) before it arrived.
    pub async fn tombstone(&self, hospital: &str, claim_id: &str) -> Result<Option<String>> {
        with_pool!(self, |pool, backend| {
            Ok(sqlx::query_scalar(
                "SELECT at FROM claim_tombstones WHERE hospital = $1 AND claim_id = $2",
            )
            .bind(hospital)
            .bind(claim_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Reverse (冲正) a claim that has not been settled: record its
    /// tombstone, unless a settlement of it committed meanwhile. Returns
    /// `Ok(Err(settlement id))` in that case (the caller cancels it),
    /// `Ok(Ok(at))` with the tombstone's time otherwise (idempotent).
    pub async fn void_claim(
        &self,
        hospital: &str,
        claim_id: &str,
        key_id: &str,
    ) -> Result<std::result::Result<String, String>> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            if backend == super::Backend::Postgres {
                // The same lock a settlement of this claim takes: one of the
                // two goes first, the other sees it.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(claim_lock(hospital, claim_id))
                    .execute(&mut *tx)
                    .await?;
            }
            let settled: Option<String> = sqlx::query_scalar(
                "SELECT id FROM settlements WHERE hospital = $1 AND claim_id = $2 AND kind = 'settlement'
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(hospital)
            .bind(claim_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = settled {
                tx.rollback().await?;
                return Ok(Err(id));
            }
            sqlx::query(
                "INSERT INTO claim_tombstones (hospital, claim_id, key_id, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (hospital, claim_id) DO NOTHING",
            )
            .bind(hospital)
            .bind(claim_id)
            .bind(key_id)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            let at: String = sqlx::query_scalar(
                "SELECT at FROM claim_tombstones WHERE hospital = $1 AND claim_id = $2",
            )
            .bind(hospital)
            .bind(claim_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Ok(at))
        })
    }
}

/// The PostgreSQL advisory lock of a (hospital, claim_id): settling and
/// reversing the same claim take it in their transactions.
pub(crate) fn claim_lock(hospital: &str, claim_id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(hospital.as_bytes());
    h.update([0]);
    h.update(claim_id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}
