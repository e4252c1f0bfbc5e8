//! Reading claims for a simulation: JSON lines (one claim per line, as
//! `medaid generate` writes and `medaid settle` reads), and, like `medaid
//! settle`, pretty-printed JSON documents one after another, a JSON array,
//! or one XML claim.
//!
//! JSON lines are read in blocks of a few megabytes and each block is parsed
//! in parallel, so a million claims parse in about a second on two cores.
//! Every claim goes through the engine's own parser
//! (`engine::claim::parse_json`), so a bad claim is refused with the same
//! message, naming the line, the claim and the field, as `medaid settle`.

use super::{Builder, ClaimSet, Growth, Progress, SimClaim, SimError};
use crate::engine::claim::{self, ClaimError, Day, ItemClass, MAX_ITEMS};
use crate::money::{to_fen, Amount};
use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::Read;

/// Claims read from a file, compact, each with its (1-based) line.
#[derive(Debug, Default)]
pub struct Loaded {
    pub builder: Builder,
    pub claims: Vec<SimClaim>,
    /// Claims skipped with `keep_going` (all of them, by line).
    pub skipped: Vec<(usize, ClaimError)>,
}

impl Loaded {
    /// Apply growth and group by person.
    pub fn finish(self, growth: Growth) -> ClaimSet {
        self.builder.finish(self.claims, growth)
    }
}

// The fast path: the same fields, types and defaults as the engine's
// `Claim`, but text borrowed from the line, so that a claim costs a few
// allocations instead of thirty. It accepts exactly what
// `engine::claim::parse_json` accepts (the amounts go through the engine's
// own `Amount`); whatever it refuses is parsed again by `parse_json`, which
// words the error (or, should it accept the claim after all, is used).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim<'a> {
    #[serde(borrow)]
    claim_id: Cow<'a, str>,
    #[serde(default, borrow, rename = "hospital")]
    _hospital: Cow<'a, str>,
    #[serde(default, borrow)]
    hospital_level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    person_id: Cow<'a, str>,
    #[serde(default, borrow)]
    categories: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    medical_type: Cow<'a, str>,
    admitted_on: FastDay,
    discharged_on: FastDay,
    #[serde(default, borrow)]
    diagnoses: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    items: Vec<RawItem<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem<'a> {
    #[serde(default, borrow, rename = "code")]
    _code: Cow<'a, str>,
    #[serde(default, borrow, rename = "name")]
    _name: Cow<'a, str>,
    #[serde(default, borrow)]
    kind: Cow<'a, str>,
    class: FastClass,
    amount: FastAmount,
    #[serde(default)]
    limit_amount: Option<FastAmount>,
}

/// An amount straight to fen: plain `123.45` text without a decimal, the
/// common case; anything else through the engine's own
/// `money::parse_amount` (and `Amount` for JSON numbers), so the accepted
/// values are the same.
struct FastAmount(i64);
impl<'de> Deserialize<'de> for FastAmount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FastAmount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an amount in yuan with at most two decimals")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FastAmount, E> {
                match fast_fen(v) {
                    Some(f) => Ok(FastAmount(f)),
                    None => crate::money::parse_amount(v)
                        .map(|d| FastAmount(to_fen(d)))
                        .map_err(E::custom),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FastAmount, E> {
                Amount::deserialize(serde::de::value::U64Deserializer::<E>::new(v))
                    .map(|a| FastAmount(to_fen(a.0)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FastAmount, E> {
                Amount::deserialize(serde::de::value::I64Deserializer::<E>::new(v))
                    .map(|a| FastAmount(to_fen(a.0)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FastAmount, E> {
                Amount::deserialize(serde::de::value::F64Deserializer::<E>::new(v))
                    .map(|a| FastAmount(to_fen(a.0)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<FastAmount, A::Error> {
                // A JSON number, read from its literal: the engine's reader.
                Amount::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|a| FastAmount(to_fen(a.0)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `"1234.5"` → 123450 fen; `None` for anything but 1–13 digits with an
/// optional point and one or two decimals.
fn fast_fen(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (b, &b[..0]),
    };
    let has_point = int.len() < b.len();
    if int.is_empty() || int.len() > 13 || (has_point && !(1..=2).contains(&frac.len())) {
        return None;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for c in int {
        v = v * 10 + (c - b'0') as i64;
    }
    v *= 100;
    match frac {
        [a] => v += (a - b'0') as i64 * 10,
        [a, b2] => v += (a - b'0') as i64 * 10 + (b2 - b'0') as i64,
        _ => {}
    }
    // money::parse_amount's ceiling: 10^12 yuan.
    (v <= 100_000_000_000_000).then_some(v)
}

/// `engine::claim::ItemClass` without allocating: the same accepted values.
struct FastClass(ItemClass);
impl<'de> Deserialize<'de> for FastClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FastClass;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("A, B or C")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FastClass, E> {
                match v.trim() {
                    "A" | "a" => Ok(FastClass(ItemClass::A)),
                    "B" | "b" => Ok(FastClass(ItemClass::B)),
                    "C" | "c" => Ok(FastClass(ItemClass::C)),
                    _ => Err(E::custom("unknown item class")),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// `engine::claim::Day` without allocating: `YYYY-MM-DD` directly, anything
/// else through the engine's own `Day`.
struct FastDay(NaiveDate);
impl<'de> Deserialize<'de> for FastDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FastDay;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<FastDay, E> {
                let b = s.as_bytes();
                let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
                if b.len() == 10
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && digits(0..4)
                    && digits(5..7)
                    && digits(8..10)
                {
                    let n = |r: std::ops::Range<usize>| {
                        b[r].iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32)
                    };
                    return NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10))
                        .map(FastDay)
                        .ok_or_else(|| E::custom("bad date"));
                }
                let day: Day =
                    Deserialize::deserialize(serde::de::value::StrDeserializer::<E>::new(s))?;
                Ok(FastDay(day.0))
            }
        }
        d.deserialize_str(V)
    }
}

/// Plain ids the engine's checks certainly accept (letters, digits, `-`,
/// `_`, `.`, not leading `-`); anything else is left to the engine.
fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The checks `parse_json` makes after deserialising (a subset: whatever
/// this refuses goes to `parse_json`, which decides).
fn shape_ok(c: &RawClaim) -> bool {
    plain_id(&c.claim_id)
        && plain_id(&c.person_id)
        && (c._hospital.is_empty() || plain_id(&c._hospital))
        && !c.items.is_empty()
        && c.items.len() <= MAX_ITEMS
        && c.discharged_on.0 >= c.admitted_on.0
}

/// Parse one JSON claim into its compact form.
pub(crate) fn parse_line(b: &Builder, text: &str, line: u32) -> Result<SimClaim, ClaimError> {
    if let Ok(c) = serde_json::from_str::<RawClaim>(text) {
        if shape_ok(&c) {
            return Ok(b.parts(
                &c.claim_id,
                &c.person_id,
                line,
                c.admitted_on.0,
                c.discharged_on.0,
                c.hospital_level.as_deref(),
                &c.categories,
                &c.medical_type,
                c.diagnoses.first().map(|d| &**d),
                c.items.iter().map(|it| {
                    (
                        it.class.0,
                        it.amount.0,
                        it.limit_amount.as_ref().map(|a| a.0),
                        &*it.kind,
                    )
                }),
            ));
        }
    }
    claim::parse_json(text).map(|c| b.claim(&c, line))
}

/// Read claims from `path` (`-` for stdin).
pub fn read_file(
    path: &std::path::Path,
    keep_going: bool,
    progress: &dyn Progress,
) -> Result<Loaded, SimError> {
    let name = path.display().to_string();
    let io = |source| SimError::Io {
        file: name.clone(),
        source,
    };
    if path.as_os_str() == "-" {
        return read(std::io::stdin().lock(), "stdin", 0, keep_going, progress);
    }
    let f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    read(f, &name, len, keep_going, progress)
}

const BLOCK: usize = 8 << 20;

/// Read claims from any reader; `len` (bytes, 0 if unknown) sizes the
/// progress bar.
pub fn read(
    mut input: impl Read,
    name: &str,
    len: u64,
    keep_going: bool,
    progress: &dyn Progress,
) -> Result<Loaded, SimError> {
    let io = |source| SimError::Io {
        file: name.to_string(),
        source,
    };
    progress.start("reading claims", len);
    let mut out = Loaded::default();
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 16));
    let mut line_no = 0usize; // lines before `buf`
    let mut mode: Option<bool> = None; // Some(true): JSON lines
    let mut eof = false;
    let mut whole: Vec<u8> = Vec::new();
    loop {
        // Fill the buffer to a block.
        while !eof && buf.len() < BLOCK {
            let start = buf.len();
            buf.resize(start + (1 << 20), 0);
            let n = input.read(&mut buf[start..]).map_err(io)?;
            buf.truncate(start + n);
            if n == 0 {
                eof = true;
            }
            progress.inc(n as u64);
        }
        if mode.is_none() {
            let first = buf.iter().position(|b| !b.is_ascii_whitespace());
            match first {
                None if eof => break,
                None => continue,
                Some(i) if buf[i] == b'{' => {
                    // JSON lines when the first record closes on its line.
                    let end = buf[i..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(buf.len(), |e| i + e);
                    let line = &buf[i..end];
                    let complete = serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok();
                    if complete || (end == buf.len() && eof) {
                        mode = Some(true);
                    } else if end == buf.len() && !eof {
                        // A single line longer than the block: keep reading.
                        mode = Some(true);
                    } else {
                        mode = Some(false);
                    }
                }
                Some(_) => mode = Some(false),
            }
        }
        if mode == Some(false) {
            whole.append(&mut buf);
            if eof {
                break;
            }
            continue;
        }
        // JSON lines: parse every complete line of the buffer.
        let cut = if eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => {
                    if buf.len() >= (1 << 30) {
                        return Err(SimError::Input(format!(
                            "{name}: line {} is longer than 1 GiB",
                            line_no + 1
                        )));
                    }
                    // one very long line: read more
                    let start = buf.len();
                    buf.resize(start + BLOCK, 0);
                    let n = input.read(&mut buf[start..]).map_err(io)?;
                    buf.truncate(start + n);
                    eof = n == 0;
                    progress.inc(n as u64);
                    continue;
                }
            }
        };
        let lines: Vec<(usize, &[u8])> = buf[..cut]
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, l)| (line_no + i + 1, l))
            .collect();
        let parsed: Vec<(usize, Result<SimClaim, ClaimError>)> = lines
            .par_iter()
            .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
            .map(|&(n, l)| {
                let r = match std::str::from_utf8(l) {
                    Ok(text) => parse_line(&out.builder, text.trim(), n as u32),
                    Err(e) => Err(ClaimError::new(None, "", format!("not UTF-8: {e}"))),
                };
                (n, r)
            })
            .collect();
        line_no += lines.len() - 1; // the newlines in buf[..cut]
        for (n, r) in parsed {
            match r {
                Ok(c) => out.claims.push(c),
                Err(error) if keep_going => out.skipped.push((n, error)),
                Err(error) => {
                    progress.finish();
                    return Err(SimError::Claim {
                        file: name.to_string(),
                        line: n,
                        error,
                    });
                }
            }
        }
        buf.drain(..cut);
        if eof && buf.is_empty() {
            break;
        }
    }
    if mode == Some(false) {
        read_documents(&whole, name, keep_going, &mut out)?;
    }
    progress.finish();
    Ok(out)
}

/// Pretty-printed JSON documents, a JSON array of claims, or one XML claim.
fn read_documents(
    bytes: &[u8],
    name: &str,
    keep_going: bool,
    out: &mut Loaded,
) -> Result<(), SimError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SimError::Input(format!("{name}: not UTF-8: {e}")))?;
    let start = text.len() - text.trim_start().len();
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |offset: usize| newlines.partition_point(|&n| n < offset) + 1;
    let (builder, claims, skipped) = (&out.builder, &mut out.claims, &mut out.skipped);
    let mut push =
        |line: usize, r: Result<crate::engine::Claim, ClaimError>| -> Result<(), SimError> {
            match r {
                Ok(c) => claims.push(builder.claim(&c, line as u32)),
                Err(error) if keep_going => skipped.push((line, error)),
                Err(error) => {
                    return Err(SimError::Claim {
                        file: name.to_string(),
                        line,
                        error,
                    })
                }
            }
            Ok(())
        };
    let body = &text[start..];
    if body.starts_with('<') {
        return push(line_at(start), claim::parse_xml(body));
    }
    if body.starts_with('[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(body).map_err(|e| SimError::Input(format!("{name}: {e}")))?;
        for (i, v) in values.into_iter().enumerate() {
            let t = v.to_string();
            let r = claim::parse_json(&t).map_err(|mut e| {
                e.path = if e.path.is_empty() {
                    format!("[{i}]")
                } else {
                    format!("[{i}].{}", e.path)
                };
                e
            });
            push(line_at(start), r)?;
        }
        return Ok(());
    }
    // Documents one after another: find their spans, then parse each.
    let mut spans = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(body).into_iter::<serde::de::IgnoredAny>();
    let mut from = 0usize;
    loop {
        match stream.next() {
            None => break,
            Some(Ok(_)) => {
                let to = stream.byte_offset();
                spans.push((from, to));
                from = to;
            }
            Some(Err(e)) => {
                // The documents cannot be told apart past this point.
                let lead = body[from..].len() - body[from..].trim_start().len();
                return Err(SimError::Claim {
                    file: name.to_string(),
                    line: line_at(start + from + lead),
                    error: ClaimError::new(None, "", format!("not a JSON claim: {e}")),
                });
            }
        }
    }
    let parsed: Vec<(usize, Result<crate::engine::Claim, ClaimError>)> = spans
        .par_iter()
        .map(|&(a, b)| {
            let doc = &body[a..b];
            let lead = doc.len() - doc.trim_start().len();
            (line_at(start + a + lead), claim::parse_json(doc.trim()))
        })
        .collect();
    for (line, r) in parsed {
        push(line, r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::NoProgress;

    const CLAIM: &str = include_str!("../../fixtures/design/claim.json");

    fn one_line() -> String {
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(CLAIM).unwrap()).unwrap()
    }

    #[test]
    fn fast_amounts_agree_with_the_engine() {
        for t in [
            "0",
            "5",
            "5.5",
            "5.50",
            "012.30",
            "1000000000000",
            "1000000000000.01",
            "1.005",
            "-1",
            "+1",
            "1e5",
            "",
            ".5",
            "5.",
            " 5",
            "12345678901234",
            "1.500",
        ] {
            let engine = crate::money::parse_amount(t).ok().map(to_fen);
            let json = format!("\"{t}\"");
            let ours = serde_json::from_str::<FastAmount>(&json).ok().map(|a| a.0);
            assert_eq!(ours, engine, "{t:?}");
            if let Some(f) = fast_fen(t) {
                assert_eq!(Some(f), engine, "{t:?}");
            }
        }
        for n in ["12", "12.5", "-3", "1e3"] {
            let engine = serde_json::from_str::<Amount>(n).ok().map(|a| to_fen(a.0));
            assert_eq!(
                serde_json::from_str::<FastAmount>(n).ok().map(|a| a.0),
                engine,
                "{n}"
            );
        }
    }

    #[test]
    fn reads_json_lines_with_line_numbers() {
        let l = one_line();
        let text = format!("{l}\n\n{}\n", l.replace("H0001-20170510-0001", "X2"));
        let got = read(text.as_bytes(), "t", 0, false, &NoProgress).unwrap();
        assert_eq!(got.claims.len(), 2);
        assert_eq!(got.claims[0].line, 1);
        assert_eq!(got.claims[1].line, 3);
        assert_eq!(&*got.claims[1].claim_id, "X2");
    }

    #[test]
    fn names_line_claim_and_field() {
        let l = one_line();
        let bad = l.replace("\"320.00\"", "\"-1\"");
        let text = format!("{l}\n{bad}\n");
        let e = read(text.as_bytes(), "claims.jsonl", 0, false, &NoProgress).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("claims.jsonl: line 2: claim H0001-20170510-0001: items[1].amount"),
            "{msg}"
        );
        let got = read(text.as_bytes(), "t", 0, true, &NoProgress).unwrap();
        assert_eq!(got.claims.len(), 1);
        assert_eq!(got.skipped[0].0, 2);
    }

    #[test]
    fn reads_pretty_documents_arrays_and_xml() {
        let text = format!("{CLAIM}\n{CLAIM}");
        let got = read(text.as_bytes(), "t", 0, false, &NoProgress).unwrap();
        assert_eq!(got.claims.len(), 2);
        assert_eq!(got.claims[1].line, 18);
        let arr = format!("[{CLAIM},{CLAIM}]");
        assert_eq!(
            read(arr.as_bytes(), "t", 0, false, &NoProgress)
                .unwrap()
                .claims
                .len(),
            2
        );
        let xml = include_str!("../../fixtures/claims/wolong-2017-0001.xml");
        assert_eq!(
            read(xml.as_bytes(), "t", 0, false, &NoProgress)
                .unwrap()
                .claims
                .len(),
            1
        );
        assert!(read("{\"claim_id\": ".as_bytes(), "t", 0, false, &NoProgress).is_err());
    }

    /// A claim text built from the worked example with random changes:
    /// the things a hospital gets wrong and the version-2 fields.
    fn mutated(muts: &[(u8, u8)]) -> String {
        let mut v: serde_json::Value = serde_json::from_str(CLAIM).unwrap();
        let mut muts = muts.to_vec();
        // emptying the items last, so that the others find them
        muts.sort_by_key(|(m, _)| m % 14 == 13);
        for (m, k) in muts {
            let k = k as usize;
            match m % 14 {
                0 => v["remark"] = serde_json::json!("x"),
                1 => v["items"][k % 2]["note"] = serde_json::json!(1),
                2 => {
                    let n = ["320", "320.5", "320.05", "320.005", "1e2", "-1", "0"][k % 7];
                    v["items"][1]["amount"] = serde_json::from_str(n).unwrap();
                }
                3 => {
                    let id = ["A-1", "X\u{1}Y", "=SUM(A1)", " ", "患者-1", "a b", "-x", ""][k % 8];
                    v["claim_id"] = serde_json::json!(id);
                }
                4 => {
                    v["admitted_on"] =
                        serde_json::json!(["17-05-01", "2017-5-01", "2017-05-01"][k % 3])
                }
                5 => v["insurance_type"] = serde_json::json!(["390", "310"][k % 2]),
                6 => v["referral"] = serde_json::json!(k.is_multiple_of(2)),
                7 => v["insured_region"] = serde_json::json!(["411303", "4113", "41130x"][k % 3]),
                8 => {
                    let a = ["10.00", "1.005", "x"][k % 3];
                    v["fund_payments"] = serde_json::json!({ "390100": a });
                }
                9 => {
                    v["items"][k % 2]["self_pay_ratio"] =
                        serde_json::json!(["0.2", "1.5", "0"][k % 3])
                }
                10 => v["items"][0]["class"] = serde_json::json!(["C", "a", "D"][k % 3]),
                11 => {
                    v["items"][1]["limit_amount"] =
                        serde_json::from_str(["300", "300.001", "\"300.00\""][k % 3]).unwrap()
                }
                12 => v["person_id"] = serde_json::json!(["P1", "P\u{0}", "+86"][k % 3]),
                _ => v["items"] = serde_json::json!([]),
            }
        }
        serde_json::to_string(&v).unwrap()
    }

    proptest::proptest! {
        /// One definition of a valid claim: the simulator's fast reader
        /// accepts exactly what the engine's parser accepts, and reads the
        /// same claim from it.
        #[test]
        fn the_fast_reader_agrees_with_the_engine(muts in proptest::collection::vec((0u8..14, 0u8..8), 0..4)) {
            let text = mutated(&muts);
            let b = Builder::default();
            let fast = parse_line(&b, &text, 1);
            let engine = claim::parse_json(&text);
            proptest::prop_assert_eq!(fast.is_ok(), engine.is_ok(), "{}", text);
            match (fast, engine) {
                (Ok(f), Ok(e)) => {
                    let slow = b.claim(&e, 1);
                    proptest::prop_assert_eq!(format!("{f:?}"), format!("{slow:?}"));
                }
                (Err(f), Err(e)) => proptest::prop_assert_eq!(f, e),
                _ => unreachable!(),
            }
        }
    }
}
