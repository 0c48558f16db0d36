//! Diagnostics: `path:line:column: message`, with an optional hint.
//!
//! Messages and hints are Simplified Chinese: organizers read them on the
//! 流程定义 page. The conventions:
//!
//! - ids, names and values taken from the definition are quoted 「」:
//!   未知的步骤「talkk」;
//! - a step, stage or role with a Chinese name shows the name with its id,
//!   步骤「支委会讨论」(committee_review), 角色「书记」(secretary) — see
//!   [`named`];
//! - YAML keys, literal values and code to write stay as they are, in
//!   backticks: `then: end done`, `subject: person`;
//! - the hint (`提示：`) says what to write instead;
//! - a code span next to a Chinese character is set off by a space
//!   (`缺少 `id:``), whichever way the message was put together.

use std::fmt;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: String,
    /// Where.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a hint.
    pub fn new(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            pos,
            message: spaced(&message.into()),
            help: None,
        }
    }

    /// Adds a hint.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(spaced(&help.into()));
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.pos.line, self.pos.column, self.message
        )?;
        if let Some(h) = &self.help {
            write!(f, "\n  提示：{h}")?;
        }
        Ok(())
    }
}

/// A thing of the definition as a person reads it: `「名称」(id)` when it
/// has a name of its own, `「id」` otherwise.
pub fn named(name: &str, id: &str) -> String {
    if name.trim().is_empty() || name == id {
        format!("「{id}」")
    } else {
        format!("「{name}」({id})")
    }
}

/// The closest candidate to a misspelt name, if one is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(name, c);
        if score > 0.8 && best.is_none_or(|(_, b)| score > b) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// `（是否应为「x」？）` or nothing.
pub fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(name, candidates) {
        Some(c) => format!("（是否应为「{c}」？）"),
        None => String::new(),
    }
}

/// Like [`suggestion`], for candidates that have names: `(id, name)`
/// pairs; the hint shows the name with the id, `（是否应为「谈话」(talk)？）`.
pub fn suggestion_named<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let candidates: Vec<(&str, &str)> = candidates.into_iter().collect();
    match did_you_mean(name, candidates.iter().map(|(id, _)| *id)) {
        Some(c) => {
            let label = candidates
                .iter()
                .find(|(id, _)| *id == c)
                .map(|(_, n)| *n)
                .unwrap_or(c);
            format!("（是否应为{}？）", named(label, c))
        }
        None => String::new(),
    }
}

/// Items of a list as code to write: `` `a`、`b`、`c` ``.
pub fn code_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join("、")
}

/// Sets code spans off from Chinese characters next to them by a space:
/// `` 缺少`id:` `` → `` 缺少 `id:` ``. Punctuation (，「（) stays close.
fn spaced(text: &str) -> String {
    let han = |c: char| matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}');
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_code = false;
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c == '`' {
            if !in_code && prev.is_some_and(han) {
                out.push(' ');
            }
            in_code = !in_code;
        } else if prev == Some('`') && !in_code && han(c) {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// Whether a text has at least one Chinese character (汉字; CJK
/// punctuation alone does not count): what a Chinese sentence has and an
/// English one has not.
pub fn has_cjk(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_show_with_their_ids() {
        assert_eq!(
            named("支委会讨论", "committee_review"),
            "「支委会讨论」(committee_review)"
        );
        assert_eq!(named("talk", "talk"), "「talk」");
        assert_eq!(named("", "talk"), "「talk」");
        assert_eq!(suggestion("nme", ["name", "id"]), "（是否应为「name」？）");
        assert_eq!(suggestion("zzz", ["name", "id"]), "");
        assert_eq!(
            suggestion_named("secretery", [("secretary", "书记"), ("member", "成员")]),
            "（是否应为「书记」(secretary)？）"
        );
        assert_eq!(code_list(["a", "b"]), "`a`、`b`");
    }

    #[test]
    fn the_hint_is_labelled_in_chinese() {
        let d = Diagnostic::new("f.yaml", Pos { line: 3, column: 7 }, "未知的步骤「x」")
            .help("在 `end_states:` 下声明");
        assert_eq!(
            d.to_string(),
            "f.yaml:3:7: 未知的步骤「x」\n  提示：在 `end_states:` 下声明"
        );
        let d = Diagnostic::new("f.yaml", Pos::default(), "阶段缺少`id:`和`steps:`，（`a`）")
            .help("改为`x`");
        assert_eq!(d.message, "阶段缺少 `id:` 和 `steps:`，（`a`）");
        assert_eq!(d.help.as_deref(), Some("改为 `x`"));
        assert!(has_cjk("未知"));
        assert!(!has_cjk("unknown step 'x' (did you mean 'y'?)"));
        assert!(!has_cjk("「x」（y）"));
    }
}
