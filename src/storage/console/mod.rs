//! The staff console's tables (工作台): staff accounts, sessions,
//! failed logins, the console's audit log, uploaded policies, simulation
//! runs, and the read-only queries its pages need (registry search, the
//! settlement list with month and status, the month at a glance).
//!
//! Every write that the console makes here records its audit row in the
//! same transaction as the change.

use super::directory::upsert_registry_rows;
use super::{begin_write, with_pool, Db, RegistryRow, Result};
use crate::calendar::now_text;
use sqlx::Row;

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: i64,
    pub login: String,
    pub name: String,
    /// `centre` or `admin`.
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: String,
}

/// Who made a change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub login: String,
    pub name: String,
}

impl Actor {
    /// The command line on the server (no staff account).
    pub fn cli() -> Actor {
        Actor {
            user_id: None,
            login: "cli".into(),
            name: "命令行".into(),
        }
    }

    /// How a person is named where a single text is stored (month close).
    pub fn label(&self) -> String {
        match self.user_id {
            Some(id) => format!("{}（{}，#{id}）", self.name, self.login),
            None => self.name.clone(),
        }
    }
}

/// One change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    pub actor: &'a Actor,
    /// `user.create`, `registry.import`, `month.close`, …
    pub action: &'a str,
    pub subject: &'a str,
    pub reason: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub user_id: Option<i64>,
    pub user_login: String,
    pub user_name: String,
    pub action: String,
    pub subject: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub action: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: i64,
}

/// A stored session with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: StaffUser,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// A stored policy (the `policies` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyListing {
    pub hash: String,
    pub id: String,
    pub region: String,
    pub effective_from: String,
    pub effective_to: String,
    pub loaded_at: String,
    /// Uploaded at run time: by whom.
    pub uploaded_by: Option<String>,
}

/// A simulation run kept in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationRun {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    pub title: String,
    pub request: String,
    /// The report as JSON (`GET /v1/simulations/{id}`).
    pub report: String,
    /// The report as the self-contained HTML page.
    pub report_html: String,
}

/// One line of the console's settlement list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettlement {
    pub id: String,
    pub claim_id: String,
    pub hospital: String,
    pub person_id: String,
    pub medical_type: String,
    pub discharged_on: String,
    pub booked_month: String,
    pub total: i64,
    pub fund_paid: i64,
    pub patient_payable: i64,
    pub committed_at: String,
    /// When it was reversed, if it was.
    pub cancelled_at: Option<String>,
    /// The settlement that replaced it (应退应补), if any.
    pub replaced_by: Option<String>,
}

/// Filters of the console's settlement list.
#[derive(Debug, Clone, Default)]
pub struct SettlementQuery {
    pub hospital: Option<String>,
    /// Booked month `YYYY-MM`.
    pub month: Option<String>,
    pub person: Option<String>,
    /// `settled` or `cancelled`.
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The month at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glance {
    pub settlements: i64,
    pub cancellations: i64,
    /// Fund paid this month (fen), net of reversals.
    pub fund_paid: i64,
    /// Paid by `aid` layers this year (fen), net.
    pub aid_paid_year: i64,
    /// Months with rows that are not closed.
    pub open_months: Vec<String>,
}

fn user_of(r: &impl RowLike) -> Result<StaffUser> {
    r.user()
}

/// Reads a [`StaffUser`] from either backend's row.
trait RowLike {
    fn user(&self) -> Result<StaffUser>;
}

macro_rules! impl_rowlike {
    ($t:ty) => {
        impl RowLike for $t {
            fn user(&self) -> Result<StaffUser> {
                Ok(StaffUser {
                    id: self.try_get("id")?,
                    login: self.try_get("login")?,
                    name: self.try_get("name")?,
                    role: self.try_get("role")?,
                    password_hash: self.try_get("password_hash")?,
                    disabled: self.try_get::<i64, _>("disabled")? != 0,
                    created_at: self.try_get("created_at")?,
                })
            }
        }
    };
}
impl_rowlike!(sqlx::sqlite::SqliteRow);
impl_rowlike!(sqlx::postgres::PgRow);

const USER_COLS: &str = "u.id, u.login, u.name, u.role, u.password_hash, u.disabled, u.created_at";

macro_rules! audit_insert {
    ($tx:expr, $e:expr) => {{
        let e: &AuditEntry<'_> = $e;
        sqlx::query(
            "INSERT INTO console_audit (at, user_id, user_login, user_name, action, subject, reason, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(now_text())
        .bind(e.actor.user_id)
        .bind(&e.actor.login)
        .bind(&e.actor.name)
        .bind(e.action)
        .bind(e.subject)
        .bind(e.reason)
        .bind(e.detail)
        .execute(&mut *$tx)
        .await?;
    }};
}

// Staff accounts, sessions and failed logins: after `audit_insert!`,
// which they use.
mod staff;

impl Db {
    /// Record a change made elsewhere (a write this module does not own,
    /// such as a month close): its own transaction, right after the change.
    pub async fn record_audit(&self, e: &AuditEntry<'_>) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            audit_insert!(tx, e);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRow>> {
        let to_next = f.to.as_ref().map(|t| format!("{t}T99"));
        let user = f.user.as_ref().map(|u| format!("%{u}%"));
        let action = f.action.as_ref().map(|a| format!("{a}%"));
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query(
                "SELECT seq, at, user_id, user_login, user_name, action, subject, reason, detail FROM console_audit
                 WHERE (CAST($1 AS TEXT) IS NULL OR user_login LIKE $1 OR user_name LIKE $1)
                   AND (CAST($2 AS TEXT) IS NULL OR action LIKE $2)
                   AND (CAST($3 AS TEXT) IS NULL OR at >= $3)
                   AND (CAST($4 AS TEXT) IS NULL OR at < $4)
                 ORDER BY seq DESC LIMIT $5",
            )
            .bind(&user)
            .bind(&action)
            .bind(&f.from)
            .bind(&to_next)
            .bind(f.limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    user_id: r.try_get("user_id")?,
                    user_login: r.try_get("user_login")?,
                    user_name: r.try_get("user_name")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    reason: r.try_get("reason")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
        })
    }

    /// Registry search: persons whose id starts with `q` or whose name
    /// contains it: (person id, name), at most `limit`.
    pub async fn search_registry(&self, q: &str, limit: i64) -> Result<Vec<(String, String)>> {
        let prefix = format!("{q}%");
        let inside = format!("%{q}%");
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query(
                "SELECT person_id, MAX(name) AS name FROM registry
                 WHERE person_id LIKE $1 OR name LIKE $2
                 GROUP BY person_id ORDER BY person_id LIMIT $3",
            )
            .bind(&prefix)
            .bind(&inside)
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("person_id")?, r.try_get("name")?)))
            .collect()
        })
    }

    /// Every registry row of the given persons (all persons when empty),
    /// by person and start.
    pub async fn registry_rows(&self, persons: &[String]) -> Result<Vec<RegistryRow>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            let rows = if persons.len() == 1 {
                sqlx::query(
                    "SELECT person_id, name, category, valid_from, valid_to, region FROM registry
                     WHERE person_id = $1 ORDER BY valid_from, category",
                )
                .bind(&persons[0])
                .fetch_all(pool)
                .await?
            } else {
                sqlx::query(
                    "SELECT person_id, name, category, valid_from, valid_to, region FROM registry
                     ORDER BY person_id, valid_from, category",
                )
                .fetch_all(pool)
                .await?
            };
            rows.iter()
                .filter(|r| {
                    persons.len() <= 1
                        || r.try_get::<String, _>("person_id")
                            .is_ok_and(|p| persons.contains(&p))
                })
                .map(|r| {
                    Ok(RegistryRow {
                        person_id: r.try_get("person_id")?,
                        name: r.try_get("name")?,
                        category: r.try_get("category")?,
                        valid_from: r.try_get("valid_from")?,
                        valid_to: r.try_get("valid_to")?,
                        region: r.try_get("region")?,
                    })
                })
                .collect()
        })
    }

    /// Import registry rows (insert or update by person, category, start)
    /// and record the import, in one transaction.
    pub async fn import_registry_audited(
        &self,
        rows: &[RegistryRow],
        audit: &AuditEntry<'_>,
    ) -> Result<usize> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            upsert_registry_rows!(tx, rows, &now);
            audit_insert!(tx, audit);
            tx.commit().await?;
        });
        Ok(rows.len())
    }

    /// Settlements (not reversals) under the console's filters, newest
    /// first, and their count.
    pub async fn console_settlements(
        &self,
        q: &SettlementQuery,
    ) -> Result<(Vec<ConsoleSettlement>, i64)> {
        const WHERE: &str = "s.kind = 'settlement'
             AND (CAST($1 AS TEXT) IS NULL OR s.hospital = $1)
             AND (CAST($2 AS TEXT) IS NULL OR s.booked_month = $2)
             AND (CAST($3 AS TEXT) IS NULL OR s.person_id = $3)
             AND (CAST($4 AS TEXT) IS NULL OR ($4 = 'cancelled' AND r.id IS NOT NULL) OR ($4 = 'settled' AND r.id IS NULL))";
        with_pool!(self, |pool, backend| {
            let _ = backend;
            let count: i64 = sqlx::query_scalar(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM settlements s LEFT JOIN settlements r ON r.reverses = s.id AND r.kind = 'reversal' WHERE {WHERE}"
            ))
            .bind(&q.hospital)
            .bind(&q.month)
            .bind(&q.person)
            .bind(&q.status)
            .fetch_one(pool)
            .await?;
            let rows = sqlx::query(&format!(
                "SELECT s.id, s.claim_id, s.hospital, s.person_id, s.medical_type, s.discharged_on, s.booked_month,
                        s.total, s.fund_paid, s.patient_payable, s.committed_at, r.committed_at AS cancelled_at,
                        n.id AS replaced_by
                 FROM settlements s
                 LEFT JOIN settlements r ON r.reverses = s.id AND r.kind = 'reversal'
                 LEFT JOIN settlements n ON n.replaces = s.id
                 WHERE {WHERE} ORDER BY s.seq DESC LIMIT $5 OFFSET $6"
            ))
            .bind(&q.hospital)
            .bind(&q.month)
            .bind(&q.person)
            .bind(&q.status)
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(pool)
            .await?;
            let items = rows
                .iter()
                .map(|r| {
                    Ok(ConsoleSettlement {
                        id: r.try_get("id")?,
                        claim_id: r.try_get("claim_id")?,
                        hospital: r.try_get("hospital")?,
                        person_id: r.try_get("person_id")?,
                        medical_type: r.try_get("medical_type")?,
                        discharged_on: r.try_get("discharged_on")?,
                        booked_month: r.try_get("booked_month")?,
                        total: r.try_get("total")?,
                        fund_paid: r.try_get("fund_paid")?,
                        patient_payable: r.try_get("patient_payable")?,
                        committed_at: r.try_get("committed_at")?,
                        cancelled_at: r.try_get("cancelled_at")?,
                        replaced_by: r.try_get("replaced_by")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((items, count))
        })
    }

    /// The month at a glance (`month` = `YYYY-MM`).
    pub async fn glance(&self, month: &str) -> Result<Glance> {
        let year = format!("{}%", &month[..month.len().min(4)]);
        with_pool!(self, |pool, backend| {
            let _ = backend;
            let r = sqlx::query(
                "SELECT CAST(COUNT(*) FILTER (WHERE kind = 'settlement') AS BIGINT) AS s,
                        CAST(COUNT(*) FILTER (WHERE kind = 'reversal') AS BIGINT) AS r,
                        CAST(COALESCE(SUM(fund_paid), 0) AS BIGINT) AS f
                 FROM settlements WHERE booked_month = $1",
            )
            .bind(month)
            .fetch_one(pool)
            .await?;
            let aid: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(l.paid), 0) AS BIGINT) FROM settlement_layers l
                 JOIN settlements s ON s.id = l.settlement_id
                 WHERE s.booked_month LIKE $1 AND l.payer = $2",
            )
            .bind(&year)
            .bind(crate::engine::codes::Payer::Aid.code())
            .fetch_one(pool)
            .await?;
            let open: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT s.booked_month FROM settlements s
                 LEFT JOIN months m ON m.month = s.booked_month
                 WHERE m.status IS NULL OR m.status <> 'closed' ORDER BY s.booked_month",
            )
            .fetch_all(pool)
            .await?;
            Ok(Glance {
                settlements: r.try_get("s")?,
                cancellations: r.try_get("r")?,
                fund_paid: r.try_get("f")?,
                aid_paid_year: aid,
                open_months: open,
            })
        })
    }

    /// Every stored policy, newest load first, with who uploaded it.
    pub async fn policy_listing(&self) -> Result<Vec<PolicyListing>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query(
                "SELECT p.hash, p.id, p.region, p.effective_from, p.effective_to, p.loaded_at, u.uploaded_by
                 FROM policies p LEFT JOIN uploaded_policies u ON u.hash = p.hash
                 ORDER BY p.region, p.effective_from, p.id",
            )
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(PolicyListing {
                    hash: r.try_get("hash")?,
                    id: r.try_get("id")?,
                    region: r.try_get("region")?,
                    effective_from: r.try_get("effective_from")?,
                    effective_to: r.try_get("effective_to")?,
                    loaded_at: r.try_get("loaded_at")?,
                    uploaded_by: r.try_get("uploaded_by")?,
                })
            })
            .collect()
        })
    }

    /// A stored policy's text by hash.
    pub async fn policy_text(&self, hash: &str) -> Result<Option<String>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            Ok(
                sqlx::query_scalar("SELECT source FROM policies WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// Store an uploaded policy (text by hash) and record the upload, in
    /// one transaction. `false` when that text had been uploaded before.
    pub async fn upload_policy(
        &self,
        p: &super::PolicyRecord<'_>,
        audit: &AuditEntry<'_>,
    ) -> Result<bool> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
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
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query(
                "INSERT INTO uploaded_policies (hash, uploaded_at, uploaded_by) VALUES ($1, $2, $3)
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(p.hash)
            .bind(&now)
            .bind(audit.actor.label())
            .execute(&mut *tx)
            .await?;
            audit_insert!(tx, audit);
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The texts of every uploaded policy, oldest first.
    pub async fn uploaded_policy_texts(&self) -> Result<Vec<String>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            Ok(sqlx::query_scalar(
                "SELECT p.source FROM uploaded_policies u JOIN policies p ON p.hash = u.hash ORDER BY u.uploaded_at",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Keep a simulation run; its audit row in the same transaction.
    pub async fn insert_simulation_run(
        &self,
        run: &SimulationRun,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            sqlx::query(
                "INSERT INTO simulation_runs (id, created_at, created_by, title, request, report, report_html)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&run.id)
            .bind(&run.created_at)
            .bind(&run.created_by)
            .bind(&run.title)
            .bind(&run.request)
            .bind(&run.report)
            .bind(&run.report_html)
            .execute(&mut *tx)
            .await?;
            audit_insert!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn simulation_run(&self, id: &str) -> Result<Option<SimulationRun>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query(
                "SELECT id, created_at, created_by, title, request, report, report_html FROM simulation_runs WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|r| {
                Ok(SimulationRun {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    created_by: r.try_get("created_by")?,
                    title: r.try_get("title")?,
                    request: r.try_get("request")?,
                    report: r.try_get("report")?,
                    report_html: r.try_get("report_html")?,
                })
            })
            .transpose()
        })
    }

    /// Earlier runs, newest first (without their reports).
    pub async fn simulation_runs(&self, limit: i64) -> Result<Vec<SimulationRun>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query(
                "SELECT id, created_at, created_by, title, request FROM simulation_runs ORDER BY created_at DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(SimulationRun {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    created_by: r.try_get("created_by")?,
                    title: r.try_get("title")?,
                    request: r.try_get("request")?,
                    report: String::new(),
                    report_html: String::new(),
                })
            })
            .collect()
        })
    }

    /// A console setting.
    pub async fn console_setting(&self, key: &str) -> Result<Option<String>> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            Ok(
                sqlx::query_scalar("SELECT value FROM console_settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// Set a console setting; its audit row in the same transaction.
    pub async fn set_console_setting(
        &self,
        key: &str,
        value: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            sqlx::query(
                "INSERT INTO console_settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            audit_insert!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
