//! The audit trail of the directory: every change to organizations,
//! people and memberships — who, when, before → after — read by the
//! managers of the organizations it concerns.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::policy::Op;
use crate::{App, Caller};

/// One change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    /// Position in the trail.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a person id, `admin` or `operator`).
    pub actor: String,
    /// `create`, `update`, `delete` or `import`.
    pub action: String,
    /// `org` or `person`.
    pub target_kind: String,
    /// The organization's or person's id.
    pub target_id: String,
    /// The record before (absent for a creation).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The record after (absent for a deletion).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl App {
    /// The audit trail of a subtree the caller manages, newest first.
    pub async fn audit_trail(
        &self,
        caller: &Caller,
        org: &str,
        limit: u32,
    ) -> AppResult<Vec<AuditView>> {
        self.org_for(caller, org, Op::ReadAudit).await?;
        Ok(self
            .store
            .audit_under(org, limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                target_kind: e.target_kind,
                target_id: e.target_id,
                before: e.before,
                after: e.after,
            })
            .collect())
    }
}
