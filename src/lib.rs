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
//! Layers, each calling only the ones above it:
//!
//! - [`money`] — decimal amounts, the one rounding rule, fen conversions;
//!   [`calendar`] — China time, months, the test clock.
//! - [`engine`] — the pure settlement engine: a TOML policy becomes a
//!   compiled [`engine::Policy`]; a claim (JSON/XML) is bound to it;
//!   [`engine::settle()`] does the arithmetic;
//!   [`engine::Answer`] is the answer (docs/claims-and-answers.md). No I/O, no async: the CLI, the
//!   service, the reconciliation and the simulator all call it, and nothing
//!   else computes a payer's share.
//! - [`recon`] — the medical-aid centre's month (pure): statements, checks,
//!   clearing, ledgers, roster matching, reports in four formats.
//! - [`sim`], [`engine::policy::diff`] — the administrators' funding-gap simulation,
//!   synthetic population and policy diff, on the same engine.
//! - [`storage`] — the only module that speaks SQL: SQLite (embedded
//!   default, WAL, `BEGIN IMMEDIATE`) and PostgreSQL (accumulator rows locked
//!   in a fixed order), money in integer fen, migrations embedded.
//! - [`service`] — what a request does, independent of HTTP and SQL:
//!   identity from the registry and the hospital directory, settlement
//!   through the group-commit writer, reversals, month close, 应退应补.
//! - [`http`] — axum routers, one module per resource, one error type; the
//!   staff console (`http::console`, server-rendered pages) is one of them.
//! - [`cli`] — `medaid …`: thin shells over the above.
//!
//! The contract (policy file, claim, arithmetic, answer, command line,
//! service invariants) is written down in `docs/` (start with
//! `docs/ARCHITECTURE.md`); the README
//! shows how to run everything.

#![recursion_limit = "256"] // the OpenAPI examples of the national interface are long json! literals

pub mod calendar;
pub mod cli;
pub mod engine;
pub mod http;
pub mod money;

pub mod recon;
pub mod service;
pub mod sim;
pub mod storage;
