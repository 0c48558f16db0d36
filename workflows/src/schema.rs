//! The JSON Schema (2020-12) of the workflow language, for editors.
//!
//! Property names come from [`crate::keys`], the same lists the decoder
//! enforces; a test checks that every object here lists exactly them.

use serde_json::{Value, json};

use crate::keys;
use crate::vocab;

fn object(keys: &[&str], props: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
        "x-keys": keys,
    })
}

fn ident() -> Value {
    json!({ "type": "string", "pattern": "^[a-z][a-z0-9_-]*$" })
}

fn duration() -> Value {
    json!({
        "type": "string",
        "pattern": "^\\s*[0-9]+\\s+(seconds?|minutes?|hours?|days?|workdays?|weeks?|months?|years?)(\\s+inclusive)?\\s*$",
        "description": "时长，例如 '1 month'、'5 workdays inclusive'、'2 hours'"
    })
}

fn time_expr() -> Value {
    json!({
        "type": "string",
        "description": "时间：[时长 after|before] 起点，例如 '1 month after step.apply.completed_at'；起点可以是日期、activated、started、stage_entered、step.ID.completed_at、step.ID.activated_at、step.ID.form.FIELD、input.ID 或 var.NAME"
    })
}

fn text() -> Value {
    json!({ "type": "string" })
}

fn number_or_fraction() -> Value {
    json!({ "oneOf": [ { "type": "number" }, { "type": "string", "pattern": "^\\s*[0-9.]+\\s*/\\s*[0-9.]+\\s*$" } ] })
}

fn assignee() -> Value {
    json!({
        "oneOf": [
            { "enum": ["subject", "initiator"] },
            object(keys::ASSIGNEE, json!({
                "role": ident(),
                "org": { "type": "string", "pattern": "^(own|parent|grandparent|ancestor \\S+)$" },
                "field": text(),
            }), &[]),
        ]
    })
}

fn list_or_one(item: Value) -> Value {
    json!({ "oneOf": [ item.clone(), { "type": "array", "items": item } ] })
}

/// The objects of the language: (name, allowed keys, schema).
pub fn objects() -> Vec<(&'static str, &'static [&'static str], Value)> {
    let field = object(
        keys::FIELD,
        json!({
            "id": ident(), "label": text(),
            "type": { "enum": ["text", "textarea", "integer", "number", "boolean", "date", "person", "org", "file", "choice"] },
            "required": { "type": "boolean" }, "default": {},
            "options": { "type": "array", "items": text() },
            "min": { "type": "number" }, "max": { "type": "number" },
            "future": { "type": "boolean" }, "not_before": text(),
            "eligible": { "type": "array", "items": { "enum": crate::vocab::PERSON_STATUSES } },
        }),
        &["id"],
    );
    let check = object(
        keys::CHECK,
        json!({ "rule": text(), "message": text() }),
        &["rule", "message"],
    );
    let org_selector = object(
        keys::ORG_SELECTOR,
        json!({
            "kind": { "enum": vocab::ORG_KINDS },
            "under": { "type": "string" },
        }),
        &[],
    );
    let remind = object(
        keys::REMIND,
        json!({
            "before": list_or_one(duration()), "at_due": { "type": "boolean" },
            "every": duration(), "max": { "type": "integer", "minimum": 0, "maximum": 100 },
        }),
        &[],
    );
    let escalate = object(
        keys::ESCALATE,
        json!({ "after": duration(), "limit": text(), "to": assignee() }),
        &["to"],
    );
    let timeout = object(
        keys::TIMEOUT,
        json!({ "after": duration(), "limit": text(), "outcome": ident() }),
        &["outcome"],
    );
    let route = json!({ "type": "string", "pattern": "^(next|retry|end [a-z][a-z0-9_-]*|step [a-z][a-z0-9_-]*|stage [a-z][a-z0-9_-]*(\\.[a-z][a-z0-9_-]*)?)$" });
    let outcome = object(
        keys::OUTCOME,
        json!({ "to": route.clone(), "label": text(), "max_times": { "type": "integer", "minimum": 0 } }),
        &["to"],
    );
    let set = object(
        keys::SET,
        json!({ "date": time_expr(), "expr": text() }),
        &[],
    );
    let grade = object(
        keys::GRADE,
        json!({ "id": ident(), "name": text(), "max_share": number_or_fraction(), "min_score": { "type": "number" } }),
        &["id"],
    );
    let rubric_item = object(
        keys::RUBRIC_ITEM,
        json!({ "id": ident(), "name": text(), "max": { "type": "number" }, "min": { "type": "number" }, "weight": { "type": "number" } }),
        &["id"],
    );
    let rubric = object(
        keys::RUBRIC,
        json!({ "items": { "type": "array", "items": rubric_item.clone() }, "grades": { "type": "array", "items": grade.clone() } }),
        &["items", "grades"],
    );
    let window = object(
        keys::WINDOW,
        json!({ "opens": time_expr(), "closes": time_expr() }),
        &["opens", "closes"],
    );
    let common = json!({
        "id": ident(), "name": text(), "after": list_or_one(ident()), "when": text(),
        "required": { "type": "boolean" }, "assignee": assignee(), "due": time_expr(), "earliest": time_expr(),
        "remind": remind.clone(), "escalate": list_or_one(escalate.clone()), "on_timeout": timeout.clone(),
        "outcomes": { "type": "object", "additionalProperties": { "oneOf": [ route.clone(), outcome.clone() ] } },
        "form": { "type": "array", "items": field.clone() },
        "checks": { "type": "array", "items": check.clone() },
        "set": { "type": "object", "additionalProperties": set.clone() },
        "comment_required": { "type": "boolean" },
        "hide": list_or_one(text()),
        "operations": { "type": "array", "items": { "enum": stageflow_engine::model::STEP_OPERATIONS.iter().map(|(id, _)| *id).collect::<Vec<_>>() } },
    });
    let kind_props: Vec<(&str, &[&str], Value, Vec<&str>)> = vec![
        ("task", &[], json!({}), vec![]),
        (
            "approval",
            keys::APPROVAL,
            json!({ "mode": { "enum": ["any", "all", "sequential", "ratio"] }, "ratio": number_or_fraction() }),
            vec![],
        ),
        (
            "vote",
            keys::VOTE,
            json!({ "voters": assignee(), "choices": { "type": "array", "items": ident() }, "quorum": text(), "pass": text() }),
            vec!["voters"],
        ),
        (
            "rating",
            keys::RATING,
            json!({ "raters": assignee(), "ratees": list_or_one(assignee()), "no_grade": list_or_one(ident()), "scale": { "type": "array", "items": grade.clone() }, "rubric": rubric.clone() }),
            vec!["raters", "ratees"],
        ),
        (
            "wait",
            keys::WAIT,
            json!({ "for": duration(), "until": time_expr() }),
            vec![],
        ),
        (
            "recurring",
            keys::RECURRING,
            json!({ "every": duration(), "within": duration(), "until": time_expr(), "orgs": org_selector.clone(), "role": ident() }),
            vec!["every"],
        ),
        (
            "fanout",
            keys::FANOUT,
            json!({ "orgs": org_selector.clone(), "role": ident() }),
            vec!["orgs", "role"],
        ),
        (
            "notify",
            keys::NOTIFY,
            json!({ "template": ident() }),
            vec!["template"],
        ),
        (
            "subflow",
            keys::SUBFLOW,
            json!({ "workflow": ident(), "inputs": { "type": "object", "additionalProperties": text() } }),
            vec!["workflow"],
        ),
    ];
    let mut step_variants = Vec::new();
    let mut out: Vec<(&'static str, &'static [&'static str], Value)> = Vec::new();
    for (kind, extra, props, req) in kind_props {
        let mut p = common.as_object().cloned().unwrap_or_default();
        for (k, v) in props.as_object().cloned().unwrap_or_default() {
            p.insert(k, v);
        }
        let mut required = vec!["id"];
        required.extend(req);
        if kind == "task" {
            p.insert("kind".into(), json!({ "const": "task" }));
        } else {
            p.insert("kind".into(), json!({ "const": kind }));
            required.push("kind");
        }
        let all: Vec<&str> = keys::STEP.iter().chain(extra.iter()).copied().collect();
        let schema = json!({
            "type": "object", "properties": p, "required": required, "additionalProperties": false,
            "x-keys": all,
        });
        step_variants.push(schema);
    }
    let step = json!({ "oneOf": step_variants });
    let stage = object(
        keys::STAGE,
        json!({
            "id": ident(), "name": text(), "steps": { "type": "array", "items": step.clone() },
            "then": route.clone(), "window": window.clone(),
        }),
        &["id", "steps"],
    );
    let template = object(
        keys::TEMPLATE,
        json!({ "subject": text(), "body": text() }),
        &["subject", "body"],
    );
    let schedule_orgs = object(
        keys::SCHEDULE_ORGS,
        json!({ "kind": { "enum": vocab::ORG_KINDS }, "under": text() }),
        &["kind"],
    );
    let schedule = object(
        keys::SCHEDULE,
        json!({
            "id": ident(), "cron": text(), "timezone": text(), "orgs": schedule_orgs.clone(),
            "inputs": { "type": "object" },
            "overlap": { "enum": ["skip", "allow"] },
            "catch_up": { "enum": ["last", "all", "none"] },
        }),
        &["id", "cron", "orgs"],
    );
    let definition = object(
        keys::DEFINITION,
        json!({
            "stageflow": { "const": 1 }, "id": ident(), "name": text(), "description": text(),
            "version": { "type": "integer", "minimum": 1 },
            "subject": { "enum": ["person", "organization", "org"] },
            "timezone": text(), "calendar": { "enum": vocab::CALENDARS },
            "empty_assignee": { "enum": ["parent_secretary", "fail", "skip"] },
        "deadline_on_holiday": { "enum": ["next_workday", "keep"] },
            "roles": { "type": "object", "propertyNames": ident(), "additionalProperties": text() },
            "inputs": { "type": "array", "items": field.clone() },
            "checks": { "type": "array", "items": check.clone() },
            "end_states": { "type": "object", "propertyNames": ident(), "additionalProperties": text(), "minProperties": 1 },
            "stages": { "type": "array", "items": stage.clone(), "minItems": 1 },
            "schedules": { "type": "array", "items": schedule.clone() },
            "templates": { "type": "object", "propertyNames": ident(), "additionalProperties": template.clone() },
        }),
        &["stageflow", "id", "name", "end_states", "stages"],
    );
    out.push(("definition", keys::DEFINITION, definition));
    out.push(("stage", keys::STAGE, stage));
    out.push(("window", keys::WINDOW, window));
    out.push(("field", keys::FIELD, field));
    out.push(("check", keys::CHECK, check));
    out.push(("org_selector", keys::ORG_SELECTOR, org_selector));
    out.push(("remind", keys::REMIND, remind));
    out.push(("escalate", keys::ESCALATE, escalate));
    out.push(("on_timeout", keys::TIMEOUT, timeout));
    out.push(("outcome", keys::OUTCOME, outcome));
    out.push(("set", keys::SET, set));
    out.push(("grade", keys::GRADE, grade));
    out.push(("rubric", keys::RUBRIC, rubric));
    out.push(("rubric_item", keys::RUBRIC_ITEM, rubric_item));
    out.push(("schedule", keys::SCHEDULE, schedule));
    out.push(("schedule_orgs", keys::SCHEDULE_ORGS, schedule_orgs));
    out.push(("template", keys::TEMPLATE, template));
    out
}

/// The JSON Schema document.
pub fn schema() -> Value {
    let mut root = objects()
        .into_iter()
        .next()
        .map(|(_, _, v)| v)
        .unwrap_or(Value::Null);
    if let Some(o) = root.as_object_mut() {
        o.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        o.insert("$id".into(), json!("urn:stageflow:workflow:v1"));
        o.insert("title".into(), json!("stageflow 流程定义（语言版本 1）"));
    }
    strip_keys(&mut root);
    root
}

fn strip_keys(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("x-keys");
            for (_, x) in o.iter_mut() {
                strip_keys(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property_names(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    #[test]
    fn schema_objects_list_exactly_the_decoder_keys() {
        for (name, keys, schema) in objects() {
            let mut want: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(property_names(&schema), want, "schema object '{name}'");
        }
        // Step variants: one per kind.
        let def = &objects()[0].2;
        let variants =
            def["properties"]["stages"]["items"]["properties"]["steps"]["items"]["oneOf"]
                .as_array()
                .unwrap();
        assert_eq!(variants.len(), keys::STEP_KINDS.len());
        for v in variants {
            let mut want: Vec<String> = v["x-keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            want.sort();
            assert_eq!(property_names(v), want);
        }
    }
}
