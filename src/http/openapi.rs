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
        super::settlements::nhsa_settle,
        super::settlements::nhsa_preview,
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
    modifiers(&SecurityAddon, &ErrorsAddon),
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

/// Every operation lists every status it can answer, each with an
/// example: 401 for operations behind a key, 503 where the database may be
/// busy, 500 everywhere; a problem document's example where none is given.
struct ErrorsAddon;

/// An example problem document for `status`.
fn problem_example(status: u16) -> serde_json::Value {
    use serde_json::json;
    let (title, detail, errors) = match status {
        400 => ("Bad request", None, json!([{"path": "from", "message": "expected a date YYYY-MM-DD, found \"2017-13-01\""}])),
        401 => ("Unauthorized", None, json!([{"path": "Authorization", "message": "invalid API key"}])),
        403 => ("Forbidden", Some("only a hospital key may do this; this key's role is centre"), json!([])),
        404 => ("Not found", Some("no settlement \"6f1c…\""), json!([])),
        409 => ("Claim id already used", Some("a different claim was already settled under this claim id (settlement 6f1c…)"), json!([{"path": "claim_id", "message": "already used for a different claim; send the same claim to retry, or use a new claim id"}])),
        413 => ("Request body too large", None, json!([{"path": "", "message": "the body must not exceed 4194304 bytes"}])),
        415 => ("Unsupported media type", None, json!([{"path": "Content-Type", "message": "\"text/csv\": send application/json or application/xml"}])),
        422 => ("Invalid claim", Some("items[1].amount: negative amount -2400.00"), json!([{"path": "items[1].amount", "message": "negative amount -2400.00"}])),
        503 => ("Busy, try again", Some("the database was too busy to answer in time; nothing was written, and the same request may be sent again"), json!([])),
        _ => ("Internal error", None, json!([])),
    };
    let mut v = json!({"type": "about:blank", "title": title, "status": status, "errors": errors});
    if let Some(d) = detail {
        v["detail"] = json!(d);
    }
    v
}

impl Modify for ErrorsAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = |status: u16, description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .example(Some(problem_example(status)))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let national = path.starts_with("/v1/nhsa/");
                let keyed = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let r = &mut op.responses.responses;
                if !national {
                    if keyed {
                        r.entry("401".into())
                            .or_insert_with(|| problem(401, "No or bad API key"));
                        r.entry("503".into()).or_insert_with(|| {
                            problem(503, "The database was busy: nothing written, send again")
                        });
                    }
                    r.entry("500".into())
                        .or_insert_with(|| problem(500, "Internal error (logged; no detail)"));
                }
                // Examples for the problem documents listed by the handlers.
                for (code, resp) in r.iter_mut() {
                    let Ok(status) = code.parse::<u16>() else {
                        continue;
                    };
                    if status < 400 {
                        continue;
                    }
                    if let RefOr::T(resp) = resp {
                        if let Some(c) = resp.content.get_mut("application/problem+json") {
                            if c.example.is_none() {
                                c.example = Some(problem_example(status));
                            }
                        }
                    }
                }
            }
        }
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
#[schema(example = json!({
    "claim_id": "H0002-20170510-0001", "hospital": "H0002",
    "person_id": "411303199001011234", "medical_type": "inpatient",
    "admitted_on": "2017-05-01", "discharged_on": "2017-05-10", "diagnoses": ["C34.9"],
    "items": [
        {"code": "110200001", "name": "挂号费", "kind": "registration", "class": "A", "amount": "5.00"},
        {"code": "86900123", "name": "头孢曲松", "kind": "drug", "class": "B", "amount": "320.00", "limit_amount": "300.00"}
    ]
}))]
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
#[schema(example = json!({
    "settlement_id": "6f1c2d9e-…", "status": "settled", "settled_at": "2017-05-10T10:02:11.123456+08:00",
    "claim_id": "H0002-20170510-0001", "person_id": "411303199001011234", "hospital": "H0002",
    "medical_type": "inpatient", "policy_id": "wolong-2017", "policy_hash": "d966b96e…", "year": 2017,
    "total": "325.00", "free_items": "5.00", "reduction": "32.00", "hospital_waived": "37.00",
    "over_limit": "20.00", "self_pay_first": "30.00", "fully_self_pay": "0.00", "in_policy": "275.00",
    "layers": [{"id": "basic", "name": "城乡居民基本医疗保险", "payer": "insurance", "fund_code": "390100",
                "applied": true, "base": "243.00", "deductible": "0.00", "eligible": "243.00",
                "ratio": "0.80", "paid": "194.40", "cap_limited": false}],
    "fund_paid": "228.42", "patient_payable": "59.58", "reimbursement_ratio": "0.8167",
    "explanation": ["个人自付：总费用 325.00 − 医院减免 37.00 − 基金支付 228.42 = 59.58；实际报销比例 81.67%"]
}))]
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

/// A 2301/2304-style request of the national platform
/// (`docs/nhsa-interface.md`).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({
    "infno": "2304",
    "input": {
        "data": {"mdtrt_id": "H0002-20170510-0001", "mdtrt_cert_type": "02",
                 "mdtrt_cert_no": "411303199001011234", "med_type": "21", "insutype": "390",
                 "begntime": "2017-05-01 08:00:00", "endtime": "2017-05-10 10:00:00"},
        "diseinfo": [{"diag_code": "C34.9", "maindiag_flag": "1"}],
        "feedetail": [
            {"feedetl_sn": "1", "med_list_codg": "110200001", "med_list_name": "挂号费",
             "med_chrgitm_type": "13", "chrgitm_lv": "01", "det_item_fee_sumamt": "5.00"},
            {"feedetl_sn": "2", "med_list_codg": "86900123", "med_list_name": "头孢曲松",
             "med_chrgitm_type": "09", "chrgitm_lv": "02", "det_item_fee_sumamt": "320.00",
             "cnt": "1", "pric_uplmt_amt": "300.00"}
        ]
    }
}))]
pub struct NhsaRequestDoc {
    /// `2304` (or `2303`); informative.
    infno: Option<String>,
    /// `data` (mdtrt_id, certno/mdtrt_cert_no, med_type, insutype,
    /// begntime, endtime, maindiag_code?), `feedetail` [...], `diseinfo`
    /// [...], `setldetail` [...] (funds the platform already paid).
    input: serde_json::Value,
}

/// The 2304 answer: `infcode` 0, `output.setlinfo` and `output.setldetail`.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({
    "infcode": 0, "err_msg": "",
    "output": {
        "setlinfo": {"setl_id": "6f1c…", "mdtrt_id": "H0002-20170510-0001", "psn_no": "",
            "psn_name": "张三", "psn_cert_type": "01", "certno": "411303199001011234",
            "gend": "1", "naty": "", "brdy": "1990-01-01", "age": "27.0", "insutype": "390",
            "psn_type": "", "cvlserv_flag": "0", "setl_time": "2017-05-10 10:02:11",
            "mdtrt_cert_type": "02", "med_type": "21", "medfee_sumamt": "325.00",
            "fulamt_ownpay_amt": "0.00", "overlmt_selfpay": "20.00", "preselfpay_amt": "30.00",
            "inscp_scp_amt": "275.00", "act_pay_dedc": "0.00", "hifp_pay": "194.40",
            "pool_prop_selfpay": "0.8000", "cvlserv_pay": "0.00", "hifes_pay": "0.00",
            "hifmi_pay": "0.00", "hifob_pay": "0.00", "maf_pay": "34.02", "oth_pay": "0.00",
            "fund_pay_sumamt": "228.42", "psn_part_amt": "59.58", "acct_pay": "0.00",
            "psn_cash_pay": "59.58", "hosp_part_amt": "37.00", "balc": "0.00",
            "acct_mulaid_pay": "0.00", "medins_setl_id": "H0002-20170510-0001",
            "clr_optins": "411303", "clr_way": "", "clr_type": "21", "fixmedins_code": "H0002",
            "setl_ratio": "0.8167", "refd_setl_flag": "0"},
        "setldetail": [
            {"fund_pay_type": "390100", "fund_pay_type_name": "城乡居民基本医疗保险基金",
             "inscp_scp_amt": "243.00", "crt_payb_lmt_amt": null, "fund_payamt": "194.40",
             "setl_proc_info": "城乡居民基本医疗保险：…"}
        ]
    }
}))]
pub struct Nhsa2304Doc {
    /// 0: success.
    infcode: i32,
    /// Empty on success.
    err_msg: String,
    /// `{"setlinfo": {...}, "setldetail": [...]}` (docs/nhsa-interface.md).
    output: serde_json::Value,
}

/// A refusal in the platform's envelope.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"infcode": -1, "err_msg": "结算信息有误：input.feedetail[1].det_item_fee_sumamt：negative amount -2400.00", "output": null}))]
pub struct NhsaErrorDoc {
    /// -1.
    infcode: i32,
    /// What was wrong, in Chinese, naming the request's fields.
    err_msg: String,
    /// null.
    output: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_lists_its_errors_with_examples() {
        let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let keyed = op
                    .get("security")
                    .and_then(|s| s.as_array())
                    .is_some_and(|s| !s.is_empty());
                if !path.starts_with("/v1/nhsa/") {
                    assert!(responses.contains_key("500"), "{method} {path}: no 500");
                    if keyed {
                        for s in ["401", "503"] {
                            assert!(responses.contains_key(s), "{method} {path}: no {s}");
                        }
                    }
                }
                for (status, r) in responses {
                    if status.as_str() < "400" {
                        continue;
                    }
                    for (media, c) in r["content"].as_object().into_iter().flatten() {
                        assert!(
                            c.get("example").is_some_and(|e| !e.is_null())
                                || c["schema"].get("$ref").is_some(),
                            "{method} {path} {status} {media}: no example"
                        );
                    }
                }
                operations += 1;
            }
        }
        assert!(operations > 20);
        let schemas = &spec["components"]["schemas"];
        for s in [
            "ClaimDoc",
            "AnswerDoc",
            "NhsaRequestDoc",
            "Nhsa2304Doc",
            "NhsaErrorDoc",
        ] {
            assert!(!schemas[s]["example"].is_null(), "{s} has no example");
        }
    }
}
