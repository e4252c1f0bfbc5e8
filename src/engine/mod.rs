//! The settlement engine: pure functions, no I/O, no async.
//!
//! - [`policy`]: the TOML policy, validated and compiled to integer ids;
//!   the [`PolicySet`] that picks a claim's policy by date and region.
//! - [`claim`]: the hospital's claim (JSON or XML) and its checks.
//! - [`settle`](mod@settle): the arithmetic, layer by layer.
//! - [`answer`]: the answer (docs/claims-and-answers.md), its explanation, and the national names.
//! - [`book`]: accumulators carried per person and year in memory.

pub mod amounts;
pub mod answer;
pub mod book;
pub mod claim;
pub mod codes;
pub mod nhsa;
pub mod policy;
pub mod settle;
mod toml_tree;
pub mod words;

pub use answer::{Answer, NhsaAnswer};
pub use claim::{Claim, ClaimError, Identity, ResolvedClaim};
pub use policy::{Policy, PolicyError, PolicyErrors, PolicySet};
pub use settle::{settle, Accumulator, Computation};

/// Settle a claim offline, trusting the identity it states (the CLI's
/// `medaid settle`). Returns the computation too, for its deltas.
pub fn settle_stated(
    policy: &Policy,
    claim: &Claim,
    accs: &[Accumulator],
) -> Result<(Answer, Computation), ClaimError> {
    let who = claim::stated_identity(policy, claim)?;
    let resolved = claim::resolve(policy, claim)?;
    let comp =
        settle::settle(policy, &resolved, who, accs).map_err(|e| e.for_claim(&claim.claim_id))?;
    let answer = Answer::build(policy, claim, resolved.year, &comp);
    Ok((answer, comp))
}
