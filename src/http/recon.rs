//! The medical-aid centre's endpoints: monthly statements,
//! checks against the hospitals' books, clearing, the disbursement report,
//! ledgers, month close/reopen, roster matching and 应退应补.
//!
//! Every report answers in JSON (default), CSV, XML or XLSX: `?format=`,
//! or `Accept: text/csv | application/xml | application/vnd.openxmlformats-…`;
//! `?table=NAME` keeps one table (a plain CSV). Centre and admin keys read
//! every hospital (`?hospital=` narrows); a hospital key reads its own
//! statement, details, clearing and checks only.

use super::auth::Caller;
use super::error::{ApiError, Problem};
use super::{json_response, read_text, ApiContext};
use crate::recon::ledger::LedgerKind;
use crate::recon::report::{Format, RenderOptions, Report};
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
    /// CSV and XLSX with machine ids and keys (for scripts).
    pub ids: Option<bool>,
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

async fn report_response(
    ctx: &ApiContext,
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
    let opts = match format {
        Format::Csv | Format::Xlsx => {
            let hospital = report.param_value("hospital");
            ctx.service
                .render_options(
                    hospital.as_deref().filter(|h| *h != "all"),
                    q.ids.unwrap_or(false),
                )
                .await?
        }
        _ => RenderOptions::default(),
    };
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "report does not render");
        ApiError::internal()
    };
    // One table per CSV file: several tables come as a ZIP of them.
    let (bytes, media, ext) = if format == Format::Csv && report.tables.len() > 1 {
        let files = report.csv_files(&opts).map_err(|e| failed(&e))?;
        (
            zip_files(&report, files).map_err(|e| failed(&e))?,
            "application/zip",
            "zip",
        )
    } else {
        let b = report.render_with(format, &opts).map_err(|e| failed(&e))?;
        (b, format.content_type(), format.extension())
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(media) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if matches!(format, Format::Csv | Format::Xlsx) {
        let ascii = report.file_name(ext);
        let words = report.display_file_name(ext, &opts);
        let value = format!(
            "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
            percent_encode(&words)
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

/// RFC 5987 encoding of a file name.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A ZIP of one CSV per table, named `<report file>-<table>.csv`.
fn zip_files(report: &Report, files: Vec<(String, Vec<u8>)>) -> zip::result::ZipResult<Vec<u8>> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stem = report.file_name("csv");
    let stem = stem.trim_end_matches(".csv");
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        w.start_file(format!("{stem}-{}.csv", name.replace('_', "-")), opts)?;
        w.write_all(&bytes)?;
    }
    Ok(w.finish()?.into_inner())
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

#[utoipa::path(get, path = "/v1/reconciliation/{month}", tag = "reconciliation",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses(
        (status = 200, description = "Whether the month is open or closed, and its close/reopen history (centre and admin keys)", body = MonthStatusDoc),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A hospital key: who closed and reopened a month, and why, is the centre's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn status(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let m = month_of(&month)?;
    Ok(json_response(
        StatusCode::OK,
        &ctx.service.month_status(m).await?,
    ))
}

#[utoipa::path(get, path = "/v1/reconciliation/{month}/statement", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn statement(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let r = ctx.service.statement(m, h.as_deref()).await?;
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(get, path = "/v1/reconciliation/{month}/details", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn details(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let r = ctx.service.details(m, h.as_deref()).await?;
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(get, path = "/v1/reconciliation/{month}/clearing", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn clearing(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = month_of(&month)?;
    let h = scope(&caller, &q)?;
    let r = ctx.service.clearing(m, h.as_deref()).await?;
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(get, path = "/v1/reconciliation/{month}/disbursement", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn disbursement(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let m = month_of(&month)?;
    let r = ctx.service.disbursement(m, q.hospital.as_deref()).await?;
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(get, path = "/v1/reconciliation/{month}/ledgers/{kind}", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("kind" = String, Path, description = "waivers (七免一减), major-disease (大病救治) or floor (财政兜底)",
    ),
        ("to" = Option<String>, Query, description = "last month of the period (YYYY-MM; default: month)"),
        ("group" = Option<String>, Query, description = "major-disease ledger: one disease group"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"), ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"), ("table" = Option<String>, Query, description = "keep one table (a plain CSV)")),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn ledger(
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
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(post, path = "/v1/reconciliation/{month}/check-totals", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    request_body(content = String, content_type = "text/csv", description = "The hospital's totals (对总账): CSV, JSON or XML (sniffed)"),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn check_totals(
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
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(post, path = "/v1/reconciliation/{month}/check-details", tag = "reconciliation",
    params(
        ("month" = String, Path, description = "YYYY-MM"),
        ("hospital" = Option<String>, Query, description = "one hospital (centre and admin keys); a hospital key reads its own"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    request_body(content = String, content_type = "text/csv", description = "The hospital's detail lines (对明细账): CSV, JSON or XML (sniffed)"),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Bad month, format or table", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn check_details(
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
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(post, path = "/v1/reconciliation/{month}/close", tag = "reconciliation",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses(
        (status = 200, description = "Closed (月结): the statement is stored as it is now", body = MonthStatusDoc),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn close(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(month): Path<String>,
) -> Result<Response, ApiError> {
    centre_only(&caller)?;
    let m = month_of(&month)?;
    let st = ctx
        .service
        .close_month(m, &format!("{} key {}", caller.role.name(), caller.key_id))
        .await
        .map_err(|e| month_error(m, e))?;
    Ok(json_response(StatusCode::OK, &st))
}

#[derive(Debug, Deserialize)]
struct ReopenBody {
    reason: Option<String>,
}

#[utoipa::path(post, path = "/v1/reconciliation/{month}/reopen", tag = "reconciliation",
    params(("month" = String, Path, description = "YYYY-MM")),
    request_body(content = ReopenDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "Reopened; the reason is recorded", body = MonthStatusDoc),
        (status = 400, description = "No reason", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reopen(
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
        .reopen_month(m, &format!("admin key {}", caller.key_id), &reason)
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

#[utoipa::path(post, path = "/v1/registry/match", tag = "reconciliation",
    params(
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    request_body(content = MatchDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "Unreadable roster", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn roster_match(
    State(ctx): State<ApiContext>,
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
    report_response(&ctx, r, &q, &headers).await
}

#[utoipa::path(get, path = "/v1/registry/resettlements", tag = "reconciliation",
    params(
        ("person" = Option<String>, Query, description = "comma-separated person ids (default: every person whose categories changed)"),
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn resettle_preview(
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
    report_response(&ctx, r, &q, &headers).await
}

#[derive(Debug, Deserialize)]
struct ResettleBody {
    #[serde(default)]
    persons: Vec<String>,
}

#[utoipa::path(post, path = "/v1/registry/resettlements", tag = "reconciliation",
    params(
        ("format" = Option<String>, Query, description = "json (default), csv, xml or xlsx; or by Accept"),
        ("table" = Option<String>, Query, description = "keep one table (a plain CSV)"),
    ),
    request_body(content = ResettleDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The report: JSON {kind, title, params, tables[]}, or CSV, XML, XLSX by `format`/Accept", content((ReportDoc = "application/json"), (String = "text/csv"), (String = "application/xml"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, description = "Outside the key's role or hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn resettle_confirm(
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
    report_response(&ctx, r, &q, &headers).await
}

/// A report (JSON form): its tables, each with named columns and rows.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReportDoc {
    /// `statement`, `details`, `clearing`, `check_totals`, …
    kind: String,
    title: String,
    #[schema(value_type = Object)]
    params: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    tables: Vec<serde_json::Value>,
}

/// A month's state.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MonthStatusDoc {
    #[schema(example = "2017-05")]
    month: String,
    /// open | closed
    status: String,
    closed_at: Option<String>,
    closed_by: Option<String>,
    /// Close and reopen events, oldest first.
    #[schema(value_type = Vec<Object>)]
    events: Vec<serde_json::Value>,
}

/// Why a closed month is reopened.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReopenDoc {
    reason: String,
}

/// Two rosters to compare (信息比对), each the registry CSV.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MatchDoc {
    a: String,
    b: String,
    a_name: Option<String>,
    b_name: Option<String>,
    /// Compare as of this date (YYYY-MM-DD).
    on: Option<String>,
}

/// Persons to re-settle (应退应补) under their corrected categories.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ResettleDoc {
    persons: Vec<String>,
}
