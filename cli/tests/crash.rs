//! `serve` on a SQLite file, SIGKILLed 20 times at pseudo-random moments
//! while clients approve over HTTP, restarted each time. Afterwards every
//! approval that got a 2xx is in the history exactly once, no task was
//! decided twice, no instance is stuck, every timer fired once and none is
//! left, every mail went out, and every hash chain verifies.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sqlx::Row;

const ADMIN: &str = "kill-test-admin";
const T0: &str = "2026-03-02T01:00:00Z";
/// Past every deadline and timeout of the drill.
const T2: &str = "2026-03-06T02:00:00Z";
const KILLS: usize = 20;
const INSTANCES: usize = 1500;
/// Left unapproved: their reminders and timeouts fire at the end.
const LAPSING: usize = 100;
const CLIENTS: usize = 4;

fn start(db: &str, port: u16, smtp: &str, demo: bool) -> Served {
    let mut flags = vec![
        "--clock",
        "manual",
        "--clock-start",
        T0,
        "--smtp",
        smtp,
        "--library",
        "cli/tests/fixtures/multinode",
    ];
    if demo {
        flags.push("--demo");
    }
    serve_with(db, port, &flags)
}

fn approve(port: u16, token: &str, task: &str) -> Option<u16> {
    let body = json!({ "action": "approve", "comment": "同意" }).to_string();
    request(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/actions"),
        Some(token),
        &body,
        "application/json",
        &[],
        Duration::from_secs(30),
    )
    .ok()
    .map(|(s, _)| s)
}

#[test]
fn twenty_sigkills_during_approvals_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db").display().to_string();
    let (smtp, mails) = smtp_sink();
    let smtp_url = format!("smtp://127.0.0.1:{smtp}");
    let port = free_port();

    let server = start(&db, port, &smtp_url, true);
    let printed = server.ready();
    let secretary = printed_token(&printed, "zb1-secretary");
    let started = parallel(INSTANCES, CLIENTS, move |i| {
        let (status, text) = http_with_headers(
            port,
            "POST",
            "/api/v1/instances",
            ADMIN,
            &json!({ "definition": "drill", "org": "zb1" }).to_string(),
            &[("Idempotency-Key", &format!("crash-{i}"))],
        );
        assert_eq!(status, 201, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["tasks"][0]["id"].as_str().unwrap().to_string(),
        )
    });
    let instances: Vec<String> = started.iter().map(|(i, _)| i.clone()).collect();
    let tasks: Vec<String> = started[LAPSING..].iter().map(|(_, t)| t.clone()).collect();

    // The kill loop: clients approve from a shared queue; the server dies
    // at a pseudo-random moment (50–300 ms in); a request that got no
    // answer puts its task back (it may or may not have been committed).
    let queue = Arc::new(Mutex::new(tasks.clone()));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let already = Arc::new(Mutex::new(0usize));
    let mut server = Some(server);
    let mut seed: u64 = 0x5eed;
    for kill in 0..KILLS {
        if server.is_none() {
            let s = start(&db, port, &smtp_url, false);
            s.ready();
            server = Some(s);
        }
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (queue, acknowledged, already, token) = (
                    queue.clone(),
                    acknowledged.clone(),
                    already.clone(),
                    secretary.clone(),
                );
                std::thread::spawn(move || {
                    loop {
                        let Some(task) = queue.lock().unwrap().pop() else {
                            return;
                        };
                        match approve(port, &token, &task) {
                            Some(200) => acknowledged.lock().unwrap().push(task),
                            // Committed before an earlier kill, unanswered.
                            Some(409) => *already.lock().unwrap() += 1,
                            Some(other) => panic!("approving {task}: {other}"),
                            None => {
                                queue.lock().unwrap().push(task);
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait = 50 + (seed >> 33) % 250;
        std::thread::sleep(Duration::from_millis(wait));
        let mut s = server.take().unwrap();
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        for c in clients {
            c.join().unwrap();
        }
        println!(
            "kill {}: after {wait} ms, {} acknowledged so far, {} left",
            kill + 1,
            acknowledged.lock().unwrap().len(),
            queue.lock().unwrap().len()
        );
    }

    // Restarted once more: the rest approved, the clock past every
    // deadline, the mail drained.
    let last = start(&db, port, &smtp_url, false);
    last.ready();
    let rest: Vec<String> = queue.lock().unwrap().drain(..).collect();
    for task in rest {
        match approve(port, &secretary, &task) {
            Some(200) => acknowledged.lock().unwrap().push(task),
            Some(409) => *already.lock().unwrap() += 1,
            other => panic!("approving {task} after the kills: {other:?}"),
        }
    }
    let (status, text) = http(
        port,
        "POST",
        "/api/v1/admin/clock",
        Some(ADMIN),
        Some(&json!({ "set": T2 }).to_string()),
    );
    assert_eq!(status, 200, "{text}");
    wait_drained(port, ADMIN);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (completed, fired, leftover, unsent, statuses) = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{db}"))
            .await
            .unwrap();
        let mut completed: HashMap<String, usize> = HashMap::new();
        for r in sqlx::query("SELECT body FROM events WHERE type = 'task_completed'")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let body: Value = serde_json::from_str(&r.get::<String, _>("body")).unwrap();
            let task = body["task"].as_str().unwrap_or_default().to_string();
            assert!(!task.is_empty(), "{body}");
            *completed.entry(task).or_default() += 1;
        }
        let mut fired: HashMap<(String, String), usize> = HashMap::new();
        for r in sqlx::query("SELECT instance_id, body FROM events WHERE type = 'timer_fired'")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let body: Value = serde_json::from_str(&r.get::<String, _>("body")).unwrap();
            let timer = body["timer"].as_str().unwrap_or_default().to_string();
            assert!(!timer.is_empty(), "{body}");
            *fired
                .entry((r.get::<String, _>("instance_id"), timer))
                .or_default() += 1;
        }
        let leftover: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers")
            .fetch_one(&pool)
            .await
            .unwrap();
        let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        let statuses: Vec<(String, String)> =
            sqlx::query_as("SELECT id, status FROM instances WHERE definition = 'drill'")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        (completed, fired, leftover, unsent, statuses)
    });

    let acknowledged = acknowledged.lock().unwrap().clone();
    let unique: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(
        unique.len(),
        acknowledged.len(),
        "a task acknowledged twice"
    );
    for task in &acknowledged {
        assert_eq!(
            completed.get(task).copied().unwrap_or(0),
            1,
            "acknowledged {task}"
        );
    }
    assert!(completed.values().all(|&c| c == 1), "a task decided twice");
    let already = *already.lock().unwrap();
    assert_eq!(
        acknowledged.len() + already,
        INSTANCES - LAPSING,
        "every task approved once: acknowledged, or committed before a kill"
    );
    // The unapproved ones: a reminder at the deadline and the timeout a day
    // later, each fired once.
    assert!(fired.len() >= 2 * LAPSING, "{} timers fired", fired.len());
    assert!(fired.values().all(|&c| c == 1), "a timer fired twice");
    assert_eq!(leftover, 0, "timers left unfired");
    assert_eq!(unsent, 0, "mail left unsent");
    assert_eq!(statuses.len(), INSTANCES);
    assert!(
        statuses.iter().all(|(_, s)| s == "ended"),
        "instances stuck: {:?}",
        statuses
            .iter()
            .filter(|(_, s)| s != "ended")
            .take(5)
            .collect::<Vec<_>>()
    );
    let verified = parallel(instances.len(), CLIENTS, move |i| {
        let (status, text) = http(
            port,
            "GET",
            &format!("/api/v1/instances/{}/history", instances[i]),
            Some(ADMIN),
            None,
        );
        status == 200 && serde_json::from_str::<Value>(&text).unwrap()["verified"] == true
    });
    assert!(verified.iter().all(|v| *v), "a hash chain does not verify");
    let received = mails.lock().unwrap().len();
    println!(
        "{KILLS} kills: {} approvals acknowledged, {already} committed without an answer, {} timers fired once, {received} mails received",
        acknowledged.len(),
        fired.len()
    );
    drop(last);
}
