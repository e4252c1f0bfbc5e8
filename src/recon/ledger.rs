//! The ledgers (台账) of seed 002: 七免一减 (per person: items waived and
//! the reduction), major-disease claims (大病救治台账) and county top-up
//! payments (财政兜底费用台账), each with the person, hospital, dates and
//! amounts. Reversals appear as rows with negated amounts, so every ledger
//! nets.

use super::record::{Kind, SettlementRecord};
use super::report::{ColType, Report, Table, Value};
use super::statement::Labels;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The fund code of the county top-up (政府兜底).
pub const FUND_FLOOR: &str = "640100";

/// Which ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    /// 七免一减台账.
    Waivers,
    /// 大病救治台账.
    MajorDisease,
    /// 财政兜底费用台账.
    Floor,
}

impl std::str::FromStr for LedgerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<LedgerKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "waivers" | "waiver" | "qimianyijian" => Ok(LedgerKind::Waivers),
            "major" | "major-disease" | "major_disease" | "disease" => Ok(LedgerKind::MajorDisease),
            "floor" | "doudi" | "topup" | "top-up" => Ok(LedgerKind::Floor),
            other => Err(format!(
                "unknown ledger {other:?} (expected waivers, major-disease or floor)"
            )),
        }
    }
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Waivers => "waivers",
            LedgerKind::MajorDisease => "major-disease",
            LedgerKind::Floor => "floor",
        }
    }
}

/// What the government top-up layers (payer `government` or fund 640100)
/// paid on a settlement.
pub fn floor_paid(r: &SettlementRecord) -> Decimal {
    r.layers
        .iter()
        .filter(|l| l.payer == "government" || l.fund_code == FUND_FLOOR)
        .map(|l| l.paid)
        .sum()
}

/// Whether a settlement belongs in the ledger. `group` restricts the
/// major-disease ledger to one disease group (default: any group).
pub fn in_ledger(kind: LedgerKind, r: &SettlementRecord, group: Option<&str>) -> bool {
    match kind {
        LedgerKind::Waivers => !r.hospital_waived.is_zero(),
        LedgerKind::MajorDisease => match group {
            Some(g) => r.disease_groups.iter().any(|x| x == g),
            None => !r.disease_groups.is_empty(),
        },
        LedgerKind::Floor => !floor_paid(r).is_zero(),
    }
}

fn base_cols(t: Table) -> Table {
    t.col("settlement_id", "结算编号", ColType::Text)
        .col("kind", "类型", ColType::Text)
        .col("person_id", "人员编号", ColType::Text)
        .col("person_name", "姓名", ColType::Text)
        .col("category", "救助类别", ColType::Text)
        .col("category_label", "类别名称", ColType::Text)
        .col("hospital", "医疗机构", ColType::Text)
        .col("claim_id", "就诊流水号", ColType::Text)
        .col("medical_type", "医疗类别", ColType::Text)
        .col("admitted_on", "入院日期", ColType::Text)
        .col("discharged_on", "出院日期", ColType::Text)
        .col("committed_at", "结算时间", ColType::Text)
}

fn base_row(r: &SettlementRecord, labels: &Labels) -> Vec<Value> {
    vec![
        r.settlement_id.clone().into(),
        r.kind.as_str().into(),
        r.person_id.clone().into(),
        r.person_name.clone().unwrap_or_default().into(),
        r.primary_category.clone().into(),
        labels.category(&r.primary_category).into(),
        r.hospital.clone().into(),
        r.claim_id.clone().into(),
        r.medical_type.clone().into(),
        r.admitted_on.to_string().into(),
        r.discharged_on.to_string().into(),
        r.committed_at.clone().into(),
    ]
}

/// A ledger over `records` (already restricted to the period).
pub fn ledger_report(
    kind: LedgerKind,
    records: &[SettlementRecord],
    period: &str,
    group: Option<&str>,
    labels: &Labels,
) -> Report {
    let rows: Vec<&SettlementRecord> = records
        .iter()
        .filter(|r| in_ledger(kind, r, group))
        .collect();
    let title = match kind {
        LedgerKind::Waivers => "“七免一减”台账",
        LedgerKind::MajorDisease => "大病救治台账",
        LedgerKind::Floor => "财政兜底费用台账",
    };
    let mut rep = Report::new(
        &format!("ledger_{}", kind.as_str().replace('-', "_")),
        format!("{period} {title}"),
    )
    .param("period", period)
    .param("ledger", kind.as_str());
    if let Some(g) = group {
        rep = rep.param("group", g);
    }
    // Per-person summary: (name, category, settlements net, amounts...)
    let mut persons: BTreeMap<String, (String, String, i64, Vec<Decimal>)> = BTreeMap::new();
    let mut detail = match kind {
        LedgerKind::Waivers => base_cols(Table::new("details", "明细").with_totals())
            .col("total", "医疗总费用", ColType::Money)
            .col("free_items", "免收项目金额", ColType::Money)
            .col("reduction", "费用减免金额", ColType::Money)
            .col("hospital_waived", "医院减免合计", ColType::Money)
            .col("patient_payable", "个人自付", ColType::Money),
        LedgerKind::MajorDisease => base_cols(Table::new("details", "明细").with_totals())
            .col("diagnosis", "主要诊断", ColType::Text)
            .col("disease_groups", "病种分组", ColType::Text)
            .col("total", "医疗总费用", ColType::Money)
            .col("in_policy", "政策范围内", ColType::Money)
            .col("insurance_paid", "医疗保险支付", ColType::Money)
            .col("aid_paid", "医疗救助支付", ColType::Money)
            .col("government_paid", "政府兜底支付", ColType::Money)
            .col("hospital_waived", "医院减免", ColType::Money)
            .col("fund_paid", "基金支付合计", ColType::Money)
            .col("patient_payable", "个人自付", ColType::Money)
            .col("reimbursement_ratio", "实际报销比例", ColType::Ratio),
        LedgerKind::Floor => base_cols(Table::new("details", "明细").with_totals())
            .col("total", "医疗总费用", ColType::Money)
            .col("in_policy", "政策范围内", ColType::Money)
            .col("paid_before_floor", "兜底前各项支付", ColType::Money)
            .col("floor_paid", "政府兜底支付", ColType::Money)
            .col("hospital_waived", "医院减免", ColType::Money)
            .col("patient_payable", "个人自付", ColType::Money)
            .col("reimbursement_ratio", "实际报销比例", ColType::Ratio),
    };
    for r in &rows {
        let mut row = base_row(r, labels);
        let amounts: Vec<Decimal> = match kind {
            LedgerKind::Waivers => {
                vec![
                    r.total,
                    r.free_items,
                    r.reduction,
                    r.hospital_waived,
                    r.patient_payable,
                ]
            }
            LedgerKind::MajorDisease => {
                row.push(r.primary_diagnosis.clone().unwrap_or_default().into());
                row.push(r.disease_groups.join(",").into());
                vec![
                    r.total,
                    r.in_policy,
                    r.paid_by_payer("insurance"),
                    r.paid_by_payer("aid"),
                    r.paid_by_payer("government"),
                    r.hospital_waived,
                    r.fund_paid,
                    r.patient_payable,
                ]
            }
            LedgerKind::Floor => {
                let f = floor_paid(r);
                vec![
                    r.total,
                    r.in_policy,
                    r.fund_paid - f,
                    f,
                    r.hospital_waived,
                    r.patient_payable,
                ]
            }
        };
        row.extend(amounts.iter().map(|d| Value::Money(*d)));
        if kind != LedgerKind::Waivers {
            row.push(Value::Ratio(r.reimbursement_ratio()));
        }
        detail.push(row);
        let e = persons.entry(r.person_id.clone()).or_insert_with(|| {
            (
                r.person_name.clone().unwrap_or_default(),
                r.primary_category.clone(),
                0,
                vec![Decimal::ZERO; amounts.len()],
            )
        });
        e.2 += if r.kind == Kind::Reversal { -1 } else { 1 };
        for (a, b) in e.3.iter_mut().zip(&amounts) {
            *a += *b;
        }
    }
    // Per person, amounts as in the details (without ratio columns).
    let mut by_person = Table::new("by_person", "按人员汇总")
        .col("person_id", "人员编号", ColType::Text)
        .col("person_name", "姓名", ColType::Text)
        .col("category", "救助类别", ColType::Text)
        .col("settlements", "人次(净)", ColType::Int);
    let money_cols: Vec<(String, String)> = detail
        .columns
        .iter()
        .filter(|c| c.ty == ColType::Money)
        .map(|c| (c.key.clone(), c.label.clone()))
        .collect();
    for (k, l) in &money_cols {
        by_person.add_col(k, l, ColType::Money);
    }
    let mut totals = vec![Decimal::ZERO; money_cols.len()];
    let mut total_n = 0;
    for (pid, (name, cat, n, amounts)) in &persons {
        let mut row: Vec<Value> = vec![
            pid.clone().into(),
            name.clone().into(),
            cat.clone().into(),
            (*n).into(),
        ];
        row.extend(amounts.iter().map(|d| Value::Money(*d)));
        for (t, a) in totals.iter_mut().zip(amounts) {
            *t += *a;
        }
        total_n += n;
        by_person.push(row);
    }
    let mut row: Vec<Value> = vec!["*".into(), "合计".into(), "".into(), total_n.into()];
    row.extend(totals.iter().map(|d| Value::Money(*d)));
    by_person.push(row);
    rep.tables.push(by_person);
    rep.tables.push(detail);
    rep
}
