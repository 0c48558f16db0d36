//! The YAML loader on arbitrary bytes: a definition or diagnostics, never a
//! panic, and every diagnostic has a position.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(diags) = stageflow_workflows::load_str("fuzz.yaml", text)
    {
        for d in diags {
            assert!(d.pos.line >= 1, "{d}");
        }
    }
});
