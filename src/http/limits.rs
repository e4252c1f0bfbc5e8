//! Timeouts and limits of `medaid serve`: what a hostile or careless client
//! cannot hold.
//!
//! - the connection loop ([`serve`]): at most [`Limits::max_connections`]
//!   open connections (one more is answered `503` and closed without being
//!   read), a header read timeout (a connection that sends half a request
//!   head, or idles between requests, is dropped), and graceful shutdown with
//!   a deadline (requests in flight finish; past the deadline stalled
//!   clients are dropped);
//! - [`deadline`]: every request (body read and database waits included)
//!   answers within [`Limits::request_deadline`], else `503` with
//!   `Retry-After`; a body that does not arrive within
//!   [`Limits::body_read_timeout`] is `408`;
//! - [`content_type`]: a POST with a body must say what it is (`415`);
//! - [`RateLimiter`]: requests per API key (`429` with `Retry-After`).

use super::error::ApiError;
use super::ApiContext;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The limits of one service. [`Limits::default`] is generous; `medaid
/// serve` reads overrides from the environment ([`Limits::from_env`]).
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request head (or the next one on a kept-alive connection) must
    /// arrive within this.
    pub header_read_timeout: Duration,
    /// A request body must arrive whole within this (`408`).
    pub body_read_timeout: Duration,
    /// Every request answers within this (`503`, `Retry-After`), except
    /// simulations, which have their own limits.
    pub request_deadline: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Requests per second per API key (sustained); 0 turns the limit off.
    pub rate_per_key: u32,
    /// Requests a key may send at once above the sustained rate.
    pub burst_per_key: u32,
    /// On SIGTERM, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(20),
            request_deadline: Duration::from_secs(30),
            max_connections: 768,
            rate_per_key: 2000,
            burst_per_key: 5000,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

impl Limits {
    /// The defaults, overridden by `MEDAID_HEADER_TIMEOUT`,
    /// `MEDAID_BODY_TIMEOUT`, `MEDAID_REQUEST_TIMEOUT`,
    /// `MEDAID_SHUTDOWN_GRACE` (seconds, decimals allowed),
    /// `MEDAID_MAX_CLIENTS` (connections), `MEDAID_RATE_LIMIT` (requests
    /// per second per key, 0 = off) and `MEDAID_RATE_BURST`.
    pub fn from_env() -> anyhow::Result<Limits> {
        let mut l = Limits::default();
        let secs = |name: &str, into: &mut Duration| -> anyhow::Result<()> {
            if let Ok(v) = std::env::var(name) {
                let s: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={v:?}: expected seconds"))?;
                if !(s > 0.0 && s < 86_400.0) {
                    anyhow::bail!("{name}={v:?}: expected seconds between 0 and 86400");
                }
                *into = Duration::from_millis((s * 1000.0) as u64);
            }
            Ok(())
        };
        secs("MEDAID_HEADER_TIMEOUT", &mut l.header_read_timeout)?;
        secs("MEDAID_BODY_TIMEOUT", &mut l.body_read_timeout)?;
        secs("MEDAID_REQUEST_TIMEOUT", &mut l.request_deadline)?;
        secs("MEDAID_SHUTDOWN_GRACE", &mut l.shutdown_grace)?;
        let count = |name: &str| -> anyhow::Result<Option<u64>> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| anyhow::anyhow!("{name}={v:?}: expected a whole number")),
                Err(_) => Ok(None),
            }
        };
        if let Some(n) = count("MEDAID_MAX_CLIENTS")? {
            l.max_connections = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
        }
        if let Some(n) = count("MEDAID_RATE_LIMIT")? {
            l.rate_per_key = u32::try_from(n).unwrap_or(u32::MAX);
            l.burst_per_key = l.burst_per_key.max(l.rate_per_key);
        }
        if let Some(n) = count("MEDAID_RATE_BURST")? {
            l.burst_per_key = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        }
        Ok(l)
    }
}

/// A token bucket per API key id.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Take one token for `key_id`; `Err(seconds to wait)` when the key is
    /// over its rate.
    pub fn check(&self, key_id: &str, rate: u32, burst: u32) -> Result<(), u64> {
        if rate == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return Ok(());
        };
        if b.len() > 100_000 {
            b.clear();
        }
        let burst = f64::from(burst.max(1));
        let rate = f64::from(rate);
        let (tokens, at) = b.entry(key_id.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// Whether a request carries a body.
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// The media types a POST to `path` may send: JSON everywhere; XML for
/// claims and the hospitals' checks; CSV for the checks.
fn accepted(path: &str, media: &str) -> bool {
    let json = media == "application/json" || media.ends_with("+json");
    let xml = media == "application/xml" || media == "text/xml" || media.ends_with("+xml");
    let csv = media == "text/csv";
    if path == "/v1/settlements" || path == "/v1/settlements/preview" {
        json || xml
    } else if path.ends_with("/check-totals") || path.ends_with("/check-details") {
        json || xml || csv
    } else {
        json
    }
}

/// Whether `%00`–`%1F` or `%7F` occur in a URI (raw control characters
/// cannot: the HTTP parser refuses them).
fn has_encoded_control(uri: &str) -> bool {
    let b = uri.as_bytes();
    b.windows(3).any(|w| {
        w[0] == b'%'
            && ((w[1] == b'0' || w[1] == b'1') && w[2].is_ascii_hexdigit()
                || w[1] == b'7' && (w[2] == b'f' || w[2] == b'F'))
    })
}

/// 415 for a POST body that does not say it is JSON (or XML or CSV where
/// those are read): `text/plain`, form-encoded or no `Content-Type` are not
/// guessed at.
pub async fn content_type(req: Request, next: Next) -> Response {
    // Ids and filters are printable text: a control character (NUL above
    // all) in the path or query is refused before it reaches a database.
    let raw = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
    if has_encoded_control(raw) {
        return ApiError::bad_request("", "the path or query holds a control character")
            .into_response();
    }
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) && has_body(&req) {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim().to_string();
        if !accepted(req.uri().path(), &media) {
            let expected = if req.uri().path().starts_with("/v1/settlements") {
                "application/json or application/xml"
            } else if req.uri().path().contains("/check-") {
                "text/csv, application/json or application/xml"
            } else {
                "application/json"
            };
            let found = if media.is_empty() {
                "no Content-Type".to_string()
            } else {
                format!("{media:?}")
            };
            return ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
                .field("Content-Type", format!("{found}: send {expected}"))
                .into_response();
        }
    }
    next.run(req).await
}

/// The overall request deadline and the body read timeout.
pub async fn deadline(State(ctx): State<ApiContext>, req: Request, next: Next) -> Response {
    let limits = &ctx.limits;
    // A simulation may take minutes; it runs one at a time and has its own
    // limits (README).
    // The console's 测算 form runs the same simulation.
    if req.uri().path().starts_with("/v1/simulations") || req.uri().path() == "/console/simulations"
    {
        return next.run(req).await;
    }
    let body_timeout = limits.body_read_timeout;
    let mut req = if has_body(&req) {
        req.map(|b| Body::new(TimedBody::new(b, body_timeout)))
    } else {
        req
    };
    req.extensions_mut().insert(Deadline(
        tokio::time::Instant::now() + limits.request_deadline,
    ));
    match tokio::time::timeout(limits.request_deadline, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            ctx.metrics.outcome("request", "deadline");
            tracing::warn!("request deadline passed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Timed out, try again")
                .detail(format!(
                    "the request did not finish within {} s; sending the same request again is safe (a settlement is idempotent on its claim id: a retry answers the stored settlement if this one was committed)",
                    limits.request_deadline.as_secs()
                ))
                .into_response()
        }
    }
}

/// When the request's answer is due: work that runs on after the client
/// (a settlement task) gives up a little before it, so that a `503` for a
/// passed deadline means nothing was written.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub tokio::time::Instant);

impl Deadline {
    /// Run `f` until shortly before the deadline (no deadline: to the end);
    /// `None` when it was stopped.
    pub async fn run<F: std::future::Future>(d: Option<Deadline>, f: F) -> Option<F::Output> {
        match d {
            Some(Deadline(at)) => {
                let at = at.checked_sub(Duration::from_millis(250)).unwrap_or(at);
                tokio::time::timeout_at(at, f).await.ok()
            }
            None => Some(f.await),
        }
    }
}

/// A request body that fails when it has not arrived whole within its
/// time: `read_text` answers 408 then.
struct TimedBody {
    inner: Body,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl TimedBody {
    fn new(inner: Body, within: Duration) -> Self {
        TimedBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(within)),
        }
    }
}

/// The error a [`TimedBody`] reports.
#[derive(Debug)]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl http_body::Body for TimedBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => Poll::Ready(r.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// What an over-limit connection is told before it is closed.
fn busy_response() -> Vec<u8> {
    let body = r#"{"type":"about:blank","title":"Too many connections","status":503,"errors":[]}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/problem+json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serve `app` on `listener` until `shutdown` resolves; then stop
/// accepting, let requests in flight finish within `limits.shutdown_grace`,
/// and drop whatever is left.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, peer)) => (s, peer),
                Err(e) => {
                    // Out of file descriptors, mostly: back off, keep serving
                    // the connections that are open.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let _ = stream.try_write(&busy_response());
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The peer's address reaches handlers as axum's ConnectInfo (the
        // console's per-address login throttling).
        let svc = hyper_util::service::TowerToHyperService::new(
            tower::ServiceBuilder::new()
                .map_request(move |mut r: axum::http::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    r
                })
                .service(app.clone()),
        );
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing the requests in flight");
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown deadline passed: dropping the connections still open");
    }
    Ok(())
}
