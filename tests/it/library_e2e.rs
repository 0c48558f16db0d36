//! Every shipped definition, driven through the server to an end state:
//! started through the API by an organizer, every task acted on by its
//! assignee with their own token (forms filled, files uploaded, ballots
//! cast, ratings given), the manual clock moved whenever nothing can be
//! done yet, and every mail delivered over real SMTP. A second test takes
//! the other roads: every end state a definition declares is reached by a
//! script of decisions (政审不合格, an extension then 转正 or 取消, an
//! election that fails twice, a refused 批复, bills left unpaid, a letter
//! left to expire).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use stageflow_runtime::mail::{MailConfig, Transport, deliver_due};

use crate::api::{local_midnight, local_today};
use crate::server::Server;
use crate::smtp::SmtpSink;

/// Inputs a definition needs that the generic filler cannot guess.
fn known_inputs(id: &str, now: DateTime<Utc>) -> Value {
    use chrono::Datelike;
    let today = local_today(now);
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

async fn act(s: &mut Server, who: &str, task: &Value, today: NaiveDate, choice: Option<Choice>) {
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
            let (pick, given) = match choice {
                Some(Pick(c)) => (Some(c), json!({})),
                Some(With(form)) => (None, serde_json::from_str(form).unwrap()),
                _ => (None, json!({})),
            };
            crate::api::act_with(s, who, task, today, pick, &given).await;
        }
    }
}

/// What the person holding a task does with it in a scripted run.
#[derive(Clone, Copy, Debug)]
enum Choice {
    /// Choose this outcome (work tasks) or ballot choice (votes).
    Pick(&'static str),
    /// Leave it alone: the deadline and its automatic outcome decide.
    Idle,
    /// Do it (default outcome) this many days after its deadline was
    /// missed: the overdue notice and the 督办 go out first.
    Late(i64),
    /// Do it (default outcome) with these form fields (JSON).
    With(&'static str),
}

use Choice::{Idle, Late, Pick, With};

/// One run: a definition, the decisions per step (in the order the step
/// is activated; afterwards the default), and what must be seen.
struct Scenario {
    definition: &'static str,
    /// Inputs given at the start (JSON), besides the generic ones.
    inputs: &'static str,
    script: &'static [(&'static str, &'static [Choice])],
    end: &'static str,
    /// (step, outcome, automatic?) completions the history must hold.
    completed: &'static [(&'static str, &'static str, bool)],
    /// Subjects of mails this run must have sent.
    mails: &'static [&'static str],
    /// (step, words in the reason) of 督办 the history must hold.
    escalated: &'static [(&'static str, &'static str)],
    /// ((step, outcome), (later step, outcome), days): the later
    /// completion comes at least this many days after the first.
    apart: &'static [(Completion, Completion, i64)],
    /// Steps the run must skip (their `when:` is false).
    skipped: &'static [&'static str],
}

/// A step and the outcome it completed with.
type Completion = (&'static str, &'static str);

/// What a scenario checks when it does not say otherwise.
const BASE: Scenario = Scenario {
    definition: "",
    inputs: "{}",
    script: &[],
    end: "",
    completed: &[],
    mails: &[],
    escalated: &[],
    apart: &[],
    skipped: &[],
};

/// Starts `definition` as an organizer would and drives it to its end.
/// Returns (end state, instance id, rounds).
async fn drive(
    s: &mut Server,
    now: &mut DateTime<Utc>,
    def: &Value,
    inputs: &Value,
    script: &[(&str, &[Choice])],
) -> (String, String, usize) {
    let id = def["id"].as_str().unwrap().to_string();
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
    let mut all_inputs = inputs_for(def, *now);
    for (k, v) in inputs.as_object().into_iter().flatten() {
        all_inputs[k] = v.clone();
    }
    let mut body = json!({ "definition": id, "org": org, "inputs": all_inputs });
    if person {
        body["subject"] = json!("applicant-1");
    }
    let r = s.post(organizer, "/api/v1/instances", body).await;
    assert_eq!(r.status, 201, "{id}: {}", r.body);
    let instance = r.body["id"].as_str().unwrap().to_string();
    let mut queues: HashMap<&str, VecDeque<Choice>> = script
        .iter()
        .map(|(step, choices)| (*step, choices.iter().copied().collect()))
        .collect();
    // One decision per activation of a step, recorded for all its open
    // tasks at once (one per voter for a vote: same step, same creation
    // time). A step activated again at the same instant (a vote retried at
    // once) has new tasks, so it takes the next decision.
    let mut by_task: HashMap<String, Option<Choice>> = HashMap::new();
    let mut rounds = 0;
    let end = loop {
        rounds += 1;
        let view = s
            .get("admin", &format!("/api/v1/instances/{instance}"))
            .await
            .body;
        let steps: Vec<&str> = view["tasks"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["step"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            rounds < 2000,
            "{id} does not end: at {now}, tasks {steps:?}"
        );
        if view["status"] != "running" {
            break view["end_state"]
                .as_str()
                .unwrap_or("cancelled")
                .to_string();
        }
        let today = local_today(*now);
        let mut acted = false;
        let mut next_earliest: Option<DateTime<Utc>> = None;
        for task in view["tasks"].as_array().cloned().unwrap_or_default() {
            if let Some(e) = task["earliest"].as_str() {
                let at = local_midnight(e);
                if at > *now {
                    next_earliest = Some(next_earliest.map_or(at, |n| n.min(at)));
                    continue;
                }
            }
            let task_id = task["id"].as_str().unwrap().to_string();
            if !by_task.contains_key(&task_id) {
                let step = task["step"].as_str().unwrap();
                let choice = queues.get_mut(step).and_then(|q| q.pop_front());
                for sibling in view["tasks"].as_array().unwrap() {
                    if sibling["step"] == task["step"]
                        && sibling["created_at"] == task["created_at"]
                    {
                        by_task.insert(sibling["id"].as_str().unwrap().to_string(), choice);
                    }
                }
            }
            let choice = by_task[&task_id];
            match choice {
                Some(Idle) => continue,
                Some(Late(days)) => {
                    let missed: DateTime<Utc> = task["due_at"]
                        .as_str()
                        .and_then(|d| d.parse().ok())
                        .unwrap_or_else(|| panic!("{id}: a late task without a deadline: {task}"));
                    let at = missed + Duration::days(days);
                    if at > *now {
                        next_earliest = Some(next_earliest.map_or(at, |n| n.min(at)));
                        continue;
                    }
                }
                _ => {}
            }
            let who = task["assignees"][0].as_str().unwrap().to_string();
            act(s, &who, &task, today, choice).await;
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
        *now = (*now).max(next);
        let r = s.set_clock(*now).await;
        assert_eq!(r.status, 200, "{}", r.body);
    };
    for (step, left) in &queues {
        assert!(
            left.is_empty(),
            "{id}: decisions for {step} never used: {left:?}"
        );
    }
    (end, instance, rounds)
}

/// Pauses every cron schedule: the runs here drive one instance at a time
/// across years of clock, and the yearly starts for every 党支部 would pile
/// up instances nobody acts on (the schedules have their own tests).
async fn pause_schedules(s: &mut Server) {
    let list = s.get("admin", "/api/v1/schedules").await.body;
    let list = list.as_array().cloned().unwrap_or_default();
    assert!(!list.is_empty(), "the library declares yearly schedules");
    for sc in list {
        let id = sc["id"].as_str().unwrap();
        let r = s
            .post(
                "admin",
                &format!("/api/v1/schedules/{id}/pause"),
                json!({ "note": "library end-to-end run" }),
            )
            .await;
        assert_eq!(r.status, 200, "{id}: {}", r.body);
    }
}

async fn definitions(s: &mut Server) -> Vec<Value> {
    let list = s.get("admin", "/api/v1/definitions").await.body;
    let mut defs = Vec::new();
    for d in list.as_array().cloned().unwrap() {
        let id = d["id"].as_str().unwrap().to_string();
        defs.push(
            s.get("admin", &format!("/api/v1/definitions/{id}"))
                .await
                .body,
        );
    }
    defs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_definition_runs_through_the_server_to_an_end_state() {
    let t0 = Server::t0();
    let mut s = Server::start(t0).await;
    let sink = SmtpSink::start(0).await;
    let mail = MailConfig::new(Transport::smtp(&sink.url()).unwrap());
    pause_schedules(&mut s).await;
    let defs = definitions(&mut s).await;
    assert!(defs.len() >= 10);
    let mut report = Vec::new();
    let mut now = t0;
    for def in defs {
        let id = def["id"].as_str().unwrap().to_string();
        let (end, instance, rounds) = drive(&mut s, &mut now, &def, &json!({}), &[]).await;
        let history = s
            .get("admin", &format!("/api/v1/instances/{instance}/history"))
            .await;
        assert_eq!(history.body["verified"], true, "{id}");
        assert_eq!(end, def["end_states"][0]["id"].as_str().unwrap(), "{id}");
        report.push(format!("{id} → {end} ({rounds} rounds)"));
    }
    // Every mail the runs queued goes out; none fails.
    let d = deliver_due(&s.runtime, &mail, now).await.unwrap();
    assert_eq!(d.failed + d.retried, 0, "{d:?}");
    assert!(d.sent > 0);
    assert_eq!(sink.received().len(), d.sent);
    println!("{}", report.join("\n"));
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        // 预审不合格: back to 集中培训 as 发展对象, then 支委会审查 again.
        definition: "member-admission",
        script: &[("pre_review", &[Pick("reject")])],
        end: "admitted",
        completed: &[
            ("pre_review", "reject", false),
            ("central_training", "done", false),
            ("pre_review", "approve", false),
        ],
        ..BASE
    },
    Scenario {
        // The 支部大会 vote fails once (everyone votes no): back to
        // training, and the next vote waits six months.
        definition: "member-admission",
        script: &[("admission_vote", &[Pick("no"), Pick("yes")])],
        end: "admitted",
        completed: &[
            ("admission_vote", "fail", false),
            ("admission_vote", "pass", false),
        ],
        apart: &[(("admission_vote", "fail"), ("admission_vote", "pass"), 181)],
        ..BASE
    },
    Scenario {
        // The 党委 does not approve: back to training, voted and approved again.
        definition: "member-admission",
        script: &[("party_approval", &[Pick("reject")])],
        end: "admitted",
        completed: &[
            ("party_approval", "reject", false),
            ("party_approval", "approve", false),
        ],
        ..BASE
    },
    Scenario {
        // The second month's 支委会 is held three days late: the secretary
        // is told at the deadline, the 上级党委书记 gets the 督办.
        definition: "three-meetings-one-lesson",
        script: &[("committee_meeting", &[Late(3)])],
        end: "completed",
        completed: &[("committee_meeting", "done", false)],
        mails: &[
            "【逾期】召开支部委员会会议（以后每月） 未按期召开或登记",
            "【督办】召开支部委员会会议（以后每月） 未按期召开",
        ],
        escalated: &[("committee_meeting", "（第 1 期） 已逾期")],
        ..BASE
    },
    Scenario {
        // Every 党支部's first monthly report of the 全面推进 phase comes
        // in three days late: the 领导小组办公室 gets the 督办.
        definition: "campaign-chuangxian-zhengyou",
        script: &[("progress_report_advance", &[Late(3)])],
        end: "completed",
        // (the report step runs as long as the phase; it has no outcome)
        completed: &[("gate_advance", "approve", false)],
        mails: &["【督办】月度进展情况报告（全面推进阶段）"],
        escalated: &[("progress_report_advance", "（第 1 期） 已逾期")],
        ..BASE
    },
    Scenario {
        definition: "member-admission",
        script: &[("political_review", &[Pick("fail")])],
        end: "not_admitted",
        completed: &[("political_review", "fail", false)],
        ..BASE
    },
    Scenario {
        // The 转正 vote extends the 预备期; after it the second vote makes a
        // full member.
        definition: "member-admission",
        script: &[("regularize_vote", &[Pick("extend"), Pick("regularize")])],
        end: "admitted",
        completed: &[
            ("regularize_vote", "extend", false),
            ("extend_probation", "done", false),
            ("regularize_vote", "regularize", false),
            ("archive", "done", false),
        ],
        ..BASE
    },
    Scenario {
        definition: "member-admission",
        // An extension, then 取消.
        script: &[("regularize_vote", &[Pick("extend"), Pick("cancel")])],
        end: "disqualified",
        completed: &[
            ("regularize_vote", "extend", false),
            ("regularize_vote", "cancel", false),
            ("cancel_notice", "sent", false),
        ],
        mails: &["关于取消预备党员资格的通知"],
        ..BASE
    },
    Scenario {
        // Six bills left unpaid: each closes itself at its due day, the
        // member, the 支部 and the 上级 are warned, the 自行脱党 case runs.
        definition: "dues",
        script: &[("pay", &[Idle, Idle, Idle, Idle, Idle, Idle])],
        end: "lapsed",
        completed: &[
            ("pay", "unpaid", true),
            ("open_lapse_case", "sent", false),
            ("lapse_review", "no_reason", false),
            ("lapse_vote", "pass", false),
            ("lapse_approval", "approve", false),
        ],
        mails: &[
            "【逾期】交纳本月党费",
            "【限期交纳】党费已连续三个月以上未交",
            "连续五个月未交纳党费",
            "连续六个月未交纳党费",
            "关于按自行脱党予以除名的通知",
        ],
        ..BASE
    },
    Scenario {
        definition: "membership-transfer",
        script: &[("outgoing_review", &[Pick("reject")])],
        end: "refused",
        completed: &[("outgoing_review", "reject", false)],
        ..BASE
    },
    Scenario {
        definition: "membership-transfer",
        script: &[("report_in", &[Idle])],
        end: "expired",
        completed: &[("report_in", "expired", true)],
        mails: &[
            "【提醒】持介绍信到接收党组织报到",
            "【逾期】持介绍信到接收党组织报到",
        ],
        ..BASE
    },
    Scenario {
        // 选举 fails twice (everyone votes no): reported, voted again, failed.
        definition: "term-election",
        script: &[("election_vote", &[Pick("no"), Pick("no")])],
        end: "failed",
        completed: &[
            ("election_vote", "fail", false),
            ("rerun_report", "sent", false),
            ("failed_report", "sent", false),
        ],
        mails: &["选举大会未能选出新一届委员会", "换届选举未成功"],
        ..BASE
    },
    Scenario {
        definition: "term-election",
        script: &[("leader_approval", &[Pick("reject")])],
        end: "failed",
        completed: &[
            ("election_vote", "pass", false),
            ("leader_approval", "reject", false),
        ],
        ..BASE
    },
    Scenario {
        // The 2026 text: 公示 before the filing, the 支部大会 within a month
        // of the 预审, 宣誓 within a month of the approval. A 预备党员 who
        // transferred in: the 支部 postpones the 转正 discussion by 4 months.
        definition: "member-admission",
        inputs: r#"{"rule_set": "fzdy-2026"}"#,
        script: &[(
            "regularize_review",
            &[With(r#"{"transferred_in": true, "postpone_months": 4}"#)],
        )],
        end: "admitted",
        completed: &[
            ("candidate_publicity", "done", false),
            ("oath_2026", "done", false),
            ("regularize_vote", "regularize", false),
        ],
        apart: &[(
            ("probation_full", "done"),
            ("regularize_vote", "regularize"),
            120,
        )],
        skipped: &["oath"],
        ..BASE
    },
    Scenario {
        // The 2014 text with the 发展对象公示 turned off locally.
        definition: "member-admission",
        inputs: r#"{"candidate_publicity": false}"#,
        end: "admitted",
        completed: &[("oath", "done", false)],
        skipped: &["candidate_publicity", "oath_2026"],
        ..BASE
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_end_state_is_reached_through_the_server() {
    let t0 = Server::t0();
    let mut s = Server::start(t0).await;
    let sink = SmtpSink::start(0).await;
    let mail = MailConfig::new(Transport::smtp(&sink.url()).unwrap());
    pause_schedules(&mut s).await;
    let defs = definitions(&mut s).await;
    let mut now = t0;
    let mut reached: Vec<(String, String)> = Vec::new();
    // The happy paths (the other test) reach the first end state of each.
    for def in &defs {
        let first = def["end_states"][0]["id"].as_str().unwrap().to_string();
        reached.push((def["id"].as_str().unwrap().to_string(), first));
    }
    for sc in SCENARIOS {
        let def = defs
            .iter()
            .find(|d| d["id"] == sc.definition)
            .unwrap_or_else(|| panic!("no definition {}", sc.definition));
        let before = sink.received().len();
        let started = std::time::Instant::now();
        let inputs: Value = serde_json::from_str(sc.inputs).unwrap();
        let (end, instance, rounds) = drive(&mut s, &mut now, def, &inputs, sc.script).await;
        assert_eq!(end, sc.end, "{} with {:?}", sc.definition, sc.script);
        let history = s
            .get("admin", &format!("/api/v1/instances/{instance}/history"))
            .await
            .body;
        assert_eq!(history["verified"], true);
        let events = history["events"].as_array().unwrap();
        for (step, outcome, automatic) in sc.completed {
            assert!(
                events.iter().any(|e| e["type"] == "step_completed"
                    && e["data"]["step"] == *step
                    && e["data"]["outcome"] == *outcome
                    && e["data"]["automatic"].is_string() == *automatic),
                "{}: no {step} → {outcome} (automatic: {automatic}) in the history",
                sc.definition
            );
        }
        for (step, words) in sc.escalated {
            assert!(
                events.iter().any(|e| e["type"] == "escalated"
                    && e["data"]["step"] == *step
                    && e["data"]["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains(words))),
                "{}: no 督办 for {step} saying {words:?} in the history",
                sc.definition
            );
        }
        for (first, later, days) in sc.apart {
            let at = |(step, outcome): Completion| -> DateTime<Utc> {
                events
                    .iter()
                    .find(|e| {
                        e["type"] == "step_completed"
                            && e["data"]["step"] == step
                            && e["data"]["outcome"] == outcome
                    })
                    .and_then(|e| e["at"].as_str()?.parse().ok())
                    .unwrap_or_else(|| panic!("{}: no {step} → {outcome}", sc.definition))
            };
            let gap = at(*later) - at(*first);
            assert!(
                gap >= Duration::days(*days),
                "{}: {first:?} → {later:?} only {} days apart",
                sc.definition,
                gap.num_days()
            );
        }
        for step in sc.skipped {
            assert!(
                events
                    .iter()
                    .any(|e| e["type"] == "step_skipped" && e["data"]["step"] == *step),
                "{}: {step} was not skipped",
                sc.definition
            );
        }
        // Every mail of the run goes out over SMTP; none fails.
        let d = deliver_due(&s.runtime, &mail, now).await.unwrap();
        assert_eq!(d.failed + d.retried, 0, "{d:?}");
        let subjects: Vec<String> = sink.received()[before..]
            .iter()
            .map(|m| m.subject())
            .collect();
        for want in sc.mails {
            assert!(
                subjects.iter().any(|s| s.contains(want)),
                "{}: no mail {want:?} among {subjects:?}",
                sc.definition
            );
        }
        println!(
            "{} with {:?} → {end} ({rounds} rounds, {:.1} s)",
            sc.definition,
            sc.script,
            started.elapsed().as_secs_f64()
        );
        reached.push((sc.definition.to_string(), end));
    }
    // Every end state every definition declares has been reached.
    for def in &defs {
        let id = def["id"].as_str().unwrap();
        for end in def["end_states"].as_array().unwrap() {
            let end = end["id"].as_str().unwrap();
            assert!(
                reached.iter().any(|(d, e)| d == id && e == end),
                "{id}: end state {end} is never reached"
            );
        }
    }
}
