//! Reconciliation tests on records built from real engine answers.

use super::check::{check_details, check_totals, detail_list_report, read_totals, Status};
use super::clearing::{clearing_lines, clearing_report, disbursement_report};
use super::ledger::{floor_paid, ledger_report, LedgerKind};
use super::record::{Kind, Month, SettlementRecord};
use super::report::{Format, Value};
use super::statement::{Cells, Labels, Section};
use crate::engine::{book::Book, claim, settle_stated, Policy};
use crate::money::{from_fen, to_fen};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn policy() -> Policy {
    Policy::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/design/policy.toml"
    )))
    .expect("design policy")
}

const CATS: [&[&str]; 5] = [
    &["dibao"],
    &["poverty"],
    &["tekun_centralized"],
    &[],
    &["dibao", "poverty"],
];

/// 40 settlements over two hospitals, two medical types, five category
/// sets, committed in May and June 2017; then 5 reversals: two of May's in
/// May, three of May's in June.
fn records(p: &Policy) -> Vec<SettlementRecord> {
    let mut book = Book::new();
    let mut out = Vec::new();
    for i in 0..40u32 {
        let person = format!("P{:02}", i % 10);
        let cats: Vec<String> = CATS[(i % 10) as usize % 5]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let hospital = if i % 3 == 0 { "H0002" } else { "H0001" };
        let mt = if i % 4 == 3 {
            "outpatient_special"
        } else {
            "inpatient"
        };
        let month = if i < 24 { 5 } else { 6 };
        let day = 1 + (i % 27);
        let dx = if i % 2 == 0 { "C34.9" } else { "I10" };
        let surgery = 1000 + 1777 * i;
        let json = format!(
            r#"{{"claim_id":"{hospital}-C{i:03}","hospital":"{hospital}","hospital_level":"county",
            "person_id":"{person}","categories":{cats:?},"medical_type":"{mt}",
            "admitted_on":"2017-{month:02}-{day:02}","discharged_on":"2017-{month:02}-{day:02}",
            "diagnoses":["{dx}"],"items":[
              {{"code":"1","name":"挂号","kind":"registration","class":"A","amount":"5.00"}},
              {{"code":"2","name":"药","kind":"drug","class":"B","amount":"320.00","limit_amount":"300.00"}},
              {{"code":"3","name":"术","kind":"surgery","class":"A","amount":"{surgery}.37"}},
              {{"code":"4","name":"自费","kind":"drug","class":"C","amount":"88.80"}}]}}"#
        );
        let c = claim::parse_json(&json).expect("claim");
        let year = 2017;
        let accs = book.get(&person, year, p).clone();
        let (answer, comp) = settle_stated(p, &c, &accs).expect("settles");
        book.apply(&person, year, p, comp.layers.iter().map(|l| &l.delta));
        let d = NaiveDate::from_ymd_opt(2017, month, day).unwrap();
        let mut r = SettlementRecord::from_answer(
            &format!("S{i:03}"),
            &answer,
            &cats,
            "county",
            d,
            d,
            &format!("2017-{month:02}-{day:02}T10:00:00.000000+08:00"),
        )
        .unwrap();
        r.primary_diagnosis = Some(dx.into());
        let groups = p.groups_of(Some(dx));
        r.disease_groups = p
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| groups & (1 << i) != 0)
            .map(|(_, g)| g.id.clone())
            .collect();
        out.push(r);
    }
    for (n, (i, when)) in [
        (1, "2017-05-28"),
        (4, "2017-05-29"),
        (2, "2017-06-02"),
        (5, "2017-06-03"),
        (7, "2017-06-30"),
    ]
    .into_iter()
    .enumerate()
    {
        let rev = out[i]
            .reversal(&format!("R{n}"), &format!("{when}T09:00:00+08:00"))
            .unwrap();
        out.push(rev);
    }
    out
}

fn may() -> Month {
    "2017-05".parse().unwrap()
}

#[test]
fn statements_equal_the_sums_of_the_answers() {
    let p = policy();
    let recs = records(&p);
    assert!(
        recs.iter().any(|r| !floor_paid(r).is_zero()),
        "fixture exercises the floor"
    );
    for month in [may(), may().next()] {
        for hospital in [None, Some("H0001"), Some("H0002")] {
            let cells = Cells::from_records(&recs, Some(month), hospital);
            let mine: Vec<&SettlementRecord> = recs
                .iter()
                .filter(|r| r.month == month && hospital.is_none_or(|h| h == r.hospital))
                .collect();
            let originals = mine.iter().filter(|r| r.kind == Kind::Original).count() as i64;
            let reversals = mine.len() as i64 - originals;
            assert_eq!(cells.sums(Section::Original, |_| true).count, originals);
            assert_eq!(cells.sums(Section::Reversal, |_| true).count, reversals);
            let net = cells.sums(Section::Net, |_| true);
            assert_eq!(net.count, originals - reversals);
            let sum =
                |f: fn(&SettlementRecord) -> Decimal| mine.iter().map(|r| f(r)).sum::<Decimal>();
            assert_eq!(from_fen(net.get("total")), sum(|r| r.total));
            assert_eq!(
                from_fen(net.get("hospital_waived")),
                sum(|r| r.hospital_waived)
            );
            assert_eq!(from_fen(net.get("fund_paid")), sum(|r| r.fund_paid));
            assert_eq!(
                from_fen(net.get("patient_payable")),
                sum(|r| r.patient_payable)
            );
            // Conservation holds for the sums.
            assert_eq!(
                net.get("total"),
                net.get("hospital_waived") + net.get("fund_paid") + net.get("patient_payable")
            );
            // Funds add up to fund_paid; each equals the layers' sum.
            let funds = cells.funds(Section::Net, |_| true);
            assert_eq!(funds.values().sum::<i64>(), net.get("fund_paid"));
            for (code, v) in &funds {
                assert_eq!(
                    from_fen(*v),
                    mine.iter().map(|r| r.paid_by_fund(code)).sum::<Decimal>()
                );
            }
            // Splits add up to the whole.
            let report = cells.statement_report(&Labels::from_policies([&p]));
            for (table, key) in [("by_medical_type", "total"), ("by_category", "fund_paid")] {
                let t = report.table(table).unwrap();
                let mut s = Decimal::ZERO;
                for i in 0..t.rows.len() {
                    if t.get(i, "section") == Some(&Value::text("net")) {
                        if let Some(Value::Money(d)) = t.get(i, key) {
                            s += *d;
                        }
                    }
                }
                assert_eq!(to_fen(s), net.get(key), "{table}.{key}");
            }
            // Every format carries the same figure.
            let total = crate::money::fmt2(from_fen(net.get("total")));
            for f in [Format::Json, Format::Csv, Format::Xml] {
                let text = String::from_utf8(report.render(f).unwrap()).unwrap();
                assert!(text.contains(&total), "{f} lacks {total}");
            }
            assert!(report.render(Format::Xlsx).unwrap().starts_with(b"PK"));
            // A stored statement (cells as JSON) gives the same report.
            let again: Cells =
                serde_json::from_str(&serde_json::to_string(&cells).unwrap()).unwrap();
            assert_eq!(again, cells);
        }
    }
}

#[test]
fn a_reversal_of_an_old_settlement_lands_in_its_own_month() {
    let p = policy();
    let recs = records(&p);
    let june = Cells::from_records(&recs, Some(may().next()), None);
    // Three May settlements reversed in June: June's reversal section.
    assert_eq!(june.sums(Section::Reversal, |_| true).count, 3);
    let r2 = recs.iter().find(|r| r.settlement_id == "R2").unwrap();
    assert_eq!(r2.month, may().next());
    assert!(june.sums(Section::Reversal, |_| true).get("total") < 0);
}

/// The month's detail list of H0001 as CSV, as a hospital would send it.
fn our_csv(recs: &[SettlementRecord]) -> (Vec<SettlementRecord>, String) {
    let mine: Vec<SettlementRecord> = recs
        .iter()
        .filter(|r| r.month == may() && r.hospital == "H0001")
        .cloned()
        .collect();
    let rep = detail_list_report(&mine, "2017-05", Some("H0001"));
    let csv = String::from_utf8(rep.render(Format::Csv).unwrap()).unwrap();
    (mine, csv)
}

#[test]
fn a_detail_file_with_three_planted_differences_reports_exactly_those() {
    let p = policy();
    let recs = records(&p);
    let (mine, csv) = our_csv(&recs);
    // Our own list matches itself.
    let c = check_details(&mine, csv.as_bytes(), Some("H0001")).unwrap();
    assert!(c.discrepancies.is_empty(), "{:?}", c.discrepancies);
    assert_eq!(c.matched, mine.len());

    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let header = lines[0].clone();
    let missing = lines.remove(2); // one of ours, dropped
    let missing_claim = missing.split(',').nth(1).unwrap().to_string();
    // One altered: its patient_payable (last column) +1.00.
    let mut f: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    let altered_claim = f[1].clone();
    let last = f.len() - 1;
    let v: Decimal = f[last].parse().unwrap();
    f[last] = crate::money::fmt2(v + Decimal::ONE);
    lines[3] = f.join(",");
    // One extra, unknown to the centre.
    let ncols = header.split(',').count();
    let mut extra = vec![
        "H0001".to_string(),
        "H0001-X999".into(),
        "settlement".into(),
    ];
    while extra.len() < ncols {
        extra.push(if extra.len() >= 9 {
            "1.00".into()
        } else {
            String::new()
        });
    }
    lines.push(extra.join(","));
    let planted = lines.join("\n");
    let c = check_details(&mine, planted.as_bytes(), Some("H0001")).unwrap();
    assert_eq!(c.discrepancies.len(), 3, "{:#?}", c.discrepancies);
    let got: BTreeMap<&str, &str> = c
        .discrepancies
        .iter()
        .map(|(k, _, _, d)| (k.claim_id.as_str(), d.as_str()))
        .collect();
    assert_eq!(got[missing_claim.as_str()], "missing_in_hospital");
    assert_eq!(got["H0001-X999"], "missing_in_centre");
    assert_eq!(got[altered_claim.as_str()], "differs");
    let altered = c
        .discrepancies
        .iter()
        .find(|d| d.0.claim_id == altered_claim)
        .unwrap();
    match &altered.3 {
        super::check::Discrepancy::Differs(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].0, "patient_payable");
            assert_eq!(v[0].2 - v[0].1, Decimal::ONE);
        }
        other => panic!("{other:?}"),
    }
    let rep = super::check::details_report(&c, "2017-05", Some("H0001"));
    assert_eq!(rep.table("discrepancies").unwrap().rows.len(), 3);
    assert_eq!(rep.table("field_differences").unwrap().rows.len(), 1);

    // The same list as XML, national names, reversals as magnitudes.
    let mut xml = String::from("<details>");
    for r in mine.iter().skip(1) {
        let sign = if r.kind == Kind::Reversal {
            -Decimal::ONE
        } else {
            Decimal::ONE
        };
        xml.push_str(&format!(
            "<detail><mdtrt_id>{}</mdtrt_id><refd_setl_flag>{}</refd_setl_flag><medfee_sumamt>{}</medfee_sumamt>",
            r.claim_id,
            if r.kind == Kind::Reversal { 1 } else { 0 },
            r.total * sign
        ));
        for code in ["390100", "390200", "610100", "640100"] {
            xml.push_str(&format!(
                "<fund code=\"{code}\">{}</fund>",
                r.paid_by_fund(code) * sign
            ));
        }
        xml.push_str(&format!(
            "<psn_part_amt>{}</psn_part_amt></detail>",
            r.patient_payable * sign
        ));
    }
    xml.push_str("</details>");
    let c = check_details(&mine, xml.as_bytes(), Some("H0001")).unwrap();
    assert_eq!(c.discrepancies.len(), 1, "{:#?}", c.discrepancies);
    assert_eq!(c.discrepancies[0].0.claim_id, mine[0].claim_id);
}

#[test]
fn totals_check_names_the_fund_that_differs() {
    let p = policy();
    let recs = records(&p);
    let cells = Cells::from_records(&recs, Some(may()), Some("H0001"));
    let funds = cells.funds(Section::Net, |_| true);
    let net = cells.sums(Section::Net, |_| true);
    let mut csv = String::from("fund_code,amount\n");
    for (code, v) in &funds {
        let v = if code == "610100" { v + 1 } else { *v };
        csv.push_str(&format!("{code},{}\n", crate::money::fmt2(from_fen(v))));
    }
    csv.push_str(&format!(
        "medfee_sumamt,{}\n",
        crate::money::fmt2(from_fen(net.get("total")))
    ));
    let theirs = read_totals(csv.as_bytes()).unwrap();
    let lines = check_totals(&cells, &theirs);
    let bad: Vec<_> = lines
        .iter()
        .filter(|l| l.status == Status::Differs)
        .collect();
    assert_eq!(bad.len(), 1, "{lines:#?}");
    assert_eq!(bad[0].item, "610100");
    assert_eq!(bad[0].theirs.unwrap() - bad[0].ours.unwrap(), from_fen(1));
    // What the hospital did not send is said so, not taken as a match.
    assert!(lines
        .iter()
        .any(|l| l.item == "fund_paid" && l.status == Status::NotReported));
    assert!(lines
        .iter()
        .any(|l| l.item == "total" && l.status == Status::Match));
    let r = super::check::totals_report(&cells, &lines);
    assert!(String::from_utf8(r.render(Format::Csv).unwrap())
        .unwrap()
        .contains("610100"));
}

#[test]
fn clearing_and_disbursement_add_up() {
    let p = policy();
    let recs = records(&p);
    let cells = Cells::from_records(&recs, Some(may()), None);
    let lines = clearing_lines(&cells);
    for h in ["H0001", "H0002"] {
        let owed: i64 = lines
            .iter()
            .filter(|l| l.hospital == h)
            .map(|l| l.amount)
            .sum();
        assert_eq!(
            owed,
            cells
                .sums(Section::Net, |k| k.hospital == h)
                .get("fund_paid")
        );
    }
    let rep = clearing_report(&cells);
    assert!(!rep.table("clearing").unwrap().rows.is_empty());
    let labels = Labels::from_policies([&p]);
    let mut persons = BTreeMap::new();
    for r in recs.iter().filter(|r| r.month == may()) {
        persons
            .entry(r.primary_category.clone())
            .or_insert_with(std::collections::BTreeSet::new)
            .insert(r.person_id.clone());
    }
    let persons = persons
        .into_iter()
        .map(|(k, v)| (k, v.len() as i64))
        .collect();
    let d = disbursement_report(&cells, &persons, &labels);
    let t = d.table("by_category").unwrap();
    let last = t.rows.len() - 1;
    let aid: Decimal = recs
        .iter()
        .filter(|r| r.month == may())
        .map(|r| r.paid_by_payer("aid"))
        .sum();
    assert_eq!(t.get(last, "aid_paid"), Some(&Value::Money(aid)));
}

#[test]
fn ledgers_cover_what_they_should() {
    let p = policy();
    let recs = records(&p);
    let labels = Labels::from_policies([&p]);
    let may_recs: Vec<SettlementRecord> =
        recs.iter().filter(|r| r.month == may()).cloned().collect();
    let cells = Cells::from_records(&may_recs, None, None);
    let w = ledger_report(LedgerKind::Waivers, &may_recs, "2017-05", None, &labels);
    let t = w.table("by_person").unwrap();
    assert_eq!(
        t.get(t.rows.len() - 1, "hospital_waived"),
        Some(&Value::Money(from_fen(
            cells.sums(Section::Net, |_| true).get("hospital_waived")
        )))
    );
    let f = ledger_report(LedgerKind::Floor, &may_recs, "2017-05", None, &labels);
    let t = f.table("by_person").unwrap();
    assert_eq!(
        t.get(t.rows.len() - 1, "floor_paid"),
        Some(&Value::Money(from_fen(
            cells
                .funds(Section::Net, |_| true)
                .get("640100")
                .copied()
                .unwrap_or(0)
        )))
    );
    let m = ledger_report(
        LedgerKind::MajorDisease,
        &may_recs,
        "2017-05",
        Some("major"),
        &labels,
    );
    let d = m.table("details").unwrap();
    assert_eq!(
        d.rows.len(),
        may_recs
            .iter()
            .filter(|r| r.primary_diagnosis.as_deref() == Some("C34.9"))
            .count()
    );
}
