//! `POST /v1/simulations`: the stored claims of a date range
//! replayed under a baseline and scenarios; admin only; the HTML report.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

on_both!(
    simulates_the_active_stored_claims,
    refuses_bad_requests_naming_the_field,
    simulation_is_admin_only,
    downloads_the_html_report,
    counts_a_resettlement_once,
);

/// The test policy's text with the 低保 aid ratio raised.
fn scenario_toml() -> String {
    let text = std::fs::read_to_string(policy_path()).expect("policy");
    let changed = text
        .replace("id = \"wolong-2017\"", "id = \"wolong-2017-aid80\"")
        .replace("dibao = \"0.70\"", "dibao = \"0.80\"");
    assert_ne!(changed, text);
    changed
}

fn claim(id: &str, hospital: &str, person: &str, admitted: &str, discharged: &str) -> Value {
    let mut c = design_claim(id, hospital);
    c["person_id"] = json!(person);
    c["admitted_on"] = json!(admitted);
    c["discharged_on"] = json!(discharged);
    c
}

async fn simulate(app: &TestApp, key: Option<&str>, body: &Value, query: &str) -> Resp {
    app.post_raw(
        &format!("/v1/simulations{query}"),
        key,
        "application/json",
        body.to_string(),
    )
    .await
}

/// Settle `claims` (hospital key, claim) and return their answers.
async fn settle_all(app: &TestApp, claims: &[(&str, Value)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, c) in claims {
        let r = app.settle(key, c).await;
        assert_eq!(r.status, 201, "{}", r.text);
        out.push(r.json());
    }
    out
}

fn layer_paid(report: &Value, policy: usize) -> BTreeMap<String, i64> {
    report["policies"][policy]["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_string(),
                fen(l["paid"].as_str().unwrap()),
            )
        })
        .collect()
}

async fn simulates_the_active_stored_claims(app: TestApp) {
    let (h1, h2, h3) = (app.h1.clone(), app.h2.clone(), app.h3.clone());
    // A hospital that states the wrong level and categories: the service
    // settled it as county / no category, and so must the simulation.
    let mut lying = claim("S-4", "H0002", P_INSURED, "2017-07-01", "2017-07-09");
    lying["hospital_level"] = json!("township");
    lying["categories"] = json!(["poverty", "tekun_centralized"]);
    let answers = settle_all(
        &app,
        &[
            (
                &h2,
                claim("S-1", "H0002", P_DIBAO, "2017-05-01", "2017-05-10"),
            ),
            (&h3, big_claim("S-2", "H0003", P_POOR, 5, "60000.00")),
            (
                &h1,
                claim("S-3", "H0001", P_TEKUN, "2017-02-01", "2017-02-03"),
            ),
            (&h2, lying),
            // cancelled below: must not count
            (
                &h2,
                big_claim("S-5", "H0002", &cap_person(0), 9, "30000.00"),
            ),
            // discharged after the range: must not count
            (
                &h1,
                claim("S-6", "H0001", &cap_person(1), "2017-12-20", "2017-12-24"),
            ),
        ],
    )
    .await;
    let cancelled = answers[4]["settlement_id"].as_str().unwrap();
    assert_eq!(app.cancel(&h2, cancelled).await.status, 200);

    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut fund = 0;
    for a in &answers[..4] {
        for l in a["layers"].as_array().unwrap() {
            *expected
                .entry(l["id"].as_str().unwrap().to_string())
                .or_default() += fen(l["paid"].as_str().unwrap());
        }
        fund += fen(a["fund_paid"].as_str().unwrap());
    }
    assert!(expected.values().any(|v| *v > 0));

    let body = json!({
        "from": "2017-01-01",
        "to": "2017-11-30",
        "baseline": "wolong-2017",
        "scenarios": [scenario_toml(), {"id": "wolong-2017"}],
        "budget": {"aid": "100", "layer:basic": 1000},
        "bootstrap": 50,
        "seed": 7,
    });
    let r = simulate(&app, Some(&app.admin), &body, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    let rep = r.json();
    assert_eq!(rep["format"], "medaid-simulation/1");
    assert_eq!(rep["input"]["claims_read"], 4, "{}", rep["input"]);
    assert_eq!(rep["input"]["persons"], 4);
    assert!(rep["input"]["source"]
        .as_str()
        .unwrap()
        .contains("2017-01-01 to 2017-11-30"));
    assert_eq!(rep["settings"]["bootstrap"], 50);
    let base = &rep["policies"][0];
    assert_eq!(base["role"], "baseline");
    assert_eq!(base["id"], "wolong-2017");
    assert_eq!(base["settled"], 4);
    assert_eq!(base["refused"], 0);
    assert_eq!(layer_paid(&rep, 0), expected, "baseline = stored answers");
    assert_eq!(fen(base["summary"]["fund_paid"].as_str().unwrap()), fund);
    // The scenario raises 低保 aid: S-1 (dibao) and S-2 (dibao + poverty)
    // get more aid; the baseline again (by id) is identical.
    let scen = &rep["policies"][1];
    assert_eq!(scen["role"], "scenario");
    assert_eq!(scen["id"], "wolong-2017-aid80");
    assert_eq!(scen["file"], "scenarios[0]");
    assert!(layer_paid(&rep, 1)["aid"] > expected["aid"]);
    assert_eq!(layer_paid(&rep, 2), expected);
    let gaps: Vec<&str> = base["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    // Read a page at a time, the stored claims are the same whatever the
    // page size, in the order they were written, with the records' identity.
    let range = medaid::storage::DischargeRange {
        from: Some("2017-01-01".into()),
        to: Some("2017-11-30".into()),
    };
    let key = |set: &medaid::sim::ClaimSet| -> Vec<(String, u32, String)> {
        set.claims
            .iter()
            .map(|c| {
                (
                    c.claim_id.to_string(),
                    c.line,
                    set.category_lists[c.categories as usize].join(","),
                )
            })
            .collect()
    };
    let growth = medaid::sim::Growth::default();
    let whole = medaid::service::simulation::load_claim_set(&app.db, &range, growth)
        .await
        .expect("claims");
    assert_eq!(whole.claims.len(), 4);
    assert_eq!(whole.persons.len(), 4);
    let insured = whole
        .claims
        .iter()
        .find(|c| &*c.claim_id == "S-4")
        .expect("S-4");
    assert_eq!(
        whole.category_lists[insured.categories as usize],
        Vec::<String>::new()
    );
    assert_eq!(whole.levels[insured.level as usize], "county");
    for page in [1, 2, 3] {
        let paged =
            medaid::service::simulation::load_claim_set_paged(&app.db, &range, growth, page)
                .await
                .expect("claims");
        assert_eq!(key(&paged), key(&whole), "page size {page}");
    }
    let mut lines: Vec<u32> = whole.claims.iter().map(|c| c.line).collect();
    lines.sort_unstable();
    assert_eq!(lines, [1, 2, 3, 4]);
    // Reproducible: the same request, the same report.
    let again = simulate(&app, Some(&app.admin), &body, "").await;
    assert_eq!(again.text, r.text);
    // A range without claims is an empty report, not an error.
    let empty = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2016-01-01", "to": "2016-12-31", "baseline": "wolong-2017", "bootstrap": 0}),
        "",
    )
    .await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json()["input"]["claims_read"], 0);
    // Without a baseline: the loaded policy in force on `from`.
    let dflt = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-01-01", "to": "2017-11-30", "bootstrap": 0}),
        "",
    )
    .await;
    assert_eq!(dflt.status, 200, "{}", dflt.text);
    assert_eq!(layer_paid(&dflt.json(), 0), expected);
}

async fn refuses_bad_requests_naming_the_field(app: TestApp) {
    let bad_toml = scenario_toml().replace(
        "ratio = { township = \"0.90\"",
        "ratio = { township = \"1.90\"",
    );
    assert!(bad_toml.contains("1.90"));
    let r = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-01-01", "to": "2017-12-31", "baseline": "wolong-2017", "scenarios": [bad_toml]}),
        "",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.error_paths(), ["scenarios[0]"], "{}", r.text);
    let msg = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("layers[0].ratio"), "the TOML path: {msg}");
    assert!(msg.contains("line"), "the TOML line: {msg}");

    let syntax = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-01-01", "to": "2017-12-31", "scenarios": [{"toml": "[policy\nid = 1"}]}),
        "",
    )
    .await;
    assert_eq!(syntax.status, 422, "{}", syntax.text);
    assert_eq!(syntax.error_paths(), ["scenarios[0]"]);

    let many = simulate(
        &app,
        Some(&app.admin),
        &json!({
            "from": "2017-13-01", "to": "2017-12-31", "baseline": "nope",
            "scenarios": ["wolong-2017", {"id": "missing"}],
            "budget": {"martians": "5", "aid": "lots"},
            "bootstrap": 5000, "volume_growth": "3", "price_growth": "x",
        }),
        "",
    )
    .await;
    assert_eq!(many.status, 422, "{}", many.text);
    let mut paths = many.error_paths();
    paths.sort();
    assert_eq!(
        paths,
        [
            "baseline",
            "bootstrap",
            "budget.aid",
            "budget.martians",
            "from",
            "price_growth",
            "scenarios[1]",
            "volume_growth"
        ],
        "{}",
        many.text
    );

    let unknown = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-01-01", "to": "2017-12-31", "scenario": ["wolong-2017"]}),
        "",
    )
    .await;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert!(unknown.text.contains("scenario"), "{}", unknown.text);
    let reversed = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-12-31", "to": "2017-01-01"}),
        "",
    )
    .await;
    assert_eq!(reversed.error_paths(), ["to"], "{}", reversed.text);
    let malformed = app
        .post_raw("/v1/simulations", Some(&app.admin), "application/json", "{")
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);
    let fmt = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-01-01", "to": "2017-12-31"}),
        "?format=pdf",
    )
    .await;
    assert_eq!(fmt.status, 400);
    assert_eq!(fmt.error_paths(), ["format"]);
}

async fn simulation_is_admin_only(app: TestApp) {
    let body = json!({"from": "2017-01-01", "to": "2017-12-31", "baseline": "wolong-2017"});
    let none = simulate(&app, None, &body, "").await;
    assert_eq!(none.status, 401, "{}", none.text);
    assert_eq!(none.content_type, "application/problem+json");
    let bad = simulate(&app, Some("mdk_0000000000000000_nope"), &body, "").await;
    assert_eq!(bad.status, 401);
    for key in [&app.h1, &app.centre] {
        let r = simulate(&app, Some(key), &body, "").await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
    }
    // Refused before the body is read: a bad body still gets 403.
    let r = app
        .post_raw("/v1/simulations", Some(&app.h2), "application/json", "{")
        .await;
    assert_eq!(r.status, 403);
    let spec = app.get("/openapi.json", None).await.json();
    for p in [
        "/v1/simulations",
        "/v1/reconciliation/{month}",
        "/v1/reconciliation/{month}/statement",
        "/v1/reconciliation/{month}/details",
        "/v1/reconciliation/{month}/clearing",
        "/v1/reconciliation/{month}/disbursement",
        "/v1/reconciliation/{month}/ledgers/{kind}",
        "/v1/reconciliation/{month}/check-totals",
        "/v1/reconciliation/{month}/check-details",
        "/v1/reconciliation/{month}/close",
        "/v1/reconciliation/{month}/reopen",
        "/v1/registry/match",
        "/v1/registry/resettlements",
    ] {
        assert!(spec["paths"][p].is_object(), "openapi lacks {p}");
    }
    assert!(spec["paths"]["/v1/simulations"]["post"].is_object());
    assert!(spec["paths"]["/v1/registry/resettlements"]["get"].is_object());
    assert!(spec["paths"]["/v1/registry/resettlements"]["post"].is_object());
}

async fn downloads_the_html_report(app: TestApp) {
    settle_all(
        &app,
        &[
            (
                &app.h2,
                claim("W-1", "H0002", P_DIBAO, "2017-05-01", "2017-05-10"),
            ),
            (&app.h3, big_claim("W-2", "H0003", P_POOR, 5, "60000.00")),
        ],
    )
    .await;
    let body = json!({
        "from": "2017-01-01", "to": "2017-12-31", "baseline": "wolong-2017",
        "scenarios": [scenario_toml()], "budget": {"aid": "8000000"}, "bootstrap": 30,
    });
    for (query, accept) in [("?format=html", None), ("", Some("text/html"))] {
        let mut req = app
            .client
            .post(format!("{}/v1/simulations{query}", app.base))
            .bearer_auth(&app.admin)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let r = app.send(req).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.content_type.starts_with("text/html"),
            "{}",
            r.content_type
        );
        let disposition = r
            .headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            disposition.starts_with("attachment;") && disposition.contains(".html"),
            "{disposition}"
        );
        let html = &r.text;
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<svg"), "charts are inline SVG");
        assert!(html.contains("wolong-2017-aid80"));
        // No internal wording for the administrator.
        assert!(html.contains("方案使医疗救助支出"), "headline");
        for internal in [
            "scenarios[0]",
            "stored settlements",
            "loaded:",
            "(sqlite)",
            "(postgres)",
        ] {
            assert!(!html.contains(internal), "internal wording {internal:?}");
        }
        for banned in [
            "<script",
            "src=\"http",
            "href=\"http",
            "@import",
            "url(",
            "<link",
        ] {
            assert!(!html.contains(banned), "external resource: {banned}");
        }
        let links = html.matches("http://").count() + html.matches("https://").count();
        let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
        assert_eq!(links, namespaces, "only SVG namespaces, no links");
    }
    // JSON stays the default.
    let r = simulate(&app, Some(&app.admin), &body, "?format=json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
}

/// Sum of the layers' `paid` over the settlements the centre's list shows
/// as settled (not cancelled, not replaced).
async fn active_layer_sums(app: &TestApp) -> (BTreeMap<String, i64>, usize) {
    let list = app
        .get("/v1/settlements?per_page=100", Some(&app.centre))
        .await
        .json();
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    let mut n = 0;
    for item in list["items"].as_array().unwrap() {
        if item["status"] != "settled" {
            continue;
        }
        n += 1;
        let id = item["settlement_id"].as_str().unwrap();
        let a = app
            .get(&format!("/v1/settlements/{id}"), Some(&app.centre))
            .await
            .json();
        for l in a["layers"].as_array().unwrap() {
            *sums
                .entry(l["id"].as_str().unwrap().to_string())
                .or_default() += fen(l["paid"].as_str().unwrap());
        }
    }
    (sums, n)
}

async fn counts_a_resettlement_once(app: TestApp) {
    settle_all(
        &app,
        &[
            (
                &app.h2,
                claim("R-1", "H0002", P_INSURED, "2017-05-01", "2017-05-10"),
            ),
            (
                &app.h2,
                claim("R-2", "H0002", P_DIBAO, "2017-06-01", "2017-06-10"),
            ),
        ],
    )
    .await;
    // The registry learns late that P_INSURED was dibao all along: 应退应补
    // reverses R-1 and settles it again, linked by `replaces`.
    app.db
        .upsert_registry(&[medaid::storage::RegistryRow {
            person_id: P_INSURED.into(),
            name: "测试".into(),
            category: "dibao".into(),
            valid_from: "2016-01-01".into(),
            valid_to: None,
            region: None,
        }])
        .await
        .unwrap();
    let r = app
        .post_json(
            "/v1/registry/resettlements",
            &app.centre,
            &json!({"persons": [P_INSURED]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (expected, n) = active_layer_sums(&app).await;
    assert_eq!(n, 2, "the replaced settlement is not active");
    let rep = simulate(
        &app,
        Some(&app.admin),
        &json!({"from": "2017-01-01", "to": "2017-12-31", "baseline": "wolong-2017", "bootstrap": 0}),
        "",
    )
    .await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    let rep = rep.json();
    assert_eq!(rep["input"]["claims_read"], 2);
    assert_eq!(layer_paid(&rep, 0), expected);
    // Under the new identity: aid paid for both (both dibao now).
    assert_eq!(rep["policies"][0]["layers"][2]["id"], "aid");
    assert_eq!(rep["policies"][0]["layers"][2]["claims"], 2);
}
