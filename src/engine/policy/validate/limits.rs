//! Deductibles, bands, caps (by disease group, by category, per group) and
//! the shared pools.
use super::*;
use crate::engine::toml_tree::{Node, NodeKind};
use rust_decimal::Decimal;

impl Validator {
    pub(in crate::engine::policy) fn per(&mut self, path: &str, parent: &Node) -> bool {
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

    pub(in crate::engine::policy) fn deductible(
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

    pub(in crate::engine::policy) fn bands(&mut self, path: &str, n: &Node) -> Option<Vec<Band>> {
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

    pub(in crate::engine::policy) fn cap(
        &mut self,
        path: &str,
        n: &Node,
        decl: &Decl,
    ) -> Option<Cap> {
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
    pub(in crate::engine::policy) fn per_group(
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

    /// `[pools.ID]`: shared annual limits.
    pub(in crate::engine::policy) fn pools(&mut self, root: &Node, decl: &Decl) -> Vec<Pool> {
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
