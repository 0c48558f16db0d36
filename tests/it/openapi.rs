//! `/openapi.json` describes every endpoint, and real responses validate
//! against the schemas it declares.

use serde_json::{Value, json};

use crate::server::Server;

fn validator(doc: &Value, reference: &Value) -> jsonschema::Validator {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"].clone(),
        "allOf": [reference],
    });
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema for {reference}: {e}"))
}

/// The schema the document declares for a response.
fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let content = &doc["paths"][path][method]["responses"][status.to_string()]["content"];
    let schema = content["application/json"]["schema"].clone();
    assert!(
        !schema.is_null(),
        "{method} {path} declares no {status} JSON body: {content}"
    );
    schema
}

fn check(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let v = validator(doc, &response_schema(doc, method, path, status));
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:#?}\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_route_and_responses_match_it() {
    let mut s = Server::start(Server::t0()).await;
    let doc = s
        .raw(s.client.get(format!("{}/openapi.json", s.base)))
        .await
        .body;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    // Every route of the route table's API (the router is built from it),
    // but the document itself.
    let mut served: Vec<(String, String)> = stageflow_api::routes::table()
        .into_iter()
        .filter(|r| !r.page && r.path != "/openapi.json")
        .map(|r| (r.method.to_lowercase(), r.path.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);

    let task = s.inbox("applicant-1").await[0].clone();
    let id = task["id"].as_str().unwrap().to_string();
    let instance = task["instance"].as_str().unwrap().to_string();
    let r = s
        .get("applicant-1", "/api/v1/tasks?assignee=me&status=pending")
        .await;
    check(&doc, "get", "/api/v1/tasks", 200, &r.body);
    let r = s.get("applicant-1", &format!("/api/v1/tasks/{id}")).await;
    check(&doc, "get", "/api/v1/tasks/{id}", 200, &r.body);
    let r = s
        .get("applicant-1", &format!("/api/v1/instances/{instance}"))
        .await;
    check(&doc, "get", "/api/v1/instances/{id}", 200, &r.body);
    let r = s
        .get(
            "applicant-1",
            &format!("/api/v1/instances/{instance}/history"),
        )
        .await;
    check(&doc, "get", "/api/v1/instances/{id}/history", 200, &r.body);
    let r = s.get("zb1-secretary", "/api/v1/definitions").await;
    check(&doc, "get", "/api/v1/definitions", 200, &r.body);
    let r = s
        .get("zb1-secretary", "/api/v1/definitions/member-admission")
        .await;
    check(&doc, "get", "/api/v1/definitions/{id}", 200, &r.body);
    let r = s.get("zb1-secretary", "/api/v1/orgs").await;
    check(&doc, "get", "/api/v1/orgs", 200, &r.body);
    let r = s.get("zb1-secretary", "/api/v1/people?org=zb1").await;
    check(&doc, "get", "/api/v1/people", 200, &r.body);
    let r = s
        .post(
            "zb1-secretary",
            "/api/v1/orgs",
            json!({ "name": "第一党小组", "kind": "党小组", "parent": "zb1" }),
        )
        .await;
    check(&doc, "post", "/api/v1/orgs", 201, &r.body);
    let r = s.post("zb1-secretary", "/api/v1/people", json!({ "name": "赵六", "email": "z6@example.org", "memberships": [{ "org": "zb1", "role": "full_member" }] })).await;
    check(&doc, "post", "/api/v1/people", 201, &r.body);
    let t = s.token("applicant-1").await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"scan".to_vec()).file_name("a.pdf"),
    );
    let r = s
        .raw(
            s.client
                .post(format!("{}/api/v1/tasks/{id}/files", s.base))
                .bearer_auth(t)
                .multipart(form),
        )
        .await;
    check(&doc, "post", "/api/v1/tasks/{id}/files", 201, &r.body);
    let file = r.body["id"].clone();
    let r = s.post("applicant-1", &format!("/api/v1/tasks/{id}/actions"), json!({ "action": "complete", "form": { "applied_on": "2026-03-02", "application_letter": file } })).await;
    check(&doc, "post", "/api/v1/tasks/{id}/actions", 200, &r.body);
    // Problems too.
    let r = s
        .post(
            "applicant-1",
            &format!("/api/v1/tasks/{id}/actions"),
            json!({ "action": "complete" }),
        )
        .await;
    assert_eq!(r.status, 409);
    check(&doc, "post", "/api/v1/tasks/{id}/actions", 409, &r.body);
    let r = s
        .get("zb1-member-2", &format!("/api/v1/instances/{instance}"))
        .await;
    // Outside one's scope an instance answers as missing.
    assert_eq!(r.status, 404, "{}", r.body);
    check(&doc, "get", "/api/v1/instances/{id}", 404, &r.body);
    let r = s
        .post(
            "admin",
            "/api/v1/admin/clock",
            json!({ "advance": "1 day" }),
        )
        .await;
    check(&doc, "post", "/api/v1/admin/clock", 200, &r.body);
}
