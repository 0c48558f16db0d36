//! `stageflow serve` and `stageflow token create`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use stageflow_api::{AppState, Clock, Config, ManualClock, SystemClock};
use stageflow_runtime::Runtime;
use stageflow_runtime::directory::StoreDirectory;

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
    /// Base URL of the web pages, used for the links in mail (default http://LISTEN)
    #[arg(long, env = "STAGEFLOW_PUBLIC_URL")]
    public_url: Option<String>,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a person; prints the token alone on stdout
    Create {
        #[command(flatten)]
        db: crate::db::DbArgs,
        /// Person id
        #[arg(long)]
        person: String,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create { db, person } = command;
    runtime()?.block_on(async {
        let store = db.open().await?;
        let token = stageflow_api::auth::new_token();
        store
            .put_token(
                &stageflow_api::auth::hash_token(&token),
                &person,
                stageflow_store::TokenKind::Personal,
                chrono::Utc::now(),
                None,
            )
            .await
            .with_context(|| format!("creating a token for '{person}'"))?;
        println!("{token}");
        Ok(ExitCode::SUCCESS)
    })
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "stageflow=info,stageflow_api=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    runtime()?.block_on(serve_async(args))
}

async fn serve_async(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open().await?;
    let runtime = Arc::new(Runtime::new(
        store.clone(),
        Arc::new(StoreDirectory::new(store.clone())),
    ));
    runtime
        .follow_other_nodes()
        .await
        .context("listening for the other nodes' wake-ups")?;
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
        admin_token = Some(stageflow_api::auth::new_token());
    }
    let published = stageflow_api::library::publish_dir(&runtime, &args.library, clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("publishing {}: {e}", args.library.display()))?;
    tracing::info!(definitions = ?published, "library published");
    let state = AppState {
        store,
        runtime,
        clock,
        config: Arc::new(Config {
            admin_token: admin_token.clone(),
            manual_clock: manual,
        }),
    };
    if args.demo {
        let logins = stageflow_api::demo::seed(&state)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
        println!("演示数据已就绪。登录令牌（Authorization: Bearer <令牌>）：");
        if let Some(t) = &admin_token
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
    }
    let transport = match &args.smtp {
        Some(url) => {
            stageflow_runtime::mail::Transport::smtp(url).map_err(|e| anyhow::anyhow!(e))?
        }
        None => stageflow_runtime::mail::Transport::Files(args.mail_dir.clone()),
    };
    let mut mail = stageflow_runtime::mail::MailConfig::new(transport);
    mail.from = args
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("bad --mail-from '{}': {e}", args.mail_from))?;
    mail.public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    mail.language = match args.mail_lang.as_str() {
        "zh" => stageflow_runtime::mail::Language::Chinese,
        "en" => stageflow_runtime::mail::Language::English,
        other => bail!("unknown mail language '{other}' (zh or en)"),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(listen = %args.listen, db = %crate::db::redacted(&args.db.db), clock = %args.clock, "stageflow serving");
    println!("stageflow listening on http://{}", args.listen);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let timers = {
        let state = state.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(async move {
            // A manual clock moves only by request; the request fires timers.
            if manual {
                let _ = rx.changed().await;
                return;
            }
            stageflow_api::run_timers(state, Duration::from_secs(30), async move {
                let _ = rx.changed().await;
            })
            .await;
        })
    };
    let mailer = {
        let state = state.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(async move {
            stageflow_api::run_mail(state, mail, Duration::from_secs(5), async move {
                let _ = rx.changed().await;
            })
            .await;
        })
    };
    let app = stageflow_api::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await?;
    let _ = stop_tx.send(true);
    let _ = timers.await;
    let _ = mailer.await;
    drop(stop_rx);
    Ok(ExitCode::SUCCESS)
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
