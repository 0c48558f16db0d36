//! A real server on a loopback port over a real SQLite file (or, with
//! `STAGEFLOW_TEST_BACKEND=postgres`, a fresh PostgreSQL database), with a
//! manual clock, and a small HTTP client for the tests.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use stageflow_app::{App, Config, ManualClock};
use stageflow_runtime::Runtime;
use stageflow_runtime::directory::StoreDirectory;
use stageflow_store::{PgOptions, PgStore, SqliteOptions, SqliteStore, Store};

pub const ADMIN: &str = "test-admin-token";

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The application the server runs.
    pub app: Arc<App>,
    /// A runtime of the test's own over the same store (mail delivery at
    /// a time of the test's choosing).
    pub runtime: Arc<Runtime>,
    pub tokens: HashMap<String, String>,
    _dir: tempfile::TempDir,
    _pg: Option<crate::pg::FreshDb>,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
}

impl Server {
    /// Starts a server with the demo directory (a 党委, three 党支部, about
    /// thirty people) and the shipped library, at `start` on a manual clock.
    pub async fn start(start: DateTime<Utc>) -> Server {
        Server::start_with(start, Config::default()).await
    }

    /// As [`Server::start`], with a configuration (holiday notices loaded
    /// at start, say); the admin token and the manual clock are the test's.
    pub async fn start_with(start: DateTime<Utc>, config: Config) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stageflow.db");
        let (store, pg): (Arc<dyn Store>, _) = if crate::pg::selected() {
            let db = crate::pg::FreshDb::create().await;
            let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
            (Arc::new(store), Some(db))
        } else {
            let options = SqliteOptions::new(path.display().to_string());
            (Arc::new(SqliteStore::open(&options).await.unwrap()), None)
        };
        let runtime = Arc::new(Runtime::new(
            store.clone(),
            Arc::new(StoreDirectory::new(store.clone())),
        ));
        let app = App::new(
            store.clone(),
            Arc::new(ManualClock::new(start)),
            Config {
                admin_token: Some(ADMIN.into()),
                manual_clock: true,
                ..config
            },
        );
        app.publish_library(&crate::root().join("workflows/library"))
            .await
            .unwrap();
        stageflow_app::demo::seed(&app).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = stageflow_api::router(app.clone());
        tokio::spawn(async move {
            stageflow_api::server::serve(
                listener,
                router,
                stageflow_api::server::ServeOptions::default(),
                std::future::pending::<()>(),
            )
            .await
            .unwrap();
        });
        let mut server = Server {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            store,
            app,
            runtime,
            tokens: HashMap::new(),
            _dir: dir,
            _pg: pg,
        };
        server.tokens.insert("admin".into(), ADMIN.into());
        server
    }

    /// 2026-03-02 09:00 in Shanghai.
    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    /// A token for a person (created once).
    pub async fn token(&mut self, person: &str) -> String {
        if let Some(t) = self.tokens.get(person) {
            return t.clone();
        }
        let t = stageflow_app::caller::new_token();
        self.store
            .put_token(
                &stageflow_app::caller::hash_token(&t),
                person,
                stageflow_store::TokenKind::Personal,
                Self::t0(),
                None,
            )
            .await
            .unwrap();
        self.tokens.insert(person.into(), t.clone());
        t
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            content_type,
        }
    }

    pub async fn get(&mut self, who: &str, path: &str) -> Reply {
        let t = self.token(who).await;
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(t),
        )
        .await
    }

    pub async fn post(&mut self, who: &str, path: &str, body: Value) -> Reply {
        let t = self.token(who).await;
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(t)
                .json(&body),
        )
        .await
    }

    pub async fn patch(&mut self, who: &str, path: &str, body: Value) -> Reply {
        let t = self.token(who).await;
        self.send(
            self.client
                .patch(format!("{}{path}", self.base))
                .bearer_auth(t)
                .json(&body),
        )
        .await
    }

    pub async fn delete(&mut self, who: &str, path: &str) -> Reply {
        let t = self.token(who).await;
        self.send(
            self.client
                .delete(format!("{}{path}", self.base))
                .bearer_auth(t),
        )
        .await
    }

    /// Publishes a definition's YAML as someone.
    pub async fn publish_yaml(&mut self, who: &str, filename: &str, yaml: &str) -> Reply {
        let t = self.token(who).await;
        self.send(
            self.client
                .post(format!(
                    "{}/api/v1/definitions?filename={filename}",
                    self.base
                ))
                .bearer_auth(t)
                .body(yaml.to_string()),
        )
        .await
    }

    pub async fn raw(&self, req: reqwest::RequestBuilder) -> Reply {
        self.send(req).await
    }

    /// Moves the manual clock through the API.
    pub async fn set_clock(&mut self, to: DateTime<Utc>) -> Reply {
        self.post("admin", "/api/v1/admin/clock", json!({ "set": to }))
            .await
    }

    /// Delivers the queued mail to an SMTP sink, as the mail loop does,
    /// with links to this server.
    pub async fn deliver_mail(&self, sink: &crate::smtp::SmtpSink, now: DateTime<Utc>) {
        let mut mail = stageflow_runtime::mail::MailConfig::new(
            stageflow_runtime::mail::Transport::smtp(&sink.url()).unwrap(),
        );
        mail.public_url = self.base.clone();
        // Sign-in links are made after the answer: wait for them first.
        self.app.settled().await;
        stageflow_runtime::mail::deliver_due(&self.runtime, &mail, now)
            .await
            .unwrap();
    }

    /// The pending tasks of a person.
    /// The first event of a type in an instance's history, as `who` reads it.
    pub async fn first_event(&mut self, who: &str, instance: &str, kind: &str) -> Value {
        let h = self
            .get(who, &format!("/api/v1/instances/{instance}/history"))
            .await;
        assert_eq!(h.status, 200, "{}", h.body);
        h.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {}", h.body))
            .clone()
    }

    /// `who`'s task of `step` in the instance `instance` (an instance id
    /// as JSON, e.g. another task's `instance`), from their inbox.
    pub async fn task_of(&mut self, who: &str, step: &str, instance: &Value) -> Value {
        self.inbox(who)
            .await
            .into_iter()
            .find(|t| t["step"] == step && t["instance"] == *instance)
            .unwrap_or_else(|| panic!("{who} has no {step} in {instance}"))
    }

    pub async fn inbox(&mut self, who: &str) -> Vec<Value> {
        let r = self
            .get(who, "/api/v1/tasks?assignee=me&status=pending")
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["tasks"].as_array().cloned().unwrap_or_default()
    }
}
