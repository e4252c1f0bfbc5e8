//! Online backup of the embedded SQLite database (`medaid backup`).

use super::{Db, Inner, Result};
use std::path::Path;

impl Db {
    /// Write a consistent copy of a SQLite database to `dest` with `VACUUM
    /// INTO` while the service keeps running (readers and the writer are not
    /// stopped; the copy is the state of one read transaction). `dest` must
    /// not exist. PostgreSQL has its own tools (`pg_dump`): `false` here,
    /// nothing written.
    pub async fn backup_sqlite(&self, dest: &Path) -> Result<bool> {
        match &self.inner {
            Inner::Sqlite(pool) => {
                sqlx::query("VACUUM INTO $1")
                    .bind(dest.to_string_lossy().to_string())
                    .execute(pool)
                    .await?;
                Ok(true)
            }
            Inner::Postgres(_) => Ok(false),
        }
    }
}
