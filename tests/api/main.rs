//! The settlement service end to end: the real router on port 0, every
//! endpoint on SQLite and on PostgreSQL (`TEST_DATABASE_URL`; skipped with
//! a message without it). Every test's app is audited when it is dropped
//! (`helpers::TestApp`).

mod audit;
mod concurrency;
mod hardening;
mod helpers;
mod keys;
mod policy_v2;
mod processes;
mod records;
mod settle;
mod simulations;
