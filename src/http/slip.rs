//! The one-stop settlement slip (一站式结算单): one printable HTML page the
//! patient takes home, with every payer's share, the hospital's waivers,
//! what is left to pay and the explanation lines. Every piece of text is
//! HTML-escaped: claim ids, names and diagnoses come from outside.

use crate::engine::codes::{printed_payer, Status, HOSPITAL_WAIVER};
use crate::engine::words::rmb_upper;
use crate::engine::Answer;
use crate::money::fmt_percent;
use std::fmt::Write as _;

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The payer's name as printed.
pub fn payer_label(payer: &str) -> &'static str {
    match payer {
        "hospital" => HOSPITAL_WAIVER,
        p => printed_payer(p).unwrap_or("其他"),
    }
}

/// A stored timestamp (RFC 3339) as a reader wants it: China time,
/// `yyyy-MM-dd HH:mm`. Text that is not a timestamp is kept as it is.
pub fn china_minutes(ts: &str) -> String {
    match crate::calendar::in_china(ts) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => ts.to_string(),
    }
}

/// Names from the records for what the answer holds as ids, and what the
/// slip prints beside the answer. Every field is optional: a missing one
/// prints the id (or nothing).
#[derive(Debug, Clone, Copy, Default)]
pub struct Labels<'a> {
    /// The hospital's name (directory).
    pub hospital: Option<&'a str>,
    /// The patient's name (registry).
    pub person: Option<&'a str>,
    /// The medical type's label (policy).
    pub medical_type: Option<&'a str>,
    /// The hospital level's label (policy), e.g. `县级`.
    pub level: Option<&'a str>,
    /// The aid categories' labels (policy), already joined (`低保对象、…`).
    pub categories: Option<&'a str>,
    /// The policy's name.
    pub policy: Option<&'a str>,
    pub admitted_on: Option<&'a str>,
    pub discharged_on: Option<&'a str>,
    /// Diagnosis codes (and names where known), joined.
    pub diagnoses: Option<&'a str>,
    /// When the cancellation was committed (RFC 3339).
    pub cancelled_at: Option<&'a str>,
    /// The print time as printed; `None`: now, China time.
    pub printed_at: Option<&'a str>,
}

const STYLE: &str = r#"
@page { size: A4; margin: 12mm 14mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "SimSun", sans-serif;
       font-size: 10pt; line-height: 1.35; color: #000; margin: 0 auto; max-width: 182mm; padding: 0; }
h1 { text-align: center; font-size: 17pt; letter-spacing: 0.4em; margin: 0 0 1mm 0; }
.sub { text-align: center; margin: 0 0 1mm 0; font-size: 11pt; }
.meta { display: flex; justify-content: space-between; font-size: 9pt; margin: 0 0 1mm 0; }
table { width: 100%; border-collapse: collapse; margin: 0 0 2mm 0; page-break-inside: avoid; }
th, td { border: 0.6pt solid #333; padding: 1mm 1.6mm; vertical-align: top; }
th { background: #f0f0f0; font-weight: normal; text-align: left; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.sum td, tr.sum th { font-weight: bold; }
.pay { font-size: 12pt; font-weight: bold; }
.words { font-size: 11pt; font-weight: bold; letter-spacing: 0.05em; }
.void { color: #b00; font-weight: bold; text-align: center; font-size: 15pt; border: 2pt solid #b00; padding: 1.5mm; margin: 0 0 2mm 0; }
.stamp { position: fixed; top: 95mm; left: 0; right: 0; text-align: center; font-size: 72pt; font-weight: bold;
         color: rgba(187, 0, 0, 0.16); transform: rotate(-24deg); pointer-events: none; letter-spacing: 0.3em; }
h2 { font-size: 10.5pt; margin: 2mm 0 1mm 0; }
ol { margin: 0 0 2mm 0; padding-left: 5mm; font-size: 8.5pt; line-height: 1.3; }
.sign { display: flex; justify-content: space-between; margin-top: 6mm; font-size: 10.5pt; }
.sign span { white-space: nowrap; }
.foot { font-size: 8pt; color: #444; margin-top: 3mm; }
@media screen { body { margin: 1.5em auto; } }
"#;

/// Amounts on the slip: thousands separators, two decimals.
fn money(d: rust_decimal::Decimal) -> String {
    crate::engine::answer::fmt_grouped(d)
}

/// Render the slip of `a`: one A4 page.
pub fn render(a: &Answer, labels: &Labels<'_>) -> String {
    let e = escape;
    let mut h = String::with_capacity(12 * 1024);
    let cancelled = Status::Cancelled.is(a.status.as_deref());
    let printed = labels.printed_at.map(str::to_string).unwrap_or_else(|| {
        crate::calendar::now_china()
            .format("%Y-%m-%d %H:%M")
            .to_string()
    });
    let hospital = labels.hospital.unwrap_or(&a.hospital);
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>一站式结算单 {claim}</title>
<style>{STYLE}</style></head><body>
"#,
        claim = e(&a.claim_id),
    );
    if cancelled {
        h.push_str("<div class=\"stamp\">已撤销</div>\n");
    }
    let _ = write!(
        h,
        r#"<h1>一站式结算单</h1>
<p class="sub">{hospital}{level}</p>
<div class="meta"><span>结算号：{sid}</span><span>打印时间：{printed}</span><span>金额单位：元</span></div>
"#,
        hospital = e(hospital),
        level = labels
            .level
            .map(|l| format!("（{}）", e(l)))
            .unwrap_or_default(),
        sid = e(a.settlement_id.as_deref().unwrap_or("—")),
        printed = e(&printed),
    );
    if cancelled {
        let when = labels
            .cancelled_at
            .map(|t| format!("（{} 冲红）", e(&china_minutes(t))))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<p class=\"void\">已撤销{when}：不得作为报销或收费凭证</p>"
        );
    } else if Status::Preview.is(a.status.as_deref()) {
        h.push_str("<p class=\"void\">预结算：仅供参考，未入账</p>\n");
    }
    let dates = match (labels.admitted_on, labels.discharged_on) {
        (Some(f), Some(t)) => format!("{} 至 {}", e(f), e(t)),
        (None, Some(t)) => e(t),
        _ => String::new(),
    };
    let _ = write!(
        h,
        r#"<table>
<tr><th>患者姓名</th><td>{name}</td><th>身份证号</th><td>{person}</td></tr>
<tr><th>救助类别</th><td>{cats}</td><th>医疗类别</th><td>{mtype}</td></tr>
<tr><th>住院（就诊）日期</th><td>{dates}</td><th>就诊号</th><td>{claim}</td></tr>
<tr><th>诊断</th><td>{diag}</td><th>结算时间</th><td>{at}</td></tr>
<tr><th>适用政策</th><td colspan="3">{policy}（{year} 年度）</td></tr>
</table>
<table>
<tr><th>医疗费用总额</th><td class="num">{total}</td><th>政策范围内费用</th><td class="num">{inp}</td></tr>
<tr><th>全自费</th><td class="num">{fsp}</td><th>超限价自付</th><td class="num">{over}</td></tr>
<tr><th>先行自付</th><td class="num">{spf}</td><th>医院减免（七免一减）</th><td class="num">{waived}</td></tr>
</table>
<table>
<tr><th>支付项目</th><th>支付方</th><th class="num">起付线</th><th class="num">支付比例</th><th class="num">支付金额</th></tr>
"#,
        name = e(labels.person.unwrap_or("")),
        person = e(&a.person_id),
        cats = e(labels.categories.unwrap_or("—")),
        mtype = e(labels.medical_type.unwrap_or(&a.medical_type)),
        dates = dates,
        claim = e(&a.claim_id),
        diag = e(labels.diagnoses.unwrap_or("—")),
        at = e(&a
            .settled_at
            .as_deref()
            .map(china_minutes)
            .unwrap_or_default()),
        policy = e(labels.policy.unwrap_or(&a.policy_id)),
        year = a.year,
        total = money(a.total),
        inp = money(a.in_policy),
        fsp = money(a.fully_self_pay),
        over = money(a.over_limit),
        spf = money(a.self_pay_first),
        waived = money(a.hospital_waived),
    );
    for l in &a.layers {
        let name = if l.name.is_empty() { &l.id } else { &l.name };
        if l.applied {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td></tr>",
                e(name),
                payer_label(&l.payer),
                money(l.deductible),
                l.ratio.map(fmt_percent).map(|r| e(&r)).unwrap_or_else(|| "—".into()),
                if l.cap_limited { "（已达封顶线）" } else { "" },
                money(l.paid),
            );
        } else {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">—</td><td class=\"num\">—</td><td class=\"num\">不适用</td></tr>",
                e(name),
                payer_label(&l.payer)
            );
        }
    }
    let _ = write!(
        h,
        r#"<tr><td>医院减免（免收项目 {free}，费用减免 {red}）</td><td>医院</td><td class="num">—</td><td class="num">—</td><td class="num">{waived}</td></tr>
<tr class="sum"><td colspan="4">基金支付合计（不含医院减免）</td><td class="num">{fund}</td></tr>
</table>
<table>
<tr><th>个人自付（小写）</th><td class="num pay">¥{pay} 元</td><th>实际报销比例</th><td class="num">{ratio}</td></tr>
<tr><th>个人自付（大写）</th><td colspan="3" class="words">人民币{words}</td></tr>
</table>
<h2>结算说明</h2>
<ol>
"#,
        fund = money(a.fund_paid),
        waived = money(a.hospital_waived),
        free = money(a.free_items),
        red = money(a.reduction),
        pay = crate::engine::answer::fmt_grouped(a.patient_payable),
        words = rmb_upper(a.patient_payable),
        ratio = e(&fmt_percent(a.reimbursement_ratio)),
    );
    for line in &a.explanation {
        let _ = writeln!(h, "<li>{}</li>", e(line));
    }
    let _ = write!(
        h,
        r#"</ol>
<div class="sign"><span>经办人签字：＿＿＿＿＿＿</span><span>患者（家属）签字：＿＿＿＿＿＿</span><span>（医院盖章）</span></div>
<p class="foot">{hospital} · 一站式结算单 · 结算号 {sid} · 本单一式两份，患者与医院各执一份。</p>
</body></html>
"#,
        hospital = e(hospital),
        sid = e(a.settlement_id.as_deref().unwrap_or("—")),
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
