//! The approver's desk §1: the case file (案卷). The approver sees what
//! the earlier steps recorded — forms with their labels, dates in Chinese,
//! people by name and organization, the uploaded files — before deciding;
//! a step's `hide:` keeps named fields from its assignees everywhere.

use serde_json::{Value, json};

use crate::rules::{complete, letter};
use crate::server::Server;
use crate::web::{page, sign_in};

/// The 书记 deciding on an 积极分子 sees the application (date, letter)
/// and the talk (talker by name and branch, the record) in the API's case
/// file and on the page, with the letter downloadable from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committee_decides_seeing_the_application_and_the_talk() {
    let mut s = Server::start(Server::t0()).await;
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/people",
            json!({ "id": "zhao-q", "name": "赵青", "email": "zhao-q@example.org", "birth_date": "1998-05-01",
                    "memberships": [{ "org": "zb1", "role": "member" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "member-admission", "org": "zb1", "subject": "zhao-q" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let apply = s.inbox("zhao-q").await.into_iter().next().unwrap();
    let application = letter(&mut s, "zhao-q", &apply).await;
    let r = complete(
        &mut s,
        "zhao-q",
        &apply,
        json!({ "applied_on": "2026-02-27", "application_letter": application }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let talk = s.task_of("zb1-secretary", "talk", &apply["instance"]).await;
    let record = letter(&mut s, "zb1-secretary", &talk).await;
    let form =
        json!({ "talked_on": "2026-03-02", "talker": "zb1-organizer", "talk_record": record });
    let r = complete(&mut s, "zb1-secretary", &talk, form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let decide = s
        .task_of("zb1-secretary", "determine_activist", &apply["instance"])
        .await;
    let id = decide["id"].as_str().unwrap();

    let case = s
        .get("zb1-secretary", &format!("/api/v1/tasks/{id}/case"))
        .await;
    assert_eq!(case.status, 200, "{}", case.body);
    let case = case.body;
    assert_eq!(case["person"]["name"], "赵青", "{case}");
    let first = &case["stages"][0];
    assert_eq!(first["name"], "申请入党", "{case}");
    let steps = first["steps"].as_array().unwrap();
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {case}"))
    };
    let apply_act = &step("apply")["acts"][0];
    assert_eq!(apply_act["by"], "赵青");
    let field = |act: &Value, id: &str| {
        act["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {act}"))
    };
    assert_eq!(field(apply_act, "applied_on")["label"], "申请日期");
    assert_eq!(
        field(apply_act, "applied_on")["value"],
        json!({ "type": "date", "date": "2026-02-27" })
    );
    let letter_value = field(apply_act, "application_letter")["value"].clone();
    assert_eq!(letter_value["type"], "file");
    assert_eq!(letter_value["id"], application.as_str());
    assert_eq!(letter_value["name"], "申请书.pdf");
    let talk_act = &step("talk")["acts"][0];
    let talker = field(talk_act, "talker")["value"].clone();
    assert_eq!(talker["type"], "person");
    assert_eq!(talker["id"], "zb1-organizer");
    assert!(
        talker["org"].as_str().unwrap().contains("第一党支部"),
        "{talker}"
    );

    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (status, html) = page(&s, &cookie, &format!("/tasks/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h2 id=\"case-h\">案卷</h2>"), "{html}");
    assert!(html.contains("<strong>赵青</strong>"), "{html}");
    assert!(
        html.contains("<dt>申请日期</dt><dd>2026年2月27日</dd>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<a href=\"/files/{application}\" target=\"_blank\" rel=\"noopener\">申请书.pdf</a>"
        )),
        "{html}"
    );
    let talker_name = talker["name"].as_str().unwrap();
    assert!(
        html.contains(&format!("<dt>谈话人</dt><dd>{talker_name}（")),
        "{html}"
    );
    // Grouped by stage: the current one open, the earlier ones folded.
    assert!(
        html.contains(
            "<details class=\"case-stage\" open>\n  <summary>入党积极分子的确定和培养教育</summary>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<details class=\"case-stage\">\n  <summary>申请入党</summary>"),
        "{html}"
    );
    // The letter itself, through the page's session.
    let r = reqwest::Client::new()
        .get(format!("{}/files/{application}", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"%PDF-1.4 letter");
}

const HIDING: &str = r#"stageflow: 1
id: hiding-review
name: 考察与复核
subject: organization
end_states: { done: 完成 }
stages:
  - id: s
    name: 考察
    then: end done
    steps:
      - id: inquiry
        name: 组织考察
        assignee: { role: organization_member }
        form:
          - { id: finding, label: 考察结论, type: textarea, required: true }
          - { id: informant, label: 反映人（保密）, type: text, required: true }
          - { id: evidence, label: 举报材料（保密）, type: file, required: true }
      - id: review
        name: 支部书记复核
        after: inquiry
        assignee: { role: secretary }
        hide: [inquiry.informant, inquiry.evidence]
"#;

/// 字段权限 隐藏: a step's `hide:` keeps named fields of earlier steps from
/// its assignees — absent from the case file (API and page), from the
/// history's recorded forms, and the hidden file cannot be downloaded —
/// while an organizer who is not that step's assignee still reads them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_field_never_reaches_the_step_s_assignee() {
    let mut s = Server::start(Server::t0()).await;
    let r = s
        .publish_yaml("jiguan-organizer", "hiding.yaml", HIDING)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "hiding-review", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let inquiry = s
        .inbox("zb1-organizer")
        .await
        .into_iter()
        .find(|t| t["step"] == "inquiry" && t["instance"] == instance.as_str())
        .unwrap();
    let evidence = letter(&mut s, "zb1-organizer", &inquiry).await;
    // A scan uploaded on the same task but never put in a field (replaced
    // by the one above, say) is as hidden as the field's own file.
    let stray = letter(&mut s, "zb1-organizer", &inquiry).await;
    let form = json!({ "finding": "表现良好", "informant": "王某某", "evidence": evidence });
    let r = complete(&mut s, "zb1-organizer", &inquiry, form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let review = s
        .task_of("zb1-secretary", "review", &inquiry["instance"])
        .await;
    let id = review["id"].as_str().unwrap();

    let case = s
        .get("zb1-secretary", &format!("/api/v1/tasks/{id}/case"))
        .await
        .body;
    let text = case.to_string();
    assert!(text.contains("表现良好"), "the rest stays visible: {text}");
    assert!(
        !text.contains("王某某") && !text.contains("反映人") && !text.contains(&evidence),
        "{text}"
    );
    let history = s
        .get(
            "zb1-secretary",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    assert_eq!(history.status, 200);
    let text = history.body.to_string();
    assert!(
        text.contains("表现良好") && !text.contains("王某某") && !text.contains(&evidence),
        "{text}"
    );
    assert!(!text.contains(&stray), "{text}");
    // No hashes in a redacted history: they would confirm a guess at the
    // hidden value. The server verified the chain as stored.
    assert_eq!(history.body["verified"], true);
    assert!(
        history.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["hash"] == "" && e["prev_hash"] == ""),
        "{text}"
    );
    for file in [&evidence, &stray] {
        let r = s
            .get("zb1-secretary", &format!("/api/v1/files/{file}"))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let files = s
        .get(
            "zb1-secretary",
            &format!("/api/v1/instances/{instance}/files"),
        )
        .await;
    let listed = files.body.to_string();
    assert!(
        !listed.contains(&evidence) && !listed.contains(&stray),
        "{listed}"
    );
    // 抄送 does not hand the hidden on: the copy's reader inherits the
    // step's hiding.
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "cc", "people": ["zb1-member-1"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let copy = s
        .get("zb1-member-1", &format!("/api/v1/tasks/{id}/case"))
        .await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    let text = copy.body.to_string();
    assert!(
        text.contains("表现良好") && !text.contains("王某某"),
        "{text}"
    );
    let r = s
        .get("zb1-member-1", &format!("/api/v1/files/{evidence}"))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, &format!("/tasks/{id}")).await;
    assert!(
        html.contains("表现良好") && !html.contains("王某某") && !html.contains(&evidence),
        "{html}"
    );

    // The 党委's organizer, not an assignee of the review, reads it all.
    let case = s
        .get("jiguan-organizer", &format!("/api/v1/tasks/{id}/case"))
        .await;
    assert_eq!(case.status, 200, "{}", case.body);
    assert!(case.body.to_string().contains("王某某"), "{}", case.body);
    let r = s
        .get("jiguan-organizer", &format!("/api/v1/files/{evidence}"))
        .await;
    assert_eq!(r.status, 200);
}

/// `hide:` names fields that exist: a typo is a diagnostic at its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hide_names_a_field_that_exists() {
    let mut s = Server::start(Server::t0()).await;
    let bad = HIDING.replace("inquiry.evidence]", "inquiry.evidense]");
    let r = s
        .publish_yaml("jiguan-organizer", "hiding.yaml", &bad)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        text.contains("没有字段「evidense」") && text.contains("evidence"),
        "{text}"
    );
}
