//! The HTML report: one self-contained file an administrator opens from
//! disk and prints. No scripts, fonts, images or style sheets are fetched;
//! the charts are inline SVG drawn with `plotters` (its SVG backend writes
//! text as SVG `<text>`, so the browser's own CJK fonts render the labels).

use super::report::{Interval, PolicyReport, SimReport, Yuan};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::fmt::Write as _;

/// Colours of the policies: baseline first.
const COLOURS: [RGBColor; 5] = [
    RGBColor(96, 125, 159),
    RGBColor(230, 126, 34),
    RGBColor(39, 174, 96),
    RGBColor(142, 68, 173),
    RGBColor(192, 57, 43),
];

/// Charts are drawn at most this wide (px). Their text is asked at 16
/// (plotters writes 0.8 of it: 12.9 px; 20 for titles: 16.1 px), so on an
/// A4 page (about 680 px of text width) it still prints at 12 px or more.
const CHART_MAX_WIDTH: u32 = 700;

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn css_colour(i: usize) -> String {
    let c = colour(i);
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

/// Escape text for HTML.
fn esc(s: &str) -> String {
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

fn signed(y: Yuan) -> String {
    if y.0 > Decimal::ZERO {
        format!("+{}", grouped(y))
    } else {
        grouped(y)
    }
}

fn interval_text(i: &Interval) -> String {
    match i {
        Some([a, b]) => format!("{} – {}", grouped(*a), grouped(*b)),
        None => "—".into(),
    }
}

/// Yuan → 万元 as a float, for chart geometry only.
fn wan(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0) / 10_000.0
}

fn axis_max(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.fold(0.0f64, f64::max);
    if m <= 0.0 {
        1.0
    } else {
        m * 1.12
    }
}

/// One bar of a grouped bar chart: value and optional interval.
struct Bar {
    value: f64,
    interval: Option<(f64, f64)>,
}

/// A grouped bar chart (groups × policies) as SVG text. `hline` draws a
/// horizontal reference (a budget) across each group given.
fn grouped_bars(
    title: &str,
    y_desc: &str,
    groups: &[String],
    series: &[(String, Vec<Bar>)],
    hlines: &[(usize, f64, String)],
) -> String {
    let k = series.len().max(1) as i32;
    let per = k + 1;
    let slots = groups.len() as i32 * per;
    let ymax = axis_max(
        series
            .iter()
            .flat_map(|(_, b)| {
                b.iter()
                    .map(|b| b.interval.map_or(b.value, |i| i.1.max(b.value)))
            })
            .chain(hlines.iter().map(|h| h.1)),
    );
    let mut svg = String::new();
    let width = (160 + groups.len() as u32 * (40 * k as u32 + 40)).clamp(520, CHART_MAX_WIDTH);
    {
        let root = SVGBackend::with_string(&mut svg, (width, 360)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d((0..(slots - 1).max(1)).into_segmented(), 0f64..ymax);
        let Ok(mut chart) = chart else {
            return String::new();
        };
        // Group labels are drawn below as text centred on each group; the
        // axis's own labels would sit on one bar of the group.
        let _ = chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_labels(slots.max(1) as usize)
            .x_label_formatter(&|_| String::new())
            .y_desc(y_desc)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 16))
            .draw();
        for (si, (name, bars)) in series.iter().enumerate() {
            let c = colour(si);
            let rects: Vec<_> = bars
                .iter()
                .enumerate()
                .map(|(g, b)| {
                    let s = g as i32 * per + si as i32;
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(s), 0.0),
                            (SegmentValue::Exact(s + 1), b.value.max(0.0)),
                        ],
                        c.filled(),
                    );
                    r.set_margin(0, 0, 2, 2);
                    r
                })
                .collect();
            if let Ok(a) = chart.draw_series(rects) {
                a.label(name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                });
            }
            let whiskers: Vec<_> = bars
                .iter()
                .enumerate()
                .filter_map(|(g, b)| {
                    let s = g as i32 * per + si as i32;
                    b.interval.map(|(lo, hi)| {
                        PathElement::new(
                            vec![
                                (SegmentValue::CenterOf(s), lo),
                                (SegmentValue::CenterOf(s), hi),
                            ],
                            BLACK.stroke_width(2),
                        )
                    })
                })
                .collect();
            let _ = chart.draw_series(whiskers);
        }
        let label_style =
            TextStyle::from(("sans-serif", 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        let centre = |g: i32| {
            if k % 2 == 0 {
                SegmentValue::Exact(g * per + k / 2)
            } else {
                SegmentValue::CenterOf(g * per + (k - 1) / 2)
            }
        };
        let _ = chart.draw_series(groups.iter().enumerate().map(|(g, name)| {
            EmptyElement::at((centre(g as i32), 0.0))
                + Text::new(name.clone(), (0, 8), label_style.clone())
        }));
        for (g, y, label) in hlines {
            let s0 = *g as i32 * per;
            let line = PathElement::new(
                vec![
                    (SegmentValue::Exact(s0), *y),
                    (SegmentValue::Exact(s0 + k), *y),
                ],
                RED.stroke_width(2),
            );
            let c = RED;
            if let Ok(a) = chart.draw_series(std::iter::once(line)) {
                if !label.is_empty() {
                    a.label(label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 12, y)], c.stroke_width(2))
                    });
                }
            }
        }
        let _ = chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .position(SeriesLabelPosition::UpperRight)
            .draw();
        let _ = root.present();
    }
    svg
}

/// Lines over months.
fn month_lines(title: &str, months: &[String], series: &[(String, Vec<f64>)]) -> String {
    let n = months.len().max(1) as i32;
    let ymax = axis_max(series.iter().flat_map(|(_, v)| v.iter().copied()));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_MAX_WIDTH, 340)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), 0f64..ymax)
        else {
            return String::new();
        };
        let labels = months.to_vec();
        let fmt = move |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let _ = chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_labels(n as usize)
            .x_label_formatter(&fmt)
            .y_desc("万元")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 16))
            .draw();
        for (si, (name, values)) in series.iter().enumerate() {
            let c = colour(si);
            let pts: Vec<(SegmentValue<i32>, f64)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (SegmentValue::CenterOf(i as i32), *v))
                .collect();
            if let Ok(a) = chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2))) {
                a.label(name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                });
            }
            let _ = chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())));
        }
        let _ = chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .position(SeriesLabelPosition::LowerRight)
            .draw();
        let _ = root.present();
    }
    svg
}

/// A payer's name as printed.
fn payer_name(payer: &str) -> &str {
    match payer {
        "insurance" => "医疗保险",
        "aid" => "医疗救助",
        "government" => "政府兜底",
        "charity" => "慈善救助",
        "hospital" => "医院减免",
        "fund" => "基金合计",
        other => other,
    }
}

/// Yuan as 万元 with two decimals (exact decimal rounding, half away
/// from zero).
fn wan_text(y: Yuan) -> String {
    let w = (y.0 / Decimal::from(10_000))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let mut w = w;
    w.rescale(2);
    grouped(Yuan(w))
}

/// A gap in words: 缺口 for spending over the budget, 结余 under it.
fn gap_words(y: Yuan, unit_wan: bool) -> String {
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
fn gap_interval_words(i: &Interval) -> String {
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
fn file_words(file: &str) -> String {
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
fn source_words(src: &str) -> String {
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
fn headline_target(p: &PolicyReport) -> (&'static str, Option<&super::report::PayerLine>) {
    match p.payers.iter().find(|y| y.payer == "aid") {
        Some(y) => ("医疗救助支出", Some(y)),
        None => ("基金支出", None),
    }
}

/// The one-sentence conclusion of each scenario: what it changes in aid
/// spending (with its 90 % interval) and where that leaves the budget.
fn headline(r: &SimReport) -> Vec<String> {
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
        let verb = if diff.0 > Decimal::ZERO {
            "增加"
        } else if diff.0 < Decimal::ZERO {
            "减少"
        } else {
            "不变"
        };
        let mut s = if r.policies.len() > 2 {
            format!("方案{i}（{}）使{what}", esc(&policy_name(p)))
        } else {
            format!("方案使{what}")
        };
        if diff.0.is_zero() {
            s.push_str("不变");
        } else {
            s.push_str(&format!("{verb} {} 万元", wan_text(Yuan(diff.0.abs()))));
            if let Some([a, b]) = iv {
                // the interval of the change, in the sentence's direction
                let (lo, hi) = if diff.0 < Decimal::ZERO {
                    (Yuan(-b.0), Yuan(-a.0))
                } else {
                    (a, b)
                };
                s.push_str(&format!(
                    "（90% 区间 {}–{} 万元）",
                    wan_text(lo),
                    wan_text(hi)
                ));
            }
        }
        let key = if payer.is_some() { "aid" } else { "fund" };
        match p
            .gaps
            .iter()
            .find(|g| g.key == key)
            .or_else(|| p.gaps.first())
        {
            Some(g) => {
                s.push_str(&format!("，较预算{}", gap_words(g.gap, true)));
                if let Some([a, b]) = g.gap_interval {
                    let z = Decimal::ZERO;
                    if (a.0 >= z && b.0 >= z) || (a.0 <= z && b.0 <= z) {
                        let (lo, hi) = if g.gap.0 < Decimal::ZERO {
                            (Yuan(-b.0), Yuan(-a.0))
                        } else {
                            (a, b)
                        };
                        s.push_str(&format!(
                            "（90% 区间 {}–{} 万元）",
                            wan_text(lo),
                            wan_text(hi)
                        ));
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
            }
            None => s.push_str("（未设预算）"),
        }
        s.push('。');
        out.push(s);
    }
    out
}

fn policy_name(p: &PolicyReport) -> String {
    if p.name.is_empty() {
        p.id.clone()
    } else {
        p.name.clone()
    }
}

/// Bars of scenario minus baseline (万元), negative values below the axis.
fn diff_bars(title: &str, groups: &[String], series: &[(String, Vec<f64>)]) -> String {
    let k = series.len().max(1) as i32;
    let per = k + 1;
    let slots = groups.len() as i32 * per;
    let lo = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::min);
    let hi = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max);
    let span = (hi - lo).max(0.01);
    let (ymin, ymax) = (lo - span * 0.08, hi + span * 0.12);
    let mut svg = String::new();
    let width = (160 + groups.len() as u32 * (40 * k as u32 + 40)).clamp(520, CHART_MAX_WIDTH);
    {
        let root = SVGBackend::with_string(&mut svg, (width, 340)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0..(slots - 1).max(1)).into_segmented(), ymin..ymax)
        else {
            return String::new();
        };
        let _ = chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_labels(slots.max(1) as usize)
            .x_label_formatter(&|_| String::new())
            .y_desc("万元")
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style(("sans-serif", 16))
            .draw();
        let _ = chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::Exact(0), 0.0),
                (SegmentValue::Exact((slots - 1).max(1)), 0.0),
            ],
            BLACK.stroke_width(1),
        )));
        for (si, (name, values)) in series.iter().enumerate() {
            // scenario i is policy i + 1: its colour
            let c = colour(si + 1);
            let rects: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(g, v)| {
                    let s = g as i32 * per + si as i32;
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(s), 0.0),
                            (SegmentValue::Exact(s + 1), *v),
                        ],
                        c.filled(),
                    );
                    r.set_margin(0, 0, 2, 2);
                    r
                })
                .collect();
            if let Ok(a) = chart.draw_series(rects) {
                a.label(name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                });
            }
        }
        let label_style =
            TextStyle::from(("sans-serif", 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        let centre = |g: i32| {
            if k % 2 == 0 {
                SegmentValue::Exact(g * per + k / 2)
            } else {
                SegmentValue::CenterOf(g * per + (k - 1) / 2)
            }
        };
        let _ = chart.draw_series(groups.iter().enumerate().map(|(g, name)| {
            EmptyElement::at((centre(g as i32), ymin))
                + Text::new(name.clone(), (0, 8), label_style.clone())
        }));
        if series.len() > 1 {
            let _ = chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 16))
                .position(SeriesLabelPosition::UpperRight)
                .draw();
        }
        let _ = root.present();
    }
    svg
}

/// The same as horizontal bars, for long group names (category
/// combinations): one row per group, names on the left.
fn diff_hbars(title: &str, groups: &[String], series: &[(String, Vec<f64>)]) -> String {
    let k = series.len().max(1) as i32;
    let per = k + 1;
    let slots = groups.len() as i32 * per;
    let lo = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::min);
    let hi = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max);
    let span = (hi - lo).max(0.01);
    let (xmin, xmax) = (lo - span * 0.08, hi + span * 0.12);
    let longest = groups.iter().map(|g| g.chars().count()).max().unwrap_or(4) as u32;
    let label_area = (longest * 15 + 16).clamp(80, 340);
    let height = (90 + groups.len() as u32 * (k as u32 * 22 + 12)).clamp(220, 900);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_MAX_WIDTH, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_area)
            .build_cartesian_2d(xmin..xmax, (0..(slots - 1).max(1)).into_segmented())
        else {
            return String::new();
        };
        let names = groups.to_vec();
        let mid = (k - 1) / 2;
        let fmt = move |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) if i % per == mid => {
                names.get((i / per) as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        let _ = chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .y_labels(slots.max(1) as usize)
            .y_label_formatter(&fmt)
            .x_desc("万元")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .label_style(("sans-serif", 16))
            .draw();
        let _ = chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (0.0, SegmentValue::Exact(0)),
                (0.0, SegmentValue::Exact((slots - 1).max(1))),
            ],
            BLACK.stroke_width(1),
        )));
        for (si, (name, values)) in series.iter().enumerate() {
            let c = colour(si + 1);
            let rects: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(g, v)| {
                    let s = g as i32 * per + si as i32;
                    let mut r = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(s)),
                            (*v, SegmentValue::Exact(s + 1)),
                        ],
                        c.filled(),
                    );
                    r.set_margin(2, 2, 0, 0);
                    r
                })
                .collect();
            if let Ok(a) = chart.draw_series(rects) {
                a.label(name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                });
            }
        }
        if series.len() > 1 {
            let _ = chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 16))
                .position(SeriesLabelPosition::LowerRight)
                .draw();
        }
        let _ = root.present();
    }
    svg
}

/// The change of aid (else fund) spending of each scenario in each row.
fn diff_series(
    r: &SimReport,
    pick: fn(&PolicyReport) -> &Vec<super::report::BreakdownRow>,
) -> Vec<(String, Vec<f64>)> {
    let aid = r.policies[0].payers.iter().any(|y| y.payer == "aid");
    r.policies
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, p)| {
            let values = pick(p)
                .iter()
                .map(|row| {
                    let d = row.vs_baseline.as_ref();
                    let y = if aid {
                        d.and_then(|d| d.payers.iter().find(|c| c.id == "aid"))
                            .map_or(Decimal::ZERO, |c| c.paid.0)
                    } else {
                        d.map_or(Decimal::ZERO, |d| d.fund_paid.0)
                    };
                    wan(y)
                })
                .collect();
            (series_name(i, p), values)
        })
        .collect()
}

/// A difference chart of `pick`'s rows, with its title.
fn diff_chart(
    h: &mut String,
    r: &SimReport,
    pick: fn(&PolicyReport) -> &Vec<super::report::BreakdownRow>,
    by: &str,
) {
    if r.policies.len() < 2 {
        return;
    }
    let what = if r.policies[0].payers.iter().any(|y| y.payer == "aid") {
        "医疗救助支出"
    } else {
        "基金支出"
    };
    let groups: Vec<String> = pick(&r.policies[0])
        .iter()
        .map(|row| row.label.clone())
        .collect();
    let series = diff_series(r, pick);
    let title = format!("方案较基准{what}变化（{by}，万元）");
    // Names that would collide under vertical bars go on the left.
    let room = CHART_MAX_WIDTH as usize / groups.len().max(1) / 15;
    if groups.iter().any(|g| g.chars().count() > room.max(1)) {
        chart(h, || diff_hbars(&title, &groups, &series));
    } else {
        chart(h, || diff_bars(&title, &groups, &series));
    }
}

fn iv_wan(i: &Interval) -> Option<(f64, f64)> {
    i.map(|[a, b]| (wan(a.0), wan(b.0)))
}

fn policy_title(p: &PolicyReport) -> String {
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

fn series_name(i: usize, p: &PolicyReport) -> String {
    let _ = p;
    if i == 0 {
        "基准".to_string()
    } else {
        format!("方案{i}")
    }
}

/// Render the report.
pub fn render(r: &SimReport) -> String {
    let mut h = String::with_capacity(1 << 16);
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
    let lines = headline(r);
    if !lines.is_empty() {
        h.push_str("<div class=\"headline\">");
        for l in &lines {
            let _ = write!(h, "<p>{l}</p>");
        }
        h.push_str("</div>\n");
    }
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

    // Headline cards.
    h.push_str("<h2>一、结论</h2>\n<div class=\"key\">");
    let base = &r.policies[0];
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

    // Payers.
    h.push_str("<h2>二、各支付方</h2>\n");
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
    chart(&mut h, || {
        grouped_bars(
            "各支付方支出（万元，竖线为 90% 区间）",
            "万元",
            &groups,
            &series,
            &[],
        )
    });
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

    // Gaps.
    h.push_str("<h2>三、资金缺口或结余（支出 − 预算）</h2>\n");
    if r.budgets.is_empty() {
        h.push_str("<p class=\"note\">未设预算（<code>--budget aid=8000000</code>）。</p>\n");
    } else {
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
        chart(&mut h, || {
            grouped_bars(
                "支出与预算（万元，红线为预算，竖线为 90% 区间）",
                "万元",
                &groups,
                &series,
                &lines,
            )
        });
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

    // Layers.
    h.push_str("<h2>四、各支付层</h2>\n<table><tr><th>方案</th><th>支付层</th><th>支付方</th><th>支付（元）</th><th>90% 区间</th><th>笔数</th><th>人数</th><th>较基准</th></tr>\n");
    for p in &r.policies {
        for l in &p.layers {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&p.id),
                esc(if l.name.is_empty() { &l.id } else { &l.name }),
                payer_name(l.payer),
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

    // Months.
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
    chart(&mut h, || {
        month_lines("每月基金支付（万元）", &months, &series)
    });
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
        chart(&mut h, || {
            month_lines("每月医疗救助支付（万元）", &months, &series)
        });
    }
    diff_chart(&mut h, r, |p| &p.by_month, "按月");
    breakdown_table(&mut h, r, |p| &p.by_month, "月份");

    h.push_str("<h2>六、按救助对象类别</h2>\n");
    diff_chart(&mut h, r, |p| &p.by_category, "按救助对象类别");
    breakdown_table(&mut h, r, |p| &p.by_category, "类别");
    h.push_str("<h2>七、按医院级别</h2>\n");
    diff_chart(&mut h, r, |p| &p.by_level, "按医院级别");
    breakdown_table(&mut h, r, |p| &p.by_level, "级别");

    // Out of pocket.
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
    chart(&mut h, || {
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

    // Gainers and losers.
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
    h.push_str("<p class=\"note\">由 medaid simulate 生成：每人理赔按出院日期依次结算，年度累计从零开始，计算与一站式结算使用同一引擎。金额为元；图中金额为万元。政策文件摘要（SHA-256）：");
    for p in &r.policies {
        let _ = write!(h, "<br><code>{}</code> {}", esc(&p.id), esc(&p.hash));
    }
    h.push_str("</p>\n</body></html>\n");
    h
}

/// Append a chart. Drawing runs under `catch_unwind`: a plotting library's
/// internal panic on odd data must cost one chart, not the report.
fn chart(h: &mut String, draw: impl FnOnce() -> String) {
    let svg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(draw)).unwrap_or_default();
    h.push_str("<div class=\"chart\">");
    if svg.is_empty() {
        h.push_str("<p class=\"note\">（此图无法绘制）</p>");
    } else {
        // The SVG backend writes a bare <svg> element, valid inline in HTML.
        h.push_str(&svg);
    }
    h.push_str("</div>\n");
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

    #[test]
    fn draws_svg_without_fetching_anything() {
        let svg = grouped_bars(
            "t",
            "万元",
            &["救助".into(), "保险".into()],
            &[
                (
                    "a".into(),
                    vec![
                        Bar {
                            value: 1.0,
                            interval: Some((0.8, 1.2)),
                        },
                        Bar {
                            value: 2.0,
                            interval: None,
                        },
                    ],
                ),
                (
                    "b".into(),
                    vec![
                        Bar {
                            value: 1.5,
                            interval: None,
                        },
                        Bar {
                            value: 2.5,
                            interval: None,
                        },
                    ],
                ),
            ],
            &[(0, 1.1, "预算".into())],
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.contains("救助"));
        assert!(!svg.contains("http://") || svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        let l = month_lines(
            "m",
            &["2017-01".into(), "2017-02".into()],
            &[("a".into(), vec![1.0, 2.0])],
        );
        assert!(l.contains("2017-02"));
    }
}
