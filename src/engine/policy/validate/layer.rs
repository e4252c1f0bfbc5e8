//! One `[[layers]]` table: id, payer, fund code, scope (version 1 and 2),
//! kind (ratio, target, given) and the keys each kind may carry.
use super::*;
use crate::engine::toml_tree::{Node, NodeKind};
use rust_decimal::Decimal;

impl Validator {
    pub(in crate::engine::policy) fn layer(
        &mut self,
        path: &str,
        l: &Node,
        decl: &Decl,
    ) -> Option<Layer> {
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

    pub(in crate::engine::policy) fn tag_index(&mut self, tag: &str) -> usize {
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
    pub(in crate::engine::policy) fn layer_id(&mut self, l: &Node, path: &str) -> Option<String> {
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

    pub(in crate::engine::policy) fn payer(&mut self, l: &Node, path: &str) -> Option<Payer> {
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
            Some(code) if Payer::from_code(code).is_some() => Payer::from_code(code),
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

    pub(in crate::engine::policy) fn fund_code(&mut self, p: &str, n: &Node) -> Option<String> {
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
    pub(in crate::engine::policy) fn choice(
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

    pub(in crate::engine::policy) fn base(&mut self, l: &Node, path: &str) -> Base {
        match self.choice(l, path, "base", &["in_policy", "all", "gross"], "in_policy") {
            "all" => Base::All,
            "gross" => Base::Gross,
            _ => Base::InPolicy,
        }
    }

    pub(in crate::engine::policy) fn kind_name(&mut self, l: &Node, path: &str) -> &'static str {
        self.choice(l, path, "kind", &["ratio", "target", "given"], "ratio")
    }

    pub(in crate::engine::policy) fn scope(&mut self, l: &Node, path: &str, decl: &Decl) -> Scope {
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

    pub(in crate::engine::policy) fn places(&mut self, path: &str, n: &Node) -> Option<u8> {
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

    pub(in crate::engine::policy) fn pool_ref(
        &mut self,
        p: &str,
        n: &Node,
        decl: &Decl,
    ) -> Option<usize> {
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
    pub(in crate::engine::policy) fn forbid(
        &mut self,
        l: &Node,
        path: &str,
        keys: &[&str],
        why: &str,
    ) {
        for k in keys {
            if let Some(n) = l.get(k) {
                self.err(&join(path, k), Some(n), format!("{why} has no `{k}`"));
            }
        }
    }

    pub(in crate::engine::policy) fn target_kind(
        &mut self,
        l: &Node,
        path: &str,
    ) -> Option<LayerKind> {
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

    pub(in crate::engine::policy) fn given_kind(
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

    pub(in crate::engine::policy) fn ratio_kind(
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
    pub(in crate::engine::policy) fn check_ratio_keys(&mut self, l: &Node, path: &str) {
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
    pub(in crate::engine::policy) fn scope_from_ratio_table(
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

    pub(in crate::engine::policy) fn ratio_adjust(
        &mut self,
        path: &str,
        n: &Node,
    ) -> Option<RatioAdjust> {
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
    pub(in crate::engine::policy) fn check_given_codes(&mut self, root: &Node, layers: &[Layer]) {
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
}
