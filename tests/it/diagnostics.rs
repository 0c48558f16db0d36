//! Golden files: every bad fixture's diagnostics, exactly as `validate`
//! prints them. Set `UPDATE_GOLDEN=1` to rewrite the `.expected` files after
//! an intended change, then review the diff.

use std::fs;

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
