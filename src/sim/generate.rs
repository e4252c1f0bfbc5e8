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

use crate::engine::claim::{Claim, Day, Item, ItemClass};
use crate::engine::Policy;
use crate::money::Amount;
use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};
use rayon::prelude::*;
use rust_decimal::Decimal;
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

/// A category held over a period of the year.
#[derive(Debug, Clone)]
struct Holding {
    category: usize,
    from: NaiveDate,
    to: Option<NaiveDate>,
}

/// A generated person: registry rows and claims.
#[derive(Debug, Clone)]
pub struct Person {
    pub registry: Vec<RegistryRow>,
    pub claims: Vec<Claim>,
}

/// The policy-derived model shared by every person.
struct Model<'a> {
    policy: &'a Policy,
    opts: GenOptions,
    year_start: NaiveDate,
    year_end: NaiveDate,
    region: String,
    /// Cumulative primary-category weights (category index, cumulative).
    primary: Vec<(usize, f64)>,
    /// Categories held alongside another (建档立卡, 返贫致贫).
    secondary: Vec<usize>,
    inpatient: usize,
    outpatient: Option<usize>,
    /// Level index, cumulative weight, median cost.
    levels: Vec<(usize, f64, f64)>,
    hospitals: Vec<Hospital>,
    /// Hospitals by level index.
    by_level: Vec<Vec<usize>>,
    major_codes: Vec<String>,
    chronic_codes: Vec<String>,
}

const COMMON_DX: &[&str] = &[
    "J18.9", "I63.9", "I10", "E11.9", "K80.2", "S72.0", "J44.1", "I25.1", "N39.0", "K29.7",
    "M17.9", "O80.0", "K35.8", "J20.9", "I50.9",
];
const CHRONIC_DX: &[&str] = &["I10", "E11.9", "J44.9", "I25.1", "F20.9", "N18.5"];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "秀", "英", "华", "玉", "兰", "桂", "芳", "珍", "凤", "梅", "建", "国", "明", "军", "平", "保",
    "红", "强", "文", "德", "海", "伟", "霞", "春", "金", "荣", "福", "永", "志", "东", "丽", "敏",
];
const TOWNS: &[&str] = &[
    "潦河镇",
    "安皋镇",
    "蒲山镇",
    "石桥镇",
    "陆营镇",
    "青华镇",
    "英庄镇",
    "谢庄镇",
    "王村乡",
    "七里园乡",
];

/// Default primary share of a category, guessed from its id (the seed
/// documents' categories: 特困 one third, 低保 two thirds, a few others).
fn default_share(id: &str) -> f64 {
    let id = id.to_ascii_lowercase();
    if id.contains("tekun") || id.contains("wubao") {
        if id.contains("central") {
            0.07
        } else if id.contains("dispers") {
            0.27
        } else {
            0.34
        }
    } else if id.contains("edge") || id.contains("marginal") {
        0.05
    } else if id.contains("dibao") {
        0.58
    } else if id.contains("illness") {
        0.03
    } else if is_secondary(&id) {
        0.04
    } else {
        0.02
    }
}

/// Categories many beneficiaries hold on top of their main one.
fn is_secondary(id: &str) -> bool {
    id == "poverty" || id.contains("poverty_registered") || id.contains("returned") || id == "jdlk"
}

fn level_weight(id: &str) -> (f64, f64) {
    // (share of admissions, median cost in yuan)
    let id = id.to_ascii_lowercase();
    if id.contains("township") || id.contains("village") || id.contains("community") {
        (0.45, 2_600.0)
    } else if id.contains("county") {
        (0.38, 7_000.0)
    } else if id.contains("city") || id.contains("municipal") {
        (0.14, 15_000.0)
    } else if id.contains("province") {
        (0.03, 26_000.0)
    } else {
        (0.10, 8_000.0)
    }
}

impl<'a> Model<'a> {
    fn new(policy: &'a Policy, opts: &GenOptions) -> Result<Model<'a>, GenError> {
        let year_start = NaiveDate::from_ymd_opt(opts.year, 1, 1)
            .ok_or_else(|| GenError::BadShares("bad year".into()))?;
        let year_end = NaiveDate::from_ymd_opt(opts.year, 12, 31)
            .ok_or_else(|| GenError::BadShares("bad year".into()))?;
        // The part of the year the policy covers.
        let from = year_start.max(policy.effective_from);
        let to = year_end.min(policy.effective_to);
        if from > to {
            return Err(GenError::YearOutsidePolicy {
                year: opts.year,
                policy: policy.id.clone(),
                from: policy.effective_from,
                to: policy.effective_to,
            });
        }
        let declared = || {
            policy
                .categories
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut weights: Vec<(usize, f64)> = Vec::new();
        match &opts.shares {
            Some(shares) => {
                for (id, w) in shares {
                    let ix = policy
                        .category_index(id)
                        .ok_or_else(|| GenError::UnknownCategory(id.clone(), declared()))?;
                    if !(w.is_finite() && *w >= 0.0) {
                        return Err(GenError::BadShares(format!("share of {id} must be ≥ 0")));
                    }
                    weights.push((ix, *w));
                }
            }
            None => {
                for (ix, (id, _)) in policy.categories.iter().enumerate() {
                    weights.push((ix, default_share(id)));
                }
            }
        }
        let secondary: Vec<usize> = if opts.shares.is_some() {
            Vec::new()
        } else {
            policy
                .categories
                .iter()
                .enumerate()
                .filter(|(_, (id, _))| is_secondary(id))
                .map(|(i, _)| i)
                .collect()
        };
        let sum: f64 = weights.iter().map(|w| w.1).sum();
        if !policy.categories.is_empty() && sum <= 0.0 {
            return Err(GenError::BadShares("the shares add up to zero".into()));
        }
        let mut acc = 0.0;
        let primary = weights
            .into_iter()
            .filter(|w| w.1 > 0.0)
            .map(|(i, w)| {
                acc += w / sum;
                (i, acc)
            })
            .collect();

        let find_type = |want: &[&str], avoid: &[&str]| {
            policy.medical_types.iter().position(|(id, _)| {
                let id = id.to_ascii_lowercase();
                want.iter().any(|w| id.contains(w)) && !avoid.iter().any(|a| id.contains(a))
            })
        };
        let inpatient = find_type(&["inpatient", "hospital"], &["outpatient"])
            .or_else(|| find_type(&[""], &["outpatient"]))
            .ok_or_else(|| GenError::NoMedicalType(policy.id.clone()))?;
        let outpatient =
            find_type(&["outpatient", "chronic", "special"], &[]).filter(|&o| o != inpatient);

        let mut levels = Vec::new();
        let lsum: f64 = policy.levels.iter().map(|(id, _)| level_weight(id).0).sum();
        let mut acc = 0.0;
        for (ix, (id, _)) in policy.levels.iter().enumerate() {
            let (w, cost) = level_weight(id);
            acc += w / lsum;
            levels.push((ix, acc, cost));
        }

        // Hospitals: ten township health centres, a few county and city
        // hospitals, one provincial hospital.
        let region = if policy.region.trim().is_empty() {
            "411303".to_string()
        } else {
            policy.region.clone()
        };
        let mut hospitals = Vec::new();
        let mut by_level = vec![Vec::new(); policy.levels.len()];
        for (ix, (id, label)) in policy.levels.iter().enumerate() {
            let lid = id.to_ascii_lowercase();
            let names: Vec<String> = if lid.contains("township") {
                TOWNS.iter().map(|t| format!("{t}卫生院")).collect()
            } else if lid.contains("county") {
                vec![
                    "区人民医院".into(),
                    "区中医院".into(),
                    "区第二人民医院".into(),
                    "区妇幼保健院".into(),
                ]
            } else if lid.contains("city") {
                vec!["市中心医院".into(), "市第二人民医院".into()]
            } else if lid.contains("province") {
                vec!["省人民医院".into()]
            } else {
                vec![format!("{label}一"), format!("{label}二")]
            };
            for n in names {
                // `G…` (generated): never one of a real directory's `H…` codes,
                // so importing the file next to the demo's adds hospitals.
                let code = format!("G{:04}", hospitals.len() + 1);
                by_level[ix].push(hospitals.len());
                hospitals.push(Hospital {
                    code,
                    name: n,
                    level: id.clone(),
                    region: region.clone(),
                });
            }
        }

        // Diagnoses that fall in the policy's disease groups.
        let mut major_codes = Vec::new();
        let mut chronic_codes = Vec::new();
        for g in &policy.groups {
            let target = if g.id.to_ascii_lowercase().contains("chronic") {
                &mut chronic_codes
            } else {
                &mut major_codes
            };
            for p in &g.prefixes {
                target.push(complete_icd(p));
            }
        }
        if chronic_codes.is_empty() {
            chronic_codes = CHRONIC_DX.iter().map(|s| s.to_string()).collect();
        }
        Ok(Model {
            policy,
            opts: opts.clone(),
            year_start: from,
            year_end: to,
            region,
            primary,
            secondary,
            inpatient,
            outpatient,
            levels,
            hospitals,
            by_level,
            major_codes,
            chronic_codes,
        })
    }

    fn rng(&self, person: usize) -> ChaCha8Rng {
        let mut r = ChaCha8Rng::seed_from_u64(self.opts.seed);
        r.set_stream(person as u64);
        r
    }

    fn days(&self) -> i64 {
        (self.year_end - self.year_start).num_days() + 1
    }

    fn date_in_year(&self, r: &mut ChaCha8Rng) -> NaiveDate {
        self.year_start + Duration::days(r.gen_range(0..self.days()))
    }

    fn pick_level(&self, r: &mut ChaCha8Rng, outpatient: bool) -> (usize, f64) {
        let u: f64 = r.gen();
        let mut chosen = self
            .levels
            .last()
            .map(|l| (l.0, l.2))
            .unwrap_or((0, 5_000.0));
        for (ix, cum, cost) in &self.levels {
            if u < *cum {
                chosen = (*ix, *cost);
                break;
            }
        }
        if outpatient && self.levels.len() > 1 && r.gen_bool(0.7) {
            // chronic care mostly close to home
            chosen = (self.levels[0].0, self.levels[0].2);
        }
        chosen
    }

    /// The person's id (18 digits, GB 11643 check digit), name, categories.
    fn person(&self, index: usize) -> Person {
        let mut r = self.rng(index);
        let birth_year = if r.gen_bool(0.55) {
            r.gen_range(1930..1960)
        } else {
            r.gen_range(1960..(self.opts.year - 1).max(1961))
        };
        let birth = NaiveDate::from_ymd_opt(birth_year, r.gen_range(1..=12), r.gen_range(1..=28))
            .unwrap_or(self.year_start);
        let age = (self.opts.year - birth_year).max(0) as f64;
        let name = format!(
            "{}{}{}",
            SURNAMES[r.gen_range(0..SURNAMES.len())],
            GIVEN[r.gen_range(0..GIVEN.len())],
            if r.gen_bool(0.7) {
                GIVEN[r.gen_range(0..GIVEN.len())]
            } else {
                ""
            }
        );
        let region6: String = {
            let digits: String = self
                .region
                .chars()
                .filter(|c| c.is_ascii_digit())
                .take(6)
                .collect();
            if digits.len() == 6 {
                digits
            } else {
                "411303".into()
            }
        };
        // Sequence digits from the index keep ids unique for up to a
        // million persons per birth date.
        let seq = (index % 1000) as u32;
        let base = format!("{region6}{}{:03}", birth.format("%Y%m%d"), seq);
        let person_id = format!("{base}{}", id_check_digit(&base));

        // Categories: one primary, maybe a secondary; a few change mid-year.
        let mut holdings: Vec<Holding> = Vec::new();
        if !self.primary.is_empty() {
            let u: f64 = r.gen();
            let primary = self
                .primary
                .iter()
                .find(|(_, c)| u < *c)
                .or(self.primary.last())
                .map(|p| p.0)
                .unwrap_or(0);
            let (mut from, mut to) = (self.year_start, None);
            let change: f64 = r.gen();
            if change < 0.03 {
                from = self.date_in_year(&mut r); // entered mid-year
            } else if change < 0.05 {
                to = Some(self.date_in_year(&mut r)); // left mid-year
            }
            holdings.push(Holding {
                category: primary,
                from,
                to,
            });
            for &s in &self.secondary {
                if s != primary && r.gen_bool(0.5) {
                    holdings.push(Holding {
                        category: s,
                        from: self.year_start,
                        to: None,
                    });
                }
            }
        }
        let mut registry = Vec::new();
        let partial = holdings
            .iter()
            .any(|h| h.from > self.year_start || h.to.is_some());
        if holdings.is_empty() || partial {
            // insured all year, with no category outside the periods
            registry.push(RegistryRow {
                person_id: person_id.clone(),
                name: name.clone(),
                category: String::new(),
                valid_from: self.year_start,
                valid_to: None,
            });
        }
        for h in &holdings {
            registry.push(RegistryRow {
                person_id: person_id.clone(),
                name: name.clone(),
                category: self.policy.categories[h.category].0.clone(),
                valid_from: h.from,
                valid_to: h.to,
            });
        }
        let categories_on = |d: NaiveDate| -> Vec<String> {
            holdings
                .iter()
                .filter(|h| h.from <= d && h.to.is_none_or(|t| d <= t))
                .map(|h| self.policy.categories[h.category].0.clone())
                .collect()
        };
        let poorest = holdings
            .iter()
            .any(|h| self.policy.categories[h.category].0.contains("tekun"));

        // Admissions: negative binomial (gamma-mixed Poisson), more for the
        // old and for 特困.
        let mut mean = self.opts.admission_rate * if age >= 65.0 { 1.35 } else { 0.8 };
        if poorest {
            mean *= 1.2;
        }
        let lambda = Gamma::new(0.6, mean / 0.6)
            .map(|g| g.sample(&mut r))
            .unwrap_or(0.0);
        let admissions = if lambda > 1e-9 {
            Poisson::new(lambda)
                .map(|p| p.sample(&mut r) as usize)
                .unwrap_or(0)
        } else {
            0
        };
        let mut claims = Vec::new();
        let mut seq = 0usize;
        for _ in 0..admissions.min(24) {
            let (level, median) = self.pick_level(&mut r, false);
            let major =
                !self.major_codes.is_empty() && r.gen_bool(if age >= 60.0 { 0.07 } else { 0.04 });
            let dx = if major {
                self.major_codes[r.gen_range(0..self.major_codes.len())].clone()
            } else {
                COMMON_DX[r.gen_range(0..COMMON_DX.len())].to_string()
            };
            let sigma = 0.75;
            let mut cost = LogNormal::new(median.ln(), sigma)
                .map(|d| d.sample(&mut r))
                .unwrap_or(median);
            if major {
                cost *= 2.5;
            }
            let cost = cost.clamp(150.0, 900_000.0);
            let stay = ((cost / median).sqrt()
                * (4.0 + 6.0 * level as f64 / self.levels.len().max(1) as f64)
                + r.gen_range(0.0..3.0))
            .round() as i64;
            let stay = stay.clamp(1, 90);
            // Claims belong to the year of their discharge; an admission may
            // begin in the year before.
            let discharged = self.date_in_year(&mut r);
            let admitted = discharged - Duration::days(stay);
            let items = inpatient_items(&mut r, cost, stay, level, self.policy.levels.len());
            seq += 1;
            claims.push(self.claim(
                &mut r,
                index,
                seq,
                level,
                self.inpatient,
                admitted,
                discharged,
                dx,
                items,
                &categories_on,
            ));
        }

        // Chronic outpatient visits (门诊慢特病 / 门诊规定病种).
        if let Some(out_type) = self.outpatient {
            let share = self.opts.chronic_share * if age >= 60.0 { 1.5 } else { 0.6 };
            if r.gen_bool(share.clamp(0.0, 1.0)) {
                let dx = self.chronic_codes[r.gen_range(0..self.chronic_codes.len())].clone();
                let dialysis = dx.starts_with("N18");
                let visits = if dialysis { 12 } else { r.gen_range(2..=8) };
                let median = if dialysis { 3_500.0 } else { 380.0 };
                for _ in 0..visits {
                    let (level, _) = self.pick_level(&mut r, true);
                    let cost = LogNormal::new(f64::ln(median), 0.55)
                        .map(|d| d.sample(&mut r))
                        .unwrap_or(median)
                        .clamp(20.0, 50_000.0);
                    let day = self.date_in_year(&mut r);
                    let items = outpatient_items(&mut r, cost);
                    seq += 1;
                    claims.push(self.claim(
                        &mut r,
                        index,
                        seq,
                        level,
                        out_type,
                        day,
                        day,
                        dx.clone(),
                        items,
                        &categories_on,
                    ));
                }
            }
        }
        claims.sort_by(|a, b| (a.discharged_on, &a.claim_id).cmp(&(b.discharged_on, &b.claim_id)));
        Person { registry, claims }
    }

    #[allow(clippy::too_many_arguments)]
    fn claim(
        &self,
        r: &mut ChaCha8Rng,
        person: usize,
        seq: usize,
        level: usize,
        medical_type: usize,
        admitted: NaiveDate,
        discharged: NaiveDate,
        dx: String,
        items: Vec<Item>,
        categories_on: &dyn Fn(NaiveDate) -> Vec<String>,
    ) -> Claim {
        let hs = &self.by_level[level];
        let h = if hs.is_empty() {
            &self.hospitals[0]
        } else {
            &self.hospitals[hs[r.gen_range(0..hs.len())]]
        };
        Claim {
            claim_id: format!(
                "{}-{}-{:07}{:02}",
                h.code,
                discharged.format("%Y%m%d"),
                person,
                seq
            ),
            hospital: h.code.clone(),
            hospital_level: Some(h.level.clone()),
            person_id: String::new(), // set by the caller
            categories: categories_on(discharged),
            medical_type: self.policy.medical_types[medical_type].0.clone(),
            admitted_on: Day(admitted),
            discharged_on: Day(discharged),
            diagnoses: vec![dx],
            items,
            insurance_type: None,
            hospital_region: None,
            insured_region: None,
            referral: None,
            fund_payments: None,
        }
    }
}

/// A full ICD-10 code from a group prefix (`C` → `C34.9`, `C34` →
/// `C34.9`, `N18.5` stays).
fn complete_icd(prefix: &str) -> String {
    let p = prefix.trim().to_ascii_uppercase();
    match p.len() {
        0 => "R69".into(),
        1 => format!("{p}34.9"),
        2 => format!("{p}0.9"),
        3 => format!("{p}.9"),
        _ => p,
    }
}

/// GB 11643-1999 check digit of a 17-digit base.
fn id_check_digit(base: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let s: u32 = base
        .bytes()
        .zip(W)
        .map(|(b, w)| (b.wrapping_sub(b'0') as u32) * w)
        .sum();
    C[(s % 11) as usize]
}

fn fen(x: f64) -> i64 {
    (x * 100.0).round().max(0.0) as i64
}

fn item(
    code: &str,
    name: &str,
    kind: &str,
    class: ItemClass,
    amount_fen: i64,
    limit_fen: Option<i64>,
) -> Item {
    Item {
        code: code.into(),
        name: name.into(),
        kind: kind.into(),
        class,
        amount: Amount(Decimal::new(amount_fen, 2)),
        limit_amount: limit_fen.map(|l| Amount(Decimal::new(l, 2))),
        self_pay_ratio: None,
    }
}

/// Line items of an admission whose bill is about `cost` yuan.
fn inpatient_items(
    r: &mut ChaCha8Rng,
    cost: f64,
    stay: i64,
    level: usize,
    nlevels: usize,
) -> Vec<Item> {
    let total = fen(cost);
    let mut items = Vec::with_capacity(10);
    let mut used = 0i64;
    let mut push = |items: &mut Vec<Item>, it: Item| {
        used += (it.amount.0 * Decimal::ONE_HUNDRED)
            .trunc()
            .try_into()
            .unwrap_or(0i64);
        items.push(it);
    };
    let reg = [500, 1000, 1500, 2000][level.min(3)] as i64;
    push(
        &mut items,
        item(
            "110200001",
            "挂号费",
            "registration",
            ItemClass::A,
            reg.min(total / 20),
            None,
        ),
    );
    let bed_day = 2_000 + 1_500 * level as i64 * 4 / nlevels.max(1) as i64;
    push(
        &mut items,
        item(
            "120100001",
            "床位费",
            "bed",
            ItemClass::A,
            (bed_day * stay).min(total / 6),
            None,
        ),
    );
    let share =
        |r: &mut ChaCha8Rng, lo: f64, hi: f64| ((total as f64) * r.gen_range(lo..hi)) as i64;
    let lab = share(r, 0.10, 0.18);
    push(
        &mut items,
        item("250000001", "化验费", "lab", ItemClass::A, lab, None),
    );
    let exam = share(r, 0.05, 0.12);
    push(
        &mut items,
        item("270000001", "检查费", "exam", ItemClass::A, exam, None),
    );
    let inj = share(r, 0.01, 0.04);
    push(
        &mut items,
        item("120400001", "注射费", "injection", ItemClass::A, inj, None),
    );
    if r.gen_bool(0.3) {
        let d = share(r, 0.005, 0.02);
        push(
            &mut items,
            item("120300001", "换药费", "dressing", ItemClass::A, d, None),
        );
    }
    if r.gen_bool(0.04) {
        push(
            &mut items,
            item(
                "480000001",
                "救护车费",
                "ambulance",
                ItemClass::A,
                r.gen_range(8_000..30_000),
                None,
            ),
        );
    }
    if r.gen_bool(0.3) {
        let s = share(r, 0.12, 0.25);
        push(
            &mut items,
            item("330000001", "手术费", "surgery", ItemClass::A, s, None),
        );
        let m = share(r, 0.04, 0.10);
        let class = if r.gen_bool(0.7) {
            ItemClass::B
        } else {
            ItemClass::C
        };
        push(
            &mut items,
            item("340000001", "卫生材料费", "material", class, m, None),
        );
    }
    let b = share(r, 0.08, 0.18);
    let limit = if r.gen_bool(0.3) {
        Some((b as f64 * r.gen_range(0.85..0.98)) as i64)
    } else {
        None
    };
    push(
        &mut items,
        item("86900123", "乙类药品", "drug", ItemClass::B, b, limit),
    );
    if r.gen_bool(0.35) {
        let c = share(r, 0.02, 0.08);
        push(
            &mut items,
            item("86901111", "自费药品", "drug", ItemClass::C, c, None),
        );
    }
    if r.gen_bool(0.3) {
        let t = share(r, 0.03, 0.08);
        push(
            &mut items,
            item("310000001", "治疗费", "treatment", ItemClass::A, t, None),
        );
    }
    // Class-A drugs take what is left, so the items add up to the bill.
    let rest = (total - used).max(100);
    items.push(item(
        "86900001",
        "甲类药品",
        "drug",
        ItemClass::A,
        rest,
        None,
    ));
    items.retain(|it| !it.amount.0.is_zero());
    items
}

/// Line items of an outpatient visit of about `cost` yuan.
fn outpatient_items(r: &mut ChaCha8Rng, cost: f64) -> Vec<Item> {
    let total = fen(cost).max(300);
    let reg = 500.min(total / 10);
    let lab = ((total - reg) as f64 * r.gen_range(0.0..0.25)) as i64;
    let b = ((total - reg - lab) as f64 * r.gen_range(0.1..0.5)) as i64;
    let a = total - reg - lab - b;
    let mut items = vec![item(
        "110200002",
        "门诊诊查费",
        "registration",
        ItemClass::A,
        reg,
        None,
    )];
    if lab > 0 {
        items.push(item("250000001", "化验费", "lab", ItemClass::A, lab, None));
    }
    if b > 0 {
        items.push(item("86900123", "乙类药品", "drug", ItemClass::B, b, None));
    }
    items.push(item(
        "86900001",
        "甲类药品",
        "drug",
        ItemClass::A,
        a.max(1),
        None,
    ));
    items
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

    fn policy() -> Policy {
        Policy::from_toml(
            include_str!("../../fixtures/policies/wolong-2017.toml"),
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
