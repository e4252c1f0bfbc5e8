//! Claims (结算申请): the bill a hospital sends at discharge, as JSON or XML,
//! and its checks against the policy in force.
//!
//! Parsing names the failing field (`items[3].amount`) through
//! `serde_path_to_error`; [`resolve`] then binds the claim to a compiled
//! [`Policy`], turning every id into a small integer so that the engine does
//! no string work.

use super::policy::{bit, Mask, Policy};
use crate::money::Amount;
use chrono::{Datelike, NaiveDate};
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

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Day)
            .map_err(|_| {
                serde::de::Error::custom(format!("expected a date YYYY-MM-DD, found {s:?}"))
            })
    }
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A claim as the hospital sends it (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            let path = if path == "." { String::new() } else { path };
            Err(ClaimError {
                claim_id,
                path,
                message: clean_serde_message(&e.into_inner().to_string()),
            })
        }
    }
}

/// Best-effort claim id of a document that did not parse.
fn sniff_claim_id_json(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("claim_id")?.as_str().map(str::to_string)
}

// XML: the same fields, lists wrapped (see README "Claims as XML").
#[derive(Deserialize)]
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
}

#[derive(Deserialize, Default)]
struct XmlItems {
    #[serde(default)]
    item: Vec<XmlItem>,
}

/// In XML every leaf is text; amounts are read as strings and checked by
/// the same parser as JSON amounts.
#[derive(Deserialize)]
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
    let mut de = quick_xml::de::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, XmlClaim>(&mut de) {
        Ok(x) => {
            let id = Some(x.claim_id.as_str());
            let mut items = Vec::with_capacity(x.items.item.len());
            for (i, it) in x.items.item.into_iter().enumerate() {
                let amount = crate::money::parse_amount(&it.amount).map_err(|e| {
                    ClaimError::new(id, format!("items[{i}].amount"), e.to_string())
                })?;
                let limit_amount = match it.limit_amount.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(l) => Some(crate::money::parse_amount(l).map_err(|e| {
                        ClaimError::new(id, format!("items[{i}].limit_amount"), e.to_string())
                    })?),
                };
                items.push(Item {
                    code: it.code,
                    name: it.name,
                    kind: it.kind,
                    class: it.class,
                    amount: Amount(amount),
                    limit_amount: limit_amount.map(Amount),
                });
            }
            let c = Claim {
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
            };
            check_shape(&c)?;
            Ok(c)
        }
        Err(e) => {
            let path = e.path().to_string().replace("items.item", "items");
            let path = if path == "." { String::new() } else { path };
            let claim_id = text.find("<claim_id>").and_then(|i| {
                text[i + 10..]
                    .find("</claim_id>")
                    .map(|j| text[i + 10..i + 10 + j].trim().to_string())
            });
            Err(ClaimError {
                claim_id,
                path,
                message: e.into_inner().to_string(),
            })
        }
    }
}

/// Checks that need no policy.
fn check_shape(c: &Claim) -> Result<(), ClaimError> {
    let id = Some(c.claim_id.as_str());
    if c.claim_id.trim().is_empty() {
        return Err(ClaimError::new(None, "claim_id", "must not be empty"));
    }
    if c.claim_id.len() > 100 {
        return Err(ClaimError::new(
            id,
            "claim_id",
            "longer than 100 characters",
        ));
    }
    if c.person_id.trim().is_empty() {
        return Err(ClaimError::new(id, "person_id", "must not be empty"));
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
        })
        .collect();
    Ok(ResolvedClaim {
        medical_type,
        year: c.discharged_on.0.year(),
        groups: policy.groups_of(c.diagnoses.first().map(String::as_str)),
        items,
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

/// Pick the policy in force on the claim's discharge date among several
/// (the first in `policies` that covers it).
pub fn policy_for<'a>(policies: &'a [Policy], c: &Claim) -> Result<&'a Policy, ClaimError> {
    policies
        .iter()
        .find(|p| p.covers(c.discharged_on.0))
        .ok_or_else(|| {
            ClaimError::new(
                Some(&c.claim_id),
                "discharged_on",
                format!("no policy in force on {}", c.discharged_on.0),
            )
        })
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
