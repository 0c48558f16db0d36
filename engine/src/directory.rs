//! The organization tree as the engine sees it: a read-only port.
//!
//! The shell hands the machine a snapshot (or a synthetic tree in
//! `simulate`); the engine only reads it, so `apply` stays pure.

/// Read-only view of organizations, roles and their holders.
pub trait Directory {
    /// The parent of an organization.
    fn parent(&self, org: &str) -> Option<String>;
    /// The kind of an organization (`党委`, `党总支`, `党支部`, `党小组`, ...).
    fn kind(&self, org: &str) -> Option<String>;
    /// People holding a role in an organization, in a stable order.
    fn holders(&self, org: &str, role: &str) -> Vec<String>;
    /// Organizations under `root` (itself included) of a kind, in a stable
    /// order.
    fn orgs_under(&self, root: &str, kind: Option<&str>) -> Vec<String>;
    /// The name people know an organization by (`机关第一党支部`), when
    /// the directory has it: refusals name organizations with it.
    fn name(&self, _org: &str) -> Option<String> {
        None
    }
}
