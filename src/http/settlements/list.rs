//! `GET /v1/settlements`: the settlement list, filtered and paged, and the
//! shapes of its lines.

use super::query;
use crate::engine::codes::Status;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::{json_response, ApiContext};
use crate::money::{fmt2, from_fen};
use crate::service::ServiceError;
use crate::storage::ListFilter;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
            status: Status::stored(s.cancelled).code().to_string(),
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

/// One line of the settlement list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementSummary {
    pub settlement_id: String,
    pub claim_id: String,
    pub hospital: String,
    pub person_id: String,
    pub medical_type: String,
    pub admitted_on: String,
    pub discharged_on: String,
    pub policy_id: String,
    /// settled | cancelled
    pub status: String,
    pub total: String,
    pub hospital_waived: String,
    pub fund_paid: String,
    pub patient_payable: String,
    pub settled_at: String,
}

/// A page of settlements.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementList {
    pub items: Vec<SettlementSummary>,
    pub page: i64,
    pub per_page: i64,
    /// Settlements matching the filter, all pages.
    pub total: i64,
}
