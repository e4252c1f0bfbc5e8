//! Two `medaid serve` processes on one database, set up with the commands
//! of docs/operations.md only: the caps still hold across processes, and a
//! process killed mid-load loses no acknowledged settlement.

use super::concurrency::{check_caps, race};
use super::helpers::*;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_medaid");

/// Kills the server processes when the test ends, however it ends.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn medaid(args: &[&str], url: &str) -> String {
    let out = Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .current_dir(repo_path(""))
        .output()
        .expect("run medaid");
    assert!(
        out.status.success(),
        "medaid {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Start `medaid serve` on a free port; returns the child and its base URL.
fn serve(url: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policies"])
        .arg(policy_path())
        .args(["--database-url", url])
        .env("MEDAID_LOG", "warn")
        .current_dir(repo_path(""))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn medaid serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, base)
}

/// A fresh database set up with the command line only: three hospitals,
/// four 低保 persons, a key per hospital and a centre key.
fn set_up(url: &str) -> ([String; 3], String) {
    let dir = tempfile::tempdir().unwrap();
    let hospitals = dir.path().join("hospitals.csv");
    let registry = dir.path().join("registry.csv");
    std::fs::write(
        &hospitals,
        "code,name,level,region\nH0001,甲,township,411303\nH0002,乙,county,411303\nH0003,丙,city,411303\n",
    )
    .unwrap();
    let mut reg = String::from("person_id,name,category,valid_from,valid_to\n");
    for i in 0..4 {
        reg.push_str(&format!("{},某,dibao,2016-01-01,\n", cap_person(i)));
    }
    std::fs::write(&registry, reg).unwrap();
    medaid(&["hospitals", "import", hospitals.to_str().unwrap()], url);
    medaid(&["registry", "import", registry.to_str().unwrap()], url);
    let key = |h: &str| {
        let out = medaid(
            &["keys", "create", "--role", "hospital", "--hospital", h],
            url,
        );
        out.lines().last().expect("key line").trim().to_string()
    };
    let keys = [key("H0001"), key("H0002"), key("H0003")];
    let centre = medaid(&["keys", "create", "--role", "centre"], url)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    (keys, centre)
}

async fn two_processes(backend: Backend) {
    let Some(fresh) = fresh_db(backend).await else {
        skipped("two_processes");
        return;
    };
    let url = fresh.url.clone();
    let (keys, centre) = set_up(&url);

    let (a, base_a) = serve(&url);
    let (b, base_b) = serve(&url);
    let _servers = Servers(vec![a, b]);
    let client = reqwest::Client::new();
    let answers = race(&client, &[base_a.clone(), base_b.clone()], &keys, 4, 160).await;
    let mut accs = BTreeMap::new();
    for p in 0..4 {
        let r = client
            .get(format!(
                "{base_b}/v1/persons/{}/accumulators?year=2017",
                cap_person(p)
            ))
            .bearer_auth(&centre)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        accs.insert(cap_person(p), r.json().await.unwrap());
    }
    check_caps(&answers, &accs);
    // A retry at the other process returns the stored answer.
    let first = &answers[0];
    let claim = big_claim("Z-0000", "H0001", &cap_person(0), 1, "30000.00");
    let r = client
        .post(format!("{base_b}/v1/settlements"))
        .bearer_auth(&keys[0])
        .json(&claim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let again: serde_json::Value = r.json().await.unwrap();
    assert_eq!(&again, first);
    let db = medaid::storage::Db::connect(&medaid::storage::ConnectOptions::new(&url))
        .await
        .unwrap();
    assert!(db.audit_accumulators().await.unwrap().is_empty());
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_sqlite() {
    two_processes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_postgres() {
    two_processes(Backend::Postgres).await;
}

/// Kill -9 the server while 32 clients settle (group commit batching them),
/// three rounds: every settlement that was acknowledged (201) is there after
/// the restart, answered byte for byte on retry, and the accumulators equal
/// their rows. (A process crash: what the OS had accepted survives; power
/// loss is `synchronous = FULL`'s part, not tested here.)
async fn crash_loses_no_acknowledged_settlement(backend: Backend) {
    let Some(fresh) = fresh_db(backend).await else {
        skipped("crash_loses_no_acknowledged_settlement");
        return;
    };
    let url = fresh.url.clone();
    let (keys, _centre) = set_up(&url);
    let client = reqwest::Client::new();
    let mut acked = Vec::new();
    for round in 0..3 {
        acked.extend(settle_until_killed(&client, &url, &keys, round, 150).await);
    }
    let (child, base) = serve(&url);
    let _servers = Servers(vec![child]);
    for (claim, answer) in &acked {
        let h = ["H0001", "H0002", "H0003"]
            .iter()
            .position(|h| claim["hospital"] == *h)
            .unwrap();
        let r = client
            .post(format!("{base}/v1/settlements"))
            .bearer_auth(&keys[h])
            .json(claim)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "acknowledged {} was lost",
            claim["claim_id"]
        );
        assert_eq!(&r.text().await.unwrap(), answer, "{}", claim["claim_id"]);
    }
    let db = medaid::storage::Db::connect(&medaid::storage::ConnectOptions::new(&url))
        .await
        .unwrap();
    assert!(db.audit_accumulators().await.unwrap().is_empty());
    db.close().await;
}

/// Start a server, settle from 32 clients until `at_least` are
/// acknowledged, kill -9 it; the acknowledged claims with their answers.
async fn settle_until_killed(
    client: &reqwest::Client,
    url: &str,
    keys: &[String; 3],
    round: usize,
    at_least: usize,
) -> Vec<(serde_json::Value, String)> {
    let (child, base) = serve(url);
    let mut servers = Servers(vec![child]);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..32usize {
        let (client, base, keys, acked) =
            (client.clone(), base.clone(), keys.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let h = (t + i) % 3;
                let claim = big_claim(
                    &format!("K{round}-{t:02}-{i:05}"),
                    ["H0001", "H0002", "H0003"][h],
                    &cap_person((t + i) % 4),
                    (i % 28) as u32 + 1,
                    "300.00",
                );
                let sent = client
                    .post(format!("{base}/v1/settlements"))
                    .bearer_auth(&keys[h])
                    .json(&claim)
                    .send()
                    .await;
                let Ok(r) = sent else { return };
                let status = r.status().as_u16();
                let Ok(text) = r.text().await else { return };
                if status == 201 {
                    acked.lock().unwrap().push((claim, text));
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < at_least {
        tokio::time::sleep(std::time::Duration::from_millis(7)).await;
    }
    for c in &mut servers.0 {
        c.kill().expect("kill -9");
        c.wait().expect("reap");
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() >= at_least, "{} acknowledged", acked.len());
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_loses_no_acknowledged_settlement_sqlite() {
    crash_loses_no_acknowledged_settlement(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_loses_no_acknowledged_settlement_postgres() {
    crash_loses_no_acknowledged_settlement(Backend::Postgres).await;
}
