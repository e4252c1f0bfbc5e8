//! From the replay's integer sums to the report: decimals, intervals from
//! the bootstrap replicates, differences against the baseline, the
//! distributions per person and year and the list of who gains and loses.

use super::persons::{changes, out_of_pocket, quantile_fen, reimbursement};
use super::*;
use crate::engine::policy::Payer;
use crate::engine::Policy;
use crate::money::{from_fen, round4};
use crate::sim::outcome::{
    Layout, PolicyInput, Raw, SimOptions, DIM_ALL, DIM_CATEGORY, DIM_LEVEL, DIM_MONTH, PAYERS,
};
use crate::sim::{Budget, BudgetTarget, ClaimSet};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

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

/// The rows of the three breakdowns, ordered for reading: (key, label,
/// interned key) each.
struct BreakdownKeys {
    category: Vec<(String, String, u32)>,
    month: Vec<(String, String, u32)>,
    level: Vec<(String, String, u32)>,
}

/// Categories in the baseline's order of categories, months in time,
/// levels in the baseline's order of levels.
fn breakdown_keys(set: &ClaimSet, policies: &[PolicyInput], raw: &Raw) -> BreakdownKeys {
    let base = policies[0].policy;
    let mut cat_keys: Vec<(Vec<usize>, String, String, u32)> = dim_keys(raw, DIM_CATEGORY)
        .into_iter()
        .map(|k| {
            let (o, key, label) = category_key(set, policies, k as usize);
            (o, key, label, k)
        })
        .collect();
    cat_keys.sort();
    let category: Vec<(String, String, u32)> =
        cat_keys.into_iter().map(|(_, k, l, i)| (k, l, i)).collect();
    let month: Vec<(String, String, u32)> = dim_keys(raw, DIM_MONTH)
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
    let level: Vec<(String, String, u32)> = level_rows
        .into_iter()
        .map(|(_, a, b, c)| (a, b, c))
        .collect();
    BreakdownKeys {
        category,
        month,
        level,
    }
}

/// Payers that some policy has (indices into [`Payer::ALL`]).
fn present_payers(policies: &[PolicyInput]) -> Vec<usize> {
    (0..PAYERS)
        .filter(|&p| {
            policies
                .iter()
                .any(|x| x.policy.layers.iter().any(|l| l.payer == Payer::ALL[p]))
        })
        .collect()
}

fn money(c: Option<&Vec<i64>>, i: usize) -> Yuan {
    Yuan::fen(get(c, i))
}

/// The share of a cell's total that the patient did not pay.
fn ratio_of(c: Option<&Vec<i64>>) -> Ratio {
    let total = get(c, Layout::C_TOTAL);
    if total == 0 {
        Ratio(Decimal::ZERO)
    } else {
        Ratio(round4(
            Decimal::from(total - get(c, Layout::C_PATIENT)) / Decimal::from(total),
        ))
    }
}

/// A budget target's column in a policy's metric row.
fn target_col(policy: &Policy, lay: &Layout, t: &BudgetTarget) -> Option<usize> {
    match t {
        BudgetTarget::Payer(p) => {
            Some(lay.offset + lay.m_payer(Payer::ALL.iter().position(|x| x == p).unwrap_or(0)))
        }
        BudgetTarget::Layer(id) => policy.layer_index(id).map(|i| lay.offset + lay.m_layer(i)),
        BudgetTarget::Fund => Some(lay.offset + Layout::M_FUND),
    }
}

/// What a policy paid towards a budget target in a cell (fen).
fn target_paid(cell: Option<&Vec<i64>>, policy: &Policy, lay: &Layout, t: &BudgetTarget) -> i64 {
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
}

/// One policy's part of the replay, with the baseline's beside it for the
/// differences.
struct PolicyView<'a> {
    raw: &'a Raw,
    boot: &'a Boot<'a>,
    /// The policy's index (0: the baseline).
    k: usize,
    policy: &'a Policy,
    lay: &'a Layout,
    base: &'a Policy,
    base_lay: &'a Layout,
    /// The whole-population cells of the policy and of the baseline.
    all: Option<&'a Vec<i64>>,
    base_all: Option<&'a Vec<i64>>,
    payers: &'a [usize],
}

impl PolicyView<'_> {
    fn is_scenario(&self) -> bool {
        self.k > 0
    }

    fn col(&self, m: usize) -> Option<usize> {
        Some(self.lay.offset + m)
    }

    fn bcol(&self, m: usize) -> Option<usize> {
        Some(self.base_lay.offset + m)
    }

    /// The totals' intervals, or (`paired`) those of their differences
    /// from the baseline.
    fn summary_intervals(&self, paired: bool) -> SummaryIntervals {
        let (off, boff) = (self.lay.offset, self.base_lay.offset);
        let pair = |m: usize| {
            if paired {
                self.boot.diff_interval(Some(off + m), Some(boff + m))
            } else {
                self.boot.interval(Some(off + m))
            }
        };
        SummaryIntervals {
            total: pair(Layout::M_TOTAL),
            hospital_waived: pair(Layout::M_WAIVED),
            fund_paid: pair(Layout::M_FUND),
            patient_payable: pair(Layout::M_PATIENT),
        }
    }

    fn summary(&self) -> Summary {
        let (all, base_all, lay, base_lay) = (self.all, self.base_all, self.lay, self.base_lay);
        Summary {
            claims: get(all, Layout::C_CLAIMS),
            persons: get(all, lay.c_persons()),
            total: money(all, Layout::C_TOTAL),
            hospital_waived: money(all, Layout::C_WAIVED),
            fund_paid: money(all, Layout::C_FUND),
            patient_payable: money(all, Layout::C_PATIENT),
            reimbursement_ratio: ratio_of(all),
            intervals: self.summary_intervals(false),
            vs_baseline: self.is_scenario().then(|| {
                let d = |i: usize| Yuan::fen(get(all, i) - get(base_all, i));
                SummaryDiff {
                    claims: get(all, Layout::C_CLAIMS) - get(base_all, Layout::C_CLAIMS),
                    persons: get(all, lay.c_persons()) - get(base_all, base_lay.c_persons()),
                    total: d(Layout::C_TOTAL),
                    hospital_waived: d(Layout::C_WAIVED),
                    fund_paid: d(Layout::C_FUND),
                    patient_payable: d(Layout::C_PATIENT),
                    reimbursement_ratio: Ratio(ratio_of(all).0 - ratio_of(base_all).0),
                    intervals: self.summary_intervals(true),
                }
            }),
        }
    }

    fn layer_lines(&self) -> Vec<LayerLine> {
        let (all, base_all, lay, base_lay) = (self.all, self.base_all, self.lay, self.base_lay);
        self.policy
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let paid = get(all, lay.c_paid(i));
                let claims = get(all, lay.c_claims(i));
                let persons = get(all, lay.c_layer_persons(i));
                let vs = if self.is_scenario() {
                    self.base.layer_index(&l.id).map(|j| LineDiff {
                        paid: Yuan::fen(paid - get(base_all, base_lay.c_paid(j))),
                        claims: claims - get(base_all, base_lay.c_claims(j)),
                        persons: persons - get(base_all, base_lay.c_layer_persons(j)),
                        interval: self.boot.diff_interval(
                            self.col(lay.m_layer(i)),
                            self.bcol(base_lay.m_layer(j)),
                        ),
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
                    interval: self.boot.interval(self.col(lay.m_layer(i))),
                    vs_baseline: vs,
                }
            })
            .collect()
    }

    fn payer_lines(&self) -> Vec<PayerLine> {
        let (all, base_all, lay, base_lay) = (self.all, self.base_all, self.lay, self.base_lay);
        self.payers
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
                    interval: self.boot.interval(self.col(lay.m_payer(p))),
                    vs_baseline: self.is_scenario().then(|| LineDiff {
                        paid: Yuan::fen(paid - get(base_all, base_lay.c_payer_paid(p))),
                        claims: claims - get(base_all, base_lay.c_payer_claims(p)),
                        persons: persons - get(base_all, base_lay.c_payer_persons(p)),
                        interval: self.boot.diff_interval(
                            self.col(lay.m_payer(p)),
                            self.bcol(base_lay.m_payer(p)),
                        ),
                    }),
                }
            })
            .collect()
    }

    fn gaps(&self, budgets: &[Budget]) -> Vec<GapLine> {
        let (policy, lay) = (self.policy, self.lay);
        budgets
            .iter()
            .map(|b| {
                let paid = target_paid(self.all, policy, lay, &b.target);
                let c = target_col(policy, lay, &b.target);
                let paid_interval = self.boot.interval(c);
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
                    vs_baseline: self.is_scenario().then(|| GapDiff {
                        gap: Yuan::fen(
                            paid - target_paid(self.base_all, self.base, self.base_lay, &b.target),
                        ),
                        interval: self
                            .boot
                            .diff_interval(c, target_col(self.base, self.base_lay, &b.target)),
                    }),
                }
            })
            .collect()
    }

    fn breakdown(&self, dim: u8, rows: &[(String, String, u32)]) -> Vec<BreakdownRow> {
        rows.iter()
            .map(|(key, label, kix)| self.breakdown_row(dim, key, label, *kix))
            .collect()
    }

    fn breakdown_row(&self, dim: u8, key: &str, label: &str, kix: u32) -> BreakdownRow {
        let lay = self.lay;
        let cell = cell_of(self.raw, self.k, (dim, kix));
        let bcell = cell_of(self.raw, 0, (dim, kix));
        let layers: Vec<CellAmount> = self
            .policy
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
        let payer_cells: Vec<CellAmount> = self
            .payers
            .iter()
            .map(|&p| CellAmount {
                id: Payer::ALL[p].as_str().into(),
                paid: money(cell, lay.c_payer_paid(p)),
                claims: get(cell, lay.c_payer_claims(p)),
                persons: get(cell, lay.c_payer_persons(p)),
            })
            .collect();
        BreakdownRow {
            key: key.to_string(),
            label: label.to_string(),
            claims: get(cell, Layout::C_CLAIMS),
            persons: get(cell, lay.c_persons()),
            total: money(cell, Layout::C_TOTAL),
            hospital_waived: money(cell, Layout::C_WAIVED),
            fund_paid: money(cell, Layout::C_FUND),
            patient_payable: money(cell, Layout::C_PATIENT),
            layers,
            payers: payer_cells,
            vs_baseline: self.is_scenario().then(|| self.row_diff(cell, bcell)),
        }
    }

    /// A breakdown row's cell minus the baseline's; a layer the baseline
    /// lacks counts from zero.
    fn row_diff(&self, cell: Option<&Vec<i64>>, bcell: Option<&Vec<i64>>) -> RowDiff {
        let (lay, base_lay) = (self.lay, self.base_lay);
        RowDiff {
            claims: get(cell, Layout::C_CLAIMS) - get(bcell, Layout::C_CLAIMS),
            fund_paid: Yuan::fen(get(cell, Layout::C_FUND) - get(bcell, Layout::C_FUND)),
            patient_payable: Yuan::fen(
                get(cell, Layout::C_PATIENT) - get(bcell, Layout::C_PATIENT),
            ),
            layers: self
                .policy
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| CellDiff {
                    id: l.id.clone(),
                    paid: Yuan::fen(
                        get(cell, lay.c_paid(i))
                            - self
                                .base
                                .layer_index(&l.id)
                                .map_or(0, |j| get(bcell, base_lay.c_paid(j))),
                    ),
                })
                .collect(),
            payers: self
                .payers
                .iter()
                .map(|&p| CellDiff {
                    id: Payer::ALL[p].as_str().into(),
                    paid: Yuan::fen(
                        get(cell, lay.c_payer_paid(p)) - get(bcell, base_lay.c_payer_paid(p)),
                    ),
                })
                .collect(),
        }
    }

    fn report(
        &self,
        set: &ClaimSet,
        pin: &PolicyInput,
        opts: &SimOptions,
        keys: &BreakdownKeys,
    ) -> PolicyReport {
        let policy = self.policy;
        let agg = &self.raw.policies[self.k];
        PolicyReport {
            role: if self.is_scenario() {
                "scenario"
            } else {
                "baseline"
            },
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
            summary: self.summary(),
            layers: self.layer_lines(),
            payers: self.payer_lines(),
            gaps: self.gaps(&opts.budgets),
            by_category: self.breakdown(DIM_CATEGORY, &keys.category),
            by_month: self.breakdown(DIM_MONTH, &keys.month),
            by_level: self.breakdown(DIM_LEVEL, &keys.level),
            out_of_pocket: out_of_pocket(&agg.person_years, opts.catastrophic),
            reimbursement: reimbursement(&agg.person_years, ratio_of(self.all)),
            changes: self
                .is_scenario()
                .then(|| changes(set, self.raw, self.k, opts.top)),
        }
    }
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
    let keys = breakdown_keys(set, policies, raw);
    let payers = present_payers(policies);
    let mut out: Vec<PolicyReport> = policies
        .iter()
        .enumerate()
        .map(|(k, pin)| {
            PolicyView {
                raw,
                boot: &boot,
                k,
                policy: pin.policy,
                lay: &raw.layouts[k],
                base,
                base_lay: &raw.layouts[0],
                all: cell_of(raw, k, (DIM_ALL, 0)),
                base_all: cell_of(raw, 0, (DIM_ALL, 0)),
                payers: &payers,
            }
            .report(set, pin, opts, &keys)
        })
        .collect();
    add_distribution_diffs(&mut out);
    SimReport {
        format: "medaid-simulation/1",
        input: input_info(set),
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

/// The scenarios' distributions against the baseline's.
fn add_distribution_diffs(out: &mut [PolicyReport]) {
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
}

fn input_info(set: &ClaimSet) -> InputInfo {
    InputInfo {
        source: None,
        claims_read: set.claims_read,
        claims_simulated: set.claims.len(),
        duplicated: set.duplicated,
        dropped: set.dropped,
        persons: set.persons.len(),
        volume_growth: set.growth.volume.normalize().to_string(),
        price_growth: set.growth.price.normalize().to_string(),
        growth_seed: set.growth.seed,
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
