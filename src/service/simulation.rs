//! Funding-gap simulation on the claims the service stored:
//! `POST /v1/simulations` and `medaid simulate --database-url`.
//!
//! The claims are those of the active settlements discharged in a date
//! range ([`Db::active_claims_page`]), each with the identity the service
//! settled it under written into it — the registry's categories as of the
//! discharge date (`categories`) and the directory's level (`hospital_level`)
//! — because the simulator, like `medaid settle`, trusts a claim's stated
//! identity. Then the very same [`sim::simulate`] as the file form runs.

use super::FieldError;
use crate::engine::{claim, Claim, Policy};
use crate::sim::report::SimReport;
use crate::sim::{self, Budget, BudgetTarget, Builder, ClaimSet, Growth, PolicyInput, SimOptions};
use crate::storage::{Db, DischargeRange, StorageError, StoredClaim};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// Stored claims read per database round trip.
pub const PAGE: i64 = 5_000;
/// Most stored claims one `POST /v1/simulations` replays.
pub const MAX_CLAIMS: i64 = 1_000_000;
/// Most bootstrap replicates one request may ask for.
pub const MAX_BOOTSTRAP: usize = 1_000;
/// Most scenario policies in one request.
pub const MAX_SCENARIOS: usize = 8;
/// Most gainers and losers listed by person.
pub const MAX_TOP: usize = 100;
/// Most volume growth (`1` = twice the claims).
pub const MAX_VOLUME_GROWTH: Decimal = Decimal::ONE;

/// The claim the service settled, with the identity it settled it under.
pub fn claim_of(s: &StoredClaim) -> Result<Claim, StorageError> {
    let mut c = claim::parse_json(&s.claim_json).map_err(|e| {
        StorageError::Corrupt(format!(
            "settlement {}: stored claim does not parse: {}: {}",
            s.settlement_id, e.path, e.message
        ))
    })?;
    c.categories = s
        .categories
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    c.hospital_level = Some(s.level.clone());
    Ok(c)
}

/// The active settlements' claims of `range`, compacted for the replay as
/// they are read (a page at a time, parsed off the async threads), with
/// `growth` applied. Lines number the claims from 1 in the order they were
/// written.
pub async fn load_claim_set(
    db: &Db,
    range: &DischargeRange,
    growth: Growth,
) -> Result<ClaimSet, StorageError> {
    load_claim_set_paged(db, range, growth, PAGE).await
}

/// [`load_claim_set`] reading `page` rows per round trip (tests use small
/// pages; the result does not depend on it).
pub async fn load_claim_set_paged(
    db: &Db,
    range: &DischargeRange,
    growth: Growth,
    page_size: i64,
) -> Result<ClaimSet, StorageError> {
    let page_size = page_size.max(1);
    let builder = Arc::new(Builder::new());
    let mut compact = Vec::new();
    let mut after = 0;
    loop {
        let page = db.active_claims_page(range, after, page_size).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() as i64 == page_size;
        let b = builder.clone();
        let first = compact.len() as u32 + 1;
        let done = tokio::task::spawn_blocking(move || {
            page.iter()
                .enumerate()
                .map(|(i, s)| claim_of(s).map(|c| b.claim(&c, first + i as u32)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| StorageError::Corrupt(format!("claim reader failed: {e}")))??;
        compact.extend(done);
        if !full {
            break;
        }
    }
    let builder = Arc::try_unwrap(builder)
        .map_err(|_| StorageError::Corrupt("claim builder still shared".into()))?;
    tokio::task::spawn_blocking(move || builder.finish(compact, growth))
        .await
        .map_err(|e| StorageError::Corrupt(format!("claim grouping failed: {e}")))
}

/// A policy named in a request: a loaded policy's id, or TOML text.
///
/// As a bare string, text with a newline, `=` or `[` is TOML and anything
/// else an id; `{"id": …}` and `{"toml": …}` say which explicitly.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PolicyRef {
    /// `"wolong-2017"` (a loaded policy's id) or the text of a policy file.
    Text(String),
    /// A loaded policy, by id.
    Id { id: String },
    /// A policy file's text (checked as `medaid policy check` does).
    Toml { toml: String },
}

/// A decimal given as a string (`"0.05"`, the money convention) or a JSON
/// number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Num {
    Text(String),
    Number(serde_json::Number),
}

impl Num {
    fn decimal(&self) -> Option<Decimal> {
        let s = match self {
            Num::Text(s) => s.trim().replace('_', ""),
            Num::Number(n) => n.to_string(),
        };
        Decimal::from_str(&s)
            .or_else(|_| Decimal::from_scientific(&s))
            .ok()
    }
    fn text(&self) -> String {
        match self {
            Num::Text(s) => s.clone(),
            Num::Number(n) => n.to_string(),
        }
    }
}

/// `POST /v1/simulations`: what to replay and how.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    /// First discharge date, inclusive.
    #[schema(example = "2017-01-01")]
    pub from: String,
    /// Last discharge date, inclusive.
    #[schema(example = "2017-12-31")]
    pub to: String,
    /// The policy in force (基准政策); default: the loaded policy in force
    /// on `from`.
    #[schema(example = "wolong-2017")]
    pub baseline: Option<PolicyRef>,
    /// Policies to compare with the baseline (at most 8).
    #[serde(default)]
    pub scenarios: Vec<PolicyRef>,
    /// Budgets in yuan by payer (`insurance`, `aid`, `government`,
    /// `charity`), layer (`layer:critical`, or a bare layer id) or `fund`
    /// (all funds), e.g. `{"aid": "8000000"}`.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub budget: BTreeMap<String, Num>,
    /// Bootstrap replicates over persons for the 90 % intervals (0: none;
    /// default 200; at most 1000).
    pub bootstrap: Option<usize>,
    /// Seed of the bootstrap and of volume growth (default 42).
    pub seed: Option<u64>,
    /// Change in the number of claims, e.g. `"0.05"` (−1 to 1; default 0).
    #[schema(value_type = Option<String>, example = "0.05")]
    pub volume_growth: Option<Num>,
    /// Change in prices, e.g. `"0.03"` (more than −1, at most 10; default 0).
    #[schema(value_type = Option<String>, example = "0.03")]
    pub price_growth: Option<Num>,
    /// Out-of-pocket spending per person and year counted as catastrophic
    /// (default `"20000"`).
    #[schema(value_type = Option<String>, example = "20000")]
    pub catastrophic: Option<Num>,
    /// Gainers and losers listed by person (default 10; at most 100).
    pub top: Option<usize>,
}

/// A checked request, ready to run.
#[derive(Debug, Clone)]
pub struct SimulationPlan {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Baseline first; each with the label the report shows as its file.
    pub policies: Vec<(Policy, String)>,
    pub options: SimOptions,
    pub growth: Growth,
}

impl SimulationPlan {
    pub fn range(&self) -> DischargeRange {
        DischargeRange {
            from: Some(self.from.to_string()),
            to: Some(self.to.to_string()),
        }
    }
}

fn date(path: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(
                path,
                format!("expected a date like 2017-01-01, found {s:?}"),
            ));
            None
        }
    }
}

fn number(path: &str, n: Option<&Num>, errors: &mut Vec<FieldError>) -> Option<Decimal> {
    let n = n?;
    let d = n.decimal();
    if d.is_none() {
        errors.push(FieldError::new(
            path,
            format!("expected a decimal number, found {:?}", n.text()),
        ));
    }
    d
}

/// A policy reference, resolved among `loaded` or checked from its text.
fn policy_of(
    path: &str,
    r: &PolicyRef,
    loaded: &[Policy],
) -> Result<(Policy, String), Vec<FieldError>> {
    let by_id = |id: &str| {
        let id = id.trim();
        loaded
            .iter()
            .find(|p| p.id == id)
            .map(|p| (p.clone(), format!("loaded:{}", p.id)))
            .ok_or_else(|| {
                let mut ids: Vec<&str> = loaded.iter().map(|p| p.id.as_str()).collect();
                ids.dedup();
                vec![FieldError::new(
                    path,
                    format!(
                        "no loaded policy has id {id:?} (loaded: {}); give the policy's TOML text instead",
                        if ids.is_empty() { "none".to_string() } else { ids.join(", ") }
                    ),
                )]
            })
    };
    let by_text = |text: &str| {
        Policy::from_toml(text, path)
            .map(|p| (p, path.to_string()))
            .map_err(|e| {
                e.errors
                    .iter()
                    .map(|pe| FieldError::new(path, format!("policy TOML: {pe}")))
                    .collect()
            })
    };
    match r {
        PolicyRef::Id { id } => by_id(id),
        PolicyRef::Toml { toml } => by_text(toml),
        PolicyRef::Text(s) if s.contains(['\n', '=', '[']) => by_text(s),
        PolicyRef::Text(s) => by_id(s),
    }
}

impl SimulationRequest {
    /// Check every field against the loaded policies; every problem is
    /// reported, each naming its field (`scenarios[0]`, `budget.aid`).
    pub fn plan(&self, loaded: &[Policy]) -> Result<SimulationPlan, Vec<FieldError>> {
        let mut errors = Vec::new();
        let from = date("from", &self.from, &mut errors);
        let to = date("to", &self.to, &mut errors);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                errors.push(FieldError::new("to", format!("{t} is before from ({f})")));
            }
        }
        let mut policies = Vec::new();
        match &self.baseline {
            Some(r) => match policy_of("baseline", r, loaded) {
                Ok(p) => policies.push(p),
                Err(e) => errors.extend(e),
            },
            None => {
                if let Some(f) = from {
                    match loaded.iter().find(|p| p.covers(f)) {
                        Some(p) => policies.push((p.clone(), format!("loaded:{}", p.id))),
                        None => errors.push(FieldError::new(
                            "baseline",
                            format!("no loaded policy is in force on {f}; name the baseline"),
                        )),
                    }
                }
            }
        }
        if self.scenarios.len() > MAX_SCENARIOS {
            errors.push(FieldError::new(
                "scenarios",
                format!("at most {MAX_SCENARIOS} scenarios per simulation"),
            ));
        }
        for (i, r) in self.scenarios.iter().enumerate().take(MAX_SCENARIOS) {
            match policy_of(&format!("scenarios[{i}]"), r, loaded) {
                Ok(p) => policies.push(p),
                Err(e) => errors.extend(e),
            }
        }
        let mut budgets = Vec::new();
        for (k, v) in &self.budget {
            let path = format!("budget.{k}");
            match Budget::from_str(&format!("{k}={}", v.text())) {
                Ok(b) => {
                    if let BudgetTarget::Layer(l) = &b.target {
                        if !policies.is_empty()
                            && !policies.iter().any(|(p, _)| p.layer_index(l).is_some())
                        {
                            errors.push(FieldError::new(
                                &path,
                                format!("no policy of this simulation has a layer {l:?} (payers: insurance, aid, government, charity; all funds: fund)"),
                            ));
                            continue;
                        }
                    }
                    if b.amount < Decimal::ZERO {
                        errors.push(FieldError::new(&path, "a budget is not negative"));
                        continue;
                    }
                    budgets.push(b);
                }
                Err(e) => errors.push(FieldError::new(&path, e.to_string())),
            }
        }
        let bootstrap = self.bootstrap.unwrap_or(200);
        if bootstrap > MAX_BOOTSTRAP {
            errors.push(FieldError::new(
                "bootstrap",
                format!("at most {MAX_BOOTSTRAP} replicates"),
            ));
        }
        let top = self.top.unwrap_or(10);
        if top > MAX_TOP {
            errors.push(FieldError::new("top", format!("at most {MAX_TOP}")));
        }
        let volume =
            number("volume_growth", self.volume_growth.as_ref(), &mut errors).unwrap_or_default();
        if volume < -Decimal::ONE || volume > MAX_VOLUME_GROWTH {
            errors.push(FieldError::new(
                "volume_growth",
                format!("must lie in [-1, {MAX_VOLUME_GROWTH}]"),
            ));
        }
        let price =
            number("price_growth", self.price_growth.as_ref(), &mut errors).unwrap_or_default();
        if price <= -Decimal::ONE || price > Decimal::TEN {
            errors.push(FieldError::new(
                "price_growth",
                "must be more than -1 and at most 10",
            ));
        }
        let catastrophic = number("catastrophic", self.catastrophic.as_ref(), &mut errors)
            .unwrap_or(Decimal::from(20_000));
        if catastrophic < Decimal::ZERO {
            errors.push(FieldError::new("catastrophic", "must not be negative"));
        }
        let seed = self.seed.unwrap_or(42);
        match (from, to) {
            (Some(from), Some(to)) if errors.is_empty() => Ok(SimulationPlan {
                from,
                to,
                policies,
                options: SimOptions {
                    budgets,
                    catastrophic,
                    bootstrap,
                    seed,
                    top,
                    ..SimOptions::default()
                },
                growth: Growth {
                    volume,
                    price,
                    seed,
                },
            }),
            _ => Err(errors),
        }
    }
}

/// Why a planned simulation did not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("the range holds {0} active settlements; at most {MAX_CLAIMS} per simulation")]
    TooManyClaims(i64),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("simulation failed: {0}")]
    Internal(String),
}

/// The rayon pool simulations run on in the service: one thread fewer than
/// the machine has cores (at least one), so settlements keep a core while an
/// administrator replays a year. Results do not depend on the thread count.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("medaid-sim-{i}"))
            .build()
            .map_err(
                |e| tracing::warn!(error = %e, "no simulation thread pool; using the global one"),
            )
            .ok()
    })
    .as_ref()
}

/// One simulation at a time per process: a second request waits its turn.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Replay the stored claims of the plan's range; see the module docs.
pub async fn run(db: &Db, plan: SimulationPlan) -> Result<SimReport, SimulationError> {
    let _turn = RUNNING
        .acquire()
        .await
        .map_err(|e| SimulationError::Internal(e.to_string()))?;
    let range = plan.range();
    let n = db.count_active_claims(&range).await?;
    if n > MAX_CLAIMS {
        return Err(SimulationError::TooManyClaims(n));
    }
    let started = std::time::Instant::now();
    let set = load_claim_set(db, &range, plan.growth).await?;
    let source = format!(
        "stored settlements discharged {} to {} ({})",
        plan.from,
        plan.to,
        db.backend().as_str()
    );
    let report = tokio::task::spawn_blocking(move || {
        let inputs: Vec<PolicyInput> = plan
            .policies
            .iter()
            .map(|(policy, file)| PolicyInput { policy, file })
            .collect();
        let go = || sim::simulate(&set, &inputs, &plan.options, &sim::NoProgress);
        let mut report = match pool() {
            Some(p) => p.install(go),
            None => go(),
        };
        report.input.source = Some(source);
        report
    })
    .await
    .map_err(|e| SimulationError::Internal(e.to_string()))?;
    tracing::info!(
        claims = n,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "simulation done"
    );
    Ok(report)
}
