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
    /// (method, route) → latency.
    latency: BTreeMap<(String, String), Histogram>,
    /// route → requests answered 503 (the database was busy).
    busy: BTreeMap<String, u64>,
    /// (reason, status) → refused requests (401, 403, 409, 422, …).
    refused: BTreeMap<(u16, String), u64>,
    /// The pool when last sampled: (open, idle, max).
    pool: Option<(u32, u32, u32)>,
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
            if status == 503 {
                *m.busy.entry(route.to_string()).or_default() += 1;
            }
            let h = m
                .latency
                .entry((method.to_string(), route.to_string()))
                .or_default();
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

    /// Remember the connection pool's state (sampled on every request).
    pub fn sample_pool(&self, stats: (u32, u32, u32)) {
        if let Ok(mut m) = self.inner.lock() {
            m.pool = Some(stats);
        }
    }

    fn refused(&self, status: u16, title: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.refused.entry((status, title.to_string())).or_default() += 1;
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
            "# HELP medaid_http_request_duration_seconds Request latency by method and route."
        );
        let _ = writeln!(out, "# TYPE medaid_http_request_duration_seconds histogram");
        for ((method, route), h) in &m.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "medaid_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "medaid_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "medaid_http_request_duration_seconds_sum{{{labels}}} {}.{:06}",
                h.sum_micros / 1_000_000,
                h.sum_micros % 1_000_000
            );
            let _ = writeln!(
                out,
                "medaid_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP medaid_busy_total Requests answered 503 because the database was busy (nothing written; the client retries)."
        );
        let _ = writeln!(out, "# TYPE medaid_busy_total counter");
        for (route, n) in &m.busy {
            let _ = writeln!(out, "medaid_busy_total{{route=\"{}\"}} {n}", escape(route));
        }
        let _ = writeln!(
            out,
            "# HELP medaid_refused_total Refused requests by status and reason (the problem's title)."
        );
        let _ = writeln!(out, "# TYPE medaid_refused_total counter");
        for ((status, title), n) in &m.refused {
            let _ = writeln!(
                out,
                "medaid_refused_total{{status=\"{status}\",reason=\"{}\"}} {n}",
                escape(title)
            );
        }
        if let Some((open, idle, max)) = m.pool {
            let _ = writeln!(
                out,
                "# HELP medaid_db_pool_connections Database connections by state.\n# TYPE medaid_db_pool_connections gauge"
            );
            let _ = writeln!(out, "medaid_db_pool_connections{{state=\"idle\"}} {idle}");
            let _ = writeln!(
                out,
                "medaid_db_pool_connections{{state=\"in_use\"}} {}",
                open.saturating_sub(idle)
            );
            let _ = writeln!(
                out,
                "# HELP medaid_db_pool_max_connections The most connections the pool opens.\n# TYPE medaid_db_pool_max_connections gauge\nmedaid_db_pool_max_connections {max}"
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
/// label set), sample the connection pool, and log every refusal (4xx
/// but 404, and 503) with its reason and the key's public id — never the
/// key.
pub async fn track(State(ctx): State<super::ApiContext>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let key_id = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.trim().split_once(' ').map(|(_, k)| k.trim().to_string()))
        .map(|k| match crate::service::keys::key_id(&k) {
            Some(id) => id.to_string(),
            None => "malformed".to_string(),
        });
    ctx.metrics.sample_pool(ctx.service.db.pool_stats());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    ctx.metrics.observe(&method, &route, status, started);
    let refused = (400..500).contains(&status) && status != 404 || status == 503;
    if !refused {
        return resp;
    }
    // The reason is the problem document's (or the platform envelope's):
    // read it, log it, and send the same bytes on.
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        tracing::warn!(status, %method, %route, key_id = key_id.as_deref().unwrap_or("none"), "request refused (reason unreadable)");
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let title = doc
        .get("title")
        .and_then(|t| t.as_str())
        .unwrap_or(parts.status.canonical_reason().unwrap_or(""))
        .to_string();
    let reason = doc
        .get("err_msg")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .or_else(|| {
            doc.get("errors").and_then(|e| e.as_array()).map(|errors| {
                errors
                    .iter()
                    .map(|f| {
                        let path = f.get("path").and_then(|p| p.as_str()).unwrap_or("");
                        let msg = f.get("message").and_then(|p| p.as_str()).unwrap_or("");
                        if path.is_empty() {
                            msg.to_string()
                        } else {
                            format!("{path}: {msg}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .filter(|r| !r.is_empty())
        .or_else(|| {
            doc.get("detail")
                .and_then(|d| d.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    ctx.metrics.refused(status, &title);
    tracing::warn!(
        status,
        %method,
        %route,
        key_id = key_id.as_deref().unwrap_or("none"),
        title = %title,
        reason = %reason,
        "request refused"
    );
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
