//! Storage (存储): the only module that speaks SQL.
//!
//! One [`Db`] serves both backends through sqlx's runtime query API: an
//! embedded SQLite file (the default, one process) and PostgreSQL (several
//! `medaid serve` processes sharing one database). The SQL text is shared —
//! `$1` placeholders work on both — and every function is written once: the
//! `with_pool!` macro expands its body for each backend's concrete pool
//! type, so there is no `Any` driver in between and no generic bounds soup.
//!
//! Money is integer fen (`BIGINT`), exact on both databases. Dates are ISO
//! text; timestamps are RFC 3339 in China time (+08:00), so they sort
//! lexically and a month is their first seven characters.
//!
//! Concurrency, per backend:
//! - SQLite allows one writer. Writers are queued on an in-process mutex and
//!   then take the database lock with `BEGIN IMMEDIATE` (another process —
//!   a CLI import while serving — waits in `busy_timeout`), so a write
//!   transaction never has to upgrade a read lock and never fails with
//!   `SQLITE_BUSY` halfway. WAL mode keeps readers running meanwhile;
//!   `synchronous = FULL` makes an acknowledged commit survive power loss.
//! - PostgreSQL: a settlement locks its person's accumulator rows for the
//!   year with `SELECT … ORDER BY layer_id FOR UPDATE` (after creating any
//!   missing rows with `INSERT … ON CONFLICT DO NOTHING`, in the same order),
//!   so two processes settling for one person queue on those rows and an
//!   annual cap can never be overspent.

pub mod access;
pub mod append;
pub mod audit;
pub mod backup;
pub mod console;
pub mod directory;
pub mod group;
pub mod keys;
pub mod recon;
pub mod resettle;
mod reversal;
pub mod settle;
pub mod settlements;
pub mod simulation;
pub mod verify;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use access::{AccessEntry, AccessFilter};
pub use directory::{Hospital, RegistryRow};
pub use keys::KeyRow;
pub use settlements::{
    Amounts, CancelOutcome, LayerRow, ListFilter, NewReversal, NewSettlement, SettleKey,
    SettleOutcome, SettlementRow, StoredSettlement, Summary,
};
pub use simulation::{DischargeRange, StoredClaim};

/// The embedded database used when no `--database-url` is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://medaid.db";

/// Why a storage call failed. Shown to operators (CLI, logs), never to API
/// clients.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?} (expected sqlite://FILE or postgres://…)")]
    BadUrl(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database could not take the write (a failed batch commit, the
    /// writer gone); nothing was written.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The engine refused the claim on the locked accumulators; the
    /// transaction was rolled back and nothing was written.
    #[error("claim refused: {0}")]
    Refused(crate::engine::ClaimError),
}

impl StorageError {
    /// A unique-constraint violation (a racing duplicate insert).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StorageError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// The database was too busy to answer in time (a lock wait past
    /// `lock_timeout`, a deadlock victim, SQLite busy, no free connection).
    /// Nothing was written; the same request may simply be sent again.
    pub fn is_busy(&self) -> bool {
        match self {
            StorageError::Sqlx(sqlx::Error::PoolTimedOut) => true,
            StorageError::Sqlx(sqlx::Error::Database(e)) => matches!(
                e.code().as_deref(),
                // PostgreSQL: lock_not_available, deadlock_detected,
                // serialization_failure; SQLite: SQLITE_BUSY, SQLITE_LOCKED
                Some("55P03" | "40P01" | "40001" | "5" | "6" | "517" | "262")
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Inner {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool on SQLite or PostgreSQL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) inner: Inner,
    /// SQLite only: queues this process's writers (see the module docs).
    pub(crate) write_queue: Arc<tokio::sync::Mutex<()>>,
    /// The group-commit writer settlements go through (see [`group`]).
    pub(crate) group: Option<group::GroupWriter>,
    /// SQLite only: the WAL checkpoint task ([`checkpoint_wal`]) with its
    /// connection, stopped by `close` or when the last handle to this
    /// database is dropped.
    _checkpointer: Option<Arc<Background>>,
}

/// A task of a [`Db`]'s own, aborted when dropped.
#[derive(Debug)]
struct Background(tokio::task::JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The month a row committed in `$month` is booked in, decided inside the
/// writing transaction: `$month` itself, or, when that month is closed, the
/// first open month after it. A closed month's figures never change, and no
/// row is ever left out of every month. On PostgreSQL the month's row is
/// created if missing and share-locked, so a concurrent close (which locks
/// it for update) waits for this transaction and then counts its row.
macro_rules! booking_month {
    ($tx:expr, $backend:expr, $month:expr) => {{
        let mut month: String = $month.to_string();
        loop {
            let status: Option<String> = match $backend {
                $crate::storage::Backend::Postgres => {
                    sqlx::query(
                        "INSERT INTO months (month, status, updated_at) VALUES ($1, 'open', $2)
                         ON CONFLICT (month) DO NOTHING",
                    )
                    .bind(&month)
                    .bind($crate::calendar::now_text())
                    .execute(&mut *$tx)
                    .await?;
                    sqlx::query_scalar("SELECT status FROM months WHERE month = $1 FOR SHARE")
                        .bind(&month)
                        .fetch_optional(&mut *$tx)
                        .await?
                }
                $crate::storage::Backend::Sqlite => {
                    sqlx::query_scalar("SELECT status FROM months WHERE month = $1")
                        .bind(&month)
                        .fetch_optional(&mut *$tx)
                        .await?
                }
            };
            if status.as_deref() != Some("closed") {
                break month;
            }
            month = $crate::calendar::next_month(&month).ok_or_else(|| {
                $crate::storage::StorageError::Corrupt(format!("bad month {month:?}"))
            })?;
        }
    }};
}
pub(crate) use booking_month;

/// Expand `$body` once per backend with `$pool` bound to the concrete pool
/// and `$backend` to its [`Backend`].
macro_rules! with_pool {
    ($db:expr, |$pool:ident, $backend:ident| $body:expr) => {
        match &$db.inner {
            $crate::storage::Inner::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $backend = $crate::storage::Backend::Sqlite;
                $body
            }
            $crate::storage::Inner::Postgres($pool) => {
                #[allow(unused_variables)]
                let $backend = $crate::storage::Backend::Postgres;
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// Begin a write transaction on `$pool`: `BEGIN IMMEDIATE` behind the
/// process's write queue on SQLite, a plain `BEGIN` on PostgreSQL. Evaluates
/// to `(guard, tx)`; keep the guard alive until the commit.
macro_rules! begin_write {
    ($db:expr, $pool:ident, $backend:ident) => {{
        match $backend {
            $crate::storage::Backend::Sqlite => {
                let guard = Some($db.write_queue.clone().lock_owned().await);
                (guard, $pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            $crate::storage::Backend::Postgres => (
                None::<tokio::sync::OwnedMutexGuard<()>>,
                $pool.begin().await?,
            ),
        }
    }};
}
pub(crate) use begin_write;

/// Whether a pooled connection may be handed out: one still inside a
/// transaction — a COMMIT that failed and the ROLLBACK after it failed too,
/// as SQLite does after an I/O error or a full disk, or a transaction
/// dropped mid-statement — is closed instead of poisoning every later
/// `BEGIN` ("attempted to call begin_with at non-zero transaction depth").
/// The pool opens a fresh one. (A connection given back has already been
/// pinged by the pool, which flushes the rollback of a dropped transaction,
/// so the check costs nothing more than reading the driver's depth.)
async fn heal<C: sqlx::Connection>(conn: &mut C) -> std::result::Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        tracing::warn!("a pooled connection was left inside a transaction; closing it");
        return Ok(false);
    }
    Ok(true)
}

/// SQLite: copy the write-ahead log back into the database file twice a
/// second, on a connection of its own (not one of the pool's).
///
/// With SQLite's automatic checkpoint, the commit that makes the log cross
/// 1,000 pages copies it back and fsyncs the database file before it
/// returns: under load every few hundred settlements one batch — and every
/// answer waiting on it — stalls for tens to hundreds of milliseconds.
/// A passive checkpoint here waits for no reader or writer, so commits go
/// on while it runs; the log is reused from its start once a checkpoint
/// has copied all of it. (The last connection to close checkpoints too.)
async fn checkpoint_wal(options: SqliteConnectOptions) {
    use sqlx::ConnectOptions as _;
    // Quiet: a checkpoint that takes a second (an fsync of the database
    // file) is normal, not a slow query worth a warning.
    let options = options.disable_statement_logging();
    let mut conn: Option<sqlx::SqliteConnection> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if conn.is_none() {
            conn = options
                .connect()
                .await
                .map_err(|e| tracing::debug!(error = %e, "WAL checkpoint connection"))
                .ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *c)
            .await
        {
            tracing::debug!(error = %e, "WAL checkpoint");
            conn = None;
        }
    }
}

/// How to open a database.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: String,
    /// Pool size; `None` picks a default per backend.
    pub max_connections: Option<u32>,
    /// PostgreSQL: the longest a statement waits for a row lock (a
    /// settlement for a person's accumulator rows) before it fails as busy.
    pub lock_timeout: Duration,
    /// Settle through the group-commit writer ([`group`]), on either
    /// backend; on by default, off with `MEDAID_GROUP_COMMIT=0` (to compare).
    pub group_commit: bool,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions {
            url: url.into(),
            max_connections: None,
            lock_timeout: Duration::from_secs(15),
            group_commit: std::env::var("MEDAID_GROUP_COMMIT").map_or(true, |v| v != "0"),
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Open the database named by `url` and apply the embedded migrations.
    /// A URL without a scheme is taken as a SQLite file path.
    pub async fn connect(opts: &ConnectOptions) -> Result<Db> {
        let url = opts.url.trim();
        let mut checkpoint_options = None;
        let inner = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // A settlement waits at most this long for a person's
            // accumulator rows; past it the request fails as busy (503) and
            // nothing is written, rather than holding a connection forever.
            let connect = sqlx::postgres::PgConnectOptions::from_str(url)?.options([(
                "lock_timeout",
                format!("{}ms", opts.lock_timeout.as_millis()),
            )]);
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.unwrap_or(16))
                .acquire_timeout(Duration::from_secs(30))
                .before_acquire(|conn, _| Box::pin(heal(conn)))
                .connect_with(connect)
                .await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Inner::Postgres(pool)
        } else {
            let sqlite_url = if url.starts_with("sqlite:") {
                url.to_string()
            } else if url.contains("://") {
                return Err(StorageError::BadUrl(url.to_string()));
            } else {
                format!("sqlite://{url}")
            };
            let options = SqliteConnectOptions::from_str(&sqlite_url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // Checkpoints run in `checkpoint_wal`, not in the commit
                // that happens to cross the threshold (see there).
                .pragma("wal_autocheckpoint", "0");
            checkpoint_options = Some(options.clone());
            let pool = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.unwrap_or(8))
                .acquire_timeout(Duration::from_secs(60))
                // No ping before each use: a local file has no peer to
                // lose, the pool already pings every connection given back
                // (which also flushes a dropped transaction's rollback), and
                // `heal` checks the transaction depth. Each ping is a round
                // trip to the connection's thread: a third of a read's cost.
                .test_before_acquire(false)
                .before_acquire(|conn, _| Box::pin(heal(conn)))
                .connect_with(options)
                .await?;
            // Two processes creating one new file race to migrate it (SQLite
            // has no migration lock): the loser fails on "table exists";
            // once the winner has committed, running again is a no-op.
            let mut attempt = 0;
            while let Err(e) = SQLITE_MIGRATIONS.run(&pool).await {
                attempt += 1;
                if attempt >= 5 {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Inner::Sqlite(pool)
        };
        let write_queue = Arc::new(tokio::sync::Mutex::new(()));
        let group = match &inner {
            Inner::Sqlite(pool) if opts.group_commit => Some(group::GroupWriter::start_sqlite(
                pool.clone(),
                write_queue.clone(),
            )),
            Inner::Postgres(pool) if opts.group_commit => {
                Some(group::GroupWriter::start_postgres(pool.clone()))
            }
            _ => None,
        };
        let checkpointer =
            checkpoint_options.map(|o| Arc::new(Background(tokio::spawn(checkpoint_wal(o)))));
        Ok(Db {
            inner,
            write_queue,
            group,
            _checkpointer: checkpointer,
        })
    }

    pub fn backend(&self) -> Backend {
        with_pool!(self, |_pool, backend| backend)
    }

    /// The connection pool now: (open connections, idle ones, the most
    /// it may open).
    pub fn pool_stats(&self) -> (u32, u32, u32) {
        with_pool!(self, |pool, backend| (
            pool.size(),
            u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            pool.options().get_max_connections()
        ))
    }

    /// A trivial query: the database answers.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, |pool, backend| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// The database's real state, cheaply: it answers, and it can write.
    /// SQLite: a write transaction begins and is rolled back (behind the
    /// write queue; fails when the file is read-only or the disk is
    /// broken). PostgreSQL: not in recovery (a read-only standby), and a
    /// query answers.
    pub async fn probe(&self) -> Result<()> {
        with_pool!(self, |pool, backend| match backend {
            Backend::Sqlite => {
                let (_guard, mut tx) = begin_write!(self, pool, backend);
                // Touch the file for writing without changing anything.
                sqlx::query("DELETE FROM months WHERE 0")
                    .execute(&mut *tx)
                    .await?;
                tx.rollback().await?;
            }
            Backend::Postgres => {
                let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(pool)
                    .await?;
                if standby {
                    return Err(StorageError::Corrupt(
                        "the database is a read-only standby".into(),
                    ));
                }
            }
        });
        Ok(())
    }

    /// Close every pooled connection (waits for them to be returned).
    pub async fn close(&self) {
        if let Some(task) = &self._checkpointer {
            task.0.abort();
        }
        with_pool!(self, |pool, backend| pool.close().await)
    }

    /// Record a loaded policy text (by hash), once.
    pub async fn record_policy(&self, p: &PolicyRecord<'_>) -> Result<()> {
        with_pool!(self, |pool, backend| {
            sqlx::query(
                "INSERT INTO policies (hash, id, region, effective_from, effective_to, source, loaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hash) DO NOTHING",
            )
            .bind(p.hash)
            .bind(p.id)
            .bind(p.region)
            .bind(p.effective_from)
            .bind(p.effective_to)
            .bind(p.source)
            .bind(now_text())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// A policy as recorded in the `policies` table.
#[derive(Debug, Clone)]
pub struct PolicyRecord<'a> {
    pub hash: &'a str,
    pub id: &'a str,
    pub region: &'a str,
    pub effective_from: &'a str,
    pub effective_to: &'a str,
    pub source: &'a str,
}

/// The clock, as the reconciliation code still reaches it through
/// storage; new code uses [`crate::calendar`].
pub use crate::calendar::{china_offset, now_china, now_text, with_clock};

#[cfg(test)]
mod tests {
    /// A transaction that SQLite ended underneath the driver (as it does
    /// after an I/O error or a full disk at COMMIT) leaves the driver's
    /// connection "inside a transaction" for good: its next BEGIN fails
    /// with "attempted to call begin_with at non-zero transaction depth".
    /// The pool must close such a connection, not hand it out again.
    #[tokio::test]
    async fn a_connection_left_inside_a_transaction_is_not_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let db = super::Db::connect(&super::ConnectOptions {
            max_connections: Some(1),
            ..super::ConnectOptions::new(url)
        })
        .await
        .expect("connect");
        let super::Inner::Sqlite(pool) = &db.inner else {
            panic!("sqlite")
        };
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(pool)
            .await
            .expect("table");
        sqlx::query(
            "CREATE TRIGGER fault BEFORE INSERT ON t BEGIN SELECT RAISE(ROLLBACK, 'fault'); END",
        )
        .execute(pool)
        .await
        .expect("trigger");
        for _ in 0..3 {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
            let e = sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *tx)
                .await;
            assert!(e.is_err());
            assert!(sqlx::Connection::is_in_transaction(&*tx));
            drop(tx);
            // The next write transaction on the (only) pooled connection.
            db.probe()
                .await
                .expect("the pool handed out a poisoned connection");
        }
    }
}
