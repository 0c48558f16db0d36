//! Results: one JSON line and a summary in words; latency percentiles;
//! the process's memory from `/proc/self/status`.

use std::time::Duration;

use serde_json::{Map, Value, json};

/// What one scenario measured.
pub struct Report {
    /// Scenario name.
    pub scenario: &'static str,
    /// Figures by name, in the order they were added.
    pub fields: Map<String, Value>,
    /// Lines in words.
    pub summary: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str) -> Report {
        let mut fields = Map::new();
        fields.insert("scenario".into(), json!(scenario));
        Report {
            scenario,
            fields,
            summary: Vec::new(),
        }
    }

    /// Adds a figure.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// Adds a line in words.
    pub fn say(&mut self, line: impl Into<String>) -> &mut Self {
        self.summary.push(line.into());
        self
    }

    /// Adds `{prefix}_p50_ms`, `_p99_ms`, `_max_ms` and a line.
    pub fn latencies(&mut self, prefix: &str, samples: &mut [Duration]) -> &mut Self {
        let p = Percentiles::of(samples);
        self.set(&format!("{prefix}_p50_ms"), round(p.p50));
        self.set(&format!("{prefix}_p99_ms"), round(p.p99));
        self.set(&format!("{prefix}_max_ms"), round(p.max));
        self.say(format!(
            "{prefix} latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            p.p50,
            p.p99,
            p.max,
            samples.len()
        ))
    }

    /// Adds the peak RSS of this process.
    pub fn memory(&mut self) -> &mut Self {
        let peak = proc_status_kb("VmHWM").unwrap_or(0) / 1024;
        self.set("peak_rss_mb", peak);
        self.say(format!("peak RSS {peak} MB"))
    }

    pub fn print(&self) {
        println!("{}", Value::Object(self.fields.clone()));
        eprintln!("── {} ──", self.scenario);
        for line in &self.summary {
            eprintln!("  {line}");
        }
    }
}

/// Milliseconds to two decimals.
pub fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// Operations per second, rounded.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    (count as f64 / elapsed.as_secs_f64()).round()
}

/// Latency percentiles in milliseconds.
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles {
                p50: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i].as_secs_f64() * 1000.0
        };
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// A `/proc/self/status` value in kB (`VmRSS`, `VmHWM`).
pub fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_sample() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut s);
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
    }
}
