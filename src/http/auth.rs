//! Who is calling: the API key of `Authorization: Bearer`, its role and,
//! for a hospital, its hospital. 401 without a valid key; handlers answer
//! 403 outside the role.

use super::error::ApiError;
use super::ApiContext;
use crate::service::keys::{self, Role};
use crate::storage::KeyRow;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// The key's public id (`keys list`), for the access record.
    pub key_id: String,
}

impl Caller {
    /// The caller's hospital, or 403 when the key is not a hospital's.
    pub fn hospital(&self) -> Result<&str, ApiError> {
        match &self.role {
            Role::Hospital(h) => Ok(h),
            other => Err(ApiError::forbidden(format!(
                "only a hospital key may do this; this key's role is {}",
                other.name()
            ))),
        }
    }

    /// The hospital a read is limited to (`None`: reads all).
    pub fn read_scope(&self) -> Option<&str> {
        match &self.role {
            Role::Hospital(h) => Some(h),
            Role::Centre | Role::Admin => None,
        }
    }

    /// Whether the caller may read a settlement of `hospital`.
    pub fn can_read(&self, hospital: &str) -> bool {
        self.read_scope().is_none_or(|h| h == hospital)
    }
}

/// Key rows recently found, so a busy hospital does not cost a database
/// read per request. Only found keys are cached, briefly; a key created
/// while the service runs is found on its first use.
#[derive(Debug, Default)]
pub struct KeyCache {
    rows: Mutex<HashMap<String, (KeyRow, Instant)>>,
}

const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl KeyCache {
    fn get(&self, id: &str) -> Option<KeyRow> {
        let rows = self.rows.lock().ok()?;
        rows.get(id)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(r, _)| r.clone())
    }

    fn put(&self, row: KeyRow) {
        if let Ok(mut rows) = self.rows.lock() {
            if rows.len() > 10_000 {
                rows.clear();
            }
            rows.insert(row.key_id.clone(), (row, Instant::now()));
        }
    }
}

impl FromRequestParts<ApiContext> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("an API key is required: Authorization: Bearer <key>")
        })?;
        let text = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        // The scheme is case-insensitive (RFC 9110 §11.1).
        let key = text
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <key>"))?;
        let bad = || ApiError::unauthorized("invalid API key");
        let id = keys::key_id(key).ok_or_else(bad)?;
        let row = match ctx.keys.get(id) {
            Some(r) => r,
            None => {
                let r = ctx
                    .service
                    .db
                    .key_by_id(id)
                    .await
                    .map_err(|e| ApiError::storage(&e))?;
                let r = r.ok_or_else(bad)?;
                ctx.keys.put(r.clone());
                r
            }
        };
        if !keys::verify(key, &row) {
            return Err(bad());
        }
        let role = Role::of(&row).ok_or_else(bad)?;
        if let Some(slot) = parts.extensions.get::<Slot>() {
            slot.set(id, &role);
        }
        let limits = &ctx.limits;
        if let Err(wait) = ctx
            .rate
            .check(id, limits.rate_per_key, limits.burst_per_key)
        {
            ctx.metrics.outcome("request", "rate_limited");
            let mut e =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests").detail(format!(
                    "this key may send {} requests a second (bursts of {}); try again in {wait} s",
                    limits.rate_per_key, limits.burst_per_key
                ));
            e.retry_after = Some(wait);
            return Err(e);
        }
        Ok(Caller {
            role,
            key_id: id.to_string(),
        })
    }
}

/// Which key made the request, for the access record (访问记录): put
/// into the request by the access middleware, filled here.
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Who>>>);

/// A verified key: its id, role name, and hospital.
pub(crate) type Who = (String, &'static str, Option<String>);

impl Slot {
    pub fn set(&self, key_id: &str, role: &Role) {
        if let Ok(mut s) = self.0.lock() {
            let hospital = match role {
                Role::Hospital(h) => Some(h.clone()),
                _ => None,
            };
            *s = Some((key_id.to_string(), role.name(), hospital));
        }
    }

    pub(crate) fn take(&self) -> Option<Who> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}
