//! The report's charts: inline SVG drawn with `plotters`, one colour per
//! policy, amounts in 万元.

use super::words::series_name;
use crate::sim::report::{BreakdownRow, Interval, PolicyReport, SimReport};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

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

pub(super) fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

pub(super) fn css_colour(i: usize) -> String {
    let c = colour(i);
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

/// Yuan → 万元 as a float, for chart geometry only.
pub(super) fn wan(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0) / 10_000.0
}

pub(super) fn axis_max(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.fold(0.0f64, f64::max);
    if m <= 0.0 {
        1.0
    } else {
        m * 1.12
    }
}

/// One bar of a grouped bar chart: value and optional interval.
pub(super) struct Bar {
    pub(super) value: f64,
    pub(super) interval: Option<(f64, f64)>,
}

/// A grouped bar chart (groups × policies) as SVG text. `hline` draws a
/// horizontal reference (a budget) across each group given.
pub(super) fn grouped_bars(
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
            let tops: Vec<f64> = bars.iter().map(|b| b.value.max(0.0)).collect();
            draw_bars(&mut chart, si, colour(si), name, &tops, per);
            draw_whiskers(&mut chart, si, bars, per);
        }
        draw_group_labels(&mut chart, groups, k, 0.0);
        draw_budget_lines(&mut chart, hlines, k);
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight);
        let _ = root.present();
    }
    svg
}

/// Lines over months.
pub(super) fn month_lines(title: &str, months: &[String], series: &[(String, Vec<f64>)]) -> String {
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

/// Bars of scenario minus baseline (万元), negative values below the axis.
pub(super) fn diff_bars(title: &str, groups: &[String], series: &[(String, Vec<f64>)]) -> String {
    let k = series.len().max(1) as i32;
    let per = k + 1;
    let slots = groups.len() as i32 * per;
    let (ymin, ymax) = diff_range(series);
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
            draw_bars(&mut chart, si, colour(si + 1), name, values, per);
        }
        draw_group_labels(&mut chart, groups, k, ymin);
        if series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight);
        }
        let _ = root.present();
    }
    svg
}

/// The same as horizontal bars, for long group names (category
/// combinations): one row per group, names on the left.
pub(super) fn diff_hbars(title: &str, groups: &[String], series: &[(String, Vec<f64>)]) -> String {
    let k = series.len().max(1) as i32;
    let per = k + 1;
    let slots = groups.len() as i32 * per;
    let (xmin, xmax) = diff_range(series);
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
            draw_hbars(&mut chart, si, name, values, per);
        }
        if series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::LowerRight);
        }
        let _ = root.present();
    }
    svg
}

/// A bar chart's drawing area: segments across, amounts up.
type BarChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<SegmentedCoord<RangedCoordi32>, RangedCoordf64>>;

/// A horizontal bar chart's drawing area: amounts across, segments down.
type HBarChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordi32>>>;

/// The value axis of a difference chart: zero and every value, with room
/// below and above.
fn diff_range(series: &[(String, Vec<f64>)]) -> (f64, f64) {
    let lo = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::min);
    let hi = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max);
    let span = (hi - lo).max(0.01);
    (lo - span * 0.08, hi + span * 0.12)
}

/// One series of bars (`tops`, one a group) at its place in each group,
/// with its legend entry.
fn draw_bars(chart: &mut BarChart, si: usize, c: RGBColor, name: &str, tops: &[f64], per: i32) {
    let rects: Vec<_> = tops
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
        a.label(name.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
}

/// One scenario's horizontal bars, with its legend entry.
fn draw_hbars(chart: &mut HBarChart, si: usize, name: &str, values: &[f64], per: i32) {
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
        a.label(name.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
}

/// Each bar's 90 % interval as a vertical line.
fn draw_whiskers(chart: &mut BarChart, si: usize, bars: &[Bar], per: i32) {
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

/// Reference lines (budgets) across the groups given; a line with a label
/// gets a legend entry.
fn draw_budget_lines(chart: &mut BarChart, hlines: &[(usize, f64, String)], k: i32) {
    let per = k + 1;
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
}

/// Group names as text centred under each group (the axis's own labels
/// would sit on one bar of the group), at height `y`.
fn draw_group_labels(chart: &mut BarChart, groups: &[String], k: i32, y: f64) {
    let per = k + 1;
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
        EmptyElement::at((centre(g as i32), y))
            + Text::new(name.clone(), (0, 8), label_style.clone())
    }));
}

/// The legend box of the series labels.
fn draw_legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    at: SeriesLabelPosition,
) {
    let _ = chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(at)
        .draw();
}

/// The change of aid (else fund) spending of each scenario in each row.
pub(super) fn diff_series(
    r: &SimReport,
    pick: fn(&PolicyReport) -> &Vec<BreakdownRow>,
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
pub(super) fn diff_chart(
    h: &mut String,
    r: &SimReport,
    pick: fn(&PolicyReport) -> &Vec<BreakdownRow>,
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

pub(super) fn iv_wan(i: &Interval) -> Option<(f64, f64)> {
    i.map(|[a, b]| (wan(a.0), wan(b.0)))
}

/// Append a chart. Drawing runs under `catch_unwind`: a plotting library's
/// internal panic on odd data must cost one chart, not the report.
pub(super) fn chart(h: &mut String, draw: impl FnOnce() -> String) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
