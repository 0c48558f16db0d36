//! The policy's rules on hand-made callers and targets (pure: no store).

use super::*;
use crate::caller::Role;

fn person(id: &str, roles: &[(&str, &str)]) -> Caller {
    Caller {
        person: id.into(),
        name: id.into(),
        credential: Credential::Bearer,
        roles: roles
            .iter()
            .map(|(path, role)| Role {
                org: path
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .into(),
                path: (*path).into(),
                role: (*role).into(),
            })
            .collect(),
    }
}

fn org(path: &str, parent: Option<&str>) -> OrgScope {
    OrgScope {
        path: path.into(),
        parent_path: parent.map(str::to_string),
    }
}

fn someone(id: &str, paths: &[&str]) -> PersonScope {
    PersonScope {
        id: id.into(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        leads: Vec::new(),
    }
}

fn official(id: &str, paths: &[&str], leads: &[&str]) -> PersonScope {
    PersonScope {
        leads: leads.iter().map(|p| p.to_string()).collect(),
        ..someone(id, paths)
    }
}

fn tree() -> Vec<String> {
    vec![COUNTY.to_string()]
}

const ZB1: &str = "/county/jiguan/zb1/";
const ZB2: &str = "/county/jiguan/zb2/";
const JIGUAN: &str = "/county/jiguan/";
const COUNTY: &str = "/county/";

#[test]
fn a_subtree_is_an_exact_path_prefix() {
    assert!(within(ZB1, JIGUAN));
    assert!(within(JIGUAN, JIGUAN));
    assert!(!within(JIGUAN, ZB1));
    // `zb` is not a prefix of `zb1`, and `_` is a character like any other.
    assert!(!within("/county/jiguan/zb1/", "/county/jiguan/zb/"));
    assert!(!within("/county/jiguan/zb1/", "/county/jiguan/zb_/"));
    assert!(!within("/county/jiguan/zb1/", "/county/jiguan/z%/"));
    // Case is part of the id.
    assert!(!within("/county/jiguan/ZB1/", ZB1));
    // A root that is not a stored path (no trailing slash) matches nothing.
    assert!(!within(ZB1, "/county/jiguan/zb1"));
}

#[test]
fn changing_a_person_needs_every_organization_they_belong_to() {
    let branch_organizer = person("zb1-organizer", &[(ZB1, "organization_member")]);
    // The county secretary also belongs to the branch.
    let secretary = someone("county-secretary", &[COUNTY, ZB1]);
    assert_eq!(
        check(
            &branch_organizer,
            Op::ReadPerson,
            Target::Person(&secretary)
        ),
        Ok(())
    );
    assert!(matches!(
        check(
            &branch_organizer,
            Op::ChangePerson,
            Target::Person(&secretary)
        ),
        Err(Denial::Forbidden(_))
    ));
    assert!(matches!(
        check(
            &branch_organizer,
            Op::DeletePerson,
            Target::Person(&secretary)
        ),
        Err(Denial::Forbidden(_))
    ));
    let member = someone("zb1-member-1", &[ZB1]);
    assert_eq!(
        check(&branch_organizer, Op::ChangePerson, Target::Person(&member)),
        Ok(())
    );
    let county = person("county-org", &[(COUNTY, "org_department")]);
    assert_eq!(
        check(&county, Op::ChangePerson, Target::Person(&secretary)),
        Ok(())
    );
}

#[test]
fn outside_ones_scope_things_are_hidden_not_forbidden() {
    let zb1 = person("zb1-secretary", &[(ZB1, "secretary")]);
    let zb2_member = someone("zb2-member-1", &[ZB2]);
    assert_eq!(
        check(&zb1, Op::ReadPerson, Target::Person(&zb2_member)),
        Err(Denial::Hidden)
    );
    assert_eq!(
        check(&zb1, Op::ChangePerson, Target::Person(&zb2_member)),
        Err(Denial::Hidden)
    );
    assert_eq!(
        check(&zb1, Op::ReadOrg, Target::Org(&org(ZB2, Some(JIGUAN)))),
        Err(Denial::Hidden)
    );
    let instance = InstanceScope {
        org_path: ZB2.into(),
        initiator: "jiguan-organizer".into(),
        subject: None,
        participants: vec!["zb2-secretary".into()],
    };
    assert_eq!(
        check(&zb1, Op::ReadInstance, Target::Instance(&instance)),
        Err(Denial::Hidden)
    );
    // A member of the branch sees the branch but may not start there.
    let member = person("zb1-member-1", &[(ZB1, "full_member")]);
    assert!(matches!(
        check(
            &member,
            Op::StartInstance,
            Target::Org(&org(ZB1, Some(JIGUAN)))
        ),
        Err(Denial::Forbidden(_))
    ));
}

#[test]
fn an_organization_is_restructured_from_above() {
    let zb1 = person("zb1-secretary", &[(ZB1, "secretary")]);
    let branch = org(ZB1, Some(JIGUAN));
    assert_eq!(check(&zb1, Op::ChangeOrg, Target::Org(&branch)), Ok(()));
    assert!(matches!(
        check(&zb1, Op::RestructureOrg, Target::Org(&branch)),
        Err(Denial::Forbidden(_))
    ));
    let jiguan = person("jiguan-organizer", &[(JIGUAN, "organization_member")]);
    assert_eq!(
        check(&jiguan, Op::RestructureOrg, Target::Org(&branch)),
        Ok(())
    );
}

#[test]
fn definitions_and_schedules_stay_inside_their_owner() {
    let zb1 = person("zb1-organizer", &[(ZB1, "organization_member")]);
    let library = DefinitionScope {
        owner_path: None,
        tree: tree(),
    };
    assert_eq!(
        check(&zb1, Op::ReadDefinition, Target::Definition(&library)),
        Ok(())
    );
    assert!(matches!(
        check(&zb1, Op::PublishDefinition, Target::Definition(&library)),
        Err(Denial::Forbidden(_))
    ));
    let own = DefinitionScope {
        owner_path: Some(ZB1.into()),
        tree: tree(),
    };
    assert_eq!(
        check(&zb1, Op::PublishDefinition, Target::Definition(&own)),
        Ok(())
    );
    let siblings = ScheduleScope {
        target_path: Some(JIGUAN.into()),
        owner_path: Some(ZB1.into()),
        tree: tree(),
    };
    assert!(matches!(
        check(&zb1, Op::AimSchedule, Target::Schedule(&siblings)),
        Err(Denial::Forbidden(_))
    ));
    let inside = ScheduleScope {
        target_path: Some(ZB1.into()),
        owner_path: Some(ZB1.into()),
        tree: tree(),
    };
    assert_eq!(
        check(&zb1, Op::AimSchedule, Target::Schedule(&inside)),
        Ok(())
    );
    // A definition owned by a sibling is not even seen.
    let sibling = DefinitionScope {
        owner_path: Some(ZB2.into()),
        tree: tree(),
    };
    assert_eq!(
        check(&zb1, Op::ReadDefinition, Target::Definition(&sibling)),
        Err(Denial::Hidden)
    );
}

#[test]
fn subjects_and_recipients_come_from_the_instances_organization() {
    let applicant = someone("applicant-1", &[ZB1]);
    let zb2_member = someone("zb2-member-1", &[ZB2]);
    let organizer = person("zb1-organizer", &[(ZB1, "organization_member")]);
    assert_eq!(
        check(
            &organizer,
            Op::NameSubject,
            Target::PersonIn(&applicant, ZB1)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &organizer,
            Op::NameSubject,
            Target::PersonIn(&zb2_member, ZB1)
        ),
        Err(Denial::Hidden)
    );
    // A task may go up the tree (the 机关党委) but not to a sibling branch.
    let jiguan_member = someone("jiguan-secretary", &[JIGUAN]);
    assert_eq!(
        check(
            &organizer,
            Op::HandTaskTo,
            Target::PersonIn(&jiguan_member, ZB1)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &organizer,
            Op::HandTaskTo,
            Target::PersonIn(&zb2_member, ZB1)
        ),
        Err(Denial::Hidden)
    );
}

#[test]
fn a_feed_token_opens_the_feeds_and_nothing_else() {
    let mut feed = person("zb1-secretary", &[(ZB1, "secretary")]);
    feed.credential = Credential::Feed;
    let me = someone("zb1-secretary", &[ZB1]);
    assert_eq!(check(&feed, Op::ReadOwnFeed, Target::Person(&me)), Ok(()));
    let branch = org(ZB1, Some(JIGUAN));
    assert_eq!(check(&feed, Op::ReadOrgFeed, Target::Org(&branch)), Ok(()));
    // The same person's reports need a real sign-in.
    assert_eq!(
        check(&feed, Op::ReadReports, Target::Org(&branch)),
        Err(Denial::Unauthenticated)
    );
    assert_eq!(
        check(&feed, Op::ListTasksOf, Target::Person(&me)),
        Err(Denial::Unauthenticated)
    );
}

#[test]
fn every_operation_has_a_rule_for_the_admin_and_someone_else() {
    // No operation falls through to the catch-all for the target it is
    // meant for: each is allowed for the admin, and each is decided (not
    // the defect answer) for an organizer of the county.
    let county = person("county-org", &[(COUNTY, "org_department")]);
    let o = org(ZB1, Some(JIGUAN));
    let p = someone("zb1-member-1", &[ZB1]);
    let i = InstanceScope {
        org_path: ZB1.into(),
        initiator: "zb1-organizer".into(),
        subject: Some("applicant-1".into()),
        participants: Vec::new(),
    };
    let t = TaskScope {
        instance: i.clone(),
        assignee: "county-org".into(),
    };
    let d = DefinitionScope {
        owner_path: None,
        tree: tree(),
    };
    let s = ScheduleScope {
        target_path: Some(ZB1.into()),
        owner_path: None,
        tree: tree(),
    };
    for op in ALL_OPS {
        let target = match op {
            Op::ListTasksOf
            | Op::ReadPerson
            | Op::CreatePerson
            | Op::ChangePerson
            | Op::ChangeOwnContact
            | Op::DeletePerson
            | Op::ReadOwnFeed
            | Op::ManageTokensOf
            | Op::CreateToken => Target::Person(&p),
            Op::ReadInstance | Op::CancelInstance | Op::WithdrawInstance | Op::CloseStep => {
                Target::Instance(&i)
            }
            Op::ActOnTask | Op::CommentOnTask | Op::UrgeTask => Target::Task(&t),
            Op::HandTaskTo | Op::NameSubject => Target::PersonIn(&p, ZB1),
            Op::StartInstance
            | Op::ReadOrg
            | Op::CreateOrg
            | Op::ChangeOrg
            | Op::RestructureOrg
            | Op::ReadReports
            | Op::ReadOrgFeed
            | Op::ReadAudit => Target::Org(&o),
            Op::ReadDefinition | Op::PublishDefinition => Target::Definition(&d),
            Op::AimSchedule | Op::FireSchedule | Op::ReadSchedule | Op::SteerSchedule => {
                Target::Schedule(&s)
            }
            Op::OpenConsole | Op::ImportDirectory | Op::MoveClock | Op::ReadMailLog => {
                Target::System
            }
        };
        assert_eq!(check(&Caller::admin(), *op, target), Ok(()), "{op:?}");
        assert_ne!(
            check(&county, *op, target),
            Err(Denial::Forbidden("无权进行该操作")),
            "{op:?} has no rule for its target"
        );
    }
}

#[test]
fn officials_are_managed_from_above_not_by_their_peers() {
    let secretary = person("zb1-secretary", &[(ZB1, "secretary")]);
    let organizer = official("zb1-organizer", &[ZB1], &[ZB1]);
    // The branch secretary may not rewrite the branch's 组织委员 (a peer:
    // both are appointed from above), nor appoint a new one.
    assert!(matches!(
        check(&secretary, Op::ChangePerson, Target::Person(&organizer)),
        Err(Denial::Forbidden(_))
    ));
    assert!(matches!(
        check(&secretary, Op::CreatePerson, Target::Person(&organizer)),
        Err(Denial::Forbidden(_))
    ));
    assert!(matches!(
        check(&secretary, Op::ManageTokensOf, Target::Person(&organizer)),
        Err(Denial::Forbidden(_))
    ));
    // The 机关党委 above may.
    let jiguan = person("jiguan-organizer", &[(JIGUAN, "organization_member")]);
    assert_eq!(
        check(&jiguan, Op::ChangePerson, Target::Person(&organizer)),
        Ok(())
    );
    // A plain member of the branch is the branch's to manage.
    let member = someone("zb1-member-1", &[ZB1]);
    assert_eq!(
        check(&secretary, Op::ChangePerson, Target::Person(&member)),
        Ok(())
    );
    // Everyone changes their own contact, and nobody else's that way.
    assert_eq!(
        check(
            &secretary,
            Op::ChangeOwnContact,
            Target::Person(&someone("zb1-secretary", &[ZB1]))
        ),
        Ok(())
    );
    assert!(matches!(
        check(&secretary, Op::ChangeOwnContact, Target::Person(&member)),
        Err(Denial::Forbidden(_))
    ));
}

#[test]
fn the_whole_tree_belongs_to_who_manages_every_root() {
    let county = person("county-org", &[(COUNTY, "org_department")]);
    let library = DefinitionScope {
        owner_path: None,
        tree: vec![COUNTY.into(), "/city/".into()],
    };
    // Two roots: managing one of them is not managing the tree.
    assert!(matches!(
        check(&county, Op::PublishDefinition, Target::Definition(&library)),
        Err(Denial::Forbidden(_))
    ));
    let both = person(
        "both",
        &[(COUNTY, "org_department"), ("/city/", "secretary")],
    );
    assert_eq!(
        check(&both, Op::PublishDefinition, Target::Definition(&library)),
        Ok(())
    );
    // An empty tree (no organizations yet) is nobody's but the admin's.
    let empty = DefinitionScope {
        owner_path: None,
        tree: Vec::new(),
    };
    assert!(matches!(
        check(&both, Op::PublishDefinition, Target::Definition(&empty)),
        Err(Denial::Forbidden(_))
    ));
    assert_eq!(
        check(
            &Caller::admin(),
            Op::PublishDefinition,
            Target::Definition(&empty)
        ),
        Ok(())
    );
    let everywhere = ScheduleScope {
        target_path: None,
        owner_path: None,
        tree: vec![COUNTY.into(), "/city/".into()],
    };
    // (A schedule over the whole tree is not even seen from one root.)
    assert_eq!(
        check(&county, Op::SteerSchedule, Target::Schedule(&everywhere)),
        Err(Denial::Hidden)
    );
    assert_eq!(
        check(&both, Op::SteerSchedule, Target::Schedule(&everywhere)),
        Ok(())
    );
}
