//! Reconciliation end to end (issue 5), on SQLite and on PostgreSQL
//! (`TEST_DATABASE_URL`; skipped with a message without it): settlements
//! booked in two past months (the service under a fixed clock), statements
//! and clearing over HTTP, month close, the three planted differences, and
//! 应退应补.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use medaid::engine::Answer;
use medaid::money::fmt2;
use medaid::recon::Month;
use medaid::service::Service;
use medaid::storage::{self, RegistryRow};
use rust_decimal::Decimal;
use serde_json::{json, Value};

macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use crate::helpers::{spawn_app, Backend};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
                super::$test(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match spawn_app(Backend::Postgres).await {
                    Some(app) => super::$test(app).await,
                    None => eprintln!("skipped {} on PostgreSQL: TEST_DATABASE_URL is not set", stringify!($test)),
                }
            }
        }
    )*};
}

on_both!(
    statements_equal_the_sums_of_the_answers,
    closed_months_do_not_change,
    planted_differences_are_found_exactly,
    resettlement_moves_accumulators_by_the_difference,
);

async fn service(app: &TestApp) -> Service {
    let policies = Service::load_policies(&app.db, &[policy_path()])
        .await
        .expect("policies");
    Service::new(app.db.clone(), policies)
}

fn at(ts: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(ts).expect("timestamp")
}

const PERSONS: [&str; 4] = [P_DIBAO, P_POOR, P_TEKUN, P_INSURED];
const HOSPITALS: [&str; 3] = ["H0001", "H0002", "H0003"];

fn claim(i: usize, month: u32) -> Value {
    let day = 1 + (i % 27) as u32;
    json!({
        "claim_id": format!("C{month:02}-{i:03}"),
        "hospital": HOSPITALS[i % 3],
        "person_id": PERSONS[i % 4],
        "medical_type": if i % 5 == 4 { "outpatient_special" } else { "inpatient" },
        "admitted_on": format!("2017-{month:02}-{day:02}"),
        "discharged_on": format!("2017-{month:02}-{day:02}"),
        "diagnoses": [if i.is_multiple_of(2) { "C34.9" } else { "I10" }],
        "items": [
            {"code": "1", "name": "挂号费", "kind": "registration", "class": "A", "amount": "5.00"},
            {"code": "2", "name": "药", "kind": "drug", "class": "B", "amount": "320.00", "limit_amount": "300.00"},
            {"code": "3", "name": "治疗", "kind": "treatment", "class": "A", "amount": format!("{}.{:02}", 800 + 613 * i, i % 100)},
            {"code": "4", "name": "自费药", "kind": "drug", "class": "C", "amount": "66.60"}
        ]
    })
}

/// Settle `n` claims in `month` of 2017 through the service, committed on
/// that month's days; returns (settlement id, answer).
async fn settle_in(svc: &Service, month: u32, n: usize) -> Vec<(String, Answer)> {
    let mut out = Vec::new();
    for i in 0..n {
        let c = medaid::engine::claim::parse_json(&claim(i, month).to_string()).expect("claim");
        let hospital = c.hospital.clone();
        let when = at(&format!("2017-{month:02}-{:02}T10:00:00+08:00", 1 + i % 27));
        let s = storage::with_clock(when, svc.settle(c, &hospital))
            .await
            .expect("settles");
        out.push((
            s.settlement_id,
            serde_json::from_str(&s.answer_json).expect("answer"),
        ));
    }
    out
}

async fn cancel_at(svc: &Service, id: &str, ts: &str) {
    storage::with_clock(at(ts), svc.cancel(id, None))
        .await
        .expect("cancels");
}

/// Two months: 14 settlements in May 2017, 9 in June; two May ones
/// cancelled in May, two in June. Returns (May answers, June answers,
/// cancelled in May, cancelled in June).
type Booked = (
    Vec<(String, Answer)>,
    Vec<(String, Answer)>,
    Vec<usize>,
    Vec<usize>,
);
async fn two_months(svc: &Service) -> Booked {
    let may = settle_in(svc, 5, 14).await;
    let june = settle_in(svc, 6, 9).await;
    cancel_at(svc, &may[1].0, "2017-05-30T11:00:00+08:00").await;
    cancel_at(svc, &may[6].0, "2017-05-31T23:59:00+08:00").await;
    cancel_at(svc, &may[3].0, "2017-06-02T08:00:00+08:00").await;
    cancel_at(svc, &may[8].0, "2017-06-15T08:00:00+08:00").await;
    (may, june, vec![1, 6], vec![3, 8])
}

fn money(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not money: {v}"))
        .parse()
        .expect("decimal")
}

fn row<'a>(report: &'a Value, table: &str, section: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap_or_else(|| panic!("no table {table}"))["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["section"] == section)
        .unwrap_or_else(|| panic!("no {section} row in {table}"))
}

async fn statements_equal_the_sums_of_the_answers(app: TestApp) {
    let svc = service(&app).await;
    let (may, june, rev_may, rev_june) = two_months(&svc).await;
    let sum = |xs: &[&Answer], f: fn(&Answer) -> Decimal| xs.iter().map(|a| f(a)).sum::<Decimal>();
    for (m, settled, reversed) in [
        (
            "2017-05",
            may.iter().map(|x| &x.1).collect::<Vec<_>>(),
            rev_may.iter().map(|i| &may[*i].1).collect::<Vec<_>>(),
        ),
        (
            "2017-06",
            june.iter().map(|x| &x.1).collect(),
            rev_june.iter().map(|i| &may[*i].1).collect(),
        ),
    ] {
        let r = app
            .get(
                &format!("/v1/reconciliation/{m}/statement"),
                Some(&app.centre),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let j = r.json();
        let orig = row(&j, "summary", "settlement");
        let rev = row(&j, "summary", "reversal");
        let net = row(&j, "summary", "net");
        assert_eq!(orig["count"], settled.len() as i64);
        assert_eq!(rev["count"], reversed.len() as i64);
        assert_eq!(net["count"], (settled.len() - reversed.len()) as i64);
        type Getter = fn(&Answer) -> Decimal;
        let fields: [(&str, Getter); 6] = [
            ("total", |a| a.total),
            ("free_items", |a| a.free_items),
            ("reduction", |a| a.reduction),
            ("hospital_waived", |a| a.hospital_waived),
            ("fund_paid", |a| a.fund_paid),
            ("patient_payable", |a| a.patient_payable),
        ];
        for (k, f) in fields {
            assert_eq!(money(&orig[k]), sum(&settled, f), "{m} settlement {k}");
            assert_eq!(money(&rev[k]), -sum(&reversed, f), "{m} reversal {k}");
            assert_eq!(
                money(&net[k]),
                sum(&settled, f) - sum(&reversed, f),
                "{m} net {k}"
            );
        }
        for code in ["390100", "390200", "610100", "640100"] {
            let by_code = |a: &Answer| {
                a.layers
                    .iter()
                    .filter(|l| l.fund_code == code)
                    .map(|l| l.paid)
                    .sum::<Decimal>()
            };
            let want: Decimal = settled.iter().map(|a| by_code(a)).sum::<Decimal>()
                - reversed.iter().map(|a| by_code(a)).sum::<Decimal>();
            let got = net
                .get(format!("fund_{code}"))
                .map(money)
                .unwrap_or_default();
            assert_eq!(got, want, "{m} fund {code}");
        }
        // Clearing: each hospital is owed what its net fund_paid says.
        let c = app
            .get(
                &format!("/v1/reconciliation/{m}/clearing"),
                Some(&app.centre),
            )
            .await
            .json();
        let owed: Decimal = c["tables"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| money(&r["amount"]))
            .sum();
        assert_eq!(owed, money(&net["fund_paid"]));
        // Every format carries the same figures.
        let total = fmt2(money(&net["total"]));
        for f in ["csv", "xml"] {
            let r = app
                .get(
                    &format!("/v1/reconciliation/{m}/statement?format={f}"),
                    Some(&app.centre),
                )
                .await;
            assert_eq!(r.status, 200);
            assert!(r.text.contains(&total), "{f}: {total} missing");
        }
        let x = app
            .client
            .get(format!(
                "{}/v1/reconciliation/{m}/statement?format=xlsx",
                app.base
            ))
            .bearer_auth(&app.centre)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(x.starts_with(b"PK"));
        // The month sums equal a recomputation from the rows.
        let month: Month = m.parse().unwrap();
        assert_eq!(
            app.db.month_cells(month, None).await.unwrap(),
            app.db.month_cells_from_rows(month, None).await.unwrap()
        );
        // A hospital key reads its own statement only.
        let own = app
            .get(
                &format!("/v1/reconciliation/{m}/statement?hospital=H0002"),
                Some(&app.h2),
            )
            .await;
        assert_eq!(own.status, 200);
        let other = app
            .get(
                &format!("/v1/reconciliation/{m}/statement?hospital=H0001"),
                Some(&app.h2),
            )
            .await;
        assert_eq!(other.status, 403);
    }
    // A reversal of an old settlement lands in the current month.
    let now = Month::of_date(storage::now_china().date_naive());
    let r = app.cancel(&app.h1, &june[3].0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cur = app
        .get(
            &format!("/v1/reconciliation/{now}/statement"),
            Some(&app.centre),
        )
        .await
        .json();
    assert_eq!(row(&cur, "summary", "reversal")["count"], 1);
    assert_eq!(
        money(&row(&cur, "summary", "reversal")["total"]),
        -june[3].1.total
    );
    let june_again = app
        .get("/v1/reconciliation/2017-06/statement", Some(&app.centre))
        .await
        .json();
    assert_eq!(row(&june_again, "summary", "reversal")["count"], 2);
    app.assert_ledger_balanced().await;
}

async fn closed_months_do_not_change(app: TestApp) {
    let svc = service(&app).await;
    let (may, _, _, _) = two_months(&svc).await;
    let before = app
        .get("/v1/reconciliation/2017-05/statement", Some(&app.centre))
        .await
        .json();
    let r = app
        .post_raw(
            "/v1/reconciliation/2017-05/close",
            Some(&app.h1),
            "application/json",
            "",
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post_raw(
            "/v1/reconciliation/2017-05/close",
            Some(&app.centre),
            "application/json",
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "closed");
    let again = app
        .post_raw(
            "/v1/reconciliation/2017-05/close",
            Some(&app.centre),
            "application/json",
            "",
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains("already closed"));
    // Late rows (a settlement committed in May after the close, and a
    // cancellation now) do not change May's figures: they are booked in the
    // first open month after it.
    let june_before = app
        .get("/v1/reconciliation/2017-06/statement", Some(&app.centre))
        .await
        .json();
    storage::with_clock(
        at("2017-05-31T23:00:00+08:00"),
        svc.settle(
            medaid::engine::claim::parse_json(&claim(40, 5).to_string()).unwrap(),
            "H0002",
        ),
    )
    .await
    .unwrap();
    svc.cancel(&may[0].0, None).await.unwrap();
    let after = app
        .get("/v1/reconciliation/2017-05/statement", Some(&app.centre))
        .await
        .json();
    assert_eq!(after["tables"], before["tables"]);
    assert_eq!(after["params"]["status"], "closed");
    // Reopening: admin only, with a reason; recorded.
    let r = app
        .post_json(
            "/v1/reconciliation/2017-05/reopen",
            &app.centre,
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post_json("/v1/reconciliation/2017-05/reopen", &app.admin, &json!({}))
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .post_json(
            "/v1/reconciliation/2017-05/reopen",
            &app.admin,
            &json!({"reason": "late settlement of H0002"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let st = r.json();
    assert_eq!(st["status"], "open");
    assert_eq!(st["events"][1][2], "late settlement of H0002");
    let live = app
        .get("/v1/reconciliation/2017-05/statement", Some(&app.centre))
        .await
        .json();
    // May is as it was at the close; the late May settlement is in June.
    assert_eq!(live["tables"], before["tables"]);
    let june = app
        .get("/v1/reconciliation/2017-06/statement", Some(&app.centre))
        .await
        .json();
    assert_eq!(
        row(&june, "summary", "settlement")["count"]
            .as_i64()
            .unwrap(),
        row(&june_before, "summary", "settlement")["count"]
            .as_i64()
            .unwrap()
            + 1
    );
    let r = app
        .post_json(
            "/v1/reconciliation/2017-05/reopen",
            &app.admin,
            &json!({"reason": "again"}),
        )
        .await;
    assert_eq!(r.status, 409);
}

async fn planted_differences_are_found_exactly(app: TestApp) {
    let svc = service(&app).await;
    two_months(&svc).await;
    let r = app
        .get(
            "/v1/reconciliation/2017-05/details?hospital=H0002&format=csv",
            Some(&app.centre),
        )
        .await;
    assert_eq!(r.status, 200);
    let ours = r.text.clone();
    let check = |body: String| {
        let app = &app;
        async move {
            let r = app
                .post_raw(
                    "/v1/reconciliation/2017-05/check-details?hospital=H0002",
                    Some(&app.centre),
                    "text/csv",
                    body,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()
        }
    };
    let clean = check(ours.clone()).await;
    assert_eq!(clean["params"]["result"], "match", "{clean}");
    let mut lines: Vec<String> = ours.lines().map(str::to_string).collect();
    let header: Vec<String> = lines[0].split(',').map(str::to_string).collect();
    let col = |k: &str| header.iter().position(|h| h == k).unwrap();
    let missing = lines.remove(1);
    let missing_claim = missing.split(',').nth(col("claim_id")).unwrap().to_string();
    let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    let altered_claim = f[col("claim_id")].clone();
    let t = col("fund_610100");
    f[t] = fmt2(f[t].parse::<Decimal>().unwrap() + Decimal::new(1, 2));
    lines[2] = f.join(",");
    let mut extra = vec![String::new(); header.len()];
    extra[col("hospital")] = "H0002".into();
    extra[col("claim_id")] = "NOT-OURS-1".into();
    extra[col("kind")] = "settlement".into();
    extra[col("total")] = "100.00".into();
    extra[col("patient_payable")] = "100.00".into();
    lines.push(extra.join(","));
    let j = check(lines.join("\n")).await;
    let d = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "discrepancies")
        .unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(d.len(), 3, "{d:#?}");
    let status_of = |c: &str| {
        d.iter()
            .find(|r| r["claim_id"] == c)
            .map(|r| r["status"].clone())
    };
    assert_eq!(
        status_of(&missing_claim),
        Some(json!("missing_in_hospital"))
    );
    assert_eq!(status_of("NOT-OURS-1"), Some(json!("missing_in_centre")));
    assert_eq!(status_of(&altered_claim), Some(json!("differs")));
    let fd = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "field_differences")
        .unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(fd.len(), 1);
    assert_eq!(fd[0]["field"], "610100");
    assert_eq!(fd[0]["difference"], "0.01");
    // Totals: the statement's own figures match; one fund off is named.
    let st = app
        .get(
            "/v1/reconciliation/2017-05/statement?hospital=H0002",
            Some(&app.centre),
        )
        .await
        .json();
    let net = row(&st, "summary", "net");
    let mut csv = String::from("fund_code,amount\n");
    for (k, v) in net.as_object().unwrap() {
        if let Some(code) = k.strip_prefix("fund_") {
            let v = money(v)
                + if code == "390100" {
                    Decimal::ONE
                } else {
                    Decimal::ZERO
                };
            csv.push_str(&format!("{code},{}\n", fmt2(v)));
        }
    }
    csv.push_str(&format!("total,{}\n", net["total"].as_str().unwrap()));
    let r = app
        .post_raw(
            "/v1/reconciliation/2017-05/check-totals?hospital=H0002",
            Some(&app.centre),
            "text/csv",
            csv,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.json()["tables"][0]["rows"].as_array().unwrap().clone();
    let differs: Vec<_> = rows.iter().filter(|r| r["status"] == "differs").collect();
    assert_eq!(differs.len(), 1, "{rows:#?}");
    assert_eq!(differs[0]["item"], "390100");
    assert_eq!(differs[0]["difference"], "1.00");
}

async fn resettlement_moves_accumulators_by_the_difference(app: TestApp) {
    let svc = service(&app).await;
    // P_INSURED has no aid category; two settlements in May.
    let mut ids = Vec::new();
    for i in [3usize, 7] {
        let c = medaid::engine::claim::parse_json(&claim(i, 5).to_string()).unwrap();
        assert_eq!(c.person_id, P_INSURED);
        let h = c.hospital.clone();
        let s = storage::with_clock(at("2017-05-20T10:00:00+08:00"), svc.settle(c, &h))
            .await
            .unwrap();
        ids.push(s.settlement_id);
    }
    let before = app.accumulators(P_INSURED, 2017).await;
    // Nothing changed yet: nothing to re-settle.
    let r = app
        .get(
            &format!("/v1/registry/resettlements?person={P_INSURED}"),
            Some(&app.centre),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["tables"][0]["rows"].as_array().unwrap().len(), 0);
    // The registry learns late that the person was dibao all along.
    app.db
        .upsert_registry(&[RegistryRow {
            person_id: P_INSURED.into(),
            name: "测试".into(),
            category: "dibao".into(),
            valid_from: "2016-01-01".into(),
            valid_to: None,
            region: None,
        }])
        .await
        .unwrap();
    let preview = app
        .get(
            &format!("/v1/registry/resettlements?person={P_INSURED}"),
            Some(&app.centre),
        )
        .await
        .json();
    let rows = preview["tables"][0]["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{preview:#}");
    assert_eq!(rows[0]["new_categories"], "dibao");
    assert_eq!(
        app.accumulators(P_INSURED, 2017).await,
        before,
        "a preview writes nothing"
    );
    let aid_diff: Decimal = rows.iter().map(|r| money(&r["aid_diff"])).sum();
    assert!(aid_diff > Decimal::ZERO, "dibao brings medical aid");
    let confirmed = app
        .post_json(
            "/v1/registry/resettlements",
            &app.centre,
            &json!({"persons": [P_INSURED]}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let c = confirmed.json();
    let crow = c["tables"][0]["rows"].as_array().unwrap().clone();
    assert_eq!(crow.len(), 2);
    // Same figures as previewed.
    for (p, q) in rows.iter().zip(&crow) {
        for k in [
            "insurance_diff",
            "aid_diff",
            "government_diff",
            "patient_payable_diff",
        ] {
            assert_eq!(p[k], q[k], "{k}");
        }
    }
    // Accumulators moved by exactly new − old, per layer.
    let after = app.accumulators(P_INSURED, 2017).await;
    let mut old_paid = std::collections::BTreeMap::<String, Decimal>::new();
    let mut new_paid = old_paid.clone();
    for r in &crow {
        let old: Answer = serde_json::from_str(
            &app.db
                .settlement(r["settlement_id"].as_str().unwrap())
                .await
                .unwrap()
                .unwrap()
                .answer_json,
        )
        .unwrap();
        let new: Answer = serde_json::from_str(
            &app.db
                .settlement(r["new_settlement_id"].as_str().unwrap())
                .await
                .unwrap()
                .unwrap()
                .answer_json,
        )
        .unwrap();
        for l in &old.layers {
            *old_paid.entry(l.id.clone()).or_default() += l.paid;
        }
        for l in &new.layers {
            *new_paid.entry(l.id.clone()).or_default() += l.paid;
        }
    }
    for (b, a) in before["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["layers"].as_array().unwrap())
    {
        let id = b["id"].as_str().unwrap();
        assert_eq!(
            money(&a["paid"]) - money(&b["paid"]),
            new_paid.get(id).copied().unwrap_or_default()
                - old_paid.get(id).copied().unwrap_or_default(),
            "layer {id}"
        );
    }
    app.assert_ledger_balanced().await;
    let audit = app.db.audit().await.unwrap();
    assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    // `medaid verify` recomputes the re-settlements as stored too.
    let v = medaid::service::verify::verify(&app.db).await.unwrap();
    assert!(v.differences.is_empty(), "{:?}", v.differences);
    // The originals are cancelled; a second run finds nothing to do.
    let g = app
        .get(&format!("/v1/settlements/{}", ids[0]), Some(&app.centre))
        .await
        .json();
    assert_eq!(g["status"], "cancelled");
    let again = app
        .get(
            &format!("/v1/registry/resettlements?person={P_INSURED}"),
            Some(&app.centre),
        )
        .await
        .json();
    assert_eq!(again["tables"][0]["rows"].as_array().unwrap().len(), 0);
    // The hospital retrying the claim gets the re-settled answer.
    let retry = app.settle(&app.h2, &claim(7, 5)).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.json()["settlement_id"], crow[1]["new_settlement_id"]);
}
