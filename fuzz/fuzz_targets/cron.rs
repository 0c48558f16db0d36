//! Cron expressions (5 or 6 fields, as `schedules:` take them): validation
//! never panics, and what validates is accepted again as it was normalized.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(normalized) = stageflow_workflows::check::parse_cron(text)
    {
        assert!(
            stageflow_workflows::check::parse_cron(&normalized).is_ok(),
            "{normalized}"
        );
    }
});
