//! The report's words: escaping, amounts as printed, gaps and sources in
//! sentences, the names of policies and series.

use crate::sim::report::{Interval, PolicyReport, SimReport, Yuan};
use rust_decimal::Decimal;

/// Escape text for HTML.
pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `1234567.80` → `1,234,567.80`.
pub fn grouped(y: Yuan) -> String {
    let s = y.to_string();
    let (sign, s) = match s.strip_prefix('-') {
        Some(r) => ("-", r.to_string()),
        None => ("", s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}.{frac}")
}

pub(super) fn signed(y: Yuan) -> String {
    if y.0 > Decimal::ZERO {
        format!("+{}", grouped(y))
    } else {
        grouped(y)
    }
}

pub(super) fn interval_text(i: &Interval) -> String {
    match i {
        Some([a, b]) => format!("{} – {}", grouped(*a), grouped(*b)),
        None => "—".into(),
    }
}

/// Yuan as 万元 with two decimals (exact decimal rounding, half away
/// from zero).
pub(super) fn wan_text(y: Yuan) -> String {
    let w = (y.0 / Decimal::from(10_000))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let mut w = w;
    w.rescale(2);
    grouped(Yuan(w))
}

/// A gap in words: 缺口 for spending over the budget, 结余 under it.
pub(super) fn gap_words(y: Yuan, unit_wan: bool) -> String {
    let abs = Yuan(y.0.abs());
    let amount = if unit_wan {
        format!("{} 万元", wan_text(abs))
    } else {
        format!("{} 元", grouped(abs))
    };
    if y.0 > Decimal::ZERO {
        format!("缺口 {amount}")
    } else if y.0 < Decimal::ZERO {
        format!("结余 {amount}")
    } else {
        "收支相抵".to_string()
    }
}

/// A gap's interval in words: both ends a gap, both a surplus, or from one
/// to the other.
pub(super) fn gap_interval_words(i: &Interval) -> String {
    match i {
        Some([a, b]) if a.0 >= Decimal::ZERO => {
            format!("缺口 {} – {}", grouped(*a), grouped(*b))
        }
        Some([a, b]) if b.0 <= Decimal::ZERO => {
            format!("结余 {} – {}", grouped(Yuan(-b.0)), grouped(Yuan(-a.0)))
        }
        Some([a, b]) => format!("结余 {} 至缺口 {}", grouped(Yuan(-a.0)), grouped(*b)),
        None => "—".into(),
    }
}

/// Where a policy came from, in words (the service names them by the
/// request's fields).
pub(super) fn file_words(file: &str) -> String {
    if let Some(id) = file.strip_prefix("loaded:") {
        return format!("服务已加载的政策 {id}");
    }
    if let Some(i) = file
        .strip_prefix("scenarios[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse::<usize>().ok())
    {
        return format!("请求提交的第 {} 个方案", i + 1);
    }
    if file == "baseline" {
        return "请求提交的基准政策".into();
    }
    file.to_string()
}

/// The data source in words.
pub(super) fn source_words(src: &str) -> String {
    // "stored settlements discharged FROM to TO (backend)"
    if let Some(rest) = src.strip_prefix("stored settlements discharged ") {
        let range = rest.split(" (").next().unwrap_or(rest);
        if let Some((from, to)) = range.split_once(" to ") {
            return format!("本系统已入库的有效结算（出院日期 {from} 至 {to}）");
        }
    }
    src.to_string()
}

/// What the headline is about: the aid payer when the policies have one,
/// else all funds.
pub(super) fn headline_target(
    p: &PolicyReport,
) -> (&'static str, Option<&crate::sim::report::PayerLine>) {
    match p.payers.iter().find(|y| y.payer == "aid") {
        Some(y) => ("医疗救助支出", Some(y)),
        None => ("基金支出", None),
    }
}

/// The one-sentence conclusion of each scenario: what it changes in aid
/// spending (with its 90 % interval) and where that leaves the budget.
pub(super) fn headline(r: &SimReport) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in r.policies.iter().enumerate().skip(1) {
        let (what, payer) = headline_target(p);
        let (diff, iv) = match payer {
            Some(y) => match &y.vs_baseline {
                Some(d) => (d.paid, d.interval),
                None => continue,
            },
            None => match &p.summary.vs_baseline {
                Some(d) => (d.fund_paid, d.intervals.fund_paid),
                None => continue,
            },
        };
        let mut s = if r.policies.len() > 2 {
            format!("方案{i}（{}）使{what}", esc(&policy_name(p)))
        } else {
            format!("方案使{what}")
        };
        s.push_str(&change_words(diff, iv));
        let key = if payer.is_some() { "aid" } else { "fund" };
        s.push_str(&budget_words(p, key));
        s.push('。');
        out.push(s);
    }
    out
}

/// A change in words (增加, 减少 or 不变) with its interval, in 万元.
fn change_words(diff: Yuan, iv: Interval) -> String {
    let verb = if diff.0 > Decimal::ZERO {
        "增加"
    } else if diff.0 < Decimal::ZERO {
        "减少"
    } else {
        "不变"
    };
    if diff.0.is_zero() {
        return "不变".to_string();
    }
    let mut s = format!("{verb} {} 万元", wan_text(Yuan(diff.0.abs())));
    if let Some([a, b]) = iv {
        // the interval of the change, in the sentence's direction
        s.push_str(&interval_wan_words(a, b, diff.0 < Decimal::ZERO));
    }
    s
}

/// An interval `[a, b]` in 万元 as a sentence shows it: for an amount
/// spoken of as a decrease or a surplus (`negated`), from the smaller
/// magnitude to the larger.
fn interval_wan_words(a: Yuan, b: Yuan, negated: bool) -> String {
    let (lo, hi) = if negated {
        (Yuan(-b.0), Yuan(-a.0))
    } else {
        (a, b)
    };
    format!("（90% 区间 {}–{} 万元）", wan_text(lo), wan_text(hi))
}

/// Where the scenario leaves the budget of `key` (else its first budget),
/// with the gap's interval.
fn budget_words(p: &PolicyReport, key: &str) -> String {
    let Some(g) = p
        .gaps
        .iter()
        .find(|g| g.key == key)
        .or_else(|| p.gaps.first())
    else {
        return "（未设预算）".to_string();
    };
    let mut s = format!("，较预算{}", gap_words(g.gap, true));
    if let Some([a, b]) = g.gap_interval {
        let z = Decimal::ZERO;
        if (a.0 >= z && b.0 >= z) || (a.0 <= z && b.0 <= z) {
            s.push_str(&interval_wan_words(a, b, g.gap.0 < Decimal::ZERO));
        } else {
            s.push_str(&format!(
                "（90% 区间从缺口 {} 万元到结余 {} 万元）",
                wan_text(Yuan(b.0.abs())),
                wan_text(Yuan(a.0.abs()))
            ));
        }
    }
    if g.key != key {
        s.push_str(&format!("（预算对象：{}）", esc(&g.target)));
    }
    s
}

pub(super) fn policy_name(p: &PolicyReport) -> String {
    if p.name.is_empty() {
        p.id.clone()
    } else {
        p.name.clone()
    }
}

pub(super) fn policy_title(p: &PolicyReport) -> String {
    let role = if p.role == "baseline" {
        "基准"
    } else {
        "方案"
    };
    format!(
        "{role}：{}",
        if p.name.is_empty() { &p.id } else { &p.name }
    )
}

pub(super) fn series_name(i: usize, p: &PolicyReport) -> String {
    let _ = p;
    if i == 0 {
        "基准".to_string()
    } else {
        format!("方案{i}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(Yuan(Decimal::new(123456780, 2))), "1,234,567.80");
        assert_eq!(grouped(Yuan(Decimal::new(-100000, 2))), "-1,000.00");
        assert_eq!(grouped(Yuan(Decimal::new(5, 2))), "0.05");
        assert_eq!(esc("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
