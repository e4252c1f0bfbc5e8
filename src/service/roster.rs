//! Importing the eligibility roster (名册) from the console: every bad line
//! reported with its number, a preview of what would change in the
//! registry, then the import with its audit row.

use super::{Service, ServiceError};
use crate::storage::console::{Actor, AuditEntry};
use crate::storage::RegistryRow;
use std::collections::{BTreeMap, BTreeSet};

/// A line-numbered problem in an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// What a roster import would do, before anything is written.
#[derive(Debug, Clone, Default)]
pub struct RosterPreview {
    pub errors: Vec<LineError>,
    /// Warnings (e.g. categories no policy declares).
    pub warnings: Vec<String>,
    pub rows: Vec<RegistryRow>,
    /// Persons not in the registry yet: (id, name).
    pub added: Vec<(String, String)>,
    /// Persons whose rows change (new period, new category, new name or
    /// region): (id, name, what).
    pub changed: Vec<(String, String, String)>,
    /// Periods that now end: (id, name, category, valid_to).
    pub ended: Vec<(String, String, String, String)>,
    /// Rows identical to what the registry holds.
    pub unchanged: usize,
}

impl RosterPreview {
    /// The persons the import touches.
    pub fn persons(&self) -> Vec<String> {
        let mut p: BTreeSet<String> = BTreeSet::new();
        p.extend(self.added.iter().map(|a| a.0.clone()));
        p.extend(self.changed.iter().map(|a| a.0.clone()));
        p.extend(self.ended.iter().map(|a| a.0.clone()));
        p.into_iter().collect()
    }
}

const ROSTER_HEADER: [&str; 5] = ["person_id", "name", "category", "valid_from", "valid_to"];

/// Parse a roster CSV (`person_id,name,category,valid_from,valid_to[,region]`),
/// collecting every bad line instead of stopping at the first.
pub fn parse_roster(text: &str) -> (Vec<RegistryRow>, Vec<LineError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    if let Err(e) = check_header(&mut rdr) {
        errors.push(e);
        return (rows, errors);
    }
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let parsed = match rec {
            Ok(rec) => roster_line(&rec).map_err(|bad| bad.join("；")),
            Err(e) => Err(format!("无法读取：{e}")),
        };
        match parsed {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {}
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    (rows, errors)
}

/// The header line must start with [`ROSTER_HEADER`] (a `region` column may
/// follow).
fn check_header(rdr: &mut csv::Reader<&[u8]>) -> Result<(), LineError> {
    let message = match rdr.headers() {
        Ok(h) => {
            let got: Vec<&str> = h.iter().collect();
            if got.len() >= 5 && got[..5] == ROSTER_HEADER {
                return Ok(());
            }
            format!(
                "表头应为 {}（可再加 region），实为 {}",
                ROSTER_HEADER.join(","),
                got.join(",")
            )
        }
        Err(e) => format!("无法读取表头：{e}"),
    };
    Err(LineError { line: 1, message })
}

/// One roster line as a registry row, or every problem it has.
fn roster_line(rec: &csv::StringRecord) -> Result<Option<RegistryRow>, Vec<String>> {
    let field = |n: usize| rec.get(n).unwrap_or("").to_string();
    let mut bad = Vec::new();
    let date = |n: usize, label: &str, bad: &mut Vec<String>| -> Option<String> {
        let v = field(n);
        if v.is_empty() {
            return None;
        }
        match chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
            Ok(d) => Some(d.to_string()),
            Err(_) => {
                bad.push(format!("{label} 应为日期 YYYY-MM-DD，实为 {v:?}"));
                None
            }
        }
    };
    let person_id = field(0);
    check_person_id(&person_id, &mut bad);
    if field(1).is_empty() {
        bad.push("姓名（name）为空".to_string());
    }
    let from = date(3, "起始日期（valid_from）", &mut bad);
    if field(3).is_empty() {
        bad.push("起始日期（valid_from）为空".to_string());
    }
    let to = date(4, "终止日期（valid_to）", &mut bad);
    if let (Some(f), Some(t)) = (&from, &to) {
        if t < f {
            bad.push("终止日期早于起始日期".to_string());
        }
    }
    let region = field(5);
    if !region.is_empty() && (region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit())) {
        bad.push(format!(
            "参保地（region）应为 6 位区划代码，实为 {region:?}"
        ));
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(from.map(|valid_from| RegistryRow {
        person_id,
        name: field(1),
        category: field(2),
        valid_from,
        valid_to: to,
        region: (!region.is_empty()).then_some(region),
    }))
}

/// An 18-character resident id number (身份证号): 17 digits and a digit or X.
fn check_person_id(person_id: &str, bad: &mut Vec<String>) {
    if person_id.is_empty() {
        bad.push("身份证号（person_id）为空".to_string());
    } else if person_id.len() != 18
        || !person_id[..17].bytes().all(|b| b.is_ascii_digit())
        || !matches!(person_id.as_bytes()[17], b'0'..=b'9' | b'X')
    {
        bad.push(format!("身份证号 {person_id:?} 不是 18 位号码"));
    }
}

impl Service {
    /// Check a roster file line by line and compare it with the registry.
    /// Nothing is written.
    pub async fn roster_preview(&self, text: &str) -> Result<RosterPreview, ServiceError> {
        let (rows, errors) = parse_roster(text);
        let mut out = RosterPreview {
            errors,
            warnings: self.undeclared_categories(&rows),
            ..Default::default()
        };
        let persons: BTreeSet<String> = rows.iter().map(|r| r.person_id.clone()).collect();
        let list: Vec<String> = persons.iter().cloned().collect();
        let existing = if list.is_empty() {
            Vec::new()
        } else {
            self.db.registry_rows(&list).await?
        };
        for p in &persons {
            let theirs: Vec<&RegistryRow> = rows.iter().filter(|r| &r.person_id == p).collect();
            let ours: Vec<&RegistryRow> = existing.iter().filter(|r| &r.person_id == p).collect();
            self.compare_person(p, &theirs, &ours, &mut out);
        }
        out.rows = rows;
        Ok(out)
    }

    /// A warning per category that no loaded policy declares.
    fn undeclared_categories(&self, rows: &[RegistryRow]) -> Vec<String> {
        let declared: BTreeSet<&str> = self
            .policies
            .iter()
            .flat_map(|p| p.categories.iter().map(|(id, _)| id.as_str()))
            .collect();
        let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rows {
            if !r.category.is_empty() && !declared.contains(r.category.as_str()) {
                *unknown.entry(r.category.as_str()).or_default() += 1;
            }
        }
        unknown
            .into_iter()
            .map(|(c, n)| format!("类别 {c:?}（{n} 行）没有任何已加载的政策声明，结算时将被忽略"))
            .collect()
    }

    /// The name of category `id` in the loaded policies (参保 for none).
    fn category_label(&self, id: &str) -> String {
        if id.is_empty() {
            return "参保".into();
        }
        self.policies
            .iter()
            .flat_map(|p| p.categories.iter())
            .find(|(k, _)| k == id)
            .map_or(id.to_string(), |(_, l)| l.clone())
    }

    /// What the roster's rows of person `p` (`theirs`) change against the
    /// registry's (`ours`), added to `out`.
    fn compare_person(
        &self,
        p: &str,
        theirs: &[&RegistryRow],
        ours: &[&RegistryRow],
        out: &mut RosterPreview,
    ) {
        let name = theirs.first().map(|r| r.name.clone()).unwrap_or_default();
        if ours.is_empty() {
            out.added.push((p.to_string(), name));
            return;
        }
        let label = |id: &str| self.category_label(id);
        let mut what = Vec::new();
        for r in theirs {
            let Some(o) = ours
                .iter()
                .find(|o| o.category == r.category && o.valid_from == r.valid_from)
            else {
                what.push(format!("新增 {} 自 {}", label(&r.category), r.valid_from));
                continue;
            };
            if o == r {
                out.unchanged += 1;
                continue;
            }
            if o.valid_to != r.valid_to {
                if let Some(t) = &r.valid_to {
                    out.ended
                        .push((p.to_string(), name.clone(), r.category.clone(), t.clone()));
                } else {
                    what.push(format!("{} 恢复为长期有效", label(&r.category)));
                }
            }
            if o.name != r.name {
                what.push(format!("姓名 {} → {}", o.name, r.name));
            }
            if o.region != r.region {
                what.push(format!(
                    "参保地 {} → {}",
                    o.region.as_deref().unwrap_or("无"),
                    r.region.as_deref().unwrap_or("无")
                ));
            }
        }
        if !what.is_empty() {
            out.changed.push((p.to_string(), name, what.join("；")));
        }
    }

    /// Import a roster that has no bad line; the import and its audit row
    /// in one transaction. Returns the preview it applied.
    pub async fn roster_import(
        &self,
        text: &str,
        file_name: &str,
        by: &Actor,
    ) -> Result<RosterPreview, ServiceError> {
        let preview = self.roster_preview(text).await?;
        if !preview.errors.is_empty() {
            return Err(ServiceError::Invalid(
                preview
                    .errors
                    .iter()
                    .map(|e| super::FieldError::new(format!("line {}", e.line), &e.message))
                    .collect(),
            ));
        }
        let detail = format!(
            "{} 行：新增 {} 人，变更 {} 人，终止 {} 段，未变 {} 行",
            preview.rows.len(),
            preview.added.len(),
            preview.changed.len(),
            preview.ended.len(),
            preview.unchanged
        );
        self.db
            .import_registry_audited(
                &preview.rows,
                &AuditEntry {
                    actor: by,
                    action: "registry.import",
                    subject: file_name,
                    reason: None,
                    detail: Some(&detail),
                },
            )
            .await?;
        Ok(preview)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_reports_every_bad_line() {
        let text = "person_id,name,category,valid_from,valid_to\n\
            411303199001011234,张三,dibao,2017-01-01,\n\
            12345,李四,dibao,2017-13-01,\n\
            411303199001011235,,tekun,2017-02-01,2017-01-01\n\
            411303199001011236,王五,,2017-01-01,\n";
        let (rows, errors) = parse_roster(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, 3);
        assert!(errors[0].message.contains("18 位"), "{}", errors[0].message);
        assert!(errors[0].message.contains("valid_from"));
        assert_eq!(errors[1].line, 4);
        assert!(errors[1].message.contains("姓名"));
        assert!(errors[1].message.contains("早于"));
        let (_, errors) = parse_roster("a,b\n1,2\n");
        assert_eq!(errors[0].line, 1);
    }
}
