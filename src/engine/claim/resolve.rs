//! Binding a claim to a policy: every id becomes a small integer or a
//! bit mask, so that the engine does no string work.

use super::*;

/// One item bound to a policy: only what the arithmetic needs. Amounts are
/// whole fen (claims carry at most two decimals, so this is exact); the
/// engine sums items in integers and returns decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedItem {
    pub class: ItemClass,
    pub amount_fen: i64,
    pub limit_fen: Option<i64>,
    /// `kind` is one of the waivers' free items.
    pub free_kind: bool,
    /// The item's own self-pay share (`self_pay_ratio`), replacing the
    /// policy's class-B share.
    pub self_pay: Option<(Fraction, Decimal)>,
}

/// The person and place a claim is settled for (身份): from the claim
/// offline, from the registry and hospital directory in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub categories: Mask,
    pub level: usize,
}

/// A claim bound to a policy, every id an integer.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedClaim {
    pub medical_type: usize,
    pub year: i32,
    /// Disease groups the primary diagnosis matches.
    pub groups: Mask,
    pub items: Vec<ResolvedItem>,
    /// Index of the claim's insurance type among the policy's, if any.
    pub insurance_type: Option<usize>,
    /// Where the care happened relative to the insured region.
    pub place: Place,
    /// `false` when the patient came without the required referral.
    pub referred: bool,
    /// What funds settled elsewhere paid, by fund code.
    pub fund_payments: Option<Vec<(String, Decimal)>>,
}

/// Bind a claim to `policy`. Refuses undeclared medical types and a
/// discharge date the policy does not cover.
pub fn resolve(policy: &Policy, c: &Claim) -> Result<ResolvedClaim, ClaimError> {
    let id = Some(c.claim_id.as_str());
    if !policy.covers(c.discharged_on.0) {
        return Err(ClaimError::new(
            id,
            "discharged_on",
            format!(
                "no policy in force on {} (policy {} covers {} to {})",
                c.discharged_on.0, policy.id, policy.effective_from, policy.effective_to
            ),
        ));
    }
    let medical_type = policy.medical_type_index(&c.medical_type).ok_or_else(|| {
        ClaimError::new(
            id,
            "medical_type",
            format!(
                "unknown medical type {:?} (policy {} declares {})",
                c.medical_type,
                policy.id,
                list_ids(&policy.medical_types)
            ),
        )
    })?;
    let items = c
        .items
        .iter()
        .map(|it| ResolvedItem {
            class: it.class,
            amount_fen: crate::money::to_fen(it.amount.0),
            limit_fen: it.limit_amount.map(|a| crate::money::to_fen(a.0)),
            free_kind: policy.is_free_item_kind(&it.kind),
            self_pay: it.self_pay_ratio.map(|s| (Fraction::new(s.0), s.0)),
        })
        .collect();
    let insurance_type = match c.insurance_type.as_deref() {
        None => None,
        Some(t) => Some(policy.insurance_type_index(t.trim()).ok_or_else(|| {
            ClaimError::new(
                id,
                "insurance_type",
                format!(
                    "unknown insurance type {t:?} (policy {} declares {})",
                    policy.id,
                    if policy.insurance_types.is_empty() {
                        "none".to_string()
                    } else {
                        list_ids(&policy.insurance_types)
                    }
                ),
            )
        })?),
    };
    Ok(ResolvedClaim {
        medical_type,
        year: c.discharged_on.0.year(),
        groups: policy.groups_of(c.diagnoses.first().map(String::as_str)),
        items,
        insurance_type,
        place: Place::of(c.hospital_region.as_deref(), c.insured_region.as_deref()),
        referred: c.referral.unwrap_or(true),
        fund_payments: c
            .fund_payments
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.0)).collect()),
    })
}

/// The identity a claim states for itself (offline use only).
pub fn stated_identity(policy: &Policy, c: &Claim) -> Result<Identity, ClaimError> {
    let id = Some(c.claim_id.as_str());
    let level_id = c.hospital_level.as_deref().ok_or_else(|| {
        ClaimError::new(
            id,
            "hospital_level",
            "is required offline (the service takes it from its hospital directory)",
        )
    })?;
    let level = level_index(policy, c, level_id, "hospital_level")?;
    let categories = category_mask(policy, c, &c.categories, "categories")?;
    Ok(Identity { categories, level })
}

/// A level id → index, or an error naming `field`.
pub fn level_index(
    policy: &Policy,
    c: &Claim,
    level_id: &str,
    field: &str,
) -> Result<usize, ClaimError> {
    policy.level_index(level_id).ok_or_else(|| {
        ClaimError::new(
            Some(&c.claim_id),
            field,
            format!(
                "unknown hospital level {level_id:?} (policy {} declares {})",
                policy.id,
                list_ids(&policy.levels)
            ),
        )
    })
}

/// Category ids → mask, or an error naming `field[i]`.
pub fn category_mask(
    policy: &Policy,
    c: &Claim,
    ids: &[String],
    field: &str,
) -> Result<Mask, ClaimError> {
    let mut m = 0;
    for (i, cat) in ids.iter().enumerate() {
        match policy.category_index(cat) {
            Some(ix) => m |= bit(ix),
            None => {
                return Err(ClaimError::new(
                    Some(&c.claim_id),
                    format!("{field}[{i}]"),
                    format!(
                        "unknown category {cat:?} (policy {} declares {})",
                        policy.id,
                        list_ids(&policy.categories)
                    ),
                ))
            }
        }
    }
    Ok(m)
}

fn list_ids(l: &[(String, String)]) -> String {
    l.iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The claim's policy among `set`: in force on its discharge date, for its
/// insured region (else its hospital's region).
pub fn policy_for<'a>(set: &'a PolicySet, c: &Claim) -> Result<&'a Policy, ClaimError> {
    set.choose(
        c.discharged_on.0,
        c.insured_region.as_deref(),
        c.hospital_region.as_deref(),
    )
    .map_err(|e| ClaimError::new(Some(&c.claim_id), e.field, e.message))
}
