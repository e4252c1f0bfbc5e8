//! The settlement answer (结算结果, docs/claims-and-answers.md), with the explanation a
//! hospital cashier reads, and the national platform's names (docs/nhsa-interface.md).

use super::claim::Claim;
use super::codes::{is_basic_fund, Fund, Status};
use super::policy::{Base, Layer, LayerKind, Place, Policy};
use super::settle::{Accumulator, Computation, LayerOutcome};
use crate::money::{self, fmt2, fmt_percent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One layer's line of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAnswer {
    pub id: String,
    pub name: String,
    pub payer: String,
    pub fund_code: String,
    pub applied: bool,
    #[serde(with = "money::serde_money")]
    pub base: Decimal,
    #[serde(with = "money::serde_money")]
    pub deductible: Decimal,
    #[serde(with = "money::serde_money")]
    pub eligible: Decimal,
    #[serde(
        serialize_with = "money::ser_opt_ratio",
        deserialize_with = "de_opt_decimal",
        default
    )]
    pub ratio: Option<Decimal>,
    #[serde(with = "money::serde_money")]
    pub paid: Decimal,
    pub cap_limited: bool,
    /// What remains of the layer's annual limits (cap, shared pool) after
    /// this settlement; absent where the person has no limit on the layer.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_money",
        deserialize_with = "de_opt_decimal"
    )]
    pub remaining: Option<Decimal>,
}

fn ser_opt_money<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => money::ser(d, s),
        None => s.serialize_none(),
    }
}

fn de_opt_decimal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

/// The answer to one settlement. The service adds
/// `settlement_id`, `status` and `settled_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
    pub claim_id: String,
    pub person_id: String,
    pub hospital: String,
    pub medical_type: String,
    pub policy_id: String,
    pub policy_hash: String,
    pub year: i32,
    #[serde(with = "money::serde_money")]
    pub total: Decimal,
    #[serde(with = "money::serde_money")]
    pub free_items: Decimal,
    #[serde(with = "money::serde_money")]
    pub reduction: Decimal,
    #[serde(with = "money::serde_money")]
    pub hospital_waived: Decimal,
    #[serde(with = "money::serde_money")]
    pub over_limit: Decimal,
    #[serde(with = "money::serde_money")]
    pub self_pay_first: Decimal,
    #[serde(with = "money::serde_money")]
    pub fully_self_pay: Decimal,
    #[serde(with = "money::serde_money")]
    pub in_policy: Decimal,
    pub layers: Vec<LayerAnswer>,
    #[serde(with = "money::serde_money")]
    pub fund_paid: Decimal,
    #[serde(with = "money::serde_money")]
    pub patient_payable: Decimal,
    #[serde(with = "money::serde_ratio4")]
    pub reimbursement_ratio: Decimal,
    pub explanation: Vec<String>,
}

impl Answer {
    /// Build the answer for `claim` from the engine's computation.
    pub fn build(policy: &Policy, claim: &Claim, year: i32, c: &Computation) -> Answer {
        let layers = policy
            .layers
            .iter()
            .zip(&c.layers)
            .map(|(l, o)| LayerAnswer {
                id: l.id.clone(),
                name: l.name.clone(),
                payer: l.payer.code().to_string(),
                fund_code: l.effective_fund_code().to_string(),
                applied: o.applied,
                base: o.base,
                deductible: o.deductible,
                eligible: o.eligible,
                ratio: o.ratio,
                paid: o.paid,
                cap_limited: o.cap_limited,
                remaining: if o.applied { o.remaining } else { None },
            })
            .collect();
        Answer {
            settlement_id: None,
            status: None,
            settled_at: None,
            claim_id: claim.claim_id.clone(),
            person_id: claim.person_id.clone(),
            hospital: claim.hospital.clone(),
            medical_type: claim.medical_type.clone(),
            policy_id: policy.id.clone(),
            policy_hash: policy.hash.clone(),
            year,
            total: c.total,
            free_items: c.free_items,
            reduction: c.reduction(),
            hospital_waived: c.hospital_waived,
            over_limit: c.over_limit,
            self_pay_first: c.self_pay_first,
            fully_self_pay: c.fully_self_pay,
            in_policy: c.in_policy,
            layers,
            fund_paid: c.fund_paid,
            patient_payable: c.patient_payable,
            reimbursement_ratio: c.reimbursement_ratio,
            explanation: explain(policy, c),
        }
    }

    /// Accumulator deltas are not on the answer; this recovers what an
    /// answer added for each layer id (deductible, eligible, paid).
    pub fn deltas(&self) -> Vec<(String, Accumulator)> {
        self.layers
            .iter()
            .filter(|l| l.applied)
            .map(|l| {
                (
                    l.id.clone(),
                    Accumulator {
                        deductible_used: l.deductible,
                        eligible_cum: l.eligible,
                        paid: l.paid,
                    },
                )
            })
            .collect()
    }

    /// Sum paid per payer.
    pub fn paid_by_payer(&self, payer: &str) -> Decimal {
        self.layers
            .iter()
            .filter(|l| l.payer == payer)
            .map(|l| l.paid)
            .sum()
    }
}

fn ratio_text(r: Option<Decimal>) -> String {
    r.map(fmt_percent).unwrap_or_else(|| "—".into())
}

/// One line per applied layer (and one for the waivers, one for the
/// patient's share), in words a hospital cashier can read.
pub fn explain(policy: &Policy, c: &Computation) -> Vec<String> {
    let mut lines = Vec::with_capacity(policy.layers.len() + 2);
    if !c.hospital_waived.is_zero() {
        let mut s = String::from("七免一减（医院减免）：");
        let mut parts = Vec::new();
        if !c.free_items.is_zero() {
            parts.push(format!("免收项目 {}", fmt2(c.free_items)));
        }
        if !c.reduction().is_zero() {
            let rate = policy
                .waivers
                .as_ref()
                .map(|w| w.reduction_rate)
                .unwrap_or_default();
            parts.push(format!(
                "费用减免 {}（政策范围内 {} + 政策范围外 {}）",
                fmt_percent(rate),
                fmt2(c.reduction_in),
                fmt2(c.reduction_out)
            ));
        }
        s.push_str(&parts.join("，"));
        s.push_str(&format!("，合计 {}", fmt2(c.hospital_waived)));
        lines.push(s);
    }
    for (l, o) in policy.layers.iter().zip(&c.layers) {
        if o.applied {
            let mut line = explain_layer(l, o, c);
            explain_v2(policy, l, o, c, &mut line);
            lines.push(line);
        }
    }
    lines.push(format!(
        "个人自付：总费用 {} − 医院减免 {} − 基金支付 {} = {}；实际报销比例 {}",
        fmt2(c.total),
        fmt2(c.hospital_waived),
        fmt2(c.fund_paid),
        fmt2(c.patient_payable),
        fmt_percent(c.reimbursement_ratio)
    ));
    lines
}

/// Amount with thousands separators (`3,200.00`), for the limits that
/// remain: the figure a cashier reads aloud to the patient.
pub fn fmt_grouped(d: Decimal) -> String {
    let plain = fmt2(d);
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}.{frac}")
}

/// A signed percentage (`−10%`, `+5%`) with a real minus sign.
fn signed_percent(d: Decimal) -> String {
    if d.is_sign_negative() {
        format!("−{}", fmt_percent(-d))
    } else {
        format!("+{}", fmt_percent(d))
    }
}

/// The version-2 parts of a layer's line: referral and place adjustments,
/// the shared pool, 就高不重复.
fn explain_v2(policy: &Policy, l: &Layer, o: &LayerOutcome, c: &Computation, s: &mut String) {
    if let (Some(p), Some(amount)) = (l.pool, o.pool_amount) {
        let pool = &policy.pools[p];
        let left = o.pool_remaining.unwrap_or_default();
        s.push_str(&format!(
            "；共用限额 {} {}，剩余 {}",
            pool.display_name(),
            fmt_grouped(amount),
            fmt_grouped(left)
        ));
        if o.pool_limited {
            s.push_str("（已用尽）");
        }
    }
    if let Some(tag) = l.exclusive {
        let others = policy
            .layers
            .iter()
            .zip(&c.layers)
            .any(|(x, xo)| x.exclusive == Some(tag) && xo.superseded);
        if others {
            s.push_str(&format!(
                "；就高不重复：按 {} 救助",
                basis_label(policy, l, c)
            ));
        }
    }
}

/// The category a 就高不重复 layer aided the person as: the one whose ratio
/// applied, else the first the person holds in the layer's scope.
fn basis_label(policy: &Policy, l: &Layer, c: &Computation) -> String {
    let held = c.who.categories & l.categories.unwrap_or(u64::MAX);
    let mut best: Option<(usize, Decimal)> = None;
    if let LayerKind::Ratio {
        ratio_by_category: Some(t),
        ..
    } = &l.kind
    {
        for (i, r) in t.iter().enumerate() {
            if let Some(r) = r {
                if held & super::policy::bit(i) != 0 && best.is_none_or(|(_, b)| *r > b) {
                    best = Some((i, *r));
                }
            }
        }
    }
    let ix = best
        .map(|(i, _)| i)
        .or_else(|| (0..policy.categories.len()).find(|i| held & super::policy::bit(*i) != 0));
    match ix {
        Some(i) => policy.categories[i].1.clone(),
        None => l.display_name().to_string(),
    }
}

/// "未转诊 比例 −10%", "省域内 比例 −5%": which adjustments applied.
fn adjust_words(l: &Layer, c: &Computation) -> String {
    let LayerKind::Ratio {
        ratio_adjust: a, ..
    } = &l.kind
    else {
        return String::new();
    };
    let mut parts = Vec::new();
    let place_adj = a.for_claim(true, c.place);
    if !c.referred && !a.unreferred.is_zero() {
        parts.push(format!("未转诊 比例 {}", signed_percent(a.unreferred)));
    }
    if !place_adj.is_zero() && c.place != Place::County {
        parts.push(format!(
            "{} 比例 {}",
            c.place.label(),
            signed_percent(place_adj)
        ));
    }
    parts.join("，")
}

fn explain_layer(l: &Layer, o: &LayerOutcome, c: &Computation) -> String {
    let name = l.display_name();
    let base_label = match l.base {
        Base::All => "可报费用（含政策范围外）",
        Base::Gross => "政策范围内费用（各项报销前）",
        Base::InPolicy => "政策范围内",
    };
    let mut s = format!("{name}：");
    if o.adjust != Decimal::ZERO {
        s.push_str(&format!("{}，", adjust_words(l, c)));
    }
    match &l.kind {
        LayerKind::Given => {
            s.push_str(&format!(
                "医保平台已结算（基金 {}），{base_label}剩余 {}",
                l.effective_fund_code(),
                fmt2(o.base)
            ));
        }
        LayerKind::Ratio {
            deductible, bands, ..
        } => {
            match deductible {
                Some(_) if o.deductible_waived => {
                    s.push_str(&format!("{base_label} {}，起付线免除", fmt2(o.base)))
                }
                Some(d) if d.per_year => s.push_str(&format!(
                    "{base_label} {}，年度起付线 {}（本年此前已扣 {}），本次扣 {}",
                    fmt2(o.base),
                    fmt2(o.deductible_full),
                    fmt2(o.before.deductible_used),
                    fmt2(o.deductible)
                )),
                Some(_) => s.push_str(&format!(
                    "{base_label} {} − 起付线 {}",
                    fmt2(o.base),
                    fmt2(o.deductible)
                )),
                None => s.push_str(&format!("{base_label} {}", fmt2(o.base))),
            }
            match bands {
                None => s.push_str(&format!(
                    " = {} × {} = {}",
                    fmt2(o.eligible),
                    ratio_text(o.ratio),
                    fmt2(o.uncapped)
                )),
                Some(bands) => {
                    s.push_str(&format!(
                        "，计入 {}（本年此前累计 {}），",
                        fmt2(o.eligible),
                        fmt2(o.before.eligible_cum)
                    ));
                    let lo = o.before.eligible_cum;
                    let hi = lo + o.eligible;
                    let mut floor = Decimal::ZERO;
                    let mut segs = Vec::new();
                    for b in bands {
                        let r = (b.ratio + o.bonus + o.adjust)
                            .max(Decimal::ZERO)
                            .min(Decimal::ONE);
                        let top = b.upto.map_or(hi, |u| u.min(hi));
                        let start = floor.max(lo);
                        if top > start {
                            let range = match b.upto {
                                Some(u) => format!("{}–{}", floor.normalize(), u.normalize()),
                                None => format!("{} 以上", floor.normalize()),
                            };
                            segs.push(format!(
                                "分段 {range} 按 {} 计 {}",
                                fmt_percent(r),
                                fmt2(top - start)
                            ));
                        }
                        match b.upto {
                            Some(u) if u < hi => floor = u,
                            _ => break,
                        }
                    }
                    if segs.is_empty() {
                        s.push_str("无可报金额");
                    } else {
                        s.push_str(&segs.join("，"));
                    }
                    s.push_str(&format!(" = {}", fmt2(o.uncapped)));
                }
            }
            if !o.bonus.is_zero() {
                s.push_str(&format!("（含倾斜 {}）", fmt_percent(o.bonus)));
            }
        }
        LayerKind::Target {
            target_ratio,
            reference_total,
        } => {
            s.push_str(&format!(
                "保障报销比例 {}，参照{} {}，个人负担上限 {}；{base_label}剩余 {} − {} = {}",
                fmt_percent(*target_ratio),
                if *reference_total {
                    "总费用（减免后）"
                } else {
                    "政策范围内费用（减免后）"
                },
                fmt2(o.reference),
                fmt2(o.allowed),
                fmt2(o.base),
                fmt2(o.allowed),
                fmt2(o.uncapped)
            ));
        }
    }
    if o.pool_limited {
        s.push_str(&format!("，受共用限额限制，实付 {}", fmt2(o.paid)));
    } else if o.cap_limited {
        let per = match &l.cap {
            Some(c) if c.per_year => format!(
                "年度封顶线 {}（本年此前已付 {}）",
                fmt2(o.cap.unwrap_or_default()),
                fmt2(o.cap_paid_before)
            ),
            _ => format!("单次封顶线 {}", fmt2(o.cap.unwrap_or_default())),
        };
        s.push_str(&format!("，受{per}限制，实付 {}", fmt2(o.paid)));
    } else {
        s.push_str(&format!("，支付 {}", fmt2(o.paid)));
    }
    s
}

/// The national platform's view of an answer (docs/nhsa-interface.md):
/// `setlinfo` and one `setldetail` row per paying fund.
#[derive(Debug, Clone, Serialize)]
pub struct NhsaAnswer {
    pub setlinfo: NhsaSetlInfo,
    pub setldetail: Vec<NhsaSetlDetail>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NhsaSetlInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setl_id: Option<String>,
    pub mdtrt_id: String,
    pub psn_no: String,
    pub fixmedins_code: String,
    pub med_type: String,
    pub medfee_sumamt: String,
    pub fulamt_ownpay_amt: String,
    pub overlmt_selfpay: String,
    pub preselfpay_amt: String,
    pub inscp_scp_amt: String,
    pub act_pay_dedc: String,
    pub hifp_pay: String,
    pub hifmi_pay: String,
    pub hifob_pay: String,
    pub cvlserv_pay: String,
    pub maf_pay: String,
    pub oth_pay: String,
    pub fund_pay_sumamt: String,
    pub hosp_part_amt: String,
    pub psn_part_amt: String,
    pub setl_ratio: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setl_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refd_setl_flag: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NhsaSetlDetail {
    pub fund_pay_type: String,
    pub fund_pay_type_name: String,
    pub inscp_scp_amt: String,
    /// The limit that remains after this settlement; null where the fund
    /// has no limit for this person.
    pub crt_payb_lmt_amt: Option<String>,
    pub fund_payamt: String,
    pub setl_proc_info: String,
}

/// The setlinfo column a fund code pays into (docs/nhsa-interface.md).
pub fn nhsa_column(fund_code: &str) -> &'static str {
    Fund::from_code(fund_code).map_or("oth_pay", Fund::nhsa_column)
}

/// The platform's name of a fund type.
pub fn fund_type_name(fund_code: &str) -> &'static str {
    Fund::from_code(fund_code)
        .and_then(Fund::label)
        .unwrap_or("其他基金")
}

impl NhsaAnswer {
    pub fn from_answer(a: &Answer) -> NhsaAnswer {
        let column = |name: &str| -> Decimal {
            a.layers
                .iter()
                .filter(|l| nhsa_column(&l.fund_code) == name)
                .map(|l| l.paid)
                .sum()
        };
        let basic_ded = a
            .layers
            .iter()
            .find(|l| is_basic_fund(&l.fund_code) && l.applied)
            .map(|l| l.deductible)
            .unwrap_or_default();
        // One row per paying fund; the hospital's waivers are not a fund
        // (they are hosp_part_amt), so Σ fund_payamt = fund_pay_sumamt.
        let detail = a
            .layers
            .iter()
            .filter(|l| l.applied && !l.paid.is_zero())
            .map(|l| {
                let line = a.explanation.iter().find(|e| {
                    e.starts_with(&format!(
                        "{}：",
                        if l.name.is_empty() { &l.id } else { &l.name }
                    ))
                });
                NhsaSetlDetail {
                    fund_pay_type: l.fund_code.clone(),
                    fund_pay_type_name: fund_type_name(&l.fund_code).to_string(),
                    inscp_scp_amt: fmt2(l.base),
                    crt_payb_lmt_amt: l.remaining.map(fmt2),
                    fund_payamt: fmt2(l.paid),
                    setl_proc_info: line.cloned().unwrap_or_default(),
                }
            })
            .collect();
        NhsaAnswer {
            setlinfo: NhsaSetlInfo {
                setl_id: a.settlement_id.clone(),
                mdtrt_id: a.claim_id.clone(),
                psn_no: a.person_id.clone(),
                fixmedins_code: a.hospital.clone(),
                med_type: a.medical_type.clone(),
                medfee_sumamt: fmt2(a.total),
                fulamt_ownpay_amt: fmt2(a.fully_self_pay),
                overlmt_selfpay: fmt2(a.over_limit),
                preselfpay_amt: fmt2(a.self_pay_first),
                inscp_scp_amt: fmt2(a.in_policy),
                act_pay_dedc: fmt2(basic_ded),
                hifp_pay: fmt2(column("hifp_pay")),
                hifmi_pay: fmt2(column("hifmi_pay")),
                hifob_pay: fmt2(column("hifob_pay")),
                cvlserv_pay: fmt2(column("cvlserv_pay")),
                maf_pay: fmt2(column("maf_pay")),
                oth_pay: fmt2(column("oth_pay")),
                fund_pay_sumamt: fmt2(a.fund_paid),
                hosp_part_amt: fmt2(a.hospital_waived),
                psn_part_amt: fmt2(a.patient_payable),
                setl_ratio: {
                    let mut r = a.reimbursement_ratio;
                    r.rescale(4);
                    r.to_string()
                },
                setl_time: a.settled_at.clone(),
                refd_setl_flag: a.status.as_ref().map(|s| {
                    if Status::Cancelled.is(Some(s)) {
                        "1".into()
                    } else {
                        "0".into()
                    }
                }),
            },
            setldetail: detail,
        }
    }
}
