//! Loading policies: the worked example, every error with its path and
//! line, the warnings, the limits of the engine's masks.

use super::*;
use rust_decimal_macros::dec;

pub(crate) const DESIGN_POLICY: &str = include_str!("../../../fixtures/design/policy.toml");

#[test]
fn refuses_more_layers_than_the_engine_can_track() {
    let mut text = DESIGN_POLICY.to_string();
    for i in 0..130 {
        text.push_str(&format!(
            "\n[[layers]]\nid = \"x{i}\"\npayer = \"aid\"\nratio = \"0.1\"\nexclusive = \"t{i}\"\n"
        ));
    }
    let errs = errors_of(&text);
    assert_eq!(errs[0].path, "layers", "{errs:?}");
    assert!(errs[0].message.contains("at most 128"), "{errs:?}");
    // 80 layers fit, but not 80 exclusive tags
    let mut text = DESIGN_POLICY.to_string();
    for i in 0..80 {
        text.push_str(&format!(
            "\n[[layers]]\nid = \"x{i}\"\npayer = \"aid\"\nratio = \"0.1\"\nexclusive = \"t{i}\"\n"
        ));
    }
    let errs = errors_of(&text);
    assert!(errs[0].message.contains("`exclusive` tags"), "{errs:?}");
    // no panic on a multibyte character; the first two bytes agree
    assert_eq!(Place::of(Some("41é303"), Some("411303")), Place::Province);
}

#[test]
fn loads_the_design_example() {
    let p = Policy::from_toml(DESIGN_POLICY, "design").unwrap();
    assert_eq!(p.id, "wolong-2017");
    assert_eq!(p.levels.len(), 3);
    assert_eq!(p.layers.len(), 4);
    assert_eq!(p.self_pay_first_b, dec!(0.10));
    let aid = &p.layers[2];
    // scope defaults to the keys of ratio_by_category
    assert_eq!(aid.categories, Some(0b0111));
    let cap = aid.cap.as_ref().unwrap();
    assert_eq!(cap.amount_for(0), dec!(10000));
    assert_eq!(cap.amount_for(1), dec!(20000));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.hash.len(), 64);
}

fn errors_of(text: &str) -> Vec<PolicyError> {
    Policy::from_toml(text, "t").unwrap_err().errors
}

#[test]
fn reports_every_error_with_path_and_line() {
    let bad = DESIGN_POLICY
        .replace(
            "{ upto = \"100000\", ratio = \"0.60\" }",
            "{ upto = \"40000\", ratio = \"1.60\" }",
        )
        .replace("payer = \"aid\"", "payer = \"nobody\"")
        .replace("county = \"300\",", "");
    let errs = errors_of(&bad);
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"layers[1].bands[1].upto"), "{errs:?}");
    assert!(paths.contains(&"layers[1].bands[1].ratio"), "{errs:?}");
    assert!(paths.contains(&"layers[2].payer"), "{errs:?}");
    assert!(paths.contains(&"layers[0].deductible.amount"), "{errs:?}");
    assert!(errs.iter().all(|e| e.line.is_some()), "{errs:?}");
}

#[test]
fn refuses_undeclared_ids() {
    let bad = DESIGN_POLICY.replace(
        "medical_types = [\"inpatient\"]\nratio_by_category",
        "medical_types = [\"daycare\"]\nratio_by_category",
    );
    let errs = errors_of(&bad);
    assert_eq!(errs[0].path, "layers[2].medical_types[0]");
    assert!(errs[0].message.contains("daycare"));
}

#[test]
fn target_layer_rules() {
    let bad = DESIGN_POLICY.replace(
        "target_ratio = \"0.90\"",
        "target_ratio = \"0.90\"\nratio = \"0.5\"",
    );
    let errs = errors_of(&bad);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "layers[3].ratio");
}

#[test]
fn syntax_errors_have_lines() {
    let errs = errors_of("[policy]\nid = \n");
    assert_eq!(errs[0].line, Some(2));
}

#[test]
fn unknown_keys_warn() {
    let p = Policy::from_toml(
        &DESIGN_POLICY.replace("name = \"县级兜底\"", "name = \"县级兜底\"\nnote = \"x\""),
        "t",
    )
    .unwrap();
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].path, "layers[3].note");
}

#[test]
fn bands_beside_a_ratio_warn_and_a_zero_first_band_is_allowed() {
    let text = DESIGN_POLICY.replace(
        "bands = [ { upto = \"50000\"",
        "ratio = \"0.9\"\nbands = [ { upto = \"0\", ratio = \"0.1\" }, { upto = \"50000\"",
    );
    let p = Policy::from_toml(&text, "t").unwrap();
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert_eq!(p.warnings[0].path, "layers[1].ratio");
    let errs = errors_of(&text.replace(
        "{ upto = \"50000\", ratio = \"0.50\" }",
        "{ upto = \"0\", ratio = \"0.50\" }",
    ));
    assert_eq!(errs[0].path, "layers[1].bands[1].upto");
}

#[test]
fn cap_table_needs_default() {
    let bad = DESIGN_POLICY.replace(
        "{ default = \"10000\", major = \"20000\" }",
        "{ major = \"20000\" }",
    );
    let errs = errors_of(&bad);
    assert_eq!(errs[0].path, "layers[2].cap.amount");
}

#[test]
fn ratio_table_must_cover_scope() {
    let bad = DESIGN_POLICY.replace(
        "ratio = { township = \"0.90\", county = \"0.80\", city = \"0.70\" }",
        "ratio = { township = \"0.90\", county = \"0.80\" }",
    );
    let errs = errors_of(&bad);
    assert_eq!(errs[0].path, "layers[0].ratio");
    assert!(errs[0].message.contains("city"));
}
