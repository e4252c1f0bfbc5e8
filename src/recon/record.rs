//! What reconciliation works on: one committed settlement or reversal
//! (冲红), as the service stores it, with its per-layer shares. Plain data:
//! the storage layer loads these rows, the tests build them from engine
//! answers.

use crate::engine::Answer;
use crate::money::{from_fen, to_fen};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A settlement (结算) or the reversal (冲红) of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Stored as `settlement`.
    #[serde(rename = "settlement")]
    Original,
    Reversal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Original => "settlement",
            Kind::Reversal => "reversal",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Kind::Original => "结算",
            Kind::Reversal => "冲红",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "settlement" | "settled" | "original" | "normal" | "0" | "" => Some(Kind::Original),
            "reversal" | "cancel" | "cancelled" | "1" => Some(Kind::Reversal),
            _ => None,
        }
    }
}

/// An accounting month (会计期间), `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Month { year, month })
    }
    pub fn of_date(d: NaiveDate) -> Month {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or_default()
    }
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Month, String> {
        let t = s.trim();
        let bad = || format!("not a month {s:?} (expected YYYY-MM)");
        let (y, m) = t.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let y: i32 = y.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        Month::new(y, m).ok_or_else(bad)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// China Standard Time, the time zone of accounting months.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The accounting month of a commit timestamp (RFC 3339): the month it
/// falls in, in China time. A settlement and a reversal each belong to the
/// month they were committed, whatever the original's month.
pub fn accounting_month(committed_at: &str) -> Result<Month, String> {
    let t = committed_at.trim();
    // Fast path: the service writes +08:00 timestamps.
    if t.len() >= 7 && t.ends_with("+08:00") {
        if let Ok(m) = t[..7].parse() {
            return Ok(m);
        }
    }
    let dt = DateTime::parse_from_rfc3339(t)
        .map_err(|e| format!("bad timestamp {committed_at:?}: {e}"))?;
    Ok(Month::of_date(dt.with_timezone(&china()).date_naive()))
}

/// One layer's share of a settlement. `deductible`, `eligible` and `paid`
/// are what the settlement added to the person's accumulator (negated on a
/// reversal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub layer_id: String,
    /// The layer's name when known (from the policy), else empty.
    #[serde(default)]
    pub layer_name: String,
    pub payer: String,
    pub fund_code: String,
    pub applied: bool,
    pub base: Decimal,
    pub deductible: Decimal,
    pub eligible: Decimal,
    pub paid: Decimal,
}

/// A committed settlement or reversal, as reconciliation sees it. Every
/// amount is negated on a reversal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub settlement_id: String,
    pub kind: Kind,
    /// For a reversal: the settlement it reverses.
    pub reverses: Option<String>,
    pub hospital: String,
    pub person_id: String,
    /// From the registry, when known.
    pub person_name: Option<String>,
    /// Registry categories the settlement was computed with (policy order).
    pub categories: Vec<String>,
    /// The first of them, `""` for none: what statements split by.
    pub primary_category: String,
    pub medical_type: String,
    pub level: String,
    pub claim_id: String,
    pub admitted_on: NaiveDate,
    pub discharged_on: NaiveDate,
    /// RFC 3339, China time.
    pub committed_at: String,
    /// The accounting month ([`accounting_month`] of `committed_at`).
    pub month: Month,
    pub policy_id: String,
    /// `diagnoses[0]` of the claim, when loaded.
    pub primary_diagnosis: Option<String>,
    /// The policy's disease groups the primary diagnosis matches.
    pub disease_groups: Vec<String>,
    pub total: Decimal,
    pub free_items: Decimal,
    pub reduction: Decimal,
    pub hospital_waived: Decimal,
    pub over_limit: Decimal,
    pub self_pay_first: Decimal,
    pub fully_self_pay: Decimal,
    pub in_policy: Decimal,
    pub fund_paid: Decimal,
    pub patient_payable: Decimal,
    pub layers: Vec<LayerRecord>,
}

/// The fund code hospital waivers report under (医院减免).
pub const FUND_HOSPITAL: &str = "630100";

/// The label of a fund code (the platform's fund types).
pub fn fund_label(code: &str) -> &'static str {
    match code {
        "390100" => "居民基本医保",
        "390200" => "居民大病保险",
        "390300" => "大病补充",
        "610100" => "医疗救助",
        "640100" => "政府兜底",
        "630100" => "医院减免",
        "999997" => "其他",
        _ => "",
    }
}

/// The label of a payer.
pub fn payer_label(payer: &str) -> &'static str {
    match payer {
        "insurance" => "医疗保险",
        "aid" => "医疗救助",
        "government" => "政府兜底",
        "charity" => "慈善",
        "hospital" => "医院减免",
        _ => "",
    }
}

impl SettlementRecord {
    /// A record from an engine answer: how tests and offline tools build
    /// records without a database.
    #[allow(clippy::too_many_arguments)]
    pub fn from_answer(
        settlement_id: &str,
        answer: &Answer,
        categories: &[String],
        level: &str,
        admitted_on: NaiveDate,
        discharged_on: NaiveDate,
        committed_at: &str,
    ) -> Result<SettlementRecord, String> {
        Ok(SettlementRecord {
            settlement_id: settlement_id.into(),
            kind: Kind::Original,
            reverses: None,
            hospital: answer.hospital.clone(),
            person_id: answer.person_id.clone(),
            person_name: None,
            categories: categories.to_vec(),
            primary_category: categories.first().cloned().unwrap_or_default(),
            medical_type: answer.medical_type.clone(),
            level: level.into(),
            claim_id: answer.claim_id.clone(),
            admitted_on,
            discharged_on,
            committed_at: committed_at.into(),
            month: accounting_month(committed_at)?,
            policy_id: answer.policy_id.clone(),
            primary_diagnosis: None,
            disease_groups: Vec::new(),
            total: answer.total,
            free_items: answer.free_items,
            reduction: answer.reduction,
            hospital_waived: answer.hospital_waived,
            over_limit: answer.over_limit,
            self_pay_first: answer.self_pay_first,
            fully_self_pay: answer.fully_self_pay,
            in_policy: answer.in_policy,
            fund_paid: answer.fund_paid,
            patient_payable: answer.patient_payable,
            layers: answer
                .layers
                .iter()
                .map(|l| LayerRecord {
                    layer_id: l.id.clone(),
                    layer_name: l.name.clone(),
                    payer: l.payer.clone(),
                    fund_code: l.fund_code.clone(),
                    applied: l.applied,
                    base: l.base,
                    deductible: l.deductible,
                    eligible: l.eligible,
                    paid: l.paid,
                })
                .collect(),
        })
    }

    /// The reversal (冲红) of this settlement, committed at `committed_at`:
    /// every amount negated, linked to the original.
    pub fn reversal(&self, id: &str, committed_at: &str) -> Result<SettlementRecord, String> {
        let mut r = self.clone();
        r.settlement_id = id.into();
        r.kind = Kind::Reversal;
        r.reverses = Some(self.settlement_id.clone());
        r.committed_at = committed_at.into();
        r.month = accounting_month(committed_at)?;
        for a in r.amounts_mut() {
            *a = -*a;
        }
        for l in &mut r.layers {
            l.base = -l.base;
            l.deductible = -l.deductible;
            l.eligible = -l.eligible;
            l.paid = -l.paid;
        }
        Ok(r)
    }

    fn amounts_mut(&mut self) -> [&mut Decimal; 10] {
        [
            &mut self.total,
            &mut self.free_items,
            &mut self.reduction,
            &mut self.hospital_waived,
            &mut self.over_limit,
            &mut self.self_pay_first,
            &mut self.fully_self_pay,
            &mut self.in_policy,
            &mut self.fund_paid,
            &mut self.patient_payable,
        ]
    }

    /// The amounts of §5 in fen, in [`AMOUNT_KEYS`] order.
    pub fn amounts_fen(&self) -> [i64; 10] {
        [
            to_fen(self.total),
            to_fen(self.free_items),
            to_fen(self.reduction),
            to_fen(self.hospital_waived),
            to_fen(self.over_limit),
            to_fen(self.self_pay_first),
            to_fen(self.fully_self_pay),
            to_fen(self.in_policy),
            to_fen(self.fund_paid),
            to_fen(self.patient_payable),
        ]
    }

    /// What the funds with `fund_code` paid on this settlement.
    pub fn paid_by_fund(&self, fund_code: &str) -> Decimal {
        if fund_code == FUND_HOSPITAL {
            return self.hospital_waived;
        }
        self.layers
            .iter()
            .filter(|l| l.fund_code == fund_code)
            .map(|l| l.paid)
            .sum()
    }

    /// What `payer` paid on this settlement.
    pub fn paid_by_payer(&self, payer: &str) -> Decimal {
        self.layers
            .iter()
            .filter(|l| l.payer == payer)
            .map(|l| l.paid)
            .sum()
    }

    /// Reimbursement ratio of this row: (total − patient) / total.
    pub fn reimbursement_ratio(&self) -> Decimal {
        if self.total.is_zero() {
            Decimal::ZERO
        } else {
            crate::money::round4((self.total - self.patient_payable) / self.total)
        }
    }
}

/// The amounts of a settlement, in the order of [`SettlementRecord::amounts_fen`]:
/// (key, label).
pub use crate::engine::amounts::FIELDS as AMOUNT_KEYS;

/// Sum a fen array into decimals.
pub fn fen_to_decimals<const N: usize>(a: &[i64; N]) -> [Decimal; N] {
    let mut out = [Decimal::ZERO; N];
    for (o, f) in out.iter_mut().zip(a) {
        *o = from_fen(*f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        assert_eq!(
            accounting_month("2024-05-31T23:59:59.000000+08:00").unwrap(),
            Month::new(2024, 5).unwrap()
        );
        // 16:30 UTC on 31 May is 00:30 on 1 June in China.
        assert_eq!(
            accounting_month("2024-05-31T16:30:00Z").unwrap(),
            Month::new(2024, 6).unwrap()
        );
        let m: Month = "2024-12".parse().unwrap();
        assert_eq!(m.next().to_string(), "2025-01");
        assert_eq!(m.last_day().to_string(), "2024-12-31");
        assert!("2024-13".parse::<Month>().is_err());
        assert!("2024-5".parse::<Month>().is_err());
    }
}
