//! `medaid settle` and `medaid policy check`, run as the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn medaid(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_medaid"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut sin = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            sin.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn settles_the_example_claims_in_order() {
    let o = medaid(
        &[
            "settle",
            "--policy",
            "fixtures/policies",
            "fixtures/claims/wolong-2017.jsonl",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let answers = lines(&o);
    assert_eq!(answers.len(), 6);
    for a in &answers {
        assert_eq!(a["policy_id"], "wolong-2017");
        assert_eq!(a["policy_hash"].as_str().unwrap().len(), 64);
    }
    // The first two claims are the same person: the second sees the first's
    // critical-illness deductible (7500.00 for poverty, 5634.00 used by the
    // first claim), so only 1866.00 remains to take.
    let crit = |a: &serde_json::Value| {
        a["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == "critical")
            .unwrap()
            .clone()
    };
    assert_eq!(crit(&answers[0])["deductible"], "5634.00");
    assert_eq!(crit(&answers[1])["deductible"], "1866.00");
    assert_eq!(answers[0]["patient_payable"], "12940.20");
}

#[test]
fn reads_one_pretty_printed_claim_and_xml() {
    let o = medaid(
        &[
            "settle",
            "--policy",
            "fixtures/design/policy.toml",
            "fixtures/design/claim.json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = lines(&o);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["patient_payable"], "59.58");
    assert_eq!(a[0]["reimbursement_ratio"], "0.8167");

    let o = medaid(
        &["settle", "--policy", "fixtures/policies"],
        Some(&std::fs::read_to_string("fixtures/claims/wolong-2017-0001.xml").unwrap()),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let x = lines(&o);
    let j = medaid(
        &["settle", "--policy", "fixtures/policies"],
        Some(
            std::fs::read_to_string("fixtures/claims/wolong-2017.jsonl")
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        ),
    );
    // XML and JSON of the same claim give the same answer
    assert_eq!(x, lines(&j));
}

#[test]
fn a_bad_claim_stops_the_run_naming_line_claim_and_field() {
    let text = std::fs::read_to_string("fixtures/claims/wolong-2017.jsonl").unwrap();
    let mut l: Vec<String> = text.lines().map(str::to_string).collect();
    l[2] = l[2].replace("\"260.00\"", "\"-260.00\"");
    let input = l.join("\n");
    let o = medaid(&["settle", "--policy", "fixtures/policies"], Some(&input));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("H0001-20170405-0001"), "{err}");
    assert!(err.contains("items[2].amount"), "{err}");
    // the two claims before it were answered
    assert_eq!(lines(&o).len(), 2);

    let o = medaid(
        &["settle", "--keep-going", "--policy", "fixtures/policies"],
        Some(&input),
    );
    assert!(o.status.success());
    let out = lines(&o);
    assert_eq!(out.len(), 6);
    assert_eq!(out[2]["line"], 3);
    assert_eq!(out[2]["claim_id"], "H0001-20170405-0001");
    assert_eq!(out[2]["error"]["path"], "items[2].amount");
    assert!(out[3]["patient_payable"].is_string());
}

#[test]
fn malformed_json_and_unknown_policy_dates() {
    let o = medaid(
        &["settle", "--policy", "fixtures/policies"],
        Some("{\"claim_id\": \"x\", oops}\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 1"));
    let claim = std::fs::read_to_string("fixtures/claims/wolong-2017.jsonl")
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .replace("2017-03-10", "2019-03-10");
    let o = medaid(&["settle", "--policy", "fixtures/policies"], Some(&claim));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("discharged_on") && err.contains("no policy in force"),
        "{err}"
    );
}

#[test]
fn policy_check_prints_every_error() {
    let o = medaid(
        &["policy", "check", "fixtures/design/broken-policy.toml"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "errors go to stderr");
    let out = String::from_utf8_lossy(&o.stderr);
    assert!(
        out.contains("layers[0].deductible.amount (line 47)"),
        "{out}"
    );
    assert!(out.contains("layers[1].bands[1].upto (line 56)"), "{out}");
    assert!(out.contains("layers[2].payer (line 63)"), "{out}");
    assert!(out.contains("3 errors"), "{out}");
    let o = medaid(
        &[
            "policy",
            "check",
            "fixtures/policies/wolong-2017.toml",
            "fixtures/policies/wolong-2023.toml",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
