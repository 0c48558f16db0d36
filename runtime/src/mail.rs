//! Mail delivery: the outbox worker.
//!
//! Mails are rows in the outbox, written in the same transaction as the
//! state change that caused them. The worker claims due rows with a lease,
//! renders them (handlebars, strict, Simplified Chinese by default, an
//! English set too, overridable per definition), and sends them over SMTP
//! (lettre) — or, with no SMTP configured, writes `.eml` files. A failed
//! attempt is retried with exponential backoff; after `max_attempts` the
//! mail is marked failed and listed by the API; nothing is dropped
//! silently. The Message-ID is derived from the idempotency key, so a
//! crash between sending and recording cannot make two different mails
//! for one reminder: a retry sends the same message again, which receiving
//! systems deduplicate by its Message-ID.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use handlebars::Handlebars;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use stageflow_engine::state::Values;
use stageflow_store::{OutboxMail, Store};

use crate::Runtime;

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server (lettre URL form: `smtp://host:port`, `smtps://…`,
    /// `smtp://user:pass@host:587?tls=required`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a directory (the default when no SMTP is configured).
    Files(PathBuf),
}

impl Transport {
    /// An SMTP transport from a lettre URL.
    pub fn smtp(url: &str) -> Result<Transport, String> {
        let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("bad SMTP URL '{url}': {e}"))?;
        Ok(Transport::Smtp(
            t.timeout(Some(std::time::Duration::from_secs(20))).build(),
        ))
    }
}

/// Language of the built-in templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Simplified Chinese.
    #[default]
    Chinese,
    /// English.
    English,
}

/// Mail settings.
#[derive(Clone)]
pub struct MailConfig {
    /// Where mail goes.
    pub transport: Transport,
    /// The sender.
    pub from: Mailbox,
    /// Base URL of the web pages, for links to tasks.
    pub public_url: String,
    /// Attempts before a mail is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubled after each failure (at most one hour).
    pub backoff: Duration,
    /// Built-in template language.
    pub language: Language,
}

impl MailConfig {
    /// Defaults around a transport.
    pub fn new(transport: Transport) -> MailConfig {
        MailConfig {
            transport,
            from: "stageflow <noreply@stageflow.local>"
                .parse()
                .unwrap_or_else(|_| {
                    Mailbox::new(
                        None,
                        "noreply@stageflow.local".parse().expect("valid address"),
                    )
                }),
            public_url: "http://127.0.0.1:8080".into(),
            max_attempts: 8,
            backoff: Duration::seconds(30),
            language: Language::Chinese,
        }
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Sent.
    pub sent: usize,
    /// Failed and scheduled for a retry.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

const ZH: &[(&str, &str, &str)] = &[
    (
        "task_assigned",
        "【待办】{{workflow}}：{{step}}",
        "{{recipient}}，您好：\n\n「{{workflow}}」（{{subject}}）有一项待办需要您办理。\n\n事项：{{step}}（{{stage}}）\n期限：{{due}}\n\n办理入口：{{link}}\n",
    ),
    (
        "reminder",
        "【提醒】{{step}} 将于 {{due}} 到期",
        "{{recipient}}，您好：\n\n「{{workflow}}」（{{subject}}）中的「{{step}}」将于 {{due}} 到期，请及时办理。{{reason}}\n\n办理入口：{{link}}\n",
    ),
    (
        "overdue",
        "【逾期】{{step}} 已超过期限（{{due}}）",
        "{{recipient}}，您好：\n\n「{{workflow}}」（{{subject}}）中的「{{step}}」已超过期限（{{due}}），请尽快办理。\n\n办理入口：{{link}}\n",
    ),
    (
        "escalation",
        "【督办】{{step}} 已逾期",
        "{{recipient}}，您好：\n\n{{reason}}\n\n「{{workflow}}」（{{subject}}），期限：{{due}}。请督促办理。\n\n查看：{{link}}\n",
    ),
    (
        "notice",
        "【抄送】{{workflow}}：{{step}}",
        "{{recipient}}，您好：\n\n「{{workflow}}」（{{subject}}）中的「{{step}}」抄送给您，供知悉。{{reason}}\n\n查看：{{link}}\n",
    ),
    (
        "urge",
        "【催办】{{step}}（期限 {{due}}）",
        "{{recipient}}，您好：\n\n{{actor}} 催办：「{{workflow}}」（{{subject}}）中的「{{step}}」正等待您办理，期限：{{due}}。请尽快办理。\n\n办理入口：{{link}}\n",
    ),
    (
        "login_link",
        "【登录】您的登录链接",
        "{{recipient}}，您好：\n\n请点击以下链接登录（{{reason}}内有效，仅可使用一次）：\n\n{{link}}\n\n如非本人操作，请忽略本邮件。\n",
    ),
    (
        "email_change",
        "【确认】更改登录邮箱",
        "{{recipient}}，您好：\n\n有人请求将您的邮箱更改为 {{email}}。如确为本人操作，请打开以下链接确认（{{reason}}内有效，仅可使用一次）：\n\n{{link}}\n\n如非本人操作，请忽略本邮件，邮箱不会更改。\n",
    ),
];

const EN: &[(&str, &str, &str)] = &[
    (
        "task_assigned",
        "[To do] {{workflow}}: {{step}}",
        "Dear {{recipient}},\n\n\"{{workflow}}\" ({{subject}}) has a task for you.\n\nTask: {{step}} ({{stage}})\nDue: {{due}}\n\nOpen: {{link}}\n",
    ),
    (
        "reminder",
        "[Reminder] {{step}} is due {{due}}",
        "Dear {{recipient}},\n\n\"{{step}}\" in \"{{workflow}}\" ({{subject}}) is due {{due}}. {{reason}}\n\nOpen: {{link}}\n",
    ),
    (
        "overdue",
        "[Overdue] {{step}} was due {{due}}",
        "Dear {{recipient}},\n\n\"{{step}}\" in \"{{workflow}}\" ({{subject}}) was due {{due}}.\n\nOpen: {{link}}\n",
    ),
    (
        "escalation",
        "[Escalation] {{step}} is overdue",
        "Dear {{recipient}},\n\n{{reason}}\n\n\"{{workflow}}\" ({{subject}}), due {{due}}.\n\nOpen: {{link}}\n",
    ),
    (
        "notice",
        "[For your information] {{workflow}}: {{step}}",
        "Dear {{recipient}},\n\n\"{{step}}\" in \"{{workflow}}\" ({{subject}}) was copied to you. {{reason}}\n\nOpen: {{link}}\n",
    ),
    (
        "urge",
        "[Urged] {{step}} (due {{due}})",
        "Dear {{recipient}},\n\n{{actor}} asks you to act on \"{{step}}\" in \"{{workflow}}\" ({{subject}}), due {{due}}.\n\nOpen: {{link}}\n",
    ),
    (
        "login_link",
        "[Sign in] Your sign-in link",
        "Dear {{recipient}},\n\nOpen this link to sign in (valid for {{reason}}, once):\n\n{{link}}\n\nIf you did not ask for it, ignore this mail.\n",
    ),
    (
        "email_change",
        "[Confirm] Change of your e-mail address",
        "Dear {{recipient}},\n\nSomeone asked to change your e-mail address to {{email}}. If it was you, open this link to confirm (valid for {{reason}}, once):\n\n{{link}}\n\nIf it was not, ignore this mail: nothing changes.\n",
    ),
];

/// `2026年4月2日 星期四` (Beijing dates are what deadlines are stated in).
pub fn chinese_date(d: NaiveDate) -> String {
    let w = match d.weekday() {
        Weekday::Mon => "一",
        Weekday::Tue => "二",
        Weekday::Wed => "三",
        Weekday::Thu => "四",
        Weekday::Fri => "五",
        Weekday::Sat => "六",
        Weekday::Sun => "日",
    };
    format!("{}年{}月{}日 星期{w}", d.year(), d.month(), d.day())
}

/// Renders a mail of a kind with the definition's template or the built-in
/// one. Strict: a missing variable is an error (validation catches it in
/// definitions; the built-in templates use only variables always present).
pub fn render(
    kind: &str,
    vars: &Values,
    overrides: &std::collections::BTreeMap<String, stageflow_engine::model::MailTemplate>,
    language: Language,
) -> Result<Rendered, String> {
    let (subject, body) = match overrides.get(kind) {
        Some(t) => (t.subject.clone(), t.body.clone()),
        None => {
            let set = if language == Language::English {
                EN
            } else {
                ZH
            };
            let (_, s, b) = set
                .iter()
                .find(|(k, _, _)| *k == kind)
                .or_else(|| set.iter().find(|(k, _, _)| *k == "notice"))
                .ok_or("no template")?;
            (s.to_string(), b.to_string())
        }
    };
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    let data = serde_json::Value::Object(vars.clone());
    Ok(Rendered {
        subject: hb
            .render_template(&subject, &data)
            .map_err(|e| format!("template '{kind}' subject: {e}"))?,
        body: hb
            .render_template(&body, &data)
            .map_err(|e| format!("template '{kind}' body: {e}"))?,
    })
}

/// The Message-ID of a mail, derived from its idempotency key.
pub fn message_id(key: &str) -> String {
    format!(
        "<{}@stageflow.local>",
        &hex::encode(Sha256::digest(key.as_bytes()))[..32]
    )
}

/// Sends what is due. Call it in a loop (see `serve`) or from tests.
pub async fn deliver_due(
    runtime: &Runtime,
    config: &MailConfig,
    now: DateTime<Utc>,
) -> Result<Delivery, stageflow_store::StoreError> {
    let store: &Arc<dyn Store> = runtime.store();
    let mut report = Delivery::default();
    loop {
        let batch = store
            .claim_mail(now, now + Duration::minutes(5), 100)
            .await?;
        if batch.is_empty() {
            return Ok(report);
        }
        for mail in batch {
            // A stall past the lease (another node took the mail over):
            // do not send it a second time.
            if !store
                .mail_lease_held(&mail.mail.key, mail.lease, now)
                .await?
            {
                tracing::warn!(key = %mail.mail.key, "mail lease lost before sending; left to its new holder");
                continue;
            }
            match send_one(runtime, config, &mail).await {
                Ok(()) => {
                    if !store.mail_sent(&mail.mail.key, mail.lease, now).await? {
                        tracing::warn!(key = %mail.mail.key, "mail sent after its lease was taken over");
                    }
                    report.sent += 1;
                }
                Err(e) => {
                    let attempt = mail.attempts + 1;
                    if attempt >= config.max_attempts {
                        tracing::error!(key = %mail.mail.key, error = %e, "mail failed for good");
                        store
                            .mail_attempt_failed(&mail.mail.key, mail.lease, &e, None, now)
                            .await?;
                        report.failed += 1;
                    } else {
                        let delay = config.backoff * 2i32.saturating_pow(attempt.min(16) - 1);
                        let delay = delay.min(Duration::hours(1));
                        tracing::warn!(key = %mail.mail.key, error = %e, attempt, "mail not sent; will retry");
                        store
                            .mail_attempt_failed(
                                &mail.mail.key,
                                mail.lease,
                                &e,
                                Some(now + delay),
                                now,
                            )
                            .await?;
                        report.retried += 1;
                    }
                }
            }
        }
    }
}

async fn send_one(runtime: &Runtime, config: &MailConfig, mail: &OutboxMail) -> Result<(), String> {
    let store = runtime.store();
    let person = store
        .person(&mail.mail.to)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("person '{}' does not exist", mail.mail.to))?;
    let email = person
        .email
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| format!("person '{}' has no email address", person.id))?;
    let instance = store
        .instance(mail.instance)
        .await
        .map_err(|e| e.to_string())?;
    let templates = match &instance {
        Some(i) => runtime
            .definition(&i.definition, Some(i.version))
            .await
            .map(|d| d.templates.clone())
            .unwrap_or_default(),
        None => Default::default(),
    };
    let mut vars = mail.mail.vars.clone();
    vars.insert("recipient".into(), person.name.clone().into());
    let base = config.public_url.trim_end_matches('/');
    let link = match (
        vars.get("task").and_then(|t| t.as_str()),
        vars.get("login").and_then(|t| t.as_str()),
        vars.get("confirm_email").and_then(|t| t.as_str()),
    ) {
        (Some(task), _, _) => format!("{base}/tasks/{task}"),
        (None, Some(token), _) => format!("{base}/login/link?token={token}"),
        (None, None, Some(token)) => format!("{base}/email/confirm?token={token}"),
        (None, None, None) => format!(
            "{}/instances/{}",
            config.public_url.trim_end_matches('/'),
            mail.instance
        ),
    };
    vars.insert("link".into(), link.into());
    let due = vars
        .get("due")
        .and_then(|d| d.as_str())
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let due_text = match (due, config.language) {
        (Some(d), Language::Chinese) => format!("{}（当日24时前）", chinese_date(d)),
        (Some(d), Language::English) => {
            format!("{} (end of day, Beijing time)", d.format("%A %-d %B %Y"))
        }
        (None, Language::Chinese) => "无期限".to_string(),
        (None, Language::English) => "no deadline".to_string(),
    };
    vars.insert("due".into(), due_text.into());
    // Subjects are person or organization ids; show the name when known.
    if let Some(subject) = vars
        .get("subject")
        .and_then(|s| s.as_str())
        .map(str::to_string)
    {
        if let Ok(Some(p)) = store.person(&subject).await {
            vars.insert("subject".into(), p.name.into());
        } else if let Ok(Some(o)) = store.org(&subject).await {
            vars.insert("subject".into(), o.name.into());
        }
    }
    if let Some(actor) = vars
        .get("actor")
        .and_then(|s| s.as_str())
        .map(str::to_string)
        && let Ok(Some(p)) = store.person(&actor).await
    {
        vars.insert("actor".into(), p.name.into());
    }
    for v in [
        "workflow", "instance", "stage", "step", "task", "subject", "reason", "actor", "email",
    ] {
        vars.entry(v.to_string()).or_insert_with(|| "".into());
    }
    let rendered = render(&mail.mail.kind, &vars, &templates, config.language)?;
    // The name goes in as a display name lettre quotes as it must (a name
    // like `张"三` still gets mail); only the address is parsed.
    let address: lettre::Address = email
        .trim()
        .parse()
        .map_err(|e| format!("bad address '{email}': {e}"))?;
    let to = Mailbox::new(Some(person.name.clone()), address);
    let message = Message::builder()
        .from(config.from.clone())
        .to(to)
        .subject(rendered.subject)
        .message_id(Some(message_id(&mail.mail.key)))
        .header(ContentType::TEXT_PLAIN)
        .body(rendered.body)
        .map_err(|e| e.to_string())?;
    match &config.transport {
        Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        Transport::Files(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| e.to_string())?;
            let name = format!(
                "{}.eml",
                &hex::encode(Sha256::digest(mail.mail.key.as_bytes()))[..32]
            );
            tokio::fs::write(dir.join(name), message.formatted())
                .await
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_the_chinese_way() {
        assert_eq!(
            chinese_date(NaiveDate::from_ymd_opt(2026, 4, 2).unwrap()),
            "2026年4月2日 星期四"
        );
    }

    #[test]
    fn built_in_templates_render_with_the_variables_the_engine_sends() {
        let mut vars = Values::new();
        for v in [
            "workflow",
            "instance",
            "stage",
            "step",
            "task",
            "due",
            "subject",
            "reason",
            "recipient",
            "link",
            "actor",
            "email",
        ] {
            vars.insert(v.into(), format!("<{v}>").into());
        }
        for lang in [Language::Chinese, Language::English] {
            for (kind, _, _) in ZH {
                let r = render(kind, &vars, &Default::default(), lang).unwrap();
                assert!(r.body.contains("<link>"), "{kind}");
            }
        }
        vars.remove("step");
        assert!(
            render("reminder", &vars, &Default::default(), Language::Chinese).is_err(),
            "strict: a missing variable fails"
        );
        assert_eq!(message_id("k"), message_id("k"));
        assert_ne!(message_id("k"), message_id("k2"));
    }
}
