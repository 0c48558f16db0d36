//! Every route, each resource in its own module beside its handlers.

pub mod admin;
pub mod definitions;
pub mod files;
pub mod instances;
pub mod orgs;
pub mod people;
pub mod schedules;
pub mod tasks;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub use admin as admin_paths;
pub use definitions as definitions_paths;
pub use files as files_paths;
pub use instances as instances_paths;
pub use orgs as orgs_paths;
pub use people as people_paths;
pub use schedules as schedules_paths;
pub use tasks as tasks_paths;

pub use admin::ClockRequest;
pub use instances::StartInstance;
pub use orgs::CreateOrg;
pub use people::CreatePerson;
pub use tasks::{ActionRequest, CloseStep};

/// All routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(crate::openapi::document))
        .merge(definitions::routes())
        .merge(orgs::routes())
        .merge(people::routes())
        .merge(instances::routes())
        .merge(tasks::routes())
        .merge(files::routes())
        .merge(schedules::routes())
        .merge(admin::routes())
        .fallback(not_found)
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The server is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

async fn not_found(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError::not_found(format!("no route for {}", uri.path()))
}
