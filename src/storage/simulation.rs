//! The stored claims a funding-gap simulation replays: the active
//! settlements of a discharge-date range, with the identity the service
//! settled them under.
//!
//! A settlement is active when no reversal (冲红) row reverses it and no
//! re-settlement (应退应补) replaces it. (A re-settlement reverses the row it
//! replaces in the same transaction, so either test alone would do; both
//! are asked, so a row is never counted twice whatever wrote it.)

use super::{with_pool, Db, Result};
use sqlx::Row;

/// One active settlement's claim, as stored, with the identity the service
/// used: the registry's categories as of the discharge date and the
/// directory's hospital level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClaim {
    /// Position in the append-only table (the key of the next page).
    pub seq: i64,
    pub settlement_id: String,
    /// The claim as parsed and re-serialized by the service.
    pub claim_json: String,
    /// The categories the settlement was computed with, in policy order,
    /// comma-separated (`""` for none).
    pub categories: String,
    /// The hospital's level from the directory at settlement time.
    pub level: String,
    pub policy_id: String,
}

/// Bounds of a simulation's claims: discharge dates, inclusive,
/// `YYYY-MM-DD`; `None` is unbounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DischargeRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

const ACTIVE_IN_RANGE: &str = "s.kind = 'settlement'
     AND ($1 IS NULL OR s.discharged_on >= $1) AND ($2 IS NULL OR s.discharged_on <= $2)
     AND NOT EXISTS (SELECT 1 FROM settlements r WHERE r.reverses = s.id)
     AND NOT EXISTS (SELECT 1 FROM settlements n WHERE n.replaces = s.id)";

impl Db {
    /// How many active settlements were discharged in `range`.
    pub async fn count_active_claims(&self, range: &DischargeRange) -> Result<i64> {
        with_pool!(self, |pool, backend| {
            let n: i64 = sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM settlements s WHERE {ACTIVE_IN_RANGE}"
            ))
            .bind(&range.from)
            .bind(&range.to)
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            Ok(n)
        })
    }

    /// A page of the active settlements discharged in `range`, in the order
    /// they were written: those after `after_seq` (0 for the first page), at
    /// most `limit`. Keyset paging keeps memory flat however many claims a
    /// year holds.
    pub async fn active_claims_page(
        &self,
        range: &DischargeRange,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredClaim>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(&format!(
                "SELECT s.seq, s.id, s.claim_json, s.categories, s.level, s.policy_id FROM settlements s
                 WHERE {ACTIVE_IN_RANGE} AND s.seq > $3 ORDER BY s.seq LIMIT $4"
            ))
            .bind(&range.from)
            .bind(&range.to)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|r| {
                    Ok(StoredClaim {
                        seq: r.try_get("seq")?,
                        settlement_id: r.try_get("id")?,
                        claim_json: r.try_get("claim_json")?,
                        categories: r.try_get("categories")?,
                        level: r.try_get("level")?,
                        policy_id: r.try_get("policy_id")?,
                    })
                })
                .collect()
        })
    }

    /// The text of the policy `id` as the service last loaded it (the
    /// `policies` table), if it was ever loaded.
    pub async fn policy_source(&self, id: &str) -> Result<Option<String>> {
        with_pool!(self, |pool, backend| {
            let row = sqlx::query(
                "SELECT source FROM policies WHERE id = $1 ORDER BY loaded_at DESC, hash LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.map(|r| r.try_get("source"))
                .transpose()
                .map_err(Into::into)
        })
    }
}
