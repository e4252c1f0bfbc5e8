//! Hand-worked examples of the version-2 policy language, one per rule,
//! with the arithmetic in comments. Cases 1–7 are the county cases of the
//! 2024 reference (shared/reference/county-rules-2024.md); the rest check
//! each key on its own.

use medaid::engine::{book::Book, claim, Answer, ClaimError, Policy, PolicySet};
use rust_decimal::Decimal;
use std::str::FromStr;

/// A 2024-style county: basic either given by the platform or computed
/// (85 % at county level after a 500 admission deductible; 60 % at
/// province level less 10 points without referral, after 1,200), 大病
/// 14,000/year at 60 %, aid 低保 75 %, 低保边缘 60 % after 2,800/year,
/// 倾斜救助 50 % above 10,000/year for referred care in the province,
/// limit 20,000.
const HEAD: &str = r#"
[policy]
id = "county-t"
region = "411303"
effective_from = "2024-01-01"
effective_to = "2024-12-31"

[insurance_types]
"390" = "城乡居民基本医疗保险"
"310" = "职工基本医疗保险"

[levels]
county = "县级"
province = "省级"

[categories]
dibao = "低保"
edge = "低保边缘"
illness = "因病致贫"

[medical_types]
inpatient = "住院"
chronic = "门诊慢特病"

[diseases.diabetes]
label = "糖尿病"
icd10 = ["E11"]
[diseases.hypertension]
label = "高血压"
icd10 = ["I10"]
"#;

fn policy(rest: &str) -> Policy {
    Policy::from_toml(&format!("{HEAD}\n{rest}"), "test").unwrap_or_else(|e| panic!("{e}"))
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A claim from a JSON object with defaults for what a case does not set.
fn claim(extra: serde_json::Value) -> String {
    let mut v = serde_json::json!({
        "claim_id": "C1", "hospital": "H1", "hospital_level": "county", "person_id": "P1",
        "categories": ["dibao"], "medical_type": "inpatient",
        "admitted_on": "2024-03-01", "discharged_on": "2024-03-05",
        "diagnoses": ["K35"],
        "items": [{"code": "x", "name": "住院费", "kind": "bed", "class": "A", "amount": "20000.00"}],
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

fn run_all(p: &Policy, claims: &[String]) -> Vec<Result<Answer, ClaimError>> {
    let set = PolicySet::new(vec![p.clone()]).unwrap();
    let mut book = Book::new();
    claims
        .iter()
        .map(|text| {
            let c = claim::parse_json(text)?;
            medaid::cli::settle::settle_one(&set, &c, &mut book)
                .map(|json| serde_json::from_str(&json).unwrap())
        })
        .collect()
}

fn run(p: &Policy, claims: &[String]) -> Vec<Answer> {
    run_all(p, claims)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn paid(a: &Answer, id: &str) -> Decimal {
    a.layers.iter().find(|l| l.id == id).unwrap().paid
}

const GIVEN: &str = r#"
[[layers]]
id = "basic"
payer = "insurance"
fund_code = "390100"
kind = "given"
[[layers]]
id = "critical"
payer = "insurance"
fund_code = "390200"
kind = "given"
[[layers]]
id = "aid"
name = "医疗救助"
payer = "aid"
fund_code = "610100"
ratio_by_category = { dibao = "0.75", edge = "0.60" }
deductible = { per = "year", amount = "2800", by_category = { dibao = "0" } }
"#;

#[test]
fn case1_insurance_given_by_the_platform() {
    // 低保边缘, 20,000.00 in policy; the platform paid 390100 16,575.00 and
    // 390200 0.00. Aid: (20,000 − 16,575 − 2,800) × 60 % = 625 × 0.6 = 375.00.
    // Patient: 20,000 − 16,575 − 375 = 3,050.00.
    let p = policy(GIVEN);
    let a = &run(
        &p,
        &[claim(serde_json::json!({
            "categories": ["edge"],
            "fund_payments": {"390100": "16575.00", "390200": "0.00"}
        }))],
    )[0];
    assert_eq!(paid(a, "basic"), d("16575.00"));
    assert_eq!(paid(a, "critical"), d("0.00"));
    assert_eq!(a.layers[2].deductible, d("2800.00"));
    assert_eq!(paid(a, "aid"), d("375.00"));
    assert_eq!(a.patient_payable, d("3050.00"));
}

#[test]
fn given_layers_refuse_what_does_not_fit() {
    let p = policy(GIVEN);
    let refused = |extra: serde_json::Value| -> ClaimError {
        run_all(&p, &[claim(extra)])
            .pop()
            .unwrap()
            .expect_err("refused")
    };
    // No fund_payments at all, while `basic` is in scope.
    let e = refused(serde_json::json!({}));
    assert_eq!(e.path, "fund_payments");
    assert!(e.message.contains("basic"), "{e}");
    // A fund code no given layer pays under.
    let e = refused(serde_json::json!({"fund_payments": {"610100": "10.00"}}));
    assert_eq!(e.path, "fund_payments.610100");
    // More than the bill: 20,000 in policy, 20,000.01 claimed.
    let e = refused(serde_json::json!({"fund_payments": {"390100": "20000.01"}}));
    assert_eq!(e.path, "fund_payments.390100");
    assert!(e.message.contains("exceeds"), "{e}");
    // An absent code pays 0.00.
    let a = &run(
        &p,
        &[claim(
            serde_json::json!({"fund_payments": {"390100": "15000.00"}}),
        )],
    )[0];
    assert_eq!(paid(a, "critical"), d("0.00"));
    // 低保: aid deductible 0 by category; (20,000 − 15,000) × 75 % = 3,750.00.
    assert_eq!(paid(a, "aid"), d("3750.00"));
}

#[test]
fn case2_an_items_own_self_pay_ratio() {
    // class B 1,000.00 with selfpay_prop 0.20: 200.00 self-pay-first, 800.00
    // in policy (the policy's own share of 10 % does not apply).
    let p = policy(
        "[catalogue]\nself_pay_first = { B = \"0.10\" }\n[[layers]]\nid = \"aid\"\npayer = \"aid\"\nratio = \"0.5\"\n",
    );
    let a = &run(
        &p,
        &[claim(serde_json::json!({"items": [
            {"kind": "drug", "class": "B", "amount": "1000.00", "self_pay_ratio": "0.20"},
            {"kind": "drug", "class": "B", "amount": "100.00"}
        ]}))],
    )[0];
    // second item: 10 % of 100 = 10.00; total self-pay-first 210.00
    assert_eq!(a.self_pay_first, d("210.00"));
    assert_eq!(a.in_policy, d("890.00"));
    let e = claim::parse_json(&claim(serde_json::json!({"items": [
        {"kind": "drug", "class": "C", "amount": "1.00", "self_pay_ratio": "0.20"}
    ]})))
    .unwrap_err();
    assert_eq!(e.path, "items[0].self_pay_ratio");
}

#[test]
fn case3_unreferred_care_at_a_province_hospital() {
    // 低保边缘 at a province hospital (insured 411303, hospital 410100:
    // place = province), not referred. 100,000.00 in policy.
    // basic: (100,000 − 1,200) × (60 % − 10 %) = 98,800 × 0.5 = 49,400.00
    // 大病: 100,000 − 49,400 = 50,600; (50,600 − 14,000) × 60 % = 21,960.00
    // aid: 100,000 − 49,400 − 21,960 = 28,640; (28,640 − 2,800) × 60 % = 15,504.00
    // tilt: not referred, out of scope → 0.00
    // patient: 100,000 − 49,400 − 21,960 − 15,504 = 13,136.00
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = { county = "0.85", province = "0.60" }
deductible = { per = "admission", amount = { county = "500", province = "1200" } }
ratio_adjust = { unreferred = "-0.10" }
[[layers]]
id = "critical"
payer = "insurance"
ratio = "0.60"
deductible = { per = "year", amount = "14000" }
[[layers]]
id = "aid"
payer = "aid"
ratio_by_category = { dibao = "0.75", edge = "0.60" }
deductible = { per = "year", amount = "2800", by_category = { dibao = "0" } }
[[layers]]
id = "tilt"
payer = "aid"
referral = "required"
places = ["county", "city", "province"]
deductible = { per = "year", amount = "10000" }
ratio = "0.50"
cap = { per = "year", amount = "20000" }
"#,
    );
    let c = serde_json::json!({
        "categories": ["edge"], "hospital_level": "province", "referral": false,
        "insured_region": "411303", "hospital_region": "410100",
        "items": [{"kind": "bed", "class": "A", "amount": "100000.00"}]
    });
    let a = &run(&p, &[claim(c.clone())])[0];
    assert_eq!(paid(a, "basic"), d("49400.00"));
    assert_eq!(a.layers[0].ratio, Some(d("0.50")));
    assert_eq!(paid(a, "critical"), d("21960.00"));
    assert_eq!(paid(a, "aid"), d("15504.00"));
    assert!(!a.layers[3].applied);
    assert_eq!(a.patient_payable, d("13136.00"));
    assert!(
        a.explanation.iter().any(|l| l.contains("未转诊 比例 −10%")),
        "{:?}",
        a.explanation
    );
    // Referred, the same claim: basic 98,800 × 60 % = 59,280.00; 大病
    // (40,720 − 14,000) × 60 % = 16,032.00; aid (24,688 − 2,800) × 60 % =
    // 13,132.80; tilt (11,555.20 − 10,000) × 50 % = 777.60.
    let mut referred = c;
    referred["referral"] = serde_json::json!(true);
    let a = &run(&p, &[claim(referred)])[0];
    assert_eq!(paid(a, "basic"), d("59280.00"));
    assert_eq!(paid(a, "critical"), d("16032.00"));
    assert_eq!(paid(a, "aid"), d("13132.80"));
    assert_eq!(paid(a, "tilt"), d("777.60"));
}

#[test]
fn case4_one_pool_for_outpatient_and_inpatient_aid() {
    // 低保, pool 5,000: 门诊慢特病 20,000 × 75 % = 15,000 → 5,000.00 (the
    // pool is spent); a later admission's aid → 0.00.
    let p = policy(
        r#"
[pools.aid]
label = "医疗救助年度限额"
amount = "5000"
[[layers]]
id = "aid_chronic"
payer = "aid"
medical_types = ["chronic"]
ratio_by_category = { dibao = "0.75" }
pool = "aid"
[[layers]]
id = "aid_inpatient"
payer = "aid"
medical_types = ["inpatient"]
ratio_by_category = { dibao = "0.75" }
pool = "aid"
"#,
    );
    let out = run(
        &p,
        &[
            claim(serde_json::json!({"claim_id": "O1", "medical_type": "chronic"})),
            claim(serde_json::json!({"claim_id": "I1"})),
        ],
    );
    assert_eq!(paid(&out[0], "aid_chronic"), d("5000.00"));
    assert!(out[0].layers[0].cap_limited);
    assert_eq!(out[0].layers[0].remaining, Some(d("0.00")));
    assert_eq!(paid(&out[1], "aid_inpatient"), d("0.00"));
    assert!(out[1].layers[1].cap_limited);
    assert!(
        out[0]
            .explanation
            .iter()
            .any(|l| l.contains("共用限额 医疗救助年度限额 5,000.00，剩余 0.00")),
        "{:?}",
        out[0].explanation
    );
}

#[test]
fn case5_two_identities_aided_once_at_the_best() {
    // 低保边缘 + 因病致贫, exclusive aid layers with 低保边缘 first, county,
    // 100,000.00; basic 85 % after 500: 84,575.00; 大病 (15,425 − 14,000) ×
    // 60 % = 855.00; left 14,570; 低保边缘 layer (14,570 − 2,800) × 60 % =
    // 7,062.00; the 因病致贫 layer pays 0.00 (superseded).
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = { county = "0.85", province = "0.60" }
deductible = { per = "admission", amount = { county = "500", province = "1200" } }
[[layers]]
id = "critical"
payer = "insurance"
ratio = "0.60"
deductible = { per = "year", amount = "14000" }
[[layers]]
id = "aid_edge"
payer = "aid"
exclusive = "aid"
ratio_by_category = { edge = "0.60" }
deductible = { per = "year", amount = "2800" }
[[layers]]
id = "aid_illness"
payer = "aid"
exclusive = "aid"
ratio_by_category = { illness = "0.50" }
deductible = { per = "year", amount = "7000" }
"#,
    );
    let a = &run(
        &p,
        &[claim(serde_json::json!({
            "categories": ["edge", "illness"],
            "items": [{"kind": "bed", "class": "A", "amount": "100000.00"}]
        }))],
    )[0];
    assert_eq!(paid(a, "basic"), d("84575.00"));
    assert_eq!(paid(a, "critical"), d("855.00"));
    assert_eq!(paid(a, "aid_edge"), d("7062.00"));
    assert!(!a.layers[3].applied);
    assert_eq!(paid(a, "aid_illness"), d("0.00"));
    assert!(
        a.explanation
            .iter()
            .any(|l| l.contains("就高不重复：按 低保边缘 救助")),
        "{:?}",
        a.explanation
    );
    // Holding only 因病致贫, the second layer applies: (14,570 − 7,000) × 50 %.
    let a = &run(
        &p,
        &[claim(serde_json::json!({
            "categories": ["illness"],
            "items": [{"kind": "bed", "class": "A", "amount": "100000.00"}]
        }))],
    )[0];
    assert_eq!(paid(a, "aid_illness"), d("3785.00"));
}

#[test]
fn case6_chronic_limits_per_disease() {
    // Diabetes limit 3,000, hypertension 2,000, 60 %: diabetes 4,000 →
    // 2,400.00; then hypertension 1,000 → 600.00 (its own limit, not what
    // diabetes left of a shared cap); a second diabetes 2,000 → 1,200 is
    // capped at 3,000 − 2,400 = 600.00.
    let p = policy(
        r#"
[[layers]]
id = "chronic"
payer = "insurance"
medical_types = ["chronic"]
ratio = "0.60"
cap = { per = "year", amount = { default = "1000", diabetes = "3000", hypertension = "2000" }, per_group = true }
"#,
    );
    let chronic = |id: &str, dx: &str, amount: &str| {
        claim(serde_json::json!({
            "claim_id": id, "medical_type": "chronic", "diagnoses": [dx],
            "items": [{"kind": "drug", "class": "A", "amount": amount}]
        }))
    };
    let out = run(
        &p,
        &[
            chronic("D1", "E11.9", "4000.00"),
            chronic("H1", "I10", "1000.00"),
            chronic("D2", "E11.2", "2000.00"),
            chronic("X1", "J45", "5000.00"),
        ],
    );
    assert_eq!(out[0].layers[0].paid, d("2400.00"));
    assert_eq!(out[1].layers[0].paid, d("600.00"));
    assert_eq!(out[2].layers[0].paid, d("600.00"));
    assert!(out[2].layers[0].cap_limited);
    // no group matched: the default limit of 1,000, counted apart.
    assert_eq!(out[3].layers[0].paid, d("1000.00"));
}

#[test]
fn case7_employee_insurance_type() {
    // insutype 310, 低保, county, 20,000.00: employee basic 90 % after 1,000
    // → 17,100.00; aid (20,000 − 17,100) × 75 % = 2,175.00; patient 725.00.
    let p = policy(
        r#"
[[layers]]
id = "resident"
payer = "insurance"
insurance_types = ["390"]
ratio = "0.85"
deductible = { per = "admission", amount = "500" }
[[layers]]
id = "employee"
payer = "insurance"
fund_code = "310100"
insurance_types = ["310"]
ratio = "0.90"
deductible = { per = "admission", amount = "1000" }
[[layers]]
id = "aid"
payer = "aid"
ratio_by_category = { dibao = "0.75" }
"#,
    );
    let a = &run(&p, &[claim(serde_json::json!({"insurance_type": "310"}))])[0];
    assert!(!a.layers[0].applied);
    assert_eq!(paid(a, "employee"), d("17100.00"));
    assert_eq!(paid(a, "aid"), d("2175.00"));
    assert_eq!(a.patient_payable, d("725.00"));
    // A claim with no insurance type is out of scope of both.
    let a = &run(&p, &[claim(serde_json::json!({}))])[0];
    assert!(!a.layers[0].applied && !a.layers[1].applied);
    let e = run_all(&p, &[claim(serde_json::json!({"insurance_type": "320"}))])
        .pop()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.path, "insurance_type");
}

#[test]
fn gross_base_pays_a_share_of_the_costs_themselves() {
    // seed 000: outpatient aid is 10 % of the year's outpatient costs.
    // 1,000.00 in policy; insurance 65 % = 650.00; aid on the gross amount:
    // 1,000 × 10 % = 100.00 (not 10 % of the 350 left = 35.00); it never
    // pays more than remains: at 70 % with 650 paid, 700 → 350.00.
    let p = policy(
        r#"
[[layers]]
id = "basic"
payer = "insurance"
ratio = "0.65"
[[layers]]
id = "aid"
payer = "aid"
base = "gross"
ratio = "0.10"
"#,
    );
    let a = &run(
        &p,
        &[claim(
            serde_json::json!({"items": [{"kind": "x", "class": "A", "amount": "1000.00"}]}),
        )],
    )[0];
    assert_eq!(paid(a, "aid"), d("100.00"));
    assert_eq!(a.layers[1].base, d("1000.00"));
    let p = policy(
        "[[layers]]\nid = \"basic\"\npayer = \"insurance\"\nratio = \"0.65\"\n[[layers]]\nid = \"aid\"\npayer = \"aid\"\nbase = \"gross\"\nratio = \"0.70\"\n",
    );
    let a = &run(
        &p,
        &[claim(
            serde_json::json!({"items": [{"kind": "x", "class": "A", "amount": "1000.00"}]}),
        )],
    )[0];
    assert_eq!(paid(a, "aid"), d("350.00"));
    assert_eq!(a.patient_payable, d("0.00"));
    assert!(!a.layers[1].cap_limited);
}

#[test]
fn limits_and_deductibles_by_category() {
    // cap 1,000 by default, 低保 3,000; deductible 500, 因病致贫 2,000
    // (the smallest listed amount the person holds replaces `amount`).
    let p = policy(
        r#"
[[layers]]
id = "aid"
payer = "aid"
ratio = "0.50"
deductible = { per = "year", amount = "500", by_category = { illness = "2000", edge = "1500" } }
cap = { per = "year", amount = "1000", by_category = { dibao = "3000" } }
"#,
    );
    // 低保: (20,000 − 500) × 50 % = 9,750 → capped at 3,000.00
    let a = &run(&p, &[claim(serde_json::json!({}))])[0];
    assert_eq!(a.layers[0].deductible, d("500.00"));
    assert_eq!(a.layers[0].paid, d("3000.00"));
    // 因病致贫 + 低保边缘: deductible min(2,000, 1,500) = 1,500; cap default 1,000
    let a = &run(
        &p,
        &[claim(
            serde_json::json!({"categories": ["illness", "edge"]}),
        )],
    )[0];
    assert_eq!(a.layers[0].deductible, d("1500.00"));
    assert_eq!(a.layers[0].paid, d("1000.00"));
}

#[test]
fn pool_amounts_by_category_and_exemption() {
    // pool 5,000, 低保边缘 3,000, 低保 exempt. Aid 50 % of 20,000 = 10,000.
    let p = policy(
        r#"
[pools.aid]
amount = "5000"
by_category = { edge = "3000" }
exempt = ["dibao"]
[[layers]]
id = "aid"
payer = "aid"
ratio = "0.50"
pool = "aid"
"#,
    );
    let paid_for = |cats: serde_json::Value| {
        run(&p, &[claim(serde_json::json!({"categories": cats}))])[0].layers[0].paid
    };
    assert_eq!(paid_for(serde_json::json!(["edge"])), d("3000.00"));
    assert_eq!(paid_for(serde_json::json!(["illness"])), d("5000.00"));
    assert_eq!(
        paid_for(serde_json::json!(["dibao", "edge"])),
        d("10000.00")
    );
}

#[test]
fn the_insured_region_chooses_the_policy() {
    let county = policy("[[layers]]\nid = \"aid\"\npayer = \"aid\"\nratio = \"0.5\"\n");
    let city_text = format!("{HEAD}\n[[layers]]\nid = \"aid\"\npayer = \"aid\"\nratio = \"0.7\"\n")
        .replace("id = \"county-t\"", "id = \"city-t\"")
        .replace("region = \"411303\"", "region = \"411300\"");
    let city = Policy::from_toml(&city_text, "city").unwrap();
    let set = PolicySet::new(vec![county, city]).unwrap();
    let mut book = Book::new();
    let mut settle = |extra: serde_json::Value| {
        let c = claim::parse_json(&claim(extra)).unwrap();
        medaid::cli::settle::settle_one(&set, &c, &mut book)
            .map(|j| serde_json::from_str::<Answer>(&j).unwrap().policy_id)
    };
    // insured in 411303 (the county's own policy), treated in 411321
    assert_eq!(
        settle(serde_json::json!({"insured_region": "411303", "hospital_region": "411321"})),
        Ok("county-t".into())
    );
    // insured elsewhere in the city: the city's policy
    assert_eq!(
        settle(serde_json::json!({"insured_region": "411321", "hospital_region": "411303"})),
        Ok("city-t".into())
    );
    // no insured region: the hospital's
    assert_eq!(
        settle(serde_json::json!({"hospital_region": "411303"})),
        Ok("county-t".into())
    );
    let e = settle(serde_json::json!({})).unwrap_err();
    assert_eq!(e.path, "insured_region");
    assert!(e.message.contains("ambiguous"), "{e}");
    let e = settle(serde_json::json!({"insured_region": "420100"})).unwrap_err();
    assert_eq!(e.path, "insured_region");
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let e = claim::parse_json(&claim(serde_json::json!({"remark": "x"}))).unwrap_err();
    assert_eq!(e.path, "remark");
    let e = claim::parse_json(&claim(serde_json::json!({"items": [
        {"kind": "a", "class": "A", "amount": "1.00"},
        {"kind": "a", "class": "A", "amount": "1.00", "limit_amout": "0.50"}
    ]})))
    .unwrap_err();
    assert_eq!(e.path, "items[1].limit_amout");
}

#[test]
fn amounts_dates_and_ids_are_read_strictly() {
    // A JSON number is read from its literal: a third decimal is refused,
    // a large amount keeps its last fen.
    let text = claim(serde_json::json!({})).replace("\"20000.00\"", "320.00000000000001");
    let e = claim::parse_json(&text).unwrap_err();
    assert_eq!(e.path, "items[0].amount");
    let text = claim(serde_json::json!({})).replace("\"20000.00\"", "90071992547.93");
    let c = claim::parse_json(&text).unwrap();
    assert_eq!(c.items[0].amount.0, d("90071992547.93"));
    let text = claim(serde_json::json!({})).replace("\"20000.00\"", "320.5");
    assert_eq!(
        claim::parse_json(&text).unwrap().items[0].amount.0,
        d("320.5")
    );
    // A two-digit year is not year 17.
    let e = claim::parse_json(&claim(serde_json::json!({"admitted_on": "17-05-01"}))).unwrap_err();
    assert_eq!(e.path, "admitted_on");
    // Control characters and formula starts in ids.
    let e = claim::parse_json(&claim(serde_json::json!({"claim_id": "X\u{1}Y"}))).unwrap_err();
    assert_eq!(e.path, "claim_id");
    let e = claim::parse_json(&claim(serde_json::json!({"person_id": "=1+1"}))).unwrap_err();
    assert_eq!(e.path, "person_id");
    let e = claim::parse_json(&claim(serde_json::json!({"insured_region": "4113"}))).unwrap_err();
    assert_eq!(e.path, "insured_region");
}

#[test]
fn a_version_1_policy_settles_as_before() {
    // The worked example of the contract: 228.42 funds, 59.58 patient.
    let p = Policy::from_toml(include_str!("../fixtures/design/policy.toml"), "design").unwrap();
    let c = claim::parse_json(include_str!("../fixtures/design/claim.json")).unwrap();
    let set = PolicySet::new(vec![p]).unwrap();
    let a: Answer =
        serde_json::from_str(&medaid::cli::settle::settle_one(&set, &c, &mut Book::new()).unwrap())
            .unwrap();
    assert_eq!(a.fund_paid, d("228.42"));
    assert_eq!(a.patient_payable, d("59.58"));
    assert!(a.layers.iter().all(|l| l.remaining.is_none() || l.applied));
}
