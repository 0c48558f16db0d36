//! The cases' fixtures: what each case works on in each zone, and the
//! request it makes for a route.

use serde_json::{Value, json};
use stageflow_api::routes::RouteInfo;
use stageflow_app::Caller;

use crate::server::Server;

/// The things each case works on, made once per zone (shared by the
/// reads) or afresh (for every change).
pub(super) struct Zone {
    pub(super) org: String,
    pub(super) applicant: String,
    pub(super) instance: String,
    pub(super) task: String,
    pub(super) file: String,
    pub(super) definition: String,
    pub(super) schedule: String,
}

pub(super) async fn publish(s: &Server, owner: Option<&str>, id: &str, under: &str) {
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

pub(super) async fn zone(s: &mut Server, zone: &str) -> Zone {
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
pub(super) async fn fresh_person(s: &mut Server, zone: &str, n: usize) -> (String, String) {
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
pub(super) async fn fresh_org(s: &mut Server, zone: &str, n: usize) -> String {
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
pub(super) async fn fresh_instance(s: &mut Server, zone: &str) -> String {
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
pub(super) struct Call {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) body: Option<Value>,
    pub(super) yaml: Option<String>,
    pub(super) multipart: bool,
}

/// The request a case makes: the route's path filled in with the zone's
/// thing, a body that would succeed for whoever may do it.
pub(super) async fn call(s: &mut Server, route: &RouteInfo, z: &Zone, n: usize) -> Call {
    let mutating = route.method != "GET";
    let mut body = None;
    let mut yaml = None;
    let mut multipart = false;
    let mut path = route.path.to_string();
    let zone = z.org.as_str();
    match (route.method, route.path) {
        ("GET", "/api/v1/tasks/{id}")
        | ("GET", "/api/v1/tasks/{id}/case")
        | ("GET", "/tasks/{id}") => path = path.replace("{id}", &z.task),
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
        ("GET", "/api/v1/files/{id}") | ("GET", "/files/{id}") => {
            path = path.replace("{id}", &z.file)
        }
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
