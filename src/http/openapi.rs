//! `GET /openapi.json`: the API described with utoipa, and the documented
//! shapes of bodies the engine defines (the claim and the answer live in
//! the engine, which knows nothing of OpenAPI, so they are mirrored here).

use super::ApiContext;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub fn router() -> Router<ApiContext> {
    Router::new().route("/openapi.json", get(openapi_json))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "medaid", description = "One-stop settlement (一站式结算) for medical aid: DESIGN.md §7."),
    paths(
        super::settlements::settle,
        super::settlements::preview,
        super::settlements::read,
        super::settlements::list,
        super::settlements::cancel,
        super::settlements::reverse,
        super::settlements::slip,
        super::persons::accumulators,
        super::recon::status,
        super::recon::statement,
        super::recon::details,
        super::recon::clearing,
        super::recon::disbursement,
        super::recon::ledger,
        super::recon::check_totals,
        super::recon::check_details,
        super::recon::close,
        super::recon::reopen,
        super::recon::roster_match,
        super::recon::resettle_preview,
        super::recon::resettle_confirm,
        super::simulations::simulate,
        crate::console::api::upload_policy,
        crate::console::api::simulation,
        super::health::healthz,
        super::health::readyz,
        super::access::list,
        super::health::metrics,
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "settlements", description = "Settle, preview, read, list, cancel; the slip"),
        (name = "persons", description = "Annual accumulators"),
        (name = "reconciliation", description = "The medical-aid centre's month: statements, checks, clearing, ledgers, close; roster matching and 应退应补"),
        (name = "simulations", description = "Funding-gap simulation on the stored claims (admin)"),
        (name = "policies", description = "Upload a policy, in force from its effective_from without a restart (admin)"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API key: mdk_…"))
                    .build(),
            ),
        );
    }
}

async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "openapi does not serialize");
            super::error::ApiError::internal().into_response()
        }
    }
}

/// A claim (DESIGN.md §3). Amounts are decimal strings in yuan with at most
/// two decimals. `categories` and `hospital_level` are ignored by the
/// service, which takes them from its registry and hospital directory.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClaimDoc {
    #[schema(example = "H0001-20170510-0001")]
    claim_id: String,
    /// Must be the key's hospital (filled in when empty).
    #[schema(example = "H0001")]
    hospital: Option<String>,
    person_id: String,
    #[schema(example = "inpatient")]
    medical_type: String,
    #[schema(example = "2017-05-01")]
    admitted_on: String,
    #[schema(example = "2017-05-10")]
    discharged_on: String,
    /// ICD-10 codes; the first is the primary diagnosis.
    diagnoses: Option<Vec<String>>,
    /// 1 to 10 000 items.
    items: Vec<ItemDoc>,
}

/// One line of the bill.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ItemDoc {
    code: Option<String>,
    name: Option<String>,
    /// Matched by the waivers: registration, injection, dressing, ambulance, …
    kind: Option<String>,
    /// A (甲类), B (乙类) or C (丙类/自费).
    #[schema(example = "A")]
    class: String,
    #[schema(example = "320.00")]
    amount: String,
    /// 限价: the part of `amount` above it is out of policy.
    limit_amount: Option<String>,
}

/// The settlement answer (DESIGN.md §5).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AnswerDoc {
    settlement_id: Option<String>,
    /// settled | cancelled | preview
    status: Option<String>,
    settled_at: Option<String>,
    claim_id: String,
    person_id: String,
    hospital: String,
    medical_type: String,
    policy_id: String,
    policy_hash: String,
    year: i32,
    total: String,
    free_items: String,
    reduction: String,
    hospital_waived: String,
    over_limit: String,
    self_pay_first: String,
    fully_self_pay: String,
    in_policy: String,
    layers: Vec<LayerAnswerDoc>,
    fund_paid: String,
    patient_payable: String,
    #[schema(example = "0.8167")]
    reimbursement_ratio: String,
    explanation: Vec<String>,
    /// Cancelled settlements only.
    cancelled_at: Option<String>,
    /// Cancelled settlements only: the reversal (冲红) row.
    reversal_id: Option<String>,
}

/// One payer layer of the answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LayerAnswerDoc {
    id: String,
    name: String,
    /// insurance | aid | government | charity
    payer: String,
    fund_code: String,
    applied: bool,
    base: String,
    deductible: String,
    eligible: String,
    ratio: Option<String>,
    paid: String,
    cap_limited: bool,
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
