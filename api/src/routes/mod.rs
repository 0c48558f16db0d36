//! Every route, each resource in its own module beside its handlers.

pub mod admin;
pub mod definitions;
pub mod files;
pub mod instances;
pub mod orgs;
pub mod people;
pub mod reports;
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
pub use reports as reports_paths;
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
        .route("/metrics", get(metrics))
        .merge(definitions::routes())
        .merge(orgs::routes())
        .merge(people::routes())
        .merge(instances::routes())
        .merge(tasks::routes())
        .merge(files::routes())
        .merge(schedules::routes())
        .merge(reports::routes())
        .merge(admin::routes())
        .fallback(not_found)
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The server is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Prometheus text: instances, tasks and mail by status, armed timers,
/// paused schedules.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), crate::error::ApiError> {
    let mut text = String::new();
    let mut last = String::new();
    for (name, labels, value) in state.store.metrics().await? {
        if name != last {
            text.push_str(&format!("# TYPE {name} gauge\n"));
            last = name.clone();
        }
        if labels.is_empty() {
            text.push_str(&format!("{name} {value}\n"));
        } else {
            text.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    ))
}

async fn not_found(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError::not_found(format!("no route for {}", uri.path()))
}
