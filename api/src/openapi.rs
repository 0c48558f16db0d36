//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::routes;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "stageflow", description = "Workflow and approval engine for Party and mass organizations. Errors are application/problem+json (RFC 9457)."),
    paths(
        routes::healthz,
        routes::metrics,
        crate::routes::definitions_paths::list,
        crate::routes::definitions_paths::get_one,
        crate::routes::definitions_paths::upload,
        crate::routes::orgs_paths::create,
        crate::routes::orgs_paths::list,
        crate::routes::orgs_paths::get_one,
        crate::routes::orgs_paths::update,
        crate::routes::orgs_paths::remove,
        crate::routes::people_paths::create,
        crate::routes::people_paths::list,
        crate::routes::people_paths::get_one,
        crate::routes::people_paths::update,
        crate::routes::people_paths::remove,
        crate::routes::instances_paths::start,
        crate::routes::instances_paths::get_one,
        crate::routes::instances_paths::history,
        crate::routes::instances_paths::cancel,
        crate::routes::instances_paths::withdraw,
        crate::routes::tasks_paths::inbox,
        crate::routes::tasks_paths::get_one,
        crate::routes::tasks_paths::act,
        crate::routes::tasks_paths::close_step,
        crate::routes::files_paths::upload,
        crate::routes::files_paths::download,
        crate::routes::files_paths::list,
        crate::routes::schedules_paths::list,
        crate::routes::schedules_paths::get_one,
        crate::routes::schedules_paths::preview,
        crate::routes::schedules_paths::pause,
        crate::routes::schedules_paths::resume,
        crate::routes::schedules_paths::trigger,
        crate::routes::reports_paths::overdue,
        crate::routes::reports_paths::pipeline,
        crate::routes::reports_paths::progress,
        crate::routes::reports_paths::person_calendar,
        crate::routes::reports_paths::org_calendar,
        crate::routes::admin_paths::move_clock,
        crate::routes::admin_paths::read_clock,
        crate::routes::admin_paths::failed_mail,
    ),
    modifiers(&Security),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
