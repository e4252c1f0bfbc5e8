//! The HTML report: one self-contained file an administrator opens from
//! disk and prints. No scripts, fonts, images or style sheets are fetched;
//! the charts are inline SVG drawn with `plotters` (its SVG backend writes
//! text as SVG `<text>`, so the browser's own CJK fonts render the labels).

mod charts;
mod words;

use super::report::{PolicyReport, SimReport, Yuan};
use charts::{chart, css_colour, diff_chart, grouped_bars, iv_wan, month_lines, wan, Bar};
use rust_decimal::Decimal;
use std::fmt::Write as _;
pub use words::grouped;
use words::{
    esc, file_words, gap_interval_words, gap_words, headline, interval_text, policy_title,
    series_name, signed, source_words,
};

/// Render the report.
pub fn render(r: &SimReport) -> String {
    let mut h = String::with_capacity(1 << 16);
    write_head(&mut h);
    write_headline(&mut h, r);
    write_inputs(&mut h, r);
    write_conclusion_cards(&mut h, r);
    write_payers(&mut h, r);
    write_gaps(&mut h, r);
    write_layers(&mut h, r);
    write_months(&mut h, r);
    write_categories_and_levels(&mut h, r);
    write_out_of_pocket(&mut h, r);
    write_reimbursement(&mut h, r);
    write_changes(&mut h, r);
    write_refusals(&mut h, r);
    write_footer(&mut h, r);
    h
}

/// The document head: the page title and the print style sheet.
fn write_head(h: &mut String) {
    let title = "医疗救助资金测算报告";
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 24px auto; max-width: 980px; color: #222; line-height: 1.45; padding: 0 16px; }}
h1 {{ font-size: 24px; margin-bottom: 4px; }}
h2 {{ font-size: 19px; border-bottom: 2px solid #607d9f; padding-bottom: 3px; margin-top: 30px; }}
h3 {{ font-size: 16px; margin-bottom: 6px; }}
table {{ border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 13px; }}
th, td {{ border: 1px solid #c8ced6; padding: 3px 6px; }}
th {{ background: #eef2f6; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.pos {{ color: #b03a2e; }} .neg {{ color: #1e8449; }}
.meta {{ color: #555; font-size: 13px; }}
.key {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }}
.card {{ border: 1px solid #c8ced6; border-radius: 6px; padding: 8px 12px; min-width: 200px; }}
.card b {{ font-size: 18px; }}
.chart svg {{ max-width: 100%; height: auto; }}
.swatch {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
.note {{ font-size: 12px; color: #555; }}
.headline {{ font-size: 19px; font-weight: bold; border: 2px solid #607d9f; border-radius: 6px; padding: 10px 14px; margin: 12px 0; background: #f4f7fa; }}
.headline p {{ margin: 4px 0; }}
@media print {{ body {{ margin: 0; max-width: none; }} h2 {{ break-after: avoid; }} table, .chart, .card {{ break-inside: avoid; }} a {{ color: inherit; text-decoration: none; }} }}
</style></head><body>
<h1>{title}</h1>
"#
    );
}

/// The scenarios' one-sentence conclusions, boxed at the top.
fn write_headline(h: &mut String, r: &SimReport) {
    let lines = headline(r);
    if !lines.is_empty() {
        h.push_str("<div class=\"headline\">");
        for l in &lines {
            let _ = write!(h, "<p>{l}</p>");
        }
        h.push_str("</div>\n");
    }
}

/// What was replayed: the claims, the growth, the source and the policies
/// with their colours.
fn write_inputs(h: &mut String, r: &SimReport) {
    let inp = &r.input;
    let _ = writeln!(
        h,
        "<p class=\"meta\">理赔 {} 笔（读入 {}，增量复制 {}，删减 {}），涉及 {} 人；就诊量增长 {}，价格增长 {}。{}</p>",
        inp.claims_simulated,
        inp.claims_read,
        inp.duplicated,
        inp.dropped,
        inp.persons,
        esc(&inp.volume_growth),
        esc(&inp.price_growth),
        if r.settings.bootstrap > 0 {
            format!("区间为按人重抽样 {} 次（随机种子 {}）得到的 90% 区间。", r.settings.bootstrap, r.settings.seed)
        } else {
            "未计算区间。".to_string()
        }
    );
    if let Some(src) = &inp.source {
        let _ = writeln!(
            h,
            "<p class=\"meta\">数据来源：{}</p>",
            esc(&source_words(src))
        );
    }
    h.push_str("<p class=\"meta\">");
    for (i, p) in r.policies.iter().enumerate() {
        let _ = write!(
            h,
            "<span class=\"swatch\" style=\"background:{}\"></span>{}{} <code>{}</code>（{}，结算 {} 笔，拒绝 {} 笔）<br>",
            css_colour(i),
            esc(&series_name(i, p)),
            esc(&policy_title(p).replacen("基准：", "：", 1).replacen("方案：", "：", 1)),
            esc(&p.id),
            esc(&file_words(&p.file)),
            p.settled,
            p.refused
        );
    }
    h.push_str("</p>\n");
}

/// Section 一: one card per policy with its fund, patient and budget
/// figures.
fn write_conclusion_cards(h: &mut String, r: &SimReport) {
    h.push_str("<h2>一、结论</h2>\n<div class=\"key\">");
    for (i, p) in r.policies.iter().enumerate() {
        let _ = write!(
            h,
            "<div class=\"card\" style=\"border-left:6px solid {}\">{}<br>基金支付 <b>{}</b> 元<br>个人自付 {} 元<br>实际报销比例 {}",
            css_colour(i),
            esc(&policy_title(p)),
            grouped(p.summary.fund_paid),
            grouped(p.summary.patient_payable),
            p.summary.reimbursement_ratio
        );
        if let Some(d) = &p.summary.vs_baseline {
            let _ = write!(
                h,
                "<br>基金较基准 <span class=\"{}\">{}</span> 元",
                cls(d.fund_paid),
                signed(d.fund_paid)
            );
        }
        for g in &p.gaps {
            let _ = write!(
                h,
                "<br>{} 较预算<span class=\"{}\">{}</span>",
                esc(&g.target),
                cls(g.gap),
                gap_words(g.gap, false)
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</div>\n");
}

/// Section 二: every payer's spending, as a chart and a table.
fn write_payers(h: &mut String, r: &SimReport) {
    h.push_str("<h2>二、各支付方</h2>\n");
    write_payers_chart(h, r);
    write_payers_table(h, r);
}

/// Bars of each payer's spending (plus waivers and patients) per policy.
fn write_payers_chart(h: &mut String, r: &SimReport) {
    let base = &r.policies[0];
    let mut groups: Vec<String> = base.payers.iter().map(|p| p.label.to_string()).collect();
    groups.push("医院减免".into());
    groups.push("个人自付".into());
    let series: Vec<(String, Vec<Bar>)> = r
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut bars: Vec<Bar> = p
                .payers
                .iter()
                .map(|y| Bar {
                    value: wan(y.paid.0),
                    interval: iv_wan(&y.interval),
                })
                .collect();
            bars.push(Bar {
                value: wan(p.summary.hospital_waived.0),
                interval: iv_wan(&p.summary.intervals.hospital_waived),
            });
            bars.push(Bar {
                value: wan(p.summary.patient_payable.0),
                interval: iv_wan(&p.summary.intervals.patient_payable),
            });
            (series_name(i, p), bars)
        })
        .collect();
    chart(h, || {
        grouped_bars(
            "各支付方支出（万元，竖线为 90% 区间）",
            "万元",
            &groups,
            &series,
            &[],
        )
    });
}

/// The payers' table, with the waivers and the patients' share as rows.
fn write_payers_table(h: &mut String, r: &SimReport) {
    h.push_str("<table><tr><th>方案</th><th>支付方</th><th>支付（元）</th><th>90% 区间</th><th>笔数</th><th>人数</th><th>较基准</th><th>较基准 90% 区间</th></tr>\n");
    for p in &r.policies {
        for y in &p.payers {
            let d = y.vs_baseline.as_ref();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&p.id),
                y.label,
                grouped(y.paid),
                interval_text(&y.interval),
                y.claims,
                y.persons,
                d.map(|d| diff_span(d.paid)).unwrap_or_default(),
                d.map(|d| interval_text(&d.interval)).unwrap_or_default()
            );
        }
        let s = &p.summary;
        let d = s.vs_baseline.as_ref();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>医院减免（七免一减）</td><td class=n>{}</td><td class=n>{}</td><td></td><td></td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&p.id),
            grouped(s.hospital_waived),
            interval_text(&s.intervals.hospital_waived),
            d.map(|d| diff_span(d.hospital_waived)).unwrap_or_default(),
            d.map(|d| interval_text(&d.intervals.hospital_waived)).unwrap_or_default()
        );
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>个人自付</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&p.id),
            grouped(s.patient_payable),
            interval_text(&s.intervals.patient_payable),
            s.claims,
            s.persons,
            d.map(|d| diff_span(d.patient_payable)).unwrap_or_default(),
            d.map(|d| interval_text(&d.intervals.patient_payable)).unwrap_or_default()
        );
    }
    h.push_str("</table>\n");
}

/// Section 三: spending against each budget, as a chart and a table.
fn write_gaps(h: &mut String, r: &SimReport) {
    h.push_str("<h2>三、资金缺口或结余（支出 − 预算）</h2>\n");
    if r.budgets.is_empty() {
        h.push_str("<p class=\"note\">未设预算（<code>--budget aid=8000000</code>）。</p>\n");
    } else {
        write_gaps_chart(h, r);
        write_gaps_table(h, r);
    }
}

/// Bars of spending per budget target, the budgets as reference lines.
fn write_gaps_chart(h: &mut String, r: &SimReport) {
    let groups: Vec<String> = r.budgets.iter().map(|b| b.target.clone()).collect();
    let series: Vec<(String, Vec<Bar>)> = r
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                series_name(i, p),
                p.gaps
                    .iter()
                    .map(|g| Bar {
                        value: wan(g.paid.0),
                        interval: iv_wan(&g.paid_interval),
                    })
                    .collect(),
            )
        })
        .collect();
    let lines: Vec<(usize, f64, String)> = r
        .budgets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                i,
                wan(b.amount.0),
                if i == 0 {
                    "预算".to_string()
                } else {
                    String::new()
                },
            )
        })
        .collect();
    chart(h, || {
        grouped_bars(
            "支出与预算（万元，红线为预算，竖线为 90% 区间）",
            "万元",
            &groups,
            &series,
            &lines,
        )
    });
}

/// The gaps' table: budget, spending, the gap and its interval.
fn write_gaps_table(h: &mut String, r: &SimReport) {
    h.push_str("<table><tr><th>方案</th><th>预算对象</th><th>预算（元）</th><th>支出（元）</th><th>缺口（+）或结余（−）（元）</th><th>90% 区间</th><th>较基准</th></tr>\n");
    for p in &r.policies {
        for g in &p.gaps {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n><span class=\"{}\">{}</span></td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&p.id),
                esc(&g.target),
                grouped(g.budget),
                grouped(g.paid),
                cls(g.gap),
                gap_words(g.gap, false),
                gap_interval_words(&g.gap_interval),
                g.vs_baseline.as_ref().map(|d| diff_span(d.gap)).unwrap_or_default()
            );
        }
    }
    h.push_str("</table>\n");
}

/// Section 四: every layer of every policy.
fn write_layers(h: &mut String, r: &SimReport) {
    h.push_str("<h2>四、各支付层</h2>\n<table><tr><th>方案</th><th>支付层</th><th>支付方</th><th>支付（元）</th><th>90% 区间</th><th>笔数</th><th>人数</th><th>较基准</th></tr>\n");
    for p in &r.policies {
        for l in &p.layers {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&p.id),
                esc(if l.name.is_empty() { &l.id } else { &l.name }),
                crate::recon::report::payer_label_or(l.payer),
                grouped(l.paid),
                interval_text(&l.interval),
                l.claims,
                l.persons,
                match &l.vs_baseline {
                    Some(d) => diff_span(d.paid),
                    None if p.role == "scenario" => "新增".into(),
                    None => String::new(),
                }
            );
        }
    }
    h.push_str("</table>\n");
}

/// Section 五: fund (and aid) spending per month, its change and table.
fn write_months(h: &mut String, r: &SimReport) {
    let base = &r.policies[0];
    h.push_str("<h2>五、按月</h2>\n");
    let months: Vec<String> = base.by_month.iter().map(|m| m.key.clone()).collect();
    let series: Vec<(String, Vec<f64>)> = r
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                series_name(i, p),
                p.by_month.iter().map(|m| wan(m.fund_paid.0)).collect(),
            )
        })
        .collect();
    chart(h, || month_lines("每月基金支付（万元）", &months, &series));
    if base
        .by_month
        .iter()
        .any(|m| m.payers.iter().any(|c| c.id == "aid"))
    {
        let series: Vec<(String, Vec<f64>)> = r
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let aid = |m: &super::report::BreakdownRow| {
                    m.payers
                        .iter()
                        .find(|c| c.id == "aid")
                        .map_or(0.0, |c| wan(c.paid.0))
                };
                (series_name(i, p), p.by_month.iter().map(aid).collect())
            })
            .collect();
        chart(h, || {
            month_lines("每月医疗救助支付（万元）", &months, &series)
        });
    }
    diff_chart(h, r, |p| &p.by_month, "按月");
    breakdown_table(h, r, |p| &p.by_month, "月份");
}

/// Sections 六 and 七: the breakdowns by category and by hospital level.
fn write_categories_and_levels(h: &mut String, r: &SimReport) {
    h.push_str("<h2>六、按救助对象类别</h2>\n");
    diff_chart(h, r, |p| &p.by_category, "按救助对象类别");
    breakdown_table(h, r, |p| &p.by_category, "类别");
    h.push_str("<h2>七、按医院级别</h2>\n");
    diff_chart(h, r, |p| &p.by_level, "按医院级别");
    breakdown_table(h, r, |p| &p.by_level, "级别");
}

/// Section 八: out-of-pocket spending per person and year.
fn write_out_of_pocket(h: &mut String, r: &SimReport) {
    let base = &r.policies[0];
    h.push_str("<h2>八、个人自付（每人每年）</h2>\n");
    let bins: Vec<String> = base
        .out_of_pocket
        .histogram
        .iter()
        .map(|b| match b.to {
            Some(t) => format!("{}–{}", short(b.from), short(t)),
            None => format!("≥{}", short(b.from)),
        })
        .collect();
    let series: Vec<(String, Vec<Bar>)> = r
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                series_name(i, p),
                p.out_of_pocket
                    .histogram
                    .iter()
                    .map(|b| Bar {
                        value: b.count as f64,
                        interval: None,
                    })
                    .collect(),
            )
        })
        .collect();
    chart(h, || {
        grouped_bars(
            "个人自付分布（人·年数，按自付金额分组，元）",
            "人·年",
            &bins,
            &series,
            &[],
        )
    });
    h.push_str("<table><tr><th>方案</th><th>人·年</th><th>合计（元）</th><th>均值</th><th>中位数</th><th>P90</th><th>最高</th><th>灾难性支出</th></tr>\n");
    for p in &r.policies {
        let o = &p.out_of_pocket;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{} 人·年（&gt; {} 元，占 {}）{}</td></tr>",
            esc(&p.id),
            o.person_years,
            grouped(o.total),
            grouped(o.mean),
            grouped(o.median),
            grouped(o.p90),
            grouped(o.max),
            o.catastrophic,
            grouped(o.catastrophic_threshold),
            o.catastrophic_share,
            o.vs_baseline.as_ref().map(|d| format!("；较基准 {:+}", d.catastrophic)).unwrap_or_default()
        );
    }
    h.push_str("</table>\n");
}

/// Section 九: reimbursement ratios per person and year.
fn write_reimbursement(h: &mut String, r: &SimReport) {
    let base = &r.policies[0];
    h.push_str("<h2>九、实际报销比例（每人每年，含医院减免）</h2>\n<table><tr><th>方案</th><th>总体</th><th>均值</th><th>P10</th><th>中位数</th><th>P90</th>");
    for b in &base.reimbursement.histogram {
        let _ = write!(
            h,
            "<th>{}–{}</th>",
            pct(b.from.0),
            b.to.map(|t| pct(t.0)).unwrap_or_default()
        );
    }
    h.push_str("</tr>\n");
    for p in &r.policies {
        let m = &p.reimbursement;
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>",
            esc(&p.id),
            pct(m.overall.0),
            pct(m.mean.0),
            pct(m.p10.0),
            pct(m.median.0),
            pct(m.p90.0)
        );
        for b in &m.histogram {
            let _ = write!(h, "<td class=n>{}</td>", b.count);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// Section 十: who pays less and who pays more under each scenario.
fn write_changes(h: &mut String, r: &SimReport) {
    h.push_str("<h2>十、谁受益，谁受损（个人自付变化）</h2>\n");
    for p in r.policies.iter().skip(1) {
        let Some(c) = &p.changes else { continue };
        let _ = writeln!(
            h,
            "<h3>{}</h3><p>{} 人自付减少，共 {} 元；{} 人自付增加，共 {} 元；{} 人不变；合计变化 {} 元。</p>",
            esc(&policy_title(p)),
            c.gainers.count,
            grouped(c.gainers.amount),
            c.losers.count,
            grouped(c.losers.amount),
            c.unchanged,
            diff_span(c.net_change)
        );
        for (title, list) in [
            ("自付减少最多", &c.top_gainers),
            ("自付增加最多", &c.top_losers),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(h, "<table><tr><th colspan=4>{title}</th></tr><tr><th>身份证号</th><th>基准（元）</th><th>方案（元）</th><th>变化（元）</th></tr>");
            for x in list {
                let _ = writeln!(
                    h,
                    "<tr><td><code>{}</code></td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                    esc(&x.person_id),
                    grouped(x.baseline),
                    grouped(x.scenario),
                    diff_span(x.change)
                );
            }
            h.push_str("</table>\n");
        }
    }
}

/// Appendix: the claims a policy refused, when any were.
fn write_refusals(h: &mut String, r: &SimReport) {
    if r.policies.iter().any(|p| p.refused > 0) {
        h.push_str("<h2>附：被拒绝的理赔</h2>\n<table><tr><th>方案</th><th>行</th><th>理赔号</th><th>字段</th><th>原因</th></tr>\n");
        for p in &r.policies {
            for f in &p.refusals {
                let _ = writeln!(
                    h,
                    "<tr><td>{}（共 {}）</td><td class=n>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&p.id),
                    p.refused,
                    f.line,
                    esc(f.claim_id.as_deref().unwrap_or("")),
                    esc(&f.path),
                    esc(&f.message)
                );
            }
        }
        h.push_str("</table>\n");
    }
}

/// How the report was made and the policies' hashes.
fn write_footer(h: &mut String, r: &SimReport) {
    h.push_str("<p class=\"note\">由 medaid simulate 生成：每人理赔按出院日期依次结算，年度累计从零开始，计算与一站式结算使用同一引擎。金额为元；图中金额为万元。政策文件摘要（SHA-256）：");
    for p in &r.policies {
        let _ = write!(h, "<br><code>{}</code> {}", esc(&p.id), esc(&p.hash));
    }
    h.push_str("</p>\n</body></html>\n");
}

fn cls(y: Yuan) -> &'static str {
    if y.0 > Decimal::ZERO {
        "pos"
    } else if y.0 < Decimal::ZERO {
        "neg"
    } else {
        ""
    }
}

fn diff_span(y: Yuan) -> String {
    format!("<span class=\"{}\">{}</span>", cls(y), signed(y))
}

fn pct(d: Decimal) -> String {
    format!("{}%", (d * Decimal::ONE_HUNDRED).round_dp(1).normalize())
}

/// Short amount for bin labels: 500, 1千, 2万.
fn short(y: Yuan) -> String {
    let v = y.0;
    if v >= Decimal::from(10_000) {
        format!("{}万", (v / Decimal::from(10_000)).round_dp(1).normalize())
    } else if v >= Decimal::from(1_000) {
        format!("{}千", (v / Decimal::from(1_000)).round_dp(1).normalize())
    } else {
        v.normalize().to_string()
    }
}

fn breakdown_table(
    h: &mut String,
    r: &SimReport,
    pick: fn(&PolicyReport) -> &Vec<super::report::BreakdownRow>,
    what: &str,
) {
    let _ = writeln!(
        h,
        "<table><tr><th>{what}</th><th>方案</th><th>笔数</th><th>人数</th><th>总费用</th><th>基金支付</th><th>其中救助</th><th>个人自付</th><th>基金较基准</th><th>自付较基准</th></tr>"
    );
    let rows = pick(&r.policies[0]);
    for (ri, row) in rows.iter().enumerate() {
        for p in &r.policies {
            let Some(x) = pick(p).get(ri) else { continue };
            let aid = x
                .payers
                .iter()
                .find(|c| c.id == "aid")
                .map(|c| grouped(c.paid))
                .unwrap_or_default();
            let d = x.vs_baseline.as_ref();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&row.label),
                esc(&p.id),
                x.claims,
                x.persons,
                grouped(x.total),
                grouped(x.fund_paid),
                aid,
                grouped(x.patient_payable),
                d.map(|d| diff_span(d.fund_paid)).unwrap_or_default(),
                d.map(|d| diff_span(d.patient_payable)).unwrap_or_default()
            );
        }
    }
    h.push_str("</table>\n");
}
