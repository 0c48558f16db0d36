//! Personal tokens of the API: made with a lifetime (90 days unless asked
//! otherwise), listed and revoked by their owner and by whoever manages
//! every organization the owner belongs to; a revoked or expired token is
//! refused like a forged one. Only a token's SHA-256 is kept; its id is
//! the hash's first 16 hex digits.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use stageflow_store::{TokenInfo, TokenKind};
use utoipa::ToSchema;

use crate::caller::{hash_token, new_token};
use crate::error::{AppError, AppResult};
use crate::policy::{Op, PersonScope, Target};
use crate::{App, Caller};

/// How long a calendar feed link works (days): a year, then the
/// 日历订阅 page makes a new one.
pub const FEED_DAYS: i64 = 365;

/// The longest lifetime of a personal token (days).
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// A stored token (never the token itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    /// Id (the first 16 hex digits of its hash): what `revoke` takes.
    pub id: String,
    /// Whose.
    pub person: String,
    /// `personal`, `session`, `feed`, …
    pub kind: String,
    /// Made at.
    pub created_at: DateTime<Utc>,
    /// Stops working at (absent: made before tokens expired).
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> TokenView {
        TokenView {
            id: t.id,
            person: t.person,
            kind: t.kind,
            created_at: t.created_at,
            expires_at: t.expires_at,
        }
    }
}

/// A token just made: shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewToken {
    /// The token (only its hash is kept: copy it now).
    pub token: String,
    /// What it is.
    #[serde(flatten)]
    pub info: TokenView,
}

impl App {
    /// Makes a personal token for a person (oneself; the operator for
    /// anyone), valid for `days` (the configured default when absent).
    pub async fn create_token(
        &self,
        caller: &Caller,
        person: &str,
        days: Option<i64>,
    ) -> AppResult<NewToken> {
        if caller.person == person && caller.is_admin() {
            return Err(AppError::invalid(
                "not-a-person",
                "管理员令牌不属于任何人员：请为具体人员创建个人令牌（`stageflow token create --person ID`）",
            ));
        }
        let scope = self.token_owner(person).await?;
        self.allow(caller, Op::CreateToken, Target::Person(&scope), || {
            AppError::not_found(format!("找不到人员「{person}」"))
        })?;
        let days = days.unwrap_or(self.config.token_days);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(AppError::invalid(
                "invalid-body",
                format!("令牌有效期应为 1 到 {MAX_TOKEN_DAYS} 天，这里是 {days} 天"),
            ));
        }
        let token = new_token();
        let now = self.now();
        let expires = now + Duration::days(days);
        let hash = hash_token(&token);
        self.store
            .put_token(&hash, person, TokenKind::Personal, now, Some(expires))
            .await?;
        Ok(NewToken {
            token,
            info: TokenView {
                id: hash.chars().take(16).collect(),
                person: person.to_string(),
                kind: TokenKind::Personal.as_str().into(),
                created_at: now,
                expires_at: Some(expires),
            },
        })
    }

    /// A person's live tokens (one's own when `None`; every token for the
    /// operator).
    pub async fn tokens(&self, caller: &Caller, person: Option<&str>) -> AppResult<Vec<TokenView>> {
        let person = match person {
            None if caller.is_admin() => None,
            None => Some(caller.person.clone()),
            Some(p) => Some(p.to_string()),
        };
        if let Some(p) = &person {
            let scope = self.token_owner(p).await?;
            self.allow(caller, Op::ManageTokensOf, Target::Person(&scope), || {
                AppError::not_found(format!("找不到人员「{p}」"))
            })?;
        }
        Ok(self
            .store
            .tokens(person.as_deref(), self.now())
            .await?
            .into_iter()
            .filter_map(listed)
            .collect())
    }

    /// The live tokens of the people of a subtree the caller manages whose
    /// every organization the caller manages (those whose tokens they may
    /// revoke).
    pub async fn tokens_under(&self, caller: &Caller, org: &str) -> AppResult<Vec<TokenView>> {
        self.org_for(caller, org, Op::ReadReports).await?;
        let mut people = Vec::new();
        for p in self.store.people_under(Some(org)).await? {
            // The roles elsewhere count too: the person's whole record.
            let Some(whole) = self.store.person(&p.id).await? else {
                continue;
            };
            let scope = self.person_scope(&whole).await?;
            if crate::policy::check(caller, Op::ManageTokensOf, Target::Person(&scope)).is_ok() {
                people.push(p.id);
            }
        }
        Ok(self
            .store
            .tokens_of(&people, self.now())
            .await?
            .into_iter()
            .filter_map(listed)
            .collect())
    }

    /// Revokes a token by its id.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> AppResult<TokenView> {
        let missing = || AppError::not_found(format!("找不到令牌「{id}」"));
        let is_hex = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex {
            return Err(missing());
        }
        let info = self.store.token_info(id).await?.ok_or_else(missing)?;
        let scope = self.token_owner(&info.person).await?;
        self.allow(caller, Op::ManageTokensOf, Target::Person(&scope), missing)?;
        if !self.store.revoke_token(id).await? {
            return Err(missing());
        }
        Ok(info.into())
    }

    /// A new calendar feed token for oneself; the old ones stop working.
    /// Returns the token (shown once) and whether an old one was revoked.
    pub async fn new_feed_token(&self, caller: &Caller) -> AppResult<(String, bool)> {
        let scope = self.token_owner(&caller.person).await?;
        self.allow(caller, Op::CreateToken, Target::Person(&scope), || {
            AppError::not_found("找不到该人员")
        })?;
        let revoked = self
            .store
            .delete_tokens_of(&caller.person, TokenKind::Feed)
            .await?;
        let token = new_token();
        let now = self.now();
        self.store
            .put_token(
                &hash_token(&token),
                &caller.person,
                TokenKind::Feed,
                now,
                Some(now + Duration::days(FEED_DAYS)),
            )
            .await?;
        Ok((token, revoked > 0))
    }

    async fn token_owner(&self, person: &str) -> AppResult<PersonScope> {
        let p = self
            .store
            .person(person)
            .await?
            .ok_or_else(|| AppError::not_found(format!("找不到人员「{person}」")))?;
        self.person_scope(&p).await
    }
}

/// A token as listed: one-time links (sign-in, e-mail change) are not.
fn listed(t: stageflow_store::TokenInfo) -> Option<TokenView> {
    let one_time = [TokenKind::LoginLink, TokenKind::EmailChange];
    (!one_time.iter().any(|k| t.kind == k.as_str())).then(|| t.into())
}
