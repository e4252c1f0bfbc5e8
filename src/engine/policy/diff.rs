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

use crate::engine::policy::{
    Band, Base, ByLevel, Cap, Deductible, Layer, LayerKind, Mask, Place, Pool, Waive, Waivers,
};
use crate::engine::Policy;
use crate::money::fmt_percent;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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

    fn layer(&mut self, la: &Layer, lb: &Layer) {
        let (a, b) = (self.a, self.b);
        let p = format!("layers.{}", lb.id);
        let n = layer_name(lb).to_string();
        if la.name != lb.name {
            self.push(
                format!("{p}.name"),
                Some(la.name.clone()),
                Some(lb.name.clone()),
                format!(
                    "支付层 {} 名称 {} → {}",
                    lb.id,
                    layer_name(la),
                    layer_name(lb)
                ),
            );
        }
        self.value(
            &format!("{p}.payer"),
            &format!("{n} 支付方"),
            Some(la.payer.label().into()),
            Some(lb.payer.label().into()),
        );
        self.value(
            &format!("{p}.fund_code"),
            &format!("{n} 基金类型"),
            Some(la.effective_fund_code().into()),
            Some(lb.effective_fund_code().into()),
        );
        self.scope(
            &format!("{p}.medical_types"),
            &format!("{n} 适用医疗类别"),
            "medical_type",
            la.medical_types.map(|m| ids_of(m, &a.medical_types)),
            lb.medical_types.map(|m| ids_of(m, &b.medical_types)),
        );
        self.scope(
            &format!("{p}.levels"),
            &format!("{n} 适用医院级别"),
            "level",
            la.levels.map(|m| ids_of(m, &a.levels)),
            lb.levels.map(|m| ids_of(m, &b.levels)),
        );
        let groups = |p: &Policy, m: Mask| -> BTreeSet<String> {
            p.groups
                .iter()
                .enumerate()
                .filter(|(i, _)| m & (1u64 << i) != 0)
                .map(|(_, g)| g.id.clone())
                .collect()
        };
        self.scope(
            &format!("{p}.diseases"),
            &format!("{n} 适用病种"),
            "group",
            la.diseases.map(|m| groups(a, m)),
            lb.diseases.map(|m| groups(b, m)),
        );
        self.scope(
            &format!("{p}.categories"),
            &format!("{n} 适用对象"),
            "category",
            la.categories.map(|m| ids_of(m, &a.categories)),
            lb.categories.map(|m| ids_of(m, &b.categories)),
        );
        let base = |b: Base| {
            match b {
                Base::All => "含政策范围外费用",
                Base::Gross => "政策范围内费用（各项报销前）",
                Base::InPolicy => "政策范围内费用",
            }
            .to_string()
        };
        self.value(
            &format!("{p}.base"),
            &format!("{n} 计算基数"),
            Some(base(la.base)),
            Some(base(lb.base)),
        );
        self.layer_v2(&p, &n, la, lb);

        match (&la.kind, &lb.kind) {
            (
                LayerKind::Ratio {
                    deductible: da,
                    ratio: ra,
                    ratio_by_category: ca,
                    ratio_bonus: ba,
                    bands: bda,
                    ..
                },
                LayerKind::Ratio {
                    deductible: db,
                    ratio: rb,
                    ratio_by_category: cb,
                    ratio_bonus: bb,
                    bands: bdb,
                    ..
                },
            ) => {
                self.deductible(&p, &n, da.as_ref(), db.as_ref());
                self.by_level(
                    &format!("{p}.ratio"),
                    &n,
                    "比例",
                    ra.as_ref(),
                    rb.as_ref(),
                    pct,
                );
                self.by_category(
                    &format!("{p}.ratio_by_category"),
                    &n,
                    "比例",
                    ca.as_deref(),
                    cb.as_deref(),
                    pct,
                );
                self.by_category(
                    &format!("{p}.ratio_bonus"),
                    &n,
                    "比例加成",
                    ba.as_deref(),
                    bb.as_deref(),
                    pct,
                );
                self.bands(&p, &n, bda.as_deref(), bdb.as_deref());
            }
            (
                LayerKind::Target {
                    target_ratio: ta,
                    reference_total: xa,
                },
                LayerKind::Target {
                    target_ratio: tb,
                    reference_total: xb,
                },
            ) => {
                self.value(
                    &format!("{p}.target_ratio"),
                    &format!("{n} 兜底目标比例"),
                    Some(pct(*ta)),
                    Some(pct(*tb)),
                );
                let r = |t: bool| {
                    if t {
                        "总费用"
                    } else {
                        "政策范围内费用"
                    }
                    .to_string()
                };
                self.value(
                    &format!("{p}.reference"),
                    &format!("{n} 兜底参照"),
                    Some(r(*xa)),
                    Some(r(*xb)),
                );
            }
            (LayerKind::Given, LayerKind::Given) => {}
            _ => {
                let text = format!("{n} 计算方式 {} → {}", describe(a, la), describe(b, lb));
                self.push(
                    format!("{p}.kind"),
                    Some(kind_name(la).into()),
                    Some(kind_name(lb).into()),
                    text,
                );
            }
        }
        self.cap(&p, &n, la.cap.as_ref(), lb.cap.as_ref());
    }

    /// Value of a by-level table for each level id of either policy.
    fn level_values(p: &Policy, t: Option<&ByLevel>) -> Option<BTreeMap<String, Decimal>> {
        t.map(|t| match t {
            ByLevel::Flat(d) => p.levels.iter().map(|(id, _)| (id.clone(), *d)).collect(),
            ByLevel::Table(v) => by_id(v, &p.levels),
        })
    }

    fn by_level(
        &mut self,
        path: &str,
        n: &str,
        what: &str,
        a: Option<&ByLevel>,
        b: Option<&ByLevel>,
        fmt: fn(Decimal) -> String,
    ) {
        match (a, b) {
            (None, None) => {}
            (Some(ByLevel::Flat(x)), Some(ByLevel::Flat(y))) => {
                self.value(path, &format!("{n} {what}"), Some(fmt(*x)), Some(fmt(*y)))
            }
            (None, Some(_)) | (Some(_), None) => {
                let t = |p: &Policy, v: Option<&ByLevel>| v.map(|v| level_text(p, v, fmt));
                let (x, y) = (t(self.a, a), t(self.b, b));
                self.value(path, &format!("{n} {what}"), x, y);
            }
            _ => {
                let va = Self::level_values(self.a, a).unwrap_or_default();
                let vb = Self::level_values(self.b, b).unwrap_or_default();
                let ids: BTreeSet<&String> = va.keys().chain(vb.keys()).collect();
                // in B's declaration order, then A's
                let mut ordered: Vec<&String> = self
                    .b
                    .levels
                    .iter()
                    .map(|(k, _)| k)
                    .filter(|k| ids.contains(k))
                    .collect();
                for (k, _) in &self.a.levels {
                    if ids.contains(k) && !ordered.contains(&k) {
                        ordered.push(k);
                    }
                }
                for id in ordered {
                    let (x, y) = (va.get(id).map(|d| fmt(*d)), vb.get(id).map(|d| fmt(*d)));
                    let label = self.label("level", id);
                    self.value(
                        &format!("{path}.{id}"),
                        &format!("{n} {label} {what}"),
                        x,
                        y,
                    );
                }
            }
        }
    }

    fn by_category(
        &mut self,
        path: &str,
        n: &str,
        what: &str,
        a: Option<&[Option<Decimal>]>,
        b: Option<&[Option<Decimal>]>,
        fmt: fn(Decimal) -> String,
    ) {
        let va = a.map(|t| by_id(t, &self.a.categories)).unwrap_or_default();
        let vb = b.map(|t| by_id(t, &self.b.categories)).unwrap_or_default();
        let mut ordered: Vec<String> = self
            .b
            .categories
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| va.contains_key(k) || vb.contains_key(k))
            .collect();
        for (k, _) in &self.a.categories {
            if (va.contains_key(k) || vb.contains_key(k)) && !ordered.contains(k) {
                ordered.push(k.clone());
            }
        }
        for id in ordered {
            let (x, y) = (va.get(&id).map(|d| fmt(*d)), vb.get(&id).map(|d| fmt(*d)));
            let label = self.label("category", &id);
            self.value(
                &format!("{path}.{id}"),
                &format!("{n} {label} {what}"),
                x,
                y,
            );
        }
    }

    fn deductible(&mut self, p: &str, n: &str, a: Option<&Deductible>, b: Option<&Deductible>) {
        let path = format!("{p}.deductible");
        match (a, b) {
            (None, None) => {}
            (None, Some(d)) => {
                let t = deductible_text(self.b, d);
                self.push(
                    path,
                    None,
                    Some(t.clone()),
                    format!("{n} 起付线 {NONE} → {t}"),
                );
            }
            (Some(d), None) => {
                let t = deductible_text(self.a, d);
                self.push(
                    path,
                    Some(t.clone()),
                    None,
                    format!("{n} 起付线 {t} → {NONE}"),
                );
            }
            (Some(da), Some(db)) => {
                let per = |y: bool| if y { "按年" } else { "按次" }.to_string();
                self.value(
                    &format!("{path}.per"),
                    &format!("{n} 起付线"),
                    Some(per(da.per_year)),
                    Some(per(db.per_year)),
                );
                self.by_level(
                    &format!("{path}.amount"),
                    n,
                    "起付线",
                    Some(&da.amount),
                    Some(&db.amount),
                    amt,
                );
                let (a, b) = (self.a, self.b);
                let wc = |p: &Policy, w: Option<&Waive>| {
                    w.map(|w| w.categories.map(|m| ids_of(m, &p.categories)))
                };
                let wl = |p: &Policy, w: Option<&Waive>| {
                    w.map(|w| w.levels.map(|m| ids_of(m, &p.levels)))
                };
                let (ca, cb) = (wc(a, da.waive.as_ref()), wc(b, db.waive.as_ref()));
                let (la, lb) = (wl(a, da.waive.as_ref()), wl(b, db.waive.as_ref()));
                if ca != cb || la != lb {
                    let t = |c: &Option<Option<BTreeSet<String>>>,
                             l: &Option<Option<BTreeSet<String>>>|
                     -> Option<String> {
                        match (c, l) {
                            (None, _) => None,
                            (Some(c), l) => Some(format!(
                                "{}{}",
                                c.as_ref().map_or("所有人".to_string(), |c| self
                                    .labels("category", c)),
                                l.clone()
                                    .flatten()
                                    .map(|l| format!("（{}）", self.labels("level", &l)))
                                    .unwrap_or_default()
                            )),
                        }
                    };
                    let (x, y) = (t(&ca, &la), t(&cb, &lb));
                    self.value(&format!("{path}.waive"), &format!("{n} 免起付线"), x, y);
                }
                self.by_category(
                    &format!("{path}.factor"),
                    n,
                    "起付线系数",
                    Some(&da.factor),
                    Some(&db.factor),
                    |d| d.normalize().to_string(),
                );
            }
        }
    }

    fn bands(&mut self, p: &str, n: &str, a: Option<&[Band]>, b: Option<&[Band]>) {
        let path = format!("{p}.bands");
        match (a, b) {
            (None, None) => {}
            (Some(x), Some(y)) if x.len() == y.len() => {
                for (i, (bx, by)) in x.iter().zip(y).enumerate() {
                    let k = i + 1;
                    self.value(
                        &format!("{path}[{i}].upto"),
                        &format!("{n} 分段第{k}段 上限"),
                        bx.upto.map(amt).or(Some("不设".into())),
                        by.upto.map(amt).or(Some("不设".into())),
                    );
                    self.value(
                        &format!("{path}[{i}].ratio"),
                        &format!("{n} 分段第{k}段（{}） 比例", band_range(y, i)),
                        Some(pct(bx.ratio)),
                        Some(pct(by.ratio)),
                    );
                }
            }
            (x, y) => {
                let (x, y) = (x.map(bands_text), y.map(bands_text));
                self.value(&path, &format!("{n} 分段报销"), x, y);
            }
        }
    }

    fn cap(&mut self, p: &str, n: &str, a: Option<&Cap>, b: Option<&Cap>) {
        let path = format!("{p}.cap");
        match (a, b) {
            (None, None) => {}
            (None, Some(c)) => {
                let t = cap_text(self.b, c);
                self.push(
                    path,
                    None,
                    Some(t.clone()),
                    format!("{n} 封顶线 {NONE} → {t}"),
                );
            }
            (Some(c), None) => {
                let t = cap_text(self.a, c);
                self.push(
                    path,
                    Some(t.clone()),
                    None,
                    format!("{n} 封顶线 {t} → {NONE}"),
                );
            }
            (Some(ca), Some(cb)) => {
                let per = |y: bool| if y { "每年" } else { "每次" }.to_string();
                self.value(
                    &format!("{path}.per"),
                    &format!("{n} 封顶线"),
                    Some(per(ca.per_year)),
                    Some(per(cb.per_year)),
                );
                self.value(
                    &format!("{path}.amount"),
                    &format!("{n} 封顶线"),
                    Some(amt(ca.default)),
                    Some(amt(cb.default)),
                );
                let ga: BTreeMap<String, Decimal> = self
                    .a
                    .groups
                    .iter()
                    .zip(&ca.by_group)
                    .filter_map(|(g, v)| v.map(|v| (g.id.clone(), v)))
                    .collect();
                let gb: BTreeMap<String, Decimal> = self
                    .b
                    .groups
                    .iter()
                    .zip(&cb.by_group)
                    .filter_map(|(g, v)| v.map(|v| (g.id.clone(), v)))
                    .collect();
                let ids: BTreeSet<&String> = ga.keys().chain(gb.keys()).collect();
                for id in ids {
                    let label = self.label("group", id);
                    self.value(
                        &format!("{path}.amount.{id}"),
                        &format!("{n} 封顶线（{label}）"),
                        ga.get(id).map(|d| amt(*d)),
                        gb.get(id).map(|d| amt(*d)),
                    );
                }
                let (ea, eb) = (
                    ids_of(ca.exempt, &self.a.categories),
                    ids_of(cb.exempt, &self.b.categories),
                );
                self.set(
                    &format!("{path}.exempt"),
                    &format!("{n} 不设封顶线的对象"),
                    "category",
                    &ea,
                    &eb,
                );
            }
        }
    }
}

/// The version-2 keys, compared as the sentences an administrator reads.
impl Differ<'_> {
    fn v2_declarations(&mut self) {
        let (a, b) = (self.a, self.b);
        let types = |p: &Policy| -> BTreeMap<String, String> {
            p.insurance_types.iter().cloned().collect()
        };
        let (ta, tb) = (types(a), types(b));
        for id in ta.keys().chain(tb.keys()).collect::<BTreeSet<_>>() {
            self.value(
                &format!("insurance_types.{id}"),
                &format!("险种 {id}"),
                ta.get(id).cloned(),
                tb.get(id).cloned(),
            );
        }
        let pools = |p: &Policy| -> BTreeMap<String, String> {
            p.pools
                .iter()
                .map(|x| (x.id.clone(), pool_text(p, x)))
                .collect()
        };
        let (pa, pb) = (pools(a), pools(b));
        for id in pa.keys().chain(pb.keys()).collect::<BTreeSet<_>>() {
            self.value(
                &format!("pools.{id}"),
                &format!("共用限额 {id}"),
                pa.get(id).cloned(),
                pb.get(id).cloned(),
            );
        }
    }

    fn layer_v2(&mut self, p: &str, n: &str, la: &Layer, lb: &Layer) {
        let (a, b) = (self.a, self.b);
        let pairs: [(&str, &str, Option<String>, Option<String>); 8] = [
            (
                "insurance_types",
                "适用险种",
                la.insurance_types.map(|m| ids_text(m, &a.insurance_types)),
                lb.insurance_types.map(|m| ids_text(m, &b.insurance_types)),
            ),
            (
                "places",
                "适用就医地",
                la.places.map(places_text),
                lb.places.map(places_text),
            ),
            (
                "referral",
                "转诊要求",
                la.referral_required.then(|| "须按规定转诊".to_string()),
                lb.referral_required.then(|| "须按规定转诊".to_string()),
            ),
            (
                "exclusive",
                "就高不重复组",
                la.exclusive.map(|t| a.exclusive_tags[t].clone()),
                lb.exclusive.map(|t| b.exclusive_tags[t].clone()),
            ),
            (
                "pool",
                "共用限额",
                la.pool.map(|i| a.pools[i].display_name().to_string()),
                lb.pool.map(|i| b.pools[i].display_name().to_string()),
            ),
            ("ratio_adjust", "比例调整", adjust_text(la), adjust_text(lb)),
            (
                "deductible.by_category",
                "按对象起付线",
                deductible_by_category(a, la),
                deductible_by_category(b, lb),
            ),
            (
                "cap.v2",
                "封顶线（按对象/按病种）",
                cap_v2_text(a, la),
                cap_v2_text(b, lb),
            ),
        ];
        for (key, what, x, y) in pairs {
            self.value(&format!("{p}.{key}"), &format!("{n} {what}"), x, y);
        }
    }
}

fn ids_text(mask: Mask, list: &[(String, String)]) -> String {
    list.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, (id, label))| format!("{label}（{id}）"))
        .collect::<Vec<_>>()
        .join("、")
}

fn places_text(m: u8) -> String {
    Place::ALL
        .iter()
        .filter(|p| m & p.bit() != 0)
        .map(|p| p.label())
        .collect::<Vec<_>>()
        .join("、")
}

fn categories_amounts(p: &Policy, t: &[Option<Decimal>]) -> String {
    p.categories
        .iter()
        .zip(t)
        .filter_map(|((_, label), v)| v.map(|v| format!("{label} {}", amt(v))))
        .collect::<Vec<_>>()
        .join("、")
}

fn pool_text(p: &Policy, x: &Pool) -> String {
    let mut s = format!("{} 每年 {}", x.display_name(), amt(x.amount));
    if let Some(t) = &x.by_category {
        s.push_str(&format!("（{}）", categories_amounts(p, t)));
    }
    if x.exempt != 0 {
        s.push_str(&format!(
            "，不设限额：{}",
            ids_text(x.exempt, &p.categories)
        ));
    }
    s
}

fn adjust_text(l: &Layer) -> Option<String> {
    let LayerKind::Ratio {
        ratio_adjust: a, ..
    } = &l.kind
    else {
        return None;
    };
    if a.is_zero() {
        return None;
    }
    let parts: Vec<String> = [
        ("未转诊", a.unreferred),
        ("市域内", a.city),
        ("省域内", a.province),
        ("跨省", a.national),
    ]
    .iter()
    .filter(|(_, v)| !v.is_zero())
    .map(|(k, v)| format!("{k} {}", pct(*v)))
    .collect();
    Some(parts.join("、"))
}

fn deductible_by_category(p: &Policy, l: &Layer) -> Option<String> {
    match &l.kind {
        LayerKind::Ratio {
            deductible: Some(d),
            ..
        } => d.by_category.as_deref().map(|t| categories_amounts(p, t)),
        _ => None,
    }
}

fn cap_v2_text(p: &Policy, l: &Layer) -> Option<String> {
    let c = l.cap.as_ref()?;
    let mut parts = Vec::new();
    if let Some(t) = &c.by_category {
        parts.push(format!("按对象 {}", categories_amounts(p, t)));
    }
    if c.per_group {
        parts.push("按病种分别累计".to_string());
    }
    (!parts.is_empty()).then(|| parts.join("，"))
}

/// The version-2 keys of a layer, in words, for added layers.
fn describe_v2(p: &Policy, l: &Layer, parts: &mut Vec<String>) {
    if let Some(t) = deductible_by_category(p, l) {
        parts.push(format!("按对象起付线 {t}"));
    }
    if let Some(t) = adjust_text(l) {
        parts.push(format!("比例调整 {t}"));
    }
    if let Some(t) = cap_v2_text(p, l) {
        parts.push(format!("封顶线 {t}"));
    }
    if let Some(i) = l.pool {
        parts.push(format!("共用限额 {}", p.pools[i].display_name()));
    }
    if let Some(t) = l.exclusive {
        parts.push(format!("就高不重复（{}）", p.exclusive_tags[t]));
    }
    if let Some(m) = l.insurance_types {
        parts.push(format!("险种 {}", ids_text(m, &p.insurance_types)));
    }
    if let Some(m) = l.places {
        parts.push(format!("就医地 {}", places_text(m)));
    }
    if l.referral_required {
        parts.push("须按规定转诊".into());
    }
    if l.base == Base::Gross {
        parts.push("按各项报销前的政策范围内费用计算".into());
    }
}

fn layer_name(l: &Layer) -> &str {
    if l.name.is_empty() {
        &l.id
    } else {
        &l.name
    }
}

fn kind_name(l: &Layer) -> &'static str {
    match l.kind {
        LayerKind::Ratio { .. } => "ratio",
        LayerKind::Target { .. } => "target",
        LayerKind::Given => "given",
    }
}

fn level_text(p: &Policy, v: &ByLevel, fmt: fn(Decimal) -> String) -> String {
    match v {
        ByLevel::Flat(d) => fmt(*d),
        ByLevel::Table(t) => p
            .levels
            .iter()
            .zip(t)
            .filter_map(|((_, label), v)| v.map(|v| format!("{label} {}", fmt(v))))
            .collect::<Vec<_>>()
            .join("、"),
    }
}

fn deductible_text(p: &Policy, d: &Deductible) -> String {
    format!(
        "{} {}",
        if d.per_year { "按年" } else { "按次" },
        level_text(p, &d.amount, amt)
    )
}

fn cap_text(p: &Policy, c: &Cap) -> String {
    let mut s = format!(
        "{} {}",
        if c.per_year { "每年" } else { "每次" },
        amt(c.default)
    );
    for (g, v) in p.groups.iter().zip(&c.by_group) {
        if let Some(v) = v {
            s.push_str(&format!("（{} {}）", g.label, amt(*v)));
        }
    }
    s
}

fn band_range(bands: &[Band], i: usize) -> String {
    let from = if i == 0 {
        Decimal::ZERO
    } else {
        bands[i - 1].upto.unwrap_or_default()
    };
    match bands[i].upto {
        Some(u) => format!("{}–{} 元", from.normalize(), u.normalize()),
        None => format!("{} 元以上", from.normalize()),
    }
}

fn bands_text(bands: &[Band]) -> String {
    (0..bands.len())
        .map(|i| format!("{} {}", band_range(bands, i), pct(bands[i].ratio)))
        .collect::<Vec<_>>()
        .join("，")
}

/// A short description of a layer's rule, in Chinese (added layers in a
/// diff; the console's policy table).
pub fn describe(p: &Policy, l: &Layer) -> String {
    let mut parts = Vec::new();
    match &l.kind {
        LayerKind::Ratio {
            deductible,
            ratio,
            ratio_by_category,
            bands,
            ..
        } => {
            if let Some(d) = deductible {
                parts.push(format!("起付线 {}", deductible_text(p, d)));
            }
            if let Some(r) = ratio {
                parts.push(format!("比例 {}", level_text(p, r, pct)));
            }
            if let Some(t) = ratio_by_category {
                let s = by_id(t, &p.categories)
                    .iter()
                    .map(|(id, v)| {
                        format!(
                            "{} {}",
                            p.category_index(id)
                                .map(|i| p.categories[i].1.clone())
                                .unwrap_or_else(|| id.clone()),
                            pct(*v)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("、");
                parts.push(format!("比例 {s}"));
            }
            if let Some(b) = bands {
                parts.push(format!("分段 {}", bands_text(b)));
            }
        }
        LayerKind::Target {
            target_ratio,
            reference_total,
        } => {
            parts.push(format!(
                "兜底至{}报销 {}",
                if *reference_total {
                    "总费用"
                } else {
                    "政策范围内费用"
                },
                pct(*target_ratio)
            ));
        }
        LayerKind::Given => {
            parts.push(format!("医保平台结算（基金 {}）", l.effective_fund_code()));
        }
    }
    if let Some(c) = &l.cap {
        parts.push(format!("封顶线 {}", cap_text(p, c)));
    }
    describe_v2(p, l, &mut parts);
    if parts.is_empty() {
        NONE.into()
    } else {
        parts.join("，")
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

#[cfg(test)]
mod tests {
    use super::*;

    const P2017: &str = include_str!("../../../fixtures/policies/wolong-2017.toml");
    const P2023: &str = include_str!("../../../fixtures/policies/wolong-2023.toml");

    fn load(t: &str) -> Policy {
        Policy::from_toml(t, "t").unwrap()
    }

    #[test]
    fn a_policy_does_not_differ_from_itself() {
        for t in [
            P2017,
            P2023,
            include_str!("../../../fixtures/design/policy.toml"),
            include_str!("../../../fixtures/policies/county-2024.toml"),
        ] {
            let p = load(t);
            assert!(diff(&p, &p).is_empty(), "{:?}", diff(&p, &p));
        }
    }

    #[test]
    fn spelling_is_not_a_difference() {
        let a = load(P2017);
        let b = load(
            &P2017
                .replace("ratio = \"0.65\"", "ratio = 0.650")
                .replace("# seed 002", "# changed comment"),
        );
        assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
    }

    #[test]
    fn names_the_aid_ratio_change_as_an_administrator_reads_it() {
        let a = load(P2017);
        let b = load(&P2017.replace("dibao = \"0.70\" }", "dibao = \"0.75\" }"));
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].text, "民政医疗救助（住院） 低保对象 比例 70% → 75%");
        assert_eq!(d[0].path, "layers.aid.ratio_by_category.dibao");
        assert_eq!(d[0].before.as_deref(), Some("70%"));
    }

    #[test]
    fn compares_by_id_across_reordered_declarations() {
        let a = load(P2017);
        // Declare the categories in another order: indices shift, ids do not.
        let b = load(&P2017.replace(
            "tekun_centralized = \"特困供养（集中）\"\ntekun_dispersed = \"特困供养（分散）\"\ndibao = \"低保对象\"",
            "dibao = \"低保对象\"\ntekun_dispersed = \"特困供养（分散）\"\ntekun_centralized = \"特困供养（集中）\"",
        ));
        assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
    }

    #[test]
    fn lists_every_kind_of_change() {
        let a = load(P2017);
        let b = load(P2023);
        let d = diff(&a, &b);
        let texts: Vec<&str> = d.iter().map(|c| c.text.as_str()).collect();
        let has = |s: &str| texts.iter().any(|t| t.contains(s));
        assert!(
            has("执行期 2017-01-01 至 2017-12-31 → 2023-01-01 至 2023-12-31"),
            "{texts:#?}"
        );
        assert!(has("新增医院级别 province（省级医院）"), "{texts:#?}");
        assert!(has("删除救助对象类别 poverty"), "{texts:#?}");
        assert!(has("新增支付层 supplementary"), "{texts:#?}");
        assert!(has("删除支付层 aid_outpatient"), "{texts:#?}");
        assert!(
            has("城乡居民基本医疗保险 县级医院 比例 80% → 85%"),
            "{texts:#?}"
        );
        assert!(
            has("城乡居民基本医疗保险 县级医院 起付线 300 元 → 500 元"),
            "{texts:#?}"
        );
        assert!(has("大病保险 起付线 15000 元 → 12000 元"), "{texts:#?}");
        assert!(
            has("大病保险 分段第1段（0–50000 元） 比例 50% → 60%"),
            "{texts:#?}"
        );
        assert!(has("封顶线 10000 元 → 60000 元"), "{texts:#?}");
        assert!(has("病种组 重大疾病 ICD-10 前缀"), "{texts:#?}");
        assert!(has("七免一减 减免的医院级别"), "{texts:#?}");
        // every change has a path and differing values
        for c in &d {
            assert!(!c.path.is_empty());
            assert_ne!(c.before, c.after, "{c:?}");
        }
    }
}
