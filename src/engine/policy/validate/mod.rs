//! Validation of a policy's TOML tree: every error with its TOML path and
//! line, unknown keys as warnings, then the compiled [`Policy`].

mod layer;
mod limits;
mod values;

use super::*;
use crate::engine::toml_tree::{Node, NodeKind};
use rust_decimal::Decimal;

#[derive(Default)]
pub(super) struct Validator {
    pub(super) errors: Vec<PolicyError>,
    pub(super) warnings: Vec<PolicyError>,
    /// `exclusive` tags met so far, in order.
    tags: Vec<String>,
}

/// Accumulator slots: one per layer (its index), then one per pool, then
/// one per entry of each per-group cap (the groups its table names, then
/// `default`).
fn assign_slots(layers: &mut [Layer], decl: &Decl) -> Vec<String> {
    let mut slots: Vec<String> = layers.iter().map(|l| l.id.clone()).collect();
    slots.extend(
        decl.pools
            .iter()
            .map(|p| format!("{POOL_KEY_PREFIX}{}", p.id)),
    );
    for l in layers.iter_mut() {
        let Some(cap) = l.cap.as_ref().filter(|c| c.per_group) else {
            continue;
        };
        let mut by_group = vec![None; cap.by_group.len()];
        for (g, amount) in cap.by_group.iter().enumerate() {
            if amount.is_some() {
                by_group[g] = Some(slots.len());
                slots.push(format!("{}{GROUP_KEY_SEP}{}", l.id, decl.groups[g].id));
            }
        }
        let default = slots.len();
        slots.push(format!("{}{GROUP_KEY_SEP}default", l.id));
        l.group_slots = Some(GroupSlots { by_group, default });
    }
    slots
}

/// What the validator knows of the declarations while checking layers.
pub(super) struct Decl {
    levels: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    medical_types: Vec<(String, String)>,
    groups: Vec<DiseaseGroup>,
    insurance_types: Vec<(String, String)>,
    pools: Vec<Pool>,
}

/// A layer's scope keys, parsed.
pub(super) struct Scope {
    medical_types: Option<Mask>,
    levels: Option<Mask>,
    diseases: Option<Mask>,
    categories: Option<Mask>,
    insurance_types: Option<Mask>,
    places: Option<u8>,
    referral_required: bool,
}

/// Most layers a policy may have: the engine keeps the set of applying
/// layers in one 128-bit mask.
pub const MAX_LAYERS: usize = 128;

pub(super) const LAYER_KEYS: &[&str] = &[
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
    "insurance_types",
    "places",
    "referral",
    "exclusive",
    "pool",
    "ratio_adjust",
];

impl Validator {
    pub(super) fn policy(&mut self, root: &Node, text: &str) -> Option<Policy> {
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
            if let Some(r) = region.as_deref().filter(|r| {
                !r.is_empty() && (r.len() != 6 || !r.bytes().all(|b| b.is_ascii_digit()))
            }) {
                // A warning, not an error: a version-1 policy with any
                // region text still loads; but no claim region matches it.
                self.warnings.push(PolicyError {
                    path: "policy.region".into(),
                    line: h.get("region").and_then(|n| n.line),
                    message: format!("not a 6-digit region code such as \"411303\" (or \"\" for every region): {r:?} covers no claim's region; claims that name a region will not choose this policy"),
                });
            }
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
                "insurance_types",
                "pools",
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
        let insurance_types = self.declarations(root, "insurance_types", false);
        let mut decl = Decl {
            levels,
            categories,
            medical_types,
            groups,
            insurance_types,
            pools: Vec::new(),
        };
        decl.pools = self.pools(root, &decl);

        let self_pay_first_b = self.catalogue(root);
        let waivers = root.get("waivers").and_then(|w| self.waivers(w, &decl));

        let mut layers = Vec::new();
        match root.get("layers") {
            None => self.err("layers", Some(root), "at least one [[layers]] is required"),
            Some(n) => match &n.kind {
                NodeKind::Array(a) if a.len() > MAX_LAYERS => self.err(
                    "layers",
                    Some(n),
                    format!("{} layers; at most {MAX_LAYERS} are accepted", a.len()),
                ),
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
                l.fund_code = Some(l.payer.default_fund(nth_insurance).code().to_string());
            }
            if l.payer == Payer::Insurance {
                nth_insurance += 1;
            }
        }
        self.check_given_codes(root, &layers);
        if self.tags.len() > MAX_IDS {
            self.err(
                "layers",
                root.get("layers"),
                format!(
                    "{} `exclusive` tags; at most {MAX_IDS} are accepted",
                    self.tags.len()
                ),
            );
        }
        if !self.errors.is_empty() {
            return None;
        }
        let slots = assign_slots(&mut layers, &decl);
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
            insurance_types: decl.insurance_types,
            pools: decl.pools,
            exclusive_tags: std::mem::take(&mut self.tags),
            slots,
            self_pay_first_b: self_pay_first_b.unwrap_or(Decimal::ZERO),
            self_pay_first_b_fraction: Fraction::new(self_pay_first_b.unwrap_or(Decimal::ZERO)),
            waivers,
            layers,
            warnings: Vec::new(),
        })
    }

    pub(super) fn groups(&mut self, root: &Node) -> Vec<DiseaseGroup> {
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

    pub(super) fn catalogue(&mut self, root: &Node) -> Option<Decimal> {
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

    pub(super) fn waivers(&mut self, w: &Node, decl: &Decl) -> Option<Waivers> {
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
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn decl_table(what: &str) -> &'static str {
    match what {
        "level" => "levels",
        "category" => "categories",
        "medical type" => "medical_types",
        "disease group" => "diseases",
        "insurance type" => "insurance_types",
        _ => "?",
    }
}
