//! Definitions: the published workflows, each version owned by an
//! organization (the shipped library by the whole tree), publishing a new
//! one or a new version, and the library published at start.
//!
//! Ownership decides three things: who may publish the next version (the
//! managers of the organization that owns the first), what its schedules
//! may start instances in (the owner's subtree, managed by the publisher),
//! and which version an organization runs (the newest whose owner is that
//! organization or above it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use stageflow_engine::Definition;
use stageflow_store::DefinitionSummary;

use crate::error::{AppError, AppResult};
use crate::policy::{DefinitionScope, Op, ScheduleScope, Target, within};
use crate::views::{DefinitionSummaryView, DefinitionView, definition_view};
use crate::{App, Caller};

/// What publishing was asked to do.
#[derive(Debug, Clone)]
pub struct Publish {
    /// The name shown in `path:line:column` diagnostics.
    pub filename: String,
    /// The YAML.
    pub source: String,
    /// The owning organization; by default the owner of the id's earlier
    /// versions, or for a new id the highest organization the publisher
    /// manages (the whole tree for the admin).
    pub owner: Option<String>,
}

impl App {
    /// The definitions the caller may see, newest version of each first.
    pub async fn definitions(&self, caller: &Caller) -> AppResult<Vec<DefinitionSummaryView>> {
        let all = self.store.list_definitions().await?;
        let paths = self.owner_paths(&all).await?;
        let mut out = Vec::new();
        for d in all {
            let scope = DefinitionScope {
                owner_path: owner_path(&paths, d.owner.as_deref()),
            };
            if crate::policy::check(caller, Op::ReadDefinition, Target::Definition(&scope)).is_ok()
            {
                out.push(DefinitionSummaryView {
                    id: d.id,
                    version: d.version,
                    name: d.name,
                    owner: d.owner,
                });
            }
        }
        Ok(out)
    }

    /// One definition with its source (the newest version when `None`).
    pub async fn definition(
        &self,
        caller: &Caller,
        id: &str,
        version: Option<u32>,
    ) -> AppResult<DefinitionView> {
        let missing = || AppError::not_found(format!("workflow '{id}' is not published"));
        let stored = self
            .store
            .definition(id, version)
            .await?
            .ok_or_else(missing)?;
        let scope = DefinitionScope {
            owner_path: self.path_of_owner(stored.owner.as_deref()).await?,
        };
        self.allow(
            caller,
            Op::ReadDefinition,
            Target::Definition(&scope),
            missing,
        )?;
        Ok(definition_view(
            &stored.definition,
            stored.source,
            stored.owner,
        ))
    }

    /// Publishes a definition: 422 with the same `path:line:column`
    /// diagnostics as `stageflow validate`, 409 when the version exists
    /// with other content.
    pub async fn publish(&self, caller: &Caller, p: Publish) -> AppResult<DefinitionSummaryView> {
        let loaded = stageflow_workflows::load_str(&p.filename, &p.source).map_err(|diags| {
            let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            let problems: Vec<serde_json::Value> = diags
                .iter()
                .map(|d| {
                    serde_json::json!({ "line": d.pos.line, "column": d.pos.column,
                                        "message": d.message, "help": d.help })
                })
                .collect();
            AppError::invalid(
                "invalid-definition",
                format!("{} problem(s) in {}", diags.len(), p.filename),
            )
            .with(serde_json::json!({ "diagnostics": lines, "problems": problems }))
        })?;
        let def = loaded.definition;
        crate::validate::id("workflow", &def.id)?;
        let all = self.store.list_definitions().await?;
        // The id's owner: the owner of its first version.
        let lineage = all
            .iter()
            .filter(|d| d.id == def.id)
            .min_by_key(|d| d.version)
            .map(|d| d.owner.clone());
        let owner = match (&p.owner, &lineage) {
            (Some(o), _) => Some(o.clone()),
            (None, Some(first)) => first.clone(),
            (None, None) => self.default_owner(caller).await?,
        };
        let owner_path = self.path_of_owner_named(owner.as_deref()).await?;
        if let Some(first) = &lineage {
            let lineage_path = self.path_of_owner(first.as_deref()).await?;
            let scope = DefinitionScope {
                owner_path: lineage_path.clone(),
            };
            self.allow(caller, Op::PublishDefinition, Target::Definition(&scope), || {
                AppError::forbidden(format!(
                    "workflow '{}' belongs to another organization; only its organizers publish new versions",
                    def.id
                ))
            })?;
            let inside = match (&lineage_path, &owner_path) {
                (None, _) => true,
                (Some(l), Some(o)) => within(o, l),
                (Some(_), None) => false,
            };
            if !inside {
                return Err(AppError::forbidden(format!(
                    "a new version of '{}' must be owned by its owner or an organization under it",
                    def.id
                )));
            }
        }
        let scope = DefinitionScope {
            owner_path: owner_path.clone(),
        };
        self.allow(
            caller,
            Op::PublishDefinition,
            Target::Definition(&scope),
            || unknown_org(owner.as_deref().unwrap_or_default()),
        )?;
        for s in &def.schedules {
            let target_path = match &s.orgs.under {
                Some(under) => Some(
                    self.org_scoped(under)
                        .await?
                        .map(|(o, _)| o.path)
                        .ok_or_else(|| unknown_org(under))?,
                ),
                None => owner_path.clone(),
            };
            let aim = ScheduleScope {
                target_path,
                owner_path: owner_path.clone(),
            };
            self.allow(caller, Op::AimSchedule, Target::Schedule(&aim), || {
                unknown_org(s.orgs.under.as_deref().unwrap_or_default())
            })?;
        }
        let summary = DefinitionSummaryView {
            id: def.id.clone(),
            version: def.version,
            name: def.name.clone(),
            owner: owner.clone(),
        };
        self.runtime
            .publish(def, p.source, owner, self.now())
            .await?;
        Ok(summary)
    }

    /// Publishes every `*.yaml` of a directory as the whole tree's (the
    /// shipped library, at start). A definition that does not validate
    /// stops the start with its diagnostics; one already published with
    /// the same content is left as it is.
    pub async fn publish_library(&self, dir: &Path) -> Result<Vec<String>, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        let mut published = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let loaded = stageflow_workflows::load_str(&path.display().to_string(), &text)
                .map_err(|diags| {
                    diags
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                })?;
            let id = format!("{} v{}", loaded.definition.id, loaded.definition.version);
            self.runtime
                .publish(loaded.definition, text, None, self.now())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            published.push(id);
        }
        Ok(published)
    }

    /// The version of a workflow an organization runs: the one asked for,
    /// or the newest whose owner is the organization or above it.
    pub(crate) async fn definition_for(
        &self,
        workflow: &str,
        version: Option<u32>,
        org_path: &str,
    ) -> AppResult<Arc<Definition>> {
        let missing = || {
            AppError::invalid(
                "unknown-definition",
                format!("workflow '{workflow}' is not published for this organization"),
            )
        };
        let all: Vec<DefinitionSummary> = self
            .store
            .list_definitions()
            .await?
            .into_iter()
            .filter(|d| d.id == workflow && version.is_none_or(|v| d.version == v))
            .collect();
        let paths = self.owner_paths(&all).await?;
        // Newest first (the store's order).
        let chosen = all
            .iter()
            .find(|d| match owner_path(&paths, d.owner.as_deref()) {
                None => d.owner.is_none(),
                Some(owner) => within(org_path, &owner),
            })
            .ok_or_else(missing)?;
        Ok(self
            .runtime
            .definition(workflow, Some(chosen.version))
            .await?)
    }

    /// The owner a new definition gets when none is named: the admin's is
    /// the whole tree's; an organizer's the highest organization they
    /// manage, when there is one.
    async fn default_owner(&self, caller: &Caller) -> AppResult<Option<String>> {
        if caller.is_admin() {
            return Ok(None);
        }
        let mut managed: Vec<(&str, &str)> = caller
            .roles
            .iter()
            .filter(|r| crate::caller::ORGANIZER_ROLES.contains(&r.role.as_str()))
            .map(|r| (r.path.as_str(), r.org.as_str()))
            .collect();
        managed.sort_by_key(|(path, _)| path.len());
        match managed.as_slice() {
            [] => Err(AppError::forbidden(
                "publishing definitions needs an organizer role (书记, 副书记, 组织委员, 组织员 or 组织部门)",
            )),
            [(top, org), rest @ ..] if rest.iter().all(|(p, _)| within(p, top)) => {
                Ok(Some(org.to_string()))
            }
            _ => Err(AppError::invalid(
                "owner-needed",
                "you manage several organizations: say which one owns the definition (`owner`)",
            )),
        }
    }

    /// The path of a definition's owner (`None`: the whole tree). An owner
    /// that is gone owns nothing anyone manages.
    async fn path_of_owner(&self, owner: Option<&str>) -> AppResult<Option<String>> {
        Ok(match owner {
            None => None,
            Some(o) => Some(
                self.store
                    .org(o)
                    .await?
                    .map(|o| o.path)
                    .unwrap_or_else(|| format!("/(gone:{o})/")),
            ),
        })
    }

    /// [`App::path_of_owner`] for an owner named in a request: it must exist.
    async fn path_of_owner_named(&self, owner: Option<&str>) -> AppResult<Option<String>> {
        match owner {
            None => Ok(None),
            Some(o) => Ok(Some(
                self.store
                    .org(o)
                    .await?
                    .map(|o| o.path)
                    .ok_or_else(|| unknown_org(o))?,
            )),
        }
    }

    async fn owner_paths(&self, defs: &[DefinitionSummary]) -> AppResult<HashMap<String, String>> {
        let ids: Vec<String> = defs.iter().filter_map(|d| d.owner.clone()).collect();
        self.paths_of(ids).await
    }
}

fn owner_path(paths: &HashMap<String, String>, owner: Option<&str>) -> Option<String> {
    owner.map(|o| {
        paths
            .get(o)
            .cloned()
            .unwrap_or_else(|| format!("/(gone:{o})/"))
    })
}

/// The answer for an organization that is not there, or not the caller's
/// to see.
pub(crate) fn unknown_org(id: &str) -> AppError {
    AppError::invalid("not-found", format!("organization '{id}' does not exist"))
}
