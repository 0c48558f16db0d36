//! The approver's desk §4: a definition says which operations each step
//! allows (转办, 委派, 加签, 减签, 抄送, 退回, 撤回, 催办); without a list a
//! step assigned to the subject, and a vote or a rating, cannot be handed
//! on. The page offers only what is allowed; the API refuses the rest with
//! a problem that says why.

use serde_json::json;

use crate::server::Server;
use crate::web::{page, sign_in};

/// The applicant's own 递交入党申请书 cannot be 转办, 委派 or 加签 to someone
/// else — it is theirs — and its page offers none of them; 抄送 stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subject_s_own_step_cannot_be_handed_on() {
    let mut s = Server::start(Server::t0()).await;
    let apply = s.inbox("applicant-1").await.into_iter().next().unwrap();
    let id = apply["id"].as_str().unwrap();
    for (action, extra, name) in [
        ("transfer", json!({ "to": "zb1-secretary" }), "转办"),
        ("delegate", json!({ "to": "zb1-secretary" }), "委派"),
        (
            "add_signer",
            json!({ "to": "zb1-secretary", "position": "after" }),
            "加签",
        ),
    ] {
        let mut body = extra;
        body["action"] = json!(action);
        let r = s
            .post("applicant-1", &format!("/api/v1/tasks/{id}/actions"), body)
            .await;
        assert_eq!(r.status, 422, "{action}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("「1. 递交入党申请书」不允许{name}"))
                && detail.contains("本人办理的步骤")
                && detail.contains("抄送"),
            "{detail}"
        );
    }
    let task = s
        .get("applicant-1", &format!("/api/v1/tasks/{id}"))
        .await
        .body;
    assert_eq!(
        task["assignees"],
        json!(["applicant-1"]),
        "still theirs: {task}"
    );
    let r = s
        .post(
            "applicant-1",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "cc", "people": ["zb1-secretary"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let token = s.token("applicant-1").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, &format!("/tasks/{id}")).await;
    assert!(html.contains("更多操作（抄送、意见）"), "{html}");
    for button in [
        "value=\"transfer\"",
        "value=\"delegate\"",
        "value=\"add_signer\"",
    ] {
        assert!(!html.contains(button), "{button} in {html}");
    }
    assert!(html.contains("value=\"cc\""), "{html}");
}

const ONLY_CC: &str = r#"stageflow: 1
id: cc-only-review
name: 只抄送的审批
subject: organization
end_states: { done: 完成, refused: 不同意 }
stages:
  - id: s
    name: 审批
    then: end done
    steps:
      - id: review
        name: 支部书记审批
        kind: approval
        assignee: { role: secretary }
        operations: [cc]
        outcomes: { reject: end refused }
"#;

/// `operations: [cc]`: the approver may only 抄送 besides deciding — no
/// 退回 button and no 转办 on the page, the API refuses them with the list
/// of what is allowed, and the organizers' 催办 is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_operations_are_all_a_step_allows() {
    let mut s = Server::start(Server::t0()).await;
    let r = s.publish_yaml("jiguan-organizer", "cc.yaml", ONLY_CC).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "cc-only-review", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let review = s
        .inbox("zb1-secretary")
        .await
        .into_iter()
        .find(|t| t["instance"] == instance.as_str())
        .unwrap();
    let id = review["id"].as_str().unwrap();
    let outcomes: Vec<&str> = review["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["approve", "reject"], "no 退回: {review}");
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "return" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("不允许退回")
            && detail.contains("`operations:` 未列出它")
            && detail.contains("本步骤可以：抄送"),
        "{detail}"
    );
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "transfer", "to": "zb1-organizer" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "urge" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("不允许催办"),
        "{}",
        r.body
    );

    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, &format!("/tasks/{id}")).await;
    assert!(
        html.contains("value=\"approve\"") && html.contains("value=\"reject\""),
        "{html}"
    );
    assert!(
        !html.contains("value=\"return\"") && !html.contains("value=\"transfer\""),
        "{html}"
    );
    assert!(html.contains("value=\"cc\""), "{html}");
    // Deciding is never an operation to allow.
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// An operation the language does not know is a diagnostic naming the
/// ones it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_operation_is_a_diagnostic() {
    let mut s = Server::start(Server::t0()).await;
    let bad = ONLY_CC.replace("operations: [cc]", "operations: [cc, transfr]");
    let r = s.publish_yaml("jiguan-organizer", "cc.yaml", &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        text.contains("未知的操作「transfr」") && text.contains("transfer"),
        "{text}"
    );
}
