//! `medaid simulate`, `medaid generate` and `medaid policy diff`: the
//! administrator's commands. Thin shells over [`crate::sim`] and
//! [`crate::engine::policy::diff`].

use crate::engine::Policy;
use crate::sim::generate::{self, GenOptions, Generator};
use crate::sim::{self, load, Budget, Growth, PolicyInput, Progress, SimOptions};
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rust_decimal::Decimal;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

/// A decimal option (`--volume-growth 0.05`).
fn decimal(s: &str) -> Result<Decimal, String> {
    Decimal::from_str(s.trim()).map_err(|_| format!("not a decimal number: {s:?}"))
}

/// `medaid simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// The policy in force (基准政策).
    #[arg(long, value_name = "POLICY.toml")]
    pub baseline: PathBuf,
    /// A policy to compare with the baseline (repeatable).
    #[arg(long = "scenario", value_name = "POLICY.toml")]
    pub scenarios: Vec<PathBuf>,
    /// Claims: JSON lines as `medaid settle` reads them (`-`: stdin).
    #[arg(
        value_name = "CLAIMS.jsonl",
        required_unless_present = "database_url",
        conflicts_with = "database_url"
    )]
    pub claims: Option<PathBuf>,
    /// Replay the claims stored by the service instead (`sqlite://FILE` or
    /// `postgres://…`): its active settlements (not cancelled, not
    /// replaced) discharged between `--from` and `--to`, each with the
    /// registry categories and hospital level it was settled under. With
    /// it, `--baseline` and `--scenario` may also name a policy the service
    /// has loaded, by id.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// First discharge date (inclusive) of the stored claims.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<chrono::NaiveDate>,
    /// Last discharge date (inclusive) of the stored claims.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<chrono::NaiveDate>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Change in the number of claims, e.g. 0.05 for 5 % more (seeded
    /// duplication; negative drops claims).
    #[arg(long, default_value = "0", value_parser = decimal, allow_hyphen_values = true)]
    pub volume_growth: Decimal,
    /// Change in prices, e.g. 0.03: item amounts × 1.03, rounded to the fen.
    #[arg(long, default_value = "0", value_parser = decimal, allow_hyphen_values = true)]
    pub price_growth: Decimal,
    /// Budget of a payer, a layer or all funds, e.g. `aid=8000000`,
    /// `layer:critical=5000000`, `fund=90000000` (repeatable).
    #[arg(long = "budget", value_name = "KEY=YUAN")]
    pub budgets: Vec<String>,
    /// Out-of-pocket spending per person and year counted as catastrophic.
    #[arg(long, default_value = "20000", value_parser = decimal, value_name = "YUAN")]
    pub catastrophic: Decimal,
    /// Bootstrap replicates over persons for the 90 % intervals (0: none).
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Seed of the bootstrap and of volume growth.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Gainers and losers listed by person.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Write the JSON report here (`-`: stdout, the default when no other
    /// output is asked for).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write CSV tables into this directory (for people: Chinese headers,
    /// UTF-8 with a byte-order mark).
    #[arg(long, value_name = "DIR")]
    pub csv_dir: Option<PathBuf>,
    /// CSV tables with the column keys and machine ids, for scripts.
    #[arg(long)]
    pub ids: bool,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Skip claims that cannot be read (counted) instead of stopping.
    #[arg(long)]
    pub keep_going: bool,
    /// No summary and no progress bar on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `medaid generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Persons in the registry.
    #[arg(long, default_value_t = 4_900)]
    pub persons: usize,
    /// Year of the claims.
    #[arg(long, default_value_t = 2017)]
    pub year: i32,
    /// The policy whose levels, categories, medical types and disease
    /// groups the population uses.
    #[arg(long, value_name = "POLICY.toml")]
    pub policy: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Registry CSV (`person_id,name,category,valid_from,valid_to`).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Claims, JSON lines (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,
    /// Hospital directory CSV (`code,name,level,region`).
    #[arg(long, value_name = "FILE")]
    pub hospitals: Option<PathBuf>,
    /// Mean inpatient admissions per person and year.
    #[arg(long, default_value_t = 0.75)]
    pub admission_rate: f64,
    /// Share of persons with chronic outpatient visits.
    #[arg(long, default_value_t = 0.035)]
    pub chronic_share: f64,
    /// Primary category shares, e.g. `dibao=0.66,tekun_dispersed=0.27,tekun_centralized=0.07`.
    #[arg(long)]
    pub shares: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// An indicatif bar on stderr, only when stderr is a terminal.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        Bar(Some(pb))
    }
}

impl Progress for Bar {
    fn start(&self, stage: &str, len: u64) {
        if let Some(pb) = &self.0 {
            let template = if stage.starts_with("reading") {
                "{msg:>16} [{bar:40}] {bytes}/{total_bytes} ({eta})"
            } else {
                "{msg:>16} [{bar:40}] {pos}/{len} ({eta})"
            };
            pb.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            pb.reset();
            pb.set_length(len);
            pb.set_message(stage.to_string());
        }
    }
    fn inc(&self, n: u64) {
        if let Some(pb) = &self.0 {
            pb.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

fn load_policy(path: &Path) -> anyhow::Result<Policy> {
    Policy::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn create(path: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let f = std::fs::File::create(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, f))
}

/// Run `medaid simulate`.
pub fn simulate(a: SimulateArgs) -> anyhow::Result<ExitCode> {
    let budgets = a
        .budgets
        .iter()
        .map(|b| Budget::from_str(b))
        .collect::<Result<Vec<_>, _>>()?;
    if a.volume_growth < -Decimal::ONE {
        bail!("--volume-growth {}: must be at least -1", a.volume_growth);
    }
    if a.price_growth <= -Decimal::ONE {
        bail!("--price-growth {}: must be more than -1", a.price_growth);
    }
    if a.database_url.is_none() && (a.from.is_some() || a.to.is_some()) {
        bail!("--from and --to select stored claims: give --database-url too");
    }
    if let (Some(f), Some(t)) = (a.from, a.to) {
        if f > t {
            bail!("--to {t} is before --from {f}");
        }
    }
    if a.database_url.is_none() {
        super::demo::require_paths(std::slice::from_ref(&a.baseline), "--baseline", None)?;
        super::demo::require_paths(&a.scenarios, "--scenario", None)?;
    }
    let mut files = vec![a.baseline.clone()];
    files.extend(a.scenarios.iter().cloned());
    // With a database: open it once (the runtime reads the claims later).
    let rt_db = match &a.database_url {
        Some(url) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let db = rt.block_on(crate::cli::setup::open(url))?;
            Some((rt, db))
        }
        None => None,
    };
    let policies = files
        .iter()
        .map(|f| match &rt_db {
            Some((rt, db)) if !f.exists() => {
                // Not a file: a policy the service loaded, by id.
                let id = f.display().to_string();
                match rt.block_on(db.policy_source(&id))? {
                    Some(text) => Policy::from_toml(&text, &format!("{id} (stored)"))
                        .map_err(|e| anyhow::anyhow!("{e}")),
                    None => {
                        bail!("{id}: no such file, and the database has no policy with this id")
                    }
                }
            }
            _ => load_policy(f),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let inputs: Vec<PolicyInput> = policies
        .iter()
        .zip(&names)
        .map(|(policy, file)| PolicyInput { policy, file })
        .collect();

    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = a.threads {
            if n == 0 {
                bail!("--threads must be at least 1");
            }
            b = b.num_threads(n);
        }
        b.build()?
    };
    let bar = Bar::new(a.quiet);
    let opts = SimOptions {
        budgets,
        catastrophic: a.catastrophic,
        bootstrap: a.bootstrap,
        seed: a.seed,
        top: a.top,
        ..SimOptions::default()
    };
    let growth = Growth {
        volume: a.volume_growth,
        price: a.price_growth,
        seed: a.seed,
    };
    let claims_name = match (&a.claims, &rt_db) {
        (Some(c), _) => c.display().to_string(),
        (None, Some((_, db))) => format!(
            "stored settlements discharged {} to {} ({})",
            a.from.map_or("any date".to_string(), |d| d.to_string()),
            a.to.map_or("any date".to_string(), |d| d.to_string()),
            db.backend().as_str()
        ),
        (None, None) => bail!("give a claims file or --database-url"),
    };
    let (report, skipped) = pool.install(|| -> anyhow::Result<_> {
        let t = std::time::Instant::now();
        let timing = std::env::var_os("MEDAID_TIMING").is_some();
        let (set, skipped) = match (&a.claims, &rt_db) {
            (Some(claims), _) => {
                let mut loaded = load::read_file(claims, a.keep_going, &bar)?;
                if timing {
                    eprintln!("timing: read {:?}", t.elapsed());
                }
                let skipped = std::mem::take(&mut loaded.skipped);
                (loaded.finish(growth), skipped)
            }
            (None, Some((rt, db))) => {
                let range = crate::storage::DischargeRange {
                    from: a.from.map(|d| d.to_string()),
                    to: a.to.map(|d| d.to_string()),
                };
                let set = rt.block_on(crate::service::simulation::load_claim_set(
                    db, &range, growth,
                ))?;
                (set, Vec::new())
            }
            (None, None) => bail!("give a claims file or --database-url"),
        };
        if timing {
            eprintln!("timing: grouped {:?}", t.elapsed());
        }
        let mut report = sim::simulate(&set, &inputs, &opts, &bar);
        report.input.source = Some(claims_name.clone());
        if timing {
            eprintln!("timing: simulated {:?}", t.elapsed());
        }
        // Freeing a million claims takes a while and the process is about
        // to end; the operating system reclaims the memory at once.
        std::mem::forget(set);
        Ok((report, skipped))
    })?;

    if !a.quiet {
        let mut err = std::io::stderr().lock();
        for (line, e) in skipped.iter().take(10) {
            writeln!(err, "warning: {claims_name}: line {line}: {e} (skipped)")?;
        }
        if skipped.len() > 10 {
            writeln!(err, "warning: {} claims skipped in all", skipped.len())?;
        }
        for p in &report.policies {
            if let (true, Some(first)) = (p.refused > 0, p.refusals.first()) {
                writeln!(
                    err,
                    "warning: policy {} ({}) refused {} of {} claims; first: line {}: {}",
                    p.id,
                    p.file,
                    p.refused,
                    p.refused + p.settled,
                    first.line,
                    first.message
                )?;
            }
        }
    }
    if let Some(dir) = &a.csv_dir {
        if a.ids {
            crate::sim::report::write_csv_ids(&report, dir)
        } else {
            crate::sim::report::write_csv(&report, dir)
        }
        .with_context(|| format!("{}: cannot write CSV tables", dir.display()))?;
    }
    if let Some(path) = &a.html {
        let mut w = create(path)?;
        w.write_all(crate::sim::html::render(&report).as_bytes())?;
        w.flush()?;
    }
    let json_to_stdout = match &a.json {
        Some(p) if p.as_os_str() != "-" => {
            let mut w = create(p)?;
            serde_json::to_writer_pretty(&mut w, &report)?;
            w.write_all(b"\n")?;
            w.flush()?;
            false
        }
        Some(_) => true,
        None => a.csv_dir.is_none() && a.html.is_none(),
    };
    if json_to_stdout {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    if !a.quiet {
        let mut text = Vec::new();
        crate::sim::report::write_text(&report, &mut text)?;
        if json_to_stdout {
            std::io::stderr().write_all(&text)?;
        } else {
            std::io::stdout().write_all(&text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `medaid generate`.
pub fn generate(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    if a.registry.is_none() && a.claims.is_none() && a.hospitals.is_none() {
        bail!("nothing to write: give --registry, --claims and/or --hospitals");
    }
    if !(0.0..=50.0).contains(&a.admission_rate) {
        bail!("--admission-rate {}: must lie in [0, 50]", a.admission_rate);
    }
    if !(0.0..=1.0).contains(&a.chronic_share) {
        bail!("--chronic-share {}: must lie in [0, 1]", a.chronic_share);
    }
    super::demo::require_paths(std::slice::from_ref(&a.policy), "--policy", None)?;
    let policy = load_policy(&a.policy)?;
    let opts = GenOptions {
        persons: a.persons,
        year: a.year,
        seed: a.seed,
        admission_rate: a.admission_rate,
        chronic_share: a.chronic_share,
        shares: a
            .shares
            .as_deref()
            .map(generate::parse_shares)
            .transpose()?,
    };
    let g = Generator::new(&policy, &opts)?;
    if let Some(h) = &a.hospitals {
        let w = create(h)?;
        generate::write_hospitals(g.hospitals(), w)?;
    }
    let bar = Bar::new(a.quiet);
    bar.start("generating", a.persons as u64);
    let mut reg = a.registry.as_deref().map(create).transpose()?;
    let to_stdout = a.claims.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let mut claims_file = match &a.claims {
        Some(p) if !to_stdout => Some(create(p)?),
        _ => None,
    };
    let mut stdout = std::io::stdout().lock();
    let claims_w: Option<&mut dyn Write> = if to_stdout {
        Some(&mut stdout)
    } else {
        claims_file.as_mut().map(|w| w as &mut dyn Write)
    };
    let counts = g.write(reg.as_mut().map(|w| w as &mut dyn Write), claims_w, &|n| {
        bar.inc(n as u64)
    })?;
    bar.finish();
    if !a.quiet {
        eprintln!(
            "generated {} persons ({} registry rows), {} claims, {} hospitals; policy {}, year {}, seed {}",
            counts.persons,
            counts.registry_rows,
            counts.claims,
            g.hospitals().len(),
            policy.id,
            a.year,
            a.seed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `medaid policy diff`.
pub fn policy_diff(a: &Path, b: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (pa, pb) = (load_policy(a)?, load_policy(b)?);
    let changes = crate::engine::policy::diff::diff(&pa, &pb);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &changes)?;
        writeln!(out)?;
    } else if changes.is_empty() {
        writeln!(
            out,
            "{} 与 {}：无差异 (no differences)",
            a.display(),
            b.display()
        )?;
    } else {
        writeln!(
            out,
            "{} → {}：{} 处差异",
            a.display(),
            b.display(),
            changes.len()
        )?;
        for c in &changes {
            writeln!(out, "{}", c.text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
