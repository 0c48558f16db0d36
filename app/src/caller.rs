//! Who is calling: a person with their roles (each with its organization's
//! path), the admin, or the operator at the command line; and how they
//! proved it (a bearer token, a web session, a calendar feed token).
//!
//! Authentication ends here: a token becomes a [`Caller`]. What the
//! caller may do is decided in [`crate::policy`] alone.

use sha2::{Digest, Sha256};
use stageflow_store::TokenKind;
use uuid::Uuid;

use crate::App;
use crate::error::{AppError, AppResult};

/// Person id recorded for the admin's own actions.
pub const ADMIN: &str = "admin";
/// Person id recorded for the operator's (the command line's) actions.
pub const OPERATOR: &str = "operator";

/// Roles that manage an organization's subtree.
pub const ORGANIZER_ROLES: &[&str] = &[
    "secretary",
    "deputy_secretary",
    "organization_member",
    "org_officer",
    "org_department",
];

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The bootstrap admin token (`STAGEFLOW_ADMIN_TOKEN`).
    Admin,
    /// The command line, run by whoever operates the database.
    Operator,
    /// A personal bearer token of the API.
    Bearer,
    /// A signed-in browser.
    Session,
    /// A calendar subscription link: it opens the feeds and nothing else.
    Feed,
}

/// A role the caller holds, with its organization's path
/// (`/county/jiguan/zb1/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Organization id.
    pub org: String,
    /// The organization's path.
    pub path: String,
    /// Role id (`secretary`, `full_member`, …).
    pub role: String,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Person id (`admin` / `operator` for those).
    pub person: String,
    /// The name pages show.
    pub name: String,
    /// How they proved it.
    pub credential: Credential,
    /// Their roles.
    pub roles: Vec<Role>,
}

impl Caller {
    /// The command line: the operator of the database may do what the
    /// admin may.
    pub fn operator() -> Caller {
        Caller {
            person: OPERATOR.into(),
            name: "运维人员".into(),
            credential: Credential::Operator,
            roles: Vec::new(),
        }
    }

    /// The bootstrap admin.
    pub fn admin() -> Caller {
        Caller {
            person: ADMIN.into(),
            name: "管理员".into(),
            credential: Credential::Admin,
            roles: Vec::new(),
        }
    }

    /// Whether this is the admin or the operator.
    pub fn is_admin(&self) -> bool {
        matches!(self.credential, Credential::Admin | Credential::Operator)
    }

    /// The paths of the organizations the caller manages by an organizer
    /// role (each the root of a subtree).
    pub fn managed_paths(&self) -> impl Iterator<Item = &str> {
        self.roles
            .iter()
            .filter(|r| ORGANIZER_ROLES.contains(&r.role.as_str()))
            .map(|r| r.path.as_str())
    }

    /// The organizations the caller manages by an organizer role, by id,
    /// each once (the console's organization choices).
    pub fn managed_orgs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.roles {
            if ORGANIZER_ROLES.contains(&r.role.as_str()) && !out.contains(&r.org) {
                out.push(r.org.clone());
            }
        }
        out
    }
}

/// A new random token (244 bits).
pub fn new_token() -> String {
    format!("sf_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// The stored form of a token: only its SHA-256 is kept.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl App {
    /// Who holds a token presented with a credential: a bearer token of the
    /// API (or the admin token), a web session, a calendar feed token.
    /// Unknown, expired and revoked tokens are 401.
    pub async fn authenticate(&self, token: &str, credential: Credential) -> AppResult<Caller> {
        let token = token.trim();
        if let Some(admin) = &self.config.admin_token
            && credential == Credential::Bearer
            && constant_time_eq(admin.as_bytes(), token.as_bytes())
        {
            return Ok(Caller::admin());
        }
        let kind = match credential {
            Credential::Bearer => TokenKind::Personal,
            Credential::Session => TokenKind::Session,
            Credential::Feed => TokenKind::Feed,
            Credential::Admin | Credential::Operator => {
                return Err(AppError::unauthorized("令牌无效"));
            }
        };
        let holder = self
            .store
            .token_holder(&hash_token(token), kind, self.now())
            .await?
            .ok_or_else(|| AppError::unauthorized("令牌无效、已过期或已被撤销"))?;
        Ok(Caller {
            name: holder.name.unwrap_or_else(|| holder.person.clone()),
            person: holder.person,
            credential,
            roles: holder
                .roles
                .into_iter()
                .filter(|(_, path)| !path.is_empty())
                .map(|(m, path)| Role {
                    org: m.org,
                    path,
                    role: m.role,
                })
                .collect(),
        })
    }
}
