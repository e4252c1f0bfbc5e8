//! Parsing and binding claims: the worked example, and refusals that name
//! their field.

use super::*;

const CLAIM: &str = include_str!("../../../fixtures/design/claim.json");

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
