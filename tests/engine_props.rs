//! Property tests over random policies and claims: the invariants of
//! of the contract hold whatever the policy says.
//!
//! Policies are generated as TOML text, so every generated policy also
//! passes through the validator exactly as a file would.

use medaid::engine::{self, claim, settle, Accumulator, Policy};
use proptest::prelude::*;
use rust_decimal::Decimal;

const LEVELS: [&str; 3] = ["township", "county", "city"];
const CATS: [&str; 4] = ["a", "b", "c", "d"];
const TYPES: [&str; 2] = ["inpatient", "outpatient"];

fn money(max_fen: i64) -> impl Strategy<Value = String> + Clone {
    (0..=max_fen).prop_map(|f| Decimal::new(f, 2).to_string())
}

fn unit() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        (0..=100i64).prop_map(|r| Decimal::new(r, 2).to_string()),
        (0..=1000i64).prop_map(|r| Decimal::new(r, 3).to_string()),
    ]
}

fn subset(all: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> + Clone {
    proptest::sample::subsequence(all.to_vec(), 1..=all.len())
}

fn list(v: &[&str]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn table(keys: &[&str], vals: &[String]) -> String {
    format!(
        "{{ {} }}",
        keys.iter()
            .zip(vals)
            .map(|(k, v)| format!("{k} = \"{v}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn by_level(v: impl Strategy<Value = String> + Clone + 'static) -> impl Strategy<Value = String> {
    prop_oneof![
        v.clone().prop_map(|x| format!("\"{x}\"")),
        proptest::collection::vec(v, 3).prop_map(|vals| table(&LEVELS, &vals)),
    ]
}

fn cat_table(v: impl Strategy<Value = String> + Clone + 'static) -> impl Strategy<Value = String> {
    (subset(&CATS), proptest::collection::vec(v, 4)).prop_map(|(keys, vals)| table(&keys, &vals))
}

fn deductible() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("admission"), Just("year")],
        by_level(money(300_000)),
        proptest::option::of((
            proptest::option::of(subset(&CATS)),
            proptest::option::of(subset(&LEVELS)),
        )),
        proptest::option::of(cat_table(unit())),
    )
        .prop_map(|(per, amount, waive, factor)| {
            let mut s = format!("deductible = {{ per = \"{per}\", amount = {amount}");
            if let Some((c, l)) = waive {
                let mut parts = Vec::new();
                if let Some(c) = c {
                    parts.push(format!("categories = {}", list(&c)));
                }
                if let Some(l) = l {
                    parts.push(format!("levels = {}", list(&l)));
                }
                s.push_str(&format!(", waive = {{ {} }}", parts.join(", ")));
            }
            if let Some(f) = factor {
                s.push_str(&format!(", factor = {f}"));
            }
            s.push_str(" }\n");
            s
        })
}

fn bands() -> impl Strategy<Value = String> {
    proptest::collection::vec((1..5_000_000i64, unit()), 1..4).prop_map(|v| {
        let mut upto = 0i64;
        let mut parts = Vec::new();
        let n = v.len();
        for (i, (step, r)) in v.into_iter().enumerate() {
            if i + 1 == n {
                parts.push(format!("{{ ratio = \"{r}\" }}"));
            } else {
                upto += step;
                parts.push(format!(
                    "{{ upto = \"{}\", ratio = \"{r}\" }}",
                    Decimal::new(upto, 2)
                ));
            }
        }
        format!("bands = [{}]\n", parts.join(", "))
    })
}

fn cap() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("admission"), Just("year")],
        prop_oneof![
            money(2_000_000).prop_map(|a| format!("\"{a}\"")),
            (money(2_000_000), money(4_000_000))
                .prop_map(|(a, b)| format!("{{ default = \"{a}\", major = \"{b}\" }}")),
        ],
        proptest::option::of(subset(&CATS)),
    )
        .prop_map(|(per, amount, exempt)| {
            let mut s = format!("cap = {{ per = \"{per}\", amount = {amount}");
            if let Some(e) = exempt {
                s.push_str(&format!(", exempt = {}", list(&e)));
            }
            s.push_str(" }\n");
            s
        })
}

fn scope() -> impl Strategy<Value = String> {
    (
        proptest::option::of(subset(&TYPES)),
        proptest::option::of(subset(&LEVELS)),
        proptest::option::of(Just(())),
        proptest::option::of(subset(&CATS)),
        any::<bool>(),
    )
        .prop_map(|(t, l, dz, c, all)| {
            let mut s = String::new();
            if let Some(t) = t {
                s.push_str(&format!("medical_types = {}\n", list(&t)));
            }
            if let Some(l) = l {
                s.push_str(&format!("levels = {}\n", list(&l)));
            }
            if dz.is_some() {
                s.push_str("diseases = [\"major\"]\n");
            }
            if let Some(c) = c {
                s.push_str(&format!("categories = {}\n", list(&c)));
            }
            if all {
                s.push_str("base = \"all\"\n");
            }
            s
        })
}

fn ratio_layer() -> impl Strategy<Value = String> {
    (
        scope(),
        proptest::option::of(deductible()),
        prop_oneof![
            by_level(unit()).prop_map(|r| format!("ratio = {r}\n")),
            cat_table(unit()).prop_map(|r| format!("ratio_by_category = {r}\n")),
            bands(),
        ],
        proptest::option::of(cat_table(unit())),
        proptest::option::of(cap()),
    )
        .prop_map(|(scope, ded, ratio, bonus, cap)| {
            // a table by level must name every level: by_level always names all three
            let mut s = scope;
            s.push_str(&ded.unwrap_or_default());
            s.push_str(&ratio);
            if let Some(b) = bonus {
                s.push_str(&format!("ratio_bonus = {b}\n"));
            }
            s.push_str(&cap.unwrap_or_default());
            s
        })
}

fn target_layer() -> impl Strategy<Value = String> {
    (
        scope(),
        unit(),
        prop_oneof![Just("in_policy"), Just("total")],
        proptest::option::of(cap()),
    )
        .prop_map(|(scope, t, r, cap)| {
            format!(
                "kind = \"target\"\ntarget_ratio = \"{t}\"\nreference = \"{r}\"\n{scope}{}",
                cap.unwrap_or_default()
            )
        })
}

fn waivers() -> impl Strategy<Value = String> {
    (subset(&CATS), subset(&LEVELS), unit(), subset(&LEVELS), subset(&TYPES)).prop_map(|(c, fl, rate, rl, rt)| {
        format!(
            "[waivers]\ncategories = {}\nfree_items = [\"registration\", \"injection\"]\nfree_item_levels = {}\nreduction_rate = \"{rate}\"\nreduction_levels = {}\nreduction_medical_types = {}\n",
            list(&c),
            list(&fl),
            list(&rl),
            list(&rt)
        )
    })
}

fn policy_text() -> impl Strategy<Value = String> {
    (
        unit(),
        proptest::option::of(waivers()),
        proptest::collection::vec(prop_oneof![3 => ratio_layer(), 1 => target_layer()], 1..=7),
    )
        .prop_map(|(spf, w, layers)| {
            let mut s = format!(
                "[policy]\nid = \"p\"\nregion = \"r\"\neffective_from = \"2020-01-01\"\neffective_to = \"2020-12-31\"\n\
                 [levels]\ntownship = \"乡\"\ncounty = \"县\"\ncity = \"市\"\n\
                 [categories]\na = \"a\"\nb = \"b\"\nc = \"c\"\nd = \"d\"\n\
                 [medical_types]\ninpatient = \"住院\"\noutpatient = \"门诊\"\n\
                 [diseases.major]\nlabel = \"重大\"\nicd10 = [\"C34\"]\n\
                 [catalogue]\nself_pay_first = {{ B = \"{spf}\" }}\n"
            );
            s.push_str(&w.unwrap_or_default());
            let payers = ["insurance", "aid", "government", "charity"];
            for (i, l) in layers.iter().enumerate() {
                s.push_str(&format!("[[layers]]\nid = \"l{i}\"\npayer = \"{}\"\n{l}", payers[i % 4]));
            }
            s
        })
}

#[derive(Debug, Clone)]
struct GenItem {
    kind: &'static str,
    class: &'static str,
    amount: i64,
    limit: Option<i64>,
}

fn item() -> impl Strategy<Value = GenItem> {
    (
        prop_oneof![
            Just("registration"),
            Just("injection"),
            Just("drug"),
            Just("bed")
        ],
        prop_oneof![Just("A"), Just("B"), Just("C")],
        prop_oneof![0..1_000i64, 0..5_000_000i64],
        proptest::option::of(0..5_000_000i64),
    )
        .prop_map(|(kind, class, amount, limit)| GenItem {
            kind,
            class,
            amount,
            limit,
        })
}

#[derive(Debug, Clone)]
struct GenClaim {
    level: &'static str,
    mt: &'static str,
    cats: Vec<&'static str>,
    dx: &'static str,
    items: Vec<GenItem>,
}

fn gen_claim() -> impl Strategy<Value = GenClaim> {
    (
        proptest::sample::select(LEVELS.to_vec()),
        proptest::sample::select(TYPES.to_vec()),
        proptest::sample::subsequence(CATS.to_vec(), 0..=2),
        prop_oneof![Just("C34.1"), Just("J18")],
        proptest::collection::vec(item(), 1..20),
    )
        .prop_map(|(level, mt, cats, dx, items)| GenClaim {
            level,
            mt,
            cats,
            dx,
            items,
        })
}

fn claim_text(i: usize, g: &GenClaim, items: &[GenItem]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|it| {
            let mut v = serde_json::json!({"kind": it.kind, "class": it.class, "amount": Decimal::new(it.amount, 2).to_string()});
            if let Some(l) = it.limit {
                v["limit_amount"] = serde_json::json!(Decimal::new(l, 2).to_string());
            }
            v
        })
        .collect();
    serde_json::json!({
        "claim_id": format!("c{i}"), "hospital": "H", "hospital_level": g.level, "person_id": "P",
        "categories": g.cats, "medical_type": g.mt, "admitted_on": "2020-02-01", "discharged_on": "2020-02-03",
        "diagnoses": [g.dx], "items": items,
    })
    .to_string()
}

fn settle_text(
    p: &Policy,
    text: &str,
    accs: &[Accumulator],
) -> (engine::Answer, engine::Computation) {
    let c = claim::parse_json(text).unwrap();
    engine::settle_stated(p, &c, accs).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Conservation to the fen, no negative payable, no layer above its
    /// base, caps never exceeded, deltas restore the accumulators.
    #[test]
    fn invariants_hold_over_a_year(text in policy_text(), claims in proptest::collection::vec(gen_claim(), 1..6)) {
        let p = Policy::from_toml(&text, "gen").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut accs = vec![Accumulator::ZERO; p.layers.len()];
        let mut history: Vec<Vec<Accumulator>> = Vec::new();
        for (i, g) in claims.iter().enumerate() {
            let (a, comp) = settle_text(&p, &claim_text(i, g, &g.items), &accs);
            prop_assert_eq!(a.total, a.hospital_waived + a.fund_paid + a.patient_payable);
            prop_assert_eq!(a.fund_paid, a.layers.iter().map(|l| l.paid).sum::<Decimal>());
            prop_assert!(a.patient_payable >= Decimal::ZERO, "negative payable {}", a.patient_payable);
            prop_assert!(a.hospital_waived >= Decimal::ZERO);
            for (l, (layer, o)) in a.layers.iter().zip(p.layers.iter().zip(&comp.layers)) {
                prop_assert!(l.paid >= Decimal::ZERO);
                prop_assert!(l.paid <= l.base, "layer {} pays {} over base {}", l.id, l.paid, l.base);
                prop_assert_eq!(l.paid.scale() <= 2 || l.paid.normalize().scale() <= 2, true);
                if let (Some(cap), Some(applied_cap)) = (&layer.cap, o.cap) {
                    if cap.per_year {
                        let before = accs[p.layer_index(&l.id).unwrap()].paid;
                        // never above the cap, unless it was already there and pays nothing
                        prop_assert!(before + l.paid <= applied_cap || l.paid.is_zero(),
                            "layer {} cap {} exceeded: {} + {}", l.id, applied_cap, before, l.paid);
                    } else {
                        prop_assert!(l.paid <= applied_cap);
                    }
                }
            }
            history.push(accs.clone());
            for (acc, delta) in accs.iter_mut().zip(comp.deltas()) {
                acc.add(delta);
            }
        }
        // cancel in reverse order: each restores exactly the state before it
        for (i, g) in claims.iter().enumerate().rev() {
            let (_, comp) = settle_text(&p, &claim_text(i, g, &g.items), &history[i]);
            for (acc, delta) in accs.iter_mut().zip(comp.deltas()) {
                acc.sub(delta);
            }
            prop_assert_eq!(&accs, &history[i]);
        }
        prop_assert!(accs.iter().all(Accumulator::is_zero));
    }

    /// Item order does not change the answer.
    #[test]
    fn item_order_does_not_matter(text in policy_text(), g in gen_claim(), seed in any::<u64>()) {
        let p = Policy::from_toml(&text, "gen").map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let (a, _) = settle_text(&p, &claim_text(0, &g, &g.items), &[]);
        let mut items = g.items.clone();
        // a deterministic shuffle from the seed
        let mut s = seed | 1;
        for i in (1..items.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            items.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let (b, _) = settle_text(&p, &claim_text(0, &g, &items), &[]);
        prop_assert_eq!(a, b);
    }

    /// Annual caps are never overspent by any sequence, and a cancellation
    /// in the middle of a year (subtracting its deltas) leaves later
    /// settlements' totals within the caps too.
    #[test]
    fn yearly_paid_never_exceeds_flat_caps(text in policy_text(), claims in proptest::collection::vec(gen_claim(), 1..8)) {
        let p = Policy::from_toml(&text, "gen").map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut accs = vec![Accumulator::ZERO; p.layers.len()];
        for (i, g) in claims.iter().enumerate() {
            let c = claim::parse_json(&claim_text(i, g, &g.items)).unwrap();
            let who = claim::stated_identity(&p, &c).unwrap();
            let r = claim::resolve(&p, &c).unwrap();
            let comp = settle::settle(&p, &r, who, &accs).unwrap();
            for (acc, delta) in accs.iter_mut().zip(comp.deltas()) {
                acc.add(delta);
            }
            for (ix, layer) in p.layers.iter().enumerate() {
                if let Some(cap) = &layer.cap {
                    let flat = !cap.has_group_table();
                    if cap.per_year && flat && cap.exempt & who.categories == 0 {
                        prop_assert!(accs[ix].paid <= cap.default || comp.layers[ix].paid.is_zero());
                    }
                }
            }
        }
    }
}

#[test]
fn generated_policies_load() {
    // guard against a generator that only ever produces invalid policies
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..50 {
        let text = policy_text().new_tree(&mut runner).unwrap().current();
        Policy::from_toml(&text, "gen").unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}
