//! Claims (结算申请): the bill a hospital sends at discharge, as JSON or XML,
//! and its checks against the policy in force.
//!
//! Parsing names the failing field (`items[3].amount`) through
//! `serde_path_to_error`; [`resolve`] then binds the claim to a compiled
//! [`Policy`], turning every id into a small integer so that the engine does
//! no string work.

use super::policy::{bit, Mask, Place, Policy, PolicySet};
use crate::money::Amount;
use crate::money::Fraction;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

mod resolve;
#[cfg(test)]
mod tests;
mod xml;

pub use resolve::{
    category_mask, level_index, policy_for, resolve, stated_identity, Identity, ResolvedClaim,
    ResolvedItem,
};
pub use xml::parse_xml;

/// Most line items one claim may carry.
pub const MAX_ITEMS: usize = 10_000;

/// Item class in the drug and service catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ItemClass {
    /// 甲类: wholly in policy.
    A,
    /// 乙类: a self-pay-first share, the rest in policy.
    B,
    /// 丙类 / 自费: wholly out of policy.
    C,
}

impl<'de> Deserialize<'de> for ItemClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "A" | "a" => Ok(ItemClass::A),
            "B" | "b" => Ok(ItemClass::B),
            "C" | "c" => Ok(ItemClass::C),
            other => Err(serde::de::Error::custom(format!(
                "unknown item class {other:?} (expected A, B or C)"
            ))),
        }
    }
}

/// A date written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Day(pub NaiveDate);

impl Day {
    /// Strict ISO date: exactly `YYYY-MM-DD` with a four-digit year (a
    /// two-digit year such as `17-05-01` is refused, not read as year 17).
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return None;
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Day)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Day::parse(s.trim()).ok_or_else(|| {
            serde::de::Error::custom(format!("expected a date YYYY-MM-DD, found {s:?}"))
        })
    }
}

/// A share in [0, 1] read from a claim (an item's `self_pay_ratio`): a
/// decimal string, or a JSON number read from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Share(#[serde(serialize_with = "crate::money::ser_ratio")] pub rust_decimal::Decimal);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = crate::money::NumberText::deserialize(d)?.0;
        let v: rust_decimal::Decimal = text
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("not a number: {text:?}")))?;
        if v < rust_decimal::Decimal::ZERO || v > rust_decimal::Decimal::ONE {
            return Err(serde::de::Error::custom(format!(
                "must lie in [0, 1], found {text}"
            )));
        }
        Ok(Share(v))
    }
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    /// Free text the waivers match (`registration`, `injection`, …).
    #[serde(default)]
    pub kind: String,
    pub class: ItemClass,
    #[serde(serialize_with = "ser_amount")]
    pub amount: Amount,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_amount"
    )]
    pub limit_amount: Option<Amount>,
    /// The platform's `selfpay_prop`: replaces the policy's self-pay-first
    /// share for this item (class A or B only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_pay_ratio: Option<Share>,
}

fn ser_amount<S: serde::Serializer>(a: &Amount, s: S) -> Result<S::Ok, S::Error> {
    crate::money::ser(&a.0, s)
}
fn ser_opt_amount<S: serde::Serializer>(a: &Option<Amount>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => crate::money::ser(&a.0, s),
        None => s.serialize_none(),
    }
}

/// A claim as the hospital sends it. Fields it does not know are refused:
/// a misspelt `limit_amount` or an ignored `referral` would settle wrong
/// amounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub claim_id: String,
    #[serde(default)]
    pub hospital: String,
    /// Trusted only offline; the service uses its hospital directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital_level: Option<String>,
    pub person_id: String,
    /// Trusted only offline; the service uses its registry.
    #[serde(default)]
    pub categories: Vec<String>,
    pub medical_type: String,
    pub admitted_on: Day,
    pub discharged_on: Day,
    #[serde(default)]
    pub diagnoses: Vec<String>,
    pub items: Vec<Item>,
    /// The platform's insurance type (insutype: `390`, `310`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance_type: Option<String>,
    /// Region code of the hospital (trusted only offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital_region: Option<String>,
    /// The person's insured region, 参保地 (trusted only offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insured_region: Option<String>,
    /// `false` when the patient came without the required referral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<bool>,
    /// What funds settled elsewhere paid, by fund code (the platform's
    /// setldetail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fund_payments: Option<std::collections::BTreeMap<String, Amount>>,
}

/// A refused claim: which claim, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimError {
    pub claim_id: Option<String>,
    /// Field path, e.g. `items[3].amount`; empty when the whole document is
    /// unreadable.
    pub path: String,
    pub message: String,
}

impl ClaimError {
    /// The same error, for claim `id`.
    pub fn for_claim(mut self, id: &str) -> Self {
        self.claim_id = Some(id.to_string());
        self
    }

    pub fn new(
        claim_id: Option<&str>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ClaimError {
            claim_id: claim_id.map(str::to_string),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.claim_id {
            write!(f, "claim {id}: ")?;
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ClaimError {}

fn clean_serde_message(msg: &str) -> String {
    // serde_json appends " at line 1 column 42"; the path already says where.
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Parse a claim from JSON text.
pub fn parse_json(text: &str) -> Result<Claim, ClaimError> {
    // Good claims take the fast path; only a refused one is parsed again
    // with path tracking to name its field.
    if let Ok(c) = serde_json::from_str::<Claim>(text) {
        check_shape(&c)?;
        return Ok(c);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, Claim>(de) {
        Ok(c) => {
            check_shape(&c)?;
            Ok(c)
        }
        Err(e) => {
            let claim_id = sniff_claim_id_json(text);
            let path = e.path().to_string();
            let message = clean_serde_message(&e.into_inner().to_string());
            let path = with_unknown_field(if path == "." { "" } else { &path }, &message);
            Err(ClaimError {
                claim_id,
                path,
                message,
            })
        }
    }
}

/// serde names an unknown field in its message, and the path stops at the
/// object holding it: the refusal should name the field itself
/// (`items[3].note`, `remark`).
fn with_unknown_field(path: &str, message: &str) -> String {
    let field = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next());
    match field {
        Some(f) if path.is_empty() => f.to_string(),
        Some(f) if !path.ends_with(f) => format!("{path}.{f}"),
        _ => path.to_string(),
    }
}

/// Best-effort claim id of a document that did not parse.
fn sniff_claim_id_json(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("claim_id")?.as_str().map(str::to_string)
}

/// Longest id (claim, person, hospital) accepted.
pub const MAX_ID_CHARS: usize = 100;

/// An identifier: not empty, at most [`MAX_ID_CHARS`] characters, no
/// control characters (they break XML exports and PostgreSQL text), and
/// not starting with a character a spreadsheet reads as a formula.
fn check_id(id: Option<&str>, field: &str, v: &str, required: bool) -> Result<(), ClaimError> {
    if v.trim().is_empty() {
        if required {
            return Err(ClaimError::new(id, field, "must not be empty"));
        }
        return Ok(());
    }
    if v.chars().count() > MAX_ID_CHARS {
        return Err(ClaimError::new(
            id,
            field,
            format!("longer than {MAX_ID_CHARS} characters"),
        ));
    }
    if let Some(ch) = v.chars().find(|ch| ch.is_control()) {
        return Err(ClaimError::new(
            id,
            field,
            format!(
                "contains the control character U+{:04X}; ids are printable text",
                ch as u32
            ),
        ));
    }
    if v.starts_with(['=', '+', '-', '@']) {
        return Err(ClaimError::new(
            id,
            field,
            "must not start with = + - or @ (a spreadsheet would read it as a formula)",
        ));
    }
    Ok(())
}

/// A 6-digit administrative division code (行政区划代码), when given.
fn check_region(id: Option<&str>, field: &str, v: Option<&str>) -> Result<(), ClaimError> {
    match v {
        Some(r) if r.len() != 6 || !r.bytes().all(|b| b.is_ascii_digit()) => Err(ClaimError::new(
            id,
            field,
            format!("expected a 6-digit region code such as \"411303\", found {r:?}"),
        )),
        _ => Ok(()),
    }
}

/// Checks that need no policy.
fn check_shape(c: &Claim) -> Result<(), ClaimError> {
    let id = Some(c.claim_id.as_str());
    check_id(None, "claim_id", &c.claim_id, true)?;
    check_id(id, "person_id", &c.person_id, true)?;
    check_id(id, "hospital", &c.hospital, false)?;
    check_region(id, "hospital_region", c.hospital_region.as_deref())?;
    check_region(id, "insured_region", c.insured_region.as_deref())?;
    for (i, it) in c.items.iter().enumerate() {
        if it.class == ItemClass::C && it.self_pay_ratio.is_some() {
            return Err(ClaimError::new(
                id,
                format!("items[{i}].self_pay_ratio"),
                "a class C item is wholly self-paid; a self-pay ratio applies to class A or B only",
            ));
        }
    }
    if c.items.is_empty() {
        return Err(ClaimError::new(
            id,
            "items",
            "a claim needs at least one item",
        ));
    }
    if c.items.len() > MAX_ITEMS {
        return Err(ClaimError::new(
            id,
            "items",
            format!("{} items; at most {MAX_ITEMS} are accepted", c.items.len()),
        ));
    }
    if c.discharged_on < c.admitted_on {
        return Err(ClaimError::new(
            id,
            "discharged_on",
            format!(
                "discharge {} is before admission {}",
                c.discharged_on.0, c.admitted_on.0
            ),
        ));
    }
    Ok(())
}
