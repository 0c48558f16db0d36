//! Authentication by bearer token and the authorization rules.
//!
//! Tokens are random (244 bits) and stored only as their SHA-256. The
//! bootstrap admin token comes from `STAGEFLOW_ADMIN_TOKEN` and sees and
//! manages everything. A person sees their own tasks; organizers
//! (书记, 副书记, 组织委员, 组织员, 组织部门) manage the subtree of the
//! organizations where they hold such a role.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use stageflow_store::{Membership, TokenKind};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// Roles that manage an organization's subtree.
pub const ORGANIZER_ROLES: &[&str] = &[
    "secretary",
    "deputy_secretary",
    "organization_member",
    "org_officer",
    "org_department",
];

/// Person id used for the admin's own actions.
pub const ADMIN: &str = "admin";

/// A new random token.
pub fn new_token() -> String {
    format!("sf_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Person id (`admin` for the admin token).
    pub person: String,
    /// The person's name as the pages show it (the id when unknown).
    pub name: String,
    /// Whether this is the admin.
    pub admin: bool,
    /// The caller's roles.
    pub memberships: Vec<Membership>,
    /// Paths of the organizations the caller manages.
    pub managed_paths: Vec<String>,
}

impl Caller {
    /// Whether the caller manages an organization (by its path).
    pub fn manages_path(&self, path: &str) -> bool {
        self.admin
            || self
                .managed_paths
                .iter()
                .any(|p| path.starts_with(p.as_str()))
    }

    /// Whether the caller manages a top-level organization (and so the
    /// schedules that run over the whole tree).
    pub fn manages_a_root(&self) -> bool {
        self.admin
            || self
                .managed_paths
                .iter()
                .any(|p| p.matches('/').count() == 2)
    }

    /// Whether the caller organizes anything at all.
    pub fn is_organizer(&self) -> bool {
        self.admin || !self.managed_paths.is_empty()
    }

    /// Whether the caller manages an organization (by id).
    pub async fn manages(&self, state: &AppState, org: &str) -> Result<bool, ApiError> {
        if self.admin {
            return Ok(true);
        }
        Ok(match state.store.org(org).await? {
            Some(o) => self.manages_path(&o.path),
            None => false,
        })
    }

    /// Refuses unless the caller manages the organization.
    pub async fn require_manages(&self, state: &AppState, org: &str) -> Result<(), ApiError> {
        if self.manages(state, org).await? {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "you do not manage organization '{org}': this needs an organizer role (书记, 副书记, 组织委员, 组织员 or 组织部门) in it or above it"
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer TOKEN` (create one with `stageflow token create --person ID`)"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`")
            })?;
        caller_for_token(state, token, TokenKind::Personal).await
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
            return Caller::from_request_parts(parts, state)
                .await
                .map(FeedCaller);
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
                    "send `Authorization: Bearer TOKEN`, or subscribe with the feed link from the 日历订阅 page (`?token=…`)",
                )
            })?;
        caller_for_token(state, token, TokenKind::Feed)
            .await
            .map(FeedCaller)
    }
}

/// Who a token of a kind belongs to (a bearer token, a web session, a
/// feed subscription), with their roles and the organizations they manage.
/// The admin token is a bearer token only.
pub async fn caller_for_token(
    state: &AppState,
    token: &str,
    kind: TokenKind,
) -> Result<Caller, ApiError> {
    if let Some(admin) = &state.config.admin_token
        && kind == TokenKind::Personal
        && constant_time_eq(admin.as_bytes(), token.as_bytes())
    {
        return Ok(Caller {
            person: ADMIN.into(),
            name: ADMIN.into(),
            admin: true,
            memberships: Vec::new(),
            managed_paths: Vec::new(),
        });
    }
    let holder = state
        .store
        .token_holder(&hash_token(token), kind, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is not valid"))?;
    let managed_paths = holder
        .roles
        .iter()
        .filter(|(m, path)| ORGANIZER_ROLES.contains(&m.role.as_str()) && !path.is_empty())
        .map(|(_, path)| path.clone())
        .collect();
    Ok(Caller {
        name: holder.name.unwrap_or_else(|| holder.person.clone()),
        person: holder.person,
        admin: false,
        memberships: holder.roles.into_iter().map(|(m, _)| m).collect(),
        managed_paths,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
