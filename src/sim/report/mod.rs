//! The simulation report: the machine form (JSON), CSV tables and a text
//! summary.
//!
//! # JSON (`medaid simulate --json FILE`)
//!
//! Money is a string with two decimals (yuan), ratios a string with four;
//! counts are integers. An interval is `["lo", "hi"]`, the 5th and 95th
//! percentiles of the bootstrap replicates (a 90 % interval), present only
//! when `settings.bootstrap > 0`. `vs_baseline` (scenarios only) is the
//! scenario minus the baseline; its intervals come from the same
//! replicates (paired), so they describe the difference itself.
//!
//! ```text
//! format            "medaid-simulation/1"
//! input             source (the claims file, or the service's stored
//!                   settlements of a date range), claims_read,
//!                   claims_simulated (after growth), duplicated, dropped,
//!                   persons, volume_growth, price_growth, growth_seed
//! settings          bootstrap, seed, interval ("90%"), catastrophic, top
//! budgets[]         key, kind (payer | layer | fund), target, amount
//! policies[]        one per policy, the baseline first:
//!   role            "baseline" | "scenario"
//!   id, name, file, hash
//!   settled         claims settled under this policy
//!   refused         claims this policy refused (undeclared ids, dates out of
//!                   its period); refusals[] lists the first: line, claim_id,
//!                   path, message
//!   summary         claims, persons, total, hospital_waived, fund_paid,
//!                   patient_payable, reimbursement_ratio (overall),
//!                   intervals{total, hospital_waived, fund_paid,
//!                   patient_payable}, vs_baseline{same fields}
//!   layers[]        id, name, payer, paid, claims (claims it paid anything),
//!                   persons (persons it paid anything), interval, vs_baseline
//!                   {paid, claims, persons, interval} (null for a layer the
//!                   baseline lacks)
//!   payers[]        payer, label, paid, claims, persons, interval, vs_baseline
//!   gaps[]          key, kind, target, budget, paid, gap (paid − budget),
//!                   paid_interval, gap_interval, vs_baseline{gap, interval}
//!   by_category[], by_month[], by_level[]
//!                   key, label, claims, persons, total, hospital_waived,
//!                   fund_paid, patient_payable, layers[]{id, paid, claims,
//!                   persons}, payers[]{id, paid, claims, persons},
//!                   vs_baseline{claims, fund_paid, patient_payable,
//!                   layers[]{id, paid}, payers[]{id, paid}}
//!                   (category key: the claim's categories joined by "+",
//!                   "none" for none; month "YYYY-MM"; level id)
//!   out_of_pocket   per person and year: person_years, total, mean, median,
//!                   p90, max, catastrophic_threshold, catastrophic (count
//!                   above it), catastrophic_share, histogram[]{from, to, count},
//!                   vs_baseline{mean, median, p90, catastrophic}
//!   reimbursement   overall, and per person and year: person_years, mean,
//!                   median, p10, p90, histogram[]{from, to, count},
//!                   vs_baseline{overall, mean, median}
//!   changes         scenarios only: persons, gainers{count, amount} (pay
//!                   less), losers{count, amount} (pay more), unchanged,
//!                   net_change (Σ scenario − baseline patient payable),
//!                   top_gainers[], top_losers[]{person_id, baseline,
//!                   scenario, change}
//! ```
mod build;
mod persons;
mod tables;
mod text;

pub(crate) use build::build;
pub use persons::oop_edges;
pub use tables::{write_csv, write_csv_ids};
pub use text::write_text;

use crate::money::{fmt2, from_fen, round4};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// Money on the wire: two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Yuan(pub Decimal);
impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt2(self.0))
    }
}
impl std::fmt::Display for Yuan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&fmt2(self.0))
    }
}
impl Yuan {
    fn fen(f: i64) -> Yuan {
        Yuan(from_fen(f))
    }
}

/// A ratio on the wire: four decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Ratio(pub Decimal);
impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut r = round4(self.0);
        r.rescale(4);
        write!(f, "{r}")
    }
}

/// A 90 % interval `[lo, hi]`.
pub type Interval = Option<[Yuan; 2]>;

#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    pub format: &'static str,
    pub input: InputInfo,
    pub settings: Settings,
    pub budgets: Vec<BudgetInfo>,
    pub policies: Vec<PolicyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputInfo {
    /// Where the claims came from (a file, or the service's stored
    /// settlements of a date range); absent when not said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub claims_read: usize,
    pub claims_simulated: usize,
    pub duplicated: usize,
    pub dropped: usize,
    pub persons: usize,
    pub volume_growth: String,
    pub price_growth: String,
    pub growth_seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub bootstrap: usize,
    pub seed: u64,
    pub interval: &'static str,
    pub catastrophic: Yuan,
    pub top: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BudgetInfo {
    pub key: String,
    pub kind: &'static str,
    pub target: String,
    pub amount: Yuan,
}

#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub line: usize,
    pub claim_id: Option<String>,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    pub role: &'static str,
    pub id: String,
    pub name: String,
    pub file: String,
    pub hash: String,
    pub settled: u64,
    pub refused: u64,
    pub refusals: Vec<Refusal>,
    pub summary: Summary,
    pub layers: Vec<LayerLine>,
    pub payers: Vec<PayerLine>,
    pub gaps: Vec<GapLine>,
    pub by_category: Vec<BreakdownRow>,
    pub by_month: Vec<BreakdownRow>,
    pub by_level: Vec<BreakdownRow>,
    pub out_of_pocket: OutOfPocket,
    pub reimbursement: Reimbursement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SummaryIntervals {
    pub total: Interval,
    pub hospital_waived: Interval,
    pub fund_paid: Interval,
    pub patient_payable: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub claims: i64,
    pub persons: i64,
    pub total: Yuan,
    pub hospital_waived: Yuan,
    pub fund_paid: Yuan,
    pub patient_payable: Yuan,
    pub reimbursement_ratio: Ratio,
    pub intervals: SummaryIntervals,
    pub vs_baseline: Option<SummaryDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryDiff {
    pub claims: i64,
    pub persons: i64,
    pub total: Yuan,
    pub hospital_waived: Yuan,
    pub fund_paid: Yuan,
    pub patient_payable: Yuan,
    pub reimbursement_ratio: Ratio,
    pub intervals: SummaryIntervals,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineDiff {
    pub paid: Yuan,
    pub claims: i64,
    pub persons: i64,
    pub interval: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerLine {
    pub id: String,
    pub name: String,
    pub payer: &'static str,
    pub paid: Yuan,
    pub claims: i64,
    pub persons: i64,
    pub interval: Interval,
    pub vs_baseline: Option<LineDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayerLine {
    pub payer: &'static str,
    pub label: &'static str,
    pub paid: Yuan,
    pub claims: i64,
    pub persons: i64,
    pub interval: Interval,
    pub vs_baseline: Option<LineDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GapDiff {
    pub gap: Yuan,
    pub interval: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct GapLine {
    pub key: String,
    pub kind: &'static str,
    pub target: String,
    pub budget: Yuan,
    pub paid: Yuan,
    pub gap: Yuan,
    pub paid_interval: Interval,
    pub gap_interval: Interval,
    pub vs_baseline: Option<GapDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CellAmount {
    pub id: String,
    pub paid: Yuan,
    pub claims: i64,
    pub persons: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CellDiff {
    pub id: String,
    pub paid: Yuan,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowDiff {
    pub claims: i64,
    pub fund_paid: Yuan,
    pub patient_payable: Yuan,
    pub layers: Vec<CellDiff>,
    pub payers: Vec<CellDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownRow {
    pub key: String,
    pub label: String,
    pub claims: i64,
    pub persons: i64,
    pub total: Yuan,
    pub hospital_waived: Yuan,
    pub fund_paid: Yuan,
    pub patient_payable: Yuan,
    pub layers: Vec<CellAmount>,
    pub payers: Vec<CellAmount>,
    pub vs_baseline: Option<RowDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bin<T> {
    pub from: T,
    pub to: Option<T>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OopDiff {
    pub mean: Yuan,
    pub median: Yuan,
    pub p90: Yuan,
    pub catastrophic: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutOfPocket {
    pub person_years: u64,
    pub total: Yuan,
    pub mean: Yuan,
    pub median: Yuan,
    pub p90: Yuan,
    pub max: Yuan,
    pub catastrophic_threshold: Yuan,
    pub catastrophic: u64,
    pub catastrophic_share: Ratio,
    pub histogram: Vec<Bin<Yuan>>,
    pub vs_baseline: Option<OopDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RatioDiff {
    pub overall: Ratio,
    pub mean: Ratio,
    pub median: Ratio,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reimbursement {
    pub overall: Ratio,
    pub person_years: u64,
    pub mean: Ratio,
    pub median: Ratio,
    pub p10: Ratio,
    pub p90: Ratio,
    pub histogram: Vec<Bin<Ratio>>,
    pub vs_baseline: Option<RatioDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub count: u64,
    pub amount: Yuan,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonChange {
    pub person_id: String,
    pub baseline: Yuan,
    pub scenario: Yuan,
    pub change: Yuan,
}

#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    pub persons: u64,
    pub gainers: Group,
    pub losers: Group,
    pub unchanged: u64,
    pub net_change: Yuan,
    pub top_gainers: Vec<PersonChange>,
    pub top_losers: Vec<PersonChange>,
}
