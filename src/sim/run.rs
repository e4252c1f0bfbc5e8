//! The replay: every person's claims under every policy, persons in
//! parallel, sums in integer fen.
//!
//! Why integer fen: every amount the engine returns is a whole number of
//! fen, so adding them as `i64` is exact, and integer addition does not care
//! in which order rayon's threads combine their partial sums — the result is
//! the same for one thread or sixty-four. Amounts become decimals again only
//! in the report.

use super::outcome::{
    Layout, PolicyAgg, PolicyInput, Raw, SimOptions, DIM_ALL, DIM_CATEGORY, DIM_LEVEL, DIM_MONTH,
    PAYERS,
};
use super::report::{self, SimReport};
use super::{ClaimSet, Progress, SimClaim, NONE};
use crate::engine::claim::{Identity, ResolvedClaim, ResolvedItem};
use crate::engine::policy::{Mask, Place};
use crate::engine::settle::Accumulator;
use crate::engine::{claim, settle, ClaimError, Policy};
use crate::money::to_fen;
use chrono::Datelike;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

struct Fold {
    policies: Vec<PolicyAgg>,
    rows: Vec<(u32, Vec<i64>)>,
}

/// A policy's view of a claim set's interned strings: what each level,
/// category list, medical type, diagnosis and item kind means under the
/// policy, computed once per distinct value with the policy's own look-ups
/// (`level_index`, `category_mask`, `medical_type_index`, `groups_of`,
/// `is_free_item_kind`).
pub(crate) struct Binding {
    level: Vec<Option<usize>>,
    cats: Vec<Option<Mask>>,
    medical_type: Vec<Option<usize>>,
    groups: Vec<Mask>,
    no_diagnosis: Mask,
    free: Vec<bool>,
}

impl Binding {
    pub fn new(set: &ClaimSet, p: &Policy) -> Binding {
        Binding {
            level: set.levels.iter().map(|l| p.level_index(l)).collect(),
            cats: set
                .category_lists
                .iter()
                .map(|l| p.category_mask(l).ok())
                .collect(),
            medical_type: set
                .medical_types
                .iter()
                .map(|m| p.medical_type_index(m))
                .collect(),
            groups: set.diagnoses.iter().map(|d| p.groups_of(Some(d))).collect(),
            no_diagnosis: p.groups_of(None),
            free: set.kinds.iter().map(|k| p.is_free_item_kind(k)).collect(),
        }
    }
}

/// Bind one claim to a policy: the identity and resolved claim that
/// `engine::claim::stated_identity` and `engine::claim::resolve` give for
/// it (a test holds the two to each other), written into `out` so that the
/// item buffer is reused. A claim the tables refuse goes to the engine
/// itself, which words the refusal.
pub(crate) fn bind(
    set: &ClaimSet,
    policy: &Policy,
    b: &Binding,
    c: &SimClaim,
    out: &mut ResolvedClaim,
) -> Result<Identity, ClaimError> {
    let level = if c.level == NONE {
        None
    } else {
        b.level[c.level as usize]
    };
    if let (Some(level), Some(categories), Some(medical_type), None) = (
        level,
        b.cats[c.categories as usize],
        b.medical_type[c.medical_type as usize],
        c.v2.as_ref(),
    ) {
        if policy.covers(c.discharged) {
            out.medical_type = medical_type;
            out.year = c.discharged.year();
            out.groups = if c.diagnosis == NONE {
                b.no_diagnosis
            } else {
                b.groups[c.diagnosis as usize]
            };
            out.items.clear();
            out.items.extend(c.items.iter().map(|it| ResolvedItem {
                class: it.class,
                amount_fen: it.amount_fen,
                limit_fen: (it.limit_fen >= 0).then_some(it.limit_fen),
                free_kind: b.free[it.kind as usize],
                self_pay: None,
            }));
            out.insurance_type = None;
            out.place = Place::County;
            out.referred = true;
            out.fund_payments = None;
            return Ok(Identity { categories, level });
        }
    }
    let claim = set.to_claim(c);
    let who = claim::stated_identity(policy, &claim)?;
    *out = claim::resolve(policy, &claim)?;
    Ok(who)
}

/// What one person's replay under one policy needs.
struct Ctx<'a> {
    set: &'a ClaimSet,
    policy: &'a Policy,
    binding: &'a Binding,
    lay: &'a Layout,
    max_refusals: usize,
}

/// Replay `set` under `policies` (the first is the baseline) and report.
pub fn simulate(
    set: &ClaimSet,
    policies: &[PolicyInput],
    opts: &SimOptions,
    progress: &dyn Progress,
) -> SimReport {
    let raw = replay(set, policies, opts, progress);
    report::build(set, policies, opts, &raw)
}

pub(crate) fn replay(
    set: &ClaimSet,
    policies: &[PolicyInput],
    opts: &SimOptions,
    progress: &dyn Progress,
) -> Raw {
    let (layouts, width) = layouts_of(policies);
    let bindings: Vec<Binding> = policies
        .iter()
        .map(|p| Binding::new(set, p.policy))
        .collect();
    progress.start("settling", set.claims.len() as u64);
    let Fold {
        policies: aggs,
        rows,
    } = replay_persons(
        set,
        policies,
        &bindings,
        &layouts,
        width,
        opts.max_refusals,
        progress,
    );
    progress.finish();
    let matrix = metric_matrix(rows, width);
    let t = std::time::Instant::now();
    let replicates = bootstrap_derived(&layouts, &matrix, width, opts, progress);
    if std::env::var_os("MEDAID_TIMING").is_some() {
        eprintln!(
            "timing: bootstrap {:?} ({} persons × {} columns)",
            t.elapsed(),
            matrix.len() / width.max(1),
            width
        );
    }
    Raw {
        layouts,
        policies: aggs,
        matrix,
        width,
        replicates,
    }
}

/// Each policy's block in the metric row, one after the other; and the
/// row's width.
fn layouts_of(policies: &[PolicyInput]) -> (Vec<Layout>, usize) {
    let mut layouts = Vec::with_capacity(policies.len());
    let mut width = 0;
    for p in policies {
        let l = Layout::new(p.policy, width);
        width += l.metric_width();
        layouts.push(l);
    }
    (layouts, width)
}

/// Every person under every policy, in parallel: the policies' sums and
/// one metric row per person (in no particular order).
fn replay_persons(
    set: &ClaimSet,
    policies: &[PolicyInput],
    bindings: &[Binding],
    layouts: &[Layout],
    width: usize,
    max_refusals: usize,
    progress: &dyn Progress,
) -> Fold {
    let new_fold = || Fold {
        policies: vec![PolicyAgg::default(); policies.len()],
        rows: Vec::new(),
    };
    set.persons
        .par_iter()
        .enumerate()
        .with_min_len(64)
        .fold(new_fold, |mut f, (pi, _)| {
            let claims = set.person_claims(pi);
            let mut row = vec![0i64; width];
            for (k, p) in policies.iter().enumerate() {
                let ctx = Ctx {
                    set,
                    policy: p.policy,
                    binding: &bindings[k],
                    lay: &layouts[k],
                    max_refusals,
                };
                replay_person(
                    &ctx,
                    claims,
                    &mut f.policies[k],
                    &mut row[layouts[k].offset..],
                );
            }
            f.rows.push((pi as u32, row));
            progress.inc(claims.len() as u64);
            f
        })
        .reduce(new_fold, |mut a, b| {
            for (x, y) in a.policies.iter_mut().zip(b.policies) {
                merge(x, y, max_refusals);
            }
            a.rows.extend(b.rows);
            a
        })
}

/// The persons' metric rows in [`ClaimSet::persons`] order, as one flat
/// matrix.
fn metric_matrix(mut rows: Vec<(u32, Vec<i64>)>, width: usize) -> Vec<i64> {
    rows.par_sort_unstable_by_key(|r| r.0);
    let mut matrix = Vec::with_capacity(rows.len() * width);
    for (_, r) in rows {
        matrix.extend_from_slice(&r);
    }
    matrix
}

fn merge(a: &mut PolicyAgg, b: PolicyAgg, max_refusals: usize) {
    for (k, v) in b.cells {
        match a.cells.get_mut(&k) {
            Some(x) => x.iter_mut().zip(&v).for_each(|(x, y)| *x += y),
            None => {
                a.cells.insert(k, v);
            }
        }
    }
    a.settled += b.settled;
    a.refused += b.refused;
    a.refusals.extend(b.refusals);
    a.refusals.sort_by_key(|r| r.0);
    a.refusals.truncate(max_refusals);
    a.person_years.extend(b.person_years);
}

/// One person's claims under one policy, with fresh annual accumulators.
fn replay_person(ctx: &Ctx, claims: &[SimClaim], agg: &mut PolicyAgg, metrics: &mut [i64]) {
    let (policy, lay, max_refusals) = (ctx.policy, ctx.lay, ctx.max_refusals);
    let mut resolved = ResolvedClaim {
        medical_type: 0,
        year: 0,
        groups: 0,
        items: Vec::with_capacity(16),
        insurance_type: None,
        place: Place::County,
        referred: true,
        fund_payments: None,
    };
    let pw = lay.person_width();
    // The person's own cells: (dim, key) → sums; persons are counted from
    // these once the person is done.
    let mut cells: Vec<((u8, u32), Vec<i64>)> = Vec::with_capacity(6);
    let mut line = vec![0i64; pw];
    let mut accs = vec![Accumulator::ZERO; policy.slots.len()];
    let mut year: Option<i32> = None;
    let (mut py_oop, mut py_total, mut py_any) = (0i64, 0i64, false);
    for c in claims {
        // What `engine::settle_stated` does: identity, resolve, settle.
        let who = match bind(ctx.set, policy, ctx.binding, c, &mut resolved) {
            Ok(w) => w,
            Err(e) => {
                refuse(agg, c.line as usize, e, max_refusals);
                continue;
            }
        };
        if year != Some(resolved.year) {
            if py_any {
                agg.person_years.push((py_oop, py_total));
            }
            (py_oop, py_total) = (0, 0);
            accs.iter_mut().for_each(|a| *a = Accumulator::ZERO);
            year = Some(resolved.year);
        }
        let comp = match settle::settle(policy, &resolved, who, &accs) {
            Ok(comp) => comp,
            Err(e) => {
                refuse(agg, c.line as usize, e.for_claim(&c.claim_id), max_refusals);
                continue;
            }
        };
        for (a, d) in accs.iter_mut().zip(comp.deltas()) {
            a.add(d);
        }
        agg.settled += 1;

        let (total, patient) = claim_line(lay, &comp, &mut line, metrics);
        for key in [
            (DIM_ALL, 0),
            (DIM_CATEGORY, ctx.set.set_of_list[c.categories as usize]),
            (DIM_MONTH, c.month_key()),
            (DIM_LEVEL, c.level),
        ] {
            match cells.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.iter_mut().zip(&line).for_each(|(x, y)| *x += y),
                None => cells.push((key, line.clone())),
            }
        }
        py_oop += patient;
        py_total += total;
        py_any = true;
    }
    if py_any {
        agg.person_years.push((py_oop, py_total));
    }
    add_person_cells(agg, lay, cells);
}

/// One settled claim as a cell line (`line`, overwritten) and added to the
/// person's metric row; returns its total and patient payable (fen).
fn claim_line(
    lay: &Layout,
    comp: &settle::Computation,
    line: &mut [i64],
    metrics: &mut [i64],
) -> (i64, i64) {
    let total = to_fen(comp.total);
    let waived = to_fen(comp.hospital_waived);
    let fund = to_fen(comp.fund_paid);
    let patient = to_fen(comp.patient_payable);
    line.iter_mut().for_each(|x| *x = 0);
    line[Layout::C_CLAIMS] = 1;
    line[Layout::C_TOTAL] = total;
    line[Layout::C_WAIVED] = waived;
    line[Layout::C_FUND] = fund;
    line[Layout::C_PATIENT] = patient;
    metrics[Layout::M_TOTAL] += total;
    metrics[Layout::M_WAIVED] += waived;
    metrics[Layout::M_FUND] += fund;
    metrics[Layout::M_PATIENT] += patient;
    for (i, o) in comp.layers.iter().enumerate() {
        if o.paid.is_zero() {
            continue;
        }
        let paid = to_fen(o.paid);
        let p = lay.payer_of_layer[i];
        line[lay.c_paid(i)] = paid;
        line[lay.c_claims(i)] = 1;
        line[lay.c_payer_paid(p)] += paid;
        line[lay.c_payer_claims(p)] = 1;
        metrics[lay.m_layer(i)] += paid;
        metrics[lay.m_payer(p)] += paid;
    }
    (total, patient)
}

/// A person's cells into the aggregate, counting the person once per
/// cell, layer and payer that paid them anything.
fn add_person_cells(agg: &mut PolicyAgg, lay: &Layout, cells: Vec<((u8, u32), Vec<i64>)>) {
    let cw = lay.cell_width();
    for (key, v) in cells {
        let cell = agg.cells.entry(key).or_insert_with(|| vec![0; cw]);
        for (x, y) in cell.iter_mut().zip(&v) {
            *x += y;
        }
        cell[lay.c_persons()] += 1;
        for i in 0..lay.layers {
            if v[lay.c_claims(i)] > 0 {
                cell[lay.c_layer_persons(i)] += 1;
            }
        }
        for p in 0..PAYERS {
            if v[lay.c_payer_claims(p)] > 0 {
                cell[lay.c_payer_persons(p)] += 1;
            }
        }
    }
}

fn refuse(agg: &mut PolicyAgg, line: usize, e: ClaimError, max: usize) {
    agg.refused += 1;
    if agg.refusals.len() < max || agg.refusals.last().is_some_and(|l| l.0 > line) {
        agg.refusals.push((line, e));
        agg.refusals.sort_by_key(|r| r.0);
        agg.refusals.truncate(max);
    }
}

/// Bootstrap the columns that are not sums of others — each policy's total,
/// hospital waivers and layers — and derive the rest per replicate from the
/// conservation rules (fund = Σ layers, payer = Σ its layers, patient =
/// total − waived − fund), which hold exactly for every claim and hence for
/// every resample.
fn bootstrap_derived(
    layouts: &[Layout],
    matrix: &[i64],
    width: usize,
    opts: &SimOptions,
    progress: &dyn Progress,
) -> Vec<Vec<i64>> {
    let n = matrix.len().checked_div(width).unwrap_or(0);
    let base: Vec<usize> = layouts
        .iter()
        .flat_map(|l| {
            [l.offset + Layout::M_TOTAL, l.offset + Layout::M_WAIVED]
                .into_iter()
                .chain((0..l.layers).map(|i| l.offset + l.m_layer(i)))
        })
        .collect();
    let b = base.len();
    let mut small = Vec::with_capacity(n * b);
    for r in 0..n {
        small.extend(base.iter().map(|&c| matrix[r * width + c]));
    }
    bootstrap(&small, b, opts.bootstrap, opts.seed, progress)
        .into_iter()
        .map(|rb| {
            let mut full = vec![0i64; width];
            for (k, &c) in base.iter().enumerate() {
                full[c] = rb[k];
            }
            for l in layouts {
                let o = l.offset;
                let mut fund = 0;
                for i in 0..l.layers {
                    let v = full[o + l.m_layer(i)];
                    fund += v;
                    full[o + l.m_payer(l.payer_of_layer[i])] += v;
                }
                full[o + Layout::M_FUND] = fund;
                full[o + Layout::M_PATIENT] =
                    full[o + Layout::M_TOTAL] - full[o + Layout::M_WAIVED] - fund;
            }
            full
        })
        .collect()
}

/// Replicates processed together, so that the matrix is streamed once per
/// block rather than once per replicate.
const BLOCK: usize = 8;

/// Bootstrap over persons: replicate `b` draws `n` persons with
/// replacement from a ChaCha8 stream (`seed`, stream `b`) and sums their
/// rows. Each replicate depends only on the seed and its number, so the
/// result does not depend on the thread count.
pub(crate) fn bootstrap(
    matrix: &[i64],
    width: usize,
    replicates: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Vec<Vec<i64>> {
    let n = matrix.len().checked_div(width).unwrap_or(0);
    if replicates == 0 || n == 0 {
        return Vec::new();
    }
    progress.start("bootstrap", replicates as u64);
    let (active, same_as) = distinct_columns(matrix, width, n);
    // Sums in f64 are exact integers while every partial sum stays below
    // 2^53: a replicate draws n persons, so n × max |v| bounds them. Beyond
    // that (never for a county's claims) the sums are taken in i64.
    let max_abs = active
        .iter()
        .flat_map(|&c| (0..n).map(move |r| matrix[r * width + c].unsigned_abs()))
        .max()
        .unwrap_or(0);
    let exact_in_f64 = (max_abs as u128) * (n as u128) < (1u128 << 53);
    let compact: Vec<f64> = if exact_in_f64 {
        (0..n)
            .flat_map(|r| active.iter().map(move |&c| matrix[r * width + c] as f64))
            .collect()
    } else {
        Vec::new()
    };
    let blocks: Vec<usize> = (0..replicates.div_ceil(BLOCK)).collect();
    let out: Vec<Vec<Vec<i64>>> = blocks
        .par_iter()
        .map(|&blk| {
            let first = blk * BLOCK;
            let k = BLOCK.min(replicates - first);
            let counts = block_counts(seed, first, k, n);
            let sums = if exact_in_f64 {
                block_sums_f64(&counts, &compact, &active, &same_as, width, k)
            } else {
                block_sums_i64(&counts, matrix, width, k)
            };
            progress.inc(k as u64);
            sums
        })
        .collect();
    progress.finish();
    out.into_iter().flatten().collect()
}

/// The columns to resample, and the others that equal one of them:
/// (column, distinct column it equals). Columns that are zero for everyone
/// (a payer no policy has) stay zero, and a column equal to an earlier one
/// (a layer two policies share) has the same sums.
fn distinct_columns(matrix: &[i64], width: usize, n: usize) -> (Vec<usize>, Vec<(usize, usize)>) {
    let column = |c: usize| (0..n).map(move |r| matrix[r * width + c]);
    let nonzero: Vec<usize> = (0..width).filter(|&c| column(c).any(|v| v != 0)).collect();
    let hashes: Vec<u64> = nonzero
        .iter()
        .map(|&c| column(c).fold(0u64, |h, v| super::mix64(h ^ v as u64)))
        .collect();
    let mut active: Vec<usize> = Vec::new();
    let mut same_as: Vec<(usize, usize)> = Vec::new();
    for (i, &c) in nonzero.iter().enumerate() {
        let twin = nonzero[..i]
            .iter()
            .zip(&hashes)
            .find(|(&d, &h)| h == hashes[i] && active.contains(&d) && column(d).eq(column(c)));
        match twin {
            Some((&d, _)) => same_as.push((c, d)),
            None => active.push(c),
        }
    }
    (active, same_as)
}

/// How often each person is drawn in replicate `stream`. One small array
/// per replicate keeps the random increments in cache (u16: 800 kB for
/// 400,000 persons). A count that would pass 65,535 (never seen; the
/// expected count is 1) makes the replicate recount in u32, so the draw is
/// the same either way.
fn draw_counts(seed: u64, stream: u64, n: usize) -> Vec<u32> {
    let n32 = n as u32; // persons are indexed by u32 throughout
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut c16 = vec![0u16; n];
    let mut overflow = false;
    for _ in 0..n {
        let c = &mut c16[rng.gen_range(0..n32) as usize];
        overflow |= *c == u16::MAX;
        *c = c.saturating_add(1);
    }
    if !overflow {
        return c16.into_iter().map(u32::from).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut c32 = vec![0u32; n];
    for _ in 0..n {
        c32[rng.gen_range(0..n32) as usize] += 1;
    }
    c32
}

/// The draw counts of replicates `first..first + k`, interleaved row by
/// row: person → one weight per replicate of the block.
fn block_counts(seed: u64, first: usize, k: usize, n: usize) -> Vec<[f64; BLOCK]> {
    let per: Vec<Vec<u32>> = (0..k)
        .map(|j| draw_counts(seed, (first + j) as u64, n))
        .collect();
    (0..n)
        .map(|r| {
            let mut w = [0f64; BLOCK];
            for (j, c) in per.iter().enumerate() {
                w[j] = c[r] as f64;
            }
            w
        })
        .collect()
}

/// A block's replicate sums in f64 over the distinct columns (`compact`,
/// exact: see [`bootstrap`]), copied to their twins.
fn block_sums_f64(
    counts: &[[f64; BLOCK]],
    compact: &[f64],
    active: &[usize],
    same_as: &[(usize, usize)],
    width: usize,
    k: usize,
) -> Vec<Vec<i64>> {
    let a = active.len();
    let mut sums = vec![vec![0i64; width]; k];
    let mut acc = vec![[0f64; BLOCK]; a];
    for (r, w) in counts.iter().enumerate() {
        let row = &compact[r * a..(r + 1) * a];
        for (s, &v) in acc.iter_mut().zip(row) {
            for j in 0..BLOCK {
                s[j] += w[j] * v;
            }
        }
    }
    for (c, s) in active.iter().zip(&acc) {
        for j in 0..k {
            sums[j][*c] = s[j] as i64;
        }
    }
    for &(c, d) in same_as {
        for row in sums.iter_mut() {
            row[c] = row[d];
        }
    }
    sums
}

/// A block's replicate sums in i64, for sums too large for f64 to hold
/// exactly.
fn block_sums_i64(
    counts: &[[f64; BLOCK]],
    matrix: &[i64],
    width: usize,
    k: usize,
) -> Vec<Vec<i64>> {
    let mut sums = vec![vec![0i64; width]; k];
    for (r, w) in counts.iter().enumerate() {
        let row = &matrix[r * width..(r + 1) * width];
        for j in 0..k {
            let c = w[j] as i64;
            if c != 0 {
                for (s, v) in sums[j].iter_mut().zip(row) {
                    *s += c * v;
                }
            }
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::NoProgress;

    /// The binding tables must give exactly what the engine's own
    /// `stated_identity` and `resolve` give, for every claim and policy.
    #[test]
    fn binding_agrees_with_the_engine() {
        use crate::sim::generate::{GenOptions, Generator};
        use crate::sim::{ClaimSet, Growth};
        let texts = [
            include_str!("../../fixtures/policies/wolong-2017.toml"),
            include_str!("../../fixtures/policies/wolong-2023.toml"),
            include_str!("../../fixtures/design/policy.toml"),
        ];
        let policies: Vec<Policy> = texts
            .iter()
            .map(|t| Policy::from_toml(t, "t").unwrap())
            .collect();
        let mut claims = Vec::new();
        for (p, year) in [(&policies[0], 2017), (&policies[1], 2023)] {
            let g = Generator::new(
                p,
                &GenOptions {
                    persons: 150,
                    year,
                    seed: 5,
                    ..Default::default()
                },
            )
            .unwrap();
            claims.extend(g.persons().into_iter().flat_map(|p| p.claims));
        }
        // Odd claims: spelling, absent and undeclared ids.
        let base = claims[0].clone();
        let mut odd = Vec::new();
        for k in 0..9 {
            let mut c = base.clone();
            c.claim_id = format!("odd-{k}");
            match k {
                0 => c.diagnoses = vec!["  c34.1 ".into()],
                1 => c.diagnoses.clear(),
                2 => c.hospital_level = None,
                3 => c.hospital_level = Some("moon".into()),
                4 => c.categories = vec!["dibao".into(), "nobody".into()],
                5 => c.medical_type = "daycare".into(),
                6 => c.items[0].kind = " Registration ".into(),
                7 => c.categories.clear(),
                _ => c.categories = vec!["poverty".into(), "dibao".into(), "poverty".into()],
            }
            odd.push(c);
        }
        claims.extend(odd);
        let set = ClaimSet::from_claims(&claims, Growth::default());
        let by_id: std::collections::HashMap<&str, &crate::engine::Claim> =
            claims.iter().map(|c| (c.claim_id.as_str(), c)).collect();
        let mut refused = 0;
        for p in &policies {
            let b = Binding::new(&set, p);
            let mut out = ResolvedClaim {
                medical_type: 0,
                year: 0,
                groups: 0,
                items: Vec::new(),
                insurance_type: None,
                place: Place::County,
                referred: true,
                fund_payments: None,
            };
            for c in &set.claims {
                let original = by_id[&*c.claim_id];
                let engine = claim::stated_identity(p, original)
                    .and_then(|who| claim::resolve(p, original).map(|r| (who, r)));
                let ours = bind(&set, p, &b, c, &mut out).map(|who| (who, out.clone()));
                assert_eq!(ours, engine, "policy {} claim {}", p.id, c.claim_id);
                refused += usize::from(engine.is_err());
            }
        }
        assert!(
            refused > 100,
            "the odd claims and other years are refused: {refused}"
        );
    }

    #[test]
    fn bootstrap_is_reproducible_and_thread_independent() {
        let matrix: Vec<i64> = (0..3000).map(|x| (x * 7919) % 1000).collect();
        let a = bootstrap(&matrix, 3, 50, 42, &NoProgress);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| bootstrap(&matrix, 3, 50, 42, &NoProgress));
        assert_eq!(a, b);
        assert_eq!(a.len(), 50);
        let c = bootstrap(&matrix, 3, 50, 43, &NoProgress);
        assert_ne!(a, c);
        // the i64 path (huge values) gives the same sums as the f64 path
        let big: Vec<i64> = matrix.iter().map(|v| v * (1 << 40)).collect();
        let d = bootstrap(&big, 3, 50, 42, &NoProgress);
        for (x, y) in a.iter().zip(&d) {
            assert_eq!(x.iter().map(|v| v * (1 << 40)).collect::<Vec<_>>(), *y);
        }
        // each replicate draws as many persons as there are
        let ones = vec![1i64; 1000];
        assert!(bootstrap(&ones, 1, 9, 1, &NoProgress)
            .iter()
            .all(|r| r[0] == 1000));
    }
}
