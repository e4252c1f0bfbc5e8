//! How a policy's values read in words: levels, categories, deductibles,
//! caps, bands, pools and whole layers.

use super::*;

pub(super) fn ids_text(mask: Mask, list: &[(String, String)]) -> String {
    list.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, (id, label))| format!("{label}（{id}）"))
        .collect::<Vec<_>>()
        .join("、")
}

pub(super) fn places_text(m: u8) -> String {
    Place::ALL
        .iter()
        .filter(|p| m & p.bit() != 0)
        .map(|p| p.label())
        .collect::<Vec<_>>()
        .join("、")
}

pub(super) fn categories_amounts(p: &Policy, t: &[Option<Decimal>]) -> String {
    p.categories
        .iter()
        .zip(t)
        .filter_map(|((_, label), v)| v.map(|v| format!("{label} {}", amt(v))))
        .collect::<Vec<_>>()
        .join("、")
}

pub(super) fn pool_text(p: &Policy, x: &Pool) -> String {
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

pub(super) fn adjust_text(l: &Layer) -> Option<String> {
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

pub(super) fn deductible_by_category(p: &Policy, l: &Layer) -> Option<String> {
    match &l.kind {
        LayerKind::Ratio {
            deductible: Some(d),
            ..
        } => d.by_category.as_deref().map(|t| categories_amounts(p, t)),
        _ => None,
    }
}

pub(super) fn cap_v2_text(p: &Policy, l: &Layer) -> Option<String> {
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
pub(super) fn describe_v2(p: &Policy, l: &Layer, parts: &mut Vec<String>) {
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

pub(super) fn layer_name(l: &Layer) -> &str {
    if l.name.is_empty() {
        &l.id
    } else {
        &l.name
    }
}

pub(super) fn kind_name(l: &Layer) -> &'static str {
    match l.kind {
        LayerKind::Ratio { .. } => "ratio",
        LayerKind::Target { .. } => "target",
        LayerKind::Given => "given",
    }
}

pub(super) fn level_text(p: &Policy, v: &ByLevel, fmt: fn(Decimal) -> String) -> String {
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

pub(super) fn deductible_text(p: &Policy, d: &Deductible) -> String {
    format!(
        "{} {}",
        if d.per_year { "按年" } else { "按次" },
        level_text(p, &d.amount, amt)
    )
}

pub(super) fn cap_text(p: &Policy, c: &Cap) -> String {
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

pub(super) fn band_range(bands: &[Band], i: usize) -> String {
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

pub(super) fn bands_text(bands: &[Band]) -> String {
    (0..bands.len())
        .map(|i| format!("{} {}", band_range(bands, i), pct(bands[i].ratio)))
        .collect::<Vec<_>>()
        .join("，")
}

/// A short description of a layer's rule, for added layers.
/// A layer's rule in Chinese (added layers in a diff; the console's
/// policy table).
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
