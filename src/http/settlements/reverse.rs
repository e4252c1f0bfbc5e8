//! `POST /v1/settlements/reverse`: 冲正 by claim id, for a hospital whose
//! settle call timed out and which does not know whether it settled.

use super::{query, too_late, ViewQuery};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::limits::Deadline;
use crate::http::{answer_response, json_response, read_text, ApiContext, View};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

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
