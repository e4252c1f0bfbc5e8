//! One rendering abstraction for every reconciliation and simulation
//! report: a [`Report`] is a title, a few parameters and titled [`Table`]s
//! of typed rows. Each output format (JSON, CSV, XML, XLSX) is written once,
//! here.
//!
//! JSON and XML are for programs and always carry machine ids:
//! - JSON: `{"kind", "title", "params": {…}, "tables": [{"name", "title",
//!   "columns": [{"key", "label", "type"}], "rows": [{key: value}]}]}`;
//!   money is a two-decimal string, counts are integers.
//! - XML: `<report kind=… title=…><params><param name=…>…</param></params>
//!   <table name=… title=…><row><key>value</key>…</row></table></report>`.
//!
//! CSV and XLSX are for people (unless [`RenderOptions::ids`]): every value
//! a policy or the hospital directory names is shown by its name
//! ([`Names`]), column headers are the Chinese labels, and an id column
//! that has a name column beside it is left out.
//! - CSV: UTF-8 with a byte-order mark (Excel on a Chinese Windows reads it
//!   as UTF-8, not GBK); a text cell that Excel would turn into a number, a
//!   date or a formula (ID numbers, codes, dates, `=…`) starts with a tab
//!   (see [`protect`]); one table per file — a report of several tables is
//!   written as titled sections on stdout, as one file per table by the CLI
//!   and as a ZIP of them over HTTP.
//! - XLSX: one sheet per table (Chinese sheet names): a title row, a row
//!   with region, month, the other parameters and the print time, the
//!   header (it repeats on every printed page), data with borders,
//!   `#,##0.00`, 合计 rows, then 制表/审核/负责人; landscape A4, fitted to
//!   the page width; column widths from the widest cell.
//! - With [`RenderOptions::ids`] (`--ids`, `?ids=true`) CSV is plain UTF-8
//!   with the column keys as header and ids as values, for scripts; XLSX
//!   then has the keys as header.

mod cells;
mod machine;
mod names;
mod people;
mod xlsx;

pub use cells::{csv_safe, protect, unneutralize, xml_safe};
pub use names::{payer_label, payer_label_or, Names};

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
    /// Whether printed forms (XLSX) add 合计 rows: one per run of rows of
    /// the same `section` when the table has that column, else one at the
    /// end. Off for tables whose rows overlap (checks, summaries).
    pub totals: bool,
}

impl Table {
    pub fn new(name: &str, title: &str) -> Table {
        Table {
            name: name.into(),
            title: title.into(),
            columns: Vec::new(),
            rows: Vec::new(),
            totals: false,
        }
    }
    /// Print 合计 rows under this table (builder style).
    pub fn with_totals(mut self) -> Table {
        self.totals = true;
        self
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

    /// Render in `format` for programs: machine ids and column keys (see
    /// [`Report::render_with`] for what people open).
    pub fn render(&self, format: Format) -> Result<Vec<u8>, RenderError> {
        self.render_with(
            format,
            &RenderOptions {
                ids: true,
                ..RenderOptions::default()
            },
        )
    }

    /// Render in `format`: CSV and XLSX with the names and print layout of
    /// `opts` (or machine ids with `opts.ids`); JSON and XML always as ids.
    pub fn render_with(
        &self,
        format: Format,
        opts: &RenderOptions,
    ) -> Result<Vec<u8>, RenderError> {
        match format {
            Format::Json => Ok(self.to_json_bytes()),
            Format::Csv if opts.ids => self.to_csv(),
            Format::Csv => self.to_human_csv(opts),
            Format::Xml => self.to_xml(),
            Format::Xlsx => self.to_xlsx(opts),
        }
    }

    /// One CSV file per table (for people unless `opts.ids`): `(table
    /// name, bytes)`.
    pub fn csv_files(&self, opts: &RenderOptions) -> Result<Vec<(String, Vec<u8>)>, RenderError> {
        self.tables
            .iter()
            .map(|t| {
                let one = Report {
                    kind: self.kind.clone(),
                    title: self.title.clone(),
                    params: self.params.clone(),
                    tables: vec![t.clone()],
                };
                Ok((t.name.clone(), one.render_with(Format::Csv, opts)?))
            })
            .collect()
    }

    /// A file name for a download of this report: kind, month (or
    /// period), table when there is one, extension; ASCII only.
    pub fn file_name(&self, ext: &str) -> String {
        let mut parts = vec![self.kind.replace('_', "-")];
        for k in ["month", "from", "to", "hospital"] {
            if let Some((_, v)) = self.params.iter().find(|(p, _)| p == k) {
                if !v.is_empty() && v != "all" && v.is_ascii() {
                    parts.push(v.clone());
                }
            }
        }
        if self.tables.len() == 1 {
            parts.push(self.tables[0].name.replace('_', "-"));
        }
        let stem: String = parts
            .join("-")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{stem}.{ext}")
    }

    /// The same name in words (`2017-05 月结算汇总表.xlsx`), for
    /// `Content-Disposition`'s `filename*`.
    pub fn display_file_name(&self, ext: &str, opts: &RenderOptions) -> String {
        let mut t = opts.names.title(self);
        if self.tables.len() == 1 && self.tables[0].title != t {
            t = format!("{t} {}", self.tables[0].title);
        }
        let clean: String = t
            .chars()
            .map(|c| if "\\/:*?\"<>|".contains(c) { '_' } else { c })
            .collect();
        format!("{clean}.{ext}")
    }

    /// A parameter's value.
    pub fn param_value(&self, key: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

/// How CSV and XLSX are rendered.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Machine ids and column keys (for scripts): `--ids`, `?ids=true`.
    pub ids: bool,
    /// Names for the ids of policies and the hospital directory.
    pub names: Names,
    /// The region printed in titles (`411303`, or its name).
    pub region: Option<String>,
    /// The print time as printed; `None`: now, China time.
    pub printed_at: Option<String>,
}

impl RenderOptions {
    fn printed_at(&self) -> String {
        self.printed_at.clone().unwrap_or_else(|| {
            crate::calendar::now_china()
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
    }
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

    fn people() -> (Report, RenderOptions) {
        let mut t = Table::new("by_category", "按救助对象类别")
            .col("section", "类型", ColType::Text)
            .col("hospital", "医疗机构", ColType::Text)
            .col("person_id", "身份证号", ColType::Text)
            .col("category", "救助类别", ColType::Text)
            .col("category_label", "类别名称", ColType::Text)
            .col("count", "笔数", ColType::Int)
            .col("paid", "金额", ColType::Money)
            .with_totals();
        for (s, cat, n, paid) in [
            ("settlement", "dibao", 2, dec!(1234.5)),
            ("settlement", "tekun", 1, dec!(100)),
            ("reversal", "dibao", 1, dec!(-34.02)),
        ] {
            t.push(vec![
                s.into(),
                "H0002".into(),
                "411303195003030011".into(),
                cat.into(),
                "".into(),
                Value::Int(n),
                Value::Money(paid),
            ]);
        }
        let mut r = Report::new("statement", "2017-05 月结算汇总表（H0002）")
            .param("month", "2017-05")
            .param("hospital", "H0002");
        r.tables.push(t);
        let mut labels = crate::recon::Labels::default();
        labels.categories.insert("dibao".into(), "低保对象".into());
        labels.categories.insert("tekun".into(), "特困人员".into());
        let opts = RenderOptions {
            ids: false,
            names: Names::new(
                &labels,
                [("H0002".to_string(), "南阳市卧龙区人民医院".to_string())],
            ),
            region: Some("411303".into()),
            printed_at: Some("2017-06-01 09:00".into()),
        };
        (r, opts)
    }

    #[test]
    fn csv_for_people_has_a_bom_names_and_protected_ids() {
        let (r, opts) = people();
        let b = r.render_with(Format::Csv, &opts).unwrap();
        assert_eq!(&b[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 byte-order mark");
        let text = String::from_utf8(b[3..].to_vec()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "类型,机构编码,医疗机构名称,身份证号,救助类别,笔数,金额"
        );
        assert_eq!(
            lines[1],
            "结算,H0002,南阳市卧龙区人民医院,\t411303195003030011,低保对象,2,1234.50"
        );
        assert!(lines[3].starts_with("冲红,"), "{}", lines[3]);
        assert!(!text.contains("dibao") && !text.contains("settlement"));
        assert!(!text.contains("合计"), "CSV stays a plain table");
        // For scripts: ids and keys, no BOM.
        let ids = RenderOptions { ids: true, ..opts };
        let b = r.render_with(Format::Csv, &ids).unwrap();
        assert!(b.starts_with(b"section,hospital,person_id,category,category_label,count,paid\n"));
        assert!(String::from_utf8(b)
            .unwrap()
            .contains("settlement,H0002,411303195003030011,dibao"));
    }

    #[test]
    fn protection_covers_what_excel_would_convert() {
        for (given, shown) in [
            ("411303195003030011", "\t411303195003030011"),
            ("390100", "\t390100"),
            ("2017-05", "\t2017-05"),
            ("=1+1", "'=1+1"),
            ("-3", "'-3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("H0002", "H0002"),
            ("低保对象", "低保对象"),
            ("", ""),
        ] {
            assert_eq!(protect(given), shown, "{given}");
        }
    }

    #[test]
    fn file_names_say_report_and_month() {
        let (r, opts) = people();
        assert_eq!(
            r.file_name("xlsx"),
            "statement-2017-05-H0002-by-category.xlsx"
        );
        assert_eq!(
            r.display_file_name("xlsx", &opts),
            "2017-05 月结算汇总表（南阳市卧龙区人民医院） 按救助对象类别.xlsx"
        );
    }

    #[test]
    fn xlsx_for_people_reads_back_with_names_totals_and_text_ids() {
        use calamine::{Data, Reader, Xlsx};
        let (r, opts) = people();
        let b = r.render_with(Format::Xlsx, &opts).unwrap();
        let mut wb = Xlsx::new(std::io::Cursor::new(b)).unwrap();
        assert_eq!(wb.sheet_names(), ["按救助对象类别"]);
        let range = wb.worksheet_range("按救助对象类别").unwrap();
        let cell = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(
            cell(0, 0),
            Data::String("2017-05 月结算汇总表（南阳市卧龙区人民医院） — 按救助对象类别".into())
        );
        let sub = cell(1, 0).to_string();
        assert!(
            sub.contains("地区：411303")
                && sub.contains("月份：2017-05")
                && sub.contains("打印时间：2017-06-01 09:00"),
            "{sub}"
        );
        assert_eq!(cell(2, 3), Data::String("身份证号".into()));
        assert_eq!(
            cell(3, 3),
            Data::String("411303195003030011".into()),
            "ID as text"
        );
        assert_eq!(cell(3, 4), Data::String("低保对象".into()));
        assert_eq!(cell(3, 6), Data::Float(1234.5));
        // 合计 per section: two settlement rows, then their total.
        assert_eq!(cell(5, 0), Data::String("结算合计".into()));
        assert_eq!(cell(5, 5), Data::Float(3.0));
        assert_eq!(cell(5, 6), Data::Float(1334.5));
        assert_eq!(cell(7, 0), Data::String("冲红合计".into()));
        let all: Vec<String> = range.rows().flatten().map(|d| d.to_string()).collect();
        assert!(all.iter().any(|s| s.starts_with("制表：")));
        assert!(all.iter().any(|s| s.starts_with("审核：")));
        assert!(all.iter().any(|s| s.starts_with("负责人：")));
        assert!(
            !all.iter().any(|s| s == "dibao" || s == "person_id"),
            "no machine ids or keys"
        );
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
