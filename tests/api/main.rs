//! The settlement service end to end: the real router on port 0, every
//! endpoint on SQLite and on PostgreSQL (`TEST_DATABASE_URL`; skipped with
//! a message without it).

mod audit;
mod concurrency;
mod hardening;
mod helpers;
mod keys;
mod policy_v2;
mod processes;
mod simulations;

use helpers::*;
use serde_json::{json, Value};

/// Run `$test(app)` on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use crate::helpers::{spawn_app, Backend};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
                super::$test(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                match spawn_app(Backend::Postgres).await {
                    Some(app) => super::$test(app).await,
                    None => crate::helpers::skipped(stringify!($test)),
                }
            }
        }
    )*};
}
pub(crate) use on_both;

on_both!(
    settles_the_worked_example,
    answers_in_the_national_names,
    settles_xml,
    previews_without_storing,
    retries_return_the_stored_answer,
    changed_claim_under_used_id_is_409,
    keys_and_scope,
    cancels_once_and_restores_accumulators,
    refuses_bad_input_and_moves_nothing,
    shows_accumulators,
    lists_settlements_paged,
    renders_the_slip_escaped,
    operations_endpoints,
);

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
        let v = n.json();
        assert_eq!(v["setlinfo"]["setl_id"], id.as_str());
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
    assert_eq!(r.json()["setlinfo"]["fund_pay_sumamt"], "228.42");
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

async fn keys_and_scope(app: TestApp) {
    let claim = design_claim("S-1", "H0002");
    // No key, a malformed one, a well-formed unknown one: 401.
    let none = app
        .post_raw(
            "/v1/settlements",
            None,
            "application/json",
            claim.to_string(),
        )
        .await;
    assert_eq!(none.status, 401);
    assert_eq!(none.content_type, "application/problem+json");
    assert!(none.headers.get("www-authenticate").is_some());
    let bad = app.settle("nonsense", &claim).await;
    assert_eq!(bad.status, 401);
    let forged = format!("mdk_{}_{}", &app.h2[4..20], "0".repeat(64));
    assert_eq!(app.settle(&forged, &claim).await.status, 401);
    assert_eq!(app.get("/v1/settlements", None).await.status, 401);
    // Centre and admin keys do not settle or cancel.
    assert_eq!(app.settle(&app.centre, &claim).await.status, 403);
    assert_eq!(app.settle(&app.admin, &claim).await.status, 403);
    // A hospital settles only its own claims.
    let theirs = app.settle(&app.h1, &claim).await;
    assert_eq!(theirs.status, 403, "{}", theirs.text);
    assert_eq!(theirs.error_paths(), ["hospital"]);
    assert_eq!(app.count_settlements().await, 0);

    let r = app.settle(&app.h2, &claim).await;
    assert_eq!(r.status, 201);
    let id = r.json()["settlement_id"].as_str().unwrap().to_string();
    // Another hospital can neither read nor cancel it.
    for path in [
        format!("/v1/settlements/{id}"),
        format!("/v1/settlements/{id}/slip"),
    ] {
        assert_eq!(app.get(&path, Some(&app.h1)).await.status, 404);
        assert_eq!(app.get(&path, Some(&app.centre)).await.status, 200);
        assert_eq!(app.get(&path, Some(&app.admin)).await.status, 200);
    }
    assert_eq!(app.cancel(&app.h1, &id).await.status, 404);
    assert_eq!(app.cancel(&app.centre, &id).await.status, 403);
    let list = app.get("/v1/settlements", Some(&app.h1)).await.json();
    assert_eq!(list["total"], 0);
    let list = app.get("/v1/settlements", Some(&app.h2)).await.json();
    assert_eq!(list["total"], 1);
    assert_eq!(
        app.get(&format!("/v1/settlements/{id}"), Some(&app.h2))
            .await
            .status,
        200
    );
    // Still settled after the refused cancellation.
    let g = app
        .get(&format!("/v1/settlements/{id}"), Some(&app.h2))
        .await;
    assert_eq!(g.json()["status"], "settled");
}

async fn cancels_once_and_restores_accumulators(app: TestApp) {
    let zero = app.accumulators(P_DIBAO, 2017).await;
    let first = app.settle(&app.h2, &design_claim("K-1", "H0002")).await;
    let after_first = app.accumulators(P_DIBAO, 2017).await;
    let second = app.settle(&app.h3, &design_claim("K-2", "H0003")).await;
    assert_eq!(second.status, 201);
    let id = first.json()["settlement_id"].as_str().unwrap().to_string();
    let c = app.cancel(&app.h2, &id).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let a = c.json();
    assert_eq!(a["status"], "cancelled");
    assert_eq!(a["settlement_id"], id.as_str());
    assert_eq!(a["fund_paid"], "228.42");
    assert!(a["reversal_id"].is_string());
    assert!(a["cancelled_at"].is_string());
    // The accumulators moved back by exactly what K-1 added.
    let after_cancel = app.accumulators(P_DIBAO, 2017).await;
    let second_alone = {
        let s = second.json();
        s["layers"].as_array().unwrap().clone()
    };
    for layer in ["basic", "critical", "aid"] {
        let added_first =
            fen(&acc_field(&after_first, layer, "paid")) - fen(&acc_field(&zero, layer, "paid"));
        let paid_second = second_alone
            .iter()
            .find(|l| l["id"] == layer)
            .map(|l| fen(l["paid"].as_str().unwrap()))
            .unwrap();
        let now = fen(&acc_field(&after_cancel, layer, "paid"));
        assert_eq!(now, paid_second, "layer {layer}: first added {added_first}");
    }
    // Twice is harmless: the same answer, nothing moves.
    let again = app.cancel(&app.h2, &id).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, c.text);
    assert_eq!(app.accumulators(P_DIBAO, 2017).await, after_cancel);
    // Reading it, listing it and retrying the claim show it cancelled.
    let g = app
        .get(&format!("/v1/settlements/{id}"), Some(&app.h2))
        .await;
    assert_eq!(g.text, c.text);
    let nhsa = app
        .get(&format!("/v1/settlements/{id}?view=nhsa"), Some(&app.h2))
        .await;
    assert_eq!(nhsa.json()["setlinfo"]["refd_setl_flag"], "1");
    let retry = app.settle(&app.h2, &design_claim("K-1", "H0002")).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json()["status"], "cancelled");
    let list = app
        .get("/v1/settlements?per_page=10", Some(&app.centre))
        .await
        .json();
    let statuses: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cancelled", "settled"]);
    // Unknown ids.
    assert_eq!(app.cancel(&app.h2, "no-such-id").await.status, 404);
    app.assert_ledger_balanced().await;
    // Concurrent cancellations of one settlement: one reversal.
    let id2 = second.json()["settlement_id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = format!("{}/v1/settlements/{id2}/cancel", app.base);
        let key = app.h3.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("send");
            (r.status().as_u16(), r.text().await.expect("text"))
        }));
    }
    let mut bodies = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, text) = t.await.expect("task");
        assert_eq!(status, 200, "{text}");
        bodies.insert(text);
    }
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        app.accumulators(P_DIBAO, 2017).await,
        zero_with_layers(&zero)
    );
    app.assert_ledger_balanced().await;
}

/// The accumulators answer with every amount at zero (the rows exist now).
fn zero_with_layers(zero: &Value) -> Value {
    let mut z = zero.clone();
    for l in z["layers"].as_array_mut().unwrap() {
        for f in ["deductible_used", "eligible_cum", "paid"] {
            l[f] = json!("0.00");
        }
        if !l["cap"].is_null() {
            l["remaining"] = l["cap"].clone();
        }
    }
    z
}

async fn refuses_bad_input_and_moves_nothing(app: TestApp) {
    let base = design_claim("B-1", "H0002");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = base.clone();
        f(&mut c);
        c.to_string()
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", "{\"claim_id\": \"B-1\", ".into(), 400, ""),
        ("not an object", "[1, 2]".into(), 400, ""),
        (
            "negative amount",
            with(&|c| c["items"][1]["amount"] = json!("-320.00")),
            422,
            "items[1].amount",
        ),
        (
            "three decimals",
            with(&|c| c["items"][1]["amount"] = json!("320.001")),
            422,
            "items[1].amount",
        ),
        (
            "amount not a number",
            with(&|c| c["items"][0]["amount"] = json!("abc")),
            422,
            "items[0].amount",
        ),
        (
            "unknown item class",
            with(&|c| c["items"][0]["class"] = json!("D")),
            422,
            "items[0].class",
        ),
        ("no items", with(&|c| c["items"] = json!([])), 422, "items"),
        (
            "reversed dates",
            with(&|c| c["discharged_on"] = json!("2017-04-01")),
            422,
            "discharged_on",
        ),
        (
            "bad date",
            with(&|c| c["admitted_on"] = json!("2017-02-30")),
            422,
            "admitted_on",
        ),
        (
            "unknown person",
            with(&|c| c["person_id"] = json!("999999999999999999")),
            422,
            "person_id",
        ),
        (
            "date no policy covers",
            with(&|c| {
                c["admitted_on"] = json!("2019-05-01");
                c["discharged_on"] = json!("2019-05-10");
            }),
            422,
            "discharged_on",
        ),
        (
            "unknown medical type",
            with(&|c| c["medical_type"] = json!("dental")),
            422,
            "medical_type",
        ),
        (
            "missing person",
            with(&|c| {
                c.as_object_mut()
                    .unwrap()
                    .remove("person_id")
                    .map(|_| ())
                    .unwrap_or(())
            }),
            422,
            "",
        ),
        (
            "empty claim id",
            with(&|c| c["claim_id"] = json!("")),
            422,
            "claim_id",
        ),
    ];
    let acc_before = app.accumulators(P_DIBAO, 2017).await;
    for (what, body, status, path) in &cases {
        for endpoint in ["/v1/settlements", "/v1/settlements/preview"] {
            let r = app
                .post_raw(endpoint, Some(&app.h2), "application/json", body.clone())
                .await;
            assert_eq!(r.status, *status, "{what} at {endpoint}: {}", r.text);
            assert_eq!(r.content_type, "application/problem+json", "{what}");
            let paths = r.error_paths();
            assert!(!paths.is_empty(), "{what}: {}", r.text);
            if !path.is_empty() {
                assert_eq!(paths[0], *path, "{what}: {}", r.text);
            }
            assert!(
                !r.text.contains("sqlx") && !r.text.contains("SELECT"),
                "{what} leaks internals: {}",
                r.text
            );
        }
    }
    // A hospital with no policy for its region.
    let h9 = medaid::cli::setup::create_key(
        &app.db,
        &medaid::service::keys::Role::Hospital("H0009".into()),
    )
    .await
    .unwrap();
    let r = app.settle(&h9, &design_claim("B-9", "H0009")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_paths(), ["discharged_on"]);
    // Too many items, too large a body.
    let many = with(&|c| {
        let item = c["items"][0].clone();
        c["items"] = Value::Array(vec![item; medaid::engine::claim::MAX_ITEMS + 1]);
    });
    let r = app
        .post_raw("/v1/settlements", Some(&app.h2), "application/json", many)
        .await;
    assert!(r.status == 422 || r.status == 413, "{}", r.status);
    let huge = format!("{{\"claim_id\": \"{}\"}}", "x".repeat(5 * 1024 * 1024));
    // On its own connection: the server answers 413 without reading the
    // rest and closes it.
    let r = app
        .send(
            reqwest::Client::new()
                .post(format!("{}/v1/settlements", app.base))
                .bearer_auth(&app.h2)
                .header("Content-Type", "application/json")
                .body(huge),
        )
        .await;
    assert_eq!(r.status, 413);
    // Nothing moved.
    assert_eq!(app.count_settlements().await, 0);
    assert_eq!(app.accumulators(P_DIBAO, 2017).await, acc_before);
    // And the good claim still settles.
    assert_eq!(app.settle(&app.h2, &base).await.status, 201);
}

async fn shows_accumulators(app: TestApp) {
    let acc = app.accumulators(P_DIBAO, 2017).await;
    assert_eq!(acc["person_id"], P_DIBAO);
    assert_eq!(acc["year"], 2017);
    let ids: Vec<&str> = acc["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["basic", "critical", "aid", "floor"]);
    assert_eq!(acc_field(&acc, "basic", "cap"), "150000.00");
    assert_eq!(acc_field(&acc, "basic", "remaining"), "150000.00");
    assert_eq!(
        acc_field(&acc, "aid", "cap"),
        "10000.00",
        "the default before any claim"
    );
    assert!(acc["layers"][3]["cap"].is_null() && acc["layers"][3]["remaining"].is_null());
    app.settle(&app.h2, &design_claim("A-1", "H0002")).await;
    let acc = app
        .get(
            &format!("/v1/persons/{P_DIBAO}/accumulators?year=2017"),
            Some(&app.h1),
        )
        .await;
    assert_eq!(acc.status, 200);
    let acc = acc.json();
    assert_eq!(acc_field(&acc, "basic", "paid"), "194.40");
    assert_eq!(acc_field(&acc, "basic", "remaining"), "149805.60");
    // The aid cap is by disease group: lung cancer (major) lifts it.
    assert_eq!(acc_field(&acc, "aid", "cap"), "20000.00");
    assert_eq!(acc_field(&acc, "aid", "remaining"), "19965.98");
    assert_eq!(acc_field(&acc, "critical", "deductible_used"), "48.60");
    assert_eq!(acc_field(&acc, "critical", "eligible_cum"), "0.00");
    // A poverty-registered person is exempt from the critical-illness cap.
    let poor = app.accumulators(P_POOR, 2017).await;
    assert!(poor["layers"][1]["cap"].is_null(), "{poor}");
    let unknown = app
        .get(
            "/v1/persons/000000000000000000/accumulators?year=2017",
            Some(&app.centre),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let bad = app
        .get(
            &format!("/v1/persons/{P_DIBAO}/accumulators?year=abc"),
            Some(&app.centre),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_paths(), ["year"]);
    assert_eq!(
        app.get(&format!("/v1/persons/{P_DIBAO}/accumulators"), None)
            .await
            .status,
        401
    );
}

async fn lists_settlements_paged(app: TestApp) {
    for (i, day) in [3, 7, 12, 20, 25].iter().enumerate() {
        let mut c = design_claim(&format!("L-{i}"), "H0002");
        c["discharged_on"] = json!(format!("2017-06-{day:02}"));
        if i == 4 {
            c["person_id"] = json!(P_POOR);
        }
        assert_eq!(app.settle(&app.h2, &c).await.status, 201);
    }
    app.settle(&app.h3, &design_claim("L-x", "H0003")).await;
    let page = app
        .get("/v1/settlements?per_page=2&page=2", Some(&app.h2))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let v = page.json();
    assert_eq!(v["total"], 5);
    assert_eq!(v["page"], 2);
    assert_eq!(v["per_page"], 2);
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["claim_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["L-2", "L-3"]);
    assert_eq!(v["items"][0]["fund_paid"], "228.42");
    assert_eq!(v["items"][0]["status"], "settled");
    let last = app
        .get("/v1/settlements?per_page=2&page=3", Some(&app.h2))
        .await
        .json();
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    let person = app
        .get(
            &format!("/v1/settlements?person={P_POOR}"),
            Some(&app.centre),
        )
        .await
        .json();
    assert_eq!(person["total"], 1);
    let range = app
        .get(
            "/v1/settlements?from=2017-06-05&to=2017-06-20",
            Some(&app.h2),
        )
        .await
        .json();
    assert_eq!(range["total"], 3);
    let all = app.get("/v1/settlements", Some(&app.centre)).await.json();
    assert_eq!(all["total"], 6);
    for (q, path) in [
        ("from=2017-13-01", "from"),
        ("to=yesterday", "to"),
        ("page=0", "page"),
        ("per_page=501", "per_page"),
        ("page=x", "query"),
    ] {
        let r = app
            .get(&format!("/v1/settlements?{q}"), Some(&app.h2))
            .await;
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert_eq!(r.error_paths(), [path], "{q}");
    }
}

async fn renders_the_slip_escaped(app: TestApp) {
    let mut c = design_claim("<script>alert(1)</script>", "H0002");
    c["diagnoses"] = json!(["C34.9"]);
    let r = app.settle(&app.h2, &c).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["settlement_id"].as_str().unwrap().to_string();
    let s = app
        .get(&format!("/v1/settlements/{id}/slip"), Some(&app.h2))
        .await;
    assert_eq!(s.status, 200);
    assert!(
        s.content_type.starts_with("text/html"),
        "{}",
        s.content_type
    );
    assert!(s.text.contains("一站式结算单"));
    assert!(s.text.contains("228.42") && s.text.contains("59.58") && s.text.contains("37.00"));
    assert!(s.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!s.text.contains("<script>"));
    assert!(
        s.text.contains("测试&lt;患者&gt;"),
        "the registry name is escaped too"
    );
    assert!(s.text.contains("民政医疗救助"));
    app.cancel(&app.h2, &id).await;
    let s = app
        .get(&format!("/v1/settlements/{id}/slip"), Some(&app.h2))
        .await;
    assert!(s.text.contains("已撤销"));
    assert_eq!(
        app.get("/v1/settlements/nope/slip", Some(&app.h2))
            .await
            .status,
        404
    );
}

async fn operations_endpoints(app: TestApp) {
    let h = app.get("/healthz", None).await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.json()["status"], "ok");
    app.settle(&app.h2, &design_claim("O-1", "H0002")).await;
    let m = app.get("/metrics", None).await;
    assert_eq!(m.status, 200);
    assert!(m.content_type.starts_with("text/plain"));
    assert!(
        m.text
            .contains("medaid_http_requests_total{method=\"POST\",route=\"/v1/settlements\",status=\"201\"} 1"),
        "{}",
        m.text
    );
    assert!(m
        .text
        .contains("medaid_operations_total{operation=\"settle\",outcome=\"created\"} 1"));
    assert!(m
        .text
        .contains("medaid_http_request_duration_seconds_bucket"));
    let o = app.get("/openapi.json", None).await;
    assert_eq!(o.status, 200);
    let spec = o.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/v1/settlements",
        "/v1/settlements/preview",
        "/v1/settlements/{id}",
        "/v1/settlements/{id}/cancel",
        "/v1/settlements/{id}/slip",
        "/v1/persons/{person_id}/accumulators",
        "/healthz",
        "/metrics",
    ] {
        assert!(spec["paths"][p].is_object(), "openapi lacks {p}");
    }
    let nf = app.get("/v1/nothing", Some(&app.h2)).await;
    assert_eq!(nf.status, 404);
    assert_eq!(nf.content_type, "application/problem+json");
    let r = app
        .send(app.client.delete(format!("{}/v1/settlements", app.base)))
        .await;
    assert_eq!(r.status, 405);
}
