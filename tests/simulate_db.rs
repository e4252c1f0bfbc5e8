//! `medaid simulate --database-url`: the claims a service stored, replayed.
//!
//! A database is set up with the service's own commands (`hospitals
//! import`, `registry import`, `keys create`, `serve`), a generated
//! population's claims are settled through the API and one is cancelled;
//! then simulating the stored claims must give the very report the file
//! form gives on the same claims (less the cancelled one) — on SQLite, and
//! on PostgreSQL when `TEST_DATABASE_URL` is set.

use serde_json::Value;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_medaid");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(p: &str) -> PathBuf {
    Path::new(ROOT).join(p)
}

fn medaid(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("MEDAID_DATABASE_URL")
        .output()
        .expect("run medaid");
    assert!(
        out.status.success(),
        "medaid {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Kills the server when the test ends.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The report without what names the source (file names, the database).
fn comparable(mut r: Value) -> Value {
    r["input"].as_object_mut().unwrap().remove("source");
    for p in r["policies"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("file");
    }
    r
}

async fn stored_claims_simulate_like_the_file(dir: &Path, url: &str) {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (claims, registry, hospitals) = (
        dir.join("claims.jsonl"),
        dir.join("registry.csv"),
        dir.join("hospitals.csv"),
    );
    medaid(&[
        "generate",
        "-q",
        "--policy",
        &s(&fixture("fixtures/policies/wolong-2017.toml")),
        "--persons",
        "60",
        "--seed",
        "11",
        "--claims",
        &s(&claims),
        "--registry",
        &s(&registry),
        "--hospitals",
        &s(&hospitals),
    ]);
    medaid(&["hospitals", "import", &s(&hospitals), "--database-url", url]);
    medaid(&["registry", "import", &s(&registry), "--database-url", url]);
    let mut keys = HashMap::new();
    for line in std::fs::read_to_string(&hospitals).unwrap().lines().skip(1) {
        let code = line.split(',').next().unwrap().to_string();
        let out = medaid(&[
            "keys",
            "create",
            "--role",
            "hospital",
            "--hospital",
            &code,
            "--database-url",
            url,
        ]);
        let out = String::from_utf8_lossy(&out.stdout).to_string();
        keys.insert(code, out.lines().last().unwrap().trim().to_string());
    }

    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .arg("--policies")
        .arg(fixture("fixtures/policies"))
        .env_remove("MEDAID_DATABASE_URL")
        .env("MEDAID_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let first = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();

    let client = reqwest::Client::new();
    let text = std::fs::read_to_string(&claims).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 40, "{} claims", lines.len());
    let mut kept = String::new();
    for (i, line) in lines.iter().enumerate() {
        let c: Value = serde_json::from_str(line).unwrap();
        let key = &keys[c["hospital"].as_str().unwrap()];
        let r = client
            .post(format!("{base}/v1/settlements"))
            .bearer_auth(key)
            .header("Content-Type", "application/json")
            .body(line.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{answer}");
        if i == 3 {
            // cancelled: the stored simulation must leave it out
            let id = answer["settlement_id"].as_str().unwrap();
            let r = client
                .post(format!("{base}/v1/settlements/{id}/cancel"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    drop(server);
    let kept_file = dir.join("kept.jsonl");
    std::fs::write(&kept_file, kept).unwrap();

    let common = [
        "--scenario",
        &s(&fixture("fixtures/scenarios/wolong-2017-aid75.toml")),
        "--bootstrap",
        "40",
        "--seed",
        "5",
        "--budget",
        "aid=100000",
        "--volume-growth",
        "0.1",
        "--price-growth",
        "0.02",
        "-q",
    ];
    let (a, b) = (dir.join("file.json"), dir.join("db.json"));
    let mut file_args = vec![
        "simulate",
        "--baseline",
        "fixtures/policies/wolong-2017.toml",
        "--json",
    ];
    let a_s = s(&a);
    file_args.push(&a_s);
    file_args.extend(common);
    let kept_s = s(&kept_file);
    file_args.push(&kept_s);
    let file_run = Command::new(BIN)
        .args(&file_args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        file_run.status.success(),
        "{}",
        String::from_utf8_lossy(&file_run.stderr)
    );
    // The baseline by the id the service loaded it under.
    let b_s = s(&b);
    let mut db_args = vec![
        "simulate",
        "--database-url",
        url,
        "--from",
        "2017-01-01",
        "--to",
        "2017-12-31",
        "--baseline",
        "wolong-2017",
        "--json",
        &b_s,
    ];
    db_args.extend(common);
    let db_run = medaid(&db_args);
    assert!(db_run.status.success());

    let fr: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    let dr: Value = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    assert_eq!(fr["input"]["claims_read"], lines.len() - 1);
    assert_eq!(dr["input"]["claims_read"], lines.len() - 1);
    assert!(dr["input"]["source"]
        .as_str()
        .unwrap()
        .starts_with("stored settlements discharged 2017-01-01 to 2017-12-31"));
    assert_eq!(
        dr["policies"][0]["refused"], 0,
        "{}",
        dr["policies"][0]["refusals"]
    );
    assert_eq!(comparable(fr), comparable(dr));

    // A range before any discharge: nothing to replay.
    let none = dir.join("none.json");
    medaid(&[
        "simulate",
        "--database-url",
        url,
        "--from",
        "2016-01-01",
        "--to",
        "2016-12-31",
        "--baseline",
        &s(&fixture("fixtures/policies/wolong-2017.toml")),
        "--bootstrap",
        "0",
        "-q",
        "--json",
        &s(&none),
    ]);
    let nr: Value = serde_json::from_str(&std::fs::read_to_string(&none).unwrap()).unwrap();
    assert_eq!(nr["input"]["claims_read"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_claims_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("medaid.db").display());
    stored_claims_simulate_like_the_file(dir.path(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_claims_on_postgres() {
    use sqlx::Connection;
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped stored_claims_on_postgres: TEST_DATABASE_URL is not set"
        );
        return;
    };
    let name = format!("medaid_simdb_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .expect("TEST_DATABASE_URL is set but PostgreSQL is unreachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let dir = tempfile::tempdir().unwrap();
    stored_claims_simulate_like_the_file(dir.path(), &url).await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .await;
}

#[test]
fn database_url_and_a_claims_file_exclude_each_other() {
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--baseline",
            "fixtures/policies/wolong-2017.toml",
            "--database-url",
            "sqlite://x.db",
            "fixtures/claims/wolong-2017.jsonl",
        ])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--baseline",
            "fixtures/policies/wolong-2017.toml",
            "--from",
            "2017-01-01",
            "fixtures/claims/wolong-2017.jsonl",
        ])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(!out.status.success(), "--from needs --database-url");
}
