//! Property tests of the version-2 invariants over random policies and
//! claim sequences: conservation to the fen, a shared pool never overspent
//! across its layers, a per-disease limit never overspent, at most one
//! layer of an `exclusive` tag paying, and a cancellation (subtracting a
//! settlement's deltas) restoring every accumulator, pools included.

use medaid::engine::{claim, settle, Accumulator, Policy};
use proptest::prelude::*;
use rust_decimal::Decimal;

const CATS: [&str; 3] = ["a", "b", "c"];

/// Parameters of a generated policy.
#[derive(Debug, Clone)]
struct Params {
    pool: i64,
    pool_b: Option<i64>,
    pool_exempt_c: bool,
    ratios: [i64; 4],
    ded_a: i64,
    ded_by_b: i64,
    chronic_caps: [i64; 3],
    exclusive: bool,
    gross: bool,
    adjust: i64,
    given: bool,
}

fn params() -> impl Strategy<Value = Params> {
    (
        (
            0..=2_000_000i64,
            proptest::option::of(0..=2_000_000i64),
            any::<bool>(),
        ),
        [10..=100i64, 10..=100, 10..=100, 0..=100],
        (0..=500_000i64, 0..=500_000i64),
        [0..=300_000i64, 0..=300_000, 0..=300_000],
        (any::<bool>(), any::<bool>(), -30..=10i64, any::<bool>()),
    )
        .prop_map(
            |(
                (pool, pool_b, pool_exempt_c),
                ratios,
                (ded_a, ded_by_b),
                chronic_caps,
                (exclusive, gross, adjust, given),
            )| Params {
                pool,
                pool_b,
                pool_exempt_c,
                ratios,
                ded_a,
                ded_by_b,
                chronic_caps,
                exclusive,
                gross,
                adjust,
                given,
            },
        )
}

fn yuan(fen: i64) -> String {
    Decimal::new(fen, 2).to_string()
}

fn pct(p: i64) -> String {
    Decimal::new(p, 2).to_string()
}

fn policy_text(p: &Params) -> String {
    let basic = if p.given {
        "[[layers]]\nid = \"basic\"\npayer = \"insurance\"\nfund_code = \"390100\"\nkind = \"given\"\n".to_string()
    } else {
        format!(
            "[[layers]]\nid = \"basic\"\npayer = \"insurance\"\nratio = \"{}\"\nratio_adjust = {{ unreferred = \"{}\" }}\n",
            pct(p.ratios[3]),
            pct(p.adjust)
        )
    };
    let excl = if p.exclusive {
        "exclusive = \"aid\"\n"
    } else {
        ""
    };
    let base = if p.gross { "base = \"gross\"\n" } else { "" };
    let mut pool = format!(
        "[pools.aid]\nlabel = \"救助限额\"\namount = \"{}\"\n",
        yuan(p.pool)
    );
    if let Some(b) = p.pool_b {
        pool.push_str(&format!("by_category = {{ b = \"{}\" }}\n", yuan(b)));
    }
    if p.pool_exempt_c {
        pool.push_str("exempt = [\"c\"]\n");
    }
    format!(
        r#"[policy]
id = "gen-v2"
region = "411303"
effective_from = "2024-01-01"
effective_to = "2024-12-31"

[levels]
county = "县级"

[categories]
a = "甲"
b = "乙"
c = "丙"

[medical_types]
inpatient = "住院"
chronic = "门诊慢特病"

[diseases.d1]
label = "糖尿病"
icd10 = ["E11"]
[diseases.d2]
label = "高血压"
icd10 = ["I10"]

{pool}
{basic}
[[layers]]
id = "aid_a"
payer = "aid"
medical_types = ["inpatient"]
{excl}{base}ratio_by_category = {{ a = "{ra}" }}
deductible = {{ per = "year", amount = "{da}", by_category = {{ b = "{db}" }} }}
pool = "aid"

[[layers]]
id = "aid_b"
payer = "aid"
medical_types = ["inpatient"]
{excl}ratio_by_category = {{ b = "{rb}", c = "{rc}" }}
pool = "aid"

[[layers]]
id = "chronic"
payer = "aid"
medical_types = ["chronic"]
ratio = "{rc}"
cap = {{ per = "year", amount = {{ default = "{c0}", d1 = "{c1}", d2 = "{c2}" }}, per_group = true }}
pool = "aid"
"#,
        ra = pct(p.ratios[0]),
        rb = pct(p.ratios[1]),
        rc = pct(p.ratios[2]),
        da = yuan(p.ded_a),
        db = yuan(p.ded_by_b),
        c0 = yuan(p.chronic_caps[0]),
        c1 = yuan(p.chronic_caps[1]),
        c2 = yuan(p.chronic_caps[2]),
    )
}

#[derive(Debug, Clone)]
struct GenClaim {
    chronic: bool,
    dx: usize,
    cats: Vec<&'static str>,
    amounts: Vec<i64>,
    referral: bool,
    given_share: i64,
}

fn gen_claim() -> impl Strategy<Value = GenClaim> {
    (
        any::<bool>(),
        0..3usize,
        proptest::sample::subsequence(CATS.to_vec(), 0..=3),
        proptest::collection::vec(0..=5_000_000i64, 1..4),
        any::<bool>(),
        0..=100i64,
    )
        .prop_map(
            |(chronic, dx, cats, amounts, referral, given_share)| GenClaim {
                chronic,
                dx,
                cats,
                amounts,
                referral,
                given_share,
            },
        )
}

fn claim_text(i: usize, g: &GenClaim) -> String {
    let total: i64 = g.amounts.iter().sum();
    let items: Vec<serde_json::Value> = g
        .amounts
        .iter()
        .map(|a| serde_json::json!({"kind": "x", "class": "A", "amount": yuan(*a)}))
        .collect();
    let dx = ["E11.9", "I10", "J45"][g.dx];
    serde_json::json!({
        "claim_id": format!("C{i}"), "person_id": "P", "hospital_level": "county",
        "categories": g.cats, "medical_type": if g.chronic { "chronic" } else { "inpatient" },
        "admitted_on": "2024-02-01", "discharged_on": "2024-02-02",
        "diagnoses": [dx], "items": items,
        "referral": g.referral,
        "fund_payments": {"390100": yuan(total * g.given_share / 100)},
    })
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn v2_invariants_hold(p in params(), claims in proptest::collection::vec(gen_claim(), 1..10)) {
        let policy = Policy::from_toml(&policy_text(&p), "gen")
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let n = policy.slots.len();
        let mut accs = vec![Accumulator::ZERO; n];
        let mut history: Vec<Vec<Accumulator>> = Vec::new();
        let pool_slot = policy.pool_slot(0);
        for (i, g) in claims.iter().enumerate() {
            let mut c = claim::parse_json(&claim_text(i, g)).unwrap();
            if !p.given {
                c.fund_payments = None;
            }
            let who = claim::stated_identity(&policy, &c).unwrap();
            let r = claim::resolve(&policy, &c).unwrap();
            let comp = settle::settle(&policy, &r, who, &accs).unwrap();
            // conservation, to the fen
            prop_assert_eq!(comp.total, comp.hospital_waived + comp.fund_paid + comp.patient_payable);
            let sum: Decimal = comp.layers.iter().map(|l| l.paid).sum();
            prop_assert_eq!(comp.fund_paid, sum);
            prop_assert!(comp.patient_payable >= Decimal::ZERO);
            // 就高不重复: never two aid layers of the tag
            if p.exclusive {
                prop_assert!(!(comp.layers[1].applied && comp.layers[2].applied));
            }
            let deltas: Vec<Accumulator> = comp.deltas().copied().collect();
            prop_assert_eq!(deltas.len(), n);
            // the pool's delta is what its layers paid
            let drew: Decimal = comp.layers[1..].iter().map(|l| l.paid).sum();
            prop_assert_eq!(deltas[pool_slot].paid, drew);
            for (a, d) in accs.iter_mut().zip(&deltas) {
                a.add(d);
            }
            history.push(deltas);
            // the pool is never overspent (unless the person is exempt)
            if let Some(limit) = policy.pools[0].amount_for(who.categories) {
                prop_assert!(accs[pool_slot].paid <= limit || drew.is_zero(),
                    "pool {} over {}", accs[pool_slot].paid, limit);
            }
            // each per-disease limit holds
            let l = &policy.layers[3];
            let (gs, cap) = (l.group_slots.as_ref().unwrap(), l.cap.as_ref().unwrap());
            for (g, slot) in gs.by_group.iter().enumerate() {
                if let (Some(slot), Some(limit)) = (slot, cap.by_group[g]) {
                    prop_assert!(accs[*slot].paid <= limit || comp.layers[3].paid.is_zero());
                }
            }
            prop_assert!(accs[gs.default].paid <= cap.default || comp.layers[3].paid.is_zero());
        }
        // cancelling every settlement, in any order, restores zero exactly
        for d in history.iter().rev() {
            for (a, x) in accs.iter_mut().zip(d) {
                a.sub(x);
            }
        }
        prop_assert!(accs.iter().all(Accumulator::is_zero), "{:?}", accs);
    }
}
