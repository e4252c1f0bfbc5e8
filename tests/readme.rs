//! The README, run as a newcomer would: every shell block in order, with the
//! built `medaid` first on PATH, in a folder outside the repository (once
//! empty, once holding a copy of `fixtures/` as a fresh clone does).
//!
//! Fences (the first word is what GitHub highlights; the rest is for here):
//! - ```` ```sh ```` — run with `bash -euo pipefail`; variables carry over
//!   to the next block;
//! - ```` ```sh serve ```` — each line started in the background (the
//!   service in "another terminal"); the next block waits until it answers;
//! - ```` ```console ```` — `$ command` lines run, and their output (stdout
//!   and stderr) must be the lines shown below them, where `…` stands for
//!   any text;
//! - ```` ```sh no-test ```` and every other language — not run (cargo
//!   commands, synopses).
//!
//! `127.0.0.1:8080` is replaced by a free port, so that the test never
//! meets another service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_medaid");

#[derive(Debug)]
enum Block {
    Run(String),
    Serve(String),
    Console(String),
}

fn blocks(readme: &str) -> Vec<(usize, Block)> {
    let mut out = Vec::new();
    let mut lines = readme.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let words: Vec<&str> = info.split_whitespace().collect();
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        let block = match words.as_slice() {
            ["sh"] => Block::Run(body),
            ["sh", "serve"] => Block::Serve(body),
            ["console"] => Block::Console(body),
            _ => continue,
        };
        out.push((n + 1, block));
    }
    out
}

/// Kills the background processes when the test ends.
struct Background(Vec<Child>);
impl Drop for Background {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn path_with_medaid() -> String {
    let bin_dir = Path::new(BIN).parent().unwrap().to_path_buf();
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir];
    paths.extend(std::env::split_paths(&old));
    std::env::join_paths(paths)
        .unwrap()
        .to_string_lossy()
        .to_string()
}

fn bash(dir: &Path, script: &str) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path_with_medaid())
        .env("MEDAID_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("MEDAID_") && k != "MEDAID_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("run bash")
}

/// The shell state carried from block to block.
const ENV_FILE: &str = ".readme-env";

fn wrap(script: &str) -> String {
    format!(
        "set -euo pipefail\nset -a\n[ -f {ENV_FILE} ] && source {ENV_FILE}\n{script}\n\
         declare -px | grep -v -E '^declare -[a-zA-Z]*r' > {ENV_FILE} || true\n"
    )
}

/// Whether `actual` is `expected` with each `…` standing for any text.
fn matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let mut rest = actual;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(at) = rest.find(p) else {
                return false;
            };
            rest = &rest[at + p.len()..];
        }
    }
    true
}

fn wait_for(port: u16, log: &Path) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(60) {
            panic!(
                "the README's service did not answer on port {port}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_readme(dir: &Path) {
    for tool in ["curl", "jq"] {
        let found = Command::new(tool).arg("--version").output().is_ok();
        assert!(
            found,
            "the README's examples need {tool} (apt-get install curl jq; .ci/run installs them)"
        );
    }
    let port = free_port();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let blocks = blocks(&readme);
    assert!(
        blocks
            .iter()
            .filter(|(_, b)| matches!(b, Block::Run(_)))
            .count()
            >= 5,
        "the README's shell blocks were not found"
    );
    let mut background = Background(Vec::new());
    let mut serving = false;
    for (line, block) in blocks {
        match block {
            Block::Serve(body) => {
                for cmd in body.lines().filter(|l| !l.trim().is_empty()) {
                    let log = dir.join(format!("serve-{line}.log"));
                    let f = std::fs::File::create(&log).unwrap();
                    let child = Command::new("bash")
                        .arg("-c")
                        .arg(format!("exec {cmd}"))
                        .current_dir(dir)
                        .env("PATH", path_with_medaid())
                        .env("MEDAID_LISTEN", format!("127.0.0.1:{port}"))
                        .env("MEDAID_LOG", "warn")
                        .env_remove("MEDAID_DATABASE_URL")
                        .stdout(f.try_clone().unwrap())
                        .stderr(f)
                        .spawn()
                        .unwrap();
                    background.0.push(child);
                    wait_for(port, &log);
                }
                serving = true;
            }
            Block::Run(body) => {
                let o = bash(dir, &wrap(&body));
                eprintln!("README line {line}: ran ({})", o.status);
                assert!(
                    o.status.success(),
                    "README line {line}: the block failed ({}):\n{body}\n--- stdout\n{}\n--- stderr\n{}",
                    o.status,
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            Block::Console(body) => {
                let mut cmds: Vec<(String, Vec<String>)> = Vec::new();
                for l in body.lines() {
                    match l.strip_prefix("$ ") {
                        Some(c) => cmds.push((c.to_string(), Vec::new())),
                        None => {
                            if let Some(last) = cmds.last_mut() {
                                last.1.push(l.to_string());
                            }
                        }
                    }
                }
                for (cmd, expected) in cmds {
                    let o = bash(dir, &wrap(&format!("{cmd} 2>&1 || true")));
                    let out = String::from_utf8_lossy(&o.stdout).to_string();
                    let actual: Vec<&str> = out.lines().collect();
                    let ok = actual.len() == expected.len()
                        && expected.iter().zip(&actual).all(|(e, a)| matches(e, a));
                    assert!(
                        ok,
                        "README line {line}: `{cmd}` printed\n{out}\nbut the README shows\n{}",
                        expected.join("\n")
                    );
                }
            }
        }
    }
    assert!(serving, "the README starts no service");
    assert!(
        dir.join("simulation.json").exists() && dir.join("match.xlsx").exists(),
        "the README's last blocks ran"
    );
    drop(background);
}

#[test]
fn the_readme_runs_in_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    run_readme(dir.path());
    // The demo wrote the example files it needed.
    assert!(dir
        .path()
        .join("fixtures/policies/wolong-2017.toml")
        .exists());
}

#[test]
fn the_readme_runs_in_a_fresh_clone() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("fixtures"), &dir.path().join("fixtures"));
    run_readme(dir.path());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target: PathBuf = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_ellipsis_matches_any_text() {
    assert!(matches("a …, hash 4bd9…", "a ok (x), hash 4bd9ff"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
    assert!(!matches("a…b", "a c"));
    let _ = std::io::stdout().flush();
}
