//! The settlement service (结算服务): what `medaid serve` does for a request,
//! independent of HTTP and of SQL.
//!
//! [`Service`] resolves who is being settled from its own records — the
//! categories from the eligibility registry as of the discharge date, the
//! level and region from the hospital directory, the policy in force on the
//! discharge date for that region — never from what the hospital states;
//! then it calls the engine inside the storage transaction that holds the
//! person's accumulators. The arithmetic is the engine's alone.

mod accumulators;
pub mod console;
pub mod directory;
pub mod keys;
pub mod policy_files;
pub mod recon;
pub mod roster;
pub mod simulation;
pub mod verify;

pub use accumulators::{AccumulatorLine, AccumulatorsView};

use crate::calendar;
use crate::engine::codes::Status;
use crate::engine::{
    self, claim, Accumulator, Answer, Claim, ClaimError, Identity, Policy, PolicySet, ResolvedClaim,
};
use crate::money::to_fen;
use crate::storage::{
    self, CancelOutcome, Db, Hospital, LayerRow, NewReversal, NewSettlement, SettleKey,
    SettleOutcome, SettlementRow, StorageError,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// One refused field: where and why (`items[3].amount`, "negative amount").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<ClaimError> for FieldError {
    fn from(e: ClaimError) -> Self {
        FieldError {
            path: e.path,
            message: e.message,
        }
    }
}

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The document could not be read at all (malformed JSON or XML).
    #[error("unreadable claim: {}", .0.message)]
    Unreadable(FieldError),
    /// A field is invalid or names something the records do not know.
    #[error("invalid claim: {0:?}")]
    Invalid(Vec<FieldError>),
    /// Outside the caller's hospital.
    #[error("forbidden: {}", .0.message)]
    Forbidden(FieldError),
    #[error("not found")]
    NotFound,
    /// A different claim was already settled under this claim id.
    #[error("claim id already used by settlement {settlement_id} for a different claim")]
    Conflict { settlement_id: String },
    /// The claim was reversed (冲正) before it arrived.
    #[error("claim reversed (冲正) at {at} before it arrived")]
    Voided { at: String },
    #[error(transparent)]
    Storage(StorageError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StorageError> for ServiceError {
    /// A claim the engine refused inside the transaction (its figures did
    /// not fit the locked accumulators) is a refusal, not a storage fault.
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Refused(c) => c.into(),
            e => ServiceError::Storage(e),
        }
    }
}

impl ServiceError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(path, message)])
    }
}

impl From<ClaimError> for ServiceError {
    fn from(e: ClaimError) -> Self {
        ServiceError::Invalid(vec![e.into()])
    }
}

/// Parse a claim body. Unreadable documents (no field to blame) are
/// [`ServiceError::Unreadable`]; bad fields are [`ServiceError::Invalid`].
pub fn parse_claim(body: &str, xml: bool) -> Result<Claim, ServiceError> {
    if !xml {
        // Malformed JSON has no field to blame: say where it broke instead.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(body) {
            return Err(ServiceError::Unreadable(FieldError::new(
                "",
                format!("malformed JSON: {e}"),
            )));
        }
        if !body.trim_start().starts_with('{') {
            return Err(ServiceError::Unreadable(FieldError::new(
                "",
                "a claim is a JSON object",
            )));
        }
    }
    if xml && (body.contains("<!DOCTYPE") || body.contains("<!ENTITY")) {
        return Err(ServiceError::Unreadable(FieldError::new(
            "",
            "malformed XML: a claim has no document type declaration or entities",
        )));
    }
    // The XML deserializer has panicked on malformed input (a declaration
    // inside a text): a bad document is refused, never a 500.
    let parsed = std::panic::catch_unwind(|| {
        if xml {
            claim::parse_xml(body)
        } else {
            claim::parse_json(body)
        }
    })
    .map_err(|_| {
        ServiceError::Unreadable(FieldError::new(
            "",
            if xml {
                "malformed XML"
            } else {
                "malformed JSON"
            },
        ))
    })?;
    parsed.map_err(|e| {
        let mut f = FieldError::from(e);
        // serde reports a missing field at its parent: name the field.
        if let Some(name) = f
            .message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            f.path = if f.path.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", f.path)
            };
        }
        if f.path.is_empty() {
            ServiceError::Unreadable(f)
        } else {
            ServiceError::Invalid(vec![f])
        }
    })
}

/// A claim bound to the records: everything the engine needs.
struct Prepared {
    /// The policy set in force when the claim was bound (kept for the life
    /// of the process: see [`Policies`]) and the index of the claim's: so
    /// that a settlement's computation can run on the storage's writer
    /// task, and a policy uploaded meanwhile changes nothing half-way.
    policies: &'static PolicySet,
    policy_ix: usize,
    hospital: Hospital,
    identity: Identity,
    resolved: ResolvedClaim,
    /// Registry categories the policy declares, in policy order.
    categories: Vec<String>,
}

impl Prepared {
    fn policy(&self) -> &Policy {
        &self.policies[self.policy_ix]
    }
}

/// How a settle call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub settlement_id: String,
    /// The stored answer, exactly as first sent (status updated if it was
    /// cancelled since).
    pub answer_json: String,
    /// `false` when this was a retry of an already settled claim.
    pub created: bool,
}

/// How a cancel call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub answer_json: String,
    /// `false` when it had been cancelled before.
    pub now: bool,
}

/// The answer of a cancelled settlement: the original answer with
/// `status = "cancelled"`, when and by which reversal row.
#[derive(Serialize)]
struct CancelledAnswer {
    #[serde(flatten)]
    answer: Answer,
    cancelled_at: String,
    reversal_id: String,
}

/// The service: a database and the policies in force (loaded at start,
/// replaced when a policy is uploaded: see [`Policies`]).
#[derive(Debug, Clone)]
pub struct Service {
    pub db: Db,
    pub policies: Policies,
    /// Hospitals read in the last few seconds ([`directory`]).
    pub hospitals: directory::HospitalCache,
}

/// The policy set of a running service, swappable without a restart.
///
/// Reads (`service.policies.choose(…)`, `.by_id(…)`, iteration) see the
/// current set through `Deref`, exactly as before. [`Policies::replace`]
/// installs a new set; each set is kept for the life of the process (a
/// request in flight may still be settling on the one it read), which
/// costs one set's memory per upload — uploads are rare (a few a year).
#[derive(Debug, Clone)]
pub struct Policies(Arc<std::sync::RwLock<&'static PolicySet>>);

impl Policies {
    pub fn new(set: PolicySet) -> Self {
        Policies(Arc::new(std::sync::RwLock::new(Box::leak(Box::new(set)))))
    }

    /// The current set.
    pub fn current(&self) -> &'static PolicySet {
        match self.0.read() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Install `set` for every request from now on.
    pub fn replace(&self, set: PolicySet) {
        let leaked: &'static PolicySet = Box::leak(Box::new(set));
        match self.0.write() {
            Ok(mut g) => *g = leaked,
            Err(poisoned) => *poisoned.into_inner() = leaked,
        }
    }
}

impl std::ops::Deref for Policies {
    type Target = PolicySet;
    fn deref(&self) -> &PolicySet {
        self.current()
    }
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Service {
    pub fn new(db: Db, policies: PolicySet) -> Self {
        Service {
            db,
            policies: Policies::new(policies),
            hospitals: directory::HospitalCache::default(),
        }
    }

    /// Load the policies of `paths` (files or directories of `*.toml`) and
    /// record their texts in the database, so every settlement's
    /// `policy_hash` can be traced to its rules.
    pub async fn load_policies(db: &Db, paths: &[PathBuf]) -> anyhow::Result<PolicySet> {
        let policies = policy_files::load(paths).map_err(anyhow::Error::msg)?;
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                for e in std::fs::read_dir(p)?.flatten() {
                    if e.path().extension().is_some_and(|x| x == "toml") {
                        files.push(e.path());
                    }
                }
            } else {
                files.push(p.clone());
            }
        }
        for f in files {
            let text = std::fs::read_to_string(&f)?;
            let hash = engine::policy::content_hash(&text);
            if let Some(p) = policies.by_hash(&hash) {
                db.record_policy(&storage::PolicyRecord {
                    hash: &p.hash,
                    id: &p.id,
                    region: &p.region,
                    effective_from: &p.effective_from.to_string(),
                    effective_to: &p.effective_to.to_string(),
                    source: &text,
                })
                .await?;
            }
        }
        Ok(policies)
    }

    /// The policy for a claim discharged on `date` by a person insured in
    /// `insured` (else the hospital's `region`): see [`PolicySet::choose`].
    pub fn policy_for(
        &self,
        insured: Option<&str>,
        region: &str,
        date: chrono::NaiveDate,
    ) -> Result<&Policy, engine::policy::NoPolicy> {
        self.policies.choose(date, insured, Some(region))
    }

    /// Bind a claim to the records: see the module docs.
    async fn prepare(&self, c: &mut Claim, hospital_code: &str) -> Result<Prepared, ServiceError> {
        if c.hospital.trim().is_empty() {
            c.hospital = hospital_code.to_string();
        } else if c.hospital != hospital_code {
            return Err(ServiceError::Forbidden(FieldError::new(
                "hospital",
                format!(
                    "claim is for hospital {:?} but this key belongs to hospital {hospital_code:?}",
                    c.hospital
                ),
            )));
        }
        let hospital = self
            .hospitals
            .get(&self.db, hospital_code)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    "hospital",
                    format!("hospital {hospital_code:?} is not in the hospital directory"),
                )
            })?;
        let date = c.discharged_on.0;
        let person = self
            .db
            .person_on(&c.person_id, &date.to_string())
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    "person_id",
                    format!(
                        "person {:?} is not in the eligibility registry",
                        c.person_id
                    ),
                )
            })?;
        // Regions come from the registry and the directory, never from the
        // hospital: what it sent is dropped, so the stored claim (and its
        // idempotency hash) carries only what the hospital is trusted with.
        c.hospital_region = None;
        c.insured_region = None;
        let insured = person.region.as_deref();
        // One snapshot of the policy set for the whole claim.
        let set = self.policies.current();
        let policy = set
            .choose(date, insured, Some(&hospital.region))
            .map_err(|e| {
                // The caller sends neither region: name what it can act on —
                // the person whose registered region no policy covers, else
                // the date (as for a hospital region no policy covers).
                let field = match e.field {
                    "insured_region" => "person_id",
                    _ => "discharged_on",
                };
                ServiceError::invalid(
                    field,
                    format!(
                        "{} (hospital {}, region {})",
                        e.message, hospital.code, hospital.region
                    ),
                )
            })?;
        let level = policy.level_index(&hospital.level).ok_or_else(|| {
            ServiceError::invalid(
                "hospital",
                format!(
                    "hospital {} has level {:?}, which policy {} does not declare",
                    hospital.code, hospital.level, policy.id
                ),
            )
        })?;
        let mut mask = 0;
        for cat in &person.categories {
            match policy.category_index(cat) {
                Some(i) => mask |= engine::policy::bit(i),
                None => {
                    tracing::warn!(person = %c.person_id, category = %cat, policy = %policy.id, "registry category not declared by the policy; ignored")
                }
            }
        }
        let categories = policy
            .categories
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & engine::policy::bit(*i) != 0)
            .map(|(_, (id, _))| id.clone())
            .collect();
        // (only 6-digit codes: the claim's own format, so a stored claim
        // always parses again)
        c.hospital_region = region_code(&hospital.region);
        c.insured_region = person.region.as_deref().and_then(region_code);
        let resolved = claim::resolve(policy, c)?;
        let policy_ix = set
            .iter()
            .position(|x| std::ptr::eq(x, policy))
            .ok_or_else(|| ServiceError::Internal("chosen policy not in the set".into()))?;
        Ok(Prepared {
            policies: set,
            policy_ix,
            hospital,
            identity: Identity {
                categories: mask,
                level,
            },
            resolved,
            categories,
        })
    }

    /// Settle and commit (结算) a claim for `hospital_code`; idempotent on
    /// (hospital, claim_id).
    pub async fn settle(&self, mut c: Claim, hospital_code: &str) -> Result<Settled, ServiceError> {
        let p = self.prepare(&mut c, hospital_code).await?;
        // Idempotency compares what the hospital sent (regions come from
        // the records, so a registry change cannot turn a retry into a
        // conflict); the stored claim keeps the regions it was settled with,
        // so that `verify` and 应退应补 recompute the same place of care.
        let regions = (c.hospital_region.take(), c.insured_region.take());
        let claim_hash = sha256_hex(
            serde_json::to_string(&c)
                .map_err(|e| ServiceError::Internal(e.to_string()))?
                .as_bytes(),
        );
        (c.hospital_region, c.insured_region) = regions;
        let claim_json =
            serde_json::to_string(&c).map_err(|e| ServiceError::Internal(e.to_string()))?;
        // The key borrows copies: the claim and its computation move to the
        // storage's writer (group commit).
        let layer_ids = p.policy().slots.clone();
        let (claim_id, person_id, hash) =
            (c.claim_id.clone(), c.person_id.clone(), claim_hash.clone());
        let key = SettleKey {
            hospital: hospital_code,
            claim_id: &claim_id,
            claim_hash: &hash,
            person_id: &person_id,
            year: p.resolved.year,
            layer_ids: &layer_ids,
        };
        // The time is read here, on the request's task (whose clock tests
        // may fix), not on the writer's.
        let now = calendar::now_china();
        let outcome = self
            .db
            .commit_settlement(&key, move |accs| {
                build_settlement(&p, &c, accs, &claim_json, &claim_hash, now)
            })
            .await?;
        match outcome {
            SettleOutcome::Created { id, answer_json } => {
                tracing::info!(settlement_id = %id, hospital = %hospital_code, claim_id = %claim_id, "settled");
                Ok(Settled {
                    settlement_id: id,
                    answer_json,
                    created: true,
                })
            }
            SettleOutcome::Replayed { id, answer_json } => Ok(Settled {
                settlement_id: id,
                answer_json,
                created: false,
            }),
            SettleOutcome::Conflict { id } => Err(ServiceError::Conflict { settlement_id: id }),
            SettleOutcome::Voided { at } => Err(ServiceError::Voided { at }),
        }
    }

    /// Preview (预结算): the same answer on the current accumulators,
    /// nothing stored.
    pub async fn preview(&self, mut c: Claim, hospital_code: &str) -> Result<Answer, ServiceError> {
        let p = self.prepare(&mut c, hospital_code).await?;
        let stored = self.db.accumulators(&c.person_id, p.resolved.year).await?;
        let accs: Vec<Accumulator> = p
            .policy()
            .slots
            .iter()
            .map(|key| {
                stored
                    .iter()
                    .find(|(id, _)| id == key)
                    .map(|(_, a)| *a)
                    .unwrap_or_default()
            })
            .collect();
        let comp = engine::settle(p.policy(), &p.resolved, p.identity, &accs)
            .map_err(|e| e.for_claim(&c.claim_id))?;
        let mut answer = Answer::build(p.policy(), &c, p.resolved.year, &comp);
        answer.status = Some(Status::Preview.code().into());
        Ok(answer)
    }

    /// Cancel (撤销) a settlement; `hospital` limits it to that hospital's.
    pub async fn cancel(
        &self,
        id: &str,
        hospital: Option<&str>,
    ) -> Result<Cancelled, ServiceError> {
        let outcome = self
            .db
            .cancel_settlement(id, hospital, |original| {
                let now = calendar::now_china();
                let reversal_id = new_id();
                let mut answer: Answer =
                    serde_json::from_str(&original.answer_json).map_err(|e| {
                        StorageError::Corrupt(format!("stored answer of {}: {e}", original.id))
                    })?;
                answer.status = Some(Status::Cancelled.code().into());
                let answer_json = serde_json::to_string(&CancelledAnswer {
                    answer,
                    cancelled_at: calendar::answer_time(now),
                    reversal_id: reversal_id.clone(),
                })
                .map_err(|e| StorageError::Corrupt(format!("answer: {e}")))?;
                Ok(NewReversal {
                    id: reversal_id,
                    committed_at: calendar::timestamp_text(now),
                    booked_month: calendar::month_of(now),
                    answer_json,
                })
            })
            .await;
        match outcome? {
            CancelOutcome::Cancelled { answer_json } => {
                tracing::info!(settlement_id = %id, "cancelled");
                Ok(Cancelled {
                    answer_json,
                    now: true,
                })
            }
            CancelOutcome::AlreadyCancelled { answer_json } => Ok(Cancelled {
                answer_json,
                now: false,
            }),
            CancelOutcome::NotFound => Err(ServiceError::NotFound),
        }
    }
}

/// `r` when it is a 6-digit division code (the claim's own format).
fn region_code(r: &str) -> Option<String> {
    (r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit())).then(|| r.to_string())
}

/// A new settlement or reversal id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Compute with the engine on the locked accumulators and lay out the rows.
fn build_settlement(
    p: &Prepared,
    c: &Claim,
    accs: &[Accumulator],
    claim_json: &str,
    claim_hash: &str,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<NewSettlement, StorageError> {
    let comp = engine::settle(p.policy(), &p.resolved, p.identity, accs)
        .map_err(|e| StorageError::Refused(e.for_claim(&c.claim_id)))?;
    let mut answer = Answer::build(p.policy(), c, p.resolved.year, &comp);
    let id = new_id();
    answer.settlement_id = Some(id.clone());
    answer.status = Some(Status::Settled.code().into());
    answer.settled_at = Some(calendar::answer_time(now));
    let answer_json = serde_json::to_string(&answer)
        .map_err(|e| StorageError::Corrupt(format!("answer: {e}")))?;
    let layers = p
        .policy()
        .layers
        .iter()
        .zip(&comp.layers)
        .enumerate()
        .map(|(i, (l, o))| LayerRow {
            position: i as i64,
            layer_id: l.id.clone(),
            fund_code: l.effective_fund_code().to_string(),
            payer: l.payer.code().to_string(),
            applied: o.applied,
            cap_limited: o.cap_limited,
            base: to_fen(o.base),
            deductible: to_fen(o.delta.deductible_used),
            eligible: to_fen(o.delta.eligible_cum),
            paid: to_fen(o.delta.paid),
        })
        .collect();
    // Conservation before anything is stored (the database checks it again).
    let layers_paid: rust_decimal::Decimal = comp.layers.iter().map(|o| o.paid).sum();
    if comp.total != comp.hospital_waived + comp.fund_paid + comp.patient_payable
        || comp.fund_paid != layers_paid
    {
        return Err(StorageError::Corrupt(format!(
            "claim {}: the computation does not conserve (total {}, waived {}, funds {} = layers {}, patient {})",
            c.claim_id, comp.total, comp.hospital_waived, comp.fund_paid, layers_paid, comp.patient_payable
        )));
    }
    let extra = p.policy().slots[p.policy().layers.len()..]
        .iter()
        .zip(&comp.extra)
        .filter(|(_, d)| !d.paid.is_zero())
        .map(|(k, d)| (k.clone(), to_fen(d.paid)))
        .collect();
    Ok(NewSettlement {
        extra,
        row: SettlementRow {
            id,
            hospital: p.hospital.code.clone(),
            claim_id: c.claim_id.clone(),
            person_id: c.person_id.clone(),
            medical_type: c.medical_type.clone(),
            level: p.hospital.level.clone(),
            region: p.hospital.region.clone(),
            categories: p.categories.join(","),
            primary_category: p.categories.first().cloned().unwrap_or_default(),
            admitted_on: c.admitted_on.0.to_string(),
            discharged_on: c.discharged_on.0.to_string(),
            year: p.resolved.year,
            policy_id: p.policy().id.clone(),
            policy_hash: p.policy().hash.clone(),
            amounts: comp.breakdown().to_fen(),
            claim_hash: claim_hash.to_string(),
            claim_json: claim_json.to_string(),
            answer_json,
            committed_at: calendar::timestamp_text(now),
            booked_month: calendar::month_of(now),
        },
        layers,
    })
}
