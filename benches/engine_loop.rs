//! A plain loop over `engine::settle` for instruction counting:
//! `cargo bench --bench engine_loop --no-run`, then
//! `valgrind --tool=callgrind target/release/deps/engine_loop-* 20000`.
//! Instruction counts are repeatable whatever else the machine is doing.
//! With `MEDAID_BENCH_POLICY=v2` the claim is settled under the version-2
//! bench policy (`fixtures/bench/v2-county.toml`) instead.

use medaid::engine::{claim, settle, Accumulator, Policy};
fn main() {
    let v2 = std::env::var("MEDAID_BENCH_POLICY").is_ok_and(|v| v == "v2");
    let policy = if v2 {
        Policy::from_toml(include_str!("../fixtures/bench/v2-county.toml"), "b").unwrap()
    } else {
        Policy::from_toml(include_str!("../fixtures/bench/seven-layers.toml"), "b").unwrap()
    };
    let text = r#"{"claim_id":"x","hospital":"H","hospital_level":"county","person_id":"P","categories":["dibao"],"medical_type":"inpatient","admitted_on":"2023-03-01","discharged_on":"2023-03-09","diagnoses":["C34.9"],"items":[ITEMS]}"#;
    let mut items = Vec::new();
    for k in 0..20 {
        let class = ["A", "A", "B", "C"][k % 4];
        items.push(format!(
            r#"{{"kind":"{}","class":"{class}","amount":"{}.{:02}"{}}}"#,
            ["registration", "drug", "bed", "lab"][k % 4],
            100 + k * 37,
            k,
            if k % 5 == 2 {
                r#","limit_amount":"50.00""#
            } else {
                ""
            }
        ));
    }
    let mut c = claim::parse_json(&text.replace("ITEMS", &items.join(","))).unwrap();
    if v2 {
        c.insurance_type = Some("390".into());
        c.referral = Some(false);
        c.hospital_region = Some("411303".into());
        c.insured_region = Some("411321".into());
        c.fund_payments = Some(
            [("390100", "800.00"), ("390200", "100.00")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), medaid::money::Amount(v.parse().unwrap())))
                .collect(),
        );
    }
    let who = claim::stated_identity(&policy, &c).unwrap();
    let r = claim::resolve(&policy, &c).unwrap();
    let accs = vec![
        Accumulator {
            deductible_used: rust_decimal::Decimal::new(50000, 2),
            eligible_cum: rust_decimal::Decimal::new(4000000, 2),
            paid: rust_decimal::Decimal::new(1000000, 2)
        };
        policy.slots.len()
    ];
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100000);
    let mut sum = rust_decimal::Decimal::ZERO;
    for _ in 0..n {
        sum += std::hint::black_box(settle::settle(
            &policy,
            std::hint::black_box(&r),
            who,
            &accs,
        ))
        .map_or(rust_decimal::Decimal::ZERO, |c| c.fund_paid);
    }
    println!("{sum}");
}
