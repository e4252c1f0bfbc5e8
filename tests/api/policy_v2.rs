//! Version-2 policies through the service: the insured region (from the
//! registry) chooses the policy, a shared pool holds under concurrency and
//! is restored by cancellation, unknown claim fields are refused with
//! nothing written.

use super::helpers::*;
use medaid::storage::RegistryRow;
use serde_json::{json, Value};

/// Run a test on SQLite and PostgreSQL under the two v2 test policies.
macro_rules! on_both_v2 {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use crate::helpers::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let app = super::spawn_v2(Backend::Sqlite).await.expect("sqlite app");
                super::$test(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                match super::spawn_v2(Backend::Postgres).await {
                    Some(app) => super::$test(app).await,
                    None => crate::helpers::skipped(stringify!($test)),
                }
            }
        }
    )*};
}

on_both_v2!(
    the_insured_region_chooses_the_policy,
    a_shared_pool_holds_under_concurrency,
    unknown_fields_are_refused_and_nothing_is_written,
);

/// Insured in the county itself (411303).
const P_COUNTY: &str = "411303200001010011";
/// Insured elsewhere in the city (411321): the city's policy applies even
/// at a county hospital.
const P_CITY: &str = "411321200002020022";

async fn spawn_v2(backend: Backend) -> Option<TestApp> {
    let app = spawn_app_with_policies(
        backend,
        &[
            repo_path("tests/api/data/v2-county.toml"),
            repo_path("tests/api/data/v2-city.toml"),
        ],
    )
    .await?;
    let row = |person: &str, region: &str| RegistryRow {
        person_id: person.into(),
        name: "测试".into(),
        category: "dibao".into(),
        valid_from: "2024-01-01".into(),
        valid_to: None,
        region: Some(region.into()),
    };
    app.db
        .upsert_registry(&[row(P_COUNTY, "411303"), row(P_CITY, "411321")])
        .await
        .expect("registry");
    Some(app)
}

fn v2_claim(id: &str, hospital: &str, person: &str, medical_type: &str, amount: &str) -> Value {
    json!({
        "claim_id": id, "hospital": hospital, "person_id": person,
        "medical_type": medical_type,
        "admitted_on": "2024-05-01", "discharged_on": "2024-05-03",
        "diagnoses": ["E11.9"],
        "items": [{"code": "1", "name": "治疗", "kind": "treatment", "class": "A", "amount": amount}],
        "fund_payments": {"390100": "0.00"}
    })
}

fn paid(a: &Value, layer: &str) -> i64 {
    let l = a["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == layer)
        .unwrap_or_else(|| panic!("no layer {layer} in {a}"));
    fen(l["paid"].as_str().unwrap())
}

fn pool_line(acc: &Value, id: &str) -> Value {
    acc["pools"]
        .as_array()
        .and_then(|p| p.iter().find(|l| l["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no pool {id} in {acc}"))
}

async fn the_insured_region_chooses_the_policy(app: TestApp) {
    // Same hospital (county, 411303), same bill: the person's insured region
    // picks the policy, whatever the claim says about regions.
    let mut c = v2_claim("R-1", "H0002", P_COUNTY, "inpatient", "1000.00");
    c["insured_region"] = json!("411321");
    let r = app.settle(&app.h2, &c).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a = r.json();
    assert_eq!(a["policy_id"], "v2-county-2024");
    // 1,000 × 75 % = 750.00
    assert_eq!(paid(&a, "aid_inpatient"), 75_000);

    let r = app
        .settle(
            &app.h2,
            &v2_claim("R-2", "H0002", P_CITY, "inpatient", "1000.00"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a = r.json();
    assert_eq!(a["policy_id"], "v2-city-2024");
    // the city's ratio: 1,000 × 50 % = 500.00
    assert_eq!(paid(&a, "aid_inpatient"), 50_000);

    // The accumulators list the pool with what remains.
    let acc = app
        .get(
            &format!("/v1/persons/{P_CITY}/accumulators?year=2024"),
            Some(&app.centre),
        )
        .await;
    assert_eq!(acc.status, 200, "{}", acc.text);
    let acc = acc.json();
    let pool = pool_line(&acc, "aid");
    assert_eq!(pool["paid"], "500.00");
    assert_eq!(pool["cap"], "5000.00");
    assert_eq!(pool["remaining"], "4500.00");
    assert_eq!(pool["name"], "医疗救助年度限额");
}

async fn a_shared_pool_holds_under_concurrency(app: TestApp) {
    // 30 claims at once for one person from three hospitals, inpatient and
    // chronic: each would take 750.00 of aid, the pool holds 5,000.00.
    let keys = [app.h1.clone(), app.h2.clone(), app.h3.clone()];
    let hospitals = ["H0001", "H0002", "H0003"];
    let mut tasks = Vec::new();
    for i in 0..30 {
        let mt = if i % 2 == 0 { "inpatient" } else { "chronic" };
        let claim = v2_claim(
            &format!("P-{i:02}"),
            hospitals[i % 3],
            P_COUNTY,
            mt,
            "1000.00",
        );
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/v1/settlements", app.base),
            keys[i % 3].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .header("Content-Type", "application/json")
                .body(claim.to_string())
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            let text = r.text().await.expect("text");
            assert_eq!(status, 201, "{text}");
            serde_json::from_str::<Value>(&text).expect("json")
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    let aid: i64 = answers
        .iter()
        .map(|a| paid(a, "aid_inpatient") + paid(a, "aid_chronic"))
        .sum();
    assert_eq!(aid, 500_000, "the pool is reached to the fen, never passed");
    let acc = app
        .get(
            &format!("/v1/persons/{P_COUNTY}/accumulators?year=2024"),
            Some(&app.centre),
        )
        .await
        .json();
    assert_eq!(pool_line(&acc, "aid")["paid"], "5000.00");
    assert_eq!(pool_line(&acc, "aid")["remaining"], "0.00");
    // The chronic claims are diabetes: their per-disease line adds up too.
    let chronic: i64 = answers.iter().map(|a| paid(a, "aid_chronic")).sum();
    let per = acc["per_disease"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "aid_chronic@diabetes")
        .cloned()
        .unwrap_or_else(|| panic!("{acc}"));
    assert_eq!(fen(per["paid"].as_str().unwrap()), chronic);

    // Cancelling a settlement that drew on the pool gives back exactly its share.
    let drew = answers
        .iter()
        .find(|a| paid(a, "aid_inpatient") + paid(a, "aid_chronic") > 0)
        .expect("one drew on the pool");
    let share = paid(drew, "aid_inpatient") + paid(drew, "aid_chronic");
    let id = drew["settlement_id"].as_str().unwrap();
    let key = &keys[hospitals
        .iter()
        .position(|h| *h == drew["hospital"].as_str().unwrap())
        .unwrap()];
    let r = app
        .post_json(&format!("/v1/settlements/{id}/cancel"), key, &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let acc = app
        .get(
            &format!("/v1/persons/{P_COUNTY}/accumulators?year=2024"),
            Some(&app.centre),
        )
        .await
        .json();
    assert_eq!(
        fen(pool_line(&acc, "aid")["paid"].as_str().unwrap()),
        500_000 - share
    );
    let audit = app.db.audit().await.expect("audit");
    assert!(audit.findings.is_empty(), "{:?}", audit.findings);
}

async fn unknown_fields_are_refused_and_nothing_is_written(app: TestApp) {
    let mut c = v2_claim("U-1", "H0002", P_COUNTY, "inpatient", "1000.00");
    c["items"][0]["limit_amout"] = json!("20.00");
    let r = app.settle(&app.h2, &c).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_paths(), ["items[0].limit_amout"]);
    let mut c = v2_claim("U-2", "H0002", P_COUNTY, "inpatient", "1000.00");
    c["remark"] = json!("x");
    let r = app.settle(&app.h2, &c).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_paths(), ["remark"]);
    // A fund code the policy gives no layer for, and one above the bill.
    let mut c = v2_claim("U-3", "H0002", P_COUNTY, "inpatient", "1000.00");
    c["fund_payments"] = json!({"390200": "1.00"});
    let r = app.settle(&app.h2, &c).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_paths(), ["fund_payments.390200"]);
    let mut c = v2_claim("U-4", "H0002", P_COUNTY, "inpatient", "1000.00");
    c["fund_payments"] = json!({"390100": "1000.01"});
    let r = app.settle(&app.h2, &c).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_paths(), ["fund_payments.390100"]);
    // Nothing was written: no settlement, no accumulator moved.
    let list = app.get("/v1/settlements", Some(&app.centre)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["total"], 0, "{}", list.text);
    let acc = app
        .get(
            &format!("/v1/persons/{P_COUNTY}/accumulators?year=2024"),
            Some(&app.centre),
        )
        .await
        .json();
    assert_eq!(pool_line(&acc, "aid")["paid"], "0.00");
}
