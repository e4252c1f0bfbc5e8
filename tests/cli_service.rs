//! The service's command line: the set-up commands and
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

#[test]
fn a_hospital_import_never_changes_a_known_hospital_silently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("h.csv"),
        "code,name,level,region\nH0002,区医院,county,411303\n",
    )
    .unwrap();
    let o = medaid(d, &["hospitals", "import", "h.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 hospital read: 1 added"));
    std::fs::write(
        d.join("h2.csv"),
        "code,name,level,region\nH0002,区医院,township,411303\nH0009,新,city,411303\n",
    )
    .unwrap();
    let o = medaid(d, &["hospitals", "import", "h2.csv"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("H0002: level county → township"), "{err}");
    assert!(err.contains("--update"), "{err}");
    let o = medaid(d, &["hospitals", "import", "h2.csv", "--update"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2 hospitals read: 1 added, 1 changed, 0 unchanged"),
        "{out}"
    );
}

#[test]
fn a_registry_import_reports_categories_no_policy_declares() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        d.join("r.csv"),
        "person_id,name,category,valid_from,valid_to\nP1,某,dibao,2016-01-01,\nP2,某,dibo,2016-01-01,\n",
    )
    .unwrap();
    let policies = repo.join("fixtures/policies");
    let o = medaid(
        d,
        &[
            "registry",
            "import",
            "r.csv",
            "--policies",
            policies.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("category `dibo` (1 row) is declared by no policy"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("`dibao`"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 registry rows imported for 2 persons"));
}

#[test]
fn a_missing_policy_folder_names_its_option() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["reconcile", "clearing", "--month", "2017-05"][..],
    ] {
        let o = medaid(d, args);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("fixtures/policies: no such file or directory; set it with --policies or MEDAID_POLICIES"),
            "{err}"
        );
    }
}

#[test]
fn errors_go_to_stderr_and_roles_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let broken = repo.join("fixtures/design/broken-policy.toml");
    let o = medaid(d, &["policy", "check", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).ends_with("3 errors\n"), "{}", stderr(&o));
    let o = medaid(d, &["keys", "create", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("hospital") && help.contains("centre") && help.contains("admin"));
    let o = medaid(d, &["policy", "--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("diff"));
    let o = medaid(d, &["keys", "create", "--role", "admin"]);
    assert!(
        stderr(&o).contains("created an admin key"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn completions_and_the_manual_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = medaid(d, &["completions", "bash"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("reconcile"));
    let o = medaid(d, &["man"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH medaid"));
    let o = medaid(d, &["man", "--dir", "man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("man/medaid-serve.1").exists());
}

#[test]
fn settings_come_from_flag_then_environment_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("medaid.toml"),
        "database_url = \"sqlite://from-file.db\"\n",
    )
    .unwrap();
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(["--config", "medaid.toml", "keys", "list"])
            .current_dir(d)
            .env_remove("MEDAID_DATABASE_URL")
            .env_remove("MEDAID_CONFIG");
        if let Some(f) = flag {
            c.args(["--database-url", f]);
        }
        if let Some(e) = env {
            c.env("MEDAID_DATABASE_URL", e);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    run(None, None);
    assert!(d.join("from-file.db").exists());
    run(Some("sqlite://from-env.db"), None);
    assert!(d.join("from-env.db").exists());
    run(Some("sqlite://from-env.db"), Some("sqlite://from-flag.db"));
    assert!(d.join("from-flag.db").exists());
    assert!(!d.join("medaid.db").exists());
    std::fs::write(d.join("bad.toml"), "databse_url = \"x\"\n").unwrap();
    let o = medaid(d, &["--config", "bad.toml", "keys", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown key `databse_url`"),
        "{}",
        stderr(&o)
    );
}

/// The backup of docs/operations.md, restored: the copy holds the same
/// settlements and passes the audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_to_the_same_settlements() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (base, key, _server) = start_demo(&d);
    let claim = medaid::cli::demo::file("fixtures/demo/claim.json").unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/settlements"))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(claim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // online: the service keeps running while the copy is taken
    let index = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.text().await.unwrap().contains("/v1/settlements"));
    let listen = base.trim_start_matches("http://");
    let o = medaid(&d, &["healthcheck", "--listen", listen]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = medaid(&d, &["backup", "backup.db"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = medaid(&d, &["backup", "backup.db"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing file is never overwritten"
    );
    // restore: the copy put in place of a lost database
    std::fs::create_dir(d.join("restored")).unwrap();
    std::fs::copy(d.join("backup.db"), d.join("restored/medaid.db")).unwrap();
    let o = medaid(&d.join("restored"), &["audit"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("audited 1 settlements, 0 reversals") && out.contains("all invariants hold"),
        "{out}"
    );
}

/// `serve --demo` in `dir` on a free port: (base URL, key, server guard).
fn start_demo(dir: &Path) -> (String, String, Server) {
    start_demo_with(dir, &[])
}

fn start_demo_with(dir: &Path, args: &[&str]) -> (String, String, Server) {
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env_remove("MEDAID_DATABASE_URL")
        .env_remove("MEDAID_POLICIES")
        .env("MEDAID_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let key_line = lines.next().unwrap().unwrap();
    let key = key_line.split_whitespace().last().unwrap().to_string();
    std::thread::spawn(move || lines.for_each(drop));
    (base, key, server)
}

#[test]
fn the_demo_works_from_an_empty_folder_and_reuses_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, key, server) = start_demo(d);
    drop(server);
    for (rel, text) in medaid::cli::demo::FILES {
        assert_eq!(
            std::fs::read_to_string(d.join(rel)).unwrap(),
            *text,
            "{rel}"
        );
    }
    let (_, again, server) = start_demo(d);
    drop(server);
    assert_eq!(key, again, "a second --demo reuses the valid key");
    let o = medaid(d, &["keys", "list"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = medaid(d, &["keys", "revoke", &key]);
    assert!(o.status.success());
    let (_, third, server) = start_demo(d);
    drop(server);
    assert_ne!(third, key, "a revoked key is replaced");
    let o = medaid(
        d,
        &["healthcheck", "--listen", "127.0.0.1:1", "--timeout", "1"],
    );
    assert_eq!(o.status.code(), Some(1), "nobody listens there");
}

#[test]
fn check_totals_exits_1_on_a_difference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, _, server) = start_demo(d); // writes the fixtures, creates the db
    drop(server);
    std::fs::write(d.join("t.csv"), "fund_code,amount\n390100,1.00\n").unwrap();
    let o = medaid(
        d,
        &[
            "reconcile",
            "check-totals",
            "--month",
            "2017-05",
            "--hospital",
            "H0002",
            "t.csv",
            "-f",
            "csv",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("390100"));
    let o = medaid(
        d,
        &["reconcile", "status", "--month", "2017-05", "-f", "csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2017-05,open"));
}

/// The PostgreSQL backup of docs/operations.md (pg_dump, pg_restore into a
/// new database), audited. Needs `TEST_DATABASE_URL` and pg_dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_restores_to_the_same_settlements() {
    use sqlx::Connection;
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("skipped a_postgres_dump_restores_to_the_same_settlements: TEST_DATABASE_URL is not set");
        return;
    };
    if Command::new("pg_dump").arg("--version").output().is_err() {
        panic!("TEST_DATABASE_URL is set but pg_dump is not installed (postgresql-client)");
    }
    let base = admin[..admin.rfind('/').unwrap()].to_string();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (src, dst) = (format!("medaid_bk_{id}"), format!("medaid_rs_{id}"));
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    for db in [&src, &dst] {
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let (src_url, dst_url) = (format!("{base}/{src}"), format!("{base}/{dst}"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (url, key, server) = start_demo_with(&d, &["--database-url", &src_url]);
    let claim = medaid::cli::demo::file("fixtures/demo/claim.json").unwrap();
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/settlements"))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(claim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dump = d.join("medaid.dump");
    let o = Command::new("pg_dump")
        .args(["--format=custom", "--dbname", &src_url, "--file"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    drop(server);
    let o = Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &dst_url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = medaid(&d, &["audit", "--database-url", &dst_url]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    for db in [&src, &dst] {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("audited 1 settlements, 0 reversals") && out.contains("all invariants hold"),
        "{out}"
    );
}
