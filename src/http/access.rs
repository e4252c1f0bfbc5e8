//! The access record: every request made with a valid API key — settle,
//! preview, cancel, 冲正, checks, close, reopen, re-settlement, simulation,
//! and reads — is appended with the key id, role, time, action, target and
//! the status answered. `GET /v1/access-log` (centre and admin) reads it.
//!
//! Cheap: the middleware hands each entry to a background writer that
//! appends whatever has queued up in one transaction (one commit for many
//! requests, never one per read). When the database is down, entries wait in
//! memory and are written when it is back; [`AccessLog::flush`] writes what
//! is queued at shutdown. A crash loses at most the entries of the last
//! moment (see SECURITY.md).

use super::auth::{Caller, Slot};
use super::error::{ApiError, Problem};
use super::{json_response, ApiContext};
use crate::service::keys::Role;
use crate::storage::{AccessEntry, AccessFilter, Db};
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub fn router() -> Router<ApiContext> {
    Router::new().route("/v1/access-log", get(list))
}

enum Msg {
    Entry(Box<AccessEntry>),
    Flush(oneshot::Sender<()>),
}

/// The access record's writer: cheap to clone.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: Option<mpsc::UnboundedSender<Msg>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

/// Entries written per transaction at most.
const BATCH: usize = 2000;
/// Entries kept in memory while the database cannot be written, at most.
const MAX_PENDING: usize = 1_000_000;
/// How long the writer lets entries gather before it writes them.
const GATHER: Duration = Duration::from_millis(100);

impl AccessLog {
    /// Start the writer on the current runtime (without one, entries are
    /// only logged).
    pub fn start(db: Db) -> AccessLog {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return AccessLog { tx: None };
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        rt.spawn(async move {
            let mut pending: Vec<AccessEntry> = Vec::new();
            let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
            let mut failures = 0u32;
            loop {
                if pending.is_empty() && waiting.is_empty() {
                    match rx.recv().await {
                        Some(Msg::Entry(e)) => {
                            pending.push(*e);
                            // Let a batch gather: one commit (one fsync on
                            // SQLite) per interval, not one per request.
                            tokio::time::sleep(GATHER).await;
                        }
                        Some(Msg::Flush(s)) => waiting.push(s),
                        None => break,
                    }
                }
                while pending.len() < BATCH {
                    match rx.try_recv() {
                        Ok(Msg::Entry(e)) => pending.push(*e),
                        Ok(Msg::Flush(s)) => waiting.push(s),
                        Err(_) => break,
                    }
                }
                let n = pending.len().min(BATCH);
                match db.record_access(&pending[..n]).await {
                    Ok(()) => {
                        pending.drain(..n);
                        failures = 0;
                        if pending.is_empty() {
                            for s in waiting.drain(..) {
                                let _ = s.send(());
                            }
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        // A long outage under load: keep memory bounded.
                        if pending.len() > MAX_PENDING {
                            let lost = pending.len() - MAX_PENDING;
                            pending.drain(..lost);
                            tracing::error!(lost, "access record entries dropped: the database has been unwritable too long");
                        }
                        if failures == 1 || failures.is_multiple_of(100) {
                            tracing::error!(error = %e, queued = pending.len(), "access record not written; will retry");
                        }
                        // Keep the entries; give the database time.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        // A flush at shutdown does not wait for a dead database.
                        if failures > 10 {
                            for s in waiting.drain(..) {
                                let _ = s.send(());
                            }
                        }
                    }
                }
            }
        });
        AccessLog { tx: Some(tx) }
    }

    fn push(&self, e: AccessEntry) {
        let e = match &self.tx {
            Some(tx) => match tx.send(Msg::Entry(Box::new(e))) {
                Ok(()) => return,
                Err(mpsc::error::SendError(Msg::Entry(e))) => *e,
                Err(_) => return,
            },
            None => e,
        };
        tracing::info!(key_id = %e.key_id, action = %e.action, target = %e.target, status = e.status, "access");
    }

    /// Wait until everything queued so far is written (or the database has
    /// failed for a while).
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (s, r) = oneshot::channel();
            if tx.send(Msg::Flush(s)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(10), r).await;
            }
        }
    }
}

/// The short name of what a request does.
fn action(method: &Method, route: &str) -> &'static str {
    match (method.as_str(), route) {
        ("POST", "/v1/settlements") => "settle",
        ("POST", "/v1/settlements/preview") => "preview",
        ("POST", "/v1/settlements/reverse") => "reverse",
        ("POST", "/v1/settlements/{id}/cancel") => "cancel",
        ("POST", "/v1/reconciliation/{month}/close") => "close",
        ("POST", "/v1/reconciliation/{month}/reopen") => "reopen",
        ("POST", "/v1/reconciliation/{month}/check-totals") => "check_totals",
        ("POST", "/v1/reconciliation/{month}/check-details") => "check_details",
        ("POST", "/v1/registry/match") => "registry_match",
        ("POST", "/v1/registry/resettlements") => "resettle",
        ("POST", "/v1/simulations") => "simulate",
        ("GET", _) | ("HEAD", _) => "read",
        _ => "other",
    }
}

/// Record every request made with a valid key, after it is answered.
pub async fn record(State(ctx): State<ApiContext>, mut req: Request, next: Next) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let target: String = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("")
        .chars()
        .take(500)
        .collect();
    let resp = next.run(req).await;
    if let Some((key_id, role, hospital)) = slot.take() {
        let detail = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        ctx.access.push(AccessEntry {
            seq: 0,
            at: crate::calendar::now_text(),
            source: "api".into(),
            key_id,
            role: role.into(),
            hospital,
            action: action(&method, &route).into(),
            method: method.as_str().into(),
            target,
            status: i64::from(resp.status().as_u16()),
            detail,
        });
    }
    resp
}

/// Filters and page of the access record.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// One key's acts (its public id, as `medaid keys list` shows).
    pub key_id: Option<String>,
    /// `settle`, `preview`, `cancel`, `reverse`, `close`, `reopen`,
    /// `check_totals`, `check_details`, `registry_match`, `resettle`,
    /// `simulate`, `read`.
    pub action: Option<String>,
    /// One hospital's keys.
    pub hospital: Option<String>,
    /// From this time (RFC 3339, or a prefix: `2017-05`, `2017-05-01`).
    pub from: Option<String>,
    /// Up to this time (a prefix includes everything it starts).
    pub to: Option<String>,
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Rows per page, 1–1000 (default 100).
    pub per_page: Option<i64>,
}

/// A page of the access record, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccessPage {
    pub items: Vec<AccessEntry>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// The access record (centre and admin keys), newest first.
#[utoipa::path(get, path = "/v1/access-log", tag = "operations", params(AccessQuery),
    responses(
        (status = 200, description = "A page of the access record", body = AccessPage),
        (status = 403, description = "Not a centre or admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Caller,
    q: Result<Query<AccessQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    if let Role::Hospital(_) = caller.role {
        return Err(ApiError::forbidden(
            "only a centre or admin key may read the access record",
        ));
    }
    let Query(q) = q.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("page", "must be 1 or more"));
    }
    let per_page = q.per_page.unwrap_or(100);
    if !(1..=1000).contains(&per_page) {
        return Err(ApiError::bad_request(
            "per_page",
            "must be between 1 and 1000",
        ));
    }
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    // What this very request did is recorded too; make the page show
    // everything before it.
    ctx.access.flush().await;
    let (items, total) = ctx
        .service
        .db
        .access_log(&AccessFilter {
            key_id: clean(q.key_id),
            action: clean(q.action),
            from: clean(q.from),
            to: clean(q.to),
            hospital: clean(q.hospital),
            limit: per_page,
            offset: (page - 1).saturating_mul(per_page),
        })
        .await
        .map_err(|e| ApiError::storage(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &AccessPage {
            items,
            page,
            per_page,
            total,
        },
    ))
}
