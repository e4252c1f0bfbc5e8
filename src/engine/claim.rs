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

// XML: the same fields, lists wrapped (see README "Claims as XML").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlClaim {
    claim_id: String,
    #[serde(default)]
    hospital: String,
    #[serde(default)]
    hospital_level: Option<String>,
    person_id: String,
    #[serde(default)]
    categories: XmlList<String, CategoryTag>,
    medical_type: String,
    admitted_on: Day,
    discharged_on: Day,
    #[serde(default)]
    diagnoses: XmlList<String, DiagnosisTag>,
    items: XmlItems,
    #[serde(default)]
    insurance_type: Option<String>,
    #[serde(default)]
    hospital_region: Option<String>,
    #[serde(default)]
    insured_region: Option<String>,
    #[serde(default)]
    referral: Option<String>,
    #[serde(default)]
    fund_payments: Option<XmlFundPayments>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct XmlItems {
    #[serde(default)]
    item: Vec<XmlItem>,
}

/// `<fund_payments><fund_payment><fund_code>390100</fund_code>
/// <amount>16575.00</amount></fund_payment>…</fund_payments>`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct XmlFundPayments {
    #[serde(default)]
    fund_payment: Vec<XmlFundPayment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlFundPayment {
    fund_code: String,
    amount: String,
}

/// In XML every leaf is text; amounts are read as strings and checked by
/// the same parser as JSON amounts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    class: ItemClass,
    amount: String,
    #[serde(default)]
    limit_amount: Option<String>,
    #[serde(default)]
    self_pay_ratio: Option<String>,
}

/// `<categories><category>dibao</category></categories>` and the like.
struct XmlList<T, Tag>(Vec<T>, std::marker::PhantomData<Tag>);
impl<T, Tag> Default for XmlList<T, Tag> {
    fn default() -> Self {
        XmlList(Vec::new(), std::marker::PhantomData)
    }
}
trait TagName {
    const NAME: &'static str;
}
struct CategoryTag;
impl TagName for CategoryTag {
    const NAME: &'static str = "category";
}
struct DiagnosisTag;
impl TagName for DiagnosisTag {
    const NAME: &'static str = "diagnosis";
}
impl<'de, T: Deserialize<'de>, Tag: TagName> Deserialize<'de> for XmlList<T, Tag> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map: std::collections::BTreeMap<String, Vec<T>> =
            Option::deserialize(d)?.unwrap_or_default();
        let mut out = Vec::new();
        for (k, v) in map {
            if k != Tag::NAME && k != "$text" {
                return Err(serde::de::Error::custom(format!(
                    "expected <{}> elements, found <{k}>",
                    Tag::NAME
                )));
            }
            out.extend(v);
        }
        Ok(XmlList(out, std::marker::PhantomData))
    }
}

/// Parse a claim from XML text (root element `<claim>`).
pub fn parse_xml(text: &str) -> Result<Claim, ClaimError> {
    // quick-xml's deserializer panics on a comment, processing instruction
    // or DOCTYPE inside a text node (found by fuzzing): such a document is
    // refused, not a crash.
    let read = std::panic::catch_unwind(|| {
        let mut de = quick_xml::de::Deserializer::from_str(text);
        serde_path_to_error::deserialize::<_, XmlClaim>(&mut de)
    });
    let Ok(read) = read else {
        return Err(ClaimError::new(
            None,
            "",
            "unreadable XML (comments, processing instructions and DOCTYPE are not accepted inside a claim)",
        ));
    };
    match read {
        Ok(x) => {
            let c = claim_of_xml(x)?;
            check_shape(&c)?;
            Ok(c)
        }
        Err(e) => {
            let path = e.path().to_string().replace("items.item", "items");
            let message = e.into_inner().to_string();
            let path = with_unknown_field(if path == "." { "" } else { &path }, &message);
            let claim_id = text.find("<claim_id>").and_then(|i| {
                text[i + 10..]
                    .find("</claim_id>")
                    .map(|j| text[i + 10..i + 10 + j].trim().to_string())
            });
            Err(ClaimError {
                claim_id,
                path,
                message,
            })
        }
    }
}

fn xml_amount(id: Option<&str>, path: String, text: &str) -> Result<Amount, ClaimError> {
    crate::money::parse_amount(text)
        .map(Amount)
        .map_err(|e| ClaimError::new(id, path, e.to_string()))
}

fn xml_item(id: Option<&str>, i: usize, it: XmlItem) -> Result<Item, ClaimError> {
    let amount = xml_amount(id, format!("items[{i}].amount"), &it.amount)?;
    let limit_amount = match it.limit_amount.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(l) => Some(xml_amount(id, format!("items[{i}].limit_amount"), l)?),
    };
    let self_pay_ratio = match it.self_pay_ratio.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(
            Share::deserialize(
                serde::de::value::StrDeserializer::<serde::de::value::Error>::new(r),
            )
            .map_err(|e| {
                ClaimError::new(id, format!("items[{i}].self_pay_ratio"), e.to_string())
            })?,
        ),
    };
    Ok(Item {
        code: it.code,
        name: it.name,
        kind: it.kind,
        class: it.class,
        amount,
        limit_amount,
        self_pay_ratio,
    })
}

fn claim_of_xml(x: XmlClaim) -> Result<Claim, ClaimError> {
    let id = Some(x.claim_id.as_str());
    let mut items = Vec::with_capacity(x.items.item.len());
    for (i, it) in x.items.item.into_iter().enumerate() {
        items.push(xml_item(id, i, it)?);
    }
    let referral = match x.referral.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(o) => {
            return Err(ClaimError::new(
                id,
                "referral",
                format!("expected true or false, found {o:?}"),
            ))
        }
    };
    let fund_payments = match x.fund_payments {
        None => None,
        Some(f) => {
            let mut m = std::collections::BTreeMap::new();
            for (i, p) in f.fund_payment.into_iter().enumerate() {
                let a = xml_amount(id, format!("fund_payments[{i}].amount"), &p.amount)?;
                if m.insert(p.fund_code.trim().to_string(), a).is_some() {
                    return Err(ClaimError::new(
                        id,
                        format!("fund_payments[{i}].fund_code"),
                        format!("fund code {} is given twice", p.fund_code.trim()),
                    ));
                }
            }
            Some(m)
        }
    };
    Ok(Claim {
        claim_id: x.claim_id,
        hospital: x.hospital,
        hospital_level: x.hospital_level,
        person_id: x.person_id,
        categories: x.categories.0,
        medical_type: x.medical_type,
        admitted_on: x.admitted_on,
        discharged_on: x.discharged_on,
        diagnoses: x.diagnoses.0,
        items,
        insurance_type: x.insurance_type,
        hospital_region: x.hospital_region,
        insured_region: x.insured_region,
        referral,
        fund_payments,
    })
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

/// One item bound to a policy: only what the arithmetic needs. Amounts are
/// whole fen (claims carry at most two decimals, so this is exact); the
/// engine sums items in integers and returns decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedItem {
    pub class: ItemClass,
    pub amount_fen: i64,
    pub limit_fen: Option<i64>,
    /// `kind` is one of the waivers' free items.
    pub free_kind: bool,
    /// The item's own self-pay share (`self_pay_ratio`), replacing the
    /// policy's class-B share.
    pub self_pay: Option<(Fraction, Decimal)>,
}

/// The person and place a claim is settled for (身份): from the claim
/// offline, from the registry and hospital directory in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub categories: Mask,
    pub level: usize,
}

/// A claim bound to a policy, every id an integer.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedClaim {
    pub medical_type: usize,
    pub year: i32,
    /// Disease groups the primary diagnosis matches.
    pub groups: Mask,
    pub items: Vec<ResolvedItem>,
    /// Index of the claim's insurance type among the policy's, if any.
    pub insurance_type: Option<usize>,
    /// Where the care happened relative to the insured region.
    pub place: Place,
    /// `false` when the patient came without the required referral.
    pub referred: bool,
    /// What funds settled elsewhere paid, by fund code.
    pub fund_payments: Option<Vec<(String, Decimal)>>,
}

/// Bind a claim to `policy`. Refuses undeclared medical types and a
/// discharge date the policy does not cover.
pub fn resolve(policy: &Policy, c: &Claim) -> Result<ResolvedClaim, ClaimError> {
    let id = Some(c.claim_id.as_str());
    if !policy.covers(c.discharged_on.0) {
        return Err(ClaimError::new(
            id,
            "discharged_on",
            format!(
                "no policy in force on {} (policy {} covers {} to {})",
                c.discharged_on.0, policy.id, policy.effective_from, policy.effective_to
            ),
        ));
    }
    let medical_type = policy.medical_type_index(&c.medical_type).ok_or_else(|| {
        ClaimError::new(
            id,
            "medical_type",
            format!(
                "unknown medical type {:?} (policy {} declares {})",
                c.medical_type,
                policy.id,
                list_ids(&policy.medical_types)
            ),
        )
    })?;
    let items = c
        .items
        .iter()
        .map(|it| ResolvedItem {
            class: it.class,
            amount_fen: crate::money::to_fen(it.amount.0),
            limit_fen: it.limit_amount.map(|a| crate::money::to_fen(a.0)),
            free_kind: policy.is_free_item_kind(&it.kind),
            self_pay: it.self_pay_ratio.map(|s| (Fraction::new(s.0), s.0)),
        })
        .collect();
    let insurance_type = match c.insurance_type.as_deref() {
        None => None,
        Some(t) => Some(policy.insurance_type_index(t.trim()).ok_or_else(|| {
            ClaimError::new(
                id,
                "insurance_type",
                format!(
                    "unknown insurance type {t:?} (policy {} declares {})",
                    policy.id,
                    if policy.insurance_types.is_empty() {
                        "none".to_string()
                    } else {
                        list_ids(&policy.insurance_types)
                    }
                ),
            )
        })?),
    };
    Ok(ResolvedClaim {
        medical_type,
        year: c.discharged_on.0.year(),
        groups: policy.groups_of(c.diagnoses.first().map(String::as_str)),
        items,
        insurance_type,
        place: Place::of(c.hospital_region.as_deref(), c.insured_region.as_deref()),
        referred: c.referral.unwrap_or(true),
        fund_payments: c
            .fund_payments
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.0)).collect()),
    })
}

/// The identity a claim states for itself (offline use only).
pub fn stated_identity(policy: &Policy, c: &Claim) -> Result<Identity, ClaimError> {
    let id = Some(c.claim_id.as_str());
    let level_id = c.hospital_level.as_deref().ok_or_else(|| {
        ClaimError::new(
            id,
            "hospital_level",
            "is required offline (the service takes it from its hospital directory)",
        )
    })?;
    let level = level_index(policy, c, level_id, "hospital_level")?;
    let categories = category_mask(policy, c, &c.categories, "categories")?;
    Ok(Identity { categories, level })
}

/// A level id → index, or an error naming `field`.
pub fn level_index(
    policy: &Policy,
    c: &Claim,
    level_id: &str,
    field: &str,
) -> Result<usize, ClaimError> {
    policy.level_index(level_id).ok_or_else(|| {
        ClaimError::new(
            Some(&c.claim_id),
            field,
            format!(
                "unknown hospital level {level_id:?} (policy {} declares {})",
                policy.id,
                list_ids(&policy.levels)
            ),
        )
    })
}

/// Category ids → mask, or an error naming `field[i]`.
pub fn category_mask(
    policy: &Policy,
    c: &Claim,
    ids: &[String],
    field: &str,
) -> Result<Mask, ClaimError> {
    let mut m = 0;
    for (i, cat) in ids.iter().enumerate() {
        match policy.category_index(cat) {
            Some(ix) => m |= bit(ix),
            None => {
                return Err(ClaimError::new(
                    Some(&c.claim_id),
                    format!("{field}[{i}]"),
                    format!(
                        "unknown category {cat:?} (policy {} declares {})",
                        policy.id,
                        list_ids(&policy.categories)
                    ),
                ))
            }
        }
    }
    Ok(m)
}

fn list_ids(l: &[(String, String)]) -> String {
    l.iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The claim's policy among `set`: in force on its discharge date, for its
/// insured region (else its hospital's region).
pub fn policy_for<'a>(set: &'a PolicySet, c: &Claim) -> Result<&'a Policy, ClaimError> {
    set.choose(
        c.discharged_on.0,
        c.insured_region.as_deref(),
        c.hospital_region.as_deref(),
    )
    .map_err(|e| ClaimError::new(Some(&c.claim_id), e.field, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIM: &str = include_str!("../../fixtures/design/claim.json");

    #[test]
    fn parses_the_design_claim() {
        let c = parse_json(CLAIM).unwrap();
        assert_eq!(c.items.len(), 2);
        assert_eq!(
            c.items[1].limit_amount.unwrap().0,
            rust_decimal_macros::dec!(300.00)
        );
    }

    fn err_of(text: &str) -> ClaimError {
        parse_json(text).unwrap_err()
    }

    #[test]
    fn names_the_bad_field() {
        let e = err_of(&CLAIM.replace("\"320.00\"", "\"-320.00\""));
        assert_eq!(e.path, "items[1].amount");
        assert_eq!(e.claim_id.as_deref(), Some("H0001-20170510-0001"));
        assert!(e.message.contains("negative"), "{e}");
        let e = err_of(&CLAIM.replace("\"320.00\"", "\"320.001\""));
        assert_eq!(e.path, "items[1].amount");
        assert!(e.message.contains("two decimals"), "{e}");
        let e = err_of(&CLAIM.replace("\"320.00\"", "\"abc\""));
        assert!(e.message.contains("not a number"), "{e}");
        let e = err_of(&CLAIM.replace("\"class\": \"B\"", "\"class\": \"D\""));
        assert_eq!(e.path, "items[1].class");
        let e = err_of(&CLAIM.replace("2017-05-01", "2017-05-11"));
        assert_eq!(e.path, "discharged_on");
        let e = err_of(&CLAIM.replace("2017-05-01", "2017-13-01"));
        assert_eq!(e.path, "admitted_on");
        let e = err_of(
            r#"{"claim_id":"x","person_id":"p","medical_type":"inpatient","admitted_on":"2017-01-01","discharged_on":"2017-01-01","items":[]}"#,
        );
        assert_eq!(e.path, "items");
        let e = err_of("{not json");
        assert_eq!(e.claim_id, None);
    }

    #[test]
    fn refuses_more_than_ten_thousand_items() {
        let item = r#"{"kind":"x","class":"A","amount":"1.00"}"#;
        let items = vec![item; MAX_ITEMS + 1].join(",");
        let text = format!(
            r#"{{"claim_id":"big","person_id":"p","medical_type":"inpatient","admitted_on":"2017-01-01","discharged_on":"2017-01-01","items":[{items}]}}"#
        );
        let e = parse_json(&text).unwrap_err();
        assert_eq!(e.path, "items");
        assert!(e.message.contains("at most 10000"), "{e}");
        let ok = text.replacen(&format!("{item},"), "", 1);
        assert_eq!(parse_json(&ok).unwrap().items.len(), MAX_ITEMS);
    }

    #[test]
    fn parses_xml() {
        let xml = r#"<claim>
  <claim_id>X1</claim_id><hospital>H0001</hospital><hospital_level>county</hospital_level>
  <person_id>P1</person_id>
  <categories><category>dibao</category><category>poverty</category></categories>
  <medical_type>inpatient</medical_type>
  <admitted_on>2017-05-01</admitted_on><discharged_on>2017-05-10</discharged_on>
  <diagnoses><diagnosis>C34.9</diagnosis></diagnoses>
  <items>
    <item><code>1</code><name>挂号费</name><kind>registration</kind><class>A</class><amount>5.00</amount></item>
    <item><code>2</code><kind>drug</kind><class>B</class><amount>320.00</amount><limit_amount>300.00</limit_amount></item>
  </items>
</claim>"#;
        let c = parse_xml(xml).unwrap();
        assert_eq!(c.categories, vec!["dibao", "poverty"]);
        assert_eq!(c.diagnoses, vec!["C34.9"]);
        assert_eq!(c.items.len(), 2);
        assert_eq!(
            c.items[1].limit_amount.unwrap().0,
            rust_decimal_macros::dec!(300)
        );
        let e = parse_xml(&xml.replace("<amount>320.00", "<amount>-1")).unwrap_err();
        assert_eq!(e.claim_id.as_deref(), Some("X1"));
        assert!(e.path.contains("amount"), "{e:?}");
    }
}
