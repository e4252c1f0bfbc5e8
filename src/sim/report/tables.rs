//! The simulation's CSV tables, written through the shared report table
//! writer so that a simulation and a reconciliation export look alike.

use super::*;
use std::path::Path;

fn iv(i: &Interval) -> [String; 2] {
    match i {
        Some([a, b]) => [a.to_string(), b.to_string()],
        None => [String::new(), String::new()],
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The columns a layer line and a payer line share: paid with its interval,
/// claims, persons, and the same against the baseline.
const PAID_COLUMNS: [&str; 10] = [
    "paid",
    "paid_lo",
    "paid_hi",
    "claims",
    "persons",
    "paid_diff",
    "paid_diff_lo",
    "paid_diff_hi",
    "claims_diff",
    "persons_diff",
];

fn paid_columns(
    paid: Yuan,
    interval: &Interval,
    claims: i64,
    persons: i64,
    vs: Option<&LineDiff>,
) -> [String; 10] {
    let [lo, hi] = iv(interval);
    let [dl, dh] = iv(&vs.and_then(|d| d.interval));
    [
        paid.to_string(),
        lo,
        hi,
        claims.to_string(),
        persons.to_string(),
        opt(vs.map(|d| d.paid)),
        dl,
        dh,
        opt(vs.map(|d| d.claims)),
        opt(vs.map(|d| d.persons)),
    ]
}

/// Write the CSV tables into `dir` (created if missing); returns the files.
/// For people: Chinese headers and names, UTF-8 with a byte-order mark,
/// through the table writer the reconciliation reports use
/// ([`crate::recon::report`]); [`write_csv_ids`] keeps the keys and ids.
pub fn write_csv(r: &SimReport, dir: &Path) -> Result<Vec<std::path::PathBuf>, csv::Error> {
    write_csv_as(r, dir, false)
}

/// The CSV tables for scripts: column keys as headers, machine ids, no
/// byte-order mark (`medaid simulate --ids`).
pub fn write_csv_ids(r: &SimReport, dir: &Path) -> Result<Vec<std::path::PathBuf>, csv::Error> {
    write_csv_as(r, dir, true)
}

/// A simulation column's label.
fn sim_label(key: &str) -> String {
    fn base(k: &str) -> &str {
        match k {
            "role" => "角色",
            "policy_id" => "政策",
            "settled" => "结算笔数",
            "refused" => "拒绝笔数",
            "claims" => "笔数",
            "persons" => "人数",
            "total" => "总费用",
            "hospital_waived" => "医院减免",
            "fund_paid" => "基金支付",
            "patient_payable" => "个人自付",
            "reimbursement_ratio" => "实际报销比例",
            "layer_id" => "支付层",
            "name" => "名称",
            "payer" => "支付方",
            "paid" => "支付",
            "key" => "预算对象",
            "kind" => "类型",
            "target" => "预算对象名称",
            "budget" => "预算",
            "gap" => "缺口（+）或结余（−）",
            "id" => "编号",
            "label" => "名称",
            "layer" => "支付层",
            "measure" => "指标",
            "from" => "自",
            "to" => "至",
            "count" => "人·年",
            "person_years" => "人·年",
            "mean" => "均值",
            "median" => "中位数",
            "p10" => "P10",
            "p90" => "P90",
            "max" => "最高",
            "overall" => "总体",
            "catastrophic" => "灾难性支出人·年",
            "catastrophic_share" => "灾难性支出占比",
            "catastrophic_threshold" => "灾难性支出标准",
            "out_of_pocket" => "个人自付",
            "by_category" => "按类别",
            "by_level" => "按级别",
            "by_month" => "按月",
            "person_id" => "身份证号",
            "baseline" => "基准",
            "scenario" => "方案",
            "change" => "变化",
            _ => k,
        }
    }
    if let Some(k) = key.strip_suffix("_diff_lo") {
        return format!("较基准{}（90% 下限）", base(k));
    }
    if let Some(k) = key.strip_suffix("_diff_hi") {
        return format!("较基准{}（90% 上限）", base(k));
    }
    if let Some(k) = key.strip_suffix("_diff") {
        return format!("较基准{}", base(k));
    }
    if let Some(k) = key.strip_suffix("_lo") {
        return format!("{}（90% 下限）", base(k));
    }
    if let Some(k) = key.strip_suffix("_hi") {
        return format!("{}（90% 上限）", base(k));
    }
    base(key).to_string()
}

/// One CSV table of the simulation, written through the shared table
/// writer when flushed: the same calls as a `csv::Writer`.
struct TableFile {
    path: std::path::PathBuf,
    table: crate::recon::report::Table,
    ids: bool,
}

impl TableFile {
    fn write_record<I, T>(&mut self, record: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        use crate::recon::report::{ColType, Value};
        let cells: Vec<Value> = record
            .into_iter()
            .zip(&self.table.columns)
            .map(|(v, c)| {
                let v = v.as_ref();
                if self.ids || c.ty == ColType::Text {
                    let shown = match (self.ids, c.key.as_str(), v) {
                        (false, "role", "baseline") => "基准",
                        (false, "role", "scenario") => "方案",
                        (false, "key", p) => crate::recon::report::payer_label_or(p),
                        _ => v,
                    };
                    return Value::Text(shown.to_string());
                }
                if v.is_empty() {
                    return Value::Empty;
                }
                if let Ok(i) = v.parse::<i64>() {
                    return Value::Int(i);
                }
                match (v.parse::<Decimal>(), v.split_once('.')) {
                    (Ok(d), Some((_, f))) if f.len() == 2 => Value::Money(d),
                    (Ok(d), Some(_)) => Value::Ratio(d),
                    _ => Value::Text(v.to_string()),
                }
            })
            .collect();
        let mut cells = cells;
        cells.resize(self.table.columns.len(), crate::recon::report::Value::Empty);
        self.table.rows.push(cells);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), csv::Error> {
        use crate::recon::report::{Format, RenderOptions, Report};
        let mut r = Report::new("simulation", "医疗救助资金测算");
        r.tables.push(std::mem::replace(
            &mut self.table,
            crate::recon::report::Table::new("", ""),
        ));
        let bytes = r
            .render_with(
                Format::Csv,
                &RenderOptions {
                    ids: self.ids,
                    ..RenderOptions::default()
                },
            )
            .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
        std::fs::write(&self.path, bytes)?;
        Ok(())
    }
}
/// The CSV files of one export: where they go, whether they carry ids,
/// and the files written so far (in the order they were opened).
struct TableSet<'a> {
    dir: &'a Path,
    ids: bool,
    files: Vec<std::path::PathBuf>,
}

/// Columns that hold text (names, ids, keys); every other column holds an
/// amount or a count.
const TEXT_KEYS: [&str; 13] = [
    "role",
    "policy_id",
    "layer_id",
    "name",
    "payer",
    "key",
    "kind",
    "target",
    "id",
    "label",
    "layer",
    "measure",
    "person_id",
];

impl TableSet<'_> {
    fn open(&mut self, name: &str, header: &[&str]) -> Result<TableFile, csv::Error> {
        use crate::recon::report::{ColType, Table};
        let path = self.dir.join(name);
        let mut table = Table::new(name.trim_end_matches(".csv"), name);
        for k in header {
            let ty = if TEXT_KEYS.contains(k) {
                ColType::Text
            } else {
                ColType::Money
            };
            table.add_col(k, &sim_label(k), ty);
        }
        self.files.push(path.clone());
        Ok(TableFile {
            path,
            table,
            ids: self.ids,
        })
    }
}

fn write_csv_as(
    r: &SimReport,
    dir: &Path,
    ids: bool,
) -> Result<Vec<std::path::PathBuf>, csv::Error> {
    std::fs::create_dir_all(dir)?;
    let mut set = TableSet {
        dir,
        ids,
        files: Vec::new(),
    };
    write_summary(&mut set, r)?;
    write_layers(&mut set, r)?;
    write_payers(&mut set, r)?;
    write_gaps(&mut set, r)?;
    for (name, pick) in [
        (
            "by_category",
            (|p: &PolicyReport| &p.by_category) as fn(&PolicyReport) -> &Vec<BreakdownRow>,
        ),
        ("by_month", |p: &PolicyReport| &p.by_month),
        ("by_level", |p: &PolicyReport| &p.by_level),
    ] {
        write_breakdown(&mut set, r, name, pick)?;
    }
    write_distributions(&mut set, r)?;
    write_changes(&mut set, r)?;
    write_refusals(&mut set, r)?;
    Ok(set.files)
}

/// `summary.csv`: one line per policy with its totals and intervals.
fn write_summary(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let mut w = set.open(
        "summary.csv",
        &[
            "role",
            "policy_id",
            "settled",
            "refused",
            "claims",
            "persons",
            "total",
            "total_lo",
            "total_hi",
            "hospital_waived",
            "fund_paid",
            "fund_paid_lo",
            "fund_paid_hi",
            "patient_payable",
            "patient_payable_lo",
            "patient_payable_hi",
            "reimbursement_ratio",
            "fund_paid_diff",
            "fund_paid_diff_lo",
            "fund_paid_diff_hi",
            "patient_payable_diff",
            "patient_payable_diff_lo",
            "patient_payable_diff_hi",
        ],
    )?;
    for p in &r.policies {
        let s = &p.summary;
        let d = s.vs_baseline.as_ref();
        let [tl, th] = iv(&s.intervals.total);
        let [fl, fh] = iv(&s.intervals.fund_paid);
        let [pl, ph] = iv(&s.intervals.patient_payable);
        let [dfl, dfh] = iv(&d.map(|d| d.intervals.fund_paid).unwrap_or_default());
        let [dpl, dph] = iv(&d.map(|d| d.intervals.patient_payable).unwrap_or_default());
        w.write_record([
            p.role.to_string(),
            p.id.clone(),
            p.settled.to_string(),
            p.refused.to_string(),
            s.claims.to_string(),
            s.persons.to_string(),
            s.total.to_string(),
            tl,
            th,
            s.hospital_waived.to_string(),
            s.fund_paid.to_string(),
            fl,
            fh,
            s.patient_payable.to_string(),
            pl,
            ph,
            s.reimbursement_ratio.to_string(),
            opt(d.map(|d| d.fund_paid)),
            dfl,
            dfh,
            opt(d.map(|d| d.patient_payable)),
            dpl,
            dph,
        ])?;
    }
    w.flush()
}

/// A table of paid lines (layers or payers): the `lead` columns, then
/// [`PAID_COLUMNS`].
fn write_paid_lines(
    set: &mut TableSet,
    name: &str,
    lead: &[&'static str],
    rows: Vec<(Vec<String>, [String; 10])>,
) -> Result<(), csv::Error> {
    let header: Vec<&str> = lead.iter().copied().chain(PAID_COLUMNS).collect();
    let mut w = set.open(name, &header)?;
    for (lead, tail) in rows {
        w.write_record(lead.iter().chain(tail.iter()))?;
    }
    w.flush()
}

/// `layers.csv`: what every layer of every policy paid.
fn write_layers(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let rows = r
        .policies
        .iter()
        .flat_map(|p| {
            p.layers.iter().map(move |l| {
                let lead = vec![
                    p.role.to_string(),
                    p.id.clone(),
                    l.id.clone(),
                    l.name.clone(),
                    l.payer.to_string(),
                ];
                let tail = paid_columns(
                    l.paid,
                    &l.interval,
                    l.claims,
                    l.persons,
                    l.vs_baseline.as_ref(),
                );
                (lead, tail)
            })
        })
        .collect();
    write_paid_lines(
        set,
        "layers.csv",
        &["role", "policy_id", "layer_id", "name", "payer"],
        rows,
    )
}

/// `payers.csv`: what every payer paid under every policy.
fn write_payers(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let rows = r
        .policies
        .iter()
        .flat_map(|p| {
            p.payers.iter().map(move |l| {
                let lead = vec![
                    p.role.to_string(),
                    p.id.clone(),
                    l.payer.to_string(),
                    l.label.to_string(),
                ];
                let tail = paid_columns(
                    l.paid,
                    &l.interval,
                    l.claims,
                    l.persons,
                    l.vs_baseline.as_ref(),
                );
                (lead, tail)
            })
        })
        .collect();
    write_paid_lines(
        set,
        "payers.csv",
        &["role", "policy_id", "payer", "label"],
        rows,
    )
}

/// `gaps.csv`: spending against every budget.
fn write_gaps(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let mut w = set.open(
        "gaps.csv",
        &[
            "role",
            "policy_id",
            "key",
            "kind",
            "target",
            "budget",
            "paid",
            "paid_lo",
            "paid_hi",
            "gap",
            "gap_lo",
            "gap_hi",
            "gap_diff",
            "gap_diff_lo",
            "gap_diff_hi",
        ],
    )?;
    for p in &r.policies {
        for g in &p.gaps {
            let [pl, ph] = iv(&g.paid_interval);
            let [gl, gh] = iv(&g.gap_interval);
            let d = g.vs_baseline.as_ref();
            let [dl, dh] = iv(&d.and_then(|d| d.interval));
            w.write_record([
                p.role.to_string(),
                p.id.clone(),
                g.key.clone(),
                g.kind.to_string(),
                g.target.clone(),
                g.budget.to_string(),
                g.paid.to_string(),
                pl,
                ph,
                g.gap.to_string(),
                gl,
                gh,
                opt(d.map(|d| d.gap)),
                dl,
                dh,
            ])?;
        }
    }
    w.flush()
}

/// `{name}.csv` and `{name}_payers.csv`: one breakdown (by category,
/// month or level) with what every layer and payer paid in each row.
fn write_breakdown(
    set: &mut TableSet,
    r: &SimReport,
    name: &str,
    pick: fn(&PolicyReport) -> &Vec<BreakdownRow>,
) -> Result<(), csv::Error> {
    let mut w = set.open(
        &format!("{name}.csv"),
        &[
            "role",
            "policy_id",
            "key",
            "label",
            "claims",
            "persons",
            "total",
            "hospital_waived",
            "fund_paid",
            "patient_payable",
            "claims_diff",
            "fund_paid_diff",
            "patient_payable_diff",
        ],
    )?;
    let mut wl = set.open(
        &format!("{name}_payers.csv"),
        &[
            "role",
            "policy_id",
            "key",
            "label",
            "kind",
            "id",
            "paid",
            "claims",
            "persons",
            "paid_diff",
        ],
    )?;
    for p in &r.policies {
        for row in pick(p) {
            let d = row.vs_baseline.as_ref();
            w.write_record([
                p.role.to_string(),
                p.id.clone(),
                row.key.clone(),
                row.label.clone(),
                row.claims.to_string(),
                row.persons.to_string(),
                row.total.to_string(),
                row.hospital_waived.to_string(),
                row.fund_paid.to_string(),
                row.patient_payable.to_string(),
                opt(d.map(|d| d.claims)),
                opt(d.map(|d| d.fund_paid)),
                opt(d.map(|d| d.patient_payable)),
            ])?;
            write_breakdown_cells(&mut wl, p, row)?;
        }
    }
    w.flush()?;
    wl.flush()
}

/// The layer and payer lines of one breakdown row.
fn write_breakdown_cells(
    wl: &mut TableFile,
    p: &PolicyReport,
    row: &BreakdownRow,
) -> Result<(), csv::Error> {
    let d = row.vs_baseline.as_ref();
    for (kind, cells, diffs) in [
        ("layer", &row.layers, d.map(|d| &d.layers)),
        ("payer", &row.payers, d.map(|d| &d.payers)),
    ] {
        for c in cells {
            let diff = diffs
                .and_then(|ds| ds.iter().find(|x| x.id == c.id))
                .map(|x| x.paid);
            wl.write_record([
                p.role.to_string(),
                p.id.clone(),
                row.key.clone(),
                row.label.clone(),
                kind.to_string(),
                c.id.clone(),
                c.paid.to_string(),
                c.claims.to_string(),
                c.persons.to_string(),
                opt(diff),
            ])?;
        }
    }
    Ok(())
}

/// `distributions.csv` and `histograms.csv`: out-of-pocket spending and
/// reimbursement ratios per person and year.
fn write_distributions(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let mut w = set.open(
        "distributions.csv",
        &[
            "role",
            "policy_id",
            "measure",
            "person_years",
            "mean",
            "median",
            "p10",
            "p90",
            "max",
            "overall",
            "catastrophic_threshold",
            "catastrophic",
            "catastrophic_share",
        ],
    )?;
    let mut wh = set.open(
        "histograms.csv",
        &["role", "policy_id", "measure", "from", "to", "count"],
    )?;
    for p in &r.policies {
        let o = &p.out_of_pocket;
        w.write_record([
            p.role,
            &p.id,
            "out_of_pocket",
            &o.person_years.to_string(),
            &o.mean.to_string(),
            &o.median.to_string(),
            "",
            &o.p90.to_string(),
            &o.max.to_string(),
            "",
            &o.catastrophic_threshold.to_string(),
            &o.catastrophic.to_string(),
            &o.catastrophic_share.to_string(),
        ])?;
        let m = &p.reimbursement;
        w.write_record([
            p.role,
            &p.id,
            "reimbursement_ratio",
            &m.person_years.to_string(),
            &m.mean.to_string(),
            &m.median.to_string(),
            &m.p10.to_string(),
            &m.p90.to_string(),
            "",
            &m.overall.to_string(),
            "",
            "",
            "",
        ])?;
        write_histograms(&mut wh, p)?;
    }
    w.flush()?;
    wh.flush()
}

/// The histogram lines of one policy's two distributions.
fn write_histograms(wh: &mut TableFile, p: &PolicyReport) -> Result<(), csv::Error> {
    let (o, m) = (&p.out_of_pocket, &p.reimbursement);
    for b in &o.histogram {
        wh.write_record([
            p.role,
            &p.id,
            "out_of_pocket",
            &b.from.to_string(),
            &opt(b.to),
            &b.count.to_string(),
        ])?;
    }
    for b in &m.histogram {
        wh.write_record([
            p.role,
            &p.id,
            "reimbursement_ratio",
            &b.from.to_string(),
            &opt(b.to),
            &b.count.to_string(),
        ])?;
    }
    Ok(())
}

/// `changes.csv` and `top_changes.csv`: who pays less and who pays more.
fn write_changes(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let mut w = set.open(
        "changes.csv",
        &[
            "role",
            "policy_id",
            "persons",
            "gainers",
            "gainers_amount",
            "losers",
            "losers_amount",
            "unchanged",
            "net_change",
        ],
    )?;
    let mut wt = set.open(
        "top_changes.csv",
        &[
            "role",
            "policy_id",
            "direction",
            "rank",
            "person_id",
            "baseline",
            "scenario",
            "change",
        ],
    )?;
    for p in &r.policies {
        if let Some(c) = &p.changes {
            w.write_record([
                p.role,
                &p.id,
                &c.persons.to_string(),
                &c.gainers.count.to_string(),
                &c.gainers.amount.to_string(),
                &c.losers.count.to_string(),
                &c.losers.amount.to_string(),
                &c.unchanged.to_string(),
                &c.net_change.to_string(),
            ])?;
            for (dir, list) in [("gain", &c.top_gainers), ("loss", &c.top_losers)] {
                for (i, x) in list.iter().enumerate() {
                    wt.write_record([
                        p.role,
                        &p.id,
                        dir,
                        &(i + 1).to_string(),
                        &x.person_id,
                        &x.baseline.to_string(),
                        &x.scenario.to_string(),
                        &x.change.to_string(),
                    ])?;
                }
            }
        }
    }
    w.flush()?;
    wt.flush()
}

/// `refusals.csv`: the claims a policy refused.
fn write_refusals(set: &mut TableSet, r: &SimReport) -> Result<(), csv::Error> {
    let mut w = set.open(
        "refusals.csv",
        &[
            "role",
            "policy_id",
            "refused",
            "line",
            "claim_id",
            "path",
            "message",
        ],
    )?;
    for p in &r.policies {
        for f in &p.refusals {
            w.write_record([
                p.role,
                &p.id,
                &p.refused.to_string(),
                &f.line.to_string(),
                f.claim_id.as_deref().unwrap_or(""),
                &f.path,
                &f.message,
            ])?;
        }
    }
    w.flush()
}
