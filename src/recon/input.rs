//! Reading what hospitals and other offices send: CSV (header row), JSON
//! (an array of objects, or one object) or XML (each child of the root is a
//! row; its child elements and attributes are fields). Every row becomes a
//! map of field name → text; the checks canonicalise the names.

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One row of an input file.
pub type Row = BTreeMap<String, String>;

/// The shape of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    Json,
    Xml,
}

impl InputFormat {
    /// Guess from the content: `<` → XML, `{`/`[` → JSON, else CSV.
    pub fn sniff(bytes: &[u8]) -> InputFormat {
        let t = bytes
            .strip_prefix(&[0xEF, 0xBB, 0xBF])
            .unwrap_or(bytes)
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        match t {
            Some(b'<') => InputFormat::Xml,
            Some(b'{') | Some(b'[') => InputFormat::Json,
            _ => InputFormat::Csv,
        }
    }
}

/// Read the rows of `bytes` (format sniffed).
pub fn read_rows(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match InputFormat::sniff(bytes) {
        InputFormat::Csv => read_csv(bytes),
        InputFormat::Json => read_json(bytes),
        InputFormat::Xml => read_xml(bytes),
    }
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| format!("csv header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("csv line {}: {e}", i + 2))?;
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rec.len() > headers.len() {
            return Err(format!(
                "csv line {}: {} fields, the header has {}",
                i + 2,
                rec.len(),
                headers.len()
            ));
        }
        let mut row = Row::new();
        for (h, v) in headers.iter().zip(rec.iter()) {
            row.insert(h.clone(), super::report::unneutralize(v.trim()).to_string());
        }
        out.push(row);
    }
    Ok(out)
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn read_json(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("json: {e}"))?;
    let rows = match v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(ref o) => {
            // {"rows": [...]} / {"details": [...]} or one flat object.
            match o.values().find_map(|x| x.as_array()) {
                Some(a) if o.len() == 1 => a.clone(),
                _ => vec![v],
            }
        }
        _ => return Err("json: expected an array of objects or an object".into()),
    };
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let o = r
            .as_object()
            .ok_or_else(|| format!("json: row {i} is not an object"))?;
        let mut row = Row::new();
        for (k, v) in o {
            match v {
                // {"funds": {"390100": "1.00"}} or [{"fund_pay_type", "fund_payamt"}]
                serde_json::Value::Object(inner) => {
                    for (k2, v2) in inner {
                        row.insert(k2.clone(), json_text(v2));
                    }
                }
                serde_json::Value::Array(items) => {
                    for it in items {
                        if let Some(o2) = it.as_object() {
                            let code = o2
                                .get("fund_pay_type")
                                .or_else(|| o2.get("fund_code"))
                                .or_else(|| o2.get("code"));
                            let amt = o2
                                .get("fund_payamt")
                                .or_else(|| o2.get("amount"))
                                .or_else(|| o2.get("paid"));
                            if let (Some(c), Some(a)) = (code, amt) {
                                row.insert(json_text(c), json_text(a));
                            }
                        }
                    }
                }
                other => {
                    row.insert(k.clone(), json_text(other));
                }
            }
        }
        out.push(row);
    }
    Ok(out)
}

/// XML: the root's children are rows. In a row, `<name>text</name>` and
/// attributes are fields; `<fund code="390100">1.00</fund>` and
/// `<setldetail><fund_pay_type>390100</fund_pay_type><fund_payamt>1.00</fund_payamt></setldetail>`
/// give the fund's amount under its code. A root whose children have no
/// children of their own is one row.
fn read_xml(bytes: &[u8]) -> Result<Vec<Row>, String> {
    use quick_xml::events::Event;
    #[derive(Default, Debug)]
    struct Node {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
        children: Vec<Node>,
    }
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    let attrs_of = |e: &quick_xml::events::BytesStart| -> Result<Vec<(String, String)>, String> {
        let mut v = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| format!("xml: {e}"))?;
            let k = String::from_utf8_lossy(a.key.local_name().as_ref()).to_string();
            let val = a
                .unescape_value()
                .map_err(|e| format!("xml: {e}"))?
                .to_string();
            v.push((k, val));
        }
        Ok(v)
    };
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("xml at byte {}: {e}", reader.buffer_position()))?;
        match ev {
            Event::Start(e) => stack.push(Node {
                name: String::from_utf8_lossy(e.local_name().as_ref()).to_string(),
                attrs: attrs_of(&e)?,
                ..Node::default()
            }),
            Event::Empty(e) => {
                let n = Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).to_string(),
                    attrs: attrs_of(&e)?,
                    ..Node::default()
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| format!("xml: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("xml: unbalanced")?;
                match stack.last_mut() {
                    Some(top) => top.children.push(n),
                    None => return Err("xml: unbalanced".into()),
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let doc = stack.pop().ok_or("xml: empty")?;
    let root = doc
        .children
        .into_iter()
        .next()
        .ok_or("xml: no root element")?;
    fn fields(n: &Node, row: &mut Row) {
        for (k, v) in &n.attrs {
            row.insert(k.clone(), v.clone());
        }
        for c in &n.children {
            let code = c
                .attrs
                .iter()
                .find(|(k, _)| k == "code" || k == "fund_code" || k == "fund_pay_type")
                .map(|(_, v)| v.clone());
            if let Some(code) = code.filter(|_| c.children.is_empty()) {
                row.insert(code, c.text.trim().to_string());
            } else if c.children.is_empty() {
                row.insert(c.name.clone(), c.text.trim().to_string());
            } else {
                let get = |names: &[&str]| {
                    c.children
                        .iter()
                        .find(|x| names.contains(&x.name.as_str()))
                        .map(|x| x.text.trim().to_string())
                };
                match (
                    get(&["fund_pay_type", "fund_code", "code"]),
                    get(&["fund_payamt", "amount", "paid"]),
                ) {
                    (Some(code), Some(amt)) => {
                        row.insert(code, amt);
                    }
                    _ => fields(c, row),
                }
            }
        }
    }
    let is_row = |n: &Node| !n.children.is_empty() || !n.attrs.is_empty();
    let rows: Vec<&Node> = root.children.iter().filter(|c| is_row(c)).collect();
    if rows.is_empty()
        || root.children.iter().all(|c| {
            c.children.is_empty() && c.attrs.iter().all(|(k, _)| k == "code" || k == "fund_code")
        })
    {
        let mut row = Row::new();
        fields(&root, &mut row);
        return Ok(vec![row]);
    }
    Ok(rows
        .into_iter()
        .map(|n| {
            let mut row = Row::new();
            fields(n, &mut row);
            row
        })
        .collect())
}

/// A signed amount with at most two decimals (`-12.50`); empty is `None`.
pub fn parse_signed(s: &str) -> Result<Option<Decimal>, String> {
    let t = s.trim().replace(',', "");
    if t.is_empty() {
        return Ok(None);
    }
    let d = Decimal::from_str(&t).map_err(|_| format!("not an amount: {s:?}"))?;
    if d.normalize().scale() > 2 {
        return Err(format!("more than two decimals: {s:?}"));
    }
    Ok(Some(d))
}

/// The canonical name of a field a hospital file may use.
pub fn canon_field(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    let n = n
        .strip_prefix("fund_")
        .filter(|r| is_fund_code(r))
        .unwrap_or(&n);
    match n {
        "claim_id" | "mdtrt_id" | "claim" => "claim_id",
        "settlement_id" | "setl_id" => "settlement_id",
        "hospital" | "fixmedins_code" => "hospital",
        "kind" | "refd_setl_flag" | "status" => "kind",
        "count" | "fixmedins_setl_cnt" | "setl_cnt" | "settlements" => "count",
        "total" | "medfee_sumamt" => "total",
        "hospital_waived" | "hosp_part_amt" | "630100" => "hospital_waived",
        "fund_paid" | "fund_pay_sumamt" => "fund_paid",
        "patient_payable" | "psn_part_amt" => "patient_payable",
        "fully_self_pay" | "fulamt_ownpay_amt" => "fully_self_pay",
        "over_limit" | "overlmt_selfpay" => "over_limit",
        "self_pay_first" | "preselfpay_amt" => "self_pay_first",
        "in_policy" | "inscp_scp_amt" => "in_policy",
        "hifp_pay" => "390100",
        "hifmi_pay" => "390200",
        "hifob_pay" => "390300",
        "maf_pay" => "610100",
        "oth_pay" => "oth_pay",
        other => other,
    }
    .to_string()
}

/// Six digits: a national fund type (`fund_pay_type`).
pub fn is_fund_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_shapes() {
        let csv = read_rows(b"claim_id,total,390100\nA,1.00,0.50\n").unwrap();
        assert_eq!(csv[0]["390100"], "0.50");
        let json =
            read_rows(br#"[{"claim_id":"A","total":"1.00","funds":{"390100":"0.50"}}]"#).unwrap();
        assert_eq!(json[0]["390100"], "0.50");
        let xml = read_rows(
            br#"<details><detail><claim_id>A</claim_id><total>1.00</total><fund code="390100">0.50</fund>
                <setldetail><fund_pay_type>610100</fund_pay_type><fund_payamt>0.20</fund_payamt></setldetail></detail>
                <detail claim_id="B"><total>2.00</total></detail></details>"#,
        )
        .unwrap();
        assert_eq!(xml.len(), 2);
        assert_eq!(xml[0]["390100"], "0.50");
        assert_eq!(xml[0]["610100"], "0.20");
        assert_eq!(xml[1]["claim_id"], "B");
        let flat =
            read_rows(br#"<totals><fund code="390100">5.00</fund><total>9.00</total></totals>"#)
                .unwrap();
        assert_eq!(flat.len(), 1);
        assert_eq!(flat[0]["390100"], "5.00");
        assert_eq!(canon_field("fund_390100"), "390100");
        assert_eq!(canon_field("MEDFEE_SUMAMT"), "total");
        assert_eq!(parse_signed("-1.5").unwrap().unwrap().to_string(), "-1.5");
        assert!(parse_signed("1.005").is_err());
    }
}
