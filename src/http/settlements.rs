//! `/v1/settlements`: settle (结算), preview (预结算), read, list, cancel
//! (撤销) and the printable slip (一站式结算单).

use super::auth::Caller;
use super::error::{ApiError, Problem};
use super::limits::Deadline;
use super::openapi::{AnswerDoc, ClaimDoc, SettlementList, SettlementSummary};
use super::{answer_response, json_response, read_text, ApiContext, View};
use crate::engine::Claim;
use crate::money::{fmt2, from_fen};
use crate::service::{parse_claim, ServiceError};
use crate::storage::ListFilter;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/settlements", post(settle).get(list))
        .route("/v1/settlements/preview", post(preview))
        .route("/v1/settlements/reverse", post(reverse))
        .route("/v1/settlements/{id}", get(read))
        .route("/v1/settlements/{id}/cancel", post(cancel))
        .route("/v1/settlements/{id}/slip", get(slip))
}

/// `?view=nhsa` answers in the national platform's names.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// `nhsa` for the national platform's names (DESIGN.md §5a); also
    /// `Accept: application/vnd.nhsa+json`.
    pub view: Option<String>,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request("query", e.body_text()))
}

/// Whether the body is XML: by Content-Type, or, when the sender named no
/// useful type (none, `text/plain`, or curl's default
/// `application/x-www-form-urlencoded`), by its first character. 415 for
/// anything else.
fn is_xml(headers: &HeaderMap, body: &str) -> Result<bool, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let media = ct.split(';').next().unwrap_or("").trim();
    if media == "application/xml" || media == "text/xml" || media.ends_with("+xml") {
        Ok(true)
    } else if media == "application/json" || media.ends_with("+json") {
        Ok(false)
    } else if media.is_empty()
        || media == "text/plain"
        || media == "application/x-www-form-urlencoded"
        || media == "*/*"
    {
        Ok(body.trim_start().starts_with('<'))
    } else {
        Err(
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type").field(
                "Content-Type",
                format!("{media:?}: send application/json or application/xml"),
            ),
        )
    }
}

/// Settle and commit a claim (结算).
///
/// Categories come from the registry as of the discharge date, the level
/// from the hospital directory, the policy from the hospital's region and
/// the discharge date. Idempotent on (hospital, claim_id): the same claim
/// again returns the stored answer (200, `Idempotent-Replayed: true`); a
/// different claim under a used id is 409.
#[utoipa::path(post, path = "/v1/settlements", tag = "settlements", params(ViewQuery),
    request_body(content(
        (ClaimDoc = "application/json"),
        (ClaimDoc = "application/xml")
    ), description = "The claim (DESIGN.md §3), JSON or XML by Content-Type"),
    responses(
        (status = 201, description = "Settled", body = AnswerDoc),
        (status = 200, description = "Retry of a settled claim: the stored answer", body = AnswerDoc),
        (status = 400, description = "Unreadable document", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a hospital key, or another hospital's claim", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A different claim under this claim id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn settle(
    State(ctx): State<ApiContext>,
    deadline: Option<Extension<Deadline>>,
    caller: Caller,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (hospital, view, claim) = claim_request(&caller, q, &headers, body)
        .await
        .inspect_err(|_| ctx.metrics.outcome("settle", "rejected"))?;
    // Run to completion even if the client goes away: a settlement either
    // commits whole or not at all, and the retry finds it.
    let service = ctx.service.clone();
    // Within the request's deadline: past it the transaction is dropped
    // (rolled back) and the answer is 503, nothing written.
    let deadline = deadline.map(|Extension(d)| d);
    let result =
        tokio::spawn(
            async move { Deadline::run(deadline, service.settle(claim, &hospital)).await },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "settlement task failed");
            ApiError::internal()
        })?
        .ok_or_else(too_late)?;
    match result {
        Ok(s) => {
            ctx.metrics
                .outcome("settle", if s.created { "created" } else { "replayed" });
            let status = if s.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut resp = answer_response(status, s.answer_json, view);
            if let Ok(v) = HeaderValue::from_str(&format!("/v1/settlements/{}", s.settlement_id)) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            if !s.created {
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(resp)
        }
        Err(e) => {
            ctx.metrics.outcome(
                "settle",
                match e {
                    ServiceError::Conflict { .. } | ServiceError::Voided { .. } => "conflict",
                    ServiceError::Storage(_) | ServiceError::Internal(_) => "failed",
                    _ => "rejected",
                },
            );
            Err(e.into())
        }
    }
}

/// A write stopped at the request's deadline: rolled back.
fn too_late() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Timed out, try again").detail(
        "the database did not answer in time; nothing was written, and the same request may be sent again",
    )
}

/// What settle and preview both read from a request: the caller's hospital,
/// the answer's view, and the claim (JSON or XML by Content-Type).
async fn claim_request(
    caller: &Caller,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, View, Claim), ApiError> {
    let hospital = caller.hospital()?.to_string();
    let view = View::of(query(q)?.view.as_deref(), headers)?;
    let text = read_text(body).await?;
    let xml = is_xml(headers, &text)?;
    let claim = parse_claim(&text, xml)?;
    Ok((hospital, view, claim))
}

/// Preview a settlement (预结算): the same answer on the current
/// accumulators; nothing is stored.
#[utoipa::path(post, path = "/v1/settlements/preview", tag = "settlements", params(ViewQuery),
    request_body(content(
        (ClaimDoc = "application/json"),
        (ClaimDoc = "application/xml")
    )),
    responses(
        (status = 200, description = "The answer, status `preview`", body = AnswerDoc),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn preview(
    State(ctx): State<ApiContext>,
    caller: Caller,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (hospital, view, claim) = claim_request(&caller, q, &headers, body).await?;
    let answer = ctx.service.preview(claim, &hospital).await?;
    let json = serde_json::to_string(&answer).map_err(|_| ApiError::internal())?;
    Ok(answer_response(StatusCode::OK, json, view))
}

/// A settlement's current answer (status `settled` or `cancelled`).
#[utoipa::path(get, path = "/v1/settlements/{id}", tag = "settlements",
    params(("id" = String, Path, description = "settlement id"), ViewQuery),
    responses(
        (status = 200, description = "The stored answer", body = AnswerDoc),
        (status = 404, description = "No such settlement for this key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn read(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = View::of(query(q)?.view.as_deref(), &headers)?;
    let s = ctx
        .service
        .db
        .settlement(&id)
        .await
        .map_err(ServiceError::from)?;
    match s {
        Some(s) if caller.can_read(&s.hospital) => {
            Ok(answer_response(StatusCode::OK, s.current_answer_json, view))
        }
        _ => Err(ApiError::not_found().detail(format!("no settlement {id:?}"))),
    }
}

/// Filters and page of the settlement list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this person's settlements.
    pub person: Option<String>,
    /// Only the settlement of this claim id (冲正: did my claim settle?).
    pub claim_id: Option<String>,
    /// Discharged on or after (YYYY-MM-DD).
    pub from: Option<String>,
    /// Discharged on or before (YYYY-MM-DD).
    pub to: Option<String>,
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Rows per page, 1–500 (default 50).
    pub per_page: Option<i64>,
}

fn date_param(name: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|d| Some(d.to_string()))
            .map_err(|_| {
                ApiError::bad_request(name, format!("expected a date YYYY-MM-DD, found {s:?}"))
            }),
    }
}

/// Settlements, oldest first, paged: a hospital key sees its own, the
/// centre and admin see all. Cancelled ones are listed with status
/// `cancelled`.
#[utoipa::path(get, path = "/v1/settlements", tag = "settlements", params(ListQuery),
    responses((status = 200, description = "A page of settlements", body = SettlementList)),
    security(("bearer" = [])))]
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("page", "must be 1 or more"));
    }
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=500).contains(&per_page) {
        return Err(ApiError::bad_request(
            "per_page",
            "must be between 1 and 500",
        ));
    }
    let from = date_param("from", q.from)?;
    let to = date_param("to", q.to)?;
    let filter = ListFilter {
        hospital: caller.read_scope().map(str::to_string),
        person_id: q.person.filter(|p| !p.trim().is_empty()),
        claim_id: q.claim_id.filter(|c| !c.is_empty()),
        from,
        to,
        limit: per_page,
        offset: (page - 1).saturating_mul(per_page),
    };
    let (rows, total) = ctx
        .service
        .db
        .list_settlements(&filter)
        .await
        .map_err(ServiceError::from)?;
    let items = rows
        .into_iter()
        .map(|s| SettlementSummary {
            settlement_id: s.id,
            claim_id: s.claim_id,
            hospital: s.hospital,
            person_id: s.person_id,
            medical_type: s.medical_type,
            admitted_on: s.admitted_on,
            discharged_on: s.discharged_on,
            policy_id: s.policy_id,
            status: if s.cancelled { "cancelled" } else { "settled" }.to_string(),
            total: fmt2(from_fen(s.total)),
            hospital_waived: fmt2(from_fen(s.hospital_waived)),
            fund_paid: fmt2(from_fen(s.fund_paid)),
            patient_payable: fmt2(from_fen(s.patient_payable)),
            settled_at: s.committed_at,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &SettlementList {
            items,
            page,
            per_page,
            total,
        },
    ))
}

/// Cancel a settlement (撤销): a reversal (冲红) row with every amount
/// negated; the accumulators move back by exactly what it added.
/// Idempotent: cancelling again returns the same answer.
#[utoipa::path(post, path = "/v1/settlements/{id}/cancel", tag = "settlements",
    params(("id" = String, Path, description = "settlement id"), ViewQuery),
    responses(
        (status = 200, description = "The cancelled answer (status `cancelled`, `reversal_id`, `cancelled_at`)", body = AnswerDoc),
        (status = 403, description = "Not a hospital key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such settlement of this hospital", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(ctx): State<ApiContext>,
    deadline: Option<Extension<Deadline>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hospital = caller.hospital()?.to_string();
    let view = View::of(query(q)?.view.as_deref(), &headers)?;
    let service = ctx.service.clone();
    let deadline = deadline.map(|Extension(d)| d);
    let result =
        tokio::spawn(
            async move { Deadline::run(deadline, service.cancel(&id, Some(&hospital))).await },
        )
        .await
        .map_err(|_| ApiError::internal())?
        .ok_or_else(too_late)?;
    match result {
        Ok(c) => {
            ctx.metrics
                .outcome("cancel", if c.now { "cancelled" } else { "replayed" });
            Ok(answer_response(StatusCode::OK, c.answer_json, view))
        }
        Err(e) => {
            ctx.metrics.outcome("cancel", "rejected");
            Err(e.into())
        }
    }
}

/// The body of a 冲正.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// The claim id the hospital sent (its own, not the settlement id).
    pub claim_id: String,
}

/// The answer of a 冲正 of a claim that was never settled.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Voided {
    pub claim_id: String,
    pub hospital: String,
    /// `voided`: the claim was not settled and never will be under this id.
    pub status: &'static str,
    pub voided_at: String,
}

/// Reverse a claim by its claim id (冲正, the platform's 2601), for a
/// hospital whose settle call timed out. If the claim settled, the
/// settlement is cancelled (as `…/cancel`, the cancelled answer); if it
/// never arrived, that is recorded, and a late copy of it is refused with
/// 409. Idempotent: the same answer again.
#[utoipa::path(post, path = "/v1/settlements/reverse", tag = "settlements", params(ViewQuery),
    request_body(content = ReverseRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The cancelled answer (status `cancelled`), or `{status: \"voided\"}` for a claim that never arrived", body = Voided),
        (status = 403, description = "Not a hospital key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No claim id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reverse(
    State(ctx): State<ApiContext>,
    deadline: Option<Extension<Deadline>>,
    caller: Caller,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let hospital = caller.hospital()?.to_string();
    let view = View::of(query(q)?.view.as_deref(), &headers)?;
    let text = read_text(body).await?;
    let req: ReverseRequest = serde_json::from_str(&text).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request")
            .field("claim_id", format!("expected {{\"claim_id\": \"…\"}}: {e}"))
    })?;
    let claim_id = req.claim_id;
    if claim_id.trim().is_empty()
        || claim_id.chars().count() > 128
        || claim_id.chars().any(char::is_control)
    {
        return Err(
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request")
                .field("claim_id", "a claim id: 1 to 128 printable characters"),
        );
    }
    let service = ctx.service.clone();
    let key_id = caller.key_id.clone();
    let deadline = deadline.map(|Extension(d)| d);
    // Run to completion even if the client goes away, as a settlement.
    let result = tokio::spawn(Deadline::run(deadline, async move {
        match service.db.void_claim(&hospital, &claim_id, &key_id).await? {
            Ok(at) => Ok(Err(Voided {
                claim_id,
                hospital,
                status: "voided",
                voided_at: at,
            })),
            Err(settlement_id) => service
                .cancel(&settlement_id, Some(&hospital))
                .await
                .map(Ok),
        }
    }))
    .await
    .map_err(|_| ApiError::internal())?
    .ok_or_else(too_late)?;
    match result {
        Ok(Ok(c)) => {
            ctx.metrics
                .outcome("reverse", if c.now { "cancelled" } else { "replayed" });
            Ok(answer_response(StatusCode::OK, c.answer_json, view))
        }
        Ok(Err(v)) => {
            ctx.metrics.outcome("reverse", "voided");
            Ok(json_response(StatusCode::OK, &v))
        }
        Err(e) => {
            ctx.metrics.outcome("reverse", "failed");
            Err(e.into())
        }
    }
}

/// The printable one-stop settlement slip (一站式结算单), HTML.
#[utoipa::path(get, path = "/v1/settlements/{id}/slip", tag = "settlements",
    params(("id" = String, Path, description = "settlement id")),
    responses(
        (status = 200, description = "Printable HTML", content_type = "text/html"),
        (status = 404, description = "No such settlement for this key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn slip(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = &ctx.service.db;
    let s = match db.settlement(&id).await.map_err(ServiceError::from)? {
        Some(s) if caller.can_read(&s.hospital) => s,
        _ => return Err(ApiError::not_found().detail(format!("no settlement {id:?}"))),
    };
    let answer: crate::engine::Answer =
        serde_json::from_str(&s.current_answer_json).map_err(|e| {
            tracing::error!(error = %e, "stored answer does not parse");
            ApiError::internal()
        })?;
    let hospital = db.hospital(&s.hospital).await.map_err(ServiceError::from)?;
    let person_name = db
        .person_name(&s.person_id)
        .await
        .map_err(ServiceError::from)?;
    let medical_type = ctx
        .service
        .policies
        .iter()
        .find(|p| p.id == answer.policy_id)
        .and_then(|p| {
            p.medical_types
                .iter()
                .find(|(id, _)| *id == answer.medical_type)
        })
        .map(|(_, label)| label.as_str());
    let html = super::slip::render(
        &answer,
        &super::slip::Labels {
            hospital: hospital.as_ref().map(|h| h.name.as_str()),
            person: person_name.as_deref(),
            medical_type,
        },
    );
    let mut resp = (StatusCode::OK, html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(resp)
}
