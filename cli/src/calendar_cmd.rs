//! `stageflow calendar …`: working-day arithmetic on the official calendar.

use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Subcommand;
use stageflow_engine::calendar::{Calendar, Counting, DayKind, add_months};

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// The date N working days after DATE (exclusive: DATE is not counted)
    AddWorkdays {
        /// Start date, YYYY-MM-DD
        date: NaiveDate,
        /// Number of working days
        n: u32,
        /// Count DATE itself when it is a working day (公示 practice)
        #[arg(long)]
        inclusive: bool,
    },
    /// Whether DATE is a working day, and why
    IsWorkday {
        /// Date, YYYY-MM-DD
        date: NaiveDate,
    },
    /// DATE plus N months, clamped to the month end
    AddMonths {
        /// Start date, YYYY-MM-DD
        date: NaiveDate,
        /// Months (negative goes back)
        #[arg(allow_hyphen_values = true)]
        n: i32,
    },
    /// Working days from FROM to TO, both included
    Between {
        /// First date
        from: NaiveDate,
        /// Last date
        to: NaiveDate,
    },
}

pub fn run(command: CalendarCommand) -> anyhow::Result<ExitCode> {
    let cal = Calendar::china();
    match command {
        CalendarCommand::AddWorkdays { date, n, inclusive } => {
            let counting = if inclusive {
                Counting::Inclusive
            } else {
                Counting::Exclusive
            };
            let r = cal.add_workdays(date, n, counting);
            println!("{}", r.date);
            if r.provisional {
                eprintln!(
                    "warning: provisional (暂算): the holiday notice for a year in this range is not published; Monday–Friday were counted"
                );
            }
        }
        CalendarCommand::IsWorkday { date } => {
            let kind = cal.day_kind(date);
            let text = match &kind {
                DayKind::Workday => "working day (工作日)".to_string(),
                DayKind::Weekend => "not a working day (周末)".to_string(),
                DayKind::Holiday { name } => format!("not a working day (法定节假日: {name})"),
                DayKind::MakeupWorkday { name } => format!("working day (调休上班: {name})"),
            };
            let provisional = if cal.is_published(chrono::Datelike::year(&date)) {
                ""
            } else {
                " [provisional: holiday notice not published]"
            };
            println!("{date}: {text}{provisional}");
            return Ok(if cal.is_workday(date) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        CalendarCommand::AddMonths { date, n } => println!("{}", add_months(date, n)),
        CalendarCommand::Between { from, to } => {
            let r = cal.workdays_between(from, to);
            println!("{}", r.count);
            if r.provisional {
                eprintln!("warning: provisional (暂算)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
