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

use crate::diag::{Diagnostic, Pos, suggestion};
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
                    "{what} must be a mapping of `key: value` pairs, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in items {
            let Some(key) = k.scalar() else {
                self.error(k.pos, format!("keys of {what} must be plain names"));
                continue;
            };
            if seen.contains(&key) {
                self.error(k.pos, format!("duplicate key '{key}' in {what}"));
            }
            seen.push(key);
            if !allowed.contains(&key) {
                let hint = suggestion(key, allowed.iter().copied());
                self.error_help(
                    k.pos,
                    format!("unknown key '{key}' in {what}{hint}"),
                    format!("allowed keys: {}", allowed.join(", ")),
                );
            }
        }
        Some(MapView { node, items })
    }

    /// A required key.
    pub fn req<'n>(&mut self, m: &MapView<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let v = m.get(key);
        if v.is_none() {
            self.error(m.pos(), format!("{what} needs `{key}:`"));
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
                    format!("{what} must be text, found {}", node.describe()),
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
                format!("{what} '{s}' is not a valid id"),
                "ids are ASCII: a lowercase letter, then lowercase letters, digits, '_' or '-' (Chinese names go in `name:`)",
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
                        "{what} must be true or false, found '{}'",
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
                self.error(node.pos, format!("{what} must be a number, found '{text}'"));
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
                        "{what} must be a whole number, found '{}'",
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
                        "{what} must be a list (items start with '- '), found {}",
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
                    format!("{what}: {}", e.0),
                    "examples: '30 minutes', '3 days', '5 workdays inclusive', '1 month', '1 year'",
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
                self.error_help(node.pos, format!("{what}: {}", e.0), "examples: '1 month after step.apply.completed_at', '5 workdays inclusive after activated', '2026-07-01', 'input.phase1_end'");
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
                self.error(node.pos, format!("{what}: {e}"));
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
    let m = cx.map(root, "the definition", keys::DEFINITION)?;
    match m.get("stageflow") {
        Some(v) if v.scalar() == Some("1") => {}
        Some(v) => cx.error_help(
            v.pos,
            format!(
                "unsupported language version '{}'",
                v.scalar().unwrap_or("?")
            ),
            "write `stageflow: 1`",
        ),
        None => cx.error_help(
            m.pos(),
            "the definition needs `stageflow: 1` (the language version)",
            "add `stageflow: 1` as the first line",
        ),
    }
    let id = cx
        .req(&m, "id", "the definition")
        .and_then(|n| cx.ident(n, "the workflow id"));
    let name = cx
        .req(&m, "name", "the definition")
        .and_then(|n| cx.string(n, "name"));
    let version = m
        .get("version")
        .and_then(|n| cx.count(n, "version"))
        .unwrap_or(1);
    let subject = match m
        .get("subject")
        .and_then(|n| cx.string(n, "subject"))
        .as_deref()
    {
        None | Some("organization") | Some("org") => SubjectKind::Organization,
        Some("person") => SubjectKind::Person,
        Some(other) => {
            let pos = m.get("subject").map(|n| n.pos).unwrap_or_default();
            cx.error_help(
                pos,
                format!("unknown subject '{other}'"),
                "write `subject: person` or `subject: organization`",
            );
            SubjectKind::Organization
        }
    };
    let timezone = match m.get("timezone") {
        Some(n) => cx
            .string(n, "timezone")
            .and_then(|s| timezone(cx, n.pos, &s)),
        None => Some(chrono_tz::Asia::Shanghai),
    }
    .unwrap_or(chrono_tz::Asia::Shanghai);
    let calendar = match m.get("calendar") {
        Some(n) => {
            let c = cx.string(n, "calendar").unwrap_or_default();
            if !crate::vocab::CALENDARS.contains(&c.as_str()) {
                let hint = suggestion(&c, crate::vocab::CALENDARS.iter().copied());
                cx.error_help(
                    n.pos,
                    format!("unknown calendar '{c}'{hint}"),
                    format!("known calendars: {}", crate::vocab::CALENDARS.join(", ")),
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
                    "unknown empty_assignee policy",
                    "write `fail`, `skip` or `parent_secretary`",
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
                    "unknown deadline_on_holiday policy",
                    "write `next_workday` (民法典 第203条) or `keep`",
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
                        (cx.ident(k, "role id"), cx.string(v, "role name"))
                    {
                        cx.spans.put(format!("role:{id}"), k.pos);
                        roles.insert(id, label);
                    }
                }
            }
            _ => cx.error_help(
                n.pos,
                "roles must map role ids to names",
                "e.g. `roles: { applicant: 入党申请人 }`",
            ),
        }
    }
    let inputs = m
        .get("inputs")
        .map(|n| {
            cx.seq(n, "inputs")
                .into_iter()
                .filter_map(|f| field(cx, f, "input", "input"))
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
                        (cx.ident(k, "end state id"), cx.string(v, "end state name"))
                    {
                        cx.spans.put(format!("end:{id}"), k.pos);
                        end_states.push(EndState { id, name });
                    }
                }
            } else {
                cx.spans.put("end_states-invalid", n.pos);
                cx.error_help(
                    n.pos,
                    "end_states must map ids to names",
                    "e.g. `end_states: { admitted: 已转为正式党员, not_admitted: 未接收 }`",
                );
            }
        }
        None => cx.error_help(
            m.pos(),
            "the definition needs `end_states:`",
            "e.g. `end_states: { done: 已完成 }`",
        ),
    }
    let stages: Vec<Stage> = match cx.req(&m, "stages", "the definition") {
        Some(n) => {
            let items = cx.seq(n, "stages");
            if items.is_empty() && matches!(n.kind, NodeKind::Seq(_)) {
                cx.error(n.pos, "a workflow needs at least one stage");
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
            cx.seq(n, "schedules")
                .into_iter()
                .filter_map(|s| schedule(cx, s, timezone))
                .collect()
        })
        .unwrap_or_default();
    let mut templates = BTreeMap::new();
    if let Some(n) = m.get("templates") {
        if let NodeKind::Map(items) = &n.kind {
            for (k, v) in items {
                let Some(id) = cx.ident(k, "template id") else {
                    continue;
                };
                cx.spans.put(format!("template:{id}"), k.pos);
                let Some(tm) = cx.map(v, &format!("template '{id}'"), keys::TEMPLATE) else {
                    continue;
                };
                let subject = cx
                    .req(&tm, "subject", "a template")
                    .and_then(|n| cx.string(n, "subject"));
                let body = cx
                    .req(&tm, "body", "a template")
                    .and_then(|n| cx.string(n, "body"));
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
                "templates must map template ids to `{subject, body}`",
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
                format!("unknown time zone '{s}'"),
                "use an IANA name such as Asia/Shanghai",
            );
            None
        }
    }
}

fn checks(cx: &mut Cx<'_>, node: &Node, key: &str) -> Vec<Check> {
    let mut out = Vec::new();
    for (i, c) in cx.seq(node, "checks").into_iter().enumerate() {
        let Some(m) = cx.map(c, "a check", keys::CHECK) else {
            continue;
        };
        let expr = cx
            .req(&m, "rule", "a check")
            .and_then(|n| cx.expr(n, "rule", format!("{key}:{i}")));
        let message = cx
            .req(&m, "message", "a check")
            .and_then(|n| cx.string(n, "message"));
        if let (Some(expr), Some(message)) = (expr, message) {
            out.push(Check { expr, message });
        }
    }
    out
}

fn field(cx: &mut Cx<'_>, node: &Node, what: &str, key: &str) -> Option<Field> {
    let m = cx.map(node, &format!("an {what}"), keys::FIELD)?;
    let id = cx
        .req(&m, "id", what)
        .and_then(|n| cx.ident(n, "field id"))?;
    cx.spans.put(format!("{key}:{id}"), m.pos());
    let label = m
        .get("label")
        .and_then(|n| cx.string(n, "label"))
        .unwrap_or_else(|| id.clone());
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
                    .seq(n, "options")
                    .into_iter()
                    .filter_map(|o| cx.string(o, "option"))
                    .collect(),
                None => Vec::new(),
            };
            if options.is_empty() {
                cx.error_help(
                    m.pos(),
                    format!("choice field '{id}' needs `options:`"),
                    "e.g. `options: [同意, 不同意]`",
                );
            }
            FieldKind::Choice(options)
        }
        other => {
            let types = [
                "text", "textarea", "integer", "number", "boolean", "date", "person", "org",
                "file", "choice",
            ];
            let hint = suggestion(other, types);
            cx.error_help(
                type_node.map(|n| n.pos).unwrap_or(m.pos()),
                format!("unknown field type '{other}'{hint}"),
                format!("types: {}", types.join(", ")),
            );
            FieldKind::Text
        }
    };
    let required = m
        .get("required")
        .and_then(|n| cx.boolean(n, "required"))
        .unwrap_or(false);
    let min = m.get("min").and_then(|n| cx.number(n, "min"));
    let max = m.get("max").and_then(|n| cx.number(n, "max"));
    let future = m
        .get("future")
        .and_then(|n| cx.boolean(n, "future"))
        .unwrap_or(false);
    let not_before = m
        .get("not_before")
        .and_then(|n| cx.time(n, "not_before", format!("{key}:{id}:not_before")));
    for (name, given) in [("future", future), ("not_before", not_before.is_some())] {
        if given
            && kind != FieldKind::Date
            && let Some(n) = m.get(name)
        {
            cx.error(
                n.pos,
                format!("`{name}` applies to date fields; field '{id}' is not `type: date`"),
            );
        }
    }
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
            cx.error(
                n.pos,
                format!("default of field '{id}' does not fit its type"),
            );
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
    let m = cx.map(node, "a stage", keys::STAGE)?;
    let id = cx
        .req(&m, "id", "a stage")
        .and_then(|n| cx.ident(n, "stage id"))?;
    cx.spans.put(
        format!("stage:{id}"),
        m.get("id").map(|n| n.pos).unwrap_or(m.pos()),
    );
    let name = m
        .get("name")
        .and_then(|n| cx.string(n, "name"))
        .unwrap_or_else(|| id.clone());
    let then = match m.get("then") {
        Some(n) => {
            cx.spans.put(format!("stage:{id}:then"), n.pos);
            cx.string(n, "then")
                .and_then(|s| route(cx, n.pos, &s))
                .unwrap_or(Route::Next)
        }
        None => {
            if last {
                cx.error_help(
                    m.pos(),
                    format!("the last stage '{id}' must say how the workflow ends"),
                    "add e.g. `then: end done`",
                );
            }
            Route::Next
        }
    };
    let window = m.get("window").and_then(|n| {
        let w = cx.map(n, "a window", keys::WINDOW)?;
        let opens = cx
            .req(&w, "opens", "a window")
            .and_then(|n| cx.time(n, "opens", format!("stage:{id}:opens")));
        let closes = cx
            .req(&w, "closes", "a window")
            .and_then(|n| cx.time(n, "closes", format!("stage:{id}:closes")));
        Some(Window {
            opens: opens?,
            closes: closes?,
        })
    });
    let steps = match cx.req(&m, "steps", "a stage") {
        Some(n) => cx
            .seq(n, "steps")
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
        format!("cannot read route '{text}'"),
        "write `next`, `end STATE`, `stage STAGE`, `stage STAGE.STEP`, `step STEP` (back to a step of this stage) or `retry`",
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
                cx.error_help(node.pos, format!("cannot read {what} '{s}'"), "write `subject`, `initiator`, `{role: ROLE, org: own|parent|grandparent|ancestor KIND}` or `{field: step.STEP.form.FIELD}`");
                None
            }
        };
    }
    let m = cx.map(node, what, keys::ASSIGNEE)?;
    cx.spans.put(key, m.pos());
    if let Some(f) = m.get("field") {
        return cx.string(f, "field").map(Assignee::Field);
    }
    let role = cx.req(&m, "role", what).and_then(|n| cx.ident(n, "role"))?;
    let org = match m.get("org") {
        Some(n) => org_ref(cx, n)?,
        None => OrgRef::Own,
    };
    Some(Assignee::Role { role, org })
}

fn org_ref(cx: &mut Cx<'_>, node: &Node) -> Option<OrgRef> {
    let s = cx.string(node, "org")?;
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
                    format!("unknown organization kind '{kind}'{hint}"),
                    format!("kinds: {}", crate::vocab::ORG_KINDS.join(", ")),
                );
            }
            OrgRef::Ancestor(kind.to_string())
        }
        _ => {
            cx.error_help(
                node.pos,
                format!("cannot read org '{s}'"),
                "write `own`, `parent`, `grandparent` or `ancestor KIND` (e.g. `ancestor 党委`)",
            );
            return None;
        }
    })
}

fn org_selector(cx: &mut Cx<'_>, node: &Node) -> Option<OrgSelector> {
    let m = cx.map(node, "an organization selector", keys::ORG_SELECTOR)?;
    let kind = m.get("kind").and_then(|n| {
        let k = cx.string(n, "kind")?;
        if !crate::vocab::ORG_KINDS.contains(&k.as_str()) {
            let hint = suggestion(&k, crate::vocab::ORG_KINDS.iter().copied());
            cx.error(n.pos, format!("unknown organization kind '{k}'{hint}"));
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
            format!("a step must be a mapping, found {}", node.describe()),
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
                format!("unknown step kind '{other}'{hint}"),
                format!("kinds: {}", keys::STEP_KINDS.join(", ")),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = keys::STEP.iter().chain(extra.iter()).copied().collect();
    let m = cx.map(node, &format!("a {kind_name} step"), &allowed)?;
    let id = cx
        .req(&m, "id", "a step")
        .and_then(|n| cx.ident(n, "step id"))?;
    let k = |s: &str| format!("step:{id}:{s}");
    cx.spans.put(
        format!("step:{id}"),
        m.get("id").map(|n| n.pos).unwrap_or(m.pos()),
    );
    let name = m
        .get("name")
        .and_then(|n| cx.string(n, "name"))
        .unwrap_or_else(|| id.clone());
    let after: Vec<String> = match m.get("after") {
        Some(n) => {
            let items = cx.list(n);
            items
                .into_iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    cx.spans.put(format!("step:{id}:after:{i}"), a.pos);
                    cx.ident(a, "after")
                })
                .collect()
        }
        None => Vec::new(),
    };
    let when = m.get("when").and_then(|n| cx.expr(n, "when", k("when")));
    let step_assignee = m
        .get("assignee")
        .and_then(|n| assignee(cx, n, "assignee", k("assignee")));
    let due = m.get("due").and_then(|n| cx.time(n, "due", k("due")));
    let earliest = m
        .get("earliest")
        .and_then(|n| cx.time(n, "earliest", k("earliest")));
    let mut remind = Remind::default();
    if let Some(n) = m.get("remind")
        && let Some(r) = cx.map(n, "remind", keys::REMIND)
    {
        if let Some(b) = r.get("before") {
            remind.before = cx
                .list(b)
                .into_iter()
                .filter_map(|x| cx.span(x, "remind before"))
                .collect();
        }
        remind.at_due = r
            .get("at_due")
            .and_then(|x| cx.boolean(x, "at_due"))
            .unwrap_or(false);
        remind.every = r.get("every").and_then(|x| cx.span(x, "remind every"));
        remind.max = r
            .get("max")
            .and_then(|x| cx.count(x, "max"))
            .unwrap_or(if remind.every.is_some() { 3 } else { 0 });
        if remind.max > 100 {
            cx.error(r.pos(), "at most 100 repeating reminders");
        }
    }
    let escalate = match m.get("escalate") {
        Some(n) => cx
            .list(n)
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let em = cx.map(e, "an escalation", keys::ESCALATE)?;
                let limit = em
                    .get("limit")
                    .and_then(|x| cx.time(x, "limit", format!("step:{id}:escalate:{i}:limit")));
                let after = match (em.get("after"), &limit) {
                    (Some(x), _) => cx.span(x, "after"),
                    (None, Some(_)) => Some(stageflow_engine::time::Span {
                        n: 0,
                        unit: stageflow_engine::time::Unit::Day,
                        inclusive: false,
                    }),
                    (None, None) => cx
                        .req(&em, "after", "an escalation")
                        .and_then(|x| cx.span(x, "after")),
                };
                let to = cx.req(&em, "to", "an escalation").and_then(|x| {
                    assignee(
                        cx,
                        x,
                        "escalation target",
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
        let tm = cx.map(n, "on_timeout", keys::TIMEOUT)?;
        let outcome = cx
            .req(&tm, "outcome", "on_timeout")
            .and_then(|x| cx.ident(x, "outcome"))?;
        cx.spans.put(format!("step:{id}:on_timeout"), tm.pos());
        let after = tm.get("after").and_then(|x| cx.span(x, "after"));
        let limit = tm
            .get("limit")
            .and_then(|x| cx.time(x, "limit", format!("step:{id}:on_timeout:limit")));
        if let (Some(_), Some(_), Some(n)) = (&after, &limit, tm.get("limit")) {
            cx.error_help(
                n.pos,
                "`on_timeout` has both `after` and `limit`".to_string(),
                "`after:` counts from the deadline; `limit:` from its own anchor — keep one",
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
                let Some(o) = cx.ident(key, "outcome id") else {
                    continue;
                };
                cx.spans.put(format!("step:{id}:outcome:{o}"), key.pos);
                let (route_node, label, max_times) = match &v.kind {
                    NodeKind::Map(_) => {
                        let Some(om) = cx.map(v, &format!("outcome '{o}'"), keys::OUTCOME) else {
                            continue;
                        };
                        let label = om.get("label").and_then(|x| cx.string(x, "label"));
                        let max = om.get("max_times").and_then(|x| cx.count(x, "max_times"));
                        (om.get("to"), label, max)
                    }
                    _ => (Some(v), None, None),
                };
                let route = match route_node {
                    Some(rn) => {
                        cx.spans.put(format!("step:{id}:route:{o}"), rn.pos);
                        cx.string(rn, "route").and_then(|s| route(cx, rn.pos, &s))
                    }
                    None => {
                        cx.error_help(
                            v.pos,
                            format!("outcome '{o}' has no route"),
                            "add `to: next` (or `end STATE`, `stage STAGE`, `step STEP`)",
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
                "outcomes must map outcome ids to routes",
                "e.g. `outcomes: { approve: next, reject: end not_admitted }`",
            );
        }
    }
    let form = match m.get("form") {
        Some(n) => cx
            .seq(n, "form")
            .into_iter()
            .filter_map(|f| field(cx, f, "form field", &format!("step:{id}:form")))
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
                let Some(name) = cx.ident(key, "variable name") else {
                    continue;
                };
                cx.spans.put(format!("var:{name}"), key.pos);
                let Some(vm) = cx.map(v, &format!("variable '{name}'"), keys::SET) else {
                    continue;
                };
                let value = if let Some(d) = vm.get("date") {
                    cx.time(d, "date", format!("step:{id}:set:{name}"))
                        .map(SetValue::Date)
                } else if let Some(e) = vm.get("expr") {
                    cx.expr(e, "expr", format!("step:{id}:set:{name}"))
                        .map(SetValue::Expr)
                } else {
                    cx.error_help(
                        vm.pos(),
                        format!("variable '{name}' needs `date:` or `expr:`"),
                        "e.g. `probation_end: { date: 1 year after step.vote.completed_at }`",
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
                "set must map variable names to `{date: ...}` or `{expr: ...}`",
            );
        }
    }
    let comment_required = m
        .get("comment_required")
        .and_then(|n| cx.boolean(n, "comment_required"))
        .unwrap_or(false);
    let kind = step_kind(cx, &m, &kind_name, &id)?;
    let required = m
        .get("required")
        .and_then(|n| cx.boolean(n, "required"))
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
    })
}

fn default_label(outcome: &str) -> String {
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

fn step_kind(cx: &mut Cx<'_>, m: &MapView<'_>, kind: &str, id: &str) -> Option<StepKind> {
    let what = format!("{kind} step '{id}'");
    Some(match kind {
        "task" => StepKind::Task,
        "approval" => {
            let mode = match m.get("mode").and_then(|n| n.scalar()).unwrap_or("any") {
                "any" => ApprovalMode::Any,
                "all" => ApprovalMode::All,
                "sequential" => ApprovalMode::Sequential,
                "ratio" => {
                    let r = m.get("ratio").and_then(|n| cx.number(n, "ratio"));
                    match r {
                        Some(r) if r > 0.0 && r <= 1.0 => ApprovalMode::Ratio(r),
                        _ => {
                            cx.error_help(
                                m.pos(),
                                format!("{what}: mode ratio needs `ratio:` between 0 and 1"),
                                "e.g. `ratio: 2/3`",
                            );
                            ApprovalMode::Ratio(1.0)
                        }
                    }
                }
                other => {
                    let hint = suggestion(other, ["any", "all", "sequential", "ratio"]);
                    cx.error_help(
                        m.get("mode").map(|n| n.pos).unwrap_or(m.pos()),
                        format!("unknown approval mode '{other}'{hint}"),
                        "modes: any (或签), all (会签), sequential (依次), ratio (票签)",
                    );
                    ApprovalMode::Any
                }
            };
            StepKind::Approval { mode }
        }
        "vote" => {
            let voters = cx
                .req(m, "voters", &what)
                .and_then(|n| assignee(cx, n, "voters", format!("step:{id}:voters")));
            let choices: Vec<String> = m
                .get("choices")
                .map(|n| {
                    cx.seq(n, "choices")
                        .into_iter()
                        .filter_map(|c| cx.ident(c, "choice"))
                        .collect()
                })
                .unwrap_or_default();
            let quorum = match m.get("quorum") {
                Some(n) => cx.expr(n, "quorum", format!("step:{id}:quorum")),
                None => Expr::parse("present > eligible / 2").ok(),
            };
            let pass = match m.get("pass") {
                Some(n) => cx.expr(n, "pass", format!("step:{id}:pass")),
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
                .req(m, "raters", &what)
                .and_then(|n| assignee(cx, n, "raters", format!("step:{id}:raters")));
            let ratees: Vec<Assignee> = match cx.req(m, "ratees", &what) {
                Some(n) => cx
                    .list(n)
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, a)| assignee(cx, a, "ratees", format!("step:{id}:ratees:{i}")))
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
                            cx.ident(r, "role")
                        })
                        .collect()
                })
                .unwrap_or_default();
            let scheme = if let Some(n) = m.get("scale") {
                RatingScheme::Scale {
                    grades: grades(cx, n),
                }
            } else if let Some(n) = m.get("rubric") {
                let rm = cx.map(n, "a rubric", keys::RUBRIC)?;
                let items = match cx.req(&rm, "items", "a rubric") {
                    Some(n) => cx
                        .seq(n, "items")
                        .into_iter()
                        .filter_map(|i| {
                            let im = cx.map(i, "a rubric item", keys::RUBRIC_ITEM)?;
                            let iid = cx
                                .req(&im, "id", "a rubric item")
                                .and_then(|x| cx.ident(x, "item id"))?;
                            let name = im
                                .get("name")
                                .and_then(|x| cx.string(x, "name"))
                                .unwrap_or_else(|| iid.clone());
                            let max = im
                                .get("max")
                                .and_then(|x| cx.number(x, "max"))
                                .unwrap_or(0.0);
                            let min = im
                                .get("min")
                                .and_then(|x| cx.number(x, "min"))
                                .unwrap_or(0.0);
                            let weight = im
                                .get("weight")
                                .and_then(|x| cx.number(x, "weight"))
                                .unwrap_or(1.0);
                            if min > max {
                                cx.error(
                                    im.pos(),
                                    format!("rubric item '{iid}': min {min} is above max {max}"),
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
                    .req(&rm, "grades", "a rubric")
                    .map(|n| grades(cx, n))
                    .unwrap_or_default();
                RatingScheme::Rubric { items, grades }
            } else {
                cx.error_help(m.pos(), format!("{what} needs `scale:` or `rubric:`"), "e.g. `scale: [{id: excellent, name: 优秀, max_share: 1/3}, {id: qualified, name: 合格}]`");
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
                (Some(n), None) => WaitUntil::For(cx.span(n, "for")?),
                (None, Some(n)) => {
                    WaitUntil::At(cx.time(n, "until", format!("step:{id}:until"))?)
                }
                _ => {
                    cx.error_help(m.pos(), format!("{what} needs exactly one of `for:` and `until:`"), "e.g. `for: 5 workdays inclusive` or `until: 1 year after step.vote.completed_at`");
                    return None;
                }
            };
            StepKind::Wait { until }
        }
        "recurring" => {
            let every = cx.req(m, "every", &what).and_then(|n| cx.span(n, "every"));
            if every.is_some_and(|e| e.n == 0) {
                cx.error(
                    m.pos(),
                    format!("{what}: `every:` must be longer than zero"),
                );
            }
            let within = m.get("within").and_then(|n| cx.span(n, "within"));
            let until = m
                .get("until")
                .and_then(|n| cx.time(n, "until", format!("step:{id}:until")));
            let orgs = match m.get("orgs") {
                Some(n) => {
                    let sel = org_selector(cx, n)?;
                    let role = cx.req(m, "role", &what).and_then(|n| {
                        cx.spans.put(format!("step:{id}:role"), n.pos);
                        cx.ident(n, "role")
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
            let orgs = cx.req(m, "orgs", &what).and_then(|n| org_selector(cx, n));
            let role = cx.req(m, "role", &what).and_then(|n| {
                cx.spans.put(format!("step:{id}:role"), n.pos);
                cx.ident(n, "role")
            });
            StepKind::Fanout {
                orgs: orgs?,
                role: role?,
            }
        }
        "notify" => {
            let template = cx.req(m, "template", &what).and_then(|n| {
                cx.spans.put(format!("step:{id}:template"), n.pos);
                cx.ident(n, "template")
            })?;
            StepKind::Notify { template }
        }
        "subflow" => {
            let workflow = cx
                .req(m, "workflow", &what)
                .and_then(|n| cx.ident(n, "workflow"))?;
            let mut inputs = BTreeMap::new();
            if let Some(n) = m.get("inputs")
                && let NodeKind::Map(items) = &n.kind
            {
                for (k, v) in items {
                    if let (Some(name), Some(e)) = (
                        cx.ident(k, "input"),
                        cx.expr(v, "input", format!("step:{id}:input")),
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
    cx.seq(node, "grades")
        .into_iter()
        .filter_map(|g| {
            let gm = cx.map(g, "a grade", keys::GRADE)?;
            let id = cx
                .req(&gm, "id", "a grade")
                .and_then(|x| cx.ident(x, "grade id"))?;
            let name = gm
                .get("name")
                .and_then(|x| cx.string(x, "name"))
                .unwrap_or_else(|| id.clone());
            let max_share = gm.get("max_share").and_then(|x| cx.number(x, "max_share"));
            if let Some(s) = max_share
                && !(0.0..=1.0).contains(&s)
            {
                cx.error(
                    gm.pos(),
                    format!("max_share of grade '{id}' must be between 0 and 1, e.g. 1/3"),
                );
            }
            let min_score = gm.get("min_score").and_then(|x| cx.number(x, "min_score"));
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
    let m = cx.map(node, "a schedule", keys::SCHEDULE)?;
    let id = cx
        .req(&m, "id", "a schedule")
        .and_then(|n| cx.ident(n, "schedule id"))?;
    let cron_node = cx.req(&m, "cron", "a schedule")?;
    let cron = cx.string(cron_node, "cron")?;
    if let Err(e) = crate::check::parse_cron(&cron) {
        cx.error_help(cron_node.pos, format!("bad cron expression '{cron}': {e}"), "six or seven fields: sec min hour day-of-month month day-of-week [year], e.g. '0 0 9 1 12 *' (09:00 on 1 December)");
    }
    let timezone = match m.get("timezone") {
        Some(n) => cx
            .string(n, "timezone")
            .and_then(|s| timezone(cx, n.pos, &s))
            .unwrap_or(default_tz),
        None => default_tz,
    };
    let sel = cx
        .req(&m, "orgs", "a schedule")
        .and_then(|n| cx.map(n, "orgs", keys::SCHEDULE_ORGS))?;
    let kind = cx
        .req(&sel, "kind", "orgs")
        .and_then(|n| cx.string(n, "kind"))?;
    if !crate::vocab::ORG_KINDS.contains(&kind.as_str()) {
        let hint = suggestion(&kind, crate::vocab::ORG_KINDS.iter().copied());
        cx.error(
            sel.pos(),
            format!("unknown organization kind '{kind}'{hint}"),
        );
    }
    let under = sel.get("under").and_then(|n| cx.string(n, "under"));
    let mut inputs = BTreeMap::new();
    if let Some(n) = m.get("inputs")
        && let NodeKind::Map(items) = &n.kind
    {
        for (k, v) in items {
            if let Some(name) = cx.ident(k, "input") {
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
                format!("unknown overlap policy '{other}'"),
                "write `skip` (default) or `allow`",
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
                format!("unknown catch-up policy '{other}'"),
                "write `last` (default), `all` or `none`",
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
