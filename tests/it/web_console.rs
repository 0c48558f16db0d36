//! The organizer's console over HTTP: schedules (pause, resume, fire now),
//! starting an instance from a definition's inputs, and the `simulate`
//! timeline preview.

use crate::server::Server;
use crate::web::{field, page, sign_in};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn urlencoded(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Posts a url-encoded form with the session cookie.
async fn post_form(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = client()
        .post(format!("{}{path}", s.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(form))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}

const YEARLY: &str = "democratic-appraisal:yearly";

async fn act(s: &Server, cookie: &str, csrf: &str, action: &str, note: &str) -> (u16, String) {
    post_form(
        s,
        cookie,
        "/console/schedules",
        &[
            ("csrf", csrf),
            ("id", YEARLY),
            ("do", action),
            ("note", note),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_top_organizer_pauses_resumes_and_fires_a_schedule_from_the_page() {
    let mut s = Server::start(Server::t0()).await;
    let token = s.token("county-org").await;
    let cookie = sign_in(&s, &token).await;
    let (status, html) = page(&s, &cookie, "/console/schedules").await;
    assert_eq!(status, 200);
    assert!(html.contains("民主评议党员"), "{html}");
    // Started every 1 December at 09:00 for each 党支部.
    assert!(html.contains("全部组织的每个党支部"));
    assert!(html.contains("2026年12月1日 09:00"), "{html}");
    let csrf = field(&html, "csrf").to_string();
    let id = YEARLY;
    assert!(html.contains(&format!("value=\"{id}\"")), "{html}");
    // Pausing needs a reason.
    let (status, html) = act(&s, &cookie, &csrf, "pause", " ").await;
    assert_eq!(status, 422);
    assert!(html.contains("暂停时请写明原因"));
    let (status, html) = act(&s, &cookie, &csrf, "pause", "今年与换届合并开展").await;
    assert_eq!(status, 200);
    assert!(html.contains("已暂停，恢复前不会启动流程"), "{html}");
    assert!(html.contains("今年与换届合并开展"));
    let api = s.get("admin", &format!("/api/v1/schedules/{id}")).await;
    assert_eq!(api.body["paused"], true, "{}", api.body);
    let (_, html) = act(&s, &cookie, &csrf, "resume", "").await;
    assert!(html.contains("已恢复"));
    let api = s.get("admin", &format!("/api/v1/schedules/{id}")).await;
    assert_eq!(api.body["paused"], false);
    // Fire now: one instance per 党支部 — the demo's three, of which zb2
    // already runs one (skipped).
    let (status, html) = act(&s, &cookie, &csrf, "trigger", "").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("已立即执行：启动 2 个流程，跳过 1 个（上一轮尚未结束）"),
        "{html}"
    );
    let secretary_tasks = s.inbox("zb3-secretary").await;
    assert!(
        secretary_tasks
            .iter()
            .any(|t| t["step"] == "study_and_mobilize"),
        "{secretary_tasks:?}"
    );
    // A branch's organizer does not steer whole-tree schedules.
    let branch = s.token("zb1-organizer").await;
    let branch_cookie = sign_in(&s, &branch).await;
    let (_, html) = page(&s, &branch_cookie, "/console/schedules").await;
    assert!(html.contains("您管理的组织没有定时任务"), "{html}");
    let (status, _) = post_form(
        &s,
        &branch_cookie,
        "/console/schedules",
        &[
            ("csrf", field(&html, "csrf")),
            ("id", id),
            ("do", "trigger"),
        ],
    )
    .await;
    // A schedule outside one's subtree answers as missing, with the
    // reason on the page.
    assert_eq!(status, 404, "refused, with the reason on the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_previews_a_timeline_and_starts_an_admission_from_the_form() {
    let mut s = Server::start(Server::t0()).await;
    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    // The preview: the talk within a month, the whole way to 正式党员.
    let (status, html) = page(
        &s,
        &cookie,
        "/console/definitions/member-admission?start=2026-03-02&policy=earliest&in.rule_set=fzdy-2014&in.activist_min_months=0&in.vote_within_months=1",
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("推演结果"), "{html}");
    assert!(html.contains("待办 2. 党组织派人谈话 [talk] → 书记  期限 2026-04-02"));
    assert!(html.contains("推演结束：已转为正式党员"), "{html}");
    // A bad number is said in words, nothing simulated.
    let (_, html) = page(
        &s,
        &cookie,
        "/console/definitions/member-admission?start=2026-03-02&in.vote_within_months=abc",
    )
    .await;
    assert!(html.contains("须填写整数"), "{html}");
    assert!(!html.contains("推演结果"));

    // The start form offers the branch's people and the inputs.
    let (_, html) = page(&s, &cookie, "/console/definitions/member-admission").await;
    assert!(html.contains(r#"<select id="s-subject" name="subject" required>"#));
    assert!(html.contains(r#"name="in.rule_set""#));
    let csrf = field(&html, "csrf").to_string();
    let key = field(&html, "key").to_string();
    // Without a subject: refused, the form kept.
    let (status, html) = post_form(
        &s,
        &cookie,
        "/console/definitions/member-admission/start",
        &[
            ("csrf", &csrf),
            ("key", &key),
            ("org", "zb1"),
            ("in.rule_set", "fzdy-2026"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("请选择流程对象"), "{html}");
    let form = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("org", "zb1"),
        ("subject", "zb1-probationary"),
        ("in.rule_set", "fzdy-2026"),
        ("in.activist_min_months", "0"),
        ("in.vote_within_months", "1"),
    ];
    let (status, location) = post_form(
        &s,
        &cookie,
        "/console/definitions/member-admission/start",
        &form,
    )
    .await;
    assert_eq!(status, 303, "{location}");
    assert!(location.starts_with("/tasks/") && location.ends_with("?started=1"));
    // The same form sent twice starts one instance.
    let (status, again) = post_form(
        &s,
        &cookie,
        "/console/definitions/member-admission/start",
        &form,
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(again, location);
    let task = location
        .trim_start_matches("/tasks/")
        .trim_end_matches("?started=1")
        .to_string();
    let (_, html) = page(&s, &cookie, &location).await;
    assert!(html.contains("流程已发起，以下是它的第一项待办"), "{html}");
    assert!(html.contains("1. 递交入党申请书"));
    let t = s
        .get("zb1-secretary", &format!("/api/v1/tasks/{task}"))
        .await;
    assert_eq!(t.body["assignees"][0], "zb1-probationary", "{}", t.body);
    let instance = t.body["instance"].as_str().unwrap().to_string();
    let i = s
        .get("zb1-secretary", &format!("/api/v1/instances/{instance}"))
        .await;
    assert_eq!(i.body["inputs"]["rule_set"], "fzdy-2026", "{}", i.body);
    assert_eq!(i.body["initiator"], "zb1-secretary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chair_closes_a_vote_early_from_the_page() {
    let mut s = Server::start(Server::t0()).await;
    let yaml = std::fs::read_to_string(
        crate::root().join("tests/fixtures/web/committee-vote-and-rating.yaml"),
    )
    .unwrap();
    let t = s.token("admin").await;
    let published = s
        .raw(
            s.client
                .post(format!("{}/api/v1/definitions", s.base))
                .bearer_auth(t)
                .header("content-type", "application/yaml")
                .body(yaml),
        )
        .await;
    assert_eq!(published.status, 201, "{}", published.body);
    let started = s
        .post(
            "jiguan-organizer",
            "/api/v1/instances",
            serde_json::json!({ "definition": "committee-vote-and-rating", "org": "jiguan",
                                "inputs": { "topic": "表彰先进" } }),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    // Two of three vote for; the third is away.
    for who in ["jiguan-organizer", "jiguan-officer"] {
        let ballot = s
            .inbox(who)
            .await
            .into_iter()
            .find(|t| t["step"] == "committee_vote")
            .unwrap();
        let r = s
            .post(
                who,
                &format!("/api/v1/tasks/{}/actions", ballot["id"].as_str().unwrap()),
                serde_json::json!({ "action": "vote", "choice": "yes" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The 党委书记 chairs: the page of their own ballot offers to close.
    let ballot = s
        .inbox("jiguan-secretary")
        .await
        .into_iter()
        .find(|t| t["step"] == "committee_vote")
        .unwrap();
    let id = ballot["id"].as_str().unwrap().to_string();
    let token = s.token("jiguan-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, &format!("/tasks/{id}")).await;
    assert!(html.contains("结束表决并计票"), "{html}");
    // The chair records the day the meeting was held (default today).
    assert!(html.contains("name=\"held_on\""), "{html}");
    let csrf = field(&html, "csrf").to_string();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("do", "close");
    let r = client()
        .post(format!("{}/tasks/{id}", s.base))
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("已结束，按已投（已评）的结果计算"), "{html}");
    assert!(
        html.contains(
            "「党委会表决」计票：应到 3 人，实到 2 人，投票 2 人（赞成 2）；会议召开日期"
        ),
        "{html}"
    );
    // 2 of 3 for: passed; the rating is open.
    assert!(
        s.inbox("jiguan-secretary")
            .await
            .iter()
            .any(|t| t["step"] == "secretary_rating")
    );
}
