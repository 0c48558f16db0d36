//! The one authorization policy: who may do which operation on what.
//!
//! Every operation of the application asks [`check`] before it reads or
//! changes anything, and nothing else in the code base decides a
//! permission. The rules, in one table (a "manager" of X holds an
//! organizer role — 书记, 副书记, 组织委员, 组织员, 组织部门 — at X or above
//! it; the admin and the operator may do everything):
//!
//! | operation | on | who |
//! |---|---|---|
//! | `ListTasksOf` | a person | themselves |
//! | `ReadInstance` | an instance | its organization's managers, its initiator, its subject, anyone who held a task in it |
//! | `ActOnTask` | a task | its assignee (decide, hand on, sign, vote, rate, attach, take back) |
//! | `CommentOnTask` | a task | its assignee, the initiator |
//! | `UrgeTask` | a task | the initiator, the organization's managers |
//! | `HandTaskTo` | a person, for an instance | a person of the instance's organization, its subtree or the organizations above it (for the admin too) |
//! | `StartInstance` | an organization | its managers |
//! | `NameSubject` | a person, for an organization | a person with a role in the organization's subtree (for the admin too) |
//! | `CancelInstance` | an instance | its initiator, its organization's managers |
//! | `WithdrawInstance`, `CloseStep` | an instance | whoever may read it (the engine checks initiator and chair) |
//! | `ReadDefinition` | a definition | everyone (the library); for one owned by X, people of X's subtree and above |
//! | `PublishDefinition` | a definition's owner | its managers (the whole tree's: managers of every top-level organization) |
//! | `AimSchedule` | a schedule's target, for its owner | inside the owner's subtree, and managed by the publisher |
//! | `FireSchedule` | a schedule | while its target lies inside its owner's subtree (for everyone: the tree can move after publishing) |
//! | `ReadSchedule`, `SteerSchedule` | a schedule | managers of what it starts in (a whole-tree schedule: managers of every top-level organization) |
//! | `ReadOrg` | an organization | its members and managers |
//! | `CreateOrg`, `ChangeOrg` | the parent; the organization | its managers (a top-level organization: the admin) |
//! | `RestructureOrg` (kind, parent, delete) | an organization | managers of its parent |
//! | `ReadPerson` | a person | themselves; managers of any organization they belong to |
//! | `CreatePerson`, `ChangePerson`, `DeletePerson` | a person | managers of *every* organization they belong to (before and after), and — where the person holds (or is given) an organizer role — managers from *above* that organization: peers do not change each other; never oneself for a deletion |
//! | `ChangeOwnContact` | a person | themselves (the e-mail address confirmed from the old one) |
//! | `ReadReports`, `ReadAudit`, `ReadOrgFeed` | an organization | its managers |
//! | `ReadOwnFeed` | a person | themselves |
//! | `ManageTokensOf` (list, revoke) | a person | themselves; whoever may change them (`ChangePerson`) |
//! | `CreateToken` | a person | themselves (the operator makes them for anyone) |
//! | `OpenConsole` | — | anyone with an organizer role |
//! | `ImportDirectory`, `MoveClock`, `ReadMailLog` | — | the admin and the operator |
//!
//! A calendar feed token opens `ReadOwnFeed` and `ReadOrgFeed` and nothing
//! else. Outside the caller's scope a thing is [`Denial::Hidden`]:
//! the adapters answer exactly as if it did not exist, so nobody learns
//! what exists outside their organizations. Scope is a path prefix test on
//! materialized paths that end in `/` (`/county/jiguan/zb1/`), compared
//! exactly: no character in an id can widen it.

use crate::caller::{Caller, Credential};

/// An operation, as the policy knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// List a person's tasks (待办 / 已办).
    ListTasksOf,
    /// Read an instance, its tasks, history and files.
    ReadInstance,
    /// Decide a task, hand it on, sign, vote, rate, attach a file, take
    /// one's decision back.
    ActOnTask,
    /// Comment on a task.
    CommentOnTask,
    /// 催办.
    UrgeTask,
    /// Name a person to receive a task (转办, 委派, 加签, 抄送).
    HandTaskTo,
    /// Start an instance for an organization.
    StartInstance,
    /// Name the person an instance is about.
    NameSubject,
    /// Cancel an instance.
    CancelInstance,
    /// 撤回 an instance (its initiator; the engine checks).
    WithdrawInstance,
    /// Close a vote or rating early (its chair; the engine checks).
    CloseStep,
    /// Read a definition.
    ReadDefinition,
    /// Publish a definition (a new one, or a new version).
    PublishDefinition,
    /// Point a schedule at part of the tree.
    AimSchedule,
    /// Fire a schedule (the scheduler, before every fire).
    FireSchedule,
    /// Read a schedule.
    ReadSchedule,
    /// Pause, resume or fire a schedule.
    SteerSchedule,
    /// Read an organization.
    ReadOrg,
    /// Create an organization under a parent.
    CreateOrg,
    /// Rename an organization, change its term.
    ChangeOrg,
    /// Change an organization's kind or parent, or delete it.
    RestructureOrg,
    /// Read a person.
    ReadPerson,
    /// Create a person with memberships.
    CreatePerson,
    /// Change a person's record or memberships.
    ChangePerson,
    /// Change one's own phone, and e-mail address (confirmed from the old
    /// one).
    ChangeOwnContact,
    /// Delete a person.
    DeletePerson,
    /// Read the reports of a subtree (督办台账, pipeline, its tasks, its feed).
    ReadReports,
    /// Read the audit trail of a subtree.
    ReadAudit,
    /// Read one's own calendar feed.
    ReadOwnFeed,
    /// Read an organization's calendar feed (its subtree's deadlines).
    ReadOrgFeed,
    /// List and revoke a person's tokens.
    ManageTokensOf,
    /// Make a personal token for a person.
    CreateToken,
    /// Open the organizer's console.
    OpenConsole,
    /// Import or export the whole directory.
    ImportDirectory,
    /// Move a manual clock.
    MoveClock,
    /// Read the log of failed mail.
    ReadMailLog,
}

/// Every operation, for the tests that walk them all.
pub const ALL_OPS: &[Op] = &[
    Op::ListTasksOf,
    Op::ReadInstance,
    Op::ActOnTask,
    Op::CommentOnTask,
    Op::UrgeTask,
    Op::HandTaskTo,
    Op::StartInstance,
    Op::NameSubject,
    Op::CancelInstance,
    Op::WithdrawInstance,
    Op::CloseStep,
    Op::ReadDefinition,
    Op::PublishDefinition,
    Op::AimSchedule,
    Op::FireSchedule,
    Op::ReadSchedule,
    Op::SteerSchedule,
    Op::ReadOrg,
    Op::CreateOrg,
    Op::ChangeOrg,
    Op::RestructureOrg,
    Op::ReadPerson,
    Op::CreatePerson,
    Op::ChangePerson,
    Op::ChangeOwnContact,
    Op::DeletePerson,
    Op::ReadReports,
    Op::ReadAudit,
    Op::ReadOwnFeed,
    Op::ReadOrgFeed,
    Op::ManageTokensOf,
    Op::CreateToken,
    Op::OpenConsole,
    Op::ImportDirectory,
    Op::MoveClock,
    Op::ReadMailLog,
];

/// An organization as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgScope {
    /// Its path (`/county/jiguan/zb1/`).
    pub path: String,
    /// Its parent's path (`None` for a top-level organization).
    pub parent_path: Option<String>,
}

/// A person as the policy sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonScope {
    /// Person id.
    pub id: String,
    /// The paths of the organizations they belong to (for a change: before
    /// and after).
    pub paths: Vec<String>,
    /// The paths of the organizations where they hold an organizer role
    /// (for a change: before and after).
    pub leads: Vec<String>,
}

/// An instance as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceScope {
    /// Its organization's path.
    pub org_path: String,
    /// Who started it.
    pub initiator: String,
    /// The person it is about.
    pub subject: Option<String>,
    /// Everyone who held a task in it.
    pub participants: Vec<String>,
}

/// A task as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskScope {
    /// Its instance.
    pub instance: InstanceScope,
    /// Who holds it now.
    pub assignee: String,
}

/// A definition as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DefinitionScope {
    /// The owner's path (`None`: the whole tree, as the shipped library).
    pub owner_path: Option<String>,
    /// The paths of the top-level organizations: the whole tree is theirs.
    pub tree: Vec<String>,
}

/// A schedule as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleScope {
    /// The path of the organization it starts instances under (`None`:
    /// the whole tree).
    pub target_path: Option<String>,
    /// Its definition's owner (`None`: the whole tree).
    pub owner_path: Option<String>,
    /// The paths of the top-level organizations: the whole tree is theirs.
    pub tree: Vec<String>,
}

/// What an operation is done on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing in particular (the console, the clock, the directory as a whole).
    System,
    /// An organization.
    Org(&'a OrgScope),
    /// A person.
    Person(&'a PersonScope),
    /// An instance.
    Instance(&'a InstanceScope),
    /// A task.
    Task(&'a TaskScope),
    /// A definition.
    Definition(&'a DefinitionScope),
    /// A schedule.
    Schedule(&'a ScheduleScope),
    /// A person named for something in an organization (a subject, a
    /// recipient of a task).
    PersonIn(&'a PersonScope, &'a str),
}

/// Why an operation is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The credential does not open this at all (a feed token elsewhere).
    Unauthenticated,
    /// Outside the caller's scope: answer as if it did not exist.
    Hidden,
    /// Visible, but not the caller's to do; why, in words people read.
    Forbidden(&'static str),
}

/// Decides whether `caller` may do `op` on `target`.
pub fn check(caller: &Caller, op: Op, target: Target<'_>) -> Result<(), Denial> {
    use Op::*;
    if caller.credential == Credential::Feed && !matches!(op, ReadOwnFeed | ReadOrgFeed) {
        return Err(Denial::Unauthenticated);
    }
    // Who may receive a task, whom an instance may be about: rules of the
    // tree that hold for the admin too.
    match (op, target) {
        (HandTaskTo, Target::PersonIn(p, org_path)) => {
            return seen(
                p.paths
                    .iter()
                    .any(|m| within(org_path, m) || within(m, org_path)),
            );
        }
        (NameSubject, Target::PersonIn(p, org_path)) => {
            return seen(p.paths.iter().any(|m| within(m, org_path)));
        }
        (FireSchedule, Target::Schedule(s)) => {
            return rule(
                inside_owner(s),
                "定时任务所面向的组织已不在流程定义所属组织之下",
            );
        }
        _ => {}
    }
    if caller.is_admin() {
        return Ok(());
    }
    let c = caller;
    match (op, target) {
        (ListTasksOf, Target::Person(p)) => rule(is(c, &p.id), "只能查看自己的待办和已办"),
        (ReadInstance | WithdrawInstance | CloseStep, Target::Instance(i)) => {
            seen(sees_instance(c, i))
        }
        (CancelInstance, Target::Instance(i)) => {
            seen(sees_instance(c, i))?;
            rule(
                is(c, &i.initiator) || manages(c, &i.org_path),
                "只有发起人或本组织的管理人员可以撤销流程",
            )
        }
        (ActOnTask, Target::Task(t)) => {
            seen(sees_instance(c, &t.instance))?;
            rule(is(c, &t.assignee), "该事项不由您办理")
        }
        (CommentOnTask, Target::Task(t)) => {
            seen(sees_instance(c, &t.instance))?;
            rule(
                is(c, &t.assignee) || is(c, &t.instance.initiator),
                "只有办理人或发起人可以填写意见",
            )
        }
        (UrgeTask, Target::Task(t)) => {
            seen(sees_instance(c, &t.instance))?;
            rule(
                is(c, &t.instance.initiator) || manages(c, &t.instance.org_path),
                "催办由发起人或本组织的管理人员进行",
            )
        }
        (StartInstance, Target::Org(o)) => {
            seen(sees_org(c, o))?;
            rule(manages(c, &o.path), "只有本组织的管理人员可以发起流程")
        }
        (ReadDefinition, Target::Definition(d)) => seen(sees_definition(c, d)),
        (PublishDefinition, Target::Definition(d)) => {
            seen(sees_definition(c, d))?;
            rule(
                manages_maybe_tree(c, d.owner_path.as_deref(), &d.tree),
                "只有流程定义所属组织的管理人员可以发布（全局流程由管理全部顶层组织的人员发布）",
            )
        }
        (AimSchedule, Target::Schedule(s)) => rule(
            inside_owner(s) && manages_maybe_tree(c, s.target_path.as_deref(), &s.tree),
            "定时任务只能面向发布者所管理、且属于流程定义所属组织的组织",
        ),
        (ReadSchedule, Target::Schedule(s)) => seen(sees_schedule(c, s)),
        (SteerSchedule, Target::Schedule(s)) => {
            seen(sees_schedule(c, s))?;
            rule(
                manages_maybe_tree(c, s.target_path.as_deref(), &s.tree),
                "只有定时任务所面向组织的管理人员可以暂停、恢复或立即执行",
            )
        }
        (ReadOrg, Target::Org(o)) => seen(sees_org(c, o)),
        (CreateOrg, Target::Org(parent)) => {
            seen(sees_org(c, parent))?;
            rule(
                manages(c, &parent.path),
                "只有上级组织的管理人员可以在其下新建组织",
            )
        }
        (CreateOrg, Target::System) => rule(false, "只有管理员可以新建顶层组织"),
        (ChangeOrg, Target::Org(o)) => {
            seen(sees_org(c, o))?;
            rule(manages(c, &o.path), "只有该组织的管理人员可以修改组织")
        }
        (RestructureOrg, Target::Org(o)) => {
            seen(sees_org(c, o))?;
            rule(
                o.parent_path.as_deref().is_some_and(|p| manages(c, p)),
                "调整组织类别、隶属关系或删除组织，须由上级组织的管理人员办理",
            )
        }
        (ReadPerson, Target::Person(p)) => seen(sees_person(c, p)),
        (CreatePerson, Target::Person(p)) => {
            // A new person is seen through the organizations they will join.
            seen(p.paths.iter().any(|m| manages(c, m)))?;
            rule(
                has_authority(c, p),
                "新增人员须对其所在的每一个组织都有管理权限；任命书记、组织委员等须由上级组织办理",
            )
        }
        (ChangePerson, Target::Person(p)) => {
            seen(sees_person(c, p))?;
            rule(
                has_authority(c, p),
                "修改人员（含邮箱、角色）须对其所在的每一个组织都有管理权限；书记、组织委员等由上级组织管理",
            )
        }
        (DeletePerson, Target::Person(p)) => {
            seen(sees_person(c, p))?;
            rule(
                has_authority(c, p) && !is(c, &p.id),
                "删除人员须对其所在的每一个组织都有管理权限（书记、组织委员等由上级组织管理），且不能删除自己",
            )
        }
        (ChangeOwnContact, Target::Person(p)) => {
            seen(sees_person(c, p))?;
            rule(is(c, &p.id), "只能修改自己的联系方式")
        }
        (ReadOwnFeed, Target::Person(p)) => seen(is(c, &p.id)),
        (ReadReports | ReadAudit | ReadOrgFeed, Target::Org(o)) => {
            seen(sees_org(c, o))?;
            rule(manages(c, &o.path), "只有该组织的管理人员可以查看")
        }
        (ManageTokensOf, Target::Person(p)) => {
            seen(sees_person(c, p))?;
            rule(
                is(c, &p.id) || has_authority(c, p),
                "只能管理自己的令牌，或您有权修改的人员的令牌",
            )
        }
        (CreateToken, Target::Person(p)) => {
            seen(sees_person(c, p))?;
            rule(is(c, &p.id), "只能为自己创建令牌")
        }
        (OpenConsole, Target::System) => rule(
            c.managed_paths().next().is_some(),
            "控制台由书记、副书记、组织委员、组织员或组织部门使用",
        ),
        (ImportDirectory | MoveClock | ReadMailLog, Target::System) => {
            rule(false, "需要管理员令牌")
        }
        // An operation asked about the wrong kind of thing is a defect of
        // the caller; refuse rather than guess.
        _ => Err(Denial::Forbidden("无权进行该操作")),
    }
}

/// `allowed`, or forbidden for `why`.
fn rule(allowed: bool, why: &'static str) -> Result<(), Denial> {
    if allowed {
        Ok(())
    } else {
        Err(Denial::Forbidden(why))
    }
}

/// Visible, or hidden.
fn seen(visible: bool) -> Result<(), Denial> {
    if visible { Ok(()) } else { Err(Denial::Hidden) }
}

fn is(c: &Caller, person: &str) -> bool {
    c.person == person
}

/// Whether `path` lies in the subtree at `root` (both end in `/`, so
/// `/a/zb1/` is not under `/a/zb/`): an exact prefix test.
pub fn within(path: &str, root: &str) -> bool {
    root.ends_with('/') && path.starts_with(root)
}

/// Whether the caller manages the organization at `path`.
fn manages(c: &Caller, path: &str) -> bool {
    c.managed_paths().any(|root| within(path, root))
}

/// Whether the caller manages the organization at `path` from above it
/// (a strict ancestor): peers of one organization do not decide about
/// each other.
fn manages_from_above(c: &Caller, path: &str) -> bool {
    c.managed_paths()
        .any(|root| within(path, root) && root != path)
}

/// Whether the caller manages every top-level organization (`tree`), and
/// so what concerns the whole tree. An empty tree is nobody's.
fn manages_whole_tree(c: &Caller, tree: &[String]) -> bool {
    !tree.is_empty() && tree.iter().all(|root| manages(c, root))
}

/// [`manages`] for a path, or the whole tree for `None`.
fn manages_maybe_tree(c: &Caller, path: Option<&str>, tree: &[String]) -> bool {
    match path {
        Some(p) => manages(c, p),
        None => manages_whole_tree(c, tree),
    }
}

/// Authority over a person: managing every organization they belong to,
/// and, where they hold an organizer role, managing it from above.
fn has_authority(c: &Caller, p: &PersonScope) -> bool {
    manages_all(c, &p.paths) && p.leads.iter().all(|l| manages_from_above(c, l))
}

/// Whether the caller manages every one of the paths (and there is one).
fn manages_all(c: &Caller, paths: &[String]) -> bool {
    !paths.is_empty() && paths.iter().all(|p| manages(c, p))
}

/// Whether what a schedule starts lies inside its owner's subtree.
fn inside_owner(s: &ScheduleScope) -> bool {
    match (&s.owner_path, &s.target_path) {
        (None, _) => true,
        (Some(owner), Some(target)) => within(target, owner),
        (Some(_), None) => false,
    }
}

fn sees_org(c: &Caller, o: &OrgScope) -> bool {
    manages(c, &o.path) || c.roles.iter().any(|r| r.path == o.path)
}

fn sees_person(c: &Caller, p: &PersonScope) -> bool {
    is(c, &p.id) || p.paths.iter().any(|m| manages(c, m))
}

fn sees_instance(c: &Caller, i: &InstanceScope) -> bool {
    manages(c, &i.org_path)
        || is(c, &i.initiator)
        || i.subject.as_deref().is_some_and(|s| is(c, s))
        || i.participants.iter().any(|p| is(c, p))
}

fn sees_definition(c: &Caller, d: &DefinitionScope) -> bool {
    match &d.owner_path {
        None => true,
        Some(owner) => c
            .roles
            .iter()
            .any(|r| within(&r.path, owner) || within(owner, &r.path)),
    }
}

fn sees_schedule(c: &Caller, s: &ScheduleScope) -> bool {
    manages_maybe_tree(c, s.target_path.as_deref(), &s.tree)
        || s.owner_path.as_deref().is_some_and(|o| manages(c, o))
}

#[cfg(test)]
mod tests;
