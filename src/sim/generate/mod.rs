//! `medaid generate`: a synthetic population of aid beneficiaries and a
//! year of their claims, for demos, tests and load.
//!
//! The defaults resemble the district of seed 000 (卧龙区, 2017): about 4,900
//! beneficiaries (低保 two thirds, 特困 one third, most of them also
//! poverty-registered) and some 4,900 aid settlements a year. Everything is
//! drawn from a ChaCha stream per person (`seed`, person index), so the
//! output depends on the seed alone — not on the thread count — and a
//! person's claims do not change when `--persons` grows.
//!
//! Claims are the engine's own [`Claim`] type, serialised by serde, so they
//! are exactly what `medaid settle` and `medaid simulate` read. Every id a
//! claim names (level, category, medical type) is declared by the policy the
//! population is generated for; diagnoses of major diseases are drawn from
//! the policy's own disease groups so that the group rules are exercised.

mod items;
mod model;

use crate::engine::claim::Claim;
use crate::engine::Policy;
use chrono::NaiveDate;
use model::{id_check_digit, Model};
use rayon::prelude::*;
use std::io::Write;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub persons: usize,
    pub year: i32,
    pub seed: u64,
    /// Mean inpatient admissions per person and year (negative binomial).
    pub admission_rate: f64,
    /// Share of persons with a chronic condition treated as outpatients
    /// (only when the policy declares an outpatient medical type).
    pub chronic_share: f64,
    /// Primary category shares by category id; `None` for the defaults.
    pub shares: Option<Vec<(String, f64)>>,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            persons: 4_900,
            year: 2017,
            seed: 1,
            admission_rate: 0.75,
            chronic_share: 0.035,
            shares: None,
        }
    }
}

/// Why generation could not start.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("--year {year}: policy {policy} is in force from {from} to {to}, which does not include that year")]
    YearOutsidePolicy {
        year: i32,
        policy: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("--shares: unknown category {0:?} (the policy declares {1})")]
    UnknownCategory(String, String),
    #[error("--shares: {0}")]
    BadShares(String),
    #[error("policy {0} declares no inpatient-like medical type to generate admissions for")]
    NoMedicalType(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// One row of the eligibility registry (`medaid registry import`):
/// `person_id,name,category,valid_from,valid_to`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryRow {
    pub person_id: String,
    pub name: String,
    /// Empty: an insured person with no aid category in that period.
    pub category: String,
    pub valid_from: NaiveDate,
    /// `None`: open-ended.
    pub valid_to: Option<NaiveDate>,
}

/// One hospital of the directory: `code,name,level,region`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hospital {
    pub code: String,
    pub name: String,
    pub level: String,
    pub region: String,
}

/// A generated person: registry rows and claims.
#[derive(Debug, Clone)]
pub struct Person {
    pub registry: Vec<RegistryRow>,
    pub claims: Vec<Claim>,
}

/// A generated population, person by person (each person's claims in
/// discharge-date order).
pub struct Generator<'a> {
    model: Model<'a>,
}

impl<'a> Generator<'a> {
    pub fn new(policy: &'a Policy, opts: &GenOptions) -> Result<Generator<'a>, GenError> {
        Ok(Generator {
            model: Model::new(policy, opts)?,
        })
    }

    /// The hospital directory the claims refer to.
    pub fn hospitals(&self) -> &[Hospital] {
        &self.model.hospitals
    }

    /// Person `index` (0-based), independent of every other person.
    pub fn person(&self, index: usize) -> Person {
        let mut p = self.model.person(index);
        let id = p.registry[0].person_id.clone();
        for c in &mut p.claims {
            c.person_id = id.clone();
        }
        p
    }

    /// Every person, in parallel, in index order.
    pub fn persons(&self) -> Vec<Person> {
        let mut persons: Vec<Person> = (0..self.model.opts.persons)
            .into_par_iter()
            .map(|i| self.person(i))
            .collect();
        dedupe_ids(&mut persons);
        persons
    }

    /// Write the registry, the claims (JSON lines) and, optionally, the
    /// hospital directory. Persons are generated in parallel blocks and
    /// written in order, so memory stays flat for large populations.
    pub fn write(
        &self,
        registry: Option<&mut dyn Write>,
        claims: Option<&mut dyn Write>,
        on_block: &dyn Fn(usize),
    ) -> Result<Counts, GenError> {
        let mut reg = registry.map(csv::Writer::from_writer);
        if let Some(w) = reg.as_mut() {
            w.write_record(Self::REGISTRY_HEADER)?;
        }
        let mut claims = claims.map(|w| std::io::BufWriter::with_capacity(1 << 20, w));
        let mut counts = Counts::default();
        let mut seen = std::collections::HashSet::new();
        const BLOCK: usize = 8192;
        let n = self.model.opts.persons;
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let mut block: Vec<Person> = (start..end)
                .into_par_iter()
                .map(|i| self.person(i))
                .collect();
            for p in &mut block {
                make_unique(p, &mut seen);
            }
            let lines: Vec<Vec<u8>> = block
                .par_iter()
                .map(|p| {
                    let mut buf = Vec::with_capacity(p.claims.len() * 900);
                    for c in &p.claims {
                        serde_json::to_writer(&mut buf, c).expect("a claim serialises");
                        buf.push(b'\n');
                    }
                    buf
                })
                .collect();
            for (p, l) in block.iter().zip(&lines) {
                counts.persons += 1;
                counts.claims += p.claims.len();
                counts.registry_rows += p.registry.len();
                if let Some(w) = reg.as_mut() {
                    for row in &p.registry {
                        w.write_record([
                            row.person_id.as_str(),
                            row.name.as_str(),
                            row.category.as_str(),
                            &row.valid_from.to_string(),
                            &row.valid_to.map(|d| d.to_string()).unwrap_or_default(),
                        ])?;
                    }
                }
                if let Some(w) = claims.as_mut() {
                    w.write_all(l)?;
                }
            }
            on_block(end - start);
            start = end;
        }
        if let Some(mut w) = reg {
            w.flush()?;
        }
        if let Some(mut w) = claims {
            w.flush()?;
        }
        Ok(counts)
    }

    /// The registry header (written by [`Generator::write`] too).
    pub const REGISTRY_HEADER: [&'static str; 5] =
        ["person_id", "name", "category", "valid_from", "valid_to"];
}

/// Sizes of what was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub persons: usize,
    pub registry_rows: usize,
    pub claims: usize,
}

/// Write the hospital directory (`code,name,level,region`).
pub fn write_hospitals(hospitals: &[Hospital], out: impl Write) -> Result<(), GenError> {
    let mut w = csv::Writer::from_writer(out);
    for h in hospitals {
        w.serialize(h)?;
    }
    w.flush()?;
    Ok(())
}

/// Two persons may draw the same birth date and sequence; bump the
/// sequence digits of the later one (deterministic: persons are visited in
/// index order).
fn make_unique(p: &mut Person, seen: &mut std::collections::HashSet<String>) {
    let mut id = p.registry[0].person_id.clone();
    let mut bump = 0u32;
    while seen.contains(&id) {
        bump += 1;
        let base = &p.registry[0].person_id[..14];
        let seq = (p.registry[0].person_id[14..17].parse::<u32>().unwrap_or(0) + bump * 7) % 1000;
        let b = format!("{base}{seq:03}");
        id = format!("{b}{}", id_check_digit(&b));
        if bump > 2000 {
            id = format!("{}#{bump}", p.registry[0].person_id);
            break;
        }
    }
    seen.insert(id.clone());
    if id != p.registry[0].person_id {
        for row in &mut p.registry {
            row.person_id = id.clone();
        }
        for c in &mut p.claims {
            c.person_id = id.clone();
        }
    }
}

fn dedupe_ids(persons: &mut [Person]) {
    let mut seen = std::collections::HashSet::new();
    for p in persons {
        make_unique(p, &mut seen);
    }
}

/// Parse `--shares dibao=0.6,tekun=0.3`.
pub fn parse_shares(s: &str) -> Result<Vec<(String, f64)>, GenError> {
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| GenError::BadShares(format!("{kv:?}: expected category=share")))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| GenError::BadShares(format!("{kv:?}: share is not a number")))?;
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn policy() -> Policy {
        Policy::from_toml(
            include_str!("../../../fixtures/policies/wolong-2017.toml"),
            "wolong-2017",
        )
        .unwrap()
    }

    #[test]
    fn check_digit_matches_gb11643() {
        // the standard's example: 11010519491231002X
        assert_eq!(id_check_digit("11010519491231002"), 'X');
    }

    #[test]
    fn deterministic_and_independent_of_population_size() {
        let p = policy();
        let opts = GenOptions {
            persons: 50,
            seed: 7,
            ..Default::default()
        };
        let a = Generator::new(&p, &opts).unwrap().persons();
        let b = Generator::new(&p, &opts).unwrap().persons();
        assert_eq!(a.len(), 50);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.claims, y.claims);
            assert_eq!(x.registry, y.registry);
        }
        let c = Generator::new(
            &p,
            &GenOptions {
                persons: 10,
                seed: 7,
                ..Default::default()
            },
        )
        .unwrap()
        .persons();
        assert_eq!(c[3].claims, a[3].claims);
        let d = Generator::new(
            &p,
            &GenOptions {
                persons: 50,
                seed: 8,
                ..Default::default()
            },
        )
        .unwrap()
        .persons();
        assert_ne!(
            a.iter().map(|p| p.claims.len()).collect::<Vec<_>>(),
            d.iter().map(|p| p.claims.len()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn claims_settle_under_their_policy() {
        let p = policy();
        let g = Generator::new(
            &p,
            &GenOptions {
                persons: 300,
                seed: 3,
                ..Default::default()
            },
        )
        .unwrap();
        let persons = g.persons();
        let mut n = 0;
        let mut major = 0;
        for person in &persons {
            for c in &person.claims {
                let (a, _) = crate::engine::settle_stated(&p, c, &[]).unwrap();
                assert_eq!(a.total, c.items.iter().map(|i| i.amount.0).sum::<Decimal>());
                if p.groups_of(c.diagnoses.first().map(String::as_str)) != 0 {
                    major += 1;
                }
                // round-trips through JSON as `medaid settle` reads it
                let text = serde_json::to_string(c).unwrap();
                assert_eq!(&crate::engine::claim::parse_json(&text).unwrap(), c);
                n += 1;
            }
        }
        assert!(n > 200, "{n} claims");
        assert!(major > 0);
    }
}
