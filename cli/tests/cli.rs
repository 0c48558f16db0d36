//! The real `stageflow` binary, as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn stageflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stageflow"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn calendar_add_workdays_counts_the_posting_day_and_skips_holidays() {
    let o = stageflow(&["calendar", "add-workdays", "2026-09-24", "5", "--inclusive"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "2026-10-08");
    let o = stageflow(&["calendar", "add-workdays", "2026-09-24", "5"]);
    assert_eq!(stdout(&o).trim(), "2026-10-09");
}

#[test]
fn calendar_is_workday_explains_make_up_days_and_holidays() {
    let o = stageflow(&["calendar", "is-workday", "2026-10-10"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("working day (调休上班"),
        "{}",
        stdout(&o)
    );
    let o = stageflow(&["calendar", "is-workday", "2026-10-05"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("法定节假日"), "{}", stdout(&o));
    let o = stageflow(&["calendar", "add-months", "2026-01-31", "1"]);
    assert_eq!(stdout(&o).trim(), "2026-02-28");
    let o = stageflow(&["calendar", "is-workday", "2027-03-01"]);
    assert!(
        stdout(&o).contains("provisional"),
        "2027 has no notice yet: {}",
        stdout(&o)
    );
}

#[test]
fn validate_reports_every_problem_with_its_position_and_exits_1() {
    let o = stageflow(&["validate", "tests/fixtures/bad/unknown-references.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("tests/fixtures/bad/unknown-references.yaml:"))
        .collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        out.contains("unknown-references.yaml:15:16: unknown step 'talkk' (did you mean 'talk'?)"),
        "{out}"
    );
    let o = stageflow(&["validate", "tests/fixtures/good/leave-request.yaml"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = stageflow(&["validate", "no/such/file.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no/such/file.yaml:1:1: cannot read the file"));
}

#[test]
fn schema_is_json_schema_2020_12() {
    let o = stageflow(&["schema"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(v["properties"]["stages"].is_object());
}

#[test]
fn simulate_json_shows_dates_the_rules_imply() {
    let o = stageflow(&[
        "simulate",
        "tests/fixtures/good/leave-request.yaml",
        "--start",
        "2026-09-24",
        "--input",
        "days=3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["end_state"], "approved");
    let events = v["events"].as_array().unwrap();
    let approve = events
        .iter()
        .find(|e| e["type"] == "task_created" && e["step"] == "approve")
        .unwrap();
    // 3 working days after 09-24, skipping 中秋 09-25..27.
    assert_eq!(approve["due"], "2026-09-30");
    assert_eq!(approve["role"], "secretary");
    assert!(
        approve["at"]
            .as_str()
            .unwrap()
            .starts_with("2026-09-24T09:00:00+08:00")
    );
    for e in events {
        assert!(
            e["at"].is_string() && e["type"].is_string() && e["stage"].is_string()
                || e["type"] == "stage_entered"
        );
    }
}

#[test]
fn simulate_late_policy_shows_reminders_escalation_and_timeout() {
    let o = stageflow(&[
        "simulate",
        "tests/fixtures/good/leave-request.yaml",
        "--start",
        "2026-09-24",
        "--input",
        "days=3",
        "--policy",
        "late",
        "--json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let events = v["events"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["at"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&("reminder", "2026-09-29T09:00:00+08:00")),
        "{kinds:?}"
    );
    // Escalation 2 days after the 09-30 deadline; automatic approval 5 days after.
    assert!(
        kinds.contains(&("escalation", "2026-10-02T09:00:00+08:00")),
        "{kinds:?}"
    );
    let auto = events
        .iter()
        .find(|e| e["type"] == "step_completed" && e["step"] == "approve")
        .unwrap();
    assert_eq!(auto["at"], "2026-10-05T09:00:00+08:00");
    assert_eq!(auto["detail"], "期限已过，按规则自动通过");
    assert_eq!(v["end_state"], "approved");
}

#[test]
fn simulate_refuses_missing_inputs_clearly() {
    let o = stageflow(&[
        "simulate",
        "tests/fixtures/good/leave-request.yaml",
        "--start",
        "2026-09-24",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("input 'days' (天数) is required"), "{err}");
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn import_is_all_or_nothing_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db").display().to_string();
    // A bad file: nothing is written, every problem has its line.
    let orgs = write(
        dir.path(),
        "orgs.csv",
        "id,name,kind,parent,term_start,term_years\nzb1,第一党支部,党支部,jiguan,2024-06-01,3\njiguan,机关党委,党委,,,5\nzb1,重复,党支部,jiguan,,\nzb9,孤儿,党支部,nowhere,2024-13-01,\n",
    );
    let people = write(
        dir.path(),
        "people.csv",
        "id,name,email,phone,birth_date,status,memberships\np1,张三,p1@example.org,,1990-01-01,正式党员,zb1:full_member;zb1:secretary\np2,李四,,,1990-02-30,党员,zb1\n",
    );
    let o = stageflow(&["import", &orgs, &people, "--db", &db]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for want in [
        "orgs.csv:4: id 'zb1' was already used on line 2",
        "orgs.csv:5: term_start '2024-13-01' is not a date",
        "orgs.csv:5: parent 'nowhere' is neither in this file nor in the database",
        "people.csv:3: birth_date '1990-02-30' is not a date",
        "people.csv:3: status '党员' is not one of",
        "people.csv:3: membership 'zb1' must be written org:role",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let o = stageflow(&[
        "export",
        "--db",
        &db,
        "--out",
        &dir.path().join("empty").display().to_string(),
    ]);
    assert!(
        stdout(&o).contains("wrote 0 organizations"),
        "{}",
        stdout(&o)
    );

    // A good file, children before parents: imported in one go.
    let orgs = write(
        dir.path(),
        "orgs.csv",
        "id,name,kind,parent,term_start,term_years\nzb1,第一党支部,党支部,jiguan,2024-06-01,3\njiguan,机关党委,党委,,,5\n",
    );
    let people = write(
        dir.path(),
        "people.csv",
        "id,name,email,phone,birth_date,status,memberships\np1,张三,p1@example.org,,1990-01-01,正式党员,zb1:full_member;zb1:secretary\n",
    );
    let o = stageflow(&["import", &orgs, &people, "--db", &db]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o).trim(), "imported 2 organizations and 1 people");
    let out_dir = dir.path().join("out");
    let o = stageflow(&[
        "export",
        "--db",
        &db,
        "--out",
        &out_dir.display().to_string(),
    ]);
    assert!(o.status.success());
    let exported = std::fs::read_to_string(out_dir.join("people.csv")).unwrap();
    assert_eq!(
        exported,
        "id,name,email,phone,birth_date,status,memberships\np1,张三,p1@example.org,,1990-01-01,正式党员,zb1:full_member;zb1:secretary\n"
    );
    let exported = std::fs::read_to_string(out_dir.join("orgs.csv")).unwrap();
    assert!(exported.starts_with("id,name,kind,parent,term_start,term_years\njiguan,机关党委,党委,,,5\nzb1,第一党支部,党支部,jiguan,2024-06-01,3\n"), "{exported}");
    // Importing the same people again: refused, nothing changes.
    let o = stageflow(&["import", &orgs, &people, "--db", &db]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("already exists"));
    // A token for an imported person, alone on stdout.
    let o = stageflow(&["token", "create", "--db", &db, "--person", "p1"]);
    assert!(o.status.success());
    let token = stdout(&o);
    assert!(
        token.starts_with("sf_") && token.trim().len() == 67 && token.lines().count() == 1,
        "{token:?}"
    );
    let o = stageflow(&["token", "create", "--db", &db, "--person", "nobody"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A minimal HTTP/1.1 client over a loopback socket (no client library in
/// this crate): returns the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    http_with(
        port,
        method,
        path,
        token,
        body.unwrap_or(""),
        "application/json",
    )
}

fn http_with(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    content_type: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Served {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

fn serve(db: &str, port: u16, demo: bool) -> Served {
    use std::io::BufRead;
    let mut args = vec![
        "serve".to_string(),
        "--db".into(),
        db.into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    if demo {
        args.push("--demo".into());
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_stageflow"))
        .args(&args)
        .current_dir(root())
        .env_remove("STAGEFLOW_ADMIN_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    Served { child, lines }
}

impl Served {
    /// Lines printed until the server says it listens.
    fn ready(&self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("the server did not start");
            let done = line.starts_with("stageflow listening on");
            out.push(line);
            if done {
                return out;
            }
        }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

#[test]
fn serve_demo_lets_a_newcomer_list_and_complete_a_task_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db").display().to_string();
    let port = free_port();
    let server = serve(&db, port, true);
    let printed = server.ready();
    let token_of = |person: &str| {
        printed
            .iter()
            .find(|l| l.split_whitespace().any(|w| w == person))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
            .unwrap()
    };
    let applicant = token_of("applicant-1");
    let secretary = token_of("zb1-secretary");
    assert!(applicant.starts_with("sf_"));
    let (status, body) = http(port, "GET", "/healthz", None, None);
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/tasks?assignee=me&status=pending",
        Some(&applicant),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let inbox: serde_json::Value = serde_json::from_str(&body).unwrap();
    let task = inbox["tasks"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(inbox["tasks"][0]["step_name"], "1. 递交入党申请书");
    // Upload the scanned 入党申请书 (multipart), then complete the task.
    let boundary = "stageflow-test-boundary";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"application.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 入党申请书\r\n--{boundary}--\r\n"
    );
    let (status, body) = http_with(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/files"),
        Some(&applicant),
        &multipart,
        &format!("multipart/form-data; boundary={boundary}"),
    );
    assert_eq!(status, 201, "{body}");
    let file: serde_json::Value = serde_json::from_str(&body).unwrap();
    let action = serde_json::json!({ "action": "complete", "form": { "applied_on": "2026-11-22", "application_letter": file["id"] } }).to_string();
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/actions"),
        Some(&applicant),
        Some(&action),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/tasks?assignee=me",
        Some(&secretary),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("2. 党组织派人谈话"),
        "the talk is the secretary's now: {body}"
    );
    let status = server.terminate();
    assert!(status.success(), "graceful stop: {status:?}");
    // Restarted on the same file: the data is all there.
    let server = serve(&db, port, false);
    server.ready();
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/tasks/{task}"),
        Some(&applicant),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"status\":\"done\""),
        "the acknowledged action survived the restart: {body}"
    );
    let status = server.terminate();
    assert!(status.success());
}
