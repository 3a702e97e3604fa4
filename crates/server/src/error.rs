//! The one error type of the service, mapped to a status and a JSON
//! `{code, message, field?}` body. 5xx details are logged, never sent.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use optin_core::api::ErrorBody;

/// Seconds a client is asked to wait after a 503 (storage busy or full).
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No or an unknown, expired or revoked bearer token.
    #[error("Sign-in is needed: the access token is missing, expired or revoked.")]
    Unauthorized,
    /// The resource does not exist for this advisor (also used for others' resources).
    #[error("{0} was not found.")]
    NotFound(&'static str),
    /// A field of the request is invalid.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: &'static str,
        message: String,
    },
    /// The request conflicts with what is stored (e.g. a duplicate).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    /// A rule of the consent flow forbids this now (409), possibly until `allowed_at`.
    #[error("{message}")]
    Refused {
        code: &'static str,
        message: String,
        allowed_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The organization's settings forbid this (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The body is not the JSON this route takes.
    #[error("{0}")]
    MalformedBody(String),
    /// The body is larger than the route accepts.
    #[error("The request is too large.")]
    PayloadTooLarge,
    /// The route exists but not with this method.
    #[error("This address does not take that method.")]
    MethodNotAllowed,
    /// The body is not declared as JSON.
    #[error("Send the request body as JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    /// Too many requests from this caller or organization: 429 with `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// The service is at capacity for this kind of request: 503 with `Retry-After`.
    #[error("{message}")]
    Busy {
        code: &'static str,
        message: String,
        /// Seconds after which to try again.
        retry_after: u64,
    },
    /// The request was not sent or answered within the request timeout.
    #[error("The request took too long and was stopped; please try again.")]
    RequestTimeout,
    /// Storage cannot serve now (busy beyond the timeout, disk full, I/O):
    /// 503 with `Retry-After`; the transaction was rolled back, so nothing
    /// is half-written and a provider delivers its webhook again.
    #[error(
        "The service cannot store this right now; nothing was changed. Please try again shortly."
    )]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything unexpected: storage failures and bugs.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// A field of the request is invalid: 422 with its code and field named.
    pub fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            field,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Invalid { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Conflict { code, .. } | Self::Refused { code, .. } => {
                (StatusCode::CONFLICT, code)
            }
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Self::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::TooManyRequests { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            Self::Busy { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// Seconds to wait before trying again, for the refusals that say so
    /// (`Retry-After`): a quota or capacity's own wait, storage's fixed one.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after, .. } | Self::Busy { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::Unavailable(_) => Some(u64::from(RETRY_AFTER_SECONDS)),
            _ => None,
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::Conflict { field, .. } => *field,
            _ => None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Internal(source) => tracing::error!(error = %source, "internal error"),
            Self::Unavailable(source) => {
                tracing::error!(error = %source, "storage unavailable; answered 503")
            }
            _ => {}
        }
        let body = ErrorBody {
            code: code.to_owned(),
            message: self.to_string(),
            field: self.field().map(str::to_owned),
            allowed_at: match &self {
                Self::Refused { allowed_at, .. } => *allowed_at,
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("static header"),
            );
        }
        response
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(Box::new(e))
        } else {
            Self::Internal(Box::new(e))
        }
    }
}

impl From<&str> for AppError {
    fn from(e: &str) -> Self {
        Self::Internal(e.into())
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            _ => Self::MalformedBody(format!(
                "The request body is not valid: {}",
                rejection.body_text()
            )),
        }
    }
}

impl From<BytesRejection> for AppError {
    fn from(rejection: BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            _ => Self::MalformedBody(format!(
                "The request body could not be read: {}",
                rejection.body_text()
            )),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        Self::Invalid {
            code: "invalid_path",
            field: "path",
            message: format!("The address is not valid: {}", rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Invalid {
            code: "invalid_query",
            field: "query",
            message: format!("The query is not valid: {}", rejection.body_text()),
        }
    }
}

/// `Path` whose rejections answer in our error shape (422 `invalid_path`).
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

/// `Query` whose rejections answer in our error shape (422 `invalid_query`).
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// `Json` whose rejections answer in our error shape.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// Result of a handler.
pub type AppResult<T> = Result<T, AppError>;
