//! The approver's desk §5: people fields you can trust. A 培养联系人 is a
//! 正式党员 (细则 第十一条) and not the applicant; the picker shows each
//! person with their organization and role, and offers only those the
//! field may name; the API refuses the others, saying why.

use serde_json::json;

use crate::rules::{complete, letter};
use crate::server::Server;
use crate::web::{page, sign_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_is_a_full_member_and_not_the_applicant() {
    let mut s = Server::start(Server::t0()).await;
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/people",
            json!({ "id": "sun-l", "name": "孙磊", "email": "sun-l@example.org", "birth_date": "1999-01-01",
                    "memberships": [{ "org": "zb1", "role": "member" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "member-admission", "org": "zb1", "subject": "sun-l" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].clone();
    let apply = s.task_of("sun-l", "apply", &instance).await;
    let file = letter(&mut s, "sun-l", &apply).await;
    let form = json!({ "applied_on": "2026-03-01", "application_letter": file });
    assert_eq!(complete(&mut s, "sun-l", &apply, form).await.status, 200);
    let talk = s.task_of("zb1-secretary", "talk", &instance).await;
    let record = letter(&mut s, "zb1-secretary", &talk).await;
    let form =
        json!({ "talked_on": "2026-03-02", "talker": "zb1-secretary", "talk_record": record });
    assert_eq!(
        complete(&mut s, "zb1-secretary", &talk, form).await.status,
        200
    );
    let decide = s
        .task_of("zb1-secretary", "determine_activist", &instance)
        .await;
    let minutes = letter(&mut s, "zb1-secretary", &decide).await;
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{}/actions", decide["id"].as_str().unwrap()),
            json!({ "action": "complete", "outcome": "agree",
                    "form": { "meeting_date": "2026-03-02", "recommendation": "党员推荐", "minutes": minutes } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let assign = s
        .task_of("zb1-secretary", "assign_trainer", &instance)
        .await;

    // The applicant as their own 培养联系人: refused.
    let r = complete(
        &mut s,
        "zb1-secretary",
        &assign,
        json!({ "trainer_1": "sun-l" }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("「培养联系人」(trainer_1)不能是本案的对象本人"),
        "{}",
        r.body
    );
    // Someone who is not a 正式党员: refused, naming their 身份.
    let r = complete(
        &mut s,
        "zb1-secretary",
        &assign,
        json!({ "trainer_1": "applicant-1" }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("须为正式党员") && detail.contains("的身份是申请人"),
        "{detail}"
    );

    // The picker: people by name, organization and role; only whom the
    // field may name.
    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(
        &s,
        &cookie,
        &format!("/tasks/{}", assign["id"].as_str().unwrap()),
    )
    .await;
    let at = html
        .find("name=\"f.trainer_1\"")
        .expect("the trainer picker");
    let picker = &html[at..at + html[at..].find("</select>").unwrap()];
    assert!(
        picker.contains("<option value=\"zb1-member-1\">")
            && picker.contains("（机关第一党支部 正式党员、培养联系人）"),
        "{picker}"
    );
    assert!(
        !picker.contains("value=\"sun-l\"") && !picker.contains("value=\"applicant-1\""),
        "{picker}"
    );

    let r = complete(
        &mut s,
        "zb1-secretary",
        &assign,
        json!({ "trainer_1": "zb1-member-1" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `eligible:` is for person fields and names known 身份.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligible_names_a_known_status_on_a_person_field() {
    let mut s = Server::start(Server::t0()).await;
    let yaml = "stageflow: 1\nid: eligible-check\nname: 身份检查\nsubject: organization\nend_states: { done: 完成 }\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - id: t\n        name: 指定\n        assignee: { role: secretary }\n        form:\n          - { id: who, label: 联系人, type: person, eligible: [正式党园] }\n          - { id: note, label: 说明, type: text, eligible: [正式党员] }\n";
    let r = s.publish_yaml("jiguan-organizer", "e.yaml", yaml).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        text.contains("未知的身份「正式党园」") && text.contains("正式党员"),
        "{text}"
    );
    assert!(text.contains("`eligible` 只适用于人员字段"), "{text}");
}
