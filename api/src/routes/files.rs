//! Files: upload for a task (multipart), download, list an instance's files
//! (材料归档).

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stageflow_engine::machine::Command;
use stageflow_store::FileMeta;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routes::instances::{load, require_visible};

/// Largest file accepted (10 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/tasks/{id}/files",
            post(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)),
        )
        .route("/api/v1/files/{id}", get(download))
        .route("/api/v1/instances/{id}/files", get(list))
}

/// A stored file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileView {
    /// Id; put it in the task's `file` form field.
    pub id: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Task it was uploaded for.
    pub task: Uuid,
    /// File name.
    pub name: String,
    /// Media type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex), also recorded in the history.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// Where to download it.
    pub url: String,
}

impl From<FileMeta> for FileView {
    fn from(m: FileMeta) -> FileView {
        FileView {
            url: format!("/api/v1/files/{}", m.id),
            id: m.id,
            instance: m.instance,
            task: m.task,
            name: m.name,
            content_type: m.content_type,
            size: m.size,
            sha256: m.sha256,
            uploaded_by: m.uploaded_by,
        }
    }
}

/// Uploads a file for a task (its assignee), as `multipart/form-data` with
/// one part named `file`. At most 10 MiB.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/files", tag = "files", params(("id" = Uuid, Path)),
    request_body(content_type = "multipart/form-data", description = "one part named `file`"),
    responses((status = 201, body = FileView), (status = 403, body = crate::error::Problem), (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(task): Path<Uuid>,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    // 404 before the body is read.
    state
        .store
        .task(task)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {task} not found")))?;
    let mut found = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e.body_text(), e.status()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_string();
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_error(&e.body_text(), e.status()))?;
        found = Some((name, content_type, bytes));
        break;
    }
    let (name, content_type, bytes) = found.ok_or_else(|| {
        ApiError::unprocessable(
            "invalid-body",
            "send the file as a multipart part named `file`",
        )
    })?;
    let meta = store_upload(&state, &caller, task, name, content_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(meta.into())))
}

/// Stores an uploaded file of a task (the API's upload and the web form
/// share it): size limits, SHA-256, the upload recorded in the history
/// first (which refuses a stranger), then the bytes.
pub(crate) async fn store_upload(
    state: &AppState,
    caller: &Caller,
    task: Uuid,
    name: String,
    content_type: String,
    bytes: axum::body::Bytes,
) -> ApiResult<FileMeta> {
    let row = state
        .store
        .task(task)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {task} not found")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("files may be at most {MAX_FILE_BYTES} bytes"),
        ));
    }
    if bytes.is_empty() {
        return Err(ApiError::unprocessable("invalid-body", "the file is empty"));
    }
    let meta = FileMeta {
        id: Uuid::new_v4(),
        instance: row.instance,
        task,
        name: name.clone(),
        content_type,
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        uploaded_by: caller.person.clone(),
    };
    // The history records the upload (and refuses a stranger); the bytes
    // are stored in the same transaction.
    let command = Command::AttachFile {
        task,
        actor: caller.person.clone(),
        file: meta.id,
        name,
        size: meta.size,
        sha256: meta.sha256.clone(),
    };
    state
        .runtime
        .execute_attaching(row.instance, &command, state.clock.now(), &meta, &bytes)
        .await?;
    Ok(meta)
}

fn multipart_error(text: &str, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "payload-too-large",
            "Payload too large",
            format!("files may be at most {MAX_FILE_BYTES} bytes"),
        )
    } else {
        ApiError::bad_request(format!("cannot read the multipart body: {text}"))
    }
}

/// Downloads a file (whoever may see its instance).
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, description = "the file's bytes", content_type = "application/octet-stream"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let (meta, bytes) = state
        .store
        .file(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("file {id} not found")))?;
    let instance = load(&state, meta.instance).await?;
    require_visible(&state, &caller, &instance).await?;
    let disposition = format!("attachment; filename*=UTF-8''{}", percent(&meta.name));
    Ok((
        [
            (header::CONTENT_TYPE, meta.content_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-content-sha256"),
                meta.sha256.clone(),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn percent(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every file of an instance (材料归档).
#[utoipa::path(get, path = "/api/v1/instances/{id}/files", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, body = [FileView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<FileView>>> {
    let instance = load(&state, id).await?;
    require_visible(&state, &caller, &instance).await?;
    Ok(Json(
        state
            .store
            .instance_files(id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}
