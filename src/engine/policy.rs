//! Policies (政策): one TOML file per region and period, validated on load and
//! compiled into an indexed form.
//!
//! The compiled [`Policy`] names levels, categories, medical types and disease
//! groups by small integers and keeps sets of them as bit masks, so that
//! settling a claim does no string look-ups and no allocation per item.
//! Validation collects *every* error, each naming its TOML path
//! (`layers[2].bands[1].upto`) and line, so that `medaid policy check` can
//! show an author all of them at once.

use super::toml_tree::{self, Node, NodeKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

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
        Ok(())
    }
}

/// Who pays a layer (支付方).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Payer {
    Insurance,
    Aid,
    Government,
    Charity,
}

impl Payer {
    pub fn as_str(self) -> &'static str {
        match self {
            Payer::Insurance => "insurance",
            Payer::Aid => "aid",
            Payer::Government => "government",
            Payer::Charity => "charity",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Payer::Insurance => "医疗保险",
            Payer::Aid => "医疗救助",
            Payer::Government => "政府兜底",
            Payer::Charity => "慈善",
        }
    }
    pub const ALL: [Payer; 4] = [
        Payer::Insurance,
        Payer::Aid,
        Payer::Government,
        Payer::Charity,
    ];
}

/// A ratio in [0, 1] as `numerator / 10^k`, to take a share of an integer
/// number of fen exactly, rounded half away from zero like
/// [`crate::money::round2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    numerator: i128,
    denominator: i128,
}

impl Fraction {
    pub fn new(ratio: Decimal) -> Fraction {
        let r = ratio.normalize();
        Fraction {
            numerator: r.mantissa(),
            denominator: 10i128.pow(r.scale()),
        }
    }

    /// `round(fen × ratio)` in fen, or `None` if the product would not fit.
    #[inline]
    pub fn of_fen(self, fen: i64) -> Option<i64> {
        let p = (fen as i128).checked_mul(self.numerator)?;
        let (q, r) = (p / self.denominator, p % self.denominator);
        let q = if 2 * r.abs() >= self.denominator {
            q + p.signum()
        } else {
            q
        };
        i64::try_from(q).ok()
    }

    pub fn is_zero(self) -> bool {
        self.numerator == 0
    }
}

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
}

impl Cap {
    /// The largest entry among the claim's matching groups, else the default.
    pub fn amount_for(&self, groups: Mask) -> Decimal {
        let mut best: Option<Decimal> = None;
        for (g, amount) in self.by_group.iter().enumerate() {
            if let Some(a) = amount {
                if groups & bit(g) != 0 && best.is_none_or(|b| *a > b) {
                    best = Some(*a);
                }
            }
        }
        best.unwrap_or(self.default)
    }

    pub fn has_group_table(&self) -> bool {
        self.by_group.iter().any(Option::is_some)
    }
}

/// What a layer computes.
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
    },
    /// Tops up to a guaranteed reimbursement ratio (兜底).
    Target {
        target_ratio: Decimal,
        /// `true` for `reference = "total"` (in + out of policy, net of
        /// reductions), `false` for `in_policy`.
        reference_total: bool,
    },
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
    /// `base = "all"`: also pays out-of-policy costs.
    pub base_all: bool,
    pub kind: LayerKind,
    pub cap: Option<Cap>,
}

impl Layer {
    /// The fund code this layer reports under (DESIGN.md §2, `fund_code`),
    /// or a guess from the payer when the policy names none.
    pub fn effective_fund_code(&self) -> &str {
        if let Some(c) = &self.fund_code {
            return c;
        }
        match self.payer {
            Payer::Insurance => "390100",
            Payer::Aid => "610100",
            Payer::Government => "640100",
            Payer::Charity => "999997",
        }
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
        })?;
        let mut v = Validator::default();
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
        })?;
        Policy::from_toml(&text, &name)
    }
}

/// Content hash of a policy's text.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

// ---------------------------------------------------------------------------
// Validation

#[derive(Default)]
struct Validator {
    errors: Vec<PolicyError>,
    warnings: Vec<PolicyError>,
}

/// What the validator knows of the declarations while checking layers.
struct Decl {
    levels: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    medical_types: Vec<(String, String)>,
    groups: Vec<DiseaseGroup>,
}

const LAYER_KEYS: &[&str] = &[
    "id",
    "name",
    "payer",
    "fund_code",
    "medical_types",
    "levels",
    "diseases",
    "categories",
    "base",
    "kind",
    "deductible",
    "ratio",
    "ratio_by_category",
    "ratio_bonus",
    "bands",
    "cap",
    "target_ratio",
    "reference",
];

impl Validator {
    fn err(&mut self, path: &str, node: Option<&Node>, msg: impl Into<String>) {
        self.errors.push(PolicyError {
            path: path.to_string(),
            line: node.and_then(|n| n.line),
            message: msg.into(),
        });
    }

    fn warn_unknown(&mut self, path: &str, node: &Node, known: &[&str]) {
        if let Some(t) = node.as_table() {
            for (k, v) in t {
                if !known.contains(&k.as_str()) {
                    self.warnings.push(PolicyError {
                        path: join(path, k),
                        line: v.line,
                        message: format!("unknown key `{k}` ignored"),
                    });
                }
            }
        }
    }

    fn table<'a>(&mut self, path: &str, node: &'a Node) -> Option<&'a [(String, Node)]> {
        match node.as_table() {
            Some(t) => Some(t),
            None => {
                self.err(
                    path,
                    Some(node),
                    format!("expected a table, found {}", node.type_name()),
                );
                None
            }
        }
    }

    fn string(&mut self, path: &str, node: &Node) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            _ => {
                self.err(
                    path,
                    Some(node),
                    format!("expected a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    fn required_string(&mut self, parent: &Node, ppath: &str, key: &str) -> Option<String> {
        match parent.get(key) {
            Some(n) => {
                let s = self.string(&join(ppath, key), n)?;
                if s.trim().is_empty() {
                    self.err(&join(ppath, key), Some(n), "must not be empty");
                    return None;
                }
                Some(s)
            }
            None => {
                self.err(&join(ppath, key), Some(parent), "is required");
                None
            }
        }
    }

    fn date(&mut self, path: &str, node: &Node) -> Option<NaiveDate> {
        let s = match &node.kind {
            NodeKind::Str(s) | NodeKind::Date(s) => s.clone(),
            _ => {
                self.err(
                    path,
                    Some(node),
                    format!("expected a date YYYY-MM-DD, found {}", node.type_name()),
                );
                return None;
            }
        };
        match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    path,
                    Some(node),
                    format!("expected a date YYYY-MM-DD, found {s:?}"),
                );
                None
            }
        }
    }

    /// A decimal given as a string (`"0.80"`), an integer or a float literal.
    fn decimal(&mut self, path: &str, node: &Node) -> Option<Decimal> {
        let text = match &node.kind {
            NodeKind::Str(s) => s.trim().to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.clone(),
            _ => {
                self.err(
                    path,
                    Some(node),
                    format!(
                        "expected a decimal such as \"0.80\", found {}",
                        node.type_name()
                    ),
                );
                return None;
            }
        };
        match Decimal::from_str(&text) {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(path, Some(node), format!("not a decimal: {text:?}"));
                None
            }
        }
    }

    fn unit(&mut self, path: &str, node: &Node) -> Option<Decimal> {
        let d = self.decimal(path, node)?;
        if d < Decimal::ZERO || d > Decimal::ONE {
            self.err(path, Some(node), format!("must lie in [0, 1], found {d}"));
            return None;
        }
        Some(d)
    }

    fn amount(&mut self, path: &str, node: &Node) -> Option<Decimal> {
        let d = self.decimal(path, node)?;
        if d < Decimal::ZERO {
            self.err(path, Some(node), format!("must be ≥ 0, found {d}"));
            return None;
        }
        if d.normalize().scale() > 2 {
            self.err(
                path,
                Some(node),
                format!("an amount has at most two decimals, found {d}"),
            );
            return None;
        }
        Some(d)
    }

    /// `id = "label"` declarations (levels, categories, medical types).
    fn declarations(&mut self, root: &Node, key: &str, required: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Some(node) = root.get(key) else {
            if required {
                self.err(key, Some(root), "is required: declare at least one");
            }
            return out;
        };
        let Some(t) = self.table(key, node) else {
            return out;
        };
        for (id, v) in t {
            let path = join(key, id);
            let label = match &v.kind {
                NodeKind::Str(s) => s.clone(),
                _ => {
                    self.err(
                        &path,
                        Some(v),
                        format!("expected a label string, found {}", v.type_name()),
                    );
                    continue;
                }
            };
            out.push((id.clone(), label));
        }
        if required && out.is_empty() && !t.is_empty() {
            // errors already reported
        } else if required && out.is_empty() {
            self.err(key, Some(node), "declare at least one");
        }
        if out.len() > MAX_IDS {
            self.err(key, Some(node), format!("at most {MAX_IDS} entries"));
        }
        out
    }

    fn ids_array(&mut self, path: &str, node: &Node) -> Option<Vec<(String, Option<usize>)>> {
        match &node.kind {
            NodeKind::Array(a) => {
                let mut out = Vec::new();
                for (i, x) in a.iter().enumerate() {
                    if let Some(s) = self.string(&format!("{path}[{i}]"), x) {
                        out.push((s, x.line.or(node.line)));
                    }
                }
                Some(out)
            }
            _ => {
                self.err(
                    path,
                    Some(node),
                    format!("expected an array of ids, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// An array of ids that must be declared in `decl` (`what` names it).
    fn mask(
        &mut self,
        path: &str,
        node: &Node,
        decl: &[(String, String)],
        what: &str,
    ) -> Option<Mask> {
        let ids = self.ids_array(path, node)?;
        let mut m = 0;
        let mut ok = true;
        for (i, (id, line)) in ids.iter().enumerate() {
            match index_of(decl, id) {
                Some(ix) => m |= bit(ix),
                None => {
                    ok = false;
                    self.errors.push(PolicyError {
                        path: format!("{path}[{i}]"),
                        line: *line,
                        message: format!(
                            "unknown {what} `{id}` (not declared in [{}])",
                            decl_table(what)
                        ),
                    });
                }
            }
        }
        ok.then_some(m)
    }

    fn group_mask(&mut self, path: &str, node: &Node, groups: &[DiseaseGroup]) -> Option<Mask> {
        let decl: Vec<(String, String)> = groups
            .iter()
            .map(|g| (g.id.clone(), g.label.clone()))
            .collect();
        self.mask(path, node, &decl, "disease group")
    }

    /// A table keyed by declared ids with unit-interval values.
    fn unit_table(
        &mut self,
        path: &str,
        node: &Node,
        decl: &[(String, String)],
        what: &str,
    ) -> Option<Vec<Option<Decimal>>> {
        let t = self.table(path, node)?;
        let mut out = vec![None; decl.len()];
        let mut ok = true;
        for (k, v) in t {
            let p = join(path, k);
            match index_of(decl, k) {
                Some(ix) => match self.unit(&p, v) {
                    Some(d) => out[ix] = Some(d),
                    None => ok = false,
                },
                None => {
                    ok = false;
                    self.err(
                        &p,
                        Some(v),
                        format!(
                            "unknown {what} `{k}` (not declared in [{}])",
                            decl_table(what)
                        ),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// A decimal or a table by level that must name every level in `scope`.
    fn by_level(
        &mut self,
        path: &str,
        node: &Node,
        levels: &[(String, String)],
        scope: Mask,
        unit: bool,
    ) -> Option<ByLevel> {
        match &node.kind {
            NodeKind::Table(t) => {
                let mut out = vec![None; levels.len()];
                let mut ok = true;
                for (k, v) in t {
                    let p = join(path, k);
                    match index_of(levels, k) {
                        Some(ix) => {
                            let d = if unit {
                                self.unit(&p, v)
                            } else {
                                self.amount(&p, v)
                            };
                            match d {
                                Some(d) => out[ix] = Some(d),
                                None => ok = false,
                            }
                        }
                        None => {
                            ok = false;
                            self.err(
                                &p,
                                Some(v),
                                format!("unknown level `{k}` (not declared in [levels])"),
                            );
                        }
                    }
                }
                let missing: Vec<&str> = levels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        scope & bit(*i) != 0
                            && out[*i].is_none()
                            && !t.iter().any(|(k, _)| k == &levels[*i].0)
                    })
                    .map(|(_, (id, _))| id.as_str())
                    .collect();
                if !missing.is_empty() {
                    ok = false;
                    self.err(
                        path,
                        Some(node),
                        format!(
                            "must name every level in the layer's scope; missing: {}",
                            missing.join(", ")
                        ),
                    );
                }
                ok.then_some(ByLevel::Table(out))
            }
            _ => {
                let d = if unit {
                    self.unit(path, node)
                } else {
                    self.amount(path, node)
                };
                d.map(ByLevel::Flat)
            }
        }
    }

    fn policy(&mut self, root: &Node, text: &str) -> Option<Policy> {
        let head = match root.get("policy") {
            Some(h) => self.table("policy", h).map(|_| h),
            None => {
                self.err("policy", Some(root), "the [policy] table is required");
                None
            }
        };
        let (mut id, mut name, mut region, mut from, mut to) = (None, None, None, None, None);
        if let Some(h) = head {
            id = self.required_string(h, "policy", "id");
            name = h.get("name").and_then(|n| self.string("policy.name", n));
            region = h
                .get("region")
                .and_then(|n| self.string("policy.region", n));
            from = match h.get("effective_from") {
                Some(n) => self.date("policy.effective_from", n),
                None => {
                    self.err("policy.effective_from", Some(h), "is required");
                    None
                }
            };
            to = match h.get("effective_to") {
                Some(n) => self.date("policy.effective_to", n),
                None => {
                    self.err("policy.effective_to", Some(h), "is required");
                    None
                }
            };
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    self.err(
                        "policy.effective_to",
                        h.get("effective_to"),
                        format!("ends ({t}) before it starts ({f})"),
                    );
                }
            }
        }
        for (k, v) in root.as_table().unwrap_or(&[]) {
            if ![
                "policy",
                "levels",
                "categories",
                "medical_types",
                "diseases",
                "catalogue",
                "waivers",
                "layers",
            ]
            .contains(&k.as_str())
            {
                self.err(k, Some(v), format!("unknown top-level key `{k}`"));
            }
        }
        let levels = self.declarations(root, "levels", true);
        let categories = self.declarations(root, "categories", false);
        let medical_types = self.declarations(root, "medical_types", true);
        let groups = self.groups(root);
        let decl = Decl {
            levels,
            categories,
            medical_types,
            groups,
        };

        let self_pay_first_b = self.catalogue(root);
        let waivers = root.get("waivers").and_then(|w| self.waivers(w, &decl));

        let mut layers = Vec::new();
        match root.get("layers") {
            None => self.err("layers", Some(root), "at least one [[layers]] is required"),
            Some(n) => match &n.kind {
                NodeKind::Array(a) if !a.is_empty() => {
                    for (i, l) in a.iter().enumerate() {
                        if let Some(layer) = self.layer(&format!("layers[{i}]"), l, &decl) {
                            if layers.iter().any(|x: &Layer| x.id == layer.id) {
                                self.err(
                                    &format!("layers[{i}].id"),
                                    l.get("id"),
                                    format!("duplicate layer id `{}`", layer.id),
                                );
                            }
                            layers.push(layer);
                        }
                    }
                }
                NodeKind::Array(_) => self.err("layers", Some(n), "at least one layer is required"),
                _ => self.err("layers", Some(n), "expected [[layers]] tables"),
            },
        }

        if !self.errors.is_empty() {
            return None;
        }
        // A layer without a fund code reports by payer; insurance layers in
        // file order as basic, critical-illness, supplementary.
        let mut nth_insurance = 0;
        for l in &mut layers {
            if l.payer == Payer::Insurance && l.fund_code.is_none() {
                l.fund_code =
                    Some(["390100", "390200", "390300"][nth_insurance.min(2)].to_string());
            }
            if l.payer == Payer::Insurance {
                nth_insurance += 1;
            }
        }
        Some(Policy {
            id: id?,
            name: name.unwrap_or_default(),
            region: region.unwrap_or_default(),
            effective_from: from?,
            effective_to: to?,
            hash: content_hash(text),
            levels: decl.levels,
            categories: decl.categories,
            medical_types: decl.medical_types,
            groups: decl.groups,
            self_pay_first_b: self_pay_first_b.unwrap_or(Decimal::ZERO),
            self_pay_first_b_fraction: Fraction::new(self_pay_first_b.unwrap_or(Decimal::ZERO)),
            waivers,
            layers,
            warnings: Vec::new(),
        })
    }

    fn groups(&mut self, root: &Node) -> Vec<DiseaseGroup> {
        let mut out = Vec::new();
        let Some(d) = root.get("diseases") else {
            return out;
        };
        let Some(t) = self.table("diseases", d) else {
            return out;
        };
        for (id, g) in t {
            let path = join("diseases", id);
            if g.as_table().is_none() {
                self.err(&path, Some(g), "expected a table with `label` and `icd10`");
                continue;
            }
            self.warn_unknown(&path, g, &["label", "icd10"]);
            let label = g
                .get("label")
                .and_then(|n| self.string(&join(&path, "label"), n))
                .unwrap_or_else(|| id.clone());
            let mut prefixes = Vec::new();
            match g.get("icd10") {
                None => self.err(
                    &join(&path, "icd10"),
                    Some(g),
                    "is required: a list of ICD-10 code prefixes",
                ),
                Some(n) => {
                    if let Some(ids) = self.ids_array(&join(&path, "icd10"), n) {
                        for (i, (p, line)) in ids.into_iter().enumerate() {
                            let p = p.trim().to_uppercase();
                            if p.is_empty() {
                                self.errors.push(PolicyError {
                                    path: format!("{path}.icd10[{i}]"),
                                    line,
                                    message: "an empty prefix would match every diagnosis".into(),
                                });
                            }
                            prefixes.push(p);
                        }
                        if prefixes.is_empty() {
                            self.warnings.push(PolicyError {
                                path: join(&path, "icd10"),
                                line: n.line,
                                message: "no prefixes: this group matches no diagnosis".into(),
                            });
                        }
                    }
                }
            }
            out.push(DiseaseGroup {
                id: id.clone(),
                label,
                prefixes,
            });
        }
        if out.len() > MAX_IDS {
            self.err("diseases", Some(d), format!("at most {MAX_IDS} groups"));
        }
        out
    }

    fn catalogue(&mut self, root: &Node) -> Option<Decimal> {
        let c = root.get("catalogue")?;
        self.table("catalogue", c)?;
        self.warn_unknown("catalogue", c, &["self_pay_first"]);
        let s = c.get("self_pay_first")?;
        let t = self.table("catalogue.self_pay_first", s)?;
        let mut b = None;
        for (k, v) in t {
            let p = join("catalogue.self_pay_first", k);
            match k.as_str() {
                "B" => b = self.unit(&p, v),
                "A" | "C" => self.err(&p, Some(v), format!("only class B has a self-pay-first share (class {k} is wholly in or wholly out of policy)")),
                _ => self.err(&p, Some(v), format!("unknown item class `{k}` (A, B or C)")),
            }
        }
        b
    }

    fn waivers(&mut self, w: &Node, decl: &Decl) -> Option<Waivers> {
        self.table("waivers", w)?;
        self.warn_unknown(
            "waivers",
            w,
            &[
                "categories",
                "free_items",
                "free_item_levels",
                "reduction_rate",
                "reduction_levels",
                "reduction_medical_types",
            ],
        );
        let mask_or_empty =
            |v: &mut Self, key: &str, d: &[(String, String)], what: &str| -> Option<Mask> {
                match w.get(key) {
                    Some(n) => v.mask(&join("waivers", key), n, d, what),
                    None => Some(0),
                }
            };
        let categories = mask_or_empty(self, "categories", &decl.categories, "category");
        let free_item_levels = mask_or_empty(self, "free_item_levels", &decl.levels, "level");
        let reduction_levels = mask_or_empty(self, "reduction_levels", &decl.levels, "level");
        let reduction_medical_types = mask_or_empty(
            self,
            "reduction_medical_types",
            &decl.medical_types,
            "medical type",
        );
        let free_items = match w.get("free_items") {
            Some(n) => self
                .ids_array("waivers.free_items", n)
                .map(|v| v.into_iter().map(|(s, _)| s.trim().to_string()).collect()),
            None => Some(Vec::new()),
        };
        let reduction_rate = match w.get("reduction_rate") {
            Some(n) => self.unit("waivers.reduction_rate", n),
            None => Some(Decimal::ZERO),
        };
        Some(Waivers {
            categories: categories?,
            free_items: free_items?,
            free_item_levels: free_item_levels?,
            reduction_rate: reduction_rate?,
            reduction_levels: reduction_levels?,
            reduction_medical_types: reduction_medical_types?,
        })
    }

    fn layer(&mut self, path: &str, l: &Node, decl: &Decl) -> Option<Layer> {
        self.table(path, l)?;
        self.warn_unknown(path, l, LAYER_KEYS);
        let errors_before = self.errors.len();
        let id = self.required_string(l, path, "id");
        let name = l
            .get("name")
            .and_then(|n| self.string(&join(path, "name"), n));
        let payer = match l.get("payer") {
            None => {
                self.err(
                    &join(path, "payer"),
                    Some(l),
                    "is required (insurance, aid, government or charity)",
                );
                None
            }
            Some(n) => match self.string(&join(path, "payer"), n).as_deref() {
                Some("insurance") => Some(Payer::Insurance),
                Some("aid") => Some(Payer::Aid),
                Some("government") => Some(Payer::Government),
                Some("charity") => Some(Payer::Charity),
                Some(other) => {
                    self.err(
                        &join(path, "payer"),
                        Some(n),
                        format!("unknown payer `{other}` (insurance, aid, government or charity)"),
                    );
                    None
                }
                None => None,
            },
        };
        let fund_code = l.get("fund_code").and_then(|n| {
            let p = join(path, "fund_code");
            let s = match &n.kind {
                NodeKind::Int(i) => Some(i.to_string()),
                _ => self.string(&p, n),
            }?;
            if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
                self.err(&p, Some(n), format!("a fund code has six digits (390100, 390200, 390300, 610100, 640100, 999997), found {s:?}"));
                return None;
            }
            Some(s)
        });
        let medical_types = l.get("medical_types").and_then(|n| {
            self.mask(
                &join(path, "medical_types"),
                n,
                &decl.medical_types,
                "medical type",
            )
        });
        let levels = l
            .get("levels")
            .and_then(|n| self.mask(&join(path, "levels"), n, &decl.levels, "level"));
        let diseases = l
            .get("diseases")
            .and_then(|n| self.group_mask(&join(path, "diseases"), n, &decl.groups));
        let mut categories = l
            .get("categories")
            .and_then(|n| self.mask(&join(path, "categories"), n, &decl.categories, "category"));
        let base_all = match l.get("base") {
            None => false,
            Some(n) => match self.string(&join(path, "base"), n).as_deref() {
                Some("in_policy") => false,
                Some("all") => true,
                Some(o) => {
                    self.err(
                        &join(path, "base"),
                        Some(n),
                        format!("unknown base `{o}` (in_policy or all)"),
                    );
                    false
                }
                None => false,
            },
        };
        let is_target = match l.get("kind") {
            None => false,
            Some(n) => match self.string(&join(path, "kind"), n).as_deref() {
                Some("ratio") => false,
                Some("target") => true,
                Some(o) => {
                    self.err(
                        &join(path, "kind"),
                        Some(n),
                        format!("unknown kind `{o}` (ratio or target)"),
                    );
                    false
                }
                None => false,
            },
        };
        let all_levels: Mask = if decl.levels.len() >= 64 {
            u64::MAX
        } else {
            bit(decl.levels.len()) - 1
        };
        let level_scope = levels.unwrap_or(all_levels);

        let kind = if is_target {
            for k in [
                "deductible",
                "ratio",
                "ratio_by_category",
                "ratio_bonus",
                "bands",
            ] {
                if let Some(n) = l.get(k) {
                    self.err(
                        &join(path, k),
                        Some(n),
                        format!("a target layer has no `{k}`"),
                    );
                }
            }
            let target_ratio = match l.get("target_ratio") {
                Some(n) => self.unit(&join(path, "target_ratio"), n),
                None => {
                    self.err(
                        &join(path, "target_ratio"),
                        Some(l),
                        "is required for kind = \"target\"",
                    );
                    None
                }
            };
            let reference_total = match l.get("reference") {
                None => false,
                Some(n) => match self.string(&join(path, "reference"), n).as_deref() {
                    Some("in_policy") => false,
                    Some("total") => true,
                    Some(o) => {
                        self.err(
                            &join(path, "reference"),
                            Some(n),
                            format!("unknown reference `{o}` (in_policy or total)"),
                        );
                        false
                    }
                    None => false,
                },
            };
            target_ratio.map(|t| LayerKind::Target {
                target_ratio: t,
                reference_total,
            })
        } else {
            for k in ["target_ratio", "reference"] {
                if let Some(n) = l.get(k) {
                    self.err(
                        &join(path, k),
                        Some(n),
                        format!("`{k}` belongs to kind = \"target\" layers only"),
                    );
                }
            }
            let deductible = l
                .get("deductible")
                .and_then(|n| self.deductible(&join(path, "deductible"), n, decl, level_scope));
            let ratio = l.get("ratio").and_then(|n| {
                self.by_level(&join(path, "ratio"), n, &decl.levels, level_scope, true)
            });
            let ratio_by_category = l.get("ratio_by_category").and_then(|n| {
                self.unit_table(
                    &join(path, "ratio_by_category"),
                    n,
                    &decl.categories,
                    "category",
                )
            });
            let ratio_bonus = l.get("ratio_bonus").and_then(|n| {
                self.unit_table(&join(path, "ratio_bonus"), n, &decl.categories, "category")
            });
            let bands = l
                .get("bands")
                .and_then(|n| self.bands(&join(path, "bands"), n));
            if let Some(b) = l.get("bands") {
                for k in ["ratio", "ratio_by_category"] {
                    if l.get(k).is_some() {
                        self.warnings.push(PolicyError {
                            path: join(path, k),
                            line: l.get(k).and_then(|n| n.line),
                            message: format!(
                                "ignored: the layer has `bands` (line {}), whose ratios apply",
                                b.line.map_or("?".to_string(), |x| x.to_string())
                            ),
                        });
                    }
                }
            }
            if l.get("ratio").is_none()
                && l.get("ratio_by_category").is_none()
                && l.get("bands").is_none()
            {
                self.err(
                    path,
                    Some(l),
                    "a ratio layer needs `ratio`, `ratio_by_category` or `bands`",
                );
            }
            if let Some(rbc) = &ratio_by_category {
                let keys: Mask = rbc
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_some())
                    .fold(0, |m, (i, _)| m | bit(i));
                match categories {
                    None => categories = Some(keys),
                    Some(scope) => {
                        if scope & !keys != 0
                            && l.get("ratio").is_none()
                            && l.get("bands").is_none()
                        {
                            let missing: Vec<&str> = decl
                                .categories
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| scope & !keys & bit(*i) != 0)
                                .map(|(_, c)| c.0.as_str())
                                .collect();
                            // Not an error (DESIGN.md does not forbid it): those
                            // categories are in scope at ratio 0. Worth a warning.
                            self.warnings.push(PolicyError {
                                path: join(path, "ratio_by_category"),
                                line: l.get("ratio_by_category").and_then(|n| n.line),
                                message: format!("names no ratio for categories in scope ({}) and there is no `ratio`: they get 0 %", missing.join(", ")),
                            });
                        }
                    }
                }
            }
            Some(LayerKind::Ratio {
                deductible,
                ratio,
                ratio_by_category,
                ratio_bonus,
                bands,
            })
        };
        let cap = l
            .get("cap")
            .and_then(|n| self.cap(&join(path, "cap"), n, decl));
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Layer {
            id: id?,
            name: name.unwrap_or_default(),
            payer: payer?,
            fund_code,
            medical_types,
            levels,
            diseases,
            categories,
            base_all,
            kind: kind?,
            cap,
        })
    }

    fn per(&mut self, path: &str, parent: &Node) -> bool {
        match parent.get("per") {
            None => true,
            Some(n) => match self.string(&join(path, "per"), n).as_deref() {
                Some("year") => true,
                Some("admission") => false,
                Some(o) => {
                    self.err(
                        &join(path, "per"),
                        Some(n),
                        format!("unknown period `{o}` (admission or year)"),
                    );
                    true
                }
                None => true,
            },
        }
    }

    fn deductible(
        &mut self,
        path: &str,
        n: &Node,
        decl: &Decl,
        level_scope: Mask,
    ) -> Option<Deductible> {
        self.table(path, n)?;
        self.warn_unknown(path, n, &["per", "amount", "waive", "factor"]);
        let per_year = self.per(path, n);
        let amount = match n.get("amount") {
            Some(a) => self.by_level(&join(path, "amount"), a, &decl.levels, level_scope, false),
            None => {
                self.err(&join(path, "amount"), Some(n), "is required");
                None
            }
        };
        let waive = match n.get("waive") {
            None => Some(None),
            Some(w) => {
                let wp = join(path, "waive");
                if self.table(&wp, w).is_none() {
                    None
                } else {
                    self.warn_unknown(&wp, w, &["categories", "levels"]);
                    let c = w.get("categories").map(|c| {
                        self.mask(&join(&wp, "categories"), c, &decl.categories, "category")
                    });
                    let lv = w
                        .get("levels")
                        .map(|c| self.mask(&join(&wp, "levels"), c, &decl.levels, "level"));
                    match (c, lv) {
                        (Some(None), _) | (_, Some(None)) => None,
                        (c, lv) => Some(Some(Waive {
                            categories: c.flatten(),
                            levels: lv.flatten(),
                        })),
                    }
                }
            }
        };
        let factor = match n.get("factor") {
            None => Some(vec![None; decl.categories.len()]),
            Some(f) => self.unit_table(&join(path, "factor"), f, &decl.categories, "category"),
        };
        Some(Deductible {
            per_year,
            amount: amount?,
            waive: waive?,
            factor: factor?,
        })
    }

    fn bands(&mut self, path: &str, n: &Node) -> Option<Vec<Band>> {
        let NodeKind::Array(a) = &n.kind else {
            self.err(
                path,
                Some(n),
                format!("expected an array of bands, found {}", n.type_name()),
            );
            return None;
        };
        if a.is_empty() {
            self.err(path, Some(n), "list at least one band");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut prev: Option<Decimal> = None;
        for (i, b) in a.iter().enumerate() {
            let bp = format!("{path}[{i}]");
            if self.table(&bp, b).is_none() {
                ok = false;
                continue;
            }
            self.warn_unknown(&bp, b, &["upto", "ratio"]);
            let ratio = match b.get("ratio") {
                Some(r) => self.unit(&join(&bp, "ratio"), r),
                None => {
                    self.err(&join(&bp, "ratio"), Some(b), "is required");
                    None
                }
            };
            let last = i + 1 == a.len();
            let upto = match b.get("upto") {
                Some(u) => {
                    let d = self.amount(&join(&bp, "upto"), u);
                    if let Some(d) = d {
                        if last {
                            self.err(
                                &join(&bp, "upto"),
                                Some(u),
                                "the last band has no upper limit",
                            );
                            ok = false;
                        }
                        let floor = prev.unwrap_or(Decimal::ZERO);
                        if prev.is_some() && d <= floor {
                            self.err(
                                &join(&bp, "upto"),
                                Some(u),
                                format!("band limits must strictly increase ({d} after {floor})"),
                            );
                            ok = false;
                        }
                        prev = Some(d);
                    } else {
                        ok = false;
                    }
                    d
                }
                None => {
                    if !last {
                        self.err(
                            &join(&bp, "upto"),
                            Some(b),
                            "only the last band may omit `upto`",
                        );
                        ok = false;
                    }
                    None
                }
            };
            match ratio {
                Some(r) => out.push(Band { upto, ratio: r }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn cap(&mut self, path: &str, n: &Node, decl: &Decl) -> Option<Cap> {
        self.table(path, n)?;
        self.warn_unknown(path, n, &["per", "amount", "exempt"]);
        let per_year = self.per(path, n);
        let exempt = match n.get("exempt") {
            Some(e) => self.mask(&join(path, "exempt"), e, &decl.categories, "category"),
            None => Some(0),
        };
        let (default, by_group) = match n.get("amount") {
            None => {
                self.err(&join(path, "amount"), Some(n), "is required");
                (None, None)
            }
            Some(a) => match &a.kind {
                NodeKind::Table(t) => {
                    let ap = join(path, "amount");
                    let mut by_group = vec![None; decl.groups.len()];
                    let mut default = None;
                    let mut ok = true;
                    for (k, v) in t {
                        let p = join(&ap, k);
                        if k == "default" {
                            default = self.amount(&p, v);
                            ok &= default.is_some();
                        } else if let Some(ix) = decl.groups.iter().position(|g| &g.id == k) {
                            by_group[ix] = self.amount(&p, v);
                            ok &= by_group[ix].is_some();
                        } else {
                            ok = false;
                            self.err(
                                &p,
                                Some(v),
                                format!("unknown disease group `{k}` (not declared in [diseases])"),
                            );
                        }
                    }
                    if !t.iter().any(|(k, _)| k == "default") {
                        ok = false;
                        self.err(
                            &ap,
                            Some(a),
                            "a cap table by disease group needs a `default`",
                        );
                    }
                    if ok {
                        (default, Some(by_group))
                    } else {
                        (None, None)
                    }
                }
                _ => (
                    self.amount(&join(path, "amount"), a),
                    Some(vec![None; decl.groups.len()]),
                ),
            },
        };
        Some(Cap {
            per_year,
            default: default?,
            by_group: by_group?,
            exempt: exempt?,
        })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn decl_table(what: &str) -> &'static str {
    match what {
        "level" => "levels",
        "category" => "categories",
        "medical type" => "medical_types",
        "disease group" => "diseases",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    pub(crate) const DESIGN_POLICY: &str = include_str!("../../fixtures/design/policy.toml");

    #[test]
    fn fraction_rounds_like_round2() {
        use crate::money::{from_fen, round2};
        for ratio in [
            dec!(0.10),
            dec!(0.155),
            dec!(0.333),
            dec!(1),
            dec!(0),
            dec!(0.0000001),
        ] {
            let f = Fraction::new(ratio);
            for fen in [0i64, 1, 5, 15, 99, 12345, 99_999_999_999] {
                let expected = crate::money::to_fen(round2(from_fen(fen) * ratio));
                assert_eq!(f.of_fen(fen), Some(expected), "{fen} × {ratio}");
            }
        }
    }

    #[test]
    fn loads_the_design_example() {
        let p = Policy::from_toml(DESIGN_POLICY, "design").unwrap();
        assert_eq!(p.id, "wolong-2017");
        assert_eq!(p.levels.len(), 3);
        assert_eq!(p.layers.len(), 4);
        assert_eq!(p.self_pay_first_b, dec!(0.10));
        let aid = &p.layers[2];
        // scope defaults to the keys of ratio_by_category
        assert_eq!(aid.categories, Some(0b0111));
        let cap = aid.cap.as_ref().unwrap();
        assert_eq!(cap.amount_for(0), dec!(10000));
        assert_eq!(cap.amount_for(1), dec!(20000));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(p.hash.len(), 64);
    }

    fn errors_of(text: &str) -> Vec<PolicyError> {
        Policy::from_toml(text, "t").unwrap_err().errors
    }

    #[test]
    fn reports_every_error_with_path_and_line() {
        let bad = DESIGN_POLICY
            .replace(
                "{ upto = \"100000\", ratio = \"0.60\" }",
                "{ upto = \"40000\", ratio = \"1.60\" }",
            )
            .replace("payer = \"aid\"", "payer = \"nobody\"")
            .replace("county = \"300\",", "");
        let errs = errors_of(&bad);
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"layers[1].bands[1].upto"), "{errs:?}");
        assert!(paths.contains(&"layers[1].bands[1].ratio"), "{errs:?}");
        assert!(paths.contains(&"layers[2].payer"), "{errs:?}");
        assert!(paths.contains(&"layers[0].deductible.amount"), "{errs:?}");
        assert!(errs.iter().all(|e| e.line.is_some()), "{errs:?}");
    }

    #[test]
    fn refuses_undeclared_ids() {
        let bad = DESIGN_POLICY.replace(
            "medical_types = [\"inpatient\"]\nratio_by_category",
            "medical_types = [\"daycare\"]\nratio_by_category",
        );
        let errs = errors_of(&bad);
        assert_eq!(errs[0].path, "layers[2].medical_types[0]");
        assert!(errs[0].message.contains("daycare"));
    }

    #[test]
    fn target_layer_rules() {
        let bad = DESIGN_POLICY.replace(
            "target_ratio = \"0.90\"",
            "target_ratio = \"0.90\"\nratio = \"0.5\"",
        );
        let errs = errors_of(&bad);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "layers[3].ratio");
    }

    #[test]
    fn syntax_errors_have_lines() {
        let errs = errors_of("[policy]\nid = \n");
        assert_eq!(errs[0].line, Some(2));
    }

    #[test]
    fn unknown_keys_warn() {
        let p = Policy::from_toml(
            &DESIGN_POLICY.replace("name = \"县级兜底\"", "name = \"县级兜底\"\nnote = \"x\""),
            "t",
        )
        .unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].path, "layers[3].note");
    }

    #[test]
    fn bands_beside_a_ratio_warn_and_a_zero_first_band_is_allowed() {
        let text = DESIGN_POLICY.replace(
            "bands = [ { upto = \"50000\"",
            "ratio = \"0.9\"\nbands = [ { upto = \"0\", ratio = \"0.1\" }, { upto = \"50000\"",
        );
        let p = Policy::from_toml(&text, "t").unwrap();
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert_eq!(p.warnings[0].path, "layers[1].ratio");
        let errs = errors_of(&text.replace(
            "{ upto = \"50000\", ratio = \"0.50\" }",
            "{ upto = \"0\", ratio = \"0.50\" }",
        ));
        assert_eq!(errs[0].path, "layers[1].bands[1].upto");
    }

    #[test]
    fn cap_table_needs_default() {
        let bad = DESIGN_POLICY.replace(
            "{ default = \"10000\", major = \"20000\" }",
            "{ major = \"20000\" }",
        );
        let errs = errors_of(&bad);
        assert_eq!(errs[0].path, "layers[2].cap.amount");
    }

    #[test]
    fn ratio_table_must_cover_scope() {
        let bad = DESIGN_POLICY.replace(
            "ratio = { township = \"0.90\", county = \"0.80\", city = \"0.70\" }",
            "ratio = { township = \"0.90\", county = \"0.80\" }",
        );
        let errs = errors_of(&bad);
        assert_eq!(errs[0].path, "layers[0].ratio");
        assert!(errs[0].message.contains("city"));
    }
}
