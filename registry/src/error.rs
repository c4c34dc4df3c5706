//! The one error type of the API. Every failure becomes a JSON body of the spec's error
//! table; internals are logged with the request id and never sent to the client.

use crate::request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fleet_protocol::{ApiError, ErrorCode};

/// A failed request, by what the client should do about it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    InvalidTransition(String),
    #[error(
        "agent {sekuire_id} changed since revision {expected}; it is now at revision {current}"
    )]
    PreconditionFailed {
        sekuire_id: String,
        expected: i64,
        current: i64,
    },
    #[error(
        "request body is over the limit of {} bytes",
        fleet_protocol::MAX_BODY_BYTES
    )]
    PayloadTooLarge,
    #[error("too many requests for this key; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("too many requests from this address; retry in {retry_after_secs} s")]
    AddressRateLimited { retry_after_secs: u64 },
    /// Event streams over their cap: retried after [`STREAM_RETRY_SECS`].
    #[error("{0}")]
    TooManyStreams(String),
    /// A bug or an outage: logged in full, reported to the client only by request id.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// When a client refused an event stream should try again.
pub const STREAM_RETRY_SECS: u64 = 30;

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::InvalidTransition(_) => ErrorCode::InvalidTransition,
            Self::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::RateLimited { .. }
            | Self::AddressRateLimited { .. }
            | Self::TooManyStreams(_) => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn unknown_agent(sekuire_id: &str) -> Self {
        Self::NotFound(format!("no agent with Sekuire ID {sekuire_id}"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<sqlx::migrate::MigrateError> for AppError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Internal(err.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let request_id = request_id::current();
        let code = self.code();
        let message = match &self {
            Self::Internal(err) => {
                tracing::error!(request_id = %request_id, error = ?err, "internal error");
                format!("internal error; quote request id {request_id} when reporting it")
            }
            other => other.to_string(),
        };
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ApiError {
            error: code,
            message,
            request_id: Some(request_id),
        };
        let retry_after = match self {
            Self::RateLimited { retry_after_secs }
            | Self::AddressRateLimited { retry_after_secs } => Some(retry_after_secs),
            Self::TooManyStreams(_) => Some(STREAM_RETRY_SECS),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
