//! Organizations: read within one's scope, created under a parent one
//! manages, renamed by their managers, restructured (kind, parent,
//! deletion) from above.

use serde::Deserialize;
use stageflow_store::{Audit, NewOrg, OrgPatch};
use utoipa::ToSchema;

use crate::definitions::unknown_org;
use crate::error::{AppError, AppResult};
use crate::policy::{Op, Target};
use crate::validate;
use crate::views::{OrgView, PersonView};
use crate::{App, Caller};

/// A new organization.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgInput {
    /// Id (the safe alphabet); generated when absent.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Kind (党委, 党总支, 党支部, 党小组, 工会, 团委, 妇委会, ...).
    pub kind: String,
    /// Parent; a top-level organization when absent (the admin only).
    pub parent: Option<String>,
    /// Start of the current term (YYYY-MM-DD).
    pub term_start: Option<String>,
    /// Term length in years.
    pub term_years: Option<u32>,
}

/// Changes to an organization; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgChange {
    /// New name.
    pub name: Option<String>,
    /// New kind (decided from above: the parent's managers).
    pub kind: Option<String>,
    /// New parent (moves the subtree; the current parent's managers, who
    /// must manage the new parent too).
    pub parent: Option<String>,
    /// New term start (YYYY-MM-DD).
    pub term_start: Option<String>,
    /// New term length in years.
    pub term_years: Option<u32>,
}

/// A subtree with its people (the console's 组织和人员).
#[derive(Debug, Clone)]
pub struct OrgDirectory {
    /// The organizations, by path (the root first).
    pub units: Vec<(OrgView, usize)>,
    /// The people with a role in the subtree, with their roles there.
    pub people: Vec<PersonView>,
}

fn org_missing(id: &str) -> AppError {
    AppError::not_found(format!("找不到组织「{id}」"))
}

impl App {
    /// The organizations the caller may see (their members' own and the
    /// subtrees they manage), in a subtree and of a kind when asked.
    pub async fn orgs(
        &self,
        caller: &Caller,
        under: Option<&str>,
        kind: Option<&str>,
    ) -> AppResult<Vec<OrgView>> {
        let all = self.store.orgs_under(under, kind).await?;
        Ok(all
            .into_iter()
            .filter(|o| {
                let scope = crate::scope::org_scope(o);
                crate::policy::check(caller, Op::ReadOrg, Target::Org(&scope)).is_ok()
            })
            .map(Into::into)
            .collect())
    }

    /// One organization.
    pub async fn org(&self, caller: &Caller, id: &str) -> AppResult<OrgView> {
        let (org, scope) = self.org_scoped(id).await?.ok_or_else(|| org_missing(id))?;
        self.allow(caller, Op::ReadOrg, Target::Org(&scope), || org_missing(id))?;
        Ok(org.into())
    }

    /// Creates an organization under one the caller manages (a top-level
    /// one: the admin).
    pub async fn create_org(&self, caller: &Caller, input: NewOrgInput) -> AppResult<OrgView> {
        if let Some(id) = &input.id {
            validate::id("organization", id)?;
        }
        validate::name("name", &input.name)?;
        validate::name("kind", &input.kind)?;
        if let Some(d) = &input.term_start {
            validate::date("term_start", d)?;
        }
        match &input.parent {
            Some(p) => {
                let (_, scope) = self.org_scoped(p).await?.ok_or_else(|| unknown_org(p))?;
                self.allow(caller, Op::CreateOrg, Target::Org(&scope), || {
                    unknown_org(p)
                })?;
            }
            None => self.allow(caller, Op::CreateOrg, Target::System, || {
                AppError::forbidden("只有管理员可以新建顶层组织")
            })?,
        }
        let org = self
            .store
            .create_org(
                &NewOrg {
                    id: input.id,
                    name: input.name.trim().to_string(),
                    kind: input.kind.trim().to_string(),
                    parent: input.parent,
                    term_start: input.term_start,
                    term_years: input.term_years,
                },
                &self.audit(caller),
            )
            .await?;
        Ok(org.into())
    }

    /// Changes an organization: its managers rename it and set its term;
    /// its kind and parent are changed from above.
    pub async fn update_org(
        &self,
        caller: &Caller,
        id: &str,
        change: OrgChange,
    ) -> AppResult<OrgView> {
        let (org, scope) = self.org_scoped(id).await?.ok_or_else(|| org_missing(id))?;
        self.allow(caller, Op::ChangeOrg, Target::Org(&scope), || {
            org_missing(id)
        })?;
        let moves = change
            .parent
            .as_deref()
            .is_some_and(|p| org.parent.as_deref() != Some(p));
        let rekinds = change.kind.as_deref().is_some_and(|k| k != org.kind);
        if moves || rekinds {
            self.allow(caller, Op::RestructureOrg, Target::Org(&scope), || {
                org_missing(id)
            })?;
        }
        if let (true, Some(p)) = (moves, &change.parent) {
            let (_, to) = self.org_scoped(p).await?.ok_or_else(|| unknown_org(p))?;
            self.allow(caller, Op::CreateOrg, Target::Org(&to), || unknown_org(p))?;
        }
        if let Some(n) = &change.name {
            validate::name("name", n)?;
        }
        if let Some(k) = &change.kind {
            validate::name("kind", k)?;
        }
        if let Some(d) = &change.term_start {
            validate::date("term_start", d)?;
        }
        let org = self
            .store
            .update_org(
                id,
                &OrgPatch {
                    name: change.name.map(|n| n.trim().to_string()),
                    kind: change.kind.map(|k| k.trim().to_string()),
                    parent: change.parent,
                    term_start: change.term_start,
                    term_years: change.term_years,
                },
                &self.audit(caller),
            )
            .await?;
        Ok(org.into())
    }

    /// Deletes an empty organization (no sub-organizations, members or
    /// instances): its parent's managers.
    pub async fn delete_org(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let (_, scope) = self.org_scoped(id).await?.ok_or_else(|| org_missing(id))?;
        self.allow(caller, Op::RestructureOrg, Target::Org(&scope), || {
            org_missing(id)
        })?;
        self.store.delete_org(id, &self.audit(caller)).await?;
        Ok(())
    }

    /// A subtree the caller manages, with its people and their roles.
    pub async fn org_directory(&self, caller: &Caller, root: &str) -> AppResult<OrgDirectory> {
        let org = self.org_for(caller, root, Op::ReadReports).await?;
        let depth0 = org.path.matches('/').count();
        let units = self
            .store
            .orgs_under(Some(root), None)
            .await?
            .into_iter()
            .map(|u| {
                let depth = u.path.matches('/').count().saturating_sub(depth0);
                (OrgView::from(u), depth)
            })
            .collect();
        let people = self
            .store
            .people_under(Some(root))
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(OrgDirectory { units, people })
    }

    /// The organizations the caller manages by an organizer role, by name
    /// (the console's choices).
    pub async fn managed_orgs(&self, caller: &Caller) -> AppResult<Vec<OrgView>> {
        let mut out = Vec::new();
        for id in caller.managed_orgs() {
            if let Some(o) = self.store.org(&id).await? {
                out.push(o.into());
            }
        }
        Ok(out)
    }

    /// Who changes the directory, now.
    pub(crate) fn audit<'a>(&self, caller: &'a Caller) -> Audit<'a> {
        Audit {
            actor: &caller.person,
            at: self.now(),
        }
    }
}
