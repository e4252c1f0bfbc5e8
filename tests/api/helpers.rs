//! Test harness: the real router on port 0 against a fresh database —
//! a SQLite file in a temporary folder, or a fresh PostgreSQL database
//! created under `TEST_DATABASE_URL` (and dropped afterwards).

use medaid::http::{self, ApiContext};
use medaid::service::keys::Role;
use medaid::service::Service;
use medaid::storage::{ConnectOptions, Db, Hospital, RegistryRow};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Persons of the test registry.
pub const P_DIBAO: &str = "411303199001011234";
pub const P_POOR: &str = "411303195003030011";
pub const P_TEKUN: &str = "411303194805050022";
pub const P_INSURED: &str = "411303198809090044";
/// Persons for the cap races (dibao).
pub fn cap_person(i: usize) -> String {
    format!("41130319700101{i:04}")
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The policy of the tests: the worked example's (so the example's
/// numbers can be checked to the fen).
pub fn policy_path() -> PathBuf {
    repo_path("fixtures/design/policy.toml")
}

/// A fresh database of `backend`: its URL and what removes it.
pub struct FreshDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Drop from a thread with its own runtime: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    use sqlx::Connection;
                    let mut c = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// Say a test was skipped, past the test harness's output capture (which
/// only takes `print!`/`eprint!`), so it shows in every run.
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {what} on PostgreSQL: TEST_DATABASE_URL is not set"
    );
}

/// The PostgreSQL server of the tests, or `None` (skipped) without
/// `TEST_DATABASE_URL`.
pub fn pg_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A fresh, empty database. Panics when `TEST_DATABASE_URL` is set but the
/// server cannot be reached: a PostgreSQL test must never pass silently.
pub async fn fresh_db(backend: Backend) -> Option<FreshDb> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("medaid.db").display());
            Some(FreshDb {
                url,
                _dir: Some(dir),
                pg_drop: None,
            })
        }
        Backend::Postgres => {
            let admin = pg_url()?;
            let name = format!("medaid_test_{}", uuid::Uuid::new_v4().simple());
            {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .expect("create test database");
            }
            let base = match admin.rfind('/') {
                Some(i)
                    if admin[..i].contains("://") && admin[..i].ends_with(|c: char| c != '/') =>
                {
                    &admin[..i]
                }
                _ => admin.trim_end_matches('/'),
            };
            let base = base.split('?').next().unwrap_or(base);
            Some(FreshDb {
                url: format!("{base}/{name}"),
                _dir: None,
                pg_drop: Some((admin, name)),
            })
        }
    }
}

/// The directory and registry every test starts with.
pub async fn seed(db: &Db) {
    let h = |code: &str, level: &str, region: &str| Hospital {
        code: code.into(),
        name: format!("{code} 医院"),
        level: level.into(),
        region: region.into(),
    };
    db.upsert_hospitals(&[
        h("H0001", "township", "411303"),
        h("H0002", "county", "411303"),
        h("H0003", "city", "411303"),
        h("H0009", "county", "410000"),
    ])
    .await
    .expect("hospitals");
    let r = |person: &str, category: &str, from: &str, to: Option<&str>| RegistryRow {
        person_id: person.into(),
        name: "测试<患者>".into(),
        category: category.into(),
        valid_from: from.into(),
        valid_to: to.map(str::to_string),
        region: None,
    };
    let mut rows = vec![
        r(P_DIBAO, "dibao", "2016-01-01", None),
        r(P_POOR, "dibao", "2016-01-01", None),
        r(P_POOR, "poverty", "2016-01-01", Some("2020-12-31")),
        r(P_TEKUN, "tekun_centralized", "2015-01-01", None),
        r(P_INSURED, "", "2010-01-01", None),
    ];
    for i in 0..8 {
        rows.push(r(&cap_person(i), "dibao", "2016-01-01", None));
    }
    db.upsert_registry(&rows).await.expect("registry");
}

/// Run `$test(app)` on SQLite and on PostgreSQL. (This file is shared
/// with `tests/recon.rs` and `tests/console`, which do not use it.)
#[allow(unused_macros)]
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use crate::helpers::{spawn_app, Backend};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
                super::$test(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                match spawn_app(Backend::Postgres).await {
                    Some(app) => super::$test(app).await,
                    None => crate::helpers::skipped(stringify!($test)),
                }
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_both;

/// A running service and keys for every role. When it is dropped at the
/// end of a test that did not panic, the database is audited
/// (`Db::audit`, as `medaid audit`: conservation, reversals, every
/// accumulator against its person's rows), and a finding fails the test.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// Keys of hospitals H0001, H0002, H0003.
    pub h1: String,
    pub h2: String,
    pub h3: String,
    pub centre: String,
    pub admin: String,
    /// Cleared by [`TestApp::skip_audit`] for a test that breaks the
    /// invariants on purpose.
    audit_on_drop: std::sync::atomic::AtomicBool,
    pub _fresh: FreshDb,
}

impl TestApp {
    /// Do not audit when dropped: the test tampered with the rows.
    pub fn skip_audit(&self) {
        self.audit_on_drop
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking()
            || !self
                .audit_on_drop
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        // A fresh connection on a runtime of its own (Drop cannot await).
        // A settlement a test left in flight may commit between the
        // audit's queries, so a finding is confirmed by a second audit.
        let url = self._fresh.url.clone();
        let findings = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let db = Db::connect(&ConnectOptions::new(&url))
                    .await
                    .expect("connect for the audit");
                let mut findings = db.audit().await.expect("audit").findings;
                if !findings.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    findings = db.audit().await.expect("audit").findings;
                }
                db.close().await;
                findings
            })
        })
        .join()
        .expect("the audit thread");
        assert!(
            findings.is_empty(),
            "the audit at the end of the test found {} broken invariant(s): {findings:#?}",
            findings.len()
        );
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_full(backend, &[policy_path()], http::limits::Limits::default()).await
}

/// A running service under the policies of `paths`, on the usual seed.
pub async fn spawn_app_with_policies(backend: Backend, paths: &[PathBuf]) -> Option<TestApp> {
    spawn_app_full(backend, paths, http::limits::Limits::default()).await
}

/// A running service with other limits (timeouts, rates, connections).
pub async fn spawn_app_with(backend: Backend, limits: http::limits::Limits) -> Option<TestApp> {
    spawn_app_full(backend, &[policy_path()], limits).await
}

/// A running service under `paths` and `limits`, on the usual seed.
pub async fn spawn_app_full(
    backend: Backend,
    paths: &[PathBuf],
    limits: http::limits::Limits,
) -> Option<TestApp> {
    let fresh = fresh_db(backend).await?;
    let db = Db::connect(&ConnectOptions::new(&fresh.url))
        .await
        .expect("connect");
    seed(&db).await;
    let policies = Service::load_policies(&db, paths).await.expect("policies");
    let key = |role: Role| {
        let db = db.clone();
        async move {
            medaid::cli::setup::create_key(&db, &role)
                .await
                .expect("key")
        }
    };
    let h1 = key(Role::Hospital("H0001".into())).await;
    let h2 = key(Role::Hospital("H0002".into())).await;
    let h3 = key(Role::Hospital("H0003".into())).await;
    let centre = key(Role::Centre).await;
    let admin = key(Role::Admin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let ctx = ApiContext::new(Service::new(db.clone(), policies)).with_limits(limits);
    tokio::spawn(http::serve(listener, ctx, std::future::pending()));
    Some(TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .expect("client"),
        db,
        h1,
        h2,
        h3,
        centre,
        admin,
        audit_on_drop: std::sync::atomic::AtomicBool::new(true),
        _fresh: fresh,
    })
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    /// The paths of a problem document's errors.
    pub fn error_paths(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["path"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = r.text().await.expect("body");
        Resp {
            status,
            content_type,
            headers,
            text,
        }
    }

    pub async fn post_raw(
        &self,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        self.send(req).await
    }

    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.post_raw(path, Some(key), "application/json", body.to_string())
            .await
    }

    pub async fn settle(&self, key: &str, claim: &Value) -> Resp {
        self.post_json("/v1/settlements", key, claim).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        self.send(req).await
    }

    pub async fn cancel(&self, key: &str, id: &str) -> Resp {
        self.post_raw(
            &format!("/v1/settlements/{id}/cancel"),
            Some(key),
            "application/json",
            "",
        )
        .await
    }

    /// Accumulators of a person and year, as (layer id → paid, deductible, eligible).
    pub async fn accumulators(&self, person: &str, year: i32) -> Value {
        let r = self
            .get(
                &format!("/v1/persons/{person}/accumulators?year={year}"),
                Some(&self.centre),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    /// Every settlement (all pages) as the centre sees them.
    pub async fn count_settlements(&self) -> i64 {
        let r = self
            .get("/v1/settlements?per_page=1", Some(&self.centre))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["total"].as_i64().expect("total")
    }

    /// Every stored invariant (`Db::audit`: each accumulator the sum of its
    /// rows, conservation, reversals), checked now in the middle of a test;
    /// the same audit runs when the app is dropped.
    pub async fn assert_ledger_balanced(&self) {
        let report = self.db.audit().await.expect("audit");
        assert!(
            report.findings.is_empty(),
            "the audit found {} broken invariant(s): {:#?}",
            report.findings.len(),
            report.findings
        );
    }
}

/// The worked example's claim (docs/claims-and-answers.md), for `hospital` (H0002 is the county one).
pub fn design_claim(claim_id: &str, hospital: &str) -> Value {
    json!({
        "claim_id": claim_id,
        "hospital": hospital,
        "person_id": P_DIBAO,
        "medical_type": "inpatient",
        "admitted_on": "2017-05-01",
        "discharged_on": "2017-05-10",
        "diagnoses": ["C34.9"],
        "items": [
            {"code": "110200001", "name": "挂号费", "kind": "registration", "class": "A", "amount": "5.00"},
            {"code": "86900123", "name": "头孢曲松", "kind": "drug", "class": "B", "amount": "320.00", "limit_amount": "300.00"}
        ]
    })
}

/// A large inpatient claim (major disease) for the cap races.
pub fn big_claim(claim_id: &str, hospital: &str, person: &str, day: u32, amount: &str) -> Value {
    json!({
        "claim_id": claim_id,
        "hospital": hospital,
        "person_id": person,
        "medical_type": "inpatient",
        "admitted_on": format!("2017-03-{:02}", day.clamp(1, 28)),
        "discharged_on": format!("2017-04-{:02}", day.clamp(1, 28)),
        "diagnoses": ["C34.9"],
        "items": [
            {"code": "1", "name": "治疗", "kind": "treatment", "class": "A", "amount": amount}
        ]
    })
}

/// Amount of a layer's field in an accumulators answer.
pub fn acc_field(acc: &Value, layer: &str, field: &str) -> String {
    acc["layers"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["id"] == layer))
        .map(|l| l[field].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no layer {layer} in {acc}"))
}

/// Fen of a two-decimal string.
pub fn fen(s: &str) -> i64 {
    let (y, f) = s.split_once('.').unwrap_or((s, "0"));
    let neg = y.starts_with('-');
    let y: i64 = y.trim_start_matches('-').parse().expect("yuan");
    let f: i64 = format!("{f:0<2}")[..2].parse().expect("fen");
    let v = y * 100 + f;
    if neg {
        -v
    } else {
        v
    }
}
