//! The database unavailable under a running `serve`: a SQLite file locked
//! by another process, a full disk, PostgreSQL going away and coming back.
//! Requests get a 503 problem with `Retry-After` (never a 500, nothing
//! half-done), and the server recovers by itself when the database is back.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "kill-test-admin";

fn raw(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String, String) {
    raw_as(port, method, path, token, "application/json", body)
}

/// A request; the status, the headers (lower case) and the body.
fn raw_as(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (status, head.to_lowercase(), body.to_string())
}

/// The demo applicant's token, their first task, and a comment to post on
/// it (an action that writes).
fn applicant_comment(server: &Served, port: u16) -> (String, String, String) {
    let applicant = printed_token(&server.ready(), "applicant-1");
    let (_, text) = http(port, "GET", "/api/v1/tasks", Some(&applicant), None);
    let task = serde_json::from_str::<Value>(&text).unwrap()["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let comment = json!({ "action": "comment", "comment": "补充材料" }).to_string();
    (applicant, task, comment)
}

#[test]
fn a_locked_sqlite_file_gets_503_with_retry_after_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locked.db").display().to_string();
    let port = free_port();
    let server = serve_with(&db, port, &["--demo", "--clock", "manual"]);
    let (applicant, task, comment) = applicant_comment(&server, port);

    // Another process takes the write lock and keeps it past the server's
    // busy timeout (10 s).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = std::sync::mpsc::channel::<()>();
    let path = db.clone();
    let holder = std::thread::spawn(move || {
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
                .await
                .unwrap();
            sqlx::raw_sql("BEGIN EXCLUSIVE")
                .execute(&mut c)
                .await
                .unwrap();
            locked.send(()).unwrap();
            let _ = released.recv();
            sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
        })
    });
    is_locked.recv().unwrap();
    let began = Instant::now();
    let (status, head, body) = raw(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/actions"),
        &applicant,
        &comment,
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        began.elapsed() >= Duration::from_secs(9),
        "waited the busy timeout"
    );
    assert!(head.contains("retry-after: 1"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    assert!(body.contains("数据库正忙"), "{body}");
    // Reads still work (WAL readers are not blocked by the writer).
    assert_eq!(http(port, "GET", "/healthz", None, None).0, 200);
    release.send(()).unwrap();
    holder.join().unwrap();

    // Released: the same request goes through, once.
    let (status, _, body) = raw(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/actions"),
        &applicant,
        &comment,
    );
    assert_eq!(status, 200, "{body}");
    let instance = serde_json::from_str::<Value>(&body).unwrap()["instance"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (comments, verified) = history_count(port, ADMIN, &instance, "commented");
    assert_eq!(comments, 1, "the refused attempt left nothing");
    assert!(verified);
    drop(server);
}

/// `serve` with its database on a filesystem of its own, 8 MiB, of which
/// a ballast file takes 3 MiB: a tmpfs mounted in a mount namespace that
/// lives as long as the server (`unshare`; nothing is mounted on the
/// machine). The test frees space by removing the ballast through
/// `/proc/PID/root`.
fn serve_on_a_small_disk(mount: &std::path::Path, port: u16) -> Served {
    let script = r#"set -e
mount -t tmpfs -o size=8m stageflow-small "$1"
head -c 3145728 /dev/zero > "$1/ballast"
exec "$2" serve --db "$1/stageflow.db" --listen "127.0.0.1:$3" --demo --clock manual"#;
    let mut command = std::process::Command::new("unshare");
    command
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(mount)
        .arg(env!("CARGO_BIN_EXE_stageflow"))
        .arg(port.to_string())
        .env("STAGEFLOW_ADMIN_TOKEN", ADMIN);
    spawn(command)
}

/// Uploads a file of `size` bytes to a task; the status, headers and body.
fn upload(port: u16, token: &str, task: &str, size: usize, n: usize) -> (u16, String, String) {
    let boundary = "stageflow-full-disk";
    let content = "x".repeat(size);
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan-{n}.pdf\"\r\nContent-Type: application/pdf\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    raw_as(
        port,
        "POST",
        &format!("/api/v1/tasks/{task}/files"),
        token,
        &format!("multipart/form-data; boundary={boundary}"),
        &body,
    )
}

#[test]
fn a_full_disk_gets_503_with_retry_after_and_recovers_when_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    let port = free_port();
    let server = serve_on_a_small_disk(&mount, port);
    let (applicant, task, comment) = applicant_comment(&server, port);
    let on_disk =
        |file: &str| format!("/proc/{}/root{}/{file}", server.child.id(), mount.display());
    assert!(
        std::fs::metadata(on_disk("stageflow.db")).is_ok(),
        "the database is on the small disk"
    );

    // Scans of the application until the disk is full: big ones first,
    // then smaller, until each size is refused.
    let mut accepted = 0;
    let mut refused = Vec::new();
    for size in [256 * 1024, 32 * 1024, 4 * 1024] {
        for _ in 0..100 {
            let (status, head, body) = upload(port, &applicant, &task, size, accepted);
            if status == 503 {
                refused.push((head, body));
                break;
            }
            assert_eq!(status, 201, "{body}");
            accepted += 1;
        }
    }
    assert!(accepted > 0, "some scans fitted");
    assert_eq!(refused.len(), 3, "every size was refused in the end");
    for (head, body) in &refused {
        assert!(head.contains("retry-after: 5"), "{head}");
        assert!(head.contains("application/problem+json"), "{head}");
        assert!(body.contains("database-unavailable"), "{body}");
        assert!(body.contains("磁盘空间不足"), "{body}");
    }
    // Each refused upload was a command (the bytes commit with the
    // history's record of them). A small one may still fit — SQLite reuses
    // the WAL's space — and is then kept; refused, it is a 503 as well.
    let actions = format!("/api/v1/tasks/{task}/actions");
    let (status, head, body) = raw(port, "POST", &actions, &applicant, &comment);
    let mut comments = 0;
    match status {
        200 => comments += 1,
        503 => assert!(head.contains("retry-after: 5"), "{head}"),
        other => panic!("a comment on a full disk got {other}: {body}"),
    }
    // Reads still answer.
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/tasks/{task}"),
        Some(&applicant),
        None,
    );
    assert_eq!(status, 200, "{body}");

    // The operator frees space; the server goes on by itself.
    std::fs::remove_file(on_disk("ballast")).unwrap();
    let (status, _, body) = raw(port, "POST", &actions, &applicant, &comment);
    assert_eq!(status, 200, "{body}");
    comments += 1;
    let (status, _, body) = upload(port, &applicant, &task, 32 * 1024, accepted);
    assert_eq!(status, 201, "{body}");
    let instance = serde_json::from_str::<Value>(
        &http(
            port,
            "GET",
            &format!("/api/v1/tasks/{task}"),
            Some(&applicant),
            None,
        )
        .1,
    )
    .unwrap()["instance"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    let (recorded, verified) = history_count(port, ADMIN, &instance, "commented");
    assert_eq!(recorded, comments, "each acknowledged comment, once");
    assert!(verified, "the hash chain verifies");
    let (files, _) = history_count(port, ADMIN, &instance, "file_attached");
    assert_eq!(
        files,
        accepted + 1,
        "every accepted scan is in the history once, no refused one"
    );

    // And the file itself checks out: a copy taken while the server is
    // frozen (SQLite would resolve `/proc/PID/root` to our own root).
    let pid = server.child.id().to_string();
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let signal = |sig: &str| {
        assert!(
            std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        )
    };
    signal("-STOP");
    for file in ["stageflow.db", "stageflow.db-wal"] {
        std::fs::copy(on_disk(file), copy.join(file)).unwrap();
    }
    signal("-CONT");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let check: String = rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", copy.join("stageflow.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    assert_eq!(check, "ok");
    drop(server);
}

/// A TCP proxy in front of PostgreSQL that can go down (every connection
/// cut, new ones refused) and come back on the same port: a restart as
/// the server sees it.
struct Proxy {
    port: u16,
    rt: tokio::runtime::Runtime,
    tasks: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    fn new() -> Proxy {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut p = Proxy {
            port: free_port(),
            rt,
            tasks: None,
        };
        p.up();
        p
    }

    fn up(&mut self) {
        let port = self.port;
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .unwrap();
        self.tasks = Some(self.rt.spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Cuts every connection and refuses new ones.
    fn down(&mut self) {
        if let Some(t) = self.tasks.take() {
            t.abort();
            let _ = self.rt.block_on(t);
        }
    }
}

#[test]
fn postgresql_going_away_gets_503_and_the_server_recovers_by_itself() {
    let mut proxy = Proxy::new();
    let db = proxy.rt.block_on(stageflow_tests::pg::FreshDb::create());
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let url = format!("postgres://postgres@127.0.0.1:{}/{name}", proxy.port);
    let port = free_port();
    let server = serve_with(
        &url,
        port,
        &["--demo", "--clock", "manual", "--db-pool", "4"],
    );
    let (applicant, task, comment) = applicant_comment(&server, port);
    let act = format!("/api/v1/tasks/{task}/actions");

    // PostgreSQL goes away: a 503 problem with Retry-After, not a 500.
    proxy.down();
    let (status, head, body) = raw(port, "POST", &act, &applicant, &comment);
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    assert!(
        body.contains("database-unavailable") || body.contains("busy"),
        "{body}"
    );
    // The server itself is alive.
    assert_eq!(http(port, "GET", "/healthz", None, None).0, 200);

    // Back: the server reconnects by itself; the retried request works once.
    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(60);
    let instance = loop {
        let (status, _, body) = raw(port, "POST", &act, &applicant, &comment);
        if status == 200 {
            break serde_json::from_str::<Value>(&body).unwrap()["instance"]["id"]
                .as_str()
                .unwrap()
                .to_string();
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "no recovery within a minute");
        std::thread::sleep(Duration::from_millis(500));
    };
    let (comments, verified) = history_count(port, ADMIN, &instance, "commented");
    assert_eq!(comments, 1, "the refused attempts left nothing");
    assert!(verified);
    drop(server);
    proxy.down();
    drop(db);
}
