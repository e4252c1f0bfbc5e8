//! Comparing the parts of two layers: scope, ratios, deductibles, bands,
//! caps, and the version-2 keys.

use super::*;

impl Differ<'_> {
    pub(super) fn layer(&mut self, la: &Layer, lb: &Layer) {
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
    pub(super) fn level_values(
        p: &Policy,
        t: Option<&ByLevel>,
    ) -> Option<BTreeMap<String, Decimal>> {
        t.map(|t| match t {
            ByLevel::Flat(d) => p.levels.iter().map(|(id, _)| (id.clone(), *d)).collect(),
            ByLevel::Table(v) => by_id(v, &p.levels),
        })
    }

    pub(super) fn by_level(
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

    pub(super) fn by_category(
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

    pub(super) fn deductible(
        &mut self,
        p: &str,
        n: &str,
        a: Option<&Deductible>,
        b: Option<&Deductible>,
    ) {
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

    pub(super) fn bands(&mut self, p: &str, n: &str, a: Option<&[Band]>, b: Option<&[Band]>) {
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

    pub(super) fn cap(&mut self, p: &str, n: &str, a: Option<&Cap>, b: Option<&Cap>) {
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
    pub(super) fn v2_declarations(&mut self) {
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

    pub(super) fn layer_v2(&mut self, p: &str, n: &str, la: &Layer, lb: &Layer) {
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
