//! The rules as written (the issue "The rules as written"): dates people
//! enter for what already happened, and the anchors statutory limits
//! count from — each test names the article it follows. Through the real
//! server with the manual clock (today: 2026-03-02, Beijing).

use serde_json::{Value, json};

use crate::server::Server;

/// A person of zb1 born on `birth`, and a 发展党员 instance about them;
/// returns their `apply` task.
async fn applicant(s: &mut Server, id: &str, birth: &str) -> Value {
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/people",
            json!({ "id": id, "name": "青年", "email": format!("{id}@example.org"), "birth_date": birth,
                    "memberships": [{ "org": "zb1", "role": "member" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "member-admission", "org": "zb1", "subject": id }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    s.inbox(id)
        .await
        .into_iter()
        .next()
        .expect("the apply task")
}

/// Uploads a scan for a task (the application letter, a talk record); its
/// file id.
pub(crate) async fn letter(s: &mut Server, who: &str, task: &Value) -> String {
    let token = s.token(who).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 letter".to_vec())
            .file_name("申请书.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let r = s
        .raw(
            s.client
                .post(format!(
                    "{}/api/v1/tasks/{}/files",
                    s.base,
                    task["id"].as_str().unwrap()
                ))
                .bearer_auth(token)
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

pub(crate) async fn complete(
    s: &mut Server,
    who: &str,
    task: &Value,
    form: Value,
) -> crate::server::Reply {
    s.post(
        who,
        &format!("/api/v1/tasks/{}/actions", task["id"].as_str().unwrap()),
        json!({ "action": "complete", "form": form }),
    )
    .await
}

/// 《中国共产党发展党员工作细则》第五条: 年满十八岁 at the application. A
/// later 申请日期 cannot pass the check: a date that records what happened
/// may not lie after today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_5_an_application_date_cannot_be_set_in_the_future_to_pass_the_age_rule() {
    let mut s = Server::start(Server::t0()).await;
    // Eighteen on 2026-06-01, three months after today.
    let task = applicant(&mut s, "young-1", "2008-06-01").await;
    let file = letter(&mut s, "young-1", &task).await;
    let r = complete(
        &mut s,
        "young-1",
        &task,
        json!({ "applied_on": "2026-06-02", "application_letter": file }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("「申请日期」") && detail.contains("不能晚于今天（2026-03-02）"),
        "{detail}"
    );
    // Today: the age rule itself refuses.
    let r = complete(
        &mut s,
        "young-1",
        &task,
        json!({ "applied_on": "2026-03-02", "application_letter": file }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("年满十八周岁"),
        "{}",
        r.body
    );
    // The received date may not be in the future either.
    let task = applicant(&mut s, "adult-1", "1998-05-01").await;
    let file = letter(&mut s, "adult-1", &task).await;
    let r = complete(
        &mut s,
        "adult-1",
        &task,
        json!({ "applied_on": "2026-03-01", "received_on": "2026-03-09", "application_letter": file }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("「党组织收到申请书日期」"),
        "{}",
        r.body
    );
}

/// 细则 第七条: 党组织收到入党申请书后，一个月内派人同入党申请人谈话 — the
/// month counts from the day the application was received (by default the
/// day it is entered), and the talk cannot precede it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_7_the_talk_is_due_a_month_after_the_application_was_received() {
    let mut s = Server::start(Server::t0()).await;
    let task = applicant(&mut s, "adult-2", "1998-05-01").await;
    let file = letter(&mut s, "adult-2", &task).await;
    // Received ten days ago, entered today.
    let r = complete(
        &mut s,
        "adult-2",
        &task,
        json!({ "applied_on": "2026-02-19", "received_on": "2026-02-20", "application_letter": file }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let talk = s.task_of("zb1-secretary", "talk", &task["instance"]).await;
    assert_eq!(talk["due"], "2026-03-20", "{talk}");
    let record = letter(&mut s, "zb1-secretary", &talk).await;
    let r = complete(
        &mut s,
        "zb1-secretary",
        &talk,
        json!({ "talked_on": "2026-02-19", "talker": "zb1-secretary", "talk_record": record }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("「谈话日期」不能早于 2026-02-20"),
        "{}",
        r.body
    );
    // Without a received date, the day it is entered counts.
    let task = applicant(&mut s, "adult-3", "1998-05-01").await;
    let file = letter(&mut s, "adult-3", &task).await;
    let r = complete(
        &mut s,
        "adult-3",
        &task,
        json!({ "applied_on": "2026-03-01", "application_letter": file }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let talk = s.task_of("zb1-secretary", "talk", &task["instance"]).await;
    assert_eq!(talk["due"], "2026-04-02", "{talk}");
}

/// 党章 第七条: the 预备期 runs from the day the 支部大会 adopted the
/// resolution. The meeting's date is recorded when the vote is counted —
/// the ballots may be entered days later — and every date that depends on
/// the meeting counts from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn party_constitution_article_7_time_counts_from_the_meeting_not_the_count() {
    let mut s = Server::start(Server::t0()).await;
    let yaml = "stageflow: 1\nid: meeting-date\nname: 会议日期\nsubject: organization\nend_states: { done: 完成, failed: 未通过 }\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - id: v\n        name: 支部大会\n        kind: vote\n        assignee: { role: secretary }\n        voters: { role: full_member }\n        quorum: present > eligible / 2\n        pass: yes > eligible / 2\n        outcomes:\n          pass: { to: next, label: 通过 }\n          fail: { to: end failed, label: 未通过 }\n          no_quorum: { to: retry, label: 另行召开 }\n        set:\n          probation_start: { date: step.v.form.held_on }\n          probation_end: { date: 1 year after step.v.form.held_on }\n      - id: report\n        name: 报送\n        after: v\n        assignee: { role: secretary }\n        due: 1 month after step.v.form.held_on\n";
    let r = s.publish_yaml("zb1-organizer", "meeting.yaml", yaml).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "meeting-date", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let voters: Vec<String> = r.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["assignees"][0].as_str().unwrap().to_string())
        .collect();
    assert!(voters.len() >= 3, "{voters:?}");
    // Everyone but one votes yes; the ballots are entered three days after
    // the meeting of 2026-03-02.
    s.set_clock(Server::t0() + chrono::Duration::days(3)).await;
    for who in &voters[..voters.len() - 1] {
        let task = s
            .inbox(who)
            .await
            .into_iter()
            .find(|t| t["instance"] == instance.as_str())
            .unwrap();
        let r = s
            .post(
                who,
                &format!("/api/v1/tasks/{}/actions", task["id"].as_str().unwrap()),
                json!({ "action": "vote", "choice": "yes" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let close = format!("/api/v1/instances/{instance}/steps/v/close");
    // Neither after today nor before the vote was opened.
    for (held_on, words) in [
        ("2026-03-06", "不能晚于今天"),
        ("2026-03-01", "不能早于表决开始"),
    ] {
        let r = s
            .post("zb1-secretary", &close, json!({ "held_on": held_on }))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains(words),
            "{}",
            r.body
        );
    }
    let r = s
        .post("zb1-secretary", &close, json!({ "held_on": "2026-03-02" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["variables"]["probation_start"], "2026-03-02",
        "{}",
        r.body
    );
    assert_eq!(
        r.body["variables"]["probation_end"], "2027-03-02",
        "{}",
        r.body
    );
    let report = s
        .inbox("zb1-secretary")
        .await
        .into_iter()
        .find(|t| t["instance"] == instance.as_str() && t["step"] == "report")
        .unwrap();
    assert_eq!(report["due"], "2026-04-02", "{report}");
    // The history says when the meeting was held.
    let closed = s
        .first_event("zb1-secretary", &instance, "vote_closed")
        .await;
    assert_eq!(closed["data"]["held_on"], "2026-03-02", "{closed}");
}

/// The talk task of a fresh 发展党员 case, its application received today
/// (the apply form's `received_on` defaults to today).
async fn talk_received_today(s: &mut Server, id: &str, applied_on: &str) -> Value {
    let task = applicant(s, id, "1998-05-01").await;
    let file = letter(s, id, &task).await;
    let r = complete(
        s,
        id,
        &task,
        json!({ "applied_on": applied_on, "application_letter": file }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.task_of("zb1-secretary", "talk", &task["instance"]).await
}

/// 《全国年节及纪念日放假办法》(2024年修订) 第二条 with 民法典 第二百零三条: in
/// a year whose 放假调休 notice is not out, the holidays the law fixes are
/// still days off. A talk due a month after 2027-01-05 falls on 2027-02-05,
/// 除夕 (computed from the lunar calendar), so it is due on the next working
/// day, Tue 02-09 (春节 除夕–初三 is 02-05 … 02-08) — marked 暂算 in the API,
/// on the task page and in the calendar feed. Loaded at start (`serve
/// --holidays DIR`), the year's notice decides and the mark goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holiday_law_a_year_without_a_notice_keeps_its_fixed_holidays_provisionally() {
    // 2027-01-05 09:00 in Beijing.
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 1, 5, 1, 0, 0).unwrap();
    let mut s = Server::start(start).await;
    let talk = talk_received_today(&mut s, "adult-7", "2027-01-04").await;
    assert_eq!(talk["due"], "2027-02-09", "{talk}");
    assert_eq!(talk["due_provisional"], true, "{talk}");
    let id = talk["id"].as_str().unwrap();
    let token = s.token("zb1-secretary").await;
    let cookie = crate::web::sign_in(&s, &token).await;
    let (status, html) = crate::web::page(&s, &cookie, &format!("/tasks/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("2027年2月9日"), "{html}");
    assert!(html.contains(">暂算</span>"), "{html}");
    assert!(html.contains("调休上班日未知"), "{html}");
    let (_, inbox) = crate::web::page(&s, &cookie, "/inbox").await;
    assert!(inbox.contains(">暂算</span>"), "{inbox}");
    let feed = s
        .get("zb1-secretary", "/api/v1/calendar/people/zb1-secretary.ics")
        .await;
    let ics = feed.body.as_str().unwrap_or_default().to_string();
    assert!(
        ics.contains("SUMMARY:【期限】") && ics.contains("（暂算）"),
        "{ics}"
    );

    // The notice is out: a (made-up) 2027 notice gives 春节 02-05 … 02-11.
    let dir = tempfile::tempdir().unwrap();
    let days: Vec<String> = (5..=11)
        .map(|d| format!(r#"{{"name": "春节", "date": "2027-02-{d:02}", "isOffDay": true}}"#))
        .collect();
    std::fs::write(
        dir.path().join("2027.json"),
        format!(
            r#"{{"year": 2027, "papers": ["https://www.gov.cn/example"], "days": [{}]}}"#,
            days.join(",")
        ),
    )
    .unwrap();
    let holidays = stageflow_app::holidays::load_dir(dir.path()).unwrap();
    let mut s = Server::start_with(
        start,
        stageflow_app::Config {
            holidays: Some(holidays),
            ..Default::default()
        },
    )
    .await;
    let talk = talk_received_today(&mut s, "adult-8", "2027-01-04").await;
    assert_eq!(talk["due"], "2027-02-12", "{talk}");
    assert_eq!(talk["due_provisional"], false, "{talk}");
}

/// No silent choices (the approver's desk, §3): the 支委会 step that
/// decides on an 入党积极分子 has two outcomes; completing it without naming
/// one is a 422 that lists both with their labels — it used to record the
/// first (同意) without a word — and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_with_several_outcomes_needs_one_named() {
    let mut s = Server::start(Server::t0()).await;
    let talk = talk_received_today(&mut s, "adult-5", "2026-03-01").await;
    let record = letter(&mut s, "zb1-secretary", &talk).await;
    let r = complete(
        &mut s,
        "zb1-secretary",
        &talk,
        json!({ "talked_on": "2026-03-02", "talker": "zb1-secretary", "talk_record": record }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let decide = s
        .task_of("zb1-secretary", "determine_activist", &talk["instance"])
        .await;
    let minutes = letter(&mut s, "zb1-secretary", &decide).await;
    let form =
        json!({ "meeting_date": "2026-03-02", "recommendation": "党员推荐", "minutes": minutes });
    let r = complete(&mut s, "zb1-secretary", &decide, form.clone()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("请用 `outcome` 指明其一"), "{detail}");
    assert!(
        detail.contains("agree（同意确定为入党积极分子）"),
        "{detail}"
    );
    assert!(detail.contains("disagree（暂不确定"), "{detail}");
    let still = s
        .get(
            "zb1-secretary",
            &format!("/api/v1/tasks/{}", decide["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(still.body["status"], "pending", "{}", still.body);
    let r = s
        .post(
            "zb1-secretary",
            &format!("/api/v1/tasks/{}/actions", decide["id"].as_str().unwrap()),
            json!({ "action": "complete", "outcome": "disagree", "form": form }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["task"]["outcome"], "disagree", "{}", r.body);
}

/// Rule 1 has its counterpart: a date that plans what is to come is not a
/// record. The 述职评议 plan names the meeting's date ahead of time (it must
/// not be in the past), so a date two weeks ahead is taken — the library
/// marks it `future: true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_meeting_date_may_lie_ahead() {
    let mut s = Server::start(Server::t0()).await;
    let r = s
        .post(
            "jiguan-organizer",
            "/api/v1/instances",
            json!({ "definition": "secretary-report-review", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let plan = s
        .inbox("jiguan-organizer")
        .await
        .into_iter()
        .find(|t| t["step"] == "plan" && t["instance"] == instance.as_str())
        .expect("the plan task");
    let file = letter(&mut s, "jiguan-organizer", &plan).await;
    let r = complete(
        &mut s,
        "jiguan-organizer",
        &plan,
        json!({ "plan": file, "focus": "全面从严治党", "meeting_date": "2026-03-16" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
