//! Differential test against an independent implementation.
//!
//! `tests/oracle/oracle.py` implements DESIGN.md §4 in Python (decimal
//! module, half away from zero), written from the design text alone without
//! reading this crate. `gen.py` generates random valid policies and claim
//! sequences; `compare.py` runs `medaid settle` on them and compares every
//! top-level amount and every layer's applied, base, deductible, eligible,
//! paid and cap_limited, to the fen. Skipped, with a message, where no
//! Python 3.11+ is installed.
//!
//! The second test does the same for the version-2 policy language (DESIGN.md
//! §2b) and claim fields: `gen.py SEED DIR v2` writes several policy files
//! (regions, periods) under `DIR/policies/` and claims with some bad ones;
//! `compare.py DIR/policies DIR/claims.jsonl` runs `medaid settle
//! --keep-going --policy A.toml --policy B.toml ... DIR/claims.jsonl` and also
//! compares each refused claim's error path. The oracle's readings of what
//! the design leaves open are listed at the top of `tests/oracle/oracle.py`.

use std::path::Path;
use std::process::Command;

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import tomllib, decimal"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some("python3")
}

/// Generate each seed's policies and claims with `gen.py`, then have
/// `compare.py` run `medaid settle` on them and compare with the oracle.
/// `policies` names what compare.py reads in the seed's folder (a file, or
/// a folder of several policies). Returns how many seeds were compared.
fn compare_seeds(seeds: impl Iterator<Item = (u32, &'static str)>, policies: &str) -> usize {
    let Some(py) = python() else {
        eprintln!("skipped: the oracle comparison needs python3 (3.11+, tomllib)");
        return usize::MAX;
    };
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let work = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (seed, features) in seeds {
        let dir = work.path().join(seed.to_string());
        let g = Command::new(py)
            .arg(here.join("gen.py"))
            .arg(seed.to_string())
            .arg(&dir)
            .arg(features)
            .output()
            .unwrap();
        assert!(
            g.status.success(),
            "gen.py {seed}: {}",
            String::from_utf8_lossy(&g.stderr)
        );
        let c = Command::new(py)
            .arg(here.join("compare.py"))
            .arg(dir.join(policies))
            .arg(dir.join("claims.jsonl"))
            .env("MEDAID_BIN", env!("CARGO_BIN_EXE_medaid"))
            .output()
            .unwrap();
        assert!(
            c.status.success(),
            "seed {seed} ({features}): medaid and the oracle disagree:\n{}{}\npolicies:\n{}",
            String::from_utf8_lossy(&c.stdout),
            String::from_utf8_lossy(&c.stderr),
            policy_texts(&dir.join(policies))
        );
        compared += 1;
    }
    compared
}

/// The policy file, or every policy file of a folder, for a failure message.
fn policy_texts(path: &Path) -> String {
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(path) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => vec![path.to_path_buf()],
    };
    files.sort();
    files
        .iter()
        .map(|f| {
            format!(
                "# {}\n{}",
                f.display(),
                std::fs::read_to_string(f).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn agrees_with_an_independent_implementation() {
    let seeds = (1000..1040)
        .map(|s| (s, ""))
        .chain((2000..2020).map(|s| (s, "weirdprefix,emptydiag,capdefault,rbcfallback")));
    let n = compare_seeds(seeds, "policy.toml");
    assert!(n == 60 || n == usize::MAX, "{n}");
}

#[test]
fn agrees_with_an_independent_implementation_v2() {
    let seeds = (3000..3020)
        .map(|s| (s, "v2"))
        .chain((3100..3110).map(|s| (s, "v2,many")));
    let n = compare_seeds(seeds, "policies");
    assert!(n == 30 || n == usize::MAX, "{n}");
}
