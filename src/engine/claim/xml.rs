//! Claims as XML (see README "Claims as XML"): the same fields as JSON,
//! lists wrapped in their own elements, read into the JSON claim.

use super::*;

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
