//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::routes;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "stageflow", description = "Workflow and approval engine for Party and mass organizations. Errors are application/problem+json (RFC 9457). Who may do what is one policy: outside your organizations a thing answers 404, as if it did not exist."),
    paths(
        routes::healthz,
        routes::metrics,
        routes::definitions::list,
        routes::definitions::get_one,
        routes::definitions::upload,
        routes::orgs::create,
        routes::orgs::list,
        routes::orgs::get_one,
        routes::orgs::update,
        routes::orgs::remove,
        routes::people::create,
        routes::people::list,
        routes::people::get_one,
        routes::people::update,
        routes::people::remove,
        routes::people::audit,
        routes::instances::start,
        routes::instances::get_one,
        routes::instances::history,
        routes::instances::cancel,
        routes::instances::withdraw,
        routes::tasks::inbox,
        routes::tasks::get_one,
        routes::tasks::case_file,
        routes::tasks::act,
        routes::tasks::close_step,
        routes::files::upload,
        routes::files::download,
        routes::files::list,
        routes::schedules::list,
        routes::schedules::get_one,
        routes::schedules::preview,
        routes::schedules::pause,
        routes::schedules::resume,
        routes::schedules::trigger,
        routes::reports::overdue,
        routes::reports::pipeline,
        routes::reports::progress,
        routes::reports::person_calendar,
        routes::reports::org_calendar,
        routes::tokens::list,
        routes::tokens::create,
        routes::tokens::revoke,
        routes::admin::move_clock,
        routes::admin::read_clock,
        routes::admin::failed_mail,
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
