//! Settling a claim end to end: the worked example, XML, the national
//! platform's request and names, preview, retries and a changed claim
//! under a used id.

use crate::helpers::*;
use serde_json::json;

on_both!(
    settles_the_worked_example,
    answers_in_the_national_names,
    settles_xml,
    previews_without_storing,
    retries_return_the_stored_answer,
    changed_claim_under_used_id_is_409,
    accepts_the_platform_request,
);

/// A HIS that speaks the national platform: a 2301/2304-style request on
/// `/v1/nhsa/2304` (or `/v1/settlements` with the platform's media type),
/// answered in the 2304 envelope; refusals in the same envelope.
async fn accepts_the_platform_request(app: TestApp) {
    let request = |mdtrt_id: &str| {
        json!({
            "infno": "2304",
            "input": {
                "data": {
                    "mdtrt_id": mdtrt_id, "psn_no": "41000000000000000001",
                    "mdtrt_cert_type": "02", "mdtrt_cert_no": P_DIBAO,
                    "med_type": "21", "insutype": "390",
                    "begntime": "2017-05-01 08:00:00", "endtime": "2017-05-10 10:00:00"
                },
                "diseinfo": [{"diag_code": "C34.9", "maindiag_flag": "1"}],
                "feedetail": [
                    {"feedetl_sn": "1", "med_list_codg": "110200001", "med_list_name": "挂号费",
                     "med_chrgitm_type": "13", "chrgitm_lv": "01", "det_item_fee_sumamt": "5.00"},
                    {"feedetl_sn": "2", "med_list_codg": "86900123", "med_list_name": "头孢曲松",
                     "med_chrgitm_type": "09", "chrgitm_lv": "02", "det_item_fee_sumamt": "320.00",
                     "cnt": "2", "pric_uplmt_amt": "150.00"}
                ]
            }
        })
    };
    let r = app
        .post_raw(
            "/v1/nhsa/2304",
            Some(&app.h2),
            "application/json",
            request("NH-1").to_string(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.content_type, "application/vnd.nhsa+json");
    let w = r.json();
    assert_eq!(w["infcode"], 0, "{w}");
    let info = &w["output"]["setlinfo"];
    // The same figures as the worked example in medaid's own claim form.
    assert_eq!(info["fund_pay_sumamt"], "228.42");
    assert_eq!(info["psn_part_amt"], "59.58");
    assert_eq!(info["hosp_part_amt"], "37.00");
    assert_eq!(info["mdtrt_id"], "NH-1");
    assert_eq!(info["med_type"], "21");
    assert_eq!(
        info["insutype"], "",
        "wolong-2017 declares no insurance types"
    );
    assert_eq!(info["psn_name"], "测试<患者>");
    // The same endpoint as medaid's claims, by Content-Type.
    let r = app
        .post_raw(
            "/v1/settlements",
            Some(&app.h2),
            "application/vnd.nhsa+json",
            request("NH-2").to_string(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["output"]["setlinfo"]["maf_pay"], "34.02");
    // Refusals: the platform's envelope, Chinese, the platform's field names.
    let mut bad = request("NH-3");
    bad["input"]["feedetail"][1]["det_item_fee_sumamt"] = json!("-2400.00");
    let r = app
        .post_raw(
            "/v1/nhsa/2304",
            Some(&app.h2),
            "application/json",
            bad.to_string(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let w = r.json();
    assert_eq!(w["infcode"], -1);
    let msg = w["err_msg"].as_str().unwrap();
    assert!(msg.starts_with("结算信息有误"), "{msg}");
    assert!(
        msg.contains("input.feedetail[1].det_item_fee_sumamt"),
        "{msg}"
    );
    let r = app
        .post_raw(
            "/v1/nhsa/2304",
            None,
            "application/json",
            request("NH-4").to_string(),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["infcode"], -1);
    let mut no_class = request("NH-5");
    no_class["input"]["feedetail"][0]
        .as_object_mut()
        .unwrap()
        .remove("chrgitm_lv");
    let r = app
        .post_raw(
            "/v1/nhsa/2303",
            Some(&app.h2),
            "application/json",
            no_class.to_string(),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["err_msg"]
        .as_str()
        .unwrap()
        .contains("input.feedetail[0].chrgitm_lv"));
    // The standard endpoint keeps problem+json for medaid's own claims.
    let r = app
        .post_raw("/v1/settlements", None, "application/json", "{}")
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.content_type, "application/problem+json");
}

async fn settles_the_worked_example(app: TestApp) {
    let r = app.settle(&app.h2, &design_claim("C-1", "H0002")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    let a = r.json();
    assert_eq!(a["status"], "settled");
    assert_eq!(a["policy_id"], "wolong-2017");
    assert_eq!(a["hospital_waived"], "37.00");
    assert_eq!(a["fund_paid"], "228.42");
    assert_eq!(a["patient_payable"], "59.58");
    assert_eq!(a["reimbursement_ratio"], "0.8167");
    let id = a["settlement_id"]
        .as_str()
        .expect("settlement_id")
        .to_string();
    assert_eq!(
        r.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/v1/settlements/{id}").as_str())
    );
    // Reading it back returns the very bytes answered.
    let g = app
        .get(&format!("/v1/settlements/{id}"), Some(&app.h2))
        .await;
    assert_eq!(g.status, 200);
    assert_eq!(g.text, r.text);
    // Categories and level come from the records, not the claim: a claim
    // stating "city" and "poverty" is settled as county / dibao.
    let mut lying = design_claim("C-2", "H0002");
    lying["hospital_level"] = json!("township");
    lying["categories"] = json!(["poverty"]);
    lying["person_id"] = json!(P_INSURED);
    let r2 = app.settle(&app.h2, &lying).await;
    assert_eq!(r2.status, 201, "{}", r2.text);
    assert_eq!(
        r2.json()["hospital_waived"],
        "0.00",
        "no waiver for an insured person with no category"
    );
    let acc = app.accumulators(P_DIBAO, 2017).await;
    assert_eq!(acc_field(&acc, "basic", "paid"), "194.40");
    assert_eq!(acc_field(&acc, "aid", "paid"), "34.02");
    assert_eq!(acc_field(&acc, "critical", "deductible_used"), "48.60");
    app.assert_ledger_balanced().await;
}

async fn answers_in_the_national_names(app: TestApp) {
    let r = app.settle(&app.h2, &design_claim("N-1", "H0002")).await;
    let id = r.json()["settlement_id"].as_str().unwrap().to_string();
    for (path, accept, media) in [
        (
            format!("/v1/settlements/{id}?view=nhsa"),
            None,
            "application/json",
        ),
        (
            format!("/v1/settlements/{id}"),
            Some("application/vnd.nhsa+json"),
            "application/vnd.nhsa+json",
        ),
    ] {
        let mut req = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&app.h2);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let n = app.send(req).await;
        assert_eq!(n.status, 200, "{}", n.text);
        assert_eq!(n.content_type, media);
        let w = n.json();
        // The 2304 envelope.
        assert_eq!(w["infcode"], 0);
        assert_eq!(w["err_msg"], "");
        let v = &w["output"];
        assert_eq!(v["setlinfo"]["setl_id"], id.as_str());
        assert_eq!(v["setlinfo"]["med_type"], "21", "the platform's code");
        assert_eq!(v["setlinfo"]["certno"], P_DIBAO);
        assert_eq!(v["setlinfo"]["psn_no"], "");
        assert_eq!(v["setlinfo"]["psn_cert_type"], "01");
        assert_eq!(v["setlinfo"]["gend"], "1");
        assert_eq!(v["setlinfo"]["brdy"], "1990-01-01");
        assert_eq!(v["setlinfo"]["psn_cash_pay"], "59.58");
        assert_eq!(v["setlinfo"]["acct_pay"], "0.00");
        assert_eq!(v["setlinfo"]["clr_type"], "21");
        let t = v["setlinfo"]["setl_time"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok(),
            "setl_time {t}"
        );
        assert_eq!(v["setlinfo"]["medfee_sumamt"], "325.00");
        assert_eq!(v["setlinfo"]["fund_pay_sumamt"], "228.42");
        assert_eq!(v["setlinfo"]["hifp_pay"], "194.40");
        assert_eq!(v["setlinfo"]["maf_pay"], "34.02");
        assert_eq!(v["setlinfo"]["hosp_part_amt"], "37.00");
        assert_eq!(v["setlinfo"]["psn_part_amt"], "59.58");
        let funds: Vec<&str> = v["setldetail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["fund_pay_type"].as_str().unwrap())
            .collect();
        // The hospital's waivers are not a fund: no setldetail row, so the
        // rows add up to fund_pay_sumamt.
        assert_eq!(funds, ["390100", "610100"]);
        let sum: rust_decimal::Decimal = v["setldetail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                d["fund_payamt"]
                    .as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            })
            .sum();
        assert_eq!(sum.to_string(), "228.42");
    }
    let bad = app
        .get(&format!("/v1/settlements/{id}?view=bogus"), Some(&app.h2))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_paths(), ["view"]);
}

async fn settles_xml(app: TestApp) {
    let xml = r#"<claim>
  <claim_id>X-1</claim_id><hospital>H0002</hospital>
  <person_id>411303199001011234</person_id>
  <medical_type>inpatient</medical_type>
  <admitted_on>2017-05-01</admitted_on><discharged_on>2017-05-10</discharged_on>
  <diagnoses><diagnosis>C34.9</diagnosis></diagnoses>
  <items>
    <item><code>110200001</code><name>挂号费</name><kind>registration</kind><class>A</class><amount>5.00</amount></item>
    <item><code>86900123</code><kind>drug</kind><class>B</class><amount>320.00</amount><limit_amount>300.00</limit_amount></item>
  </items>
</claim>"#;
    let r = app
        .post_raw("/v1/settlements", Some(&app.h2), "application/xml", xml)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["fund_paid"], "228.42");
    // The same claim as text/xml is a retry.
    let again = app
        .post_raw(
            "/v1/settlements",
            Some(&app.h2),
            "text/xml; charset=utf-8",
            xml,
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, r.text);
    let bad = app
        .post_raw(
            "/v1/settlements",
            Some(&app.h2),
            "application/xml",
            xml.replace("<amount>320.00", "<amount>-3"),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.error_paths()[0].contains("amount"), "{}", bad.text);
    let unsupported = app
        .post_raw("/v1/settlements", Some(&app.h2), "application/pdf", "hello")
        .await;
    assert_eq!(unsupported.status, 415);
    // curl's default type (no -H) is not guessed at.
    let unlabelled = app
        .post_raw(
            "/v1/settlements",
            Some(&app.h2),
            "application/x-www-form-urlencoded",
            xml,
        )
        .await;
    assert_eq!(unlabelled.status, 415, "{}", unlabelled.text);
    assert_eq!(app.count_settlements().await, 1);
}

async fn previews_without_storing(app: TestApp) {
    let before = app.accumulators(P_DIBAO, 2017).await;
    let r = app
        .post_json(
            "/v1/settlements/preview",
            &app.h2,
            &design_claim("P-1", "H0002"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = r.json();
    assert_eq!(a["status"], "preview");
    assert_eq!(a["fund_paid"], "228.42");
    assert!(a.get("settlement_id").is_none());
    assert_eq!(app.accumulators(P_DIBAO, 2017).await, before);
    assert_eq!(app.count_settlements().await, 0);
    // Preview uses the current accumulators: after a settlement, the
    // critical-illness deductible already used shows.
    app.settle(&app.h2, &design_claim("P-2", "H0002")).await;
    let r = app
        .post_json(
            "/v1/settlements/preview?view=nhsa",
            &app.h2,
            &design_claim("P-3", "H0002"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["output"]["setlinfo"]["fund_pay_sumamt"], "228.42");
    assert_eq!(app.count_settlements().await, 1);
    let refused = app
        .post_json(
            "/v1/settlements/preview",
            &app.centre,
            &design_claim("P-4", "H0002"),
        )
        .await;
    assert_eq!(refused.status, 403);
}

async fn retries_return_the_stored_answer(app: TestApp) {
    let claim = design_claim("R-1", "H0002");
    let first = app.settle(&app.h2, &claim).await;
    assert_eq!(first.status, 201);
    let acc = app.accumulators(P_DIBAO, 2017).await;
    // 120 concurrent retries: one settlement, the same bytes every time.
    let mut tasks = Vec::new();
    for _ in 0..120 {
        let client = app.client.clone();
        let url = format!("{}/v1/settlements", app.base);
        let key = app.h2.clone();
        let body = claim.to_string();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send");
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (r.status().as_u16(), replayed, r.text().await.expect("text"))
        }));
    }
    for t in tasks {
        let (status, replayed, text) = t.await.expect("task");
        assert_eq!(status, 200);
        assert!(replayed);
        assert_eq!(text, first.text);
    }
    assert_eq!(app.count_settlements().await, 1);
    assert_eq!(app.accumulators(P_DIBAO, 2017).await, acc);

    // 120 concurrent first attempts of a new claim: exactly one commits.
    let claim = design_claim("R-2", "H0002");
    let mut tasks = Vec::new();
    for _ in 0..120 {
        let client = app.client.clone();
        let url = format!("{}/v1/settlements", app.base);
        let key = app.h2.clone();
        let body = claim.to_string();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send");
            (r.status().as_u16(), r.text().await.expect("text"))
        }));
    }
    let mut created = 0;
    let mut bodies = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, text) = t.await.expect("task");
        assert!(status == 201 || status == 200, "{status}: {text}");
        created += usize::from(status == 201);
        bodies.insert(text);
    }
    assert_eq!(created, 1);
    assert_eq!(bodies.len(), 1, "every retry answers the same bytes");
    assert_eq!(app.count_settlements().await, 2);
    app.assert_ledger_balanced().await;
}

async fn changed_claim_under_used_id_is_409(app: TestApp) {
    let claim = design_claim("D-1", "H0002");
    let first = app.settle(&app.h2, &claim).await;
    assert_eq!(first.status, 201);
    let acc = app.accumulators(P_DIBAO, 2017).await;
    let mut changed = claim.clone();
    changed["items"][1]["amount"] = json!("330.00");
    let r = app.settle(&app.h2, &changed).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.error_paths(), ["claim_id"]);
    assert_eq!(r.json()["settlement_id"], first.json()["settlement_id"]);
    let mut other_person = claim.clone();
    other_person["person_id"] = json!(P_POOR);
    assert_eq!(app.settle(&app.h2, &other_person).await.status, 409);
    assert_eq!(app.accumulators(P_DIBAO, 2017).await, acc);
    assert_eq!(app.count_settlements().await, 1);
    // The same claim id at another hospital is another claim.
    assert_eq!(
        app.settle(&app.h3, &design_claim("D-1", "H0003"))
            .await
            .status,
        201
    );
}
