//! Definitions: the published workflows, each owned by an organization
//! (the shipped library by the whole tree); publishing a new one or a new
//! version, and the library published at start.
//!
//! Ownership is per workflow id: every version has the owner of the
//! first. It decides who may publish the next version (the owner's
//! managers), what its schedules may start instances in (the owner's
//! subtree, managed by the publisher), and who may see and run it (the
//! organizations of the owner's subtree).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use stageflow_engine::Definition;
use stageflow_engine::model::StepKind;
use stageflow_store::DefinitionSummary;
use stageflow_workflows::diag::named;

use crate::error::{AppError, AppResult};
use crate::policy::{DefinitionScope, Op, ScheduleScope, Target, within};
use crate::scope::gone;
use crate::views::{DefinitionSummaryView, DefinitionView, definition_view};
use crate::{App, Caller};

/// What publishing was asked to do.
#[derive(Debug, Clone)]
pub struct Publish {
    /// The name shown in `path:line:column` diagnostics.
    pub filename: String,
    /// The YAML.
    pub source: String,
    /// The owning organization of a new workflow; by default the highest
    /// organization the publisher manages (the whole tree for the admin).
    /// A new version keeps the owner of the earlier ones.
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
                tree: Vec::new(),
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
        let missing = || AppError::not_found(format!("流程「{id}」尚未发布"));
        let stored = self
            .store
            .definition(id, version)
            .await?
            .ok_or_else(missing)?;
        let scope = DefinitionScope {
            owner_path: self.path_or_gone(stored.owner.as_deref()).await?,
            tree: Vec::new(),
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
        let def = load(&p.filename, &p.source)?;
        crate::validate::id("workflow", &def.id)?;
        let owner = self.owner_for(caller, &def.id, p.owner.as_deref()).await?;
        let owner_path = self.path_or_gone(owner.as_deref()).await?;
        let scope = DefinitionScope {
            owner_path: owner_path.clone(),
            tree: self.tree().await?,
        };
        self.allow(
            caller,
            Op::PublishDefinition,
            Target::Definition(&scope),
            || unknown_org(owner.as_deref().unwrap_or_default()),
        )?;
        self.check_schedules(caller, &def, owner_path, scope.tree)
            .await?;
        self.check_subflows(caller, &def).await?;
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

    /// The owner a publication gets: the id's owner for a new version
    /// (naming another is refused), the one named, or the default.
    async fn owner_for(
        &self,
        caller: &Caller,
        id: &str,
        named: Option<&str>,
    ) -> AppResult<Option<String>> {
        let lineage = self
            .store
            .list_definitions()
            .await?
            .into_iter()
            .filter(|d| d.id == id)
            .min_by_key(|d| d.version)
            .map(|d| d.owner);
        match (lineage, named) {
            (Some(owner), named) => {
                // The id is taken: whether by the caller's organizations
                // or another, its owner's managers publish its versions.
                let scope = DefinitionScope {
                    owner_path: self.path_or_gone(owner.as_deref()).await?,
                    tree: self.tree().await?,
                };
                self.allow(
                    caller,
                    Op::PublishDefinition,
                    Target::Definition(&scope),
                    || {
                        AppError::conflict(
                            "definition-id-taken",
                            format!("流程 id「{id}」已被占用，请另选一个 id"),
                        )
                    },
                )?;
                if let Some(named) = named
                    && owner.as_deref() != Some(named)
                {
                    return Err(AppError::invalid(
                        "owner-is-fixed",
                        format!(
                            "流程「{id}」的所属组织以第一版为准，不能更改；要给其他组织使用，请以新的流程 id 发布"
                        ),
                    ));
                }
                Ok(owner)
            }
            (None, Some(named)) => {
                let (_, org) = self
                    .org_scoped(named)
                    .await?
                    .ok_or_else(|| unknown_org(named))?;
                self.allow(caller, Op::ReadOrg, Target::Org(&org), || {
                    unknown_org(named)
                })?;
                Ok(Some(named.to_string()))
            }
            (None, None) => self.default_owner(caller),
        }
    }

    /// A subflow starts a workflow the publisher may see (another
    /// organization's is named as missing).
    async fn check_subflows(&self, caller: &Caller, def: &Definition) -> AppResult<()> {
        for step in def.stages.iter().flat_map(|s| &s.steps) {
            if let StepKind::Subflow { workflow, .. } = &step.kind
                && workflow != &def.id
                && let Err(e) = self.definition(caller, workflow, None).await
            {
                return Err(match e.kind {
                    crate::ErrorKind::NotFound => AppError::invalid(
                        "unknown-workflow",
                        format!(
                            "步骤{}要发起流程「{workflow}」，但该流程尚未发布，或不在您可以使用的范围内",
                            named(&step.name, &step.id)
                        ),
                    ),
                    _ => e,
                });
            }
        }
        Ok(())
    }

    /// Each schedule of a definition may start instances only inside the
    /// owner's subtree, in an organization the publisher manages; one the
    /// publisher cannot see is named as missing.
    async fn check_schedules(
        &self,
        caller: &Caller,
        def: &Definition,
        owner_path: Option<String>,
        tree: Vec<String>,
    ) -> AppResult<()> {
        for s in &def.schedules {
            let target_path = match &s.orgs.under {
                Some(under) => {
                    let (o, scope) = self
                        .org_scoped(under)
                        .await?
                        .ok_or_else(|| unknown_org(under))?;
                    self.allow(caller, Op::ReadOrg, Target::Org(&scope), || {
                        unknown_org(under)
                    })?;
                    Some(o.path)
                }
                None => owner_path.clone(),
            };
            let aim = ScheduleScope {
                target_path,
                owner_path: owner_path.clone(),
                tree: tree.clone(),
            };
            self.allow(caller, Op::AimSchedule, Target::Schedule(&aim), || {
                unknown_org(s.orgs.under.as_deref().unwrap_or_default())
            })?;
        }
        Ok(())
    }

    /// Publishes every `*.yaml` of a directory as the whole tree's (the
    /// shipped library, at start). A definition that does not validate, or
    /// a shipped version changed without a new version number, stops the
    /// start with its problems; one already published with the same
    /// content is left as it is. An id an organization published for
    /// itself before the library shipped one is left to that organization
    /// (logged; the shipped file is not published).
    pub async fn publish_library(&self, dir: &Path) -> Result<Vec<String>, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("无法读取 {}：{e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        let owned: HashMap<String, Option<String>> = self
            .store
            .list_definitions()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|d| (d.id, d.owner))
            .collect();
        let mut published = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("无法读取 {}：{e}", path.display()))?;
            let def = load(&path.display().to_string(), &text).map_err(|e| {
                let lines = e
                    .extra
                    .as_ref()
                    .and_then(|x| x.get("diagnostics"))
                    .and_then(|d| d.as_array())
                    .map(|d| {
                        d.iter()
                            .filter_map(|l| l.as_str())
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                lines.unwrap_or(e.detail)
            })?;
            if let Some(Some(owner)) = owned.get(&def.id) {
                tracing::warn!(workflow = %def.id, %owner, file = %path.display(),
                    "the library ships a workflow id an organization owns: left to it, not published");
                continue;
            }
            let id = format!("{} v{}", def.id, def.version);
            self.runtime
                .publish(def, text, None, self.now())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            published.push(id);
        }
        Ok(published)
    }

    /// The version of a workflow an organization runs: the one asked for,
    /// or the newest; the workflow must be its owner's (the organization
    /// lies in the owner's subtree).
    pub(crate) async fn definition_for(
        &self,
        workflow: &str,
        version: Option<u32>,
        org_path: &str,
    ) -> AppResult<Arc<Definition>> {
        let missing = || {
            AppError::invalid(
                "unknown-definition",
                format!("流程「{workflow}」没有向该组织发布"),
            )
        };
        let stored = self
            .store
            .definition(workflow, version)
            .await?
            .ok_or_else(missing)?;
        let visible = match self.path_or_gone(stored.owner.as_deref()).await? {
            None => true,
            Some(owner) => within(org_path, &owner),
        };
        if !visible {
            return Err(missing());
        }
        Ok(self
            .runtime
            .definition(workflow, Some(stored.definition.version))
            .await?)
    }

    /// The owner a new definition gets when none is named: the admin's is
    /// the whole tree; an organizer's the highest organization they
    /// manage, when there is one.
    fn default_owner(&self, caller: &Caller) -> AppResult<Option<String>> {
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
                "发布流程须担任组织工作职务（书记、副书记、组织委员、组织员或组织部门）",
            )),
            [(top, org), rest @ ..] if rest.iter().all(|(p, _)| within(p, top)) => {
                Ok(Some(org.to_string()))
            }
            _ => Err(AppError::invalid(
                "owner-needed",
                "您管理多个组织：请用 `owner` 指明流程属于哪个组织",
            )),
        }
    }

    async fn owner_paths(&self, defs: &[DefinitionSummary]) -> AppResult<HashMap<String, String>> {
        let ids: Vec<String> = defs.iter().filter_map(|d| d.owner.clone()).collect();
        self.paths_of(ids).await
    }
}

/// A definition from its YAML, or 422 with the validator's diagnostics
/// (as lines, and with line and column for the console).
fn load(filename: &str, source: &str) -> AppResult<Definition> {
    stageflow_workflows::load_str(filename, source)
        .map(|loaded| loaded.definition)
        .map_err(|diags| {
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
                format!("{filename} 中有 {} 处问题", diags.len()),
            )
            .with(serde_json::json!({ "diagnostics": lines, "problems": problems }))
        })
}

fn owner_path(paths: &HashMap<String, String>, owner: Option<&str>) -> Option<String> {
    owner.map(|o| paths.get(o).cloned().unwrap_or_else(|| gone(o)))
}

/// The answer for an organization that is not there, or not the caller's
/// to see.
pub(crate) fn unknown_org(id: &str) -> AppError {
    AppError::invalid(
        "not-found",
        format!("没有您可以使用的组织「{id}」（该组织不存在，或不在您的组织范围内）"),
    )
}
