//! `/healthz` (the database answers) and `/metrics` (Prometheus). Neither
//! needs a key: load balancers and scrapers have none, and neither shows
//! anything about persons or money.

use super::error::ApiError;
use super::ApiContext;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// `GET /`: what this is and where to go (plain text, no key needed).
pub async fn index() -> Response {
    let text = format!(
        "medaid {}: one-stop settlement for medical aid\n\n\
         GET  /healthz                health (200 when the database answers)\n\
         GET  /metrics                Prometheus metrics\n\
         GET  /openapi.json           the API (OpenAPI 3)\n\
         POST /v1/settlements         settle a claim (Authorization: Bearer KEY)\n",
        env!("CARGO_PKG_VERSION")
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// Liveness and readiness: 200 when the database answers.
/// How long a health probe waits for the database.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Health: 200 when the database answers a query and can take a write
/// transaction (SQLite: the file is writable; PostgreSQL: not a read-only
/// standby), within 3 s.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Healthy"), (status = 503, description = "The database does not answer, or cannot write")))]
pub async fn healthz(State(ctx): State<ApiContext>) -> Result<Response, ApiError> {
    probe(&ctx).await
}

/// Readiness for load balancers: the same probe as `/healthz`; 503 sends
/// traffic elsewhere until the database is back.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready: the database does not answer, or cannot write")))]
pub async fn readyz(State(ctx): State<ApiContext>) -> Result<Response, ApiError> {
    probe(&ctx).await
}

async fn probe(ctx: &ApiContext) -> Result<Response, ApiError> {
    let checked = match tokio::time::timeout(PROBE_TIMEOUT, ctx.service.db.probe()).await {
        Ok(r) => r,
        Err(_) => Err(crate::storage::StorageError::Corrupt(
            "the database did not answer within 3 s".into(),
        )),
    };
    match checked {
        Ok(()) => Ok(super::json_response(
            StatusCode::OK,
            &serde_json::json!({
                "status": "ok",
                "database": ctx.service.db.backend().as_str(),
                "policies": ctx.service.policies.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            }),
        )),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            Err(
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
                    .detail(format!("database: {}", ctx.service.db.backend().as_str())),
            )
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(State(ctx): State<ApiContext>) -> Response {
    let mut resp = (StatusCode::OK, ctx.metrics.render()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
