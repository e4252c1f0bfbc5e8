//! The command line (`medaid …`). Each subcommand is a thin shell over the
//! library: parse arguments, call the engine or the service, print.

pub mod config;
pub mod demo;
pub mod reconcile;
pub mod serve;
pub mod settle;
pub mod setup;
pub mod simulate;
pub mod users;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "medaid",
    version,
    about = "One-stop settlement (一站式结算) for medical aid"
)]
pub struct Cli {
    /// Settings from a TOML file (database_url, listen, policies,
    /// max_connections, log, log_format). A flag wins over a MEDAID_*
    /// variable, which wins over the file, which wins over the default.
    #[arg(long, global = true, env = "MEDAID_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse the command line, reading `--config` (or `MEDAID_CONFIG`)
    /// first: its settings fill the `MEDAID_*` variables that are not set,
    /// so that flag > environment > file > default.
    pub fn parse_with_config() -> Result<Cli, anyhow::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if let Some(file) = config::config_path(&args) {
            config::apply(&file)?;
        }
        Ok(Cli::parse_from(args))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Settle claims offline: one JSON claim, JSON lines, or one XML claim,
    /// from a file or stdin; one answer per line on stdout. Nothing is stored.
    Settle {
        /// Policy file or directory of *.toml (repeatable); each claim uses
        /// the policy in force on its discharge date.
        #[arg(long, short, required = true)]
        policy: Vec<PathBuf>,
        /// Claims file (JSON, JSON lines or XML); stdin when absent or `-`.
        claims: Option<PathBuf>,
        /// Print an error object for a bad claim and go on, instead of
        /// stopping with a non-zero exit.
        #[arg(long)]
        keep_going: bool,
    },
    /// Policies: check files (`check`), compare two (`diff`).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Replay claims under a baseline and scenario policies: what each
    /// payer pays, the gap against budgets, who gains and who loses.
    Simulate(simulate::SimulateArgs),
    /// A synthetic population: registry, claims and hospitals, seeded.
    Generate(simulate::GenerateArgs),
    /// Check every invariant of the stored settlements (conservation,
    /// reversals, accumulators); exit 1 if any is broken.
    Audit {
        #[command(flatten)]
        db: DatabaseArg,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recompute every stored settlement from its stored claim and the
    /// stored policy it names; compare answers, layer rows and
    /// accumulators; exit 1 listing each difference.
    Verify {
        #[command(flatten)]
        db: DatabaseArg,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The HTTP settlement service (docs/operations.md).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "MEDAID_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Policy directory (every *.toml) or file; repeatable.
        #[arg(long, env = "MEDAID_POLICIES", default_value = demo::DEFAULT_POLICIES)]
        policies: Vec<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
        /// Demonstration: write the example files under ./fixtures where
        /// missing, seed the example hospitals and registry, and print a
        /// hospital key (kept in medaid-demo.key and reused while valid).
        #[arg(long)]
        demo: bool,
        /// Database connection pool size (default 8 on SQLite, 16 on
        /// PostgreSQL).
        #[arg(long, env = "MEDAID_MAX_CONNECTIONS")]
        max_connections: Option<u32>,
        /// Log filter: a level (error, warn, info, debug, trace) or
        /// tracing directives (`info,medaid=debug`); default RUST_LOG, else info.
        #[arg(long, env = "MEDAID_LOG")]
        log: Option<String>,
        /// Log lines as text or JSON (to stderr).
        #[arg(long, env = "MEDAID_LOG_FORMAT", value_enum, default_value_t = serve::LogFormat::Text)]
        log_format: serve::LogFormat,
    },
    /// A consistent copy of the SQLite database while the service runs
    /// (`VACUUM INTO`). PostgreSQL: use pg_dump (docs/operations.md).
    Backup {
        /// The copy to write (must not exist).
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Exit 0 when a service answers 200 on /healthz (for a container's or
    /// a supervisor's health check; no curl needed).
    Healthcheck {
        /// The service's address (the --listen of serve; 0.0.0.0 is asked
        /// on 127.0.0.1).
        #[arg(long, env = "MEDAID_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per subcommand into
    /// `--dir`.
    Man {
        /// Write medaid.1 and medaid-SUBCOMMAND.1 files into this folder.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The hospital directory.
    #[command(subcommand)]
    Hospitals(HospitalsCommand),
    /// The eligibility registry (救助对象名册).
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Staff accounts of the web console (/console): create, list,
    /// disable, reset-password.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// The medical-aid centre's month: statements, checks against the
    /// hospitals' books, clearing, ledgers, month close.
    #[command(subcommand)]
    Reconcile(reconcile::ReconcileCommand),
}

/// `--database-url`, shared by the service commands.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArg {
    /// sqlite://FILE (embedded, the default) or postgres://USER@HOST/DB.
    /// (The variable's value is never shown in help: it may hold a password.)
    #[arg(long, env = "MEDAID_DATABASE_URL", hide_env_values = true, default_value = crate::storage::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Subcommand, Debug)]
pub enum HospitalsCommand {
    /// Import `code,name,level,region` (CSV with a header): adds new codes;
    /// changing a known hospital is refused, listing the changes, unless
    /// `--update` is given.
    Import {
        file: PathBuf,
        /// Apply changes to hospitals the directory already holds.
        #[arg(long)]
        update: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Import `person_id,name,category,valid_from,valid_to` (CSV with a
    /// header; one row per category period; empty valid_to = open; empty
    /// category = insured with no aid category). Warns about categories
    /// that no policy of `--policies` declares (settlements ignore them).
    Import {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
        /// Policy directory or file whose categories the rows are checked
        /// against.
        #[arg(long, env = "MEDAID_POLICIES", default_value = demo::DEFAULT_POLICIES)]
        policies: Vec<PathBuf>,
    },
    /// 信息比对: compare two rosters (same CSV as import): who is in both,
    /// only in one, or in both with conflicting categories or periods.
    Match {
        a: PathBuf,
        b: PathBuf,
        /// Compare the periods in force on this date only.
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        #[command(flatten)]
        out: reconcile::OutputArgs,
    },
    /// 应退应补: list the settlements whose person's categories changed in
    /// the registry since they were settled, each re-settled under the new
    /// identity (preview); `--confirm` reverses and re-settles them.
    Resettle {
        /// Only these persons (repeatable).
        #[arg(long)]
        person: Vec<String>,
        /// Only the persons of this registry CSV (the file just imported).
        #[arg(long)]
        persons_from: Option<PathBuf>,
        /// Write: reverse and re-settle, one transaction per person.
        #[arg(long)]
        confirm: bool,
        #[command(flatten)]
        svc: reconcile::ServiceArgs,
        #[command(flatten)]
        out: reconcile::OutputArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key and print it alone on the last line (only its hash
    /// is stored).
    Create {
        /// What the key may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The hospital code of a hospital key.
        #[arg(long)]
        hospital: Option<String>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Revoke a key (by its id, the 16 hex digits after `mdk_`, or the whole
    /// key). Servers stop accepting it within 30 seconds (their key cache).
    Revoke {
        key: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List the keys: id, role, hospital, created, revoked (never the key).
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
}

/// The role of a new key: a hospital's, the centre's or an administrator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// One hospital (needs --hospital): settles, previews, cancels, reads its own.
    Hospital,
    /// The medical-aid centre: registry, reconciliation, reads all.
    #[value(alias = "center")]
    Centre,
    /// Administrators: policies, keys, simulation.
    Admin,
}

/// Run an async command on a fresh runtime.
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(f)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate a policy file; print every error with its TOML path and line.
    Check {
        /// The policy files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Every parameter that differs between two policies, in words.
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// Print the changes as JSON (path, before, after, text).
        #[arg(long)]
        json: bool,
    },
}

/// Write to stdout; a reader that stopped early (`| head`) is no error.
fn print_bytes(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// `GET /healthz` over a plain TCP connection; Ok when it answers 200.
fn healthcheck(listen: &str, timeout: std::time::Duration) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let addr = listen
        .to_socket_addrs()
        .with_context(|| format!("{listen} (--listen or MEDAID_LISTEN)"))?
        .next()
        .with_context(|| format!("{listen}: no address"))?;
    let addr = if addr.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)
        .with_context(|| format!("reading the answer of {addr}"))?;
    let status = String::from_utf8_lossy(&head);
    if status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        anyhow::bail!("{addr}/healthz answered {}", status.trim())
    }
}

/// Run the command line; the exit code says how it went.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Simulate(args) => simulate::simulate(args),
        Command::Generate(args) => simulate::generate(args),
        Command::Policy(PolicyCommand::Diff { a, b, json }) => simulate::policy_diff(&a, &b, json),
        Command::Serve {
            listen,
            policies,
            db,
            demo,
            max_connections,
            log,
            log_format,
        } => block_on(serve::run(serve::ServeArgs {
            listen,
            policies,
            database_url: db.database_url,
            demo,
            max_connections,
            log,
            log_format,
        })),
        Command::Backup { file, db } => block_on(setup::backup(&db.database_url, &file)),
        Command::Healthcheck { listen, timeout } => {
            match healthcheck(&listen, std::time::Duration::from_secs(timeout)) {
                Ok(()) => {
                    println!("healthy");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("unhealthy: {e:#}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "medaid", &mut buf);
            print_bytes(&buf)
        }
        Command::Man { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("{} (--dir)", dir.display()))?;
                    clap_mangen::generate_to(cmd, &dir)
                        .with_context(|| format!("{} (--dir)", dir.display()))?;
                    println!("manual pages written to {}", dir.display());
                }
                None => {
                    let mut buf = Vec::new();
                    clap_mangen::Man::new(cmd).render(&mut buf)?;
                    return print_bytes(&buf);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Hospitals(HospitalsCommand::Import { file, update, db }) => {
            block_on(setup::hospitals_import(&db.database_url, &file, update))
        }
        Command::Registry(RegistryCommand::Import { file, db, policies }) => {
            block_on(setup::registry_import(&db.database_url, &file, &policies))
        }
        Command::Registry(RegistryCommand::Match { a, b, on, out }) => {
            reconcile::registry_match(&a, &b, on, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Registry(RegistryCommand::Resettle {
            person,
            persons_from,
            confirm,
            svc,
            out,
        }) => block_on(reconcile::registry_resettle(
            person,
            persons_from,
            confirm,
            &svc,
            &out,
        )),
        Command::Reconcile(cmd) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(reconcile::run(cmd))
        }
        Command::Audit { db, json } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let report = rt.block_on(async {
                let db = setup::open(&db.database_url).await?;
                anyhow::Ok(db.audit().await?)
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for f in &report.findings {
                    println!("{}: {}: {}", f.check, f.subject, f.detail);
                }
                println!(
                    "audited {} settlements, {} reversals, {} accumulators: {}",
                    report.settlements,
                    report.reversals,
                    report.accumulators,
                    if report.findings.is_empty() {
                        "all invariants hold".to_string()
                    } else {
                        format!("{} finding(s)", report.findings.len())
                    }
                );
            }
            Ok(if report.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Verify { db, json } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let report = rt.block_on(async {
                let db = setup::open(&db.database_url).await?;
                anyhow::Ok(crate::service::verify::verify(&db).await?)
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for d in &report.differences {
                    println!("{}: {}: {}", d.subject, d.check, d.detail);
                }
                println!(
                    "verified {} settlements, {} reversals, {} accumulators: {}",
                    report.settlements,
                    report.reversals,
                    report.accumulators,
                    if report.differences.is_empty() {
                        "every one as the engine computes it".to_string()
                    } else {
                        format!("{} difference(s)", report.differences.len())
                    }
                );
            }
            Ok(if report.differences.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Keys(KeysCommand::Revoke { key, db }) => {
            block_on(setup::keys_revoke(&db.database_url, &key))
        }
        Command::Users(cmd) => block_on(users::run(cmd)),
        Command::Keys(KeysCommand::List { db }) => block_on(setup::keys_list(&db.database_url)),
        Command::Keys(KeysCommand::Create { role, hospital, db }) => block_on(setup::keys_create(
            &db.database_url,
            role,
            hospital.as_deref(),
        )),
        Command::Settle {
            policy,
            claims,
            keep_going,
        } => {
            demo::require_paths(&policy, "--policy", None)?;
            let policies = settle::load_policies(&policy)?;
            let stdout = std::io::stdout().lock();
            let result = match claims.as_deref() {
                Some(p) if p.as_os_str() != "-" => {
                    let f = std::fs::File::open(p).map_err(|e| {
                        anyhow::anyhow!("{} (the CLAIMS argument): {e}", p.display())
                    })?;
                    settle::run(
                        &policies,
                        std::io::BufReader::with_capacity(1 << 16, f),
                        stdout,
                        keep_going,
                    )
                }
                _ => settle::run(&policies, std::io::stdin().lock(), stdout, keep_going),
            };
            match result {
                Ok(stats) => {
                    if stats.refused > 0 {
                        eprintln!("{} settled, {} refused", stats.settled, stats.refused);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(settle::SettleRunError::Claim { line, error }) => {
                    eprintln!("error: line {line}: {error}");
                    Ok(ExitCode::from(1))
                }
                Err(settle::SettleRunError::Io(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Policy(PolicyCommand::Check { files }) => {
            let mut failed = false;
            for f in &files {
                match crate::engine::Policy::load(f) {
                    Ok(p) => {
                        for w in &p.warnings {
                            eprintln!("{}: warning: {w}", f.display());
                        }
                        println!(
                            "{}: ok — policy {} ({} to {}), {} layers, hash {}",
                            f.display(),
                            p.id,
                            p.effective_from,
                            p.effective_to,
                            p.layers.len(),
                            p.hash
                        );
                    }
                    Err(e) => {
                        failed = true;
                        for err in &e.errors {
                            eprintln!("{}: {err}", f.display());
                        }
                        let n = e.errors.len();
                        eprintln!(
                            "{}: {n} error{}",
                            f.display(),
                            if n == 1 { "" } else { "s" }
                        );
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
