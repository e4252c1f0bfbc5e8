//! What a replay is asked and what it yields, shared by the replay
//! ([`super::run`]) that fills it and the report ([`super::report`]) that
//! reads it: the policies and options, and the flat integer rows the
//! replay sums into.

use super::Budget;
use crate::engine::policy::Payer;
use crate::engine::{ClaimError, Policy};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// A policy to replay, with the file it came from (for the report).
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub policy: &'a Policy,
    pub file: &'a str,
}

/// What to compute besides the totals.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub budgets: Vec<Budget>,
    /// Out-of-pocket spending per person and year above which it counts as
    /// catastrophic (yuan).
    pub catastrophic: Decimal,
    /// Bootstrap replicates over persons (0: no intervals).
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// How many gainers and losers to list by name.
    pub top: usize,
    /// Refusals listed per policy (all are counted).
    pub max_refusals: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            budgets: Vec::new(),
            catastrophic: Decimal::from(20_000),
            bootstrap: 200,
            seed: 42,
            top: 10,
            max_refusals: 20,
        }
    }
}

/// Number of payer columns ([`Payer::ALL`]).
pub(crate) const PAYERS: usize = 4;

/// Where a policy's numbers sit in a flat row.
///
/// Per-person metric row (the bootstrap resamples these), per policy:
/// `[total, hospital_waived, fund_paid, patient_payable, layer paid…,
/// payer paid…]`.
///
/// Cell (one key of one breakdown): `[claims, total, hospital_waived,
/// fund_paid, patient_payable, layer paid…, layer claims…, payer paid…,
/// payer claims…]`, and in the aggregate, after those, `[persons, layer
/// persons…, payer persons…]`.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub layers: usize,
    pub payer_of_layer: Vec<usize>,
    /// Offset of this policy's block in the metric row.
    pub offset: usize,
}

impl Layout {
    pub fn new(policy: &Policy, offset: usize) -> Layout {
        Layout {
            layers: policy.layers.len(),
            payer_of_layer: policy
                .layers
                .iter()
                .map(|l| Payer::ALL.iter().position(|p| *p == l.payer).unwrap_or(0))
                .collect(),
            offset,
        }
    }
    /// Width of this policy's block in the metric row.
    pub fn metric_width(&self) -> usize {
        4 + self.layers + PAYERS
    }
    pub const M_TOTAL: usize = 0;
    pub const M_WAIVED: usize = 1;
    pub const M_FUND: usize = 2;
    pub const M_PATIENT: usize = 3;
    pub fn m_layer(&self, i: usize) -> usize {
        4 + i
    }
    pub fn m_payer(&self, p: usize) -> usize {
        4 + self.layers + p
    }

    pub const C_CLAIMS: usize = 0;
    pub const C_TOTAL: usize = 1;
    pub const C_WAIVED: usize = 2;
    pub const C_FUND: usize = 3;
    pub const C_PATIENT: usize = 4;
    pub fn c_paid(&self, i: usize) -> usize {
        5 + i
    }
    pub fn c_claims(&self, i: usize) -> usize {
        5 + self.layers + i
    }
    pub fn c_payer_paid(&self, p: usize) -> usize {
        5 + 2 * self.layers + p
    }
    pub fn c_payer_claims(&self, p: usize) -> usize {
        5 + 2 * self.layers + PAYERS + p
    }
    /// Width of a person's cell.
    pub fn person_width(&self) -> usize {
        5 + 2 * self.layers + 2 * PAYERS
    }
    pub fn c_persons(&self) -> usize {
        self.person_width()
    }
    pub fn c_layer_persons(&self, i: usize) -> usize {
        self.person_width() + 1 + i
    }
    pub fn c_payer_persons(&self, p: usize) -> usize {
        self.person_width() + 1 + self.layers + p
    }
    /// Width of an aggregate cell.
    pub fn cell_width(&self) -> usize {
        self.person_width() + 1 + self.layers + PAYERS
    }
}

/// Breakdown dimensions of a cell key.
pub(crate) const DIM_ALL: u8 = 0;
pub(crate) const DIM_CATEGORY: u8 = 1;
pub(crate) const DIM_MONTH: u8 = 2;
pub(crate) const DIM_LEVEL: u8 = 3;

/// One policy's sums over some persons.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyAgg {
    pub cells: HashMap<(u8, u32), Vec<i64>>,
    pub settled: u64,
    pub refused: u64,
    /// The first refusals by input line.
    pub refusals: Vec<(usize, ClaimError)>,
    /// Per person and year: (out of pocket, total), in fen.
    pub person_years: Vec<(i64, i64)>,
}

/// Everything the replay produces before it becomes a report.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub layouts: Vec<Layout>,
    pub policies: Vec<PolicyAgg>,
    /// Per-person metric rows, persons in [`ClaimSet::persons`] order,
    /// `width` columns each (persons without a settled claim are zero).
    pub matrix: Vec<i64>,
    pub width: usize,
    /// Bootstrap sums: `replicates × width`.
    pub replicates: Vec<Vec<i64>>,
}
