//! What each role may do, per policy operation, written out independently
//! of the policy module: the expectations of the matrix.

use stageflow_api::routes::{Access, RouteInfo};
use stageflow_app::policy::Op;

/// The two branches: the first is inside the scope of the zb1 roles, the
/// second inside that of the zb2 roles; 机关党委 and 县委 manage both.
pub(super) const ZONES: [&str; 2] = ["zb1", "zb2"];

/// Who calls.
pub(super) const ROLES: &[&str] = &[
    "none",
    "feed",
    "session",
    "applicant-1",
    "zb1-member-2",
    "zb1-organizer",
    "zb1-secretary",
    "zb2-organizer",
    "zb2-secretary",
    "jiguan-organizer",
    "county-org",
    "admin",
];

/// What a case must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// Done, or refused by the thing's state (2xx, 3xx, 409, 422 other
    /// than "does not exist"): the policy let it through.
    Allowed,
    /// Let through by the policy, but the engine may refuse who is not
    /// the initiator or chair (403 allowed): anything but hidden.
    Visible,
    /// 403: seen, not the caller's to do.
    Forbidden,
    /// Answered as missing: 404, or 422 "does not exist" for a thing named
    /// in the body.
    Hidden,
    /// 401.
    Unauthenticated,
    /// A public route: anything but a server error (a sign-in with a bad
    /// link is a 401 page).
    Public,
}

pub(super) fn manages(role: &str, zone: &str) -> bool {
    matches!(role, "jiguan-organizer" | "county-org" | "admin")
        || role == format!("{zone}-organizer")
        || role == format!("{zone}-secretary")
}

pub(super) fn member_of(role: &str, zone: &str) -> bool {
    match role {
        "applicant-1" | "zb1-member-2" => zone == "zb1",
        r => r.starts_with(&format!("{zone}-")),
    }
}

/// Whether the role has a role in the zone's organization, above it or
/// below it (definitions owned by the zone are shown to them).
pub(super) fn reaches(role: &str, zone: &str) -> bool {
    match role {
        // The branch secretaries also sit on the 机关党委.
        "zb1-secretary" | "zb2-secretary" | "jiguan-organizer" | "county-org" | "admin" => true,
        r => member_of(r, zone),
    }
}

/// The assignee of the zone's admission task (the applicant).
pub(super) fn assignee(role: &str, zone: &str) -> bool {
    role == "applicant-1" && zone == "zb1"
}

pub(super) fn manage_or(role: &str, zone: &str, seen: bool) -> Expect {
    if manages(role, zone) {
        Expect::Allowed
    } else if seen {
        Expect::Forbidden
    } else {
        Expect::Hidden
    }
}

/// What each operation lets each role do to the zone's thing: the rules
/// of the issue "The application core", written out. `None`: no entry.
pub(super) fn spec(op: Op, route: &RouteInfo, role: &str, zone: &str) -> Option<Expect> {
    use Expect::*;
    let admin = role == "admin";
    Some(match op {
        Op::ListTasksOf => Allowed,
        Op::ReadInstance if route.path.starts_with("/console/campaigns") => {
            manage_or(role, zone, false)
        }
        Op::ReadInstance => {
            if manages(role, zone) || assignee(role, zone) {
                Allowed
            } else {
                Hidden
            }
        }
        Op::ActOnTask => {
            if assignee(role, zone) {
                Allowed
            } else if admin {
                // The admin passes the policy; the engine says whose task.
                Visible
            } else if manages(role, zone) {
                Forbidden
            } else {
                Hidden
            }
        }
        Op::StartInstance => manage_or(role, zone, member_of(role, zone)),
        // A fresh instance of the zone, its task the secretary's.
        Op::CancelInstance => manage_or(role, zone, false),
        Op::WithdrawInstance => {
            if manages(role, zone) {
                Visible
            } else {
                Hidden
            }
        }
        Op::CloseStep => {
            if manages(role, zone) || assignee(role, zone) {
                Visible
            } else {
                Hidden
            }
        }
        Op::ReadDefinition if route.path == "/api/v1/definitions" => Allowed,
        Op::ReadDefinition => {
            if reaches(role, zone) {
                Allowed
            } else {
                Hidden
            }
        }
        // The console publishes with the publisher's own default owner.
        Op::PublishDefinition if route.page => Allowed,
        // The owner named is an organization: seen by its members.
        Op::PublishDefinition => manage_or(role, zone, member_of(role, zone)),
        Op::ReadSchedule if route.path == "/api/v1/schedules" || route.page => Allowed,
        Op::ReadSchedule | Op::SteerSchedule => manage_or(role, zone, false),
        Op::ReadOrg if route.path == "/api/v1/orgs" => Allowed,
        Op::ReadOrg => {
            if manages(role, zone) || member_of(role, zone) {
                Allowed
            } else {
                Hidden
            }
        }
        Op::CreateOrg => manage_or(role, zone, member_of(role, zone)),
        // A fresh 党小组 of the zone: nobody is a member of it.
        Op::ChangeOrg | Op::RestructureOrg => manage_or(role, zone, false),
        Op::ReadPerson if route.path == "/api/v1/people" => Allowed,
        Op::ReadPerson | Op::CreatePerson | Op::ChangePerson | Op::DeletePerson => {
            manage_or(role, zone, false)
        }
        Op::ReadReports | Op::ReadAudit => manage_or(role, zone, member_of(role, zone)),
        Op::ReadOrgFeed => {
            if role == "feed" {
                // zb1-secretary's feed token: their own branch.
                if zone == "zb1" { Allowed } else { Hidden }
            } else {
                manage_or(role, zone, member_of(role, zone))
            }
        }
        // The feed of the zone's secretary.
        Op::ReadOwnFeed if route.page => Allowed,
        Op::ReadOwnFeed => {
            let own = role == format!("{zone}-secretary") || (role == "feed" && zone == "zb1");
            if own || admin { Allowed } else { Hidden }
        }
        Op::ManageTokensOf if route.method == "GET" => Allowed,
        // A fresh member of the zone's token.
        Op::ManageTokensOf => manage_or(role, zone, false),
        Op::CreateToken => Allowed,
        Op::OpenConsole => Allowed,
        Op::MoveClock | Op::ReadMailLog => {
            if admin {
                Allowed
            } else {
                Forbidden
            }
        }
        _ => return None,
    })
}

pub(super) fn is_organizer(role: &str) -> bool {
    matches!(
        role,
        "zb1-organizer"
            | "zb1-secretary"
            | "zb2-organizer"
            | "zb2-secretary"
            | "jiguan-organizer"
            | "county-org"
            | "admin"
    )
}

/// The expected answer of a case, credentials first.
pub(super) fn expected(route: &RouteInfo, role: &str, zone: &str) -> Result<Expect, String> {
    let op = match route.access {
        Access::Public => return Ok(Expect::Public),
        Access::SignedIn => None,
        Access::Op(op) => Some(op),
    };
    let calendar = route.path.starts_with("/api/v1/calendar");
    match role {
        "none" => return Ok(Expect::Unauthenticated),
        "feed" if !calendar => return Ok(Expect::Unauthenticated),
        // A session token opens the pages, not the API.
        "session" if !route.page => return Ok(Expect::Unauthenticated),
        _ => {}
    }
    // The console's pages are the organizers' (OpenConsole first).
    if route.page && route.path.starts_with("/console") && !is_organizer(role) {
        return Ok(Expect::Forbidden);
    }
    match op {
        None => Ok(Expect::Allowed),
        Some(op) => spec(op, route, role, zone).ok_or_else(|| {
            format!(
                "{} {} ({op:?}) has no entry in the matrix",
                route.method, route.path
            )
        }),
    }
}
