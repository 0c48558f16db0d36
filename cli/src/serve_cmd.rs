//! `stageflow serve`: the HTTP API and the pages over the database, with
//! the timer, schedule and mail loops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use stageflow_api::edges::Edges;
use stageflow_api::server::ServeOptions;
use stageflow_app::{
    App, Clock, Config, MailConfig, MailLanguage, MailTransport, ManualClock, SystemClock,
};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "STAGEFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: crate::db::DbArgs,
    /// Definitions published at start
    #[arg(long, env = "STAGEFLOW_LIBRARY", default_value = "workflows/library")]
    library: PathBuf,
    /// Seed a sample 党委 with three 党支部 and print one token per role
    #[arg(long)]
    demo: bool,
    /// `system`, or `manual` for tests (enables POST /api/v1/admin/clock)
    #[arg(long, env = "STAGEFLOW_CLOCK", default_value = "system")]
    clock: String,
    /// Start time of a manual clock (RFC 3339; default: now)
    #[arg(long)]
    clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// SMTP server in lettre's URL form (smtp://host:port, smtps://…, ?tls=required);
    /// without it mail is written as .eml files into --mail-dir
    #[arg(long, env = "STAGEFLOW_SMTP_URL")]
    smtp: Option<String>,
    /// Where .eml files go when no SMTP server is configured
    #[arg(long, env = "STAGEFLOW_MAIL_DIR", default_value = "mail")]
    mail_dir: PathBuf,
    /// The sender of reminder mail
    #[arg(
        long,
        env = "STAGEFLOW_MAIL_FROM",
        default_value = "stageflow <noreply@stageflow.local>"
    )]
    mail_from: String,
    /// Language of the built-in mail templates: zh or en
    #[arg(long, env = "STAGEFLOW_MAIL_LANG", default_value = "zh")]
    mail_lang: String,
    /// Base URL of the web pages, used for the links in mail (default http://LISTEN);
    /// an https:// URL turns HSTS on
    #[arg(long, env = "STAGEFLOW_PUBLIC_URL")]
    public_url: Option<String>,
    /// Seconds a client may take to send a request's headers (and an idle
    /// keep-alive connection may stay open)
    #[arg(long, env = "STAGEFLOW_HEADER_TIMEOUT", default_value_t = 20)]
    header_timeout: u64,
    /// Seconds a request may take, its body included
    #[arg(long, env = "STAGEFLOW_REQUEST_TIMEOUT", default_value_t = 60)]
    request_timeout: u64,
    /// Most connections held open at once (default: under the open-file limit)
    #[arg(long, env = "STAGEFLOW_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Days a personal token made by `token create` lives by default
    #[arg(long, env = "STAGEFLOW_TOKEN_DAYS", default_value_t = 90)]
    token_days: i64,
    #[command(flatten)]
    holidays: crate::calendar_cmd::HolidayArgs,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "stageflow=info,stageflow_api=info,stageflow_app=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    crate::db::runtime()?.block_on(serve_async(args))
}

async fn serve_async(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Bind first: a busy port fails before anything is seeded or printed.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (is another stageflow running there? pick another address with --listen)",
                args.listen
            )
        })?;
    let (clock, manual): (Arc<dyn Clock>, bool) = match args.clock.as_str() {
        "system" => (Arc::new(SystemClock), false),
        "manual" => (
            Arc::new(ManualClock::new(
                args.clock_start.unwrap_or_else(chrono::Utc::now),
            )),
            true,
        ),
        other => bail!("unknown clock '{other}' (system or manual)"),
    };
    let mut admin_token = std::env::var("STAGEFLOW_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if args.demo && admin_token.is_none() {
        admin_token = Some(stageflow_app::caller::new_token());
    }
    let holidays = args.holidays.load()?;
    for (year, path) in &holidays.files {
        tracing::info!(year, file = %path.display(), "holiday notice loaded");
    }
    let config = Config {
        holidays: args.holidays.holidays.is_some().then_some(holidays),
        admin_token: admin_token.clone(),
        manual_clock: manual,
        token_days: args.token_days,
        crash_after_commit: std::env::var("STAGEFLOW_TEST_CRASH_AFTER_COMMIT").as_deref()
            == Ok("1"),
        ..Config::default()
    };
    let app = args.db.open_with(clock, config).await?;
    let published = app
        .publish_library(&args.library)
        .await
        .map_err(|e| anyhow::anyhow!("publishing {}: {e}", args.library.display()))?;
    tracing::info!(definitions = ?published, "library published");
    if args.demo {
        seed_demo(&app, &args, admin_token.as_deref()).await?;
    }
    let mail = mail_config(&args)?;
    // As many connections as the open-file limit allows (raised to its
    // hard limit), less room for the database and the log.
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let mut options = ServeOptions::for_file_limit(files);
    if let Some(n) = args.max_connections {
        options.max_connections = n.min(options.max_connections);
    }
    options.header_read_timeout = Duration::from_secs(args.header_timeout.max(1));
    let edges = Edges {
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        https: mail.public_url.starts_with("https://"),
    };
    tracing::info!(listen = %args.listen, db = %crate::db::redacted(&args.db.db), clock = %args.clock,
        max_connections = options.max_connections, "stageflow serving");
    println!("stageflow listening on http://{}", args.listen);
    let loops = Loops::start(&app, mail, manual);
    let router = stageflow_api::router_with(app, &edges);
    stageflow_api::server::serve(listener, router, options, async {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
    .await?;
    loops.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Seeds the demo directory and prints who can sign in with what.
async fn seed_demo(app: &App, args: &ServeArgs, admin_token: Option<&str>) -> anyhow::Result<()> {
    let logins = stageflow_app::demo::seed(app)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
    println!("演示数据已就绪。登录令牌（Authorization: Bearer <令牌>，30 天内有效）：");
    if let Some(t) = admin_token
        && std::env::var("STAGEFLOW_ADMIN_TOKEN").is_err()
    {
        println!("  {:<24} {:<18} {t}", "管理员 (admin)", "admin");
    }
    for l in &logins {
        println!("  {:<24} {:<18} {}", l.label, l.person, l.token);
    }
    println!(
        "网页：打开 http://{}/login ，用上面任一人员的令牌登录（管理员令牌只用于 API；例如入党申请人的令牌，可办理“递交入党申请书”；县委组织部的令牌可看到全部控制台）。",
        args.listen
    );
    println!(
        "试一试：curl -H 'Authorization: Bearer {}' 'http://{}/api/v1/tasks?assignee=me&status=pending'",
        logins[0].token, args.listen
    );
    Ok(())
}

/// How mail goes out, from the flags.
fn mail_config(args: &ServeArgs) -> anyhow::Result<MailConfig> {
    let transport = match &args.smtp {
        Some(url) => MailTransport::smtp(url).map_err(|e| anyhow::anyhow!(e))?,
        None => MailTransport::Files(args.mail_dir.clone()),
    };
    let mut mail = MailConfig::new(transport);
    mail.from = args
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("bad --mail-from '{}': {e}", args.mail_from))?;
    mail.public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    mail.language = match args.mail_lang.as_str() {
        "zh" => MailLanguage::Chinese,
        "en" => MailLanguage::English,
        other => bail!("unknown mail language '{other}' (zh or en)"),
    };
    Ok(mail)
}

/// The timer and mail loops beside the server.
struct Loops {
    stop: tokio::sync::watch::Sender<bool>,
    timers: tokio::task::JoinHandle<()>,
    mailer: tokio::task::JoinHandle<()>,
}

impl Loops {
    fn start(app: &Arc<App>, mail: MailConfig, manual: bool) -> Loops {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.changed().await;
        };
        let timers = {
            let app = app.clone();
            let rx = stop_rx.clone();
            tokio::spawn(async move {
                // A manual clock moves only by request; the request fires
                // timers.
                if manual {
                    stopped(rx).await;
                    return;
                }
                app.run_timers(Duration::from_secs(30), stopped(rx)).await;
            })
        };
        let mailer = {
            let app = app.clone();
            tokio::spawn(async move {
                app.run_mail(&mail, Duration::from_secs(5), stopped(stop_rx))
                    .await;
            })
        };
        Loops {
            stop,
            timers,
            mailer,
        }
    }

    /// The loops finish what they hold (a mail being sent, a fire under
    /// way) for a few seconds; what is left is picked up by the next start
    /// (leases).
    async fn stop(self) {
        let _ = self.stop.send(true);
        let loops = async {
            let _ = self.timers.await;
            let _ = self.mailer.await;
        };
        if tokio::time::timeout(Duration::from_secs(5), loops)
            .await
            .is_err()
        {
            tracing::warn!("the timer or mail loop was still busy: left to the next start");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
