//! The server's edges, tried on the real binary:
//! - an action committed whose answer never left (the process died in
//!   between) is answered from its receipt when retried with the same
//!   `Idempotency-Key`: the original 200, not a 409;
//! - more idle, half-sent connections than the process has file
//!   descriptors do not stop `/healthz` from answering, and SIGTERM still
//!   ends the server in a bounded time.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "kill-test-admin";
const T0: &str = "2026-03-02T01:00:00Z";

fn start(db: &str, port: u16, crash_after_commit: bool) -> Served {
    let mut args: Vec<String> = [
        "serve",
        "--db",
        db,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--clock",
        "manual",
        "--clock-start",
        T0,
        "--library",
        "cli/tests/fixtures/multinode",
        "--demo",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push("--mail-dir".into());
    args.push(
        std::env::temp_dir()
            .join("edges-mail")
            .display()
            .to_string(),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_stageflow"));
    command.args(&args).env("STAGEFLOW_ADMIN_TOKEN", ADMIN);
    if crash_after_commit {
        command.env("STAGEFLOW_TEST_CRASH_AFTER_COMMIT", "1");
    }
    spawn(command)
}

#[test]
fn an_answer_lost_in_a_crash_is_given_again_from_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edges.db").display().to_string();
    let port = free_port();
    let server = start(&db, port, true);
    let printed = server.ready();
    let secretary = printed_token(&printed, "zb1-secretary");
    let (status, text) = http(
        port,
        "POST",
        "/api/v1/instances",
        Some(ADMIN),
        Some(&json!({ "definition": "drill", "org": "zb1" }).to_string()),
    );
    assert_eq!(status, 201, "{text}");
    let started: Value = serde_json::from_str(&text).unwrap();
    let instance = started["id"].as_str().unwrap().to_string();
    let task = started["tasks"][0]["id"].as_str().unwrap().to_string();
    let approve = |port: u16| {
        request(
            port,
            "POST",
            &format!("/api/v1/tasks/{task}/actions"),
            Some(&secretary),
            &json!({ "action": "approve", "comment": "同意" }).to_string(),
            "application/json",
            &[("Idempotency-Key", "approve-once")],
            Duration::from_secs(20),
        )
    };
    // The server commits the approval and dies before it answers.
    let lost = approve(port);
    assert!(lost.is_err(), "no answer came back: {lost:?}");
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "the server died: {status}");
    // Restarted, the retry gets the first answer: 200 with the task
    // decided, not a 409 "already decided".
    let port2 = free_port();
    let server = start(&db, port2, false);
    server.ready();
    let (status, body) = approve(port2).expect("an answer");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["task"]["id"], task.as_str());
    assert_eq!(answer["task"]["status"], "done");
    assert_eq!(answer["task"]["outcome"], "approve");
    // And the approval is in the history once.
    let (completed, verified) = history_count(port2, ADMIN, &instance, "task_completed");
    assert_eq!(completed, 1);
    assert!(verified);
    // Without the key the same action is the conflict it is.
    let (status, body) = http(
        port2,
        "POST",
        &format!("/api/v1/tasks/{task}/actions"),
        Some(&secretary),
        Some(&json!({ "action": "approve" }).to_string()),
    );
    assert_eq!(status, 409, "{body}");
    server.terminate();
}

/// A connection that sends half a request's headers and then nothing.
fn half_sent(port: u16) -> Option<TcpStream> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .ok()?;
    Some(s)
}

#[test]
fn idle_half_sent_connections_beyond_the_file_limit_leave_healthz_answering() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edges.db").display().to_string();
    let port = free_port();
    // The server may hold 256 files; 600 connections wait half-sent.
    let script = format!(
        "ulimit -n 256 && exec {} serve --db {db} --listen 127.0.0.1:{port} --library workflows/library",
        env!("CARGO_BIN_EXE_stageflow")
    );
    let mut command = Command::new("sh");
    command.args(["-c", &script]);
    let server = spawn(command);
    server.ready();
    let mut held = Vec::new();
    let mut healthy = 0;
    for round in 0..6 {
        for _ in 0..100 {
            if let Some(c) = half_sent(port) {
                held.push(c);
            }
        }
        let began = Instant::now();
        let answer = request(
            port,
            "GET",
            "/healthz",
            None,
            "",
            "application/json",
            &[],
            Duration::from_secs(5),
        );
        match answer {
            Ok((200, body)) if body.trim() == "ok" => healthy += 1,
            other => panic!(
                "round {round}, {} connections held: /healthz {other:?} after {:?}",
                held.len(),
                began.elapsed()
            ),
        }
        assert!(began.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(healthy, 6);
    assert!(held.len() >= 500, "{} connections opened", held.len());
    // SIGTERM with stuck clients still ends the server, within the grace
    // period and a little.
    let began = Instant::now();
    let status = server.terminate();
    let took = began.elapsed();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(15), "shutdown took {took:?}");
    drop(held);
}
