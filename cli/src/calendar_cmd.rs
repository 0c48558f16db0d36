//! `stageflow calendar …`: working-day arithmetic on the official calendar.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Datelike, NaiveDate};
use clap::Subcommand;
use stageflow_app::holidays::{self, HolidayData};
use stageflow_engine::calendar::{COMPUTED_YEARS, Counting, DayKind, YearStatus, add_months};

/// Where newer holiday notices are (`--holidays DIR`), shared by `serve`,
/// `simulate` and `calendar`.
#[derive(clap::Args, Clone, Default)]
pub struct HolidayArgs {
    /// A directory of holiday-cn year files (e.g. 2027.json) published after
    /// this build; a file replaces the built-in year (docs/calendar.md)
    #[arg(long, env = "STAGEFLOW_HOLIDAYS", global = true, value_name = "DIR")]
    pub holidays: Option<PathBuf>,
}

impl HolidayArgs {
    /// The calendar: built in, with the directory's notices if given.
    pub fn load(&self) -> anyhow::Result<HolidayData> {
        Ok(holidays::calendar(self.holidays.as_deref())?)
    }
}

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
    /// Which years are official (notice loaded) and which provisional
    /// (fixed holidays computed, 调休 unknown)
    Years {
        /// First year to list (default: the first published year)
        #[arg(long)]
        from: Option<i32>,
        /// Last year to list (default: three years after the last published)
        #[arg(long)]
        to: Option<i32>,
    },
}

pub fn run(command: CalendarCommand, holidays: &HolidayArgs) -> anyhow::Result<ExitCode> {
    let data = holidays.load()?;
    let cal = data.calendar.as_ref();
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
                    "warning: provisional (暂算): a year in this range has no published notice; its fixed holidays were computed and its 调休 make-up days are unknown"
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
            let provisional = match cal.year_status(date.year()) {
                YearStatus::Official => "",
                YearStatus::Provisional => {
                    " [provisional (暂算): no notice yet; the fixed holidays are computed, 调休 is unknown]"
                }
                YearStatus::Unknown => " [provisional (暂算): no holiday data; Monday–Friday]",
            };
            println!("{date}: {text}{provisional}");
            return Ok(if cal.is_workday(date) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        CalendarCommand::AddMonths { date, n } => println!("{}", add_months(date, n)),
        CalendarCommand::Years { from, to } => years(&data, from, to),
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

/// `calendar years`: one line per year, its status and where it comes from.
fn years(data: &HolidayData, from: Option<i32>, to: Option<i32>) {
    let cal = data.calendar.as_ref();
    let first = cal
        .published_years()
        .next()
        .unwrap_or(*COMPUTED_YEARS.start());
    let last = cal.published_years().last().unwrap_or(first);
    let (from, to) = (from.unwrap_or(first), to.unwrap_or(last + 3));
    for year in from..=to {
        let status = cal.year_status(year);
        let source = match status {
            YearStatus::Official => {
                let file = data.files.iter().find(|(y, _)| *y == year);
                let origin = file.map_or("内置".to_string(), |(_, p)| p.display().to_string());
                let papers = cal.papers(year).join(" ");
                format!("{origin}  {papers}")
            }
            YearStatus::Provisional => {
                "通知未发布：元旦、春节、清明节、劳动节、端午节、中秋节、国庆节按《全国年节及纪念日放假办法》推算，调休上班日未知".to_string()
            }
            YearStatus::Unknown => "无放假数据：按周一至周五计算".to_string(),
        };
        println!("{year}  {}  {source}", status.label());
    }
}
