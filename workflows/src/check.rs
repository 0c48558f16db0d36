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
use crate::diag::suggestion;
use crate::vocab;

/// Reads a cron expression: six or seven fields (seconds first), or the
/// classic five (a `0` seconds field is added). Returns the normalized text.
pub fn parse_cron(text: &str) -> Result<String, String> {
    let fields = text.split_whitespace().count();
    let normalized = if fields == 5 {
        format!("0 {text}")
    } else {
        text.to_string()
    };
    cron::Schedule::from_str(&normalized).map_err(|e| {
        let text = e.to_string();
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty() && l.trim() != "^")
            .unwrap_or(&text)
            .trim()
            .to_string()
    })?;
    Ok(normalized)
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
            self.err_help(&format!("schedule:{first}"), "a schedule starts one instance per organization, but this workflow is about a person".into(), "use `subject: organization`, or start person workflows through the API");
        }
        for s in &def.schedules {
            for name in s.inputs.keys() {
                if !def.inputs.iter().any(|i| &i.field.id == name) {
                    let hint = suggestion(name, def.inputs.iter().map(|i| i.field.id.as_str()));
                    self.err(
                        &format!("schedule:{}:input:{name}", s.id),
                        format!("schedule '{}' sets unknown input '{name}'{hint}", s.id),
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
                format!("the workflow has {steps} steps; at most {MAX_STEPS} are allowed"),
                "split it into workflows that start one another (`kind: subflow`)",
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
                    format!("stage id '{}' is used twice", stage.id),
                );
            }
            for step in &stage.steps {
                if !steps.insert(step.id.clone()) {
                    self.err(&format!("step:{}", step.id), format!("step id '{}' is used twice (step ids are unique in the whole workflow)", step.id));
                }
            }
        }
    }

    fn stage(&mut self, stage: &Stage, last: bool) {
        let ids: Vec<&str> = stage.steps.iter().map(|s| s.id.as_str()).collect();
        for step in &stage.steps {
            for (i, a) in step.after.iter().enumerate() {
                let key = format!("step:{}:after:{i}", step.id);
                if a == &step.id {
                    self.err(&key, format!("step '{}' cannot come after itself", step.id));
                } else if !ids.contains(&a.as_str()) {
                    match self.def.step(a) {
                        Some((other, _)) => self.err_help(&key, format!("step '{a}' is in stage '{}', not in stage '{}'", other.id, stage.id), "`after:` orders steps of the same stage; stages follow each other by `then:` and outcome routes"),
                        None if self.cx.spans.has(&format!("declared-step:{a}")) => {}
                        None => {
                            let hint = suggestion(a, ids.iter().copied());
                            self.err(&key, format!("unknown step '{a}'{hint}"));
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
                    "stage '{}' cannot continue with a step or a retry",
                    stage.id
                ),
                "write `then: stage STAGE`, `then: stage STAGE.STEP` or `then: end STATE`",
            ),
            Route::Next => {
                if last && self.cx.spans.has(&then_key) {
                    self.err_help(
                        &then_key,
                        format!("there is no stage after '{}'", stage.id),
                        "write `then: end STATE`",
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
                        let names: Vec<&str> = path
                            .iter()
                            .chain(std::iter::once(&start))
                            .map(|&i| stages[i].id.as_str())
                            .collect();
                        let last = &stages[at].id;
                        self.err_help(
                            &format!("stage:{last}:then"),
                            format!(
                                "stages loop without waiting for anyone: {}",
                                names.join(" → ")
                            ),
                            "give one of these stages a step someone must do (a task, an approval, a wait), or end the workflow with `then: end STATE`",
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
                    self.err_help(
                        &format!("step:{id}"),
                        format!(
                            "steps wait for each other in a cycle: {}",
                            cycle.join(" → ")
                        ),
                        "remove one of the `after:` entries in the cycle",
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
                    let hint = suggestion(s, self.def.end_states.iter().map(|e| e.id.as_str()));
                    self.err_help(
                        key,
                        format!("unknown end state '{s}'{hint}"),
                        "declare it under `end_states:`",
                    );
                }
            }
            Route::Step(s) => {
                if !stage.steps.iter().any(|x| &x.id == s) {
                    match self.def.step(s) {
                        Some((other, _)) => self.err_help(
                            key,
                            format!("step '{s}' is in stage '{}'", other.id),
                            &format!("to go back to another stage write `stage {}.{s}`", other.id),
                        ),
                        None if self.cx.spans.has(&format!("declared-step:{s}")) => {}
                        None => {
                            let hint = suggestion(s, stage.steps.iter().map(|x| x.id.as_str()));
                            self.err(key, format!("unknown step '{s}'{hint}"));
                        }
                    }
                }
            }
            Route::Stage {
                stage: target,
                step,
            } => match self.def.stage(target) {
                None => {
                    let hint = suggestion(target, self.def.stages.iter().map(|s| s.id.as_str()));
                    self.err(key, format!("unknown stage '{target}'{hint}"));
                }
                Some(t) => {
                    if let Some(step) = step
                        && !t.steps.iter().any(|x| &x.id == step)
                    {
                        let hint = suggestion(step, t.steps.iter().map(|x| x.id.as_str()));
                        self.err(key, format!("stage '{target}' has no step '{step}'{hint}"));
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
                        format!("the count decides a vote's '{o}'; it cannot be limited with max_times"),
                        "route it to a step or stage that counts attempts with `set:` and a `when:` guard instead",
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
                    format!("a {} step never ends with outcome '{o}'", step.kind.name()),
                    &format!("its outcomes are: {}", produced.join(", ")),
                );
            }
            let route_key = format!("step:{id}:route:{o}");
            self.route(&def.route, &route_key, stage);
        }
        for o in &produced {
            if step.outcome(o).is_none() {
                let key = format!("step:{id}");
                self.err_help(
                    &key,
                    format!("outcome '{o}' of step '{id}' has no route"),
                    &format!(
                        "add it under `outcomes:`, e.g. `{o}: end not_admitted` or `{o}: step {id}`"
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
                        "on_timeout outcome '{}' is not an outcome of step '{id}'",
                        t.outcome
                    ),
                    &format!("outcomes: {}", allowed.join(", ")),
                );
            }
            if step.due.is_none() && stage.window.is_none() {
                self.err_help(
                    &format!("step:{id}:on_timeout"),
                    format!("step '{id}' has on_timeout but no `due:`"),
                    "add `due:` so the engine knows when the time is up",
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
                format!("step '{id}' has reminders or escalations but no `due:`"),
                "add `due:`, e.g. `due: 1 month after activated` (a recurring step can give each occurrence its deadline with `within:` instead)",
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
                                format!("unknown name '{var}' in vote rule{hint}"),
                                "vote rules count: eligible, present, cast, yes, no, abstain",
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
                                format!("rubric of step '{id}' has no items"),
                            );
                        }
                        grades
                    }
                };
                if grades.is_empty() {
                    self.err(
                        &format!("step:{id}"),
                        format!("rating step '{id}' has no grades"),
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
                        format!("unknown template '{template}'{hint}"),
                        "declare it under `templates:`",
                    );
                }
                if step.assignee.is_none() {
                    self.err_help(
                        &format!("step:{id}"),
                        format!("notify step '{id}' needs `assignee:` (who is told)"),
                        "e.g. `assignee: { role: secretary, org: parent }`",
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
            let all: Vec<&str> = vocab::ROLES
                .iter()
                .map(|(r, _)| *r)
                .chain(self.roles.keys().map(String::as_str))
                .collect();
            let hint = suggestion(role, all);
            self.err_help(key, format!("unknown role '{role}'{hint}"), "use a built-in role (secretary, organization_member, full_member, ...) or declare it under `roles:`");
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
                    format!("'{path}' cannot name an assignee"),
                    "name the assignee by a person field: `field: input.NAME` or `field: step.STEP.form.FIELD`, declared `type: person`",
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
                format!("'{path}' names an assignee but is not a person field"),
                "declare the field `type: person`: a person field is checked, when it is entered, to be someone of the instance's organization, its subtree or the organizations above it",
            );
        }
    }

    fn time(&mut self, t: &TimeExpr, key: &str, step: Option<&Step>) {
        match &t.anchor {
            Anchor::StepCompleted(s) | Anchor::StepActivated(s) => {
                if self.def.step(s).is_none() {
                    let hint = suggestion(s, self.all_steps());
                    self.err(key, format!("unknown step '{s}' in '{t}'{hint}"));
                }
            }
            Anchor::StepField(s, f) => match self.def.step(s) {
                None => {
                    let hint = suggestion(s, self.all_steps());
                    self.err(key, format!("unknown step '{s}' in '{t}'{hint}"));
                }
                Some((_, st)) if is_meeting_date(st, f) => {}
                Some((_, st)) => match st.form.iter().find(|x| &x.id == f) {
                    None => {
                        let hint = suggestion(f, st.form.iter().map(|x| x.id.as_str()));
                        self.err(key, format!("step '{s}' has no form field '{f}'{hint}"));
                    }
                    Some(field) if field.kind != FieldKind::Date => {
                        self.err(key, format!("form field '{f}' of step '{s}' is not a date"));
                    }
                    Some(_) => {}
                },
            },
            Anchor::Input(i) => match self.def.inputs.iter().find(|x| &x.field.id == i) {
                None => {
                    let hint = suggestion(i, self.def.inputs.iter().map(|x| x.field.id.as_str()));
                    self.err_help(
                        key,
                        format!("unknown input '{i}'{hint}"),
                        "declare it under `inputs:` with `type: date`",
                    );
                }
                Some(x) if x.field.kind != FieldKind::Date => {
                    self.err(key, format!("input '{i}' is not a date"))
                }
                Some(_) => {}
            },
            Anchor::Var(v) => {
                if !self.vars.contains(v) {
                    let hint = suggestion(v, self.vars.iter().map(String::as_str));
                    self.err_help(
                        key,
                        format!("unknown variable '{v}'{hint}"),
                        "variables are set by a step's `set:`",
                    );
                }
            }
            Anchor::Activated | Anchor::StageEntered => {
                if step.is_none() && matches!(t.anchor, Anchor::Activated) {
                    self.err(
                        key,
                        format!("'{t}': 'activated' only makes sense inside a step"),
                    );
                }
            }
            Anchor::Started | Anchor::Date(_) => {}
        }
    }

    fn all_steps(&self) -> Vec<&str> {
        self.def
            .stages
            .iter()
            .flat_map(|s| s.steps.iter().map(|x| x.id.as_str()))
            .collect()
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
                    let hint = suggestion(i, self.def.inputs.iter().map(|x| x.field.id.as_str()));
                    self.err(key, format!("unknown input '{i}'{hint}"));
                    return;
                }
                true
            }
            ["var", name] => {
                if !self.vars.contains(*name) {
                    let hint = suggestion(name, self.vars.iter().map(String::as_str));
                    self.err(key, format!("unknown variable '{name}'{hint}"));
                    return;
                }
                true
            }
            ["form", f] => match step {
                Some(s) if s.form.iter().any(|x| x.id == *f) => true,
                Some(s) => {
                    let hint = suggestion(f, s.form.iter().map(|x| x.id.as_str()));
                    self.err(
                        key,
                        format!("step '{}' has no form field '{f}'{hint}", s.id),
                    );
                    return;
                }
                None => false,
            },
            ["step", s, rest @ ..] => {
                let Some((_, st)) = self.def.step(s) else {
                    let hint = suggestion(s, self.all_steps());
                    self.err(key, format!("unknown step '{s}' in '{v}'{hint}"));
                    return;
                };
                match rest {
                    ["outcome"] | ["completed_at"] => true,
                    ["form", f] => {
                        if !st.form.iter().any(|x| x.id == *f) && !is_meeting_date(st, f) {
                            let hint = suggestion(f, st.form.iter().map(|x| x.id.as_str()));
                            self.err(key, format!("step '{s}' has no form field '{f}'{hint}"));
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
            self.err_help(key, format!("unknown name '{v}'"), "names are input.ID, var.NAME, subject.FIELD, step.ID.form.FIELD, step.ID.outcome, step.ID.completed_at, form.FIELD (this step) or today");
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
                        format!("vote rule cannot be evaluated: {e}"),
                    );
                    return;
                }
            }
            if pass_ever {
                return;
            }
        }
        if !quorum_ever {
            self.err_help(&format!("step:{}:quorum", step.id), format!("the quorum of vote '{}' can never be met, even with every eligible voter present", step.id), "e.g. `quorum: present > eligible / 2`");
        } else {
            self.err_help(&format!("step:{}:pass", step.id), format!("vote '{}' can never pass, even with every eligible voter present and voting yes", step.id), "e.g. `pass: yes > eligible / 2` (more than half of the eligible voters)");
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
                        "stage '{}' can never be entered: no route leads to it",
                        stage.id
                    ),
                    "route to it with `then: stage ID` or an outcome, or remove it",
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
            for (part, text) in [("subject", &t.subject), ("body", &t.body)] {
                let key = format!("template:{id}:{part}");
                if let Err(e) = hb.render_template(text, &sample) {
                    let reason = match e.reason() {
                        handlebars::RenderErrorReason::MissingVariable(Some(v)) => {
                            let hint = suggestion(v, vocab::MAIL_VARS.iter().copied());
                            format!("unknown template variable '{v}'{hint}")
                        }
                        other => other.to_string(),
                    };
                    let line = e
                        .line_no
                        .map(|l| format!(" (line {l} of the {part})"))
                        .unwrap_or_default();
                    self.err_help(
                        &key,
                        format!("template '{id}' {part}: {reason}{line}"),
                        &format!("variables: {}", vocab::MAIL_VARS.join(", ")),
                    );
                }
            }
        }
    }
}

/// A vote records the day its meeting was held as `form.held_on`.
fn is_meeting_date(step: &Step, field: &str) -> bool {
    field == "held_on" && matches!(step.kind, StepKind::Vote(_))
}
