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
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Healthy"), (status = 503, description = "The database does not answer")))]
pub async fn healthz(State(ctx): State<ApiContext>) -> Result<Response, ApiError> {
    match ctx.service.db.ping().await {
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
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Database unavailable",
            ))
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
