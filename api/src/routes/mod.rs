//! The route table: every route of the API and the pages, each with the
//! operation of the policy it exercises. The router is built from this
//! table, so no route escapes it; the authorization matrix test walks it.

pub mod admin;
pub mod definitions;
pub mod files;
pub mod formats;
pub mod instances;
pub mod orgs;
pub mod people;
pub mod reports;
pub mod schedules;
pub mod tasks;
pub mod tokens;

use axum::http::Method;
use axum::routing::MethodRouter;
use stageflow_app::policy::Op;

use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, the OpenAPI document, metrics, the sign-in pages).
    Public,
    /// Anyone signed in.
    SignedIn,
    /// Whoever the policy lets do this operation (on what the route names).
    Op(Op),
}

/// What a route is, for the tests that walk them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Method.
    pub method: &'static str,
    /// Path with `{params}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// A web page (a session cookie; HTML) rather than the JSON API.
    pub page: bool,
}

/// A route with its handler.
pub(crate) struct Route {
    pub info: RouteInfo,
    pub handler: MethodRouter<AppState>,
}

/// An API route.
pub(crate) fn api(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Route {
    route(method, path, access, handler, false)
}

/// A page route.
pub(crate) fn page(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Route {
    route(method, path, access, handler, true)
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
    page: bool,
) -> Route {
    Route {
        info: RouteInfo {
            method: method_name(&method),
            path,
            access,
            page,
        },
        handler,
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        _ => "OTHER",
    }
}

/// Every route: the API's and the pages'.
pub(crate) fn all() -> Vec<Route> {
    let mut routes = vec![
        api(
            Method::GET,
            "/healthz",
            Access::Public,
            axum::routing::get(healthz),
        ),
        api(
            Method::GET,
            "/openapi.json",
            Access::Public,
            axum::routing::get(crate::openapi::document),
        ),
        api(
            Method::GET,
            "/metrics",
            Access::Public,
            axum::routing::get(metrics),
        ),
    ];
    routes.extend(definitions::routes());
    routes.extend(orgs::routes());
    routes.extend(people::routes());
    routes.extend(instances::routes());
    routes.extend(tasks::routes());
    routes.extend(files::routes());
    routes.extend(schedules::routes());
    routes.extend(reports::routes());
    routes.extend(tokens::routes());
    routes.extend(admin::routes());
    routes.extend(crate::web::routes());
    routes
}

/// The route table, without the handlers.
pub fn table() -> Vec<RouteInfo> {
    all().into_iter().map(|r| r.info).collect()
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses((status = 200, description = "The server is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Prometheus text: instances, tasks and mail by status, armed timers,
/// paused schedules.
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), crate::error::ApiError> {
    let mut text = String::new();
    let mut last = String::new();
    for (name, labels, value) in app.metrics().await? {
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

/// The answer for a path no route serves.
pub(crate) async fn not_found(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError::not_found(format!("没有这个地址：{}", uri.path()))
}
