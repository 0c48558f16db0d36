//! The application core through the real server: personal tokens with a
//! lifetime, one's own e-mail address changed only from the old one, the
//! audit trail of the directory, what may be written, the server's edges
//! (security headers, downloads, `next=`), mailed sign-in links answered
//! alike and limited, schedules kept inside their owner, and definition
//! versions chosen by where their owner is.

use chrono::Duration;
use serde_json::{Value, json};

use crate::server::Server;
use crate::smtp::SmtpSink;

/// The link a mail carries to this server.
fn link_in(body: &str, base: &str) -> String {
    let at = body.find(base).expect("a link");
    body[at..].split_whitespace().next().unwrap().to_string()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_tokens_expire_and_are_listed_and_revoked() {
    let mut s = Server::start(Server::t0()).await;
    // One's own token, made through the API, shown once.
    let made = s
        .post("zb1-member-1", "/api/v1/tokens", json!({ "days": 1 }))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let token = made.body["token"].as_str().unwrap().to_string();
    let id = made.body["id"].as_str().unwrap().to_string();
    let expires = made.body["expires_at"].as_str().unwrap();
    assert!(expires.starts_with("2026-03-03"), "{expires}");
    let url = format!("{}/api/v1/tasks", s.base);
    let client = s.client.clone();
    let with = |t: &str| client.get(&url).bearer_auth(t);
    assert_eq!(s.raw(with(&token)).await.status, 200);
    // Listed (never the token itself), by the owner and by the branch's
    // organizer; a sibling branch's organizer finds no such person.
    let mine = s.get("zb1-member-1", "/api/v1/tokens").await;
    assert!(
        mine.body
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str()),
        "{}",
        mine.body
    );
    assert!(!mine.body.to_string().contains(&token));
    let theirs = s
        .get("zb1-organizer", "/api/v1/tokens?person=zb1-member-1")
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    let sibling = s
        .get("zb2-organizer", "/api/v1/tokens?person=zb1-member-1")
        .await;
    assert_eq!(sibling.status, 404, "{}", sibling.body);
    // The branch's organizer lists the branch's tokens: the member's, not
    // the secretary's (who also sits on the 机关党委).
    let _ = s.token("zb1-secretary").await;
    let branch = s.get("zb1-organizer", "/api/v1/tokens?org=zb1").await;
    assert_eq!(branch.status, 200, "{}", branch.body);
    let owners: Vec<&str> = branch
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["person"].as_str().unwrap())
        .collect();
    assert!(owners.contains(&"zb1-member-1"), "{owners:?}");
    assert!(!owners.contains(&"zb1-secretary"), "{owners:?}");
    // Expired after its day: 401 like a forged one.
    s.set_clock(Server::t0() + Duration::days(2)).await;
    let r = s.raw(with(&token)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // Revoked: 401 at once.
    let second = s.post("zb1-member-1", "/api/v1/tokens", json!({})).await;
    let second_token = second.body["token"].as_str().unwrap().to_string();
    let second_id = second.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.raw(with(&second_token)).await.status, 200);
    let r = s
        .delete("zb1-organizer", &format!("/api/v1/tokens/{second_id}"))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.raw(with(&second_token)).await.status, 401);
    // The admin token is nobody's: it makes no personal tokens.
    let r = s.post("admin", "/api/v1/tokens", json!({})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = s
        .post("zb1-member-1", "/api/v1/tokens", json!({ "days": 0 }))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ones_own_email_changes_only_from_the_old_address() {
    let mut s = Server::start(Server::t0()).await;
    let sink = SmtpSink::start(0).await;
    let r = s
        .patch(
            "zb1-member-1",
            "/api/v1/people/zb1-member-1",
            json!({ "email": "new-member-1@example.org" }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["email"], "zb1-member-1@example.org", "not yet");
    s.deliver_mail(&sink, Server::t0()).await;
    let mail = sink
        .received()
        .into_iter()
        .find(|m| m.subject().contains("更改登录邮箱"))
        .expect("a confirmation mail");
    assert!(
        mail.header("To").contains("zb1-member-1@example.org"),
        "to the old address: {}",
        mail.header("To")
    );
    assert!(mail.body().contains("new-member-1@example.org"));
    let link = link_in(&mail.body(), &s.base);
    assert!(link.contains("/email/confirm?token=sf_"), "{link}");
    // Opening the link changes nothing (a mail scanner may fetch it) …
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200);
    let me = s.get("zb1-member-1", "/api/v1/people/zb1-member-1").await;
    assert_eq!(me.body["email"], "zb1-member-1@example.org");
    // … the button does, once.
    let token = link.split("token=").nth(1).unwrap();
    let base = s.base.clone();
    let confirm = || {
        no_redirects()
            .post(format!("{base}/email/confirm"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let r = confirm().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("邮箱已更改"));
    let me = s.get("zb1-member-1", "/api/v1/people/zb1-member-1").await;
    assert_eq!(me.body["email"], "new-member-1@example.org");
    assert_eq!(confirm().await.unwrap().status(), 422, "used once");
    // One's own phone changes at once; one's name and roles are the
    // organizers'.
    let r = s
        .patch(
            "zb1-member-1",
            "/api/v1/people/zb1-member-1",
            json!({ "phone": "13900000000" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["phone"], "13900000000");
    let r = s
        .patch(
            "zb1-member-1",
            "/api/v1/people/zb1-member-1",
            json!({ "memberships": [{ "org": "zb1", "role": "secretary" }] }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // An organizer who manages all of one's organizations changes it
    // directly.
    let r = s
        .patch(
            "zb1-organizer",
            "/api/v1/people/zb1-member-1",
            json!({ "email": "set-by-organizer@example.org" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["email"], "set-by-organizer@example.org");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_directory_change_is_in_the_audit_trail() {
    let mut s = Server::start(Server::t0()).await;
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/people",
            json!({ "id": "new-member", "name": "新党员", "memberships": [{ "org": "zb1", "role": "full_member" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .patch(
            "zb1-organizer",
            "/api/v1/people/new-member",
            json!({ "name": "新党员（改名）" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .delete("jiguan-organizer", "/api/v1/people/new-member")
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = s
        .patch(
            "zb1-secretary",
            "/api/v1/orgs/zb1",
            json!({ "name": "机关一支部" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let trail = s.get("zb1-organizer", "/api/v1/audit?org=zb1").await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    let entries = trail.body.as_array().unwrap();
    let of = |target: &str, action: &str| -> Value {
        entries
            .iter()
            .find(|e| e["target_id"] == target && e["action"] == action)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} of {target}: {}", trail.body))
    };
    let created = of("new-member", "create");
    assert_eq!(created["actor"], "zb1-organizer");
    assert!(created["before"].is_null());
    assert_eq!(created["after"]["name"], "新党员");
    let renamed = of("new-member", "update");
    assert_eq!(renamed["before"]["name"], "新党员");
    assert_eq!(renamed["after"]["name"], "新党员（改名）");
    let deleted = of("new-member", "delete");
    assert_eq!(deleted["actor"], "jiguan-organizer");
    assert!(deleted["after"].is_null());
    let org = of("zb1", "update");
    assert_eq!(org["before"]["name"], "机关第一党支部");
    assert_eq!(org["after"]["name"], "机关一支部");
    // Newest first.
    assert_eq!(entries[0]["target_id"], "zb1");
    // The 机关党委 reads it for its subtree; a sibling branch does not.
    let r = s.get("jiguan-organizer", "/api/v1/audit?org=jiguan").await;
    assert!(r.body.as_array().unwrap().len() >= entries.len());
    let r = s.get("zb2-organizer", "/api/v1/audit?org=zb1").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = s.get("zb1-member-1", "/api/v1/audit?org=zb1").await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_names_and_addresses_are_checked_and_any_name_gets_mail() {
    let mut s = Server::start(Server::t0()).await;
    let person = |id: &str, name: &str, email: &str| {
        json!({ "id": id, "name": name, "email": email,
                "memberships": [{ "org": "zb1", "role": "full_member" }] })
    };
    for (body, says) in [
        (
            person("zb1/x", "甲", "a@example.org"),
            "人员 id「zb1/x」不可用",
        ),
        (person("x%y", "甲", "a@example.org"), "人员 id「x%y」不可用"),
        (person("-x", "甲", "a@example.org"), "人员 id「-x」不可用"),
        (
            person("ok-1", "甲\n乙", "a@example.org"),
            "`name` 不能含控制字符",
        ),
        (
            person("ok-2", "甲", "a@example.org\r\nBcc: x@evil.example"),
            "`email` 不能含控制字符",
        ),
        (
            person("ok-3", "甲", "not an address"),
            "「not an address」不是有效的邮箱地址",
        ),
    ] {
        let r = s
            .post("zb1-organizer", "/api/v1/people", body.clone())
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{says}: {}",
            r.body
        );
    }
    let r = s
        .post(
            "jiguan-organizer",
            "/api/v1/orgs",
            json!({ "id": "zb 4", "name": "第四支部", "kind": "党支部", "parent": "jiguan" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // A name with a quote is a name like any other, and gets mail.
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/people",
            person("quoted", "张\"三", "zhang.san@example.org"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sink = SmtpSink::start(0).await;
    let id = s.inbox("applicant-1").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .post(
            "applicant-1",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "cc", "people": ["quoted"], "comment": "请知悉" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.deliver_mail(&sink, Server::t0()).await;
    let to_quoted: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|m| m.header("To").contains("zhang.san@example.org"))
        .collect();
    assert_eq!(to_quoted.len(), 1, "the 抄送 reached 张\"三");
    let failed = s.get("admin", "/api/v1/admin/mail/failed").await;
    assert_eq!(failed.body, json!([]), "no mail failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let mut s = Server::start(Server::t0()).await;
    for (path, authed) in [
        ("/healthz", false),
        ("/login", false),
        ("/api/v1/tasks", false),
        ("/api/v1/tasks", true),
        ("/nowhere", false),
    ] {
        let mut req = s.client.get(format!("{}{path}", s.base));
        if authed {
            req = req.bearer_auth(s.token("zb1-member-1").await);
        }
        let r = req.send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: plain http"
        );
    }
    // Behind a proxy that terminated TLS: HSTS.
    let r = s
        .client
        .get(format!("{}/login", s.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age="),
    );
    // A sign-in form posted from another site (login CSRF) is refused; from
    // this site, directly or through a proxy that names the host it was
    // addressed by, it signs in.
    let token = s.token("zb1-member-1").await;
    let host = s.base.trim_start_matches("http://").to_string();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let own = format!("http://{host}");
    for (origin, fetch_site, forwarded, want) in [
        (Some("http://evil.example"), None, None, 403),
        (Some("null"), None, None, 403),
        (None, Some("cross-site"), None, 403),
        (None, Some("same-site"), None, 403),
        // A browser under `no-referrer` sends its own site as `null`,
        // and says where the form came from in Sec-Fetch-Site.
        (Some("null"), Some("same-origin"), None, 303),
        (Some(own.as_str()), None, None, 303),
        (
            Some("https://stageflow.example.org"),
            None,
            Some("stageflow.example.org"),
            303,
        ),
        (Some("https://stageflow.example.org"), None, None, 403),
        // A script (no browser headers at all).
        (None, None, None, 303),
    ] {
        let mut req = no_redirect
            .post(format!("{}/login", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(f) = fetch_site {
            req = req.header("sec-fetch-site", f);
        }
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-host", f);
        }
        let r = req.send().await.unwrap();
        let case = format!("{origin:?} {fetch_site:?} via {forwarded:?}");
        assert_eq!(r.status().as_u16(), want, "{case}");
        assert_eq!(
            r.headers().contains_key("set-cookie"),
            want == 303,
            "{case}"
        );
    }
    // Downloads: a PDF may be shown; HTML and SVG only ever download,
    // sandboxed.
    let task = s.inbox("applicant-1").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = s.token("applicant-1").await;
    let mut kinds = Vec::new();
    for (name, mime, bytes) in [
        ("申请书.pdf", "application/pdf", b"%PDF-1.4 scan".to_vec()),
        ("x.html", "text/html", b"<script>alert(1)</script>".to_vec()),
        (
            "x.svg",
            "image/svg+xml",
            b"<svg onload='alert(1)'/>".to_vec(),
        ),
    ] {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(mime)
                .unwrap(),
        );
        let r = s
            .raw(
                s.client
                    .post(format!("{}/api/v1/tasks/{task}/files", s.base))
                    .bearer_auth(&token)
                    .multipart(form),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        kinds.push((mime, r.body["id"].as_str().unwrap().to_string()));
    }
    for (mime, id) in kinds {
        let r = s
            .client
            .get(format!("{}/api/v1/files/{id}", s.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let disposition = h["content-disposition"].to_str().unwrap();
        assert_eq!(h["x-content-type-options"], "nosniff");
        if mime == "application/pdf" {
            assert!(disposition.starts_with("inline"), "{disposition}");
        } else {
            assert!(
                disposition.starts_with("attachment"),
                "{mime}: {disposition}"
            );
            assert!(
                h["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("sandbox"),
                "{mime}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_after_sign_in_is_a_printable_path_of_this_site() {
    let mut s = Server::start(Server::t0()).await;
    let token = s.token("zb1-member-1").await;
    let login = |next: &str| {
        no_redirects()
            .post(format!("{}/login", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&next={next}"))
            .send()
    };
    for (next, to) in [
        ("%2Fdone", Some("/done")),
        ("%2F%2Fevil.example", Some("/inbox")),
        ("https%3A%2F%2Fevil.example", Some("/inbox")),
        ("%2Finbox%0D%0ASet-Cookie%3A%20x%3D1", None),
        ("%2Fin%00box", None),
    ] {
        let r = login(next).await.unwrap();
        match to {
            Some(to) => {
                assert_eq!(r.status(), 303, "{next}");
                assert_eq!(r.headers()["location"], to, "{next}");
            }
            None => {
                assert_eq!(r.status(), 400, "{next}");
                assert!(r.text().await.unwrap().contains("地址无效"));
            }
        }
    }
    // The sign-in page itself, asked with control characters: 400, a page.
    let r = reqwest::get(format!("{}/login?next=%2Fx%0Ay", s.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_sign_in_link_is_answered_alike_and_limited() {
    let s = Server::start(Server::t0()).await;
    let ask = |email: &str| {
        no_redirects()
            .post(format!("{}/login/mail", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", "198.51.100.7")
            .body(format!("email={email}&next=%2Finbox"))
            .send()
    };
    // A registered address and an unknown one: the same page.
    let known = ask("zb1-member-1%40example.org").await.unwrap();
    let known_status = known.status();
    let known_page = known.text().await.unwrap();
    let unknown = ask("nobody%40example.org").await.unwrap();
    assert_eq!(unknown.status(), known_status);
    assert_eq!(unknown.text().await.unwrap(), known_page);
    // Five links an hour for an address, then a refusal (the same for
    // any address, registered or not).
    for _ in 0..4 {
        assert_eq!(
            ask("zb1-member-1%40example.org").await.unwrap().status(),
            200
        );
    }
    let r = ask("zb1-member-1%40example.org").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("请求过于频繁"));
    // Twenty an hour from one client, whatever the address.
    let mut refused = 0;
    for i in 0..20 {
        if ask(&format!("someone-{i}%40example.org"))
            .await
            .unwrap()
            .status()
            == 429
        {
            refused += 1;
        }
    }
    assert!(refused >= 5, "{refused} refused from one client");
    s.app.settled().await;
    let links = s.store.pending_mail(100).await.unwrap();
    let to_member: Vec<_> = links
        .iter()
        .filter(|m| m.mail.kind == "login_link" && m.mail.to == "zb1-member-1")
        .collect();
    assert_eq!(to_member.len(), 1, "one link a minute goes out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_stops_when_its_target_leaves_its_owner() {
    let mut s = Server::start(Server::t0()).await;
    let yaml = "stageflow: 1\nid: branch-report\nname: 支部报告\nsubject: organization\nend_states: { done: 完成 }\nstages:\n  - id: s\n    name: 报送\n    then: end done\n    steps:\n      - { id: t, name: 报送报告, assignee: { role: secretary } }\nschedules:\n  - id: daily\n    cron: \"0 0 9 * * *\"\n    orgs: { kind: 党支部, under: zb1 }\n";
    let r = s
        .publish_yaml("jiguan-organizer", "report.yaml", yaml)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["owner"], "jiguan");
    // zb1 moves out of the 机关党委 (the county takes it over).
    let r = s
        .patch("admin", "/api/v1/orgs/zb1", json!({ "parent": "county" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The next fire is refused: the schedule pauses itself and says why;
    // nothing starts in zb1.
    s.set_clock(Server::t0() + Duration::days(1)).await;
    let schedule = s
        .get("admin", "/api/v1/schedules/branch-report:daily")
        .await;
    assert_eq!(schedule.body["paused"], true, "{}", schedule.body);
    assert!(
        schedule.body["pause_note"]
            .as_str()
            .unwrap()
            .contains("已不在流程定义所属组织"),
        "{}",
        schedule.body
    );
    let inbox = s.inbox("zb1-secretary").await;
    assert!(
        !inbox.iter().any(|t| t["workflow"] == "branch-report"),
        "{inbox:?}"
    );
    // Resuming it is refused while the target stays outside.
    let r = s
        .post(
            "admin",
            "/api/v1/schedules/branch-report:daily/resume",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_id_keeps_its_owner_through_its_versions() {
    let mut s = Server::start(Server::t0()).await;
    let v2 = std::fs::read_to_string(crate::root().join("workflows/library/member-admission.yaml"))
        .unwrap()
        .replace(
            "id: member-admission\n",
            "id: member-admission\nversion: 2\n",
        );
    let mut tokens = std::collections::HashMap::new();
    for who in ["county-org", "zb1-organizer", "jiguan-organizer"] {
        tokens.insert(who, s.token(who).await);
    }
    let publish = async |s: &Server, who: &str, owner: &str, body: String| {
        let t = tokens[who].clone();
        let owner = if owner.is_empty() {
            String::new()
        } else {
            format!("&owner={owner}")
        };
        s.raw(
            s.client
                .post(format!(
                    "{}/api/v1/definitions?filename=v.yaml{owner}",
                    s.base
                ))
                .bearer_auth(t)
                .body(body),
        )
        .await
    };
    // The county may not hand the library's 发展党员 to the 机关党委 alone:
    // an id keeps the owner of its first version.
    let r = publish(&s, "county-org", "jiguan", v2.clone()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.body["type"], "urn:stageflow:problem:owner-is-fixed",
        "{}",
        r.body
    );
    // Version 2 for the whole tree is the county's to publish …
    let r = publish(&s, "county-org", "", v2.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["owner"], serde_json::Value::Null, "{}", r.body);
    // … and every branch runs it.
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "member-admission", "org": "zb1", "subject": "zb1-member-3" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    // The 机关党委's own workflow: its branches run it, the county's
    // other organizations do not see it.
    let own = "stageflow: 1\nid: jiguan-report\nname: 机关报告\nsubject: organization\nend_states: { done: 完成 }\nstages:\n  - id: s\n    name: 报送\n    then: end done\n    steps:\n      - { id: t, name: 报送报告, assignee: { role: secretary } }\n";
    let r = publish(&s, "jiguan-organizer", "", own.into()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["owner"], "jiguan");
    let r = s
        .post(
            "zb1-organizer",
            "/api/v1/instances",
            json!({ "definition": "jiguan-report", "org": "zb1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A branch may not publish the 机关党委's next version, nor move it.
    let v2 = own.replace("id: jiguan-report\n", "id: jiguan-report\nversion: 2\n");
    let r = publish(&s, "zb1-organizer", "", v2.clone()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = publish(&s, "jiguan-organizer", "zb1", v2.clone()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.body["type"], "urn:stageflow:problem:owner-is-fixed",
        "{}",
        r.body
    );
    let r = publish(&s, "jiguan-organizer", "", v2).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["owner"], "jiguan");
}
