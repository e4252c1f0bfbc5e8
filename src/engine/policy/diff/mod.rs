//! `medaid policy diff A.toml B.toml`: every parameter that differs between
//! two policies, in words an administrator reads
//! (`民政医疗救助 低保对象 比例 70% → 75%`).
//!
//! The comparison is between the *compiled* [`Policy`] structures, not the
//! TOML text, so spelling differences (an inline table or a sub-table, `0.7`
//! or `"0.70"`, comments) are not differences, and what is compared is what
//! the engine will actually apply. Ids index differently in two policies
//! (a category added in B shifts the others), so every table is compared by
//! id: layers by layer id, levels and categories by their ids, disease
//! groups by group id.

mod tables;
#[cfg(test)]
mod tests;
mod words;

use crate::engine::policy::{
    Band, Base, ByLevel, Cap, Deductible, Layer, LayerKind, Mask, Place, Pool, Waive, Waivers,
};
use crate::engine::Policy;
use crate::money::fmt_percent;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
pub use words::describe;
use words::*;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, e.g. `layers.aid.ratio_by_category.dibao`.
    pub path: String,
    /// The value in A, as text (`None`: absent).
    pub before: Option<String>,
    /// The value in B, as text (`None`: absent).
    pub after: Option<String>,
    /// The sentence an administrator reads.
    pub text: String,
}

const NONE: &str = "无";

fn pct(d: Decimal) -> String {
    fmt_percent(d)
}

fn amt(d: Decimal) -> String {
    format!("{} 元", d.normalize())
}

fn opt_text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or(NONE)
}

struct Differ<'a> {
    a: &'a Policy,
    b: &'a Policy,
    out: Vec<Change>,
}

/// ids of `mask` in `list` (a policy's declarations).
fn ids_of(mask: Mask, list: &[(String, String)]) -> BTreeSet<String> {
    list.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, (id, _))| id.clone())
        .collect()
}

/// A table indexed by a policy's declaration order → map by id.
fn by_id(table: &[Option<Decimal>], list: &[(String, String)]) -> BTreeMap<String, Decimal> {
    table
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (list.get(i).map(|x| x.0.clone()).unwrap_or_default(), v)))
        .collect()
}

impl<'a> Differ<'a> {
    fn push(
        &mut self,
        path: impl Into<String>,
        before: Option<String>,
        after: Option<String>,
        text: String,
    ) {
        self.out.push(Change {
            path: path.into(),
            before,
            after,
            text,
        });
    }

    /// `subject before → after`, when they differ.
    fn value(&mut self, path: &str, subject: &str, before: Option<String>, after: Option<String>) {
        if before != after {
            let text = format!("{subject} {} → {}", opt_text(&before), opt_text(&after));
            self.push(path, before, after, text);
        }
    }

    fn label(&self, kind: &str, id: &str) -> String {
        let pick = |p: &Policy| -> Option<String> {
            let list = match kind {
                "level" => &p.levels,
                "category" => &p.categories,
                "medical_type" => &p.medical_types,
                _ => {
                    return p
                        .groups
                        .iter()
                        .find(|g| g.id == id)
                        .map(|g| g.label.clone())
                }
            };
            list.iter().find(|(k, _)| k == id).map(|(_, l)| l.clone())
        };
        pick(self.b)
            .or_else(|| pick(self.a))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| id.to_string())
    }

    fn labels(&self, kind: &str, ids: &BTreeSet<String>) -> String {
        if ids.is_empty() {
            return NONE.into();
        }
        // In declaration order (B's, then A's), as the policy lists them.
        let pos = |p: &Policy, id: &str| -> Option<usize> {
            match kind {
                "level" => p.level_index(id),
                "category" => p.category_index(id),
                "medical_type" => p.medical_type_index(id),
                _ => p.groups.iter().position(|g| g.id == id),
            }
        };
        let mut ordered: Vec<&String> = ids.iter().collect();
        ordered.sort_by_key(|id| {
            let at = pos(self.b, id).or_else(|| pos(self.a, id).map(|i| i + 64));
            (at.unwrap_or(usize::MAX), id.as_str())
        });
        ordered
            .into_iter()
            .map(|i| self.label(kind, i))
            .collect::<Vec<_>>()
            .join("、")
    }

    /// A set of ids: "新增 X；删除 Y".
    fn set(
        &mut self,
        path: &str,
        subject: &str,
        kind: &str,
        a: &BTreeSet<String>,
        b: &BTreeSet<String>,
    ) {
        if a == b {
            return;
        }
        let added: BTreeSet<String> = b.difference(a).cloned().collect();
        let removed: BTreeSet<String> = a.difference(b).cloned().collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("新增 {}", self.labels(kind, &added)));
        }
        if !removed.is_empty() {
            parts.push(format!("删除 {}", self.labels(kind, &removed)));
        }
        let text = format!(
            "{subject} {} → {}（{}）",
            self.labels(kind, a),
            self.labels(kind, b),
            parts.join("；")
        );
        self.push(
            path,
            Some(a.iter().cloned().collect::<Vec<_>>().join(",")),
            Some(b.iter().cloned().collect::<Vec<_>>().join(",")),
            text,
        );
    }

    /// A scope: `None` is everyone/everything.
    fn scope(
        &mut self,
        path: &str,
        subject: &str,
        kind: &str,
        a: Option<BTreeSet<String>>,
        b: Option<BTreeSet<String>>,
    ) {
        match (a, b) {
            (None, None) => {}
            (Some(a), Some(b)) => self.set(path, subject, kind, &a, &b),
            (a, b) => {
                let t = |s: &Option<BTreeSet<String>>| {
                    s.as_ref()
                        .map_or("不限".to_string(), |s| self.labels(kind, s))
                };
                let text = format!("{subject} {} → {}", t(&a), t(&b));
                let raw = |s: &Option<BTreeSet<String>>| {
                    s.as_ref()
                        .map(|s| s.iter().cloned().collect::<Vec<_>>().join(","))
                };
                self.push(path, raw(&a), raw(&b), text);
            }
        }
    }

    fn declarations(
        &mut self,
        key: &str,
        kind: &str,
        what: &str,
        a: &[(String, String)],
        b: &[(String, String)],
    ) {
        let am: BTreeMap<&str, &str> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let bm: BTreeMap<&str, &str> = b.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for (id, label) in &bm {
            match am.get(id) {
                None => self.push(
                    format!("{key}.{id}"),
                    None,
                    Some(label.to_string()),
                    format!("新增{what} {id}（{label}）"),
                ),
                Some(old) if old != label => self.push(
                    format!("{key}.{id}"),
                    Some(old.to_string()),
                    Some(label.to_string()),
                    format!("{what} {id} 名称 {old} → {label}"),
                ),
                _ => {}
            }
        }
        for (id, label) in &am {
            if !bm.contains_key(id) {
                self.push(
                    format!("{key}.{id}"),
                    Some(label.to_string()),
                    None,
                    format!("删除{what} {id}（{label}）"),
                );
            }
        }
        let _ = kind;
    }

    fn header(&mut self) {
        let (a, b) = (self.a, self.b);
        self.value(
            "policy.id",
            "政策编号",
            Some(a.id.clone()),
            Some(b.id.clone()),
        );
        self.value(
            "policy.name",
            "政策名称",
            Some(a.name.clone()),
            Some(b.name.clone()),
        );
        self.value(
            "policy.region",
            "行政区划",
            Some(a.region.clone()),
            Some(b.region.clone()),
        );
        self.value(
            "policy.effective",
            "执行期",
            Some(format!("{} 至 {}", a.effective_from, a.effective_to)),
            Some(format!("{} 至 {}", b.effective_from, b.effective_to)),
        );
        self.declarations("levels", "level", "医院级别", &a.levels, &b.levels);
        self.declarations(
            "categories",
            "category",
            "救助对象类别",
            &a.categories,
            &b.categories,
        );
        self.declarations(
            "medical_types",
            "medical_type",
            "医疗类别",
            &a.medical_types,
            &b.medical_types,
        );
        // Disease groups.
        for g in &b.groups {
            match a.groups.iter().find(|x| x.id == g.id) {
                None => self.push(
                    format!("diseases.{}", g.id),
                    None,
                    Some(g.prefixes.join(",")),
                    format!(
                        "新增病种组 {}（{}）：ICD-10 {}",
                        g.id,
                        g.label,
                        g.prefixes.join("、")
                    ),
                ),
                Some(old) => {
                    if old.label != g.label {
                        self.push(
                            format!("diseases.{}.label", g.id),
                            Some(old.label.clone()),
                            Some(g.label.clone()),
                            format!("病种组 {} 名称 {} → {}", g.id, old.label, g.label),
                        );
                    }
                    let pa: BTreeSet<String> = old.prefixes.iter().cloned().collect();
                    let pb: BTreeSet<String> = g.prefixes.iter().cloned().collect();
                    if pa != pb {
                        let added: Vec<String> = pb.difference(&pa).cloned().collect();
                        let removed: Vec<String> = pa.difference(&pb).cloned().collect();
                        let mut parts = Vec::new();
                        if !added.is_empty() {
                            parts.push(format!("新增 {}", added.join("、")));
                        }
                        if !removed.is_empty() {
                            parts.push(format!("删除 {}", removed.join("、")));
                        }
                        self.push(
                            format!("diseases.{}.icd10", g.id),
                            Some(old.prefixes.join(",")),
                            Some(g.prefixes.join(",")),
                            format!("病种组 {} ICD-10 前缀 {}", g.label, parts.join("；")),
                        );
                    }
                }
            }
        }
        for g in &a.groups {
            if !b.groups.iter().any(|x| x.id == g.id) {
                self.push(
                    format!("diseases.{}", g.id),
                    Some(g.prefixes.join(",")),
                    None,
                    format!("删除病种组 {}（{}）", g.id, g.label),
                );
            }
        }
        self.value(
            "catalogue.self_pay_first.B",
            "乙类先行自付比例",
            Some(pct(a.self_pay_first_b)),
            Some(pct(b.self_pay_first_b)),
        );
    }

    fn waivers(&mut self) {
        let (a, b) = (self.a, self.b);
        match (&a.waivers, &b.waivers) {
            (None, None) => {}
            (Some(_), None) => self.push(
                "waivers",
                Some("set".into()),
                None,
                "取消七免一减（医院减免）".into(),
            ),
            (None, Some(w)) => {
                let text = format!(
                    "新增七免一减：对象 {}，免收 {}，减免 {}",
                    self.labels("category", &ids_of(w.categories, &b.categories)),
                    w.free_items.join("、"),
                    pct(w.reduction_rate)
                );
                self.push("waivers", None, Some("set".into()), text);
            }
            (Some(wa), Some(wb)) => self.waivers_both(wa, wb),
        }
    }

    fn waivers_both(&mut self, wa: &Waivers, wb: &Waivers) {
        let (a, b) = (self.a, self.b);
        self.set(
            "waivers.categories",
            "七免一减 适用对象",
            "category",
            &ids_of(wa.categories, &a.categories),
            &ids_of(wb.categories, &b.categories),
        );
        let fa: BTreeSet<String> = wa
            .free_items
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let fb: BTreeSet<String> = wb
            .free_items
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        self.set("waivers.free_items", "七免一减 免收项目", "item", &fa, &fb);
        self.set(
            "waivers.free_item_levels",
            "七免一减 免收项目的医院级别",
            "level",
            &ids_of(wa.free_item_levels, &a.levels),
            &ids_of(wb.free_item_levels, &b.levels),
        );
        self.value(
            "waivers.reduction_rate",
            "七免一减 减免比例",
            Some(pct(wa.reduction_rate)),
            Some(pct(wb.reduction_rate)),
        );
        self.set(
            "waivers.reduction_levels",
            "七免一减 减免的医院级别",
            "level",
            &ids_of(wa.reduction_levels, &a.levels),
            &ids_of(wb.reduction_levels, &b.levels),
        );
        self.set(
            "waivers.reduction_medical_types",
            "七免一减 减免的医疗类别",
            "medical_type",
            &ids_of(wa.reduction_medical_types, &a.medical_types),
            &ids_of(wb.reduction_medical_types, &b.medical_types),
        );
    }

    fn layers(&mut self) {
        let (a, b) = (self.a, self.b);
        for l in &a.layers {
            if b.layer_index(&l.id).is_none() {
                self.push(
                    format!("layers.{}", l.id),
                    Some(l.id.clone()),
                    None,
                    format!("删除支付层 {}（{}）", l.id, layer_name(l)),
                );
            }
        }
        for l in &b.layers {
            if a.layer_index(&l.id).is_none() {
                let text = format!(
                    "新增支付层 {}（{}，{}）：{}",
                    l.id,
                    layer_name(l),
                    l.payer.label(),
                    describe(b, l)
                );
                self.push(format!("layers.{}", l.id), None, Some(l.id.clone()), text);
            }
        }
        let common_a: Vec<&str> = a
            .layers
            .iter()
            .map(|l| l.id.as_str())
            .filter(|id| b.layer_index(id).is_some())
            .collect();
        let common_b: Vec<&str> = b
            .layers
            .iter()
            .map(|l| l.id.as_str())
            .filter(|id| a.layer_index(id).is_some())
            .collect();
        if common_a != common_b {
            self.push(
                "layers.order",
                Some(common_a.join(",")),
                Some(common_b.join(",")),
                format!(
                    "支付层顺序 {} → {}",
                    common_a.join("、"),
                    common_b.join("、")
                ),
            );
        }
        for lb in &b.layers {
            if let Some(i) = a.layer_index(&lb.id) {
                self.layer(&a.layers[i], lb);
            }
        }
    }
}

/// Every difference between `a` and `b`, in reading order: the header and
/// declarations, the catalogue, the waivers, then the layers.
pub fn diff(a: &Policy, b: &Policy) -> Vec<Change> {
    let mut d = Differ {
        a,
        b,
        out: Vec::new(),
    };
    d.header();
    d.v2_declarations();
    d.waivers();
    d.layers();
    d.out
}
