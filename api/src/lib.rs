//! The stageflow HTTP adapter (axum): the JSON API under `/api/v1` with
//! problem+json errors and an OpenAPI document generated from the
//! handlers, and the server-rendered web pages.
//!
//! Key design decision: this crate parses, calls and renders. Every
//! operation is a function of the application layer (`stageflow-app`),
//! which authorizes it with its one policy and runs it; a handler reads
//! the request, calls that function and writes its answer. The crate
//! depends on no store and no runtime. The router is built from one route
//! table ([`routes::table`]) that names, for every route, the policy
//! operation it exercises; the server's edges (timeouts, connection
//! limits, security headers) are in [`edges`] and [`server`].

#![deny(missing_docs)]

pub mod auth;
pub mod edges;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod web;

use std::sync::Arc;

use axum::Router;
use stageflow_app::App;

/// What every handler holds: the application.
pub type AppState = Arc<App>;

/// The application's routes with the server's edges around them.
pub fn router(app: AppState) -> Router {
    router_with(app, &edges::Edges::default())
}

/// [`router`] with the edges configured.
pub fn router_with(app: AppState, edges: &edges::Edges) -> Router {
    let mut router: Router<AppState> = Router::new();
    for route in routes::all() {
        router = router.route(route.info.path, route.handler);
    }
    edges.wrap(router.fallback(routes::not_found).with_state(app))
}
