//! Group commit (组提交) of settlements, on SQLite and on PostgreSQL.
//!
//! Settling one claim per transaction spends its time in round trips (a
//! dozen statements, each a hop to the driver's thread or over the socket)
//! and in waiting for its own fsync. Here one writer task per process takes
//! every settlement that is waiting when it becomes free (up to
//! [`MAX_BATCH`]) and settles the whole batch in one transaction with a
//! fixed number of statements, whatever its size:
//!
//! 1. read: create and lock the batch's accumulator rows, read them, read
//!    the stored settlements and 冲正 tombstones of the batch's claims (one
//!    multi-row statement each; PostgreSQL also takes the claims' advisory
//!    locks and `FOR UPDATE` on the rows, in one global order);
//! 2. decide, in memory and in arrival order: each claim is computed on the
//!    accumulators as the earlier settlements of its batch left them, so
//!    caps, pools and idempotency stay exact (a second claim with the same
//!    id in one batch is a retry or a conflict of the first);
//! 3. write: one multi-row insert per table and one upsert that adds the
//!    batch's summed deltas to the accumulators;
//! 4. commit: one fsync for the batch; only then are the answers released.
//!
//! What does not change:
//! - a claim that fails (refused by the engine on the locked accumulators,
//!   a conflict, a tombstone) fails alone: it is decided in step 2 and
//!   nothing of it is written;
//! - if a statement of the batch fails (a unique-index race with another
//!   process, a deadlock victim), the batch is rolled back and each of its
//!   settlements is retried alone in its own transaction, so one bad row
//!   cannot fail the others;
//! - no answer is released before the `COMMIT` has returned, so an
//!   acknowledged settlement is on disk (SQLite keeps `synchronous = FULL`,
//!   PostgreSQL `synchronous_commit = on`); if the commit fails, every
//!   settlement of the batch gets the error and nothing of it is written.
//!
//! A settlement whose caller has already given up (its request deadline
//! passed while it waited) is skipped, not written: the caller was told
//! that nothing was written. (A caller that gives up while its batch is
//! committing — a window of milliseconds — finds its settlement stored when
//! it retries: the retry answers the stored answer.)
//!
//! There is no waiting window: at low load a batch is one settlement and
//! the latency is that of a single transaction; under load the batch is
//! whatever arrived during the previous commit.

// What `settle_steps!` and `booking_month!` name at their expansion sites.
use super::append::{
    insert_new_settlement, insert_settlements, move_accumulator, placeholders, rows_per_statement,
    values_sql, Appended, NewSettlement,
};
use super::booking_month;
use super::settle::{
    accumulator_of, check_row_matches, outcome_of, settle_steps, SettleKey, SettleOutcome, BY_CLAIM,
};
use super::{Backend, Result, StorageError};
use crate::engine::Accumulator;
use sqlx::postgres::PgPool;
use sqlx::{Row, SqlitePool};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most settlements committed in one transaction.
pub const MAX_BATCH: usize = 128;

/// Settlements waiting for the writer, at most.
const QUEUE: usize = 4096;

/// The computation of one settlement on its locked accumulators. `Fn`, not
/// `FnOnce`: a batch whose statement fails settles each claim again alone.
pub type Compute = Box<dyn Fn(&[Accumulator]) -> Result<NewSettlement> + Send + Sync>;

/// What a settlement locks and is idempotent on, owned (it crosses tasks).
#[derive(Debug, Clone)]
pub struct OwnedKey {
    pub hospital: String,
    pub claim_id: String,
    pub claim_hash: String,
    pub person_id: String,
    pub year: i32,
    pub layer_ids: Vec<String>,
}

impl OwnedKey {
    pub fn of(k: &SettleKey<'_>) -> OwnedKey {
        OwnedKey {
            hospital: k.hospital.to_string(),
            claim_id: k.claim_id.to_string(),
            claim_hash: k.claim_hash.to_string(),
            person_id: k.person_id.to_string(),
            year: k.year,
            layer_ids: k.layer_ids.to_vec(),
        }
    }

    fn key(&self) -> SettleKey<'_> {
        SettleKey {
            hospital: &self.hospital,
            claim_id: &self.claim_id,
            claim_hash: &self.claim_hash,
            person_id: &self.person_id,
            year: self.year,
            layer_ids: &self.layer_ids,
        }
    }

    fn claim(&self) -> (String, String) {
        (self.hospital.clone(), self.claim_id.clone())
    }
}

/// One settlement handed to the writer.
pub struct Job {
    key: OwnedKey,
    compute: Compute,
    done: oneshot::Sender<Result<SettleOutcome>>,
}

/// The handle the database keeps: where settlements are sent.
#[derive(Debug, Clone)]
pub struct GroupWriter {
    tx: mpsc::Sender<Job>,
}

/// The database a writer commits to.
enum Target {
    /// With the process's write queue, which the writer takes for each
    /// batch like any other SQLite writer.
    Sqlite(SqlitePool, Arc<Mutex<()>>),
    Postgres(PgPool),
}

impl GroupWriter {
    /// Start the writer task for a SQLite `pool`.
    pub fn start_sqlite(pool: SqlitePool, queue: Arc<Mutex<()>>) -> GroupWriter {
        Self::start(Target::Sqlite(pool, queue))
    }

    /// Start the writer task for a PostgreSQL `pool`.
    pub fn start_postgres(pool: PgPool) -> GroupWriter {
        Self::start(Target::Postgres(pool))
    }

    fn start(target: Target) -> GroupWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(target, rx));
        GroupWriter { tx }
    }

    /// Settle through the writer; the answer comes after its batch commits.
    pub async fn settle(&self, key: OwnedKey, compute: Compute) -> Result<SettleOutcome> {
        let (done, answer) = oneshot::channel();
        let stopped = || StorageError::Unavailable("the settlement writer has stopped".into());
        self.tx
            .send(Job { key, compute, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// What a batch reads before it computes.
#[derive(Default)]
struct Snapshot {
    /// (person, year) → accumulator key → (deductible, eligible, paid) fen.
    accumulators: HashMap<(String, i32), HashMap<String, [i64; 3]>>,
    /// (hospital, claim id) → its newest stored settlement.
    stored: HashMap<(String, String), Stored>,
    /// (hospital, claim id) → when it was reversed (冲正) before arriving.
    tombstones: HashMap<(String, String), String>,
}

struct Stored {
    id: String,
    claim_hash: String,
    answer_json: String,
    reversal_answer: Option<String>,
}

/// What step 2 decided for one job.
enum Decision {
    /// Write this settlement; answer `Created` after the commit.
    Write(Box<NewSettlement>),
    /// Answer this; nothing to write.
    Answer(Result<SettleOutcome>),
}

/// Decide every job of the batch in arrival order on `snap`, which moves
/// with each settlement decided.
fn decide_all(snap: &mut Snapshot, batch: &[Job]) -> Vec<Decision> {
    batch.iter().map(|job| decide(snap, job)).collect()
}

fn decide(snap: &mut Snapshot, job: &Job) -> Decision {
    let k = &job.key;
    let claim = k.claim();
    if let Some(s) = snap.stored.get(&claim) {
        return Decision::Answer(Ok(outcome_of(
            s.id.clone(),
            &s.claim_hash,
            s.answer_json.clone(),
            s.reversal_answer.clone(),
            &k.claim_hash,
        )));
    }
    if let Some(at) = snap.tombstones.get(&claim) {
        return Decision::Answer(Ok(SettleOutcome::Voided { at: at.clone() }));
    }
    let person = snap
        .accumulators
        .entry((k.person_id.clone(), k.year))
        .or_default();
    let accs: Vec<Accumulator> = k
        .layer_ids
        .iter()
        .map(|l| {
            person
                .get(l)
                .map_or_else(Accumulator::default, |f| accumulator_of(f[0], f[1], f[2]))
        })
        .collect();
    let new = match (job.compute)(&accs) {
        Ok(new) => new,
        Err(e) => return Decision::Answer(Err(e)),
    };
    let row = &new.row;
    if let Err(e) = check_row_matches(&k.key(), row) {
        return Decision::Answer(Err(e));
    }
    for (key, d) in new.deltas() {
        let f = person.entry(key.to_string()).or_default();
        for (f, d) in f.iter_mut().zip(d) {
            *f += d;
        }
    }
    snap.stored.insert(
        claim,
        Stored {
            id: row.id.clone(),
            claim_hash: k.claim_hash.clone(),
            answer_json: row.answer_json.clone(),
            reversal_answer: None,
        },
    );
    Decision::Write(Box::new(new))
}

/// The batch's accumulator keys, sorted: the one order every writer
/// creates and locks rows in.
fn slots_of(batch: &[Job]) -> BTreeSet<(&str, i64, &str)> {
    batch
        .iter()
        .flat_map(|j| {
            j.key
                .layer_ids
                .iter()
                .map(move |l| (j.key.person_id.as_str(), i64::from(j.key.year), l.as_str()))
        })
        .collect()
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let set: BTreeSet<&str> = items.collect();
    set.into_iter().collect()
}

/// PostgreSQL: the claims' advisory locks (against a concurrent 冲正 of the
/// same claim, see `void_claim`), in ascending order.
macro_rules! lock_claims {
    ($tx:ident, $batch:ident) => {{
        let mut locks: Vec<i64> = $batch
            .iter()
            .map(|j| super::access::claim_lock(&j.key.hospital, &j.key.claim_id))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        // (the select list is evaluated left to right)
        let calls: Vec<String> = (1..=locks.len())
            .map(|i| format!("pg_advisory_xact_lock(${i})"))
            .collect();
        let sql = format!("SELECT {}", calls.join(", "));
        let mut q = sqlx::query(&sql);
        for l in locks {
            q = q.bind(l);
        }
        q.execute(&mut *$tx).await?;
    }};
}

/// Create the batch's missing accumulator rows, then read (on PostgreSQL:
/// lock) its persons' rows, in (person, year, key) order.
macro_rules! read_accumulators {
    ($tx:ident, $backend:ident, $batch:ident, $snap:ident) => {{
        let slots: Vec<(&str, i64, &str)> = slots_of($batch).into_iter().collect();
        for chunk in slots.chunks(rows_per_statement(3)) {
            let sql = values_sql($backend, "INSERT INTO accumulators (person_id, year, layer_id)", 3, chunk.len())
                + " ON CONFLICT (person_id, year, layer_id) DO NOTHING";
            let mut q = sqlx::query(&sql);
            for (p, y, l) in chunk {
                q = q.bind(*p).bind(*y).bind(*l);
            }
            q.execute(&mut *$tx).await?;
        }
        let persons = distinct($batch.iter().map(|j| j.key.person_id.as_str()));
        let lock = if $backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        for chunk in persons.chunks(rows_per_statement(1)) {
            let sql = format!(
                "SELECT person_id, year, layer_id, deductible_used, eligible_cum, paid FROM accumulators
                 WHERE person_id IN ({}) ORDER BY person_id, year, layer_id{lock}",
                placeholders($backend, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q.bind(*p);
            }
            for r in q.fetch_all(&mut *$tx).await? {
                let year: i64 = r.try_get("year")?;
                let year = i32::try_from(year)
                    .map_err(|_| StorageError::Corrupt(format!("accumulator year {year}")))?;
                $snap
                    .accumulators
                    .entry((r.try_get("person_id")?, year))
                    .or_default()
                    .insert(
                        r.try_get("layer_id")?,
                        [r.try_get("deductible_used")?, r.try_get("eligible_cum")?, r.try_get("paid")?],
                    );
            }
        }
    }};
}

/// Read the stored settlements (newest per claim) and 冲正 tombstones of the
/// batch's claims: one statement each, filtered to exact pairs here.
macro_rules! read_claims {
    ($tx:ident, $backend:ident, $batch:ident, $snap:ident) => {{
        let hospitals = distinct($batch.iter().map(|j| j.key.hospital.as_str()));
        let claim_ids = distinct($batch.iter().map(|j| j.key.claim_id.as_str()));
        let wanted: BTreeSet<(&str, &str)> = $batch
            .iter()
            .map(|j| (j.key.hospital.as_str(), j.key.claim_id.as_str()))
            .collect();
        let (ph_h, ph_c) = (
            placeholders($backend, 1, hospitals.len()),
            placeholders($backend, hospitals.len() + 1, claim_ids.len()),
        );
        let sql = format!(
            "SELECT s.hospital, s.claim_id, s.id, s.claim_hash, s.answer_json, r.answer_json AS reversal_answer
             FROM settlements s LEFT JOIN settlements r ON r.reverses = s.id
             WHERE s.kind = 'settlement' AND s.hospital IN ({ph_h}) AND s.claim_id IN ({ph_c})
             ORDER BY s.seq"
        );
        let mut q = sqlx::query(&sql);
        for v in hospitals.iter().chain(claim_ids.iter()) {
            q = q.bind(*v);
        }
        for r in q.fetch_all(&mut *$tx).await? {
            let claim: (String, String) = (r.try_get("hospital")?, r.try_get("claim_id")?);
            if wanted.contains(&(claim.0.as_str(), claim.1.as_str())) {
                // ascending seq: the newest replaces the older
                $snap.stored.insert(
                    claim,
                    Stored {
                        id: r.try_get("id")?,
                        claim_hash: r.try_get("claim_hash")?,
                        answer_json: r.try_get("answer_json")?,
                        reversal_answer: r.try_get("reversal_answer")?,
                    },
                );
            }
        }
        let sql = format!(
            "SELECT hospital, claim_id, at FROM claim_tombstones
             WHERE hospital IN ({ph_h}) AND claim_id IN ({ph_c})"
        );
        let mut q = sqlx::query(&sql);
        for v in hospitals.iter().chain(claim_ids.iter()) {
            q = q.bind(*v);
        }
        for r in q.fetch_all(&mut *$tx).await? {
            let claim: (String, String) = (r.try_get("hospital")?, r.try_get("claim_id")?);
            if wanted.contains(&(claim.0.as_str(), claim.1.as_str())) {
                $snap.tombstones.insert(claim, r.try_get("at")?);
            }
        }
    }};
}

/// Step 3: book the decided settlements in their months, append them, add
/// their summed deltas to the accumulators. Evaluates to (answers, created).
macro_rules! write_decided {
    ($tx:ident, $backend:ident, $batch:ident, $decisions:ident) => {{
        let mut booked: BTreeMap<String, String> = BTreeMap::new();
        for d in &$decisions {
            if let Decision::Write(new) = d {
                let month = &new.row.booked_month;
                if !booked.contains_key(month) {
                    let b = booking_month!($tx, $backend, month);
                    booked.insert(month.clone(), b);
                }
            }
        }
        let rows: Vec<Appended<'_>> = $decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Write(new) => Some(Appended {
                    new,
                    booked: &booked[&new.row.booked_month],
                    replaces: None,
                }),
                Decision::Answer(_) => None,
            })
            .collect();
        if !rows.is_empty() {
            insert_settlements!($tx, &rows);
            add_deltas!($tx, $backend, $batch, $decisions);
        }
        let created = rows.len();
        drop(rows);
        let answers: Vec<Result<SettleOutcome>> = $decisions
            .into_iter()
            .map(|d| match d {
                Decision::Write(new) => {
                    let row = new.row;
                    Ok(SettleOutcome::Created {
                        id: row.id,
                        answer_json: row.answer_json,
                    })
                }
                Decision::Answer(a) => a,
            })
            .collect();
        (answers, created)
    }};
}

/// Add the batch's deltas, summed per accumulator row, in one upsert per
/// chunk (the rows exist: step 1 created them).
macro_rules! add_deltas {
    ($tx:ident, $backend:ident, $batch:ident, $decisions:ident) => {{
        let mut sums: BTreeMap<(&str, i64, &str), [i64; 3]> = BTreeMap::new();
        for (job, d) in $batch.iter().zip(&$decisions) {
            if let Decision::Write(new) = d {
                for (key, d) in new.deltas() {
                    let s = sums
                        .entry((job.key.person_id.as_str(), i64::from(job.key.year), key))
                        .or_default();
                    for (s, d) in s.iter_mut().zip(d) {
                        *s += d;
                    }
                }
            }
        }
        let sums: Vec<_> = sums.into_iter().collect();
        for chunk in sums.chunks(rows_per_statement(6)) {
            let sql = values_sql(
                $backend,
                "INSERT INTO accumulators (person_id, year, layer_id, deductible_used, eligible_cum, paid)",
                6,
                chunk.len(),
            ) + " ON CONFLICT (person_id, year, layer_id) DO UPDATE SET
                   deductible_used = accumulators.deductible_used + excluded.deductible_used,
                   eligible_cum = accumulators.eligible_cum + excluded.eligible_cum,
                   paid = accumulators.paid + excluded.paid";
            let mut q = sqlx::query(&sql);
            for ((p, y, k), d) in chunk {
                q = q.bind(*p).bind(*y).bind(*k).bind(d[0]).bind(d[1]).bind(d[2]);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}

/// Steps 1–3 for `$batch` inside the open transaction `$tx`. Evaluates to
/// `Result<(answers, created)>`: one answer per job (a `Created` one is
/// valid only once the transaction commits) and how many were written.
macro_rules! settle_batch {
    ($tx:ident, $backend:ident, $batch:expr) => {{
        let r: Result<(Vec<Result<SettleOutcome>>, usize)> = async {
            let batch: &[Job] = $batch;
            let mut snap = Snapshot::default();
            if $backend == Backend::Postgres {
                lock_claims!($tx, batch);
            }
            read_accumulators!($tx, $backend, batch, snap);
            read_claims!($tx, $backend, batch, snap);
            let decisions = decide_all(&mut snap, batch);
            let written = write_decided!($tx, $backend, batch, decisions);
            Ok(written)
        }
        .await;
        r
    }};
}

/// Settle `$batch` in one transaction begun by `$begin`; on a failed
/// statement, settle each of its jobs alone instead.
macro_rules! commit_batch {
    ($pool:expr, $backend:expr, $batch:ident, $begin:expr) => {{
        let backend = $backend;
        let mut batch = $batch;
        loop {
            // A caller that gave up (its request deadline passed and it was
            // told 503, "nothing written"): keep that promise, skip it.
            batch.retain(|job| !job.done.is_closed());
            if batch.is_empty() {
                break;
            }
            let mut tx = match $begin.await {
                Ok(tx) => tx,
                Err(e) => break fail_all(batch.into_iter().map(|j| j.done), &e),
            };
            let (answers, created) = match settle_batch!(tx, backend, &batch) {
                Ok(done) => done,
                Err(e) => {
                    tracing::debug!(error = %e, size = batch.len(), "a batch failed; settling its claims one by one");
                    let _ = tx.rollback().await;
                    for job in batch {
                        let r = settle_alone!($pool, backend, job);
                        let _ = job.done.send(r);
                    }
                    break;
                }
            };
            if created > 0 && batch.iter().any(|j| j.done.is_closed()) {
                // Someone gave up while the batch waited for a lock: settle
                // the batch again without them.
                let _ = tx.rollback().await;
                continue;
            }
            let committed = if created == 0 {
                // nothing to make durable: no fsync
                tx.rollback().await
            } else {
                tx.commit().await
            };
            match committed {
                Ok(()) => reply_all(batch, answers),
                Err(e) => fail_all(batch.into_iter().map(|j| j.done), &e),
            }
            break;
        }
    }};
}

/// One job in a transaction of its own (the fallback of a failed batch).
macro_rules! settle_alone {
    ($pool:expr, $backend:ident, $job:ident) => {{
        let r: Result<SettleOutcome> = async {
            let mut tx = match $backend {
                Backend::Sqlite => $pool.begin_with("BEGIN IMMEDIATE").await?,
                Backend::Postgres => $pool.begin().await?,
            };
            let key = $job.key.key();
            let compute = &$job.compute;
            let (outcome, keep) = settle_steps!(tx, $backend, key, compute)?;
            if $job.done.is_closed() {
                // its caller gave up and was told nothing was written
                tx.rollback().await?;
                return Err(StorageError::Unavailable("the caller gave up".into()));
            }
            if keep {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(outcome)
        }
        .await;
        r
    }};
}

async fn run(target: Target, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match &target {
            Target::Sqlite(pool, queue) => {
                let _guard = queue.lock().await;
                commit_batch!(
                    pool,
                    Backend::Sqlite,
                    batch,
                    pool.begin_with("BEGIN IMMEDIATE")
                )
            }
            Target::Postgres(pool) => commit_batch!(pool, Backend::Postgres, batch, pool.begin()),
        }
    }
}

fn reply_all(batch: Vec<Job>, answers: Vec<Result<SettleOutcome>>) {
    for (job, r) in batch.into_iter().zip(answers) {
        // a caller that gave up (its deadline passed) finds the answer on
        // retry: the settlement is idempotent
        let _ = job.done.send(r);
    }
}

fn fail_all(dones: impl Iterator<Item = oneshot::Sender<Result<SettleOutcome>>>, e: &sqlx::Error) {
    tracing::warn!(error = %e, "a settlement batch could not commit; nothing of it was written");
    for done in dones {
        let _ = done.send(Err(StorageError::Unavailable(format!(
            "the batch could not commit: {e}"
        ))));
    }
}
