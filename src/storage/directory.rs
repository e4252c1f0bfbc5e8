//! The hospital directory (医疗机构目录) and the eligibility registry
//! (救助对象名册): where the service takes a claim's level and the person's
//! categories from, instead of trusting the hospital.

use super::{begin_write, with_pool, Db, Result};
use crate::calendar::now_text;
use sqlx::Row;

/// Insert or update `$rows` (registry rows keyed by person, category and
/// valid_from) inside the caller's write transaction `$tx`: one text for the
/// command line's import and the console's roster upload.
macro_rules! upsert_registry_rows {
    ($tx:ident, $rows:expr, $now:expr) => {{
        let now: &str = $now;
        for r in $rows {
            sqlx::query(
                "INSERT INTO registry (person_id, name, category, valid_from, valid_to, updated_at, region)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (person_id, category, valid_from) DO UPDATE SET name = excluded.name,
                     valid_to = excluded.valid_to, updated_at = excluded.updated_at, region = excluded.region",
            )
            .bind(&r.person_id)
            .bind(&r.name)
            .bind(&r.category)
            .bind(&r.valid_from)
            .bind(&r.valid_to)
            .bind(now)
            .bind(&r.region)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use upsert_registry_rows;

/// One hospital of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hospital {
    pub code: String,
    pub name: String,
    pub level: String,
    pub region: String,
}

/// One category period of a person (`category` empty: insured, no aid
/// category). Dates are `YYYY-MM-DD`; `valid_to` `None` is open-ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRow {
    pub person_id: String,
    pub name: String,
    pub category: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
    /// Insured/recognised region (参保地), optional.
    pub region: Option<String>,
}

/// What the registry says of a person on a date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonOnDate {
    /// Categories held on the date, sorted, without the "insured only" marker.
    pub categories: Vec<String>,
    /// The insured region of the latest row that names one.
    pub region: Option<String>,
}

impl Db {
    /// Insert or update hospitals by code, in one transaction.
    pub async fn upsert_hospitals(&self, rows: &[Hospital]) -> Result<usize> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            for h in rows {
                sqlx::query(
                    "INSERT INTO hospitals (code, name, level, region, updated_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
                         region = excluded.region, updated_at = excluded.updated_at",
                )
                .bind(&h.code)
                .bind(&h.name)
                .bind(&h.level)
                .bind(&h.region)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(rows.len())
    }

    /// A hospital by code.
    pub async fn hospital(&self, code: &str) -> Result<Option<Hospital>> {
        with_pool!(self, |pool, backend| {
            let row =
                sqlx::query("SELECT code, name, level, region FROM hospitals WHERE code = $1")
                    .bind(code)
                    .fetch_optional(pool)
                    .await?;
            row.map(|r| {
                Ok(Hospital {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    level: r.try_get("level")?,
                    region: r.try_get("region")?,
                })
            })
            .transpose()
        })
    }

    /// Every hospital of the directory, by code (reports print names).
    pub async fn hospitals(&self) -> Result<Vec<Hospital>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query("SELECT code, name, level, region FROM hospitals ORDER BY code")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Hospital {
                        code: r.try_get("code")?,
                        name: r.try_get("name")?,
                        level: r.try_get("level")?,
                        region: r.try_get("region")?,
                    })
                })
                .collect()
        })
    }

    /// Insert or update registry rows keyed by (person, category,
    /// valid_from), in one transaction. Rows are never deleted: a period is
    /// closed by importing it again with its `valid_to`.
    pub async fn upsert_registry(&self, rows: &[RegistryRow]) -> Result<usize> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            upsert_registry_rows!(tx, rows, &now);
            tx.commit().await?;
        });
        Ok(rows.len())
    }

    /// The person's categories on `date` (`YYYY-MM-DD`), sorted, without the
    /// empty "insured only" marker; `None` when the registry does not know
    /// the person at all.
    pub async fn person_categories(
        &self,
        person_id: &str,
        date: &str,
    ) -> Result<Option<Vec<String>>> {
        Ok(self.person_on(person_id, date).await?.map(|p| p.categories))
    }

    /// The person's categories on `date` and insured region; `None` when
    /// the registry does not know the person at all.
    pub async fn person_on(&self, person_id: &str, date: &str) -> Result<Option<PersonOnDate>> {
        with_pool!(self, |pool, backend| {
            let rows = sqlx::query(
                "SELECT category, valid_from, valid_to, region FROM registry WHERE person_id = $1
                 ORDER BY category",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut out = PersonOnDate::default();
            let mut region_from = String::new();
            for r in rows {
                let category: String = r.try_get("category")?;
                let from: String = r.try_get("valid_from")?;
                let to: Option<String> = r.try_get("valid_to")?;
                let region: Option<String> = r.try_get("region")?;
                if let Some(reg) = region.filter(|x| !x.is_empty()) {
                    if out.region.is_none() || from >= region_from {
                        region_from = from.clone();
                        out.region = Some(reg);
                    }
                }
                let covers = from.as_str() <= date && to.as_deref().is_none_or(|t| date <= t);
                if covers && !category.is_empty() && !out.categories.contains(&category) {
                    out.categories.push(category);
                }
            }
            Ok(Some(out))
        })
    }
}

impl Db {
    /// The person's name as the registry last recorded it.
    pub async fn person_name(&self, person_id: &str) -> Result<Option<String>> {
        with_pool!(self, |pool, backend| {
            let row = sqlx::query("SELECT name FROM registry WHERE person_id = $1 ORDER BY updated_at DESC, valid_from DESC LIMIT 1")
                .bind(person_id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.try_get("name"))
                .transpose()
                .map_err(Into::into)
        })
    }
}
