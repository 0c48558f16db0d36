//! Every shipped definition, driven through the server to an end state:
//! started through the API by an organizer, every task acted on by its
//! assignee with their own token (forms filled, files uploaded, ballots
//! cast, ratings given), the manual clock moved whenever nothing can be
//! done yet, and every mail delivered over real SMTP.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use stageflow_runtime::mail::{MailConfig, Transport, deliver_due};

use crate::server::Server;
use crate::smtp::SmtpSink;

/// Inputs a definition needs that the generic filler cannot guess.
fn known_inputs(id: &str, now: DateTime<Utc>) -> Value {
    use chrono::Datelike;
    let today = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let next_month = stageflow_engine::calendar::add_months(today.with_day(1).unwrap_or(today), 1);
    match id {
        "dues" => json!({ "first_month": next_month.to_string(), "monthly_income": 4500 }),
        "term-election" => {
            json!({ "term_end": stageflow_engine::calendar::add_months(today, 9).to_string() })
        }
        _ => json!({}),
    }
}

fn inputs_for(def: &Value, t0: DateTime<Utc>) -> Value {
    let mut inputs = serde_json::Map::new();
    let known = known_inputs(def["id"].as_str().unwrap_or_default(), t0);
    let mut dates = 0;
    for f in def["inputs"].as_array().cloned().unwrap_or_default() {
        let id = f["id"].as_str().unwrap().to_string();
        if let Some(v) = known.get(&id) {
            inputs.insert(id, v.clone());
            continue;
        }
        if !f["default"].is_null() {
            continue;
        }
        let v = match f["type"].as_str().unwrap_or("text") {
            // Date inputs in declaration order, 45 days apart (start/end pairs stay ordered).
            "date" => {
                dates += 1;
                json!((t0.date_naive() + Duration::days(45 * (dates - 1))).to_string())
            }
            "integer" | "number" => json!(1),
            "boolean" => json!(false),
            "choice" => f["options"][0].clone(),
            _ => json!("测试"),
        };
        if f["required"] == true || f["type"] == "date" {
            inputs.insert(id, v);
        }
    }
    Value::Object(inputs)
}

async fn act(s: &mut Server, who: &str, task: &Value, today: NaiveDate) {
    let path = format!("/api/v1/tasks/{}/actions", task["id"].as_str().unwrap());
    match task["kind"].as_str().unwrap() {
        "rate" => {
            let rating = &task["rating"];
            let value = match rating["grades"].as_array().and_then(|g| g.first()) {
                Some(g) => g["id"].clone(),
                None => Value::Object(
                    rating["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| (i["id"].as_str().unwrap().to_string(), i["max"].clone()))
                        .collect(),
                ),
            };
            let ratings: serde_json::Map<String, Value> = rating["ratees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p.as_str().unwrap().to_string(), value.clone()))
                .collect();
            let r = s
                .post(who, &path, json!({ "action": "rate", "ratings": ratings }))
                .await;
            assert_eq!(r.status, 200, "{who} rating {}: {}", task["step"], r.body);
        }
        _ => {
            crate::api::act_on(s, who, task, today).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_definition_runs_through_the_server_to_an_end_state() {
    let t0 = Server::t0();
    let mut s = Server::start(t0).await;
    let sink = SmtpSink::start(0).await;
    let mail = MailConfig::new(Transport::smtp(&sink.url()).unwrap());
    let defs = s
        .get("admin", "/api/v1/definitions")
        .await
        .body
        .as_array()
        .cloned()
        .unwrap();
    assert!(defs.len() >= 3);
    let mut report = Vec::new();
    let mut now = t0;
    for d in defs {
        let id = d["id"].as_str().unwrap().to_string();
        let def = s
            .get("admin", &format!("/api/v1/definitions/{id}"))
            .await
            .body;
        let person = def["subject"] == "person";
        let fans_out = def["stages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|st| st["steps"].as_array().unwrap().iter())
            .any(|x| x["kind"] == "fanout");
        let (org, organizer) = if fans_out {
            ("jiguan", "jiguan-organizer")
        } else {
            ("zb1", "zb1-organizer")
        };
        let mut body = json!({ "definition": id, "org": org, "inputs": inputs_for(&def, now) });
        if person {
            body["subject"] = json!("applicant-1");
        }
        let r = s.post(organizer, "/api/v1/instances", body).await;
        assert_eq!(r.status, 201, "{id}: {}", r.body);
        let instance = r.body["id"].as_str().unwrap().to_string();
        let mut steps = 0;
        let end = loop {
            steps += 1;
            assert!(steps < 2000, "{id} does not end");
            let view = s
                .get("admin", &format!("/api/v1/instances/{instance}"))
                .await
                .body;
            if view["status"] != "running" {
                break view["end_state"]
                    .as_str()
                    .unwrap_or("cancelled")
                    .to_string();
            }
            let today = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
            let mut acted = false;
            let mut next_earliest: Option<DateTime<Utc>> = None;
            for task in view["tasks"].as_array().cloned().unwrap_or_default() {
                if let Some(e) = task["earliest"].as_str() {
                    let at = NaiveDate::parse_from_str(e, "%Y-%m-%d")
                        .unwrap()
                        .and_hms_opt(0, 0, 0)
                        .unwrap()
                        .and_local_timezone(chrono_tz::Asia::Shanghai)
                        .unwrap()
                        .with_timezone(&Utc);
                    if at > now {
                        next_earliest = Some(next_earliest.map_or(at, |n| n.min(at)));
                        continue;
                    }
                }
                let who = task["assignees"][0].as_str().unwrap().to_string();
                act(&mut s, &who, &task, today).await;
                acted = true;
                break;
            }
            if acted {
                continue;
            }
            let next = match (s.store.next_timer_at().await.unwrap(), next_earliest) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or_else(|| panic!("{id} is stuck: {view}")),
            };
            now = now.max(next);
            let r = s.set_clock(now).await;
            assert_eq!(r.status, 200, "{}", r.body);
        };
        let history = s
            .get("admin", &format!("/api/v1/instances/{instance}/history"))
            .await;
        assert_eq!(history.body["verified"], true, "{id}");
        report.push(format!("{id} → {end} ({steps} rounds)"));
    }
    // Every mail the runs queued goes out; none fails.
    let d = deliver_due(&s.state.runtime, &mail, now).await.unwrap();
    assert_eq!(d.failed + d.retried, 0, "{d:?}");
    assert!(d.sent > 0);
    assert_eq!(sink.received().len(), d.sent);
    println!("{}", report.join("\n"));
}
