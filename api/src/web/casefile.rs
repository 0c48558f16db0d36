//! The case file (案卷) on the task page: the subject at the top, then
//! what every earlier step recorded, one collapsible section per stage
//! (the current one open) — values formatted for people: dates in Chinese,
//! people by name and organization, files as links (images shown).

use serde_json::{Value, json};
use stageflow_app::casefile::{CaseStage, CaseValue, SubjectCard};

use super::format;

/// The case file as the template reads it.
pub(super) fn case_json(person: Option<&SubjectCard>, stages: &[CaseStage]) -> Value {
    let stages: Vec<Value> = stages
        .iter()
        .map(|stage| {
            let steps: Vec<Value> = stage
                .steps
                .iter()
                .map(|step| {
                    let acts: Vec<Value> = step
                        .acts
                        .iter()
                        .map(|a| {
                            json!({
                                "by": a.by, "when": format::datetime_zh(a.at), "iso": a.at.to_rfc3339(),
                                "outcome": a.outcome, "automatic": a.automatic,
                                "comment": a.comment,
                                "fields": a.fields.iter().map(|f| json!({
                                    "label": f.label, "value": value_json(&f.value),
                                })).collect::<Vec<_>>(),
                            })
                        })
                        .collect();
                    let comments: Vec<Value> = step
                        .comments
                        .iter()
                        .map(|c| json!({ "by": c.by, "when": format::datetime_zh(c.at), "text": c.text }))
                        .collect();
                    let ratings: Vec<Value> = step
                        .ratings
                        .iter()
                        .map(|(who, grade)| json!({ "who": who, "grade": grade }))
                        .collect();
                    json!({
                        "name": step.name, "acts": acts, "comments": comments,
                        "vote": step.vote, "held_on": step.held_on.map(format::date_zh),
                        "ratings": ratings,
                    })
                })
                .collect();
            json!({ "name": stage.name, "open": stage.current, "steps": steps,
                    "empty": stage.steps.is_empty() })
        })
        .collect();
    let person = person.map(|p| {
        json!({
            "name": p.name, "orgs": p.orgs, "status": p.status,
            "birth_date": p.birth_date.as_deref().map(date_text),
            "key_dates": p.key_dates.iter().map(|(label, v)| json!({ "label": label, "value": date_text(v) })).collect::<Vec<_>>(),
        })
    });
    json!({ "person": person, "stages": stages })
}

/// A recorded value for the template: its text, or a file's link.
fn value_json(v: &CaseValue) -> Value {
    match v {
        CaseValue::Text { text } => json!({ "text": text }),
        CaseValue::Date { date } => json!({ "text": format::date_zh(*date) }),
        CaseValue::Boolean { value } => json!({ "text": if *value { "是" } else { "否" } }),
        CaseValue::Person { name, org, .. } if org.is_empty() => json!({ "text": name }),
        CaseValue::Person { name, org, .. } => json!({ "text": format!("{name}（{org}）") }),
        CaseValue::File {
            id,
            name,
            content_type,
            size,
            preview,
        } => json!({
            "file": { "href": format!("/files/{id}"), "name": name, "size": size_text(*size),
                      "image": *preview && content_type.starts_with("image/"),
                      "pdf": content_type == "application/pdf" },
        }),
    }
}

/// A `YYYY-MM-DD` date in Chinese; other text as it is.
fn date_text(v: &str) -> String {
    v.parse()
        .map(format::date_zh)
        .unwrap_or_else(|_| v.to_string())
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} 字节"),
    }
}
