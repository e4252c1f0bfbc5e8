//! Clearing (清算, like the national platform's 3203): what each payer owes
//! each hospital for the month, by fund code — the basis of the transfer —
//! and the medical-aid disbursement report by beneficiary category that
//! counties send every month (seed 004: 社会救助资金发放月报告).
//!
//! Both are net of the reversals booked in the month. Hospital waivers
//! (630100) are borne by the hospital and are not owed; they are shown for
//! information.

use super::record::{fund_label, payer_label};
use super::report::{ColType, Report, Table, Value};
use super::statement::{CellKey, Cells, Labels, Section};
use crate::money::from_fen;
use std::collections::BTreeMap;

/// One clearing line: what `payer` owes `hospital` under `fund_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingLine {
    pub hospital: String,
    pub payer: String,
    pub fund_code: String,
    /// Settlements where the layer applied, net of reversals.
    pub settlements: i64,
    /// Net amount owed, fen.
    pub amount: i64,
}

/// The clearing lines of the month's cells, by hospital, payer, fund code.
pub fn clearing_lines(cells: &Cells) -> Vec<ClearingLine> {
    let mut m: BTreeMap<(String, String, String), (i64, i64)> = BTreeMap::new();
    for (k, s) in &cells.layers {
        let sign = if k.cell.kind == super::record::Kind::Reversal {
            -1
        } else {
            1
        };
        let e = m
            .entry((
                k.cell.hospital.clone(),
                k.payer.clone(),
                k.fund_code.clone(),
            ))
            .or_default();
        e.0 += sign * s.applied;
        e.1 += s.paid;
    }
    m.into_iter()
        .filter(|(_, (n, a))| *n != 0 || *a != 0)
        .map(
            |((hospital, payer, fund_code), (settlements, amount))| ClearingLine {
                hospital,
                payer,
                fund_code,
                settlements,
                amount,
            },
        )
        .collect()
}

/// The clearing report.
pub fn clearing_report(cells: &Cells) -> Report {
    let month = cells.month.map(|m| m.to_string()).unwrap_or_default();
    let scope = cells.hospital.clone().unwrap_or_else(|| "all".into());
    let mut r = Report::new("clearing", format!("{month} 清算表（{scope}）"))
        .param("month", month)
        .param("hospital", scope);
    let lines = clearing_lines(cells);
    let mut t = Table::new("clearing", "按医疗机构、支付方、基金类型")
        .col("hospital", "医疗机构", ColType::Text)
        .col("payer", "支付方", ColType::Text)
        .col("payer_label", "支付方名称", ColType::Text)
        .col("fund_code", "基金类型", ColType::Text)
        .col("fund_label", "基金名称", ColType::Text)
        .col("settlements", "笔数", ColType::Int)
        .col("amount", "应拨付金额", ColType::Money)
        .with_totals();
    for l in &lines {
        t.push(vec![
            l.hospital.clone().into(),
            l.payer.clone().into(),
            payer_label(&l.payer).into(),
            l.fund_code.clone().into(),
            fund_label(&l.fund_code).into(),
            l.settlements.into(),
            from_fen(l.amount).into(),
        ]);
    }
    r.tables.push(t);

    let mut by_payer: BTreeMap<(String, String), i64> = BTreeMap::new();
    for l in &lines {
        *by_payer
            .entry((l.payer.clone(), l.fund_code.clone()))
            .or_default() += l.amount;
    }
    let mut p = Table::new("by_payer", "按支付方、基金类型合计")
        .col("payer", "支付方", ColType::Text)
        .col("payer_label", "支付方名称", ColType::Text)
        .col("fund_code", "基金类型", ColType::Text)
        .col("fund_label", "基金名称", ColType::Text)
        .col("amount", "应拨付金额", ColType::Money)
        .with_totals();
    for ((payer, code), a) in &by_payer {
        p.push(vec![
            payer.clone().into(),
            payer_label(payer).into(),
            code.clone().into(),
            fund_label(code).into(),
            from_fen(*a).into(),
        ]);
    }
    r.tables.push(p);

    let mut hospitals: Vec<String> = cells
        .settlements
        .keys()
        .map(|k| k.hospital.clone())
        .collect();
    hospitals.sort();
    hospitals.dedup();
    let mut h = Table::new("by_hospital", "按医疗机构合计")
        .col("hospital", "医疗机构", ColType::Text)
        .col("settlements", "净笔数", ColType::Int)
        .col("total", "医疗总费用", ColType::Money)
        .col("owed", "各基金应拨付合计", ColType::Money)
        .col("hospital_waived", "医院减免(医院承担)", ColType::Money)
        .col("patient_payable", "个人自付(医院已收)", ColType::Money)
        .with_totals();
    for hosp in &hospitals {
        let s = cells.sums(Section::Net, |k: &CellKey| &k.hospital == hosp);
        let owed: i64 = lines
            .iter()
            .filter(|l| &l.hospital == hosp)
            .map(|l| l.amount)
            .sum();
        h.push(vec![
            hosp.clone().into(),
            s.count.into(),
            from_fen(s.get("total")).into(),
            from_fen(owed).into(),
            from_fen(s.get("hospital_waived")).into(),
            from_fen(s.get("patient_payable")).into(),
        ]);
    }
    r.tables.push(h);
    r
}

/// The monthly aid-disbursement report by beneficiary category (seed 004).
/// `persons` is the number of distinct persons settled in the month per
/// category (from the records or a storage query).
pub fn disbursement_report(
    cells: &Cells,
    persons: &BTreeMap<String, i64>,
    labels: &Labels,
) -> Report {
    let month = cells.month.map(|m| m.to_string()).unwrap_or_default();
    let scope = cells.hospital.clone().unwrap_or_else(|| "all".into());
    let mut r = Report::new(
        "disbursement",
        format!("{month} 医疗救助资金发放月报（{scope}）"),
    )
    .param("month", month)
    .param("hospital", scope);
    let mut t = Table::new("by_category", "按救助对象类别")
        .col("category", "救助类别", ColType::Text)
        .col("category_label", "类别名称", ColType::Text)
        .col("persons", "人数", ColType::Int)
        .col("person_times", "人次(净)", ColType::Int)
        .col("total", "医疗总费用", ColType::Money)
        .col("insurance_paid", "医疗保险支付", ColType::Money)
        .col("aid_paid", "医疗救助支付", ColType::Money)
        .col("government_paid", "政府兜底支付", ColType::Money)
        .col("charity_paid", "慈善支付", ColType::Money)
        .col("hospital_waived", "医院减免", ColType::Money)
        .col("patient_payable", "个人自付", ColType::Money);
    let mut cats: Vec<String> = cells
        .settlements
        .keys()
        .map(|k| k.category.clone())
        .collect();
    cats.sort();
    cats.dedup();
    let payer_sum = |cat: &str, payer: &str| -> i64 {
        cells
            .layers
            .iter()
            .filter(|(k, _)| k.cell.category == cat && k.payer == payer)
            .map(|(_, s)| s.paid)
            .sum()
    };
    let mut totals = [0i64; 8];
    let mut total_persons = 0;
    for c in &cats {
        let s = cells.sums(Section::Net, |k: &CellKey| &k.category == c);
        let p = persons.get(c).copied().unwrap_or(0);
        let vals = [
            s.count,
            s.get("total"),
            payer_sum(c, "insurance"),
            payer_sum(c, "aid"),
            payer_sum(c, "government"),
            payer_sum(c, "charity"),
            s.get("hospital_waived"),
            s.get("patient_payable"),
        ];
        for (t, v) in totals.iter_mut().zip(vals) {
            *t += v;
        }
        total_persons += p;
        let mut row: Vec<Value> = vec![
            c.clone().into(),
            labels.category(c).into(),
            p.into(),
            vals[0].into(),
        ];
        row.extend(vals[1..].iter().map(|v| Value::Money(from_fen(*v))));
        t.push(row);
    }
    let mut row: Vec<Value> = vec![
        "*".into(),
        "合计".into(),
        total_persons.into(),
        totals[0].into(),
    ];
    row.extend(totals[1..].iter().map(|v| Value::Money(from_fen(*v))));
    t.push(row);
    r.tables.push(t);
    r
}
