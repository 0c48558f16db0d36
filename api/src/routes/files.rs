//! Files: upload for a task (multipart), download, list an instance's files
//! (材料归档).

use axum::Json;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use stageflow_app::files::{FileView, MAX_FILE_BYTES, Upload};
use stageflow_app::policy::Op;
use uuid::Uuid;

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::POST,
            "/api/v1/tasks/{id}/files",
            Access::Op(Op::ActOnTask),
            post(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)),
        ),
        api(
            Method::GET,
            "/api/v1/files/{id}",
            Access::Op(Op::ReadInstance),
            get(download),
        ),
        api(
            Method::GET,
            "/api/v1/instances/{id}/files",
            Access::Op(Op::ReadInstance),
            get(list),
        ),
    ]
}

/// An upload: one part named `file`.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "describes the multipart body in the OpenAPI document"
)]
pub struct UploadForm {
    /// The file (at most 10 MiB).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a file for a task (its assignee), as `multipart/form-data` with
/// one part named `file`. At most 10 MiB.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/files", tag = "files", params(("id" = Uuid, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "one part named `file`"),
    responses((status = 201, body = FileView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(task): Path<Uuid>,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    // Refused before the body is read.
    app.may_upload(&caller, task).await?;
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
        found = Some(Upload {
            name,
            content_type,
            bytes: bytes.to_vec(),
        });
        break;
    }
    let upload = found.ok_or_else(|| {
        ApiError::unprocessable(
            "invalid-body",
            "请以 multipart 表单中名为 `file` 的部分上传文件",
        )
    })?;
    let meta = app.upload(&caller, task, upload).await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

pub(crate) fn multipart_error(text: &str, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!(
            "文件不能超过 {MAX_FILE_BYTES} 字节（{} MB）",
            MAX_FILE_BYTES / (1024 * 1024)
        ))
    } else {
        ApiError::bad_request(format!("multipart 请求体无法读取：{text}"))
    }
}

/// A file, to whoever may read its instance. PDFs and images may be shown
/// in the page; everything else (HTML and SVG included) is an attachment,
/// sandboxed, never rendered.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, description = "the file's bytes, with its media type", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = crate::error::Problem)))]
pub async fn download(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let file = app.download(&caller, id).await?;
    Ok(file_response(file.meta, file.bytes))
}

/// The response that hands out a file.
pub(crate) fn file_response(meta: FileView, bytes: Vec<u8>) -> Response {
    let inline = stageflow_app::files::SHOWN_INLINE.contains(&meta.content_type.as_str());
    let disposition = format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        ascii_fallback(&meta.name),
        percent(&meta.name)
    );
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&meta.sha256) {
        h.insert("x-content-sha256", v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !inline {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
    }
    response
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

/// The name for clients that read only `filename=`: ASCII, no quotes.
fn ascii_fallback(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ascii.trim_matches('_').is_empty() {
        "file".into()
    } else {
        ascii
    }
}

/// Every file of an instance (材料归档).
#[utoipa::path(get, path = "/api/v1/instances/{id}/files", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, body = [FileView]), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<FileView>>> {
    Ok(Json(app.files(&caller, id).await?))
}
