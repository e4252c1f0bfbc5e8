//! `--config FILE`: settings from a TOML file.
//!
//! Every setting is also an option with a `MEDAID_*` variable (clap reads
//! flag, then variable, then default). The file slots in between: each key
//! it sets fills the matching variable when that variable is not set
//! already, before the command line is parsed. So a flag beats the
//! environment, which beats the file, which beats the built-in default.
//!
//! ```toml
//! database_url = "postgres://medaid@db.internal/medaid"
//! listen = "0.0.0.0:8080"
//! policies = "/etc/medaid/policies"
//! max_connections = 16
//! log = "info"
//! log_format = "json"
//! ```

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The keys a configuration file may set, and their variables.
pub const KEYS: &[(&str, &str)] = &[
    ("database_url", "MEDAID_DATABASE_URL"),
    ("listen", "MEDAID_LISTEN"),
    ("policies", "MEDAID_POLICIES"),
    ("max_connections", "MEDAID_MAX_CONNECTIONS"),
    ("log", "MEDAID_LOG"),
    ("log_format", "MEDAID_LOG_FORMAT"),
];

/// The `--config` value of the raw arguments, else `MEDAID_CONFIG`.
pub fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("MEDAID_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Read `file`: `(variable, value)` for each key it sets.
pub fn read(file: &Path) -> anyhow::Result<Vec<(&'static str, String)>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{} (--config or MEDAID_CONFIG)", file.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{} (--config): {e}", file.display()))
}

/// [`read`] from text.
pub fn parse(text: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let doc: toml_edit::DocumentMut = text.parse().context("not valid TOML")?;
    let mut out = Vec::new();
    for (key, item) in doc.iter() {
        let Some((_, var)) = KEYS.iter().find(|(k, _)| *k == key) else {
            bail!(
                "unknown key `{key}` (known: {})",
                KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            );
        };
        let value = match item.as_value() {
            Some(toml_edit::Value::String(s)) => s.value().clone(),
            Some(toml_edit::Value::Integer(i)) => i.value().to_string(),
            _ => bail!("`{key}`: expected a string or an integer"),
        };
        out.push((*var, value));
    }
    Ok(out)
}

/// Apply `file`: set each of its variables that the environment lacks.
/// Runs before any thread is started.
pub fn apply(file: &Path) -> anyhow::Result<()> {
    for (var, value) in read(file)? {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_variables() {
        let v = parse("listen = \"0.0.0.0:9000\"\nmax_connections = 4\n").unwrap();
        assert_eq!(
            v,
            vec![
                ("MEDAID_LISTEN", "0.0.0.0:9000".to_string()),
                ("MEDAID_MAX_CONNECTIONS", "4".to_string())
            ]
        );
        let e = parse("lisen = \"x\"").unwrap_err().to_string();
        assert!(
            e.contains("unknown key `lisen`") && e.contains("listen"),
            "{e}"
        );
        assert!(parse("log = [1]").is_err());
    }

    #[test]
    fn the_example_configuration_file_is_valid() {
        let v = parse(include_str!("../../deploy/medaid.toml")).unwrap();
        assert!(v.iter().any(|(k, _)| *k == "MEDAID_DATABASE_URL"));
    }

    #[test]
    fn the_config_option_is_found_in_the_arguments() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_path(&args(&["medaid", "serve", "--config", "a.toml"])),
            Some(PathBuf::from("a.toml"))
        );
        assert_eq!(
            config_path(&args(&["medaid", "--config=b.toml", "serve"])),
            Some(PathBuf::from("b.toml"))
        );
    }
}
