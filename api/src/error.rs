//! Errors as `application/problem+json` (RFC 9457) with a stable `type`.
//!
//! 4xx bodies say precisely what is wrong; 5xx bodies say "internal error"
//! and the cause is logged once, here.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stageflow_engine::machine::Rejection;
use stageflow_runtime::ExecError;
use stageflow_store::StoreError;

/// Base of the problem type URIs.
pub const TYPE_BASE: &str = "urn:stageflow:problem:";

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable kind, e.g. `task-already-decided`.
    pub kind: &'static str,
    /// Short summary.
    pub title: &'static str,
    /// What exactly is wrong.
    pub detail: String,
    /// Extra members (diagnostics, current state).
    pub extra: Option<Box<serde_json::Value>>,
}

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

impl ApiError {
    /// A new error.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: None,
        }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 422: the request is readable but wrong.
    pub fn unprocessable(kind: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            kind,
            "Unprocessable request",
            detail,
        )
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// 409.
    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, kind, "Conflict", detail)
    }

    /// Attaches extra members.
    pub fn with(mut self, extra: serde_json::Value) -> ApiError {
        self.extra = Some(Box::new(extra));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(kind = self.kind, detail = %self.detail, "request failed");
        }
        // A 503 says what is unavailable (it leaks nothing); other server
        // errors are logged and answered without detail.
        let detail =
            if self.status.is_server_error() && self.status != StatusCode::SERVICE_UNAVAILABLE {
                "internal error".to_string()
            } else {
                self.detail
            };
        let mut problem = Problem {
            kind: format!("{TYPE_BASE}{}", self.kind),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail,
            diagnostics: None,
            current: None,
        };
        if let Some(extra) = self.extra {
            if let Some(d) = extra.get("diagnostics").and_then(|d| d.as_array()) {
                problem.diagnostics = Some(
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                );
            }
            problem.current = extra.get("current").cloned();
        }
        let mut response = (self.status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            let wait = if self.kind == "busy" { "1" } else { "5" };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(wait));
        }
        response
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> ApiError {
        let detail = r.to_string();
        match r {
            Rejection::AlreadyStarted => ApiError::conflict("already-started", detail),
            Rejection::NotRunning(_) => ApiError::conflict("instance-not-running", detail),
            Rejection::UnknownTask(_) => ApiError::not_found(detail),
            Rejection::AlreadyDecided => ApiError::conflict("task-already-decided", detail),
            Rejection::NotAnAssignee(_) => ApiError::forbidden(detail),
            Rejection::StepNotActive(_) => ApiError::conflict("step-not-active", detail),
            Rejection::TooEarly(_) => ApiError::unprocessable("too-early", detail),
            Rejection::TooSoon(_) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-soon",
                "Too soon",
                detail,
            ),
            Rejection::Waiting(_) => ApiError::conflict("waiting-for-signer", detail),
            Rejection::TooLate(_) => ApiError::conflict("too-late", detail),
            Rejection::BadOutcome(_) => ApiError::unprocessable("bad-outcome", detail),
            Rejection::BadForm(_) => ApiError::unprocessable("bad-form", detail),
            Rejection::CheckFailed(_) => ApiError::unprocessable("check-failed", detail),
            Rejection::EmptyAssignee { .. } => ApiError::unprocessable("empty-assignee", detail),
            Rejection::WrongKind(_) => ApiError::unprocessable("wrong-kind", detail),
            Rejection::Definition(_) => ApiError::unprocessable("definition-error", detail),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(_) => ApiError::conflict("conflict", e.to_string()),
            StoreError::DefinitionExists { .. } => {
                ApiError::conflict("definition-exists", e.to_string())
            }
            StoreError::NotFound(d) => ApiError::unprocessable("not-found", d),
            StoreError::Invalid(d) => ApiError::unprocessable("invalid", d),
            StoreError::Busy(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "the database is busy (another writer holds it); nothing was changed, retry",
            ),
            StoreError::Unavailable(why) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "Database unavailable",
                format!(
                    "the database cannot be reached or is out of space ({why}); nothing was changed, retry in a few seconds"
                ),
            ),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                other.to_string(),
            ),
        }
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> ApiError {
        match e {
            ExecError::Rejected(r) => r.into(),
            ExecError::InstanceNotFound(id) => {
                ApiError::not_found(format!("instance {id} not found"))
            }
            ExecError::DefinitionNotFound(d) => ApiError::unprocessable(
                "unknown-definition",
                format!("workflow '{d}' is not published"),
            ),
            ExecError::Conflict(id) => {
                ApiError::conflict("conflict", format!("instance {id} kept changing; retry"))
            }
            ExecError::Store(s) => s.into(),
        }
    }
}

/// A handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Turns the framework's own plain-text rejections (a bad path parameter,
/// a wrong method) into problem+json, so every error has one shape.
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
    let (kind, title) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "Payload too large"),
        s if s.is_server_error() => ("internal", "Internal error"),
        _ => ("bad-request", "Bad request"),
    };
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    ApiError::new(status, kind, title, detail).into_response()
}
