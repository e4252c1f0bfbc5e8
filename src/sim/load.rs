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

use super::{Progress, SimError};
use crate::engine::claim::{self, Claim, ClaimError};
use rayon::prelude::*;
use std::io::Read;

/// Claims read from a file, each with its (1-based) line.
#[derive(Debug, Default)]
pub struct Loaded {
    pub claims: Vec<(usize, Claim)>,
    /// Claims skipped with `keep_going` (all of them, by line).
    pub skipped: Vec<(usize, ClaimError)>,
}

/// Drop what the arithmetic never reads (item codes and names) so that a
/// million claims fit in memory comfortably.
fn slim(mut c: Claim) -> Claim {
    for it in &mut c.items {
        it.code = String::new();
        it.name = String::new();
    }
    c
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
        let parsed: Vec<(usize, Result<Claim, ClaimError>)> = lines
            .par_iter()
            .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
            .map(|&(n, l)| {
                let r = match std::str::from_utf8(l) {
                    Ok(text) => claim::parse_json(text.trim()).map(slim),
                    Err(e) => Err(ClaimError::new(None, "", format!("not UTF-8: {e}"))),
                };
                (n, r)
            })
            .collect();
        line_no += buf[..cut].iter().filter(|&&b| b == b'\n').count();
        for (n, r) in parsed {
            match r {
                Ok(c) => out.claims.push((n, c)),
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
    let mut push = |line: usize, r: Result<Claim, ClaimError>| -> Result<(), SimError> {
        match r {
            Ok(c) => out.claims.push((line, slim(c))),
            Err(error) if keep_going => out.skipped.push((line, error)),
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
    let parsed: Vec<(usize, Result<Claim, ClaimError>)> = spans
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
    fn reads_json_lines_with_line_numbers() {
        let l = one_line();
        let text = format!("{l}\n\n{}\n", l.replace("H0001-20170510-0001", "X2"));
        let got = read(text.as_bytes(), "t", 0, false, &NoProgress).unwrap();
        assert_eq!(got.claims.len(), 2);
        assert_eq!(got.claims[0].0, 1);
        assert_eq!(got.claims[1].0, 3);
        assert_eq!(got.claims[1].1.claim_id, "X2");
        assert!(got.claims[0].1.items[0].name.is_empty());
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
        assert_eq!(got.claims[1].0, 18);
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
}
