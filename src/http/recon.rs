//! The medical-aid centre's endpoints (issue 5): monthly statements,
//! checks against the hospitals' books, clearing, the disbursement report,
//! ledgers, month close/reopen, roster matching and 应退应补.
//!
//! Every report answers in JSON (default), CSV, XML or XLSX: `?format=`,
//! or `Accept: text/csv | application/xml | application/vnd.openxmlformats-…`;
//! `?table=NAME` keeps one table (a plain CSV). Centre and admin keys read
//! every hospital (`?hospital=` narrows); a hospital key reads its own
//! statement, details, clearing and checks only.

use super::auth::Caller;
use super::error::ApiError;
use super::{json_response, read_text, ApiContext};
use crate::recon::ledger::LedgerKind;
use crate::recon::report::{Format, Report};
use crate::recon::Month;
use crate::service::keys::Role;
use crate::service::recon::MonthError;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/reconciliation/{month}", get(status))
        .route("/v1/reconciliation/{month}/statement", get(statement))
        .route("/v1/reconciliation/{month}/details", get(details))
        .route("/v1/reconciliation/{month}/clearing", get(clearing))
        .route("/v1/reconciliation/{month}/disbursement", get(disbursement))
        .route("/v1/reconciliation/{month}/ledgers/{kind}", get(ledger))
        .route(
            "/v1/reconciliation/{month}/check-totals",
            post(check_totals),
        )
        .route(
            "/v1/reconciliation/{month}/check-details",
            post(check_details),
        )
        .route("/v1/reconciliation/{month}/close", post(close))
        .route("/v1/reconciliation/{month}/reopen", post(reopen))
        .route("/v1/registry/match", post(roster_match))
        .route(
            "/v1/registry/resettlements",
            get(resettle_preview).post(resettle_confirm),
        )
}

#[derive(Debug, Deserialize, Default)]
pub struct ReportQuery {
    pub hospital: Option<String>,
    pub format: Option<String>,
    pub table: Option<String>,
    /// Ledgers: the last month of the period.
    pub to: Option<String>,
    /// Major-disease ledger: one disease group.
    pub group: Option<String>,
    /// Re-settlement preview: comma-separated person ids.
    pub person: Option<String>,
}

fn month_of(s: &str) -> Result<Month, ApiError> {
    s.parse()
        .map_err(|e: String| ApiError::bad_request("month", e))
}

fn centre_only(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Centre | Role::Admin => Ok(()),
        Role::Hospital(_) => Err(ApiError::forbidden(
            "only a centre or admin key may do this",
        )),
    }
}

/// The hospital a report covers: a hospital key's own; for the centre,
/// `?hospital=` or all.
fn scope(caller: &Caller, q: &ReportQuery) -> Result<Option<String>, ApiError> {
    let asked = q
        .hospital
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    match (&caller.role, asked) {
        (Role::Hospital(h), Some(a)) if a != h => Err(ApiError::forbidden(format!(
            "this key belongs to hospital {h:?} and may not read {a:?}"
        ))),
        (Role::Hospital(h), _) => Ok(Some(h.clone())),
        (_, a) => Ok(a.map(str::to_string)),
    }
}

fn format_of(q: &ReportQuery, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(f) = q.format.as_deref().filter(|f| !f.is_empty()) {
        return f
            .parse()
            .map_err(|e: String| ApiError::bad_request("format", e));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains("text/csv") {
        Format::Csv
    } else if accept.contains("spreadsheetml") {
        Format::Xlsx
    } else if accept.contains("/xml") {
        Format::Xml
    } else {
        Format::Json
    })
}

fn report_response(
    report: Report,
    q: &ReportQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let format = format_of(q, headers)?;
    let report = match q.table.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => report
            .only_table(t)
            .map_err(|e| ApiError::bad_request("table", e.to_string()))?,
        None => report,
    };
    let bytes = report.render(format).map_err(|e| {
        tracing::error!(error = %e, "report does not render");
        ApiError::internal()
    })?;
    let mut resp = (StatusCode::OK, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(format.content_type()) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if format == Format::Xlsx {
        let name = format!("attachment; filename=\"{}.xlsx\"", report.kind);
        if let Ok(v) = HeaderValue::from_str(&name) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

fn month_error(month: Month, e: MonthError) -> ApiError {
    match e {
        MonthError::AlreadyClosed(at) => ApiError::new(StatusCode::CONFLICT, "Already closed")
            .detail(format!(
                "month {month} is already closed{}",
                at.map(|a| format!(" (since {a})")).unwrap_or_default()
            )),
        MonthError::NotClosed => ApiError::new(StatusCode::CONFLICT, "Not closed")
            .detail(format!("month {month} is not closed")),
        MonthError::Service(e) => e.into(),
    }
}

async fn status(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
) -> Result<Response, ApiError> {
    let _ = caller;
    let m = month_of(&month)?;
    Ok(json_response(
        StatusCode::OK,
        &ctx.service.month_status(m).await?,
    ))
}

async fn statement(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let r = ctx.service.statement(m, h.as_deref()).await?;
    report_response(r, &q, &headers)
}

async fn details(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let r = ctx.service.details(m, h.as_deref()).await?;
    report_response(r, &q, &headers)
}

async fn clearing(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let r = ctx.service.clearing(m, h.as_deref()).await?;
    report_response(r, &q, &headers)
}

async fn disbursement(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let m = month_of(&month)?;
    let r = ctx.service.disbursement(m, q.hospital.as_deref()).await?;
    report_response(r, &q, &headers)
}

async fn ledger(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path((month, kind)): Path<(String, String)>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let m = month_of(&month)?;
    let kind: LedgerKind = kind
        .parse()
        .map_err(|e: String| ApiError::bad_request("kind", e))?;
    let to = match q.to.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => t
            .parse()
            .map_err(|e: String| ApiError::bad_request("to", e))?,
        None => m,
    };
    let r = ctx
        .service
        .ledger(kind, m, to, q.hospital.as_deref(), q.group.as_deref())
        .await?;
    report_response(r, &q, &headers)
}

async fn check_totals(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let text = read_text(body).await?;
    let r = ctx
        .service
        .check_totals(m, h.as_deref(), text.as_bytes())
        .await?;
    report_response(r, &q, &headers)
}

async fn check_details(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let text = read_text(body).await?;
    let r = ctx
        .service
        .check_details(m, h.as_deref(), text.as_bytes())
        .await?;
    report_response(r, &q, &headers)
}

async fn close(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let m = month_of(&month)?;
    let st = ctx
        .service
        .close_month(m, caller.role.name())
        .await
        .map_err(|e| month_error(m, e))?;
    Ok(json_response(StatusCode::OK, &st))
}

#[derive(Debug, Deserialize)]
struct ReopenBody {
    reason: Option<String>,
}

async fn reopen(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    if caller.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only an admin key may reopen a closed month",
        ));
    }
    let m = month_of(&month)?;
    let text = read_text(body).await?;
    let b: ReopenBody = serde_json::from_str(if text.trim().is_empty() { "{}" } else { &text })
        .map_err(|e| ApiError::bad_request("", format!("expected {{\"reason\": \"…\"}}: {e}")))?;
    let reason = b.reason.unwrap_or_default();
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reason",
            "reopening a closed month needs a reason",
        ));
    }
    let st = ctx
        .service
        .reopen_month(m, "admin", &reason)
        .await
        .map_err(|e| month_error(m, e))?;
    Ok(json_response(StatusCode::OK, &st))
}

#[derive(Debug, Deserialize)]
struct MatchBody {
    a: String,
    b: String,
    a_name: Option<String>,
    b_name: Option<String>,
    on: Option<chrono::NaiveDate>,
}

async fn roster_match(
    caller: Caller,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let text = read_text(body).await?;
    let b: MatchBody = serde_json::from_str(&text).map_err(|e| {
        ApiError::bad_request(
            "",
            format!("expected {{\"a\": CSV, \"b\": CSV, \"on\"?}}: {e}"),
        )
    })?;
    use crate::recon::roster::{match_report, read_roster};
    let ra = read_roster(b.a.as_bytes()).map_err(|e| ApiError::bad_request("a", e))?;
    let rb = read_roster(b.b.as_bytes()).map_err(|e| ApiError::bad_request("b", e))?;
    let r = match_report(
        &ra,
        &rb,
        b.a_name.as_deref().unwrap_or("A"),
        b.b_name.as_deref().unwrap_or("B"),
        b.on,
    );
    report_response(r, &q, &headers)
}

async fn resettle_preview(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let persons: Vec<String> = q
        .person
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let r = ctx.service.resettle_preview(&persons).await?;
    report_response(r, &q, &headers)
}

#[derive(Debug, Deserialize)]
struct ResettleBody {
    #[serde(default)]
    persons: Vec<String>,
}

async fn resettle_confirm(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let text = read_text(body).await?;
    let b: ResettleBody = serde_json::from_str(if text.trim().is_empty() { "{}" } else { &text })
        .map_err(|e| {
        ApiError::bad_request("", format!("expected {{\"persons\": [...]}}: {e}"))
    })?;
    let r = ctx.service.resettle_confirm(&b.persons).await?;
    report_response(r, &q, &headers)
}
