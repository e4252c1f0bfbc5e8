//! Setting up a service (docs/operations.md): `medaid hospitals import`,
//! `medaid registry import`, `medaid keys create`. Each opens the database
//! of `--database-url` (creating and migrating it when new) and writes in
//! one transaction: a bad line refuses the whole file.

use super::RoleArg;
use crate::service::keys::{self, Role};
use crate::storage::{ConnectOptions, Db, Hospital, RegistryRow};
use anyhow::{bail, Context};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Read `code,name,level,region` (a header line first).
pub fn read_hospitals(path: &Path) -> anyhow::Result<Vec<Hospital>> {
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    parse_hospitals(f, path)
}

/// [`read_hospitals`] from any reader; `path` names it in errors.
pub fn parse_hospitals(input: impl std::io::Read, path: &Path) -> anyhow::Result<Vec<Hospital>> {
    let mut rdr = csv_reader(input);
    check_header(&mut rdr, path, &["code", "name", "level", "region"])?;
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
        let field = |n: usize| rec.get(n).map(str::trim).unwrap_or("").to_string();
        let h = Hospital {
            code: field(0),
            name: field(1),
            level: field(2),
            region: field(3),
        };
        for (name, v) in [
            ("code", &h.code),
            ("level", &h.level),
            ("region", &h.region),
        ] {
            if v.is_empty() {
                bail!("{}: line {line}: {name} is empty", path.display());
            }
        }
        out.push(h);
    }
    Ok(out)
}

/// Read `person_id,name,category,valid_from,valid_to` (a header line first).
pub fn read_registry(path: &Path) -> anyhow::Result<Vec<RegistryRow>> {
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    parse_registry(f, path)
}

/// [`read_registry`] from any reader; `path` names it in errors.
pub fn parse_registry(input: impl std::io::Read, path: &Path) -> anyhow::Result<Vec<RegistryRow>> {
    let mut rdr = csv_reader(input);
    check_header(
        &mut rdr,
        path,
        &["person_id", "name", "category", "valid_from", "valid_to"],
    )?;
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
        let field = |n: usize| rec.get(n).map(str::trim).unwrap_or("").to_string();
        let date = |n: usize, name: &str| -> anyhow::Result<Option<String>> {
            let v = field(n);
            if v.is_empty() {
                return Ok(None);
            }
            chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map(|d| Some(d.to_string()))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{}: line {line}: {name}: expected a date YYYY-MM-DD, found {v:?}",
                        path.display()
                    )
                })
        };
        let person_id = field(0);
        if person_id.is_empty() {
            bail!("{}: line {line}: person_id is empty", path.display());
        }
        let Some(valid_from) = date(3, "valid_from")? else {
            bail!("{}: line {line}: valid_from is empty", path.display());
        };
        let valid_to = date(4, "valid_to")?;
        if valid_to.as_ref().is_some_and(|t| *t < valid_from) {
            bail!(
                "{}: line {line}: valid_to is before valid_from",
                path.display()
            );
        }
        let region = field(5);
        if !region.is_empty() && (region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit()))
        {
            bail!(
                "{}: line {line}: region: expected a 6-digit region code, found {region:?}",
                path.display()
            );
        }
        out.push(RegistryRow {
            person_id,
            name: field(1),
            category: field(2),
            valid_from,
            valid_to,
            region: (!region.is_empty()).then_some(region),
        });
    }
    Ok(out)
}

fn csv_reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input)
}

fn check_header<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    path: &Path,
    expected: &[&str],
) -> anyhow::Result<()> {
    let mut first = csv::StringRecord::new();
    if !rdr.read_record(&mut first)? {
        bail!(
            "{}: empty file (expected the header {})",
            path.display(),
            expected.join(",")
        );
    }
    let got: Vec<String> = first
        .iter()
        .map(|s| s.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if got.len() < expected.len() || got.iter().zip(expected).any(|(g, e)| g != e) {
        bail!(
            "{}: line 1: expected the header {}, found {}",
            path.display(),
            expected.join(","),
            got.join(",")
        );
    }
    Ok(())
}

pub async fn open(url: &str) -> anyhow::Result<Db> {
    Db::connect(&ConnectOptions::new(url))
        .await
        .with_context(|| {
            format!(
                "opening {} (--database-url or MEDAID_DATABASE_URL)",
                redact(url)
            )
        })
}

/// A database URL fit for a message or a log: its password, if any, is
/// replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// `n thing` or `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub async fn hospitals_import(url: &str, file: &Path, update: bool) -> anyhow::Result<()> {
    let rows = read_hospitals(file)?;
    let db = open(url).await?;
    let (mut added, mut changed, mut same) = (Vec::new(), Vec::new(), 0usize);
    for h in &rows {
        match db.hospital(&h.code).await? {
            None => added.push(h.clone()),
            Some(old) if old == *h => same += 1,
            Some(old) => {
                let mut what = Vec::new();
                for (field, a, b) in [
                    ("name", &old.name, &h.name),
                    ("level", &old.level, &h.level),
                    ("region", &old.region, &h.region),
                ] {
                    if a != b {
                        what.push(format!("{field} {a} → {b}"));
                    }
                }
                changed.push((h.clone(), what.join(", ")));
            }
        }
    }
    for (h, what) in &changed {
        eprintln!("{}: hospital {}: {what}", file.display(), h.code);
    }
    if !changed.is_empty() && !update {
        db.close().await;
        bail!(
            "{}: would change {} the directory already holds (listed above); nothing imported — \
             give --update to apply the changes",
            file.display(),
            plural(changed.len(), "hospital", "hospitals")
        );
    }
    let mut write = added.clone();
    write.extend(changed.iter().map(|(h, _)| h.clone()));
    db.upsert_hospitals(&write).await?;
    db.record_cli("hospitals_import", &file.display().to_string(), true)
        .await?;
    db.close().await;
    println!(
        "{} read: {} added, {} changed, {} unchanged",
        plural(rows.len(), "hospital", "hospitals"),
        added.len(),
        changed.len(),
        same
    );
    Ok(())
}

pub async fn registry_import(url: &str, file: &Path, policies: &[PathBuf]) -> anyhow::Result<()> {
    let rows = read_registry(file)?;
    // The categories the policies declare: a row with another one is kept
    // (a later policy may declare it) but no settlement will see it.
    let declared: Option<BTreeSet<String>> = if policies.iter().all(|p| p.exists()) {
        let loaded = super::settle::load_policies(policies)?;
        Some(
            loaded
                .iter()
                .flat_map(|p| p.categories.iter().map(|(id, _)| id.clone()))
                .collect(),
        )
    } else {
        eprintln!(
            "note: {} not found (--policies): categories not checked",
            policies
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        None
    };
    if let Some(declared) = &declared {
        let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &rows {
            if !r.category.is_empty() && !declared.contains(&r.category) {
                *unknown.entry(r.category.as_str()).or_default() += 1;
            }
        }
        for (c, n) in &unknown {
            eprintln!(
                "warning: {}: category `{c}` ({}) is declared by no policy of --policies ({}); \
                 settlements ignore it",
                file.display(),
                plural(*n, "row", "rows"),
                declared.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let db = open(url).await?;
    let n = db.upsert_registry(&rows).await?;
    db.record_cli("registry_import", &file.display().to_string(), true)
        .await?;
    let persons: BTreeSet<&str> = rows.iter().map(|r| r.person_id.as_str()).collect();
    println!(
        "{} imported for {}",
        plural(n, "registry row", "registry rows"),
        plural(persons.len(), "person", "persons")
    );
    db.close().await;
    Ok(())
}

/// Create a key; print it alone on the last line (only its hash is kept).
pub async fn keys_create(url: &str, role: RoleArg, hospital: Option<&str>) -> anyhow::Result<()> {
    let role = match (role, hospital) {
        (RoleArg::Hospital, Some(h)) if !h.trim().is_empty() => {
            Role::Hospital(h.trim().to_string())
        }
        (RoleArg::Hospital, _) => bail!("--role hospital needs --hospital CODE"),
        (RoleArg::Centre, None) => Role::Centre,
        (RoleArg::Admin, None) => Role::Admin,
        (_, Some(_)) => bail!("--hospital goes with --role hospital only"),
    };
    let db = open(url).await?;
    if let Role::Hospital(h) = &role {
        if db.hospital(h).await?.is_none() {
            eprintln!("warning: hospital {h} is not in the hospital directory yet (medaid hospitals import)");
        }
    }
    let key = create_key(&db, &role).await?;
    let id = crate::service::keys::key_id(&key).unwrap_or_default();
    db.record_cli("key_create", &format!("{id} {}", role.name()), true)
        .await?;
    db.close().await;
    let article = if role.name().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    eprintln!(
        "created {article} {} key; store it now, it is not shown again:",
        role.name()
    );
    println!("{key}");
    Ok(())
}

/// `medaid backup FILE`: an online copy of the SQLite database.
pub async fn backup(url: &str, dest: &Path) -> anyhow::Result<()> {
    if dest.exists() {
        bail!(
            "{}: exists already; the backup writes a new file",
            dest.display()
        );
    }
    let db = open(url).await?;
    let done = db.backup_sqlite(dest).await;
    db.close().await;
    if !done.with_context(|| format!("backing up to {}", dest.display()))? {
        bail!(
            "{}: backup copies SQLite databases; for PostgreSQL use pg_dump (see docs/operations.md)",
            redact(url)
        );
    }
    println!("backed up {} to {}", redact(url), dest.display());
    Ok(())
}

/// Revoke a key given by its id or its whole text.
pub async fn keys_revoke(url: &str, key: &str) -> anyhow::Result<()> {
    let key = key.trim();
    let id = crate::service::keys::key_id(key).unwrap_or(key).to_string();
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{key:?} is neither a key nor a key id (16 hex digits)");
    }
    let db = open(url).await?;
    let done = db.revoke_key(&id).await?;
    db.record_cli("key_revoke", &id, done).await?;
    db.close().await;
    if !done {
        bail!("no active key with id {id}");
    }
    println!("key {id} revoked");
    Ok(())
}

/// List the keys (never the keys themselves).
pub async fn keys_list(url: &str) -> anyhow::Result<()> {
    let db = open(url).await?;
    let keys = db.list_keys().await?;
    db.close().await;
    println!("key_id,role,hospital,created_at,revoked_at");
    for k in keys {
        println!(
            "{},{},{},{},{}",
            k.key_id,
            k.role,
            k.hospital.unwrap_or_default(),
            k.created_at,
            k.revoked_at.unwrap_or_default()
        );
    }
    Ok(())
}

/// Create and store a key; returns its text.
pub async fn create_key(db: &Db, role: &Role) -> anyhow::Result<String> {
    let (key, row) = keys::generate(role);
    db.insert_key(&row).await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_a_message() {
        use super::redact;
        assert_eq!(
            redact("postgres://medaid:s3cret@db:5432/medaid"),
            "postgres://medaid:***@db:5432/medaid"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite://medaid.db"), "sqlite://medaid.db");
    }
}
