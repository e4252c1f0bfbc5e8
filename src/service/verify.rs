//! `medaid verify`: recompute every stored settlement from its stored claim
//! and the stored text of the policy it names (by hash), on the
//! accumulators it saw (every earlier row of the person and year, in commit
//! order), and compare the amounts, the layer rows, the answer and, at the
//! end, every accumulator. Where `medaid audit` checks that the stored rows
//! agree with each other, `verify` checks that they agree with the engine.

use crate::engine::{self, claim, Accumulator, Answer, Identity, Policy};
use crate::money::{from_fen, to_fen};
use crate::storage::verify::StoredRow;
use crate::storage::{Db, StorageError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One difference between what is stored and what the engine computes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The settlement (or `person/year/layer` for an accumulator).
    pub subject: String,
    /// What differs: `policy`, `claim`, `amount`, `layer`, `answer`,
    /// `accumulator`.
    pub check: String,
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub settlements: u64,
    pub reversals: u64,
    pub accumulators: u64,
    pub differences: Vec<Difference>,
}

type Key = (String, i32, String);

/// Recompute everything stored in `db`; see the module docs.
pub async fn verify(db: &Db) -> Result<VerifyReport, StorageError> {
    let rows = db.rows_for_verify().await?;
    let sources = db.policy_sources().await?;
    let stored_accs = db.all_accumulators().await?;
    let mut policies: HashMap<String, Result<Policy, String>> = HashMap::new();
    let mut report = VerifyReport::default();
    // The accumulators each settlement saw: the stored deltas of every
    // earlier row (so one difference does not cascade), and what the
    // engine's own deltas add up to (compared with the table at the end).
    let mut seen: HashMap<Key, Accumulator> = HashMap::new();
    let mut expected: BTreeMap<Key, [i64; 3]> = BTreeMap::new();
    let mut recomputed: HashMap<String, Vec<(String, [i64; 3])>> = HashMap::new();
    let by_id: HashMap<&str, &StoredRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    for row in &rows {
        if row.kind == "reversal" {
            report.reversals += 1;
            for l in &row.layers {
                add(
                    &mut seen,
                    row,
                    &l.layer_id,
                    [l.amounts[1], l.amounts[2], l.amounts[3]],
                );
            }
            for (key, paid) in &row.extra {
                add(&mut seen, row, key, [0, 0, *paid]);
            }
            // What the original added, by the engine, goes back.
            let original = row.reverses.as_deref().unwrap_or("");
            let deltas = recomputed.get(original).cloned().unwrap_or_else(|| {
                by_id
                    .get(original)
                    .map(|o| {
                        o.layers
                            .iter()
                            .map(|l| {
                                (
                                    l.layer_id.clone(),
                                    [l.amounts[1], l.amounts[2], l.amounts[3]],
                                )
                            })
                            .chain(o.extra.iter().map(|(k, p)| (k.clone(), [0, 0, *p])))
                            .collect()
                    })
                    .unwrap_or_default()
            });
            for (layer, d) in deltas {
                let e = expected
                    .entry((row.person_id.clone(), row.year, layer))
                    .or_default();
                for i in 0..3 {
                    e[i] -= d[i];
                }
            }
            continue;
        }
        report.settlements += 1;
        let mut diff = |check: &str, detail: String| {
            report.differences.push(Difference {
                subject: row.id.clone(),
                check: check.into(),
                detail,
            });
        };
        let stored_deltas: Vec<(String, [i64; 3])> = row
            .layers
            .iter()
            .map(|l| {
                (
                    l.layer_id.clone(),
                    [l.amounts[1], l.amounts[2], l.amounts[3]],
                )
            })
            .chain(row.extra.iter().map(|(k, p)| (k.clone(), [0, 0, *p])))
            .collect();
        let policy = policies.entry(row.policy_hash.clone()).or_insert_with(|| {
            match sources.get(&row.policy_hash) {
                None => Err("its text is not stored".to_string()),
                Some(text) => match Policy::from_toml(text, &format!("policy {}", row.policy_hash))
                {
                    Ok(p) if p.hash == row.policy_hash => Ok(p),
                    Ok(p) => Err(format!("the stored text hashes to {}", p.hash)),
                    Err(e) => Err(format!("the stored text no longer compiles: {e}")),
                },
            }
        });
        let computed = match policy {
            Err(e) => Err((
                "policy",
                format!("policy {} ({}): {e}", row.policy_id, row.policy_hash),
            )),
            Ok(policy) => recompute(policy, row, &seen).map(|c| (policy, c)),
        };
        match computed {
            Err((check, detail)) => {
                diff(check, detail);
                // Nothing to compare; count the stored deltas as expected.
                for (layer, d) in &stored_deltas {
                    let e = expected
                        .entry((row.person_id.clone(), row.year, layer.clone()))
                        .or_default();
                    for i in 0..3 {
                        e[i] += d[i];
                    }
                }
                recomputed.insert(row.id.clone(), stored_deltas.clone());
            }
            Ok((policy, (comp, answer_mismatch))) => {
                let amounts = comp.breakdown().to_fen().to_array();
                for (i, (name, _)) in crate::engine::amounts::FIELDS.iter().enumerate() {
                    if amounts[i] != row.amounts[i] {
                        diff(
                            "amount",
                            format!(
                                "{name}: stored {}, computed {}",
                                crate::money::fmt2(from_fen(row.amounts[i])),
                                crate::money::fmt2(from_fen(amounts[i]))
                            ),
                        );
                    }
                }
                let mut deltas = Vec::new();
                for (i, (l, o)) in policy.layers.iter().zip(&comp.layers).enumerate() {
                    let want = [
                        to_fen(o.base),
                        to_fen(o.delta.deductible_used),
                        to_fen(o.delta.eligible_cum),
                        to_fen(o.delta.paid),
                    ];
                    deltas.push((l.id.clone(), [want[1], want[2], want[3]]));
                    match row.layers.iter().find(|s| s.position == i as i64) {
                        None => diff("layer", format!("layer {} ({i}) is not stored", l.id)),
                        Some(s) => {
                            if s.layer_id != l.id
                                || s.amounts != want
                                || s.applied != o.applied
                                || s.cap_limited != o.cap_limited
                            {
                                diff(
                                    "layer",
                                    format!(
                                        "layer {i} {}: stored {:?} applied={} capped={}, computed {} {:?} applied={} capped={} (base, deductible, eligible, paid in fen)",
                                        s.layer_id, s.amounts, s.applied, s.cap_limited, l.id, want, o.applied, o.cap_limited
                                    ),
                                );
                            }
                        }
                    }
                }
                // Pools and per-disease limits: what the engine adds, against
                // what was stored.
                let computed_extra: Vec<(String, i64)> = policy.slots[policy.layers.len()..]
                    .iter()
                    .zip(&comp.extra)
                    .filter(|(_, d)| !d.paid.is_zero())
                    .map(|(k, d)| (k.clone(), to_fen(d.paid)))
                    .collect();
                if computed_extra != row.extra {
                    diff(
                        "accumulator",
                        format!(
                            "pool and per-disease deltas: stored {:?}, computed {computed_extra:?} (fen)",
                            row.extra
                        ),
                    );
                }
                deltas.extend(computed_extra.iter().map(|(k, p)| (k.clone(), [0, 0, *p])));
                if row.layers.len() != policy.layers.len() {
                    diff(
                        "layer",
                        format!(
                            "{} layer rows stored, the policy has {} layers",
                            row.layers.len(),
                            policy.layers.len()
                        ),
                    );
                }
                if let Some(d) = answer_mismatch {
                    diff("answer", d);
                }
                for (layer, d) in &deltas {
                    let e = expected
                        .entry((row.person_id.clone(), row.year, layer.clone()))
                        .or_default();
                    for i in 0..3 {
                        e[i] += d[i];
                    }
                }
                recomputed.insert(row.id.clone(), deltas);
            }
        }
        for (layer, d) in stored_deltas {
            add(&mut seen, row, &layer, d);
        }
    }
    // Every accumulator equals what the engine's deltas add up to.
    let stored: BTreeMap<Key, [i64; 3]> = stored_accs.into_iter().collect();
    report.accumulators = stored.len() as u64;
    for (k, want) in &expected {
        let have = stored.get(k).copied().unwrap_or_default();
        if have != *want {
            report.differences.push(Difference {
                subject: format!("{}/{}/{}", k.0, k.1, k.2),
                check: "accumulator".into(),
                detail: format!(
                    "stored (deductible_used, eligible_cum, paid) {have:?}, computed {want:?} (fen)"
                ),
            });
        }
    }
    for (k, have) in &stored {
        if !expected.contains_key(k) && *have != [0, 0, 0] {
            report.differences.push(Difference {
                subject: format!("{}/{}/{}", k.0, k.1, k.2),
                check: "accumulator".into(),
                detail: format!("stored {have:?} (fen) with no settlement behind it"),
            });
        }
    }
    Ok(report)
}

fn add(seen: &mut HashMap<Key, Accumulator>, row: &StoredRow, layer: &str, d: [i64; 3]) {
    let a = seen
        .entry((row.person_id.clone(), row.year, layer.to_string()))
        .or_default();
    a.deductible_used += from_fen(d[0]);
    a.eligible_cum += from_fen(d[1]);
    a.paid += from_fen(d[2]);
}

/// The engine's computation for a stored settlement, and how its answer
/// differs from the stored one (if it does).
fn recompute(
    policy: &Policy,
    row: &StoredRow,
    seen: &HashMap<Key, Accumulator>,
) -> Result<(engine::Computation, Option<String>), (&'static str, String)> {
    let c = claim::parse_json(&row.claim_json).map_err(|e| {
        (
            "claim",
            format!(
                "the stored claim no longer parses: {}: {}",
                e.path, e.message
            ),
        )
    })?;
    let resolved = claim::resolve(policy, &c).map_err(|e| {
        (
            "claim",
            format!(
                "the stored claim does not bind to its policy: {}: {}",
                e.path, e.message
            ),
        )
    })?;
    let level = policy.level_index(&row.level).ok_or_else(|| {
        (
            "claim",
            format!("level {:?} is not in policy {}", row.level, policy.id),
        )
    })?;
    let mut mask = 0;
    for cat in row.categories.split(',').filter(|c| !c.is_empty()) {
        let i = policy.category_index(cat).ok_or_else(|| {
            (
                "claim",
                format!("category {cat:?} is not in policy {}", policy.id),
            )
        })?;
        mask |= engine::policy::bit(i);
    }
    let accs: Vec<Accumulator> = policy
        .slots
        .iter()
        .map(|key| {
            seen.get(&(row.person_id.clone(), row.year, key.clone()))
                .copied()
                .unwrap_or_default()
        })
        .collect();
    let comp = engine::settle(
        policy,
        &resolved,
        Identity {
            categories: mask,
            level,
        },
        &accs,
    )
    .map_err(|e| {
        (
            "claim",
            format!(
                "the engine refuses the stored claim: {}: {}",
                e.path, e.message
            ),
        )
    })?;
    let mut answer = Answer::build(policy, &c, resolved.year, &comp);
    let stored: serde_json::Value = serde_json::from_str(&row.answer_json)
        .map_err(|e| ("answer", format!("the stored answer does not parse: {e}")))?;
    answer.settlement_id = stored["settlement_id"].as_str().map(str::to_string);
    answer.status = stored["status"].as_str().map(str::to_string);
    answer.settled_at = stored["settled_at"].as_str().map(str::to_string);
    let mismatch = match serde_json::to_value(&answer) {
        Ok(v) if v == stored => None,
        Ok(v) => Some(first_difference(&stored, &v, "")),
        Err(e) => Some(format!("the computed answer does not serialize: {e}")),
    };
    Ok((comp, mismatch))
}

/// Where two JSON documents first differ, as `path: stored → computed`.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> String {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match y.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, &p),
                    None => return format!("{p}: stored {v}, not computed"),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    return format!("{p}: not stored, computed {w}");
                }
            }
            format!("{path}: differs")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, &format!("{path}[{i}]"));
                }
            }
            format!("{path}: differs")
        }
        _ => format!("{path}: stored {a}, computed {b}"),
    }
}
