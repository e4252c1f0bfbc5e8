//! API keys: only their SHA-256 hash is stored, under a public key id.

use super::{begin_write, with_pool, Db, Result};
use crate::calendar::now_text;
use sqlx::Row;

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub key_id: String,
    /// Lower-case hex SHA-256 of the whole key.
    pub key_hash: String,
    pub role: String,
    pub hospital: Option<String>,
    pub revoked: bool,
}

impl Db {
    /// Store a new key's hash.
    pub async fn insert_key(&self, key: &KeyRow) -> Result<()> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            sqlx::query("INSERT INTO api_keys (key_id, key_hash, role, hospital, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&key.key_id)
                .bind(&key.key_hash)
                .bind(&key.role)
                .bind(&key.hospital)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A key by its public id.
    pub async fn key_by_id(&self, key_id: &str) -> Result<Option<KeyRow>> {
        with_pool!(self, |pool, backend| {
            let row = sqlx::query("SELECT key_id, key_hash, role, hospital, revoked_at FROM api_keys WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                let revoked: Option<String> = r.try_get("revoked_at")?;
                Ok(KeyRow {
                    key_id: r.try_get("key_id")?,
                    key_hash: r.try_get("key_hash")?,
                    role: r.try_get("role")?,
                    hospital: r.try_get("hospital")?,
                    revoked: revoked.is_some(),
                })
            })
            .transpose()
        })
    }

    /// Revoke a key by its public id; `false` if there is no such key or it
    /// was already revoked. Keys are never deleted.
    pub async fn revoke_key(&self, key_id: &str) -> Result<bool> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let done = sqlx::query(
                "UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
            )
            .bind(key_id)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Every key (never the key itself): id, role, hospital, created,
    /// revoked.
    pub async fn list_keys(&self) -> Result<Vec<KeyListing>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query(
                "SELECT key_id, role, hospital, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id",
            )
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| {
                Ok(KeyListing {
                    key_id: r.try_get("key_id")?,
                    role: r.try_get("role")?,
                    hospital: r.try_get("hospital")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
        })
    }
}

/// A key as `medaid keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListing {
    pub key_id: String,
    pub role: String,
    pub hospital: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}
