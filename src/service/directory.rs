//! The hospital directory (医院目录) as settlements read it.
//!
//! Every settlement needs its hospital's level and region, and the
//! directory is a handful of rows that change only when an operator runs
//! `medaid hospitals import` — from another process, which this one cannot
//! hear. So the service keeps each row it read for a few seconds
//! ([`TTL`]): an import takes effect within that time, and a busy hospital
//! costs one query every few seconds instead of one per claim. A hospital
//! that is not in the directory is not remembered: it is read again on its
//! next claim, so a new hospital can settle as soon as it is imported.

use crate::storage::{Db, Hospital, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a directory row read from the database is used.
pub const TTL: Duration = Duration::from_secs(5);

/// Hospitals read recently, by code; clones share one memory.
#[derive(Debug, Default, Clone)]
pub struct HospitalCache {
    rows: Arc<Mutex<HashMap<String, (Instant, Hospital)>>>,
}

impl HospitalCache {
    /// The hospital `code`, from memory if read less than [`TTL`] ago.
    pub async fn get(&self, db: &Db, code: &str) -> Result<Option<Hospital>> {
        if let Some(h) = self.fresh(code, Instant::now()) {
            return Ok(Some(h));
        }
        let found = db.hospital(code).await?;
        if let Some(h) = &found {
            self.remember(h.clone(), Instant::now());
        }
        Ok(found)
    }

    fn fresh(&self, code: &str, now: Instant) -> Option<Hospital> {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(code)
            .filter(|(read, _)| now.duration_since(*read) < TTL)
            .map(|(_, h)| h.clone())
    }

    fn remember(&self, h: Hospital, now: Instant) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.insert(h.code.clone(), (now, h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(level: &str) -> Hospital {
        Hospital {
            code: "H0001".into(),
            name: "卫生院".into(),
            level: level.into(),
            region: "411303".into(),
        }
    }

    #[test]
    fn a_row_is_used_until_it_is_ttl_old() {
        let cache = HospitalCache::default();
        let t0 = Instant::now();
        assert!(cache.fresh("H0001", t0).is_none());
        cache.remember(h("township"), t0);
        assert_eq!(cache.fresh("H0001", t0 + TTL / 2), Some(h("township")));
        assert!(cache.fresh("H0001", t0 + TTL).is_none());
        assert!(cache.fresh("H0002", t0).is_none());
    }

    #[tokio::test]
    async fn an_import_is_seen_after_the_ttl_and_a_new_hospital_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("d.db").display());
        let db = Db::connect(&crate::storage::ConnectOptions::new(&url))
            .await
            .unwrap();
        let cache = HospitalCache::default();
        assert_eq!(cache.get(&db, "H0001").await.unwrap(), None);
        db.upsert_hospitals(&[h("township")]).await.unwrap();
        // not remembered as missing: found on the next claim
        assert_eq!(cache.get(&db, "H0001").await.unwrap(), Some(h("township")));
        db.upsert_hospitals(&[h("county")]).await.unwrap();
        // within the TTL the row read before is used …
        assert_eq!(cache.get(&db, "H0001").await.unwrap(), Some(h("township")));
        // … and once it is older, the import is seen
        let old = Instant::now().checked_sub(TTL).unwrap();
        cache.remember(h("township"), old);
        assert_eq!(cache.get(&db, "H0001").await.unwrap(), Some(h("county")));
        db.close().await;
    }
}
