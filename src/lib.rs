//! # medaid — one-stop settlement (一站式结算) for medical aid
//!
//! When a poor patient leaves a county hospital, several payers share the
//! bill: basic medical insurance, critical-illness insurance, supplementary
//! insurance, the civil-affairs medical aid, the hospital's own fee waivers
//! (七免一减) and, where a county guarantees it, a top-up to a 90 %
//! reimbursement ratio (兜底). medaid settles all of them in one call.
//!
//! ## Layout
//!
//! - [`money`] — decimal amounts, the rounding rule, fen conversions.
//! - [`engine`] — the pure settlement engine: policy (TOML) → compiled
//!   policy; claim (JSON/XML) → resolved claim; [`engine::settle`] does the
//!   arithmetic of DESIGN.md §4; [`engine::Answer`] is the §5 answer. No
//!   I/O, no async: everything else calls it.
//! - [`storage`] — the only SQL: SQLite (embedded) and PostgreSQL.
//! - [`service`] — the settlement service: identity from the records,
//!   engine inside the storage transaction; keys and roles.
//! - [`http`] — the HTTP API of `medaid serve` (axum), one module per
//!   resource.
//! - `cli` (in the binary) — `medaid settle`, `medaid policy check`, the
//!   set-up commands, `medaid serve`.
//!
//! The contract (policy file, claim, arithmetic, answer, command line,
//! service invariants) is `DESIGN.md` in the shared folder; the README
//! shows how to run everything.

pub mod cli;
pub mod engine;
pub mod http;
pub mod money;
pub mod policy_diff;
pub mod recon;
pub mod service;
pub mod sim;
pub mod storage;
