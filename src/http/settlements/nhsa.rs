//! The national platform's shape of settle and preview (2304 结算, 2303
//! 预结算, `docs/nhsa-interface.md`): telling a platform request from a
//! standard one, reading it as a claim, and refusals in its envelope.

use super::{preview_inner, settle_inner, ViewQuery};
use crate::engine::Claim;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::limits::Deadline;
use crate::http::{ApiContext, NHSA_MEDIA_TYPE};
use crate::service::parse_claim;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa::ToSchema;

/// Whether the body is a national-platform request (2301/2304 style):
/// `Content-Type: application/vnd.nhsa+json`.
pub(super) fn is_platform_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(NHSA_MEDIA_TYPE)
        })
        .unwrap_or(false)
}

/// Whether the caller asked for the national view (`?view=nhsa` or
/// `Accept: application/vnd.nhsa+json`), judged before anything else so
/// that even a refusal comes in the platform's envelope.
pub(super) fn wants_nhsa(
    q: &Result<Query<ViewQuery>, QueryRejection>,
    headers: &HeaderMap,
) -> bool {
    match q {
        Ok(Query(v)) if v.view.is_some() => v.view.as_deref() == Some("nhsa"),
        _ => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains(NHSA_MEDIA_TYPE)),
    }
}

/// The media type of a national answer: the platform's own when the
/// request used it (Content-Type or Accept), else JSON.
pub(super) fn nhsa_media(platform: bool, headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if platform || accept.contains(NHSA_MEDIA_TYPE) {
        NHSA_MEDIA_TYPE
    } else {
        "application/json"
    }
}

/// A refusal in the platform's envelope: `infcode` -1, a Chinese message
/// naming the fields (in the platform's names when the request was a
/// platform request), the HTTP status kept.
pub(super) fn nhsa_error(e: ApiError, platform: bool, media: &'static str) -> Response {
    let what = match e.status.as_u16() {
        400 => "报文无法解析",
        401 => "未提供密钥或密钥无效",
        403 => "无权办理",
        404 => "未找到该结算",
        409 => "该就诊ID已用于另一笔不同的结算",
        413 => "报文过大",
        415 => "不支持的报文类型",
        422 => "结算信息有误",
        503 => "系统繁忙，未写入任何数据，请稍后重试",
        500 => "系统内部错误",
        _ => "请求被拒绝",
    };
    let mut parts: Vec<String> = e
        .errors
        .iter()
        .map(|f| {
            let path = if platform {
                crate::engine::nhsa::request_path(&f.path)
            } else {
                f.path.clone()
            };
            if path.is_empty() {
                f.message.clone()
            } else {
                format!("{path}：{}", f.message)
            }
        })
        .collect();
    if parts.is_empty() {
        if let Some(d) = &e.detail {
            parts.push(d.clone());
        }
    }
    let msg = if parts.is_empty() {
        what.to_string()
    } else {
        format!("{what}：{}", parts.join("；"))
    };
    let body = serde_json::to_vec(&crate::engine::nhsa::error_2304(msg))
        .unwrap_or_else(|_| b"{\"infcode\":-1,\"err_msg\":\"\"}".to_vec());
    let mut resp = (e.status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if e.status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"medaid\""),
        );
    }
    resp
}

/// A 2301/2304-style request read as a claim (`docs/nhsa-interface.md`).
pub(super) fn platform_claim(ctx: &ApiContext, text: &str) -> Result<Claim, ApiError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request("", format!("malformed JSON: {e}")))?;
    let known: Vec<&str> = ctx
        .service
        .policies
        .iter()
        .flat_map(|p| p.medical_types.iter().map(|(id, _)| id.as_str()))
        .collect();
    let insutypes: Vec<&str> = ctx
        .service
        .policies
        .iter()
        .flat_map(|p| p.insurance_types.iter().map(|(id, _)| id.as_str()))
        .collect();
    let claim = crate::engine::nhsa::claim_from_request(&v, &known, &insutypes).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid claim").field(e.path, e.message)
    })?;
    Ok(parse_claim(&claim.to_string(), false)?)
}

/// 2304 (结算) in the national platform's shape: a 2301/2304-style
/// request (`{"infno": "2304", "input": {"data", "feedetail", "diseinfo",
/// "setldetail"?}}`) settled and committed like `POST /v1/settlements`,
/// answered as `{"infcode", "err_msg", "output": {"setlinfo",
/// "setldetail"}}`; refusals too (`infcode` -1, Chinese `err_msg`).
#[utoipa::path(post, path = "/v1/nhsa/2304", tag = "settlements",
    request_body(content = NhsaRequestDoc, content_type = "application/vnd.nhsa+json",
        description = "A 2301/2304-style request (docs/nhsa-interface.md)"),
    responses(
        (status = 201, description = "Settled: infcode 0", body = Nhsa2304Doc, content_type = "application/vnd.nhsa+json"),
        (status = 200, description = "Retry of a settled claim: the stored answer", body = Nhsa2304Doc, content_type = "application/vnd.nhsa+json"),
        (status = 400, description = "Unreadable request: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
        (status = 401, description = "No or bad API key: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
        (status = 403, description = "Not a hospital key: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
        (status = 409, description = "A different claim under this mdtrt_id: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
        (status = 422, description = "Invalid field, named in the platform's names: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
        (status = 503, description = "Busy, nothing written; retry: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
    ),
    security(("bearer" = [])))]
pub async fn nhsa_settle(
    State(ctx): State<ApiContext>,
    deadline: Option<Extension<Deadline>>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match settle_inner(
        &ctx,
        deadline.map(|Extension(d)| d),
        caller,
        Ok(Query(ViewQuery { view: None })),
        &headers,
        body,
        true,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => nhsa_error(e, true, NHSA_MEDIA_TYPE),
    }
}

/// 2303 (预结算) in the national platform's shape: as `/v1/nhsa/2304`,
/// nothing stored.
#[utoipa::path(post, path = "/v1/nhsa/2303", tag = "settlements",
    request_body(content = NhsaRequestDoc, content_type = "application/vnd.nhsa+json"),
    responses(
        (status = 200, description = "The answer: infcode 0", body = Nhsa2304Doc, content_type = "application/vnd.nhsa+json"),
        (status = 401, description = "No or bad API key: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
        (status = 422, description = "Invalid field: infcode -1", body = NhsaErrorDoc, content_type = "application/vnd.nhsa+json"),
    ),
    security(("bearer" = [])))]
pub async fn nhsa_preview(
    State(ctx): State<ApiContext>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match preview_inner(
        &ctx,
        caller,
        Ok(Query(ViewQuery { view: None })),
        &headers,
        body,
        true,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => nhsa_error(e, true, NHSA_MEDIA_TYPE),
    }
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
