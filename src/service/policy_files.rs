//! Policy files (政策文件) on disk: the folders and files `serve`, `settle`
//! and the other commands are given, read into one [`PolicySet`]. The
//! engine parses and checks a policy's text; finding the files is here.

use crate::engine::{Policy, PolicySet};
use std::path::PathBuf;

/// Load policies from files and directories (every `*.toml` inside, in
/// name order) — what the command line and `serve` are given. Every
/// file's errors are reported, one per line, before the set's own
/// checks (one id for two files, two policies of one region in force
/// on the same day).
pub fn load(paths: &[PathBuf]) -> Result<PolicySet, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err("no policy files given".into());
    }
    let mut policies: Vec<Policy> = Vec::new();
    let mut failures = Vec::new();
    for f in &files {
        match Policy::load(f) {
            Ok(p) => policies.push(p),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    PolicySet::new(policies)
}
