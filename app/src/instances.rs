//! Instances: starting one, reading it and its history, cancelling and
//! withdrawing it.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use stageflow_engine::Definition;
use stageflow_engine::machine::Command;
use stageflow_engine::state::{InstanceState, Subject, Values};
use stageflow_runtime::{ExecError, Extras, StartRequest};
use stageflow_workflows::diag::named;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::definitions::unknown_org;
use crate::error::{AppError, AppResult};
use crate::policy::{Op, Target};
use crate::views::{HistoryView, InstanceView, history_view, instance_view};
use crate::{App, Caller};

/// Starting an instance.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInstance {
    /// Workflow id.
    pub definition: String,
    /// Version; the newest the organization runs when absent.
    pub version: Option<u32>,
    /// The subject person (for person workflows such as 发展党员): a person
    /// of the organization or its subtree.
    pub subject: Option<String>,
    /// The subject organization.
    pub org: String,
    /// Inputs.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Values,
}

/// A started instance, and whether this request started it (or an earlier
/// one with the same idempotency key did).
#[derive(Debug, Clone)]
pub struct Started {
    /// The instance.
    pub instance: InstanceView,
    /// Whether this request started it.
    pub created: bool,
}

impl App {
    /// Starts an instance for an organization the caller manages. With an
    /// idempotency `key` a retried start gives the same instance.
    pub async fn start(
        &self,
        caller: &Caller,
        body: StartInstance,
        key: Option<&str>,
    ) -> AppResult<Started> {
        let (org, org_scope) = self
            .org_scoped(&body.org)
            .await?
            .ok_or_else(|| unknown_org(&body.org))?;
        self.allow(caller, Op::StartInstance, Target::Org(&org_scope), || {
            unknown_org(&body.org)
        })?;
        let def = self
            .definition_for(&body.definition, body.version, &org.path)
            .await?;
        let inputs: Vec<_> = def.inputs.iter().map(|i| i.field.clone()).collect();
        self.check_person_fields(
            caller,
            &inputs,
            &body.inputs,
            &org.path,
            body.subject.as_deref(),
        )
        .await?;
        let mut attrs = Values::new();
        if let Some(p) = &body.subject {
            let missing = || {
                AppError::invalid(
                    "unknown-person",
                    format!(
                        "在组织{}及其下级组织中找不到人员「{p}」",
                        named(&org.name, &org.id)
                    ),
                )
            };
            let person = self.store.person(p).await?.ok_or_else(missing)?;
            let scope = self.person_scope(&person).await?;
            self.allow(
                caller,
                Op::NameSubject,
                Target::PersonIn(&scope, &org.path),
                missing,
            )?;
            attrs.insert("name".into(), person.name.into());
            attrs.insert("status".into(), person.status.into());
            if let Some(b) = person.birth_date {
                attrs.insert("birth_date".into(), b.into());
            }
            for (k, v) in person.key_dates {
                attrs.insert(k, v);
            }
        }
        let id = match key {
            Some(key) => Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("start:{}:{key}", caller.person).as_bytes(),
            ),
            None => Uuid::new_v4(),
        };
        let request = StartRequest {
            workflow: def.id.clone(),
            version: Some(def.version),
            id,
            subject: Subject {
                person: body.subject,
                org: org.id.clone(),
                attrs,
            },
            initiator: caller.person.clone(),
            inputs: body.inputs,
        };
        let created = match self.runtime.start(request, self.now()).await {
            Ok(_) => true,
            Err(ExecError::Rejected(stageflow_engine::Rejection::AlreadyStarted))
                if key.is_some() =>
            {
                false
            }
            Err(e) => return Err(e.into()),
        };
        let instance = self
            .store
            .instance(id)
            .await?
            .ok_or_else(|| instance_missing(id))?;
        // A retry with the key of someone else's start is not theirs to see.
        if !created && instance.initiator != caller.person {
            return Err(AppError::conflict(
                "already-started",
                "该 Idempotency-Key 已用于另一次发起",
            ));
        }
        let def = self.definition_of(&instance).await?;
        Ok(Started {
            instance: instance_view(&def, &instance),
            created,
        })
    }

    /// An instance with its current stage, steps, open tasks and variables.
    pub async fn instance(&self, caller: &Caller, id: Uuid) -> AppResult<InstanceView> {
        let (instance, def) = self.readable_instance(caller, id, Op::ReadInstance).await?;
        Ok(instance_view(&def, &instance))
    }

    /// The hash-chained events of an instance (全程纪实).
    pub async fn history(&self, caller: &Caller, id: Uuid) -> AppResult<HistoryView> {
        let (instance, def) = self.readable_instance(caller, id, Op::ReadInstance).await?;
        let mut events = self.store.events(id).await?;
        // Verified as stored; then the fields hidden from this reader go.
        let mut view = history_view(id, &events);
        let hidden = crate::casefile::record::hidden_for(&def, &instance, &events, &caller.person);
        if !hidden.is_empty() {
            crate::casefile::record::redact(&def, &mut events, &hidden);
            let verified = view.verified;
            view = history_view(id, &events);
            view.verified = verified;
        }
        Ok(view)
    }

    /// Cancels an instance (its initiator, or a manager of its organization).
    pub async fn cancel(&self, caller: &Caller, id: Uuid, reason: &str) -> AppResult<InstanceView> {
        let (instance, def) = self
            .readable_instance(caller, id, Op::CancelInstance)
            .await?;
        if reason.trim().is_empty() {
            return Err(AppError::invalid(
                "invalid-body",
                "`reason` 不能为空：请写明撤销的原因",
            ));
        }
        let command = Command::Cancel {
            actor: caller.person.clone(),
            reason: reason.to_string(),
        };
        self.command_on(instance, &def, &command).await
    }

    /// 撤回 by the initiator: ends the instance, as long as nobody else has
    /// acted on it yet (the engine checks both).
    pub async fn withdraw_instance(&self, caller: &Caller, id: Uuid) -> AppResult<InstanceView> {
        let (instance, def) = self
            .readable_instance(caller, id, Op::WithdrawInstance)
            .await?;
        let command = Command::WithdrawInstance {
            actor: caller.person.clone(),
        };
        self.command_on(instance, &def, &command).await
    }

    async fn command_on(
        &self,
        instance: InstanceState,
        def: &Definition,
        command: &Command,
    ) -> AppResult<InstanceView> {
        let id = instance.id;
        let extras = Extras {
            loaded: Some(instance),
            ..Extras::default()
        };
        let t = self
            .runtime
            .execute_with(id, command, self.now(), extras)
            .await?;
        Ok(instance_view(def, &t.state))
    }

    /// An instance the policy lets the caller do `op` on, with its
    /// definition; missing and out of scope answer alike.
    pub(crate) async fn readable_instance(
        &self,
        caller: &Caller,
        id: Uuid,
        op: Op,
    ) -> AppResult<(InstanceState, Arc<Definition>)> {
        let instance = self
            .store
            .instance(id)
            .await?
            .ok_or_else(|| instance_missing(id))?;
        let scope = self.instance_scope(&instance).await?;
        self.allow(caller, op, Target::Instance(&scope), || {
            instance_missing(id)
        })?;
        let def = self.definition_of(&instance).await?;
        Ok((instance, def))
    }

    /// The definition version an instance runs on.
    pub(crate) async fn definition_of(
        &self,
        instance: &InstanceState,
    ) -> AppResult<Arc<Definition>> {
        Ok(self
            .runtime
            .definition(&instance.definition, Some(instance.version))
            .await?)
    }

    /// Several instances with their definitions, by id, read together (a
    /// page of tasks, a report); ids with no instance are left out.
    pub(crate) async fn instances_with_definitions(
        &self,
        ids: &[Uuid],
    ) -> AppResult<HashMap<Uuid, (InstanceState, Arc<Definition>)>> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let mut out = HashMap::with_capacity(unique.len());
        for instance in self.store.instances(&unique).await? {
            let def = self.definition_of(&instance).await?;
            out.insert(instance.id, (instance, def));
        }
        Ok(out)
    }
}

/// The answer for an instance that is not there, or not the caller's to see.
pub(crate) fn instance_missing(id: Uuid) -> AppError {
    AppError::not_found(format!("找不到流程「{id}」"))
}
