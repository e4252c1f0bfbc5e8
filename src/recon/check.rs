//! Checks against the hospital's own books: totals (对总账, like the
//! national platform's 3201) and details (对明细账, 3202).
//!
//! Figures are net for the accounting month: settlements plus the reversals
//! booked in the month (negative). The difference is always
//! `hospital − centre`.

use super::input::{canon_field, is_fund_code, parse_signed, read_rows, Row};
use super::record::{fund_label, Kind, SettlementRecord, AMOUNT_KEYS, FUND_HOSPITAL};
use super::report::{ColType, Report, Table, Value};
use super::statement::{Cells, Section};
use crate::money::{fmt2, from_fen};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// Fund codes the national `hifp/hifmi/hifob/maf_pay` fields name;
/// `oth_pay` is every other fund.
const NAMED_FUNDS: [&str; 4] = ["390100", "390200", "390300", "610100"];

/// A field's label for reports.
fn field_label(f: &str) -> String {
    if let Some((_, l)) = AMOUNT_KEYS.iter().find(|(k, _)| *k == f) {
        return (*l).to_string();
    }
    match f {
        "count" => "笔数".into(),
        "oth_pay" => "其他基金".into(),
        c if is_fund_code(c) => format!("{} {c}", fund_label(c)),
        _ => String::new(),
    }
}

/// How one compared figure came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Match,
    Differs,
    /// The centre has a non-zero figure the hospital did not send.
    NotReported,
    /// The hospital sent a figure the centre does not know.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Match => "match",
            Status::Differs => "differs",
            Status::NotReported => "not_reported",
            Status::Unknown => "unknown",
        }
    }
}

/// One line of a totals check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalLine {
    pub item: String,
    pub ours: Option<Decimal>,
    pub theirs: Option<Decimal>,
    pub status: Status,
}

/// Our figure for a canonical item from month cells; `None` if unknown.
fn our_total(cells: &Cells, item: &str) -> Option<Decimal> {
    let net = Section::Net;
    if item == "count" {
        return Some(Decimal::from(cells.sums(net, |_| true).count));
    }
    if AMOUNT_KEYS.iter().any(|(k, _)| *k == item) {
        return Some(from_fen(cells.sums(net, |_| true).get(item)));
    }
    let funds = cells.funds(net, |_| true);
    if is_fund_code(item) {
        return Some(from_fen(funds.get(item).copied().unwrap_or(0)));
    }
    if item == "oth_pay" {
        return Some(from_fen(
            funds
                .iter()
                .filter(|(c, _)| !NAMED_FUNDS.contains(&c.as_str()))
                .map(|(_, v)| *v)
                .sum(),
        ));
    }
    // A layer id.
    let layers = cells.layer_sums(net, |_| true);
    let mut found = false;
    let mut sum = 0;
    for ((id, _, _), s) in layers {
        if id == item {
            found = true;
            sum += s.paid;
        }
    }
    found.then(|| from_fen(sum))
}

/// Read the hospital's totals: rows of `fund_code,amount` (long), or one
/// row with a column per fund or figure (wide); CSV, JSON or XML.
pub fn read_totals(bytes: &[u8]) -> Result<BTreeMap<String, Decimal>, String> {
    let rows = read_rows(bytes)?;
    let mut out = BTreeMap::new();
    let long_key = |r: &Row| {
        r.iter()
            .find(|(k, _)| {
                matches!(
                    k.trim().to_ascii_lowercase().as_str(),
                    "fund_code" | "fund_pay_type" | "fund" | "item" | "code"
                )
            })
            .map(|(_, v)| v.clone())
    };
    for (i, r) in rows.iter().enumerate() {
        if let Some(code) = long_key(r) {
            let amount = r
                .iter()
                .find(|(k, _)| {
                    matches!(
                        k.trim().to_ascii_lowercase().as_str(),
                        "amount" | "fund_payamt" | "paid" | "sum" | "value"
                    )
                })
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("row {}: no amount column", i + 1))?;
            let d = parse_signed(&amount)
                .map_err(|e| format!("row {} ({code}): {e}", i + 1))?
                .unwrap_or_default();
            *out.entry(canon_field(&code)).or_default() += d;
        } else {
            for (k, v) in r {
                let key = canon_field(k);
                if matches!(key.as_str(), "hospital" | "month" | "claim_id" | "kind") {
                    continue;
                }
                if let Some(d) = parse_signed(v).map_err(|e| format!("row {} {k}: {e}", i + 1))? {
                    *out.entry(key).or_default() += d;
                }
            }
        }
    }
    Ok(out)
}

/// Compare the hospital's totals with the month's cells.
pub fn check_totals(cells: &Cells, theirs: &BTreeMap<String, Decimal>) -> Vec<TotalLine> {
    let mut items: Vec<String> = vec![
        "count".into(),
        "total".into(),
        "hospital_waived".into(),
        "fund_paid".into(),
        "patient_payable".into(),
    ];
    for f in cells.fund_codes() {
        items.push(f);
    }
    for k in theirs.keys() {
        if !items.contains(k) {
            items.push(k.clone());
        }
    }
    let mut out = Vec::new();
    for item in items {
        let ours = our_total(cells, &item);
        let th = theirs.get(&item).copied();
        let status = match (ours, th) {
            (Some(o), Some(t)) if o == t => Status::Match,
            (Some(_), Some(_)) => Status::Differs,
            (None, Some(_)) => Status::Unknown,
            (Some(o), None) if o.is_zero() => continue,
            (Some(_), None) => Status::NotReported,
            (None, None) => continue,
        };
        out.push(TotalLine {
            item,
            ours,
            theirs: th,
            status,
        });
    }
    out
}

/// The totals check as a report.
pub fn totals_report(cells: &Cells, lines: &[TotalLine]) -> Report {
    let month = cells.month.map(|m| m.to_string()).unwrap_or_default();
    let hospital = cells.hospital.clone().unwrap_or_else(|| "all".into());
    let mut r = Report::new("check_totals", format!("{month} 对总账（{hospital}）"))
        .param("month", month)
        .param("hospital", hospital);
    let ok = lines.iter().all(|l| l.status == Status::Match);
    r = r.param("result", if ok { "match" } else { "differs" });
    let mut t = Table::new("totals", "对总账")
        .col("item", "项目", ColType::Text)
        .col("label", "名称", ColType::Text)
        .col("centre", "中心金额", ColType::Money)
        .col("hospital", "医院金额", ColType::Money)
        .col("difference", "差额(医院−中心)", ColType::Money)
        .col("status", "结果", ColType::Text);
    for l in lines {
        let money = |d: Option<Decimal>| d.map_or(Value::Empty, Value::Money);
        let diff = match (l.ours, l.theirs) {
            (Some(o), Some(t)) => Value::Money(t - o),
            (Some(o), None) => Value::Money(-o),
            (None, Some(t)) => Value::Money(t),
            _ => Value::Empty,
        };
        let fix_count = |v: Value| match (l.item.as_str(), v) {
            ("count", Value::Money(d)) => Value::Int(d.trunc().try_into().unwrap_or(0)),
            (_, v) => v,
        };
        t.push(vec![
            l.item.clone().into(),
            field_label(&l.item).into(),
            fix_count(money(l.ours)),
            fix_count(money(l.theirs)),
            fix_count(diff),
            l.status.as_str().into(),
        ]);
    }
    r.tables.push(t);
    r
}

/// The key a detail row is matched on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DetailKey {
    pub hospital: String,
    pub claim_id: String,
    pub kind: Kind,
}

/// One side's figures for a detail key: field → amount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetailFigures {
    pub settlement_ids: Vec<String>,
    pub rows: usize,
    pub fields: BTreeMap<String, Decimal>,
}

/// How a settlement compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    /// Ours, not in the hospital's list.
    MissingInHospital,
    /// In the hospital's list, not ours.
    MissingInCentre,
    /// Both; these fields differ: (field, ours, theirs).
    Differs(Vec<(String, Decimal, Decimal)>),
    /// The hospital lists the key more than once.
    Duplicate(usize),
}

impl Discrepancy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Discrepancy::MissingInHospital => "missing_in_hospital",
            Discrepancy::MissingInCentre => "missing_in_centre",
            Discrepancy::Differs(_) => "differs",
            Discrepancy::Duplicate(_) => "duplicate",
        }
    }
}

/// The outcome of a detail check.
#[derive(Debug, Clone, Default)]
pub struct DetailCheck {
    pub ours: usize,
    pub theirs: usize,
    pub matched: usize,
    /// The compared fields (what the hospital's file carries).
    pub fields: Vec<String>,
    pub discrepancies: Vec<(DetailKey, DetailFigures, DetailFigures, Discrepancy)>,
}

/// Our figure `field` for a settlement.
fn our_field(r: &SettlementRecord, field: &str) -> Option<Decimal> {
    if let Some(i) = AMOUNT_KEYS.iter().position(|(k, _)| *k == field) {
        return Some(crate::money::from_fen(r.amounts_fen()[i]));
    }
    if field == FUND_HOSPITAL {
        return Some(r.hospital_waived);
    }
    if is_fund_code(field) {
        return Some(r.paid_by_fund(field));
    }
    if field == "oth_pay" {
        return Some(
            r.layers
                .iter()
                .filter(|l| !NAMED_FUNDS.contains(&l.fund_code.as_str()))
                .map(|l| l.paid)
                .sum(),
        );
    }
    let mut found = false;
    let mut sum = Decimal::ZERO;
    for l in r.layers.iter().filter(|l| l.layer_id == field) {
        found = true;
        sum += l.paid;
    }
    found.then_some(sum)
}

/// Fields of a detail file that are not compared amounts.
const KEY_FIELDS: [&str; 6] = [
    "claim_id",
    "settlement_id",
    "hospital",
    "kind",
    "month",
    "person_id",
];

/// Compare the hospital's detail list with our records of the month.
/// `records` must already be the month's (and the hospital's, when the
/// check is for one hospital). Rows are matched on (hospital, claim id,
/// kind); the hospital column is used only when the file has one and the
/// check covers every hospital. A file row without a kind is a settlement;
/// a reversal row whose amounts are all ≥ 0 is read as magnitudes and
/// negated. Several rows under one key are summed on our side.
pub fn check_details(
    records: &[SettlementRecord],
    bytes: &[u8],
    one_hospital: Option<&str>,
) -> Result<DetailCheck, String> {
    let rows = read_rows(bytes)?;
    let file_has_hospital = rows
        .iter()
        .any(|r| r.keys().any(|k| canon_field(k) == "hospital"));
    let use_hospital = one_hospital.is_none() && file_has_hospital;
    // The compared fields: every amount field the file carries.
    let layer_ids: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| r.layers.iter().map(|l| l.layer_id.as_str()))
        .collect();
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for r in &rows {
        for k in r.keys() {
            let c = canon_field(k);
            let amount = AMOUNT_KEYS.iter().any(|(a, _)| *a == c)
                || is_fund_code(&c)
                || c == "oth_pay"
                || layer_ids.contains(c.as_str());
            if amount && !KEY_FIELDS.contains(&c.as_str()) {
                fields.insert(c);
            }
        }
    }
    // When the file names funds by code, every fund we paid must be there
    // too: a fund the file lacks counts as 0.00 there.
    if fields.iter().any(|f| is_fund_code(f)) {
        for r in records {
            for l in &r.layers {
                if !l.paid.is_zero() {
                    fields.insert(l.fund_code.clone());
                }
            }
        }
        fields.remove("oth_pay");
    }
    let fields: Vec<String> = fields.into_iter().collect();

    let mut theirs: BTreeMap<DetailKey, DetailFigures> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let line = i + 1;
        let mut canon: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in r {
            canon.insert(canon_field(k), v.clone());
        }
        let claim_id = canon
            .get("claim_id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("row {line}: no claim_id"))?
            .clone();
        let kind = match canon.get("kind") {
            Some(k) => Kind::parse(k).ok_or_else(|| format!("row {line}: unknown kind {k:?}"))?,
            None => Kind::Original,
        };
        let hospital = if use_hospital {
            canon.get("hospital").cloned().unwrap_or_default()
        } else {
            String::new()
        };
        let mut figs = BTreeMap::new();
        for f in &fields {
            let v = match canon.get(f) {
                Some(s) => parse_signed(s).map_err(|e| format!("row {line} {f}: {e}"))?,
                None => None,
            };
            figs.insert(f.clone(), v.unwrap_or_default());
        }
        if kind == Kind::Reversal && figs.values().all(|d| !d.is_sign_negative()) {
            for d in figs.values_mut() {
                *d = -*d;
            }
        }
        let key = DetailKey {
            hospital,
            claim_id,
            kind,
        };
        let e = theirs.entry(key).or_default();
        e.rows += 1;
        if let Some(s) = canon.get("settlement_id") {
            e.settlement_ids.push(s.clone());
        }
        for (f, d) in figs {
            *e.fields.entry(f).or_default() += d;
        }
    }

    let mut ours: BTreeMap<DetailKey, DetailFigures> = BTreeMap::new();
    for r in records {
        let key = DetailKey {
            hospital: if use_hospital {
                r.hospital.clone()
            } else {
                String::new()
            },
            claim_id: r.claim_id.clone(),
            kind: r.kind,
        };
        let e = ours.entry(key).or_default();
        e.rows += 1;
        e.settlement_ids.push(r.settlement_id.clone());
        for f in &fields {
            *e.fields.entry(f.clone()).or_default() += our_field(r, f).unwrap_or_default();
        }
    }

    let mut check = DetailCheck {
        ours: records.len(),
        theirs: rows.len(),
        fields: fields.clone(),
        ..DetailCheck::default()
    };
    let keys: BTreeSet<&DetailKey> = ours.keys().chain(theirs.keys()).collect();
    for k in keys {
        let empty = DetailFigures::default();
        match (ours.get(k), theirs.get(k)) {
            (Some(o), None) => check.discrepancies.push((
                k.clone(),
                o.clone(),
                empty,
                Discrepancy::MissingInHospital,
            )),
            (None, Some(t)) => check.discrepancies.push((
                k.clone(),
                empty,
                t.clone(),
                Discrepancy::MissingInCentre,
            )),
            (Some(o), Some(t)) => {
                if t.rows > 1 && o.rows < t.rows {
                    check.discrepancies.push((
                        k.clone(),
                        o.clone(),
                        t.clone(),
                        Discrepancy::Duplicate(t.rows),
                    ));
                    continue;
                }
                let diffs: Vec<(String, Decimal, Decimal)> = fields
                    .iter()
                    .filter_map(|f| {
                        let a = o.fields.get(f).copied().unwrap_or_default();
                        let b = t.fields.get(f).copied().unwrap_or_default();
                        (a != b).then(|| (f.clone(), a, b))
                    })
                    .collect();
                if diffs.is_empty() {
                    check.matched += 1;
                } else {
                    check.discrepancies.push((
                        k.clone(),
                        o.clone(),
                        t.clone(),
                        Discrepancy::Differs(diffs),
                    ));
                }
            }
            (None, None) => {}
        }
    }
    Ok(check)
}

/// The detail check as a report: a summary, one row per discrepant
/// settlement, and one row per differing field.
pub fn details_report(check: &DetailCheck, month: &str, hospital: Option<&str>) -> Report {
    let scope = hospital.unwrap_or("all").to_string();
    let count = |s: &str| {
        check
            .discrepancies
            .iter()
            .filter(|d| d.3.as_str() == s)
            .count() as i64
    };
    let mut r = Report::new("check_details", format!("{month} 对明细账（{scope}）"))
        .param("month", month)
        .param("hospital", scope)
        .param(
            "result",
            if check.discrepancies.is_empty() {
                "match"
            } else {
                "differs"
            },
        )
        .param("fields", check.fields.join(","));
    let mut s = Table::new("summary", "汇总")
        .col("centre_rows", "中心笔数", ColType::Int)
        .col("hospital_rows", "医院笔数", ColType::Int)
        .col("matched", "一致", ColType::Int)
        .col("missing_in_hospital", "医院缺少", ColType::Int)
        .col("missing_in_centre", "中心缺少", ColType::Int)
        .col("differs", "金额不符", ColType::Int)
        .col("duplicate", "医院重复", ColType::Int);
    s.push(vec![
        (check.ours as i64).into(),
        (check.theirs as i64).into(),
        (check.matched as i64).into(),
        count("missing_in_hospital").into(),
        count("missing_in_centre").into(),
        count("differs").into(),
        count("duplicate").into(),
    ]);
    r.tables.push(s);
    let mut d = Table::new("discrepancies", "差异明细")
        .col("hospital", "医疗机构", ColType::Text)
        .col("claim_id", "就诊流水号", ColType::Text)
        .col("kind", "类型", ColType::Text)
        .col("status", "结果", ColType::Text)
        .col("settlement_id", "结算编号", ColType::Text)
        .col("fields", "不符项目", ColType::Text)
        .col("centre_total", "中心总费用", ColType::Money)
        .col("hospital_total", "医院总费用", ColType::Money);
    let mut f = Table::new("field_differences", "金额不符项目")
        .col("hospital", "医疗机构", ColType::Text)
        .col("claim_id", "就诊流水号", ColType::Text)
        .col("kind", "类型", ColType::Text)
        .col("field", "项目", ColType::Text)
        .col("label", "名称", ColType::Text)
        .col("centre", "中心金额", ColType::Money)
        .col("hospital_amount", "医院金额", ColType::Money)
        .col("difference", "差额(医院−中心)", ColType::Money);
    for (k, o, t, disc) in &check.discrepancies {
        let total = |x: &DetailFigures, present: bool| {
            if present {
                x.fields
                    .get("total")
                    .copied()
                    .map_or(Value::Empty, Value::Money)
            } else {
                Value::Empty
            }
        };
        let (has_o, has_t) = match disc {
            Discrepancy::MissingInHospital => (true, false),
            Discrepancy::MissingInCentre => (false, true),
            _ => (true, true),
        };
        let names = match disc {
            Discrepancy::Differs(v) => v.iter().map(|x| x.0.clone()).collect::<Vec<_>>().join(","),
            _ => String::new(),
        };
        let ids = if o.settlement_ids.is_empty() {
            t.settlement_ids.join(",")
        } else {
            o.settlement_ids.join(",")
        };
        d.push(vec![
            k.hospital.clone().into(),
            k.claim_id.clone().into(),
            k.kind.as_str().into(),
            disc.as_str().into(),
            ids.into(),
            names.into(),
            total(o, has_o),
            total(t, has_t),
        ]);
        if let Discrepancy::Differs(v) = disc {
            for (field, a, b) in v {
                f.push(vec![
                    k.hospital.clone().into(),
                    k.claim_id.clone().into(),
                    k.kind.as_str().into(),
                    field.clone().into(),
                    field_label(field).into(),
                    Value::Money(*a),
                    Value::Money(*b),
                    Value::Money(*b - *a),
                ]);
            }
        }
    }
    r.tables.push(d);
    r.tables.push(f);
    r
}

/// Our detail list of the month (what a hospital's file should look like):
/// one row per settlement or reversal, with every fund by code.
pub fn detail_list_report(
    records: &[SettlementRecord],
    month: &str,
    hospital: Option<&str>,
) -> Report {
    let mut funds: BTreeSet<String> = BTreeSet::new();
    for r in records {
        for l in &r.layers {
            funds.insert(l.fund_code.clone());
        }
    }
    let mut t = Table::new("details", "结算明细")
        .with_totals()
        .col("hospital", "医疗机构", ColType::Text)
        .col("claim_id", "就诊流水号", ColType::Text)
        .col("kind", "类型", ColType::Text)
        .col("settlement_id", "结算编号", ColType::Text)
        .col("person_id", "人员编号", ColType::Text)
        .col("medical_type", "医疗类别", ColType::Text)
        .col("category", "救助类别", ColType::Text)
        .col("discharged_on", "出院日期", ColType::Text)
        .col("committed_at", "结算时间", ColType::Text)
        .col("total", "医疗总费用", ColType::Money)
        .col("hospital_waived", "医院减免", ColType::Money)
        .col("fund_paid", "基金支付", ColType::Money);
    for f in &funds {
        t.add_col(
            &format!("fund_{f}"),
            &format!("{} {f}", fund_label(f)),
            ColType::Money,
        );
    }
    t.add_col("patient_payable", "个人自付", ColType::Money);
    for r in records {
        let mut row: Vec<Value> = vec![
            r.hospital.clone().into(),
            r.claim_id.clone().into(),
            r.kind.as_str().into(),
            r.settlement_id.clone().into(),
            r.person_id.clone().into(),
            r.medical_type.clone().into(),
            r.primary_category.clone().into(),
            r.discharged_on.to_string().into(),
            r.committed_at.clone().into(),
            r.total.into(),
            r.hospital_waived.into(),
            r.fund_paid.into(),
        ];
        for f in &funds {
            row.push(r.paid_by_fund(f).into());
        }
        row.push(r.patient_payable.into());
        t.push(row);
    }
    let mut rep = Report::new(
        "details",
        format!("{month} 结算明细（{}）", hospital.unwrap_or("all")),
    )
    .param("month", month)
    .param("hospital", hospital.unwrap_or("all"));
    rep.tables.push(t);
    rep
}

/// `fmt2` for messages.
pub fn money_text(d: Decimal) -> String {
    fmt2(d)
}
