//! An organization tree in the store: `county` (党委) → `committee` (党委,
//! with its 书记 and 组织员) → `b1` … `bN` (党支部, each with a 书记, a
//! 组织委员, a 培养联系人 and an applicant). Imported in one transaction.

use stageflow_store::{Membership, NewOrg, NewPerson, Store};

use crate::setup::t0;

fn person(id: String, roles: &[(&str, &str)]) -> NewPerson {
    NewPerson {
        name: format!("测试{id}"),
        email: Some(format!("{id}@bench.example")),
        status: Some("正式党员".into()),
        memberships: roles
            .iter()
            .map(|(org, role)| Membership {
                org: org.to_string(),
                role: role.to_string(),
            })
            .collect(),
        id: Some(id),
        ..Default::default()
    }
}

/// Imports the tree with `branches` 党支部; returns each branch with its
/// applicant.
pub async fn seed(
    store: &dyn Store,
    branches: usize,
) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let org = |id: &str, kind: &str, parent: Option<&str>| NewOrg {
        id: Some(id.into()),
        name: format!("测试{id}"),
        kind: kind.into(),
        parent: parent.map(str::to_string),
        ..Default::default()
    };
    let mut orgs = vec![
        org("county", "党委", None),
        org("committee", "党委", Some("county")),
    ];
    let mut people = vec![
        person("committee-secretary".into(), &[("committee", "secretary")]),
        person("committee-officer".into(), &[("committee", "org_officer")]),
    ];
    let mut subjects = Vec::with_capacity(branches);
    for b in 1..=branches {
        let id = format!("b{b}");
        orgs.push(org(&id, "党支部", Some("committee")));
        people.push(person(format!("{id}-secretary"), &[(&id, "secretary")]));
        people.push(person(
            format!("{id}-organizer"),
            &[(&id, "organization_member")],
        ));
        people.push(person(format!("{id}-trainer"), &[(&id, "trainer")]));
        let mut applicant = person(format!("{id}-applicant"), &[(&id, "member")]);
        applicant.status = Some("申请人".into());
        people.push(applicant);
        subjects.push((id.clone(), Some(format!("{id}-applicant"))));
    }
    store
        .import_directory(
            &orgs,
            &people,
            &stageflow_store::Audit {
                actor: "bench",
                at: t0(),
            },
        )
        .await?;
    Ok(subjects)
}
