//! `/v1/persons/{person_id}/accumulators`: a person's annual accumulators
//! (年度累计, the national platform's 5206 query) with the caps left.

use super::auth::Caller;
use super::error::{ApiError, Problem};
use super::{json_response, ApiContext};
use crate::service::AccumulatorsView;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<ApiContext> {
    Router::new().route("/v1/persons/{person_id}/accumulators", get(accumulators))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// The year (default: the current year, China time).
    pub year: Option<String>,
}

/// A person's accumulators for a year, one line per layer of the policy of
/// their latest settlement that year (or the policy in force that year).
/// Any key may ask: a hospital checks the remaining caps of the patient in
/// front of it.
#[utoipa::path(get, path = "/v1/persons/{person_id}/accumulators", tag = "persons",
    params(("person_id" = String, Path, description = "person id"), YearQuery),
    responses(
        (status = 200, description = "The accumulators", body = AccumulatorsView),
        (status = 400, description = "Bad year", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn accumulators(
    State(ctx): State<ApiContext>,
    _caller: Caller,
    Path(person_id): Path<String>,
    q: Result<Query<YearQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = q
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let year = match q.year.as_deref().map(str::trim) {
        None | Some("") => chrono::Datelike::year(&crate::calendar::now_china()),
        Some(y) => match y.parse::<i32>() {
            Ok(y) if (1900..=9999).contains(&y) => y,
            _ => {
                return Err(ApiError::bad_request(
                    "year",
                    format!("expected a year like 2017, found {y:?}"),
                ))
            }
        },
    };
    let view = ctx
        .service
        .accumulators(&person_id, year)
        .await
        .map_err(|e| match e {
            crate::service::ServiceError::NotFound => {
                ApiError::not_found().field("person_id", "unknown person")
            }
            other => other.into(),
        })?;
    Ok(json_response(StatusCode::OK, &view))
}
