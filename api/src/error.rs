//! Errors as `application/problem+json` (RFC 9457) with a stable `type`.
//!
//! 4xx bodies say precisely what is wrong, in Chinese; 5xx bodies say
//! only 服务器内部错误 and the cause is logged once, here. A 401 says how
//! to authenticate (`WWW-Authenticate`), a 503 when to retry
//! (`Retry-After`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stageflow_app::{AppError, ErrorKind};

/// Base of the problem type URIs.
pub const TYPE_BASE: &str = "urn:stageflow:problem:";

/// The code of a body sent in a type the API does not read (415).
const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported-media-type";

/// The detail of every 500: the cause is logged, never shown.
const INTERNAL_DETAIL: &str = "服务器内部错误，请稍后再试";

/// An error answered by the HTTP adapter: the application's, or one of
/// reading the request.
#[derive(Debug)]
pub struct ApiError(pub AppError);

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:stageflow:problem:KIND`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What exactly is wrong.
    pub detail: String,
    /// Diagnostics of a definition (`path:line:column: message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<String>>,
    /// The current state of what was acted on (for conflicts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
}

/// The status and title of a kind of failure.
pub fn status_of(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, "Bad request"),
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "Authentication required"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "Not found"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "Conflict"),
        ErrorKind::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, "Unprocessable request"),
        ErrorKind::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        ErrorKind::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
        ErrorKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "Busy"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Database unavailable"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        status_of(self.0.kind).0
    }

    /// What is wrong, in words.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// 400: the request cannot be read.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError(AppError::bad_request(detail))
    }

    /// 422: readable but wrong.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError(AppError::invalid(code, detail))
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError(AppError::not_found(detail))
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError(AppError::unauthorized(detail))
    }

    /// 413.
    pub fn too_large(detail: impl Into<String>) -> ApiError {
        ApiError(AppError::too_large(detail))
    }

    /// 415.
    pub fn unsupported_media_type(detail: impl Into<String>) -> ApiError {
        ApiError(AppError::new(
            ErrorKind::BadRequest,
            UNSUPPORTED_MEDIA_TYPE,
            detail,
        ))
    }

    /// 500.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError(AppError::internal(detail))
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let (mut status, title) = status_of(e.kind);
        if e.code == UNSUPPORTED_MEDIA_TYPE {
            status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        }
        if status.is_server_error() {
            tracing::error!(kind = e.code, detail = %e.detail, "request failed");
        }
        // A 503 says what is unavailable (it leaks nothing); other server
        // errors are logged and answered without detail.
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            INTERNAL_DETAIL.to_string()
        } else {
            e.detail
        };
        let mut problem = Problem {
            kind: format!("{TYPE_BASE}{}", e.code),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            diagnostics: None,
            current: None,
        };
        if let Some(extra) = e.extra {
            if let Some(d) = extra.get("diagnostics").and_then(|d| d.as_array()) {
                problem.diagnostics = Some(
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                );
            }
            problem.current = extra.get("current").cloned();
        }
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match e.kind {
            ErrorKind::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ErrorKind::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ErrorKind::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"stageflow\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Turns the framework's own plain-text rejections (a bad path parameter,
/// a wrong method, a timeout) into problem+json, so every error has one
/// shape.
pub async fn problem_for_plain_errors(response: Response) -> Response {
    let status = response.status();
    // Problems, and the web pages' own error pages, stay as they are.
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/problem+json")
                || v.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let (code, title, lead) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "该地址不支持这种请求方法",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "Payload too large", "请求体过大"),
        StatusCode::REQUEST_TIMEOUT => ("request-timeout", "Request timeout", "请求超时，请重试"),
        StatusCode::SERVICE_UNAVAILABLE => ("busy", "Busy", "服务器正忙，请稍后重试"),
        s if s.is_server_error() => ("internal", "Internal error", INTERNAL_DETAIL),
        _ => ("bad-request", "Bad request", "请求有误"),
    };
    // The framework's own words (a path parameter that does not parse)
    // follow the lead in Chinese.
    let detail = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        INTERNAL_DETAIL.to_string()
    } else if text.is_empty() {
        lead.to_string()
    } else {
        format!("{lead}：{text}")
    };
    problem(status, code, title, detail)
}

/// A problem response with a status of the adapter's own.
pub fn problem(status: StatusCode, code: &str, title: &str, detail: String) -> Response {
    let body = Problem {
        kind: format!("{TYPE_BASE}{code}"),
        title: title.to_string(),
        status: status.as_u16(),
        detail,
        diagnostics: None,
        current: None,
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
