//! `scale`: N open instances stored, and a process serving them as `serve`
//! does. A child process (`stageflow-bench scale-load`, this binary) loads
//! the database: 100 党支部, N instances of the 5-step approval started a
//! month ago (one open task each), their deadlines passed and fired, the
//! 待办 mails they queued marked sent (they went out long ago). Then this
//! process — which never held what loading allocated — opens the store and
//! serves it with what `serve` runs (the router, the timer loop, the mail
//! loop): its RSS before opening and after the queries, one 书记's 待办
//! (the inbox query in the store and `GET /api/v1/tasks` over HTTP), the
//! 党委's 督办台账 (the overdue query in the store and
//! `GET /api/v1/reports/overdue` over HTTP), and the bytes per instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stageflow_app::{App, Config, ManualClock};
use stageflow_runtime::Runtime;
use stageflow_runtime::directory::StoreDirectory;
use stageflow_store::{InboxQuery, TokenKind};
use stageflow_tests::pg::FreshDb;

use crate::Common;
use crate::load::bulk_start;
use crate::report::{Report, proc_status_kb, rate};
use crate::setup::{db_bytes, open_store, publish_workflows, t0};

const BRANCHES: usize = 100;
const QUERIES: usize = 300;

/// When the serving process looks: a month after the instances started,
/// every task is overdue.
fn later() -> chrono::DateTime<chrono::Utc> {
    t0() + chrono::Duration::days(30)
}

/// The bearer token of a bench person (the loader stores its hash).
fn token_of(person: &str) -> String {
    format!("sf_bench_{person}")
}

/// What the loader child is told.
#[derive(clap::Args, Clone, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub common: Common,
    /// The database: a SQLite path or a PostgreSQL URL
    #[arg(long)]
    pub location: String,
}

/// The loader (`scale-load`): fills the database and prints one JSON line
/// with how long each part took.
pub async fn load(args: &LoadArgs) -> anyhow::Result<()> {
    let n = args.common.n.unwrap_or(50_000);
    let backend = args.common.db.as_str();
    let store = open_store(&args.common, backend, &args.location, 8).await?;
    let runtime = Runtime::new(store.clone(), Arc::new(StoreDirectory::new(store.clone())));
    publish_workflows(&runtime).await?;
    let subjects = crate::tree::seed(store.as_ref(), BRANCHES).await?;
    let mut people = vec!["committee-secretary".to_string()];
    people.extend((1..=BRANCHES).map(|b| format!("b{b}-secretary")));
    for p in &people {
        store
            .put_token(
                &stageflow_app::caller::hash_token(&token_of(p)),
                p,
                TokenKind::Personal,
                t0(),
                None,
            )
            .await?;
    }
    let loaded = bulk_start(
        &runtime,
        "bench-admission5",
        &subjects,
        n,
        0x5c_0000_0000,
        t0(),
    )
    .await?;
    let fired_at = Instant::now();
    let fired = runtime.fire_due_timers(later()).await?;
    let fire = fired_at.elapsed();
    anyhow::ensure!(fired == n, "{fired} deadlines fired for {n} instances");
    mark_mail_sent(backend, &args.location).await?;
    println!(
        "{}",
        json!({
            "load_s": loaded.as_secs_f64(),
            "fire_s": fire.as_secs_f64(),
            "fired": fired,
            "loader_peak_rss_mb": proc_status_kb("VmHWM").unwrap_or(0) / 1024,
        })
    );
    Ok(())
}

/// The loaded instances' mails went out long ago (the outbox is the mail
/// loop's, and sending a million files is not what this measures).
async fn mark_mail_sent(backend: &str, location: &str) -> anyhow::Result<()> {
    let sql = "UPDATE outbox SET sent_at = created_at WHERE sent_at IS NULL";
    if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{location}")).await?;
        sqlx::query(sql).execute(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(location).await?;
        sqlx::query(sql).execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}

fn rss_mb() -> u64 {
    proc_status_kb("VmRSS").unwrap_or(0) / 1024
}

pub async fn run(common: &Common) -> anyhow::Result<Report> {
    let n = common.n.unwrap_or(50_000);
    let dir = tempfile::tempdir()?;
    let (location, _pg) = match common.db.as_str() {
        "postgres" => {
            let db = FreshDb::create().await;
            (db.url.clone(), Some(db))
        }
        _ => (dir.path().join("scale.db").display().to_string(), None),
    };

    // Load in a child process.
    let began = Instant::now();
    let mut loader = std::process::Command::new(std::env::current_exe()?);
    loader
        .args(["scale-load", "--location", &location, "--n", &n.to_string()])
        .args(["--db", &common.db, "--sqlite-sync", &common.sqlite_sync])
        .stderr(std::process::Stdio::inherit());
    let child = tokio::task::spawn_blocking(move || loader.output()).await??;
    anyhow::ensure!(
        child.status.success(),
        "the loader failed: {}",
        child.status
    );
    let loaded: Value = serde_json::from_slice(&child.stdout)?;
    let load_total = began.elapsed();

    // Serve it as `serve` does.
    let rss_before = rss_mb();
    let store = open_store(common, &common.db, &location, 8).await?;
    let app = App::new(
        store.clone(),
        Arc::new(ManualClock::new(later())),
        Config::default(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop_on = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.changed().await;
    };
    let mail = stageflow_app::MailConfig::new(stageflow_app::MailTransport::Files(
        dir.path().join("mail"),
    ));
    let loops = [
        tokio::spawn({
            let (app, rx) = (app.clone(), stopped.clone());
            async move { app.run_timers(Duration::from_secs(60), stop_on(rx)).await }
        }),
        tokio::spawn({
            let (app, rx) = (app.clone(), stopped.clone());
            async move {
                app.run_mail(&mail, Duration::from_secs(5), stop_on(rx))
                    .await
            }
        }),
    ];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = stageflow_api::router(app.clone());
    tokio::spawn(stageflow_api::server::serve(
        listener,
        router,
        stageflow_api::server::ServeOptions::default(),
        std::future::pending::<()>(),
    ));
    let http = reqwest::Client::new();
    let per_branch = n / BRANCHES;

    // One 书记's 待办: the store's query — each 书记's first (their pages
    // cold: the database was just written by another process), then 300
    // more — and the page over HTTP.
    let inbox_of = |i: usize| InboxQuery {
        assignee: format!("b{}-secretary", i % BRANCHES + 1),
        status: "open".into(),
        limit: 50,
        ..Default::default()
    };
    let mut first = Vec::with_capacity(BRANCHES);
    for i in 0..BRANCHES {
        let t = Instant::now();
        store.inbox(&inbox_of(i)).await?;
        first.push(t.elapsed());
    }
    let mut inbox = Vec::with_capacity(QUERIES);
    let mut listed = 0;
    for i in 0..QUERIES {
        let q = inbox_of(i);
        let t = Instant::now();
        listed = store.inbox(&q).await?.len();
        inbox.push(t.elapsed());
    }
    anyhow::ensure!(listed == 50.min(per_branch), "the inbox listed {listed}");
    let mut inbox_http = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        let who = format!("b{}-secretary", i % BRANCHES + 1);
        let t = Instant::now();
        let page: Value = http
            .get(format!(
                "http://{addr}/api/v1/tasks?status=pending&limit=50"
            ))
            .bearer_auth(token_of(&who))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        inbox_http.push(t.elapsed());
        listed = page["tasks"].as_array().map_or(0, Vec::len);
    }
    anyhow::ensure!(
        listed == 50.min(per_branch),
        "the 待办 page listed {listed}"
    );

    // The 党委's 督办台账: the store's query (a page of 100), then the
    // report over HTTP (every overdue task, at most 10,000 rows).
    let mut overdue = Vec::with_capacity(QUERIES / 3);
    let mut rows = 0;
    for _ in 0..QUERIES / 3 {
        let t = Instant::now();
        rows = store
            .open_tasks_under(Some("committee"), Some(later()), 100)
            .await?
            .len();
        overdue.push(t.elapsed());
    }
    anyhow::ensure!(rows == 100.min(n), "the overdue list had {rows} rows");
    let mut report_http = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let report: Value = http
            .get(format!(
                "http://{addr}/api/v1/reports/overdue?org=committee"
            ))
            .bearer_auth(token_of("committee-secretary"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        report_http.push(t.elapsed());
        rows = report.as_array().map_or(0, Vec::len);
    }
    anyhow::ensure!(rows == n.min(10_000), "the 督办台账 had {rows} rows");
    let rss_after = rss_mb();
    let _ = stop.send(true);
    for l in loops {
        l.await?;
    }
    let bytes = db_bytes(&common.db, &location).await?;

    let load_s = loaded["load_s"].as_f64().unwrap_or_default();
    let mut r = Report::new("scale");
    r.set("backend", common.db.as_str())
        .set("n", n)
        .set("load_s", load_s)
        .set(
            "load_instances_per_s",
            rate(n, Duration::from_secs_f64(load_s.max(1e-9))),
        )
        .set("deadlines_fired_s", loaded["fire_s"].clone())
        .set("loader_peak_rss_mb", loaded["loader_peak_rss_mb"].clone())
        .say(format!(
            "{n} open instances loaded in {load_s:.1} s ({} /s, batched starts); their {n} deadlines fired in {:.1} s; the loader took {:.0} s in all (peak RSS {} MB)",
            rate(n, Duration::from_secs_f64(load_s.max(1e-9))),
            loaded["fire_s"].as_f64().unwrap_or_default(),
            load_total.as_secs_f64(),
            loaded["loader_peak_rss_mb"]
        ))
        .latencies("inbox_first", &mut first)
        .latencies("inbox", &mut inbox)
        .latencies("inbox_http", &mut inbox_http)
        .latencies("overdue_query", &mut overdue)
        .latencies("overdue_report_http", &mut report_http)
        .set("overdue_report_rows", rows)
        .set("rss_before_mb", rss_before)
        .set("rss_after_mb", rss_after)
        .say(format!(
            "serving: RSS {rss_before} MB before opening the database, {rss_after} MB after the queries (the router, the timer and mail loops running)"
        ))
        .set("db_bytes", bytes)
        .set("db_bytes_per_instance", bytes / n.max(1) as u64)
        .say(format!(
            "database {:.1} MB, {} bytes per open instance",
            bytes as f64 / 1e6,
            bytes / n.max(1) as u64
        ))
        .memory();
    Ok(r)
}
