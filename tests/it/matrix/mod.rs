//! The authorization matrix, generated from the route table: every route
//! of the API and of the pages × every role × a resource inside and
//! outside the role's scope (a thing of 机关第一党支部 `zb1` and one of its
//! sibling `zb2`). What each role may do is written here, per policy
//! operation, independently of the policy module: a route whose operation
//! has no entry here fails the test, and so does a route that answers
//! other than the entry says. It prints how many cases it checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::server::Server;

mod cases;
mod spec;

use crate::web::{field, page, sign_in};
use cases::*;
use spec::*;

/// The credentials of a role.
struct Credentials {
    bearer: Option<String>,
    cookie: Option<String>,
    csrf: Option<String>,
    feed: Option<String>,
}

async fn credentials(s: &mut Server, role: &str) -> Credentials {
    let none = Credentials {
        bearer: None,
        cookie: None,
        csrf: None,
        feed: None,
    };
    match role {
        "none" => none,
        "feed" => {
            let secretary = s.token("zb1-secretary").await;
            let caller = s
                .app
                .authenticate(&secretary, stageflow_app::Credential::Bearer)
                .await
                .unwrap();
            let (token, _) = s.app.new_feed_token(&caller).await.unwrap();
            Credentials {
                bearer: Some(token.clone()),
                feed: Some(token),
                ..none
            }
        }
        "session" => {
            let token = s.token("zb1-secretary").await;
            let cookie = sign_in(s, &token).await;
            Credentials {
                bearer: Some(cookie.trim_start_matches("sf_session=").to_string()),
                ..none
            }
        }
        "admin" => Credentials {
            bearer: Some(s.token("admin").await),
            ..none
        },
        person => {
            let token = s.token(person).await;
            let cookie = sign_in(s, &token).await;
            let (_, html) = page(s, &cookie, "/calendar").await;
            let csrf = field(&html, "csrf").to_string();
            Credentials {
                bearer: Some(token),
                cookie: Some(cookie),
                csrf: Some(csrf),
                ..none
            }
        }
    }
}

/// Sends a case; its status and body.
async fn send(s: &Server, c: &Call, who: &Credentials, page_route: bool) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = format!("{}{}", s.base, c.path);
    if c.path.starts_with("/api/v1/calendar")
        && let Some(f) = &who.feed
    {
        url = format!("{url}?token={f}");
    }
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
    let mut req = client.request(method, &url);
    if page_route {
        if let Some(cookie) = &who.cookie {
            req = req.header("cookie", cookie);
        }
        let csrf = who.csrf.clone().unwrap_or_default();
        if c.multipart {
            let mut form = reqwest::multipart::Form::new()
                .text("csrf", csrf)
                .text("do", "comment")
                .text("comment", "矩阵");
            if let Some(yaml) = &c.yaml {
                form = form.text("text", yaml.clone());
            }
            req = req.multipart(form);
        } else if c.method == "POST" {
            let mut fields: Vec<(String, String)> = vec![("csrf".into(), csrf)];
            if let Some(Value::Object(m)) = &c.body {
                for (k, v) in m {
                    fields.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
                }
            }
            let encoded: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect();
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoded.join("&"));
        }
    } else {
        if let Some(b) = &who.bearer
            && who.feed.is_none()
        {
            req = req.bearer_auth(b);
        }
        if let Some(b) = &who.bearer
            && who.feed.is_some()
            && !c.path.starts_with("/api/v1/calendar")
        {
            req = req.bearer_auth(b);
        }
        if c.multipart {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(b"%PDF matrix".to_vec()).file_name("x.pdf"),
            );
            req = req.multipart(form);
        } else if let Some(yaml) = &c.yaml {
            req = req.body(yaml.clone());
        } else if let Some(body) = &c.body {
            req = req.json(body);
        }
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether an answer is what the case expects.
fn matches(expect: Expect, status: u16, body: &Value, page_route: bool) -> bool {
    let missing_in_body = status == 422
        && match body {
            // A page says it in words.
            Value::String(html) => html.contains("该组织不存在"),
            _ => body["type"]
                .as_str()
                .is_some_and(|t| t.ends_with(":not-found") || t.ends_with(":unknown-definition")),
        };
    match expect {
        Expect::Unauthenticated if page_route => status == 303,
        Expect::Unauthenticated => status == 401,
        Expect::Hidden => status == 404 || missing_in_body,
        Expect::Forbidden => status == 403,
        Expect::Allowed => !matches!(status, 401 | 403 | 404) && !missing_in_body && status < 500,
        Expect::Visible => !matches!(status, 401 | 404) && !missing_in_body && status < 500,
        Expect::Public => status < 500,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_role_inside_and_outside_its_scope() {
    let mut s = Server::start(Server::t0()).await;
    publish(&s, None, "matrix-global", "zb1").await;
    let mut zones = Vec::new();
    for z in ZONES {
        zones.push(zone(&mut s, z).await);
    }
    let mut creds = BTreeMap::new();
    for role in ROLES {
        creds.insert(*role, credentials(&mut s, role).await);
    }
    let table = stageflow_api::routes::table();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut n = 0;
    for route in &table {
        // Signing out ends the session the other cases use: it is checked
        // last, on its own.
        if route.path == "/logout" {
            continue;
        }
        for z in &zones {
            for role in ROLES {
                // The admin token signs in to the API only; a session's
                // pages are those of the person roles.
                if route.page && matches!(*role, "admin" | "session") {
                    continue;
                }
                let expect = match expected(route, role, &z.org) {
                    Ok(e) => e,
                    Err(e) => {
                        failures.push(e);
                        continue;
                    }
                };
                n += 1;
                let c = call(&mut s, route, z, n).await;
                let who = &creds[role];
                let (status, body) = send(&s, &c, who, route.page).await;
                *counts
                    .entry((
                        if route.page { "page" } else { "api" },
                        format!("{expect:?}").leak(),
                    ))
                    .or_default() += 1;
                if !matches(expect, status, &body, route.page) {
                    let mut shown = body.to_string();
                    shown.truncate(200);
                    failures.push(format!(
                        "{role} {} {} [{}] → {status}, want {expect:?}: {shown}",
                        c.method, c.path, z.org
                    ));
                }
            }
        }
    }
    let mut summary = String::new();
    let routes = table.len();
    let cases: usize = counts.values().sum();
    let _ = write!(
        summary,
        "authorization matrix: {routes} routes × {} roles × {} scopes: {cases} cases checked (",
        ROLES.len(),
        ZONES.len()
    );
    for ((kind, expect), count) in &counts {
        let _ = write!(summary, "{kind} {expect} {count}; ");
    }
    println!("{})", summary.trim_end_matches("; "));
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every route was walked (the table is the router).
    assert!(routes > 60, "{routes} routes");
    let _ = &zones[0].applicant;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_bad_token_is_401_and_says_how_to_authenticate() {
    let mut s = Server::start(Server::t0()).await;
    let url = format!("{}/api/v1/tasks", s.base);
    let none = reqwest::get(&url).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"stageflow\""
    );
    let body: Value = none.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("Bearer"),
        "{body}"
    );
    for header in ["Bearer sf_forged", "Basic dXNlcjpwYXNz", "Bearer"] {
        let r = s
            .raw(s.client.get(&url).header("authorization", header))
            .await;
        assert_eq!(r.status, 401, "{header}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
    }
    // The scheme is read in any case (RFC 9110 §11.1).
    let token = s.token("zb1-member-1").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = s
            .raw(
                s.client
                    .get(&url)
                    .header("authorization", format!("{scheme} {token}")),
            )
            .await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
    }
    // The admin token, as a bearer token.
    let r = s
        .raw(s.client.get(&url).bearer_auth(crate::server::ADMIN))
        .await;
    assert_eq!(r.status, 200);
}
