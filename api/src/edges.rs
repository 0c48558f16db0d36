//! The edges every response passes: a request timeout, the framework's
//! plain errors turned into problems, and the security headers — a
//! Content-Security-Policy that allows only this site's own resources and
//! no framing, `nosniff`, no referrer, and HSTS when the site is served
//! over HTTPS. Built from tower-http's layers.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// The site's Content-Security-Policy: its own scripts, styles, images and
/// forms only; never in a frame.
pub const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// How long HSTS asks browsers to insist on HTTPS (one year).
pub const HSTS: &str = "max-age=31536000";

/// The edges' settings.
#[derive(Debug, Clone)]
pub struct Edges {
    /// How long a request may take, its body included (a 10 MiB upload on
    /// a slow line fits).
    pub request_timeout: Duration,
    /// Whether the site is served over HTTPS (`--public-url https://…`):
    /// HSTS on every response. Behind a proxy that says
    /// `X-Forwarded-Proto: https`, HSTS is sent on those responses anyway.
    pub https: bool,
}

impl Default for Edges {
    fn default() -> Edges {
        Edges {
            request_timeout: Duration::from_secs(60),
            https: false,
        }
    }
}

impl Edges {
    /// The router with the edges around it.
    pub fn wrap(&self, router: Router) -> Router {
        let https = self.https;
        router
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                self.request_timeout,
            ))
            .layer(axum::middleware::map_response(
                crate::error::problem_for_plain_errors,
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .layer(axum::middleware::from_fn(
                move |req: Request, next: Next| hsts(https, req, next),
            ))
    }
}

/// HSTS on responses to requests that came over HTTPS.
async fn hsts(https: bool, req: Request, next: Next) -> Response {
    let forwarded_https = req
        .headers()
        .get(HeaderName::from_static("x-forwarded-proto"))
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut response = next.run(req).await;
    if https || forwarded_https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
