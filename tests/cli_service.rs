//! The service's command line: the set-up commands of DESIGN.md §7 and
//! `medaid serve --demo` (the README's first command and its curl).

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_medaid");

fn medaid(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("MEDAID_DATABASE_URL")
        .output()
        .expect("run medaid")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn set_up_commands_use_the_embedded_database_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("h.csv"),
        "code,name,level,region\nH0001,甲,county,411303\n",
    )
    .unwrap();
    std::fs::write(
        d.join("r.csv"),
        "person_id,name,category,valid_from,valid_to\nP1,某,dibao,2016-01-01,\nP2,某,,2016-01-01,2016-12-31\n",
    )
    .unwrap();
    let o = medaid(d, &["hospitals", "import", "h.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = medaid(d, &["registry", "import", "r.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 registry rows imported for 2 persons"));
    assert!(
        d.join("medaid.db").exists(),
        "the default database is medaid.db here"
    );
    for args in [
        &[
            "keys",
            "create",
            "--role",
            "hospital",
            "--hospital",
            "H0001",
        ][..],
        &["keys", "create", "--role", "centre"][..],
        &["keys", "create", "--role", "admin"][..],
    ] {
        let o = medaid(d, args);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let last = out.lines().last().unwrap();
        assert!(
            last.starts_with("mdk_") && last.len() == 4 + 16 + 1 + 64,
            "{out}"
        );
    }
}

#[test]
fn set_up_commands_refuse_bad_input_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad-header.csv"), "code,level\nH1,county\n").unwrap();
    let o = medaid(d, &["hospitals", "import", "bad-header.csv"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
    std::fs::write(
        d.join("r.csv"),
        "person_id,name,category,valid_from,valid_to\nP1,某,dibao,2016-01-01,\nP2,某,dibao,2016-13-01,\n",
    )
    .unwrap();
    let o = medaid(d, &["registry", "import", "r.csv"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 3: valid_from"), "{}", stderr(&o));
    std::fs::write(
        d.join("r2.csv"),
        "person_id,name,category,valid_from,valid_to\nP1,某,dibao,2016-01-01,2015-01-01\n",
    )
    .unwrap();
    assert!(!medaid(d, &["registry", "import", "r2.csv"])
        .status
        .success());
    let o = medaid(d, &["keys", "create", "--role", "hospital"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--hospital"), "{}", stderr(&o));
    assert!(!medaid(d, &["keys", "create", "--role", "root"])
        .status
        .success());
    let o = medaid(d, &["serve", "--database-url", "mysql://x/y"]);
    assert!(!o.status.success());
}

/// Kills the server when the test ends.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_the_example_claim() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--policies"])
        .arg(repo.join("fixtures/policies"))
        .current_dir(dir.path())
        .env_remove("MEDAID_DATABASE_URL")
        .env("MEDAID_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let key_line = lines.next().unwrap().unwrap();
    let key = key_line.split_whitespace().last().unwrap().to_string();
    let saved = std::fs::read_to_string(dir.path().join("medaid-demo.key")).unwrap();
    assert_eq!(saved.trim(), key);
    let claim = std::fs::read_to_string(repo.join("fixtures/demo/claim.json")).unwrap();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/v1/settlements"))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(claim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a: serde_json::Value = r.json().await.unwrap();
    // The contract's worked example claim under fixtures/policies/wolong-2017.toml,
    // which follows seed 002: 七免一减 and the waived deductible are for
    // 建档立卡贫困人口, so this 低保 patient gets neither. In policy 5.00 + 270.00
    // = 275.00; basic: all of it goes to the 300.00 admission deductible;
    // 大病: all of it to the 15,000 deductible; aid 275.00 × 70 % = 192.50;
    // patient 325.00 − 192.50 = 132.50 (the Python oracle agrees).
    assert_eq!(a["hospital_waived"], "0.00", "{a}");
    assert_eq!(a["fund_paid"], "192.50", "{a}");
    assert_eq!(a["patient_payable"], "132.50");
    let xml = std::fs::read_to_string(repo.join("fixtures/demo/claim.xml")).unwrap();
    let r = client
        .post(format!("{base}/v1/settlements"))
        .bearer_auth(&key)
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[test]
fn keys_are_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = medaid(d, &["keys", "create", "--role", "centre"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let id = &key[4..20];
    let o = medaid(d, &["keys", "list"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains(&format!("{id},centre,,")), "{out}");
    assert!(!out.contains(&key), "a listing never shows the key itself");
    let o = medaid(d, &["keys", "revoke", &key]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = medaid(d, &["keys", "list"]);
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap()
        .to_string();
    assert!(!line.ends_with(','), "revoked_at is filled: {line}");
    // revoking twice, or an unknown id, fails and says why
    let o = medaid(d, &["keys", "revoke", id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no active key"), "{}", stderr(&o));
    let o = medaid(d, &["keys", "revoke", "nonsense"]);
    assert_eq!(o.status.code(), Some(1));
}
