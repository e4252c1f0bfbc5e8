//! Policies (政策): one TOML file per region and period, validated on load and
//! compiled into an indexed form.
//!
//! The compiled [`Policy`] names levels, categories, medical types and disease
//! groups by small integers and keeps sets of them as bit masks, so that
//! settling a claim does no string look-ups and no allocation per item.
//! Validation collects *every* error, each naming its TOML path
//! (`layers[2].bands[1].upto`) and line, so that `medaid policy check` can
//! show an author all of them at once.

pub mod diff;
mod set;
#[cfg(test)]
mod tests;
mod validate;

pub use set::{covers_region, NoPolicy, PolicySet};

use super::toml_tree;
pub use crate::money::Fraction;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::fmt;

/// A set of small ids (levels, categories, medical types, disease groups).
pub type Mask = u64;

/// At most this many levels, categories, medical types or disease groups.
pub const MAX_IDS: usize = 64;

#[inline]
pub fn bit(i: usize) -> Mask {
    1u64 << i
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// TOML path, e.g. `layers[2].bands[1].upto`.
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{} (line {}): {}", self.path, l, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// All problems found in one policy file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct PolicyErrors {
    pub source_name: String,
    pub errors: Vec<PolicyError>,
    /// Unknown keys found on the way: shown with the errors, so that a
    /// misspelt key is not hidden until every error is fixed.
    pub warnings: Vec<PolicyError>,
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} error{}",
            self.source_name,
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning: {w}")?;
        }
        Ok(())
    }
}

pub use super::codes::Payer;

/// A decimal, or a table of decimals by hospital level.
#[derive(Debug, Clone, PartialEq)]
pub enum ByLevel {
    Flat(Decimal),
    /// Indexed by level id; `None` for a level the table does not name
    /// (validation guarantees every level in scope is named).
    Table(Vec<Option<Decimal>>),
}

impl ByLevel {
    #[inline]
    pub fn get(&self, level: usize) -> Decimal {
        match self {
            ByLevel::Flat(d) => *d,
            ByLevel::Table(t) => t.get(level).copied().flatten().unwrap_or(Decimal::ZERO),
        }
    }
}

/// Deductible (起付线).
#[derive(Debug, Clone, PartialEq)]
pub struct Deductible {
    pub per_year: bool,
    pub amount: ByLevel,
    /// Waived when the person holds one of these categories (all, when
    /// `None`) and, if `waive_levels` is set, the level is listed.
    pub waive: Option<Waive>,
    /// By category id; the smallest factor the person holds multiplies.
    pub factor: Vec<Option<Decimal>>,
    /// By category id: the smallest amount among the person's listed
    /// categories replaces `amount` (version 2).
    pub by_category: Option<Vec<Option<Decimal>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Waive {
    pub categories: Option<Mask>,
    pub levels: Option<Mask>,
}

/// One band of segmented ratios (分段报销): up to `upto` (none for the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub upto: Option<Decimal>,
    pub ratio: Decimal,
}

/// Annual or per-admission cap (封顶线).
#[derive(Debug, Clone, PartialEq)]
pub struct Cap {
    pub per_year: bool,
    /// The amount when the claim matches no group the table names.
    pub default: Decimal,
    /// By disease group id (`None` where the table does not name the group).
    pub by_group: Vec<Option<Decimal>>,
    pub exempt: Mask,
    /// By category id: the largest amount among the person's listed
    /// categories replaces the amount (version 2).
    pub by_category: Option<Vec<Option<Decimal>>>,
    /// `per_group = true`: the year's paid is counted per disease group
    /// (门诊慢特病 limits per disease).
    pub per_group: bool,
}

impl Cap {
    /// The largest entry among the claim's matching groups, else the default.
    pub fn amount_for(&self, groups: Mask) -> Decimal {
        match self.group_for(groups) {
            Some(g) => self.by_group[g].unwrap_or(self.default),
            None => self.default,
        }
    }

    /// The matching group whose entry applies: the largest entry, the group
    /// declared first on a tie; `None` when the claim matches no group of
    /// the table (the `default` applies).
    pub fn group_for(&self, groups: Mask) -> Option<usize> {
        let mut best: Option<(usize, Decimal)> = None;
        for (g, amount) in self.by_group.iter().enumerate() {
            if let Some(a) = amount {
                if groups & bit(g) != 0 && best.is_none_or(|(_, b)| *a > b) {
                    best = Some((g, *a));
                }
            }
        }
        best.map(|(g, _)| g)
    }

    /// The amount for this claim and person: the largest `by_category`
    /// amount the person holds, else the disease-group entry or default.
    pub fn amount_for_person(&self, groups: Mask, categories: Mask) -> Decimal {
        self.by_category
            .as_deref()
            .and_then(|t| highest_held(t, categories))
            .unwrap_or_else(|| self.amount_for(groups))
    }

    pub fn has_group_table(&self) -> bool {
        self.by_group.iter().any(Option::is_some)
    }
}

/// What a layer computes.
// A policy has a handful of layers, read on every claim: the ratio
// variant inline (no pointer to chase) is worth the larger enum.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum LayerKind {
    /// Pays a ratio of the eligible amount (after a deductible).
    Ratio {
        deductible: Option<Deductible>,
        ratio: Option<ByLevel>,
        /// By category id: the person's highest replaces `ratio`.
        ratio_by_category: Option<Vec<Option<Decimal>>>,
        /// By category id: the person's highest is added (sum capped at 1).
        ratio_bonus: Option<Vec<Option<Decimal>>>,
        bands: Option<Vec<Band>>,
        /// Signed ratio changes by referral and place of care (version 2).
        ratio_adjust: RatioAdjust,
    },
    /// Tops up to a guaranteed reimbursement ratio (兜底).
    Target {
        target_ratio: Decimal,
        /// `true` for `reference = "total"` (in + out of policy, net of
        /// reductions), `false` for `in_policy`.
        reference_total: bool,
    },
    /// Settled elsewhere (the national platform): pays what the claim's
    /// `fund_payments` names under the layer's fund code (version 2).
    Given,
}

/// `ratio_adjust`: added to a layer's ratio when the claim came without
/// referral (未按规定转诊) and by the place of care (就医地).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RatioAdjust {
    pub unreferred: Decimal,
    pub city: Decimal,
    pub province: Decimal,
    pub national: Decimal,
}

impl RatioAdjust {
    /// The sum of the entries that apply to a claim.
    pub fn for_claim(&self, referred: bool, place: Place) -> Decimal {
        if referred && place == Place::County {
            return Decimal::ZERO; // the common case, without arithmetic
        }
        let mut a = if referred {
            Decimal::ZERO
        } else {
            self.unreferred
        };
        a += match place {
            Place::County => Decimal::ZERO,
            Place::City => self.city,
            Place::Province => self.province,
            Place::National => self.national,
        };
        a
    }

    pub fn is_zero(&self) -> bool {
        self.unreferred.is_zero()
            && self.city.is_zero()
            && self.province.is_zero()
            && self.national.is_zero()
    }
}

/// Where care happened relative to the person's insured region (就医地).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// 县域内: same county (or a region unknown).
    County,
    /// 市域内: same prefecture.
    City,
    /// 省域内: same province.
    Province,
    /// 跨省: another province.
    National,
}

impl Place {
    pub const ALL: [Place; 4] = [Place::County, Place::City, Place::Province, Place::National];

    pub fn as_str(self) -> &'static str {
        match self {
            Place::County => "county",
            Place::City => "city",
            Place::Province => "province",
            Place::National => "national",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Place::County => "县域内",
            Place::City => "市域内",
            Place::Province => "省域内",
            Place::National => "跨省",
        }
    }

    pub fn parse(s: &str) -> Option<Place> {
        Place::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The place of care from the hospital's and the insured region's
    /// 6-digit codes: `county` when either is missing.
    pub fn of(hospital_region: Option<&str>, insured_region: Option<&str>) -> Place {
        let (Some(h), Some(i)) = (hospital_region, insured_region) else {
            return Place::County;
        };
        // bytes, not str slices: a code with a multibyte character (never
        // valid, but not worth a panic) compares unequal
        let (hb, ib) = (h.as_bytes(), i.as_bytes());
        let same = |n: usize| hb.len() >= n && ib.len() >= n && hb[..n] == ib[..n];
        if h == i {
            Place::County
        } else if same(4) {
            Place::City
        } else if same(2) {
            Place::Province
        } else {
            Place::National
        }
    }
}

/// What a layer's base is (the policy key `base`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// What remains in policy after earlier layers (the default).
    InPolicy,
    /// What remains in and out of policy (`base = "all"`).
    All,
    /// The in-policy amount before any layer (`base = "gross"`): a share
    /// of the costs themselves; its pay never exceeds what remains.
    Gross,
}

impl Base {
    pub fn as_str(self) -> &'static str {
        match self {
            Base::InPolicy => "in_policy",
            Base::All => "all",
            Base::Gross => "gross",
        }
    }
}

/// A shared annual limit (共用年度限额) that several layers draw on, per
/// person and year.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub id: String,
    pub label: String,
    pub amount: Decimal,
    /// By category id: the largest amount the person holds replaces `amount`.
    pub by_category: Option<Vec<Option<Decimal>>>,
    /// Categories with no pool limit.
    pub exempt: Mask,
}

impl Pool {
    /// The pool's amount for a person, `None` when they are exempt.
    pub fn amount_for(&self, categories: Mask) -> Option<Decimal> {
        if self.exempt & categories != 0 {
            return None;
        }
        Some(
            self.by_category
                .as_deref()
                .and_then(|t| highest_held(t, categories))
                .unwrap_or(self.amount),
        )
    }

    pub fn display_name(&self) -> &str {
        if self.label.is_empty() {
            &self.id
        } else {
            &self.label
        }
    }
}

/// The prefix of a pool's accumulator key (`pool:aid`): pools share the
/// accumulator table with layers, and layer ids may not take this form.
pub const POOL_KEY_PREFIX: &str = "pool:";
/// Separates a layer id from a disease group in a per-group accumulator
/// key (`chronic@diabetes`, `chronic@default`).
pub const GROUP_KEY_SEP: char = '@';

/// The value among the person's categories that `table` names which
/// `better` prefers to every other (`>` for the highest, `<` for the smallest).
#[inline]
fn pick_held(
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
pub fn highest_held(table: &[Option<Decimal>], cats: Mask) -> Option<Decimal> {
    pick_held(table, cats, |a, b| a > b)
}

/// Smallest value among the person's categories that `table` names.
#[inline]
pub fn smallest_held(table: &[Option<Decimal>], cats: Mask) -> Option<Decimal> {
    pick_held(table, cats, |a, b| a < b)
}

/// One payer layer of a policy, applied in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub id: String,
    pub name: String,
    pub payer: Payer,
    pub fund_code: Option<String>,
    pub medical_types: Option<Mask>,
    pub levels: Option<Mask>,
    pub diseases: Option<Mask>,
    pub categories: Option<Mask>,
    pub base: Base,
    pub kind: LayerKind,
    pub cap: Option<Cap>,
    /// Scope by the claim's insurance type (`insurance_types`, version 2).
    pub insurance_types: Option<Mask>,
    /// Scope by place of care, a set of [`Place::bit`] (version 2).
    pub places: Option<u8>,
    /// `referral = "required"`: only referred claims (version 2).
    pub referral_required: bool,
    /// `exclusive`: index into [`Policy::exclusive_tags`] (就高不重复).
    pub exclusive: Option<usize>,
    /// `pool`: index into [`Policy::pools`].
    pub pool: Option<usize>,
    /// Accumulator slots of a `per_group` cap: by disease group id (for
    /// the groups its table names), and for `default`.
    pub group_slots: Option<GroupSlots>,
}

/// Where a per-group cap keeps its paid amounts among the policy's
/// accumulator slots.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSlots {
    pub by_group: Vec<Option<usize>>,
    pub default: usize,
}

impl Layer {
    /// The fund code this layer reports under (the layer's `fund_code`),
    /// or a guess from the payer when the policy names none.
    pub fn is_given(&self) -> bool {
        matches!(self.kind, LayerKind::Given)
    }

    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }

    pub fn effective_fund_code(&self) -> &str {
        if let Some(c) = &self.fund_code {
            return c;
        }
        // Validation fills in insurance layers' codes; this is the rest.
        self.payer.default_fund(0).code()
    }
}

/// The hospital waivers (七免一减), borne by the hospital.
#[derive(Debug, Clone, PartialEq)]
pub struct Waivers {
    pub categories: Mask,
    pub free_items: Vec<String>,
    pub free_item_levels: Mask,
    pub reduction_rate: Decimal,
    pub reduction_levels: Mask,
    pub reduction_medical_types: Mask,
}

/// A disease group: matched on the primary diagnosis by ICD-10 prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct DiseaseGroup {
    pub id: String,
    pub label: String,
    /// Upper-cased, trimmed prefixes.
    pub prefixes: Vec<String>,
}

/// A validated, compiled policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub region: String,
    pub effective_from: NaiveDate,
    pub effective_to: NaiveDate,
    /// SHA-256 of the file's text, hex (recorded on every answer).
    pub hash: String,
    /// `(id, label)`; the index is the level id.
    pub levels: Vec<(String, String)>,
    pub categories: Vec<(String, String)>,
    pub medical_types: Vec<(String, String)>,
    pub groups: Vec<DiseaseGroup>,
    /// The platform's insurance types (insutype) a claim may carry.
    pub insurance_types: Vec<(String, String)>,
    /// Shared annual limits (version 2).
    pub pools: Vec<Pool>,
    /// The `exclusive` tags, in order of first use.
    pub exclusive_tags: Vec<String>,
    /// Accumulator keys, one per slot: the layer ids (slot = layer index),
    /// then `pool:ID` per pool, then `layer@group` per per-group cap entry.
    pub slots: Vec<String>,
    /// Share of a class-B item that is self-pay-first (乙类先行自付).
    pub self_pay_first_b: Decimal,
    /// The same share as an integer fraction, for the engine's item loop.
    pub self_pay_first_b_fraction: Fraction,
    pub waivers: Option<Waivers>,
    pub layers: Vec<Layer>,
    /// Unknown keys that were ignored (reported by `policy check`).
    pub warnings: Vec<PolicyError>,
}

fn index_of(list: &[(String, String)], id: &str) -> Option<usize> {
    list.iter().position(|(k, _)| k == id)
}

impl Policy {
    pub fn level_index(&self, id: &str) -> Option<usize> {
        index_of(&self.levels, id)
    }
    pub fn category_index(&self, id: &str) -> Option<usize> {
        index_of(&self.categories, id)
    }
    pub fn medical_type_index(&self, id: &str) -> Option<usize> {
        index_of(&self.medical_types, id)
    }
    pub fn insurance_type_index(&self, id: &str) -> Option<usize> {
        index_of(&self.insurance_types, id)
    }
    /// The accumulator slot of pool `pool`.
    pub fn pool_slot(&self, pool: usize) -> usize {
        self.layers.len() + pool
    }
    /// Whether the policy uses any version-2 accumulator (pools, per-group caps).
    pub fn has_extra_slots(&self) -> bool {
        self.slots.len() > self.layers.len()
    }
    pub fn layer_index(&self, id: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.id == id)
    }
    /// Whether the policy is in force on `date` (both ends inclusive).
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.effective_from <= date && date <= self.effective_to
    }
    /// The disease groups the primary diagnosis matches.
    pub fn groups_of(&self, primary_diagnosis: Option<&str>) -> Mask {
        let Some(dx) = primary_diagnosis else {
            return 0;
        };
        let dx = dx.trim().to_uppercase();
        let mut m = 0;
        for (i, g) in self.groups.iter().enumerate() {
            if g.prefixes.iter().any(|p| dx.starts_with(p.as_str())) {
                m |= bit(i);
            }
        }
        m
    }
    /// Whether `kind` is one of the waivers' free items.
    pub fn is_free_item_kind(&self, kind: &str) -> bool {
        self.waivers.as_ref().is_some_and(|w| {
            w.free_items
                .iter()
                .any(|k| k.eq_ignore_ascii_case(kind.trim()))
        })
    }
    pub fn category_mask(&self, ids: &[String]) -> Result<Mask, String> {
        let mut m = 0;
        for c in ids {
            m |= bit(self.category_index(c).ok_or_else(|| c.clone())?);
        }
        Ok(m)
    }

    /// Parse and validate a policy from TOML text. `source_name` (a file
    /// name) is used in the error summary only.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Policy, PolicyErrors> {
        let root = toml_tree::parse(text).map_err(|e| PolicyErrors {
            source_name: source_name.to_string(),
            errors: vec![PolicyError {
                path: "(syntax)".into(),
                line: e.line,
                message: e.message,
            }],
            warnings: Vec::new(),
        })?;
        let mut v = validate::Validator::default();
        let policy = v.policy(&root, text);
        match policy {
            Some(mut p) if v.errors.is_empty() => {
                p.warnings = v.warnings;
                Ok(p)
            }
            _ => {
                if v.errors.is_empty() {
                    // every path that builds no policy reports why; never
                    // let a silent gap through as an empty error list
                    v.err("policy", Some(&root), "could not be read");
                }
                Err(PolicyErrors {
                    source_name: source_name.to_string(),
                    errors: v.errors,
                    warnings: v.warnings,
                })
            }
        }
    }

    /// Read and validate a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy, PolicyErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyErrors {
            source_name: name.clone(),
            errors: vec![PolicyError {
                path: "(file)".into(),
                line: None,
                message: e.to_string(),
            }],
            warnings: Vec::new(),
        })?;
        Policy::from_toml(&text, &name)
    }
}

/// Content hash of a policy's text.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
