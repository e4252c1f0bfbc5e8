//! The staff console's side of the service (工作台): staff
//! accounts and their sessions, login throttling, the console's audit log,
//! policy uploads in force without a restart, and simulation runs kept in
//! the database. The roster import is in [`super::roster`].
//!
//! Passwords are hashed with Argon2id (PHC string, random salt). A session
//! is a random 256-bit token in an HttpOnly cookie; the database keeps its
//! SHA-256 only, with a per-session CSRF token that every form carries.

use super::{sha256_hex, Service, ServiceError};
use crate::engine::{Policy, PolicyError, PolicySet};
use crate::storage::console::{
    Actor, AuditEntry, AuditFilter, AuditRow, SessionRow, SimulationRun, StaffUser,
};
use crate::storage::{PolicyRecord, StorageError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// A session ends after this long without a request.
pub const IDLE_SECS: i64 = 30 * 60;
/// … and this long after login, however busy.
pub const ABSOLUTE_SECS: i64 = 12 * 60 * 60;
/// Failed logins counted over this window.
pub const THROTTLE_WINDOW_SECS: i64 = 15 * 60;
/// Failed logins of one account within the window before it is refused.
pub const MAX_FAILURES_PER_LOGIN: i64 = 5;
/// Failed logins from one address within the window before it is refused.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// A staff member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    /// The medical-aid centre (救助中心).
    Centre,
    /// Administrators (管理员): everything the centre does, and policies,
    /// simulation, accounts and keys.
    Admin,
}

impl StaffRole {
    pub fn parse(s: &str) -> Option<StaffRole> {
        match s {
            "centre" => Some(StaffRole::Centre),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Centre => "centre",
            StaffRole::Admin => "admin",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            StaffRole::Centre => "救助中心",
            StaffRole::Admin => "管理员",
        }
    }
}

/// A logged-in staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: StaffRole,
}

impl Staff {
    fn of(u: &StaffUser) -> Option<Staff> {
        Some(Staff {
            id: u.id,
            login: u.login.clone(),
            name: u.name.clone(),
            role: StaffRole::parse(&u.role)?,
        })
    }
    /// Who this is in the audit log.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            login: self.login.clone(),
            name: self.name.clone(),
        }
    }
    pub fn is_admin(&self) -> bool {
        self.role == StaffRole::Admin
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub staff: Staff,
    pub csrf: String,
    /// SHA-256 of the cookie.
    pub token_hash: String,
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("no account {0:?}")]
    NoSuchLogin(String),
    #[error("the login {0:?} is taken")]
    Taken(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StorageError> for AccountError {
    fn from(e: StorageError) -> Self {
        AccountError::Service(e.into())
    }
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong login or password, or a disabled account (not told apart).
    #[error("wrong login or password")]
    Wrong,
    /// Too many failures for the account or the address.
    #[error("too many failed logins; try again later")]
    Throttled,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StorageError> for LoginError {
    fn from(e: StorageError) -> Self {
        LoginError::Service(e.into())
    }
}

/// Unix seconds now (the service clock, so tests can move it).
pub fn unix_now() -> i64 {
    crate::calendar::now_china().timestamp()
}

/// A random token, 32 bytes, lower-case hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A password to show once: 16 characters without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

/// Argon2id hash (PHC string) of a password.
pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hash: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

async fn hash_blocking(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
}

fn check_password(p: &str) -> Result<(), AccountError> {
    if p.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::Invalid(format!(
            "a password has at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

fn check_login(login: &str) -> Result<(), AccountError> {
    let ok = !login.is_empty()
        && login.len() <= 32
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(format!(
            "login {login:?}: 1–32 characters of a–z, 0–9, `_` and `.`"
        )))
    }
}

/// A policy upload that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub id: String,
    pub hash: String,
    pub effective_from: String,
    /// `false`: this very text had been uploaded before.
    pub new: bool,
    pub warnings: Vec<String>,
}

/// Why an upload was refused: every problem, with its line where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRefused {
    pub errors: Vec<PolicyError>,
    pub warnings: Vec<PolicyError>,
}

impl Service {
    /// Create a staff account. Without a password one is generated and
    /// returned (to show once).
    pub async fn create_staff(
        &self,
        login: &str,
        name: &str,
        role: StaffRole,
        password: Option<&str>,
        by: &Actor,
    ) -> Result<(i64, Option<String>), AccountError> {
        let login = login.trim();
        check_login(login)?;
        if name.trim().is_empty() {
            return Err(AccountError::Invalid("a name is required".into()));
        }
        let generated = password.is_none().then(generate_password);
        let pw = password.map(str::to_string).or(generated.clone());
        let pw = pw.unwrap_or_default();
        check_password(&pw)?;
        let hash = hash_blocking(pw).await?;
        let detail = format!("{}，{}", name.trim(), role.label());
        let id = self
            .db
            .create_staff_user(
                login,
                name.trim(),
                role.as_str(),
                &hash,
                &AuditEntry {
                    actor: by,
                    action: "user.create",
                    subject: login,
                    reason: None,
                    detail: Some(&detail),
                },
            )
            .await?
            .ok_or_else(|| AccountError::Taken(login.to_string()))?;
        Ok((id, generated))
    }

    pub async fn staff_list(&self) -> Result<Vec<StaffUser>, ServiceError> {
        Ok(self.db.staff_users().await?)
    }

    /// Disable (or enable again) an account; disabling ends its sessions.
    pub async fn set_staff_disabled(
        &self,
        login: &str,
        disabled: bool,
        by: &Actor,
    ) -> Result<(), AccountError> {
        let ok = self
            .db
            .set_staff_disabled(
                login,
                disabled,
                &AuditEntry {
                    actor: by,
                    action: if disabled {
                        "user.disable"
                    } else {
                        "user.enable"
                    },
                    subject: login,
                    reason: None,
                    detail: None,
                },
            )
            .await?;
        if ok {
            Ok(())
        } else {
            Err(AccountError::NoSuchLogin(login.to_string()))
        }
    }

    /// Set a new password (generated when `None`, and returned); ends the
    /// account's sessions.
    pub async fn reset_staff_password(
        &self,
        login: &str,
        password: Option<&str>,
        by: &Actor,
    ) -> Result<Option<String>, AccountError> {
        let generated = password.is_none().then(generate_password);
        let pw = password
            .map(str::to_string)
            .or(generated.clone())
            .unwrap_or_default();
        check_password(&pw)?;
        let hash = hash_blocking(pw).await?;
        let ok = self
            .db
            .set_staff_password(
                login,
                &hash,
                &AuditEntry {
                    actor: by,
                    action: "user.reset_password",
                    subject: login,
                    reason: None,
                    detail: None,
                },
            )
            .await?;
        if ok {
            Ok(generated)
        } else {
            Err(AccountError::NoSuchLogin(login.to_string()))
        }
    }

    /// Log in: the new session's cookie value (to set once) and session.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        address: &str,
    ) -> Result<(String, Session), LoginError> {
        let now = unix_now();
        let since = now - THROTTLE_WINDOW_SECS;
        let by_login = format!("login:{}", login.trim());
        let by_addr = format!("addr:{address}");
        if self.db.login_failures(&by_login, since).await? >= MAX_FAILURES_PER_LOGIN
            || self.db.login_failures(&by_addr, since).await? >= MAX_FAILURES_PER_ADDRESS
        {
            tracing::warn!(login = %login.trim(), %address, "login throttled");
            return Err(LoginError::Throttled);
        }
        let user = self.db.staff_user_by_login(login.trim()).await?;
        // An unknown login costs the same hash as a known one.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = match &user {
            Some(u) => u.password_hash.clone(),
            None => DUMMY
                .get_or_init(|| hash_password(&random_token()).unwrap_or_default())
                .clone(),
        };
        let pw = password.to_string();
        let good = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .unwrap_or(false);
        let staff = match (&user, good) {
            (Some(u), true) if !u.disabled => Staff::of(u),
            _ => None,
        };
        let Some(staff) = staff else {
            self.db
                .record_login_failure(&[&by_login, &by_addr], now)
                .await?;
            tracing::warn!(login = %login.trim(), %address, "login failed");
            return Err(LoginError::Wrong);
        };
        self.db.clear_login_failures(&by_login).await?;
        let token = random_token();
        let token_hash = sha256_hex(token.as_bytes());
        let csrf = random_token();
        let actor = staff.actor();
        self.db
            .insert_session(
                &token_hash,
                staff.id,
                &csrf,
                address,
                now,
                &AuditEntry {
                    actor: &actor,
                    action: "session.login",
                    subject: &staff.login,
                    reason: None,
                    detail: Some(address),
                },
            )
            .await?;
        // Now and then, drop what has expired.
        if rand::random::<u8>() < 16 {
            let _ = self
                .db
                .sweep_sessions(
                    now - IDLE_SECS,
                    now - ABSOLUTE_SECS,
                    now - THROTTLE_WINDOW_SECS,
                )
                .await;
        }
        Ok((
            token,
            Session {
                staff,
                csrf,
                token_hash,
            },
        ))
    }

    /// The session of a cookie, if it is live (and not disabled); marks it
    /// used.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, ServiceError> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let token_hash = sha256_hex(token.as_bytes());
        let Some(SessionRow {
            user,
            csrf,
            created_at,
            last_seen,
        }) = self.db.session(&token_hash).await?
        else {
            return Ok(None);
        };
        let now = unix_now();
        if user.disabled || now - last_seen > IDLE_SECS || now - created_at > ABSOLUTE_SECS {
            self.db.delete_session(&token_hash, None).await?;
            return Ok(None);
        }
        let Some(staff) = Staff::of(&user) else {
            return Ok(None);
        };
        self.db.touch_session(&token_hash, now).await?;
        Ok(Some(Session {
            staff,
            csrf,
            token_hash,
        }))
    }

    /// End a session.
    pub async fn logout(&self, s: &Session) -> Result<(), ServiceError> {
        let actor = s.staff.actor();
        self.db
            .delete_session(
                &s.token_hash,
                Some(&AuditEntry {
                    actor: &actor,
                    action: "session.logout",
                    subject: &s.staff.login,
                    reason: None,
                    detail: None,
                }),
            )
            .await?;
        Ok(())
    }

    /// Record a change whose write this module does not own (month close,
    /// key creation, 应退应补), right after it.
    pub async fn audit(
        &self,
        by: &Actor,
        action: &str,
        subject: &str,
        reason: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), ServiceError> {
        self.db
            .record_audit(&AuditEntry {
                actor: by,
                action,
                subject,
                reason,
                detail,
            })
            .await?;
        Ok(())
    }

    pub async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, ServiceError> {
        Ok(self.db.audit_log(f).await?)
    }

    /// Check a policy text against the loaded set; on success store it
    /// (by hash, with its audit row) and put it in force for every request
    /// from now on.
    pub async fn upload_policy(
        &self,
        text: &str,
        file_name: &str,
        by: &Actor,
    ) -> Result<Uploaded, PolicyRefused> {
        let internal = |m: String| PolicyRefused {
            errors: vec![PolicyError {
                path: "(service)".into(),
                line: None,
                message: m,
            }],
            warnings: vec![],
        };
        let p = Policy::from_toml(text, file_name).map_err(|e| PolicyRefused {
            errors: e.errors,
            warnings: e.warnings,
        })?;
        let set = self.with_policy(p.clone()).map_err(|m| PolicyRefused {
            errors: vec![PolicyError {
                path: "policy".into(),
                line: None,
                message: m,
            }],
            warnings: p.warnings.clone(),
        })?;
        let detail = format!(
            "{} {} {}–{}",
            p.id, p.region, p.effective_from, p.effective_to
        );
        let new = self
            .db
            .upload_policy(
                &PolicyRecord {
                    hash: &p.hash,
                    id: &p.id,
                    region: &p.region,
                    effective_from: &p.effective_from.to_string(),
                    effective_to: &p.effective_to.to_string(),
                    source: text,
                },
                &AuditEntry {
                    actor: by,
                    action: "policy.upload",
                    subject: &p.hash,
                    reason: None,
                    detail: Some(&detail),
                },
            )
            .await
            .map_err(|e| internal(e.to_string()))?;
        if let Some(set) = set {
            self.policies.replace(set);
        }
        tracing::info!(policy = %p.id, hash = %p.hash, from = %p.effective_from, "policy uploaded");
        Ok(Uploaded {
            id: p.id.clone(),
            hash: p.hash.clone(),
            effective_from: p.effective_from.to_string(),
            new,
            warnings: p.warnings.iter().map(|w| w.to_string()).collect(),
        })
    }

    /// The loaded set with `p` added (`None`: already loaded).
    fn with_policy(&self, p: Policy) -> Result<Option<PolicySet>, String> {
        let current = self.policies.current();
        if current.by_hash(&p.hash).is_some() {
            return Ok(None);
        }
        let mut all: Vec<Policy> = current.policies().to_vec();
        all.push(p);
        PolicySet::new(all).map(Some)
    }

    /// Load the policies uploaded on any instance that this one does not
    /// hold yet (called at start and every little while).
    pub async fn reload_uploaded_policies(&self) -> Result<usize, ServiceError> {
        let texts = self.db.uploaded_policy_texts().await?;
        let mut added = 0;
        for t in texts {
            let hash = crate::engine::policy::content_hash(&t);
            if self.policies.by_hash(&hash).is_some() {
                continue;
            }
            match Policy::from_toml(&t, "uploaded")
                .map_err(|e| e.to_string())
                .and_then(|p| self.with_policy(p))
            {
                Ok(Some(set)) => {
                    self.policies.replace(set);
                    added += 1;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(hash = %hash, error = %e, "uploaded policy not loaded"),
            }
        }
        Ok(added)
    }

    /// Keep a simulation run.
    pub async fn keep_simulation(
        &self,
        title: &str,
        request_json: &str,
        report_json: &str,
        report_html: &str,
        by: &Actor,
    ) -> Result<String, ServiceError> {
        let id = super::new_id();
        self.db
            .insert_simulation_run(
                &SimulationRun {
                    id: id.clone(),
                    created_at: crate::calendar::now_text(),
                    created_by: by.label(),
                    title: title.to_string(),
                    request: request_json.to_string(),
                    report: report_json.to_string(),
                    report_html: report_html.to_string(),
                },
                &AuditEntry {
                    actor: by,
                    action: "simulation.run",
                    subject: &id,
                    reason: None,
                    detail: Some(title),
                },
            )
            .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("x", "not a hash"));
        let p = generate_password();
        assert_eq!(p.len(), 16);
        assert_ne!(p, generate_password());
    }

    #[test]
    fn logins_are_checked() {
        assert!(check_login("zhangsan").is_ok());
        assert!(check_login("Zhang San").is_err());
        assert!(check_login("").is_err());
        assert!(check_password("short").is_err());
    }
}
