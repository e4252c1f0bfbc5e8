//! Hand-worked examples, one per rule of the arithmetic, with the arithmetic
//! written out. Each test builds a small policy around the rule it checks.

use medaid::engine::{self, book::Book, claim, Accumulator, Answer, Policy};
use rust_decimal::Decimal;
use std::str::FromStr;

const HEADER: &str = r#"
[policy]
id = "t-2020"
name = "测试政策"
region = "000000"
effective_from = "2020-01-01"
effective_to = "2020-12-31"

[levels]
township = "乡镇"
county = "县级"
city = "市级"

[categories]
a = "甲类对象"
b = "乙类对象"
c = "丙类对象"

[medical_types]
inpatient = "住院"
outpatient = "门诊"

[diseases.major]
label = "重大疾病"
icd10 = ["C34", "N18.5"]

[catalogue]
self_pay_first = { B = "0.10" }
"#;

fn policy(rest: &str) -> Policy {
    Policy::from_toml(&format!("{HEADER}\n{rest}"), "test").unwrap_or_else(|e| panic!("{e}"))
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A claim with the given items (`(kind, class, amount, limit)`).
fn claim_json(
    id: &str,
    level: &str,
    cats: &[&str],
    mt: &str,
    dx: &str,
    items: &[(&str, &str, &str, Option<&str>)],
) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|(kind, class, amount, limit)| {
            let mut v = serde_json::json!({"code": "x", "name": "项目", "kind": kind, "class": class, "amount": amount});
            if let Some(l) = limit {
                v["limit_amount"] = serde_json::json!(l);
            }
            v
        })
        .collect();
    serde_json::json!({
        "claim_id": id, "hospital": "H1", "hospital_level": level, "person_id": "P1",
        "categories": cats, "medical_type": mt,
        "admitted_on": "2020-03-01", "discharged_on": "2020-03-05",
        "diagnoses": [dx], "items": items,
    })
    .to_string()
}

/// Settle claims in order for one person, accumulators carried.
fn run(p: &Policy, claims: &[String]) -> Vec<Answer> {
    let mut book = Book::new();
    claims
        .iter()
        .map(|text| {
            let c = claim::parse_json(text).unwrap();
            let accs = book.get(&c.person_id, 2020, p);
            let (a, comp) = engine::settle_stated(p, &c, accs).unwrap();
            for (acc, delta) in accs.iter_mut().zip(comp.deltas()) {
                acc.add(delta);
            }
            check_conservation(&a);
            a
        })
        .collect()
}

fn one(p: &Policy, text: String) -> Answer {
    run(p, &[text]).pop().unwrap()
}

fn check_conservation(a: &Answer) {
    assert_eq!(a.total, a.hospital_waived + a.fund_paid + a.patient_payable);
    assert_eq!(
        a.fund_paid,
        a.layers.iter().map(|l| l.paid).sum::<Decimal>()
    );
}

fn layer<'a>(a: &'a Answer, id: &str) -> &'a engine::answer::LayerAnswer {
    a.layers.iter().find(|l| l.id == id).unwrap()
}

#[test]
fn design_worked_example() {
    // the contract's worked example: hospital_waived 37.00, basic 194.40, critical 0.00,
    // aid 34.02, fund_paid 228.42, patient_payable 59.58, ratio 0.8167.
    let p = Policy::from_toml(include_str!("../fixtures/design/policy.toml"), "design").unwrap();
    let c = claim::parse_json(include_str!("../fixtures/design/claim.json")).unwrap();
    let (a, _) = engine::settle_stated(&p, &c, &[]).unwrap();
    assert_eq!(a.free_items, d("5.00"));
    assert_eq!(a.over_limit, d("20.00"));
    assert_eq!(a.self_pay_first, d("30.00"));
    assert_eq!(a.in_policy, d("270.00"));
    assert_eq!(a.reduction, d("32.00"));
    assert_eq!(a.hospital_waived, d("37.00"));
    let paid: Vec<_> = a
        .layers
        .iter()
        .map(|l| (l.id.as_str(), l.applied, l.paid))
        .collect();
    assert_eq!(
        paid,
        vec![
            ("basic", true, d("194.40")),
            ("critical", true, d("0")),
            ("aid", true, d("34.02")),
            ("floor", false, d("0"))
        ]
    );
    assert_eq!(layer(&a, "critical").deductible, d("48.60"));
    assert_eq!(a.fund_paid, d("228.42"));
    assert_eq!(a.patient_payable, d("59.58"));
    assert_eq!(a.reimbursement_ratio, d("0.8167"));
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["reimbursement_ratio"], "0.8167");
    assert_eq!(json["layers"][0]["ratio"], "0.80");
    assert_eq!(json["layers"][3]["paid"], "0.00");
    assert_eq!(json["total"], "325.00");
}

#[test]
fn ratio_by_level_with_admission_deductible() {
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = { township = "0.90", county = "0.80", city = "0.70" }
deductible = { per = "admission", amount = { township = "100", county = "300", city = "600" } }
"#,
    );
    // county: 1000.00 − 300.00 = 700.00 × 0.80 = 560.00
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &[],
            "inpatient",
            "J18",
            &[("bed", "A", "1000.00", None)],
        ),
    );
    assert_eq!(layer(&a, "basic").deductible, d("300"));
    assert_eq!(layer(&a, "basic").paid, d("560.00"));
    assert_eq!(a.patient_payable, d("440.00"));
    // city: 1000.00 − 600.00 = 400.00 × 0.70 = 280.00
    let a = one(
        &p,
        claim_json(
            "c2",
            "city",
            &[],
            "inpatient",
            "J18",
            &[("bed", "A", "1000.00", None)],
        ),
    );
    assert_eq!(layer(&a, "basic").paid, d("280.00"));
    // per admission: a second admission pays the deductible again
    let two = run(
        &p,
        &[
            claim_json(
                "c3",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("bed", "A", "1000.00", None)],
            ),
            claim_json(
                "c4",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("bed", "A", "1000.00", None)],
            ),
        ],
    );
    assert_eq!(layer(&two[1], "basic").deductible, d("300"));
    assert_eq!(layer(&two[1], "basic").paid, d("560.00"));
}

#[test]
fn item_classes_limits_and_rounding() {
    let p = policy(
        r#"
[[layers]]
id = "all"
payer = "insurance"
ratio = "1"
"#,
    );
    // B 333.33 limit 300.00: over 33.33, r 300.00, self-pay-first 30.00, in 270.00
    // B 0.15: self-pay-first round(0.015) = 0.02 (half away from zero), in 0.13
    // C 12.34: fully self-pay; A 10.00 limit 20.00: in 10.00 (under the limit)
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &[],
            "inpatient",
            "J18",
            &[
                ("drug", "B", "333.33", Some("300.00")),
                ("drug", "B", "0.15", None),
                ("drug", "C", "12.34", None),
                ("x", "A", "10.00", Some("20.00")),
            ],
        ),
    );
    assert_eq!(a.total, d("355.82"));
    assert_eq!(a.over_limit, d("33.33"));
    assert_eq!(a.self_pay_first, d("30.02"));
    assert_eq!(a.fully_self_pay, d("12.34"));
    assert_eq!(a.in_policy, d("280.13"));
    // ratio 1: the layer pays all of in-policy, the patient all of the rest
    assert_eq!(a.fund_paid, d("280.13"));
    assert_eq!(a.patient_payable, d("75.69"));
}

const WAIVERS: &str = r#"
[waivers]
categories = ["a"]
free_items = ["registration"]
free_item_levels = ["county"]
reduction_rate = "0.10"
reduction_levels = ["county"]
reduction_medical_types = ["inpatient"]

[[layers]]
id = "basic"
payer = "insurance"
ratio = "0.50"
"#;

#[test]
fn waivers_free_items_and_reduction() {
    let p = policy(WAIVERS);
    let items = [
        ("registration", "A", "5.00", None),
        ("bed", "A", "1000.00", None),
        ("drug", "C", "100.05", None),
    ];
    // a at county: free 5.00; reduction_in round(0.1 × 1000.00) = 100.00,
    // reduction_out round(0.1 × 100.05 = 10.005) = 10.01; waived 115.01;
    // in_net 900.00 × 0.50 = 450.00; patient 1105.05 − 115.01 − 450.00 = 540.04
    let a = one(
        &p,
        claim_json("c1", "county", &["a"], "inpatient", "J18", &items),
    );
    assert_eq!(a.free_items, d("5.00"));
    assert_eq!(a.reduction, d("110.01"));
    assert_eq!(a.hospital_waived, d("115.01"));
    assert_eq!(a.fund_paid, d("450.00"));
    assert_eq!(a.patient_payable, d("540.04"));
    // b holds no waiver category: registration is an ordinary in-policy item
    // (1005.00 × 0.50 = 502.50)
    let a = one(
        &p,
        claim_json("c2", "county", &["b"], "inpatient", "J18", &items),
    );
    assert_eq!(a.hospital_waived, d("0"));
    assert_eq!(a.fund_paid, d("502.50"));
    // a at a city hospital: neither free items nor reduction at that level
    let a = one(
        &p,
        claim_json("c3", "city", &["a"], "inpatient", "J18", &items),
    );
    assert_eq!(a.hospital_waived, d("0"));
    // a at county as an outpatient: free items yes, no reduction for the type
    let a = one(
        &p,
        claim_json("c4", "county", &["a"], "outpatient", "J18", &items),
    );
    assert_eq!(a.free_items, d("5.00"));
    assert_eq!(a.reduction, d("0"));
    assert_eq!(a.fund_paid, d("500.00"));
}

const BANDS: &str = r#"
[[layers]]
id = "critical"
payer = "insurance"
bands = [ { upto = "10000", ratio = "0.50" }, { upto = "20000", ratio = "0.60" }, { ratio = "0.70" } ]
ratio_bonus = { a = "0.05" }
"#;

#[test]
fn band_boundary_crossed_inside_one_claim() {
    let p = policy(BANDS);
    // first claim 8000.00: all in band 1: 8000 × 0.50 = 4000.00
    // second claim 15000.00 walks [8000, 23000):
    //   [8000, 10000) 2000 × 0.50 = 1000
    //   [10000, 20000) 10000 × 0.60 = 6000
    //   [20000, 23000) 3000 × 0.70 = 2100   → 9100.00
    let r = run(
        &p,
        &[
            claim_json(
                "c1",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "8000.00", None)],
            ),
            claim_json(
                "c2",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "15000.00", None)],
            ),
        ],
    );
    assert_eq!(layer(&r[0], "critical").paid, d("4000.00"));
    assert_eq!(layer(&r[1], "critical").paid, d("9100.00"));
    assert_eq!(layer(&r[1], "critical").ratio, Some(d("0.50")));
    // with the bonus of category a, every band +5 %:
    // 4000 + (2000 × 0.55 + 10000 × 0.65 + 3000 × 0.75 = 9850.00)
    let r = run(
        &p,
        &[
            claim_json(
                "c1",
                "county",
                &["a"],
                "inpatient",
                "J18",
                &[("x", "A", "8000.00", None)],
            ),
            claim_json(
                "c2",
                "county",
                &["a"],
                "inpatient",
                "J18",
                &[("x", "A", "15000.00", None)],
            ),
        ],
    );
    assert_eq!(layer(&r[0], "critical").paid, d("4400.00"));
    assert_eq!(layer(&r[1], "critical").paid, d("9850.00"));
}

#[test]
fn bands_round_once_on_the_sum() {
    let p = policy(
        r#"
[[layers]]
id = "critical"
payer = "insurance"
bands = [ { upto = "0.01", ratio = "0.50" }, { ratio = "0.50" } ]
"#,
    );
    // 0.01 × 0.5 + 0.02 × 0.5 = 0.015 → 0.02 (rounding each band would give
    // 0.01 + 0.01 = 0.02 too, so use three fen: 0.005 + 0.01 = 0.015 → 0.02)
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &[],
            "inpatient",
            "J18",
            &[("x", "A", "0.03", None)],
        ),
    );
    assert_eq!(layer(&a, "critical").paid, d("0.02"));
}

#[test]
fn annual_deductible_spread_over_two_admissions() {
    let p = policy(
        r#"
[[layers]]
id = "critical"
payer = "insurance"
ratio = "0.50"
deductible = { per = "year", amount = "1000" }
"#,
    );
    // first 600.00: deductible 600.00, eligible 0, pays 0.00
    // second 1000.00: deductible max(0, 1000 − 600) = 400.00, eligible 600.00 × 0.5 = 300.00
    // third 100.00: deductible used up, 100.00 × 0.5 = 50.00
    let r = run(
        &p,
        &[
            claim_json(
                "c1",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "600.00", None)],
            ),
            claim_json(
                "c2",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "1000.00", None)],
            ),
            claim_json(
                "c3",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "100.00", None)],
            ),
        ],
    );
    assert_eq!(
        (
            layer(&r[0], "critical").deductible,
            layer(&r[0], "critical").paid
        ),
        (d("600"), d("0"))
    );
    assert_eq!(
        (
            layer(&r[1], "critical").deductible,
            layer(&r[1], "critical").paid
        ),
        (d("400"), d("300.00"))
    );
    assert_eq!(
        (
            layer(&r[2], "critical").deductible,
            layer(&r[2], "critical").paid
        ),
        (d("0"), d("50.00"))
    );
}

#[test]
fn cap_reached_mid_claim_and_exempt() {
    let p = policy(
        r#"
[[layers]]
id = "aid"
payer = "aid"
ratio = "1"
cap = { per = "year", amount = "1000", exempt = ["a"] }

[[layers]]
id = "top"
payer = "charity"
ratio = "1"
cap = { per = "admission", amount = "200" }
"#,
    );
    // 700.00, then 500.00: the cap leaves 300.00; cap_limited; then 0.00.
    // The charity layer below takes min(rest, 200.00) per admission.
    let r = run(
        &p,
        &[
            claim_json(
                "c1",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "700.00", None)],
            ),
            claim_json(
                "c2",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "500.00", None)],
            ),
            claim_json(
                "c3",
                "county",
                &[],
                "inpatient",
                "J18",
                &[("x", "A", "500.00", None)],
            ),
        ],
    );
    assert_eq!(layer(&r[0], "aid").paid, d("700.00"));
    assert!(!layer(&r[0], "aid").cap_limited);
    assert_eq!(layer(&r[1], "aid").paid, d("300.00"));
    assert!(layer(&r[1], "aid").cap_limited);
    // the charity layer gets exactly 200.00, its cap, without being lowered
    assert_eq!(layer(&r[1], "top").paid, d("200.00"));
    assert!(!layer(&r[1], "top").cap_limited);
    // third claim: aid exhausted; charity 500.00 lowered to its 200.00 cap
    assert_eq!(layer(&r[2], "top").paid, d("200.00"));
    assert!(layer(&r[2], "top").cap_limited);
    assert_eq!(layer(&r[2], "aid").paid, d("0.00"));
    assert!(layer(&r[2], "aid").cap_limited);
    assert_eq!(r[2].patient_payable, d("300.00"));
    // exempt category: no cap at all
    let r = run(
        &p,
        &[
            claim_json(
                "c1",
                "county",
                &["a"],
                "inpatient",
                "J18",
                &[("x", "A", "700.00", None)],
            ),
            claim_json(
                "c2",
                "county",
                &["a"],
                "inpatient",
                "J18",
                &[("x", "A", "500.00", None)],
            ),
        ],
    );
    assert_eq!(layer(&r[1], "aid").paid, d("500.00"));
}

#[test]
fn person_with_two_categories() {
    let p = policy(
        r#"
[[layers]]
id = "aid"
payer = "aid"
ratio_by_category = { a = "0.70", b = "0.85" }
ratio_bonus = { a = "0.05", b = "0.10" }
deductible = { per = "year", amount = "1000", factor = { a = "0.5", b = "0.8" } }
"#,
    );
    // a+b: deductible round(1000 × min(0.5, 0.8)) = 500.00;
    // ratio max(0.70, 0.85) + max bonus 0.10 = 0.95; (3000 − 500) × 0.95 = 2375.00
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &["a", "b"],
            "inpatient",
            "J18",
            &[("x", "A", "3000.00", None)],
        ),
    );
    let l = layer(&a, "aid");
    assert_eq!(l.deductible, d("500"));
    assert_eq!(l.ratio, Some(d("0.95")));
    assert_eq!(l.paid, d("2375.00"));
    // b alone: deductible 800.00; 0.85 + 0.10 = 0.95; 2200 × 0.95 = 2090.00
    let a = one(
        &p,
        claim_json(
            "c2",
            "county",
            &["b"],
            "inpatient",
            "J18",
            &[("x", "A", "3000.00", None)],
        ),
    );
    assert_eq!(layer(&a, "aid").paid, d("2090.00"));
    // c holds no category of the table: out of scope (the scope is its keys)
    let a = one(
        &p,
        claim_json(
            "c3",
            "county",
            &["c"],
            "inpatient",
            "J18",
            &[("x", "A", "3000.00", None)],
        ),
    );
    assert!(!layer(&a, "aid").applied);
    assert_eq!(a.patient_payable, d("3000.00"));
}

#[test]
fn ratio_plus_bonus_capped_at_one() {
    let p = policy(
        r#"
[[layers]]
id = "aid"
payer = "aid"
ratio = "0.98"
ratio_bonus = { a = "0.05" }
"#,
    );
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &["a"],
            "inpatient",
            "J18",
            &[("x", "A", "100.00", None)],
        ),
    );
    assert_eq!(layer(&a, "aid").ratio, Some(d("1")));
    assert_eq!(layer(&a, "aid").paid, d("100.00"));
}

#[test]
fn disease_group_cap() {
    let p = policy(
        r#"
[[layers]]
id = "aid"
payer = "aid"
ratio = "1"
cap = { per = "year", amount = { default = "1000", major = "3000" } }
"#,
    );
    // C34.1 matches `major` (prefix C34): cap 3000 → pays all 2500.00
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &[],
            "inpatient",
            "C34.1",
            &[("x", "A", "2500.00", None)],
        ),
    );
    assert_eq!(layer(&a, "aid").paid, d("2500.00"));
    // matching ignores case and surrounding spaces
    let a = one(
        &p,
        claim_json(
            "c2",
            "county",
            &[],
            "inpatient",
            " c34.1 ",
            &[("x", "A", "2500.00", None)],
        ),
    );
    assert_eq!(layer(&a, "aid").paid, d("2500.00"));
    // J18 matches no group: default 1000.00
    let a = one(
        &p,
        claim_json(
            "c3",
            "county",
            &[],
            "inpatient",
            "J18",
            &[("x", "A", "2500.00", None)],
        ),
    );
    assert_eq!(layer(&a, "aid").paid, d("1000.00"));
    assert!(layer(&a, "aid").cap_limited);
}

#[test]
fn scope_by_type_level_disease_and_category() {
    let p = policy(
        r#"
[[layers]]
id = "inpatient_only"
payer = "insurance"
medical_types = ["inpatient"]
ratio = "0.10"

[[layers]]
id = "county_only"
payer = "insurance"
levels = ["county"]
ratio = "0.10"

[[layers]]
id = "major_only"
payer = "aid"
diseases = ["major"]
ratio = "0.10"

[[layers]]
id = "b_only"
payer = "aid"
categories = ["b"]
ratio = "0.10"
"#,
    );
    let a = one(
        &p,
        claim_json(
            "c1",
            "city",
            &["a"],
            "outpatient",
            "J18",
            &[("x", "A", "100.00", None)],
        ),
    );
    assert!(a.layers.iter().all(|l| !l.applied && l.paid.is_zero()));
    // 100 × 0.1 = 10.00, 90 × 0.1 = 9.00, 81 × 0.1 = 8.10, 72.90 × 0.1 = 7.29
    let a = one(
        &p,
        claim_json(
            "c2",
            "county",
            &["b"],
            "inpatient",
            "N18.5",
            &[("x", "A", "100.00", None)],
        ),
    );
    let paid: Vec<_> = a.layers.iter().map(|l| l.paid).collect();
    assert_eq!(paid, vec![d("10.00"), d("9.00"), d("8.10"), d("7.29")]);
}

#[test]
fn base_all_pays_out_of_policy_after_in_policy() {
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = "0.50"

[[layers]]
id = "charity"
payer = "charity"
base = "all"
ratio = "0.50"

[[layers]]
id = "after"
payer = "aid"
ratio = "1"
"#,
    );
    // in 1000.00, out (C) 200.00. basic 500.00 → rem_in 500, rem_out 200.
    // charity: base 700.00 × 0.5 = 350.00, off rem_in first → rem_in 150, rem_out 200.
    // after (in_policy base): 150.00. patient = 1200 − 1000 = 200.00
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &[],
            "inpatient",
            "J18",
            &[("x", "A", "1000.00", None), ("y", "C", "200.00", None)],
        ),
    );
    assert_eq!(layer(&a, "charity").base, d("700.00"));
    assert_eq!(layer(&a, "charity").paid, d("350.00"));
    assert_eq!(layer(&a, "after").base, d("150.00"));
    assert_eq!(layer(&a, "after").paid, d("150.00"));
    assert_eq!(a.patient_payable, d("200.00"));
}

fn target_policy(reference: &str, base: &str) -> Policy {
    policy(&format!(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = "0.50"

[[layers]]
id = "floor"
payer = "government"
kind = "target"
target_ratio = "0.90"
reference = "{reference}"
base = "{base}"
"#
    ))
}

#[test]
fn target_layer_both_references() {
    let items = [("x", "A", "1000.00", None), ("y", "C", "500.00", None)];
    // in_policy: ref = in_net 1000.00, allowed round(0.10 × 1000) = 100.00;
    // base rem_in 500.00 → pays 400.00; patient 1500 − 900 = 600.00
    let a = one(
        &target_policy("in_policy", "in_policy"),
        claim_json("c1", "county", &[], "inpatient", "J18", &items),
    );
    assert_eq!(layer(&a, "floor").paid, d("400.00"));
    assert_eq!(layer(&a, "floor").deductible, d("0"));
    assert_eq!(layer(&a, "floor").eligible, d("0"));
    assert_eq!(a.patient_payable, d("600.00"));
    // total: ref = 1500.00, allowed 150.00; base rem_in 500 → 350.00
    let a = one(
        &target_policy("total", "in_policy"),
        claim_json("c2", "county", &[], "inpatient", "J18", &items),
    );
    assert_eq!(layer(&a, "floor").paid, d("350.00"));
    // total with base all: base 1000.00 − 150.00 = 850.00 (500 in, 350 out);
    // the patient keeps exactly 10 %: 150.00, ratio 0.9000
    let a = one(
        &target_policy("total", "all"),
        claim_json("c3", "county", &[], "inpatient", "J18", &items),
    );
    assert_eq!(layer(&a, "floor").paid, d("850.00"));
    assert_eq!(a.patient_payable, d("150.00"));
    assert_eq!(a.reimbursement_ratio, d("0.9"));
    // when earlier layers already reach the target, the floor pays nothing
    let a = one(
        &target_policy("total", "in_policy"),
        claim_json(
            "c4",
            "county",
            &[],
            "inpatient",
            "J18",
            &[("x", "A", "100.00", None), ("y", "C", "900.00", None)],
        ),
    );
    // ref 1000, allowed 100.00, rem_in 50.00 → max(0, 50 − 100) = 0.00
    assert_eq!(layer(&a, "floor").paid, d("0.00"));
}

#[test]
fn deductible_waived_by_category_and_level() {
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = "0.80"
deductible = { per = "admission", amount = "300", waive = { categories = ["a"], levels = ["township", "county"] } }
"#,
    );
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &["a"],
            "inpatient",
            "J18",
            &[("x", "A", "1000.00", None)],
        ),
    );
    assert_eq!(layer(&a, "basic").paid, d("800.00"));
    // at a city hospital the waiver does not hold: (1000 − 300) × 0.8
    let a = one(
        &p,
        claim_json(
            "c2",
            "city",
            &["a"],
            "inpatient",
            "J18",
            &[("x", "A", "1000.00", None)],
        ),
    );
    assert_eq!(layer(&a, "basic").paid, d("560.00"));
    let a = one(
        &p,
        claim_json(
            "c3",
            "county",
            &["b"],
            "inpatient",
            "J18",
            &[("x", "A", "1000.00", None)],
        ),
    );
    assert_eq!(layer(&a, "basic").paid, d("560.00"));
}

#[test]
fn zero_bill() {
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = "0.80"
deductible = { per = "year", amount = "300" }
cap = { per = "year", amount = "1000" }
"#,
    );
    let a = one(
        &p,
        claim_json(
            "c1",
            "county",
            &[],
            "inpatient",
            "J18",
            &[("x", "A", "0.00", None)],
        ),
    );
    assert_eq!(a.total, d("0"));
    assert_eq!(a.fund_paid, d("0"));
    assert_eq!(a.patient_payable, d("0"));
    assert_eq!(a.reimbursement_ratio, d("0"));
    assert!(layer(&a, "basic").applied);
    assert_eq!(
        serde_json::to_value(&a).unwrap()["reimbursement_ratio"],
        "0.0000"
    );
}

#[test]
fn refused_claims_name_the_field() {
    let p = policy(WAIVERS);
    let text = claim_json(
        "c1",
        "village",
        &[],
        "inpatient",
        "J18",
        &[("x", "A", "1.00", None)],
    );
    let c = claim::parse_json(&text).unwrap();
    let e = engine::settle_stated(&p, &c, &[]).unwrap_err();
    assert_eq!(e.path, "hospital_level");
    let text = claim_json(
        "c1",
        "county",
        &["a", "zz"],
        "inpatient",
        "J18",
        &[("x", "A", "1.00", None)],
    );
    let e = engine::settle_stated(&p, &claim::parse_json(&text).unwrap(), &[]).unwrap_err();
    assert_eq!(e.path, "categories[1]");
    let text = claim_json(
        "c1",
        "county",
        &[],
        "daycare",
        "J18",
        &[("x", "A", "1.00", None)],
    );
    let e = engine::settle_stated(&p, &claim::parse_json(&text).unwrap(), &[]).unwrap_err();
    assert_eq!(e.path, "medical_type");
    let text = claim_json(
        "c1",
        "county",
        &[],
        "inpatient",
        "J18",
        &[("x", "A", "1.00", None)],
    )
    .replace("2020-03-05", "2021-01-05");
    let e = engine::settle_stated(&p, &claim::parse_json(&text).unwrap(), &[]).unwrap_err();
    assert_eq!(e.path, "discharged_on");
    assert!(e.message.contains("no policy in force"), "{e}");
}

#[test]
fn accumulator_deltas_match_the_answer() {
    let p = policy(BANDS);
    let c = claim::parse_json(&claim_json(
        "c1",
        "county",
        &[],
        "inpatient",
        "J18",
        &[("x", "A", "12000.00", None)],
    ))
    .unwrap();
    let (a, comp) = engine::settle_stated(&p, &c, &[Accumulator::ZERO]).unwrap();
    let delta = comp.layers[0].delta;
    assert_eq!(delta.paid, layer(&a, "critical").paid);
    assert_eq!(delta.eligible_cum, d("12000.00"));
    assert_eq!(a.deltas()[0].1, delta);
}
