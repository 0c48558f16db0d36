//! The directory: organizations, people and their roles, the audit trail
//! of every change to them, and the whole directory in and out (import and
//! export by the operator).

mod audit;
mod import;
mod orgs;
mod people;

pub use audit::AuditView;
pub use import::{ImportOrg, ImportPerson, ImportProblem, ImportSource, Imported};
pub use orgs::{NewOrgInput, OrgChange, OrgDirectory};
pub use people::{NewPersonInput, PersonChange, PersonChanged};

/// Person statuses, in the order of the procedure.
pub const STATUSES: &[&str] = stageflow_workflows::vocab::PERSON_STATUSES;

/// Refuses a status that is not one of [`STATUSES`].
pub(crate) fn check_status(status: &str) -> crate::AppResult<()> {
    if STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(crate::AppError::invalid(
            "invalid-body",
            format!(
                "`status` 的值「{status}」无效，应为以下之一：{}",
                STATUSES.join("、")
            ),
        ))
    }
}
