//! From a YAML node tree to the engine's definition model, collecting every
//! problem instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use stageflow_engine::expr::Expr;
use stageflow_engine::model::{
    ApprovalMode, Assignee, CatchUp, Check, Definition, EmptyAssignee, EndState, Escalation, Field,
    FieldKind, Grade, HolidayDeadline, InputDef, MailTemplate, OrgRef, OrgSelector, Outcome,
    Overlap, RatingRule, RatingScheme, Recurrence, Remind, Route, RubricItem, Schedule,
    ScheduleSelector, SetValue, SetVar, Stage, Step, StepKind, SubjectKind, Timeout, VoteRule,
    WaitUntil, Window,
};
use stageflow_engine::time::{Span, TimeExpr};

use crate::diag::{Diagnostic, Pos, code_list, named, suggestion};
use crate::keys;
use crate::yaml::{Node, NodeKind};

/// Positions of things the semantic checks point at, by key
/// (`stage:ID`, `step:ID`, `step:ID:after:N`, `step:ID:outcome:O`, ...).
#[derive(Debug, Default)]
pub struct Spans {
    map: HashMap<String, Pos>,
}

impl Spans {
    /// Records a position.
    pub fn put(&mut self, key: impl Into<String>, pos: Pos) {
        self.map.entry(key.into()).or_insert(pos);
    }

    /// Whether a position was recorded.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Reads a position (the file start when unknown).
    pub fn get(&self, key: &str) -> Pos {
        self.map
            .get(key)
            .copied()
            .unwrap_or(Pos { line: 1, column: 1 })
    }
}

/// Extra roles declared by the definition, with names.
pub type Roles = BTreeMap<String, String>;

/// Decoding context.
pub struct Cx<'a> {
    /// The file name used in diagnostics.
    pub file: &'a str,
    /// Problems found so far.
    pub diags: Vec<Diagnostic>,
    /// Positions for the semantic checks.
    pub spans: Spans,
}

/// A mapping node whose keys were checked.
pub struct MapView<'n> {
    node: &'n Node,
    items: &'n [(Node, Node)],
}

impl<'n> MapView<'n> {
    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.items
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// The mapping's position.
    pub fn pos(&self) -> Pos {
        self.node.pos
    }
}

impl<'a> Cx<'a> {
    /// A new context.
    pub fn new(file: &'a str) -> Cx<'a> {
        Cx {
            file,
            diags: Vec::new(),
            spans: Spans::default(),
        }
    }

    /// Records a problem.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(self.file, pos, message));
    }

    /// Records a problem with a hint.
    pub fn error_help(&mut self, pos: Pos, message: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(self.file, pos, message).help(help));
    }

    /// Checks that a node is a mapping with only allowed keys.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<MapView<'n>> {
        let NodeKind::Map(items) = &node.kind else {
            self.error(
                node.pos,
                format!(
                    "{what}应为由 `key: value` 组成的映射，实际是{}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in items {
            let Some(key) = k.scalar() else {
                self.error(k.pos, format!("{what}的键应为简单的名称"));
                continue;
            };
            if seen.contains(&key) {
                self.error(k.pos, format!("{what}中的键「{key}」重复出现"));
            }
            seen.push(key);
            if !allowed.contains(&key) {
                let hint = suggestion(key, allowed.iter().copied());
                self.error_help(
                    k.pos,
                    format!("{what}中有未知的键「{key}」{hint}"),
                    format!("可用的键：{}", code_list(allowed.iter().copied())),
                );
            }
        }
        Some(MapView { node, items })
    }

    /// A required key.
    pub fn req<'n>(&mut self, m: &MapView<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let v = m.get(key);
        if v.is_none() {
            self.error(m.pos(), format!("{what}缺少 `{key}:`"));
        }
        v
    }

    /// A string scalar.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.error(
                    node.pos,
                    format!("{what}应为文本，实际是{}", node.describe()),
                );
                None
            }
        }
    }

    /// An ASCII id (`[a-z][a-z0-9_-]*`).
    pub fn ident(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if is_ident(&s) {
            Some(s)
        } else {
            self.error_help(
                node.pos,
                format!("{what}「{s}」不是有效的 id"),
                "id 只能用 ASCII 字符：以小写字母开头，后面是小写字母、数字、`_` 或 `-`（中文名称写在 `name:` 中）",
            );
            None
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.scalar() {
            Some("true" | "yes") => Some(true),
            Some("false" | "no") => Some(false),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "{what}应为 `true` 或 `false`，实际是「{}」",
                        node.scalar().unwrap_or(node.describe())
                    ),
                );
                None
            }
        }
    }

    /// A number; fractions like `1/3` are allowed.
    pub fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        let text = node.scalar().unwrap_or_default().trim().to_string();
        let parsed = match text.split_once('/') {
            Some((a, b)) => match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
                (Ok(a), Ok(b)) if b != 0.0 => Some(a / b),
                _ => None,
            },
            None => text.parse::<f64>().ok(),
        };
        match parsed {
            Some(v) if v.is_finite() => Some(v),
            _ => {
                self.error(node.pos, format!("{what}应为数字，实际是「{text}」"));
                None
            }
        }
    }

    /// A whole number ≥ 0.
    pub fn count(&mut self, node: &Node, what: &str) -> Option<u32> {
        match node.scalar().and_then(|s| s.trim().parse::<u32>().ok()) {
            Some(v) => Some(v),
            None => {
                self.error(
                    node.pos,
                    format!(
                        "{what}应为非负整数，实际是「{}」",
                        node.scalar().unwrap_or(node.describe())
                    ),
                );
                None
            }
        }
    }

    /// A list; a single item is accepted as a list of one.
    pub fn list<'n>(&mut self, node: &'n Node) -> Vec<&'n Node> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ if node.is_null() => Vec::new(),
            _ => vec![node],
        }
    }

    /// A list that must be a YAML sequence.
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Vec<&'n Node> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "{what}应为列表（每项以 `- ` 开头），实际是{}",
                        node.describe()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// A duration.
    pub fn span(&mut self, node: &Node, what: &str) -> Option<Span> {
        let s = self.string(node, what)?;
        match Span::parse(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error_help(
                    node.pos,
                    format!("{what}：{}", e.0),
                    "例如 `30 minutes`、`3 days`、`5 workdays inclusive`、`1 month`、`1 year`",
                );
                None
            }
        }
    }

    /// A time expression.
    pub fn time(&mut self, node: &Node, what: &str, key: String) -> Option<TimeExpr> {
        let s = self.string(node, what)?;
        match TimeExpr::parse(&s) {
            Ok(v) => {
                self.spans.put(key, node.pos);
                Some(v)
            }
            Err(e) => {
                self.error_help(node.pos, format!("{what}：{}", e.0), "例如 `1 month after step.apply.completed_at`、`5 workdays inclusive after activated`、`2026-07-01`、`input.phase1_end`");
                None
            }
        }
    }

    /// An expression.
    pub fn expr(&mut self, node: &Node, what: &str, key: String) -> Option<Expr> {
        let s = self.string(node, what)?;
        match Expr::parse(&s) {
            Ok(e) => {
                self.spans.put(key, node.pos);
                Some(e)
            }
            Err(e) => {
                self.error(node.pos, format!("{what}：{e}"));
                None
            }
        }
    }
}

/// Whether a string is an ASCII id.
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Decodes a definition. Returns what could be decoded; problems are in
/// `cx.diags`.
pub fn definition(cx: &mut Cx<'_>, root: &Node) -> Option<(Definition, Roles)> {
    let m = cx.map(root, "流程定义", keys::DEFINITION)?;
    match m.get("stageflow") {
        Some(v) if v.scalar() == Some("1") => {}
        Some(v) => cx.error_help(
            v.pos,
            format!("不支持的语言版本「{}」", v.scalar().unwrap_or("?")),
            "改为 `stageflow: 1`",
        ),
        None => cx.error_help(
            m.pos(),
            "流程定义缺少 `stageflow: 1`（语言版本）",
            "在第一行写上 `stageflow: 1`",
        ),
    }
    let id = cx
        .req(&m, "id", "流程定义")
        .and_then(|n| cx.ident(n, "流程 id"));
    let name = cx
        .req(&m, "name", "流程定义")
        .and_then(|n| cx.string(n, "`name`"));
    let version = m
        .get("version")
        .and_then(|n| cx.count(n, "`version`"))
        .unwrap_or(1);
    let subject = match m
        .get("subject")
        .and_then(|n| cx.string(n, "`subject`"))
        .as_deref()
    {
        None | Some("organization") | Some("org") => SubjectKind::Organization,
        Some("person") => SubjectKind::Person,
        Some(other) => {
            let pos = m.get("subject").map(|n| n.pos).unwrap_or_default();
            cx.error_help(
                pos,
                format!("未知的流程对象「{other}」"),
                "改为 `subject: person`（个人）或 `subject: organization`（组织）",
            );
            SubjectKind::Organization
        }
    };
    let timezone = match m.get("timezone") {
        Some(n) => cx
            .string(n, "`timezone`")
            .and_then(|s| timezone(cx, n.pos, &s)),
        None => Some(chrono_tz::Asia::Shanghai),
    }
    .unwrap_or(chrono_tz::Asia::Shanghai);
    let calendar = match m.get("calendar") {
        Some(n) => {
            let c = cx.string(n, "`calendar`").unwrap_or_default();
            if !crate::vocab::CALENDARS.contains(&c.as_str()) {
                let hint = suggestion(&c, crate::vocab::CALENDARS.iter().copied());
                cx.error_help(
                    n.pos,
                    format!("未知的工作日历「{c}」{hint}"),
                    format!(
                        "可用的日历：{}",
                        code_list(crate::vocab::CALENDARS.iter().copied())
                    ),
                );
            }
            c
        }
        None => "cn".to_string(),
    };
    let empty_assignee = match m.get("empty_assignee") {
        Some(n) => match n.scalar() {
            Some("parent_secretary") => EmptyAssignee::ParentSecretary,
            Some("fail") => EmptyAssignee::Fail,
            Some("skip") => EmptyAssignee::Skip,
            _ => {
                cx.error_help(
                    n.pos,
                    format!(
                        "未知的 `empty_assignee` 规则「{}」",
                        n.scalar().unwrap_or(n.describe())
                    ),
                    "改为 `fail`（拒绝执行）、`skip`（跳过该步骤）或 `parent_secretary`（交上级组织的书记办理）",
                );
                EmptyAssignee::Fail
            }
        },
        None => EmptyAssignee::Fail,
    };
    let deadline_on_holiday = match m.get("deadline_on_holiday") {
        Some(n) => match n.scalar() {
            Some("next_workday") => HolidayDeadline::NextWorkday,
            Some("keep") => HolidayDeadline::Keep,
            _ => {
                cx.error_help(
                    n.pos,
                    format!(
                        "未知的 `deadline_on_holiday` 规则「{}」",
                        n.scalar().unwrap_or(n.describe())
                    ),
                    "改为 `next_workday`（顺延到下一个工作日，民法典 第203条）或 `keep`（不顺延）",
                );
                HolidayDeadline::NextWorkday
            }
        },
        None => HolidayDeadline::NextWorkday,
    };
    let mut roles = Roles::new();
    if let Some(n) = m.get("roles") {
        match &n.kind {
            NodeKind::Map(items) => {
                for (k, v) in items {
                    if let (Some(id), Some(label)) =
                        (cx.ident(k, "角色 id"), cx.string(v, "角色名称"))
                    {
                        cx.spans.put(format!("role:{id}"), k.pos);
                        roles.insert(id, label);
                    }
                }
            }
            _ => cx.error_help(
                n.pos,
                "`roles:` 应为从角色 id 到名称的映射",
                "例如 `roles: { applicant: 入党申请人 }`",
            ),
        }
    }
    let inputs = m
        .get("inputs")
        .map(|n| {
            cx.seq(n, "`inputs`")
                .into_iter()
                .filter_map(|f| field(cx, f, "输入项", "input"))
                .map(|field| InputDef { field })
                .collect()
        })
        .unwrap_or_default();
    let checks = m
        .get("checks")
        .map(|n| checks(cx, n, "check"))
        .unwrap_or_default();
    let mut end_states = Vec::new();
    match m.get("end_states") {
        Some(n) => {
            if let NodeKind::Map(items) = &n.kind {
                for (k, v) in items {
                    if let (Some(id), Some(name)) =
                        (cx.ident(k, "结束状态 id"), cx.string(v, "结束状态名称"))
                    {
                        cx.spans.put(format!("end:{id}"), k.pos);
                        end_states.push(EndState { id, name });
                    }
                }
            } else {
                cx.spans.put("end_states-invalid", n.pos);
                cx.error_help(
                    n.pos,
                    "`end_states:` 应为从结束状态 id 到名称的映射",
                    "例如 `end_states: { admitted: 已转为正式党员, not_admitted: 未接收 }`",
                );
            }
        }
        None => cx.error_help(
            m.pos(),
            "流程定义缺少 `end_states:`",
            "例如 `end_states: { done: 已完成 }`",
        ),
    }
    let stages: Vec<Stage> = match cx.req(&m, "stages", "流程定义") {
        Some(n) => {
            let items = cx.seq(n, "`stages`");
            if items.is_empty() && matches!(n.kind, NodeKind::Seq(_)) {
                cx.error(n.pos, "流程至少需要一个阶段");
            }
            let count = items.len();
            items
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| stage(cx, s, i + 1 == count))
                .collect()
        }
        None => Vec::new(),
    };
    let schedules = m
        .get("schedules")
        .map(|n| {
            cx.seq(n, "`schedules`")
                .into_iter()
                .filter_map(|s| schedule(cx, s, timezone))
                .collect()
        })
        .unwrap_or_default();
    let mut templates = BTreeMap::new();
    if let Some(n) = m.get("templates") {
        if let NodeKind::Map(items) = &n.kind {
            for (k, v) in items {
                let Some(id) = cx.ident(k, "邮件模板 id") else {
                    continue;
                };
                cx.spans.put(format!("template:{id}"), k.pos);
                let what = format!("邮件模板「{id}」");
                let Some(tm) = cx.map(v, &what, keys::TEMPLATE) else {
                    continue;
                };
                let subject = cx
                    .req(&tm, "subject", &what)
                    .and_then(|n| cx.string(n, "`subject`"));
                let body = cx
                    .req(&tm, "body", &what)
                    .and_then(|n| cx.string(n, "`body`"));
                if let Some(n) = tm.get("subject") {
                    cx.spans.put(format!("template:{id}:subject"), n.pos);
                }
                if let Some(n) = tm.get("body") {
                    cx.spans.put(format!("template:{id}:body"), n.pos);
                }
                if let (Some(subject), Some(body)) = (subject, body) {
                    templates.insert(id, MailTemplate { subject, body });
                }
            }
        } else {
            cx.error(
                n.pos,
                "`templates:` 应为从模板 id 到 `{ subject, body }` 的映射",
            );
        }
    }
    Some((
        Definition {
            id: id.unwrap_or_default(),
            version,
            name: name.unwrap_or_default(),
            subject,
            timezone,
            calendar,
            inputs,
            checks,
            end_states,
            stages,
            schedules,
            templates,
            empty_assignee,
            deadline_on_holiday,
            // The subject and the initiator act under these role ids too.
            role_names: crate::vocab::ROLES
                .iter()
                .chain(&[("subject", "本人"), ("initiator", "发起人")])
                .map(|(id, name)| ((*id).to_string(), (*name).to_string()))
                .chain(roles.clone())
                .collect(),
        },
        roles,
    ))
}

fn timezone(cx: &mut Cx<'_>, pos: Pos, s: &str) -> Option<Tz> {
    match s.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            cx.error_help(
                pos,
                format!("未知的时区「{s}」"),
                "请用 IANA 时区名，例如 `Asia/Shanghai`",
            );
            None
        }
    }
}

fn checks(cx: &mut Cx<'_>, node: &Node, key: &str) -> Vec<Check> {
    let mut out = Vec::new();
    for (i, c) in cx.seq(node, "`checks`").into_iter().enumerate() {
        let Some(m) = cx.map(c, "校验规则", keys::CHECK) else {
            continue;
        };
        let expr = cx
            .req(&m, "rule", "校验规则")
            .and_then(|n| cx.expr(n, "`rule`", format!("{key}:{i}")));
        let message = cx
            .req(&m, "message", "校验规则")
            .and_then(|n| cx.string(n, "`message`"));
        if let (Some(expr), Some(message)) = (expr, message) {
            out.push(Check { expr, message });
        }
    }
    out
}

fn field(cx: &mut Cx<'_>, node: &Node, what: &str, key: &str) -> Option<Field> {
    let m = cx.map(node, what, keys::FIELD)?;
    let id = cx
        .req(&m, "id", what)
        .and_then(|n| cx.ident(n, &format!("{what} id")))?;
    cx.spans.put(format!("{key}:{id}"), m.pos());
    let label = m
        .get("label")
        .and_then(|n| cx.string(n, "`label`"))
        .unwrap_or_else(|| id.clone());
    let this = format!("{what}{}", named(&label, &id));
    let type_node = m.get("type");
    let kind = match type_node.and_then(|n| n.scalar()).unwrap_or("text") {
        "text" => FieldKind::Text,
        "textarea" => FieldKind::Textarea,
        "integer" => FieldKind::Integer,
        "number" => FieldKind::Number,
        "boolean" => FieldKind::Boolean,
        "date" => FieldKind::Date,
        "person" => FieldKind::Person,
        "org" => FieldKind::Org,
        "file" => FieldKind::File,
        "choice" => {
            let options: Vec<String> = match m.get("options") {
                Some(n) => cx
                    .seq(n, "`options`")
                    .into_iter()
                    .filter_map(|o| cx.string(o, "选项"))
                    .collect(),
                None => Vec::new(),
            };
            if options.is_empty() {
                cx.error_help(
                    m.pos(),
                    format!("单选{this}缺少 `options:`"),
                    "例如 `options: [同意, 不同意]`",
                );
            }
            FieldKind::Choice(options)
        }
        other => {
            let types = crate::vocab::FIELD_TYPES;
            let hint = suggestion(other, types.iter().map(|(t, _)| *t));
            cx.error_help(
                type_node.map(|n| n.pos).unwrap_or(m.pos()),
                format!("未知的字段类型「{other}」{hint}"),
                format!("可用的类型：{}", crate::vocab::ids_with_names(types)),
            );
            FieldKind::Text
        }
    };
    let required = m
        .get("required")
        .and_then(|n| cx.boolean(n, "`required`"))
        .unwrap_or(false);
    let min = m.get("min").and_then(|n| cx.number(n, "`min`"));
    let max = m.get("max").and_then(|n| cx.number(n, "`max`"));
    let future = m
        .get("future")
        .and_then(|n| cx.boolean(n, "`future`"))
        .unwrap_or(false);
    let not_before = m
        .get("not_before")
        .and_then(|n| cx.time(n, "`not_before`", format!("{key}:{id}:not_before")));
    for (name, given) in [("future", future), ("not_before", not_before.is_some())] {
        if given
            && kind != FieldKind::Date
            && let Some(n) = m.get(name)
        {
            cx.error(
                n.pos,
                format!("`{name}` 只适用于日期字段；{this}不是 `type: date`"),
            );
        }
    }
    let eligible: Vec<String> = match m.get("eligible") {
        Some(n) => {
            if kind != FieldKind::Person {
                cx.error(
                    n.pos,
                    format!("`eligible` 只适用于人员字段；{this}不是 `type: person`"),
                );
            }
            cx.list(n)
                .into_iter()
                .filter_map(|s| {
                    let status = cx.string(s, "`eligible:` 中的身份")?;
                    if crate::vocab::PERSON_STATUSES.contains(&status.as_str()) {
                        Some(status)
                    } else {
                        cx.error_help(
                            s.pos,
                            format!("未知的身份「{status}」"),
                            format!("可用的身份：{}", crate::vocab::PERSON_STATUSES.join("、")),
                        );
                        None
                    }
                })
                .collect()
        }
        None => Vec::new(),
    };
    let default = m.get("default").map(|n| scalar_json(n, &kind));
    if let (Some(d), Some(n)) = (&default, m.get("default")) {
        let ok = match &kind {
            FieldKind::Integer => d.is_i64(),
            FieldKind::Number => d.is_number(),
            FieldKind::Boolean => d.is_boolean(),
            FieldKind::Date => d.as_str().is_some_and(|s| {
                s == stageflow_engine::machine::TODAY
                    || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            }),
            FieldKind::Choice(o) => d.as_str().is_some_and(|s| o.iter().any(|x| x == s)),
            _ => d.is_string(),
        };
        if !ok {
            cx.error(n.pos, format!("{this}的默认值（`default:`）与字段类型不符"));
        }
    }
    Some(Field {
        id,
        label,
        kind,
        required,
        default,
        min,
        max,
        future,
        not_before,
        eligible,
    })
}

/// A scalar as JSON, typed by the field kind.
pub fn scalar_json(node: &Node, kind: &FieldKind) -> serde_json::Value {
    let text = node.scalar().unwrap_or_default();
    match kind {
        FieldKind::Integer => text
            .parse::<i64>()
            .map(Into::into)
            .unwrap_or(serde_json::Value::Null),
        FieldKind::Number => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        FieldKind::Boolean => match text {
            "true" => true.into(),
            "false" => false.into(),
            _ => serde_json::Value::Null,
        },
        _ => text.into(),
    }
}

fn stage(cx: &mut Cx<'_>, node: &Node, last: bool) -> Option<Stage> {
    let m = cx.map(node, "阶段", keys::STAGE)?;
    let id = cx
        .req(&m, "id", "阶段")
        .and_then(|n| cx.ident(n, "阶段 id"))?;
    cx.spans.put(
        format!("stage:{id}"),
        m.get("id").map(|n| n.pos).unwrap_or(m.pos()),
    );
    let name = m
        .get("name")
        .and_then(|n| cx.string(n, "`name`"))
        .unwrap_or_else(|| id.clone());
    let this = format!("阶段{}", named(&name, &id));
    let then = match m.get("then") {
        Some(n) => {
            cx.spans.put(format!("stage:{id}:then"), n.pos);
            cx.string(n, "`then`")
                .and_then(|s| route(cx, n.pos, &s))
                .unwrap_or(Route::Next)
        }
        None => {
            if last {
                cx.error_help(
                    m.pos(),
                    format!("最后一个{this}必须说明流程如何结束"),
                    "加上 `then: end STATE`，例如 `then: end done`",
                );
            }
            Route::Next
        }
    };
    let window = m.get("window").and_then(|n| {
        let what = format!("{this}的 `window:`");
        let w = cx.map(n, &what, keys::WINDOW)?;
        let opens = cx
            .req(&w, "opens", &what)
            .and_then(|n| cx.time(n, "`opens`", format!("stage:{id}:opens")));
        let closes = cx
            .req(&w, "closes", &what)
            .and_then(|n| cx.time(n, "`closes`", format!("stage:{id}:closes")));
        Some(Window {
            opens: opens?,
            closes: closes?,
        })
    });
    let steps = match cx.req(&m, "steps", &this) {
        Some(n) => cx
            .seq(n, "`steps`")
            .into_iter()
            .filter_map(|s| step(cx, s))
            .collect(),
        None => Vec::new(),
    };
    Some(Stage {
        id,
        name,
        steps,
        then,
        window,
    })
}

/// Reads a route: `next`, `end STATE`, `stage ID`, `stage ID.STEP`,
/// `step ID`, `retry`.
pub fn route(cx: &mut Cx<'_>, pos: Pos, text: &str) -> Option<Route> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let r = match words.as_slice() {
        ["next"] => Route::Next,
        ["retry"] => Route::Retry,
        ["end", s] if is_ident(s) => Route::End(s.to_string()),
        ["step", s] if is_ident(s) => Route::Step(s.to_string()),
        ["stage", s] => match s.split_once('.') {
            Some((a, b)) if is_ident(a) && is_ident(b) => Route::Stage {
                stage: a.into(),
                step: Some(b.into()),
            },
            None if is_ident(s) => Route::Stage {
                stage: s.to_string(),
                step: None,
            },
            _ => return bad_route(cx, pos, text),
        },
        _ => return bad_route(cx, pos, text),
    };
    Some(r)
}

fn bad_route(cx: &mut Cx<'_>, pos: Pos, text: &str) -> Option<Route> {
    cx.error_help(
        pos,
        format!("无法识别去向「{text}」"),
        "可写 `next`（继续）、`end STATE`（结束于某个结束状态）、`stage STAGE`、`stage STAGE.STEP`（进入某阶段或其中某个步骤）、`step STEP`（退回本阶段的某个步骤）或 `retry`（重新办理本步骤）",
    );
    None
}

fn assignee(cx: &mut Cx<'_>, node: &Node, what: &str, key: String) -> Option<Assignee> {
    if let Some(s) = node.scalar() {
        cx.spans.put(key, node.pos);
        return match s {
            "subject" => Some(Assignee::Subject),
            "initiator" => Some(Assignee::Initiator),
            _ => {
                cx.error_help(node.pos, format!("无法识别{what}「{s}」"), "可写 `subject`（流程对象本人）、`initiator`（发起人）、`{ role: ROLE, org: own|parent|grandparent|ancestor KIND }`（某组织中担任某角色的人）或 `{ field: step.STEP.form.FIELD }`（表单中选定的人）");
                None
            }
        };
    }
    let m = cx.map(node, what, keys::ASSIGNEE)?;
    cx.spans.put(key, m.pos());
    if let Some(f) = m.get("field") {
        return cx.string(f, "`field`").map(Assignee::Field);
    }
    let role = cx
        .req(&m, "role", what)
        .and_then(|n| cx.ident(n, "角色 id"))?;
    let org = match m.get("org") {
        Some(n) => org_ref(cx, n)?,
        None => OrgRef::Own,
    };
    Some(Assignee::Role { role, org })
}

fn org_ref(cx: &mut Cx<'_>, node: &Node) -> Option<OrgRef> {
    let s = cx.string(node, "`org`")?;
    let words: Vec<&str> = s.split_whitespace().collect();
    Some(match words.as_slice() {
        ["own"] => OrgRef::Own,
        ["parent"] => OrgRef::Parent,
        ["grandparent"] => OrgRef::Grandparent,
        ["ancestor", kind] => {
            if !crate::vocab::ORG_KINDS.contains(kind) {
                let hint = suggestion(kind, crate::vocab::ORG_KINDS.iter().copied());
                cx.error_help(
                    node.pos,
                    format!("未知的组织类型「{kind}」{hint}"),
                    format!("可用的类型：{}", crate::vocab::ORG_KINDS.join("、")),
                );
            }
            OrgRef::Ancestor(kind.to_string())
        }
        _ => {
            cx.error_help(
                node.pos,
                format!("无法识别组织「{s}」"),
                "可写 `own`（本组织）、`parent`（上级组织）、`grandparent`（上两级组织）或 `ancestor KIND`（最近的某类上级组织，例如 `ancestor 党委`）",
            );
            return None;
        }
    })
}

fn org_selector(cx: &mut Cx<'_>, node: &Node) -> Option<OrgSelector> {
    let m = cx.map(node, "`orgs:`", keys::ORG_SELECTOR)?;
    let kind = m.get("kind").and_then(|n| {
        let k = cx.string(n, "`kind`")?;
        if !crate::vocab::ORG_KINDS.contains(&k.as_str()) {
            let hint = suggestion(&k, crate::vocab::ORG_KINDS.iter().copied());
            cx.error_help(
                n.pos,
                format!("未知的组织类型「{k}」{hint}"),
                format!("可用的类型：{}", crate::vocab::ORG_KINDS.join("、")),
            );
        }
        Some(k)
    });
    let under = match m.get("under") {
        Some(n) => org_ref(cx, n)?,
        None => OrgRef::Own,
    };
    Some(OrgSelector { kind, under })
}

fn step(cx: &mut Cx<'_>, node: &Node) -> Option<Step> {
    let NodeKind::Map(_) = &node.kind else {
        cx.error(
            node.pos,
            format!(
                "步骤应为由 `key: value` 组成的映射，实际是{}",
                node.describe()
            ),
        );
        return None;
    };
    if let Some(id) = node_get(node, "id").and_then(|n| n.scalar()) {
        // Known even if the step has errors, so references to it do not
        // cascade into "unknown step".
        cx.spans.put(format!("declared-step:{id}"), node.pos);
    }
    let kind_name = node_get(node, "kind")
        .and_then(|n| n.scalar())
        .unwrap_or("task")
        .to_string();
    let extra: &[&str] = match kind_name.as_str() {
        "task" => &[],
        "approval" => keys::APPROVAL,
        "vote" => keys::VOTE,
        "rating" => keys::RATING,
        "wait" => keys::WAIT,
        "recurring" => keys::RECURRING,
        "fanout" => keys::FANOUT,
        "notify" => keys::NOTIFY,
        "subflow" => keys::SUBFLOW,
        other => {
            let hint = suggestion(other, keys::STEP_KINDS.iter().copied());
            cx.error_help(
                node_get(node, "kind").map(|n| n.pos).unwrap_or(node.pos),
                format!("未知的步骤类型「{other}」{hint}"),
                format!(
                    "可用的类型：{}",
                    crate::vocab::ids_with_names(crate::vocab::STEP_KIND_NAMES)
                ),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = keys::STEP.iter().chain(extra.iter()).copied().collect();
    let kind_label = format!("{}步骤", crate::vocab::step_kind_name(&kind_name));
    let m = cx.map(node, &kind_label, &allowed)?;
    let id = cx
        .req(&m, "id", &kind_label)
        .and_then(|n| cx.ident(n, "步骤 id"))?;
    let k = |s: &str| format!("step:{id}:{s}");
    cx.spans.put(
        format!("step:{id}"),
        m.get("id").map(|n| n.pos).unwrap_or(m.pos()),
    );
    let name = m
        .get("name")
        .and_then(|n| cx.string(n, "`name`"))
        .unwrap_or_else(|| id.clone());
    // How messages name this step: 步骤「谈话」(talk).
    let this = format!("{kind_label}{}", named(&name, &id));
    let after: Vec<String> = match m.get("after") {
        Some(n) => {
            let items = cx.list(n);
            items
                .into_iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    cx.spans.put(format!("step:{id}:after:{i}"), a.pos);
                    cx.ident(a, "`after:` 中的步骤 id")
                })
                .collect()
        }
        None => Vec::new(),
    };
    let when = m.get("when").and_then(|n| cx.expr(n, "`when`", k("when")));
    let step_assignee = m
        .get("assignee")
        .and_then(|n| assignee(cx, n, "`assignee:`", k("assignee")));
    let due = m.get("due").and_then(|n| cx.time(n, "`due`", k("due")));
    let earliest = m
        .get("earliest")
        .and_then(|n| cx.time(n, "`earliest`", k("earliest")));
    let mut remind = Remind::default();
    if let Some(n) = m.get("remind")
        && let Some(r) = cx.map(n, &format!("{this}的 `remind:`"), keys::REMIND)
    {
        if let Some(b) = r.get("before") {
            remind.before = cx
                .list(b)
                .into_iter()
                .filter_map(|x| cx.span(x, "`remind.before`"))
                .collect();
        }
        remind.at_due = r
            .get("at_due")
            .and_then(|x| cx.boolean(x, "`at_due`"))
            .unwrap_or(false);
        remind.every = r.get("every").and_then(|x| cx.span(x, "`remind.every`"));
        remind.max = r
            .get("max")
            .and_then(|x| cx.count(x, "`max`"))
            .unwrap_or(if remind.every.is_some() { 3 } else { 0 });
        if remind.max > 100 {
            cx.error(r.pos(), "重复提醒最多 100 次（`max:`）");
        }
    }
    let escalate = match m.get("escalate") {
        Some(n) => cx
            .list(n)
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let what = format!("{this}的督办（`escalate:`）");
                let em = cx.map(e, &what, keys::ESCALATE)?;
                let limit = em
                    .get("limit")
                    .and_then(|x| cx.time(x, "`limit`", format!("step:{id}:escalate:{i}:limit")));
                let after = match (em.get("after"), &limit) {
                    (Some(x), _) => cx.span(x, "`after`"),
                    (None, Some(_)) => Some(stageflow_engine::time::Span {
                        n: 0,
                        unit: stageflow_engine::time::Unit::Day,
                        inclusive: false,
                    }),
                    (None, None) => cx
                        .req(&em, "after", &what)
                        .and_then(|x| cx.span(x, "`after`")),
                };
                let to = cx.req(&em, "to", &what).and_then(|x| {
                    assignee(
                        cx,
                        x,
                        "督办对象（`to:`）",
                        format!("step:{id}:escalate:{i}"),
                    )
                });
                Some(Escalation {
                    after: after?,
                    limit,
                    to: to?,
                })
            })
            .collect(),
        None => Vec::new(),
    };
    let on_timeout = m.get("on_timeout").and_then(|n| {
        let what = format!("{this}的 `on_timeout:`");
        let tm = cx.map(n, &what, keys::TIMEOUT)?;
        let outcome = cx
            .req(&tm, "outcome", &what)
            .and_then(|x| cx.ident(x, "结果 id"))?;
        cx.spans.put(format!("step:{id}:on_timeout"), tm.pos());
        let after = tm.get("after").and_then(|x| cx.span(x, "`after`"));
        let limit = tm
            .get("limit")
            .and_then(|x| cx.time(x, "`limit`", format!("step:{id}:on_timeout:limit")));
        if let (Some(_), Some(_), Some(n)) = (&after, &limit, tm.get("limit")) {
            cx.error_help(
                n.pos,
                "`on_timeout` 不能同时有 `after` 和 `limit`".to_string(),
                "`after:` 从期限起算，`limit:` 从它自己的时间点起算——只保留一个",
            );
        }
        Some(Timeout {
            after,
            limit,
            outcome,
        })
    });
    let mut outcomes = indexmap::IndexMap::new();
    if let Some(n) = m.get("outcomes") {
        if let NodeKind::Map(items) = &n.kind {
            for (key, v) in items {
                let Some(o) = cx.ident(key, "结果 id") else {
                    continue;
                };
                cx.spans.put(format!("step:{id}:outcome:{o}"), key.pos);
                let (route_node, label, max_times) = match &v.kind {
                    NodeKind::Map(_) => {
                        let Some(om) = cx.map(v, &format!("结果「{o}」"), keys::OUTCOME) else {
                            continue;
                        };
                        let label = om.get("label").and_then(|x| cx.string(x, "`label`"));
                        let max = om.get("max_times").and_then(|x| cx.count(x, "`max_times`"));
                        (om.get("to"), label, max)
                    }
                    _ => (Some(v), None, None),
                };
                let route = match route_node {
                    Some(rn) => {
                        cx.spans.put(format!("step:{id}:route:{o}"), rn.pos);
                        cx.string(rn, "去向").and_then(|s| route(cx, rn.pos, &s))
                    }
                    None => {
                        cx.error_help(
                            v.pos,
                            format!("{this}的结果「{o}」没有去向"),
                            "加上 `to: next`（或 `to: end STATE`、`to: stage STAGE`、`to: step STEP`）",
                        );
                        None
                    }
                };
                if let Some(route) = route {
                    outcomes.insert(
                        o.clone(),
                        Outcome {
                            label: label.unwrap_or_else(|| default_label(&o)),
                            route,
                            max_times,
                        },
                    );
                }
            }
        } else {
            cx.error_help(
                n.pos,
                "`outcomes:` 应为从结果 id 到去向的映射",
                "例如 `outcomes: { approve: next, reject: end not_admitted }`",
            );
        }
    }
    let form = match m.get("form") {
        Some(n) => cx
            .seq(n, "`form`")
            .into_iter()
            .filter_map(|f| field(cx, f, "表单字段", &format!("step:{id}:form")))
            .collect(),
        None => Vec::new(),
    };
    let checks = m
        .get("checks")
        .map(|n| checks(cx, n, &k("check")))
        .unwrap_or_default();
    let mut set = Vec::new();
    if let Some(n) = m.get("set") {
        if let NodeKind::Map(items) = &n.kind {
            for (key, v) in items {
                let Some(name) = cx.ident(key, "变量名") else {
                    continue;
                };
                cx.spans.put(format!("var:{name}"), key.pos);
                let Some(vm) = cx.map(v, &format!("变量「{name}」"), keys::SET) else {
                    continue;
                };
                let value = if let Some(d) = vm.get("date") {
                    cx.time(d, "`date`", format!("step:{id}:set:{name}"))
                        .map(SetValue::Date)
                } else if let Some(e) = vm.get("expr") {
                    cx.expr(e, "`expr`", format!("step:{id}:set:{name}"))
                        .map(SetValue::Expr)
                } else {
                    cx.error_help(
                        vm.pos(),
                        format!("变量「{name}」需要 `date:` 或 `expr:`"),
                        "例如 `probation_end: { date: 1 year after step.vote.completed_at }`",
                    );
                    None
                };
                if let Some(value) = value {
                    set.push(SetVar { name, value });
                }
            }
        } else {
            cx.error(
                n.pos,
                "`set:` 应为从变量名到 `{ date: ... }` 或 `{ expr: ... }` 的映射",
            );
        }
    }
    let comment_required = m
        .get("comment_required")
        .and_then(|n| cx.boolean(n, "`comment_required`"))
        .unwrap_or(false);
    let hide: Vec<String> = match m.get("hide") {
        Some(n) => cx
            .list(n)
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| {
                cx.spans.put(format!("step:{id}:hide:{i}"), h.pos);
                cx.string(h, "`hide:` 中的字段（`步骤.字段` 或 `步骤`）")
            })
            .collect(),
        None => Vec::new(),
    };
    let operations: Option<Vec<String>> = m.get("operations").map(|n| {
        cx.list(n)
            .into_iter()
            .enumerate()
            .filter_map(|(i, o)| {
                cx.spans.put(format!("step:{id}:operations:{i}"), o.pos);
                cx.ident(o, "`operations:` 中的操作名")
            })
            .collect()
    });
    let kind = step_kind(cx, &m, &kind_name, &id, &this)?;
    let required = m
        .get("required")
        .and_then(|n| cx.boolean(n, "`required`"))
        .unwrap_or(match &kind {
            StepKind::Recurring(r) => r.until.is_some(),
            _ => true,
        });
    Some(Step {
        id,
        name,
        kind,
        after,
        when,
        required,
        assignee: step_assignee,
        due,
        earliest,
        remind,
        escalate,
        on_timeout,
        outcomes,
        form,
        checks,
        set,
        comment_required,
        hide,
        operations,
    })
}

/// The label of an outcome the definition does not label itself.
pub(crate) fn default_label(outcome: &str) -> String {
    match outcome {
        "approve" => "通过",
        "reject" => "驳回",
        "return" => "退回",
        "done" => "完成",
        "pass" => "通过",
        "fail" => "未通过",
        "no_quorum" => "不足法定人数",
        other => other,
    }
    .to_string()
}

fn node_get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.kind {
        NodeKind::Map(items) => items
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The kind-specific part of a step; `what` is how messages name the
/// step (表决步骤「支部大会」(vote)).
fn step_kind(
    cx: &mut Cx<'_>,
    m: &MapView<'_>,
    kind: &str,
    id: &str,
    what: &str,
) -> Option<StepKind> {
    Some(match kind {
        "task" => StepKind::Task,
        "approval" => {
            let mode = match m.get("mode").and_then(|n| n.scalar()).unwrap_or("any") {
                "any" => ApprovalMode::Any,
                "all" => ApprovalMode::All,
                "sequential" => ApprovalMode::Sequential,
                "ratio" => {
                    let r = m.get("ratio").and_then(|n| cx.number(n, "`ratio`"));
                    match r {
                        Some(r) if r > 0.0 && r <= 1.0 => ApprovalMode::Ratio(r),
                        _ => {
                            cx.error_help(
                                m.pos(),
                                format!("{what}：`mode: ratio` 需要 0 到 1 之间的 `ratio:`"),
                                "例如 `ratio: 2/3`（三分之二同意即通过）",
                            );
                            ApprovalMode::Ratio(1.0)
                        }
                    }
                }
                other => {
                    let hint = suggestion(other, ["any", "all", "sequential", "ratio"]);
                    cx.error_help(
                        m.get("mode").map(|n| n.pos).unwrap_or(m.pos()),
                        format!("未知的审批方式「{other}」{hint}"),
                        "可用的方式：`any`（或签）、`all`（会签）、`sequential`（依次审批）、`ratio`（票签）",
                    );
                    ApprovalMode::Any
                }
            };
            StepKind::Approval { mode }
        }
        "vote" => {
            let voters = cx
                .req(m, "voters", what)
                .and_then(|n| assignee(cx, n, "`voters:`", format!("step:{id}:voters")));
            let choices: Vec<String> = m
                .get("choices")
                .map(|n| {
                    cx.seq(n, "`choices`")
                        .into_iter()
                        .filter_map(|c| cx.ident(c, "表决选项 id"))
                        .collect()
                })
                .unwrap_or_default();
            let quorum = match m.get("quorum") {
                Some(n) => cx.expr(n, "`quorum`", format!("step:{id}:quorum")),
                None => Expr::parse("present > eligible / 2").ok(),
            };
            let pass = match m.get("pass") {
                Some(n) => cx.expr(n, "`pass`", format!("step:{id}:pass")),
                None => Expr::parse("yes > eligible / 2").ok(),
            };
            StepKind::Vote(Box::new(VoteRule {
                voters: voters?,
                choices,
                quorum: quorum?,
                pass: pass?,
            }))
        }
        "rating" => {
            let raters = cx
                .req(m, "raters", what)
                .and_then(|n| assignee(cx, n, "`raters:`", format!("step:{id}:raters")));
            let ratees: Vec<Assignee> = match cx.req(m, "ratees", what) {
                Some(n) => cx
                    .list(n)
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, a)| {
                        assignee(cx, a, "`ratees:`", format!("step:{id}:ratees:{i}"))
                    })
                    .collect(),
                None => Vec::new(),
            };
            let no_grade_roles: Vec<String> = m
                .get("no_grade")
                .map(|n| {
                    cx.list(n)
                        .into_iter()
                        .enumerate()
                        .filter_map(|(i, r)| {
                            cx.spans.put(format!("step:{id}:no_grade:{i}"), r.pos);
                            cx.ident(r, "角色 id")
                        })
                        .collect()
                })
                .unwrap_or_default();
            let scheme = if let Some(n) = m.get("scale") {
                RatingScheme::Scale {
                    grades: grades(cx, n),
                }
            } else if let Some(n) = m.get("rubric") {
                let rubric = format!("{what}的评分细则（`rubric:`）");
                let rm = cx.map(n, &rubric, keys::RUBRIC)?;
                let items = match cx.req(&rm, "items", &rubric) {
                    Some(n) => cx
                        .seq(n, "`items`")
                        .into_iter()
                        .filter_map(|i| {
                            let im = cx.map(i, "评分项", keys::RUBRIC_ITEM)?;
                            let iid = cx
                                .req(&im, "id", "评分项")
                                .and_then(|x| cx.ident(x, "评分项 id"))?;
                            let name = im
                                .get("name")
                                .and_then(|x| cx.string(x, "`name`"))
                                .unwrap_or_else(|| iid.clone());
                            let max = im
                                .get("max")
                                .and_then(|x| cx.number(x, "`max`"))
                                .unwrap_or(0.0);
                            let min = im
                                .get("min")
                                .and_then(|x| cx.number(x, "`min`"))
                                .unwrap_or(0.0);
                            let weight = im
                                .get("weight")
                                .and_then(|x| cx.number(x, "`weight`"))
                                .unwrap_or(1.0);
                            if min > max {
                                cx.error(
                                    im.pos(),
                                    format!(
                                        "评分项{}的最低分 {min}（`min:`）高于最高分 {max}（`max:`）",
                                        named(&name, &iid)
                                    ),
                                );
                            }
                            Some(RubricItem {
                                id: iid,
                                name,
                                max,
                                min,
                                weight,
                            })
                        })
                        .collect(),
                    None => Vec::new(),
                };
                let grades = cx
                    .req(&rm, "grades", &rubric)
                    .map(|n| grades(cx, n))
                    .unwrap_or_default();
                RatingScheme::Rubric { items, grades }
            } else {
                cx.error_help(m.pos(), format!("{what}需要 `scale:`（等级）或 `rubric:`（评分细则）"), "例如 `scale: [{id: excellent, name: 优秀, max_share: 1/3}, {id: qualified, name: 合格}]`");
                return None;
            };
            StepKind::Rating(Box::new(RatingRule {
                raters: raters?,
                ratees,
                no_grade_roles,
                scheme,
            }))
        }
        "wait" => {
            let until = match (m.get("for"), m.get("until")) {
                (Some(n), None) => WaitUntil::For(cx.span(n, "`for`")?),
                (None, Some(n)) => {
                    WaitUntil::At(cx.time(n, "`until`", format!("step:{id}:until"))?)
                }
                _ => {
                    cx.error_help(m.pos(), format!("{what}需要 `for:` 或 `until:`，且只能写其中一个"), "例如 `for: 5 workdays inclusive`（等待一段时间）或 `until: 1 year after step.vote.completed_at`（等到某一天）");
                    return None;
                }
            };
            StepKind::Wait { until }
        }
        "recurring" => {
            let every = cx.req(m, "every", what).and_then(|n| cx.span(n, "`every`"));
            if every.is_some_and(|e| e.n == 0) {
                cx.error(m.pos(), format!("{what}：`every:` 必须大于零"));
            }
            let within = m.get("within").and_then(|n| cx.span(n, "`within`"));
            let until = m
                .get("until")
                .and_then(|n| cx.time(n, "`until`", format!("step:{id}:until")));
            let orgs = match m.get("orgs") {
                Some(n) => {
                    let sel = org_selector(cx, n)?;
                    let role = cx.req(m, "role", what).and_then(|n| {
                        cx.spans.put(format!("step:{id}:role"), n.pos);
                        cx.ident(n, "角色 id")
                    })?;
                    Some((sel, role))
                }
                None => None,
            };
            StepKind::Recurring(Box::new(Recurrence {
                every: every?,
                within,
                until,
                orgs,
            }))
        }
        "fanout" => {
            let orgs = cx.req(m, "orgs", what).and_then(|n| org_selector(cx, n));
            let role = cx.req(m, "role", what).and_then(|n| {
                cx.spans.put(format!("step:{id}:role"), n.pos);
                cx.ident(n, "角色 id")
            });
            StepKind::Fanout {
                orgs: orgs?,
                role: role?,
            }
        }
        "notify" => {
            let template = cx.req(m, "template", what).and_then(|n| {
                cx.spans.put(format!("step:{id}:template"), n.pos);
                cx.ident(n, "邮件模板 id")
            })?;
            StepKind::Notify { template }
        }
        "subflow" => {
            let workflow = cx
                .req(m, "workflow", what)
                .and_then(|n| cx.ident(n, "流程 id"))?;
            let mut inputs = BTreeMap::new();
            if let Some(n) = m.get("inputs")
                && let NodeKind::Map(items) = &n.kind
            {
                for (k, v) in items {
                    let input = format!("子流程的输入项「{}」", k.scalar().unwrap_or_default());
                    if let (Some(name), Some(e)) = (
                        cx.ident(k, "输入项 id"),
                        cx.expr(v, &input, format!("step:{id}:input")),
                    ) {
                        inputs.insert(name, e);
                    }
                }
            }
            StepKind::Subflow { workflow, inputs }
        }
        _ => return None,
    })
}

fn grades(cx: &mut Cx<'_>, node: &Node) -> Vec<Grade> {
    cx.seq(node, "等级列表")
        .into_iter()
        .filter_map(|g| {
            let gm = cx.map(g, "等级", keys::GRADE)?;
            let id = cx
                .req(&gm, "id", "等级")
                .and_then(|x| cx.ident(x, "等级 id"))?;
            let name = gm
                .get("name")
                .and_then(|x| cx.string(x, "`name`"))
                .unwrap_or_else(|| id.clone());
            let max_share = gm
                .get("max_share")
                .and_then(|x| cx.number(x, "`max_share`"));
            if let Some(s) = max_share
                && !(0.0..=1.0).contains(&s)
            {
                cx.error_help(
                    gm.pos(),
                    format!("等级{}的 `max_share` 应在 0 到 1 之间", named(&name, &id)),
                    "例如 `max_share: 1/3`（至多三分之一的人评为此等级）",
                );
            }
            let min_score = gm
                .get("min_score")
                .and_then(|x| cx.number(x, "`min_score`"));
            Some(Grade {
                id,
                name,
                max_share,
                min_score,
            })
        })
        .collect()
}

fn schedule(cx: &mut Cx<'_>, node: &Node, default_tz: Tz) -> Option<Schedule> {
    let m = cx.map(node, "定时启动", keys::SCHEDULE)?;
    let id = cx
        .req(&m, "id", "定时启动")
        .and_then(|n| cx.ident(n, "定时启动 id"))?;
    let what = format!("定时启动「{id}」");
    let cron_node = cx.req(&m, "cron", &what)?;
    let cron = cx.string(cron_node, "`cron`")?;
    if let Err(e) = crate::check::parse_cron(&cron) {
        cx.error_help(cron_node.pos, format!("cron 表达式「{cron}」有误：{e}"), "写 6 或 7 个字段：秒 分 时 日 月 星期 [年]，例如 `0 0 9 1 12 *`（每年 12 月 1 日 9:00）；也可写 5 个字段的传统格式（分 时 日 月 星期）");
    }
    let timezone = match m.get("timezone") {
        Some(n) => cx
            .string(n, "`timezone`")
            .and_then(|s| timezone(cx, n.pos, &s))
            .unwrap_or(default_tz),
        None => default_tz,
    };
    let orgs = format!("{what}的 `orgs:`");
    let sel = cx
        .req(&m, "orgs", &what)
        .and_then(|n| cx.map(n, &orgs, keys::SCHEDULE_ORGS))?;
    let kind = cx
        .req(&sel, "kind", &orgs)
        .and_then(|n| cx.string(n, "`kind`"))?;
    if !crate::vocab::ORG_KINDS.contains(&kind.as_str()) {
        let hint = suggestion(&kind, crate::vocab::ORG_KINDS.iter().copied());
        cx.error_help(
            sel.pos(),
            format!("未知的组织类型「{kind}」{hint}"),
            format!("可用的类型：{}", crate::vocab::ORG_KINDS.join("、")),
        );
    }
    let under = sel.get("under").and_then(|n| cx.string(n, "`under`"));
    let mut inputs = BTreeMap::new();
    if let Some(n) = m.get("inputs")
        && let NodeKind::Map(items) = &n.kind
    {
        for (k, v) in items {
            if let Some(name) = cx.ident(k, "输入项 id") {
                cx.spans.put(format!("schedule:{id}:input:{name}"), k.pos);
                inputs.insert(name, plain_json(v));
            }
        }
    }
    let overlap = match m.get("overlap").and_then(|n| n.scalar()) {
        None | Some("skip") => Overlap::Skip,
        Some("allow") => Overlap::Allow,
        Some(other) => {
            let pos = m.get("overlap").map(|n| n.pos).unwrap_or(m.pos());
            cx.error_help(
                pos,
                format!("未知的 `overlap` 规则「{other}」"),
                "改为 `skip`（默认：上一次发起的流程仍在进行的组织跳过）或 `allow`（照常发起）",
            );
            Overlap::Skip
        }
    };
    let catch_up = match m.get("catch_up").and_then(|n| n.scalar()) {
        None | Some("last") => CatchUp::Last,
        Some("all") => CatchUp::All,
        Some("none") => CatchUp::None,
        Some(other) => {
            let pos = m.get("catch_up").map(|n| n.pos).unwrap_or(m.pos());
            cx.error_help(
                pos,
                format!("未知的 `catch_up` 规则「{other}」"),
                "改为 `last`（默认：停机期间错过的只补发最后一次）、`all`（每次都补发）或 `none`（不补发）",
            );
            CatchUp::Last
        }
    };
    cx.spans.put(format!("schedule:{id}"), m.pos());
    let cron = crate::check::parse_cron(&cron).unwrap_or(cron);
    Some(Schedule {
        id,
        cron,
        timezone,
        orgs: ScheduleSelector { kind, under },
        inputs,
        overlap,
        catch_up,
    })
}

/// A scalar as JSON: plain numbers and booleans keep their type.
pub fn plain_json(node: &Node) -> serde_json::Value {
    match &node.kind {
        NodeKind::Scalar {
            text,
            quoted: false,
        } => {
            if let Ok(i) = text.parse::<i64>() {
                return i.into();
            }
            match text.as_str() {
                "true" => true.into(),
                "false" => false.into(),
                _ => text.clone().into(),
            }
        }
        NodeKind::Scalar { text, .. } => text.clone().into(),
        _ => serde_json::Value::Null,
    }
}
