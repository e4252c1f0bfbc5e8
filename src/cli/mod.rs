//! The command line (`medaid …`). Each subcommand is a thin shell over the
//! library: parse arguments, call the engine or the service, print.

pub mod reconcile;
pub mod serve;
pub mod settle;
pub mod setup;
pub mod simulate;

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
    #[command(subcommand)]
    pub command: Command,
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
    /// Policies: check a file.
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
    /// The HTTP settlement service (DESIGN.md §7).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Policy directory (every *.toml) or file; repeatable.
        #[arg(long, default_value = "fixtures/policies")]
        policies: Vec<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
        /// Seed the database with the demonstration hospitals and registry
        /// and print a new hospital key.
        #[arg(long)]
        demo: bool,
        /// Database connection pool size (default 8 on SQLite, 16 on
        /// PostgreSQL).
        #[arg(long)]
        max_connections: Option<u32>,
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
    /// The medical-aid centre's month: statements, checks against the
    /// hospitals' books, clearing, ledgers, month close.
    #[command(subcommand)]
    Reconcile(reconcile::ReconcileCommand),
}

/// `--database-url`, shared by the service commands.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArg {
    /// sqlite://FILE (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, env = "MEDAID_DATABASE_URL", default_value = crate::storage::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Subcommand, Debug)]
pub enum HospitalsCommand {
    /// Import `code,name,level,region` (CSV with a header); updates by code.
    Import {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Import `person_id,name,category,valid_from,valid_to` (CSV with a
    /// header; one row per category period; empty valid_to = open; empty
    /// category = insured with no aid category).
    Import {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
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
        /// hospital, centre or admin.
        #[arg(long)]
        role: String,
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
        } => block_on(serve::run(serve::ServeArgs {
            listen,
            policies,
            database_url: db.database_url,
            demo,
            max_connections,
        })),
        Command::Hospitals(HospitalsCommand::Import { file, db }) => {
            block_on(setup::hospitals_import(&db.database_url, &file))
        }
        Command::Registry(RegistryCommand::Import { file, db }) => {
            block_on(setup::registry_import(&db.database_url, &file))
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
        Command::Reconcile(cmd) => block_on(reconcile::run(cmd)),
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
        Command::Keys(KeysCommand::List { db }) => block_on(setup::keys_list(&db.database_url)),
        Command::Keys(KeysCommand::Create { role, hospital, db }) => block_on(setup::keys_create(
            &db.database_url,
            &role,
            hospital.as_deref(),
        )),
        Command::Settle {
            policy,
            claims,
            keep_going,
        } => {
            let policies = settle::load_policies(&policy)?;
            let stdout = std::io::stdout().lock();
            let result = match claims.as_deref() {
                Some(p) if p.as_os_str() != "-" => {
                    let f = std::fs::File::open(p)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
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
                            println!("{}: warning: {w}", f.display());
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
                            println!("{}: {err}", f.display());
                        }
                        println!("{}: {} error(s)", f.display(), e.errors.len());
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
