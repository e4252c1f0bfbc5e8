//! Tables as people read them: names for ids, hospital names beside
//! their codes, 合计 rows; and the CSV written from them.

use super::cells::protect;
use super::names::Names;
use super::{ColType, Column, RenderError, RenderOptions, Report, Table, Value};

impl Report {
    /// CSV for people: BOM, Chinese headers, names, protected cells; a
    /// report of several tables as titled sections.
    pub(super) fn to_human_csv(&self, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        let mut out = vec![0xEF, 0xBB, 0xBF];
        let sections = self.tables.len() > 1;
        for (i, t) in self.tables.iter().enumerate() {
            let shown = present(t, &opts.names, false);
            if sections {
                if i > 0 {
                    out.extend_from_slice(b"\r\n");
                }
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(Vec::new());
                w.write_record([format!("{}：{}", opts.names.title(self), t.title)])?;
                out.extend(w.into_inner().map_err(|e| e.into_error())?);
            }
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new());
            w.write_record(shown.columns.iter().map(|c| c.label.as_str()))?;
            for r in &shown.rows {
                w.write_record(r.cells.iter().map(|v| match v {
                    Value::Text(s) => protect(s),
                    other => other.to_text(),
                }))?;
            }
            out.extend(w.into_inner().map_err(|e| e.into_error())?);
        }
        Ok(out)
    }
}

/// A row as shown: its cells and whether it is a 合计 row.
pub(super) struct ShownRow {
    pub(super) cells: Vec<Value>,
    pub(super) total: bool,
}

pub(super) struct Shown {
    pub(super) columns: Vec<Column>,
    pub(super) rows: Vec<ShownRow>,
}

pub(super) fn present_ids(t: &Table) -> Shown {
    Shown {
        columns: t
            .columns
            .iter()
            .map(|c| Column {
                label: c.key.clone(),
                ..c.clone()
            })
            .collect(),
        rows: t
            .rows
            .iter()
            .map(|r| ShownRow {
                cells: r.clone(),
                total: false,
            })
            .collect(),
    }
}

/// The label column that names an id column, if the table has one.
fn name_column(t: &Table, key: &str) -> Option<usize> {
    let candidates: &[&str] = match key {
        "category" => &["category_label"],
        "medical_type" => &["medical_type_label"],
        "layer_id" => &["layer_name"],
        "payer" => &["payer_label"],
        "item" => &["label"],
        _ => &[],
    };
    candidates.iter().find_map(|k| t.col_index(k))
}

/// Where a shown column comes from, and how.
enum Src {
    Col(usize),
    /// A name column, falling back to the id column when empty.
    NameOr(usize, usize),
    HospitalName(usize),
}

/// The columns people see: an id column with a name column beside it is
/// left out (the name column takes its label), and a hospital code gets
/// the hospital's name after it when the directory is known.
fn shown_columns(t: &Table, names: &Names) -> Vec<(Column, Src)> {
    let mut cols: Vec<(Column, Src)> = Vec::new();
    let hidden: Vec<usize> = t
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| name_column(t, &c.key).is_some())
        .map(|(i, _)| i)
        .collect();
    for (i, c) in t.columns.iter().enumerate() {
        if hidden.contains(&i) {
            continue;
        }
        let id_col = hidden
            .iter()
            .copied()
            .find(|h| name_column(t, &t.columns[*h].key) == Some(i));
        match id_col {
            Some(id) => cols.push((
                Column {
                    label: t.columns[id].label.clone(),
                    ..c.clone()
                },
                Src::NameOr(i, id),
            )),
            None => cols.push((c.clone(), Src::Col(i))),
        }
        if c.key == "hospital" && !names.hospitals.is_empty() {
            cols.last_mut().expect("pushed").0.label = "机构编码".into();
            cols.push((
                Column {
                    key: "hospital_name".into(),
                    label: "医疗机构名称".into(),
                    ty: ColType::Text,
                },
                Src::HospitalName(i),
            ));
        }
    }
    cols
}

/// One row's cells as people read them.
fn show_row(t: &Table, names: &Names, cols: &[(Column, Src)], row: &[Value]) -> Vec<Value> {
    cols.iter()
        .map(|(c, src)| {
            let raw = match src {
                Src::Col(i) => &row[*i],
                Src::NameOr(i, id) => match &row[*i] {
                    Value::Text(s) if s.is_empty() => &row[*id],
                    Value::Empty => &row[*id],
                    v => v,
                },
                Src::HospitalName(i) => {
                    return match &row[*i] {
                        Value::Text(code) => {
                            Value::Text(names.hospitals.get(code).cloned().unwrap_or_default())
                        }
                        _ => Value::Empty,
                    }
                }
            };
            match raw {
                Value::Text(s) if s == "*" => Value::Text(String::new()),
                Value::Text(s) => {
                    let key = match src {
                        Src::NameOr(_, id) => t.columns[*id].key.as_str(),
                        _ => c.key.as_str(),
                    };
                    Value::Text(names.value(key, s).unwrap_or_else(|| s.clone()))
                }
                v => v.clone(),
            }
        })
        .collect()
}

/// A 合计 row over `from`: money and count columns summed, `label` in the
/// first text column.
fn total_row(
    cols: &[(Column, Src)],
    label_at: usize,
    from: &[Vec<Value>],
    label: String,
) -> ShownRow {
    let cells = cols
        .iter()
        .enumerate()
        .map(|(j, (c, src))| {
            let i = match src {
                Src::Col(i) => *i,
                _ => usize::MAX,
            };
            match c.ty {
                ColType::Money if i != usize::MAX => Value::Money(
                    from.iter()
                        .filter_map(|r| match r.get(i) {
                            Some(Value::Money(d)) => Some(*d),
                            _ => None,
                        })
                        .sum(),
                ),
                ColType::Int if i != usize::MAX => Value::Int(
                    from.iter()
                        .filter_map(|r| match r.get(i) {
                            Some(Value::Int(n)) => Some(*n),
                            _ => None,
                        })
                        .sum(),
                ),
                _ if j == label_at => Value::Text(label.clone()),
                _ => Value::Empty,
            }
        })
        .collect();
    ShownRow { cells, total: true }
}

/// A table as people read it: names for ids (the id column left out where
/// a name column stands beside it), a name column after each hospital
/// code, `*` total markers blanked, and 合计 rows when `totals`.
pub(super) fn present(t: &Table, names: &Names, totals: bool) -> Shown {
    let cols = shown_columns(t, names);
    let section = t.col_index("section");
    let mut rows = Vec::with_capacity(t.rows.len() + 3);
    let label_at = cols
        .iter()
        .position(|(c, _)| c.ty == ColType::Text)
        .unwrap_or(0);
    let mut start = 0;
    for (k, row) in t.rows.iter().enumerate() {
        rows.push(ShownRow {
            cells: show_row(t, names, &cols, row),
            total: false,
        });
        if !totals {
            continue;
        }
        let end_of_run = match section {
            Some(s) => t.rows.get(k + 1).is_none_or(|n| n[s] != row[s]),
            None => k + 1 == t.rows.len(),
        };
        if end_of_run {
            let label = match section {
                Some(s) => format!(
                    "{}合计",
                    names
                        .value("section", &row[s].to_text())
                        .unwrap_or_else(|| row[s].to_text())
                ),
                None => "合计".into(),
            };
            rows.push(total_row(&cols, label_at, &t.rows[start..=k], label));
            start = k + 1;
        }
    }
    Shown {
        columns: cols.into_iter().map(|(c, _)| c).collect(),
        rows,
    }
}
