//! Semantic checks over a decoded definition: references, cycles,
//! reachability, routes, roles, expressions, vote rules, templates.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use stageflow_engine::expr::{Expr, Scope};
use stageflow_engine::model::{
    Assignee, Definition, FieldKind, RatingScheme, Route, SetValue, Stage, Step, StepKind,
    WaitUntil,
};
use stageflow_engine::time::{Anchor, TimeExpr};

use crate::decode::{Cx, Roles};
use crate::diag::{code_list, named, suggestion, suggestion_named};
use crate::vocab;

/// Reads a cron expression: six or seven fields (seconds first), or the
/// classic five (a `0` seconds field is added). Returns the normalized
/// text, or what is wrong in words.
pub fn parse_cron(text: &str) -> Result<String, String> {
    let fields = text.split_whitespace().count();
    if !(5..=7).contains(&fields) {
        return Err(format!("应有 5、6 或 7 个字段，这里有 {fields} 个"));
    }
    let normalized = if fields == 5 {
        format!("0 {text}")
    } else {
        text.to_string()
    };
    let added = usize::from(fields == 5);
    cron::Schedule::from_str(&normalized).map_err(|e| cron_reason(&e.to_string(), added))?;
    Ok(normalized)
}

/// The cron crate's error in words. Its text is the expression, a line
/// with a caret under the field, then the reason (sometimes none);
/// `added` fields were put in front of what the author wrote.
fn cron_reason(error: &str, added: usize) -> String {
    let mut lines = error.lines();
    let expression = lines.next().unwrap_or_default();
    let caret = lines.next().and_then(|l| l.find('^'));
    let reason = lines.collect::<Vec<_>>().join(" ");
    let reason = reason.trim();
    // Which field the caret is under, counted from 1.
    let field = caret.map(|at| {
        expression
            .get(..at)
            .unwrap_or_default()
            .split_whitespace()
            .count()
            .saturating_sub(added)
            + 1
    });
    let unit = |name: &str| match name {
        "Seconds" => "秒",
        "Minutes" => "分",
        "Hours" => "时",
        "Days of Month" => "日",
        "Months" => "月",
        "Days of Week" => "星期",
        "Years" => "年",
        _ => "该",
    };
    // `X must be less than N. ('V' specified.)` and its kin.
    let given = |rest: &str| {
        rest.rsplit_once("('")
            .and_then(|(_, v)| v.split_once('\''))
            .map(|(v, _)| v.to_string())
            .unwrap_or_default()
    };
    let number = |s: &str| {
        s.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
    };
    if let Some((name, rest)) = reason.split_once(" must be less than ") {
        return format!(
            "{}字段最大为 {}，这里是 {}",
            unit(name),
            number(rest),
            given(rest)
        );
    }
    if let Some((name, rest)) = reason.split_once(" must be greater than or equal to ") {
        return format!(
            "{}字段最小为 {}，这里是 {}",
            unit(name),
            number(rest),
            given(rest)
        );
    }
    if let Some((name, rest)) = reason.split_once(" must be between 1 and ") {
        return format!(
            "{}字段的间隔应在 1 到 {} 之间，这里是 {}",
            unit(name),
            number(rest),
            given(rest)
        );
    }
    if let Some(rest) = reason.strip_prefix("The '")
        && let Some((name, rest)) = rest.split_once("' field does not support using names. '")
    {
        let value = rest.split_once('\'').map(|(v, _)| v).unwrap_or(rest);
        return format!("{}字段应为数字，这里是「{value}」", unit(name));
    }
    if let Some(rest) = reason
        .strip_prefix("Invalid range for ")
        .or_else(|| reason.strip_prefix("Invalid named range for "))
        && let Some((name, range)) = rest.split_once(": ")
    {
        return format!(
            "{}字段的范围「{range}」无效（起点不能大于终点）",
            unit(name)
        );
    }
    if reason == "range step cannot be zero" {
        return "间隔（`/` 后的数）不能为 0".to_string();
    }
    if let Some(rest) = reason.strip_prefix('\'')
        && let Some((value, kind)) = rest.split_once("' is not a valid ")
    {
        let what = if kind.starts_with("day") {
            "星期"
        } else {
            "月份"
        };
        return format!("「{value}」不是有效的{what}名称");
    }
    match field {
        Some(n) if reason.is_empty() => format!("第 {n} 个字段无法识别"),
        _ if reason.is_empty() => "无法识别".to_string(),
        // A reason this table does not know: the library's own words.
        _ => reason.to_string(),
    }
}

/// Runs every semantic check, adding diagnostics to `cx`.
pub fn check(cx: &mut Cx<'_>, def: &Definition, roles: &Roles) {
    let mut c = Checker {
        cx,
        def,
        roles,
        vars: BTreeSet::new(),
    };
    for stage in &def.stages {
        for step in &stage.steps {
            for s in &step.set {
                c.vars.insert(s.name.clone());
            }
        }
    }
    c.run();
}

struct Checker<'c, 'a> {
    cx: &'c mut Cx<'a>,
    def: &'c Definition,
    roles: &'c Roles,
    vars: BTreeSet<String>,
}

/// Most steps one workflow may have.
const MAX_STEPS: usize = 200;

const TALLY_VARS: &[&str] = &["eligible", "present", "cast", "yes", "no", "abstain"];

impl Checker<'_, '_> {
    fn err(&mut self, key: &str, message: String) {
        let pos = self.cx.spans.get(key);
        self.cx.error(pos, message);
    }

    fn err_help(&mut self, key: &str, message: String, help: &str) {
        let pos = self.cx.spans.get(key);
        self.cx.error_help(pos, message, help);
    }

    /// A step as messages name it: 步骤「谈话」(talk), or 步骤「talk」
    /// without a name.
    fn step_ref(&self, id: &str) -> String {
        let name = self
            .def
            .step(id)
            .map(|(_, s)| s.name.as_str())
            .unwrap_or(id);
        format!("步骤{}", named(name, id))
    }

    /// A stage as messages name it: 阶段「申请」(apply).
    fn stage_ref(&self, id: &str) -> String {
        let name = self.def.stage(id).map(|s| s.name.as_str()).unwrap_or(id);
        format!("阶段{}", named(name, id))
    }

    /// `（是否应为「谈话」(talk)？）` among the given steps, or nothing.
    fn step_hint<'s>(&self, id: &str, among: impl IntoIterator<Item = &'s Step>) -> String {
        suggestion_named(
            id,
            among.into_iter().map(|s| (s.id.as_str(), s.name.as_str())),
        )
    }

    /// `（是否应为「谈话」(talk)？）` among all steps, or nothing.
    fn any_step_hint(&self, id: &str) -> String {
        self.step_hint(id, self.def.stages.iter().flat_map(|s| &s.steps))
    }

    fn run(&mut self) {
        let def = self.def;
        self.size();
        self.duplicates();
        for (i, check) in def.checks.iter().enumerate() {
            self.expr_vars(&check.expr, &format!("check:{i}"), None);
        }
        for input in &def.inputs {
            if let Some(t) = &input.field.not_before {
                self.time(t, &format!("input:{}:not_before", input.field.id), None);
            }
        }
        for (i, stage) in def.stages.iter().enumerate() {
            self.stage(stage, i + 1 == def.stages.len());
        }
        self.reachability();
        self.idle_loops();
        self.templates();
        if !def.schedules.is_empty() && def.subject == stageflow_engine::model::SubjectKind::Person
        {
            let first = &def.schedules[0].id;
            self.err_help(&format!("schedule:{first}"), format!("定时启动「{first}」为每个组织各发起一个流程，但本流程的对象是个人（`subject: person`）"), "改为 `subject: organization`；以个人为对象的流程请逐个发起");
        }
        for s in &def.schedules {
            for name in s.inputs.keys() {
                if !def.inputs.iter().any(|i| &i.field.id == name) {
                    let hint = suggestion_named(
                        name,
                        def.inputs
                            .iter()
                            .map(|i| (i.field.id.as_str(), i.field.label.as_str())),
                    );
                    self.err(
                        &format!("schedule:{}:input:{name}", s.id),
                        format!("定时启动「{}」设置了未知的输入项「{name}」{hint}", s.id),
                    );
                }
            }
        }
    }

    /// A workflow people can follow has tens of steps (发展党员: 25); the
    /// engine and the time simulation walk every step on every command.
    fn size(&mut self) {
        let steps: usize = self.def.stages.iter().map(|s| s.steps.len()).sum();
        if steps > MAX_STEPS {
            let at = self
                .def
                .stages
                .iter()
                .flat_map(|s| &s.steps)
                .nth(MAX_STEPS)
                .map(|s| format!("step:{}", s.id))
                .unwrap_or_default();
            self.err_help(
                &at,
                format!("流程共有 {steps} 个步骤，最多只能有 {MAX_STEPS} 个"),
                "拆分为几个相互发起的流程（`kind: subflow`）",
            );
        }
    }

    fn duplicates(&mut self) {
        let mut stages = BTreeSet::new();
        let mut steps = BTreeSet::new();
        for stage in &self.def.stages {
            if !stages.insert(stage.id.clone()) {
                self.err(
                    &format!("stage:{}", stage.id),
                    format!("阶段 id「{}」重复使用", stage.id),
                );
            }
            for step in &stage.steps {
                if !steps.insert(step.id.clone()) {
                    self.err(
                        &format!("step:{}", step.id),
                        format!(
                            "步骤 id「{}」重复使用（步骤 id 在整个流程中必须唯一）",
                            step.id
                        ),
                    );
                }
            }
        }
    }

    /// `operations:` names operations there are.
    fn operations(&mut self, step: &stageflow_engine::model::Step) {
        use stageflow_engine::model::STEP_OPERATIONS;
        for (i, op) in step.operations.iter().flatten().enumerate() {
            if STEP_OPERATIONS.iter().any(|(id, _)| id == op) {
                continue;
            }
            let hint = suggestion(op, STEP_OPERATIONS.iter().map(|(id, _)| *id));
            let all: Vec<String> = STEP_OPERATIONS
                .iter()
                .map(|(id, name)| format!("`{id}`（{name}）"))
                .collect();
            self.err_help(
                &format!("step:{}:operations:{i}", step.id),
                format!("未知的操作「{op}」{hint}"),
                &format!("可用的操作：{}", all.join("、")),
            );
        }
    }

    /// `hide:` names fields that exist: `STEP.FIELD` or `STEP`.
    fn hidden_fields(&mut self, step: &stageflow_engine::model::Step) {
        for (i, h) in step.hide.iter().enumerate() {
            let key = format!("step:{}:hide:{i}", step.id);
            let (target, field) = match h.split_once('.') {
                Some((s, f)) => (s, Some(f)),
                None => (h.as_str(), None),
            };
            let Some((_, other)) = self.def.step(target) else {
                let all: Vec<&str> = self
                    .def
                    .stages
                    .iter()
                    .flat_map(|s| s.steps.iter().map(|s| s.id.as_str()))
                    .collect();
                let hint = suggestion(target, all);
                self.err_help(
                    &key,
                    format!("`hide:` 中的步骤「{target}」不存在{hint}"),
                    "写 `步骤id.字段id`（隐藏一个字段）或 `步骤id`（隐藏该步骤的全部表单）",
                );
                continue;
            };
            if let Some(field) = field
                && !other.form.iter().any(|f| f.id == field)
            {
                let hint = suggestion(field, other.form.iter().map(|f| f.id.as_str()));
                let fields: Vec<&str> = other.form.iter().map(|f| f.id.as_str()).collect();
                self.err_help(
                    &key,
                    format!("{}的表单中没有字段「{field}」{hint}", self.step_ref(target)),
                    &format!("它的字段有：{}", fields.join("、")),
                );
            }
        }
    }

    fn stage(&mut self, stage: &Stage, last: bool) {
        let ids: Vec<&str> = stage.steps.iter().map(|s| s.id.as_str()).collect();
        for step in &stage.steps {
            self.hidden_fields(step);
            self.operations(step);
            for (i, a) in step.after.iter().enumerate() {
                let key = format!("step:{}:after:{i}", step.id);
                if a == &step.id {
                    self.err_help(
                        &key,
                        format!("{}不能排在它自己之后", self.step_ref(a)),
                        "从 `after:` 中删去它自己",
                    );
                } else if !ids.contains(&a.as_str()) {
                    match self.def.step(a) {
                        Some((other, _)) => self.err_help(
                            &key,
                            format!(
                                "{}属于{}，不在{}中",
                                self.step_ref(a),
                                self.stage_ref(&other.id),
                                self.stage_ref(&stage.id)
                            ),
                            "`after:` 只能排列同一阶段内的步骤；阶段之间的先后由 `then:` 和结果的去向决定",
                        ),
                        None if self.cx.spans.has(&format!("declared-step:{a}")) => {}
                        None => {
                            let hint = self.step_hint(a, &stage.steps);
                            self.err(&key, format!("未知的步骤「{a}」{hint}"));
                        }
                    }
                }
            }
        }
        self.cycles(stage);
        if let Some(w) = &stage.window {
            self.time(&w.opens, &format!("stage:{}:opens", stage.id), None);
            self.time(&w.closes, &format!("stage:{}:closes", stage.id), None);
        }
        let then_key = format!("stage:{}:then", stage.id);
        match &stage.then {
            Route::Step(_) | Route::Retry => self.err_help(
                &then_key,
                format!(
                    "{}的 `then:` 不能是 `step` 或 `retry`",
                    self.stage_ref(&stage.id)
                ),
                "改为 `then: stage STAGE`、`then: stage STAGE.STEP` 或 `then: end STATE`",
            ),
            Route::Next => {
                if last && self.cx.spans.has(&then_key) {
                    self.err_help(
                        &then_key,
                        format!("{}之后没有阶段了", self.stage_ref(&stage.id)),
                        "改为 `then: end STATE`，说明流程如何结束",
                    );
                }
            }
            r => self.route(r, &then_key, stage),
        }
        for step in &stage.steps {
            self.step(stage, step);
        }
    }

    /// Stages that wait for nothing (no steps but notices, no window) and
    /// lead back to each other would loop forever the moment the instance
    /// enters them; the engine stops such a command, but the author hears
    /// it here, at the `then:` that closes the loop.
    fn idle_loops(&mut self) {
        let stages = &self.def.stages;
        let idle = |st: &Stage| {
            st.window.is_none()
                && st
                    .steps
                    .iter()
                    .all(|x| matches!(x.kind, stageflow_engine::model::StepKind::Notify { .. }))
        };
        let next_of = |i: usize| -> Option<usize> {
            let target = match &stages[i].then {
                Route::Next => return (i + 1 < stages.len()).then_some(i + 1),
                Route::Stage { stage, .. } => stage,
                _ => return None,
            };
            stages.iter().position(|s| &s.id == target)
        };
        let mut reported = BTreeSet::new();
        for start in 0..stages.len() {
            let mut path = vec![start];
            let mut at = start;
            while idle(&stages[at]) {
                let Some(next) = next_of(at) else { break };
                if next == start {
                    let mut members: Vec<usize> = path.clone();
                    members.sort_unstable();
                    if reported.insert(members) {
                        let names: Vec<String> = path
                            .iter()
                            .chain(std::iter::once(&start))
                            .map(|&i| named(&stages[i].name, &stages[i].id))
                            .collect();
                        let last = &stages[at].id;
                        self.err_help(
                            &format!("stage:{last}:then"),
                            format!(
                                "这些阶段首尾相连、循环往复，中间没有任何需要等人办理的步骤：{}",
                                names.join(" → ")
                            ),
                            "在其中一个阶段加入需要有人办理的步骤（任务、审批或等待），或用 `then: end STATE` 结束流程",
                        );
                    }
                    break;
                }
                if path.contains(&next) {
                    break;
                }
                path.push(next);
                at = next;
            }
        }
    }

    fn cycles(&mut self, stage: &Stage) {
        let index: HashMap<&str, &Step> = stage.steps.iter().map(|s| (s.id.as_str(), s)).collect();
        // 0 = unvisited, 1 = on the path, 2 = done
        let mut mark: HashMap<&str, u8> = HashMap::new();
        let mut reported = BTreeSet::new();
        for start in &stage.steps {
            let mut path: Vec<&str> = Vec::new();
            self.visit(
                start.id.as_str(),
                &index,
                &mut mark,
                &mut path,
                &mut reported,
            );
        }
    }

    fn visit<'s>(
        &mut self,
        id: &'s str,
        index: &HashMap<&'s str, &'s Step>,
        mark: &mut HashMap<&'s str, u8>,
        path: &mut Vec<&'s str>,
        reported: &mut BTreeSet<String>,
    ) {
        match mark.get(id) {
            Some(2) => return,
            Some(1) => {
                let from = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<&str> = path[from..].to_vec();
                let mut sorted = cycle.clone();
                sorted.sort();
                if reported.insert(sorted.join(",")) {
                    cycle.push(id);
                    // Path follows `after:` edges backwards; show it forwards.
                    cycle.reverse();
                    let names: Vec<String> = cycle
                        .iter()
                        .map(|s| {
                            let name = index.get(s).map(|x| x.name.as_str()).unwrap_or(s);
                            named(name, s)
                        })
                        .collect();
                    self.err_help(
                        &format!("step:{id}"),
                        format!("步骤相互等待，形成循环：{}", names.join(" → ")),
                        "删去循环中的一处 `after:`",
                    );
                }
                return;
            }
            _ => {}
        }
        mark.insert(id, 1);
        path.push(id);
        if let Some(step) = index.get(id) {
            for a in &step.after {
                if index.contains_key(a.as_str()) && a != id {
                    self.visit(
                        index.get(a.as_str()).map(|s| s.id.as_str()).unwrap_or(""),
                        index,
                        mark,
                        path,
                        reported,
                    );
                }
            }
        }
        path.pop();
        mark.insert(id, 2);
    }

    fn route(&mut self, route: &Route, key: &str, stage: &Stage) {
        match route {
            Route::Next | Route::Retry => {}
            Route::End(s) => {
                if !self.def.has_end_state(s) && !self.cx.spans.has("end_states-invalid") {
                    let hint = suggestion_named(
                        s,
                        self.def
                            .end_states
                            .iter()
                            .map(|e| (e.id.as_str(), e.name.as_str())),
                    );
                    self.err_help(
                        key,
                        format!("未知的结束状态「{s}」{hint}"),
                        "在 `end_states:` 下声明它",
                    );
                }
            }
            Route::Step(s) => {
                if !stage.steps.iter().any(|x| &x.id == s) {
                    match self.def.step(s) {
                        Some((other, _)) => self.err_help(
                            key,
                            format!(
                                "{}属于另一个{}，`step` 只能回到本阶段的步骤",
                                self.step_ref(s),
                                self.stage_ref(&other.id)
                            ),
                            &format!("要进入其他阶段的步骤，写 `stage {}.{s}`", other.id),
                        ),
                        None if self.cx.spans.has(&format!("declared-step:{s}")) => {}
                        None => {
                            let hint = self.step_hint(s, &stage.steps);
                            self.err(key, format!("未知的步骤「{s}」{hint}"));
                        }
                    }
                }
            }
            Route::Stage {
                stage: target,
                step,
            } => match self.def.stage(target) {
                None => {
                    let hint = suggestion_named(
                        target,
                        self.def
                            .stages
                            .iter()
                            .map(|s| (s.id.as_str(), s.name.as_str())),
                    );
                    self.err(key, format!("未知的阶段「{target}」{hint}"));
                }
                Some(t) => {
                    if let Some(step) = step
                        && !t.steps.iter().any(|x| &x.id == step)
                    {
                        let hint = self.step_hint(step, &t.steps);
                        self.err(
                            key,
                            format!("{}中没有步骤「{step}」{hint}", self.stage_ref(target)),
                        );
                    }
                }
            },
        }
    }

    fn step(&mut self, stage: &Stage, step: &Step) {
        let id = &step.id;
        if let Some(limit) = step.on_timeout.as_ref().and_then(|t| t.limit.as_ref()) {
            self.time(limit, &format!("step:{id}:on_timeout:limit"), Some(step));
        }
        for (i, e) in step.escalate.iter().enumerate() {
            if let Some(limit) = &e.limit {
                self.time(limit, &format!("step:{id}:escalate:{i}:limit"), Some(step));
            }
        }
        for f in &step.form {
            if let Some(t) = &f.not_before {
                self.time(
                    t,
                    &format!("step:{id}:form:{}:not_before", f.id),
                    Some(step),
                );
            }
        }
        // Outcomes and routes.
        let produced: Vec<String> = match &step.kind {
            StepKind::Approval { .. } => vec!["approve".into(), "reject".into(), "return".into()],
            StepKind::Vote(v) if !v.choices.is_empty() => {
                let mut c = v.choices.clone();
                c.push("fail".into());
                c.push("no_quorum".into());
                c
            }
            StepKind::Task if !step.outcomes.is_empty() => step.outcomes.keys().cloned().collect(),
            StepKind::Subflow { .. } => {
                let mut c: Vec<String> = step.outcomes.keys().cloned().collect();
                c.push("done".into());
                c
            }
            k => Step::default_outcomes(k)
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        if let StepKind::Vote(_) = &step.kind {
            for o in ["fail", "no_quorum"] {
                if step.outcomes.get(o).is_some_and(|d| d.max_times.is_some()) {
                    self.err_help(
                        &format!("step:{id}:outcome:{o}"),
                        format!("表决的结果「{o}」由计票决定，不能用 `max_times` 限制次数"),
                        "让它去往一个步骤或阶段，在那里用 `set:` 记下次数、用 `when:` 判断",
                    );
                }
            }
        }
        for (o, def) in &step.outcomes {
            let key = format!("step:{id}:outcome:{o}");
            let custom_ok = matches!(
                step.kind,
                StepKind::Approval { .. } | StepKind::Task | StepKind::Subflow { .. }
            );
            if !produced.contains(o) && !custom_ok {
                self.err_help(
                    &key,
                    format!(
                        "{}步骤不会产生结果「{o}」",
                        vocab::step_kind_name(step.kind.name())
                    ),
                    &format!(
                        "它的结果只有：{}",
                        code_list(produced.iter().map(String::as_str))
                    ),
                );
            }
            let route_key = format!("step:{id}:route:{o}");
            self.route(&def.route, &route_key, stage);
        }
        for o in &produced {
            // 退回 needs a route only where the step's operations allow it.
            if o == "return" && !step.allows("return") {
                continue;
            }
            if step.outcome(o).is_none() {
                let key = format!("step:{id}");
                self.err_help(
                    &key,
                    format!(
                        "{}的结果{}没有去向",
                        self.step_ref(id),
                        named(&crate::decode::default_label(o), o)
                    ),
                    &format!(
                        "在 `outcomes:` 下写明它的去向，例如 `{o}: end not_admitted` 或 `{o}: step {id}`"
                    ),
                );
            }
        }
        if let Some(t) = &step.on_timeout {
            let mut allowed = produced.clone();
            allowed.extend(step.outcomes.keys().cloned());
            if !allowed.contains(&t.outcome) {
                self.err_help(
                    &format!("step:{id}:on_timeout"),
                    format!(
                        "`on_timeout` 的结果「{}」不是{}的结果",
                        t.outcome,
                        self.step_ref(id)
                    ),
                    &format!(
                        "可用的结果：{}",
                        code_list(allowed.iter().map(String::as_str))
                    ),
                );
            }
            if step.due.is_none() && stage.window.is_none() {
                self.err_help(
                    &format!("step:{id}:on_timeout"),
                    format!("{}设置了 `on_timeout`，却没有 `due:`", self.step_ref(id)),
                    "加上 `due:`，引擎才知道何时到期",
                );
            }
        }
        if (!step.remind.before.is_empty()
            || step.remind.at_due
            || step.remind.every.is_some()
            || !step.escalate.is_empty())
            && step.due.is_none()
            && stage.window.is_none()
            && !matches!(&step.kind, StepKind::Recurring(r) if r.within.is_some())
        {
            self.err_help(
                &format!("step:{id}"),
                format!("{}设置了提醒或督办，却没有 `due:`", self.step_ref(id)),
                "加上 `due:`，例如 `due: 1 month after activated`（定期步骤也可以改用 `within:` 为每一期规定期限）",
            );
        }
        // Times.
        if let Some(t) = &step.due {
            self.time(t, &format!("step:{id}:due"), Some(step));
        }
        if let Some(t) = &step.earliest {
            self.time(t, &format!("step:{id}:earliest"), Some(step));
        }
        // Expressions.
        if let Some(w) = &step.when {
            self.expr_vars(w, &format!("step:{id}:when"), Some(step));
        }
        for (i, c) in step.checks.iter().enumerate() {
            self.expr_vars(&c.expr, &format!("step:{id}:check:{i}"), Some(step));
        }
        for s in &step.set {
            let key = format!("step:{id}:set:{}", s.name);
            match &s.value {
                SetValue::Expr(e) => self.expr_vars(e, &key, Some(step)),
                SetValue::Date(t) => self.time(t, &key, Some(step)),
            }
        }
        // Assignees and roles.
        if let Some(a) = &step.assignee {
            self.assignee(a, &format!("step:{id}:assignee"));
        }
        for (i, e) in step.escalate.iter().enumerate() {
            self.assignee(&e.to, &format!("step:{id}:escalate:{i}"));
        }
        match &step.kind {
            StepKind::Vote(v) => {
                self.assignee(&v.voters, &format!("step:{id}:voters"));
                let mut names_ok = true;
                for (e, name) in [(&v.quorum, "quorum"), (&v.pass, "pass")] {
                    for var in e.variables() {
                        if !TALLY_VARS.contains(&var.as_str()) {
                            names_ok = false;
                            let hint = suggestion(&var, TALLY_VARS.iter().copied());
                            self.err_help(
                                &format!("step:{id}:{name}"),
                                format!("表决规则中有未知的名称「{var}」{hint}"),
                                "表决规则只能用：`eligible`（应到人数）、`present`（实到人数）、`cast`（表决人数，含书面意见）、`yes`（赞成）、`no`（反对）、`abstain`（弃权）",
                            );
                        }
                    }
                }
                if names_ok {
                    self.vote_can_pass(step, &v.quorum, &v.pass);
                }
            }
            StepKind::Rating(r) => {
                self.assignee(&r.raters, &format!("step:{id}:raters"));
                for (i, a) in r.ratees.iter().enumerate() {
                    self.assignee(a, &format!("step:{id}:ratees:{i}"));
                }
                for (i, role) in r.no_grade_roles.iter().enumerate() {
                    self.role(role, &format!("step:{id}:no_grade:{i}"));
                }
                let grades = match &r.scheme {
                    RatingScheme::Scale { grades } => grades,
                    RatingScheme::Rubric { items, grades } => {
                        if items.is_empty() {
                            self.err(
                                &format!("step:{id}"),
                                format!(
                                    "{}的评分细则（`rubric:`）没有评分项（`items:`）",
                                    self.step_ref(id)
                                ),
                            );
                        }
                        grades
                    }
                };
                if grades.is_empty() {
                    self.err(
                        &format!("step:{id}"),
                        format!("评议{}没有设置等级", self.step_ref(id)),
                    );
                }
            }
            StepKind::Fanout { role, .. } => self.role(role, &format!("step:{id}:role")),
            StepKind::Recurring(r) => {
                if let Some((_, role)) = &r.orgs {
                    self.role(role, &format!("step:{id}:role"));
                }
                if let Some(u) = &r.until {
                    self.time(u, &format!("step:{id}:until"), Some(step));
                }
            }
            StepKind::Wait {
                until: WaitUntil::At(t),
            } => self.time(t, &format!("step:{id}:until"), Some(step)),
            StepKind::Notify { template } => {
                if !self.def.templates.contains_key(template)
                    && !vocab::MAIL_KINDS.contains(&template.as_str())
                {
                    let names: Vec<&str> = self
                        .def
                        .templates
                        .keys()
                        .map(String::as_str)
                        .chain(vocab::MAIL_KINDS.iter().copied())
                        .collect();
                    let hint = suggestion(template, names);
                    self.err_help(
                        &format!("step:{id}:template"),
                        format!("未知的邮件模板「{template}」{hint}"),
                        "在 `templates:` 下声明它",
                    );
                }
                if step.assignee.is_none() {
                    self.err_help(
                        &format!("step:{id}"),
                        format!("通知{}缺少 `assignee:`（通知谁）", self.step_ref(id)),
                        "例如 `assignee: { role: secretary, org: parent }`（上级组织的书记）",
                    );
                }
            }
            StepKind::Subflow { inputs, .. } => {
                for e in inputs.values() {
                    self.expr_vars(e, &format!("step:{id}:input"), Some(step));
                }
            }
            _ => {}
        }
    }

    fn role(&mut self, role: &str, key: &str) {
        if vocab::role_name(role).is_none() && !self.roles.contains_key(role) {
            let all: Vec<(&str, &str)> = vocab::ROLES
                .iter()
                .copied()
                .chain(self.roles.iter().map(|(r, n)| (r.as_str(), n.as_str())))
                .collect();
            let hint = suggestion_named(role, all);
            self.err_help(
                key,
                format!("未知的角色「{role}」{hint}"),
                &format!(
                    "使用内置角色，如 {}等，或在 `roles:` 下声明它",
                    vocab::ids_with_names(&vocab::ROLES[..3])
                ),
            );
        }
    }

    fn assignee(&mut self, a: &Assignee, key: &str) {
        match a {
            Assignee::Role { role, .. } => self.role(role, key),
            Assignee::Field(path) => {
                self.var_ref(path, key, None);
                self.person_field(path, key);
            }
            Assignee::Subject | Assignee::Initiator => {}
        }
    }

    /// A field that names whom to give work or mail must be declared a
    /// person (`type: person`): only a person field's value is checked,
    /// when it is entered, to be someone of the instance's organization,
    /// its subtree or the organizations above it.
    fn person_field(&mut self, path: &str, key: &str) {
        let parts: Vec<&str> = path.split('.').collect();
        let field = match parts.as_slice() {
            ["input", i] => self
                .def
                .inputs
                .iter()
                .find(|x| x.field.id == *i)
                .map(|x| &x.field),
            ["step", s, "form", f] => self
                .def
                .step(s)
                .and_then(|(_, st)| st.form.iter().find(|x| x.id == *f)),
            _ => {
                self.err_help(
                    key,
                    format!("「{path}」不能用来指定办理人"),
                    "用人员字段指定办理人：`field: input.NAME` 或 `field: step.STEP.form.FIELD`，该字段须声明为 `type: person`",
                );
                return;
            }
        };
        // An unknown field is reported by `var_ref`.
        if let Some(f) = field
            && f.kind != FieldKind::Person
        {
            self.err_help(
                key,
                format!("「{path}」用来指定办理人，但它不是人员字段"),
                "把该字段声明为 `type: person`：人员字段在填写时会核对，所填的人须属于本流程的组织、其下级组织或上级组织",
            );
        }
    }

    fn time(&mut self, t: &TimeExpr, key: &str, step: Option<&Step>) {
        match &t.anchor {
            Anchor::StepCompleted(s) | Anchor::StepActivated(s) => {
                if self.def.step(s).is_none() {
                    let hint = self.any_step_hint(s);
                    self.err(key, format!("「{t}」中有未知的步骤「{s}」{hint}"));
                }
            }
            Anchor::StepField(s, f) => match self.def.step(s) {
                None => {
                    let hint = self.any_step_hint(s);
                    self.err(key, format!("「{t}」中有未知的步骤「{s}」{hint}"));
                }
                Some((_, st)) if is_meeting_date(st, f) => {}
                Some((_, st)) => match st.form.iter().find(|x| &x.id == f) {
                    None => {
                        let hint = form_hint(f, st);
                        self.err(
                            key,
                            format!("{}没有表单字段「{f}」{hint}", self.step_ref(s)),
                        );
                    }
                    Some(field) if field.kind != FieldKind::Date => {
                        self.err_help(
                            key,
                            format!(
                                "{}的表单字段{}不是日期",
                                self.step_ref(s),
                                named(&field.label, f)
                            ),
                            "时间只能从日期字段（`type: date`）起算",
                        );
                    }
                    Some(_) => {}
                },
            },
            Anchor::Input(i) => match self.def.inputs.iter().find(|x| &x.field.id == i) {
                None => {
                    let hint = self.input_hint(i);
                    self.err_help(
                        key,
                        format!("未知的输入项「{i}」{hint}"),
                        "在 `inputs:` 下声明它，并写 `type: date`",
                    );
                }
                Some(x) if x.field.kind != FieldKind::Date => self.err_help(
                    key,
                    format!("输入项{}不是日期", named(&x.field.label, i)),
                    "时间只能从日期字段起算，请把它声明为 `type: date`",
                ),
                Some(_) => {}
            },
            Anchor::Var(v) => {
                if !self.vars.contains(v) {
                    let hint = suggestion(v, self.vars.iter().map(String::as_str));
                    self.err_help(
                        key,
                        format!("未知的变量「{v}」{hint}"),
                        "变量由步骤的 `set:` 设置",
                    );
                }
            }
            Anchor::Activated | Anchor::StageEntered => {
                if step.is_none() && matches!(t.anchor, Anchor::Activated) {
                    self.err_help(
                        key,
                        format!("「{t}」：`activated`（步骤开始办理时）只能用在步骤中"),
                        "在这里可以用 `started`（流程发起时）或 `stage_entered`（进入阶段时）",
                    );
                }
            }
            Anchor::Started | Anchor::Date(_) => {}
        }
    }

    /// `（是否应为「年度」(year)？）` among the inputs, or nothing.
    fn input_hint(&self, id: &str) -> String {
        suggestion_named(
            id,
            self.def
                .inputs
                .iter()
                .map(|x| (x.field.id.as_str(), x.field.label.as_str())),
        )
    }

    fn expr_vars(&mut self, e: &Expr, key: &str, step: Option<&Step>) {
        for v in e.variables() {
            self.var_ref(&v, key, step);
        }
    }

    fn var_ref(&mut self, v: &str, key: &str, step: Option<&Step>) {
        let parts: Vec<&str> = v.split('.').collect();
        let ok = match parts.as_slice() {
            ["today"] => true,
            ["subject", _] => true,
            ["input", i] => {
                let known = self.def.inputs.iter().any(|x| x.field.id == *i);
                if !known {
                    let hint = self.input_hint(i);
                    self.err(key, format!("未知的输入项「{i}」{hint}"));
                    return;
                }
                true
            }
            ["var", name] => {
                if !self.vars.contains(*name) {
                    let hint = suggestion(name, self.vars.iter().map(String::as_str));
                    self.err_help(
                        key,
                        format!("未知的变量「{name}」{hint}"),
                        "变量由步骤的 `set:` 设置",
                    );
                    return;
                }
                true
            }
            ["form", f] => match step {
                Some(s) if s.form.iter().any(|x| x.id == *f) => true,
                Some(s) => {
                    let hint = form_hint(f, s);
                    self.err(
                        key,
                        format!("{}没有表单字段「{f}」{hint}", self.step_ref(&s.id)),
                    );
                    return;
                }
                None => false,
            },
            ["step", s, rest @ ..] => {
                let Some((_, st)) = self.def.step(s) else {
                    let hint = self.any_step_hint(s);
                    self.err(key, format!("「{v}」中有未知的步骤「{s}」{hint}"));
                    return;
                };
                match rest {
                    ["outcome"] | ["completed_at"] => true,
                    ["form", f] => {
                        if !st.form.iter().any(|x| x.id == *f) && !is_meeting_date(st, f) {
                            let hint = form_hint(f, st);
                            self.err(
                                key,
                                format!("{}没有表单字段「{f}」{hint}", self.step_ref(s)),
                            );
                            return;
                        }
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if !ok {
            self.err_help(key, format!("未知的名称「{v}」"), "可用的名称：`input.ID`、`var.NAME`、`subject.FIELD`、`step.ID.form.FIELD`、`step.ID.outcome`、`step.ID.completed_at`、`form.FIELD`（本步骤的表单）或 `today`");
        }
    }

    fn vote_can_pass(&mut self, step: &Step, quorum: &Expr, pass: &Expr) {
        let mut quorum_ever = false;
        let mut pass_ever = false;
        for n in 1..=200u32 {
            let mut s = Scope::default();
            for (k, v) in [
                ("eligible", n),
                ("present", n),
                ("cast", n),
                ("yes", n),
                ("no", 0),
                ("abstain", 0),
            ] {
                s.set(k, v.into());
            }
            match (quorum.eval_bool(&s), pass.eval_bool(&s)) {
                (Ok(q), Ok(p)) => {
                    quorum_ever |= q;
                    pass_ever |= q && p;
                }
                (Err(e), _) | (_, Err(e)) => {
                    self.err(
                        &format!("step:{}:pass", step.id),
                        format!("{}的表决规则有误，{e}", self.step_ref(&step.id)),
                    );
                    return;
                }
            }
            if pass_ever {
                return;
            }
        }
        let this = self.step_ref(&step.id);
        if !quorum_ever {
            self.err_help(
                &format!("step:{}:quorum", step.id),
                format!("{this}永远达不到法定人数，即使应到的人全部出席"),
                "例如 `quorum: present > eligible / 2`（实到人数超过应到人数的一半）",
            );
        } else {
            self.err_help(
                &format!("step:{}:pass", step.id),
                format!("{this}的表决永远无法通过，即使应到的人全部出席并投赞成票"),
                "例如 `pass: yes > eligible / 2`（赞成票超过应到人数的一半）",
            );
        }
    }

    fn reachability(&mut self) {
        let def = self.def;
        let n = def.stages.len();
        let mut seen = vec![false; n];
        let mut todo = vec![0usize];
        while let Some(i) = todo.pop() {
            if i >= n || seen[i] {
                continue;
            }
            seen[i] = true;
            let stage = &def.stages[i];
            let mut routes: Vec<&Route> = vec![&stage.then];
            for step in &stage.steps {
                routes.extend(step.outcomes.values().map(|o| &o.route));
            }
            for r in routes {
                match r {
                    Route::Next if std::ptr::eq(r, &stage.then) => todo.push(i + 1),
                    Route::Stage { stage, .. } => {
                        if let Some(j) = def.stage_index(stage) {
                            todo.push(j);
                        }
                    }
                    _ => {}
                }
            }
        }
        for (i, stage) in def.stages.iter().enumerate() {
            if !seen[i] {
                self.err_help(
                    &format!("stage:{}", stage.id),
                    format!(
                        "{}永远不会进入：没有任何去向通往它",
                        self.stage_ref(&stage.id)
                    ),
                    "用 `then: stage ID` 或某个结果的去向通往它，或者删除这个阶段",
                );
            }
        }
    }

    fn templates(&mut self) {
        let mut hb = handlebars::Handlebars::new();
        hb.set_strict_mode(true);
        let mut sample = serde_json::Map::new();
        for v in vocab::MAIL_VARS {
            sample.insert((*v).to_string(), format!("<{v}>").into());
        }
        let sample = serde_json::Value::Object(sample);
        for (id, t) in &self.def.templates {
            for (part, part_name, text) in
                [("subject", "标题", &t.subject), ("body", "正文", &t.body)]
            {
                let key = format!("template:{id}:{part}");
                if let Err(e) = hb.render_template(text, &sample) {
                    let (reason, at) = template_error(&e);
                    let line = at
                        .map(|l| format!("（{part_name}第 {l} 行）"))
                        .unwrap_or_default();
                    self.err_help(
                        &key,
                        format!("邮件模板「{id}」的{part_name}：{reason}{line}"),
                        &format!(
                            "可用的变量：{}",
                            vocab::MAIL_VARS
                                .iter()
                                .map(|v| format!("`{{{{{v}}}}}`"))
                                .collect::<Vec<_>>()
                                .join("、")
                        ),
                    );
                }
            }
        }
    }
}

/// `（是否应为「申请日期」(applied_on)？）` among a step's form fields.
fn form_hint(field: &str, step: &Step) -> String {
    suggestion_named(
        field,
        step.form.iter().map(|x| (x.id.as_str(), x.label.as_str())),
    )
}

/// Why a mail template does not render, and on which line: an unknown
/// variable or broken Handlebars syntax, in words.
fn template_error(e: &handlebars::RenderError) -> (String, Option<usize>) {
    use handlebars::{RenderErrorReason as R, TemplateErrorReason as T};
    match e.reason() {
        R::MissingVariable(Some(v)) => {
            let hint = suggestion(v, vocab::MAIL_VARS.iter().copied());
            (format!("未知的模板变量「{v}」{hint}"), e.line_no)
        }
        R::TemplateError(t) => {
            let at = t.pos().map(|(l, _)| l).or(e.line_no);
            let reason = match t.reason() {
                T::MismatchingClosedHelper(open, close) => {
                    format!("`{{{{#{open}}}}}` 开始的块却以 `{{{{/{close}}}}}` 结束")
                }
                T::InvalidParam(p) => format!("参数「{p}」无效"),
                _ => "Handlebars 语法有误（`{{` 与 `}}` 是否成对？）".to_string(),
            };
            (reason, at)
        }
        R::HelperNotFound(h) => (format!("未知的辅助函数「{h}」"), e.line_no),
        other => (format!("无法生成邮件：{other}"), e.line_no),
    }
}

/// A vote records the day its meeting was held as `form.held_on`.
fn is_meeting_date(step: &Step, field: &str) -> bool {
    field == "held_on" && matches!(step.kind, StepKind::Vote(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_errors_are_in_words() {
        assert_eq!(parse_cron("0 9 1 12 *").unwrap(), "0 0 9 1 12 *");
        let cases = [
            ("0 0 25 1 12 *", "时字段最大为 23，这里是 25"),
            ("0 0 9 1 13 *", "月字段最大为 12，这里是 13"),
            ("0 0 9 0 * *", "日字段最小为 1，这里是 0"),
            ("every month", "应有 5、6 或 7 个字段，这里有 2 个"),
            (
                "every month on the first",
                "分字段应为数字，这里是「every」",
            ),
            (
                "every month on the first day",
                "秒字段应为数字，这里是「every」",
            ),
            (
                "0 0 9 5-3 * *",
                "日字段的范围「5-3」无效（起点不能大于终点）",
            ),
            ("*/0 * * * * *", "间隔（`/` 后的数）不能为 0"),
            (
                "0 0 0/100 * * *",
                "时字段的间隔应在 1 到 23 之间，这里是 100",
            ),
            ("0 0 9 * * FOO", "「FOO」不是有效的星期名称"),
            ("0 0 9 1 12 * 1900", "第 7 个字段无法识别"),
            ("1 2 3", "应有 5、6 或 7 个字段，这里有 3 个"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_cron(text).unwrap_err(), want, "{text}");
        }
    }
}
