//! The edges every response passes: a request timeout, the framework's
//! plain errors turned into problems, and the security headers — a
//! Content-Security-Policy that allows only this site's own resources and
//! no framing, `nosniff`, no referrer, and HSTS when the site is served
//! over HTTPS. Built from tower-http's layers.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
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
            .layer(axum::middleware::from_fn(same_site_forms))
    }
}

/// A form posted to a page from another site is refused: the sign-in
/// forms carry no session to take a CSRF token from. A browser says where
/// a request came from: `Sec-Fetch-Site` (every current browser), else
/// `Origin` (which, under `Referrer-Policy: no-referrer`, a browser sends
/// as `null` even for its own site's forms — so `Sec-Fetch-Site` is read
/// first). Requests with neither (scripts, the API's clients) pass; the
/// API authenticates by bearer token, which a cross-site form cannot send.
async fn same_site_forms(req: Request, next: Next) -> Response {
    let page_post =
        req.method() == axum::http::Method::POST && !req.uri().path().starts_with("/api/");
    if page_post && from_another_site(req.headers()) {
        return crate::web::cross_site_form();
    }
    next.run(req).await
}

fn from_another_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user's own action (typed, bookmarked).
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    // The host the browser addressed: `Host`, or the one a reverse proxy
    // says it was (a cross-site form cannot set that header).
    let addressed = [header::HOST, HeaderName::from_static("x-forwarded-host")]
        .into_iter()
        .filter_map(|h| headers.get(h).and_then(|v| v.to_str().ok()))
        .any(|host| Some(host) == origin_host);
    !addressed
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
