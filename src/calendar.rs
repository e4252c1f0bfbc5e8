//! China time and months: the one place that knows the service's clock.
//!
//! Every timestamp medaid stores or shows is China Standard Time (UTC+8,
//! no daylight saving), because the centre's books close by the local
//! calendar. A settlement is booked in a month (账期, `YYYY-MM`) taken from
//! that clock; tests and replays fix the clock per task with
//! [`with_clock`] so that they can book in past months.

use chrono::{DateTime, FixedOffset};

/// China Standard Time (UTC+8): the time zone of timestamps and months.
pub fn china_offset() -> FixedOffset {
    use chrono::Offset;
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

tokio::task_local! {
    /// A fixed "now" for the current task (tests and replays): see
    /// [`with_clock`].
    static CLOCK: DateTime<FixedOffset>;
}

/// Run `f` with [`now_china`] fixed at `at` inside it (this task only).
/// Tests use it to book settlements in past months.
pub async fn with_clock<F: std::future::Future>(at: DateTime<FixedOffset>, f: F) -> F::Output {
    CLOCK.scope(at, f).await
}

/// Now, in China time (or the task's fixed clock).
pub fn now_china() -> DateTime<FixedOffset> {
    CLOCK
        .try_with(|t| *t)
        .unwrap_or_else(|_| chrono::Utc::now().with_timezone(&china_offset()))
}

/// Now as stored: RFC 3339 with microseconds, +08:00.
pub fn now_text() -> String {
    timestamp_text(now_china())
}

/// A timestamp as stored: RFC 3339 with microseconds.
pub fn timestamp_text(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// A timestamp as the answer carries it (`settled_at`, `cancelled_at`):
/// RFC 3339 to the second.
pub fn answer_time(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A stored timestamp (RFC 3339) read back in China time; `None` when the
/// text is not a timestamp.
pub fn in_china(ts: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&china_offset()))
}

/// The month (`YYYY-MM`) a timestamp falls in, as the clock reads it: the
/// booking month of a settlement or reversal made at `t`.
pub fn month_of(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m").to_string()
}

/// This month in China time, `YYYY-MM`.
pub fn this_month() -> String {
    month_of(now_china())
}

/// The month after `month`: `"2017-12"` → `"2018-01"`; `None` when
/// `month` is not `YYYY-MM`.
pub fn next_month(month: &str) -> Option<String> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) {
        return None;
    }
    Some(if m == 12 {
        format!("{:04}-01", y + 1)
    } else {
        format!("{y:04}-{:02}", m + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_month_rolls_the_year() {
        assert_eq!(next_month("2017-05").as_deref(), Some("2017-06"));
        assert_eq!(next_month("2017-12").as_deref(), Some("2018-01"));
        assert_eq!(next_month("2017-13"), None);
        assert_eq!(next_month("x"), None);
    }

    #[test]
    fn a_utc_evening_is_the_next_day_in_china() {
        let t = in_china("2017-05-31T18:30:00Z").unwrap();
        assert_eq!(month_of(t), "2017-06");
        assert_eq!(timestamp_text(t), "2017-06-01T02:30:00.000000+08:00");
        assert_eq!(in_china("not a time"), None);
    }

    #[tokio::test]
    async fn the_clock_is_fixed_inside_with_clock_only() {
        let at = in_china("2017-05-10T10:00:00+08:00").unwrap();
        assert_eq!(with_clock(at, async { this_month() }).await, "2017-05");
        assert_ne!(now_china(), at);
    }
}
