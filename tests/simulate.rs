//! `medaid simulate`, `medaid generate` and `medaid policy diff`, run as the
//! real binary.
//!
//! The central check: every policy's per-layer totals in the simulation equal
//! the sum of independent `medaid settle` answers on the same claims, to the
//! fen — the simulator has no arithmetic of its own.

use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

const BIN: &str = env!("CARGO_BIN_EXE_medaid");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(p: &str) -> PathBuf {
    Path::new(ROOT).join(p)
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("the medaid binary runs");
    assert!(
        out.status.success(),
        "medaid {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("not a money string: {v}")),
    )
    .unwrap()
}

/// Generate `persons` persons under `policy` into `dir`; returns the claims file.
fn generate(dir: &Path, policy: &str, year: &str, persons: &str, seed: &str) -> PathBuf {
    let claims = dir.join(format!("claims-{seed}.jsonl"));
    run(&[
        "generate",
        "-q",
        "--policy",
        fixture(policy).to_str().unwrap(),
        "--year",
        year,
        "--persons",
        persons,
        "--seed",
        seed,
        "--claims",
        claims.to_str().unwrap(),
        "--registry",
        dir.join(format!("registry-{seed}.csv")).to_str().unwrap(),
        "--hospitals",
        dir.join(format!("hospitals-{seed}.csv")).to_str().unwrap(),
    ]);
    claims
}

/// Sums of `medaid settle` answers: per layer id, and the claim totals.
fn settle_sums(
    policy: &Path,
    claims: &Path,
) -> (
    BTreeMap<String, Decimal>,
    BTreeMap<&'static str, Decimal>,
    usize,
) {
    let out = run(&[
        "settle",
        "--policy",
        policy.to_str().unwrap(),
        claims.to_str().unwrap(),
    ]);
    let mut layers = BTreeMap::new();
    let mut totals = BTreeMap::new();
    let mut n = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let a: Value = serde_json::from_str(line).unwrap();
        n += 1;
        for l in a["layers"].as_array().unwrap() {
            *layers
                .entry(l["id"].as_str().unwrap().to_string())
                .or_insert(Decimal::ZERO) += dec(&l["paid"]);
        }
        for k in ["total", "hospital_waived", "fund_paid", "patient_payable"] {
            *totals.entry(k).or_insert(Decimal::ZERO) += dec(&a[k]);
        }
    }
    (layers, totals, n)
}

fn simulate_json(args: &[&str]) -> Value {
    let mut all = vec!["simulate", "-q", "--json", "-"];
    all.extend_from_slice(args);
    let out = run(&all);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn layer_totals_equal_the_sum_of_settle_answers() {
    let dir = tempfile::tempdir().unwrap();
    for (policy, scenario, year) in [
        (
            "fixtures/policies/wolong-2017.toml",
            "fixtures/scenarios/wolong-2017-aid75.toml",
            "2017",
        ),
        (
            "fixtures/policies/wolong-2023.toml",
            "fixtures/policies/wolong-2023.toml",
            "2023",
        ),
    ] {
        let claims = generate(dir.path(), policy, year, "700", year);
        let report = simulate_json(&[
            "--baseline",
            fixture(policy).to_str().unwrap(),
            "--scenario",
            fixture(scenario).to_str().unwrap(),
            "--bootstrap",
            "20",
            "--budget",
            "aid=1000000",
            claims.to_str().unwrap(),
        ]);
        for (i, file) in [policy, scenario].iter().enumerate() {
            let (layers, totals, n) = settle_sums(&fixture(file), &claims);
            let p = &report["policies"][i];
            assert_eq!(p["settled"].as_u64().unwrap() as usize, n, "{file}");
            assert_eq!(p["refused"], 0);
            for l in p["layers"].as_array().unwrap() {
                let id = l["id"].as_str().unwrap();
                assert_eq!(dec(&l["paid"]), layers[id], "{file}: layer {id}");
            }
            for k in ["total", "hospital_waived", "fund_paid", "patient_payable"] {
                assert_eq!(dec(&p["summary"][k]), totals[k], "{file}: {k}");
            }
            // payers add up their layers; the gap is paid − budget
            let aid: Decimal = p["layers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["payer"] == "aid")
                .map(|l| dec(&l["paid"]))
                .sum();
            let payer = p["payers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|y| y["payer"] == "aid")
                .unwrap();
            assert_eq!(dec(&payer["paid"]), aid);
            assert_eq!(dec(&p["gaps"][0]["gap"]), aid - Decimal::from(1_000_000));
            // the breakdowns partition the totals
            for dim in ["by_category", "by_month", "by_level"] {
                let s: Decimal = p[dim]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| dec(&r["fund_paid"]))
                    .sum();
                assert_eq!(s, totals["fund_paid"], "{file}: {dim}");
            }
        }
        if policy == scenario {
            let c = &report["policies"][1]["changes"];
            assert_eq!(c["gainers"]["count"], 0);
            assert_eq!(c["losers"]["count"], 0);
            assert_eq!(
                dec(&report["policies"][1]["summary"]["vs_baseline"]["fund_paid"]),
                Decimal::ZERO
            );
        }
    }
}

#[test]
fn thread_count_and_seed_reproduce_the_report_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let claims = generate(
        dir.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "900",
        "11",
    );
    let (base, scen) = (
        fixture("fixtures/policies/wolong-2017.toml"),
        fixture("fixtures/scenarios/wolong-2017-aid75.toml"),
    );
    let go = |threads: &str, seed: &str| -> Vec<u8> {
        run(&[
            "simulate",
            "-q",
            "--json",
            "-",
            "--threads",
            threads,
            "--seed",
            seed,
            "--bootstrap",
            "60",
            "--volume-growth",
            "0.05",
            "--price-growth",
            "0.03",
            "--budget",
            "aid=800000",
            "--baseline",
            base.to_str().unwrap(),
            "--scenario",
            scen.to_str().unwrap(),
            claims.to_str().unwrap(),
        ])
        .stdout
    };
    let one = go("1", "42");
    let four = go("4", "42");
    assert_eq!(
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&four)
    );
    assert_eq!(one, go("2", "42"));
    let other = go("2", "7");
    assert_ne!(one, other, "another seed gives other intervals and growth");
    let r: Value = serde_json::from_slice(&one).unwrap();
    let read = r["input"]["claims_read"].as_u64().unwrap() as f64;
    let simulated = r["input"]["claims_simulated"].as_u64().unwrap() as f64;
    assert!(
        simulated > read * 1.02 && simulated < read * 1.08,
        "{read} → {simulated}"
    );
    let iv = &r["policies"][0]["layers"][3]["interval"];
    assert!(dec(&iv[0]) < dec(&r["policies"][0]["layers"][3]["paid"]));
    assert!(dec(&iv[1]) > dec(&r["policies"][0]["layers"][3]["paid"]));
}

#[test]
fn writes_csv_tables_and_a_self_contained_html_report() {
    let dir = tempfile::tempdir().unwrap();
    let claims = generate(
        dir.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "300",
        "3",
    );
    let html = dir.path().join("report.html");
    let csv = dir.path().join("csv");
    let out = run(&[
        "simulate",
        "--baseline",
        fixture("fixtures/policies/wolong-2017.toml")
            .to_str()
            .unwrap(),
        "--scenario",
        fixture("fixtures/scenarios/wolong-2017-aid75.toml")
            .to_str()
            .unwrap(),
        "--budget",
        "aid=300000",
        "--html",
        html.to_str().unwrap(),
        "--csv-dir",
        csv.to_str().unwrap(),
        claims.to_str().unwrap(),
    ]);
    // with files asked for, stdout carries the text summary
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("gap aid"), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        page.matches("<svg").count(),
        8,
        "payers, gap, two monthly charts, the scenario's change by month, category and level, out of pocket"
    );
    // The conclusion in one sentence at the top (issue 11).
    let top = &page[..page.find("<h2>").unwrap()];
    assert!(top.contains("方案使医疗救助支出增加"), "headline missing");
    assert!(top.contains("90% 区间"), "headline without its interval");
    assert!(
        top.contains("较预算缺口") || top.contains("较预算结余"),
        "headline without the budget"
    );
    assert!(
        !page.contains("缺口 <span class=\"neg\">-"),
        "a surplus reads as a negative gap"
    );
    // Chart text stays readable: no font under 12 px.
    for size in page.split("font-size=\"").skip(1) {
        let n: f64 = size.split('"').next().unwrap().parse().unwrap_or(99.0);
        assert!(n >= 12.0, "chart text of {n} px");
    }
    for banned in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!page.contains(banned), "external resource: {banned}");
    }
    // For people (issue 11): BOM, Chinese headers and names, the same
    // writer as the reconciliation reports.
    let layers = std::fs::read_to_string(csv.join("layers.csv")).unwrap();
    assert!(layers.starts_with("\u{feff}角色,政策,支付层,"), "{layers}");
    assert!(
        layers
            .lines()
            .any(|l| l.starts_with("方案,wolong-2017-aid75,aid,")),
        "{layers}"
    );
    // For scripts: --ids keeps the keys and ids.
    let ids = dir.path().join("ids");
    let out = run(&[
        "simulate",
        "--baseline",
        fixture("fixtures/policies/wolong-2017.toml")
            .to_str()
            .unwrap(),
        "--scenario",
        fixture("fixtures/scenarios/wolong-2017-aid75.toml")
            .to_str()
            .unwrap(),
        "--csv-dir",
        ids.to_str().unwrap(),
        "--ids",
        claims.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let layers = std::fs::read_to_string(ids.join("layers.csv")).unwrap();
    assert!(layers.starts_with("role,policy_id,layer_id,"));
    assert!(layers
        .lines()
        .any(|l| l.starts_with("scenario,wolong-2017-aid75,aid,")));
    for f in [
        "summary.csv",
        "payers.csv",
        "gaps.csv",
        "by_month.csv",
        "by_category_payers.csv",
        "histograms.csv",
        "top_changes.csv",
    ] {
        assert!(csv.join(f).exists(), "{f}");
    }
}

#[test]
fn claims_a_scenario_cannot_settle_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let claims = generate(
        dir.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "50",
        "4",
    );
    let r = simulate_json(&[
        "--baseline",
        fixture("fixtures/policies/wolong-2017.toml")
            .to_str()
            .unwrap(),
        "--scenario",
        fixture("fixtures/policies/wolong-2023.toml")
            .to_str()
            .unwrap(),
        "--bootstrap",
        "0",
        claims.to_str().unwrap(),
    ]);
    let s = &r["policies"][1];
    assert_eq!(s["settled"], 0);
    assert_eq!(s["refused"], r["policies"][0]["settled"]);
    assert!(
        s["refusals"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no policy in force"),
        "{}",
        s["refusals"][0]
    );
    assert!(s["summary"]["intervals"]["total"].is_null());
}

#[test]
fn a_bad_claim_names_its_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let claims = generate(
        dir.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "40",
        "5",
    );
    let text = std::fs::read_to_string(&claims).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen("\"amount\":\"", "\"amount\":\"-", 1);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = Command::new(BIN)
        .args([
            "simulate",
            "-q",
            "--baseline",
            fixture("fixtures/policies/wolong-2017.toml")
                .to_str()
                .unwrap(),
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("items[0].amount") && err.contains("negative"),
        "{err}"
    );
    // --keep-going skips it
    let r = simulate_json(&[
        "--keep-going",
        "--bootstrap",
        "0",
        "--baseline",
        fixture("fixtures/policies/wolong-2017.toml")
            .to_str()
            .unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(
        r["input"]["claims_read"].as_u64().unwrap() as usize,
        lines.len() - 1
    );
}

#[test]
fn diff_of_a_policy_with_itself_is_empty() {
    let p = fixture("fixtures/policies/wolong-2017.toml");
    let out = run(&["policy", "diff", p.to_str().unwrap(), p.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("无差异"), "{text}");
    let out = run(&[
        "policy",
        "diff",
        "--json",
        p.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );

    let s = fixture("fixtures/scenarios/wolong-2017-aid75.toml");
    let out = run(&["policy", "diff", p.to_str().unwrap(), s.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("民政医疗救助（住院） 低保对象 比例 70% → 75%"),
        "{text}"
    );
}

#[test]
fn generate_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca = generate(
        a.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "500",
        "9",
    );
    let cb = generate(
        b.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "500",
        "9",
    );
    for (x, y) in [
        (ca.clone(), cb),
        (
            a.path().join("registry-9.csv"),
            b.path().join("registry-9.csv"),
        ),
        (
            a.path().join("hospitals-9.csv"),
            b.path().join("hospitals-9.csv"),
        ),
    ] {
        assert_eq!(
            std::fs::read(&x).unwrap(),
            std::fs::read(&y).unwrap(),
            "{}",
            x.display()
        );
    }
    let registry = std::fs::read_to_string(a.path().join("registry-9.csv")).unwrap();
    assert!(registry.starts_with("person_id,name,category,valid_from,valid_to\n"));
    let hospitals = std::fs::read_to_string(a.path().join("hospitals-9.csv")).unwrap();
    assert!(hospitals.starts_with("code,name,level,region\n"));
    let other = generate(
        a.path(),
        "fixtures/policies/wolong-2017.toml",
        "2017",
        "500",
        "10",
    );
    assert_ne!(std::fs::read(&ca).unwrap(), std::fs::read(&other).unwrap());
    // every claim's person is in the registry with the categories it states
    let mut known = std::collections::HashSet::new();
    for l in registry.lines().skip(1) {
        known.insert(l.split(',').next().unwrap().to_string());
    }
    for l in std::fs::read_to_string(&ca).unwrap().lines() {
        let c: Value = serde_json::from_str(l).unwrap();
        assert!(known.contains(c["person_id"].as_str().unwrap()));
    }
}
