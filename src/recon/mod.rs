//! Monthly reconciliation for the medical-aid centre (医疗救助经办):
//! statements (月结), checks against the hospitals' books (对总账, 对明细账),
//! clearing (清算), the aid-disbursement report, the ledgers (台账), and
//! roster matching (信息比对).
//!
//! Pure: everything works on plain [`SettlementRecord`]s or on the grouped
//! sums ([`Cells`]) the storage layer computes, so it is tested without a
//! database. Every report is a [`Report`] and renders as JSON, CSV, XML or
//! XLSX. Arithmetic stays the engine's: reconciliation only adds up what
//! was settled.

pub mod check;
pub mod clearing;
pub mod input;
pub mod ledger;
pub mod record;
pub mod report;
pub mod roster;
pub mod statement;

pub use record::{accounting_month, Kind, LayerRecord, Month, SettlementRecord};
pub use report::{Format, Report, Table, Value};
pub use statement::{Cells, Labels, Section, Sums};

#[cfg(test)]
mod tests;
