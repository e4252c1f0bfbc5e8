//! The settlement arithmetic (结算), exactly DESIGN.md §4.
//!
//! [`settle`] is a pure function: a compiled policy, a resolved claim, the
//! person's identity and their accumulators for the year in; every amount
//! and the accumulator deltas out. It does no I/O, takes no locks and
//! allocates once (the per-layer vector). Rounding happens only where §4
//! says: each class-B self-pay-first share, each reduction, each deductible
//! factor product, each layer's pay, each target's allowance, and the
//! reimbursement ratio.

use super::claim::{Identity, ItemClass, ResolvedClaim};
use super::policy::{bit, ByLevel, Layer, LayerKind, Mask, Policy};
use crate::money::{from_fen, round2, round4, to_fen};
use rust_decimal::Decimal;

/// A person's running totals for one layer and year (年度累计).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Accumulator {
    /// Deductible already borne this year.
    #[serde(with = "crate::money::serde_money")]
    pub deductible_used: Decimal,
    /// Eligible amount so far this year (walks the bands).
    #[serde(with = "crate::money::serde_money")]
    pub eligible_cum: Decimal,
    /// Paid by this layer so far this year (against the cap).
    #[serde(with = "crate::money::serde_money")]
    pub paid: Decimal,
}

impl Accumulator {
    pub const ZERO: Accumulator = Accumulator {
        deductible_used: Decimal::ZERO,
        eligible_cum: Decimal::ZERO,
        paid: Decimal::ZERO,
    };
    pub fn add(&mut self, d: &Accumulator) {
        self.deductible_used += d.deductible_used;
        self.eligible_cum += d.eligible_cum;
        self.paid += d.paid;
    }
    pub fn sub(&mut self, d: &Accumulator) {
        self.deductible_used -= d.deductible_used;
        self.eligible_cum -= d.eligible_cum;
        self.paid -= d.paid;
    }
    pub fn is_zero(&self) -> bool {
        self.deductible_used.is_zero() && self.eligible_cum.is_zero() && self.paid.is_zero()
    }
}

/// What one layer did with a claim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerOutcome {
    pub applied: bool,
    pub base: Decimal,
    pub deductible: Decimal,
    pub eligible: Decimal,
    /// The ratio applied (the first band's when banded; the target ratio
    /// for a target layer). `None` when not applied.
    pub ratio: Option<Decimal>,
    /// Bonus added to the ratio (already included in `ratio`).
    pub bonus: Decimal,
    pub paid: Decimal,
    pub cap_limited: bool,
    /// The pay before the cap (equal to `paid` unless `cap_limited`).
    pub uncapped: Decimal,
    /// The cap that applied, if any.
    pub cap: Option<Decimal>,
    /// The deductible was waived by the policy.
    pub deductible_waived: bool,
    /// The full deductible before the year's earlier use (after any factor).
    pub deductible_full: Decimal,
    /// Accumulator before this claim (for explanations).
    pub before: Accumulator,
    /// Target layers: the reference amount and the allowance the patient
    /// keeps (`round((1 − target) × ref)`).
    pub reference: Decimal,
    pub allowed: Decimal,
    /// What this layer adds to the person's accumulator.
    pub delta: Accumulator,
}

impl LayerOutcome {
    const NOT_APPLIED: LayerOutcome = LayerOutcome {
        applied: false,
        base: Decimal::ZERO,
        deductible: Decimal::ZERO,
        eligible: Decimal::ZERO,
        ratio: None,
        bonus: Decimal::ZERO,
        paid: Decimal::ZERO,
        cap_limited: false,
        uncapped: Decimal::ZERO,
        cap: None,
        deductible_waived: false,
        deductible_full: Decimal::ZERO,
        before: Accumulator::ZERO,
        reference: Decimal::ZERO,
        allowed: Decimal::ZERO,
        delta: Accumulator::ZERO,
    };
}

/// Every amount of one settlement (DESIGN.md §4 steps 1–5).
#[derive(Debug, Clone, PartialEq)]
pub struct Computation {
    pub total: Decimal,
    pub free_items: Decimal,
    pub over_limit: Decimal,
    pub self_pay_first: Decimal,
    pub fully_self_pay: Decimal,
    pub in_policy: Decimal,
    pub reduction_in: Decimal,
    pub reduction_out: Decimal,
    pub hospital_waived: Decimal,
    /// One per policy layer, in policy order.
    pub layers: Vec<LayerOutcome>,
    pub fund_paid: Decimal,
    pub patient_payable: Decimal,
    pub reimbursement_ratio: Decimal,
}

impl Computation {
    pub fn reduction(&self) -> Decimal {
        self.reduction_in + self.reduction_out
    }
    pub fn out_of_policy(&self) -> Decimal {
        self.over_limit + self.self_pay_first + self.fully_self_pay
    }
    /// Accumulator deltas, one per layer.
    pub fn deltas(&self) -> impl Iterator<Item = &Accumulator> {
        self.layers.iter().map(|l| &l.delta)
    }
}

/// The value among the person's categories that `table` names which
/// `better` prefers to every other (`>` for the highest, `<` for the smallest).
#[inline]
fn pick(
    table: &[Option<Decimal>],
    cats: Mask,
    better: fn(&Decimal, &Decimal) -> bool,
) -> Option<Decimal> {
    let mut best: Option<Decimal> = None;
    let mut m = cats;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        m &= m - 1;
        if let Some(Some(v)) = table.get(i) {
            if best.is_none_or(|b| better(v, &b)) {
                best = Some(*v);
            }
        }
    }
    best
}

/// Highest value among the person's categories that `table` names.
#[inline]
fn highest(table: &[Option<Decimal>], cats: Mask) -> Option<Decimal> {
    pick(table, cats, |a, b| a > b)
}

/// Smallest value among the person's categories that `table` names.
#[inline]
fn smallest(table: &[Option<Decimal>], cats: Mask) -> Option<Decimal> {
    pick(table, cats, |a, b| a < b)
}

/// Whether `layer` applies to this claim and person.
#[inline]
pub fn in_scope(layer: &Layer, claim: &ResolvedClaim, who: Identity) -> bool {
    layer
        .medical_types
        .is_none_or(|m| m & bit(claim.medical_type) != 0)
        && layer.levels.is_none_or(|m| m & bit(who.level) != 0)
        && layer.diseases.is_none_or(|m| m & claim.groups != 0)
        && layer.categories.is_none_or(|m| m & who.categories != 0)
}

/// Settle one claim. `accs` holds the person's accumulators for the claim's
/// year, one per policy layer (missing entries count as zero).
pub fn settle(
    policy: &Policy,
    claim: &ResolvedClaim,
    who: Identity,
    accs: &[Accumulator],
) -> Computation {
    let zero = Decimal::ZERO;
    let level_bit = bit(who.level);
    let type_bit = bit(claim.medical_type);

    // Step 1–2: items.
    let (waiver_person, free_ok, reduce_ok, rate) = match &policy.waivers {
        Some(w) => {
            let person = who.categories & w.categories != 0;
            (
                person,
                person && w.free_item_levels & level_bit != 0,
                person
                    && w.reduction_levels & level_bit != 0
                    && w.reduction_medical_types & type_bit != 0,
                w.reduction_rate,
            )
        }
        None => (false, false, false, zero),
    };
    let _ = waiver_person;
    // Items are summed in whole fen: exact, and far cheaper than decimals.
    let share_b = policy.self_pay_first_b_fraction;
    let (mut total, mut free, mut over, mut spf, mut fsp, mut inp) =
        (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
    for it in &claim.items {
        total += it.amount_fen;
        if free_ok && it.free_kind {
            free += it.amount_fen;
            continue;
        }
        let r = match it.limit_fen {
            Some(limit) if it.amount_fen > limit => {
                over += it.amount_fen - limit;
                limit
            }
            _ => it.amount_fen,
        };
        match it.class {
            ItemClass::A => inp += r,
            ItemClass::B => {
                let s = if share_b.is_zero() {
                    0
                } else {
                    share_b
                        .of_fen(r)
                        .unwrap_or_else(|| to_fen(round2(from_fen(r) * policy.self_pay_first_b)))
                };
                spf += s;
                inp += r - s;
            }
            ItemClass::C => fsp += r,
        }
    }
    let (total, free, over, spf, fsp, inp) = (
        from_fen(total),
        from_fen(free),
        from_fen(over),
        from_fen(spf),
        from_fen(fsp),
        from_fen(inp),
    );
    let out = over + spf + fsp;

    // Step 3: reduction (一减).
    let (red_in, red_out) = if reduce_ok && !rate.is_zero() {
        (round2(rate * inp), round2(rate * out))
    } else {
        (zero, zero)
    };
    let hospital_waived = free + red_in + red_out;
    let in_net = inp - red_in;
    let out_net = out - red_out;

    // Step 4: layers.
    let mut rem_in = in_net;
    let mut rem_out = out_net;
    let mut fund_paid = zero;
    let mut layers = Vec::with_capacity(policy.layers.len());
    for (ix, layer) in policy.layers.iter().enumerate() {
        if !in_scope(layer, claim, who) {
            layers.push(LayerOutcome::NOT_APPLIED);
            continue;
        }
        let acc = accs.get(ix).copied().unwrap_or_default();
        let base = if layer.base_all {
            rem_in + rem_out
        } else {
            rem_in
        };
        // Filled in place: an outcome is a few hundred bytes, and copying
        // it into the vector was a visible share of the engine's time.
        layers.push(LayerOutcome {
            applied: true,
            base,
            before: acc,
            ..LayerOutcome::NOT_APPLIED
        });
        let o = &mut layers[ix];
        let mut pay = match &layer.kind {
            LayerKind::Ratio {
                deductible,
                ratio,
                ratio_by_category,
                ratio_bonus,
                bands,
            } => {
                let mut ded = zero;
                if let Some(d) = deductible {
                    let waived = d.waive.as_ref().is_some_and(|w| {
                        w.categories.is_none_or(|m| m & who.categories != 0)
                            && w.levels.is_none_or(|m| m & level_bit != 0)
                    });
                    o.deductible_waived = waived;
                    if !waived {
                        let mut full = d.amount.get(who.level);
                        if let Some(f) = smallest(&d.factor, who.categories) {
                            full = round2(full * f);
                        }
                        o.deductible_full = full;
                        ded = if d.per_year {
                            base.min((full - acc.deductible_used).max(zero))
                        } else {
                            base.min(full)
                        };
                    }
                }
                let eligible = base - ded;
                let bonus = ratio_bonus
                    .as_deref()
                    .and_then(|t| highest(t, who.categories))
                    .unwrap_or(zero);
                o.bonus = bonus;
                let raw = match bands {
                    None => {
                        let r = ratio_by_category
                            .as_deref()
                            .and_then(|t| highest(t, who.categories))
                            .or_else(|| ratio.as_ref().map(|r: &ByLevel| r.get(who.level)))
                            .unwrap_or(zero);
                        let r = (r + bonus).min(Decimal::ONE);
                        o.ratio = Some(r);
                        eligible * r
                    }
                    Some(bands) => {
                        let lo = acc.eligible_cum;
                        let hi = lo + eligible;
                        let mut floor = zero;
                        let mut raw = zero;
                        // The ratio reported is that of the band the claim starts in.
                        o.ratio = bands
                            .iter()
                            .find(|b| b.upto.is_none_or(|u| lo < u))
                            .map(|b| (b.ratio + bonus).min(Decimal::ONE));
                        for b in bands {
                            let r = (b.ratio + bonus).min(Decimal::ONE);
                            let top = b.upto.map_or(hi, |u| u.min(hi));
                            let start = floor.max(lo);
                            if top > start {
                                raw += (top - start) * r;
                            }
                            match b.upto {
                                Some(u) if u < hi => floor = u,
                                _ => break,
                            }
                        }
                        raw
                    }
                };
                o.deductible = ded;
                o.eligible = eligible;
                o.delta.deductible_used = ded;
                o.delta.eligible_cum = eligible;
                round2(raw)
            }
            LayerKind::Target {
                target_ratio,
                reference_total,
            } => {
                let reference = if *reference_total {
                    in_net + out_net
                } else {
                    in_net
                };
                let allowed = round2((Decimal::ONE - *target_ratio) * reference);
                o.ratio = Some(*target_ratio);
                o.reference = reference;
                o.allowed = allowed;
                (base - allowed).max(zero)
            }
        };
        o.uncapped = pay;
        if let Some(cap) = &layer.cap {
            if cap.exempt & who.categories == 0 {
                let amount = cap.amount_for(claim.groups);
                o.cap = Some(amount);
                let limit = if cap.per_year {
                    (amount - acc.paid).max(zero)
                } else {
                    amount
                };
                if pay > limit {
                    pay = limit;
                    o.cap_limited = true;
                }
            }
        }
        o.paid = pay;
        o.delta.paid = pay;
        let from_in = pay.min(rem_in);
        rem_in -= from_in;
        rem_out -= pay - from_in;
        fund_paid += pay;
    }

    // Step 5.
    let patient_payable = total - hospital_waived - fund_paid;
    // round4((total − patient_payable) / total), done on integer fen: the
    // quotient to four places, half away from zero (both are ≥ 0).
    let reimbursement_ratio = if total.is_zero() {
        zero
    } else {
        let (num, den) = (
            to_fen(total - patient_payable) as i128,
            to_fen(total) as i128,
        );
        if num >= 0 && den > 0 {
            let scaled = num * 10_000;
            let (q, r) = (scaled / den, scaled % den);
            Decimal::from_i128_with_scale(if 2 * r >= den { q + 1 } else { q }, 4)
        } else {
            round4((total - patient_payable) / total)
        }
    };
    Computation {
        total,
        free_items: free,
        over_limit: over,
        self_pay_first: spf,
        fully_self_pay: fsp,
        in_policy: inp,
        reduction_in: red_in,
        reduction_out: red_out,
        hospital_waived,
        layers,
        fund_paid,
        patient_payable,
        reimbursement_ratio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn highest_and_smallest_look_only_at_held_categories() {
        let t = vec![Some(dec!(0.7)), None, Some(dec!(0.9)), Some(dec!(0.5))];
        assert_eq!(highest(&t, 0b0101), Some(dec!(0.9)));
        assert_eq!(smallest(&t, 0b1101), Some(dec!(0.5)));
        assert_eq!(highest(&t, 0b0010), None);
        assert_eq!(highest(&t, 0), None);
        // a category beyond the table is ignored, not a panic
        assert_eq!(highest(&t, 1 << 40), None);
    }

    #[test]
    fn accumulator_add_sub_round_trip() {
        let mut a = Accumulator::ZERO;
        let d = Accumulator {
            deductible_used: dec!(300.00),
            eligible_cum: dec!(1234.56),
            paid: dec!(987.65),
        };
        a.add(&d);
        a.add(&d);
        a.sub(&d);
        assert_eq!(a, d);
        a.sub(&d);
        assert!(a.is_zero());
    }
}
