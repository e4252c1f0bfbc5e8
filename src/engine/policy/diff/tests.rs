//! `policy diff` on the fixtures.

use super::*;

const P2017: &str = include_str!("../../../../fixtures/policies/wolong-2017.toml");
const P2023: &str = include_str!("../../../../fixtures/policies/wolong-2023.toml");

fn load(t: &str) -> Policy {
    Policy::from_toml(t, "t").unwrap()
}

#[test]
fn a_policy_does_not_differ_from_itself() {
    for t in [
        P2017,
        P2023,
        include_str!("../../../../fixtures/design/policy.toml"),
        include_str!("../../../../fixtures/policies/county-2024.toml"),
    ] {
        let p = load(t);
        assert!(diff(&p, &p).is_empty(), "{:?}", diff(&p, &p));
    }
}

#[test]
fn spelling_is_not_a_difference() {
    let a = load(P2017);
    let b = load(
        &P2017
            .replace("ratio = \"0.65\"", "ratio = 0.650")
            .replace("# seed 002", "# changed comment"),
    );
    assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
}

#[test]
fn names_the_aid_ratio_change_as_an_administrator_reads_it() {
    let a = load(P2017);
    let b = load(&P2017.replace("dibao = \"0.70\" }", "dibao = \"0.75\" }"));
    let d = diff(&a, &b);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].text, "民政医疗救助（住院） 低保对象 比例 70% → 75%");
    assert_eq!(d[0].path, "layers.aid.ratio_by_category.dibao");
    assert_eq!(d[0].before.as_deref(), Some("70%"));
}

#[test]
fn compares_by_id_across_reordered_declarations() {
    let a = load(P2017);
    // Declare the categories in another order: indices shift, ids do not.
    let b = load(&P2017.replace(
        "tekun_centralized = \"特困供养（集中）\"\ntekun_dispersed = \"特困供养（分散）\"\ndibao = \"低保对象\"",
        "dibao = \"低保对象\"\ntekun_dispersed = \"特困供养（分散）\"\ntekun_centralized = \"特困供养（集中）\"",
    ));
    assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
}

#[test]
fn lists_every_kind_of_change() {
    let a = load(P2017);
    let b = load(P2023);
    let d = diff(&a, &b);
    let texts: Vec<&str> = d.iter().map(|c| c.text.as_str()).collect();
    let has = |s: &str| texts.iter().any(|t| t.contains(s));
    assert!(
        has("执行期 2017-01-01 至 2017-12-31 → 2023-01-01 至 2023-12-31"),
        "{texts:#?}"
    );
    assert!(has("新增医院级别 province（省级医院）"), "{texts:#?}");
    assert!(has("删除救助对象类别 poverty"), "{texts:#?}");
    assert!(has("新增支付层 supplementary"), "{texts:#?}");
    assert!(has("删除支付层 aid_outpatient"), "{texts:#?}");
    assert!(
        has("城乡居民基本医疗保险 县级医院 比例 80% → 85%"),
        "{texts:#?}"
    );
    assert!(
        has("城乡居民基本医疗保险 县级医院 起付线 300 元 → 500 元"),
        "{texts:#?}"
    );
    assert!(has("大病保险 起付线 15000 元 → 12000 元"), "{texts:#?}");
    assert!(
        has("大病保险 分段第1段（0–50000 元） 比例 50% → 60%"),
        "{texts:#?}"
    );
    assert!(has("封顶线 10000 元 → 60000 元"), "{texts:#?}");
    assert!(has("病种组 重大疾病 ICD-10 前缀"), "{texts:#?}");
    assert!(has("七免一减 减免的医院级别"), "{texts:#?}");
    // every change has a path and differing values
    for c in &d {
        assert!(!c.path.is_empty());
        assert_ne!(c.before, c.after, "{c:?}");
    }
}
