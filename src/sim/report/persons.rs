//! Per person and year: the distributions of out-of-pocket spending and
//! of reimbursement ratios, and who gains and who loses under a scenario.

use super::*;
use crate::money::{from_fen, round2, round4};
use crate::sim::outcome::{Layout, Raw};
use crate::sim::ClaimSet;
use rust_decimal::Decimal;

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

pub(super) fn out_of_pocket(person_years: &[(i64, i64)], threshold: Decimal) -> OutOfPocket {
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

pub(super) fn reimbursement(person_years: &[(i64, i64)], overall: Ratio) -> Reimbursement {
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

pub(super) fn changes(set: &ClaimSet, raw: &Raw, k: usize, top: usize) -> Changes {
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

/// The `q` quantile (0–1) of `values` (fen), interpolated linearly between
/// order statistics (R's type 7), as yuan rounded to the fen.
pub(crate) fn quantile_fen(sorted: &[i64], q: Decimal) -> Decimal {
    if sorted.is_empty() {
        return Decimal::ZERO;
    }
    let h = Decimal::from(sorted.len() - 1) * q;
    let lo = h.floor();
    let frac = h - lo;
    let i: usize = lo.try_into().unwrap_or(0);
    let a = Decimal::from(sorted[i]);
    let v = if i + 1 < sorted.len() {
        a + (Decimal::from(sorted[i + 1]) - a) * frac
    } else {
        a
    };
    crate::money::round2(v / Decimal::ONE_HUNDRED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn quantiles_interpolate_and_round_to_the_fen() {
        let v: Vec<i64> = (1..=200).map(|x| x * 100).collect();
        // h = 199 × 0.05 = 9.95 → between the 10th and 11th values
        assert_eq!(quantile_fen(&v, dec!(0.05)), dec!(10.95));
        assert_eq!(quantile_fen(&v, dec!(0.95)), dec!(190.05));
        assert_eq!(quantile_fen(&[1, 2], dec!(0.5)), dec!(0.02));
        assert_eq!(quantile_fen(&[], dec!(0.5)), dec!(0));
    }
}
