//! Signing in to the pages without a token (a one-time link by mail), the
//! end of a session, calendar feed links, and 催办 / 撤回 from a task page.

use chrono::Duration;

use crate::server::Server;
use crate::smtp::SmtpSink;
use crate::web::{field, page, sign_in};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The first link to this site in a mail body.
fn link_in(body: &str, base: &str) -> String {
    let at = body
        .find(base)
        .unwrap_or_else(|| panic!("no link in {body}"));
    body[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// Posts a url-encoded form without a session: status and body.
async fn post_form(s: &Server, path: &str, body: String) -> reqwest::Response {
    client()
        .post(format!("{}{path}", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn ask_for_link(s: &Server, email: &str) -> String {
    let r = post_form(s, "/login/mail", format!("email={email}&next=%2Finbox")).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_by_mail_works_once_and_a_session_ends_after_twelve_hours() {
    let mut s = Server::start(Server::t0()).await;
    let sink = SmtpSink::start(0).await;
    // A known address and an unknown one get the same answer; only the
    // known one gets a mail.
    let known = ask_for_link(&s, "ZB1-Secretary@example.org").await;
    let unknown = ask_for_link(&s, "nobody@example.org").await;
    assert!(
        known.contains("如果该邮箱已登记，登录链接已发送"),
        "{known}"
    );
    assert!(unknown.contains("如果该邮箱已登记，登录链接已发送"));
    s.deliver_mail(&sink, Server::t0()).await;
    let mails: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|m| m.subject().starts_with("【登录】"))
        .collect();
    assert_eq!(mails.len(), 1, "one mail, to the known address");
    let mail = &mails[0];
    assert!(mail.header("To").contains("zb1-secretary@example.org"));
    assert_eq!(mail.subject(), "【登录】您的登录链接");
    assert!(mail.body().contains("15 分钟内有效，仅可使用一次"));
    let link = link_in(&mail.body(), &s.base);
    assert!(link.contains("/login/link?token=sf_"), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_string();

    // Opening the link (twice: a mail scanner may fetch it first) does not
    // use it up; the button on the page does.
    for _ in 0..2 {
        let html = client()
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("继续登录"), "{html}");
    }
    let use_link = || post_form(&s, "/login/link", format!("token={token}"));
    let r = use_link().await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/inbox");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("Max-Age=43200"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let (status, html) = page(&s, &cookie, "/inbox").await;
    assert_eq!(status, 200);
    let name = s.store.person("zb1-secretary").await.unwrap().unwrap().name;
    assert!(
        html.contains(&format!("<span class=\"who\">{name}</span>")),
        "signed in as the 支部书记: {html}"
    );
    // Used once: the same link again is refused with a message.
    let r = use_link().await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("登录链接无效或已过期（15 分钟内有效，仅可使用一次）")
    );
    // A session cookie is not an API token.
    let session = cookie.trim_start_matches("sf_session=");
    let api = s
        .raw(
            s.client
                .get(format!("{}/api/v1/tasks", s.base))
                .bearer_auth(session),
        )
        .await;
    assert_eq!(api.status, 401);

    // At most one link a minute goes out: asking again at once sends nothing.
    ask_for_link(&s, "zb1-secretary@example.org").await;
    s.deliver_mail(&sink, Server::t0()).await;
    let links = |sink: &SmtpSink| {
        sink.received()
            .into_iter()
            .filter(|m| m.subject().starts_with("【登录】"))
            .count()
    };
    assert_eq!(links(&sink), 1);
    // A minute later a new link goes out; not used within 15 minutes, it
    // has expired.
    s.set_clock(Server::t0() + Duration::minutes(1)).await;
    ask_for_link(&s, "zb1-secretary@example.org").await;
    s.deliver_mail(&sink, Server::t0() + Duration::minutes(1))
        .await;
    assert_eq!(links(&sink), 2);
    let late = sink
        .received()
        .into_iter()
        .rfind(|m| m.subject().starts_with("【登录】"))
        .unwrap()
        .body();
    let late_token = link_in(&late, &s.base)
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string();
    assert_ne!(late_token, token);
    s.set_clock(Server::t0() + Duration::minutes(16)).await;
    let r = post_form(&s, "/login/link", format!("token={late_token}")).await;
    assert_eq!(r.status(), 401);

    // Twelve hours after signing in the session is over: the page sends
    // the browser to sign in again, saying why.
    s.set_clock(Server::t0() + Duration::hours(12) + Duration::minutes(1))
        .await;
    let r = client()
        .get(format!("{}/inbox", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/login?next=/inbox&expired=1");
    let html = client()
        .get(format!("{}{to}", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("登录已失效（超过 12 小时或已在别处退出）"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_feed_link_opens_the_feed_and_nothing_else() {
    let mut s = Server::start(Server::t0()).await;
    // The applicant hands in the application: the 支部书记 has the talk,
    // due 2 April.
    crate::api::hand_in(&mut s).await;
    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, "/calendar").await;
    assert!(html.contains("生成订阅链接"));
    let csrf = field(&html, "csrf").to_string();
    let make = || {
        client()
            .post(format!("{}/calendar", s.base))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
    };
    let html = make().await.unwrap().text().await.unwrap();
    assert!(html.contains("我的待办期限"), "{html}");
    let feed = html
        .split("value=\"")
        .find(|v| v.starts_with("http") && v.contains("/calendar/people/zb1-secretary.ics"))
        .map(|v| v[..v.find('"').unwrap()].replace("&#x3D;", "="))
        .expect("the feed link");
    // The link opens the applicant's deadlines as a calendar.
    let r = reqwest::get(&feed).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let ics = r.text().await.unwrap();
    assert!(ics.contains("BEGIN:VCALENDAR"), "{ics}");
    assert!(
        ics.contains("DTSTART;VALUE=DATE:20260402"),
        "the talk's deadline: {ics}"
    );
    // The 支部书记 manages the branch: its feed is offered too.
    assert!(
        html.contains("/api/v1/calendar/orgs/zb1.ics?token"),
        "{html}"
    );
    // Its token opens nothing else.
    let feed_token = feed.split("token=").nth(1).unwrap();
    let api = s
        .raw(
            s.client
                .get(format!("{}/api/v1/tasks", s.base))
                .bearer_auth(feed_token),
        )
        .await;
    assert_eq!(api.status, 401);
    let other = reqwest::get(format!(
        "{}/api/v1/calendar/people/applicant-1.ics?token={feed_token}",
        s.base
    ))
    .await
    .unwrap();
    assert_eq!(
        other.status(),
        404,
        "someone else's feed answers as missing"
    );
    // A new link revokes the old one.
    let again = make().await.unwrap().text().await.unwrap();
    assert!(again.contains("原有链接已失效"));
    assert_eq!(reqwest::get(&feed).await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initiator_urges_a_late_task_and_an_applicant_takes_back_a_decision() {
    let mut s = Server::start(Server::t0()).await;
    let sink = SmtpSink::start(0).await;
    let applicant = s.token("applicant-1").await;
    let applicant_cookie = sign_in(&s, &applicant).await;
    let apply = s.inbox("applicant-1").await[0].clone();
    let apply_id = apply["id"].as_str().unwrap().to_string();
    crate::api::act_choosing(
        &mut s,
        "applicant-1",
        &apply,
        Server::t0().date_naive(),
        None,
    )
    .await;

    // 撤回: nobody has acted since, so the applicant may take it back.
    let (_, html) = page(&s, &applicant_cookie, &format!("/tasks/{apply_id}")).await;
    assert!(html.contains("撤回我的办理"), "{html}");
    assert!(
        !html.contains(">催办<"),
        "the applicant did not start the instance"
    );
    let csrf = field(&html, "csrf").to_string();
    let post = |cookie: &str, task: &str, action: &str| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("comment", "附件有误，重新提交")
            .text("do", action.to_string());
        client()
            .post(format!("{}/tasks/{task}", s.base))
            .header("cookie", cookie.to_string())
            .multipart(form)
            .send()
    };
    let r = post(&applicant_cookie, &apply_id, "retract").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("已撤回您的办理"));
    let again = s.inbox("applicant-1").await;
    assert!(
        again.iter().any(|t| t["step"] == "apply"),
        "the application is back in the applicant's 待办: {again:?}"
    );
    assert!(
        s.inbox("zb1-secretary")
            .await
            .iter()
            .all(|t| t["step"] != "talk"),
        "the talk it had opened is gone"
    );
    // Hand it in again; the talk waits with the 支部书记.
    crate::api::hand_in(&mut s).await;
    let talk = s
        .inbox("zb1-secretary")
        .await
        .into_iter()
        .find(|t| t["step"] == "talk")
        .expect("the talk");
    let talk_id = talk["id"].as_str().unwrap().to_string();

    // 催办 by the 组织委员 who started the instance: a reminder mail, and
    // not twice within the hour.
    let organizer = s.token("zb1-organizer").await;
    let organizer_cookie = sign_in(&s, &organizer).await;
    let (_, html) = page(&s, &organizer_cookie, &format!("/tasks/{talk_id}")).await;
    assert!(html.contains("该事项正由"), "{html}");
    assert!(html.contains(">催办<"));
    let csrf_o = field(&html, "csrf").to_string();
    let urge = || {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf_o.clone())
            .text("do", "urge");
        client()
            .post(format!("{}/tasks/{talk_id}", s.base))
            .header("cookie", organizer_cookie.clone())
            .multipart(form)
            .send()
    };
    let r = urge().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("已催办"));
    let r = urge().await.unwrap();
    assert_eq!(r.status(), 429, "urged again within the hour");
    assert!(r.text().await.unwrap().contains("未能办理"));
    s.deliver_mail(&sink, Server::t0()).await;
    let urged = sink
        .received()
        .into_iter()
        .find(|m| m.subject().starts_with("【催办】"))
        .expect("a 催办 mail");
    assert!(
        urged.subject().contains("2. 党组织派人谈话"),
        "{}",
        urged.subject()
    );
    assert!(urged.header("To").contains("zb1-secretary@example.org"));
    let organizer_name = s.store.person("zb1-organizer").await.unwrap().unwrap().name;
    assert!(
        urged.body().contains(&format!("{organizer_name} 催办")),
        "{}",
        urged.body()
    );
    // The history says who urged.
    let history = s
        .get(
            "zb1-organizer",
            &format!(
                "/api/v1/instances/{}/history",
                talk["instance"].as_str().unwrap()
            ),
        )
        .await;
    assert!(
        history.body.to_string().contains("urged"),
        "{}",
        history.body
    );
}
