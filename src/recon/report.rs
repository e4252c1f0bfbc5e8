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

use crate::money::fmt2;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
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

    /// CSV for people: BOM, Chinese headers, names, protected cells; a
    /// report of several tables as titled sections.
    fn to_human_csv(&self, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
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

    fn to_xlsx(&self, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        use rust_xlsxwriter::{Format as XFormat, FormatAlign, FormatBorder, Workbook};
        let mut wb = Workbook::new();
        let title_f = XFormat::new()
            .set_bold()
            .set_font_size(14)
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter);
        let sub_f = XFormat::new().set_font_size(10);
        let head_f = XFormat::new()
            .set_bold()
            .set_border(FormatBorder::Thin)
            .set_background_color(0xE8E8E8)
            .set_text_wrap()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter);
        let cell = XFormat::new().set_border(FormatBorder::Thin);
        let text_f = cell.clone().set_num_format("@");
        let int_f = cell.clone().set_num_format("#,##0");
        let money_f = cell.clone().set_num_format("#,##0.00");
        let ratio_f = cell.clone().set_num_format("0.00%");
        let bold = |f: &XFormat| f.clone().set_bold();
        let printed = opts.printed_at();
        let title = opts.names.title(self);
        let month = self.param_value("month").unwrap_or_default();
        let mut used: Vec<String> = Vec::new();
        for t in &self.tables {
            let shown = if opts.ids {
                present_ids(t)
            } else {
                present(t, &opts.names, t.totals)
            };
            let ws = wb.add_worksheet();
            let sheet = if opts.ids {
                t.name.as_str()
            } else {
                t.title.as_str()
            };
            ws.set_name(sheet_name(sheet, &mut used))?;
            let ncols = shown.columns.len().max(1) as u16;
            let last = ncols - 1;
            // Title, then region / month / print time.
            let heading = format!("{title} — {}", t.title);
            if last > 0 {
                ws.merge_range(0, 0, 0, last, &heading, &title_f)?;
                ws.merge_range(1, 0, 1, last, "", &sub_f)?;
            } else {
                ws.write_string_with_format(0, 0, &heading, &title_f)?;
            }
            let mut sub = Vec::new();
            if let Some(r) = opts.region.as_deref().filter(|r| !r.is_empty()) {
                sub.push(format!("地区：{r}"));
            }
            if !month.is_empty() {
                sub.push(format!("月份：{month}"));
            }
            if let Some(h) = self.param_value("hospital") {
                sub.push(format!("医疗机构：{}", opts.names.hospital_scope(&h)));
            }
            // The report's other parameters (period end, disease group,
            // check result, …) in words.
            for (k, v) in &self.params {
                if matches!(k.as_str(), "month" | "hospital") || v.is_empty() {
                    continue;
                }
                let (k, v) = if opts.ids {
                    (k.clone(), v.clone())
                } else {
                    (param_label(k).to_string(), opts.names.param_value(k, v))
                };
                sub.push(format!("{k}：{v}"));
            }
            sub.push(format!("打印时间：{printed}"));
            sub.push("金额单位：元".into());
            ws.write_string_with_format(1, 0, sub.join("　　"), &sub_f)?;
            ws.set_row_height(0, 24)?;
            // Header.
            const HEAD: u32 = 2;
            let mut widths: Vec<usize> = vec![4; ncols as usize];
            for (c, col) in shown.columns.iter().enumerate() {
                ws.write_string_with_format(HEAD, c as u16, &col.label, &head_f)?;
                // a header wraps: it asks for at most 10 wide
                widths[c] = widths[c].max(display_width(&col.label).min(10));
            }
            // Data.
            let mut r = HEAD + 1;
            for row in &shown.rows {
                for (c, v) in row.cells.iter().enumerate() {
                    let col = c as u16;
                    let pick = |f: &XFormat| if row.total { bold(f) } else { f.clone() };
                    let shown_text = match v {
                        Value::Text(s) => {
                            ws.write_string_with_format(r, col, s, &pick(&text_f))?;
                            s.clone()
                        }
                        Value::Int(i) => {
                            ws.write_number_with_format(r, col, *i as f64, &pick(&int_f))?;
                            group_thousands(&i.to_string())
                        }
                        Value::Money(d) => {
                            // The exact two-decimal literal, read as the
                            // nearest double: a spreadsheet shows the same.
                            let x: f64 = fmt2(*d).parse().unwrap_or(0.0);
                            ws.write_number_with_format(r, col, x, &pick(&money_f))?;
                            group_thousands(&fmt2(*d))
                        }
                        Value::Ratio(_) => {
                            let x: f64 = v.to_text().parse().unwrap_or(0.0);
                            ws.write_number_with_format(r, col, x, &pick(&ratio_f))?;
                            "100.00%".into()
                        }
                        Value::Empty => {
                            ws.write_blank(r, col, &pick(&cell))?;
                            String::new()
                        }
                    };
                    widths[c] = widths[c].max(display_width(&shown_text));
                }
                r += 1;
            }
            if shown.rows.is_empty() {
                ws.write_string(r, 0, "（无数据）")?;
                r += 1;
            }
            // Signatures.
            r += 1;
            let sigs = ["制表：", "审核：", "负责人："];
            let step = (ncols as usize / 3).max(1);
            for (i, sig) in sigs.iter().enumerate() {
                let c = ((i * step) as u16).min(last);
                let text = format!("{sig}＿＿＿＿＿＿");
                if i > 0 && (i * step) as u16 > last {
                    // too few columns: one cell each, downwards
                    ws.write_string(r + i as u32, 0, &text)?;
                } else {
                    ws.write_string(r, c, &text)?;
                }
            }
            ws.write_string(r + 2, 0, format!("打印时间：{printed}"))?;
            for (c, w) in widths.iter().enumerate() {
                ws.set_column_width(c as u16, (*w as f64 + 1.5).min(60.0))?;
            }
            ws.set_row_height(HEAD, 44)?;
            ws.set_freeze_panes(HEAD + 1, 0)?;
            ws.set_landscape();
            ws.set_paper_size(9);
            ws.set_print_fit_to_pages(1, 0);
            ws.set_repeat_rows(HEAD, HEAD)?;
            ws.set_print_center_horizontally(true);
            ws.set_margins(0.4, 0.4, 0.5, 0.6, 0.3, 0.3);
            ws.set_footer("&C第 &P 页，共 &N 页");
        }
        // For scripts, a sheet of the parameters; people find them in
        // each sheet's second row (and a workbook prints as its tables).
        if opts.ids {
            let ws = wb.add_worksheet();
            ws.set_name(sheet_name(
                if opts.ids { "report" } else { "报表说明" },
                &mut used,
            ))?;
            ws.write_string_with_format(0, 0, &title, &bold(&sub_f))?;
            let mut r = 1;
            for (k, v) in &self.params {
                let (k, v) = if opts.ids {
                    (k.clone(), v.clone())
                } else {
                    (param_label(k).to_string(), opts.names.param_value(k, v))
                };
                ws.write_string(r, 0, &k)?;
                ws.write_string_with_format(r, 1, &v, &XFormat::new().set_num_format("@"))?;
                r += 1;
            }
            ws.write_string(
                r,
                0,
                if opts.ids {
                    "printed_at"
                } else {
                    "打印时间"
                },
            )?;
            ws.write_string(r, 1, &printed)?;
            r += 2;
            ws.write_string_with_format(
                r,
                0,
                if opts.ids { "sheet" } else { "工作表" },
                &bold(&sub_f),
            )?;
            ws.write_string_with_format(
                r,
                1,
                if opts.ids { "title" } else { "内容" },
                &bold(&sub_f),
            )?;
            for (i, n) in used.iter().take(self.tables.len()).enumerate() {
                ws.write_string(r + 1 + i as u32, 0, n)?;
                ws.write_string(r + 1 + i as u32, 1, &self.tables[i].title)?;
            }
            ws.set_column_width(0, 16)?;
            ws.set_column_width(1, 60)?;
            ws.set_paper_size(9);
            ws.set_print_fit_to_pages(1, 1);
        }
        Ok(wb.save_to_buffer()?)
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
            crate::storage::now_china()
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
    }
}

/// Names for ids: from the policies (categories, medical types, layers)
/// and the hospital directory.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub hospitals: BTreeMap<String, String>,
    pub categories: BTreeMap<String, String>,
    pub medical_types: BTreeMap<String, String>,
    pub layers: BTreeMap<String, String>,
}

impl Names {
    /// From the policies' labels and the hospital directory.
    pub fn new(
        labels: &super::Labels,
        hospitals: impl IntoIterator<Item = (String, String)>,
    ) -> Names {
        Names {
            hospitals: hospitals.into_iter().collect(),
            categories: labels.categories.clone(),
            medical_types: labels.medical_types.clone(),
            layers: labels.layers.clone(),
        }
    }

    /// The report's title with its hospital code replaced by the name.
    pub fn title(&self, r: &Report) -> String {
        match r.param_value("hospital") {
            Some(h) if h != "all" && !h.is_empty() => match self.hospitals.get(&h) {
                Some(name) => r.title.replace(&format!("（{h}）"), &format!("（{name}）")),
                None => r.title.clone(),
            },
            _ => r.title.replace("（all）", "（全部医疗机构）"),
        }
    }

    fn hospital_scope(&self, h: &str) -> String {
        if h.is_empty() || h == "all" {
            return "全部".into();
        }
        match self.hospitals.get(h) {
            Some(n) => format!("{n}（{h}）"),
            None => h.to_string(),
        }
    }

    fn param_value(&self, key: &str, v: &str) -> String {
        match key {
            "hospital" => self.hospital_scope(v),
            _ => self.value(key, v).unwrap_or_else(|| v.to_string()),
        }
    }

    /// The name of `v` in a column `key`, where one is known.
    pub fn value(&self, key: &str, v: &str) -> Option<String> {
        let fixed = match (key, v) {
            ("section" | "kind", "settlement") => "结算",
            ("section" | "kind", "reversal") => "冲红",
            ("section" | "kind", "net") => "净额",
            ("payer", p) => return Some(payer_label_or(p).to_string()),
            ("kind", "payer") => "支付方",
            ("kind", "layer") => "支付层",
            ("kind", "fund") => "基金合计",
            ("status" | "result", "match") => "一致",
            ("status" | "result", "differs") => "不一致",
            ("status" | "result", "not_reported") => "医院未报",
            ("status" | "result", "unknown") => "中心无此项",
            ("status" | "result", "missing_in_hospital") => "医院缺少",
            ("status" | "result", "missing_in_centre") => "中心缺少",
            ("status" | "result", "duplicate") => "医院重复",
            ("status" | "result", "in_both") => "两边都有",
            ("status" | "result", "only_a") => "仅在甲名单",
            ("status" | "result", "only_b") => "仅在乙名单",
            ("status" | "result", "conflict") => "信息不一致",
            ("status", "open") => "未结账",
            ("status", "closed") => "已结账",
            ("ledger", "waivers") => "七免一减",
            ("ledger", "major-disease") => "大病救治",
            ("ledger", "floor") => "兜底保障",
            ("mode", "preview") => "预览（未执行）",
            ("mode", "confirmed") => "已执行",
            ("action", "close") => "结账",
            ("action", "reopen") => "重新开账",
            ("category" | "primary_category" | "categories", c) => {
                if c.is_empty() {
                    return None;
                }
                return Some(
                    c.split(',')
                        .map(|x| {
                            self.categories
                                .get(x)
                                .cloned()
                                .unwrap_or_else(|| x.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join("、"),
                );
            }
            ("medical_type", m) => return self.medical_types.get(m).cloned(),
            ("layer_id" | "layer", l) => return self.layers.get(l).cloned(),
            (k, t) if k == "at" || k.ends_with("_at") => {
                // Stored timestamps: China time, to the minute.
                return chrono::DateTime::parse_from_rfc3339(t).ok().map(|x| {
                    x.with_timezone(&crate::storage::china_offset())
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                });
            }
            _ => return None,
        };
        Some(fixed.to_string())
    }
}

/// The payer's name as printed.
pub fn payer_label(payer: &str) -> &'static str {
    match payer {
        "insurance" => "医疗保险",
        "aid" => "医疗救助",
        "government" => "政府兜底",
        "charity" => "慈善救助",
        "hospital" => "医院减免",
        "fund" => "基金合计",
        "patient" => "个人自付",
        _ => "其他",
    }
}

/// A payer's name, or the text itself when it names no payer.
pub fn payer_label_or(p: &str) -> &str {
    match payer_label(p) {
        "其他" => p,
        l => l,
    }
}

fn param_label(k: &str) -> &str {
    match k {
        "month" => "月份",
        "to" => "截至月份",
        "from" => "起始",
        "hospital" => "医疗机构",
        "result" => "结果",
        "group" => "病种组",
        "on" => "比对日期",
        "kind" => "类型",
        "status" => "状态",
        "persons" => "人员",
        "period" => "期间",
        "ledger" => "台账",
        "mode" => "方式",
        "settlements" => "结算笔数",
        "fields" => "比对项目",
        "closed_at" => "结账时间",
        "a" => "甲名单",
        "b" => "乙名单",
        _ => k,
    }
}

/// A row as shown: its cells and whether it is a 合计 row.
struct ShownRow {
    cells: Vec<Value>,
    total: bool,
}

struct Shown {
    columns: Vec<Column>,
    rows: Vec<ShownRow>,
}

fn present_ids(t: &Table) -> Shown {
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

/// A table as people read it: names for ids (the id column left out where
/// a name column stands beside it), a name column after each hospital
/// code, `*` total markers blanked, and 合计 rows when `totals`.
fn present(t: &Table, names: &Names, totals: bool) -> Shown {
    // Which source column each shown column comes from, and how.
    enum Src {
        Col(usize),
        /// A name column, falling back to the id column when empty.
        NameOr(usize, usize),
        HospitalName(usize),
    }
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
    let section = t.col_index("section");
    let show = |row: &[Value]| -> Vec<Value> {
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
    };
    let mut rows = Vec::with_capacity(t.rows.len() + 3);
    let label_at = cols
        .iter()
        .position(|(c, _)| c.ty == ColType::Text)
        .unwrap_or(0);
    let total_row = |from: &[Vec<Value>], label: String| -> ShownRow {
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
    };
    let mut start = 0;
    for (k, row) in t.rows.iter().enumerate() {
        rows.push(ShownRow {
            cells: show(row),
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
            rows.push(total_row(&t.rows[start..=k], label));
            start = k + 1;
        }
    }
    Shown {
        columns: cols.into_iter().map(|(c, _)| c).collect(),
        rows,
    }
}

/// A CSV text cell as people's CSV writes it. One that Excel would not
/// keep as typed — an ID number or code of digits (`411303195003030011`
/// becomes `4.11303E+17`), a date or month (`2017-05` becomes a date) —
/// gets a leading tab: Excel (also on a Chinese Windows, where a
/// double-click opens the file with the system's settings) and WPS then
/// keep the cell as the text it is, shown without a visible mark; unlike
/// `="…"` it is no formula (nothing to evaluate, and readers that do not
/// evaluate formulas see no `="`), and CSV readers that trim spaces
/// (medaid's own check inputs among them) read the plain value back. A
/// cell that would be read as a formula (`=`, `+`, `-`, `@`, a leading tab
/// or carriage return) is neutralised with `'` as in every CSV
/// ([`csv_safe`]): a tab there could be trimmed by some program and leave
/// the formula.
pub fn protect(s: &str) -> String {
    match s.chars().next() {
        Some(c) if c.is_ascii_digit() || c == '.' => format!("\t{s}"),
        _ => csv_safe(s),
    }
}

/// Columns a text takes in a spreadsheet: CJK and full-width characters
/// count two.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `1234567.89` → `1,234,567.89`.
fn group_thousands(s: &str) -> String {
    let (sign, digits) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
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
