//! A small, uniform view of a parsed TOML document that keeps line numbers.
//!
//! TOML has several spellings for the same thing (a `[layers.deductible]`
//! sub-table is the same as an inline `deductible = {…}`); the policy
//! validator wants one shape, with the line of every value so that its errors
//! can point at the file.

use toml_edit::{ImDocument, Item, Value};

/// One TOML value with the (1-based) line it starts on, when known.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub line: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Str(String),
    Int(i64),
    /// A float, kept as the literal text so that it converts to a decimal
    /// exactly (`0.9` is 0.9, not 0.900000000000000022…).
    Float(String),
    #[allow(dead_code)] // kept so a boolean is reported as one
    Bool(bool),
    /// A TOML date or date-time, as written.
    Date(String),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Str(_) => "a string",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a float",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Date(_) => "a date",
            NodeKind::Array(_) => "an array",
            NodeKind::Table(_) => "a table",
        }
    }

    pub fn as_table(&self) -> Option<&[(String, Node)]> {
        match &self.kind {
            NodeKind::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_table()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// A TOML syntax error, with its line.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub line: Option<usize>,
    pub message: String,
}

/// Parse TOML text into a [`Node`] tree (the root is a table).
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let doc = ImDocument::parse(text).map_err(|e| SyntaxError {
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    Ok(convert_item(text, doc.as_item()).unwrap_or(Node {
        kind: NodeKind::Table(Vec::new()),
        line: None,
    }))
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn convert_item(text: &str, item: &Item) -> Option<Node> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(convert_value(text, v)),
        Item::Table(t) => {
            let entries = t
                .iter()
                .filter_map(|(k, v)| convert_item(text, v).map(|n| (k.to_string(), n)))
                .collect();
            Some(Node {
                kind: NodeKind::Table(entries),
                line: t.span().map(|s| line_of(text, s.start)),
            })
        }
        Item::ArrayOfTables(a) => {
            let elems = a
                .iter()
                .map(|t| {
                    let entries = t
                        .iter()
                        .filter_map(|(k, v)| convert_item(text, v).map(|n| (k.to_string(), n)))
                        .collect();
                    Node {
                        kind: NodeKind::Table(entries),
                        line: t.span().map(|s| line_of(text, s.start)),
                    }
                })
                .collect();
            Some(Node {
                kind: NodeKind::Array(elems),
                line: a.span().map(|s| line_of(text, s.start)),
            })
        }
    }
}

fn convert_value(text: &str, v: &Value) -> Node {
    let line = v.span().map(|s| line_of(text, s.start));
    let kind = match v {
        Value::String(s) => NodeKind::Str(s.value().clone()),
        Value::Integer(i) => NodeKind::Int(*i.value()),
        Value::Float(f) => NodeKind::Float(
            v.span()
                .and_then(|s| text.get(s))
                .map(|s| s.trim().replace('_', ""))
                .unwrap_or_else(|| f.value().to_string()),
        ),
        Value::Boolean(b) => NodeKind::Bool(*b.value()),
        Value::Datetime(d) => NodeKind::Date(d.value().to_string()),
        Value::Array(a) => NodeKind::Array(a.iter().map(|x| convert_value(text, x)).collect()),
        Value::InlineTable(t) => NodeKind::Table(
            t.iter()
                .map(|(k, x)| (k.to_string(), convert_value(text, x)))
                .collect(),
        ),
    };
    Node { kind, line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_unifies_tables() {
        let t = "[a]\nx = 1\n[a.sub]\ny = \"s\"\n[b]\nsub = { y = \"s\" }\nf = 0.90\n";
        let n = parse(t).unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(a.get("x").unwrap().line, Some(2));
        assert!(matches!(
            a.get("sub").unwrap().get("y").unwrap().kind,
            NodeKind::Str(_)
        ));
        let b = n.get("b").unwrap();
        assert!(matches!(
            b.get("sub").unwrap().get("y").unwrap().kind,
            NodeKind::Str(_)
        ));
        match &b.get("f").unwrap().kind {
            NodeKind::Float(s) => assert_eq!(s, "0.90"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_error_has_line() {
        let e = parse("a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(e.line, Some(2));
    }
}
