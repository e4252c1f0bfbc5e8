//! Cells as they are written into CSV and XML: protected from
//! spreadsheets' conversions and formulas, and valid XML text.

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
