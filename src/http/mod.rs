//! The HTTP API of `medaid serve`, on axum (docs/ARCHITECTURE.md).
//!
//! One module per resource, each exposing `router()`:
//! [`settlements`] (settle, preview, read, list, cancel, slip),
//! [`persons`] (accumulators), [`recon`] (the centre's month),
//! [`simulations`] (funding-gap simulation), [`health`] (healthz, metrics) and
//! [`openapi`]. They share one [`ApiContext`], one error type
//! ([`error::ApiError`], `application/problem+json`) and one caller
//! extractor ([`auth::Caller`]).

pub mod access;
pub mod auth;
pub mod console;
pub mod error;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod persons;
pub mod recon;
pub mod settlements;
pub mod simulations;
pub mod slip;

use crate::service::Service;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ApiError;
use std::sync::Arc;

/// Largest request body accepted (a claim of 10 000 items fits easily).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiContext {
    pub service: Arc<Service>,
    pub keys: Arc<auth::KeyCache>,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: Arc<limits::Limits>,
    pub rate: Arc<limits::RateLimiter>,
    /// The access record's writer (batched, append-only).
    pub access: access::AccessLog,
}

impl ApiContext {
    pub fn new(service: Service) -> Self {
        let backend = service.db.backend().as_str();
        let access = access::AccessLog::start(service.db.clone());
        ApiContext {
            service: Arc::new(service),
            keys: Arc::default(),
            metrics: Arc::new(metrics::Metrics::new(backend)),
            limits: Arc::new(limits::Limits::default()),
            rate: Arc::default(),
            access,
        }
    }

    /// The same context with other limits.
    pub fn with_limits(mut self, limits: limits::Limits) -> Self {
        self.limits = Arc::new(limits);
        self
    }
}

/// The whole API.
pub fn router(ctx: ApiContext) -> Router {
    Router::new()
        .merge(settlements::router())
        .merge(persons::router())
        .merge(recon::router())
        .merge(simulations::router())
        .merge(health::router())
        .merge(access::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError::not_found().detail("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .layer(axum::middleware::from_fn(limits::content_type))
        // The web console posts forms and files, and `POST /v1/policies`
        // takes TOML: they check their own bodies (see `console`).
        .merge(console::router())
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            access::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            limits::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                ApiError::internal().into_response()
            },
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(ctx)
}

/// Serve `router` on `listener` until `shutdown` resolves, within the
/// context's [`limits::Limits`]; then finish the requests in flight (up to
/// the shutdown deadline) and flush the access record.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: ApiContext,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = (*ctx.limits).clone();
    let access = ctx.access.clone();
    let served = limits::serve(listener, router(ctx), limits, shutdown).await;
    access.flush().await;
    served
}

/// Read a whole body up to [`BODY_LIMIT`], as UTF-8 text.
pub async fn read_text(body: Body) -> Result<String, ApiError> {
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<limits::BodyTimeout>() {
                return ApiError::new(StatusCode::REQUEST_TIMEOUT, "Request timeout")
                    .field("", "the body did not arrive in time");
            }
            if c.is::<http_body_util::LengthLimitError>() {
                break;
            }
            cause = c.source();
        }
        if cause.is_none() {
            return ApiError::bad_request("", "the body could not be read whole");
        }
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            .field("", format!("the body must not exceed {BODY_LIMIT} bytes"))
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("", "the body is not UTF-8 text"))
}

/// Which answer format a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The answer as the engine writes it (docs/claims-and-answers.md).
    Standard,
    /// The national platform's names (docs/nhsa-interface.md): `?view=nhsa`.
    Nhsa,
    /// The same, asked by `Accept: application/vnd.nhsa+json`.
    NhsaMedia,
}

pub const NHSA_MEDIA_TYPE: &str = "application/vnd.nhsa+json";

impl View {
    pub fn of(query_view: Option<&str>, headers: &HeaderMap) -> Result<View, ApiError> {
        match query_view {
            Some("nhsa") => return Ok(View::Nhsa),
            Some("standard") | Some("") => return Ok(View::Standard),
            Some(other) => {
                return Err(ApiError::bad_request(
                    "view",
                    format!("unknown view {other:?} (expected nhsa or standard)"),
                ))
            }
            None => {}
        }
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(if accept.contains(NHSA_MEDIA_TYPE) {
            View::NhsaMedia
        } else {
            View::Standard
        })
    }
}

/// Respond with a stored answer: its bytes as they are, or its national
/// view (the 2304 envelope; the settlement handlers add the person's name
/// and insurance type).
pub fn answer_response(status: StatusCode, answer_json: String, view: View) -> Response {
    let (body, media) = match view {
        View::Standard => (answer_json, "application/json"),
        View::Nhsa | View::NhsaMedia => {
            let nhsa = serde_json::from_str::<crate::engine::Answer>(&answer_json)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    serde_json::to_string(&crate::engine::nhsa::answer_2304(
                        &a,
                        &crate::engine::nhsa::NhsaPerson::default(),
                    ))
                    .map_err(|e| e.to_string())
                });
            match nhsa {
                Ok(b) => (
                    b,
                    if view == View::NhsaMedia {
                        NHSA_MEDIA_TYPE
                    } else {
                        "application/json"
                    },
                ),
                Err(e) => {
                    tracing::error!(error = %e, "stored answer does not parse");
                    return ApiError::internal().into_response();
                }
            }
        }
    };
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    resp
}

/// Respond with a JSON document.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => {
            let mut resp = (status, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "response does not serialize");
            ApiError::internal().into_response()
        }
    }
}
