//! Working-day calendar for mainland China.
//!
//! A [`Calendar`] knows which dates are working days (工作日): Monday to
//! Friday, except the public holidays (法定节假日) announced every year by the
//! State Council General Office, plus the weekend make-up working days
//! (调休上班) announced in the same notice.
//!
//! The built-in calendar, [`Calendar::china`], embeds the yearly notices from
//! the holiday-cn data set (`engine/data/holiday-cn/`, MIT licence) at compile
//! time. Everything here is pure: no file or network access at run time and no
//! wall clock.
//!
//! A year without a published notice (before 2007, or a year whose notice is
//! not out yet) still has the days off that 《全国年节及纪念日放假办法》 fixes
//! (元旦, 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节; computed in
//! [`statutory`] for the years in [`COMPUTED_YEARS`]); its make-up working
//! days are unknown, so any result whose span touches such a year is flagged
//! `provisional`. A deployment can load a newer notice at run time
//! ([`Calendar::china_with`]).
//!
//! The module also implements the period rules of the Civil Code
//! (民法典 第201–203条): [`Counting::Exclusive`] for 第201条,
//! [`Calendar::next_workday_on_or_after`] for 第203条 and [`add_months`] /
//! [`add_years`] for 第202条.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{Datelike, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

mod statutory;
#[cfg(test)]
mod tests;

pub use statutory::{COMPUTED_YEARS, fixed_days_off};

/// The yearly holiday-cn files embedded in the built-in calendar.
///
/// To add a year, copy its JSON file into `engine/data/holiday-cn/` and add a
/// line here (see `docs/calendar.md`).
const BUILT_IN_FILES: &[&str] = &[
    include_str!("../data/holiday-cn/2007.json"),
    include_str!("../data/holiday-cn/2008.json"),
    include_str!("../data/holiday-cn/2009.json"),
    include_str!("../data/holiday-cn/2010.json"),
    include_str!("../data/holiday-cn/2011.json"),
    include_str!("../data/holiday-cn/2012.json"),
    include_str!("../data/holiday-cn/2013.json"),
    include_str!("../data/holiday-cn/2014.json"),
    include_str!("../data/holiday-cn/2015.json"),
    include_str!("../data/holiday-cn/2016.json"),
    include_str!("../data/holiday-cn/2017.json"),
    include_str!("../data/holiday-cn/2018.json"),
    include_str!("../data/holiday-cn/2019.json"),
    include_str!("../data/holiday-cn/2020.json"),
    include_str!("../data/holiday-cn/2021.json"),
    include_str!("../data/holiday-cn/2022.json"),
    include_str!("../data/holiday-cn/2023.json"),
    include_str!("../data/holiday-cn/2024.json"),
    include_str!("../data/holiday-cn/2025.json"),
    include_str!("../data/holiday-cn/2026.json"),
    include_str!("../data/holiday-cn/2027.json"),
];

/// Name of the built-in calendar returned by [`Calendar::china`].
const CHINA: &str = "cn";

/// Up to this many working days, counting walks day by day (one map lookup per
/// day, no allocation); above it, the target is found by binary search over
/// exact working-day counts, so any `n` (even `u32::MAX`) finishes quickly.
const LINEAR_MAX: u32 = 256;

/// What kind of day a date is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary working day (Monday to Friday, not a holiday).
    Workday,
    /// An ordinary Saturday or Sunday.
    Weekend,
    /// A day off announced as part of a holiday (放假), whether it falls on a
    /// weekday or on a weekend.
    Holiday {
        /// The holiday as named in the notice, e.g. `国庆节`.
        name: String,
    },
    /// A Saturday or Sunday that is a working day (调休上班).
    MakeupWorkday {
        /// The holiday the make-up day belongs to, e.g. `春节`.
        name: String,
    },
}

impl DayKind {
    /// Whether people work on a day of this kind
    /// ([`DayKind::Workday`] or [`DayKind::MakeupWorkday`]).
    pub fn is_working(&self) -> bool {
        matches!(self, Self::Workday | Self::MakeupWorkday { .. })
    }
}

/// Whether the start day of a count is itself counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Counting {
    /// The start day is day 1 if it is a working day, as in a publicity notice
    /// (公示) "9月24日至10月8日（5个工作日）".
    Inclusive,
    /// The start day is not counted; counting starts the next day
    /// (民法典 第201条).
    Exclusive,
}

/// A date computed from the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct WorkdayResult {
    /// The computed date.
    pub date: NaiveDate,
    /// True when the computation touched a year whose holiday notice is not
    /// published (that year was counted Monday to Friday), or ran into the
    /// limits of the date type: the date may change once the notice is out.
    pub provisional: bool,
}

/// A number of working days computed from the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct WorkdayCount {
    /// The number of working days.
    pub count: u32,
    /// True when the range touched a year whose holiday notice is not
    /// published (that year was counted Monday to Friday).
    pub provisional: bool,
}

/// Errors from loading calendar data.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// A file is not JSON in the holiday-cn format.
    #[error("holiday file #{index} is not a valid holiday-cn year file: {source}")]
    Json {
        /// Position of the file in the list given to [`Calendar::from_json_years`].
        index: usize,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Two files give the same year.
    #[error("year {year} is given by more than one holiday file")]
    DuplicateYear {
        /// The year given twice.
        year: i32,
    },
    /// A date is not of the form `YYYY-MM-DD`.
    #[error("invalid date `{value}` in the holiday file for {year} (expected YYYY-MM-DD)")]
    InvalidDate {
        /// The `year` of the file.
        year: i32,
        /// The date as written.
        value: String,
    },
    /// A date is more than one year away from its file's year.
    #[error("date {date} does not belong in the holiday file for {year}")]
    DateOutsideYear {
        /// The `year` of the file.
        year: i32,
        /// The out-of-place date.
        date: NaiveDate,
    },
    /// A date is listed both as a day off and as a working day.
    #[error("date {date} is listed both as a day off and as a working day")]
    ConflictingDate {
        /// The date listed twice.
        date: NaiveDate,
    },
}

/// One year file of the holiday-cn data set.
#[derive(Deserialize)]
struct YearFile {
    year: i32,
    papers: Vec<String>,
    days: Vec<DayEntry>,
}

/// One exception in a year file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DayEntry {
    name: String,
    date: String,
    is_off_day: bool,
}

/// A working-day calendar: holidays and make-up working days on top of a
/// Monday-to-Friday week.
#[derive(Debug, Clone)]
pub struct Calendar {
    name: String,
    /// The exceptions to the Monday-to-Friday rule (and local overrides).
    days: BTreeMap<NaiveDate, DayKind>,
    /// Notice URLs by year.
    papers: BTreeMap<i32, Vec<String>>,
    /// Years whose notice is published.
    published: BTreeSet<i32>,
    /// Unpublished years whose fixed days off were computed.
    computed: BTreeSet<i32>,
}

/// How much the calendar knows about a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum YearStatus {
    /// The State Council's notice is loaded: days off and make-up working
    /// days are known (官方).
    Official,
    /// No notice: the days off fixed by law are computed, the make-up
    /// working days are unknown (暂算).
    Provisional,
    /// No notice and nothing computed: Monday to Friday (未知).
    Unknown,
}

impl YearStatus {
    /// The status in Chinese, as pages and the CLI show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Official => "官方",
            Self::Provisional => "暂算",
            Self::Unknown => "未知",
        }
    }
}

/// Just the year of a holiday-cn file.
#[derive(Deserialize)]
struct YearOnly {
    year: i32,
}

impl Calendar {
    /// The built-in calendar of mainland China, named `cn`, with the holiday
    /// notices of 2007 to 2026 (2027 is not published yet).
    ///
    /// The embedded data is parsed once, on first use.
    ///
    /// # Panics
    ///
    /// Only if the embedded data were invalid, which the calendar tests rule
    /// out.
    pub fn china() -> &'static Calendar {
        static CHINA_CALENDAR: OnceLock<Calendar> = OnceLock::new();
        CHINA_CALENDAR.get_or_init(|| {
            Calendar::from_json_years(CHINA, BUILT_IN_FILES)
                .expect("the embedded holiday-cn data is valid (checked by the calendar tests)")
                .with_statutory_holidays()
        })
    }

    /// The built-in calendar with newer year files (a notice published
    /// after this build): a file replaces the built-in file of its year.
    /// Unpublished years get their computed fixed days off, as in
    /// [`Calendar::china`].
    ///
    /// # Errors
    ///
    /// As [`Calendar::from_json_years`]; `index` in an error counts the
    /// given files only.
    pub fn china_with(files: &[&str]) -> Result<Calendar, CalendarError> {
        let mut years = BTreeSet::new();
        for (index, text) in files.iter().enumerate() {
            let file: YearOnly = serde_json::from_str(text)
                .map_err(|source| CalendarError::Json { index, source })?;
            if !years.insert(file.year) {
                return Err(CalendarError::DuplicateYear { year: file.year });
            }
        }
        let mut all: Vec<&str> = files.to_vec();
        all.extend(BUILT_IN_FILES.iter().copied().filter(|text| {
            serde_json::from_str::<YearOnly>(text).is_ok_and(|f| !years.contains(&f.year))
        }));
        // The given files come first, so an error's index is theirs.
        Calendar::from_json_years(CHINA, &all).map(Calendar::with_statutory_holidays)
    }

    /// This calendar with the days off fixed by law computed for every
    /// unpublished year in [`COMPUTED_YEARS`] (a date a neighbouring
    /// year's notice lists keeps the notice's kind). Those years stay
    /// unpublished: results touching them are still provisional.
    #[must_use]
    pub fn with_statutory_holidays(mut self) -> Calendar {
        for year in COMPUTED_YEARS {
            if self.published.contains(&year) {
                continue;
            }
            for (date, name) in fixed_days_off(year) {
                self.days.entry(date).or_insert(DayKind::Holiday { name });
            }
            self.computed.insert(year);
        }
        self
    }

    /// How much this calendar knows about `year`.
    pub fn year_status(&self, year: i32) -> YearStatus {
        if self.published.contains(&year) {
            YearStatus::Official
        } else if self.computed.contains(&year) {
            YearStatus::Provisional
        } else {
            YearStatus::Unknown
        }
    }

    /// The published years, first to last.
    pub fn published_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.published.iter().copied()
    }

    /// The calendar's name (`cn` for [`Calendar::china`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Builds a calendar from year files in the holiday-cn JSON format:
    /// `{"year": 2026, "papers": [urls], "days": [{"name": "元旦",
    /// "date": "2026-01-01", "isOffDay": true}, ...]}`.
    ///
    /// All files go into one date map, since a late-December date can be
    /// listed in the next year's file. A year is published when its file lists
    /// at least one day.
    ///
    /// # Errors
    ///
    /// Fails on invalid JSON, a date not written `YYYY-MM-DD` or more than a
    /// year away from its file's year, a year given by two files, or a date
    /// listed both as a day off and as a working day.
    pub fn from_json_years(name: &str, files: &[&str]) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar {
            name: name.to_owned(),
            days: BTreeMap::new(),
            papers: BTreeMap::new(),
            published: BTreeSet::new(),
            computed: BTreeSet::new(),
        };
        for (index, text) in files.iter().enumerate() {
            let file: YearFile = serde_json::from_str(text)
                .map_err(|source| CalendarError::Json { index, source })?;
            if calendar.papers.contains_key(&file.year) {
                return Err(CalendarError::DuplicateYear { year: file.year });
            }
            if !file.days.is_empty() {
                calendar.published.insert(file.year);
            }
            for entry in file.days {
                let date = parse_date(file.year, &entry.date)?;
                if (i64::from(date.year()) - i64::from(file.year)).abs() > 1 {
                    return Err(CalendarError::DateOutsideYear {
                        year: file.year,
                        date,
                    });
                }
                let kind = match (entry.is_off_day, is_weekend(date)) {
                    (true, _) => DayKind::Holiday { name: entry.name },
                    (false, true) => DayKind::MakeupWorkday { name: entry.name },
                    // A weekday listed as a working day is an ordinary working
                    // day (2020-02-03, the end of the extended Spring Festival).
                    (false, false) => DayKind::Workday,
                };
                match calendar.days.get(&date) {
                    Some(existing) if existing.is_working() != kind.is_working() => {
                        return Err(CalendarError::ConflictingDate { date });
                    }
                    Some(_) => {}
                    None => {
                        calendar.days.insert(date, kind);
                    }
                }
            }
            calendar.papers.insert(file.year, file.papers);
        }
        Ok(calendar)
    }

    /// A copy of this calendar where `date` is of the given kind, e.g. a local
    /// day off ([`DayKind::Holiday`]) or an extra working day
    /// ([`DayKind::MakeupWorkday`] or [`DayKind::Workday`]).
    ///
    /// [`Calendar::day_kind`] returns the override as given. Overrides do not
    /// change which years are published.
    #[must_use]
    pub fn with_override(&self, date: NaiveDate, kind: DayKind) -> Calendar {
        let mut calendar = self.clone();
        calendar.days.insert(date, kind);
        calendar
    }

    /// What kind of day `date` is.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        match self.days.get(&date) {
            Some(kind) => kind.clone(),
            None if is_weekend(date) => DayKind::Weekend,
            None => DayKind::Workday,
        }
    }

    /// Whether `date` is a working day.
    pub fn is_workday(&self, date: NaiveDate) -> bool {
        match self.days.get(&date) {
            Some(kind) => kind.is_working(),
            None => !is_weekend(date),
        }
    }

    /// Whether the holiday notice for `year` is published. Dates in other
    /// years are counted Monday to Friday (apart from the few listed in a
    /// neighbouring year's notice) and make results provisional.
    pub fn is_published(&self, year: i32) -> bool {
        self.published.contains(&year)
    }

    /// The URLs of the notices the data for `year` comes from (provenance);
    /// empty when the year is not published.
    pub fn papers(&self, year: i32) -> &[String] {
        self.papers.get(&year).map_or(&[], Vec::as_slice)
    }

    /// The `n`th working day counting forwards from `start`.
    ///
    /// With [`Counting::Inclusive`], `start` is day 1 if it is a working day
    /// (a 公示 "9月24日至10月8日（5个工作日）"); with [`Counting::Exclusive`],
    /// counting starts the next day (民法典 第201条). `n == 0` returns `start`
    /// in both modes.
    ///
    /// The result is provisional if any year from `start` to the result is
    /// not published. Any `n` is computed exactly; if the result would be
    /// after the last date chrono can represent, that date is returned,
    /// flagged provisional.
    pub fn add_workdays(&self, start: NaiveDate, n: u32, counting: Counting) -> WorkdayResult {
        if n == 0 {
            return self.result(start, start);
        }
        let first = match counting {
            Counting::Inclusive => Some(start),
            Counting::Exclusive => start.succ_opt(),
        };
        match first.and_then(|first| self.nth_workday(first, n, Direction::Forward)) {
            Some(date) => self.result(start, date),
            None => WorkdayResult {
                date: NaiveDate::MAX,
                provisional: true,
            },
        }
    }

    /// The `n`th working day counting backwards from `start`.
    ///
    /// With [`Counting::Exclusive`], `start` is not counted (the 1st working
    /// day before 2026-10-08 is 2026-09-30); with [`Counting::Inclusive`],
    /// `start` is day 1 if it is a working day. `n == 0` returns `start`.
    ///
    /// The result is provisional if any year from the result to `start` is not
    /// published. If the result would be before the first date chrono can
    /// represent, that date is returned, flagged provisional.
    pub fn sub_workdays(&self, start: NaiveDate, n: u32, counting: Counting) -> WorkdayResult {
        if n == 0 {
            return self.result(start, start);
        }
        let last = match counting {
            Counting::Inclusive => Some(start),
            Counting::Exclusive => start.pred_opt(),
        };
        match last.and_then(|last| self.nth_workday(last, n, Direction::Backward)) {
            Some(date) => self.result(start, date),
            None => WorkdayResult {
                date: NaiveDate::MIN,
                provisional: true,
            },
        }
    }

    /// The number of working days from `from` to `to`, both included (0 when
    /// `to` is before `from`). Provisional if any year of the range is not
    /// published.
    pub fn workdays_between(&self, from: NaiveDate, to: NaiveDate) -> WorkdayCount {
        if to < from {
            return WorkdayCount {
                count: 0,
                provisional: false,
            };
        }
        WorkdayCount {
            // Chrono's whole range is about 96 million days: this cannot
            // saturate, but stay panic-free anyway.
            count: u32::try_from(self.count_workdays(from, to)).unwrap_or(u32::MAX),
            provisional: self.touches_unpublished(from, to),
        }
    }

    /// The first working day on or after `date`: for 民法典 第203条, a period
    /// whose last day is a day off (法定休假日) ends on the next working day.
    pub fn next_workday_on_or_after(&self, date: NaiveDate) -> WorkdayResult {
        self.add_workdays(date, 1, Counting::Inclusive)
    }

    /// A result for `date`, computed from `start`.
    fn result(&self, start: NaiveDate, date: NaiveDate) -> WorkdayResult {
        WorkdayResult {
            date,
            provisional: self.touches_unpublished(start, date),
        }
    }

    /// Whether a year between `a` and `b` (in either order) is not published.
    /// Stops at the first unpublished year, so it is bounded by the number of
    /// published years.
    fn touches_unpublished(&self, a: NaiveDate, b: NaiveDate) -> bool {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        (low.year()..=high.year()).any(|year| !self.is_published(year))
    }

    /// The `n`th (`n >= 1`) working day counting from `origin` (included) in
    /// `direction`, or `None` past chrono's limits.
    fn nth_workday(&self, origin: NaiveDate, n: u32, direction: Direction) -> Option<NaiveDate> {
        if n <= LINEAR_MAX {
            self.nth_workday_linear(origin, n, direction)
        } else {
            self.nth_workday_search(origin, n, direction)
        }
    }

    /// [`Calendar::nth_workday`] by walking day by day: O(n) lookups.
    fn nth_workday_linear(
        &self,
        origin: NaiveDate,
        n: u32,
        direction: Direction,
    ) -> Option<NaiveDate> {
        let mut date = origin;
        let mut left = n;
        loop {
            if self.is_workday(date) {
                left = left.saturating_sub(1);
                if left == 0 {
                    return Some(date);
                }
            }
            date = direction.step(date)?;
        }
    }

    /// [`Calendar::nth_workday`] by binary search on exact counts: the target
    /// is the nearest date `d` with at least `n` working days between `origin`
    /// and `d`. O(log(days) × listed days in range), for any `n`.
    fn nth_workday_search(
        &self,
        origin: NaiveDate,
        n: u32,
        direction: Direction,
    ) -> Option<NaiveDate> {
        let n = i64::from(n);
        let origin_num = day_number(origin);
        let (limit, sign) = match direction {
            Direction::Forward => (day_number(NaiveDate::MAX), 1),
            Direction::Backward => (day_number(NaiveDate::MIN), -1),
        };
        let enough = |num: i64| {
            let date = date_from_number(num);
            let count = match direction {
                Direction::Forward => self.count_workdays(origin, date),
                Direction::Backward => self.count_workdays(date, origin),
            };
            count >= n
        };
        let clamp = |num: i64| match direction {
            Direction::Forward => num.min(limit),
            Direction::Backward => num.max(limit),
        };

        // Find a far end with enough working days: 5 working days a week plus
        // slack, doubled as long as holidays and overrides eat into it.
        let mut distance = n.saturating_mul(7) / 5 + 14;
        let mut far = clamp(origin_num.saturating_add(sign * distance));
        while !enough(far) {
            if far == limit {
                return None;
            }
            distance = distance.saturating_mul(2);
            far = clamp(origin_num.saturating_add(sign * distance));
        }

        // Binary search on the distance from the origin: distances below
        // `low` are not enough, distance `high` is.
        let (mut low, mut high) = (0_i64, (far - origin_num).abs());
        while low < high {
            let mid = low + (high - low) / 2;
            if enough(origin_num + sign * mid) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        Some(date_from_number(origin_num + sign * low))
    }

    /// The exact number of working days in `[from, to]` (0 if `to < from`):
    /// Monday to Friday by arithmetic, corrected by the listed days in range.
    fn count_workdays(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return 0;
        }
        let mut count = weekdays_between(from, to);
        for (date, kind) in self.days.range(from..=to) {
            match (is_weekend(*date), kind.is_working()) {
                (false, false) => count -= 1,
                (true, true) => count += 1,
                _ => {}
            }
        }
        count
    }
}

/// Which way to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

impl Direction {
    /// The next date in this direction, `None` past chrono's limits.
    fn step(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Forward => date.succ_opt(),
            Self::Backward => date.pred_opt(),
        }
    }
}

/// Parses a `YYYY-MM-DD` date from the year file for `year`.
fn parse_date(year: i32, value: &str) -> Result<NaiveDate, CalendarError> {
    let invalid = || CalendarError::InvalidDate {
        year,
        value: value.to_owned(),
    };
    let well_formed = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(invalid());
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| invalid())
}

/// Whether `date` is a Saturday or a Sunday.
fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The number of Mondays to Fridays in `[from, to]`, `to >= from`.
fn weekdays_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let days = day_number(to) - day_number(from) + 1;
    let first = i64::from(from.weekday().num_days_from_monday());
    let partial = (0..days % 7)
        .filter(|offset| (first + offset) % 7 < 5)
        .count();
    days / 7 * 5 + i64::try_from(partial).unwrap_or(0)
}

/// The day number of `date` (days from 0001-01-01, which is day 1).
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// The date with day number `number`, clamped to chrono's range.
fn date_from_number(number: i64) -> NaiveDate {
    let clamped = number.clamp(day_number(NaiveDate::MIN), day_number(NaiveDate::MAX));
    i32::try_from(clamped)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(if number < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// Adds `n` months (negative `n` goes back) per 民法典 第202条: the same day of
/// the month in the target month, or its last day if it is shorter
/// (2026-01-31 + 1 month = 2026-02-28; 2026-03-31 − 1 month = 2026-02-28).
///
/// Saturates at chrono's first or last date.
#[must_use]
pub fn add_months(date: NaiveDate, n: i32) -> NaiveDate {
    let months = Months::new(n.unsigned_abs());
    if n >= 0 {
        date.checked_add_months(months).unwrap_or(NaiveDate::MAX)
    } else {
        date.checked_sub_months(months).unwrap_or(NaiveDate::MIN)
    }
}

/// Adds `n` years (negative `n` goes back) per 民法典 第202条: 02-29 + 1 year
/// is 02-28 of the next year.
///
/// Saturates at chrono's first or last date.
#[must_use]
pub fn add_years(date: NaiveDate, n: i32) -> NaiveDate {
    add_months(date, n.saturating_mul(12))
}
