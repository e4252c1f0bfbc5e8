//! After a settlement: key scopes, cancellation, refusals that move
//! nothing, accumulators, the list, the slip and the operations endpoints.

use crate::helpers::*;
use serde_json::{json, Value};

on_both!(
    keys_and_scope,
    cancels_once_and_restores_accumulators,
    refuses_bad_input_and_moves_nothing,
    shows_accumulators,
    lists_settlements_paged,
    renders_the_slip_escaped,
    operations_endpoints,
);

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
    assert_eq!(nhsa.json()["output"]["setlinfo"]["refd_setl_flag"], "1");
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
    // What the cashier prints beside the figures.
    assert!(s.text.contains("人民币伍拾玖元伍角捌分"), "amount in words");
    assert!(s.text.contains("@page") && s.text.contains("A4"));
    assert!(s.text.contains("C34.9"), "diagnosis");
    assert!(s.text.contains("至"), "admission and discharge dates");
    assert!(
        !s.text.contains(">wolong-2017<"),
        "the policy by name, not id"
    );
    assert!(s.text.contains("经办人签字") && s.text.contains("患者（家属）签字"));
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
    assert!(m.text.contains(
        "medaid_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/settlements\""
    ));
    // Refusals are counted by reason, the pool is shown.
    let mut bad = design_claim("O-2", "H0002");
    bad["items"][0]["amount"] = json!("-5.00");
    assert_eq!(app.settle(&app.h2, &bad).await.status, 422);
    assert_eq!(
        app.get("/v1/settlements", Some("mdk_nope")).await.status,
        401
    );
    let m = app.get("/metrics", None).await;
    assert!(
        m.text
            .contains("medaid_refused_total{status=\"422\",reason=\"Invalid claim\"} 1"),
        "{}",
        m.text
    );
    assert!(m
        .text
        .contains("medaid_refused_total{status=\"401\",reason=\"Unauthorized\"} 1"));
    assert!(m
        .text
        .contains("medaid_db_pool_connections{state=\"idle\"}"));
    assert!(m.text.contains("medaid_db_pool_max_connections "));
    assert!(m.text.contains("# TYPE medaid_busy_total counter"));
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
