//! The authorization matrix, generated from the route table: every route
//! of the API and of the pages × every role × a resource inside and
//! outside the role's scope (a thing of 机关第一党支部 `zb1` and one of its
//! sibling `zb2`). What each role may do is written here, per policy
//! operation, independently of the policy module: a route whose operation
//! has no entry here fails the test, and so does a route that answers
//! other than the entry says. It prints how many cases it checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use stageflow_api::routes::{Access, RouteInfo};
use stageflow_app::Caller;
use stageflow_app::policy::Op;

use crate::server::Server;
use crate::web::{field, page, sign_in};

/// The two branches: the first is inside the scope of the zb1 roles, the
/// second inside that of the zb2 roles; 机关党委 and 县委 manage both.
const ZONES: [&str; 2] = ["zb1", "zb2"];

/// Who calls.
const ROLES: &[&str] = &[
    "none",
    "feed",
    "session",
    "applicant-1",
    "zb1-member-2",
    "zb1-organizer",
    "zb1-secretary",
    "zb2-organizer",
    "zb2-secretary",
    "jiguan-organizer",
    "county-org",
    "admin",
];

/// What a case must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Done, or refused by the thing's state (2xx, 3xx, 409, 422 other
    /// than "does not exist"): the policy let it through.
    Allowed,
    /// Let through by the policy, but the engine may refuse who is not
    /// the initiator or chair (403 allowed): anything but hidden.
    Visible,
    /// 403: seen, not the caller's to do.
    Forbidden,
    /// Answered as missing: 404, or 422 "does not exist" for a thing named
    /// in the body.
    Hidden,
    /// 401.
    Unauthenticated,
    /// A public route: anything but a server error (a sign-in with a bad
    /// link is a 401 page).
    Public,
}

fn manages(role: &str, zone: &str) -> bool {
    matches!(role, "jiguan-organizer" | "county-org" | "admin")
        || role == format!("{zone}-organizer")
        || role == format!("{zone}-secretary")
}

fn member_of(role: &str, zone: &str) -> bool {
    match role {
        "applicant-1" | "zb1-member-2" => zone == "zb1",
        r => r.starts_with(&format!("{zone}-")),
    }
}

/// Whether the role has a role in the zone's organization, above it or
/// below it (definitions owned by the zone are shown to them).
fn reaches(role: &str, zone: &str) -> bool {
    match role {
        // The branch secretaries also sit on the 机关党委.
        "zb1-secretary" | "zb2-secretary" | "jiguan-organizer" | "county-org" | "admin" => true,
        r => member_of(r, zone),
    }
}

/// The assignee of the zone's admission task (the applicant).
fn assignee(role: &str, zone: &str) -> bool {
    role == "applicant-1" && zone == "zb1"
}

fn manage_or(role: &str, zone: &str, seen: bool) -> Expect {
    if manages(role, zone) {
        Expect::Allowed
    } else if seen {
        Expect::Forbidden
    } else {
        Expect::Hidden
    }
}

/// What each operation lets each role do to the zone's thing: the rules
/// of the issue "The application core", written out. `None`: no entry.
fn spec(op: Op, route: &RouteInfo, role: &str, zone: &str) -> Option<Expect> {
    use Expect::*;
    let admin = role == "admin";
    Some(match op {
        Op::ListTasksOf => Allowed,
        Op::ReadInstance if route.path.starts_with("/console/campaigns") => {
            manage_or(role, zone, false)
        }
        Op::ReadInstance => {
            if manages(role, zone) || assignee(role, zone) {
                Allowed
            } else {
                Hidden
            }
        }
        Op::ActOnTask => {
            if assignee(role, zone) {
                Allowed
            } else if admin {
                // The admin passes the policy; the engine says whose task.
                Visible
            } else if manages(role, zone) {
                Forbidden
            } else {
                Hidden
            }
        }
        Op::StartInstance => manage_or(role, zone, member_of(role, zone)),
        // A fresh instance of the zone, its task the secretary's.
        Op::CancelInstance => manage_or(role, zone, false),
        Op::WithdrawInstance => {
            if manages(role, zone) {
                Visible
            } else {
                Hidden
            }
        }
        Op::CloseStep => {
            if manages(role, zone) || assignee(role, zone) {
                Visible
            } else {
                Hidden
            }
        }
        Op::ReadDefinition if route.path == "/api/v1/definitions" => Allowed,
        Op::ReadDefinition => {
            if reaches(role, zone) {
                Allowed
            } else {
                Hidden
            }
        }
        // The console publishes with the publisher's own default owner.
        Op::PublishDefinition if route.page => Allowed,
        // The owner named is an organization: seen by its members.
        Op::PublishDefinition => manage_or(role, zone, member_of(role, zone)),
        Op::ReadSchedule if route.path == "/api/v1/schedules" || route.page => Allowed,
        Op::ReadSchedule | Op::SteerSchedule => manage_or(role, zone, false),
        Op::ReadOrg if route.path == "/api/v1/orgs" => Allowed,
        Op::ReadOrg => {
            if manages(role, zone) || member_of(role, zone) {
                Allowed
            } else {
                Hidden
            }
        }
        Op::CreateOrg => manage_or(role, zone, member_of(role, zone)),
        // A fresh 党小组 of the zone: nobody is a member of it.
        Op::ChangeOrg | Op::RestructureOrg => manage_or(role, zone, false),
        Op::ReadPerson if route.path == "/api/v1/people" => Allowed,
        Op::ReadPerson | Op::CreatePerson | Op::ChangePerson | Op::DeletePerson => {
            manage_or(role, zone, false)
        }
        Op::ReadReports | Op::ReadAudit => manage_or(role, zone, member_of(role, zone)),
        Op::ReadOrgFeed => {
            if role == "feed" {
                // zb1-secretary's feed token: their own branch.
                if zone == "zb1" { Allowed } else { Hidden }
            } else {
                manage_or(role, zone, member_of(role, zone))
            }
        }
        // The feed of the zone's secretary.
        Op::ReadOwnFeed if route.page => Allowed,
        Op::ReadOwnFeed => {
            let own = role == format!("{zone}-secretary") || (role == "feed" && zone == "zb1");
            if own || admin { Allowed } else { Hidden }
        }
        Op::ManageTokensOf if route.method == "GET" => Allowed,
        // A fresh member of the zone's token.
        Op::ManageTokensOf => manage_or(role, zone, false),
        Op::CreateToken => Allowed,
        Op::OpenConsole => Allowed,
        Op::MoveClock | Op::ReadMailLog => {
            if admin {
                Allowed
            } else {
                Forbidden
            }
        }
        _ => return None,
    })
}

fn is_organizer(role: &str) -> bool {
    matches!(
        role,
        "zb1-organizer"
            | "zb1-secretary"
            | "zb2-organizer"
            | "zb2-secretary"
            | "jiguan-organizer"
            | "county-org"
            | "admin"
    )
}

/// The expected answer of a case, credentials first.
fn expected(route: &RouteInfo, role: &str, zone: &str) -> Result<Expect, String> {
    let op = match route.access {
        Access::Public => return Ok(Expect::Public),
        Access::SignedIn => None,
        Access::Op(op) => Some(op),
    };
    let calendar = route.path.starts_with("/api/v1/calendar");
    match role {
        "none" => return Ok(Expect::Unauthenticated),
        "feed" if !calendar => return Ok(Expect::Unauthenticated),
        // A session token opens the pages, not the API.
        "session" if !route.page => return Ok(Expect::Unauthenticated),
        _ => {}
    }
    // The console's pages are the organizers' (OpenConsole first).
    if route.page && route.path.starts_with("/console") && !is_organizer(role) {
        return Ok(Expect::Forbidden);
    }
    match op {
        None => Ok(Expect::Allowed),
        Some(op) => spec(op, route, role, zone).ok_or_else(|| {
            format!(
                "{} {} ({op:?}) has no entry in the matrix",
                route.method, route.path
            )
        }),
    }
}

/// The things each case works on, made once per zone (shared by the
/// reads) or afresh (for every change).
struct Zone {
    org: String,
    applicant: String,
    instance: String,
    task: String,
    file: String,
    definition: String,
    schedule: String,
}

async fn publish(s: &Server, owner: Option<&str>, id: &str, under: &str) {
    let yaml = format!(
        "stageflow: 1\nid: {id}\nname: 矩阵\nsubject: organization\nend_states: {{ done: 完成 }}\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - {{ id: t, name: 事项, assignee: {{ role: secretary }} }}\nschedules:\n  - id: yearly\n    cron: \"0 0 9 1 1 *\"\n    orgs: {{ kind: 党支部, under: {under} }}\n"
    );
    s.app
        .publish(
            &Caller::operator(),
            stageflow_app::definitions::Publish {
                filename: format!("{id}.yaml"),
                source: yaml,
                owner: owner.map(str::to_string),
            },
        )
        .await
        .unwrap();
}

async fn zone(s: &mut Server, zone: &str) -> Zone {
    let applicant = if zone == "zb1" {
        "applicant-1".to_string()
    } else {
        let r = s
            .post(
                "admin",
                "/api/v1/people",
                json!({ "id": "applicant-2", "name": "申请人二", "email": "a2@example.org",
                        "memberships": [{ "org": zone, "role": "member" }] }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        "applicant-2".to_string()
    };
    let started = s
        .post(
            "admin",
            "/api/v1/instances",
            json!({ "definition": "member-admission", "org": zone, "subject": applicant }),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let instance = started.body["id"].as_str().unwrap().to_string();
    let task = started.body["tasks"][0]["id"].as_str().unwrap().to_string();
    let token = s.token(&applicant).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF scan".to_vec()).file_name("申请书.pdf"),
    );
    let r = s
        .raw(
            s.client
                .post(format!("{}/api/v1/tasks/{task}/files", s.base))
                .bearer_auth(token)
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let definition = format!("matrix-{zone}");
    publish(s, Some(zone), &definition, zone).await;
    Zone {
        org: zone.to_string(),
        applicant,
        instance,
        file: r.body["id"].as_str().unwrap().to_string(),
        task,
        schedule: format!("{definition}:yearly"),
        definition,
    }
}

/// A fresh person of a zone (with a personal token), for a change.
async fn fresh_person(s: &mut Server, zone: &str, n: usize) -> (String, String) {
    let id = format!("m-{zone}-{n}");
    let r = s
        .post(
            "admin",
            "/api/v1/people",
            json!({ "id": id, "name": "临时人员", "email": format!("{id}@example.org"),
                    "memberships": [{ "org": zone, "role": "full_member" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = s
        .app
        .create_token(&Caller::operator(), &id, None)
        .await
        .unwrap();
    (id, made.info.id)
}

/// A fresh 党小组 of a zone, for a change.
async fn fresh_org(s: &mut Server, zone: &str, n: usize) -> String {
    let id = format!("g-{zone}-{n}");
    let r = s
        .post(
            "admin",
            "/api/v1/orgs",
            json!({ "id": id, "name": "临时党小组", "kind": "党小组", "parent": zone }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    id
}

/// A fresh instance of a zone (its first task the secretary's), for a
/// change.
async fn fresh_instance(s: &mut Server, zone: &str) -> String {
    let r = s
        .post(
            "admin",
            "/api/v1/instances",
            json!({ "definition": "matrix-global", "org": zone }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// One request of a case.
struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
    yaml: Option<String>,
    multipart: bool,
}

/// The request a case makes: the route's path filled in with the zone's
/// thing, a body that would succeed for whoever may do it.
async fn call(s: &mut Server, route: &RouteInfo, z: &Zone, n: usize) -> Call {
    let mutating = route.method != "GET";
    let mut body = None;
    let mut yaml = None;
    let mut multipart = false;
    let mut path = route.path.to_string();
    let zone = z.org.as_str();
    match (route.method, route.path) {
        ("GET", "/api/v1/tasks/{id}") | ("GET", "/tasks/{id}") => {
            path = path.replace("{id}", &z.task)
        }
        ("POST", "/api/v1/tasks/{id}/actions") => {
            path = path.replace("{id}", &z.task);
            body = Some(json!({ "action": "comment", "comment": "矩阵" }));
        }
        ("POST", "/api/v1/tasks/{id}/files") => {
            path = path.replace("{id}", &z.task);
            multipart = true;
        }
        ("POST", "/tasks/{id}") => {
            path = path.replace("{id}", &z.task);
            multipart = true;
        }
        ("GET", "/api/v1/files/{id}") => path = path.replace("{id}", &z.file),
        ("POST", "/api/v1/instances") => {
            body = Some(json!({ "definition": "matrix-global", "org": zone }))
        }
        ("POST", "/api/v1/instances/{id}/cancel") => {
            let i = fresh_instance(s, zone).await;
            path = path.replace("{id}", &i);
            body = Some(json!({ "reason": "矩阵" }));
        }
        ("POST", "/api/v1/instances/{id}/withdraw") => {
            let i = fresh_instance(s, zone).await;
            path = path.replace("{id}", &i);
        }
        ("POST", "/api/v1/instances/{id}/steps/{step}/close") => {
            path = path.replace("{id}", &z.instance).replace("{step}", "talk");
            body = Some(json!({}));
        }
        (_, p) if p.contains("/instances/{id}") || p.starts_with("/api/v1/reports/progress") => {
            path = path.replace("{id}", &z.instance)
        }
        ("GET", "/console/campaigns/{id}") => path = path.replace("{id}", &z.instance),
        ("POST", "/api/v1/definitions") => {
            path = format!("{path}?owner={zone}");
            yaml = Some(format!(
                "stageflow: 1\nid: pub-{zone}-{n}\nname: 发布\nsubject: organization\nend_states: {{ done: 完成 }}\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - {{ id: t, name: 事项, assignee: {{ role: secretary }} }}\n"
            ));
        }
        ("POST", "/console/definitions") => {
            multipart = true;
            yaml = Some(format!(
                "stageflow: 1\nid: page-{zone}-{n}\nname: 发布\nsubject: organization\nend_states: {{ done: 完成 }}\nstages:\n  - id: s\n    name: 阶段\n    then: end done\n    steps:\n      - {{ id: t, name: 事项, assignee: {{ role: secretary }} }}\n"
            ));
        }
        (_, "/api/v1/definitions/{id}") | (_, "/console/definitions/{id}") => {
            path = path.replace("{id}", &z.definition)
        }
        ("POST", "/console/definitions/{id}/start") => {
            path = path.replace("{id}", "matrix-global");
            body = Some(json!({ "org": zone }));
        }
        (_, p) if p.starts_with("/api/v1/schedules/{id}") => {
            path = path.replace("{id}", &z.schedule);
            if route.method == "POST" {
                body = Some(if p.ends_with("pause") {
                    json!({ "note": "矩阵" })
                } else {
                    json!({})
                });
            }
        }
        ("POST", "/console/schedules") => {
            body = Some(json!({ "id": z.schedule, "do": "pause", "note": "矩阵" }))
        }
        ("POST", "/api/v1/orgs") => {
            body = Some(json!({ "name": "新党小组", "kind": "党小组", "parent": zone }))
        }
        ("GET", "/api/v1/orgs/{id}") => path = path.replace("{id}", zone),
        ("PATCH", "/api/v1/orgs/{id}") | ("DELETE", "/api/v1/orgs/{id}") => {
            let o = fresh_org(s, zone, n).await;
            path = path.replace("{id}", &o);
            if route.method == "PATCH" {
                body = Some(json!({ "name": "改名" }));
            }
        }
        ("POST", "/api/v1/people") => {
            body = Some(
                json!({ "name": "新人", "memberships": [{ "org": zone, "role": "full_member" }] }),
            )
        }
        ("GET", "/api/v1/people/{id}") => {
            let (p, _) = fresh_person(s, zone, n).await;
            path = path.replace("{id}", &p);
        }
        ("PATCH", "/api/v1/people/{id}") | ("DELETE", "/api/v1/people/{id}") => {
            let (p, _) = fresh_person(s, zone, n).await;
            path = path.replace("{id}", &p);
            if route.method == "PATCH" {
                body = Some(json!({ "name": "改名" }));
            }
        }
        ("GET", "/api/v1/audit")
        | ("GET", "/api/v1/reports/overdue")
        | ("GET", "/api/v1/reports/pipeline")
        | ("GET", "/console/overdue")
        | ("GET", "/console/overdue/export")
        | ("GET", "/console/pipeline")
        | ("GET", "/console/orgs") => path = format!("{path}?org={zone}"),
        ("GET", "/api/v1/calendar/orgs/{id}") => {
            path = path.replace("{id}", &format!("{zone}.ics"))
        }
        ("GET", "/api/v1/calendar/people/{id}") => {
            path = path.replace("{id}", &format!("{zone}-secretary.ics"))
        }
        ("POST", "/api/v1/tokens") => body = Some(json!({ "days": 1 })),
        ("DELETE", "/api/v1/tokens/{id}") => {
            let (_, token) = fresh_person(s, zone, n).await;
            path = path.replace("{id}", &token);
        }
        ("POST", "/api/v1/admin/clock") => body = Some(json!({ "advance": "1 minute" })),
        _ if mutating && route.method == "POST" => body = Some(json!({})),
        _ => {}
    }
    Call {
        method: route.method,
        path,
        body,
        yaml,
        multipart,
    }
}

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
            Value::String(html) => html.contains("does not exist"),
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
