//! Roster matching (信息比对): compare two rosters — say the civil-affairs
//! roster of 低保/特困 and the poverty-registration roster (建档立卡) — and
//! report who is in both, in only one, or in both with conflicting
//! categories or periods (seeds 001, 003 and part five of 002: 互查互对,
//! 按季度进行比对, 重合率).
//!
//! A roster is the registry's CSV: `person_id,name,category,valid_from,valid_to`,
//! one row per category period (`valid_to` empty = open).

use super::report::{ColType, Report, Table, Value};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// One category period of a person.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub category: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl Period {
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.valid_from <= d && self.valid_to.is_none_or(|t| d <= t)
    }
    fn text(&self) -> String {
        format!(
            "{}:{}~{}",
            self.category,
            self.valid_from,
            self.valid_to.map(|d| d.to_string()).unwrap_or_default()
        )
    }
}

/// A person on a roster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub periods: Vec<Period>,
}

impl Entry {
    pub fn categories(&self) -> BTreeSet<String> {
        self.periods.iter().map(|p| p.category.clone()).collect()
    }
}

/// A roster: person id → entry.
pub type Roster = BTreeMap<String, Entry>;

/// Read a roster CSV. Errors name the line.
pub fn read_roster(bytes: &[u8]) -> Result<Roster, String> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("header: {e}"))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (pid, name, cat, from, to) = (
        col("person_id").ok_or("no person_id column")?,
        col("name"),
        col("category"),
        col("valid_from"),
        col("valid_to"),
    );
    let date = |s: &str, line: usize, what: &str| -> Result<Option<NaiveDate>, String> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("line {line}: {what} {s:?} is not a date (YYYY-MM-DD)"))
    };
    let mut out = Roster::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("line {line}: {e}"))?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim().to_string();
        let id = get(Some(pid));
        if id.is_empty() {
            return Err(format!("line {line}: empty person_id"));
        }
        let e = out.entry(id).or_default();
        let n = get(name);
        if e.name.is_empty() {
            e.name = n;
        }
        let category = get(cat);
        let valid_from = date(&get(from), line, "valid_from")?.unwrap_or(NaiveDate::MIN);
        let valid_to = date(&get(to), line, "valid_to")?;
        if !category.is_empty() {
            e.periods.push(Period {
                category,
                valid_from,
                valid_to,
            });
        }
    }
    for e in out.values_mut() {
        e.periods.sort();
        e.periods.dedup();
    }
    Ok(out)
}

/// Keep only the periods that cover `on` (a person with none left, who had
/// some, is dropped).
pub fn as_of(r: &Roster, on: NaiveDate) -> Roster {
    r.iter()
        .filter_map(|(id, e)| {
            let periods: Vec<Period> = e.periods.iter().filter(|p| p.covers(on)).cloned().collect();
            (!periods.is_empty() || e.periods.is_empty()).then(|| {
                (
                    id.clone(),
                    Entry {
                        name: e.name.clone(),
                        periods,
                    },
                )
            })
        })
        .collect()
}

/// How a person compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// In both, same categories and periods.
    Same,
    OnlyA,
    OnlyB,
    /// In both, with differences: categories only in A, only in B, the
    /// categories whose periods differ, and whether the names differ.
    Conflict {
        categories_only_a: Vec<String>,
        categories_only_b: Vec<String>,
        periods_differ: Vec<String>,
        name_differs: bool,
    },
}

impl Match {
    pub fn as_str(&self) -> &'static str {
        match self {
            Match::Same => "in_both",
            Match::OnlyA => "only_a",
            Match::OnlyB => "only_b",
            Match::Conflict { .. } => "conflict",
        }
    }
}

/// Compare two rosters, person by person (sorted by person id).
pub fn match_rosters(a: &Roster, b: &Roster) -> Vec<(String, Match)> {
    let ids: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    ids.into_iter()
        .map(|id| {
            let m = match (a.get(id), b.get(id)) {
                (Some(_), None) => Match::OnlyA,
                (None, Some(_)) => Match::OnlyB,
                (Some(x), Some(y)) => {
                    let (ca, cb) = (x.categories(), y.categories());
                    let only_a: Vec<String> = ca.difference(&cb).cloned().collect();
                    let only_b: Vec<String> = cb.difference(&ca).cloned().collect();
                    let periods_differ: Vec<String> = ca
                        .intersection(&cb)
                        .filter(|c| {
                            let pa: Vec<&Period> =
                                x.periods.iter().filter(|p| &&p.category == c).collect();
                            let pb: Vec<&Period> =
                                y.periods.iter().filter(|p| &&p.category == c).collect();
                            pa != pb
                        })
                        .cloned()
                        .collect();
                    let name_differs = !x.name.is_empty() && !y.name.is_empty() && x.name != y.name;
                    if only_a.is_empty()
                        && only_b.is_empty()
                        && periods_differ.is_empty()
                        && !name_differs
                    {
                        Match::Same
                    } else {
                        Match::Conflict {
                            categories_only_a: only_a,
                            categories_only_b: only_b,
                            periods_differ,
                            name_differs,
                        }
                    }
                }
                (None, None) => Match::Same,
            };
            (id.clone(), m)
        })
        .collect()
}

/// The matching as a report: a summary with the overlap rates (重合率),
/// then one table per outcome.
pub fn match_report(
    a: &Roster,
    b: &Roster,
    a_name: &str,
    b_name: &str,
    on: Option<NaiveDate>,
) -> Report {
    let (a, b) = match on {
        Some(d) => (as_of(a, d), as_of(b, d)),
        None => (a.clone(), b.clone()),
    };
    let res = match_rosters(&a, &b);
    let n = |s: &str| res.iter().filter(|(_, m)| m.as_str() == s).count() as i64;
    let both = n("in_both") + n("conflict");
    let rate = |den: usize| {
        if den == 0 {
            Value::Ratio(Decimal::ZERO)
        } else {
            Value::Ratio(Decimal::from(both) / Decimal::from(den as i64))
        }
    };
    let mut r = Report::new("roster_match", format!("信息比对：{a_name} / {b_name}"))
        .param("a", a_name)
        .param("b", b_name);
    if let Some(d) = on {
        r = r.param("on", d.to_string());
    }
    let mut s = Table::new("summary", "汇总")
        .col("a_persons", "A 人数", ColType::Int)
        .col("b_persons", "B 人数", ColType::Int)
        .col("in_both", "两库一致", ColType::Int)
        .col("conflict", "两库均有但不一致", ColType::Int)
        .col("only_a", "仅 A", ColType::Int)
        .col("only_b", "仅 B", ColType::Int)
        .col("overlap_rate_a", "重合率(占A)", ColType::Ratio)
        .col("overlap_rate_b", "重合率(占B)", ColType::Ratio);
    s.push(vec![
        (a.len() as i64).into(),
        (b.len() as i64).into(),
        n("in_both").into(),
        n("conflict").into(),
        n("only_a").into(),
        n("only_b").into(),
        rate(a.len()),
        rate(b.len()),
    ]);
    r.tables.push(s);
    let periods = |e: Option<&Entry>| {
        e.map(|e| {
            e.periods
                .iter()
                .map(Period::text)
                .collect::<Vec<_>>()
                .join(";")
        })
        .unwrap_or_default()
    };
    let cats = |e: Option<&Entry>| {
        e.map(|e| e.categories().into_iter().collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let mk = |name: &str, title: &str| {
        Table::new(name, title)
            .col("person_id", "人员编号", ColType::Text)
            .col("name_a", "姓名(A)", ColType::Text)
            .col("name_b", "姓名(B)", ColType::Text)
            .col("categories_a", "类别(A)", ColType::Text)
            .col("categories_b", "类别(B)", ColType::Text)
            .col("periods_a", "期间(A)", ColType::Text)
            .col("periods_b", "期间(B)", ColType::Text)
    };
    let mut in_both = mk("in_both", "两库一致");
    let mut only_a = mk("only_a", "仅在 A");
    let mut only_b = mk("only_b", "仅在 B");
    let mut conflicts = mk("conflicts", "两库均有但不一致")
        .col("categories_only_a", "仅A有的类别", ColType::Text)
        .col("categories_only_b", "仅B有的类别", ColType::Text)
        .col("periods_differ", "期间不一致的类别", ColType::Text)
        .col("name_differs", "姓名不一致", ColType::Text);
    for (id, m) in &res {
        let (ea, eb) = (a.get(id), b.get(id));
        let mut row: Vec<Value> = vec![
            id.clone().into(),
            ea.map(|e| e.name.clone()).unwrap_or_default().into(),
            eb.map(|e| e.name.clone()).unwrap_or_default().into(),
            cats(ea).into(),
            cats(eb).into(),
            periods(ea).into(),
            periods(eb).into(),
        ];
        match m {
            Match::Same => in_both.push(row),
            Match::OnlyA => only_a.push(row),
            Match::OnlyB => only_b.push(row),
            Match::Conflict {
                categories_only_a,
                categories_only_b,
                periods_differ,
                name_differs,
            } => {
                row.push(categories_only_a.join(",").into());
                row.push(categories_only_b.join(",").into());
                row.push(periods_differ.join(",").into());
                row.push(if *name_differs { "yes" } else { "" }.into());
                conflicts.push(row);
            }
        }
    }
    r.tables.extend([in_both, conflicts, only_a, only_b]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_matching_categories() {
        let a = read_roster(
            "person_id,name,category,valid_from,valid_to\n\
             P1,张三,dibao,2024-01-01,\n\
             P2,李四,dibao,2024-01-01,2024-06-30\n\
             P3,王五,tekun_dispersed,2024-01-01,\n\
             P4,赵六,dibao,2024-01-01,\n\
             P6,孙八,dibao,2024-01-01,\n"
                .as_bytes(),
        )
        .unwrap();
        let b = read_roster(
            "person_id,name,category,valid_from,valid_to\n\
             P1,张三,dibao,2024-01-01,\n\
             P2,李四,dibao,2024-01-01,2024-12-31\n\
             P3,王五,poverty,2024-01-01,\n\
             P5,钱七,poverty,2024-01-01,\n\
             P6,孙捌,dibao,2024-01-01,\n"
                .as_bytes(),
        )
        .unwrap();
        let m: BTreeMap<String, Match> = match_rosters(&a, &b).into_iter().collect();
        assert_eq!(m["P1"], Match::Same);
        assert_eq!(
            m["P2"],
            Match::Conflict {
                categories_only_a: vec![],
                categories_only_b: vec![],
                periods_differ: vec!["dibao".into()],
                name_differs: false
            }
        );
        assert_eq!(
            m["P3"],
            Match::Conflict {
                categories_only_a: vec!["tekun_dispersed".into()],
                categories_only_b: vec!["poverty".into()],
                periods_differ: vec![],
                name_differs: false
            }
        );
        assert_eq!(m["P4"], Match::OnlyA);
        assert_eq!(m["P5"], Match::OnlyB);
        assert!(matches!(
            m["P6"],
            Match::Conflict {
                name_differs: true,
                ..
            }
        ));
        let r = match_report(&a, &b, "A", "B", None);
        let s = r.table("summary").unwrap();
        assert_eq!(s.get(0, "in_both"), Some(&Value::Int(1)));
        assert_eq!(s.get(0, "conflict"), Some(&Value::Int(3)));
        assert_eq!(s.get(0, "overlap_rate_a").unwrap().to_text(), "0.8000");
        // As of a date after P2's period in A ends, P2 is only in B.
        let on = NaiveDate::from_ymd_opt(2024, 8, 1).unwrap();
        let m: BTreeMap<String, Match> = match_rosters(&as_of(&a, on), &as_of(&b, on))
            .into_iter()
            .collect();
        assert_eq!(m["P2"], Match::OnlyB);
    }
}
