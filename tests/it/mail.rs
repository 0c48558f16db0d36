//! Reminder mail over real SMTP: exact mails for the admission workflow
//! across a month, exactly once, retried when the server refuses, failures
//! kept visible.

use chrono::Duration;
use serde_json::json;
use stageflow_runtime::mail::{MailConfig, Transport, deliver_due, message_id};

use crate::server::Server;
use crate::smtp::SmtpSink;

fn config(sink: &SmtpSink) -> MailConfig {
    let mut c = MailConfig::new(Transport::smtp(&sink.url()).unwrap());
    c.public_url = "https://dangjian.example.org".into();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admission_workflow_sends_the_exact_reminders_once() {
    let mut s = Server::start(Server::t0()).await;
    let sink = SmtpSink::start(0).await;
    let mail = config(&sink);
    let now = Server::t0();
    // The demo's instances queued their first 待办 mails.
    let d = deliver_due(&s.runtime, &mail, now).await.unwrap();
    assert!(d.sent >= 3, "{d:?}");
    let first = sink.received();
    let apply = first
        .iter()
        .find(|m| m.to == ["applicant-1@example.org"])
        .expect("the applicant is told");
    // The definition overrides the built-in templates.
    assert_eq!(apply.subject(), "【发展党员】待办：1. 递交入党申请书");
    let task = s.inbox("applicant-1").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        apply
            .body()
            .contains(&format!("https://dangjian.example.org/tasks/{task}")),
        "{}",
        apply.body()
    );
    assert_eq!(
        apply.header("Message-ID"),
        message_id(&format!(
            "{}:{task}:assigned",
            s.inbox("applicant-1").await[0]["instance"]
                .as_str()
                .unwrap()
        ))
    );
    // Nothing twice.
    let again = deliver_due(&s.runtime, &mail, now).await.unwrap();
    assert_eq!(again.sent, 0);

    // The application is in (2026-03-02): the talk is due 2026-04-02.
    let upload = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"scan".to_vec()).file_name("a.pdf"),
    );
    let t = s.token("applicant-1").await;
    let file = s
        .raw(
            s.client
                .post(format!("{}/api/v1/tasks/{task}/files", s.base))
                .bearer_auth(t)
                .multipart(upload),
        )
        .await
        .body["id"]
        .clone();
    let r = s.post("applicant-1", &format!("/api/v1/tasks/{task}/actions"), json!({ "action": "complete", "form": { "applied_on": "2026-03-02", "application_letter": file } })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    deliver_due(&s.runtime, &mail, now).await.unwrap();
    // A month and two days later: reminder (a week before), overdue notice
    // (at the deadline), escalation to the 机关党委书记 (a day after).
    let later = now + Duration::days(33);
    let r = s
        .post("admin", "/api/v1/admin/clock", json!({ "advance": "P33D" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["fired"].as_u64().unwrap() >= 3, "{}", r.body);
    deliver_due(&s.runtime, &mail, later).await.unwrap();
    deliver_due(&s.runtime, &mail, later + Duration::hours(1))
        .await
        .unwrap();
    let all = sink.received();
    let about_talk: Vec<(String, String)> = all
        .iter()
        .filter(|m| m.subject().contains("党组织派人谈话"))
        .map(|m| (m.to.join(","), m.subject()))
        .collect();
    assert_eq!(
        about_talk,
        vec![
            (
                "zb1-secretary@example.org".to_string(),
                "【发展党员】待办：2. 党组织派人谈话".to_string()
            ),
            (
                "zb1-secretary@example.org".to_string(),
                "【提醒】2. 党组织派人谈话 将于 2026年4月2日 星期四（当日24时前） 到期".to_string()
            ),
            (
                "zb1-secretary@example.org".to_string(),
                "【逾期】2. 党组织派人谈话 已超过期限 2026年4月2日 星期四（当日24时前）"
                    .to_string()
            ),
            (
                "jiguan-secretary@example.org".to_string(),
                "【督办】2. 党组织派人谈话 逾期未办".to_string()
            ),
        ]
    );
    let escalation = all
        .iter()
        .find(|m| m.subject().starts_with("【督办】"))
        .unwrap();
    let name = s.get("admin", "/api/v1/people/jiguan-secretary").await.body["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        escalation.body().starts_with(&format!("{name}：")),
        "addressed by name: {}",
        escalation.body()
    );
    assert!(
        escalation
            .body()
            .contains("已逾期（期限 2026-04-02），未办理人：zb1-secretary"),
        "{}",
        escalation.body()
    );
    // Every mail once: distinct Message-IDs.
    let mut ids: Vec<String> = all.iter().map(|m| m.header("Message-ID")).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a mail was sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_server_gets_retries_and_nothing_is_lost_or_doubled() {
    let s = Server::start(Server::t0()).await;
    let queued = s.store.pending_mail(1000).await.unwrap().len();
    assert!(queued > 0);
    // The server refuses the first two messages.
    let sink = SmtpSink::start(2).await;
    let mail = config(&sink);
    let now = Server::t0();
    let d = deliver_due(&s.runtime, &mail, now).await.unwrap();
    assert_eq!(d.retried, 2, "{d:?}");
    assert_eq!(d.sent, queued - 2);
    // Not before the backoff.
    assert_eq!(
        deliver_due(&s.runtime, &mail, now + Duration::seconds(10))
            .await
            .unwrap()
            .sent,
        0
    );
    let d = deliver_due(&s.runtime, &mail, now + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(d.sent, 2);
    assert_eq!(sink.received().len(), queued, "every mail exactly once");
    assert!(s.store.pending_mail(1000).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_that_cannot_be_delivered_is_marked_failed_and_listed() {
    let mut s = Server::start(Server::t0()).await;
    // Nobody listens on this port: every attempt fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut mail = MailConfig::new(Transport::smtp(&format!("smtp://127.0.0.1:{port}")).unwrap());
    mail.max_attempts = 2;
    let now = Server::t0();
    let d = deliver_due(&s.runtime, &mail, now).await.unwrap();
    assert!(d.retried > 0 && d.sent == 0, "{d:?}");
    let d = deliver_due(&s.runtime, &mail, now + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(d.failed, d.failed.max(1));
    let r = s.get("admin", "/api/v1/admin/mail/failed").await;
    assert_eq!(r.status, 200);
    let failed = r.body.as_array().unwrap();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|f| f["attempts"] == 2 && !f["error"].as_str().unwrap().is_empty()),
        "{failed:?}"
    );
    assert_eq!(
        s.get("zb1-secretary", "/api/v1/admin/mail/failed")
            .await
            .status,
        403
    );
}
