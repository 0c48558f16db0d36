//! What can go wrong in an operation, in the application's terms: the
//! adapters turn an [`AppError`] into a problem+json answer or an error
//! page; the kind decides the status, the code is the problem's stable
//! `type`.

use stageflow_engine::machine::Rejection;
use stageflow_runtime::ExecError;
use stageflow_store::StoreError;

/// The kind of failure (an HTTP adapter maps each to one status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request cannot be read (400).
    BadRequest,
    /// No valid credential (401).
    Unauthorized,
    /// Visible, but not the caller's to do (403).
    Forbidden,
    /// Missing, or outside the caller's scope: the two look the same (404).
    NotFound,
    /// Lost a race, or the thing moved on (409).
    Conflict,
    /// Readable but wrong (422).
    Unprocessable,
    /// Too many attempts, or too soon (429).
    TooManyRequests,
    /// Larger than accepted (413).
    PayloadTooLarge,
    /// Another writer holds the database; retry soon (503).
    Busy,
    /// The database cannot be reached or is full; retry later (503).
    Unavailable,
    /// A defect (500); the detail is logged, never shown.
    Internal,
}

/// A failed operation.
#[derive(Debug)]
pub struct AppError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Stable machine-readable code, e.g. `task-already-decided`.
    pub code: &'static str,
    /// What exactly is wrong.
    pub detail: String,
    /// Extra members (diagnostics, the current state after a conflict).
    pub extra: Option<Box<serde_json::Value>>,
}

/// An operation's result.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A new error.
    pub fn new(kind: ErrorKind, code: &'static str, detail: impl Into<String>) -> AppError {
        AppError {
            kind,
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::BadRequest, "bad-request", detail)
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Unauthorized, "unauthorized", detail)
    }

    /// 403: the caller sees the thing but may not do this.
    pub fn forbidden(detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Forbidden, "forbidden", detail)
    }

    /// 404: missing or outside the caller's scope, in the same words.
    pub fn not_found(detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::NotFound, "not-found", detail)
    }

    /// 409.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Conflict, code, detail)
    }

    /// 422: readable but wrong.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Unprocessable, code, detail)
    }

    /// 429.
    pub fn too_many(code: &'static str, detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::TooManyRequests, code, detail)
    }

    /// 413.
    pub fn too_large(detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::PayloadTooLarge, "payload-too-large", detail)
    }

    /// 500: a defect.
    pub fn internal(detail: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Internal, "internal", detail)
    }

    /// Attaches extra members.
    pub fn with(mut self, extra: serde_json::Value) -> AppError {
        self.extra = Some(Box::new(extra));
        self
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.detail)
    }
}

impl std::error::Error for AppError {}

impl From<Rejection> for AppError {
    fn from(r: Rejection) -> AppError {
        let detail = r.to_string();
        match r {
            Rejection::AlreadyStarted => AppError::conflict("already-started", detail),
            Rejection::NotRunning(_) => AppError::conflict("instance-not-running", detail),
            Rejection::UnknownTask(_) => AppError::not_found(detail),
            Rejection::AlreadyDecided => AppError::conflict("task-already-decided", detail),
            Rejection::NotAnAssignee(_) => AppError::forbidden(detail),
            Rejection::StepNotActive(_) => AppError::conflict("step-not-active", detail),
            Rejection::TooEarly(_) => AppError::invalid("too-early", detail),
            Rejection::TooSoon(_) => AppError::too_many("too-soon", detail),
            Rejection::Waiting(_) => AppError::conflict("waiting-for-signer", detail),
            Rejection::TooLate(_) => AppError::conflict("too-late", detail),
            Rejection::BadOutcome(_) => AppError::invalid("bad-outcome", detail),
            Rejection::BadForm(_) => AppError::invalid("bad-form", detail),
            Rejection::CheckFailed(_) => AppError::invalid("check-failed", detail),
            Rejection::EmptyAssignee { .. } => AppError::invalid("empty-assignee", detail),
            Rejection::WrongKind(_) => AppError::invalid("wrong-kind", detail),
            Rejection::Definition(_) => AppError::invalid("definition-error", detail),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::Conflict(id) => AppError::conflict(
                "conflict",
                format!("流程「{id}」刚被其他操作修改，未作任何更改，请重试"),
            ),
            StoreError::DefinitionExists { id, version } => AppError::conflict(
                "definition-exists",
                format!("流程「{id}」第 {version} 版已经发布，内容与本次不同"),
            ),
            StoreError::NotFound(d) => AppError::invalid("not-found", d),
            StoreError::Invalid(d) => AppError::invalid("invalid", d),
            StoreError::Busy(_) => AppError::new(
                ErrorKind::Busy,
                "busy",
                "数据库正忙（另一项写入正在进行），未作任何更改，请重试",
            ),
            StoreError::Unavailable(why) => AppError::new(
                ErrorKind::Unavailable,
                "database-unavailable",
                format!("无法连接数据库或磁盘空间不足（{why}），未作任何更改，请几秒后重试"),
            ),
            other => AppError::internal(other.to_string()),
        }
    }
}

impl From<ExecError> for AppError {
    fn from(e: ExecError) -> AppError {
        match e {
            ExecError::Rejected(r) => r.into(),
            ExecError::InstanceNotFound(id) => AppError::not_found(format!("找不到流程「{id}」")),
            ExecError::DefinitionNotFound(d) => {
                AppError::invalid("unknown-definition", format!("流程「{d}」尚未发布"))
            }
            ExecError::Conflict(id) => AppError::conflict(
                "conflict",
                format!("流程「{id}」一直在被其他操作修改，请重试"),
            ),
            ExecError::Store(s) => s.into(),
        }
    }
}
