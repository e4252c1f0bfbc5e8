//! The example files of the README, built into the binary so that
//! `medaid serve --demo` works from any folder.
//!
//! There is one definition of each: the file under `fixtures/` is what is
//! embedded (`include_str!`), and `serve --demo` writes it back out under
//! `./fixtures/` when it is missing, so that every path the README names
//! exists wherever the demo was started. A file that exists is never
//! overwritten (it may have been edited on purpose).

use crate::service::keys::{self, Role};
use crate::storage::Db;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The embedded files, by their path relative to the repository root.
pub const FILES: &[(&str, &str)] = &[
    (
        "fixtures/policies/wolong-2017.toml",
        include_str!("../../fixtures/policies/wolong-2017.toml"),
    ),
    (
        "fixtures/policies/wolong-2023.toml",
        include_str!("../../fixtures/policies/wolong-2023.toml"),
    ),
    (
        "fixtures/policies/county-2024.toml",
        include_str!("../../fixtures/policies/county-2024.toml"),
    ),
    (
        "fixtures/claims/county-2024.jsonl",
        include_str!("../../fixtures/claims/county-2024.jsonl"),
    ),
    (
        "fixtures/claims/county-2024.md",
        include_str!("../../fixtures/claims/county-2024.md"),
    ),
    (
        "fixtures/demo/hospitals.csv",
        include_str!("../../fixtures/demo/hospitals.csv"),
    ),
    (
        "fixtures/demo/registry.csv",
        include_str!("../../fixtures/demo/registry.csv"),
    ),
    (
        "fixtures/demo/claim.json",
        include_str!("../../fixtures/demo/claim.json"),
    ),
    (
        "fixtures/demo/claim.xml",
        include_str!("../../fixtures/demo/claim.xml"),
    ),
    (
        "fixtures/claims/wolong-2017.jsonl",
        include_str!("../../fixtures/claims/wolong-2017.jsonl"),
    ),
    (
        "fixtures/claims/wolong-2017-0001.xml",
        include_str!("../../fixtures/claims/wolong-2017-0001.xml"),
    ),
    (
        "fixtures/design/broken-policy.toml",
        include_str!("../../fixtures/design/broken-policy.toml"),
    ),
    (
        "fixtures/scenarios/wolong-2017-aid75.toml",
        include_str!("../../fixtures/scenarios/wolong-2017-aid75.toml"),
    ),
    (
        "fixtures/recon/totals.csv",
        include_str!("../../fixtures/recon/totals.csv"),
    ),
    (
        "fixtures/recon/details.csv",
        include_str!("../../fixtures/recon/details.csv"),
    ),
    (
        "fixtures/recon/minzheng.csv",
        include_str!("../../fixtures/recon/minzheng.csv"),
    ),
    (
        "fixtures/recon/fupin.csv",
        include_str!("../../fixtures/recon/fupin.csv"),
    ),
    (
        "fixtures/recon/new.csv",
        include_str!("../../fixtures/recon/new.csv"),
    ),
];

/// The folders whose every file is embedded (checked by a test).
pub const FOLDERS: &[&str] = &[
    "fixtures/policies",
    "fixtures/demo",
    "fixtures/claims",
    "fixtures/scenarios",
    "fixtures/recon",
];

/// The policy folder `serve` and the reconciliation commands read by default.
pub const DEFAULT_POLICIES: &str = "fixtures/policies";

/// The hospital of the demo key: a county hospital, as in the worked
/// example claim of docs/claims-and-answers.md.
pub const DEMO_HOSPITAL: &str = "H0002";
/// Where `--demo` keeps its key (in the current folder).
pub const DEMO_KEY_FILE: &str = "medaid-demo.key";

/// The embedded text of `path` (relative to the repository root).
pub fn file(path: &str) -> Option<&'static str> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

/// Write every embedded file that is missing under `root`; returns the
/// paths written (relative).
pub fn write_missing(root: &Path) -> anyhow::Result<Vec<&'static str>> {
    let mut written = Vec::new();
    for (rel, text) in FILES {
        let path = root.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
        written.push(*rel);
    }
    Ok(written)
}

/// Seed the demonstration hospitals and registry (idempotent: an import of
/// the same rows changes nothing).
pub async fn seed(db: &Db) -> anyhow::Result<()> {
    let hospitals = super::setup::parse_hospitals(
        file("fixtures/demo/hospitals.csv")
            .unwrap_or_default()
            .as_bytes(),
        Path::new("fixtures/demo/hospitals.csv"),
    )?;
    let registry = super::setup::parse_registry(
        file("fixtures/demo/registry.csv")
            .unwrap_or_default()
            .as_bytes(),
        Path::new("fixtures/demo/registry.csv"),
    )?;
    // Only hospitals the directory does not know yet: the demo never
    // changes a hospital an operator imported.
    let mut new = Vec::new();
    for h in hospitals {
        if db.hospital(&h.code).await?.is_none() {
            new.push(h);
        }
    }
    db.upsert_hospitals(&new).await?;
    db.upsert_registry(&registry).await?;
    Ok(())
}

/// The demo key: the one in `key_file` when it is still an active key of
/// the demo hospital in this database, else a new one (written to
/// `key_file`). Returns the key and whether it is new.
pub async fn key(db: &Db, key_file: &Path) -> anyhow::Result<(String, bool)> {
    if let Ok(text) = std::fs::read_to_string(key_file) {
        let text = text.trim();
        if let Some(id) = keys::key_id(text) {
            if let Some(row) = db.key_by_id(id).await? {
                if keys::verify(text, &row)
                    && Role::of(&row) == Some(Role::Hospital(DEMO_HOSPITAL.into()))
                {
                    return Ok((text.to_string(), false));
                }
            }
        }
    }
    let key = super::setup::create_key(db, &Role::Hospital(DEMO_HOSPITAL.into())).await?;
    std::fs::write(key_file, format!("{key}\n"))
        .with_context(|| format!("writing the demo key to {}", key_file.display()))?;
    Ok((key, true))
}

/// The demo's staff accounts: (login, name, role label) and a fresh
/// password for each, created on first use and given a new password on
/// every `serve --demo` (so the printed passwords are always the valid
/// ones). Both changes are in the audit log, by the command line.
pub async fn staff(
    service: &crate::service::Service,
) -> anyhow::Result<Vec<(&'static str, &'static str, &'static str, String)>> {
    use crate::service::console::{AccountError, StaffRole};
    use crate::storage::console::Actor;
    let mut out = Vec::new();
    for (login, name, role) in [
        ("centre", "演示救助中心员", StaffRole::Centre),
        ("admin", "演示管理员", StaffRole::Admin),
    ] {
        let pw = crate::service::console::generate_password();
        match service
            .create_staff(login, name, role, Some(&pw), &Actor::cli())
            .await
        {
            Ok(_) => {}
            Err(AccountError::Taken(_)) => {
                service
                    .reset_staff_password(login, Some(&pw), &Actor::cli())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                service
                    .set_staff_disabled(login, false, &Actor::cli())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        }
        out.push((login, name, role.label(), pw));
    }
    Ok(out)
}

/// A path option's value that does not exist: say which option sets it.
pub fn missing_path_error(path: &Path, option: &str, env: Option<&str>) -> anyhow::Error {
    let via_env = env.map(|e| format!(" or {e}")).unwrap_or_default();
    let demo = if path == Path::new(DEFAULT_POLICIES) {
        " (`medaid serve --demo` writes the example policies there)"
    } else {
        ""
    };
    anyhow::anyhow!(
        "{}: no such file or directory; set it with {option}{via_env}{demo}",
        path.display()
    )
}

/// Check that every path of a path option exists.
pub fn require_paths(paths: &[PathBuf], option: &str, env: Option<&str>) -> anyhow::Result<()> {
    match paths.iter().find(|p| !p.exists()) {
        Some(p) => Err(missing_path_error(p, option, env)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_demo_folders_is_embedded_and_nothing_else() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        for folder in FOLDERS {
            for e in std::fs::read_dir(root.join(folder)).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().to_string();
                on_disk.push(format!("{folder}/{name}"));
            }
        }
        on_disk.push("fixtures/design/broken-policy.toml".into());
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        for (p, text) in FILES {
            assert_eq!(std::fs::read_to_string(root.join(p)).unwrap(), *text);
        }
    }

    #[test]
    fn one_policy_id_one_file() {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (p, text) in FILES.iter().filter(|(p, _)| p.ends_with(".toml")) {
            let Ok(policy) = crate::engine::Policy::from_toml(text, p) else {
                continue; // the broken example
            };
            assert!(
                !seen.iter().any(|(id, _)| *id == policy.id),
                "{p}: policy id {} twice",
                policy.id
            );
            seen.push((policy.id, p.to_string()));
        }
        assert!(seen.len() >= 3);
    }

    #[test]
    fn missing_files_are_written_and_present_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("fixtures/demo/claim.json");
        std::fs::create_dir_all(keep.parent().unwrap()).unwrap();
        std::fs::write(&keep, "mine").unwrap();
        let written = write_missing(dir.path()).unwrap();
        assert_eq!(written.len(), FILES.len() - 1);
        assert_eq!(std::fs::read_to_string(&keep).unwrap(), "mine");
        assert!(write_missing(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_missing_path_names_its_option() {
        let e = require_paths(
            &[PathBuf::from("no/such/policies")],
            "--policies",
            Some("MEDAID_POLICIES"),
        );
        let msg = e.unwrap_err().to_string();
        assert!(msg.contains("--policies") && msg.contains("MEDAID_POLICIES"));
    }
}
