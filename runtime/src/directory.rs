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
use stageflow_store::{Org, Store, StoreError};

use crate::synthetic::SyntheticDirectory;

/// A shared, read-only directory for one command.
pub type SharedDirectory = Arc<dyn Directory + Send + Sync>;

/// Produces the directory a command on an instance needs.
#[async_trait]
pub trait DirectorySource: Send + Sync {
    /// A snapshot for a definition and the subject's organization.
    async fn snapshot(&self, def: &Definition, org: &str) -> Result<SharedDirectory, StoreError>;

    /// A snapshot for each of many organizations (a scheduled fan-out
    /// start): what [`DirectorySource::snapshot`] gives for each, in as few
    /// reads as the source can manage.
    async fn snapshots(
        &self,
        def: &Definition,
        orgs: &[Org],
    ) -> Result<Vec<SharedDirectory>, StoreError> {
        let mut out = Vec::with_capacity(orgs.len());
        for org in orgs {
            out.push(self.snapshot(def, &org.id).await?);
        }
        Ok(out)
    }
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

fn resolve_root(chain: &[Org], r: &OrgRef) -> Option<String> {
    match r {
        OrgRef::Own => chain.first().map(|o| o.id.clone()),
        OrgRef::Parent => chain.get(1).map(|o| o.id.clone()),
        OrgRef::Grandparent => chain.get(2).map(|o| o.id.clone()),
        OrgRef::Ancestor(kind) => chain.iter().find(|o| &o.kind == kind).map(|o| o.id.clone()),
    }
}

/// Role holders by organization: `(role, person)` in the store's order.
type HoldersByOrg = HashMap<String, Vec<(String, String)>>;

/// What the fan-out selectors matched, by `(root, kind, role)`.
type Matched = HashMap<(String, Option<String>, String), Vec<(String, String)>>;

impl StoreDirectory {
    async fn holders_of(&self, orgs: &[String]) -> Result<HoldersByOrg, StoreError> {
        let mut by_org = HoldersByOrg::new();
        for (org, role, person) in self.store.holders_in(orgs).await? {
            by_org.entry(org).or_default().push((role, person));
        }
        Ok(by_org)
    }

    /// The snapshot of one organization: its chain (nearest first) with
    /// every role holder, and the organizations the definition's fan-out
    /// selectors reach from it (read once per selector and root across
    /// the calls that share `matched`).
    async fn assemble(
        &self,
        def: &Definition,
        chain: &[Org],
        holders: &HoldersByOrg,
        matched: &mut Matched,
    ) -> Result<Snapshot, StoreError> {
        let mut snap = Snapshot::default();
        for o in chain {
            snap.orgs
                .insert(o.id.clone(), (o.kind.clone(), o.parent.clone()));
            for (role, person) in holders.get(&o.id).into_iter().flatten() {
                snap.holders
                    .entry((o.id.clone(), role.clone()))
                    .or_default()
                    .push(person.clone());
            }
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
            let Some(root) = resolve_root(chain, &sel.under) else {
                continue;
            };
            let key = (root.clone(), sel.kind.clone(), role.clone());
            if !matched.contains_key(&key) {
                let found = self
                    .store
                    .role_holders_under(&root, sel.kind.as_deref(), role)
                    .await?;
                matched.insert(key.clone(), found);
            }
            let mut orgs = Vec::new();
            for (org, person) in &matched[&key] {
                if orgs.last() != Some(org) {
                    orgs.push(org.clone());
                }
                if !person.is_empty() {
                    let holders = snap.holders.entry((org.clone(), role.clone())).or_default();
                    if !holders.contains(person) {
                        holders.push(person.clone());
                    }
                }
            }
            snap.under.insert((root, sel.kind.clone()), orgs);
        }
        Ok(snap)
    }
}

#[async_trait]
impl DirectorySource for StoreDirectory {
    async fn snapshot(&self, def: &Definition, org: &str) -> Result<SharedDirectory, StoreError> {
        let chain = self.store.org_chain(org).await?;
        let ids: Vec<String> = chain.iter().map(|o| o.id.clone()).collect();
        let holders = self.holders_of(&ids).await?;
        let snap = self
            .assemble(def, &chain, &holders, &mut Matched::new())
            .await?;
        Ok(Arc::new(snap))
    }

    /// Chains are read once per parent (siblings share their ancestors),
    /// role holders for every organization at once, each selector once.
    async fn snapshots(
        &self,
        def: &Definition,
        orgs: &[Org],
    ) -> Result<Vec<SharedDirectory>, StoreError> {
        let mut above: HashMap<String, Vec<Org>> = HashMap::new();
        let mut chains = Vec::with_capacity(orgs.len());
        for org in orgs {
            let mut chain = vec![org.clone()];
            if let Some(parent) = &org.parent {
                if !above.contains_key(parent) {
                    let ancestors = self.store.org_chain(parent).await?;
                    above.insert(parent.clone(), ancestors);
                }
                chain.extend(above[parent].iter().cloned());
            }
            chains.push(chain);
        }
        let mut ids: Vec<String> = chains.iter().flatten().map(|o| o.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let holders = self.holders_of(&ids).await?;
        let mut matched = Matched::new();
        let mut out = Vec::with_capacity(orgs.len());
        for chain in &chains {
            let snap = self.assemble(def, chain, &holders, &mut matched).await?;
            out.push(Arc::new(snap) as SharedDirectory);
        }
        Ok(out)
    }
}
