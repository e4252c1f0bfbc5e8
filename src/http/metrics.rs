//! Prometheus metrics, hand-rolled: a few counters and one latency
//! histogram per route, held by the [`ApiContext`](super::ApiContext)
//! rather than a process-global recorder, so several services in one
//! process (the tests) keep separate counts.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (method, route, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
    /// (operation, outcome) → count: settlements and cancellations.
    outcomes: BTreeMap<(&'static str, &'static str), u64>,
}

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    pub backend: &'static str,
}

impl Metrics {
    pub fn new(backend: &'static str) -> Self {
        Metrics {
            inner: Mutex::default(),
            backend,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, started: Instant) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Ok(mut m) = self.inner.lock() {
            *m.requests
                .entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
            let h = m.latency.entry(route.to_string()).or_default();
            h.count += 1;
            h.sum_micros = h.sum_micros.saturating_add(micros);
            // Bucket bounds are compared in whole microseconds: no float
            // ever touches a counted value.
            for (i, b) in BUCKETS.iter().enumerate() {
                if micros <= (b * 1_000_000.0) as u64 {
                    h.counts[i] += 1;
                }
            }
        }
    }

    /// Count one settlement or cancellation outcome.
    pub fn outcome(&self, operation: &'static str, outcome: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.outcomes.entry((operation, outcome)).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP medaid_info The running service.\n# TYPE medaid_info gauge"
        );
        let _ = writeln!(
            out,
            "medaid_info{{version=\"{}\",backend=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            self.backend
        );
        let Ok(m) = self.inner.lock() else { return out };
        let _ = writeln!(
            out,
            "# HELP medaid_http_requests_total HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE medaid_http_requests_total counter");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "medaid_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP medaid_http_request_duration_seconds Request latency by route."
        );
        let _ = writeln!(out, "# TYPE medaid_http_request_duration_seconds histogram");
        for (route, h) in &m.latency {
            let route = escape(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "medaid_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "medaid_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "medaid_http_request_duration_seconds_sum{{route=\"{route}\"}} {}.{:06}",
                h.sum_micros / 1_000_000,
                h.sum_micros % 1_000_000
            );
            let _ = writeln!(
                out,
                "medaid_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP medaid_operations_total Settlements and cancellations by outcome."
        );
        let _ = writeln!(out, "# TYPE medaid_operations_total counter");
        for ((op, outcome), n) in &m.outcomes {
            let _ = writeln!(
                out,
                "medaid_operations_total{{operation=\"{op}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: count and time every request under its route pattern
/// (`/v1/settlements/{id}`, never the raw path, so ids do not explode the
/// label set).
pub async fn track(State(ctx): State<super::ApiContext>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    ctx.metrics
        .observe(&method, &route, resp.status().as_u16(), started);
    resp
}
