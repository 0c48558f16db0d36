//! `stageflow simulate FILE --start DATE`: the organizer's preview.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use stageflow_app::simulate::{Policy, SimOptions, simulate};
use stageflow_engine::state::Values;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Definition file (YAML)
    file: PathBuf,
    /// Start date, YYYY-MM-DD
    #[arg(long)]
    start: NaiveDate,
    /// An input value, KEY=VALUE (repeatable); numbers and true/false are typed
    #[arg(long = "input", value_name = "KEY=VALUE")]
    inputs: Vec<String>,
    /// A subject attribute, KEY=VALUE (e.g. birth_date=2000-05-01)
    #[arg(long = "subject", value_name = "KEY=VALUE")]
    subject: Vec<String>,
    /// The subject's organization in the synthetic tree (committee, branch-1, ...)
    #[arg(long)]
    org: Option<String>,
    /// earliest: act as early as the rules allow; late: act only when deadlines force it
    #[arg(long, default_value = "earliest")]
    policy: String,
    /// Stop at this date (YYYY-MM-DD) even if the instance has not ended
    #[arg(long)]
    until: Option<NaiveDate>,
    /// Print one JSON object {"events": [...], "end_state": "..."}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    holidays: crate::calendar_cmd::HolidayArgs,
}

fn pairs(items: &[String]) -> anyhow::Result<Values> {
    let mut out = Values::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("'{item}' is not KEY=VALUE");
        };
        let value = if let Ok(i) = v.parse::<i64>() {
            i.into()
        } else if let Ok(b) = v.parse::<bool>() {
            b.into()
        } else {
            v.to_string().into()
        };
        out.insert(k.trim().to_string(), value);
    }
    Ok(out)
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let loaded = match stageflow_workflows::load_str(&args.file.display().to_string(), &text) {
        Ok(l) => l,
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let policy = match args.policy.as_str() {
        "earliest" => Policy::Earliest,
        "late" => Policy::Late,
        other => bail!("unknown policy '{other}' (earliest or late)"),
    };
    let opts = SimOptions {
        start: args.start,
        inputs: pairs(&args.inputs)?,
        subject: pairs(&args.subject)?,
        org: args.org,
        policy,
        until: args.until,
        calendar: Some(args.holidays.load()?.calendar),
    };
    let def = &loaded.definition;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime
        .block_on(simulate(def, &text, &opts))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut out = std::io::stdout().lock();
        if writeln!(
            out,
            "{}（{} v{}）模拟，开始于 {}",
            def.name, def.id, def.version, args.start
        )
        .is_err()
        {
            return Ok(ExitCode::SUCCESS);
        }
        for (at, line) in stageflow_app::simulate::timeline_lines(&report.events) {
            // A closed pipe (`| head`) ends the listing quietly.
            if writeln!(out, "{}  {line}", at.format("%Y-%m-%d %H:%M")).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        println!("结束状态：{}", end_name(def, &report.end_state));
        if let Some(s) = &report.stuck {
            println!("推演停止：{s}");
        }
        if let Some(note) = stageflow_app::simulate::provisional_note(&report.provisional_years) {
            println!("{note}");
        }
    }
    Ok(if report.stuck.is_some() || !report.chain_verified {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The end state's name with its id (`已转为正式党员 (admitted)`), or what
/// the simulation ended in (`stuck`, `cancelled`).
fn end_name(def: &stageflow_engine::model::Definition, id: &str) -> String {
    match def.end_states.iter().find(|e| e.id == id) {
        Some(e) => format!("{} ({id})", e.name),
        None if id == "stuck" => "未结束 (stuck)".into(),
        None if id == "cancelled" => "已撤销 (cancelled)".into(),
        None => id.to_string(),
    }
}
