//! The documented shapes of the claim and the answer. Both live in the
//! engine, which knows nothing of OpenAPI, so they are mirrored here for
//! the schema; a test holds the mirror to the engine's serialized fields.

use utoipa::ToSchema;

/// A claim (docs/claims-and-answers.md). Amounts are decimal strings in yuan with at most
/// two decimals. `categories` and `hospital_level` are ignored by the
/// service, which takes them from its registry and hospital directory.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({
    "claim_id": "H0002-20170510-0001", "hospital": "H0002",
    "person_id": "411303199001011234", "medical_type": "inpatient",
    "admitted_on": "2017-05-01", "discharged_on": "2017-05-10", "diagnoses": ["C34.9"],
    "items": [
        {"code": "110200001", "name": "挂号费", "kind": "registration", "class": "A", "amount": "5.00"},
        {"code": "86900123", "name": "头孢曲松", "kind": "drug", "class": "B", "amount": "320.00", "limit_amount": "300.00"}
    ]
}))]
pub struct ClaimDoc {
    #[schema(example = "H0001-20170510-0001")]
    claim_id: String,
    /// Must be the key's hospital (filled in when empty).
    #[schema(example = "H0001")]
    hospital: Option<String>,
    person_id: String,
    #[schema(example = "inpatient")]
    medical_type: String,
    #[schema(example = "2017-05-01")]
    admitted_on: String,
    #[schema(example = "2017-05-10")]
    discharged_on: String,
    /// ICD-10 codes; the first is the primary diagnosis.
    diagnoses: Option<Vec<String>>,
    /// 1 to 10 000 items.
    items: Vec<ItemDoc>,
    /// Offline only: the service takes the level from its hospital directory.
    hospital_level: Option<String>,
    /// Offline only: the service takes the categories from its registry.
    categories: Option<Vec<String>>,
    /// The platform's insutype (`390` residents, `310` employees, …).
    #[schema(example = "390")]
    insurance_type: Option<String>,
    /// Offline only: the hospital's 6-digit division code.
    hospital_region: Option<String>,
    /// Offline only: the person's insured region (参保地).
    insured_region: Option<String>,
    /// `false` when the patient came without the required referral.
    referral: Option<bool>,
    /// Fund code → what the platform already paid (`{"390100": "16575.00"}`).
    fund_payments: Option<std::collections::BTreeMap<String, String>>,
}

/// One line of the bill.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ItemDoc {
    code: Option<String>,
    name: Option<String>,
    /// Matched by the waivers: registration, injection, dressing, ambulance, …
    kind: Option<String>,
    /// A (甲类), B (乙类) or C (丙类/自费).
    #[schema(example = "A")]
    class: String,
    #[schema(example = "320.00")]
    amount: String,
    /// 限价: the part of `amount` above it is out of policy.
    limit_amount: Option<String>,
    /// The platform's `selfpay_prop` in [0, 1]: replaces the policy's
    /// self-pay-first share (class A or B only).
    self_pay_ratio: Option<String>,
}

/// The settlement answer (docs/claims-and-answers.md).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({
    "settlement_id": "6f1c2d9e-…", "status": "settled", "settled_at": "2017-05-10T10:02:11.123456+08:00",
    "claim_id": "H0002-20170510-0001", "person_id": "411303199001011234", "hospital": "H0002",
    "medical_type": "inpatient", "policy_id": "wolong-2017", "policy_hash": "d966b96e…", "year": 2017,
    "total": "325.00", "free_items": "5.00", "reduction": "32.00", "hospital_waived": "37.00",
    "over_limit": "20.00", "self_pay_first": "30.00", "fully_self_pay": "0.00", "in_policy": "275.00",
    "layers": [{"id": "basic", "name": "城乡居民基本医疗保险", "payer": "insurance", "fund_code": "390100",
                "applied": true, "base": "243.00", "deductible": "0.00", "eligible": "243.00",
                "ratio": "0.80", "paid": "194.40", "cap_limited": false}],
    "fund_paid": "228.42", "patient_payable": "59.58", "reimbursement_ratio": "0.8167",
    "explanation": ["个人自付：总费用 325.00 − 医院减免 37.00 − 基金支付 228.42 = 59.58；实际报销比例 81.67%"]
}))]
pub struct AnswerDoc {
    settlement_id: Option<String>,
    /// settled | cancelled | preview
    status: Option<String>,
    settled_at: Option<String>,
    claim_id: String,
    person_id: String,
    hospital: String,
    medical_type: String,
    policy_id: String,
    policy_hash: String,
    year: i32,
    total: String,
    free_items: String,
    reduction: String,
    hospital_waived: String,
    over_limit: String,
    self_pay_first: String,
    fully_self_pay: String,
    in_policy: String,
    layers: Vec<LayerAnswerDoc>,
    fund_paid: String,
    patient_payable: String,
    #[schema(example = "0.8167")]
    reimbursement_ratio: String,
    explanation: Vec<String>,
    /// Cancelled settlements only.
    cancelled_at: Option<String>,
    /// Cancelled settlements only: the reversal (冲红) row.
    reversal_id: Option<String>,
}

/// One payer layer of the answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LayerAnswerDoc {
    id: String,
    name: String,
    /// insurance | aid | government | charity
    payer: String,
    fund_code: String,
    applied: bool,
    base: String,
    deductible: String,
    eligible: String,
    ratio: Option<String>,
    paid: String,
    cap_limited: bool,
    /// What is left of the layer's annual cap or shared pool after this
    /// settlement, where it has one.
    remaining: Option<String>,
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::answer::Answer;
    use crate::engine::claim::parse_json;
    use std::collections::BTreeSet;
    use utoipa::PartialSchema;

    /// The property names of a documented shape.
    fn documented<T: PartialSchema>() -> BTreeSet<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["properties"]
            .as_object()
            .expect("an object schema")
            .keys()
            .cloned()
            .collect()
    }

    fn keys(v: &serde_json::Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    /// Every field the engine's claim serializes (every optional one set)
    /// is documented, and the documentation names no other.
    #[test]
    fn claim_doc_agrees_with_the_engine_claim() {
        let claim = parse_json(
            r#"{"claim_id": "C1", "hospital": "H1", "hospital_level": "3",
                "person_id": "P1", "categories": ["low_income"],
                "medical_type": "inpatient", "admitted_on": "2017-05-01",
                "discharged_on": "2017-05-10", "diagnoses": ["C34.9"],
                "items": [{"code": "1", "name": "n", "kind": "drug", "class": "B",
                           "amount": "320.00", "limit_amount": "300.00",
                           "self_pay_ratio": "0.2"}],
                "insurance_type": "390", "hospital_region": "411303",
                "insured_region": "411303", "referral": true,
                "fund_payments": {"390100": "1.00"}}"#,
        )
        .unwrap();
        let v = serde_json::to_value(&claim).unwrap();
        assert_eq!(keys(&v), documented::<ClaimDoc>());
        assert_eq!(keys(&v["items"][0]), documented::<ItemDoc>());
    }

    /// Every field of the engine's answer (every optional one set) is
    /// documented; the documentation adds only what the service writes into
    /// a cancelled answer.
    #[test]
    fn answer_doc_agrees_with_the_engine_answer() {
        let mut example = serde_json::to_value(AnswerDoc::schema()).unwrap()["example"].clone();
        example["layers"][0]["remaining"] = "1.00".into();
        let answer: Answer = serde_json::from_value(example).unwrap();
        assert!(answer.settlement_id.is_some() && answer.status.is_some());
        assert!(answer.settled_at.is_some() && answer.layers[0].remaining.is_some());
        let v = serde_json::to_value(&answer).unwrap();
        let mut engine = keys(&v);
        for cancelled in ["cancelled_at", "reversal_id"] {
            engine.insert(cancelled.to_string());
        }
        assert_eq!(engine, documented::<AnswerDoc>());
        assert_eq!(keys(&v["layers"][0]), documented::<LayerAnswerDoc>());
    }
}
