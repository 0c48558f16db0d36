//! What the organizer's console shows besides the operations: the choices
//! of the start form, a definition's simulated timeline, the campaigns
//! running in the organizer's subtrees.

use std::sync::Arc;

use stageflow_engine::Definition;
use stageflow_engine::state::InstanceState;
use stageflow_runtime::simulate::{self, SimOptions, SimReport};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::policy::{Op, Target};
use crate::reports::ProgressRow;
use crate::views::{OrgView, PersonView};
use crate::{App, Caller};

/// A campaign in the list.
#[derive(Debug, Clone)]
pub struct CampaignSummary {
    /// Its instance.
    pub id: Uuid,
    /// The workflow's name.
    pub name: String,
    /// The organization's name.
    pub org: String,
    /// The current phase's name.
    pub stage: String,
    /// Whether it still runs.
    pub running: bool,
}

/// One campaign with its progress.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Its instance.
    pub instance: InstanceState,
    /// Its definition.
    pub definition: Arc<Definition>,
    /// The organization's name.
    pub org: String,
    /// Progress per participating organization.
    pub rows: Vec<ProgressRow>,
}

/// Workflows run in dated phases (stages with windows): the campaigns.
pub fn is_campaign(def: &Definition) -> bool {
    def.stages.iter().any(|s| s.window.is_some())
}

impl App {
    /// Checks the caller may open the console.
    pub fn open_console(&self, caller: &Caller) -> AppResult<()> {
        self.allow(caller, Op::OpenConsole, Target::System, || {
            AppError::forbidden("控制台供书记、副书记、组织委员、组织员或组织部门使用")
        })
    }

    /// The organizations (the caller's managed subtrees) and people of
    /// the start form, at most 500 of each.
    pub async fn start_choices(
        &self,
        caller: &Caller,
    ) -> AppResult<(Vec<OrgView>, Vec<PersonView>)> {
        self.open_console(caller)?;
        const MOST: usize = 500;
        let roots: Vec<Option<String>> = if caller.is_admin() {
            vec![None]
        } else {
            caller.managed_orgs().into_iter().map(Some).collect()
        };
        let (mut orgs, mut people): (Vec<OrgView>, Vec<PersonView>) = (Vec::new(), Vec::new());
        for root in roots {
            for o in self.store.orgs_under(root.as_deref(), None).await? {
                if orgs.len() < MOST && !orgs.iter().any(|x| x.id == o.id) {
                    orgs.push(o.into());
                }
            }
            for p in self.store.people_under(root.as_deref()).await? {
                if people.len() < MOST && !people.iter().any(|x| x.id == p.id) {
                    people.push(p.into());
                }
            }
        }
        Ok((orgs, people))
    }

    /// The definition (and its source) the caller may see, for the
    /// console's page of it: the newest version.
    pub async fn console_definition(
        &self,
        caller: &Caller,
        id: &str,
    ) -> AppResult<(Arc<Definition>, String)> {
        self.open_console(caller)?;
        let view = self.definition(caller, id, None).await?;
        let def = self.runtime.definition(id, Some(view.version)).await?;
        Ok((def, view.source))
    }

    /// The timeline `simulate` computes for a definition the caller may
    /// see (a virtual clock over a synthetic directory: nothing is stored).
    pub async fn preview(
        &self,
        caller: &Caller,
        id: &str,
        options: &SimOptions,
    ) -> AppResult<SimReport> {
        let (def, source) = self.console_definition(caller, id).await?;
        let mut options = options.clone();
        options
            .calendar
            .get_or_insert_with(|| self.runtime.calendar().clone());
        simulate::simulate(&def, &source, &options)
            .await
            .map_err(|e| AppError::invalid("simulation-failed", format!("推演未能完成：{e}")))
    }

    /// The campaigns running (or run) in the caller's subtrees.
    pub async fn campaigns(&self, caller: &Caller) -> AppResult<Vec<CampaignSummary>> {
        self.open_console(caller)?;
        let mut out = Vec::new();
        for d in self.definitions(caller).await? {
            if out.iter().any(|c: &CampaignSummary| c.name == d.name) {
                continue;
            }
            let Ok(def) = self.runtime.definition(&d.id, Some(d.version)).await else {
                continue;
            };
            if !is_campaign(&def) {
                continue;
            }
            for (id, org, status) in self.store.instances_of(&d.id, 200).await? {
                let Some((o, scope)) = self.org_scoped(&org).await? else {
                    continue;
                };
                if crate::policy::check(caller, Op::ReadReports, Target::Org(&scope)).is_err() {
                    continue;
                }
                let Some(instance) = self.store.instance(id).await? else {
                    continue;
                };
                let idef = self.definition_of(&instance).await?;
                let stage = instance
                    .stage
                    .as_deref()
                    .and_then(|st| idef.stage(st))
                    .map_or(String::new(), |st| st.name.clone());
                out.push(CampaignSummary {
                    id,
                    name: idef.name.clone(),
                    org: o.name,
                    stage,
                    running: status == "running",
                });
            }
        }
        Ok(out)
    }

    /// One campaign with its progress (whoever may read its instance).
    pub async fn campaign(&self, caller: &Caller, id: Uuid) -> AppResult<Campaign> {
        self.open_console(caller)?;
        let rows = self.progress(caller, id).await?;
        let (instance, definition) = self.readable_instance(caller, id, Op::ReadInstance).await?;
        let org = match self.store.org(&instance.subject.org).await? {
            Some(o) => o.name,
            None => instance.subject.org.clone(),
        };
        Ok(Campaign {
            instance,
            definition,
            org,
            rows,
        })
    }

    /// A definition's name (for lists that name workflows by id).
    pub async fn workflow_name(&self, workflow: &str) -> String {
        match self.runtime.definition(workflow, None).await {
            Ok(d) => d.name.clone(),
            Err(_) => workflow.to_string(),
        }
    }

    /// An organization's name, when the caller may see it (the id
    /// otherwise).
    pub async fn org_name(&self, caller: &Caller, id: &str) -> String {
        match self.org(caller, id).await {
            Ok(o) => o.name,
            Err(_) => id.to_string(),
        }
    }

    /// The first open task of an instance (where the console goes after a
    /// start).
    pub async fn first_open_task(
        &self,
        caller: &Caller,
        instance: Uuid,
    ) -> AppResult<Option<Uuid>> {
        self.readable_instance(caller, instance, Op::ReadInstance)
            .await?;
        Ok(self
            .store
            .instance_tasks(instance)
            .await?
            .into_iter()
            .find(|t| t.status == "open")
            .map(|t| t.id))
    }
}
