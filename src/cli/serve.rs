//! `medaid serve`: the HTTP service (docs/operations.md), and `--demo`, which
//! seeds the database with the demonstration fixtures and prints a hospital
//! key, so that one command gives a working service.

use super::demo;
use crate::http::{self, ApiContext};
use crate::service::Service;
use crate::storage::{ConnectOptions, Db};
use anyhow::Context;
use std::path::{Path, PathBuf};

pub use demo::DEMO_KEY_FILE;

#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub listen: String,
    pub policies: Vec<PathBuf>,
    pub database_url: String,
    pub demo: bool,
    pub max_connections: Option<u32>,
    pub log: Option<String>,
    pub log_format: LogFormat,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event; coloured on a terminal unless NO_COLOR is set.
    #[default]
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

/// Log to stderr. `filter` (`--log`, `MEDAID_LOG`), else `RUST_LOG`, else
/// `info`; colours only on a terminal and never with `NO_COLOR` set.
pub fn init_tracing(filter: Option<&str>, format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(colour).try_init()
        }
    };
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(args.log.as_deref(), args.log_format);
    if args.demo {
        let written = demo::write_missing(Path::new("."))?;
        if !written.is_empty() {
            eprintln!(
                "medaid: wrote {} missing example file{} under ./fixtures (built into the binary)",
                written.len(),
                if written.len() == 1 { "" } else { "s" }
            );
        }
    }
    demo::require_paths(&args.policies, "--policies", Some("MEDAID_POLICIES"))?;
    let db = Db::connect(&ConnectOptions {
        max_connections: args.max_connections,
        ..ConnectOptions::new(args.database_url.clone())
    })
    .await
    .with_context(|| {
        format!(
            "opening {} (--database-url or MEDAID_DATABASE_URL)",
            super::setup::redact(&args.database_url)
        )
    })?;
    let policies = Service::load_policies(&db, &args.policies).await?;
    for p in policies.iter() {
        tracing::info!(policy = %p.id, region = %p.region, from = %p.effective_from, to = %p.effective_to, hash = %p.hash, "policy loaded");
    }
    // The demo's data and key are in place before the port accepts
    // anything, so a client that sees the port open finds the key file.
    let demo_key = if args.demo {
        demo::seed(&db).await?;
        Some(demo::key(&db, Path::new(DEMO_KEY_FILE)).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {} (--listen or MEDAID_LISTEN)", args.listen))?;
    let addr = listener.local_addr()?;
    let service = Service::new(db.clone(), policies);
    // Policies uploaded at run time (console, POST /v1/policies), on this
    // instance or another sharing the database: loaded now, then looked
    // for every 30 seconds.
    service.reload_uploaded_policies().await?;
    {
        let service = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
            loop {
                tick.tick().await;
                if let Err(e) = service.reload_uploaded_policies().await {
                    tracing::warn!(error = %e, "looking for uploaded policies failed");
                }
            }
        });
    }
    let demo_staff = if args.demo {
        Some(demo::staff(&service).await?)
    } else {
        None
    };
    let limits = http::limits::Limits::from_env()?;
    let ctx = ApiContext::new(service).with_limits(limits);
    tracing::info!(%addr, database = db.backend().as_str(), "medaid serving");
    // stdout may be closed (a supervisor, a pipe): the service goes on.
    let say = |line: String| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    say(format!(
        "medaid listening on http://{addr} ({})",
        db.backend().as_str()
    ));
    if let Some((key, new)) = demo_key {
        let hospital = demo::DEMO_HOSPITAL;
        say(format!(
            "demo hospital key ({hospital}, {}): {key}",
            if new { "new" } else { "reused" }
        ));
        say(format!("(in {DEMO_KEY_FILE}) try:"));
        say(format!(
            "  curl --fail-with-body -sS -H \"Authorization: Bearer $(cat {DEMO_KEY_FILE})\" -H 'Content-Type: application/json' --data @fixtures/demo/claim.json http://{addr}/v1/settlements"
        ));
    }
    if let Some(staff) = demo_staff {
        say(format!(
            "console: http://{addr}/console  (staff logins, new passwords each start)"
        ));
        for (login, name, role, pw) in staff {
            say(format!("  {role} {name}: login {login}  password {pw}"));
        }
    }
    http::serve(listener, ctx, shutdown_signal()).await?;
    // Connections still busy past the grace period are not waited for.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), db.close()).await;
    tracing::info!("medaid stopped");
    Ok(())
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
