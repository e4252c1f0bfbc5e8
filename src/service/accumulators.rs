//! A person's accumulators for a year (累计), laid out by a policy: each
//! layer's running totals with its cap, the shared pools and the
//! per-disease limits, as `GET /v1/persons/{id}/accumulators` shows them.

use super::{Service, ServiceError};
use crate::calendar;
use crate::engine::policy::{bit, highest_held, Mask};
use crate::engine::{Accumulator, Policy};
use crate::money::fmt2;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

/// A person's accumulators for a year (`GET /v1/persons/{id}/accumulators`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccumulatorsView {
    pub person_id: String,
    pub year: i32,
    /// The policy whose layers (and caps) are shown.
    pub policy_id: Option<String>,
    pub layers: Vec<AccumulatorLine>,
    /// Shared annual limits (共用限额) of the policy: `id` is the pool id.
    pub pools: Vec<AccumulatorLine>,
    /// Per-disease limits (`cap.per_group`): `id` is `layer@group`.
    pub per_disease: Vec<AccumulatorLine>,
}

/// One layer's running totals (amounts in yuan, two decimals).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccumulatorLine {
    pub id: String,
    /// The layer's, pool's or disease group's name in the policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub deductible_used: String,
    pub eligible_cum: String,
    pub paid: String,
    /// The annual cap (the default amount when the cap depends on the
    /// disease group); null when uncapped, per admission, or the person is
    /// exempt.
    pub cap: Option<String>,
    /// `max(0, cap − paid)`; null where `cap` is.
    pub remaining: Option<String>,
}

/// The one field of a stored claim the accumulators view needs.
#[derive(serde::Deserialize)]
struct Diagnoses {
    #[serde(default)]
    diagnoses: Vec<String>,
}

/// The stored accumulators by slot key.
type Stored = [(String, Accumulator)];

/// The lines of a view: layers, pools, per-disease limits, and the slot
/// keys they showed.
#[derive(Default)]
struct Lines<'a> {
    layers: Vec<AccumulatorLine>,
    pools: Vec<AccumulatorLine>,
    per_disease: Vec<AccumulatorLine>,
    shown: Vec<&'a str>,
}

impl Service {
    /// A person's accumulators for `year`, laid out by the policy of their
    /// latest settlement that year (or the policy in force that year).
    pub async fn accumulators(
        &self,
        person_id: &str,
        year: i32,
    ) -> Result<AccumulatorsView, ServiceError> {
        let stored = self.db.accumulators(person_id, year).await?;
        let today = calendar::now_china().date_naive();
        let as_of = NaiveDate::from_ymd_opt(year, 12, 31).map_or(today, |end| end.min(today));
        let held = self
            .db
            .person_categories(person_id, &as_of.to_string())
            .await?;
        if held.is_none() && stored.is_empty() {
            return Err(ServiceError::NotFound);
        }
        let held = held.unwrap_or_default();
        let policy = self.policy_of_year(person_id, year, as_of).await?;
        let mut lines = Lines::default();
        if let Some(policy) = policy {
            let mask = held
                .iter()
                .filter_map(|c| policy.category_index(c))
                .fold(0, |m, i| m | bit(i));
            let groups = self.claim_groups(policy, person_id, year).await?;
            layer_lines(policy, &stored, mask, &groups, &mut lines);
            pool_lines(policy, &stored, mask, &mut lines);
            per_disease_lines(policy, &stored, mask, &mut lines);
        }
        let Lines {
            mut layers,
            pools,
            per_disease,
            shown,
        } = lines;
        for (id, acc) in &stored {
            if !shown.contains(&id.as_str()) {
                layers.push(line(id, acc, None));
            }
        }
        Ok(AccumulatorsView {
            person_id: person_id.to_string(),
            year,
            policy_id: policy.map(|p| p.id.clone()),
            layers,
            pools,
            per_disease,
        })
    }

    /// The policy of the person's latest settlement in `year`, else the one
    /// in force on `as_of`, else the last one in force that year.
    async fn policy_of_year(
        &self,
        person_id: &str,
        year: i32,
        as_of: NaiveDate,
    ) -> Result<Option<&'static Policy>, ServiceError> {
        let set = self.policies.current();
        if let Some(id) = self.db.latest_policy_of(person_id, year).await? {
            if let Some(p) = set.by_id(&id) {
                return Ok(Some(p));
            }
        }
        let in_year: Vec<&Policy> = set
            .policies()
            .iter()
            .filter(|p| p.effective_from.year() <= year && year <= p.effective_to.year())
            .collect();
        Ok(in_year
            .iter()
            .find(|p| p.covers(as_of))
            .or_else(|| in_year.last())
            .copied())
    }

    /// The disease groups of the person's claims in `year`. A cap by
    /// disease group depends on each claim's diagnosis: the view shows the
    /// largest that applied to one of them (the default before any claim),
    /// so `paid` never shows above `cap`.
    async fn claim_groups(
        &self,
        policy: &Policy,
        person_id: &str,
        year: i32,
    ) -> Result<Vec<Mask>, ServiceError> {
        Ok(self
            .db
            .active_claims_of(person_id, year)
            .await?
            .iter()
            .filter_map(|j| serde_json::from_str::<Diagnoses>(j).ok())
            .map(|d| policy.groups_of(d.diagnoses.first().map(String::as_str)))
            .collect())
    }
}

/// The accumulator stored under `key`, zero when there is none yet.
fn acc_of(stored: &Stored, key: &str) -> Accumulator {
    stored
        .iter()
        .find(|(id, _)| id == key)
        .map(|(_, a)| *a)
        .unwrap_or_default()
}

/// One line per layer, with its annual cap where one applies to the person.
fn layer_lines<'a>(
    policy: &'a Policy,
    stored: &Stored,
    mask: Mask,
    groups: &[Mask],
    lines: &mut Lines<'a>,
) {
    for l in &policy.layers {
        let cap = l
            .cap
            .as_ref()
            .filter(|c| c.per_year && !c.per_group && c.exempt & mask == 0)
            .map(|c| {
                groups
                    .iter()
                    .map(|g| c.amount_for(*g))
                    .max()
                    .unwrap_or(c.default)
            });
        let mut ln = line(&l.id, &acc_of(stored, &l.id), cap);
        ln.name = Some(l.display_name().to_string());
        lines.layers.push(ln);
        lines.shown.push(&l.id);
    }
}

/// One line per shared pool (共用限额).
fn pool_lines<'a>(policy: &'a Policy, stored: &Stored, mask: Mask, lines: &mut Lines<'a>) {
    for (i, pool) in policy.pools.iter().enumerate() {
        let key = &policy.slots[policy.pool_slot(i)];
        let mut ln = line(&pool.id, &acc_of(stored, key), pool.amount_for(mask));
        ln.name = Some(pool.display_name().to_string());
        lines.pools.push(ln);
        lines.shown.push(key);
    }
}

/// One line per disease group of each layer capped per group (and one for
/// the groups it does not name, 其他).
fn per_disease_lines<'a>(policy: &'a Policy, stored: &Stored, mask: Mask, lines: &mut Lines<'a>) {
    for l in &policy.layers {
        let (Some(gs), Some(cap)) = (&l.group_slots, &l.cap) else {
            continue;
        };
        let exempt = cap.exempt & mask != 0;
        let entries = policy
            .groups
            .iter()
            .enumerate()
            .filter_map(|(g, grp)| {
                gs.by_group[g].map(|slot| (slot, cap.by_group[g], grp.label.clone()))
            })
            .chain(std::iter::once((
                gs.default,
                Some(cap.default),
                "其他".to_string(),
            )));
        for (slot, amount, label) in entries {
            let key = &policy.slots[slot];
            let amount = cap
                .by_category
                .as_deref()
                .and_then(|t| highest_held(t, mask))
                .or(amount)
                .filter(|_| !exempt);
            let mut ln = line(key, &acc_of(stored, key), amount);
            ln.name = Some(format!("{} {label}", l.display_name()));
            lines.per_disease.push(ln);
            lines.shown.push(key);
        }
    }
}

fn line(id: &str, acc: &Accumulator, cap: Option<Decimal>) -> AccumulatorLine {
    AccumulatorLine {
        id: id.to_string(),
        name: None,
        deductible_used: fmt2(acc.deductible_used),
        eligible_cum: fmt2(acc.eligible_cum),
        paid: fmt2(acc.paid),
        cap: cap.map(fmt2),
        remaining: cap.map(|c| fmt2((c - acc.paid).max(Decimal::ZERO))),
    }
}
