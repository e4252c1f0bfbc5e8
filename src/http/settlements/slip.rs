//! `GET /v1/settlements/{id}/slip`: the stored settlement with the labels
//! a patient reads (names of the hospital, person, medical type, level and
//! categories), rendered by [`crate::http::slip`].

use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::ApiContext;
use crate::service::ServiceError;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
    let policy = ctx
        .service
        .policies
        .iter()
        .find(|p| p.id == answer.policy_id);
    let label_of = |list: Option<&Vec<(String, String)>>, id: &str| -> String {
        list.and_then(|l| l.iter().find(|(k, _)| k == id))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let medical_type = policy.map(|p| label_of(Some(&p.medical_types), &answer.medical_type));
    let level = (!s.level.is_empty()).then(|| label_of(policy.map(|p| &p.levels), &s.level));
    let categories = s
        .categories
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| label_of(policy.map(|p| &p.categories), c))
        .collect::<Vec<_>>()
        .join("、");
    let diagnoses = serde_json::from_str::<serde_json::Value>(&s.claim_json)
        .ok()
        .and_then(|c| {
            c.get("diagnoses").and_then(|d| d.as_array()).map(|d| {
                d.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            })
        })
        .filter(|d| !d.is_empty());
    let html = crate::http::slip::render(
        &answer,
        &crate::http::slip::Labels {
            hospital: hospital.as_ref().map(|h| h.name.as_str()),
            person: person_name.as_deref(),
            medical_type: medical_type.as_deref(),
            level: level.as_deref(),
            categories: Some(if categories.is_empty() {
                "无"
            } else {
                categories.as_str()
            }),
            policy: policy.map(|p| p.name.as_str()).filter(|n| !n.is_empty()),
            admitted_on: Some(s.admitted_on.as_str()),
            discharged_on: Some(s.discharged_on.as_str()),
            diagnoses: diagnoses.as_deref(),
            cancelled_at: s.cancelled_at.as_deref(),
            printed_at: None,
        },
    );
    let mut resp = (StatusCode::OK, html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(resp)
}
