//! Signing in to the pages: with a personal token, or with a one-time link
//! sent by mail. Either makes a session token of its own (stored hashed,
//! expiring); signing out deletes it.
//!
//! A request for a mailed link answers the same, at once, for registered
//! and unknown addresses: the lookup, the token and the mail are made
//! after the answer, on a task of their own. Requests are limited per
//! address and per client, so nobody floods a mailbox or walks the
//! directory, and at most one link a minute is mailed to a person.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use stageflow_engine::state::{Mail, Values};
use stageflow_store::TokenKind;
use tokio::sync::Notify;

use crate::caller::{hash_token, new_token};
use crate::error::{AppError, AppResult};
use crate::{App, Config};

/// A new web session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session token (the cookie's value).
    pub token: String,
    /// Whose.
    pub person: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// The limits on mailed sign-in links, and the work they leave running.
pub(crate) struct Limits {
    per_address: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    pending: AtomicUsize,
    settled: Notify,
}

impl Limits {
    pub(crate) fn new(config: &Config) -> Limits {
        let per_hour =
            |n: u32| Quota::per_hour(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Limits {
            per_address: RateLimiter::keyed(per_hour(config.links_per_address)),
            per_client: RateLimiter::keyed(per_hour(config.links_per_client)),
            pending: AtomicUsize::new(0),
            settled: Notify::new(),
        }
    }

    /// Whether another link may go out for this address from this client.
    fn admit(&self, address: &str, client: IpAddr) -> bool {
        // Keys of quiet addresses are forgotten, so the limiter's memory
        // stays bounded.
        if self.per_address.len() > 10_000 {
            self.per_address.retain_recent();
            self.per_client.retain_recent();
        }
        self.per_client.check_key(&client).is_ok()
            && self.per_address.check_key(&address.to_string()).is_ok()
    }
}

impl App {
    /// Signs in with a personal token: a new session.
    pub async fn sign_in_with_token(&self, token: &str) -> AppResult<Session> {
        let person = self
            .store
            .token_person(&hash_token(token.trim()), TokenKind::Personal, self.now())
            .await?
            .ok_or_else(|| AppError::unauthorized("令牌无效、已过期或已被撤销"))?;
        self.start_session(&person).await
    }

    /// Signs in with a mailed link (it works once, within its time).
    pub async fn sign_in_with_link(&self, token: &str) -> AppResult<Session> {
        let person = self
            .store
            .take_token(&hash_token(token.trim()), TokenKind::LoginLink, self.now())
            .await?
            .ok_or_else(|| {
                AppError::unauthorized(format!(
                    "登录链接无效或已过期（{} 分钟内有效，仅可使用一次），请重新获取。",
                    self.config.link_minutes
                ))
            })?;
        self.start_session(&person).await
    }

    async fn start_session(&self, person: &str) -> AppResult<Session> {
        let token = new_token();
        let now = self.now();
        let expires_at = now + Duration::hours(self.config.session_hours);
        self.store
            .put_token(
                &hash_token(&token),
                person,
                TokenKind::Session,
                now,
                Some(expires_at),
            )
            .await?;
        Ok(Session {
            token,
            person: person.to_string(),
            expires_at,
        })
    }

    /// Ends a session.
    pub async fn sign_out(&self, session_token: &str) -> AppResult<()> {
        self.store.delete_token(&hash_token(session_token)).await?;
        Ok(())
    }

    /// Asks for a sign-in link by mail. The answer is the same whether the
    /// address is registered or not, and comes before any of the work;
    /// too many requests for the address or from the client are refused
    /// (429) alike.
    pub fn request_login_link(self: &Arc<Self>, email: &str, client: IpAddr) -> AppResult<()> {
        let email = email.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 || email.chars().any(char::is_control) {
            return Err(AppError::invalid("invalid-body", "请填写邮箱地址"));
        }
        if !self.limits.admit(&email, client) {
            return Err(AppError::too_many(
                "too-many-links",
                "请求过于频繁，请稍后再试",
            ));
        }
        let app = self.clone();
        self.limits.pending.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            if let Err(e) = app.send_login_link(&email).await {
                tracing::warn!(error = %e, "a sign-in link could not be made");
            }
            if app.limits.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                app.limits.settled.notify_waiters();
            }
        });
        Ok(())
    }

    async fn send_login_link(&self, email: &str) -> AppResult<()> {
        // An address two people share (a directory from before addresses
        // were unique) signs neither in: a link must not pick one by id.
        let person = match self.store.people_by_email(email).await?.as_slice() {
            [one] => one.clone(),
            _ => return Ok(()),
        };
        let now = self.now();
        let minutes = self.config.link_minutes;
        let token = new_token();
        self.store
            .put_token(
                &hash_token(&token),
                &person,
                TokenKind::LoginLink,
                now,
                Some(now + Duration::minutes(minutes)),
            )
            .await?;
        let mut vars = Values::new();
        vars.insert("login".into(), token.into());
        vars.insert("reason".into(), format!("{minutes} 分钟").into());
        let mail = Mail {
            // At most one link a minute goes out per person: the outbox
            // keeps the first mail of a key.
            key: format!("login:{person}:{}", now.timestamp() / 60),
            to: person,
            kind: "login_link".into(),
            vars,
        };
        self.runtime.queue_mail(&mail, now).await?;
        Ok(())
    }

    /// Waits until the sign-in work begun by earlier requests is done (for
    /// tests, which then read the mail it queued).
    pub async fn settled(&self) {
        loop {
            let notified = self.limits.settled.notified();
            if self.limits.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}
