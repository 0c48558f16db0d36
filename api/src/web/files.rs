//! `/files/{id}`: a file of a case file, for the signed-in reader — the
//! same answer as `GET /api/v1/files/{id}` (PDF and images inline, the rest
//! as sandboxed attachments), with the session instead of a bearer token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use stageflow_app::policy::Op;
use uuid::Uuid;

use super::{error_page, session};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![page(
        Method::GET,
        "/files/{id}",
        Access::Op(Op::ReadInstance),
        get(download),
    )]
}

async fn download(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let s = match session(&app, &headers, &format!("/files/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match app.download(&s.caller, id).await {
        Ok(file) => crate::routes::files::file_response(file.meta, file.bytes),
        Err(e) => error_page(&s, &e),
    }
}
