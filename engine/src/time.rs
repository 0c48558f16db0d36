//! Durations, time expressions and their resolution to deadlines.
//!
//! Rules (see `docs/workflow-language.md` and the domain reference §0):
//! - `N days after D`: the start day is not counted, so the period ends on
//!   `D + N` (民法典 第201条).
//! - months and years keep the day of month, clamped to the month end
//!   (01-31 + 1 month = 02-28/29, 第202条).
//! - `N workdays after D` counts working days on the definition's calendar,
//!   starting the next day; `inclusive` counts `D` itself when it is a
//!   working day (公示 practice).
//! - Day-based arithmetic works on local dates in the definition's time
//!   zone; seconds, minutes and hours on instants.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, Counting, add_months, add_years};

/// A unit of a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Calendar days.
    Day,
    /// Working days on the calendar.
    Workday,
    /// Weeks of seven days.
    Week,
    /// Months (clamped to the month end).
    Month,
    /// Years (02-29 + 1 year = 02-28).
    Year,
}

impl Unit {
    /// Whether the unit works on dates rather than instants.
    pub fn is_day_based(self) -> bool {
        !matches!(self, Unit::Second | Unit::Minute | Unit::Hour)
    }

    fn word(self) -> &'static str {
        match self {
            Unit::Second => "seconds",
            Unit::Minute => "minutes",
            Unit::Hour => "hours",
            Unit::Day => "days",
            Unit::Workday => "workdays",
            Unit::Week => "weeks",
            Unit::Month => "months",
            Unit::Year => "years",
        }
    }
}

/// A duration such as `1 month`, `5 workdays inclusive` or `2 hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// How many units.
    pub n: u32,
    /// The unit.
    pub unit: Unit,
    /// Whether the start day counts (working days only).
    pub inclusive: bool,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.unit.word();
        let word = if self.n == 1 {
            &word[..word.len() - 1]
        } else {
            word
        };
        write!(f, "{} {word}", self.n)?;
        if self.inclusive {
            write!(f, " inclusive")?;
        }
        Ok(())
    }
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanError(pub String);

impl Span {
    /// Reads an ISO 8601 duration with one component: `P30D`, `P2W`,
    /// `P1M`, `P1Y`, `PT2H`, `PT30M`, `PT45S`.
    pub fn parse_iso(text: &str) -> Option<Span> {
        let rest = text.strip_prefix('P')?;
        let (time, rest) = match rest.strip_prefix('T') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let unit_char = rest.chars().last()?;
        let n: u32 = rest[..rest.len() - unit_char.len_utf8()].parse().ok()?;
        let unit = match (time, unit_char) {
            (false, 'Y') => Unit::Year,
            (false, 'M') => Unit::Month,
            (false, 'W') => Unit::Week,
            (false, 'D') => Unit::Day,
            (true, 'H') => Unit::Hour,
            (true, 'M') => Unit::Minute,
            (true, 'S') => Unit::Second,
            _ => return None,
        };
        Some(Span {
            n,
            unit,
            inclusive: false,
        })
    }

    /// Reads `N UNIT [inclusive]`, e.g. `1 month`, `5 workdays inclusive`.
    pub fn parse(text: &str) -> Result<Span, SpanError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (n, unit, rest) = match words.as_slice() {
            [n, unit, rest @ ..] => (*n, *unit, rest),
            _ => {
                return Err(SpanError(format!(
                    "时长「{text}」无法识别，请写数字和单位，例如 `1 month` 或 `5 workdays`"
                )));
            }
        };
        let n: u32 = n
            .parse()
            .map_err(|_| SpanError(format!("时长「{text}」中的「{n}」不是整数")))?;
        let unit = match unit {
            "second" | "seconds" => Unit::Second,
            "minute" | "minutes" => Unit::Minute,
            "hour" | "hours" => Unit::Hour,
            "day" | "days" => Unit::Day,
            "workday" | "workdays" => Unit::Workday,
            "week" | "weeks" => Unit::Week,
            "month" | "months" => Unit::Month,
            "year" | "years" => Unit::Year,
            other => {
                return Err(SpanError(format!(
                    "时长「{text}」中的单位「{other}」无法识别（可用 `seconds`、`minutes`、`hours`、`days`、`workdays`、`weeks`、`months` 或 `years`）"
                )));
            }
        };
        let inclusive = match rest {
            [] => false,
            ["inclusive"] if unit == Unit::Workday => true,
            ["inclusive"] => {
                return Err(SpanError(format!(
                    "时长「{text}」有误，只有 `workdays` 可以加 `inclusive`（起算当日计入）"
                )));
            }
            _ => {
                return Err(SpanError(format!(
                    "时长「{text}」的单位后面多了「{}」",
                    rest.join(" ")
                )));
            }
        };
        if n > 100_000 {
            return Err(SpanError(format!("时长「{text}」中的 {n} 太大")));
        }
        Ok(Span { n, unit, inclusive })
    }
}

/// What a time expression is relative to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// When the current step was activated (`activated`).
    Activated,
    /// When the instance started (`started`).
    Started,
    /// When the current stage was entered (`stage_entered`).
    StageEntered,
    /// When a step completed (`step.ID.completed_at`).
    StepCompleted(String),
    /// When a step was activated (`step.ID.activated_at`).
    StepActivated(String),
    /// A date field of a step's form (`step.ID.form.FIELD`).
    StepField(String, String),
    /// A date input (`input.ID`).
    Input(String),
    /// A computed date (`var.NAME`).
    Var(String),
    /// A fixed date.
    Date(NaiveDate),
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anchor::Activated => write!(f, "activated"),
            Anchor::Started => write!(f, "started"),
            Anchor::StageEntered => write!(f, "stage_entered"),
            Anchor::StepCompleted(s) => write!(f, "step.{s}.completed_at"),
            Anchor::StepActivated(s) => write!(f, "step.{s}.activated_at"),
            Anchor::StepField(s, x) => write!(f, "step.{s}.form.{x}"),
            Anchor::Input(s) => write!(f, "input.{s}"),
            Anchor::Var(s) => write!(f, "var.{s}"),
            Anchor::Date(d) => write!(f, "{d}"),
        }
    }
}

/// `[SPAN (after|before)] ANCHOR`, e.g. `1 month after step.apply.completed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeExpr {
    /// The offset and its direction (`true` = after).
    pub offset: Option<(Span, bool)>,
    /// The anchor.
    pub anchor: Anchor,
}

impl fmt::Display for TimeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((span, after)) = &self.offset {
            write!(f, "{span} {} ", if *after { "after" } else { "before" })?;
        }
        write!(f, "{}", self.anchor)
    }
}

impl TimeExpr {
    /// Reads a time expression. Errors explain what to write instead.
    pub fn parse(text: &str) -> Result<TimeExpr, SpanError> {
        let text = text.trim();
        for (word, after) in [(" after ", true), (" before ", false)] {
            if let Some(idx) = text.find(word) {
                let span = Span::parse(&text[..idx])?;
                let anchor = parse_anchor(text[idx + word.len()..].trim())?;
                return Ok(TimeExpr {
                    offset: Some((span, after)),
                    anchor,
                });
            }
        }
        Ok(TimeExpr {
            offset: None,
            anchor: parse_anchor(text)?,
        })
    }
}

fn parse_anchor(text: &str) -> Result<Anchor, SpanError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Anchor::Date(date));
    }
    let parts: Vec<&str> = text.split('.').collect();
    let ok_id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let anchor = match parts.as_slice() {
        ["activated"] => Anchor::Activated,
        ["started"] => Anchor::Started,
        ["stage_entered"] => Anchor::StageEntered,
        ["step", id, "completed_at"] if ok_id(id) => Anchor::StepCompleted(id.to_string()),
        ["step", id, "activated_at"] if ok_id(id) => Anchor::StepActivated(id.to_string()),
        ["step", id, "form", field] if ok_id(id) && ok_id(field) => {
            Anchor::StepField(id.to_string(), field.to_string())
        }
        ["input", id] if ok_id(id) => Anchor::Input(id.to_string()),
        ["var", id] if ok_id(id) => Anchor::Var(id.to_string()),
        _ => {
            return Err(SpanError(format!(
                "时间「{text}」无法识别，应为日期（如 `2026-07-01`）、`activated`、`started`、`stage_entered`、`step.ID.completed_at`、`step.ID.activated_at`、`step.ID.form.FIELD`、`input.ID` 或 `var.NAME`，前面可加时长和 `after`/`before`，如 `1 month after activated`"
            )));
        }
    };
    Ok(anchor)
}

/// A point in time as the rules state it: a whole day or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// A calendar date (the rules speak in days).
    Date(NaiveDate),
    /// An instant.
    Instant(DateTime<Utc>),
}

/// A resolved moment and whether a working-day count on it used a year
/// whose holiday notice is not published yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The moment.
    pub moment: Moment,
    /// Whether a working-day count touched an unpublished year.
    pub provisional: bool,
}

/// Converts between moments, local dates and instants in one time zone.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The time zone of local dates.
    pub tz: Tz,
}

impl Clock {
    /// The local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// The instant a local date starts (00:00 local).
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        self.at_local(date, NaiveTime::MIN)
    }

    /// The instant of a local date and time (the earlier one in a fold).
    pub fn at_local(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&date.and_time(time)) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            // A gap (DST): take the same wall time in UTC, then shift.
            chrono::LocalResult::None => date.and_time(time).and_utc(),
        }
    }

    /// The instant after which a deadline is missed: the end of a date's
    /// day, or the instant itself.
    pub fn deadline_instant(&self, m: Moment) -> DateTime<Utc> {
        match m {
            Moment::Date(d) => self.start_of(d.succ_opt().unwrap_or(d)),
            Moment::Instant(t) => t,
        }
    }

    /// The instant from which something is allowed: the start of a date,
    /// or the instant itself.
    pub fn start_instant(&self, m: Moment) -> DateTime<Utc> {
        match m {
            Moment::Date(d) => self.start_of(d),
            Moment::Instant(t) => t,
        }
    }

    /// The local date of a moment.
    pub fn date_of(&self, m: Moment) -> NaiveDate {
        match m {
            Moment::Date(d) => d,
            Moment::Instant(t) => self.local_date(t),
        }
    }

    /// Shifts a moment by a span. Day-based units give a date; sub-day
    /// units give an instant.
    pub fn shift(&self, calendar: &Calendar, m: Moment, span: Span, after: bool) -> Resolved {
        let n = span.n;
        if !span.unit.is_day_based() {
            let base = self.start_instant(m);
            let secs = i64::from(n)
                * match span.unit {
                    Unit::Second => 1,
                    Unit::Minute => 60,
                    _ => 3600,
                };
            let delta = Duration::seconds(if after { secs } else { -secs });
            let at = base.checked_add_signed(delta).unwrap_or(base);
            return Resolved {
                moment: Moment::Instant(at),
                provisional: false,
            };
        }
        let date = self.date_of(m);
        let signed = if after { n as i32 } else { -(n as i32) };
        let (date, provisional) = match span.unit {
            Unit::Day => (shift_days(date, i64::from(signed)), false),
            Unit::Week => (shift_days(date, i64::from(signed) * 7), false),
            Unit::Month => (add_months(date, signed), false),
            Unit::Year => (add_years(date, signed), false),
            Unit::Workday => {
                let counting = if span.inclusive {
                    Counting::Inclusive
                } else {
                    Counting::Exclusive
                };
                let r = if after {
                    calendar.add_workdays(date, n, counting)
                } else {
                    calendar.sub_workdays(date, n, counting)
                };
                (r.date, r.provisional)
            }
            Unit::Second | Unit::Minute | Unit::Hour => (date, false),
        };
        Resolved {
            moment: Moment::Date(date),
            provisional,
        }
    }

    /// The end of a period that starts at `m` and lasts `span`: for
    /// day-based spans the end of the last day, else the instant.
    pub fn period_end(&self, calendar: &Calendar, m: Moment, span: Span) -> Resolved {
        let r = self.shift(calendar, m, span, true);
        Resolved {
            moment: Moment::Instant(self.deadline_instant(r.moment)),
            provisional: r.provisional,
        }
    }
}

fn shift_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(Duration::days(days))
        .unwrap_or(date)
}

/// Resolves a time expression given a way to read anchors.
pub fn resolve(
    expr: &TimeExpr,
    clock: &Clock,
    calendar: &Calendar,
    anchor: impl Fn(&Anchor) -> Option<Moment>,
) -> Result<Resolved, Anchor> {
    let base = match &expr.anchor {
        Anchor::Date(d) => Moment::Date(*d),
        other => anchor(other).ok_or_else(|| other.clone())?,
    };
    Ok(match expr.offset {
        Some((span, after)) => clock.shift(calendar, base, span, after),
        // A bare anchor means its day: `due: step.x.completed_at` is met
        // until the end of that day, not overdue at once.
        None => Resolved {
            moment: Moment::Date(clock.date_of(base)),
            provisional: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn parses_spans_and_rejects_nonsense() {
        assert_eq!(
            Span::parse("5 workdays inclusive").unwrap(),
            Span {
                n: 5,
                unit: Unit::Workday,
                inclusive: true
            }
        );
        assert_eq!(Span::parse("1 month").unwrap().unit, Unit::Month);
        assert!(
            Span::parse("1 fortnight")
                .unwrap_err()
                .0
                .contains("中的单位「fortnight」无法识别")
        );
        assert!(
            Span::parse("3 days inclusive")
                .unwrap_err()
                .0
                .contains("只有 `workdays` 可以加 `inclusive`")
        );
        assert!(Span::parse("month").is_err());
        assert!(Span::parse("-1 days").is_err());
    }

    #[test]
    fn parses_time_expressions() {
        let e = TimeExpr::parse("1 month after step.apply.completed_at").unwrap();
        assert_eq!(e.anchor, Anchor::StepCompleted("apply".into()));
        assert_eq!(e.to_string(), "1 month after step.apply.completed_at");
        assert_eq!(
            TimeExpr::parse("2026-07-01").unwrap().anchor,
            Anchor::Date(d("2026-07-01"))
        );
        assert!(
            TimeExpr::parse("step.apply")
                .unwrap_err()
                .0
                .starts_with("时间「step.apply」无法识别，应为日期")
        );
    }

    #[test]
    fn shifts_follow_the_civil_code() {
        let clock = Clock {
            tz: chrono_tz::Asia::Shanghai,
        };
        let cal = Calendar::china();
        let one_month = Span::parse("1 month").unwrap();
        let r = clock.shift(cal, Moment::Date(d("2026-03-02")), one_month, true);
        assert_eq!(r.moment, Moment::Date(d("2026-04-02")));
        let r = clock.shift(cal, Moment::Date(d("2026-01-31")), one_month, true);
        assert_eq!(r.moment, Moment::Date(d("2026-02-28")));
        let five = Span::parse("5 workdays inclusive").unwrap();
        let r = clock.shift(cal, Moment::Date(d("2026-09-24")), five, true);
        assert_eq!(r.moment, Moment::Date(d("2026-10-08")));
        assert!(!r.provisional);
        // A deadline date ends at local midnight: 16:00 UTC the same day.
        let end = clock.deadline_instant(Moment::Date(d("2026-04-02")));
        assert_eq!(end.to_rfc3339(), "2026-04-02T16:00:00+00:00");
    }
}
