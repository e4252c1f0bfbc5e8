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

use super::run::{
    quantile_fen, Layout, PolicyInput, Raw, SimOptions, DIM_ALL, DIM_CATEGORY, DIM_LEVEL,
    DIM_MONTH, PAYERS,
};
use super::{BudgetTarget, ClaimSet};
use crate::engine::policy::Payer;
use crate::engine::Policy;
use crate::money::{fmt2, from_fen, round2, round4};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

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

// ---------------------------------------------------------------------------
// Building

/// Replicate values of one metric column (`None`: a column of zeros).
struct Boot<'a> {
    raw: &'a Raw,
}

impl Boot<'_> {
    fn interval(&self, col: Option<usize>) -> Interval {
        self.diff_interval(col, None)
    }
    /// Interval of `a − b` over the replicates.
    fn diff_interval(&self, a: Option<usize>, b: Option<usize>) -> Interval {
        if self.raw.replicates.is_empty() {
            return None;
        }
        let mut v: Vec<i64> = self
            .raw
            .replicates
            .iter()
            .map(|r| a.map_or(0, |c| r[c]) - b.map_or(0, |c| r[c]))
            .collect();
        v.sort_unstable();
        Some([
            Yuan(quantile_fen(&v, Decimal::new(5, 2))),
            Yuan(quantile_fen(&v, Decimal::new(95, 2))),
        ])
    }
}

fn shift(i: Interval, by: Decimal) -> Interval {
    i.map(|[a, b]| [Yuan(a.0 - by), Yuan(b.0 - by)])
}

fn label_of(policies: &[PolicyInput], f: impl Fn(&Policy) -> Option<String>) -> Option<String> {
    policies.iter().find_map(|p| f(p.policy))
}

/// Category set → (sort key, key, label).
fn category_key(
    set: &ClaimSet,
    policies: &[PolicyInput],
    k: usize,
) -> (Vec<usize>, String, String) {
    let cats = &set.category_sets[k];
    if cats.is_empty() {
        return (vec![usize::MAX], "none".into(), "（无救助类别）".into());
    }
    let base = policies[0].policy;
    let mut order: Vec<usize> = cats
        .iter()
        .map(|c| base.category_index(c).unwrap_or(usize::MAX - 1))
        .collect();
    order.sort();
    let mut sorted: Vec<&String> = cats.iter().collect();
    sorted.sort_by_key(|c| (base.category_index(c).unwrap_or(usize::MAX), c.as_str()));
    let key = sorted
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let label = sorted
        .iter()
        .map(|c| {
            label_of(policies, |p| {
                p.category_index(c).map(|i| p.categories[i].1.clone())
            })
            .unwrap_or_else(|| c.to_string())
        })
        .collect::<Vec<_>>()
        .join("、");
    (order, key, label)
}

fn month_label(k: u32) -> String {
    format!("{:04}-{:02}", k / 12, k % 12 + 1)
}

/// The rows of one breakdown: keys present under any policy, in order.
fn dim_keys(raw: &Raw, dim: u8) -> Vec<u32> {
    let mut keys = BTreeSet::new();
    for p in &raw.policies {
        for (d, k) in p.cells.keys() {
            if *d == dim {
                keys.insert(*k);
            }
        }
    }
    keys.into_iter().collect()
}

fn cell_of(raw: &Raw, k: usize, key: (u8, u32)) -> Option<&Vec<i64>> {
    raw.policies[k].cells.get(&key)
}

fn get(cell: Option<&Vec<i64>>, i: usize) -> i64 {
    cell.map_or(0, |c| c[i])
}

/// Build the report from the replay.
pub(crate) fn build(
    set: &ClaimSet,
    policies: &[PolicyInput],
    opts: &SimOptions,
    raw: &Raw,
) -> SimReport {
    let boot = Boot { raw };
    let base = policies[0].policy;
    let base_lay = &raw.layouts[0];

    // Breakdown keys, ordered for reading.
    let mut cat_keys: Vec<(Vec<usize>, String, String, u32)> = dim_keys(raw, DIM_CATEGORY)
        .into_iter()
        .map(|k| {
            let (o, key, label) = category_key(set, policies, k as usize);
            (o, key, label, k)
        })
        .collect();
    cat_keys.sort();
    let cat_rows: Vec<(String, String, u32)> =
        cat_keys.into_iter().map(|(_, k, l, i)| (k, l, i)).collect();
    let month_rows: Vec<(String, String, u32)> = dim_keys(raw, DIM_MONTH)
        .into_iter()
        .map(|k| (month_label(k), month_label(k), k))
        .collect();
    let mut level_rows: Vec<(usize, String, String, u32)> = dim_keys(raw, DIM_LEVEL)
        .into_iter()
        .map(|k| {
            let id = &set.levels[k as usize];
            let label = if id.is_empty() {
                "（未注明）".to_string()
            } else {
                label_of(policies, |p| {
                    p.level_index(id).map(|i| p.levels[i].1.clone())
                })
                .unwrap_or_else(|| id.clone())
            };
            (
                base.level_index(id).unwrap_or(usize::MAX),
                id.clone(),
                label,
                k,
            )
        })
        .collect();
    level_rows.sort();
    let level_rows: Vec<(String, String, u32)> = level_rows
        .into_iter()
        .map(|(_, a, b, c)| (a, b, c))
        .collect();

    // Payers that some policy has.
    let payers: Vec<usize> = (0..PAYERS)
        .filter(|&p| {
            policies
                .iter()
                .any(|x| x.policy.layers.iter().any(|l| l.payer == Payer::ALL[p]))
        })
        .collect();

    let mut out = Vec::with_capacity(policies.len());
    for (k, pin) in policies.iter().enumerate() {
        let policy = pin.policy;
        let lay = &raw.layouts[k];
        let agg = &raw.policies[k];
        let is_scenario = k > 0;
        let all = cell_of(raw, k, (DIM_ALL, 0));
        let base_all = cell_of(raw, 0, (DIM_ALL, 0));
        let col = |m: usize| Some(lay.offset + m);
        let bcol = |m: usize| Some(base_lay.offset + m);

        let money = |c: Option<&Vec<i64>>, i: usize| Yuan::fen(get(c, i));
        let ratio_of = |c: Option<&Vec<i64>>| {
            let total = get(c, Layout::C_TOTAL);
            if total == 0 {
                Ratio(Decimal::ZERO)
            } else {
                Ratio(round4(
                    Decimal::from(total - get(c, Layout::C_PATIENT)) / Decimal::from(total),
                ))
            }
        };
        let intervals = |l: &Layout, off: usize, other: Option<(&Layout, usize)>| {
            let pair = |m: usize| match other {
                None => boot.interval(Some(off + m)),
                Some((_, boff)) => boot.diff_interval(Some(off + m), Some(boff + m)),
            };
            let _ = l;
            SummaryIntervals {
                total: pair(Layout::M_TOTAL),
                hospital_waived: pair(Layout::M_WAIVED),
                fund_paid: pair(Layout::M_FUND),
                patient_payable: pair(Layout::M_PATIENT),
            }
        };
        let summary = Summary {
            claims: get(all, Layout::C_CLAIMS),
            persons: get(all, lay.c_persons()),
            total: money(all, Layout::C_TOTAL),
            hospital_waived: money(all, Layout::C_WAIVED),
            fund_paid: money(all, Layout::C_FUND),
            patient_payable: money(all, Layout::C_PATIENT),
            reimbursement_ratio: ratio_of(all),
            intervals: intervals(lay, lay.offset, None),
            vs_baseline: is_scenario.then(|| {
                let d = |i: usize| Yuan::fen(get(all, i) - get(base_all, i));
                SummaryDiff {
                    claims: get(all, Layout::C_CLAIMS) - get(base_all, Layout::C_CLAIMS),
                    persons: get(all, lay.c_persons()) - get(base_all, base_lay.c_persons()),
                    total: d(Layout::C_TOTAL),
                    hospital_waived: d(Layout::C_WAIVED),
                    fund_paid: d(Layout::C_FUND),
                    patient_payable: d(Layout::C_PATIENT),
                    reimbursement_ratio: Ratio(ratio_of(all).0 - ratio_of(base_all).0),
                    intervals: intervals(lay, lay.offset, Some((base_lay, base_lay.offset))),
                }
            }),
        };

        let layers: Vec<LayerLine> = policy
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let paid = get(all, lay.c_paid(i));
                let claims = get(all, lay.c_claims(i));
                let persons = get(all, lay.c_layer_persons(i));
                let vs = if is_scenario {
                    base.layer_index(&l.id).map(|j| LineDiff {
                        paid: Yuan::fen(paid - get(base_all, base_lay.c_paid(j))),
                        claims: claims - get(base_all, base_lay.c_claims(j)),
                        persons: persons - get(base_all, base_lay.c_layer_persons(j)),
                        interval: boot
                            .diff_interval(col(lay.m_layer(i)), bcol(base_lay.m_layer(j))),
                    })
                } else {
                    None
                };
                LayerLine {
                    id: l.id.clone(),
                    name: l.name.clone(),
                    payer: l.payer.as_str(),
                    paid: Yuan::fen(paid),
                    claims,
                    persons,
                    interval: boot.interval(col(lay.m_layer(i))),
                    vs_baseline: vs,
                }
            })
            .collect();

        let payer_lines: Vec<PayerLine> = payers
            .iter()
            .map(|&p| {
                let paid = get(all, lay.c_payer_paid(p));
                let claims = get(all, lay.c_payer_claims(p));
                let persons = get(all, lay.c_payer_persons(p));
                PayerLine {
                    payer: Payer::ALL[p].as_str(),
                    label: Payer::ALL[p].label(),
                    paid: Yuan::fen(paid),
                    claims,
                    persons,
                    interval: boot.interval(col(lay.m_payer(p))),
                    vs_baseline: is_scenario.then(|| LineDiff {
                        paid: Yuan::fen(paid - get(base_all, base_lay.c_payer_paid(p))),
                        claims: claims - get(base_all, base_lay.c_payer_claims(p)),
                        persons: persons - get(base_all, base_lay.c_payer_persons(p)),
                        interval: boot
                            .diff_interval(col(lay.m_payer(p)), bcol(base_lay.m_payer(p))),
                    }),
                }
            })
            .collect();

        // Budget targets → (metric column in this policy, in the baseline, paid).
        let target_col = |policy: &Policy, lay: &Layout, t: &BudgetTarget| -> Option<usize> {
            match t {
                BudgetTarget::Payer(p) => Some(
                    lay.offset + lay.m_payer(Payer::ALL.iter().position(|x| x == p).unwrap_or(0)),
                ),
                BudgetTarget::Layer(id) => {
                    policy.layer_index(id).map(|i| lay.offset + lay.m_layer(i))
                }
                BudgetTarget::Fund => Some(lay.offset + Layout::M_FUND),
            }
        };
        let target_paid =
            |cell: Option<&Vec<i64>>, policy: &Policy, lay: &Layout, t: &BudgetTarget| -> i64 {
                match t {
                    BudgetTarget::Payer(p) => get(
                        cell,
                        lay.c_payer_paid(Payer::ALL.iter().position(|x| x == p).unwrap_or(0)),
                    ),
                    BudgetTarget::Layer(id) => policy
                        .layer_index(id)
                        .map_or(0, |i| get(cell, lay.c_paid(i))),
                    BudgetTarget::Fund => get(cell, Layout::C_FUND),
                }
            };
        let gaps = opts
            .budgets
            .iter()
            .map(|b| {
                let paid = target_paid(all, policy, lay, &b.target);
                let c = target_col(policy, lay, &b.target);
                let paid_interval = boot.interval(c);
                let gap = from_fen(paid) - b.amount;
                GapLine {
                    key: b.target.key(),
                    kind: b.target.kind(),
                    target: target_name(policy, &b.target),
                    budget: Yuan(b.amount),
                    paid: Yuan::fen(paid),
                    gap: Yuan(gap),
                    paid_interval,
                    gap_interval: shift(paid_interval, b.amount),
                    vs_baseline: is_scenario.then(|| GapDiff {
                        gap: Yuan::fen(paid - target_paid(base_all, base, base_lay, &b.target)),
                        interval: boot.diff_interval(c, target_col(base, base_lay, &b.target)),
                    }),
                }
            })
            .collect();

        let breakdown = |dim: u8, rows: &[(String, String, u32)]| -> Vec<BreakdownRow> {
            rows.iter()
                .map(|(key, label, kix)| {
                    let cell = cell_of(raw, k, (dim, *kix));
                    let bcell = cell_of(raw, 0, (dim, *kix));
                    let layers: Vec<CellAmount> = policy
                        .layers
                        .iter()
                        .enumerate()
                        .map(|(i, l)| CellAmount {
                            id: l.id.clone(),
                            paid: money(cell, lay.c_paid(i)),
                            claims: get(cell, lay.c_claims(i)),
                            persons: get(cell, lay.c_layer_persons(i)),
                        })
                        .collect();
                    let payer_cells: Vec<CellAmount> = payers
                        .iter()
                        .map(|&p| CellAmount {
                            id: Payer::ALL[p].as_str().into(),
                            paid: money(cell, lay.c_payer_paid(p)),
                            claims: get(cell, lay.c_payer_claims(p)),
                            persons: get(cell, lay.c_payer_persons(p)),
                        })
                        .collect();
                    let vs = is_scenario.then(|| RowDiff {
                        claims: get(cell, Layout::C_CLAIMS) - get(bcell, Layout::C_CLAIMS),
                        fund_paid: Yuan::fen(
                            get(cell, Layout::C_FUND) - get(bcell, Layout::C_FUND),
                        ),
                        patient_payable: Yuan::fen(
                            get(cell, Layout::C_PATIENT) - get(bcell, Layout::C_PATIENT),
                        ),
                        layers: policy
                            .layers
                            .iter()
                            .enumerate()
                            .map(|(i, l)| CellDiff {
                                id: l.id.clone(),
                                paid: Yuan::fen(
                                    get(cell, lay.c_paid(i))
                                        - base
                                            .layer_index(&l.id)
                                            .map_or(0, |j| get(bcell, base_lay.c_paid(j))),
                                ),
                            })
                            .collect(),
                        payers: payers
                            .iter()
                            .map(|&p| CellDiff {
                                id: Payer::ALL[p].as_str().into(),
                                paid: Yuan::fen(
                                    get(cell, lay.c_payer_paid(p))
                                        - get(bcell, base_lay.c_payer_paid(p)),
                                ),
                            })
                            .collect(),
                    });
                    BreakdownRow {
                        key: key.clone(),
                        label: label.clone(),
                        claims: get(cell, Layout::C_CLAIMS),
                        persons: get(cell, lay.c_persons()),
                        total: money(cell, Layout::C_TOTAL),
                        hospital_waived: money(cell, Layout::C_WAIVED),
                        fund_paid: money(cell, Layout::C_FUND),
                        patient_payable: money(cell, Layout::C_PATIENT),
                        layers,
                        payers: payer_cells,
                        vs_baseline: vs,
                    }
                })
                .collect()
        };

        out.push(PolicyReport {
            role: if is_scenario { "scenario" } else { "baseline" },
            id: policy.id.clone(),
            name: policy.name.clone(),
            file: pin.file.to_string(),
            hash: policy.hash.clone(),
            settled: agg.settled,
            refused: agg.refused,
            refusals: agg
                .refusals
                .iter()
                .map(|(line, e)| Refusal {
                    line: *line,
                    claim_id: e.claim_id.clone(),
                    path: e.path.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            summary,
            layers,
            payers: payer_lines,
            gaps,
            by_category: breakdown(DIM_CATEGORY, &cat_rows),
            by_month: breakdown(DIM_MONTH, &month_rows),
            by_level: breakdown(DIM_LEVEL, &level_rows),
            out_of_pocket: out_of_pocket(&agg.person_years, opts.catastrophic),
            reimbursement: reimbursement(&agg.person_years, ratio_of(all)),
            changes: is_scenario.then(|| changes(set, raw, k, opts.top)),
        });
    }
    // Differences of the distributions.
    for k in 1..out.len() {
        let (b, s) = (&out[0], &out[k]);
        let od = OopDiff {
            mean: Yuan(s.out_of_pocket.mean.0 - b.out_of_pocket.mean.0),
            median: Yuan(s.out_of_pocket.median.0 - b.out_of_pocket.median.0),
            p90: Yuan(s.out_of_pocket.p90.0 - b.out_of_pocket.p90.0),
            catastrophic: s.out_of_pocket.catastrophic as i64 - b.out_of_pocket.catastrophic as i64,
        };
        let rd = RatioDiff {
            overall: Ratio(s.reimbursement.overall.0 - b.reimbursement.overall.0),
            mean: Ratio(s.reimbursement.mean.0 - b.reimbursement.mean.0),
            median: Ratio(s.reimbursement.median.0 - b.reimbursement.median.0),
        };
        out[k].out_of_pocket.vs_baseline = Some(od);
        out[k].reimbursement.vs_baseline = Some(rd);
    }

    SimReport {
        format: "medaid-simulation/1",
        input: InputInfo {
            source: None,
            claims_read: set.claims_read,
            claims_simulated: set.claims.len(),
            duplicated: set.duplicated,
            dropped: set.dropped,
            persons: set.persons.len(),
            volume_growth: set.growth.volume.normalize().to_string(),
            price_growth: set.growth.price.normalize().to_string(),
            growth_seed: set.growth.seed,
        },
        settings: Settings {
            bootstrap: opts.bootstrap,
            seed: opts.seed,
            interval: "90%",
            catastrophic: Yuan(opts.catastrophic),
            top: opts.top,
        },
        budgets: opts
            .budgets
            .iter()
            .map(|b| BudgetInfo {
                key: b.target.key(),
                kind: b.target.kind(),
                target: target_name(base, &b.target),
                amount: Yuan(b.amount),
            })
            .collect(),
        policies: out,
    }
}

fn target_name(policy: &Policy, t: &BudgetTarget) -> String {
    match t {
        BudgetTarget::Payer(p) => p.label().to_string(),
        BudgetTarget::Layer(id) => policy
            .layer_index(id)
            .map(|i| policy.layers[i].name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone()),
        BudgetTarget::Fund => "全部基金".to_string(),
    }
}

/// Histogram edges for out-of-pocket spending, relative to the
/// catastrophic threshold `c` (yuan): 0, c/40, c/20, c/10, c/4, c/2, c, 2c.
pub fn oop_edges(c: Decimal) -> Vec<Decimal> {
    let c = if c <= Decimal::ZERO {
        Decimal::from(20_000)
    } else {
        c
    };
    [0, 1, 2, 4, 10, 20, 40, 80]
        .iter()
        .map(|k| round2(c * Decimal::from(*k) / Decimal::from(40)))
        .collect()
}

fn out_of_pocket(person_years: &[(i64, i64)], threshold: Decimal) -> OutOfPocket {
    let mut v: Vec<i64> = person_years.iter().map(|p| p.0).collect();
    v.sort_unstable();
    let n = v.len() as u64;
    let total: i64 = v.iter().sum();
    let t_fen = crate::money::to_fen(threshold);
    let catastrophic = v.iter().filter(|&&x| x > t_fen).count() as u64;
    let edges: Vec<i64> = oop_edges(threshold)
        .into_iter()
        .map(crate::money::to_fen)
        .collect();
    let histogram = edges
        .iter()
        .enumerate()
        .map(|(i, &from)| {
            let to = edges.get(i + 1).copied();
            let count = v
                .iter()
                .filter(|&&x| x >= from && to.is_none_or(|t| x < t))
                .count() as u64;
            Bin {
                from: Yuan::fen(from),
                to: to.map(Yuan::fen),
                count,
            }
        })
        .collect();
    OutOfPocket {
        person_years: n,
        total: Yuan::fen(total),
        mean: Yuan(if n == 0 {
            Decimal::ZERO
        } else {
            round2(from_fen(total) / Decimal::from(n))
        }),
        median: Yuan(quantile_fen(&v, Decimal::new(5, 1))),
        p90: Yuan(quantile_fen(&v, Decimal::new(9, 1))),
        max: Yuan::fen(v.last().copied().unwrap_or(0)),
        catastrophic_threshold: Yuan(threshold),
        catastrophic,
        catastrophic_share: Ratio(if n == 0 {
            Decimal::ZERO
        } else {
            round4(Decimal::from(catastrophic) / Decimal::from(n))
        }),
        histogram,
        vs_baseline: None,
    }
}

fn reimbursement(person_years: &[(i64, i64)], overall: Ratio) -> Reimbursement {
    // Per person-year ratio in units of 1/10000.
    let mut v: Vec<i64> = person_years
        .iter()
        .filter(|p| p.1 > 0)
        .map(|&(oop, total)| {
            let r = round4(Decimal::from(total - oop) / Decimal::from(total));
            (r * Decimal::from(10_000))
                .trunc()
                .try_into()
                .unwrap_or(0i64)
        })
        .collect();
    v.sort_unstable();
    let n = v.len() as u64;
    let q = |q: Decimal| Ratio(round4(quantile_fen(&v, q) / Decimal::ONE_HUNDRED));
    let mean = if n == 0 {
        Decimal::ZERO
    } else {
        round4(Decimal::from(v.iter().sum::<i64>()) / Decimal::from(n) / Decimal::from(10_000))
    };
    let histogram = (0..10)
        .map(|i| {
            let from = i * 1000;
            let to = (i + 1) * 1000;
            let count = v
                .iter()
                .filter(|&&x| x >= from && (x < to || (i == 9 && x <= to)))
                .count() as u64;
            Bin {
                from: Ratio(Decimal::new(from, 4)),
                to: Some(Ratio(Decimal::new(to, 4))),
                count,
            }
        })
        .collect();
    Reimbursement {
        overall,
        person_years: n,
        mean: Ratio(mean),
        median: q(Decimal::new(5, 1)),
        p10: q(Decimal::new(1, 1)),
        p90: q(Decimal::new(9, 1)),
        histogram,
        vs_baseline: None,
    }
}

fn changes(set: &ClaimSet, raw: &Raw, k: usize, top: usize) -> Changes {
    let (b, s) = (&raw.layouts[0], &raw.layouts[k]);
    let w = raw.width;
    let n = raw.matrix.len().checked_div(w).unwrap_or(0);
    let mut diffs: Vec<(i64, usize, i64, i64)> = Vec::new();
    let (mut gc, mut ga, mut lc, mut la, mut same) = (0u64, 0i64, 0u64, 0i64, 0u64);
    for p in 0..n {
        let row = &raw.matrix[p * w..(p + 1) * w];
        let before = row[b.offset + Layout::M_PATIENT];
        let after = row[s.offset + Layout::M_PATIENT];
        let d = after - before;
        match d.cmp(&0) {
            std::cmp::Ordering::Less => {
                gc += 1;
                ga -= d;
            }
            std::cmp::Ordering::Greater => {
                lc += 1;
                la += d;
            }
            std::cmp::Ordering::Equal => same += 1,
        }
        if d != 0 {
            diffs.push((d, p, before, after));
        }
    }
    let person = |&(d, p, before, after): &(i64, usize, i64, i64)| PersonChange {
        person_id: set.persons[p].id.clone(),
        baseline: Yuan::fen(before),
        scenario: Yuan::fen(after),
        change: Yuan::fen(d),
    };
    // Persons are in id order, so ties break by id.
    diffs.sort_by_key(|x| (x.0, x.1));
    let top_gainers = diffs
        .iter()
        .take_while(|x| x.0 < 0)
        .take(top)
        .map(person)
        .collect();
    let top_losers = diffs
        .iter()
        .rev()
        .take_while(|x| x.0 > 0)
        .take(top)
        .map(person)
        .collect::<Vec<_>>();
    let mut top_losers = top_losers;
    top_losers.sort_by(|a: &PersonChange, b: &PersonChange| {
        b.change.cmp(&a.change).then(a.person_id.cmp(&b.person_id))
    });
    Changes {
        persons: n as u64,
        gainers: Group {
            count: gc,
            amount: Yuan::fen(ga),
        },
        losers: Group {
            count: lc,
            amount: Yuan::fen(la),
        },
        unchanged: same,
        net_change: Yuan::fen(la - ga),
        top_gainers,
        top_losers,
    }
}

// ---------------------------------------------------------------------------
// Text and CSV

fn pct_interval(i: &Interval) -> String {
    match i {
        Some([a, b]) => format!(" [90%: {a} … {b}]"),
        None => String::new(),
    }
}

fn signed(d: Yuan) -> String {
    if d.0 > Decimal::ZERO {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

/// A summary an administrator reads on the terminal.
pub fn write_text(r: &SimReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "medaid simulate: {} claims of {} persons ({} read, {} duplicated, {} dropped); volume growth {}, price growth {}",
        r.input.claims_simulated, r.input.persons, r.input.claims_read, r.input.duplicated, r.input.dropped, r.input.volume_growth, r.input.price_growth
    )?;
    if r.settings.bootstrap > 0 {
        writeln!(
            out,
            "intervals: 90% bootstrap over persons, {} replicates, seed {}",
            r.settings.bootstrap, r.settings.seed
        )?;
    }
    for p in &r.policies {
        writeln!(out)?;
        writeln!(out, "== {} {} — {} ({})", p.role, p.id, p.name, p.file)?;
        writeln!(
            out,
            "settled {} claims of {} persons; refused {}",
            p.settled, p.summary.persons, p.refused
        )?;
        if let Some(f) = p.refusals.first() {
            writeln!(
                out,
                "  first refusal: line {}: {}{}: {}",
                f.line,
                f.claim_id
                    .as_deref()
                    .map(|c| format!("claim {c}: "))
                    .unwrap_or_default(),
                f.path,
                f.message
            )?;
        }
        let s = &p.summary;
        let dv = |d: Option<Yuan>| {
            d.map(|d| format!("  ({} vs baseline)", signed(d)))
                .unwrap_or_default()
        };
        writeln!(
            out,
            "  total cost        {:>16}{}",
            s.total,
            pct_interval(&s.intervals.total)
        )?;
        writeln!(
            out,
            "  hospital waived   {:>16}{}{}",
            s.hospital_waived,
            pct_interval(&s.intervals.hospital_waived),
            dv(s.vs_baseline.as_ref().map(|v| v.hospital_waived))
        )?;
        writeln!(
            out,
            "  fund paid         {:>16}{}{}",
            s.fund_paid,
            pct_interval(&s.intervals.fund_paid),
            dv(s.vs_baseline.as_ref().map(|v| v.fund_paid))
        )?;
        writeln!(
            out,
            "  patients paid     {:>16}{}{}",
            s.patient_payable,
            pct_interval(&s.intervals.patient_payable),
            dv(s.vs_baseline.as_ref().map(|v| v.patient_payable))
        )?;
        writeln!(out, "  reimbursement     {:>16}", s.reimbursement_ratio)?;
        for l in &p.layers {
            writeln!(
                out,
                "  layer {:<18} {:>16}  {:>7} claims {:>7} persons{}{}",
                l.id,
                l.paid,
                l.claims,
                l.persons,
                pct_interval(&l.interval),
                dv(l.vs_baseline.as_ref().map(|v| v.paid))
            )?;
        }
        for y in &p.payers {
            writeln!(
                out,
                "  payer {:<18} {:>16}{}{}",
                y.payer,
                y.paid,
                pct_interval(&y.interval),
                dv(y.vs_baseline.as_ref().map(|v| v.paid))
            )?;
        }
        for g in &p.gaps {
            writeln!(
                out,
                "  gap {:<16} paid {} − budget {} = {}{}",
                g.key,
                g.paid,
                g.budget,
                signed(g.gap),
                pct_interval(&g.gap_interval)
            )?;
        }
        let o = &p.out_of_pocket;
        writeln!(
            out,
            "  out of pocket per person-year: mean {}, median {}, p90 {}; {} of {} above {}",
            o.mean, o.median, o.p90, o.catastrophic, o.person_years, o.catastrophic_threshold
        )?;
        if let Some(c) = &p.changes {
            writeln!(
                out,
                "  vs baseline: {} persons pay less (−{}), {} pay more (+{}), {} unchanged",
                c.gainers.count, c.gainers.amount, c.losers.count, c.losers.amount, c.unchanged
            )?;
        }
    }
    Ok(())
}

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

fn write_csv_as(
    r: &SimReport,
    dir: &Path,
    ids: bool,
) -> Result<Vec<std::path::PathBuf>, csv::Error> {
    use crate::recon::report::{ColType, Table};
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    let text_keys = [
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
    let mut open = |name: &str, header: &[&str]| -> Result<TableFile, csv::Error> {
        let path = dir.join(name);
        let mut table = Table::new(name.trim_end_matches(".csv"), name);
        for k in header {
            let ty = if text_keys.contains(k) {
                ColType::Text
            } else {
                ColType::Money
            };
            table.add_col(k, &sim_label(k), ty);
        }
        files.push(path.clone());
        Ok(TableFile { path, table, ids })
    };

    let mut w = open(
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
    w.flush()?;

    let head = |lead: &[&'static str]| -> Vec<&'static str> {
        lead.iter().copied().chain(PAID_COLUMNS).collect()
    };
    let mut w = open(
        "layers.csv",
        &head(&["role", "policy_id", "layer_id", "name", "payer"]),
    )?;
    for p in &r.policies {
        for l in &p.layers {
            let lead = [
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
            w.write_record(lead.iter().chain(tail.iter()))?;
        }
    }
    w.flush()?;

    let mut w = open(
        "payers.csv",
        &head(&["role", "policy_id", "payer", "label"]),
    )?;
    for p in &r.policies {
        for l in &p.payers {
            let lead = [
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
            w.write_record(lead.iter().chain(tail.iter()))?;
        }
    }
    w.flush()?;

    let mut w = open(
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
    w.flush()?;

    for (name, pick) in [
        (
            "by_category",
            (|p: &PolicyReport| &p.by_category) as fn(&PolicyReport) -> &Vec<BreakdownRow>,
        ),
        ("by_month", |p: &PolicyReport| &p.by_month),
        ("by_level", |p: &PolicyReport| &p.by_level),
    ] {
        let mut w = open(
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
        let mut wl = open(
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
            }
        }
        w.flush()?;
        wl.flush()?;
    }

    let mut w = open(
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
    let mut wh = open(
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
    }
    w.flush()?;
    wh.flush()?;

    let mut w = open(
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
    let mut wt = open(
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
    wt.flush()?;

    let mut w = open(
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
    w.flush()?;
    Ok(files)
}
