//! The validator's readers of single values: strings, dates, decimals,
//! amounts, ratios, id lists and tables keyed by declared ids.
use super::*;
use crate::engine::toml_tree::{Node, NodeKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

impl Validator {
    pub(in crate::engine::policy) fn err(
        &mut self,
        path: &str,
        node: Option<&Node>,
        msg: impl Into<String>,
    ) {
        self.errors.push(PolicyError {
            path: path.to_string(),
            line: node.and_then(|n| n.line),
            message: msg.into(),
        });
    }

    pub(in crate::engine::policy) fn warn_unknown(
        &mut self,
        path: &str,
        node: &Node,
        known: &[&str],
    ) {
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

    pub(in crate::engine::policy) fn table<'a>(
        &mut self,
        path: &str,
        node: &'a Node,
    ) -> Option<&'a [(String, Node)]> {
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

    pub(in crate::engine::policy) fn string(&mut self, path: &str, node: &Node) -> Option<String> {
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

    pub(in crate::engine::policy) fn required_string(
        &mut self,
        parent: &Node,
        ppath: &str,
        key: &str,
    ) -> Option<String> {
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

    pub(in crate::engine::policy) fn date(&mut self, path: &str, node: &Node) -> Option<NaiveDate> {
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
    pub(in crate::engine::policy) fn decimal(
        &mut self,
        path: &str,
        node: &Node,
    ) -> Option<Decimal> {
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

    pub(in crate::engine::policy) fn unit(&mut self, path: &str, node: &Node) -> Option<Decimal> {
        let d = self.decimal(path, node)?;
        if d < Decimal::ZERO || d > Decimal::ONE {
            self.err(path, Some(node), format!("must lie in [0, 1], found {d}"));
            return None;
        }
        Some(d)
    }

    pub(in crate::engine::policy) fn amount(&mut self, path: &str, node: &Node) -> Option<Decimal> {
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
    pub(in crate::engine::policy) fn declarations(
        &mut self,
        root: &Node,
        key: &str,
        required: bool,
    ) -> Vec<(String, String)> {
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

    pub(in crate::engine::policy) fn ids_array(
        &mut self,
        path: &str,
        node: &Node,
    ) -> Option<Vec<(String, Option<usize>)>> {
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
    pub(in crate::engine::policy) fn mask(
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

    pub(in crate::engine::policy) fn group_mask(
        &mut self,
        path: &str,
        node: &Node,
        groups: &[DiseaseGroup],
    ) -> Option<Mask> {
        let decl: Vec<(String, String)> = groups
            .iter()
            .map(|g| (g.id.clone(), g.label.clone()))
            .collect();
        self.mask(path, node, &decl, "disease group")
    }

    /// A table keyed by declared ids with ratio values in [0, 1].
    pub(in crate::engine::policy) fn unit_table(
        &mut self,
        path: &str,
        node: &Node,
        decl: &[(String, String)],
        what: &str,
    ) -> Option<Vec<Option<Decimal>>> {
        self.table_by_id(path, node, decl, what, Self::unit)
    }

    /// A table keyed by declared ids with amount values (≥ 0, two decimals).
    pub(in crate::engine::policy) fn amount_table(
        &mut self,
        path: &str,
        node: &Node,
        decl: &[(String, String)],
        what: &str,
    ) -> Option<Vec<Option<Decimal>>> {
        self.table_by_id(path, node, decl, what, Self::amount)
    }

    /// A table keyed by ids declared in `decl` (`what` names them), each
    /// value read by `read`; indexed by declaration order.
    fn table_by_id(
        &mut self,
        path: &str,
        node: &Node,
        decl: &[(String, String)],
        what: &str,
        read: fn(&mut Self, &str, &Node) -> Option<Decimal>,
    ) -> Option<Vec<Option<Decimal>>> {
        let t = self.table(path, node)?;
        let mut out = vec![None; decl.len()];
        let mut ok = true;
        for (k, v) in t {
            let p = join(path, k);
            match index_of(decl, k) {
                Some(ix) => match read(self, &p, v) {
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
    pub(in crate::engine::policy) fn by_level(
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
}
