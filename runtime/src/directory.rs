//! Where the engine's organization tree comes from.
//!
//! The engine reads a synchronous, in-memory [`Directory`]; before each
//! command the runtime loads a snapshot of the part of the tree the
//! definition can reach from the subject's organization: the chain of
//! ancestors with every role holder, and the organizations its fan-outs
//! select. Nothing is cached between commands.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use stageflow_engine::Definition;
use stageflow_engine::directory::Directory;
use stageflow_engine::model::{OrgRef, StepKind};
use stageflow_store::{Store, StoreError};

use crate::synthetic::SyntheticDirectory;

/// A shared, read-only directory for one command.
pub type SharedDirectory = Arc<dyn Directory + Send + Sync>;

/// Produces the directory a command on an instance needs.
#[async_trait]
pub trait DirectorySource: Send + Sync {
    /// A snapshot for a definition and the subject's organization.
    async fn snapshot(&self, def: &Definition, org: &str) -> Result<SharedDirectory, StoreError>;
}

#[async_trait]
impl DirectorySource for SyntheticDirectory {
    async fn snapshot(&self, _def: &Definition, _org: &str) -> Result<SharedDirectory, StoreError> {
        Ok(Arc::new(self.clone()))
    }
}

/// The directory stored in the database.
pub struct StoreDirectory {
    store: Arc<dyn Store>,
}

impl StoreDirectory {
    /// A source over a store.
    pub fn new(store: Arc<dyn Store>) -> StoreDirectory {
        StoreDirectory { store }
    }
}

/// A loaded part of the tree.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    orgs: HashMap<String, (String, Option<String>)>,
    holders: HashMap<(String, String), Vec<String>>,
    under: HashMap<(String, Option<String>), Vec<String>>,
}

impl Directory for Snapshot {
    fn parent(&self, org: &str) -> Option<String> {
        self.orgs.get(org).and_then(|(_, p)| p.clone())
    }

    fn kind(&self, org: &str) -> Option<String> {
        self.orgs.get(org).map(|(k, _)| k.clone())
    }

    fn holders(&self, org: &str, role: &str) -> Vec<String> {
        self.holders
            .get(&(org.to_string(), role.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    fn orgs_under(&self, root: &str, kind: Option<&str>) -> Vec<String> {
        self.under
            .get(&(root.to_string(), kind.map(str::to_string)))
            .cloned()
            .unwrap_or_default()
    }
}

fn resolve_root(chain: &[(String, String)], r: &OrgRef) -> Option<String> {
    match r {
        OrgRef::Own => chain.first().map(|(id, _)| id.clone()),
        OrgRef::Parent => chain.get(1).map(|(id, _)| id.clone()),
        OrgRef::Grandparent => chain.get(2).map(|(id, _)| id.clone()),
        OrgRef::Ancestor(kind) => chain
            .iter()
            .find(|(_, k)| k == kind)
            .map(|(id, _)| id.clone()),
    }
}

#[async_trait]
impl DirectorySource for StoreDirectory {
    async fn snapshot(&self, def: &Definition, org: &str) -> Result<SharedDirectory, StoreError> {
        let mut snap = Snapshot::default();
        let chain = self.store.org_chain(org).await?;
        let ids: Vec<String> = chain.iter().map(|o| o.id.clone()).collect();
        let kinds: Vec<(String, String)> = chain
            .iter()
            .map(|o| (o.id.clone(), o.kind.clone()))
            .collect();
        for o in &chain {
            snap.orgs
                .insert(o.id.clone(), (o.kind.clone(), o.parent.clone()));
        }
        for (org, role, person) in self.store.holders_in(&ids).await? {
            snap.holders.entry((org, role)).or_default().push(person);
        }
        for step in def.stages.iter().flat_map(|s| &s.steps) {
            let selector = match &step.kind {
                StepKind::Fanout { orgs, role } => Some((orgs, role)),
                StepKind::Recurring(r) => r.orgs.as_ref().map(|(o, role)| (o, role)),
                _ => None,
            };
            let Some((sel, role)) = selector else {
                continue;
            };
            let Some(root) = resolve_root(&kinds, &sel.under) else {
                continue;
            };
            let mut matched = Vec::new();
            for (org, person) in self
                .store
                .role_holders_under(&root, sel.kind.as_deref(), role)
                .await?
            {
                if matched.last() != Some(&org) {
                    matched.push(org.clone());
                }
                if !person.is_empty() {
                    let holders = snap.holders.entry((org, role.clone())).or_default();
                    if !holders.contains(&person) {
                        holders.push(person);
                    }
                }
            }
            snap.under.insert((root, sel.kind.clone()), matched);
        }
        Ok(Arc::new(snap))
    }
}
