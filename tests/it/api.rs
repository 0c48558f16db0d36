//! The HTTP API over real HTTP on loopback, a real SQLite file and a
//! manual clock: the whole admission procedure, the task operations, the
//! authorization matrix, races and bad input.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::server::{ADMIN, Server};

/// Everyone the demo directory has in 机关第一党支部 and above.
const PEOPLE: &[&str] = &[
    "applicant-1",
    "zb1-secretary",
    "zb1-organizer",
    "zb1-member-1",
    "zb1-member-2",
    "zb1-member-3",
    "zb1-member-4",
    "zb1-member-5",
    "zb1-probationary",
    "jiguan-secretary",
    "jiguan-organizer",
    "jiguan-officer",
    "county-org",
];

pub(crate) fn local_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive()
}

/// The start (00:00 Beijing time) of a `YYYY-MM-DD` day, e.g. a task's `earliest`.
pub(crate) fn local_midnight(day: &str) -> DateTime<Utc> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(chrono_tz::Asia::Shanghai)
        .unwrap()
        .with_timezone(&Utc)
}

/// Form values a careful person would enter: defaults, else the smallest
/// allowed number, today's date, a scanned file.
fn fill_form(task: &Value, today: NaiveDate) -> Value {
    let mut form = serde_json::Map::new();
    for f in task["form"].as_array().cloned().unwrap_or_default() {
        let id = f["id"].as_str().unwrap().to_string();
        let v = if !f["default"].is_null() {
            f["default"].clone()
        } else {
            match f["type"].as_str().unwrap_or("text") {
                "date" => json!(today.to_string()),
                "integer" | "number" => json!(f["min"].as_f64().map(|m| m as i64).unwrap_or(1)),
                "boolean" => json!(false),
                "choice" => f["options"][0].clone(),
                "file" => json!("not-uploaded"),
                "person" => json!("zb1-member-1"),
                _ => json!("已完成（测试）"),
            }
        };
        form.insert(id, v);
    }
    Value::Object(form)
}

/// Uploads a small scan for each `file` field of a task; returns field → file id.
async fn upload_scans(
    server: &mut Server,
    who: &str,
    task: &Value,
) -> serde_json::Map<String, Value> {
    let mut ids = serde_json::Map::new();
    let id = task["id"].as_str().unwrap();
    for f in task["form"].as_array().cloned().unwrap_or_default() {
        if f["type"] == "file" {
            let token = server.token(who).await;
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(format!("{}（扫描件）", f["label"]).into_bytes())
                    .file_name("scan.pdf"),
            );
            let r = server
                .raw(
                    server
                        .client
                        .post(format!("{}/api/v1/tasks/{id}/files", server.base))
                        .bearer_auth(token)
                        .multipart(form),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            ids.insert(f["id"].as_str().unwrap().to_string(), r.body["id"].clone());
        }
    }
    ids
}

pub(crate) async fn act_on(server: &mut Server, who: &str, task: &Value, today: NaiveDate) -> u16 {
    act_choosing(server, who, task, today, None).await
}

/// The applicant hands in the application (the demo's first task, done on
/// the first day): the 支部书记 then has the talk, due a month later.
pub(crate) async fn hand_in(server: &mut Server) {
    let apply = server.inbox("applicant-1").await[0].clone();
    assert_eq!(apply["step"], "apply", "{apply}");
    act_choosing(
        server,
        "applicant-1",
        &apply,
        Server::t0().date_naive(),
        None,
    )
    .await;
}

/// Acts on a task with a chosen outcome (work tasks: `approve`, `reject`
/// or any declared outcome) or ballot choice (votes); `None` takes the
/// first one, the way a willing approver would.
pub(crate) async fn act_choosing(
    server: &mut Server,
    who: &str,
    task: &Value,
    today: NaiveDate,
    choice: Option<&str>,
) -> u16 {
    act_with(server, who, task, today, choice, &json!({})).await
}

/// As [`act_choosing`], with some form fields given (`{"postpone_months": 4}`).
pub(crate) async fn act_with(
    server: &mut Server,
    who: &str,
    task: &Value,
    today: NaiveDate,
    choice: Option<&str>,
    given: &Value,
) -> u16 {
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/v1/tasks/{id}/actions");
    let files = upload_scans(server, who, task).await;
    let mut form = fill_form(task, today);
    for (k, v) in files {
        form[k] = v;
    }
    for (k, v) in given.as_object().into_iter().flatten() {
        form[k] = v.clone();
    }
    let body = match task["kind"].as_str().unwrap() {
        "ballot" => match choice {
            Some(c) => json!({ "action": "vote", "choice": c }),
            None => json!({ "action": "vote", "choice": task["choices"][0] }),
        },
        _ if choice.is_some_and(|c| c == "approve" || c == "reject") => {
            json!({ "action": choice, "comment": "经研究，意见如下（测试）", "form": form })
        }
        _ if choice.is_some() => {
            json!({ "action": "complete", "outcome": choice, "comment": "已办理", "form": form })
        }
        _ => {
            let outcomes: Vec<&str> = task["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap())
                .collect();
            if outcomes.contains(&"approve") {
                json!({ "action": "approve", "comment": "同意", "form": form })
            } else {
                json!({ "action": "complete", "outcome": outcomes[0], "comment": "已办理", "form": form })
            }
        }
    };
    let r = server.post(who, &path, body).await;
    assert_eq!(r.status, 200, "{who} on {}: {}", task["step"], r.body);
    r.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_admission_procedure_runs_through_the_api() {
    let mut s = Server::start(Server::t0()).await;
    let mut now = Server::t0();
    // The demo started 发展党员 for applicant-1 in 机关第一党支部.
    let mut steps_done: Vec<String> = Vec::new();
    let mut instance = String::new();
    for _ in 0..3000 {
        let mut acted = false;
        let mut next_earliest: Option<DateTime<Utc>> = None;
        for who in PEOPLE {
            for task in s.inbox(who).await {
                if task["workflow"] != "member-admission" {
                    continue;
                }
                instance = task["instance"].as_str().unwrap().to_string();
                if let Some(e) = task["earliest"].as_str() {
                    let at = local_midnight(e);
                    if at > now {
                        next_earliest =
                            Some(next_earliest.map_or(at, |n: DateTime<Utc>| n.min(at)));
                        continue;
                    }
                }
                act_on(&mut s, who, &task, local_today(now)).await;
                steps_done.push(task["step"].as_str().unwrap().to_string());
                acted = true;
            }
        }
        if acted {
            continue;
        }
        let view = s
            .get("zb1-organizer", &format!("/api/v1/instances/{instance}"))
            .await;
        if view.body["status"] != "running" {
            break;
        }
        let next_timer = s.store.next_timer_at().await.unwrap();
        let next = match (next_timer, next_earliest) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).expect("the instance is stuck: no task, no timer"),
        };
        now = now.max(next);
        let r = s.set_clock(now).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let view = s
        .get("zb1-organizer", &format!("/api/v1/instances/{instance}"))
        .await;
    assert_eq!(view.body["status"], "ended", "{}", view.body);
    assert_eq!(view.body["end_state"], "admitted");
    for step in [
        "apply",
        "talk",
        "determine_activist",
        "determine_candidate",
        "political_review",
        "central_training",
        "pre_review",
        "party_approval",
        "regularize_apply",
        "regularize_approval",
        "archive",
    ] {
        assert!(
            steps_done.iter().any(|s| s == step),
            "{step} was never acted on: {steps_done:?}"
        );
    }
    // Seven 正式党员 voted twice (接收 and 转正).
    assert_eq!(
        steps_done.iter().filter(|s| *s == "admission_vote").count(),
        7
    );
    let history = s
        .get(
            "zb1-organizer",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    assert_eq!(history.status, 200);
    assert_eq!(history.body["verified"], true);
    let events = history.body["events"].as_array().unwrap();
    let tally = events.iter().find(|e| e["type"] == "vote_closed").unwrap();
    assert_eq!(tally["data"]["tally"]["eligible"], 7);
    assert_eq!(tally["data"]["tally"]["counts"]["yes"], 7);
    // The talk was due one month after the application (2026-03-02 → 04-02).
    let talk = events
        .iter()
        .find(|e| e["type"] == "task_created" && e["data"]["record"]["step"] == "talk")
        .unwrap();
    assert_eq!(talk["data"]["record"]["due"]["date"], "2026-04-02");
}

async fn leave_request(s: &mut Server) -> (String, String) {
    let yaml =
        std::fs::read_to_string(crate::root().join("tests/fixtures/good/leave-request.yaml"))
            .unwrap();
    let t = s.token("zb1-secretary").await;
    let r = s
        .raw(
            s.client
                .post(format!(
                    "{}/api/v1/definitions?filename=leave-request.yaml",
                    s.base
                ))
                .bearer_auth(t)
                .header("content-type", "application/yaml")
                .body(yaml),
        )
        .await;
    assert!(
        r.status == 201 || r.status == 409 || r.status == 200,
        "{}",
        r.body
    );
    let r = s.post("zb1-organizer", "/api/v1/instances", json!({ "definition": "leave-request", "subject": "applicant-1", "org": "zb1", "inputs": { "days": 3 } })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let submit = r.body["tasks"][0]["id"].as_str().unwrap().to_string();
    let r = s
        .post(
            "applicant-1",
            &format!("/api/v1/tasks/{submit}/actions"),
            json!({ "action": "complete", "form": { "reason": "探亲" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let approve = r.body["instance"]["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (instance, approve)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_approvals_of_one_task_give_exactly_one_200() {
    let mut s = Server::start(Server::t0()).await;
    let (_, approve) = leave_request(&mut s).await;
    let token = s.token("zb1-secretary").await;
    let mut handles = Vec::new();
    for i in 0..100 {
        let client = s.client.clone();
        let url = format!("{}/api/v1/tasks/{approve}/actions", s.base);
        let token = token.clone();
        handles.push(tokio::spawn(async move {
            let action = if i % 2 == 0 { "approve" } else { "reject" };
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "action": action, "comment": format!("意见 {i}") }))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body)
        }));
    }
    let mut ok = 0;
    for h in handles {
        let (status, body) = h.await.unwrap();
        match status {
            200 => ok += 1,
            409 => {
                assert_eq!(
                    body["type"], "urn:stageflow:problem:task-already-decided",
                    "{body}"
                );
                assert_eq!(
                    body["current"]["status"], "done",
                    "a conflict shows the current state: {body}"
                );
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_operations_and_their_refusals() {
    let mut s = Server::start(Server::t0()).await;
    let (instance, approve) = leave_request(&mut s).await;
    let act = |task: &str| format!("/api/v1/tasks/{task}/actions");

    // Only the assignee decides; to a member who has no part in the
    // instance, the task answers as missing.
    let r = s
        .post(
            "zb1-member-1",
            &act(&approve),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.content_type, "application/problem+json");

    // 退回 to a step that is not earlier, or does not exist: refused.
    let r = s
        .post(
            "zb1-secretary",
            &act(&approve),
            json!({ "action": "return", "to": "approve" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("不能退回到步骤「书记审批」(approve)")
            && detail.contains("不是本阶段中此前的步骤"),
        "{}",
        r.body
    );

    // 评论, 抄送, 催办 (once an hour).
    let r = s
        .post(
            "zb1-secretary",
            &act(&approve),
            json!({ "action": "comment", "comment": "请补充请假天数说明" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post(
            "zb1-secretary",
            &act(&approve),
            json!({ "action": "cc", "people": ["jiguan-secretary"], "comment": "请知悉" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post("zb1-organizer", &act(&approve), json!({ "action": "urge" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post("zb1-organizer", &act(&approve), json!({ "action": "urge" }))
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    // A member with no part in the instance: the task answers as missing.
    let r = s
        .post("zb1-member-2", &act(&approve), json!({ "action": "urge" }))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let mails = s.store.pending_mail(100).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.mail.kind == "notice" && m.mail.to == "jiguan-secretary")
    );
    assert!(
        mails
            .iter()
            .any(|m| m.mail.kind == "urge" && m.mail.to == "zb1-secretary")
    );

    // 转办: the organizer now holds the task; the secretary no longer can act.
    let r = s
        .post(
            "zb1-secretary",
            &act(&approve),
            json!({ "action": "transfer", "to": "zb1-organizer", "comment": "出差，请代为审批" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["task"]["assignees"], json!(["zb1-organizer"]));
    assert!(
        s.inbox("zb1-secretary")
            .await
            .iter()
            .all(|t| t["id"] != approve.as_str())
    );
    assert!(
        s.inbox("zb1-organizer")
            .await
            .iter()
            .any(|t| t["id"] == approve.as_str())
    );
    let r = s
        .post(
            "zb1-secretary",
            &act(&approve),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.status, 403);

    // 退回 to the submission: the applicant gets it again, the deadline is re-armed.
    let r = s
        .post(
            "zb1-organizer",
            &act(&approve),
            json!({ "action": "return", "to": "submit", "comment": "请写明事由" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let again = s
        .inbox("applicant-1")
        .await
        .into_iter()
        .find(|t| t["step"] == "submit")
        .expect("submit re-opened");
    let key_body = json!({ "action": "complete", "form": { "reason": "探亲（补充说明）" } });
    // An Idempotency-Key makes a retry return the first result.
    let t = s.token("applicant-1").await;
    let url = format!("{}{}", s.base, act(again["id"].as_str().unwrap()));
    let first = s
        .raw(
            s.client
                .post(&url)
                .bearer_auth(&t)
                .header("Idempotency-Key", "k-1")
                .json(&key_body),
        )
        .await;
    let second = s
        .raw(
            s.client
                .post(&url)
                .bearer_auth(&t)
                .header("Idempotency-Key", "k-1")
                .json(&key_body),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(second.status, 200);
    assert_eq!(first.body, second.body);
    let third = s
        .raw(s.client.post(&url).bearer_auth(&t).json(&key_body))
        .await;
    assert_eq!(third.status, 409, "without the key the retry is a conflict");

    // Reject ends the instance; its history says who did what, chained.
    let approve2 = s
        .inbox("zb1-secretary")
        .await
        .into_iter()
        .find(|t| t["step"] == "approve")
        .expect("approval re-created");
    let r = s
        .post(
            "zb1-secretary",
            &act(approve2["id"].as_str().unwrap()),
            json!({ "action": "reject", "comment": "工作繁忙，暂缓" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["instance"]["end_state"], "rejected");
    let h = s
        .get(
            "zb1-organizer",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    assert_eq!(h.body["verified"], true);
    let types: Vec<&str> = h.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "commented",
        "copied_to",
        "urged",
        "task_transferred",
        "instance_ended",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    // Acting on an ended instance is a conflict, not an error page.
    let r = s
        .post(
            "zb1-secretary",
            &act(approve2["id"].as_str().unwrap()),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_problems_never_500() {
    let mut s = Server::start(Server::t0()).await;
    let task = s.inbox("applicant-1").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/api/v1/tasks/{task}/actions", s.base);
    let t = s.token("applicant-1").await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            s.client
                .post(&url)
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body("{\"action\":"),
            400,
            "请求体不是有效的 JSON",
        ),
        (
            s.client
                .post(&url)
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body("{\"action\":\"complete\",\"colour\":1}"),
            422,
            "unknown field `colour`",
        ),
        (
            s.client
                .post(&url)
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body("{\"action\":\"fly\"}"),
            422,
            "unknown variant `fly`",
        ),
        (
            s.client
                .post(&url)
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body("{\"action\":\"complete\",\"form\":[]}"),
            422,
            "form",
        ),
        (
            s.client.post(&url).bearer_auth(&t).body("action=approve"),
            415,
            "Content-Type: application/json",
        ),
        (
            s.client
                .post(&url)
                .bearer_auth(&t)
                .json(&json!({"action": "complete", "form": {"applied_on": "yesterday"}})),
            422,
            "applied_on",
        ),
        (
            s.client
                .get(format!("{}/api/v1/tasks?limit=many", s.base))
                .bearer_auth(&t),
            400,
            "limit",
        ),
        (
            s.client
                .get(format!("{}/api/v1/tasks?status=lost", s.base))
                .bearer_auth(&t),
            400,
            "状态「lost」无效",
        ),
        (
            s.client
                .get(format!("{}/api/v1/tasks/not-a-uuid", s.base))
                .bearer_auth(&t),
            400,
            "",
        ),
        (
            s.client
                .get(format!("{}/api/v1/tasks/{}", s.base, uuid::Uuid::nil()))
                .bearer_auth(&t),
            404,
            "找不到事项「00000000-0000-0000-0000-000000000000」",
        ),
        (
            s.client
                .get(format!("{}/api/v1/nowhere", s.base))
                .bearer_auth(&t),
            404,
            "没有这个地址：/api/v1/nowhere",
        ),
        (
            s.client
                .post(format!("{}/api/v1/instances", s.base))
                .bearer_auth(ADMIN)
                .json(&json!({"definition": "nope", "org": "zb1"})),
            422,
            "流程「nope」没有向该组织发布",
        ),
        (
            s.client
                .post(format!("{}/api/v1/instances", s.base))
                .bearer_auth(ADMIN)
                .json(&json!({"definition": "member-admission", "org": "zb1"})),
            422,
            "没有指明流程对象（发起时的 `subject`）",
        ),
        (
            s.client
                .post(format!("{}/api/v1/orgs", s.base))
                .bearer_auth(ADMIN)
                .json(&json!({"name": "x", "kind": "党支部", "parent": "nowhere"})),
            422,
            "没有您可以使用的组织「nowhere」",
        ),
        (
            s.client
                .post(format!("{}/api/v1/admin/clock", s.base))
                .bearer_auth(ADMIN)
                .json(&json!({"advance": "1 fortnight"})),
            422,
            "fortnight",
        ),
    ];
    for (req, want, says) in cases {
        let r = s.raw(req).await;
        assert_eq!(r.status, want, "{}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap_or_default().contains(says) || says.is_empty(),
            "{says}: {}",
            r.body
        );
        assert!(
            r.body["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:stageflow:problem:")
        );
    }
    // Nobody holds the role: the start fails and says which role is empty where.
    let r = s
        .post(
            "jiguan-secretary",
            "/api/v1/orgs",
            json!({ "id": "zb4", "name": "新建党支部", "kind": "党支部", "parent": "jiguan" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "jiguan-secretary",
            "/api/v1/instances",
            json!({ "definition": "democratic-appraisal", "org": "zb4" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:empty-assignee");
    assert_eq!(
        r.body["detail"],
        "「新建党支部」(zb4)没有人担任「书记」(secretary)，无法确定办理人"
    );
    // A definition with mistakes: 422 with the same diagnostics as `validate`.
    let bad =
        std::fs::read_to_string(crate::root().join("tests/fixtures/bad/unknown-references.yaml"))
            .unwrap();
    let expected = std::fs::read_to_string(
        crate::root().join("tests/fixtures/bad/unknown-references.expected"),
    )
    .unwrap();
    let r = s
        .raw(
            s.client
                .post(format!(
                    "{}/api/v1/definitions?filename=unknown-references.yaml",
                    s.base
                ))
                .bearer_auth(ADMIN)
                .body(bad),
        )
        .await;
    assert_eq!(r.status, 422);
    let lines: Vec<String> = r.body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = expected
        .split("\nunknown-references.yaml:")
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.trim_end().to_string()
            } else {
                format!("unknown-references.yaml:{}", l.trim_end())
            }
        })
        .collect();
    assert_eq!(lines, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_fire_when_the_manual_clock_moves() {
    let mut s = Server::start(Server::t0()).await;
    let (_, _approve) = leave_request(&mut s).await;
    // 3 working days after Mon 2026-03-02: Thu 03-05; the reminder one day
    // before, at 09:00; escalation two days after.
    let r = s
        .post(
            "admin",
            "/api/v1/admin/clock",
            json!({ "advance": "3 days" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["fired"].as_u64().unwrap() >= 1);
    let mails = s.store.pending_mail(100).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.mail.kind == "reminder" && m.mail.to == "zb1-secretary"),
        "{:?}",
        mails.iter().map(|m| &m.mail.kind).collect::<Vec<_>>()
    );
    let r = s.set_clock(Server::t0() + Duration::days(30)).await;
    assert_eq!(r.status, 200);
    let mails = s.store.pending_mail(100).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.mail.kind == "escalation" && m.mail.to == "jiguan-secretary")
    );
    // The automatic approval happened; the applicant's request ended.
    assert!(
        s.inbox("zb1-secretary")
            .await
            .iter()
            .all(|t| t["workflow"] != "leave-request")
    );
}

async fn publish(s: &mut Server, who: &str, file: &str) {
    let yaml =
        std::fs::read_to_string(crate::root().join("tests/fixtures/good").join(file)).unwrap();
    let t = s.token(who).await;
    let r = s
        .raw(
            s.client
                .post(format!("{}/api/v1/definitions?filename={file}", s.base))
                .bearer_auth(t)
                .body(yaml),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn ballot(s: &mut Server, who: &str) -> String {
    let t = s
        .inbox(who)
        .await
        .into_iter()
        .find(|t| t["workflow"] == "branch-vote")
        .unwrap();
    assert_eq!(t["kind"], "ballot");
    assert_eq!(t["choices"], json!(["yes", "no", "abstain"]));
    t["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_counts_written_opinions_on_expected_voters_and_explains_itself() {
    let mut s = Server::start(Server::t0()).await;
    publish(&mut s, "zb1-secretary", "branch-vote.yaml").await;
    let r = s
        .post(
            "zb1-secretary",
            "/api/v1/instances",
            json!({ "definition": "branch-vote", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    // Seven 正式党员 in zb1 (secretary, organizer, five members): seven ballots.
    assert_eq!(r.body["tasks"].as_array().unwrap().len(), 7);
    for who in [
        "zb1-member-1",
        "zb1-member-2",
        "zb1-member-3",
        "zb1-member-4",
    ] {
        let id = ballot(&mut s, who).await;
        let r = s
            .post(
                who,
                &format!("/api/v1/tasks/{id}/actions"),
                json!({ "action": "vote", "choice": "yes" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // An absent member's written opinion counts as cast, not present.
    let id = ballot(&mut s, "zb1-member-5").await;
    let r = s
        .post(
            "zb1-member-5",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "vote", "choice": "yes", "written": true }),
        )
        .await;
    assert_eq!(r.status, 200);
    let again = s
        .post(
            "zb1-member-5",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "vote", "choice": "no" }),
        )
        .await;
    assert_eq!(again.status, 409, "one ballot each: {}", again.body);
    let id = ballot(&mut s, "zb1-organizer").await;
    let r = s
        .post(
            "zb1-probationary",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "vote", "choice": "no" }),
        )
        .await;
    // The ballot is not theirs, nor is the instance: it answers as missing.
    assert_eq!(r.status, 404, "a 预备党员 has no vote: {}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "vote", "choice": "maybe" }),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = s
        .post(
            "zb1-organizer",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "vote", "choice": "no" }),
        )
        .await;
    assert_eq!(r.status, 200);
    // Only the chair closes; the secretary did not vote.
    let close = format!("/api/v1/instances/{instance}/steps/resolution/close");
    let r = s.post("zb1-member-1", &close, json!({})).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = s.post("zb1-secretary", &close, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["end_state"], "passed");
    let closed = s
        .first_event("zb1-secretary", &instance, "vote_closed")
        .await;
    assert_eq!(closed["data"]["tally"]["eligible"], 7);
    assert_eq!(closed["data"]["tally"]["present"], 5);
    assert_eq!(closed["data"]["tally"]["cast"], 6);
    assert_eq!(
        closed["data"]["explanation"],
        "应到 7 人，实到 5 人，书面意见 1 份；反对 1，赞成 5：通过（规则 yes > eligible / 2）"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn democratic_appraisal_rates_through_the_api_with_the_one_third_cap() {
    let mut s = Server::start(Server::t0()).await;
    let zb2 = [
        "zb2-secretary",
        "zb2-organizer",
        "zb2-member-1",
        "zb2-member-2",
        "zb2-member-3",
        "zb2-member-4",
        "zb2-member-5",
        "zb2-probationary",
        "jiguan-secretary",
        "jiguan-organizer",
    ];
    let mut rated = 0;
    let mut instance = String::new();
    for _ in 0..50 {
        let mut acted = false;
        for who in zb2 {
            for task in s.inbox(who).await {
                if task["workflow"] != "democratic-appraisal" {
                    continue;
                }
                instance = task["instance"].as_str().unwrap().to_string();
                let path = format!("/api/v1/tasks/{}/actions", task["id"].as_str().unwrap());
                if task["kind"] == "rate" {
                    // Everyone rates every ratee 优秀; the cap keeps a third.
                    let view = s
                        .get(who, &format!("/api/v1/instances/{instance}/history"))
                        .await;
                    let activated = view.body["events"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .rev()
                        .find(|e| {
                            e["type"] == "step_activated" && e["data"]["step"] == "peer_rating"
                        })
                        .unwrap()
                        .clone();
                    let ratees: serde_json::Map<String, Value> = activated["data"]["ratees"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| (r[0].as_str().unwrap().to_string(), json!("excellent")))
                        .collect();
                    let r = s
                        .post(who, &path, json!({ "action": "rate", "ratings": ratees }))
                        .await;
                    assert_eq!(r.status, 200, "{}", r.body);
                    rated += 1;
                } else {
                    act_on(&mut s, who, &task, local_today(Server::t0())).await;
                }
                acted = true;
            }
        }
        if !acted {
            break;
        }
    }
    assert_eq!(rated, 7, "seven 正式党员 rate");
    let h = s
        .get(
            "jiguan-secretary",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    let results = h.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "rating_closed")
        .unwrap()["data"]["results"]
        .clone();
    let count = |g: &str| {
        results
            .as_object()
            .unwrap()
            .values()
            .filter(|v| *v == g)
            .count()
    };
    // 7 graded: at most floor(7/3) = 2 优秀; the 预备党员 gets no grade.
    assert_eq!(count("excellent"), 2);
    assert_eq!(count("qualified"), 5);
    assert_eq!(results["zb2-probationary"], "no_grade");
    let view = s
        .get("jiguan-secretary", &format!("/api/v1/instances/{instance}"))
        .await;
    assert_eq!(view.body["end_state"], "completed", "{}", view.body);
}

async fn pending_in(s: &mut Server, who: &str, workflow: &str) -> Vec<Value> {
    s.inbox(who)
        .await
        .into_iter()
        .filter(|t| t["workflow"] == workflow)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegate_add_and_remove_signers() {
    let mut s = Server::start(Server::t0()).await;
    let act = |task: &Value| format!("/api/v1/tasks/{}/actions", task["id"].as_str().unwrap());

    // 委派: the delegate's approval is an opinion; the task comes back.
    let (instance, approve) = leave_request(&mut s).await;
    let task = json!({ "id": approve });
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "delegate", "to": "zb1-member-1", "comment": "请先提出意见" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["task"]["assignees"], json!(["zb1-member-1"]));
    let r = s
        .post(
            "zb1-member-1",
            &act(&task),
            json!({ "action": "transfer", "to": "zb1-member-2" }),
        )
        .await;
    assert_eq!(r.status, 422, "a delegate cannot pass it on: {}", r.body);
    let r = s
        .post(
            "zb1-member-1",
            &act(&task),
            json!({ "action": "approve", "comment": "建议同意" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["task"]["status"], "pending", "back with the owner");
    assert_eq!(r.body["task"]["assignees"], json!(["zb1-secretary"]));
    // 后加签: the 机关党委书记 must approve too.
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "add_signer", "to": "jiguan-secretary", "position": "after" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "approve", "comment": "同意" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["instance"]["status"], "running",
        "the added signer still has to approve"
    );
    let next = pending_in(&mut s, "jiguan-secretary", "leave-request").await;
    assert_eq!(next.len(), 1);
    let r = s
        .post(
            "jiguan-secretary",
            &act(&next[0]),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.body["instance"]["end_state"], "approved", "{}", r.body);
    let h = s
        .get(
            "zb1-organizer",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    let resolved = h.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "delegation_resolved")
        .unwrap()
        .clone();
    assert_eq!(resolved["data"]["opinion"], "approve");
    assert_eq!(resolved["data"]["comment"], "建议同意");

    // 前加签: the added signer approves first; 减签 removes one who has not.
    let (_, approve) = leave_request(&mut s).await;
    let task = json!({ "id": approve });
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "add_signer", "to": "zb1-member-2", "position": "before" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post("zb1-secretary", &act(&task), json!({ "action": "approve" }))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:waiting-for-signer");
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "remove_signer", "to": "zb1-member-2" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        pending_in(&mut s, "zb1-member-2", "leave-request")
            .await
            .is_empty()
    );
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "add_signer", "to": "zb1-organizer", "position": "before" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let added = pending_in(&mut s, "zb1-organizer", "leave-request").await;
    let r = s
        .post(
            "zb1-organizer",
            &act(&added[0]),
            json!({ "action": "approve", "comment": "同意，请书记审批" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["instance"]["status"], "running");
    let r = s
        .post("zb1-secretary", &act(&task), json!({ "action": "approve" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["instance"]["end_state"], "approved");
    let r = s
        .post(
            "zb1-secretary",
            &act(&task),
            json!({ "action": "add_signer", "to": "zb1-member-3", "position": "sideways" }),
        )
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdraw_until_someone_acts_after() {
    let mut s = Server::start(Server::t0()).await;
    let act = |task: &Value| format!("/api/v1/tasks/{}/actions", task["id"].as_str().unwrap());
    publish(&mut s, "zb1-secretary", "two-approvals.yaml").await;
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "two-approvals", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let first = pending_in(&mut s, "zb1-secretary", "two-approvals").await[0].clone();
    let r = s
        .post(
            "zb1-secretary",
            &act(&first),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        pending_in(&mut s, "jiguan-secretary", "two-approvals")
            .await
            .len(),
        1
    );
    // 撤回 before the 党委 acted: the branch decides again, the 党委 task goes.
    let r = s
        .post(
            "zb1-secretary",
            &act(&first),
            json!({ "action": "withdraw" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        pending_in(&mut s, "jiguan-secretary", "two-approvals")
            .await
            .is_empty()
    );
    let again = pending_in(&mut s, "zb1-secretary", "two-approvals").await;
    assert_eq!(again.len(), 1);
    let r = s
        .post(
            "zb1-secretary",
            &act(&again[0]),
            json!({ "action": "approve" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let second = pending_in(&mut s, "jiguan-secretary", "two-approvals").await[0].clone();
    let r = s
        .post(
            "jiguan-secretary",
            &act(&second),
            json!({ "action": "return", "to": "first", "comment": "请补充材料" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Too late: the 党委 has acted since.
    let r = s
        .post(
            "zb1-secretary",
            &act(&again[0]),
            json!({ "action": "withdraw" }),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:too-late");
    // Someone else's decision cannot be withdrawn.
    let r = s
        .post(
            "zb1-organizer",
            &act(&second),
            json!({ "action": "withdraw" }),
        )
        .await;
    assert_eq!(r.status, 403);

    // The initiator withdraws a whole instance before anyone acted…
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "two-approvals", "org": "zb1" }),
        )
        .await;
    let fresh = r.body["id"].as_str().unwrap().to_string();
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/instances/{fresh}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "only the initiator: {}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            &format!("/api/v1/instances/{fresh}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    // …but not once someone else has.
    let r = s
        .post(
            "zb1-organizer",
            &format!("/api/v1/instances/{instance}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_uploaded_for_a_task_hashed_in_the_history_and_downloadable() {
    let mut s = Server::start(Server::t0()).await;
    let task = s.inbox("applicant-1").await[0].clone();
    let id = task["id"].as_str().unwrap().to_string();
    let instance = task["instance"].as_str().unwrap().to_string();
    let scan = "入党申请书（扫描件）".repeat(100).into_bytes();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&scan))
    };
    let upload = |s: &Server, token: String, bytes: Vec<u8>, part: &'static str| {
        let form = reqwest::multipart::Form::new().part(
            part,
            reqwest::multipart::Part::bytes(bytes)
                .file_name("入党申请书.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
        s.client
            .post(format!("{}/api/v1/tasks/{id}/files", s.base))
            .bearer_auth(token)
            .multipart(form)
    };
    let t = s.token("applicant-1").await;
    let r = s.raw(upload(&s, t.clone(), scan.clone(), "file")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["sha256"], sha.as_str());
    assert_eq!(r.body["name"], "入党申请书.pdf");
    let file = r.body["id"].as_str().unwrap().to_string();
    // Strangers (to whom the task answers as missing), empty or oversized
    // files, a missing part: refused.
    let other = s.token("zb2-secretary").await;
    assert_eq!(
        s.raw(upload(&s, other.clone(), scan.clone(), "file"))
            .await
            .status,
        404
    );
    // Too large: 413, or the server closes the connection while the client
    // is still sending the rest (it never reads past the limit).
    // A client of its own: the server may close this connection, and a
    // pooled connection must not carry that into the next request.
    let lone = reqwest::Client::new();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![0; 11 * 1024 * 1024]).file_name("big.pdf"),
    );
    match lone
        .post(format!("{}/api/v1/tasks/{id}/files", s.base))
        .bearer_auth(t.clone())
        .multipart(form)
        .send()
        .await
    {
        Ok(resp) => assert_eq!(resp.status().as_u16(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    let stored = s
        .get(
            "applicant-1",
            &format!("/api/v1/instances/{instance}/files"),
        )
        .await;
    assert_eq!(
        stored.body.as_array().unwrap().len(),
        1,
        "nothing more was stored"
    );
    assert_eq!(
        s.raw(upload(&s, t.clone(), scan.clone(), "attachment"))
            .await
            .status,
        422
    );
    assert_eq!(
        s.raw(upload(&s, t.clone(), Vec::new(), "file"))
            .await
            .status,
        422
    );
    // A file field must name an uploaded file.
    let r = s
        .post("applicant-1", &format!("/api/v1/tasks/{id}/actions"), json!({ "action": "complete", "form": { "applied_on": "2026-03-02", "application_letter": "申请书.pdf" } }))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("应为本流程已上传文件的 id：请先用 POST"),
        "{}",
        r.body
    );
    // The form refers to the file; the history holds its hash.
    let r = s
        .post("applicant-1", &format!("/api/v1/tasks/{id}/actions"), json!({ "action": "complete", "form": { "applied_on": "2026-03-02", "application_letter": file } }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let h = s
        .get(
            "applicant-1",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    let attached = h.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "file_attached")
        .unwrap()
        .clone();
    assert_eq!(attached["data"]["sha256"], sha.as_str());
    assert_eq!(h.body["verified"], true);
    // Download: the same bytes for those who may see the instance.
    let resp = s
        .client
        .get(format!("{}/api/v1/files/{file}", s.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["x-content-sha256"].to_str().unwrap(), sha);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), scan);
    let resp = s
        .client
        .get(format!("{}/api/v1/files/{file}", s.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    // To a stranger the file answers as missing.
    assert_eq!(resp.status().as_u16(), 404);
    // 材料归档: every file of the instance.
    let r = s
        .get(
            "zb1-organizer",
            &format!("/api/v1/instances/{instance}/files"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["uploaded_by"], "applicant-1");
}

async fn send(
    s: &mut Server,
    who: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> crate::server::Reply {
    let t = s.token(who).await;
    let mut req = s
        .client
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(t);
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.raw(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_can_be_changed_within_ones_subtree() {
    use reqwest::Method;
    let mut s = Server::start(Server::t0()).await;
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::PATCH,
        "/api/v1/orgs/zb1",
        Some(json!({ "name": "机关第一党支部（更名）", "term_start": "2026-06-01" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "机关第一党支部（更名）");
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::PATCH,
        "/api/v1/orgs/zb2",
        Some(json!({ "name": "x" })),
    )
    .await;
    // Outside one's subtree an organization answers as missing.
    assert_eq!(r.status, 404);
    // A 党小组 moves from zb1 to zb2 with its whole subtree.
    let r = s
        .post(
            "zb1-secretary",
            "/api/v1/orgs",
            json!({ "id": "g1", "name": "第一党小组", "kind": "党小组", "parent": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .post(
            "zb1-secretary",
            "/api/v1/orgs",
            json!({ "id": "g1a", "name": "第一党小组下属", "kind": "党小组", "parent": "g1" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::PATCH,
        "/api/v1/orgs/g1",
        Some(json!({ "parent": "zb2" })),
    )
    .await;
    // Moving needs both places; a new parent outside one's subtree
    // answers as a missing one.
    assert_eq!(r.status, 422, "moving needs both places: {}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:not-found");
    let r = send(
        &mut s,
        "jiguan-secretary",
        Method::PATCH,
        "/api/v1/orgs/g1",
        Some(json!({ "parent": "zb2" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.get("zb2-secretary", "/api/v1/orgs/g1a").await.status,
        200,
        "the subtree moved"
    );
    // Out of zb1's subtree now: it answers as missing.
    assert_eq!(s.get("zb1-secretary", "/api/v1/orgs/g1a").await.status, 404);
    let r = send(
        &mut s,
        "admin",
        Method::PATCH,
        "/api/v1/orgs/jiguan",
        Some(json!({ "parent": "g1a" })),
    )
    .await;
    assert_eq!(r.status, 422, "no cycles: {}", r.body);
    // Deleting: only empty organizations.
    let r = send(
        &mut s,
        "jiguan-secretary",
        Method::DELETE,
        "/api/v1/orgs/zb1",
        None,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("项人员任职"),
        "{}",
        r.body
    );
    let r = send(
        &mut s,
        "zb2-secretary",
        Method::DELETE,
        "/api/v1/orgs/g1a",
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(s.get("zb2-secretary", "/api/v1/orgs/g1a").await.status, 404);
    // People.
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::PATCH,
        "/api/v1/people/zb1-member-3",
        Some(json!({ "phone": "13800000000", "status": "正式党员" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["phone"], "13800000000");
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::PATCH,
        "/api/v1/people/zb1-member-3",
        Some(json!({ "memberships": [{ "org": "zb2", "role": "full_member" }] })),
    )
    .await;
    // An organization outside one's scope answers as a missing one.
    assert_eq!(r.status, 422);
    assert_eq!(r.body["type"], "urn:stageflow:problem:not-found");
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::PATCH,
        "/api/v1/people/zb2-member-1",
        Some(json!({ "phone": "1" })),
    )
    .await;
    // Outside one's subtree a person answers as missing.
    assert_eq!(r.status, 404);
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::DELETE,
        "/api/v1/people/applicant-1",
        None,
    )
    .await;
    assert_eq!(r.status, 422, "pending tasks first: {}", r.body);
    let token = s.token("zb1-member-5").await;
    let r = send(
        &mut s,
        "zb1-secretary",
        Method::DELETE,
        "/api/v1/people/zb1-member-5",
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = s
        .raw(
            s.client
                .get(format!("{}/api/v1/tasks", s.base))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(r.status, 401, "a deleted person's token no longer works");
}

/// Whether a problem's detail is for people: Chinese, and every id it
/// shows stands after the name it belongs to (`「书记」(secretary)`), or
/// among the choices a caller writes (`approve（通过）`), never alone.
fn readable(detail: &str, ids: &[&str]) -> Result<(), String> {
    if !detail
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    {
        return Err(format!("no Chinese in {detail:?}"));
    }
    for id in ids {
        let rest = detail
            .replace(&format!("」({id})"), "")
            .replace(&format!("{id}（"), "");
        if rest.contains(id) {
            return Err(format!("{id:?} stands alone in {detail:?}"));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typical_refusals_read_in_chinese_with_roles_and_steps_by_name() {
    let mut s = Server::start(Server::t0()).await;
    let (_, approve) = leave_request(&mut s).await;
    let act = format!("/api/v1/tasks/{approve}/actions");
    let ids = [
        "secretary",
        "organizer",
        "subject",
        "initiator",
        "full_member",
        "submit",
        "approve",
        "review",
    ];
    let mut refusals = Vec::new();

    // Someone else's task: the organizer sees it but may not decide it.
    let r = s
        .post("zb1-organizer", &act, json!({ "action": "approve" }))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    refusals.push(("someone else's task", r.body, "该事项不由您办理"));

    // An outcome the step does not have: the choices with their names.
    let r = s
        .post(
            "zb1-secretary",
            &act,
            json!({ "action": "complete", "outcome": "maybe" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:bad-outcome");
    refusals.push((
        "an outcome the step lacks",
        r.body,
        "步骤「书记审批」(approve)没有办理结果「maybe」（可选：approve（通过）",
    ));

    // A decided task, acted on again.
    let r = s
        .post("zb1-secretary", &act, json!({ "action": "approve" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post("zb1-secretary", &act, json!({ "action": "approve" }))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:task-already-decided");
    refusals.push(("a decided task", r.body, "该事项已经办理过，不能重复办理"));

    // A task that is not there.
    let nil = uuid::Uuid::nil();
    let r = s
        .get("zb1-secretary", &format!("/api/v1/tasks/{nil}"))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    refusals.push(("an unknown task", r.body, "找不到事项「00000000-"));

    // A status filter the inbox does not know.
    let r = s
        .get("zb1-secretary", "/api/v1/tasks?status=finished")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    refusals.push((
        "a bad status filter",
        r.body,
        "状态「finished」无效，应为 `pending`（待办）",
    ));

    // A field the action does not take: the lead is Chinese, serde's
    // words follow.
    let r = s
        .post(
            "zb1-secretary",
            &act,
            json!({ "action": "approve", "colour": "red" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    refusals.push((
        "an unknown field",
        r.body,
        "字段 `colour` 有误：unknown field `colour`",
    ));

    // A role nobody holds: the organization and the role by name.
    let r = s
        .post(
            "jiguan-secretary",
            "/api/v1/orgs",
            json!({ "id": "zb4", "name": "新建党支部", "kind": "党支部", "parent": "jiguan" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "jiguan-secretary",
            "/api/v1/instances",
            json!({ "definition": "democratic-appraisal", "org": "zb4" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["type"], "urn:stageflow:problem:empty-assignee");
    refusals.push((
        "a role nobody holds",
        r.body,
        "「新建党支部」(zb4)没有人担任「书记」(secretary)",
    ));

    for (what, body, says) in refusals {
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{what}: {says:?} not in {body}");
        if let Err(e) = readable(detail, &ids) {
            panic!("{what}: {e}");
        }
    }
}
