//! Three `serve` processes on loopback ports over one PostgreSQL database
//! and one SMTP sink. Instances are started and approved through all three;
//! the manual clocks move so that thousands of timers come due at once; one
//! node is killed with SIGKILL in the middle of it and started again.
//! Afterwards nothing is lost and nothing is doubled: every acknowledged
//! action is in the history once, every timer fired once, every mail
//! arrived, no instance is stuck and the hash chains verify.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use common::*;
use serde_json::{Value, json};
use sqlx::Row;

const ADMIN: &str = "kill-test-admin";
const T0: &str = "2026-03-02T01:00:00Z";
/// Past every deadline (due the next day) and every timeout (a day later).
const T1: &str = "2026-03-06T01:00:00Z";
/// Past every lease a killed node could have held (timers 1 min, mail 5 min).
const T2: &str = "2026-03-06T02:00:00Z";

fn instances_to_start() -> usize {
    std::env::var("STAGEFLOW_MULTINODE_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

struct Node {
    port: u16,
    served: Option<Served>,
}

/// A node on a manual clock starting at `clock`. The nodes' clocks must
/// agree (as NTP keeps real ones within milliseconds): leases are measured
/// on them, so a node whose clock lagged by days would see a live node's
/// lease as long expired.
fn start_node(db: &str, port: u16, smtp: &str, clock: &str, demo: bool) -> Node {
    let mut flags = vec![
        "--clock",
        "manual",
        "--clock-start",
        clock,
        "--smtp",
        smtp,
        "--library",
        "cli/tests/fixtures/multinode",
        "--db-pool",
        "8",
    ];
    if demo {
        flags.push("--demo");
    }
    let served = serve_with(db, port, &flags);
    Node {
        port,
        served: Some(served),
    }
}

/// An HTTP call that reports a dead node (no connection, no answer)
/// instead of panicking; slow answers (a clock move firing thousands of
/// timers) are waited for.
fn try_http(port: u16, method: &str, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    let timeout = std::time::Duration::from_secs(300);
    request(
        port,
        method,
        path,
        Some(token),
        body,
        "application/json",
        &[],
        timeout,
    )
    .ok()
}

#[test]
fn three_nodes_and_a_sigkill_lose_and_double_nothing() {
    let started_at = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(stageflow_tests::pg::FreshDb::create());
    let (smtp, mails) = smtp_sink();
    let smtp_url = format!("smtp://127.0.0.1:{smtp}");

    // Node A seeds the demo directory (and prints the tokens); B and C join.
    let mut nodes = Vec::new();
    let a = start_node(&db.url, free_port(), &smtp_url, T0, true);
    let printed = a.served.as_ref().unwrap().ready();
    nodes.push(a);
    for _ in 0..2 {
        let n = start_node(&db.url, free_port(), &smtp_url, T0, false);
        n.served.as_ref().unwrap().ready();
        nodes.push(n);
    }
    let secretary = printed_token(&printed, "zb1-secretary");
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();

    // Instances started through the three nodes, each with an idempotency key.
    let n = instances_to_start();
    let p = ports.clone();
    let starts = parallel(n, 6, move |i| {
        let port = p[i % 3];
        let body = json!({ "definition": "drill", "org": "zb1" }).to_string();
        let (status, text) = http_with_headers(
            port,
            "POST",
            "/api/v1/instances",
            ADMIN,
            &body,
            &[("Idempotency-Key", &format!("drill-{i}"))],
        );
        assert_eq!(status, 201, "start {i} on {port}: {text}");
        let v = json_of(&text);
        (
            v["id"].as_str().unwrap().to_string(),
            v["tasks"][0]["id"].as_str().unwrap().to_string(),
        )
    });
    let tasks: Vec<String> = starts.iter().map(|(_, t)| t.clone()).collect();
    println!("started {n} instances through 3 nodes");

    // The first third approved through the three nodes.
    let p = ports.clone();
    let sec = secretary.clone();
    let first: Vec<String> = tasks[..n / 3].to_vec();
    let approved_before = parallel(first.len(), 6, {
        let first = first.clone();
        move |i| {
            let body = json!({ "action": "approve", "comment": "同意" }).to_string();
            let (status, text) = http(
                p[i % 3],
                "POST",
                &format!("/api/v1/tasks/{}/actions", first[i]),
                Some(&sec),
                Some(&body),
            );
            assert_eq!(status, 200, "{text}");
            first[i].clone()
        }
    });

    // The 待办 mails of the starts go out before the clocks move.
    for &port in &ports {
        wait_drained(port, ADMIN);
    }

    // The burst: every node's clock moves past the deadlines and timeouts
    // at once, approvals of the second third go on through all nodes, and
    // node B is killed in the middle of it.
    let clock = json!({ "set": T1 }).to_string();
    let burst: Vec<_> = ports
        .iter()
        .map(|&port| {
            let clock = clock.clone();
            std::thread::spawn(move || try_http(port, "POST", "/api/v1/admin/clock", ADMIN, &clock))
        })
        .collect();
    let p = ports.clone();
    let sec = secretary.clone();
    let second: Vec<String> = tasks[n / 3..2 * n / 3].to_vec();
    let approvals = std::thread::spawn({
        let second = second.clone();
        move || {
            parallel(second.len(), 4, move |i| {
                let body = json!({ "action": "approve", "comment": "同意" }).to_string();
                let r = try_http(
                    p[i % 3],
                    "POST",
                    &format!("/api/v1/tasks/{}/actions", second[i]),
                    &sec,
                    &body,
                );
                (second[i].clone(), r.map(|(s, _)| s))
            })
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    let mut b = nodes[1].served.take().unwrap();
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let killed_at = started_at.elapsed();
    for h in burst {
        let _ = h.join();
    }
    let answers = approvals.join().unwrap();
    let acknowledged: Vec<String> = approved_before
        .iter()
        .cloned()
        .chain(
            answers
                .iter()
                .filter(|(_, s)| *s == Some(200))
                .map(|(t, _)| t.clone()),
        )
        .collect();
    let lost_connections = answers.iter().filter(|(_, s)| s.is_none()).count();

    // Real clocks never jump; these do. Before the last jump the live
    // nodes finish the mail they hold (what stays pending is what the dead
    // node had claimed), or a node whose clock jumped first would see their
    // leases as long expired.
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut last = -1;
        let mut steady = 0;
        while steady < 6 {
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            steady = if pending == last { steady + 1 } else { 0 };
            last = pending;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        pool.close().await;
    });

    // B comes back; every clock moves past the dead node's leases.
    nodes[1] = start_node(&db.url, ports[1], &smtp_url, T1, false);
    nodes[1].served.as_ref().unwrap().ready();
    let clock = json!({ "set": T2 }).to_string();
    for &port in &ports {
        let (status, text) = http(
            port,
            "POST",
            "/api/v1/admin/clock",
            Some(ADMIN),
            Some(&clock),
        );
        assert_eq!(status, 200, "{text}");
    }
    // Mail: each node's worker sends what it claims; wait for none pending.
    for &port in &ports {
        wait_drained(port, ADMIN);
    }

    // What the database holds.
    let (timer_fired, completed, leftover_timers, outbox, statuses) = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let fired = sqlx::query("SELECT instance_id, body FROM events WHERE type = 'timer_fired'")
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut timer_fired: HashMap<(String, String), usize> = HashMap::new();
        for r in fired {
            let body: Value = serde_json::from_str(&r.get::<String, _>("body")).unwrap();
            let timer = body["data"]["timer"]
                .as_str()
                .or(body["timer"].as_str())
                .unwrap_or_default()
                .to_string();
            *timer_fired
                .entry((r.get::<String, _>("instance_id"), timer))
                .or_default() += 1;
        }
        let done = sqlx::query("SELECT body FROM events WHERE type = 'task_completed'")
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut completed: HashMap<String, usize> = HashMap::new();
        for r in done {
            let body: Value = serde_json::from_str(&r.get::<String, _>("body")).unwrap();
            let task = body["data"]["task"]
                .as_str()
                .or(body["task"].as_str())
                .unwrap_or_default()
                .to_string();
            *completed.entry(task).or_default() += 1;
        }
        let leftover: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers")
            .fetch_one(&pool)
            .await
            .unwrap();
        let outbox: Vec<(String, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT key, sent_at, failed_at FROM outbox")
                .fetch_all(&pool)
                .await
                .unwrap();
        let statuses: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, status, end_state FROM instances WHERE definition = 'drill'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        (timer_fired, completed, leftover, outbox, statuses)
    });

    // Every acknowledged approval is in the history exactly once; no task
    // was decided twice.
    for task in &acknowledged {
        assert_eq!(
            completed.get(task).copied().unwrap_or(0),
            1,
            "acknowledged approval of {task}"
        );
    }
    let doubled = completed.values().filter(|&&c| c > 1).count();
    assert_eq!(doubled, 0, "tasks decided twice");
    // Every timer fired exactly once, and none is left.
    let twice = timer_fired.values().filter(|&&c| c > 1).count();
    assert_eq!(twice, 0, "timers fired twice");
    assert_eq!(leftover_timers, 0, "timers never fired");
    // No instance is stuck: each ended, approved or lapsed.
    assert_eq!(statuses.len(), n);
    let stuck: Vec<_> = statuses.iter().filter(|(_, s, _)| s != "ended").collect();
    assert!(
        stuck.is_empty(),
        "{} instances stuck: {:?}",
        stuck.len(),
        &stuck[..stuck.len().min(5)]
    );
    let done = statuses
        .iter()
        .filter(|(_, _, e)| e.as_deref() == Some("done"))
        .count();
    assert!(done >= acknowledged.len());
    // Every mail was sent; none failed; each arrived, and a repeat can only
    // be a message the killed node had handed to the SMTP server without
    // recording it (the documented window: at most one per kill).
    let unsent = outbox.iter().filter(|(_, s, _)| s.is_none()).count();
    let failed = outbox.iter().filter(|(_, _, f)| f.is_some()).count();
    assert_eq!((unsent, failed), (0, 0), "mail left unsent or failed");
    let received = mails.lock().unwrap().clone();
    let ids = message_ids(&received);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), outbox.len(), "every queued mail arrived");
    let repeats = ids.len() - unique.len();
    assert!(repeats <= 1, "{repeats} mails arrived twice");
    // The hash chains verify (checked by the server, through every node).
    let p = ports.clone();
    let ids_to_check: Vec<String> = starts.iter().map(|(i, _)| i.clone()).collect();
    let verified = parallel(ids_to_check.len(), 6, move |i| {
        let (status, text) = http(
            p[i % 3],
            "GET",
            &format!("/api/v1/instances/{}/history", ids_to_check[i]),
            Some(ADMIN),
            None,
        );
        status == 200 && json_of(&text)["verified"] == true
    });
    assert!(verified.iter().all(|v| *v), "a hash chain does not verify");

    println!(
        "checked: {n} instances (done {done}, lapsed {}), {} acknowledged approvals \
         ({} refused or racing a timeout, {lost_connections} lost with the killed node), \
         {} timers fired once each, {} mails sent ({repeats} repeated by the kill), \
         node B killed at {:.1} s, all in {:.1} s",
        n - done,
        acknowledged.len(),
        answers.len() - lost_connections - answers.iter().filter(|(_, s)| *s == Some(200)).count(),
        timer_fired.len(),
        outbox.len(),
        killed_at.as_secs_f64(),
        started_at.elapsed().as_secs_f64()
    );
    for mut node in nodes {
        if let Some(mut s) = node.served.take() {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}
