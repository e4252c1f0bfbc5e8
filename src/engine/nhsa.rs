//! The national platform's interface (医保信息平台): the 2304-shaped
//! answer (`{"infcode", "err_msg", "output": {"setlinfo", "setldetail"}}`),
//! its error wrapper, the platform's `med_type` codes, and a 2301/2304-style
//! request read into medaid's claim. Pure: no I/O. The amounts and their
//! mapping to platform names are [`super::answer::NhsaAnswer`]'s
//! (docs/nhsa-interface.md); this module adds the envelope, the person fields and the codes.
//! Every field and where it comes from: `docs/nhsa-interface.md`.

use super::answer::{Answer, NhsaAnswer, NhsaSetlDetail};
use crate::money::fmt2;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// medaid's medical type ids and the platform's `med_type` codes (医疗类别
/// 字典). The first id of a code is the one a platform request maps to when
/// the policies declare several.
pub const MED_TYPES: &[(&str, &str, &str)] = &[
    ("inpatient", "21", "普通住院"),
    ("outpatient_chronic", "14", "门诊慢特病"),
    ("outpatient_special", "14", "门诊慢特病"),
    ("outpatient", "11", "普通门诊"),
    ("outpatient_general", "11", "普通门诊"),
    ("registration", "12", "门诊挂号"),
    ("emergency", "13", "急诊"),
    ("emergency_inpatient", "24", "急诊转住院"),
    ("single_disease_inpatient", "26", "单病种住院"),
    ("pharmacy", "41", "定点药店购药"),
    ("maternity_outpatient", "51", "生育门诊"),
    ("maternity_inpatient", "52", "生育住院"),
];

/// The platform's `med_type` of a medaid medical type id; an id the table
/// does not know is kept as it is (a policy may already use the codes).
pub fn platform_med_type(id: &str) -> String {
    MED_TYPES
        .iter()
        .find(|(m, _, _)| *m == id)
        .map(|(_, c, _)| c.to_string())
        .unwrap_or_else(|| id.to_string())
}

/// medaid's medical type for a platform `med_type`: the first id of the
/// table with that code that `known` (the policies' ids) holds; a code no
/// policy declares is kept (the claim check then names it).
pub fn medaid_med_type(code: &str, known: &[&str]) -> String {
    if known.contains(&code) {
        return code.to_string();
    }
    MED_TYPES
        .iter()
        .filter(|(_, c, _)| *c == code)
        .map(|(m, _, _)| *m)
        .find(|m| known.contains(m))
        .unwrap_or(code)
        .to_string()
}

/// `clr_type` (清算类别) by the platform's medical type: 住院 21, 门诊 11,
/// 药店 41; empty where unknown.
fn clr_type(med_type: &str) -> &'static str {
    match med_type.chars().next() {
        Some('2') => "21",
        Some('1') => "11",
        Some('4') => "41",
        Some('5') if med_type == "52" => "21",
        Some('5') => "11",
        _ => "",
    }
}

/// What an ID number (居民身份证号码, 18 characters) says: sex (`gend`: 1
/// male, 2 female) and birth date.
pub fn id_facts(certno: &str) -> Option<(&'static str, chrono::NaiveDate)> {
    let b = certno.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let birth = chrono::NaiveDate::parse_from_str(&certno[6..14], "%Y%m%d").ok()?;
    let gend = if (b[16] - b'0') % 2 == 1 { "1" } else { "2" };
    Some((gend, birth))
}

/// Whole years from `birth` to `on`.
fn age_on(birth: chrono::NaiveDate, on: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut y = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        y -= 1;
    }
    y
}

/// What the service knows beside the answer.
#[derive(Debug, Clone, Default)]
pub struct NhsaPerson {
    /// 人员姓名, from the registry.
    pub name: Option<String>,
    /// 险种类型, from the claim.
    pub insutype: Option<String>,
    /// 清算经办机构: the policy's region code.
    pub region: Option<String>,
}

/// `setlinfo` of transaction 2304 (结算信息), every field the platform
/// answers, plus medaid's `fixmedins_code`, `setl_ratio` and
/// `refd_setl_flag`.
#[derive(Debug, Clone, Serialize)]
pub struct Setlinfo2304 {
    pub setl_id: String,
    pub mdtrt_id: String,
    pub psn_no: String,
    pub psn_name: String,
    pub psn_cert_type: String,
    pub certno: String,
    pub gend: String,
    pub naty: String,
    pub brdy: String,
    pub age: String,
    pub insutype: String,
    pub psn_type: String,
    pub cvlserv_flag: String,
    pub setl_time: String,
    pub mdtrt_cert_type: String,
    pub med_type: String,
    pub medfee_sumamt: String,
    pub fulamt_ownpay_amt: String,
    pub overlmt_selfpay: String,
    pub preselfpay_amt: String,
    pub inscp_scp_amt: String,
    pub act_pay_dedc: String,
    pub hifp_pay: String,
    pub pool_prop_selfpay: String,
    pub cvlserv_pay: String,
    pub hifes_pay: String,
    pub hifmi_pay: String,
    pub hifob_pay: String,
    pub maf_pay: String,
    pub oth_pay: String,
    pub fund_pay_sumamt: String,
    pub psn_part_amt: String,
    pub acct_pay: String,
    pub psn_cash_pay: String,
    pub hosp_part_amt: String,
    pub balc: String,
    pub acct_mulaid_pay: String,
    pub medins_setl_id: String,
    pub clr_optins: String,
    pub clr_way: String,
    pub clr_type: String,
    pub fixmedins_code: String,
    pub setl_ratio: String,
    pub refd_setl_flag: String,
}

/// `output` of transaction 2304.
#[derive(Debug, Clone, Serialize)]
pub struct Output2304 {
    pub setlinfo: Setlinfo2304,
    pub setldetail: Vec<NhsaSetlDetail>,
}

/// The platform's envelope: `infcode` 0 and `output`, or `infcode` -1 and
/// `err_msg`.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope<T: Serialize> {
    pub infcode: i32,
    pub err_msg: String,
    pub output: Option<T>,
}

/// A stored time (RFC 3339) as the platform writes it: China time,
/// `yyyy-MM-dd HH:mm:ss`.
pub fn platform_time(ts: &str) -> String {
    match crate::calendar::in_china(ts) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => ts.to_string(),
    }
}

/// The 2304 answer of `a`.
pub fn output_2304(a: &Answer, person: &NhsaPerson) -> Output2304 {
    let n = NhsaAnswer::from_answer(a);
    let s = n.setlinfo;
    let facts = id_facts(&a.person_id);
    let setl_day = a
        .settled_at
        .as_deref()
        .and_then(crate::calendar::in_china)
        .map(|t| t.date_naive());
    let basic_ratio = a
        .layers
        .iter()
        .find(|l| super::codes::is_basic_fund(&l.fund_code) && l.applied)
        .and_then(|l| l.ratio)
        .map(|r| {
            let mut r = r;
            r.rescale(4);
            r.to_string()
        })
        .unwrap_or_default();
    let zero = fmt2(Decimal::ZERO);
    let med_type = platform_med_type(&a.medical_type);
    Output2304 {
        setlinfo: Setlinfo2304 {
            setl_id: s.setl_id.unwrap_or_default(),
            mdtrt_id: s.mdtrt_id,
            psn_no: String::new(),
            psn_name: person.name.clone().unwrap_or_default(),
            psn_cert_type: if facts.is_some() { "01" } else { "" }.into(),
            certno: a.person_id.clone(),
            gend: facts.map(|f| f.0.to_string()).unwrap_or_default(),
            naty: String::new(),
            brdy: facts
                .map(|f| f.1.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            age: match (facts, setl_day) {
                (Some((_, b)), Some(d)) => format!("{}.0", age_on(b, d)),
                _ => String::new(),
            },
            insutype: person.insutype.clone().unwrap_or_default(),
            psn_type: String::new(),
            cvlserv_flag: "0".into(),
            setl_time: a
                .settled_at
                .as_deref()
                .map(platform_time)
                .unwrap_or_default(),
            mdtrt_cert_type: if facts.is_some() { "02" } else { "" }.into(),
            clr_type: clr_type(&med_type).into(),
            med_type,
            medfee_sumamt: s.medfee_sumamt,
            fulamt_ownpay_amt: s.fulamt_ownpay_amt,
            overlmt_selfpay: s.overlmt_selfpay,
            preselfpay_amt: s.preselfpay_amt,
            inscp_scp_amt: s.inscp_scp_amt,
            act_pay_dedc: s.act_pay_dedc,
            hifp_pay: s.hifp_pay,
            pool_prop_selfpay: basic_ratio,
            cvlserv_pay: s.cvlserv_pay,
            hifes_pay: zero.clone(),
            hifmi_pay: s.hifmi_pay,
            hifob_pay: s.hifob_pay,
            maf_pay: s.maf_pay,
            oth_pay: s.oth_pay,
            fund_pay_sumamt: s.fund_pay_sumamt,
            psn_cash_pay: s.psn_part_amt.clone(),
            psn_part_amt: s.psn_part_amt,
            acct_pay: zero.clone(),
            hosp_part_amt: s.hosp_part_amt,
            balc: zero.clone(),
            acct_mulaid_pay: zero,
            medins_setl_id: a.claim_id.clone(),
            clr_optins: person.region.clone().unwrap_or_default(),
            clr_way: String::new(),
            fixmedins_code: s.fixmedins_code,
            setl_ratio: s.setl_ratio,
            refd_setl_flag: s.refd_setl_flag.unwrap_or_else(|| "0".into()),
        },
        setldetail: n.setldetail,
    }
}

/// The success envelope of `a`.
pub fn answer_2304(a: &Answer, person: &NhsaPerson) -> Envelope<Output2304> {
    Envelope {
        infcode: 0,
        err_msg: String::new(),
        output: Some(output_2304(a, person)),
    }
}

/// The error envelope: `infcode` -1 and the message.
pub fn error_2304(err_msg: impl Into<String>) -> Envelope<Output2304> {
    Envelope {
        infcode: -1,
        err_msg: err_msg.into(),
        output: None,
    }
}

/// Why a platform request could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The platform field at fault (`input.feedetail[2].chrgitm_lv`).
    pub path: String,
    pub message: String,
}

fn req_err(path: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        path: path.into(),
        message: message.into(),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first present field among `names` of `o`.
fn first(o: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| text(o.get(*n)))
}

/// `yyyy-MM-dd` of a platform date or date-time.
fn day(s: &str) -> String {
    s.get(..10).unwrap_or(s).to_string()
}

/// `chrgitm_lv` (收费项目等级: 01 甲类, 02 乙类, 03 丙类/自费) as medaid's
/// class; A, B, C are accepted as they are.
fn class_of(lv: &str) -> Option<&'static str> {
    match lv.trim() {
        "01" | "1" | "A" | "a" | "甲" | "甲类" => Some("A"),
        "02" | "2" | "B" | "b" | "乙" | "乙类" => Some("B"),
        "03" | "3" | "C" | "c" | "丙" | "丙类" | "自费" => Some("C"),
        _ => None,
    }
}

/// `med_chrgitm_type` (医疗收费项目类别) as the item kinds policies name
/// in their waivers.
fn kind_of(t: &str) -> &'static str {
    match t.trim() {
        "01" => "bed",
        "02" => "consultation",
        "03" => "examination",
        "04" => "laboratory",
        "05" => "treatment",
        "06" => "surgery",
        "07" => "nursing",
        "08" => "material",
        "09" | "10" | "11" => "drug",
        "12" => "general_consultation",
        "13" => "registration",
        _ => "other",
    }
}

/// Read a 2301/2304-style request — `{"infno", "input": {"data": {…},
/// "feedetail": [...], "diseinfo": [...], "setldetail": [...]}}`, or the
/// `input` object alone — as medaid's claim (JSON, to be checked by the
/// claim reader like any other). `known_med_types`: the policies' medical
/// type ids; `known_insutypes`: the insurance types they declare — with
/// none declared (version-1 policies), `insutype` is not passed on.
pub fn claim_from_request(
    body: &Value,
    known_med_types: &[&str],
    known_insutypes: &[&str],
) -> Result<Value, RequestError> {
    let input = body.get("input").unwrap_or(body);
    let input = input
        .as_object()
        .ok_or_else(|| req_err("input", "应为对象"))?;
    let data = match input.get("data") {
        Some(Value::Object(d)) => d.clone(),
        Some(_) => return Err(req_err("input.data", "应为对象")),
        None => input.clone(),
    };
    let need = |names: &[&str], what: &str| {
        first(&data, names)
            .ok_or_else(|| req_err(format!("input.data.{}", names[0]), format!("缺少{what}")))
    };
    let mdtrt_id = need(&["mdtrt_id"], "就诊ID")?;
    let certno = need(&["certno", "mdtrt_cert_no", "psn_cert_no"], "证件号码")?;
    let med_type = need(&["med_type"], "医疗类别")?;
    let begin = need(
        &["begntime", "adm_time", "begndate", "adm_date"],
        "入院（就诊）时间",
    )?;
    let end = first(&data, &["endtime", "dscg_time", "enddate", "dscg_date"])
        .or_else(|| (!med_type.starts_with('2')).then(|| begin.clone()))
        .ok_or_else(|| req_err("input.data.endtime", "缺少出院时间"))?;
    let mut diagnoses: Vec<String> = Vec::new();
    if let Some(Value::Array(d)) = input.get("diseinfo").or_else(|| data.get("diseinfo")) {
        // the main diagnosis (maindiag_flag 1) first
        let mut rows: Vec<&Map<String, Value>> = d.iter().filter_map(Value::as_object).collect();
        rows.sort_by_key(|r| text(r.get("maindiag_flag")).as_deref() != Some("1"));
        diagnoses.extend(
            rows.iter()
                .filter_map(|r| first(r, &["diag_code", "dise_codg"])),
        );
    }
    for k in ["maindiag_code", "dscg_maindiag_code", "dise_codg"] {
        if let Some(c) = text(data.get(k)) {
            if !diagnoses.contains(&c) {
                diagnoses.insert(0, c);
            }
        }
    }
    let fees = match input.get("feedetail") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(req_err("input.feedetail", "应为数组")),
        None => return Err(req_err("input.feedetail", "缺少费用明细")),
    };
    let mut items = Vec::with_capacity(fees.len());
    for (i, f) in fees.iter().enumerate() {
        let at = |k: &str| format!("input.feedetail[{i}].{k}");
        let f = f
            .as_object()
            .ok_or_else(|| req_err(format!("input.feedetail[{i}]"), "应为对象"))?;
        let amount = first(f, &["det_item_fee_sumamt", "fee_sumamt"])
            .ok_or_else(|| req_err(at("det_item_fee_sumamt"), "缺少明细项目费用总额"))?;
        let lv = first(f, &["chrgitm_lv", "class"]).ok_or_else(|| {
            req_err(
                at("chrgitm_lv"),
                "缺少收费项目等级（01 甲类、02 乙类、03 丙类）",
            )
        })?;
        let class = class_of(&lv).ok_or_else(|| {
            req_err(
                at("chrgitm_lv"),
                format!("未知的收费项目等级 {lv:?}（01 甲类、02 乙类、03 丙类）"),
            )
        })?;
        let mut item = json!({
            "code": first(f, &["med_list_codg", "medins_list_codg"]).unwrap_or_default(),
            "name": first(f, &["med_list_name", "medins_list_name", "fee_name"]).unwrap_or_default(),
            "kind": first(f, &["med_chrgitm_type"]).map(|t| kind_of(&t).to_string()).unwrap_or_default(),
            "class": class,
            "amount": amount,
        });
        // The price cap (pric_uplmt_amt) times the quantity is the item's
        // limit; the product is rounded to the fen.
        if let (Some(cap), Some(cnt)) = (first(f, &["pric_uplmt_amt"]), first(f, &["cnt"])) {
            let cap: Decimal = cap
                .parse()
                .map_err(|_| req_err(at("pric_uplmt_amt"), format!("不是金额：{cap:?}")))?;
            let cnt: Decimal = cnt
                .parse()
                .map_err(|_| req_err(at("cnt"), format!("不是数量：{cnt:?}")))?;
            if !cap.is_zero() {
                item["limit_amount"] = json!(fmt2(crate::money::round2(cap * cnt)));
            }
        }
        if let Some(p) = first(f, &["selfpay_prop"]) {
            if class == "B" {
                item["self_pay_ratio"] = json!(p);
            }
        }
        items.push(item);
    }
    let mut claim = json!({
        "claim_id": mdtrt_id,
        "person_id": certno,
        "medical_type": medaid_med_type(&med_type, known_med_types),
        "admitted_on": day(&begin),
        "discharged_on": day(&end),
        "diagnoses": diagnoses,
        "items": items,
    });
    if let Some(h) = first(&data, &["fixmedins_code"]) {
        claim["hospital"] = json!(h);
    }
    if let Some(t) = first(&data, &["insutype"]) {
        if !known_insutypes.is_empty() {
            claim["insurance_type"] = json!(t);
        }
    }
    if let Some(Value::Array(d)) = input.get("setldetail") {
        let mut funds = Map::new();
        for (i, r) in d.iter().enumerate() {
            let code = r
                .get("fund_pay_type")
                .and_then(|v| text(Some(v)))
                .ok_or_else(|| {
                    req_err(
                        format!("input.setldetail[{i}].fund_pay_type"),
                        "缺少基金支付类型",
                    )
                })?;
            let amt = r
                .get("fund_payamt")
                .and_then(|v| text(Some(v)))
                .ok_or_else(|| {
                    req_err(
                        format!("input.setldetail[{i}].fund_payamt"),
                        "缺少基金支付金额",
                    )
                })?;
            funds.insert(code, json!(amt));
        }
        claim["fund_payments"] = Value::Object(funds);
    }
    Ok(claim)
}

/// A claim field's path in the platform request's names (for error
/// messages): `items[2].amount` → `input.feedetail[2].det_item_fee_sumamt`.
pub fn request_path(claim_path: &str) -> String {
    if let Some(rest) = claim_path.strip_prefix("items[") {
        if let Some((i, field)) = rest.split_once("].") {
            let f = match field {
                "amount" => "det_item_fee_sumamt",
                "class" => "chrgitm_lv",
                "limit_amount" => "pric_uplmt_amt",
                "self_pay_ratio" => "selfpay_prop",
                "code" => "med_list_codg",
                "name" => "med_list_name",
                other => other,
            };
            return format!("input.feedetail[{i}].{f}");
        }
        return format!("input.feedetail[{rest}");
    }
    match claim_path {
        "claim_id" => "input.data.mdtrt_id".into(),
        "person_id" => "input.data.certno".into(),
        "medical_type" => "input.data.med_type".into(),
        "admitted_on" => "input.data.begntime".into(),
        "discharged_on" => "input.data.endtime".into(),
        "diagnoses" => "input.diseinfo".into(),
        "insurance_type" => "input.data.insutype".into(),
        "hospital" => "input.data.fixmedins_code".into(),
        p if p.starts_with("fund_payments") => "input.setldetail".into(),
        p => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn med_types_map_both_ways() {
        assert_eq!(platform_med_type("inpatient"), "21");
        assert_eq!(platform_med_type("outpatient_chronic"), "14");
        assert_eq!(platform_med_type("outpatient_special"), "14");
        assert_eq!(platform_med_type("dental"), "dental");
        assert_eq!(medaid_med_type("21", &["inpatient"]), "inpatient");
        assert_eq!(
            medaid_med_type("14", &["inpatient", "outpatient_special"]),
            "outpatient_special"
        );
        assert_eq!(
            medaid_med_type("14", &["outpatient_chronic", "outpatient_special"]),
            "outpatient_chronic"
        );
        assert_eq!(medaid_med_type("99", &["inpatient"]), "99");
    }

    #[test]
    fn id_numbers_give_sex_and_birth_date() {
        let (g, b) = id_facts("411303195003030011").unwrap();
        assert_eq!((g, b.to_string().as_str()), ("1", "1950-03-03"));
        assert_eq!(id_facts("41130319900101122X").unwrap().0, "2");
        assert!(id_facts("H-123").is_none());
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(age_on(d("1950-03-03"), d("2017-03-02")), 66);
        assert_eq!(age_on(d("1950-03-03"), d("2017-03-03")), 67);
    }

    #[test]
    fn a_platform_request_becomes_a_claim() {
        let req = json!({
            "infno": "2304",
            "input": {
                "data": {
                    "mdtrt_id": "ZY2017001", "psn_no": "41000000000000000001",
                    "mdtrt_cert_type": "02", "mdtrt_cert_no": "411303195003030011",
                    "med_type": "21", "insutype": "390",
                    "begntime": "2017-03-01 08:00:00", "endtime": "2017-03-10 10:00:00"
                },
                "diseinfo": [
                    {"diag_code": "I10", "maindiag_flag": "0"},
                    {"diag_code": "C34.9", "maindiag_flag": "1"}
                ],
                "feedetail": [
                    {"feedetl_sn": "1", "med_list_codg": "110200001", "med_list_name": "挂号费",
                     "med_chrgitm_type": "13", "chrgitm_lv": "01", "det_item_fee_sumamt": "5.00"},
                    {"feedetl_sn": "2", "med_list_codg": "86900123", "chrgitm_lv": "02",
                     "med_chrgitm_type": "09", "det_item_fee_sumamt": 320, "cnt": "2",
                     "pric_uplmt_amt": "150.00", "selfpay_prop": "0.1"}
                ]
            }
        });
        let c = claim_from_request(&req, &["inpatient"], &["390"]).unwrap();
        assert_eq!(c["claim_id"], "ZY2017001");
        assert_eq!(c["person_id"], "411303195003030011");
        assert_eq!(c["medical_type"], "inpatient");
        assert_eq!(c["admitted_on"], "2017-03-01");
        assert_eq!(c["discharged_on"], "2017-03-10");
        assert_eq!(c["diagnoses"], json!(["C34.9", "I10"]));
        assert_eq!(c["insurance_type"], "390");
        assert_eq!(c["items"][0]["kind"], "registration");
        assert_eq!(c["items"][0]["class"], "A");
        assert_eq!(c["items"][1]["amount"], "320");
        assert_eq!(c["items"][1]["limit_amount"], "300.00");
        assert_eq!(c["items"][1]["self_pay_ratio"], "0.1");
        let claim = crate::engine::claim::parse_json(&c.to_string()).unwrap();
        assert_eq!(claim.items.len(), 2);

        let mut bad = req.clone();
        bad["input"]["feedetail"][1]["chrgitm_lv"] = json!("9");
        let e = claim_from_request(&bad, &["inpatient"], &[]).unwrap_err();
        assert_eq!(e.path, "input.feedetail[1].chrgitm_lv");
        assert!(e.message.contains("收费项目等级"));
        assert_eq!(
            request_path("items[1].amount"),
            "input.feedetail[1].det_item_fee_sumamt"
        );
        assert_eq!(request_path("discharged_on"), "input.data.endtime");
    }
}
