//! The command line (`medaid …`). Each subcommand is a thin shell over the
//! library: parse arguments, call the engine or the service, print.

pub mod settle;
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
