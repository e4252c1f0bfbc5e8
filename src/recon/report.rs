//! One rendering abstraction for every reconciliation report: a [`Report`]
//! is a title, a few parameters and titled [`Table`]s of typed rows. Each
//! output format (JSON, CSV, XML, XLSX) is written once, here.
//!
//! - JSON: `{"kind", "title", "params": {…}, "tables": [{"name", "title",
//!   "columns": [{"key", "label", "type"}], "rows": [{key: value}]}]}`;
//!   money is a two-decimal string, counts are integers.
//! - CSV: the header is the column keys. A report of several tables is
//!   written as sections (`# name: title`, header, rows, blank line); ask for
//!   one table to get a plain CSV file.
//! - XML: `<report kind=… title=…><params><param name=…>…</param></params>
//!   <table name=… title=…><row><key>value</key>…</row></table></report>`.
//! - XLSX: a sheet of parameters, then one sheet per table: the labels on
//!   row 1, the keys on row 2, data from row 3; money as numbers in `0.00`.

use crate::money::fmt2;
use rust_decimal::Decimal;
use serde::Serialize;
use std::fmt;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColType {
    Text,
    Int,
    Money,
    Ratio,
}

/// A column: machine key (valid as a JSON key, CSV header and XML element
/// name) and a human label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ty: ColType,
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
    Money(Decimal),
    Ratio(Decimal),
    Empty,
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }
    /// The cell as text (money with two decimals, ratios with four).
    pub fn to_text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Money(d) => fmt2(*d),
            Value::Ratio(d) => {
                let mut r = crate::money::round4(*d);
                r.rescale(4);
                r.to_string()
            }
            Value::Empty => String::new(),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Empty => serde_json::Value::Null,
            other => serde_json::Value::String(other.to_text()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<Decimal> for Value {
    fn from(d: Decimal) -> Value {
        Value::Money(d)
    }
}

/// A titled table of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(name: &str, title: &str) -> Table {
        Table {
            name: name.into(),
            title: title.into(),
            columns: Vec::new(),
            rows: Vec::new(),
        }
    }
    /// Add a column (builder style).
    pub fn col(mut self, key: &str, label: &str, ty: ColType) -> Table {
        self.columns.push(Column {
            key: key.into(),
            label: label.into(),
            ty,
        });
        self
    }
    pub fn add_col(&mut self, key: &str, label: &str, ty: ColType) {
        self.columns.push(Column {
            key: key.into(),
            label: label.into(),
            ty,
        });
    }
    /// Add a row; it must have one value per column.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "table {}", self.name);
        self.rows.push(row);
    }
    /// The index of the column `key`.
    pub fn col_index(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }
    /// The cell of `row` in column `key`.
    pub fn get(&self, row: usize, key: &str) -> Option<&Value> {
        self.rows.get(row)?.get(self.col_index(key)?)
    }
}

/// A report: what every reconciliation command and endpoint returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Machine name: `statement`, `clearing`, `check_totals`, ….
    pub kind: String,
    pub title: String,
    pub params: Vec<(String, String)>,
    pub tables: Vec<Table>,
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xml,
    Xlsx,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xml" => Ok(Format::Xml),
            "xlsx" | "excel" => Ok(Format::Xlsx),
            other => Err(format!(
                "unknown format {other:?} (expected json, csv, xml or xlsx)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xml => "xml",
            Format::Xlsx => "xlsx",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    /// The format a file name's extension names.
    pub fn from_path(p: &std::path::Path) -> Option<Format> {
        p.extension()?.to_str()?.parse().ok()
    }
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no table named {0:?} in this report (its tables: {1})")]
    NoSuchTable(String, String),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("xml: {0}")]
    Io(#[from] std::io::Error),
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

impl Report {
    pub fn new(kind: &str, title: impl Into<String>) -> Report {
        Report {
            kind: kind.into(),
            title: title.into(),
            params: Vec::new(),
            tables: Vec::new(),
        }
    }
    pub fn param(mut self, k: &str, v: impl Into<String>) -> Report {
        self.params.push((k.into(), v.into()));
        self
    }
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Keep only the table `name` (for a plain CSV of one table).
    pub fn only_table(&self, name: &str) -> Result<Report, RenderError> {
        let t = self.table(name).ok_or_else(|| {
            let names: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
            RenderError::NoSuchTable(name.into(), names.join(", "))
        })?;
        Ok(Report {
            kind: self.kind.clone(),
            title: self.title.clone(),
            params: self.params.clone(),
            tables: vec![t.clone()],
        })
    }

    /// Render in `format`.
    pub fn render(&self, format: Format) -> Result<Vec<u8>, RenderError> {
        match format {
            Format::Json => Ok(self.to_json_bytes()),
            Format::Csv => self.to_csv(),
            Format::Xml => self.to_xml(),
            Format::Xlsx => self.to_xlsx(),
        }
    }

    /// The JSON value of the report.
    pub fn to_json(&self) -> serde_json::Value {
        let params: serde_json::Map<String, serde_json::Value> = self
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let tables: Vec<serde_json::Value> = self
            .tables
            .iter()
            .map(|t| {
                let rows: Vec<serde_json::Value> = t
                    .rows
                    .iter()
                    .map(|r| {
                        let m: serde_json::Map<String, serde_json::Value> = t
                            .columns
                            .iter()
                            .zip(r)
                            .map(|(c, v)| (c.key.clone(), v.to_json()))
                            .collect();
                        serde_json::Value::Object(m)
                    })
                    .collect();
                serde_json::json!({
                    "name": t.name,
                    "title": t.title,
                    "columns": t.columns,
                    "rows": rows,
                })
            })
            .collect();
        serde_json::json!({
            "kind": self.kind,
            "title": self.title,
            "params": params,
            "tables": tables,
        })
    }

    fn to_json_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(&self.to_json()).unwrap_or_default();
        v.push(b'\n');
        v
    }

    fn to_csv(&self) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::new();
        let sections = self.tables.len() > 1;
        for (i, t) in self.tables.iter().enumerate() {
            if sections {
                if i > 0 {
                    out.push(b'\n');
                }
                out.extend_from_slice(format!("# {}: {}\n", t.name, t.title).as_bytes());
            }
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            w.write_record(t.columns.iter().map(|c| c.key.as_str()))?;
            for r in &t.rows {
                w.write_record(r.iter().map(|v| match v {
                    Value::Text(s) => csv_safe(s),
                    other => other.to_text(),
                }))?;
            }
            out.extend(w.into_inner().map_err(|e| e.into_error())?);
        }
        Ok(out)
    }

    fn to_xml(&self) -> Result<Vec<u8>, RenderError> {
        use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
        let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let mut root = BytesStart::new("report");
        root.push_attribute(("kind", xml_safe(&self.kind).as_ref()));
        root.push_attribute(("title", xml_safe(&self.title).as_ref()));
        w.write_event(Event::Start(root))?;
        w.write_event(Event::Start(BytesStart::new("params")))?;
        for (k, v) in &self.params {
            let mut p = BytesStart::new("param");
            p.push_attribute(("name", xml_safe(k).as_ref()));
            w.write_event(Event::Start(p))?;
            w.write_event(Event::Text(BytesText::new(&xml_safe(v))))?;
            w.write_event(Event::End(BytesEnd::new("param")))?;
        }
        w.write_event(Event::End(BytesEnd::new("params")))?;
        for t in &self.tables {
            let mut e = BytesStart::new("table");
            e.push_attribute(("name", xml_safe(&t.name).as_ref()));
            e.push_attribute(("title", xml_safe(&t.title).as_ref()));
            w.write_event(Event::Start(e))?;
            for r in &t.rows {
                w.write_event(Event::Start(BytesStart::new("row")))?;
                for (c, v) in t.columns.iter().zip(r) {
                    let text = v.to_text();
                    if text.is_empty() {
                        w.write_event(Event::Empty(BytesStart::new(c.key.as_str())))?;
                    } else {
                        w.write_event(Event::Start(BytesStart::new(c.key.as_str())))?;
                        w.write_event(Event::Text(BytesText::new(&xml_safe(&text))))?;
                        w.write_event(Event::End(BytesEnd::new(c.key.as_str())))?;
                    }
                }
                w.write_event(Event::End(BytesEnd::new("row")))?;
            }
            w.write_event(Event::End(BytesEnd::new("table")))?;
        }
        w.write_event(Event::End(BytesEnd::new("report")))?;
        let mut out = w.into_inner();
        out.push(b'\n');
        Ok(out)
    }

    fn to_xlsx(&self) -> Result<Vec<u8>, RenderError> {
        use rust_xlsxwriter::{Format as XFormat, Workbook};
        let mut wb = Workbook::new();
        let bold = XFormat::new().set_bold();
        let keyfmt = XFormat::new().set_font_color(0x808080);
        let money = XFormat::new().set_num_format("0.00");
        let ratio = XFormat::new().set_num_format("0.0000");
        let mut used: Vec<String> = vec!["report".into()];
        {
            let ws = wb.add_worksheet();
            ws.set_name("report")?;
            ws.write_string_with_format(0, 0, &self.title, &bold)?;
            ws.write_string(1, 0, "kind")?;
            ws.write_string(1, 1, &self.kind)?;
            for (i, (k, v)) in self.params.iter().enumerate() {
                ws.write_string(2 + i as u32, 0, k)?;
                ws.write_string(2 + i as u32, 1, v)?;
            }
            let base = 3 + self.params.len() as u32;
            ws.write_string_with_format(base, 0, "sheet", &bold)?;
            ws.write_string_with_format(base, 1, "title", &bold)?;
            for (i, t) in self.tables.iter().enumerate() {
                ws.write_string(base + 1 + i as u32, 0, sheet_name(&t.name, &mut Vec::new()))?;
                ws.write_string(base + 1 + i as u32, 1, &t.title)?;
            }
            ws.set_column_width(0, 24)?;
            ws.set_column_width(1, 40)?;
        }
        for t in &self.tables {
            let ws = wb.add_worksheet();
            ws.set_name(sheet_name(&t.name, &mut used))?;
            for (c, col) in t.columns.iter().enumerate() {
                let c = c as u16;
                ws.write_string_with_format(0, c, &col.label, &bold)?;
                ws.write_string_with_format(1, c, &col.key, &keyfmt)?;
                ws.set_column_width(c, 14)?;
            }
            for (r, row) in t.rows.iter().enumerate() {
                let r = r as u32 + 2;
                for (c, v) in row.iter().enumerate() {
                    let c = c as u16;
                    match v {
                        Value::Text(s) => {
                            ws.write_string(r, c, s)?;
                        }
                        Value::Int(i) => {
                            ws.write_number(r, c, *i as f64)?;
                        }
                        Value::Money(d) => {
                            // The exact two-decimal literal, read as the
                            // nearest double: a spreadsheet shows the same.
                            let x: f64 = fmt2(*d).parse().unwrap_or(0.0);
                            ws.write_number_with_format(r, c, x, &money)?;
                        }
                        Value::Ratio(_) => {
                            let x: f64 = v.to_text().parse().unwrap_or(0.0);
                            ws.write_number_with_format(r, c, x, &ratio)?;
                        }
                        Value::Empty => {}
                    }
                }
            }
            ws.set_freeze_panes(2, 0)?;
        }
        Ok(wb.save_to_buffer()?)
    }
}

/// A text cell as it goes into a CSV file: one that a spreadsheet would
/// read as a formula (`=`, `+`, `-`, `@`, or a leading tab or carriage
/// return) is prefixed with `'`, so it shows as text and never runs.
/// [`unneutralize`] undoes it when such a file is read back.
pub fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// A CSV cell as written by [`csv_safe`], back to its text.
pub fn unneutralize(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => s,
    }
}

/// Text that XML 1.0 can carry: characters it forbids (controls other than
/// tab, newline and carriage return; U+FFFE, U+FFFF) become U+FFFD, so an
/// export is always well-formed whatever the stored text holds. (`<`, `&`
/// and quotes are escaped by the writer.)
pub fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    };
    if s.chars().any(bad) {
        s.chars()
            .map(|c| if bad(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// A valid, unique worksheet name (≤ 31 characters, no `[]:*?/\`).
fn sheet_name(name: &str, used: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let mut n = clean.clone();
    let mut i = 2;
    while used.iter().any(|u| u.eq_ignore_ascii_case(&n)) {
        n = format!("{clean}~{i}");
        i += 1;
    }
    used.push(n.clone());
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn sample() -> Report {
        let mut t = Table::new("funds", "按基金")
            .col("fund_code", "基金", ColType::Text)
            .col("count", "笔数", ColType::Int)
            .col("paid", "金额", ColType::Money);
        t.push(vec!["390100".into(), 2.into(), dec!(12.5).into()]);
        t.push(vec!["610100".into(), Value::Int(1), Value::Money(dec!(-3))]);
        let mut r = Report::new("test", "测试 & <报告>").param("month", "2024-05");
        r.tables.push(t);
        r.tables
            .push(Table::new("empty", "空").col("a", "A", ColType::Text));
        r
    }

    #[test]
    fn renders_every_format() {
        let r = sample();
        let j: serde_json::Value =
            serde_json::from_slice(&r.render(Format::Json).unwrap()).unwrap();
        assert_eq!(j["tables"][0]["rows"][0]["paid"], "12.50");
        assert_eq!(j["tables"][0]["rows"][1]["paid"], "-3.00");
        assert_eq!(j["params"]["month"], "2024-05");
        let csv = String::from_utf8(r.render(Format::Csv).unwrap()).unwrap();
        assert!(csv.contains("fund_code,count,paid\n390100,2,12.50\n610100,1,-3.00\n"));
        let one =
            String::from_utf8(r.only_table("funds").unwrap().render(Format::Csv).unwrap()).unwrap();
        assert!(one.starts_with("fund_code,count,paid\n"));
        let xml = String::from_utf8(r.render(Format::Xml).unwrap()).unwrap();
        assert!(xml.contains("<paid>12.50</paid>"), "{xml}");
        assert!(xml.contains("测试 &amp; &lt;报告&gt;"), "{xml}");
        let x = r.render(Format::Xlsx).unwrap();
        assert_eq!(&x[..2], b"PK");
    }

    #[test]
    fn hostile_text_is_neutralised_in_csv_and_escaped_in_xml() {
        let mut t = Table::new("details", "明细")
            .col("claim_id", "就诊号", ColType::Text)
            .col("paid", "金额", ColType::Money);
        for id in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tX",
            "\rY",
            "X\u{1}Y\u{0}<&>",
            "plain",
        ] {
            t.push(vec![id.into(), Value::Money(dec!(-3))]);
        }
        let mut r = Report::new("details", "X\u{1b}Y").param("hospital", "H\u{7}1");
        r.tables.push(t);
        let csv = String::from_utf8(r.render(Format::Csv).unwrap()).unwrap();
        let mut rd = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
        let cells: Vec<String> = rd.records().map(|x| x.unwrap()[0].to_string()).collect();
        for c in &cells {
            assert!(
                !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a formula cell got through: {c:?}"
            );
        }
        assert_eq!(cells[0], "'=HYPERLINK(\"http://x\")");
        assert_eq!(cells[7], "plain");
        // Money stays a number; the check readers take the text back.
        assert!(csv.contains(",-3.00"), "{csv}");
        assert_eq!(unneutralize(&cells[1]), "+1");
        assert_eq!(unneutralize("'plain"), "'plain");
        let xml = String::from_utf8(r.render(Format::Xml).unwrap()).unwrap();
        assert!(
            !xml.chars()
                .any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r')),
            "{xml:?}"
        );
        assert!(xml.contains("X\u{FFFD}Y\u{FFFD}&lt;&amp;&gt;"), "{xml}");
        // Well-formed: a reader gets to the end.
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}: {xml}"),
            }
        }
        assert_eq!(&r.render(Format::Xlsx).unwrap()[..2], b"PK");
    }
}
