//! `serve --demo`: a sample 党委 with three 党支部 and about thirty people,
//! one login token per role, and a few running instances.

use chrono::{DateTime, Datelike, Duration, Utc};
use stageflow_engine::state::{Subject, Values};
use stageflow_runtime::StartRequest;
use stageflow_store::{Audit, Membership, NewOrg, NewPerson, TokenKind};
use uuid::Uuid;

use crate::App;
use crate::caller::{OPERATOR, hash_token, new_token};

/// A login to try.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// Who.
    pub label: String,
    /// Person id.
    pub person: String,
    /// Bearer token.
    pub token: String,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "志强", "海燕", "伟", "芳", "军", "敏", "磊", "静", "洋", "艳", "勇", "娟",
    "杰", "霞", "涛", "明", "超", "丽",
];

fn name(i: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[i % SURNAMES.len()],
        GIVEN[(i * 7 + 3) % GIVEN.len()]
    )
}

/// Seeds an empty database (or does nothing to a non-empty one) and
/// returns fresh tokens for the demo people (valid 30 days).
pub async fn seed(app: &App) -> Result<Vec<DemoLogin>, String> {
    let now = app.now();
    let store = &app.store;
    let audit = Audit {
        actor: OPERATOR,
        at: now,
    };
    let err = |e: stageflow_store::StoreError| e.to_string();
    if store.org("county").await.map_err(err)?.is_none() {
        let org = |id: &str, name: &str, kind: &str, parent: Option<&str>| NewOrg {
            id: Some(id.into()),
            name: name.into(),
            kind: kind.into(),
            parent: parent.map(str::to_string),
            term_start: Some("2024-06-01".into()),
            term_years: Some(if kind == "党支部" { 3 } else { 5 }),
        };
        store
            .create_org(&org("county", "中共示范县委员会", "党委", None), &audit)
            .await
            .map_err(err)?;
        store
            .create_org(
                &org("jiguan", "县直机关党委", "党委", Some("county")),
                &audit,
            )
            .await
            .map_err(err)?;
        for (i, branch) in ["机关第一党支部", "机关第二党支部", "机关第三党支部"]
            .iter()
            .enumerate()
        {
            store
                .create_org(
                    &org(&format!("zb{}", i + 1), branch, "党支部", Some("jiguan")),
                    &audit,
                )
                .await
                .map_err(err)?;
        }
        let mut n = 0;
        let mut person = |id: &str, status: &str, birth: &str, roles: &[(&str, &str)]| {
            n += 1;
            NewPerson {
                id: Some(id.into()),
                name: name(n),
                email: Some(format!("{id}@example.org")),
                phone: None,
                birth_date: Some(birth.into()),
                status: Some(status.into()),
                key_dates: serde_json::Map::new(),
                memberships: roles
                    .iter()
                    .map(|(o, r)| Membership {
                        org: o.to_string(),
                        role: r.to_string(),
                    })
                    .collect(),
            }
        };
        let mut people = vec![
            person(
                "county-secretary",
                "正式党员",
                "1968-02-02",
                &[("county", "secretary"), ("county", "full_member")],
            ),
            person(
                "county-org",
                "正式党员",
                "1972-05-04",
                &[("county", "org_department"), ("county", "supervisor")],
            ),
            person(
                "jiguan-secretary",
                "正式党员",
                "1970-07-01",
                &[
                    ("jiguan", "secretary"),
                    ("jiguan", "full_member"),
                    ("jiguan", "leading_group"),
                    ("jiguan", "committee_member"),
                ],
            ),
            person(
                "jiguan-organizer",
                "正式党员",
                "1978-10-01",
                &[
                    ("jiguan", "organization_member"),
                    ("jiguan", "full_member"),
                    ("jiguan", "leading_group_office"),
                    ("jiguan", "committee_member"),
                ],
            ),
            person(
                "jiguan-officer",
                "正式党员",
                "1985-03-12",
                &[
                    ("jiguan", "org_officer"),
                    ("jiguan", "full_member"),
                    ("jiguan", "committee_member"),
                    ("jiguan", "party_representative"),
                ],
            ),
        ];
        for b in 1..=3 {
            let zb = format!("zb{b}");
            people.push(person(
                &format!("{zb}-secretary"),
                "正式党员",
                "1975-01-15",
                &[
                    (&zb, "secretary"),
                    (&zb, "full_member"),
                    ("jiguan", "branch_secretary"),
                ],
            ));
            people.push(person(
                &format!("{zb}-organizer"),
                "正式党员",
                "1982-09-09",
                &[(&zb, "organization_member"), (&zb, "full_member")],
            ));
            for m in 1..=5 {
                let id = format!("{zb}-member-{m}");
                let mut roles = vec![(zb.as_str(), "full_member")];
                if m == 1 {
                    roles.push((zb.as_str(), "trainer"));
                }
                people.push(person(&id, "正式党员", "1988-04-20", &roles));
            }
            people.push(person(
                &format!("{zb}-probationary"),
                "预备党员",
                "1998-11-11",
                &[(&zb, "probationary_member")],
            ));
        }
        people.push(person(
            "applicant-1",
            "申请人",
            "2000-08-08",
            &[("zb1", "member")],
        ));
        for p in &people {
            store.create_person(p, &audit).await.map_err(err)?;
        }
        start_samples(app, now).await?;
    }
    let mut logins = Vec::new();
    for (label, person) in [
        ("支部书记（机关第一党支部）", "zb1-secretary"),
        ("组织委员（机关第一党支部）", "zb1-organizer"),
        ("正式党员（机关第一党支部）", "zb1-member-1"),
        ("入党申请人", "applicant-1"),
        ("机关党委书记", "jiguan-secretary"),
        ("机关党委组织员", "jiguan-officer"),
        ("县委组织部", "county-org"),
    ] {
        let token = new_token();
        store
            .put_token(
                &hash_token(&token),
                person,
                TokenKind::Personal,
                now,
                Some(now + Duration::days(30)),
            )
            .await
            .map_err(err)?;
        logins.push(DemoLogin {
            label: label.into(),
            person: person.into(),
            token,
        });
    }
    Ok(logins)
}

async fn start_samples(app: &App, now: DateTime<Utc>) -> Result<(), String> {
    let start =
        |workflow: &str, subject: Option<&str>, org: &str, initiator: &str, inputs: Values| {
            StartRequest {
                workflow: workflow.into(),
                version: None,
                id: Uuid::new_v5(
                    &Uuid::NAMESPACE_OID,
                    format!("demo:{workflow}:{org}").as_bytes(),
                ),
                subject: Subject {
                    person: subject.map(str::to_string),
                    org: org.into(),
                    attrs: {
                        let mut a = Values::new();
                        if subject.is_some() {
                            a.insert("birth_date".into(), "2000-08-08".into());
                        }
                        a
                    },
                },
                initiator: initiator.into(),
                inputs,
            }
        };
    let runtime = &app.runtime;
    let known = app
        .store
        .list_definitions()
        .await
        .map_err(|e| e.to_string())?;
    let has = |id: &str| known.iter().any(|d| d.id == id);
    if has("member-admission") {
        runtime
            .start(
                start(
                    "member-admission",
                    Some("applicant-1"),
                    "zb1",
                    "zb1-organizer",
                    Values::new(),
                ),
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    if has("democratic-appraisal") {
        runtime
            .start(
                start(
                    "democratic-appraisal",
                    None,
                    "zb2",
                    "jiguan-organizer",
                    Values::new(),
                ),
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    if has("campaign-chuangxian-zhengyou") {
        let today = now.date_naive();
        let d = |days: i64| (today + Duration::days(days)).to_string();
        let mut inputs = Values::new();
        let year_end = chrono::NaiveDate::from_ymd_opt(today.year(), 12, 31)
            .map(|x| (x - today).num_days())
            .unwrap_or(30)
            .max(30);
        for (k, v) in [
            ("phase1_start", d(0)),
            ("phase1_end", d(30)),
            ("phase2_start", d(31)),
            ("phase2_end", d(31 + year_end)),
            ("phase3_start", d(32 + year_end)),
            ("phase3_end", d(32 + year_end + 180)),
            ("phase4_start", d(33 + year_end + 180)),
            ("phase4_end", d(33 + year_end + 270)),
        ] {
            inputs.insert(k.into(), v.into());
        }
        runtime
            .start(
                start(
                    "campaign-chuangxian-zhengyou",
                    None,
                    "jiguan",
                    "jiguan-organizer",
                    inputs,
                ),
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
