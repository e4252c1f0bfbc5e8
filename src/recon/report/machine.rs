//! The formats for programs: JSON, XML and CSV with machine ids and
//! column keys.

use super::cells::{csv_safe, xml_safe};
use super::{RenderError, Report, Value};

impl Report {
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

    pub(super) fn to_json_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(&self.to_json()).unwrap_or_default();
        v.push(b'\n');
        v
    }

    pub(super) fn to_csv(&self) -> Result<Vec<u8>, RenderError> {
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

    pub(super) fn to_xml(&self) -> Result<Vec<u8>, RenderError> {
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
}
