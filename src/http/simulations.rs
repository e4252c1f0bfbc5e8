//! `POST /v1/simulations`: an administrator replays the claims
//! the service stored for a discharge-date range under a baseline and
//! scenario policies — the same `sim::simulate` as `medaid simulate` — and
//! gets the report.
//!
//! Nothing is stored: the answer is the report itself, JSON by default, or
//! the self-contained HTML report (SVG charts, no external resources) as a
//! download with `?format=html` or `Accept: text/html`. The same request
//! gives the same report (seeded), so a report is fetched again by
//! repeating it.

use super::auth::Caller;
use super::error::{ApiError, Problem};
use super::{json_response, read_text, ApiContext};
use crate::service::keys::Role;
use crate::service::simulation::{self, SimulationError, SimulationRequest};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<ApiContext> {
    Router::new().route("/v1/simulations", post(simulate))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `html` (the printable report, as a download).
    pub format: Option<String>,
}

/// The simulation report (`medaid simulate --json`; its fields are
/// documented in `src/sim/report.rs`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SimReportDoc {
    /// `medaid-simulation/1`
    format: String,
    /// source, claims_read, claims_simulated, duplicated, dropped, persons,
    /// volume_growth, price_growth, growth_seed
    #[schema(value_type = Object)]
    input: serde_json::Value,
    /// bootstrap, seed, interval, catastrophic, top
    #[schema(value_type = Object)]
    settings: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    budgets: Vec<serde_json::Value>,
    /// One per policy, the baseline first: summary, layers, payers, gaps,
    /// breakdowns by category, month and level, out-of-pocket and
    /// reimbursement distributions, gainers and losers.
    #[schema(value_type = Vec<Object>)]
    policies: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
}

fn format_of(q: &FormatQuery, headers: &HeaderMap) -> Result<Format, ApiError> {
    match q.format.as_deref().map(str::trim) {
        Some("json") => return Ok(Format::Json),
        Some("html") => return Ok(Format::Html),
        Some("") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(
                "format",
                format!("unknown format {other:?} (expected json or html)"),
            ))
        }
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains("text/html") {
        Format::Html
    } else {
        Format::Json
    })
}

/// Replay the stored claims of a discharge-date range (the active
/// settlements: not cancelled, not replaced) under a baseline and scenario
/// policies. Each stored claim carries the registry categories and the
/// hospital level it was settled under. Policies are a loaded policy's id
/// or TOML text. Admin keys only. One simulation runs at a time; others
/// wait. `?format=html` (or `Accept: text/html`) answers the printable
/// HTML report as a download.
#[utoipa::path(post, path = "/v1/simulations", tag = "simulations", params(FormatQuery),
    request_body(content = SimulationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The simulation report (JSON)", body = SimReportDoc),
        (status = 200, description = "With `?format=html` or `Accept: text/html`: the self-contained HTML report", content_type = "text/html"),
        (status = 400, description = "Unreadable body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (`scenarios[0]`: the policy TOML's path and line inside the message), or the range holds too many claims", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn simulate(
    State(ctx): State<ApiContext>,
    caller: Caller,
    q: Result<Query<FormatQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if caller.role != Role::Admin {
        return Err(ApiError::forbidden(format!(
            "only an admin key may run simulations; this key's role is {}",
            caller.role.name()
        )));
    }
    let q = q
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let format = format_of(&q, &headers)?;
    let text = read_text(body).await?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let req: SimulationRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid simulation request",
            )
            .detail(inner.to_string())
            .field(path, inner.to_string())
        } else {
            ApiError::bad_request(path, format!("malformed JSON: {inner}"))
        }
    })?;
    let plan = req.plan(&ctx.service.policies).map_err(|fields| {
        let mut err = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid simulation request",
        )
        .detail(
            fields
                .iter()
                .map(|f| format!("{}: {}", f.path, f.message))
                .collect::<Vec<_>>()
                .join("; "),
        );
        err.errors = fields;
        err
    })?;
    let (from, to) = (plan.from, plan.to);
    let report = simulation::run(&ctx.service.db, plan)
        .await
        .map_err(|e| match e {
            SimulationError::TooManyClaims(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Too many claims")
                    .field("from", format!("{e}; narrow the range"))
            }
            SimulationError::Storage(e) => crate::service::ServiceError::Storage(e).into(),
            SimulationError::Internal(e) => crate::service::ServiceError::Internal(e).into(),
        })?;
    Ok(match format {
        Format::Json => json_response(StatusCode::OK, &report),
        Format::Html => {
            let mut resp = (StatusCode::OK, crate::sim::html::render(&report)).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"simulation-{from}-{to}.html\""
            )) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
    })
}
