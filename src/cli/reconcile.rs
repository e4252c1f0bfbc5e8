//! `medaid reconcile …` (the medical-aid centre's month) and `medaid
//! registry match|resettle`: thin shells over [`crate::service::recon`] and
//! [`crate::recon`]. Every report goes to stdout or `--output FILE`, as
//! JSON, CSV, XML or XLSX (`--format`, or the output file's extension).

use crate::recon::ledger::LedgerKind;
use crate::recon::report::{Format, RenderOptions, Report};
use crate::recon::Month;
use crate::service::recon::MonthError;
use crate::service::Service;
use crate::storage::{ConnectOptions, Db};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where and how a report is written.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// json, csv, xml or xlsx (default: from --output's extension, else json).
    #[arg(long, short)]
    pub format: Option<Format>,
    /// Write to this file instead of stdout. A CSV report of several tables
    /// becomes one file per table: FILE-<table>.csv.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Only this table of the report (a plain CSV).
    #[arg(long)]
    pub table: Option<String>,
    /// CSV and XLSX with machine ids and column keys, for scripts (no
    /// names, no byte-order mark, no 合计 rows).
    #[arg(long)]
    pub ids: bool,
}

impl OutputArgs {
    /// Write `report` with the names of `s`'s policies and directory.
    pub async fn write_from(&self, s: &Service, report: &Report) -> anyhow::Result<()> {
        let hospital = report.param_value("hospital");
        let opts = s
            .render_options(hospital.as_deref().filter(|h| *h != "all"), self.ids)
            .await?;
        self.write_with(report, &opts)
    }

    /// Write `report` without a database (ids where no names are known).
    pub fn write(&self, report: &Report) -> anyhow::Result<()> {
        self.write_with(
            report,
            &RenderOptions {
                ids: self.ids,
                ..RenderOptions::default()
            },
        )
    }

    fn write_with(&self, report: &Report, opts: &RenderOptions) -> anyhow::Result<()> {
        let format = self
            .format
            .or_else(|| self.output.as_deref().and_then(Format::from_path))
            .unwrap_or(Format::Json);
        let report = match &self.table {
            Some(t) => report.only_table(t)?,
            None => report.clone(),
        };
        if let (Format::Csv, Some(p), true) = (format, &self.output, report.tables.len() > 1) {
            // One table per file: FILE-<table>.csv.
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            for (name, bytes) in report.csv_files(opts)? {
                let f = p.with_file_name(format!("{stem}-{name}.csv"));
                std::fs::write(&f, bytes).with_context(|| f.display().to_string())?;
                eprintln!("wrote {}", f.display());
            }
            return Ok(());
        }
        let bytes = report.render_with(format, opts)?;
        match &self.output {
            Some(p) => std::fs::write(p, bytes).with_context(|| p.display().to_string())?,
            None => {
                if format == Format::Xlsx {
                    bail!("XLSX is binary: give --output FILE.xlsx");
                }
                let mut out = std::io::stdout().lock();
                match out.write_all(&bytes).and_then(|()| out.flush()) {
                    // a reader that stopped early (`| head`) is no error
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The month and scope of a report.
#[derive(Args, Debug, Clone)]
pub struct MonthArgs {
    /// The accounting month, YYYY-MM.
    #[arg(long, short)]
    pub month: Month,
    /// One hospital (default: all).
    #[arg(long)]
    pub hospital: Option<String>,
}

/// Database and policies.
#[derive(Args, Debug, Clone)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub db: super::DatabaseArg,
    /// Policy directory or file (labels, disease groups, re-settlement).
    #[arg(long, env = "MEDAID_POLICIES", default_value = super::demo::DEFAULT_POLICIES)]
    pub policies: Vec<PathBuf>,
}

impl ServiceArgs {
    async fn service(&self) -> anyhow::Result<Service> {
        super::demo::require_paths(&self.policies, "--policies", Some("MEDAID_POLICIES"))?;
        let db = Db::connect(&ConnectOptions::new(&self.db.database_url))
            .await
            .with_context(|| {
                format!(
                    "opening {} (--database-url or MEDAID_DATABASE_URL)",
                    super::setup::redact(&self.db.database_url)
                )
            })?;
        let policies = Service::load_policies(&db, &self.policies).await?;
        Ok(Service::new(db, policies))
    }
}

#[derive(Subcommand, Debug)]
pub enum ReconcileCommand {
    /// The month's statement (月结报表): counts and sums by medical type,
    /// category, layer and fund; reversals apart and netted.
    Statement {
        #[command(flatten)]
        month: MonthArgs,
        /// Recompute from the settlement rows and fail if the stored sums differ.
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// 对总账: compare the hospital's sums per fund (CSV `fund_code,amount`,
    /// or one row with a column per fund; JSON or XML too).
    CheckTotals {
        #[command(flatten)]
        month: MonthArgs,
        file: PathBuf,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// 对明细账: compare the hospital's list of settlements (CSV or XML:
    /// claim_id, total, each fund, patient_payable).
    CheckDetails {
        #[command(flatten)]
        month: MonthArgs,
        file: PathBuf,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The month's detail list, in the shape check-details reads.
    Details {
        #[command(flatten)]
        month: MonthArgs,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// 清算: what each payer owes each hospital, by fund code.
    Clearing {
        #[command(flatten)]
        month: MonthArgs,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The monthly aid-disbursement report by beneficiary category.
    Disbursement {
        #[command(flatten)]
        month: MonthArgs,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// 台账: waivers (七免一减), major-disease (大病) or floor (兜底).
    Ledger {
        /// waivers, major-disease or floor.
        kind: LedgerKind,
        #[command(flatten)]
        month: MonthArgs,
        /// Last month of the period (default: --month).
        #[arg(long)]
        to: Option<Month>,
        /// Major-disease ledger: only this disease group (default: any).
        #[arg(long)]
        group: Option<String>,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Close (月结) a month: its figures are stored and never change.
    Close {
        #[arg(long, short)]
        month: Month,
        /// Who closes (recorded).
        #[arg(long, default_value = "cli")]
        by: String,
        #[command(flatten)]
        svc: ServiceArgs,
    },
    /// Reopen a closed month (an administrator's act, with a reason).
    Reopen {
        #[arg(long, short)]
        month: Month,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli-admin")]
        by: String,
        #[command(flatten)]
        svc: ServiceArgs,
    },
    /// A month's close state and history.
    Status {
        #[arg(long, short)]
        month: Month,
        #[command(flatten)]
        svc: ServiceArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// Exit 1 when a check found a difference (after writing its report).
fn check_exit(report: &Report) -> ExitCode {
    let differs = report
        .params
        .iter()
        .any(|(k, v)| k == "result" && v != "match");
    if differs {
        eprintln!("the hospital's figures differ from the centre's (exit 1)");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A month's close state as a report: `status` and `history` tables.
fn status_report(st: &crate::service::recon::MonthStatus) -> Report {
    use crate::recon::report::{ColType, Table};
    let mut r = Report::new("month_status", format!("{} 月结状态", st.month))
        .param("month", st.month.clone());
    let mut t = Table::new("status", "月结状态")
        .col("month", "月份", ColType::Text)
        .col("status", "状态", ColType::Text)
        .col("closed_at", "结账时间", ColType::Text)
        .col("closed_by", "结账人", ColType::Text);
    t.push(vec![
        st.month.clone().into(),
        st.status.clone().into(),
        st.closed_at.clone().unwrap_or_default().into(),
        st.closed_by.clone().unwrap_or_default().into(),
    ]);
    r.tables.push(t);
    let mut h = Table::new("history", "历史")
        .col("action", "操作", ColType::Text)
        .col("by", "操作人", ColType::Text)
        .col("reason", "原因", ColType::Text)
        .col("at", "时间", ColType::Text);
    for (action, by, reason, at) in &st.events {
        h.push(vec![
            action.clone().into(),
            by.clone().into(),
            reason.clone().unwrap_or_default().into(),
            at.clone().into(),
        ]);
    }
    r.tables.push(h);
    r
}

/// Run a reconciliation command; exit 1 when a check found a difference.
pub async fn run(cmd: ReconcileCommand) -> anyhow::Result<ExitCode> {
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cmd {
        ReconcileCommand::Statement {
            month,
            verify,
            svc,
            out,
        } => {
            let s = svc.service().await?;
            if verify {
                let stored =
                    s.db.month_cells(month.month, month.hospital.as_deref())
                        .await?;
                let rows =
                    s.db.month_cells_from_rows(month.month, month.hospital.as_deref())
                        .await?;
                if stored != rows {
                    bail!("the stored month sums differ from the settlement rows");
                }
                eprintln!("verified: the month sums equal the settlement rows");
            }
            ok(out
                .write_from(
                    &s,
                    &s.statement(month.month, month.hospital.as_deref()).await?,
                )
                .await)
        }
        ReconcileCommand::CheckTotals {
            month,
            file,
            svc,
            out,
        } => {
            let body = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let s = svc.service().await?;
            let report = s
                .check_totals(month.month, month.hospital.as_deref(), &body)
                .await?;
            out.write_from(&s, &report).await?;
            Ok(check_exit(&report))
        }
        ReconcileCommand::CheckDetails {
            month,
            file,
            svc,
            out,
        } => {
            let body = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let s = svc.service().await?;
            let report = s
                .check_details(month.month, month.hospital.as_deref(), &body)
                .await?;
            out.write_from(&s, &report).await?;
            Ok(check_exit(&report))
        }
        ReconcileCommand::Details { month, svc, out } => {
            let s = svc.service().await?;
            ok(out
                .write_from(
                    &s,
                    &s.details(month.month, month.hospital.as_deref()).await?,
                )
                .await)
        }
        ReconcileCommand::Clearing { month, svc, out } => {
            let s = svc.service().await?;
            ok(out
                .write_from(
                    &s,
                    &s.clearing(month.month, month.hospital.as_deref()).await?,
                )
                .await)
        }
        ReconcileCommand::Disbursement { month, svc, out } => {
            let s = svc.service().await?;
            ok(out
                .write_from(
                    &s,
                    &s.disbursement(month.month, month.hospital.as_deref())
                        .await?,
                )
                .await)
        }
        ReconcileCommand::Ledger {
            kind,
            month,
            to,
            group,
            svc,
            out,
        } => {
            let s = svc.service().await?;
            let to = to.unwrap_or(month.month);
            ok(out
                .write_from(
                    &s,
                    &s.ledger(
                        kind,
                        month.month,
                        to,
                        month.hospital.as_deref(),
                        group.as_deref(),
                    )
                    .await?,
                )
                .await)
        }
        ReconcileCommand::Close { month, by, svc } => {
            let s = svc.service().await?;
            match s.close_month(month, &by).await {
                Ok(st) => {
                    println!("{}", serde_json::to_string_pretty(&st)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(month_error(month, e)),
            }
        }
        ReconcileCommand::Reopen {
            month,
            reason,
            by,
            svc,
        } => {
            let s = svc.service().await?;
            match s.reopen_month(month, &by, &reason).await {
                Ok(st) => {
                    println!("{}", serde_json::to_string_pretty(&st)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(month_error(month, e)),
            }
        }
        ReconcileCommand::Status { month, svc, out } => {
            let s = svc.service().await?;
            let st = s.month_status(month).await?;
            if out.format.is_none() && out.output.is_none() && out.table.is_none() {
                // The same JSON as GET /v1/reconciliation/{month}.
                println!("{}", serde_json::to_string_pretty(&st)?);
                return Ok(ExitCode::SUCCESS);
            }
            ok(out.write_from(&s, &status_report(&st)).await)
        }
    }
}

fn month_error(month: Month, e: MonthError) -> anyhow::Error {
    match e {
        MonthError::AlreadyClosed(at) => anyhow::anyhow!(
            "month {month} is already closed{}",
            at.map(|a| format!(" (since {a})")).unwrap_or_default()
        ),
        MonthError::NotClosed => anyhow::anyhow!("month {month} is not closed"),
        MonthError::Service(e) => anyhow::anyhow!("{e}"),
    }
}

/// `medaid registry match A.csv B.csv`.
pub fn registry_match(
    a: &PathBuf,
    b: &PathBuf,
    on: Option<chrono::NaiveDate>,
    out: &OutputArgs,
) -> anyhow::Result<()> {
    use crate::recon::roster::{match_report, read_roster};
    let read = |p: &PathBuf| -> anyhow::Result<_> {
        let bytes = std::fs::read(p).with_context(|| p.display().to_string())?;
        read_roster(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    };
    let (ra, rb) = (read(a)?, read(b)?);
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    out.write(&match_report(&ra, &rb, &name(a), &name(b), on))
}

/// `medaid registry resettle`: preview, or `--confirm`.
pub async fn registry_resettle(
    persons: Vec<String>,
    persons_from: Option<PathBuf>,
    confirm: bool,
    svc: &ServiceArgs,
    out: &OutputArgs,
) -> anyhow::Result<()> {
    let mut persons = persons;
    if let Some(f) = persons_from {
        let rows = super::setup::read_registry(&f).with_context(|| "--persons-from")?;
        for r in rows {
            if !persons.contains(&r.person_id) {
                persons.push(r.person_id);
            }
        }
        if persons.is_empty() {
            bail!("{}: no persons", f.display());
        }
    }
    let s = svc.service().await?;
    let report = if confirm {
        s.resettle_confirm(&persons).await?
    } else {
        s.resettle_preview(&persons).await?
    };
    if report
        .table("resettlements")
        .is_some_and(|t| t.rows.is_empty())
    {
        eprintln!(
            "note: no settlement to re-settle: the registry gives these persons the same \
             categories as when they were settled (a category no loaded policy declares \
             counts as none; `medaid registry import` warns about those)"
        );
    }
    out.write_from(&s, &report).await
}
