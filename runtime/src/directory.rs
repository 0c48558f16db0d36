//! Where the engine's organization tree comes from.
//!
//! The engine reads a synchronous, in-memory [`Directory`]; before each
//! command the runtime loads a snapshot of the part of the tree the
//! definition can reach from the subject's organization: the chain of
//! ancestors with every role holder, and the organizations its fan-outs
//! select. Nothing is cached between commands but who owns each published
//! version (which never changes).
//!
//! A definition owned by an organization reaches no further than that
//! organization's subtree and the chain above it: a fan-out whose `under`
//! climbs above the owner selects from the owner down, so a branch's own
//! workflow cannot hand tasks to its sibling branches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// The owner of each published version seen (versions are immutable).
    owners: Mutex<HashMap<(String, u32), Option<String>>>,
}

impl StoreDirectory {
    /// A source over a store.
    pub fn new(store: Arc<dyn Store>) -> StoreDirectory {
        StoreDirectory {
            store,
            owners: Mutex::new(HashMap::new()),
        }
    }

    /// The organization that owns the definition's version (`None`: the
    /// whole tree).
    async fn owner_of(&self, def: &Definition) -> Result<Option<String>, StoreError> {
        let key = (def.id.clone(), def.version);
        if let Some(owner) = self.owners.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(owner);
        }
        let owner = self
            .store
            .definition(&def.id, Some(def.version))
            .await?
            .and_then(|d| d.owner);
        if let Ok(mut m) = self.owners.lock() {
            m.insert(key, owner.clone());
        }
        Ok(owner)
    }
}

/// A loaded part of the tree.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    orgs: HashMap<String, (String, Option<String>)>,
    /// Names of the organizations on the chain, for refusals.
    names: HashMap<String, String>,
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

    fn name(&self, org: &str) -> Option<String> {
        self.names.get(org).cloned()
    }
}

/// Where in the chain (nearest first) a selector's root lies.
fn resolve_root(chain: &[Org], r: &OrgRef) -> Option<usize> {
    match r {
        OrgRef::Own => (!chain.is_empty()).then_some(0),
        OrgRef::Parent => (chain.len() > 1).then_some(1),
        OrgRef::Grandparent => (chain.len() > 2).then_some(2),
        OrgRef::Ancestor(kind) => chain.iter().position(|o| &o.kind == kind),
    }
}

/// The root a selector may search from: its own, or the owner's when it
/// climbs above the owner (`None`: nothing, the organization lies outside
/// the owner's subtree).
fn clamp_root(chain: &[Org], root: usize, owner: Option<&str>) -> Option<usize> {
    match owner {
        None => Some(root),
        Some(owner) => chain
            .iter()
            .position(|o| o.id == owner)
            .map(|at| root.min(at)),
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
        owner: Option<&str>,
    ) -> Result<Snapshot, StoreError> {
        let mut snap = Snapshot::default();
        for o in chain {
            snap.orgs
                .insert(o.id.clone(), (o.kind.clone(), o.parent.clone()));
            snap.names.insert(o.id.clone(), o.name.clone());
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
            let Some(at) = resolve_root(chain, &sel.under) else {
                continue;
            };
            // The engine asks for the root it resolves; it gets what lies
            // under the root the owner allows.
            let asked = chain[at].id.clone();
            let Some(allowed) = clamp_root(chain, at, owner) else {
                snap.under.insert((asked, sel.kind.clone()), Vec::new());
                continue;
            };
            let root = chain[allowed].id.clone();
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
            snap.under.insert((asked, sel.kind.clone()), orgs);
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
        let owner = self.owner_of(def).await?;
        let snap = self
            .assemble(def, &chain, &holders, &mut Matched::new(), owner.as_deref())
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
        let owner = self.owner_of(def).await?;
        let mut matched = Matched::new();
        let mut out = Vec::with_capacity(orgs.len());
        for chain in &chains {
            let snap = self
                .assemble(def, chain, &holders, &mut matched, owner.as_deref())
                .await?;
            out.push(Arc::new(snap) as SharedDirectory);
        }
        Ok(out)
    }
}
