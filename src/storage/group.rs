//! Group commit (组提交) of settlements on SQLite.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` every
//! commit waits for the disk. Settling one claim per transaction therefore
//! spends most of its time waiting for its own fsync while the others wait
//! for the write lock. Here one writer task per database takes every
//! settlement that is waiting when it becomes free (up to [`MAX_BATCH`]),
//! runs each in its own savepoint of one `BEGIN IMMEDIATE` transaction, in
//! arrival order, and commits them together: one fsync for the batch.
//!
//! What does not change:
//! - each settlement sees the accumulators as the earlier ones of its batch
//!   left them (same connection, same transaction): caps, pools and
//!   idempotency stay exact;
//! - a settlement that fails (refused claim, a conflict, a failed statement)
//!   is rolled back to its savepoint alone; the others of the batch go on;
//! - no answer is released before the batch's `COMMIT` has returned, so an
//!   acknowledged settlement is on disk; if the commit fails, every
//!   settlement of the batch gets the error and nothing of it is written.
//!
//! A settlement whose caller has already given up (its request deadline
//! passed while it waited for the write lock) is skipped, not written: the
//! caller was told that nothing was written. (A caller that gives up while
//! its batch is committing — a window of milliseconds — finds its
//! settlement stored when it retries: the retry answers the stored answer.)
//!
//! There is no waiting window: at low load a batch is one settlement and
//! the latency is that of a single transaction; under load the batch is
//! whatever arrived during the previous commit.

// What `settle_steps!` names at its expansion site.
use super::booking_month;
use super::settlements::{
    accumulator_of, insert_new_settlement, move_accumulator, outcome_of, settle_steps, BY_CLAIM,
};
use super::settlements::{NewSettlement, SettleKey, SettleOutcome};
use super::{Backend, Result, StorageError};
use crate::engine::Accumulator;
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most settlements committed in one transaction.
pub const MAX_BATCH: usize = 128;

/// Settlements waiting for the writer, at most.
const QUEUE: usize = 4096;

/// The computation of one settlement on its locked accumulators.
pub type Compute = Box<dyn FnOnce(&[Accumulator]) -> Result<NewSettlement> + Send>;

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

impl GroupWriter {
    /// Start the writer task for `pool`; `queue` is the process's write
    /// queue, which the writer takes for each batch like any other writer.
    pub fn start(pool: SqlitePool, queue: Arc<Mutex<()>>) -> GroupWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, queue, rx));
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

async fn run(pool: SqlitePool, queue: Arc<Mutex<()>>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&pool, &queue, batch).await;
    }
}

/// One transaction for the batch, a savepoint per settlement, one commit.
async fn commit_batch(pool: &SqlitePool, queue: &Mutex<()>, batch: Vec<Job>) {
    let _guard = queue.lock().await;
    let mut outer = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(t) => t,
        Err(e) => return fail_all(batch.into_iter().map(|j| j.done), &e),
    };
    let mut replies = Vec::with_capacity(batch.len());
    let mut created = 0usize;
    for job in batch {
        if job.done.is_closed() {
            // The caller gave up (its request deadline passed and it was
            // told 503, "nothing written"): keep that promise, skip it.
            continue;
        }
        let r = settle_one(&mut outer, &job.key, job.compute).await;
        created += usize::from(matches!(r, Ok(SettleOutcome::Created { .. })));
        replies.push((job.done, r));
    }
    if created == 0 {
        // nothing to make durable: no fsync
        let _ = outer.rollback().await;
        return reply_all(replies);
    }
    match outer.commit().await {
        Ok(()) => reply_all(replies),
        Err(e) => fail_all(replies.into_iter().map(|(d, _)| d), &e),
    }
}

/// One settlement in its own savepoint of the batch.
async fn settle_one(
    outer: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    owned: &OwnedKey,
    compute: Compute,
) -> Result<SettleOutcome> {
    let key = owned.key();
    let backend = Backend::Sqlite;
    let mut sp = sqlx::Connection::begin(&mut **outer).await?;
    match settle_steps!(sp, backend, key, compute) {
        Ok((outcome, true)) => {
            sp.commit().await?;
            Ok(outcome)
        }
        Ok((outcome, false)) => {
            sp.rollback().await?;
            Ok(outcome)
        }
        Err(e) => {
            // this settlement alone is undone; the batch goes on
            sp.rollback().await?;
            Err(e)
        }
    }
}

fn reply_all(
    replies: Vec<(
        oneshot::Sender<Result<SettleOutcome>>,
        Result<SettleOutcome>,
    )>,
) {
    for (done, r) in replies {
        // a caller that gave up (its deadline passed) finds the answer on
        // retry: the settlement is idempotent
        let _ = done.send(r);
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
