//! The one error type of the HTTP API and its mapping to `{"error":{"code","message"}}`
//! with the status codes of PROTOCOL.md.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::storage::StorageError;

/// The body of every refusal: `{"error": {"code", "message"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code and a sentence that says what to do.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first: the token is missing, wrong or expired")]
    Unauthorized,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("too many attempts: wait {retry_after_secs} s and try again")]
    TooManyRequests { retry_after_secs: u64 },
    /// The cursor belongs to another history of the server's database (it was restored
    /// from a backup): sync again from scratch and send again what was sent since.
    #[error("{0}: sync again from the start and send again what was sent since")]
    ResyncRequired(String),
    #[error("{message}: try again in {retry_after_secs} s")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    #[error("server fault: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::ResyncRequired(_) => (StatusCode::CONFLICT, "resync_required"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match self {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Unavailable {
                retry_after_secs, ..
            } => Some(retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound(m) => ApiError::NotFound(m),
            StorageError::Conflict(m) => ApiError::Conflict(m),
            StorageError::Rule(e) => ApiError::Unprocessable(e.to_string()),
            StorageError::Resync(m) => ApiError::ResyncRequired(m),
            StorageError::Busy(m) => ApiError::Unavailable {
                message: m,
                retry_after_secs: 5,
            },
            StorageError::Full(m) => ApiError::Unavailable {
                message: m,
                retry_after_secs: 60,
            },
            StorageError::Database(m) => ApiError::Internal(m),
        }
    }
}
