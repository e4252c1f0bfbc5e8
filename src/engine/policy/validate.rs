//! Validation of a policy's TOML tree: every error with its TOML path and
//! line, unknown keys as warnings, then the compiled [`Policy`].

use super::*;
use crate::engine::toml_tree::{Node, NodeKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

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
struct Decl {
    levels: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    medical_types: Vec<(String, String)>,
    groups: Vec<DiseaseGroup>,
    insurance_types: Vec<(String, String)>,
    pools: Vec<Pool>,
}

/// A layer's scope keys, parsed.
struct Scope {
    medical_types: Option<Mask>,
    levels: Option<Mask>,
    diseases: Option<Mask>,
    categories: Option<Mask>,
    insurance_types: Option<Mask>,
    places: Option<u8>,
    referral_required: bool,
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
    "insurance_types",
    "places",
    "referral",
    "exclusive",
    "pool",
    "ratio_adjust",
];

impl Validator {
    pub(super) fn err(&mut self, path: &str, node: Option<&Node>, msg: impl Into<String>) {
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
        self.check_given_codes(root, &layers);
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
        let id = self.layer_id(l, path);
        let name = l
            .get("name")
            .and_then(|n| self.string(&join(path, "name"), n));
        let payer = self.payer(l, path);
        let fund_code = l
            .get("fund_code")
            .and_then(|n| self.fund_code(&join(path, "fund_code"), n));
        let scope = self.scope(l, path, decl);
        let base = self.base(l, path);
        let kind_name = self.kind_name(l, path);
        let all_levels: Mask = if decl.levels.len() >= 64 {
            u64::MAX
        } else {
            bit(decl.levels.len()) - 1
        };
        let level_scope = scope.levels.unwrap_or(all_levels);
        let mut categories = scope.categories;
        let kind = match kind_name {
            "target" => self.target_kind(l, path),
            "given" => self.given_kind(l, path, fund_code.is_some(), base),
            _ => self.ratio_kind(l, path, decl, level_scope, &mut categories),
        };
        let cap = l
            .get("cap")
            .and_then(|n| self.cap(&join(path, "cap"), n, decl));
        let pool = l
            .get("pool")
            .and_then(|n| self.pool_ref(&join(path, "pool"), n, decl));
        let exclusive = l
            .get("exclusive")
            .and_then(|n| self.string(&join(path, "exclusive"), n))
            .map(|t| self.tag_index(&t));
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Layer {
            id: id?,
            name: name.unwrap_or_default(),
            payer: payer?,
            fund_code,
            medical_types: scope.medical_types,
            levels: scope.levels,
            diseases: scope.diseases,
            categories,
            base,
            kind: kind?,
            cap,
            insurance_types: scope.insurance_types,
            places: scope.places,
            referral_required: scope.referral_required,
            exclusive,
            pool,
            group_slots: None,
        })
    }

    fn tag_index(&mut self, tag: &str) -> usize {
        match self.tags.iter().position(|t| t == tag) {
            Some(i) => i,
            None => {
                self.tags.push(tag.to_string());
                self.tags.len() - 1
            }
        }
    }

    /// A layer id: required, and not of the forms that name pool and
    /// per-group accumulators.
    fn layer_id(&mut self, l: &Node, path: &str) -> Option<String> {
        let id = self.required_string(l, path, "id")?;
        if id.starts_with(POOL_KEY_PREFIX) || id.contains(GROUP_KEY_SEP) {
            self.err(
                &join(path, "id"),
                l.get("id"),
                format!("a layer id may not start with `{POOL_KEY_PREFIX}` or contain `{GROUP_KEY_SEP}` (they name pool and per-disease accumulators)"),
            );
            return None;
        }
        Some(id)
    }

    fn payer(&mut self, l: &Node, path: &str) -> Option<Payer> {
        let p = join(path, "payer");
        let Some(n) = l.get("payer") else {
            self.err(
                &p,
                Some(l),
                "is required (insurance, aid, government or charity)",
            );
            return None;
        };
        match self.string(&p, n).as_deref() {
            Some("insurance") => Some(Payer::Insurance),
            Some("aid") => Some(Payer::Aid),
            Some("government") => Some(Payer::Government),
            Some("charity") => Some(Payer::Charity),
            Some(other) => {
                self.err(
                    &p,
                    Some(n),
                    format!("unknown payer `{other}` (insurance, aid, government or charity)"),
                );
                None
            }
            None => None,
        }
    }

    fn fund_code(&mut self, p: &str, n: &Node) -> Option<String> {
        let s = match &n.kind {
            NodeKind::Int(i) => Some(i.to_string()),
            _ => self.string(p, n),
        }?;
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            self.err(p, Some(n), format!("a fund code has six digits (390100, 390200, 390300, 610100, 640100, 999997), found {s:?}"));
            return None;
        }
        Some(s)
    }

    /// A string-valued key with a fixed set of values; `default` when absent.
    fn choice(
        &mut self,
        l: &Node,
        path: &str,
        key: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> &'static str {
        let Some(n) = l.get(key) else {
            return default;
        };
        let p = join(path, key);
        match self.string(&p, n) {
            Some(v) => match allowed.iter().find(|a| **a == v) {
                Some(a) => a,
                None => {
                    self.err(
                        &p,
                        Some(n),
                        format!("unknown {key} `{v}` ({})", allowed.join(", ")),
                    );
                    default
                }
            },
            None => default,
        }
    }

    fn base(&mut self, l: &Node, path: &str) -> Base {
        match self.choice(l, path, "base", &["in_policy", "all", "gross"], "in_policy") {
            "all" => Base::All,
            "gross" => Base::Gross,
            _ => Base::InPolicy,
        }
    }

    fn kind_name(&mut self, l: &Node, path: &str) -> &'static str {
        self.choice(l, path, "kind", &["ratio", "target", "given"], "ratio")
    }

    fn scope(&mut self, l: &Node, path: &str, decl: &Decl) -> Scope {
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
        let categories = l
            .get("categories")
            .and_then(|n| self.mask(&join(path, "categories"), n, &decl.categories, "category"));
        let insurance_types = l.get("insurance_types").and_then(|n| {
            self.mask(
                &join(path, "insurance_types"),
                n,
                &decl.insurance_types,
                "insurance type",
            )
        });
        let places = l
            .get("places")
            .and_then(|n| self.places(&join(path, "places"), n));
        let referral_required = match l.get("referral") {
            None => false,
            Some(n) => {
                let p = join(path, "referral");
                match self.string(&p, n).as_deref() {
                    Some("required") => true,
                    Some(o) => {
                        self.err(
                            &p,
                            Some(n),
                            format!("unknown referral rule `{o}` (the one rule is \"required\")"),
                        );
                        false
                    }
                    None => false,
                }
            }
        };
        Scope {
            medical_types,
            levels,
            diseases,
            categories,
            insurance_types,
            places,
            referral_required,
        }
    }

    fn places(&mut self, path: &str, n: &Node) -> Option<u8> {
        let ids = self.ids_array(path, n)?;
        let mut m = 0u8;
        let mut ok = true;
        for (i, (id, line)) in ids.iter().enumerate() {
            match Place::parse(id) {
                Some(p) => m |= p.bit(),
                None => {
                    ok = false;
                    self.errors.push(PolicyError {
                        path: format!("{path}[{i}]"),
                        line: *line,
                        message: format!(
                            "unknown place `{id}` (county, city, province or national)"
                        ),
                    });
                }
            }
        }
        ok.then_some(m)
    }

    fn pool_ref(&mut self, p: &str, n: &Node, decl: &Decl) -> Option<usize> {
        let id = self.string(p, n)?;
        match decl.pools.iter().position(|x| x.id == id) {
            Some(i) => Some(i),
            None => {
                self.err(
                    p,
                    Some(n),
                    format!("unknown pool `{id}` (not declared in [pools])"),
                );
                None
            }
        }
    }

    /// Keys that a layer of `kind` may not carry.
    fn forbid(&mut self, l: &Node, path: &str, keys: &[&str], why: &str) {
        for k in keys {
            if let Some(n) = l.get(k) {
                self.err(&join(path, k), Some(n), format!("{why} has no `{k}`"));
            }
        }
    }

    fn target_kind(&mut self, l: &Node, path: &str) -> Option<LayerKind> {
        self.forbid(
            l,
            path,
            &[
                "deductible",
                "ratio",
                "ratio_by_category",
                "ratio_bonus",
                "bands",
                "ratio_adjust",
            ],
            "a target layer",
        );
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
        let reference_total =
            self.choice(l, path, "reference", &["in_policy", "total"], "in_policy") == "total";
        target_ratio.map(|t| LayerKind::Target {
            target_ratio: t,
            reference_total,
        })
    }

    fn given_kind(
        &mut self,
        l: &Node,
        path: &str,
        has_fund_code: bool,
        base: Base,
    ) -> Option<LayerKind> {
        self.forbid(
            l,
            path,
            &[
                "deductible",
                "ratio",
                "ratio_by_category",
                "bands",
                "ratio_bonus",
                "ratio_adjust",
                "target_ratio",
                "reference",
                "cap",
                "pool",
            ],
            "a given layer (kind = \"given\")",
        );
        if base == Base::Gross {
            self.err(
                &join(path, "base"),
                l.get("base"),
                "a given layer pays what the platform settled; base = \"gross\" does not apply",
            );
        }
        if !has_fund_code {
            self.err(
                &join(path, "fund_code"),
                Some(l),
                "is required for kind = \"given\": the claim's fund_payments name the layer by it",
            );
            return None;
        }
        Some(LayerKind::Given)
    }

    fn ratio_kind(
        &mut self,
        l: &Node,
        path: &str,
        decl: &Decl,
        level_scope: Mask,
        categories: &mut Option<Mask>,
    ) -> Option<LayerKind> {
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
        let ratio = l
            .get("ratio")
            .and_then(|n| self.by_level(&join(path, "ratio"), n, &decl.levels, level_scope, true));
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
        let ratio_adjust = match l.get("ratio_adjust") {
            Some(n) => self.ratio_adjust(&join(path, "ratio_adjust"), n),
            None => Some(RatioAdjust::default()),
        };
        self.check_ratio_keys(l, path);
        if let Some(rbc) = &ratio_by_category {
            self.scope_from_ratio_table(l, path, decl, rbc, categories);
        }
        Some(LayerKind::Ratio {
            deductible,
            ratio,
            ratio_by_category,
            ratio_bonus,
            bands,
            ratio_adjust: ratio_adjust?,
        })
    }

    /// A ratio layer names a ratio; bands win over a flat ratio (warned).
    fn check_ratio_keys(&mut self, l: &Node, path: &str) {
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
    }

    /// With `ratio_by_category` and no `categories`, the scope is its keys;
    /// categories in scope without a ratio get 0 % (warned).
    fn scope_from_ratio_table(
        &mut self,
        l: &Node,
        path: &str,
        decl: &Decl,
        rbc: &[Option<Decimal>],
        categories: &mut Option<Mask>,
    ) {
        let keys: Mask = rbc
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .fold(0, |m, (i, _)| m | bit(i));
        let Some(scope) = *categories else {
            *categories = Some(keys);
            return;
        };
        if scope & !keys != 0 && l.get("ratio").is_none() && l.get("bands").is_none() {
            let missing: Vec<&str> = decl
                .categories
                .iter()
                .enumerate()
                .filter(|(i, _)| scope & !keys & bit(*i) != 0)
                .map(|(_, c)| c.0.as_str())
                .collect();
            self.warnings.push(PolicyError {
                path: join(path, "ratio_by_category"),
                line: l.get("ratio_by_category").and_then(|n| n.line),
                message: format!("names no ratio for categories in scope ({}) and there is no `ratio`: they get 0 %", missing.join(", ")),
            });
        }
    }

    fn ratio_adjust(&mut self, path: &str, n: &Node) -> Option<RatioAdjust> {
        let t = self.table(path, n)?;
        let mut a = RatioAdjust::default();
        let mut ok = true;
        for (k, v) in t {
            let p = join(path, k);
            let slot = match k.as_str() {
                "unreferred" => &mut a.unreferred,
                "city" => &mut a.city,
                "province" => &mut a.province,
                "national" => &mut a.national,
                _ => {
                    ok = false;
                    self.err(
                        &p,
                        Some(v),
                        format!(
                            "unknown adjustment `{k}` (unreferred, city, province or national)"
                        ),
                    );
                    continue;
                }
            };
            match self.decimal(&p, v) {
                Some(d) if d >= -Decimal::ONE && d <= Decimal::ONE => *slot = d,
                Some(d) => {
                    ok = false;
                    self.err(&p, Some(v), format!("must lie in [−1, 1], found {d}"));
                }
                None => ok = false,
            }
        }
        ok.then_some(a)
    }

    /// A given layer's fund code is unique among the policy's given layers.
    fn check_given_codes(&mut self, root: &Node, layers: &[Layer]) {
        let nodes = match root.get("layers").map(|n| &n.kind) {
            Some(NodeKind::Array(a)) => a.as_slice(),
            _ => &[],
        };
        for (i, l) in layers.iter().enumerate().filter(|(_, l)| l.is_given()) {
            let code = l.effective_fund_code();
            if let Some(j) = layers[..i]
                .iter()
                .position(|x| x.is_given() && x.effective_fund_code() == code)
            {
                self.err(
                    &format!("layers[{i}].fund_code"),
                    nodes.get(i).and_then(|n| n.get("fund_code")),
                    format!("fund code {code} is already given by layer `{}`: a claim's fund_payments could not tell them apart", layers[j].id),
                );
            }
        }
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
        self.warn_unknown(
            path,
            n,
            &["per", "amount", "waive", "factor", "by_category"],
        );
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
        let by_category = match n.get("by_category") {
            None => Some(None),
            Some(t) => self
                .amount_table(&join(path, "by_category"), t, &decl.categories, "category")
                .map(Some),
        };
        Some(Deductible {
            per_year,
            amount: amount?,
            waive: waive?,
            factor: factor?,
            by_category: by_category?,
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
        self.warn_unknown(
            path,
            n,
            &["per", "amount", "exempt", "by_category", "per_group"],
        );
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
        let by_category = match n.get("by_category") {
            None => Some(None),
            Some(t) => self
                .amount_table(&join(path, "by_category"), t, &decl.categories, "category")
                .map(Some),
        };
        let per_group = self.per_group(path, n, per_year, by_group.as_deref());
        Some(Cap {
            per_year,
            default: default?,
            by_group: by_group?,
            exempt: exempt?,
            by_category: by_category?,
            per_group: per_group?,
        })
    }

    /// `per_group = true` needs `per = "year"` and an amount table by group.
    fn per_group(
        &mut self,
        path: &str,
        n: &Node,
        per_year: bool,
        by_group: Option<&[Option<Decimal>]>,
    ) -> Option<bool> {
        let Some(v) = n.get("per_group") else {
            return Some(false);
        };
        let p = join(path, "per_group");
        let NodeKind::Bool(on) = v.kind else {
            self.err(
                &p,
                Some(v),
                format!("expected true or false, found {}", v.type_name()),
            );
            return None;
        };
        if on && !per_year {
            self.err(
                &p,
                Some(v),
                "a per-group cap counts the year's paid: it needs per = \"year\"",
            );
            return None;
        }
        if on && n.get("amount").is_some_and(|a| a.as_table().is_none()) {
            self.err(
                &p,
                Some(v),
                "a per-group cap needs an amount table by disease group (with a `default`)",
            );
            return None;
        }
        let _ = by_group;
        Some(on)
    }

    /// A table keyed by declared ids with amount values.
    fn amount_table(
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
                Some(ix) => match self.amount(&p, v) {
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

    /// `[pools.ID]`: shared annual limits.
    fn pools(&mut self, root: &Node, decl: &Decl) -> Vec<Pool> {
        let mut out = Vec::new();
        let Some(node) = root.get("pools") else {
            return out;
        };
        let Some(t) = self.table("pools", node) else {
            return out;
        };
        for (id, p) in t {
            let path = join("pools", id);
            if self.table(&path, p).is_none() {
                continue;
            }
            self.warn_unknown(&path, p, &["label", "amount", "by_category", "exempt"]);
            let label = p
                .get("label")
                .and_then(|n| self.string(&join(&path, "label"), n))
                .unwrap_or_default();
            let amount = match p.get("amount") {
                Some(a) => self.amount(&join(&path, "amount"), a),
                None => {
                    self.err(&join(&path, "amount"), Some(p), "is required");
                    None
                }
            };
            let by_category = match p.get("by_category") {
                None => Some(None),
                Some(t) => self
                    .amount_table(&join(&path, "by_category"), t, &decl.categories, "category")
                    .map(Some),
            };
            let exempt = match p.get("exempt") {
                Some(e) => self.mask(&join(&path, "exempt"), e, &decl.categories, "category"),
                None => Some(0),
            };
            if let (Some(amount), Some(by_category), Some(exempt)) = (amount, by_category, exempt) {
                out.push(Pool {
                    id: id.clone(),
                    label,
                    amount,
                    by_category,
                    exempt,
                });
            }
        }
        out
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
        "insurance type" => "insurance_types",
        _ => "?",
    }
}
