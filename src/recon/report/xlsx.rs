//! The workbook for people (or scripts): one sheet per table with a
//! title, the parameters, borders, number formats, 合计 rows and
//! signature lines, laid out to print on A4.

use super::names::param_label;
use super::people::{present, present_ids, Shown};
use super::{RenderError, RenderOptions, Report, Value};
use crate::money::fmt2;
use rust_xlsxwriter::{Format as XFormat, FormatAlign, FormatBorder, Workbook, Worksheet};

/// The cell formats of a report's workbook.
struct Formats {
    title: XFormat,
    sub: XFormat,
    head: XFormat,
    cell: XFormat,
    text: XFormat,
    int: XFormat,
    money: XFormat,
    ratio: XFormat,
}

impl Formats {
    fn new() -> Formats {
        let cell = XFormat::new().set_border(FormatBorder::Thin);
        Formats {
            title: XFormat::new()
                .set_bold()
                .set_font_size(14)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            sub: XFormat::new().set_font_size(10),
            head: XFormat::new()
                .set_bold()
                .set_border(FormatBorder::Thin)
                .set_background_color(0xE8E8E8)
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            text: cell.clone().set_num_format("@"),
            int: cell.clone().set_num_format("#,##0"),
            money: cell.clone().set_num_format("#,##0.00"),
            ratio: cell.clone().set_num_format("0.00%"),
            cell,
        }
    }
}

fn bold(f: &XFormat) -> XFormat {
    f.clone().set_bold()
}

/// The header row: it repeats on every printed page.
const HEAD: u32 = 2;

impl Report {
    pub(super) fn to_xlsx(&self, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        let mut wb = Workbook::new();
        let f = Formats::new();
        let printed = opts.printed_at();
        let title = opts.names.title(self);
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
            let heading = format!("{title} — {}", t.title);
            self.write_sheet_heading(ws, &heading, ncols, opts, &f, &printed)?;
            let (r, widths) = write_sheet_table(ws, &shown, ncols, &f)?;
            finish_sheet(ws, r, &widths, ncols, &printed)?;
        }
        // For scripts, a sheet of the parameters; people find them in
        // each sheet's second row (and a workbook prints as its tables).
        if opts.ids {
            self.write_params_sheet(&mut wb, opts, &f, (&title, &printed), &mut used)?;
        }
        Ok(wb.save_to_buffer()?)
    }

    /// The sheet's title row, then region / month / hospital / the other
    /// parameters / print time in one row.
    fn write_sheet_heading(
        &self,
        ws: &mut Worksheet,
        heading: &str,
        ncols: u16,
        opts: &RenderOptions,
        f: &Formats,
        printed: &str,
    ) -> Result<(), RenderError> {
        let last = ncols - 1;
        if last > 0 {
            ws.merge_range(0, 0, 0, last, heading, &f.title)?;
            ws.merge_range(1, 0, 1, last, "", &f.sub)?;
        } else {
            ws.write_string_with_format(0, 0, heading, &f.title)?;
        }
        let month = self.param_value("month").unwrap_or_default();
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
        ws.write_string_with_format(1, 0, sub.join("　　"), &f.sub)?;
        ws.set_row_height(0, 24)?;
        Ok(())
    }

    /// The parameters sheet of a workbook for scripts.
    fn write_params_sheet(
        &self,
        wb: &mut Workbook,
        opts: &RenderOptions,
        f: &Formats,
        (title, printed): (&str, &str),
        used: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(
            if opts.ids { "report" } else { "报表说明" },
            used,
        ))?;
        ws.write_string_with_format(0, 0, title, &bold(&f.sub))?;
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
        ws.write_string(r, 1, printed)?;
        r += 2;
        ws.write_string_with_format(
            r,
            0,
            if opts.ids { "sheet" } else { "工作表" },
            &bold(&f.sub),
        )?;
        ws.write_string_with_format(r, 1, if opts.ids { "title" } else { "内容" }, &bold(&f.sub))?;
        for (i, n) in used.iter().take(self.tables.len()).enumerate() {
            ws.write_string(r + 1 + i as u32, 0, n)?;
            ws.write_string(r + 1 + i as u32, 1, &self.tables[i].title)?;
        }
        ws.set_column_width(0, 16)?;
        ws.set_column_width(1, 60)?;
        ws.set_paper_size(9);
        ws.set_print_fit_to_pages(1, 1);
        Ok(())
    }
}

/// The header and the data rows; returns the row after the data and each
/// column's width (from its widest cell as shown).
fn write_sheet_table(
    ws: &mut Worksheet,
    shown: &Shown,
    ncols: u16,
    f: &Formats,
) -> Result<(u32, Vec<usize>), RenderError> {
    let mut widths: Vec<usize> = vec![4; ncols as usize];
    for (c, col) in shown.columns.iter().enumerate() {
        ws.write_string_with_format(HEAD, c as u16, &col.label, &f.head)?;
        // a header wraps: it asks for at most 10 wide
        widths[c] = widths[c].max(display_width(&col.label).min(10));
    }
    let mut r = HEAD + 1;
    for row in &shown.rows {
        for (c, v) in row.cells.iter().enumerate() {
            let shown_text = write_cell(ws, r, c as u16, v, row.total, f)?;
            widths[c] = widths[c].max(display_width(&shown_text));
        }
        r += 1;
    }
    if shown.rows.is_empty() {
        ws.write_string(r, 0, "（无数据）")?;
        r += 1;
    }
    Ok((r, widths))
}

/// One data cell, bold in a 合计 row; returns the text a spreadsheet
/// shows for it (for the column width).
fn write_cell(
    ws: &mut Worksheet,
    r: u32,
    col: u16,
    v: &Value,
    total: bool,
    f: &Formats,
) -> Result<String, RenderError> {
    let pick = |x: &XFormat| if total { bold(x) } else { x.clone() };
    Ok(match v {
        Value::Text(s) => {
            ws.write_string_with_format(r, col, s, &pick(&f.text))?;
            s.clone()
        }
        Value::Int(i) => {
            ws.write_number_with_format(r, col, *i as f64, &pick(&f.int))?;
            group_thousands(&i.to_string())
        }
        Value::Money(d) => {
            // The exact two-decimal literal, read as the
            // nearest double: a spreadsheet shows the same.
            let x: f64 = fmt2(*d).parse().unwrap_or(0.0);
            ws.write_number_with_format(r, col, x, &pick(&f.money))?;
            group_thousands(&fmt2(*d))
        }
        Value::Ratio(_) => {
            let x: f64 = v.to_text().parse().unwrap_or(0.0);
            ws.write_number_with_format(r, col, x, &pick(&f.ratio))?;
            "100.00%".into()
        }
        Value::Empty => {
            ws.write_blank(r, col, &pick(&f.cell))?;
            String::new()
        }
    })
}

/// Signature lines under the data, column widths, and the print layout:
/// landscape A4 fitted to the page width, header repeated, page numbers.
fn finish_sheet(
    ws: &mut Worksheet,
    after_data: u32,
    widths: &[usize],
    ncols: u16,
    printed: &str,
) -> Result<(), RenderError> {
    let last = ncols - 1;
    let r = after_data + 1;
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
    Ok(())
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
