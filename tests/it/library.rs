//! The shipped definitions validate, and the published JSON Schema accepts
//! them (and rejects what the loader rejects for its shape).

use std::fs;

use crate::root;

fn library() -> Vec<(String, String)> {
    let mut files: Vec<_> = fs::read_dir(root().join("workflows/library"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_three_canonical_definitions_are_shipped_and_valid() {
    let names: Vec<String> = library().into_iter().map(|(n, _)| n).collect();
    for want in [
        "member-admission.yaml",
        "campaign-chuangxian-zhengyou.yaml",
        "democratic-appraisal.yaml",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} is missing");
    }
    for (name, text) in library() {
        let loaded = stageflow_workflows::load_str(&name, &text).unwrap_or_else(|d| {
            panic!(
                "{name}:\n{}",
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(!loaded.definition.stages.is_empty());
    }
}

#[test]
fn member_admission_has_five_stages_and_the_yearly_appraisal_a_cron() {
    let text = fs::read_to_string(root().join("workflows/library/member-admission.yaml")).unwrap();
    let def = stageflow_workflows::load_str("m.yaml", &text)
        .unwrap()
        .definition;
    assert_eq!(def.stages.len(), 5);
    let text =
        fs::read_to_string(root().join("workflows/library/democratic-appraisal.yaml")).unwrap();
    let def = stageflow_workflows::load_str("d.yaml", &text)
        .unwrap()
        .definition;
    assert_eq!(def.schedules.len(), 1);
    assert_eq!(def.schedules[0].orgs.kind, "党支部");
    assert_eq!(def.schedules[0].timezone, chrono_tz::Asia::Shanghai);
}

#[test]
fn the_json_schema_accepts_every_shipped_definition() {
    let schema = stageflow_workflows::schema::schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is itself valid");
    for (name, text) in library() {
        let node = stageflow_workflows::yaml::parse(&name, &text).unwrap();
        let json = stageflow_workflows::yaml::to_json(&node);
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    let text = fs::read_to_string(root().join("tests/fixtures/good/leave-request.yaml")).unwrap();
    let json = stageflow_workflows::yaml::to_json(
        &stageflow_workflows::yaml::parse("leave-request.yaml", &text).unwrap(),
    );
    assert!(validator.is_valid(&json), "leave-request.yaml");
}

#[test]
fn the_json_schema_rejects_unknown_keys_and_kinds() {
    let schema = stageflow_workflows::schema::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let text = fs::read_to_string(root().join("tests/fixtures/bad/keys-and-types.yaml")).unwrap();
    let json = stageflow_workflows::yaml::to_json(
        &stageflow_workflows::yaml::parse("k.yaml", &text).unwrap(),
    );
    assert!(!validator.is_valid(&json));
    let mut ok = serde_json::json!({
        "stageflow": 1, "id": "x", "name": "名", "end_states": {"done": "完成"},
        "stages": [{"id": "a", "then": "end done", "steps": [{"id": "s", "kind": "approval", "mode": "any"}]}]
    });
    assert!(validator.is_valid(&ok));
    ok["stages"][0]["steps"][0]["voters"] = serde_json::json!({"role": "full_member"});
    assert!(!validator.is_valid(&ok), "vote keys on an approval step");
}
