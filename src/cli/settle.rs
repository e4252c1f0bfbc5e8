//! `medaid settle`: settle claims offline, streaming, one answer per line.

use crate::engine::{self, book::Book, claim, Claim, ClaimError, PolicySet};
use serde::Serialize;
use std::io::{BufRead, Write};

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SettleRunError {
    #[error("line {line}: {error}")]
    Claim { line: usize, error: ClaimError },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Counts of one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunStats {
    pub settled: usize,
    pub refused: usize,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    line: usize,
    claim_id: Option<&'a str>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    path: &'a str,
    message: &'a str,
}

/// How the input is laid out, decided by its first record.
#[derive(PartialEq, Clone, Copy)]
enum Mode {
    Undecided,
    /// One JSON claim per line.
    Lines,
    /// Pretty-printed JSON documents spanning lines.
    Documents,
}

/// Settle every claim of `input` in order, accumulators carried per person
/// and year, writing one answer (or, with `keep_going`, one error object)
/// per claim to `out`.
pub fn run(
    policies: &PolicySet,
    input: impl BufRead,
    out: impl Write,
    keep_going: bool,
) -> Result<RunStats, SettleRunError> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut book = Book::new();
    let mut stats = RunStats::default();
    let mut mode = Mode::Undecided;
    let mut buf = String::new();
    let mut line = String::new();
    let mut line_no = 0usize;
    let mut start_line = 0usize;
    let mut input = input;
    let mut xml: Option<String> = None;

    let handle = |text: &str,
                  at: usize,
                  out: &mut dyn Write,
                  book: &mut Book,
                  stats: &mut RunStats,
                  is_xml: bool|
     -> Result<(), SettleRunError> {
        let parsed = if is_xml {
            claim::parse_xml(text)
        } else {
            claim::parse_json(text)
        };
        let result = parsed.and_then(|c| settle_one(policies, &c, book));
        match result {
            Ok(answer_json) => {
                out.write_all(answer_json.as_bytes())?;
                out.write_all(b"\n")?;
                stats.settled += 1;
                Ok(())
            }
            Err(error) if keep_going => {
                stats.refused += 1;
                serde_json::to_writer(
                    &mut *out,
                    &ErrorLine {
                        line: at,
                        claim_id: error.claim_id.as_deref(),
                        error: ErrorBody {
                            path: &error.path,
                            message: &error.message,
                        },
                    },
                )
                .map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
                Ok(())
            }
            Err(error) => Err(SettleRunError::Claim { line: at, error }),
        }
    };

    loop {
        line.clear();
        let n = input.read_line(&mut line)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(x) = xml.as_mut() {
            x.push_str(&line);
            continue;
        }
        let trimmed = line.trim();
        if buf.is_empty() {
            if trimmed.is_empty() {
                continue;
            }
            if mode == Mode::Undecided && trimmed.starts_with('<') {
                xml = Some(std::mem::take(&mut line));
                start_line = line_no;
                continue;
            }
            start_line = line_no;
        }
        match mode {
            Mode::Lines => handle(trimmed, line_no, &mut out, &mut book, &mut stats, false)?,
            Mode::Undecided | Mode::Documents => {
                buf.push_str(&line);
                match serde_json::from_str::<serde::de::IgnoredAny>(&buf) {
                    Err(e) if e.is_eof() => {
                        if mode == Mode::Undecided && start_line == line_no {
                            // first record does not fit on one line
                            mode = Mode::Documents;
                        }
                        continue;
                    }
                    _ => {
                        if mode == Mode::Undecided {
                            mode = Mode::Lines;
                        }
                        let text = std::mem::take(&mut buf);
                        handle(&text, start_line, &mut out, &mut book, &mut stats, false)?;
                    }
                }
            }
        }
    }
    if let Some(x) = xml {
        handle(&x, start_line, &mut out, &mut book, &mut stats, true)?;
    } else if !buf.trim().is_empty() {
        let text = std::mem::take(&mut buf);
        handle(&text, start_line, &mut out, &mut book, &mut stats, false)?;
    }
    out.flush()?;
    Ok(stats)
}

/// Settle one claim against the book; the answer as a JSON line.
pub fn settle_one(policies: &PolicySet, c: &Claim, book: &mut Book) -> Result<String, ClaimError> {
    let policy = claim::policy_for(policies, c)?;
    let year = chrono::Datelike::year(&c.discharged_on.0);
    let accs = book.get(&c.person_id, year, policy);
    let (answer, comp) = engine::settle_stated(policy, c, accs)?;
    for (a, d) in accs.iter_mut().zip(comp.deltas()) {
        a.add(d);
    }
    serde_json::to_string(&answer)
        .map_err(|e| ClaimError::new(Some(&c.claim_id), "", e.to_string()))
}

/// Load policies from files and directories (see
/// [`crate::service::policy_files::load`]).
pub fn load_policies(paths: &[std::path::PathBuf]) -> anyhow::Result<PolicySet> {
    crate::service::policy_files::load(paths).map_err(anyhow::Error::msg)
}
