//! Funding-gap simulation (资金测算): replay a year of claims under a
//! baseline policy and one or more scenario policies, with the same engine
//! that settles real claims, and report what every payer would pay.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`load`] reads claims (JSON lines as `medaid settle` reads them, in
//!   parallel) into [`Claim`]s, each with its input line.
//! - [`Builder::finish`] applies growth assumptions ([`Growth`]) and groups
//!   the claims by person in settlement order (discharge date, then claim
//!   id). It takes a plain `Vec` of claims, so the service's
//!   `POST /v1/simulations` can pass the claims it stored for a date range
//!   (with the registry's categories and the directory's levels already
//!   written into each claim) and reuse everything below.
//! - [`run::simulate`] settles every person's claims under every policy
//!   with fresh annual accumulators — persons in parallel (rayon), each
//!   claim through `engine::claim::stated_identity`, `engine::claim::resolve`
//!   and `engine::settle::settle`, exactly as `medaid settle` does — and
//!   aggregates in integer fen, so sums are exact and independent of the
//!   number of threads. A seeded bootstrap over persons gives a 90 %
//!   interval for every total and gap.
//! - [`report`] is the result ([`report::SimReport`], serialisable to the
//!   documented JSON), its CSV tables and a text summary; [`html`] renders
//!   the self-contained printable report with SVG charts.
//! - [`generate`] makes synthetic populations for demos, tests and load.

mod budget;
pub mod generate;
pub mod html;
pub mod load;
pub mod outcome;
pub mod report;
pub mod run;

use crate::engine::claim::{Day, Item, ItemClass};
use crate::engine::Claim;
use crate::money::{from_fen, round2, to_fen, Amount};
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::RwLock;

pub use budget::{Budget, BudgetTarget};
pub use outcome::{PolicyInput, SimOptions};
pub use run::simulate;

/// Progress of a long run. The command line shows an indicatif bar; the
/// service and the tests pass [`NoProgress`].
pub trait Progress: Sync {
    /// A new stage of `len` steps begins.
    fn start(&self, _stage: &str, _len: u64) {}
    /// `n` more steps are done.
    fn inc(&self, _n: u64) {}
    /// The stage is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A claim that cannot be read (not a question of policy).
    #[error("{file}: line {line}: {error}")]
    Claim {
        file: String,
        line: usize,
        error: crate::engine::ClaimError,
    },
    #[error("{0}")]
    Input(String),
    #[error("--budget {0:?}: {1}")]
    Budget(String, String),
}

/// Growth assumptions applied to the claims before they are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    /// Relative change in the number of claims (`0.05` = 5 % more). Each
    /// claim is kept `floor(1 + g)` times, plus once more when its seeded
    /// hash falls below the fractional part; copies get the claim id
    /// `ID#k`. A negative growth drops claims the same way.
    pub volume: Decimal,
    /// Relative change in prices: every item amount is multiplied by
    /// `1 + p` and rounded to the fen. `limit_amount` (限价) is a price cap
    /// set by policy and does not move.
    pub price: Decimal,
    /// Seed of the volume hash.
    pub seed: u64,
}

impl Default for Growth {
    fn default() -> Self {
        Growth {
            volume: Decimal::ZERO,
            price: Decimal::ZERO,
            seed: 42,
        }
    }
}

/// Marks an absent optional id (hospital level, diagnosis).
pub const NONE: u32 = u32::MAX;

/// One line item, compact: amounts in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimItem {
    pub amount_fen: i64,
    /// `limit_amount` in fen; negative when the item has none.
    pub limit_fen: i64,
    /// Index into [`ClaimSet::kinds`].
    pub kind: u32,
    pub class: ItemClass,
}

/// One claim ready to replay: what the engine reads, with every string it
/// matches on interned (a million claims fit in a few hundred megabytes
/// and are bound to a policy by table look-ups).
#[derive(Debug, Clone)]
pub struct SimClaim {
    pub claim_id: Box<str>,
    pub person_id: Box<str>,
    /// Line of the input the claim came from (its position when it came
    /// from memory).
    pub line: u32,
    pub admitted: NaiveDate,
    pub discharged: NaiveDate,
    /// Index into [`ClaimSet::levels`], or [`NONE`].
    pub level: u32,
    /// Index into [`ClaimSet::category_lists`] (the claim's categories in
    /// the order it lists them).
    pub categories: u32,
    /// Index into [`ClaimSet::medical_types`].
    pub medical_type: u32,
    /// Primary diagnosis: index into [`ClaimSet::diagnoses`], or [`NONE`].
    pub diagnosis: u32,
    pub items: Box<[SimItem]>,
    /// The version-2 fields of a claim that has any (rare in history
    /// files); such a claim is bound by the engine's own `resolve`.
    pub v2: Option<Box<ClaimV2>>,
}

/// The version-2 claim fields the compact form does not intern.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimV2 {
    pub insurance_type: Option<String>,
    pub hospital_region: Option<String>,
    pub insured_region: Option<String>,
    pub referral: Option<bool>,
    pub fund_payments: Option<std::collections::BTreeMap<String, Amount>>,
    /// One per item.
    pub self_pay_ratios: Vec<Option<crate::engine::claim::Share>>,
}

impl ClaimV2 {
    /// The claim's version-2 fields, `None` when it has none.
    pub fn of(c: &Claim) -> Option<Box<ClaimV2>> {
        let any = c.insurance_type.is_some()
            || c.hospital_region.is_some()
            || c.insured_region.is_some()
            || c.referral.is_some()
            || c.fund_payments.is_some()
            || c.items.iter().any(|it| it.self_pay_ratio.is_some());
        any.then(|| {
            Box::new(ClaimV2 {
                insurance_type: c.insurance_type.clone(),
                hospital_region: c.hospital_region.clone(),
                insured_region: c.insured_region.clone(),
                referral: c.referral,
                fund_payments: c.fund_payments.clone(),
                self_pay_ratios: c.items.iter().map(|it| it.self_pay_ratio).collect(),
            })
        })
    }
}

impl SimClaim {
    /// `year * 12 + month - 1` of the discharge date.
    pub fn month_key(&self) -> u32 {
        (self.discharged.year() * 12 + self.discharged.month0() as i32).max(0) as u32
    }
}

/// FNV-1a: a fast hash for the short strings interned here (SipHash, std's
/// default, costs more than the look-up it protects).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);
impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}
impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

static BUILDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One thread's copy of what it has interned for one builder: most
/// look-ups never touch the shared lock.
#[derive(Default)]
struct Local {
    builder: u64,
    maps: [FnvMap<Box<str>, u32>; 5],
}

thread_local! {
    static LOCAL: std::cell::RefCell<Local> = Default::default();
}

/// Strings interned while claims are parsed in parallel: under a read
/// lock, and only a value not seen before takes the write lock. There are
/// few distinct values (levels, categories, kinds, diagnoses), and each
/// thread keeps its own copy of those it has seen (see [`Builder::parts`]).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    map: RwLock<FnvMap<Box<str>, u32>>,
}

impl Interner {
    fn shared(&self, s: &str) -> u32 {
        if let Some(&i) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(s) {
            return i;
        }
        let mut w = self.map.write().unwrap_or_else(|e| e.into_inner());
        let n = w.len() as u32;
        *w.entry(s.into()).or_insert(n)
    }
    /// The values in sorted order, and a map from provisional to final ids
    /// (so that the result does not depend on which thread saw what first).
    fn finish(self) -> (Vec<String>, Vec<u32>) {
        let map = self.map.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut pairs: Vec<(Box<str>, u32)> = map.into_iter().collect();
        pairs.sort();
        let mut remap = vec![0u32; pairs.len()];
        let mut names = Vec::with_capacity(pairs.len());
        for (i, (name, old)) in pairs.into_iter().enumerate() {
            remap[old as usize] = i as u32;
            names.push(name.into());
        }
        (names, remap)
    }
}

/// Separator of the categories in an interned category list (a control
/// character no category id contains in practice; the list is split back
/// on it).
const SEP: char = '\u{1f}';

/// Builds a [`ClaimSet`]: interns the strings of claims handed to it from
/// any number of threads.
#[derive(Debug)]
pub struct Builder {
    serial: u64,
    /// Levels, category lists, medical types, diagnoses, item kinds.
    interners: [Interner; 5],
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            serial: BUILDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            interners: Default::default(),
        }
    }
}

const LEVELS: usize = 0;
const LISTS: usize = 1;
const TYPES: usize = 2;
const DIAGNOSES: usize = 3;
const KINDS: usize = 4;

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn category_key<S: AsRef<str>>(cats: &[S]) -> Cow<'_, str> {
        match cats {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(one.as_ref()),
            many => {
                let mut key = String::new();
                for (i, c) in many.iter().enumerate() {
                    if i > 0 {
                        key.push(SEP);
                    }
                    key.push_str(c.as_ref());
                }
                Cow::Owned(key)
            }
        }
    }

    /// A claim parsed by the engine (the service's stored claims, XML, or
    /// the slow path of the reader).
    pub fn claim(&self, c: &Claim, line: u32) -> SimClaim {
        let mut out = self.parts(
            &c.claim_id,
            &c.person_id,
            line,
            c.admitted_on.0,
            c.discharged_on.0,
            c.hospital_level.as_deref(),
            &c.categories,
            &c.medical_type,
            c.diagnoses.first().map(String::as_str),
            c.items.iter().map(|it| {
                (
                    it.class,
                    to_fen(it.amount.0),
                    it.limit_amount.map(|a| to_fen(a.0)),
                    it.kind.as_str(),
                )
            }),
        );
        out.v2 = ClaimV2::of(c);
        out
    }

    /// A claim from its parts (the fast reader borrows them from the
    /// input line).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn parts<'a, S: AsRef<str>>(
        &self,
        claim_id: &str,
        person_id: &str,
        line: u32,
        admitted: NaiveDate,
        discharged: NaiveDate,
        level: Option<&str>,
        categories: &[S],
        medical_type: &str,
        diagnosis: Option<&str>,
        items: impl Iterator<Item = (ItemClass, i64, Option<i64>, &'a str)>,
    ) -> SimClaim {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.builder != self.serial {
                *local = Local {
                    builder: self.serial,
                    ..Local::default()
                };
            }
            let mut id = |k: usize, s: &str| -> u32 {
                if let Some(&i) = local.maps[k].get(s) {
                    return i;
                }
                let i = self.interners[k].shared(s);
                local.maps[k].insert(s.into(), i);
                i
            };
            SimClaim {
                claim_id: claim_id.into(),
                person_id: person_id.into(),
                line,
                admitted,
                discharged,
                level: level.map_or(NONE, |l| id(LEVELS, l)),
                categories: id(LISTS, &Self::category_key(categories)),
                medical_type: id(TYPES, medical_type),
                diagnosis: diagnosis.map_or(NONE, |d| id(DIAGNOSES, d)),
                items: items
                    .map(|(class, amount, limit, kind)| SimItem {
                        amount_fen: amount,
                        limit_fen: limit.unwrap_or(-1),
                        kind: id(KINDS, kind),
                        class,
                    })
                    .collect(),
                v2: None,
            }
        })
    }

    /// Apply `growth` and group the claims by person in settlement order.
    pub fn finish(self, mut claims: Vec<SimClaim>, growth: Growth) -> ClaimSet {
        let [levels, lists, medical_types, diagnoses, kinds] = self.interners;
        let (levels, rl) = levels.finish();
        let (lists, rc) = lists.finish();
        let (medical_types, rm) = medical_types.finish();
        let (diagnoses, rd) = diagnoses.finish();
        let (kinds, rk) = kinds.finish();
        claims.par_iter_mut().for_each(|c| {
            if c.level != NONE {
                c.level = rl[c.level as usize];
            }
            c.categories = rc[c.categories as usize];
            c.medical_type = rm[c.medical_type as usize];
            if c.diagnosis != NONE {
                c.diagnosis = rd[c.diagnosis as usize];
            }
            for it in c.items.iter_mut() {
                it.kind = rk[it.kind as usize];
            }
        });
        let category_lists: Vec<Vec<String>> = lists
            .iter()
            .map(|l| {
                if l.is_empty() {
                    Vec::new()
                } else {
                    l.split(SEP).map(str::to_string).collect()
                }
            })
            .collect();

        let claims_read = claims.len();
        let (claims, duplicated, dropped) = grow(claims, &growth);
        let (claims, persons) = in_settlement_order(claims);
        let (category_sets, set_of_list) = category_sets(&category_lists);
        ClaimSet {
            claims,
            persons,
            levels,
            category_lists,
            medical_types,
            diagnoses,
            kinds,
            category_sets,
            set_of_list,
            claims_read,
            duplicated,
            dropped,
            growth,
        }
    }
}
/// Apply price and volume growth: (claims, copies added, claims dropped).
fn grow(mut claims: Vec<SimClaim>, growth: &Growth) -> (Vec<SimClaim>, usize, usize) {
    let (mut duplicated, mut dropped) = (0, 0);
    if !growth.price.is_zero() {
        let factor = Decimal::ONE + growth.price;
        claims.par_iter_mut().for_each(|c| {
            for it in c.items.iter_mut() {
                it.amount_fen = to_fen(grow_price(from_fen(it.amount_fen), factor));
            }
        });
    }
    if !growth.volume.is_zero() {
        let mut out = Vec::with_capacity(claims.len() + claims.len() / 8);
        for c in claims {
            let n = copies(growth, &c.claim_id);
            if n == 0 {
                dropped += 1;
                continue;
            }
            for k in 1..n {
                let mut copy = c.clone();
                copy.claim_id = format!("{}#{k}", c.claim_id).into();
                out.push(copy);
                duplicated += 1;
            }
            out.push(c);
        }
        claims = out;
    }
    (claims, duplicated, dropped)
}

/// Settlement order: person, discharge date, claim id, input line; and
/// each person's range of claims.
fn in_settlement_order(mut claims: Vec<SimClaim>) -> (Vec<SimClaim>, Vec<PersonClaims>) {
    claims.par_sort_unstable_by(|a, b| {
        a.person_id
            .cmp(&b.person_id)
            .then(a.discharged.cmp(&b.discharged))
            .then_with(|| a.claim_id.cmp(&b.claim_id))
            .then(a.line.cmp(&b.line))
    });
    let mut persons: Vec<PersonClaims> = Vec::new();
    for (i, c) in claims.iter().enumerate() {
        match persons.last_mut() {
            Some(p) if *p.id == *c.person_id => p.range.end = i + 1,
            _ => persons.push(PersonClaims {
                id: c.person_id.to_string(),
                range: i..i + 1,
            }),
        }
    }
    (claims, persons)
}

/// Report keys: category combinations as sets (the distinct sets, and the
/// set of each category list).
fn category_sets(category_lists: &[Vec<String>]) -> (Vec<Vec<String>>, Vec<u32>) {
    let mut set_ix: HashMap<Vec<String>, u32> = HashMap::new();
    let mut category_sets: Vec<Vec<String>> = Vec::new();
    let mut set_of_list = Vec::with_capacity(category_lists.len());
    for l in category_lists {
        let mut s: Vec<String> = l.iter().map(|c| c.trim().to_string()).collect();
        s.sort();
        s.dedup();
        let k = *set_ix.entry(s.clone()).or_insert_with(|| {
            category_sets.push(s);
            (category_sets.len() - 1) as u32
        });
        set_of_list.push(k);
    }
    (category_sets, set_of_list)
}

/// One person's claims: a range of [`ClaimSet::claims`].
#[derive(Debug, Clone)]
pub struct PersonClaims {
    pub id: String,
    pub range: Range<usize>,
}

/// Claims grouped by person, each person's in settlement order (discharge
/// date, then claim id, then input line); persons sorted by id. The
/// interned strings are sorted, so a set built from the same claims is the
/// same whatever the thread count.
#[derive(Debug, Clone, Default)]
pub struct ClaimSet {
    pub claims: Vec<SimClaim>,
    pub persons: Vec<PersonClaims>,
    pub levels: Vec<String>,
    pub category_lists: Vec<Vec<String>>,
    pub medical_types: Vec<String>,
    pub diagnoses: Vec<String>,
    pub kinds: Vec<String>,
    /// Category combinations (each sorted), the report's category keys.
    pub category_sets: Vec<Vec<String>>,
    /// Category list → category set.
    pub set_of_list: Vec<u32>,
    /// Claims before growth.
    pub claims_read: usize,
    /// Copies added by volume growth.
    pub duplicated: usize,
    /// Claims dropped by (negative) volume growth.
    pub dropped: usize,
    pub growth: Growth,
}

impl ClaimSet {
    /// Claims from memory (the service's stored claims, with the registry's
    /// categories and the directory's levels written into them); lines are
    /// numbered from 1 in the order given.
    pub fn from_claims(claims: &[Claim], growth: Growth) -> ClaimSet {
        let b = Builder::new();
        let compact: Vec<SimClaim> = claims
            .par_iter()
            .enumerate()
            .map(|(i, c)| b.claim(c, i as u32 + 1))
            .collect();
        b.finish(compact, growth)
    }

    pub fn person_claims(&self, p: usize) -> &[SimClaim] {
        &self.claims[self.persons[p].range.clone()]
    }

    /// The claim as the engine's [`Claim`] (item codes and names are not
    /// kept). The replay uses it to let the engine itself word a refusal.
    pub fn to_claim(&self, c: &SimClaim) -> Claim {
        let mut claim = Claim {
            claim_id: c.claim_id.to_string(),
            hospital: String::new(),
            hospital_level: (c.level != NONE).then(|| self.levels[c.level as usize].clone()),
            person_id: c.person_id.to_string(),
            categories: self.category_lists[c.categories as usize].clone(),
            medical_type: self.medical_types[c.medical_type as usize].clone(),
            admitted_on: Day(c.admitted),
            discharged_on: Day(c.discharged),
            diagnoses: if c.diagnosis == NONE {
                Vec::new()
            } else {
                vec![self.diagnoses[c.diagnosis as usize].clone()]
            },
            items: c
                .items
                .iter()
                .map(|it| Item {
                    code: String::new(),
                    name: String::new(),
                    kind: self.kinds[it.kind as usize].clone(),
                    class: it.class,
                    amount: Amount(from_fen(it.amount_fen)),
                    limit_amount: (it.limit_fen >= 0).then(|| Amount(from_fen(it.limit_fen))),
                    self_pay_ratio: None,
                })
                .collect(),
            insurance_type: None,
            hospital_region: None,
            insured_region: None,
            referral: None,
            fund_payments: None,
        };
        if let Some(v) = c.v2.as_deref() {
            claim.insurance_type = v.insurance_type.clone();
            claim.hospital_region = v.hospital_region.clone();
            claim.insured_region = v.insured_region.clone();
            claim.referral = v.referral;
            claim.fund_payments = v.fund_payments.clone();
            for (it, r) in claim.items.iter_mut().zip(&v.self_pay_ratios) {
                it.self_pay_ratio = *r;
            }
        }
        claim
    }
}

/// A stable 64-bit mix (splitmix64): the same on every platform and Rust
/// version, unlike `std`'s hasher.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string, then mixed with `seed`.
pub(crate) fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix64(h ^ mix64(seed))
}

/// How many times a claim appears under volume growth `g` (see [`Growth`]).
fn copies(growth: &Growth, claim_id: &str) -> usize {
    if growth.volume.is_zero() {
        return 1;
    }
    let m = Decimal::ONE + growth.volume;
    if m <= Decimal::ZERO {
        return 0;
    }
    let whole = m.trunc();
    let frac = m - whole;
    let whole: usize = whole.try_into().unwrap_or(0);
    // u < frac with u uniform on [0, 1): compare in 2^-64 units.
    let frac_f: f64 = frac.try_into().unwrap_or(0.0);
    let threshold = (frac_f * 18_446_744_073_709_551_616.0) as u64;
    whole + usize::from(hash_str(growth.seed, claim_id) < threshold)
}

/// Scale one amount by `1 + p`, rounded to the fen.
fn grow_price(amount: Decimal, factor: Decimal) -> Decimal {
    round2(amount * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn claim(id: &str, person: &str, day: &str) -> Claim {
        let mut c =
            crate::engine::claim::parse_json(include_str!("../../fixtures/design/claim.json"))
                .unwrap();
        c.claim_id = id.into();
        c.person_id = person.into();
        c.discharged_on = crate::engine::claim::Day(day.parse().unwrap());
        c.admitted_on = c.discharged_on;
        c
    }

    #[test]
    fn groups_by_person_in_settlement_order() {
        let set = ClaimSet::from_claims(
            &[
                claim("b", "P2", "2017-03-01"),
                claim("z", "P1", "2017-05-01"),
                claim("a", "P1", "2017-05-01"),
                claim("c", "P1", "2017-01-09"),
            ],
            Growth::default(),
        );
        assert_eq!(set.persons.len(), 2);
        assert_eq!(set.persons[0].id, "P1");
        let ids: Vec<&str> = set.person_claims(0).iter().map(|c| &*c.claim_id).collect();
        assert_eq!(ids, ["c", "a", "z"]);
        assert_eq!(set.person_claims(1)[0].line, 1);
    }

    #[test]
    fn volume_growth_is_seeded_and_close_to_the_rate() {
        let claims: Vec<Claim> = (0..4000)
            .map(|i| claim(&format!("C{i}"), &format!("P{}", i % 300), "2017-06-01"))
            .collect();
        let g = Growth {
            volume: dec!(0.05),
            ..Growth::default()
        };
        let a = ClaimSet::from_claims(&claims, g);
        let b = ClaimSet::from_claims(&claims, g);
        assert_eq!(a.duplicated, b.duplicated);
        assert!((150..250).contains(&a.duplicated), "{}", a.duplicated);
        assert_eq!(a.claims.len(), 4000 + a.duplicated);
        let c = ClaimSet::from_claims(&claims, Growth { seed: 7, ..g });
        assert_ne!(a.duplicated, c.duplicated);
        let d = ClaimSet::from_claims(
            &claims,
            Growth {
                volume: dec!(-0.5),
                ..g
            },
        );
        assert!((1800..2200).contains(&d.dropped), "{}", d.dropped);
        assert_eq!(d.claims.len() + d.dropped, 4000);
    }

    #[test]
    fn price_growth_rounds_each_item() {
        let set = ClaimSet::from_claims(
            &[claim("a", "P", "2017-06-01")],
            Growth {
                price: dec!(0.03),
                ..Growth::default()
            },
        );
        let items = &set.to_claim(&set.claims[0]).items;
        assert_eq!(items[0].amount.0, dec!(5.15));
        assert_eq!(items[1].amount.0, dec!(329.60));
        assert_eq!(items[1].limit_amount.unwrap().0, dec!(300.00));
    }
}
