//! `/v1/settlements`: settle (结算), preview (预结算), read, list, cancel
//! (撤销) and the printable slip (一站式结算单).

pub mod docs;
pub mod list;
pub mod nhsa;
pub mod reverse;
pub mod slip;

use super::auth::Caller;
use super::error::{ApiError, Problem};
use super::limits::Deadline;
use super::{answer_response, read_text, ApiContext, View, NHSA_MEDIA_TYPE};
use crate::engine::Claim;
use crate::service::{parse_claim, ServiceError};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use docs::{AnswerDoc, ClaimDoc};
use nhsa::{is_platform_request, nhsa_error, nhsa_media, platform_claim, wants_nhsa};
use serde::Deserialize;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/settlements", post(settle).get(list::list))
        .route("/v1/settlements/preview", post(preview))
        .route("/v1/settlements/reverse", post(reverse::reverse))
        .route("/v1/settlements/{id}", get(read))
        .route("/v1/settlements/{id}/cancel", post(cancel))
        .route("/v1/settlements/{id}/slip", get(slip::slip))
        .route("/v1/nhsa/2304", post(nhsa::nhsa_settle))
        .route("/v1/nhsa/2303", post(nhsa::nhsa_preview))
}

/// `?view=nhsa` answers in the national platform's names.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// `nhsa` for the national platform's names (docs/nhsa-interface.md); also
    /// `Accept: application/vnd.nhsa+json`.
    pub view: Option<String>,
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
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
    ), description = "The claim (docs/claims-and-answers.md), JSON or XML by Content-Type"),
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
    caller: Result<Caller, ApiError>,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let platform = is_platform_request(&headers);
    let nhsa = platform || wants_nhsa(&q, &headers);
    let media = nhsa_media(platform, &headers);
    let deadline = deadline.map(|Extension(d)| d);
    match settle_inner(&ctx, deadline, caller, q, &headers, body, platform).await {
        Ok(r) => r,
        Err(e) if nhsa => nhsa_error(e, platform, media),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn settle_inner(
    ctx: &ApiContext,
    deadline: Option<Deadline>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
    platform: bool,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let (hospital, view, claim) = claim_request(ctx, &caller, q, headers, body, platform)
        .await
        .inspect_err(|_| ctx.metrics.outcome("settle", "rejected"))?;
    let insutype = claim.insurance_type.clone();
    // Run to completion even if the client goes away: a settlement either
    // commits whole or not at all, and the retry finds it.
    let service = ctx.service.clone();
    // Within the request's deadline: past it the transaction is dropped
    // (rolled back) and the answer is 503, nothing written.
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
            let mut resp = respond(ctx, status, s.answer_json, view, insutype).await;
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

/// Answer `answer_json` in `view`: as stored, or in the platform's 2304
/// envelope with the person's registry name, the claim's insurance type
/// and the policy's region.
async fn respond(
    ctx: &ApiContext,
    status: StatusCode,
    answer_json: String,
    view: View,
    insutype: Option<String>,
) -> Response {
    if view == View::Standard {
        return answer_response(status, answer_json, view);
    }
    let a: crate::engine::Answer = match serde_json::from_str(&answer_json) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "stored answer does not parse");
            return ApiError::internal().into_response();
        }
    };
    let person = crate::engine::nhsa::NhsaPerson {
        name: ctx
            .service
            .db
            .person_name(&a.person_id)
            .await
            .ok()
            .flatten(),
        insutype,
        region: ctx
            .service
            .policies
            .iter()
            .find(|p| p.id == a.policy_id)
            .map(|p| p.region.clone()),
    };
    let media = if view == View::NhsaMedia {
        NHSA_MEDIA_TYPE
    } else {
        "application/json"
    };
    let body = crate::engine::nhsa::answer_2304(&a, &person);
    let mut resp = super::json_response(status, &body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    resp
}

/// The insurance type of a stored claim.
fn stored_insutype(claim_json: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(claim_json)
        .ok()?
        .get("insurance_type")?
        .as_str()
        .map(str::to_string)
}

/// A write stopped at the request's deadline: rolled back.
pub(super) fn too_late() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Timed out, try again").detail(
        "the database did not answer in time; nothing was written, and the same request may be sent again",
    )
}

/// What settle and preview both read from a request: the caller's hospital,
/// the answer's view, and the claim (JSON or XML by Content-Type).
async fn claim_request(
    ctx: &ApiContext,
    caller: &Caller,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
    platform: bool,
) -> Result<(String, View, Claim), ApiError> {
    let hospital = caller.hospital()?.to_string();
    let view = if platform {
        View::NhsaMedia
    } else {
        View::of(query(q)?.view.as_deref(), headers)?
    };
    let text = read_text(body).await?;
    let claim = if platform {
        platform_claim(ctx, &text)?
    } else {
        let xml = is_xml(headers, &text)?;
        parse_claim(&text, xml)?
    };
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
    caller: Result<Caller, ApiError>,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let platform = is_platform_request(&headers);
    let nhsa = platform || wants_nhsa(&q, &headers);
    let media = nhsa_media(platform, &headers);
    match preview_inner(&ctx, caller, q, &headers, body, platform).await {
        Ok(r) => r,
        Err(e) if nhsa => nhsa_error(e, platform, media),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn preview_inner(
    ctx: &ApiContext,
    caller: Result<Caller, ApiError>,
    q: Result<Query<ViewQuery>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
    platform: bool,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let (hospital, view, claim) = claim_request(ctx, &caller, q, headers, body, platform).await?;
    let insutype = claim.insurance_type.clone();
    let answer = ctx.service.preview(claim, &hospital).await?;
    let json = serde_json::to_string(&answer).map_err(|_| ApiError::internal())?;
    Ok(respond(ctx, StatusCode::OK, json, view, insutype).await)
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
            let insutype = stored_insutype(&s.claim_json);
            Ok(respond(&ctx, StatusCode::OK, s.current_answer_json, view, insutype).await)
        }
        _ => Err(ApiError::not_found().detail(format!("no settlement {id:?}"))),
    }
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
    let id_for_view = id.clone();
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
            let insutype = match view {
                View::Standard => None,
                _ => match ctx.service.db.settlement(&id_for_view).await {
                    Ok(Some(s)) => stored_insutype(&s.claim_json),
                    _ => None,
                },
            };
            Ok(respond(&ctx, StatusCode::OK, c.answer_json, view, insutype).await)
        }
        Err(e) => {
            ctx.metrics.outcome("cancel", "rejected");
            Err(e.into())
        }
    }
}
