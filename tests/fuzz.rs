//! Fuzzing on stable Rust: mutation-based, seeded, no coverage guidance
//! (cargo-fuzz needs a nightly toolchain and an instrumented build). Four
//! targets — the JSON claim parser, the XML claim parser, the policy parser
//! and the engine — each fed mutations of the fixtures (byte flips,
//! insertions, deletions, splices, and a dictionary of hostile tokens:
//! huge and many-decimal numbers, exponents, NUL and control characters,
//! bad dates, deep nesting). Nothing may panic, and whatever parses and
//! settles must keep the invariants: every amount conserved
//! (`total = hospital_waived + fund_paid + patient_payable`, `fund_paid` =
//! the layers' sum), nothing negative, no layer paying more than its base,
//! two-decimal amounts, accumulators moving by exactly the layer deltas.
//!
//! The claim targets go through `service::parse_claim`, what the API
//! calls. Finding kept in the corpus: `xml/doctype-in-text.xml` — a
//! declaration inside a text made quick-xml's deserializer reach an
//! `unreachable!()` (a 500 from the service; the service now refuses DTDs
//! and catches the panic; `engine::claim::parse_xml` itself still panics on
//! it).
//!
//! `cargo test --test fuzz` replays `tests/fuzz-corpus/` (inputs worth
//! keeping, findings included) and runs a few thousand mutations per
//! target. A long run:
//!
//! ```sh
//! MEDAID_FUZZ_RUNS=1000000 MEDAID_FUZZ_SEED=1 cargo test --test fuzz -- --nocapture
//! ```
//!
//! A failing input is written to `target/fuzz-failures/` (add it to the
//! corpus once fixed).

use medaid::engine::{self, claim, Accumulator, Answer, Identity, Policy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn runs() -> u64 {
    std::env::var("MEDAID_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("MEDAID_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20240601)
}

const TOKENS: &[&str] = &[
    "\"",
    "\\u0000",
    "\\u0001",
    "\u{0}",
    "\u{1b}",
    "\u{feff}",
    "\u{fffe}",
    "-",
    "-0",
    "0.005",
    "1e400",
    "1E-7",
    "320.00000000000001",
    "90071992547409.93",
    "99999999999999999999999999999",
    "79228162514264337593543950335",
    "NaN",
    "inf",
    "null",
    "true",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":",
    "2017-02-30",
    "17-05-01",
    "+002017-05-01",
    "9999-12-31",
    "0000-01-01",
    "<",
    ">",
    "&amp;",
    "&#0;",
    "<![CDATA[",
    "<!DOCTYPE x [<!ENTITY e \"e\">]>",
    "</item>",
    "<item>",
    "=",
    "[[layers]]",
    "[layers.cap]",
    "amount = ",
    "ratio = ",
    "\"1.5\"",
    "\"-1\"",
    "0x10",
    "1_000",
    "'''",
    "\n",
];

/// One mutation of `input`.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    let n = rng.gen_range(1..=4);
    for _ in 0..n {
        let len = out.len();
        match rng.gen_range(0..7) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] = rng.gen();
            }
            2 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = (i + rng.gen_range(1..=16)).min(len);
                out.drain(i..j);
            }
            3 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = (i + rng.gen_range(1..=32)).min(len);
                let chunk = out[i..j].to_vec();
                let k = rng.gen_range(0..=out.len());
                out.splice(k..k, chunk);
            }
            4 | 5 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                let k = rng.gen_range(0..=out.len());
                if rng.gen_bool(0.5) && k < out.len() {
                    // Replace a value-looking run.
                    let end = out[k..]
                        .iter()
                        .position(|b| matches!(b, b'"' | b',' | b'<' | b'\n' | b'}'))
                        .map_or(out.len(), |p| k + p);
                    out.splice(k..end, t.iter().copied());
                } else {
                    out.splice(k..k, t.iter().copied());
                }
            }
            _ => {
                // Splice with another corpus entry.
                let other = &corpus[rng.gen_range(0..corpus.len())];
                if !other.is_empty() && len > 0 {
                    let i = rng.gen_range(0..len);
                    let j = rng.gen_range(0..other.len());
                    out.truncate(i);
                    out.extend_from_slice(&other[j..]);
                }
            }
        }
    }
    out
}

fn policies() -> Vec<Policy> {
    [
        "fixtures/policies/wolong-2017.toml",
        "fixtures/policies/wolong-2023.toml",
        "fixtures/design/policy.toml",
    ]
    .iter()
    .filter_map(|p| {
        let text = std::fs::read_to_string(repo(p)).ok()?;
        Policy::from_toml(&text, p).ok()
    })
    .collect()
}

fn corpus(kind: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    match kind {
        "json" => {
            let text = std::fs::read_to_string(repo("fixtures/claims/wolong-2017.jsonl")).unwrap();
            out.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.as_bytes().to_vec()),
            );
            if let Ok(t) = std::fs::read(repo("fixtures/demo/claim.json")) {
                out.push(t);
            }
        }
        "xml" => out.push(std::fs::read(repo("fixtures/claims/wolong-2017-0001.xml")).unwrap()),
        _ => {
            for p in [
                "fixtures/policies/wolong-2017.toml",
                "fixtures/policies/wolong-2023.toml",
                "fixtures/design/policy.toml",
            ] {
                out.push(std::fs::read(repo(p)).unwrap());
            }
        }
    }
    let dir = repo(&format!("tests/fuzz-corpus/{kind}"));
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            out.push(std::fs::read(f).unwrap());
        }
    }
    out
}

/// Settle a parsed claim under every policy that covers it, on zero and on
/// earlier accumulators, and check the invariants.
fn check_settle(policies: &[Policy], c: &claim::Claim) -> Result<(), String> {
    for p in policies {
        let Ok(resolved) = claim::resolve(p, c) else {
            continue;
        };
        let ncat = p.categories.len().min(8);
        for (mask, level) in [
            (0u64, 0usize),
            (1, p.levels.len().saturating_sub(1)),
            ((1u64 << ncat) - 1, 0),
        ] {
            let identity = Identity {
                categories: mask as _,
                level: level.min(p.levels.len().saturating_sub(1)),
            };
            let mut accs = vec![Accumulator::default(); p.slots.len()];
            for round in 0..2 {
                // a claim the policy refuses (fund_payments that do not fit)
                let Ok(comp) = engine::settle(p, &resolved, identity, &accs) else {
                    break;
                };
                let a = Answer::build(p, c, resolved.year, &comp);
                let ctx = || format!("policy {} round {round} mask {mask}", p.id);
                if a.total != a.hospital_waived + a.fund_paid + a.patient_payable {
                    return Err(format!(
                        "{}: total {} != waived {} + fund {} + patient {}",
                        ctx(),
                        a.total,
                        a.hospital_waived,
                        a.fund_paid,
                        a.patient_payable
                    ));
                }
                if a.fund_paid != a.layers.iter().map(|l| l.paid).sum::<Decimal>() {
                    return Err(format!("{}: fund_paid is not the layers' sum", ctx()));
                }
                for v in [a.total, a.hospital_waived, a.fund_paid, a.patient_payable] {
                    if v < Decimal::ZERO || v.normalize().scale() > 2 {
                        return Err(format!("{}: amount {v}", ctx()));
                    }
                }
                for (l, o) in a.layers.iter().zip(&comp.layers) {
                    if l.paid < Decimal::ZERO || l.paid > l.base {
                        return Err(format!(
                            "{}: layer {} pays {} of base {}",
                            ctx(),
                            l.id,
                            l.paid,
                            l.base
                        ));
                    }
                    if let Some(cap) = o.cap {
                        if o.paid > cap {
                            return Err(format!(
                                "{}: layer {} pays {} over its cap {cap}",
                                ctx(),
                                l.id,
                                o.paid
                            ));
                        }
                    }
                }
                // every slot: layers, then pools and per-disease limits
                for (acc, d) in accs.iter_mut().zip(comp.deltas()) {
                    acc.add(d);
                }
            }
        }
    }
    Ok(())
}

fn failure(kind: &str, input: &[u8], why: &str) -> ! {
    let dir = repo("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let name = format!("{kind}-{}", medaid::service::sha256_hex(input));
    let _ = std::fs::write(dir.join(&name), input);
    panic!(
        "{kind}: {why}; input kept as target/fuzz-failures/{name}: {:?}",
        String::from_utf8_lossy(input)
    );
}

/// Panics the service catches (quick-xml's, see the module docs) are not
/// printed; every other one is.
fn quiet_known_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let known = info
                .location()
                .is_some_and(|l| l.file().contains("quick-xml"));
            if !known {
                default(info);
            }
        }));
    });
}

fn run_target(kind: &str, one: &dyn Fn(&[u8]) -> Result<bool, String>) {
    quiet_known_panics();
    let corpus = corpus(kind);
    let started = std::time::Instant::now();
    // Replay the corpus first.
    for input in &corpus {
        match catch_unwind(AssertUnwindSafe(|| one(input))) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failure(kind, input, &e),
            Err(_) => failure(kind, input, "panicked"),
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed() ^ kind.len() as u64);
    let n = runs();
    let mut accepted = 0u64;
    for i in 0..n {
        if i > 0 && i % 100_000 == 0 {
            eprintln!(
                "fuzz {kind}: {i} mutations in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        let base = &corpus[rng.gen_range(0..corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        match catch_unwind(AssertUnwindSafe(|| one(&input))) {
            Ok(Ok(true)) => accepted += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => failure(kind, &input, &e),
            Err(_) => failure(kind, &input, "panicked"),
        }
    }
    eprintln!(
        "fuzz {kind}: {} corpus inputs + {n} mutations (seed {}; {accepted} parsed and settled) in {:.1} s, no panic, invariants hold",
        corpus.len(),
        seed(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn fuzz_json_claims() {
    let policies = policies();
    run_target("json", &|input| {
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok(false);
        };
        // The service's entry point (what `POST /v1/settlements` calls).
        match medaid::service::parse_claim(text, false) {
            Ok(c) => check_settle(&policies, &c).map(|()| true),
            Err(_) => Ok(false),
        }
    });
}

#[test]
fn fuzz_xml_claims() {
    let policies = policies();
    run_target("xml", &|input| {
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok(false);
        };
        match medaid::service::parse_claim(text, true) {
            Ok(c) => check_settle(&policies, &c).map(|()| true),
            Err(_) => Ok(false),
        }
    });
}

#[test]
fn fuzz_policies_and_engine() {
    let claims: Vec<claim::Claim> = corpus("json")
        .iter()
        .filter_map(|c| claim::parse_json(std::str::from_utf8(c).ok()?).ok())
        .collect();
    run_target("policy", &|input| {
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok(false);
        };
        match Policy::from_toml(text, "fuzz.toml") {
            Ok(p) => {
                let one = [p];
                for c in &claims {
                    check_settle(&one, c)?;
                }
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    });
}
