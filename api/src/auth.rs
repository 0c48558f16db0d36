//! Who is calling, as the HTTP adapter reads it: a bearer token (the
//! scheme in any case), a calendar feed's `?token=`, the client's network
//! address. What the caller may do is the application's policy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use stageflow_app::{Caller, Credential};

use crate::AppState;
use crate::error::ApiError;

/// The caller of an API route: `Authorization: Bearer TOKEN`.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Caller);

/// The token of an `Authorization` header whose scheme is `Bearer` (in
/// any case, RFC 9110 §11.1).
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "请发送 `Authorization: Bearer TOKEN`（令牌可用 `stageflow token create --person ID` 创建）",
            )
        })?;
        let token =
            header.to_str().ok().and_then(bearer).ok_or_else(|| {
                ApiError::unauthorized("`Authorization` 请求头应为 `Bearer TOKEN`")
            })?;
        Ok(ApiCaller(
            state.authenticate(token, Credential::Bearer).await?,
        ))
    }
}

/// The caller of a calendar feed: a bearer token as everywhere, or the
/// `?token=` of a feed subscription (calendar apps cannot send headers).
/// A feed token opens the feeds and nothing else.
#[derive(Debug, Clone)]
pub struct FeedCaller(pub Caller);

impl FromRequestParts<AppState> for FeedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return ApiCaller::from_request_parts(parts, state)
                .await
                .map(|c| FeedCaller(c.0));
        }
        let token = parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "请发送 `Authorization: Bearer TOKEN`，或使用「日历订阅」页面上的订阅链接（`?token=…`）",
                )
            })?;
        Ok(FeedCaller(
            state.authenticate(token, Credential::Feed).await?,
        ))
    }
}

/// The client's network address: the connection's peer, or — behind a
/// reverse proxy on the same machine — the last address the proxy added
/// to `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if peer.is_loopback()
            && let Some(forwarded) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Ok(ClientAddr(forwarded));
        }
        Ok(ClientAddr(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer("Bearer sf_x"), Some("sf_x"));
        assert_eq!(bearer("bearer sf_x"), Some("sf_x"));
        assert_eq!(bearer("BEARER   sf_x "), Some("sf_x"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
