//! The settlement arithmetic (结算), in the order docs/policy-language.md
//! describes it.
//!
//! [`settle`] is a pure function: a compiled policy, a resolved claim, the
//! person's identity and their accumulators for the year in; every amount
//! and the accumulator deltas out. It does no I/O, takes no locks and
//! allocates once (the per-layer vector). Rounding happens only where the
//! contract (docs/policy-language.md) says: each class-B self-pay-first share, each reduction, each deductible
//! factor product, each layer's pay, each target's allowance, and the
//! reimbursement ratio.

use super::amounts::Breakdown;
use super::claim::{Identity, ItemClass, ResolvedClaim};
use super::policy::{bit, Band, Base, ByLevel, Deductible, Layer, LayerKind, Place, Policy};
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
    /// for a target layer). `None` when not applied or given.
    pub ratio: Option<Decimal>,
    /// Bonus added to the ratio (already included in `ratio`).
    pub bonus: Decimal,
    /// `ratio_adjust` entries that applied (already included in `ratio`).
    pub adjust: Decimal,
    pub paid: Decimal,
    /// The cap or the pool lowered the pay.
    pub cap_limited: bool,
    /// The pool (not the cap) was what lowered the pay.
    pub pool_limited: bool,
    /// The pay before the cap and pool (equal to `paid` unless limited).
    pub uncapped: Decimal,
    /// The cap that applied, if any.
    pub cap: Option<Decimal>,
    /// The pool amount that applied, if any.
    pub pool_amount: Option<Decimal>,
    /// What remains of the layer's limits (cap, pool) after this claim;
    /// `None` when the layer has no limit for this person.
    pub remaining: Option<Decimal>,
    /// What remains of the layer's pool after this claim.
    pub pool_remaining: Option<Decimal>,
    /// Paid against the cap before this claim (the disease group's for a
    /// per-group cap, else the layer's year).
    pub cap_paid_before: Decimal,
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
    /// In scope but left out because an earlier layer of its `exclusive`
    /// tag applied (就高不重复).
    pub superseded: bool,
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
        adjust: Decimal::ZERO,
        paid: Decimal::ZERO,
        cap_limited: false,
        pool_limited: false,
        uncapped: Decimal::ZERO,
        cap: None,
        pool_amount: None,
        remaining: None,
        pool_remaining: None,
        cap_paid_before: Decimal::ZERO,
        deductible_waived: false,
        deductible_full: Decimal::ZERO,
        before: Accumulator::ZERO,
        reference: Decimal::ZERO,
        allowed: Decimal::ZERO,
        superseded: false,
        delta: Accumulator::ZERO,
    };
}

/// Every amount of one settlement: items, waivers, layers, the patient's share.
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
    /// Deltas of the accumulator slots after the layers' (pools, then
    /// per-group caps; see [`Policy::slots`]). Only `paid` moves. Empty
    /// for a policy without such slots.
    pub extra: Vec<Accumulator>,
    pub fund_paid: Decimal,
    pub patient_payable: Decimal,
    pub reimbursement_ratio: Decimal,
    /// The identity the claim was settled for (for explanations).
    pub who: Identity,
    /// Place of care and referral, as the claim stated them.
    pub place: Place,
    pub referred: bool,
}

impl Computation {
    pub fn reduction(&self) -> Decimal {
        self.reduction_in + self.reduction_out
    }
    /// The ten amounts of the settlement.
    pub fn breakdown(&self) -> Breakdown<Decimal> {
        Breakdown {
            total: self.total,
            free_items: self.free_items,
            reduction: self.reduction(),
            hospital_waived: self.hospital_waived,
            over_limit: self.over_limit,
            self_pay_first: self.self_pay_first,
            fully_self_pay: self.fully_self_pay,
            in_policy: self.in_policy,
            fund_paid: self.fund_paid,
            patient_payable: self.patient_payable,
        }
    }
    pub fn out_of_policy(&self) -> Decimal {
        self.over_limit + self.self_pay_first + self.fully_self_pay
    }
    /// Accumulator deltas, one per slot of [`Policy::slots`]: the layers'
    /// in order, then pools and per-group caps.
    pub fn deltas(&self) -> impl Iterator<Item = &Accumulator> {
        self.layers
            .iter()
            .map(|l| &l.delta)
            .chain(self.extra.iter())
    }
}

use super::claim::ClaimError;
use super::policy::{highest_held as highest, smallest_held as smallest};

/// Whether `layer`'s own scope keys admit this claim and person (the
/// `exclusive` rule is applied by the caller, across layers).
#[inline]
pub fn in_scope(layer: &Layer, claim: &ResolvedClaim, who: Identity) -> bool {
    layer
        .medical_types
        .is_none_or(|m| m & bit(claim.medical_type) != 0)
        && layer.levels.is_none_or(|m| m & bit(who.level) != 0)
        && layer.diseases.is_none_or(|m| m & claim.groups != 0)
        && layer.categories.is_none_or(|m| m & who.categories != 0)
        && layer
            .insurance_types
            .is_none_or(|m| claim.insurance_type.is_some_and(|t| m & bit(t) != 0))
        && layer.places.is_none_or(|m| m & claim.place.bit() != 0)
        && (!layer.referral_required || claim.referred)
}

/// Which layers apply: their own scope, then 就高不重复 — of the layers that
/// share an `exclusive` tag only the first in scope applies. Bit `i` set
/// for layer `i` applying; `superseded` for those the tag left out.
fn applying_layers(policy: &Policy, claim: &ResolvedClaim, who: Identity) -> (u128, u128) {
    let (mut applies, mut superseded, mut tags_used) = (0u128, 0u128, 0u64);
    for (i, l) in policy.layers.iter().enumerate() {
        if !in_scope(l, claim, who) {
            continue;
        }
        if let Some(t) = l.exclusive {
            if tags_used & bit(t) != 0 {
                superseded |= 1 << i;
                continue;
            }
            tags_used |= bit(t);
        }
        applies |= 1 << i;
    }
    (applies, superseded)
}

/// Step 1–2: the items, summed in whole fen (exact, and far cheaper than
/// decimals): total, free, over limit, self-pay-first, fully self-pay, in policy.
fn sum_items(policy: &Policy, claim: &ResolvedClaim, free_ok: bool) -> [i64; 6] {
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
        let share = match (it.class, it.self_pay) {
            (ItemClass::C, _) => {
                fsp += r;
                continue;
            }
            (_, Some(own)) => Some(own),
            (ItemClass::B, None) if !share_b.is_zero() => Some((share_b, policy.self_pay_first_b)),
            _ => None,
        };
        let s = match share {
            None => 0,
            Some((f, d)) => f
                .of_fen(r)
                .unwrap_or_else(|| to_fen(round2(from_fen(r) * d))),
        };
        spf += s;
        inp += r - s;
    }
    [total, free, over, spf, fsp, inp]
}

/// A claim's `fund_payments` checked against the given layers that apply:
/// every key names one of them, and a claim meeting one carries the object.
fn check_fund_payments(
    policy: &Policy,
    claim: &ResolvedClaim,
    applies: u128,
) -> Result<(), ClaimError> {
    let given = || {
        policy
            .layers
            .iter()
            .enumerate()
            .filter(move |(i, l)| applies & (1 << i) != 0 && l.is_given())
            .map(|(_, l)| l)
    };
    for (code, _) in claim.fund_payments.iter().flatten() {
        if !given().any(|l| l.effective_fund_code() == code) {
            return Err(ClaimError::new(
                None,
                format!("fund_payments.{code}"),
                format!("no given layer of policy {} in scope for this claim pays under fund code {code}", policy.id),
            ));
        }
    }
    match (&claim.fund_payments, given().next()) {
        (None, Some(l)) => Err(ClaimError::new(
            None,
            "fund_payments",
            format!(
                "required by layer `{}`: it pays what the platform settled under fund code {}",
                l.id,
                l.effective_fund_code()
            ),
        )),
        _ => Ok(()),
    }
}

/// What the claim says the platform paid under `code`.
fn given_pay(claim: &ResolvedClaim, code: &str) -> Decimal {
    claim
        .fund_payments
        .as_deref()
        .and_then(|p| p.iter().find(|(c, _)| c == code))
        .map_or(Decimal::ZERO, |(_, v)| *v)
}

/// The running state of step 4.
struct Remainders {
    in_net: Decimal,
    out_net: Decimal,
    rem_in: Decimal,
    rem_out: Decimal,
}

/// Settle one claim. `accs` holds the person's accumulators for the claim's
/// year, one per slot of [`Policy::slots`] (missing entries count as zero).
/// Refuses a claim whose `fund_payments` do not fit the policy.
pub fn settle(
    policy: &Policy,
    claim: &ResolvedClaim,
    who: Identity,
    accs: &[Accumulator],
) -> Result<Computation, ClaimError> {
    let zero = Decimal::ZERO;
    let level_bit = bit(who.level);
    let type_bit = bit(claim.medical_type);
    let (free_ok, reduce_ok, rate) = match &policy.waivers {
        Some(w) => {
            let person = who.categories & w.categories != 0;
            (
                person && w.free_item_levels & level_bit != 0,
                person
                    && w.reduction_levels & level_bit != 0
                    && w.reduction_medical_types & type_bit != 0,
                w.reduction_rate,
            )
        }
        None => (false, false, zero),
    };
    let [total, free, over, spf, fsp, inp] = sum_items(policy, claim, free_ok).map(from_fen);
    let out = over + spf + fsp;

    // Step 3: reduction (一减).
    let (red_in, red_out) = if reduce_ok && !rate.is_zero() {
        (round2(rate * inp), round2(rate * out))
    } else {
        (zero, zero)
    };
    let hospital_waived = free + red_in + red_out;
    let mut rem = Remainders {
        in_net: inp - red_in,
        out_net: out - red_out,
        rem_in: inp - red_in,
        rem_out: out - red_out,
    };

    // Step 4: layers.
    let (applies, superseded) = applying_layers(policy, claim, who);
    check_fund_payments(policy, claim, applies)?;
    let mut extra = vec![Accumulator::ZERO; policy.slots.len() - policy.layers.len()];
    let mut fund_paid = zero;
    let mut layers = Vec::with_capacity(policy.layers.len());
    for (ix, layer) in policy.layers.iter().enumerate() {
        if applies & (1 << ix) == 0 {
            let mut o = LayerOutcome::NOT_APPLIED;
            o.superseded = superseded & (1 << ix) != 0;
            layers.push(o);
            continue;
        }
        let acc = accs.get(ix).copied().unwrap_or_default();
        let base = match layer.base {
            Base::InPolicy => rem.rem_in,
            Base::All => rem.rem_in + rem.rem_out,
            Base::Gross => rem.in_net,
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
        let pay = match &layer.kind {
            LayerKind::Given => {
                let code = layer.effective_fund_code();
                let pay = given_pay(claim, code);
                if pay > base {
                    return Err(ClaimError::new(
                        None,
                        format!("fund_payments.{code}"),
                        format!(
                            "{} exceeds the amount that remains for layer `{}` ({})",
                            crate::money::fmt2(pay),
                            layer.id,
                            crate::money::fmt2(base)
                        ),
                    ));
                }
                o.uncapped = pay;
                pay
            }
            kind => {
                let pay = layer_pay(kind, claim, who, &rem, acc, o);
                o.uncapped = pay;
                limit_pay(policy, layer, claim, who, accs, &mut extra, pay, o)
            }
        };
        let pay = if layer.base == Base::Gross {
            pay.min(rem.rem_in)
        } else {
            pay
        };
        o.paid = pay;
        o.delta.paid = pay;
        record_extra(policy, layer, claim, pay, &mut extra);
        let from_in = pay.min(rem.rem_in);
        rem.rem_in -= from_in;
        rem.rem_out -= pay - from_in;
        fund_paid += pay;
    }

    // Step 5.
    let patient_payable = total - hospital_waived - fund_paid;
    Ok(Computation {
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
        extra,
        fund_paid,
        patient_payable,
        reimbursement_ratio: reimbursement_ratio(total, patient_payable),
        who,
        place: claim.place,
        referred: claim.referred,
    })
}

/// round4((total − patient_payable) / total), on integer fen: the quotient
/// to four places, half away from zero (both are ≥ 0); 0 when total is 0.
fn reimbursement_ratio(total: Decimal, patient_payable: Decimal) -> Decimal {
    if total.is_zero() {
        return Decimal::ZERO;
    }
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
}

/// A ratio or target layer's pay before cap and pool.
fn layer_pay(
    kind: &LayerKind,
    claim: &ResolvedClaim,
    who: Identity,
    rem: &Remainders,
    acc: Accumulator,
    o: &mut LayerOutcome,
) -> Decimal {
    match kind {
        LayerKind::Ratio {
            deductible,
            ratio,
            ratio_by_category,
            ratio_bonus,
            bands,
            ratio_adjust,
        } => {
            let ded = deductible
                .as_ref()
                .map_or(Decimal::ZERO, |d| deductible_of(d, who, o.base, acc, o));
            let eligible = o.base - ded;
            o.bonus = ratio_bonus
                .as_deref()
                .and_then(|t| highest(t, who.categories))
                .unwrap_or(Decimal::ZERO);
            o.adjust = ratio_adjust.for_claim(claim.referred, claim.place);
            let shift = if o.adjust.is_zero() {
                o.bonus
            } else {
                o.bonus + o.adjust
            };
            let raw = match bands {
                None => {
                    let r = ratio_by_category
                        .as_deref()
                        .and_then(|t| highest(t, who.categories))
                        .or_else(|| ratio.as_ref().map(|r: &ByLevel| r.get(who.level)))
                        .unwrap_or(Decimal::ZERO);
                    // ratios lie in [0, 1] (validated): no shift, no clamp
                    let r = if shift.is_zero() {
                        r
                    } else {
                        clamp_unit(r + shift)
                    };
                    o.ratio = Some(r);
                    eligible * r
                }
                Some(bands) => banded(bands, shift, acc.eligible_cum, eligible, o),
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
                rem.in_net + rem.out_net
            } else {
                rem.in_net
            };
            let allowed = round2((Decimal::ONE - *target_ratio) * reference);
            o.ratio = Some(*target_ratio);
            o.reference = reference;
            o.allowed = allowed;
            (o.base - allowed).max(Decimal::ZERO)
        }
        LayerKind::Given => Decimal::ZERO,
    }
}

#[inline]
fn clamp_unit(r: Decimal) -> Decimal {
    r.max(Decimal::ZERO).min(Decimal::ONE)
}

/// This claim's deductible (起付线) for a ratio layer.
fn deductible_of(
    d: &Deductible,
    who: Identity,
    base: Decimal,
    acc: Accumulator,
    o: &mut LayerOutcome,
) -> Decimal {
    let waived = d.waive.as_ref().is_some_and(|w| {
        w.categories.is_none_or(|m| m & who.categories != 0)
            && w.levels.is_none_or(|m| m & bit(who.level) != 0)
    });
    o.deductible_waived = waived;
    if waived {
        return Decimal::ZERO;
    }
    let mut full = d
        .by_category
        .as_deref()
        .and_then(|t| smallest(t, who.categories))
        .unwrap_or_else(|| d.amount.get(who.level));
    if let Some(f) = smallest(&d.factor, who.categories) {
        full = round2(full * f);
    }
    o.deductible_full = full;
    if d.per_year {
        base.min((full - acc.deductible_used).max(Decimal::ZERO))
    } else {
        base.min(full)
    }
}

/// Σ band ratio × |[lo, lo + eligible) ∩ band|, each ratio shifted by the
/// bonus and adjustment and clamped to [0, 1].
fn banded(
    bands: &[Band],
    shift: Decimal,
    lo: Decimal,
    eligible: Decimal,
    o: &mut LayerOutcome,
) -> Decimal {
    let hi = lo + eligible;
    let mut floor = Decimal::ZERO;
    let mut raw = Decimal::ZERO;
    // The ratio reported is that of the band the claim starts in.
    o.ratio = bands
        .iter()
        .find(|b| b.upto.is_none_or(|u| lo < u))
        .map(|b| clamp_unit(b.ratio + shift));
    for b in bands {
        let r = if shift.is_zero() {
            b.ratio
        } else {
            clamp_unit(b.ratio + shift)
        };
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

/// The per-group slot of a per-group cap for this claim.
fn group_slot(layer: &Layer, claim: &ResolvedClaim) -> Option<usize> {
    let gs = layer.group_slots.as_ref()?;
    let cap = layer.cap.as_ref()?;
    Some(
        cap.group_for(claim.groups)
            .and_then(|g| gs.by_group[g])
            .unwrap_or(gs.default),
    )
}

/// Apply the cap (封顶线) and the pool (共用限额) to a layer's pay.
#[allow(clippy::too_many_arguments)]
fn limit_pay(
    policy: &Policy,
    layer: &Layer,
    claim: &ResolvedClaim,
    who: Identity,
    accs: &[Accumulator],
    extra: &mut [Accumulator],
    mut pay: Decimal,
    o: &mut LayerOutcome,
) -> Decimal {
    let paid_of = |slot: usize, extra: &[Accumulator]| -> Decimal {
        accs.get(slot).map_or(Decimal::ZERO, |a| a.paid) + extra[slot - policy.layers.len()].paid
    };
    let mut remaining: Option<Decimal> = None;
    if let Some(cap) = layer
        .cap
        .as_ref()
        .filter(|c| c.exempt & who.categories == 0)
    {
        let amount = cap.amount_for_person(claim.groups, who.categories);
        o.cap = Some(amount);
        o.cap_paid_before = match group_slot(layer, claim) {
            Some(slot) => paid_of(slot, extra),
            None => o.before.paid,
        };
        let limit = if cap.per_year {
            (amount - o.cap_paid_before).max(Decimal::ZERO)
        } else {
            amount
        };
        if pay > limit {
            pay = limit;
            o.cap_limited = true;
        }
        remaining = Some(limit - pay);
    }
    if let Some(pool_ix) = layer.pool {
        let pool = &policy.pools[pool_ix];
        if let Some(amount) = pool.amount_for(who.categories) {
            o.pool_amount = Some(amount);
            let left = (amount - paid_of(policy.pool_slot(pool_ix), extra)).max(Decimal::ZERO);
            if pay > left {
                pay = left;
                o.cap_limited = true;
                o.pool_limited = true;
            }
            let after = left - pay;
            o.pool_remaining = Some(after);
            remaining = Some(remaining.map_or(after, |r| r.min(after)));
        }
    }
    o.remaining = remaining;
    pay
}

/// Add a layer's pay to its pool and per-group slots.
fn record_extra(
    policy: &Policy,
    layer: &Layer,
    claim: &ResolvedClaim,
    pay: Decimal,
    extra: &mut [Accumulator],
) {
    let l = policy.layers.len();
    if let Some(p) = layer.pool {
        extra[policy.pool_slot(p) - l].paid += pay;
    }
    if let Some(slot) = group_slot(layer, claim) {
        extra[slot - l].paid += pay;
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
