//! The policy-derived model of a population: which levels, categories and
//! diagnoses exist and how often, and one person's year drawn from it.

use super::items::{inpatient_items, outpatient_items};
use super::{GenError, GenOptions, Hospital, Person, RegistryRow};
use crate::engine::claim::{Claim, Day, Item};
use crate::engine::Policy;
use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};

/// A category held over a period of the year.
#[derive(Debug, Clone)]
struct Holding {
    category: usize,
    from: NaiveDate,
    to: Option<NaiveDate>,
}

/// The policy-derived model shared by every person.
pub(super) struct Model<'a> {
    policy: &'a Policy,
    pub(super) opts: GenOptions,
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
    pub(super) hospitals: Vec<Hospital>,
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
    pub(super) fn new(policy: &'a Policy, opts: &GenOptions) -> Result<Model<'a>, GenError> {
        let (from, to) = covered_period(policy, opts.year)?;
        let (primary, secondary) = category_weights(policy, opts)?;
        let (inpatient, outpatient) = medical_types(policy)?;
        let levels = level_weights(policy);
        // Hospitals: ten township health centres, a few county and city
        // hospitals, one provincial hospital.
        let region = if policy.region.trim().is_empty() {
            "411303".to_string()
        } else {
            policy.region.clone()
        };
        let (hospitals, by_level) = hospitals(policy, &region);
        let (major_codes, chronic_codes) = diagnoses(policy);
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
    pub(super) fn person(&self, index: usize) -> Person {
        let mut r = self.rng(index);
        let (person_id, name, birth_year) = self.identity(&mut r, index);
        let age = (self.opts.year - birth_year).max(0) as f64;
        let holdings = self.holdings(&mut r);
        let registry = self.registry_rows(&person_id, &name, &holdings);
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

        let admissions = self.admissions(&mut r, age, poorest);
        let mut claims = Vec::new();
        for _ in 0..admissions.min(24) {
            let seq = claims.len() + 1;
            claims.push(self.inpatient_claim(&mut r, index, seq, age, &categories_on));
        }
        self.outpatient_claims(&mut r, index, age, &categories_on, &mut claims);
        claims.sort_by(|a, b| (a.discharged_on, &a.claim_id).cmp(&(b.discharged_on, &b.claim_id)));
        Person { registry, claims }
    }

    /// Birth date, name and id: (id, name, year of birth).
    fn identity(&self, r: &mut ChaCha8Rng, index: usize) -> (String, String, i32) {
        let birth_year = if r.gen_bool(0.55) {
            r.gen_range(1930..1960)
        } else {
            r.gen_range(1960..(self.opts.year - 1).max(1961))
        };
        let birth = NaiveDate::from_ymd_opt(birth_year, r.gen_range(1..=12), r.gen_range(1..=28))
            .unwrap_or(self.year_start);
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
        (person_id, name, birth_year)
    }

    /// Categories: one primary, maybe a secondary; a few change mid-year.
    fn holdings(&self, r: &mut ChaCha8Rng) -> Vec<Holding> {
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
                from = self.date_in_year(r); // entered mid-year
            } else if change < 0.05 {
                to = Some(self.date_in_year(r)); // left mid-year
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
        holdings
    }

    /// The registry rows of a person holding `holdings`.
    fn registry_rows(&self, person_id: &str, name: &str, holdings: &[Holding]) -> Vec<RegistryRow> {
        let mut registry = Vec::new();
        let partial = holdings
            .iter()
            .any(|h| h.from > self.year_start || h.to.is_some());
        if holdings.is_empty() || partial {
            // insured all year, with no category outside the periods
            registry.push(RegistryRow {
                person_id: person_id.to_string(),
                name: name.to_string(),
                category: String::new(),
                valid_from: self.year_start,
                valid_to: None,
            });
        }
        for h in holdings {
            registry.push(RegistryRow {
                person_id: person_id.to_string(),
                name: name.to_string(),
                category: self.policy.categories[h.category].0.clone(),
                valid_from: h.from,
                valid_to: h.to,
            });
        }
        registry
    }

    /// Admissions: negative binomial (gamma-mixed Poisson), more for the
    /// old and for 特困.
    fn admissions(&self, r: &mut ChaCha8Rng, age: f64, poorest: bool) -> usize {
        // Admissions: negative binomial (gamma-mixed Poisson), more for the
        // old and for 特困.
        let mut mean = self.opts.admission_rate * if age >= 65.0 { 1.35 } else { 0.8 };
        if poorest {
            mean *= 1.2;
        }
        let lambda = Gamma::new(0.6, mean / 0.6)
            .map(|g| g.sample(r))
            .unwrap_or(0.0);
        if lambda > 1e-9 {
            Poisson::new(lambda)
                .map(|p| p.sample(r) as usize)
                .unwrap_or(0)
        } else {
            0
        }
    }

    /// One inpatient stay: level, diagnosis, cost, length of stay, items.
    fn inpatient_claim(
        &self,
        r: &mut ChaCha8Rng,
        index: usize,
        seq: usize,
        age: f64,
        categories_on: &dyn Fn(NaiveDate) -> Vec<String>,
    ) -> Claim {
        let (level, median) = self.pick_level(r, false);
        let major =
            !self.major_codes.is_empty() && r.gen_bool(if age >= 60.0 { 0.07 } else { 0.04 });
        let dx = if major {
            self.major_codes[r.gen_range(0..self.major_codes.len())].clone()
        } else {
            COMMON_DX[r.gen_range(0..COMMON_DX.len())].to_string()
        };
        let sigma = 0.75;
        let mut cost = LogNormal::new(median.ln(), sigma)
            .map(|d| d.sample(r))
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
        let discharged = self.date_in_year(r);
        let admitted = discharged - Duration::days(stay);
        let items = inpatient_items(r, cost, stay, level, self.policy.levels.len());
        self.claim(
            r,
            index,
            seq,
            level,
            self.inpatient,
            admitted,
            discharged,
            dx,
            items,
            categories_on,
        )
    }

    /// Chronic outpatient visits (门诊慢特病 / 门诊规定病种), for some.
    fn outpatient_claims(
        &self,
        r: &mut ChaCha8Rng,
        index: usize,
        age: f64,
        categories_on: &dyn Fn(NaiveDate) -> Vec<String>,
        claims: &mut Vec<Claim>,
    ) {
        if let Some(out_type) = self.outpatient {
            let share = self.opts.chronic_share * if age >= 60.0 { 1.5 } else { 0.6 };
            if r.gen_bool(share.clamp(0.0, 1.0)) {
                let dx = self.chronic_codes[r.gen_range(0..self.chronic_codes.len())].clone();
                let dialysis = dx.starts_with("N18");
                let visits = if dialysis { 12 } else { r.gen_range(2..=8) };
                let median = if dialysis { 3_500.0 } else { 380.0 };
                for _ in 0..visits {
                    let (level, _) = self.pick_level(r, true);
                    let cost = LogNormal::new(f64::ln(median), 0.55)
                        .map(|d| d.sample(r))
                        .unwrap_or(median)
                        .clamp(20.0, 50_000.0);
                    let day = self.date_in_year(r);
                    let items = outpatient_items(r, cost);
                    // Claims are numbered in the order they are drawn.
                    let seq = claims.len() + 1;
                    claims.push(self.claim(
                        r,
                        index,
                        seq,
                        level,
                        out_type,
                        day,
                        day,
                        dx.clone(),
                        items,
                        categories_on,
                    ));
                }
            }
        }
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

/// The part of `year` the policy covers.
fn covered_period(policy: &Policy, year: i32) -> Result<(NaiveDate, NaiveDate), GenError> {
    let year_start = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| GenError::BadShares("bad year".into()))?;
    let year_end = NaiveDate::from_ymd_opt(year, 12, 31)
        .ok_or_else(|| GenError::BadShares("bad year".into()))?;
    // The part of the year the policy covers.
    let from = year_start.max(policy.effective_from);
    let to = year_end.min(policy.effective_to);
    if from > to {
        return Err(GenError::YearOutsidePolicy {
            year,
            policy: policy.id.clone(),
            from: policy.effective_from,
            to: policy.effective_to,
        });
    }
    Ok((from, to))
}

/// Cumulative primary-category weights (category index, cumulative) and
/// the categories held alongside another.
type CategoryWeights = (Vec<(usize, f64)>, Vec<usize>);

/// Cumulative primary-category weights (from `--shares` or the defaults)
/// and the categories held alongside another.
fn category_weights(policy: &Policy, opts: &GenOptions) -> Result<CategoryWeights, GenError> {
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
    Ok((primary, secondary))
}

/// The inpatient medical type and, if the policy has one, the outpatient.
fn medical_types(policy: &Policy) -> Result<(usize, Option<usize>), GenError> {
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
    Ok((inpatient, outpatient))
}

/// Level index, cumulative weight and median cost of every level.
fn level_weights(policy: &Policy) -> Vec<(usize, f64, f64)> {
    let mut levels = Vec::new();
    let lsum: f64 = policy.levels.iter().map(|(id, _)| level_weight(id).0).sum();
    let mut acc = 0.0;
    for (ix, (id, _)) in policy.levels.iter().enumerate() {
        let (w, cost) = level_weight(id);
        acc += w / lsum;
        levels.push((ix, acc, cost));
    }
    levels
}

/// The hospitals of each level, and their indices by level.
fn hospitals(policy: &Policy, region: &str) -> (Vec<Hospital>, Vec<Vec<usize>>) {
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
                region: region.to_string(),
            });
        }
    }
    (hospitals, by_level)
}

/// Diagnoses that fall in the policy's disease groups: (major, chronic).
fn diagnoses(policy: &Policy) -> (Vec<String>, Vec<String>) {
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
    (major_codes, chronic_codes)
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
pub(super) fn id_check_digit(base: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let s: u32 = base
        .bytes()
        .zip(W)
        .map(|(b, w)| (b.wrapping_sub(b'0') as u32) * w)
        .sum();
    C[(s % 11) as usize]
}
