//! Hostile input over real HTTP: oversized bodies, YAML bombs, SQL
//! metacharacters in every kind of field, HTML in comments. Each is refused
//! with a clear 4xx problem or stored verbatim and shown escaped; nothing
//! is lost or corrupted.

use serde_json::json;

use crate::server::Server;

/// A fresh connection per oversized request: the server may close it
/// before reading the whole body.
async fn post_big(s: &Server, path: &str, token: &str, ctype: &str, body: Vec<u8>) -> Option<u16> {
    match reqwest::Client::new()
        .post(format!("{}{path}", s.base))
        .bearer_auth(token)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
    {
        Ok(r) => Some(r.status().as_u16()),
        Err(e) => {
            assert!(e.is_request() || e.is_body(), "{e}");
            None
        }
    }
}

async fn history_of(s: &mut Server, instance: &str) -> serde_json::Value {
    s.get(
        "applicant-1",
        &format!("/api/v1/instances/{instance}/history"),
    )
    .await
    .body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_yaml_bombs_are_refused_with_problems() {
    let mut s = Server::start(Server::t0()).await;
    let admin = s.token("admin").await;
    let before = s.get("admin", "/api/v1/definitions").await.body;
    // A 3 MB definition and a 3 MB action body: 413 (or the connection is
    // closed while sending).
    let mut huge = String::from("stageflow: 1\nid: huge\nname: 大\ndescription: ");
    huge.push_str(&"长".repeat(1_000_000));
    let status = post_big(
        &s,
        "/api/v1/definitions",
        &admin,
        "application/yaml",
        huge.into_bytes(),
    )
    .await;
    assert!(matches!(status, Some(413) | None), "{status:?}");
    let task = s.inbox("applicant-1").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = s.token("applicant-1").await;
    let body = format!(
        r#"{{"action":"comment","comment":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    let status = post_big(
        &s,
        &format!("/api/v1/tasks/{task}/actions"),
        &t,
        "application/json",
        body.into_bytes(),
    )
    .await;
    assert!(matches!(status, Some(413) | None), "{status:?}");
    // Nothing was recorded on the task.
    let instance = s
        .get("applicant-1", &format!("/api/v1/tasks/{task}"))
        .await
        .body["instance"]
        .as_str()
        .unwrap()
        .to_string();
    let history = history_of(&mut s, &instance).await;
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "commented"),
        "{history}"
    );

    // An alias bomb and a deeply nested document: 422 with where and why.
    let mut bomb = String::from(
        "stageflow: 1\nid: bomb\nname: 炸弹\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    let deep = format!(
        "stageflow: 1\nid: deep\nname: 深\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for (name, text, says) in [
        (
            "bomb.yaml",
            bomb,
            "文档过大（别名展开后超过 200000 个节点）",
        ),
        ("deep.yaml", deep, "YAML 语法错误：嵌套层级太深"),
    ] {
        let r = s
            .raw(
                s.client
                    .post(format!("{}/api/v1/definitions?filename={name}", s.base))
                    .bearer_auth(&admin)
                    .header("content-type", "application/yaml")
                    .body(text),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        let detail = r.body.to_string();
        assert!(detail.contains(says) && detail.contains(name), "{detail}");
    }
    // Nothing was published by any of it.
    assert_eq!(s.get("admin", "/api/v1/definitions").await.body, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_metacharacters_are_data_and_html_is_shown_escaped() {
    let mut s = Server::start(Server::t0()).await;
    let nasty = "王'); DROP TABLE people; -- \" OR 1=1 --";
    // In names of organizations and people.
    let org = s
        .post(
            "admin",
            "/api/v1/orgs",
            json!({ "id": "zb9", "name": nasty, "kind": "党支部", "parent": "jiguan" }),
        )
        .await;
    assert_eq!(org.status, 201, "{}", org.body);
    let person = s
        .post(
            "admin",
            "/api/v1/people",
            json!({ "id": "p-nasty", "name": nasty, "email": "x'--@example.org",
                    "memberships": [{ "org": "zb9", "role": "secretary" }] }),
        )
        .await;
    assert_eq!(person.status, 201, "{}", person.body);
    assert_eq!(s.get("admin", "/api/v1/orgs/zb9").await.body["name"], nasty);
    assert_eq!(
        s.get("admin", "/api/v1/people/p-nasty").await.body["name"],
        nasty
    );
    assert_eq!(
        s.get("admin", "/api/v1/people").await.status,
        200,
        "people still there"
    );
    // In query parameters.
    let r = s
        .get(
            "applicant-1",
            "/api/v1/tasks?workflow=x%27%20OR%20%271%27%3D%271",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tasks"], json!([]));

    // In a comment, with HTML: stored verbatim, escaped on the page, plain
    // in the mail.
    let comment = "<script>alert('x')</script><b>粗</b>'; DELETE FROM events; --";
    let apply = s.inbox("applicant-1").await[0].clone();
    let instance = apply["instance"].as_str().unwrap().to_string();
    let said = s
        .post(
            "applicant-1",
            &format!("/api/v1/tasks/{}/actions", apply["id"].as_str().unwrap()),
            json!({ "action": "comment", "comment": comment }),
        )
        .await;
    assert_eq!(said.status, 200, "{}", said.body);
    crate::api::act_choosing(
        &mut s,
        "applicant-1",
        &apply,
        Server::t0().date_naive(),
        None,
    )
    .await;
    let history = history_of(&mut s, &instance).await;
    assert!(
        history.to_string().contains("DELETE FROM events"),
        "{history}"
    );
    assert_eq!(history["verified"], true, "{history}");
    let talk = s.inbox("zb1-secretary").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = s.token("zb1-secretary").await;
    let cookie = crate::web::sign_in(&s, &token).await;
    let (_, html) = crate::web::page(&s, &cookie, &format!("/tasks/{talk}")).await;
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;b&gt;粗&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "raw HTML from a comment");
    assert!(!html.contains("<b>粗</b>"));
    // 抄送 with the same text: the mail is plain text and says it as written.
    let cc = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{talk}/actions"),
            json!({ "action": "cc", "people": ["zb1-member-1"], "comment": comment }),
        )
        .await;
    assert_eq!(cc.status, 200, "{}", cc.body);
    let sink = crate::smtp::SmtpSink::start(0).await;
    s.deliver_mail(&sink, Server::t0()).await;
    let notice = sink
        .received()
        .into_iter()
        .find(|m| m.subject().starts_with("【抄送】"))
        .expect("the 抄送 mail");
    assert!(notice.header("Content-Type").starts_with("text/plain"));
    assert!(notice.body().contains(comment), "{}", notice.body());
}

/// A small organization workflow with `extra` steps in its one stage.
fn looping(id: &str, steps: &str, then: &str) -> String {
    format!(
        "stageflow: 1\nid: {id}\nname: 循环\nsubject: organization\nend_states: {{ done: 完成 }}\nstages:\n  - id: s1\n    name: 阶段一\n    then: {then}\n    steps:\n{steps}  - id: s2\n    name: 阶段二\n    then: stage s1\n    steps:\n      - {{ id: m, name: 通知, kind: notify, assignee: initiator, template: task_assigned }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_an_organizer_publishes_brings_the_server_down() {
    let mut s = Server::start(Server::t0()).await;
    // An expression nested 4,000 deep (it overflowed the parser's stack).
    let deep = format!(
        "stageflow: 1\nid: deep\nname: 深\nsubject: organization\nend_states: {{ done: 完成 }}\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - id: t\n        name: 事项\n        assignee: {{ role: secretary }}\n        when: \"{}1 == 1{}\"\n",
        "(".repeat(4000),
        ")".repeat(4000)
    );
    let r = s.publish_yaml("zb1-organizer", "deep.yaml", &deep).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let problems = r.body["diagnostics"].to_string();
    assert!(problems.contains("deep.yaml:14:"), "{problems}");
    assert!(problems.contains("最多只能有 500 个"), "{problems}");
    // Stages of notices that lead back to each other: refused at the
    // `then:` that closes the loop.
    let notices = looping(
        "notice-loop",
        "      - { id: n, name: 通知, kind: notify, assignee: initiator, template: task_assigned }\n",
        "next",
    );
    let r = s.publish_yaml("zb1-organizer", "loop.yaml", &notices).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let problems = r.body["diagnostics"].to_string();
    assert!(
        problems.contains(
            "中间没有任何需要等人办理的步骤：「阶段一」(s1) → 「阶段二」(s2) → 「阶段一」(s1)"
        ) || problems.contains(
            "中间没有任何需要等人办理的步骤：「阶段二」(s2) → 「阶段一」(s1) → 「阶段二」(s2)"
        ),
        "{problems}"
    );
    // A loop the validator cannot see (its task is skipped at run time):
    // published, but a start is refused and the server lives on.
    let skipped = looping(
        "skip-loop",
        "      - { id: t, name: 事项, assignee: { role: secretary }, when: \"1 == 2\" }\n",
        "next",
    ) + "schedules:\n  - id: every\n    cron: \"0 * * * * *\"\n    orgs: { kind: 党支部, under: zb1 }\n";
    let r = s.publish_yaml("zb1-organizer", "skip.yaml", &skipped).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "skip-loop", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("流程陷入循环，没有等待任何人办理"),
        "{}",
        r.body
    );
    // The schedule fires (the clock passes its minute) and is refused the
    // same way; the time simulation on the console says so too.
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/schedules/skip-loop:every/trigger",
            json!({}),
        )
        .await;
    // The one branch it aims at is refused, counted as skipped.
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["started"], 0, "{}", r.body);
    assert_eq!(r.body["skipped"], 1, "{}", r.body);
    s.set_clock(Server::t0() + chrono::Duration::minutes(3))
        .await;
    let token = s.token("zb1-organizer").await;
    let cookie = crate::web::sign_in(&s, &token).await;
    let (status, html) = crate::web::page(
        &s,
        &cookie,
        "/console/definitions/skip-loop?start=2026-06-01&policy=early",
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("流程陷入循环，没有等待任何人办理"), "{html}");
    let health = s.client.get(format!("{}/healthz", s.base)).send().await;
    assert_eq!(health.unwrap().status(), 200);
    // Nothing was written: nobody got a task of it.
    for who in ["zb1-secretary", "zb1-organizer"] {
        let inbox = s.inbox(who).await;
        assert!(
            !inbox.iter().any(|t| t["workflow"] == "skip-loop"),
            "{who}: {inbox:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_goes_only_to_checked_people_and_known_workflows() {
    let mut s = Server::start(Server::t0()).await;
    // A text input or a text form field, or a variable, naming an
    // assignee: it is never checked against the branch, so it is refused
    // when published, at its line.
    let text = "stageflow: 1\nid: text-assignee\nname: 文本指派\nsubject: organization\ninputs:\n  - { id: who, label: 人, type: person }\n  - { id: txt, label: 文, type: text }\nend_states: { done: 完成 }\nstages:\n  - id: s1\n    name: 一\n    then: end done\n    steps:\n      - id: a\n        name: 输入人\n        assignee: { field: input.who }\n      - id: b\n        name: 文本人\n        assignee: { field: input.txt }\n      - id: pick\n        name: 选人\n        assignee: { role: secretary }\n        form: [ { id: note, label: 文本, type: text, required: true } ]\n        set: { chosen: { expr: \"form.note\" } }\n      - id: c\n        name: 文本表单人\n        after: pick\n        assignee: { field: step.pick.form.note }\n      - id: d\n        name: 变量人\n        after: pick\n        assignee: { field: var.chosen }\n";
    let r = s.publish_yaml("zb1-organizer", "text.yaml", text).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let problems = r.body["diagnostics"].to_string();
    assert!(
        problems.contains("text.yaml:19:")
            && problems.contains("「input.txt」用来指定办理人，但它不是人员字段"),
        "{problems}"
    );
    assert!(
        problems.contains("「step.pick.form.note」用来指定办理人，但它不是人员字段"),
        "{problems}"
    );
    assert!(
        problems.contains("「var.chosen」不能用来指定办理人"),
        "{problems}"
    );
    assert!(!problems.contains("input.who"), "{problems}");
    // A subflow may start only a workflow the publisher sees: not one of
    // a sibling branch's, not one that does not exist — answered alike.
    let own = "stageflow: 1\nid: zb2-private\nname: 二支部自用\nsubject: organization\nend_states: { done: 完成 }\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - { id: t, name: 事项, assignee: { role: secretary } }\n";
    let r = s.publish_yaml("zb2-secretary", "own.yaml", own).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut answers = Vec::new();
    for target in ["zb2-private", "no-such-workflow"] {
        let sub = format!(
            "stageflow: 1\nid: sub-{target}\nname: 子流程\nsubject: organization\nend_states: {{ done: 完成 }}\nstages:\n  - id: s1\n    name: 一\n    then: end done\n    steps:\n      - {{ id: sf, name: 子, kind: subflow, workflow: {target} }}\n"
        );
        let r = s.publish_yaml("zb1-organizer", "sub.yaml", &sub).await;
        assert_eq!(r.status, 422, "{}", r.body);
        answers.push(r.body["detail"].as_str().unwrap().replace(target, "X"));
    }
    assert_eq!(answers[0], answers[1]);
    // A workflow of a few hundred steps is refused at the first one too
    // many.
    let mut big = String::from(
        "stageflow: 1\nid: big\nname: 大\nsubject: organization\nend_states: { done: 完成 }\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n",
    );
    for i in 0..201 {
        big.push_str(&format!(
            "      - {{ id: t{i}, name: 事项{i}, assignee: {{ role: secretary }} }}\n"
        ));
    }
    let r = s.publish_yaml("zb1-organizer", "big.yaml", &big).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let problems = r.body["diagnostics"].to_string();
    assert!(
        problems.contains("big.yaml:211:")
            && problems.contains("流程共有 201 个步骤，最多只能有 200 个"),
        "{problems}"
    );
}
