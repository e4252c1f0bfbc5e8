//! Staff accounts (工作台用户), their sessions and failed logins. Every
//! change to an account records its audit row in the same transaction.

use super::*;

impl Db {
    /// Create a staff account; its audit row in the same transaction.
    /// `None` when the login is taken.
    pub async fn create_staff_user(
        &self,
        login: &str,
        name: &str,
        role: &str,
        password_hash: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<Option<i64>> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let taken: Option<i64> =
                sqlx::query_scalar("SELECT id FROM staff_users WHERE login = $1")
                    .bind(login)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                tx.rollback().await?;
                return Ok(None);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO staff_users (login, name, role, password_hash, disabled, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
            )
            .bind(login)
            .bind(name)
            .bind(role)
            .bind(password_hash)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await?;
            let subject = format!("{login} #{id}");
            audit_insert!(
                tx,
                &AuditEntry {
                    subject: &subject,
                    ..audit.clone()
                }
            );
            tx.commit().await?;
            Ok(Some(id))
        })
    }

    pub async fn staff_user_by_login(&self, login: &str) -> Result<Option<StaffUser>> {
        with_pool!(self, |pool, backend| {
            sqlx::query(&format!(
                "SELECT {USER_COLS} FROM staff_users u WHERE u.login = $1"
            ))
            .bind(login)
            .fetch_optional(pool)
            .await?
            .map(|r| user_of(&r))
            .transpose()
        })
    }

    pub async fn staff_users(&self) -> Result<Vec<StaffUser>> {
        with_pool!(self, |pool, backend| {
            sqlx::query(&format!(
                "SELECT {USER_COLS} FROM staff_users u ORDER BY u.id"
            ))
            .fetch_all(pool)
            .await?
            .iter()
            .map(user_of)
            .collect()
        })
    }

    /// Disable or enable an account (disabling ends its sessions); the
    /// audit row in the same transaction. `false`: no such login.
    pub async fn set_staff_disabled(
        &self,
        login: &str,
        disabled: bool,
        audit: &AuditEntry<'_>,
    ) -> Result<bool> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE staff_users SET disabled = $2, updated_at = $3 WHERE login = $1 RETURNING id",
            )
            .bind(login)
            .bind(i64::from(disabled))
            .bind(&now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                tx.rollback().await?;
                return Ok(false);
            };
            if disabled {
                sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            audit_insert!(tx, audit);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Set a new password hash (ends the account's sessions); the audit
    /// row in the same transaction. `false`: no such login.
    pub async fn set_staff_password(
        &self,
        login: &str,
        password_hash: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<bool> {
        let now = now_text();
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE staff_users SET password_hash = $2, updated_at = $3 WHERE login = $1 RETURNING id",
            )
            .bind(login)
            .bind(password_hash)
            .bind(&now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit_insert!(tx, audit);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Store a new session; the login is recorded in the audit log.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        address: &str,
        now: i64,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            sqlx::query(
                "INSERT INTO staff_sessions (token_hash, user_id, csrf, address, created_at, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit_insert!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A session and its user, by the hash of its cookie.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        with_pool!(self, |pool, backend| {
            let r = sqlx::query(&format!(
                "SELECT {USER_COLS}, s.csrf, s.created_at AS s_created, s.last_seen
                 FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id WHERE s.token_hash = $1"
            ))
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
            r.map(|r| {
                Ok(SessionRow {
                    user: user_of(&r)?,
                    csrf: r.try_get("csrf")?,
                    created_at: r.try_get("s_created")?,
                    last_seen: r.try_get("last_seen")?,
                })
            })
            .transpose()
        })
    }

    /// Mark a session used now (not more than once a minute, to spare the
    /// writer).
    pub async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query("UPDATE staff_sessions SET last_seen = $2 WHERE token_hash = $1 AND last_seen < $2 - 60")
                .bind(token_hash)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// End a session (logout, expiry); with an audit row when given.
    pub async fn delete_session(
        &self,
        token_hash: &str,
        audit: Option<&AuditEntry<'_>>,
    ) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
            if let Some(a) = audit {
                audit_insert!(tx, a);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Drop sessions idle since `idle_before` or created before
    /// `created_before`, and failed logins before `failures_before`.
    pub async fn sweep_sessions(
        &self,
        idle_before: i64,
        created_before: i64,
        failures_before: i64,
    ) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query("DELETE FROM staff_sessions WHERE last_seen < $1 OR created_at < $2")
                .bind(idle_before)
                .bind(created_before)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM login_failures WHERE at < $1")
                .bind(failures_before)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Record a failed login for each subject (`login:…`, `addr:…`).
    pub async fn record_login_failure(&self, subjects: &[&str], now: i64) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let (_guard, mut tx) = begin_write!(self, pool, backend);
            for s in subjects {
                sqlx::query("INSERT INTO login_failures (subject, at) VALUES ($1, $2)")
                    .bind(*s)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Failed logins of `subject` since `since`.
    pub async fn login_failures(&self, subject: &str, since: i64) -> Result<i64> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            Ok(sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM login_failures WHERE subject = $1 AND at >= $2",
            )
            .bind(subject)
            .bind(since)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Forget the failed logins of `subject` (after a good login).
    pub async fn clear_login_failures(&self, subject: &str) -> Result<()> {
        with_pool!(self, |pool, backend| {
            let _ = backend;
            sqlx::query("DELETE FROM login_failures WHERE subject = $1")
                .bind(subject)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
