//! The monthly statement (月结报表): counts and sums of every amount of
//! the answer for one accounting month, one hospital or all, split by
//! medical type, by beneficiary category, by layer and by fund code, with
//! reversals (冲红) shown apart and netted.
//!
//! Everything is built from [`Cells`]: sums in fen grouped by (hospital,
//! kind, medical type, category), and per layer. The cells come either from
//! records ([`Cells::from_records`]) or straight from `GROUP BY` queries in
//! the storage layer, so a month of a million settlements never has to be
//! loaded row by row. A closed month stores its cells and is served from
//! them.

use super::record::{fund_label, Kind, Month, SettlementRecord, AMOUNT_KEYS, FUND_HOSPITAL};
use super::report::{ColType, Report, Table, Value};
use crate::money::{from_fen, to_fen};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a settlement cell groups by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    pub hospital: String,
    pub kind: Kind,
    pub medical_type: String,
    /// The primary category, `""` for none.
    pub category: String,
}

/// Count and sums (fen) of the settlements of a cell, amounts in
/// [`AMOUNT_KEYS`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sums {
    pub count: i64,
    pub amounts: [i64; 10],
}

impl Sums {
    pub fn add(&mut self, o: &Sums) {
        self.count += o.count;
        for (a, b) in self.amounts.iter_mut().zip(o.amounts) {
            *a += b;
        }
    }
    /// The amount `key` (one of [`AMOUNT_KEYS`]) in fen.
    pub fn get(&self, key: &str) -> i64 {
        AMOUNT_KEYS
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| self.amounts[i])
            .unwrap_or(0)
    }
}

/// What a layer cell groups by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LayerKey {
    pub cell: CellKey,
    pub layer_id: String,
    pub fund_code: String,
    pub payer: String,
}

/// Sums (fen) of a layer's shares in a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSums {
    /// Settlements where the layer applied (reversals count too).
    pub applied: i64,
    pub base: i64,
    pub deductible: i64,
    pub eligible: i64,
    pub paid: i64,
    /// The smallest position of the layer in its policy: orders layers.
    pub position: i64,
}

impl LayerSums {
    pub fn add(&mut self, o: &LayerSums) {
        self.applied += o.applied;
        self.base += o.base;
        self.deductible += o.deductible;
        self.eligible += o.eligible;
        self.paid += o.paid;
        self.position = self.position.min(o.position);
    }
}

/// The grouped sums of one month: everything a statement, a totals check
/// and the clearing are made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cells {
    pub month: Option<Month>,
    /// The hospital these cells are restricted to, if any.
    pub hospital: Option<String>,
    #[serde(with = "pairs")]
    pub settlements: BTreeMap<CellKey, Sums>,
    #[serde(with = "pairs")]
    pub layers: BTreeMap<LayerKey, LayerSums>,
}

/// Maps with struct keys as JSON arrays of pairs.
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;
    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }
    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let v: Vec<(K, V)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

/// Labels for ids (categories, medical types, layers), from the policies.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    pub categories: BTreeMap<String, String>,
    pub medical_types: BTreeMap<String, String>,
    pub layers: BTreeMap<String, String>,
}

impl Labels {
    pub fn from_policies<'a>(
        policies: impl IntoIterator<Item = &'a crate::engine::Policy>,
    ) -> Labels {
        let mut l = Labels::default();
        for p in policies {
            for (id, label) in &p.categories {
                l.categories.entry(id.clone()).or_insert(label.clone());
            }
            for (id, label) in &p.medical_types {
                l.medical_types.entry(id.clone()).or_insert(label.clone());
            }
            for layer in &p.layers {
                l.layers
                    .entry(layer.id.clone())
                    .or_insert(layer.name.clone());
            }
        }
        l
    }
    pub fn category(&self, id: &str) -> String {
        if id.is_empty() {
            return "无救助类别".into();
        }
        self.categories.get(id).cloned().unwrap_or_default()
    }
    pub fn medical_type(&self, id: &str) -> String {
        self.medical_types.get(id).cloned().unwrap_or_default()
    }
    pub fn layer(&self, id: &str) -> String {
        self.layers.get(id).cloned().unwrap_or_default()
    }
}

/// A section of a statement: the settlements, the reversals, or the net.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Original,
    Reversal,
    Net,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Original, Section::Reversal, Section::Net];
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Original => "settlement",
            Section::Reversal => "reversal",
            Section::Net => "net",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Section::Original => "结算",
            Section::Reversal => "冲红",
            Section::Net => "净额",
        }
    }
    fn sign_count(self, kind: Kind) -> Option<i64> {
        match (self, kind) {
            (Section::Original, Kind::Original) => Some(1),
            (Section::Reversal, Kind::Reversal) => Some(1),
            (Section::Net, Kind::Original) => Some(1),
            // A reversal cancels one settlement: the net count goes down.
            (Section::Net, Kind::Reversal) => Some(-1),
            _ => None,
        }
    }
}

impl Cells {
    pub fn new(month: Option<Month>, hospital: Option<String>) -> Cells {
        Cells {
            month,
            hospital,
            ..Cells::default()
        }
    }

    /// Group `records` of `month` (all months when `None`), of `hospital`
    /// (all when `None`).
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = &'a SettlementRecord>,
        month: Option<Month>,
        hospital: Option<&str>,
    ) -> Cells {
        let mut c = Cells::new(month, hospital.map(str::to_string));
        for r in records {
            if month.is_some_and(|m| m != r.month) || hospital.is_some_and(|h| h != r.hospital) {
                continue;
            }
            c.add_record(r);
        }
        c
    }

    /// Add one record.
    pub fn add_record(&mut self, r: &SettlementRecord) {
        let key = CellKey {
            hospital: r.hospital.clone(),
            kind: r.kind,
            medical_type: r.medical_type.clone(),
            category: r.primary_category.clone(),
        };
        self.settlements.entry(key.clone()).or_default().add(&Sums {
            count: 1,
            amounts: r.amounts_fen(),
        });
        for (i, l) in r.layers.iter().enumerate() {
            let lk = LayerKey {
                cell: key.clone(),
                layer_id: l.layer_id.clone(),
                fund_code: l.fund_code.clone(),
                payer: l.payer.clone(),
            };
            let add = LayerSums {
                applied: i64::from(l.applied),
                base: to_fen(l.base),
                deductible: to_fen(l.deductible),
                eligible: to_fen(l.eligible),
                paid: to_fen(l.paid),
                position: i as i64,
            };
            match self.layers.get_mut(&lk) {
                Some(s) => s.add(&add),
                None => {
                    self.layers.insert(lk, add);
                }
            }
        }
    }

    /// Add a cell (as a storage query returns them).
    pub fn add_cell(&mut self, key: CellKey, sums: Sums) {
        self.settlements.entry(key).or_default().add(&sums);
    }

    /// Add a layer cell (as a storage query returns them).
    pub fn add_layer_cell(&mut self, key: LayerKey, sums: LayerSums) {
        match self.layers.get_mut(&key) {
            Some(s) => s.add(&sums),
            None => {
                self.layers.insert(key, sums);
            }
        }
    }

    /// Sums of the cells of `section` that `keep` accepts. In the net
    /// section a reversal counts −1 (amounts are already negated).
    pub fn sums(&self, section: Section, keep: impl Fn(&CellKey) -> bool) -> Sums {
        let mut out = Sums::default();
        for (k, s) in &self.settlements {
            if let Some(sign) = section.sign_count(k.kind) {
                if keep(k) {
                    out.count += sign * s.count;
                    for (a, b) in out.amounts.iter_mut().zip(s.amounts) {
                        *a += b;
                    }
                }
            }
        }
        out
    }

    /// Paid per fund code (layers only) in `section` for the cells `keep`
    /// accepts.
    pub fn funds(
        &self,
        section: Section,
        keep: impl Fn(&CellKey) -> bool,
    ) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for (k, s) in &self.layers {
            if section.sign_count(k.cell.kind).is_some() && keep(&k.cell) {
                *out.entry(k.fund_code.clone()).or_default() += s.paid;
            }
        }
        out
    }

    /// Per layer (id, fund code, payer) sums in `section`, in policy order.
    pub fn layer_sums(
        &self,
        section: Section,
        keep: impl Fn(&CellKey) -> bool,
    ) -> Vec<((String, String, String), LayerSums)> {
        let mut m: BTreeMap<(String, String, String), LayerSums> = BTreeMap::new();
        for (k, s) in &self.layers {
            let Some(sign) = section.sign_count(k.cell.kind) else {
                continue;
            };
            if keep(&k.cell) {
                let key = (k.layer_id.clone(), k.fund_code.clone(), k.payer.clone());
                let mut s = *s;
                s.applied *= sign;
                match m.get_mut(&key) {
                    Some(t) => t.add(&s),
                    None => {
                        m.insert(key, s);
                    }
                }
            }
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| a.1.position.cmp(&b.1.position).then(a.0.cmp(&b.0)));
        v
    }

    /// Every fund code that appears, sorted.
    pub fn fund_codes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.layers.keys().map(|k| k.fund_code.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    fn distinct<F: Fn(&CellKey) -> &str>(&self, f: F) -> Vec<String> {
        let mut v: Vec<String> = self.settlements.keys().map(|k| f(k).to_string()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The statement as a report.
    pub fn statement_report(&self, labels: &Labels) -> Report {
        let month = self.month.map(|m| m.to_string()).unwrap_or_default();
        let scope = self.hospital.clone().unwrap_or_else(|| "all".into());
        let mut report = Report::new(
            "statement",
            format!(
                "{month} 月结算汇总表（{}）",
                if scope == "all" {
                    "全部医疗机构".to_string()
                } else {
                    scope.clone()
                }
            ),
        )
        .param("month", month.clone())
        .param("hospital", scope);
        let funds = self.fund_codes();

        // Summary, and the splits, each with the three sections.
        let mut summary = sums_table("summary", "汇总", &[], &funds);
        for s in Section::ALL {
            push_sums_row(
                &mut summary,
                s,
                &[],
                self.sums(s, |_| true),
                &self.funds(s, |_| true),
                &funds,
            );
        }
        report.tables.push(summary);

        let mut by_type = sums_table(
            "by_medical_type",
            "按医疗类别",
            &[
                ("medical_type", "医疗类别"),
                ("medical_type_label", "类别名称"),
            ],
            &funds,
        );
        for s in Section::ALL {
            for t in self.distinct(|k| &k.medical_type) {
                let keep = |k: &CellKey| k.medical_type == t;
                push_sums_row(
                    &mut by_type,
                    s,
                    &[t.clone(), labels.medical_type(&t)],
                    self.sums(s, keep),
                    &self.funds(s, keep),
                    &funds,
                );
            }
        }
        report.tables.push(by_type);

        let mut by_cat = sums_table(
            "by_category",
            "按救助对象类别",
            &[("category", "救助类别"), ("category_label", "类别名称")],
            &funds,
        );
        for s in Section::ALL {
            for c in self.distinct(|k| &k.category) {
                let keep = |k: &CellKey| k.category == c;
                push_sums_row(
                    &mut by_cat,
                    s,
                    &[c.clone(), labels.category(&c)],
                    self.sums(s, keep),
                    &self.funds(s, keep),
                    &funds,
                );
            }
        }
        report.tables.push(by_cat);

        let mut by_layer = Table::new("by_layer", "按支付层次")
            .col("section", "类型", ColType::Text)
            .col("layer_id", "层次", ColType::Text)
            .col("layer_name", "层次名称", ColType::Text)
            .col("payer", "支付方", ColType::Text)
            .col("fund_code", "基金类型", ColType::Text)
            .col("applied", "适用笔数", ColType::Int)
            .col("base", "计算基数", ColType::Money)
            .col("deductible", "起付线", ColType::Money)
            .col("eligible", "可报金额", ColType::Money)
            .col("paid", "支付金额", ColType::Money);
        for s in Section::ALL {
            for ((id, fund, payer), l) in self.layer_sums(s, |_| true) {
                by_layer.push(vec![
                    s.as_str().into(),
                    id.clone().into(),
                    labels.layer(&id).into(),
                    payer.into(),
                    fund.into(),
                    l.applied.into(),
                    from_fen(l.base).into(),
                    from_fen(l.deductible).into(),
                    from_fen(l.eligible).into(),
                    from_fen(l.paid).into(),
                ]);
            }
        }
        report.tables.push(by_layer);

        let mut by_fund = Table::new("by_fund", "按基金类型")
            .col("section", "类型", ColType::Text)
            .col("fund_code", "基金类型", ColType::Text)
            .col("fund_label", "基金名称", ColType::Text)
            .col("paid", "金额", ColType::Money);
        for s in Section::ALL {
            let f = self.funds(s, |_| true);
            for code in &funds {
                by_fund.push(vec![
                    s.as_str().into(),
                    code.clone().into(),
                    fund_label(code).into(),
                    from_fen(f.get(code).copied().unwrap_or(0)).into(),
                ]);
            }
            by_fund.push(vec![
                s.as_str().into(),
                FUND_HOSPITAL.into(),
                fund_label(FUND_HOSPITAL).into(),
                from_fen(self.sums(s, |_| true).get("hospital_waived")).into(),
            ]);
        }
        report.tables.push(by_fund);

        if self.hospital.is_none() {
            let mut by_h = sums_table(
                "by_hospital",
                "按医疗机构",
                &[("hospital", "医疗机构")],
                &funds,
            );
            for s in Section::ALL {
                for h in self.distinct(|k| &k.hospital) {
                    let keep = |k: &CellKey| k.hospital == h;
                    push_sums_row(
                        &mut by_h,
                        s,
                        std::slice::from_ref(&h),
                        self.sums(s, keep),
                        &self.funds(s, keep),
                        &funds,
                    );
                }
            }
            report.tables.push(by_h);
        }
        report
    }
}

fn fund_key(code: &str) -> String {
    format!("fund_{code}")
}

fn sums_table(name: &str, title: &str, keys: &[(&str, &str)], funds: &[String]) -> Table {
    let mut t = Table::new(name, title).col("section", "类型", ColType::Text);
    for (k, l) in keys {
        t.add_col(k, l, ColType::Text);
    }
    t.add_col("count", "笔数", ColType::Int);
    for (k, l) in AMOUNT_KEYS {
        t.add_col(k, l, ColType::Money);
    }
    for f in funds {
        t.add_col(
            &fund_key(f),
            &format!("{} {f}", fund_label(f)),
            ColType::Money,
        );
    }
    t
}

fn push_sums_row(
    t: &mut Table,
    section: Section,
    keys: &[String],
    sums: Sums,
    by_fund: &BTreeMap<String, i64>,
    funds: &[String],
) {
    let mut row: Vec<Value> = vec![section.as_str().into()];
    row.extend(keys.iter().map(|k| Value::Text(k.clone())));
    row.push(sums.count.into());
    row.extend(sums.amounts.iter().map(|a| Value::Money(from_fen(*a))));
    row.extend(
        funds
            .iter()
            .map(|f| Value::Money(from_fen(by_fund.get(f).copied().unwrap_or(0)))),
    );
    t.push(row);
}
