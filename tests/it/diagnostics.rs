//! Golden files: every bad fixture's diagnostics, exactly as `validate`
//! prints them. Set `UPDATE_GOLDEN=1` to rewrite the `.expected` files after
//! an intended change, then review the diff.

use std::fs;

use stageflow_workflows::diag::has_cjk;

use crate::root;

#[test]
fn every_bad_fixture_matches_its_golden_file() {
    let dir = root().join("tests/fixtures/bad");
    let mut checked = 0;
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(path).unwrap();
        let diags = stageflow_workflows::load_str(&name, &text)
            .expect_err(&format!("{name} must not load"));
        let actual: String = diags.iter().map(|d| format!("{d}\n")).collect();
        for d in &diags {
            assert!(
                d.to_string()
                    .starts_with(&format!("{name}:{}:{}: ", d.pos.line, d.pos.column))
            );
            assert!(d.pos.line >= 1 && d.pos.column >= 1);
        }
        let golden = path.with_extension("expected");
        if update {
            fs::write(&golden, &actual).unwrap();
        }
        let expected = fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("missing golden file {}", golden.display()));
        assert_eq!(
            actual, expected,
            "diagnostics of {name} changed (UPDATE_GOLDEN=1 rewrites)"
        );
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} fixtures found");
}

/// Rule 7: what an organizer reads is Chinese. Every message and hint of
/// every bad fixture has Chinese in it, and no line of what `validate`
/// prints is an English sentence (ids, keys and code stay as written).
#[test]
fn every_diagnostic_of_every_bad_fixture_is_chinese() {
    let dir = root().join("tests/fixtures/bad");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(&path).unwrap();
        let diags = stageflow_workflows::load_str(&name, &text).unwrap_err();
        for d in &diags {
            seen += 1;
            assert!(has_cjk(&d.message), "{name}: English message: {d}");
            if let Some(h) = &d.help {
                assert!(has_cjk(h), "{name}: English hint: {d}");
            }
            for line in d.to_string().lines() {
                assert!(has_cjk(line), "{name}: a line without Chinese: {line}");
                assert!(
                    !line.contains("help:") && !line.contains("did you mean"),
                    "{name}: {line}"
                );
            }
        }
    }
    assert!(seen >= 40, "only {seen} diagnostics");
}

/// Mistakes the fixtures do not make, each in Chinese too: a sample of
/// what the decoder, the checker and the libraries behind them say.
#[test]
fn other_mistakes_are_reported_in_chinese_too() {
    let head = "stageflow: 1\nid: x\nname: 名\nend_states: { done: 完成 }\n";
    let cases: &[(&str, &str)] = &[
        // YAML the parser refuses.
        ("a: \"open\n", "YAML 语法错误：引号没有闭合"),
        ("a:\n\tb: 1\n", "不能用 Tab 缩进"),
        ("", "文件是空的"),
        // Stages and steps, with their names.
        (
            "stages:\n  - { id: a, name: 申请, then: stage zz, steps: [ { id: s, name: 提交 } ] }\n",
            "未知的阶段「zz」",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交, after: t }, { id: t, name: 审核, after: s } ] }\n",
            "步骤相互等待，形成循环：「提交」(s) → 「审核」(t) → 「提交」(s)",
        ),
        (
            "stages:\n  - { id: a, name: 申请, steps: [ { id: s, name: 提交 } ] }\n  - { id: b, name: 审查, then: end done, steps: [ { id: t, name: 审核, after: s } ] }\n",
            "步骤「提交」(s)属于阶段「申请」(a)，不在阶段「审查」(b)中",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交, assignee: { role: sekretary } } ] }\n",
            "未知的角色「sekretary」（是否应为「书记」(secretary)？）",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交, kind: notify, template: notice } ] }\n",
            "通知步骤「提交」(s)缺少 `assignee:`（通知谁）",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交, remind: { every: 1 week } } ] }\n",
            "步骤「提交」(s)设置了提醒或督办，却没有 `due:`",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交, when: \"(a > 1\" } ] }\n",
            "缺少右括号「)」",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交, kind: vote, voters: subject, pass: '1/0 > 1' } ] }\n",
            "步骤「提交」(s)的表决规则有误，",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交 } ] }\ntemplates:\n  t: { subject: \"{{#if step}}x{{/each}}\", body: b }\n",
            "邮件模板「t」的标题：",
        ),
        (
            "stages:\n  - { id: a, name: 申请, then: end done, steps: [ { id: s, name: 提交 } ] }\nschedules:\n  - { id: y, cron: \"0 0 9 1 13 *\", orgs: { kind: 党支部 } }\n",
            "cron 表达式「0 0 9 1 13 *」有误：月字段最大为 12，这里是 13",
        ),
    ];
    for (body, want) in cases {
        let text = if body.starts_with("stages") {
            format!("{head}{body}")
        } else {
            body.to_string()
        };
        let diags = stageflow_workflows::load_str("c.yaml", &text).unwrap_err();
        let all: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(all.iter().any(|d| d.contains(want)), "{want}: {all:#?}");
        for d in &diags {
            assert!(has_cjk(&d.message), "{d}");
            assert!(d.help.as_deref().is_none_or(has_cjk), "{d}");
        }
    }
}

#[test]
fn garbage_input_never_panics() {
    let samples = [
        "",
        "---",
        "[",
        "{",
        ":",
        "- - -",
        "stageflow: [",
        "\t",
        "a: *b",
        "&a [*a]",
        "\u{feff}x: 1",
        "stageflow: 1\nid: x\nname: y\nend_states: {d: 1}\nstages: 7\n",
        "stageflow: 1\nid: x\nname: y\nend_states: {d: 1}\nstages:\n  - 5\n  - {id: a, steps: {x: 1}}\n",
        "stageflow: 1\nid: x\nname: y\nend_states: {d: 1}\nstages:\n  - {id: a, then: end d, steps: [{id: s, kind: vote, voters: subject, pass: '1/0 > 1'}]}\n",
    ];
    for s in samples {
        let r = stageflow_workflows::load_str("g.yaml", s);
        assert!(r.is_err(), "{s:?} loaded");
    }
    // Every prefix of a real definition: errors, never a panic.
    let text = fs::read_to_string(root().join("tests/fixtures/bad/missing-routes.yaml")).unwrap();
    for (i, _) in text.char_indices() {
        let _ = stageflow_workflows::load_str("p.yaml", &text[..i]);
    }
}

mod fuzz {
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "stageflow: 1\n",
        "id: x\n",
        "name: 名\n",
        "end_states: {done: 完成}\n",
        "stages:\n",
        "  - id: a\n",
        "    then: end done\n",
        "    steps:\n",
        "      - id: s\n",
        "        kind: vote\n",
        "        kind: approval\n",
        "        after: [s]\n",
        "        due: 1 month after activated\n",
        "        voters: {role: full_member}\n",
        "        pass: yes > eligible / 2\n",
        "        outcomes: {fail: stage a.s}\n",
        "        kind: rating\n",
        "        scale: [{id: g, max_share: 1/3}]\n",
        "        kind: recurring\n",
        "        every: 0 days\n",
        ":",
        "-",
        "{",
        "}",
        "[",
        "]",
        "&a ",
        "*a",
        "\n",
        "  ",
        "'",
        "\"",
        "#",
        "|\n",
        ">\n",
        "? ",
        "!!str ",
        "~",
        "null",
        "1/0",
        "\t",
        "\u{feff}",
        "：",
        "——",
        "%YAML 1.2\n",
        "---\n",
        "...\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        #[test]
        fn yaml_fragments_never_panic(parts in prop::collection::vec(0..PIECES.len(), 0..80)) {
            let text: String = parts.iter().map(|i| PIECES[*i]).collect();
            let _ = stageflow_workflows::load_str("fuzz.yaml", &text);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            if let Err(diags) = stageflow_workflows::load_str("fuzz.yaml", &text) {
                prop_assert!(!diags.is_empty());
                prop_assert!(diags.iter().all(|d| d.to_string().starts_with("fuzz.yaml:")));
            }
        }
    }
}
