//! `medaid serve`: the HTTP service (DESIGN.md §7), and `--demo`, which
//! seeds the database with the demonstration fixtures and prints a hospital
//! key, so that one command gives a working service.

use super::setup;
use crate::http::{self, ApiContext};
use crate::service::keys::Role;
use crate::service::Service;
use crate::storage::{ConnectOptions, Db};
use anyhow::Context;
use std::path::PathBuf;

/// The demonstration fixtures, built in so `--demo` works from any folder.
const DEMO_HOSPITALS: &str = include_str!("../../fixtures/demo/hospitals.csv");
const DEMO_REGISTRY: &str = include_str!("../../fixtures/demo/registry.csv");
/// The hospital of the demo key: a county hospital, as in the DESIGN.md
/// example claim.
const DEMO_HOSPITAL: &str = "H0002";
/// Where `--demo` also writes its key (in the current folder).
pub const DEMO_KEY_FILE: &str = "medaid-demo.key";
/// The policy `--demo` uses when the policy folder holds none.
const DEMO_POLICY: &str = include_str!("../../fixtures/design/policy.toml");

#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub listen: String,
    pub policies: Vec<PathBuf>,
    pub database_url: String,
    pub demo: bool,
    pub max_connections: Option<u32>,
}

/// Log to stderr; `MEDAID_LOG` (or `RUST_LOG`) filters.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MEDAID_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn has_policy_files(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| {
        if p.is_dir() {
            std::fs::read_dir(p)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.path().extension().is_some_and(|x| x == "toml"))
                })
                .unwrap_or(false)
        } else {
            p.is_file()
        }
    })
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let db = Db::connect(&ConnectOptions {
        max_connections: args.max_connections,
        ..ConnectOptions::new(args.database_url.clone())
    })
    .await
    .with_context(|| format!("opening {}", args.database_url))?;
    let policies = if args.demo && !has_policy_files(&args.policies) {
        tracing::warn!(
            "no policy files in {:?}; the demo uses the built-in DESIGN.md example policy",
            args.policies
        );
        let p = crate::engine::Policy::from_toml(DEMO_POLICY, "fixtures/design/policy.toml")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        db.record_policy(&crate::storage::PolicyRecord {
            hash: &p.hash,
            id: &p.id,
            region: &p.region,
            effective_from: &p.effective_from.to_string(),
            effective_to: &p.effective_to.to_string(),
            source: DEMO_POLICY,
        })
        .await?;
        vec![p]
    } else {
        Service::load_policies(&db, &args.policies).await?
    };
    for p in &policies {
        tracing::info!(policy = %p.id, region = %p.region, from = %p.effective_from, to = %p.effective_to, hash = %p.hash, "policy loaded");
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let demo_key = if args.demo {
        Some(seed_demo(&db).await?)
    } else {
        None
    };
    let limits = http::limits::Limits::from_env()?;
    let ctx = ApiContext::new(Service::new(db.clone(), policies)).with_limits(limits);
    tracing::info!(%addr, database = db.backend().as_str(), "medaid serving");
    println!(
        "medaid listening on http://{addr} ({})",
        db.backend().as_str()
    );
    if let Some(key) = demo_key {
        // Also in a file, so the README's curl works without copying.
        let saved = std::fs::write(DEMO_KEY_FILE, format!("{key}\n")).is_ok();
        println!("demo hospital key ({DEMO_HOSPITAL}): {key}");
        if saved {
            println!("(also in {DEMO_KEY_FILE}) try:");
            println!(
                "  curl -s -H \"Authorization: Bearer $(cat {DEMO_KEY_FILE})\" -H 'Content-Type: application/json' --data @fixtures/demo/claim.json http://{addr}/v1/settlements"
            );
        } else {
            println!("try:");
            println!(
                "  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' --data @fixtures/demo/claim.json http://{addr}/v1/settlements"
            );
        }
    }
    http::serve(listener, ctx, shutdown_signal()).await?;
    // Connections still busy past the grace period are not waited for.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), db.close()).await;
    tracing::info!("medaid stopped");
    Ok(())
}

/// Seed the demonstration hospitals and registry (idempotent) and create a
/// fresh key for hospital H0001; returns the key.
pub async fn seed_demo(db: &Db) -> anyhow::Result<String> {
    let hospitals = setup::parse_hospitals(
        DEMO_HOSPITALS.as_bytes(),
        std::path::Path::new("fixtures/demo/hospitals.csv"),
    )?;
    let registry = setup::parse_registry(
        DEMO_REGISTRY.as_bytes(),
        std::path::Path::new("fixtures/demo/registry.csv"),
    )?;
    db.upsert_hospitals(&hospitals).await?;
    db.upsert_registry(&registry).await?;
    setup::create_key(db, &Role::Hospital(DEMO_HOSPITAL.into())).await
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight (up to
/// `MEDAID_SHUTDOWN_GRACE`, then stalled clients are dropped).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
