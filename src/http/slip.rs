//! The one-stop settlement slip (一站式结算单): one printable HTML page the
//! patient takes home, with every payer's share, the hospital's waivers,
//! what is left to pay and the explanation lines. Every piece of text is
//! HTML-escaped: claim ids, names and diagnoses come from outside.

use crate::engine::Answer;
use crate::money::{fmt2, fmt_percent};
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

fn payer_label(payer: &str) -> &'static str {
    match payer {
        "insurance" => "医疗保险",
        "aid" => "医疗救助",
        "government" => "政府兜底",
        "charity" => "慈善救助",
        _ => "其他",
    }
}

/// Names from the records for what the answer holds as ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct Labels<'a> {
    pub hospital: Option<&'a str>,
    pub person: Option<&'a str>,
    pub medical_type: Option<&'a str>,
}

/// Render the slip of `a`.
pub fn render(a: &Answer, labels: &Labels<'_>) -> String {
    let e = escape;
    let mut h = String::with_capacity(8 * 1024);
    let cancelled = a.status.as_deref() == Some("cancelled");
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>一站式结算单 {claim}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #000; }}
h1 {{ text-align: center; font-size: 1.5em; margin-bottom: 0.2em; }}
.sub {{ text-align: center; margin-top: 0; }}
table {{ width: 100%; border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #444; padding: 0.3em 0.5em; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.pay {{ font-size: 1.3em; font-weight: bold; }}
.void {{ color: #b00; font-weight: bold; text-align: center; font-size: 1.4em; border: 3px solid #b00; padding: 0.3em; }}
ol {{ padding-left: 1.5em; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>一站式结算单</h1>
<p class="sub">{hospital}</p>
"#,
        claim = e(&a.claim_id),
        hospital = e(labels.hospital.unwrap_or(&a.hospital)),
    );
    if cancelled {
        h.push_str("<p class=\"void\">已撤销（本结算已冲红，不得作为报销凭证）</p>\n");
    }
    let _ = write!(
        h,
        r#"<table>
<tr><th>患者</th><td>{name}</td><th>身份证号</th><td>{person}</td></tr>
<tr><th>就诊号</th><td>{claim}</td><th>结算号</th><td>{sid}</td></tr>
<tr><th>医疗类别</th><td>{mtype}</td><th>结算时间</th><td>{at}</td></tr>
<tr><th>政策</th><td colspan="3">{policy}（{year} 年度）</td></tr>
</table>
<table>
<tr><th>费用总额</th><td class="num">{total}</td><th>政策范围内</th><td class="num">{inp}</td></tr>
<tr><th>全自费</th><td class="num">{fsp}</td><th>超限价</th><td class="num">{over}</td></tr>
<tr><th>先行自付</th><td class="num">{spf}</td><th>&nbsp;</th><td>&nbsp;</td></tr>
</table>
<table>
<tr><th>支付方</th><th>类别</th><th class="num">起付线</th><th class="num">比例</th><th class="num">支付金额</th></tr>
"#,
        name = e(labels.person.unwrap_or("")),
        person = e(&a.person_id),
        claim = e(&a.claim_id),
        sid = e(a.settlement_id.as_deref().unwrap_or("")),
        mtype = e(labels.medical_type.unwrap_or(&a.medical_type)),
        at = e(a.settled_at.as_deref().unwrap_or("")),
        policy = e(&a.policy_id),
        year = a.year,
        total = fmt2(a.total),
        inp = fmt2(a.in_policy),
        fsp = fmt2(a.fully_self_pay),
        over = fmt2(a.over_limit),
        spf = fmt2(a.self_pay_first),
    );
    for l in &a.layers {
        let name = if l.name.is_empty() { &l.id } else { &l.name };
        if l.applied {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td></tr>",
                e(name),
                payer_label(&l.payer),
                fmt2(l.deductible),
                l.ratio.map(fmt_percent).map(|r| e(&r)).unwrap_or_default(),
                fmt2(l.paid),
                if l.cap_limited { "（已达封顶线）" } else { "" }
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
        r#"<tr><td>医院减免（七免一减）</td><td>医院</td><td class="num">—</td><td class="num">—</td><td class="num">{waived}</td></tr>
</table>
<table>
<tr><th>基金支付合计</th><td class="num">{fund}</td><th>医院减免合计</th><td class="num">{waived}</td></tr>
<tr><th>其中：免收项目</th><td class="num">{free}</td><th>费用减免</th><td class="num">{red}</td></tr>
<tr><th>个人自付</th><td class="num pay">{pay}</td><th>实际报销比例</th><td class="num">{ratio}</td></tr>
</table>
<h2>结算说明</h2>
<ol>
"#,
        fund = fmt2(a.fund_paid),
        waived = fmt2(a.hospital_waived),
        free = fmt2(a.free_items),
        red = fmt2(a.reduction),
        pay = fmt2(a.patient_payable),
        ratio = e(&fmt_percent(a.reimbursement_ratio)),
    );
    for line in &a.explanation {
        let _ = writeln!(h, "<li>{}</li>", e(line));
    }
    h.push_str("</ol>\n<p>患者签字：__________　　经办人：__________　　（医院盖章）</p>\n</body></html>\n");
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
