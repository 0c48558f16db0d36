//! Helpers shared by the tests of the real binary: a raw HTTP client, the
//! server as a child process, an SMTP sink.
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn http(
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

pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    content_type: &str,
) -> (u16, String) {
    let timeout = std::time::Duration::from_secs(10);
    request(port, method, path, token, body, content_type, &[], timeout)
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// A JSON request with extra headers (`Idempotency-Key`, …).
pub fn http_with_headers(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let timeout = std::time::Duration::from_secs(60);
    request(
        port,
        method,
        path,
        Some(token),
        body,
        "application/json",
        headers,
        timeout,
    )
    .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// One HTTP/1.1 request on a new connection; an error when the server is
/// not there or hangs up (a killed node).
#[allow(clippy::too_many_arguments)]
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    timeout: std::time::Duration,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(timeout))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status == 0 {
        return Err(std::io::Error::other("no HTTP response"));
    }
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Served {
    pub child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

/// `serve` as a newcomer runs it: no admin token in the environment.
pub fn serve(db: &str, port: u16, demo: bool) -> Served {
    let extra: &[&str] = if demo { &["--demo"] } else { &[] };
    spawn_serve(db, port, extra, None)
}

/// A server the test forgot to stop (a failed assertion) is killed, not
/// left running.
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Lines printed until the server says it listens.
    pub fn ready(&self) -> Vec<String> {
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

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

pub type Mails = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

pub fn smtp_sink() -> (u16, Mails) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let _ = w.write_all(b"220 sink\r\n");
                let mut to = String::new();
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let upper = line.to_ascii_uppercase();
                    if upper.starts_with("EHLO") {
                        let _ = w.write_all(b"250-sink\r\n250 8BITMIME\r\n");
                    } else if upper.starts_with("RCPT TO") {
                        to = line[8..]
                            .trim()
                            .trim_start_matches(':')
                            .trim()
                            .trim_matches(|c| c == '<' || c == '>')
                            .to_string();
                        let _ = w.write_all(b"250 OK\r\n");
                    } else if upper.starts_with("DATA") {
                        let _ = w.write_all(b"354 go\r\n");
                        let mut data = String::new();
                        let mut l = String::new();
                        while r.read_line(&mut l).unwrap_or(0) > 0 && l.trim_end() != "." {
                            data.push_str(&l);
                            l.clear();
                        }
                        store.lock().unwrap().push((to.clone(), data));
                        let _ = w.write_all(b"250 OK\r\n");
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        let _ = w.write_all(b"250 OK\r\n");
                    }
                    line.clear();
                }
            });
        }
    });
    (port, got)
}

/// `serve` with extra flags and the admin token `kill-test-admin`.
pub fn serve_with(db: &str, port: u16, extra: &[&str]) -> Served {
    spawn_serve(db, port, extra, Some("kill-test-admin"))
}

fn spawn_serve(db: &str, port: u16, extra: &[&str], admin: Option<&str>) -> Served {
    let mut args = vec![
        "serve".to_string(),
        "--db".into(),
        db.into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_stageflow"));
    command.args(&args);
    match admin {
        Some(token) => command.env("STAGEFLOW_ADMIN_TOKEN", token),
        None => command.env_remove("STAGEFLOW_ADMIN_TOKEN"),
    };
    spawn(command)
}

/// Runs a command that ends up serving (`serve`, or something that execs
/// it) from the project's root, its printed lines collected.
pub fn spawn(mut command: Command) -> Served {
    use std::io::BufRead;
    command
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
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

pub fn message_ids(mails: &[(String, String)]) -> Vec<String> {
    mails
        .iter()
        .map(|(_, raw)| {
            raw.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Waits until the server has recorded every queued mail as sent (its
/// `/metrics` show none pending). A kill between the SMTP server's "250 OK"
/// and that record sends the same message (same Message-ID) once more after
/// the restart — the documented at-least-once window (docs/scheduler.md) —
/// so the kills below come after the outbox is drained.
pub fn wait_drained(port: u16, token: &str) {
    // Up to three minutes: thousands of mails go out one SMTP session each.
    for _ in 0..3600 {
        let (status, body) = http(port, "GET", "/metrics", Some(token), None);
        if status == 200 && !body.contains("stageflow_mail{status=\"pending\"}") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the outbox never drained");
}

pub fn wait_for(
    mails: &std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    n: usize,
) -> Vec<(String, String)> {
    for _ in 0..200 {
        let got = mails.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    mails.lock().unwrap().clone()
}

/// Runs `f(i)` for `0..n` on `threads` threads; returns the results in order.
pub fn parallel<T: Send + 'static>(
    n: usize,
    threads: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    use std::sync::{Arc, Mutex};
    let f = Arc::new(f);
    let out: Arc<Mutex<Vec<Option<T>>>> = Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (f, out) = (f.clone(), out.clone());
            std::thread::spawn(move || {
                for i in (t..n).step_by(threads) {
                    let r = f(i);
                    out.lock().unwrap()[i] = Some(r);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut out = out.lock().unwrap();
    out.iter_mut().map(|r| r.take().unwrap()).collect()
}

/// The demo token `serve --demo` printed for a person.
pub fn printed_token(printed: &[String], person: &str) -> String {
    printed
        .iter()
        .find(|l| l.split_whitespace().any(|w| w == person))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no token printed for {person}"))
        .to_string()
}

/// An instance's history through the API: how many events of a type, and
/// whether the hash chain verifies.
pub fn history_count(port: u16, token: &str, instance: &str, kind: &str) -> (usize, bool) {
    let (status, text) = http(
        port,
        "GET",
        &format!("/api/v1/instances/{instance}/history"),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{text}");
    let history: serde_json::Value = serde_json::from_str(&text).unwrap();
    let count = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count();
    (count, history["verified"] == true)
}
