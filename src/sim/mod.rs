//! Funding-gap simulation (资金测算): replay a year of claims under a
//! baseline policy and one or more scenario policies, with the same engine
//! that settles real claims, and report what every payer would pay.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`load`] reads claims (JSON lines as `medaid settle` reads them, in
//!   parallel) into [`Claim`]s, each with its input line.
//! - [`ClaimSet::build`] applies growth assumptions ([`Growth`]) and groups
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

pub mod generate;
pub mod html;
pub mod load;
pub mod report;
pub mod run;

use crate::engine::Claim;
use crate::money::round2;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::ops::Range;

pub use run::{simulate, PolicyInput, SimOptions};

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

/// One claim ready to replay, with the keys it is reported under.
#[derive(Debug, Clone)]
pub struct SimClaim {
    pub claim: Claim,
    /// Line of the input the claim came from (0 when it came from memory).
    pub line: usize,
    /// Index into [`ClaimSet::levels`].
    pub level_key: u32,
    /// Index into [`ClaimSet::category_sets`].
    pub cats_key: u32,
    /// `year * 12 + month - 1` of the discharge date.
    pub month_key: u32,
}

/// One person's claims: a range of [`ClaimSet::claims`].
#[derive(Debug, Clone)]
pub struct PersonClaims {
    pub id: String,
    pub range: Range<usize>,
}

/// Claims grouped by person, each person's in settlement order (discharge
/// date, then claim id, then input line); persons sorted by id.
#[derive(Debug, Clone, Default)]
pub struct ClaimSet {
    pub claims: Vec<SimClaim>,
    pub persons: Vec<PersonClaims>,
    /// Hospital level ids as the claims state them (`""` when absent).
    pub levels: Vec<String>,
    /// Category combinations as the claims state them, each sorted.
    pub category_sets: Vec<Vec<String>>,
    /// Claims before growth.
    pub claims_read: usize,
    /// Copies added by volume growth.
    pub duplicated: usize,
    /// Claims dropped by (negative) volume growth.
    pub dropped: usize,
    pub growth: Growth,
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

impl ClaimSet {
    /// Apply `growth` to `claims` (each with its input line) and group them
    /// by person in settlement order.
    pub fn build(claims: Vec<(usize, Claim)>, growth: Growth) -> ClaimSet {
        let claims_read = claims.len();
        let factor = Decimal::ONE + growth.price;
        let mut out: Vec<(usize, Claim)> = Vec::with_capacity(claims.len());
        let (mut duplicated, mut dropped) = (0, 0);
        for (line, mut c) in claims {
            if !growth.price.is_zero() {
                for it in &mut c.items {
                    it.amount.0 = grow_price(it.amount.0, factor);
                }
            }
            let n = copies(&growth, &c.claim_id);
            if n == 0 {
                dropped += 1;
                continue;
            }
            for k in 1..n {
                let mut copy = c.clone();
                copy.claim_id = format!("{}#{k}", c.claim_id);
                out.push((line, copy));
                duplicated += 1;
            }
            out.push((line, c));
        }

        // Person ids → dense indices, persons sorted by id.
        let mut person_of: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        let mut pix: Vec<u32> = Vec::with_capacity(out.len());
        for (_, c) in &out {
            let next = names.len() as u32;
            let i = *person_of.entry(c.person_id.as_str()).or_insert_with(|| {
                names.push(c.person_id.as_str());
                next
            });
            pix.push(i);
        }
        let mut order_of_person: Vec<u32> = (0..names.len() as u32).collect();
        order_of_person.par_sort_unstable_by(|a, b| names[*a as usize].cmp(names[*b as usize]));
        let mut rank = vec![0u32; names.len()];
        for (r, &p) in order_of_person.iter().enumerate() {
            rank[p as usize] = r as u32;
        }
        let person_ids: Vec<String> = order_of_person
            .iter()
            .map(|&p| names[p as usize].to_string())
            .collect();
        drop(person_of);
        drop(names);

        // Settlement order.
        let mut idx: Vec<u32> = (0..out.len() as u32).collect();
        idx.par_sort_unstable_by(|&a, &b| {
            let (la, ca) = &out[a as usize];
            let (lb, cb) = &out[b as usize];
            rank[pix[a as usize] as usize]
                .cmp(&rank[pix[b as usize] as usize])
                .then(ca.discharged_on.cmp(&cb.discharged_on))
                .then_with(|| ca.claim_id.cmp(&cb.claim_id))
                .then(la.cmp(lb))
        });

        // Interned report keys.
        let mut levels: Vec<String> = Vec::new();
        let mut level_ix: HashMap<String, u32> = HashMap::new();
        let mut sets: Vec<Vec<String>> = Vec::new();
        let mut set_ix: HashMap<Vec<String>, u32> = HashMap::new();
        let mut slots: Vec<Option<(usize, Claim)>> = out.into_iter().map(Some).collect();
        let mut claims = Vec::with_capacity(slots.len());
        let mut persons: Vec<PersonClaims> = Vec::with_capacity(person_ids.len());
        for &i in &idx {
            let (line, c) = slots[i as usize].take().expect("each claim is placed once");
            let p = rank[pix[i as usize] as usize] as usize;
            if persons.len() <= p {
                persons.push(PersonClaims {
                    id: person_ids[p].clone(),
                    range: claims.len()..claims.len(),
                });
            }
            let level = c.hospital_level.clone().unwrap_or_default();
            let level_key = match level_ix.get(&level) {
                Some(&k) => k,
                None => {
                    let k = levels.len() as u32;
                    levels.push(level.clone());
                    level_ix.insert(level, k);
                    k
                }
            };
            let mut cats: Vec<String> = c.categories.iter().map(|s| s.trim().to_string()).collect();
            cats.sort();
            cats.dedup();
            let cats_key = match set_ix.get(&cats) {
                Some(&k) => k,
                None => {
                    let k = sets.len() as u32;
                    sets.push(cats.clone());
                    set_ix.insert(cats, k);
                    k
                }
            };
            let d = c.discharged_on.0;
            let month_key = (chrono::Datelike::year(&d) * 12 + chrono::Datelike::month0(&d) as i32)
                .max(0) as u32;
            claims.push(SimClaim {
                claim: c,
                line,
                level_key,
                cats_key,
                month_key,
            });
            persons[p].range.end = claims.len();
        }
        ClaimSet {
            claims,
            persons,
            levels,
            category_sets: sets,
            claims_read,
            duplicated,
            dropped,
            growth,
        }
    }

    /// Claims from memory (the service): lines are numbered from 1 in the
    /// order given.
    pub fn from_claims(claims: Vec<Claim>, growth: Growth) -> ClaimSet {
        ClaimSet::build(
            claims
                .into_iter()
                .enumerate()
                .map(|(i, c)| (i + 1, c))
                .collect(),
            growth,
        )
    }

    pub fn person_claims(&self, p: usize) -> &[SimClaim] {
        &self.claims[self.persons[p].range.clone()]
    }
}

/// A budget (`--budget aid=8000000`): what one payer, one layer or all
/// funds may spend in the period simulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub target: BudgetTarget,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetTarget {
    Payer(crate::engine::policy::Payer),
    Layer(String),
    /// Every fund together (`fund_paid`).
    Fund,
}

impl BudgetTarget {
    pub fn key(&self) -> String {
        match self {
            BudgetTarget::Payer(p) => p.as_str().to_string(),
            BudgetTarget::Layer(l) => format!("layer:{l}"),
            BudgetTarget::Fund => "fund".into(),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            BudgetTarget::Payer(_) => "payer",
            BudgetTarget::Layer(_) => "layer",
            BudgetTarget::Fund => "fund",
        }
    }
}

impl std::str::FromStr for Budget {
    type Err = SimError;
    /// `KEY=AMOUNT`: KEY is a payer (`insurance`, `aid`, `government`,
    /// `charity`), `fund` (all funds), `layer:ID` or `payer:NAME`; a bare
    /// key that is not a payer names a layer.
    fn from_str(s: &str) -> Result<Budget, SimError> {
        let bad = |m: &str| SimError::Budget(s.to_string(), m.to_string());
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=AMOUNT, e.g. aid=8000000"))?;
        let amount = crate::money::parse_amount(v.trim().replace('_', "").as_str())
            .map_err(|e| bad(&e.to_string()))?;
        let k = k.trim();
        let payer = |name: &str| {
            crate::engine::policy::Payer::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
        };
        let target = if let Some(l) = k.strip_prefix("layer:") {
            BudgetTarget::Layer(l.trim().to_string())
        } else if let Some(p) = k.strip_prefix("payer:") {
            BudgetTarget::Payer(
                payer(p.trim())
                    .ok_or_else(|| bad("unknown payer (insurance, aid, government or charity)"))?,
            )
        } else if k == "fund" {
            BudgetTarget::Fund
        } else if let Some(p) = payer(k) {
            BudgetTarget::Payer(p)
        } else if k.is_empty() {
            return Err(bad("the key is empty"));
        } else {
            BudgetTarget::Layer(k.to_string())
        };
        Ok(Budget { target, amount })
    }
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
            vec![
                claim("b", "P2", "2017-03-01"),
                claim("z", "P1", "2017-05-01"),
                claim("a", "P1", "2017-05-01"),
                claim("c", "P1", "2017-01-09"),
            ],
            Growth::default(),
        );
        assert_eq!(set.persons.len(), 2);
        assert_eq!(set.persons[0].id, "P1");
        let ids: Vec<&str> = set
            .person_claims(0)
            .iter()
            .map(|c| c.claim.claim_id.as_str())
            .collect();
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
        let a = ClaimSet::from_claims(claims.clone(), g);
        let b = ClaimSet::from_claims(claims.clone(), g);
        assert_eq!(a.duplicated, b.duplicated);
        assert!((150..250).contains(&a.duplicated), "{}", a.duplicated);
        assert_eq!(a.claims.len(), 4000 + a.duplicated);
        let c = ClaimSet::from_claims(claims.clone(), Growth { seed: 7, ..g });
        assert_ne!(a.duplicated, c.duplicated);
        let d = ClaimSet::from_claims(
            claims,
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
            vec![claim("a", "P", "2017-06-01")],
            Growth {
                price: dec!(0.03),
                ..Growth::default()
            },
        );
        let items = &set.claims[0].claim.items;
        assert_eq!(items[0].amount.0, dec!(5.15));
        assert_eq!(items[1].amount.0, dec!(329.60));
        assert_eq!(items[1].limit_amount.unwrap().0, dec!(300.00));
    }

    #[test]
    fn parses_budgets() {
        let b: Budget = "aid=8000000".parse().unwrap();
        assert_eq!(
            b.target,
            BudgetTarget::Payer(crate::engine::policy::Payer::Aid)
        );
        assert_eq!(b.amount, dec!(8000000));
        let b: Budget = "critical=1_000_000.50".parse().unwrap();
        assert_eq!(b.target, BudgetTarget::Layer("critical".into()));
        let b: Budget = "layer:aid=5".parse().unwrap();
        assert_eq!(b.target, BudgetTarget::Layer("aid".into()));
        assert!("aid".parse::<Budget>().is_err());
        assert!("aid=-3".parse::<Budget>().is_err());
        assert!("payer:nobody=3".parse::<Budget>().is_err());
    }
}
