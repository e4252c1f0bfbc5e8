//! The one error type of the API: every refusal is `application/problem+json`
//! (RFC 9457) with `errors: [{path, message}]` naming the fields at fault.
//! Internal failures are logged and answered with a bare 500: no SQL, no
//! file names, no stack.

use crate::service::{FieldError, ServiceError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refused or failed request.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    /// Extra members (e.g. `settlement_id` of a 409).
    pub settlement_id: Option<String>,
    /// Seconds for `Retry-After` (503 and 429 always carry one).
    pub retry_after: Option<u64>,
}

/// The problem document (RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fields at fault.
    #[schema(value_type = Vec<FieldErrorDoc>)]
    pub errors: Vec<FieldError>,
    /// For 409: the settlement already stored under the claim id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement_id: Option<String>,
}

/// One field at fault.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FieldErrorDoc {
    /// e.g. `items[3].amount`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str) -> Self {
        ApiError {
            status,
            title,
            detail: None,
            errors: Vec::new(),
            settlement_id: None,
            retry_after: None,
        }
    }

    /// The database failed or did not answer in time: nothing was
    /// written, the same request may be sent again.
    pub fn unavailable() -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Busy, try again")
            .detail("the database did not answer in time or failed; nothing was written, and the same request may be sent again")
    }

    /// A storage failure: 503, logged (never 500, never its text).
    pub fn storage(e: &crate::storage::StorageError) -> Self {
        use crate::storage::StorageError;
        match e {
            StorageError::Corrupt(_) => {
                tracing::error!(error = %e, "stored data is inconsistent");
                ApiError::internal()
            }
            // A value the database refuses to store (PostgreSQL data
            // exceptions, e.g. a NUL in a text): the request's fault, and
            // sending it again will not help.
            StorageError::Sqlx(sqlx::Error::Database(d))
                if d.code().is_some_and(|c| c.starts_with("22")) =>
            {
                tracing::warn!(error = %e, "value refused by the database");
                ApiError::bad_request(
                    "",
                    "a value in the request cannot be stored (control characters?)",
                )
            }
            _ if e.is_busy() => {
                tracing::warn!(error = %e, "database busy");
                ApiError::unavailable()
            }
            _ => {
                tracing::error!(error = %e, "database failure");
                ApiError::unavailable()
            }
        }
    }

    pub fn field(mut self, path: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError::new(path, message));
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    pub fn unauthorized(message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized").field("Authorization", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden").detail(message)
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "Not found")
    }

    pub fn bad_request(path: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "Bad request").field(path, message)
    }

    pub fn internal() -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unreadable(f) => {
                let mut err = ApiError::new(StatusCode::BAD_REQUEST, "Unreadable claim");
                err.detail = Some(f.message.clone());
                err.errors.push(f);
                err
            }
            ServiceError::Invalid(fields) => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid claim");
                err.detail = Some(
                    fields
                        .iter()
                        .map(|f| {
                            if f.path.is_empty() {
                                f.message.clone()
                            } else {
                                format!("{}: {}", f.path, f.message)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                err.errors = fields;
                err
            }
            ServiceError::Forbidden(f) => {
                let mut err = ApiError::forbidden(f.message.clone());
                err.errors.push(f);
                err
            }
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::Conflict { settlement_id } => {
                let mut err = ApiError::new(StatusCode::CONFLICT, "Claim id already used")
                    .detail(format!("a different claim was already settled under this claim id (settlement {settlement_id})"))
                    .field("claim_id", "already used for a different claim; send the same claim to retry, or use a new claim id");
                err.settlement_id = Some(settlement_id);
                err
            }
            ServiceError::Voided { at } => ApiError::new(StatusCode::CONFLICT, "Claim reversed")
                .detail(format!("this claim id was reversed (冲正) at {at} before the claim arrived; it will not be settled — send the claim under a new claim id"))
                .field("claim_id", "reversed (冲正) before it arrived"),
            ServiceError::Storage(e) => ApiError::storage(&e),
            ServiceError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank",
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
            settlement_id: self.settlement_id,
        };
        let bytes = serde_json::to_vec(&body)
            .unwrap_or_else(|_| b"{\"title\":\"Internal error\"}".to_vec());
        let mut resp = (self.status, bytes).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after.or(match self.status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => Some(2),
            _ => None,
        }) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"medaid\""),
            );
        }
        resp
    }
}
