//! The real `stageflow` binary, as a user runs it.

mod common;

use std::process::{Command, Output};

use common::*;

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

/// 《全国年节及纪念日放假办法》: a year without a notice still has its fixed
/// holidays (春节 2027: 除夕 02-05 to 初三 02-08), provisional; a notice
/// dropped into `--holidays DIR` makes the year official without a build.
#[test]
fn calendar_years_and_a_notice_loaded_at_run_time() {
    let o = stageflow(&["calendar", "years"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("2026  官方  内置  https://www.gov.cn/")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("2027  暂算  通知未发布")),
        "{out}"
    );
    let o = stageflow(&["calendar", "is-workday", "2027-02-05"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("法定节假日: 春节"), "{}", stdout(&o));
    assert!(stdout(&o).contains("provisional"), "{}", stdout(&o));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2027.json"),
        r#"{"year": 2027, "papers": ["https://www.gov.cn/notice-2027"], "days": [
            {"name": "春节", "date": "2027-02-05", "isOffDay": true},
            {"name": "春节", "date": "2027-02-14", "isOffDay": false}]}"#,
    )
    .unwrap();
    let holidays = dir.path().to_str().unwrap();
    let o = stageflow(&[
        "calendar",
        "years",
        "--from",
        "2027",
        "--to",
        "2028",
        "--holidays",
        holidays,
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("2027  官方") && out.contains("https://www.gov.cn/notice-2027"),
        "{out}"
    );
    assert!(out.contains("2028  暂算"), "{out}");
    let o = stageflow(&[
        "calendar",
        "is-workday",
        "2027-02-14",
        "--holidays",
        holidays,
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("调休上班: 春节"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("provisional"), "{}", stdout(&o));

    // A bad file names itself and what to write; nothing is half-loaded.
    std::fs::write(dir.path().join("2028.json"), r#"{"year": 2028, "papers": [], "days": [{"name": "元旦", "date": "2028-1-1", "isOffDay": true}]}"#).unwrap();
    let o = stageflow(&["calendar", "years", "--holidays", holidays]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2028.json") && err.contains("应写作 YYYY-MM-DD"),
        "{err}"
    );
    // A file named for one year holding another is refused, and a name
    // that is not a regular file (a device would never end) is too.
    std::fs::write(
        dir.path().join("2028.json"),
        r#"{"year": 2029, "papers": [], "days": []}"#,
    )
    .unwrap();
    let o = stageflow(&["calendar", "years", "--holidays", holidays]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("文件名是 2028 年，内容的 `year` 却是 2029"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("2028.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("2030.json")).unwrap();
    let o = stageflow(&["calendar", "years", "--holidays", holidays]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2030.json") && err.contains("不是普通文件"),
        "{err}"
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
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tests/fixtures/bad/unknown-references.yaml：7 处问题"),
        "{err}"
    );
    assert!(
        out.contains(
            "unknown-references.yaml:15:16: 未知的步骤「talkk」（是否应为「谈话」(talk)？）"
        ),
        "{out}"
    );
    let o = stageflow(&["validate", "tests/fixtures/good/leave-request.yaml"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = stageflow(&["validate", "no/such/file.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("no/such/file.yaml:1:1: 无法读取文件：文件不存在"),
        "{}",
        stdout(&o)
    );
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
    assert!(err.contains("输入项「天数」(days)为必填项"), "{err}");
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
        "orgs.csv:4: id「zb1」已在第 2 行使用过",
        "orgs.csv:5: `term_start` 的值「2024-13-01」不是日期",
        "orgs.csv:5: 上级组织「nowhere」既不在本文件中，也不在数据库中",
        "people.csv:3: `birth_date` 的值「1990-02-30」不是日期",
        "people.csv:3: `status` 的值「党员」无效，应为以下之一：群众、",
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
    assert!(stdout(&o).contains("人员「p1」已经存在"), "{}", stdout(&o));
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

/// A blocking SMTP server on loopback: keeps every message's Message-ID,
/// recipients and raw text.
#[test]
fn sigkill_loses_no_timer_and_sends_no_reminder_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db").display().to_string();
    let (smtp, mails) = smtp_sink();
    let smtp_url = format!("smtp://127.0.0.1:{smtp}");
    let flags = [
        "--clock",
        "manual",
        "--clock-start",
        "2026-03-02T01:00:00Z",
        "--smtp",
        &smtp_url,
    ];
    let port = free_port();
    let mut with_demo = flags.to_vec();
    with_demo.push("--demo");
    let server = serve_with(&db, port, &with_demo);
    let printed = server.ready();
    let applicant = printed
        .iter()
        .find(|l| l.contains("applicant-1"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    // The demo's first 待办 mails go out.
    let first = wait_for(&mails, 3).len();
    assert!(first >= 3);
    // The applicant hands in the application: the talk is due 2026-04-02.
    let (_, inbox) = http(port, "GET", "/api/v1/tasks", Some(&applicant), None);
    let task = serde_json::from_str::<serde_json::Value>(&inbox).unwrap()["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let boundary = "b";
    let part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\nscan\r\n--{boundary}--\r\n"
    );
    let (status, body) = http_with(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/files"),
        Some(&applicant),
        &part,
        &format!("multipart/form-data; boundary={boundary}"),
    );
    assert_eq!(status, 201, "{body}");
    let file = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let action = format!(
        r#"{{"action":"complete","form":{{"applied_on":"2026-03-02","application_letter":"{file}"}}}}"#
    );
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/actions"),
        Some(&applicant),
        Some(&action),
    );
    assert_eq!(status, 200, "{body}");
    wait_for(&mails, first + 1);
    wait_drained(port, "kill-test-admin");
    let before_kill = mails.lock().unwrap().len();
    // SIGKILL: no graceful anything.
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Restarted: the clock moves past the deadline; the reminder, the overdue
    // notice and the escalation each go out once.
    let server = serve_with(&db, port, &flags);
    server.ready();
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/admin/clock",
        Some("kill-test-admin"),
        Some(r#"{"set":"2026-04-04T01:00:00Z"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let after = wait_for(&mails, before_kill + 3);
    assert!(after.len() >= before_kill + 3, "{} mails", after.len());
    wait_drained(port, "kill-test-admin");
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // And again: nothing new is due, nothing is sent twice.
    let server = serve_with(&db, port, &flags);
    server.ready();
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/admin/clock",
        Some("kill-test-admin"),
        Some(r#"{"set":"2026-04-05T01:00:00Z"}"#),
    );
    assert_eq!(status, 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let all = mails.lock().unwrap().clone();
    let ids = message_ids(&all);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a mail was sent twice");
    let to_secretary = all
        .iter()
        .filter(|(to, raw)| to == "zb1-secretary@example.org" && raw.contains("Subject"))
        .count();
    assert!(
        to_secretary >= 3,
        "待办, 提醒 and 逾期 for the 支部书记: {to_secretary}"
    );
    assert!(
        all.iter()
            .any(|(to, _)| to == "jiguan-secretary@example.org"),
        "the escalation reached the 机关党委书记"
    );
    assert!(server.terminate().success());

    // The CLI sees the schedules on the same database.
    let o = stageflow(&["schedules", "list", "--db", &db]);
    assert!(
        stdout(&o).contains("democratic-appraisal:yearly\t0 0 9 1 12 *\tAsia/Shanghai"),
        "{}",
        stdout(&o)
    );
    let o = stageflow(&[
        "schedules",
        "pause",
        "democratic-appraisal:yearly",
        "--note",
        "测试暂停",
        "--db",
        &db,
    ]);
    assert!(o.status.success());
    assert!(stdout(&stageflow(&["schedules", "list", "--db", &db])).contains("paused: 测试暂停"));
    let o = stageflow(&[
        "schedules",
        "resume",
        "democratic-appraisal:yearly",
        "--db",
        &db,
    ]);
    assert!(o.status.success());
    let o = stageflow(&[
        "schedules",
        "preview",
        "democratic-appraisal:yearly",
        "--n",
        "2",
        "--db",
        &db,
    ]);
    assert_eq!(stdout(&o).lines().count(), 2);
    assert!(
        stdout(&o)
            .lines()
            .all(|l| l.contains("-12-01T09:00:00+08:00")),
        "{}",
        stdout(&o)
    );
}
