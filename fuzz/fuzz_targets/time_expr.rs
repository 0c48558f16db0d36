//! Durations (`5 workdays inclusive`, `P1Y`) and time expressions (`1 month
//! after step.talk.completed_at`): no panic on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stageflow_engine::time::{Span, TimeExpr};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Span::parse(text);
        let _ = Span::parse_iso(text);
        let _ = TimeExpr::parse(text);
    }
});
