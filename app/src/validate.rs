//! What may be written: ids from a safe alphabet, names and addresses
//! without control characters, dates as `YYYY-MM-DD`. Checked on every
//! write; `stageflow migrate` reports stored data that breaks the rules
//! (it changes nothing).

use chrono::NaiveDate;

use crate::App;
use crate::error::{AppError, AppResult};

/// The longest id.
pub const MAX_ID: usize = 64;
/// The longest name.
pub const MAX_NAME: usize = 100;

/// Ids the system records for itself (the admin, the command line, the
/// scheduler): nobody may be given one, in any case.
pub const RESERVED_IDS: &[&str] = &[
    "admin",
    "operator",
    "scheduler",
    "system",
    "anonymous",
    "me",
];

/// Whether an id is one the system keeps for itself.
pub fn is_reserved(id: &str) -> bool {
    RESERVED_IDS.iter().any(|r| r.eq_ignore_ascii_case(id))
}

/// Whether an id is made of the safe alphabet: an ASCII letter or digit,
/// then letters, digits, `-` and `_`, at most [`MAX_ID`] characters. Ids
/// appear in URL paths and in the organization tree's paths, so `/`, `%`,
/// `.`, spaces and anything else are refused.
pub fn is_safe_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && id.len() <= MAX_ID
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What an id is for, as people read it (`person` → 人员).
fn kind_word(what: &str) -> &str {
    match what {
        "person" => "人员",
        "organization" => "组织",
        "workflow" => "流程",
        "role" => "角色",
        other => other,
    }
}

/// Refuses an id outside the safe alphabet, naming what it is for.
pub fn id(what: &str, id: &str) -> AppResult<()> {
    let what = kind_word(what);
    if is_reserved(id) {
        Err(AppError::invalid(
            "invalid-id",
            format!(
                "{what} id「{id}」由系统保留（系统自用的 id：{}），请另选一个",
                RESERVED_IDS.join("、")
            ),
        ))
    } else if is_safe_id(id) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "invalid-id",
            format!(
                "{what} id「{}」不可用：只能由 1–{MAX_ID} 个 ASCII 字母、数字、`-` 和 `_` 组成，并以字母或数字开头",
                shown(id)
            ),
        ))
    }
}

/// Refuses an empty or overlong name, or one with control characters.
pub fn name(what: &str, name: &str) -> AppResult<()> {
    if name.trim().is_empty() {
        return Err(AppError::invalid(
            "invalid-body",
            format!("`{what}` 不能为空"),
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(AppError::invalid(
            "invalid-body",
            format!("`{what}` 超过 {MAX_NAME} 个字符"),
        ));
    }
    no_controls(what, name)
}

/// Refuses control characters (a line break in a name, a NUL in a phone
/// number) in a one-line value.
pub fn no_controls(what: &str, value: &str) -> AppResult<()> {
    if value.chars().any(char::is_control) {
        Err(AppError::invalid(
            "invalid-body",
            format!("`{what}` 不能含控制字符（换行、制表符、NUL）"),
        ))
    } else {
        Ok(())
    }
}

/// Refuses an address mail cannot go to.
pub fn email(email: &str) -> AppResult<()> {
    no_controls("email", email)?;
    if email.len() > 254 || email.trim() != email || email.parse::<lettre::Address>().is_err() {
        return Err(AppError::invalid(
            "invalid-body",
            format!(
                "「{}」不是有效的邮箱地址（应形如 name@example.org）",
                shown(email)
            ),
        ));
    }
    Ok(())
}

/// Refuses a date not written `YYYY-MM-DD`.
pub fn date(what: &str, value: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        AppError::invalid(
            "invalid-body",
            format!(
                "`{what}` 的值「{}」不是日期（应写作 YYYY-MM-DD）",
                shown(value)
            ),
        )
    })
}

/// A value as a message may quote it: control characters escaped, cut
/// to a readable length.
fn shown(value: &str) -> String {
    value
        .chars()
        .take(80)
        .flat_map(char::escape_debug)
        .collect()
}

/// Something stored that breaks the rules of [`is_safe_id`] (reported by
/// `stageflow migrate`, never changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offender {
    /// `organization`, `person` or `definition`.
    pub kind: &'static str,
    /// The id.
    pub id: String,
}

impl App {
    /// Stored ids that break the safe alphabet: organizations, people and
    /// definitions made before the rule (or written around it).
    pub async fn unsafe_ids(&self) -> AppResult<Vec<Offender>> {
        let mut out = Vec::new();
        for o in self.store.orgs_under(None, None).await? {
            if !is_safe_id(&o.id) {
                out.push(Offender {
                    kind: "organization",
                    id: o.id,
                });
            }
        }
        for p in self.store.people_under(None).await? {
            if !is_safe_id(&p.id) || is_reserved(&p.id) {
                out.push(Offender {
                    kind: "person",
                    id: p.id,
                });
            }
        }
        for d in self.store.list_definitions().await? {
            if !is_safe_id(&d.id) && !out.iter().any(|o| o.id == d.id) {
                out.push(Offender {
                    kind: "definition",
                    id: d.id,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_a_safe_alphabet() {
        for ok in [
            "zb1",
            "county",
            "zb1-secretary",
            "applicant_1",
            "A1",
            "member-admission",
        ] {
            assert!(is_safe_id(ok), "{ok}");
        }
        for bad in [
            "", "-x", "_x", "zb/1", "zb%", "zb 1", "zb.1", "..", "支部", "zb\n1", "zb\u{0}",
        ] {
            assert!(!is_safe_id(bad), "{bad:?}");
        }
        assert!(is_safe_id(&"a".repeat(64)));
        assert!(!is_safe_id(&"a".repeat(65)));
        for reserved in ["admin", "Admin", "scheduler", "operator", "SYSTEM"] {
            assert!(id("person", reserved).is_err(), "{reserved}");
        }
        assert!(id("person", "admin-2").is_ok());
    }

    #[test]
    fn names_and_addresses_have_no_control_characters() {
        assert!(name("name", "张\"三").is_ok());
        assert!(name("name", "张三\n").is_err());
        assert!(name("name", "  ").is_err());
        assert!(email("zhang@example.org").is_ok());
        assert!(email("zhang@example.org\r\nBcc: x@evil").is_err());
        assert!(email("not an address").is_err());
        assert!(date("birth_date", "2026-02-30").is_err());
        assert!(date("birth_date", "2026-02-28").is_ok());
    }
}
