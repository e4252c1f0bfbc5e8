//! Accumulators carried in memory per person and year (the CLI and the
//! simulator; the service keeps them in the database instead).

use super::policy::Policy;
use super::settle::Accumulator;
use std::collections::HashMap;

/// One person's accumulators for one year: those of the policy that last
/// touched them, laid out by its slots, and every other key met this year.
#[derive(Debug, Clone)]
struct Slot {
    policy_id: String,
    /// The accumulator keys of the policy ([`Policy::slots`]).
    layer_ids: Vec<String>,
    accs: Vec<Accumulator>,
    /// Keys of the year that the current policy does not use, kept for a
    /// later claim under a policy that does.
    parked: HashMap<String, Accumulator>,
}

/// Accumulators per (person, year). Claims of one year normally share one
/// policy; when a later claim of the year falls under another policy (a
/// mid-year change, or a claim under another region's policy), the running
/// totals carry over by key (layer id, `pool:ID`, `layer@group`).
#[derive(Debug, Default, Clone)]
pub struct Book {
    slots: HashMap<(String, i32), Slot>,
}

impl Book {
    pub fn new() -> Self {
        Self::default()
    }

    /// The accumulators of `person` in `year`, laid out for `policy`.
    pub fn get(&mut self, person: &str, year: i32, policy: &Policy) -> &mut Vec<Accumulator> {
        let key = (person.to_string(), year);
        let slot = self.slots.entry(key).or_insert_with(|| Slot {
            policy_id: policy.id.clone(),
            layer_ids: policy.slots.clone(),
            accs: vec![Accumulator::ZERO; policy.slots.len()],
            parked: HashMap::new(),
        });
        if slot.policy_id != policy.id {
            let old_keys = std::mem::take(&mut slot.layer_ids);
            let old_accs = std::mem::take(&mut slot.accs);
            slot.parked.extend(old_keys.into_iter().zip(old_accs));
            slot.accs = policy
                .slots
                .iter()
                .map(|k| slot.parked.remove(k).unwrap_or_default())
                .collect();
            slot.layer_ids = policy.slots.clone();
            slot.policy_id = policy.id.clone();
        }
        &mut slot.accs
    }

    /// Apply deltas (one per layer of `policy`).
    pub fn apply<'a>(
        &mut self,
        person: &str,
        year: i32,
        policy: &Policy,
        deltas: impl Iterator<Item = &'a Accumulator>,
    ) {
        let accs = self.get(person, year, policy);
        for (a, d) in accs.iter_mut().zip(deltas) {
            a.add(d);
        }
    }
}
