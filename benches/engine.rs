//! Engine and `medaid settle` benchmarks (criterion).
//!
//! - `engine/settle_20_items_7_layers`: the pure arithmetic, one claim of 20
//!   items under a 7-layer policy (goal: ≤ 1 µs).
//! - `engine/settle_and_answer`: the same plus building the §5 answer with its
//!   explanation lines.
//! - `engine/settle_20_items_v2`: the same claims under a version-2 county
//!   policy (`fixtures/bench/v2-county.toml`: given insurance, two pools,
//!   exclusive aid layers, per-disease caps, referral and place rules).
//! - `cli/settle_100k` against `cli/parse_print_100k`: the whole `settle`
//!   run (parse, settle, serialize) on 100,000 JSON lines, against merely
//!   parsing each line into a JSON value and printing it again (goal: at
//!   least half as fast).
//!
//! Run: `cargo bench --bench engine`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use medaid::engine::{self, claim, settle, Accumulator, Policy};
use std::io::{BufRead, Write};

const POLICY: &str = include_str!("../fixtures/bench/seven-layers.toml");
const POLICY_V2: &str = include_str!("../fixtures/bench/v2-county.toml");

/// A small deterministic generator (xorshift) so the bench needs no files.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn claim_json(rng: &mut Rng, i: usize, items: usize) -> String {
    let levels = ["township", "county", "city", "province"];
    let cats: [&[&str]; 6] = [
        &["tekun"],
        &["dibao"],
        &["dibao_edge"],
        &["returned_poverty", "dibao"],
        &["illness_poverty"],
        &[],
    ];
    let kinds = [
        "registration",
        "injection",
        "drug",
        "bed",
        "lab",
        "surgery",
        "dressing",
    ];
    let classes = ["A", "A", "B", "C"];
    let dx = ["C34.9", "J18.0", "I21.1", "K35.8", "E11.9"];
    let month = 1 + (i % 12);
    let mut s = format!(
        r#"{{"claim_id":"B{i:07}","hospital":"H{:03}","hospital_level":"{}","person_id":"P{:06}","categories":{},"medical_type":"inpatient","admitted_on":"2023-{month:02}-01","discharged_on":"2023-{month:02}-09","diagnoses":["{}"],"items":["#,
        rng.next() % 50,
        rng.pick(&levels),
        rng.next() % 20_000,
        serde_json::to_string(cats[(rng.next() % 6) as usize]).unwrap(),
        rng.pick(&dx),
    );
    for k in 0..items {
        if k > 0 {
            s.push(',');
        }
        let fen = 100 + rng.next() % 800_000;
        let class = rng.pick(&classes);
        let limit = if class == "B" && rng.next().is_multiple_of(3) {
            format!(r#","limit_amount":"{}.{:02}""#, fen * 9 / 1000, 0)
        } else {
            String::new()
        };
        s.push_str(&format!(
            r#"{{"code":"{:08}","name":"项目{k}","kind":"{}","class":"{class}","amount":"{}.{:02}"{limit}}}"#,
            rng.next() % 100_000_000,
            rng.pick(&kinds),
            fen / 100,
            fen % 100
        ));
    }
    s.push_str("]}");
    s
}

fn bench_engine(c: &mut Criterion) {
    let policy = Policy::from_toml(POLICY, "bench").unwrap();
    assert_eq!(policy.layers.len(), 7);
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let claims: Vec<_> = (0..64)
        .map(|i| {
            let c = claim::parse_json(&claim_json(&mut rng, i, 20)).unwrap();
            let who = claim::stated_identity(&policy, &c).unwrap();
            let r = claim::resolve(&policy, &c).unwrap();
            (c, who, r)
        })
        .collect();
    let accs = vec![
        Accumulator {
            deductible_used: rust_decimal::Decimal::new(50_000, 2),
            eligible_cum: rust_decimal::Decimal::new(4_000_000, 2),
            paid: rust_decimal::Decimal::new(1_000_000, 2),
        };
        7
    ];
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("settle_20_items_7_layers", |b| {
        b.iter(|| {
            let (_, who, r) = &claims[i & 63];
            i += 1;
            black_box(settle::settle(
                &policy,
                black_box(r),
                *who,
                black_box(&accs),
            ))
        })
    });
    let v2 = Policy::from_toml(POLICY_V2, "bench-v2").unwrap();
    let claims_v2: Vec<_> = claims
        .iter()
        .enumerate()
        .map(|(k, (c, _, _))| {
            let mut c = c.clone();
            c.insurance_type = Some("390".into());
            c.referral = Some(k % 4 != 0);
            c.hospital_region = Some("411303".into());
            c.insured_region = Some(["411303", "411321", "410100", "420100"][k % 4].into());
            let who = claim::stated_identity(&v2, &c).unwrap();
            let mut r = claim::resolve(&v2, &c).unwrap();
            // what the platform paid: half of the class-A items, always
            // within what is in policy
            let a_fen: i64 = r
                .items
                .iter()
                .filter(|it| it.class == claim::ItemClass::A && it.limit_fen.is_none())
                .map(|it| it.amount_fen)
                .sum();
            r.fund_payments = Some(vec![
                ("390100".into(), rust_decimal::Decimal::new(a_fen / 2, 2)),
                ("390200".into(), rust_decimal::Decimal::new(a_fen / 10, 2)),
            ]);
            (who, r)
        })
        .collect();
    let accs_v2 = vec![
        Accumulator {
            deductible_used: rust_decimal::Decimal::new(50_000, 2),
            eligible_cum: rust_decimal::Decimal::new(4_000_000, 2),
            paid: rust_decimal::Decimal::new(1_000_000, 2),
        };
        v2.slots.len()
    ];
    for (who, r) in &claims_v2 {
        settle::settle(&v2, r, *who, &accs_v2).expect("a valid v2 bench claim");
    }
    g.bench_function("settle_20_items_v2", |b| {
        b.iter(|| {
            let (who, r) = &claims_v2[i & 63];
            i += 1;
            black_box(settle::settle(&v2, black_box(r), *who, black_box(&accs_v2)))
        })
    });
    g.bench_function("settle_and_answer", |b| {
        b.iter(|| {
            let (c, who, r) = &claims[i & 63];
            i += 1;
            let comp = settle::settle(&policy, r, *who, &accs).unwrap();
            black_box(engine::Answer::build(&policy, c, r.year, &comp))
        })
    });
    g.finish();
}

/// The baseline: parse every line into a JSON value and print it again.
fn parse_print(input: &[u8], out: impl Write) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    for line in input.lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        serde_json::to_writer(&mut out, &v).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn bench_cli(c: &mut Criterion) {
    let policy = Policy::from_toml(POLICY, "bench").unwrap();
    let mut rng = Rng(42);
    let mut input = Vec::new();
    for i in 0..100_000 {
        input.extend_from_slice(claim_json(&mut rng, i, 20).as_bytes());
        input.push(b'\n');
    }
    let policies = medaid::engine::PolicySet::new(vec![policy]).unwrap();
    let mut g = c.benchmark_group("cli");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("settle_100k", |b| {
        b.iter(|| {
            let stats =
                medaid::cli::settle::run(&policies, &input[..], std::io::sink(), false).unwrap();
            assert_eq!(stats.settled, 100_000);
        })
    });
    g.bench_function("parse_print_100k", |b| {
        b.iter(|| parse_print(&input, std::io::sink()))
    });
    g.finish();
}

criterion_group!(benches, bench_engine, bench_cli);
criterion_main!(benches);
