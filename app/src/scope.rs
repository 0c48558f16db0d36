//! What the policy needs to know about a thing, read from the store: an
//! organization's path, the paths of a person's organizations, an
//! instance's organization and participants. And the one way an
//! operation asks the policy.

use std::collections::HashMap;

use stageflow_engine::state::InstanceState;
use stageflow_store::{Org, Person};

use crate::caller::ORGANIZER_ROLES;
use crate::error::{AppError, AppResult};
use crate::policy::{self, Denial, InstanceScope, OrgScope, PersonScope, Target};
use crate::{App, Caller};

impl App {
    /// Asks the policy; a thing outside the caller's scope answers as
    /// `missing` says a missing one does.
    pub(crate) fn allow(
        &self,
        caller: &Caller,
        op: policy::Op,
        target: Target<'_>,
        missing: impl FnOnce() -> AppError,
    ) -> AppResult<()> {
        match policy::check(caller, op, target) {
            Ok(()) => Ok(()),
            Err(Denial::Hidden) => Err(missing()),
            Err(Denial::Forbidden(why)) => Err(AppError::forbidden(why)),
            Err(Denial::Unauthenticated) => Err(AppError::unauthorized("该令牌只能用于日历订阅")),
        }
    }

    /// An organization the policy lets the caller do `op` on; missing and
    /// outside the caller's scope answer alike (404).
    pub(crate) async fn org_for(
        &self,
        caller: &Caller,
        org: &str,
        op: policy::Op,
    ) -> AppResult<Org> {
        let missing = || AppError::not_found(format!("找不到组织「{org}」"));
        let (o, scope) = self.org_scoped(org).await?.ok_or_else(missing)?;
        self.allow(caller, op, Target::Org(&scope), missing)?;
        Ok(o)
    }

    /// An organization with what the policy knows of it.
    pub(crate) async fn org_scoped(&self, id: &str) -> AppResult<Option<(Org, OrgScope)>> {
        Ok(self.store.org(id).await?.map(|o| {
            let scope = org_scope(&o);
            (o, scope)
        }))
    }

    /// The paths of organizations by id (missing ones left out).
    pub(crate) async fn paths_of(&self, ids: Vec<String>) -> AppResult<HashMap<String, String>> {
        let mut out = HashMap::new();
        for id in ids {
            if out.contains_key(&id) {
                continue;
            }
            if let Some(o) = self.store.org(&id).await? {
                out.insert(o.id, o.path);
            }
        }
        Ok(out)
    }

    /// A person as the policy sees them: the paths of their organizations,
    /// and of those where they hold an organizer role.
    pub(crate) async fn person_scope(&self, person: &Person) -> AppResult<PersonScope> {
        let ids: Vec<String> = person.memberships.iter().map(|m| m.org.clone()).collect();
        let paths = self.paths_of(ids).await?;
        let leads = person
            .memberships
            .iter()
            .filter(|m| ORGANIZER_ROLES.contains(&m.role.as_str()))
            .filter_map(|m| paths.get(&m.org).cloned())
            .collect();
        Ok(PersonScope {
            id: person.id.clone(),
            paths: dedup(paths.into_values().collect()),
            leads: dedup(leads),
        })
    }

    /// The paths of the top-level organizations: whose the whole tree is.
    pub(crate) async fn tree(&self) -> AppResult<Vec<String>> {
        Ok(self
            .store
            .top_orgs()
            .await?
            .into_iter()
            .map(|o| o.path)
            .collect())
    }

    /// The path of an owner or target that names an organization (`None`:
    /// the whole tree). One that is gone has a path nobody's roles lie in:
    /// it owns nothing anyone manages.
    pub(crate) async fn path_or_gone(&self, org: Option<&str>) -> AppResult<Option<String>> {
        Ok(match org {
            None => None,
            Some(id) => Some(
                self.store
                    .org(id)
                    .await?
                    .map(|o| o.path)
                    .unwrap_or_else(|| gone(id)),
            ),
        })
    }

    /// An instance as the policy sees it.
    pub(crate) async fn instance_scope(
        &self,
        instance: &InstanceState,
    ) -> AppResult<InstanceScope> {
        let org_path = self
            .store
            .org(&instance.subject.org)
            .await?
            .map(|o| o.path)
            // An instance of an organization that is gone: only the admin,
            // its initiator, subject and participants see it.
            .unwrap_or_default();
        Ok(instance_scope(instance, org_path))
    }
}

/// What the policy knows of an organization: its path and its parent's
/// (the path without its last segment).
pub(crate) fn org_scope(o: &Org) -> OrgScope {
    OrgScope {
        path: o.path.clone(),
        parent_path: parent_path(&o.path),
    }
}

/// `/a/b/c/` → `/a/b/`; `None` for a top-level `/a/`.
pub(crate) fn parent_path(path: &str) -> Option<String> {
    let trimmed = path.strip_suffix('/')?;
    let cut = trimmed.rfind('/')?;
    (cut > 0).then(|| trimmed[..=cut].to_string())
}

/// An instance as the policy sees it, given its organization's path.
pub(crate) fn instance_scope(instance: &InstanceState, org_path: String) -> InstanceScope {
    // Everyone who held a task or got a copy (instances stored before
    // `readers` was kept: the current holders).
    let mut participants: Vec<String> = instance
        .readers
        .iter()
        .cloned()
        .chain(instance.tasks.values().map(|t| t.assignee.clone()))
        .collect();
    participants.sort();
    participants.dedup();
    InstanceScope {
        org_path,
        initiator: instance.initiator.clone(),
        subject: instance.subject.person.clone(),
        participants,
    }
}

/// The path of an organization that is gone: under no real path.
pub(crate) fn gone(id: &str) -> String {
    format!("/(gone:{id})/")
}

pub(crate) fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::parent_path;

    #[test]
    fn a_parent_path_drops_the_last_segment() {
        assert_eq!(parent_path("/a/b/c/").as_deref(), Some("/a/b/"));
        assert_eq!(parent_path("/a/b/").as_deref(), Some("/a/"));
        assert_eq!(parent_path("/a/"), None);
        assert_eq!(parent_path(""), None);
    }
}
