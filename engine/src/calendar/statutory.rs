//! The days off the law fixes, for a year whose 放假调休 notice is not out.
//!
//! 《全国年节及纪念日放假办法》 fixes which days are public holidays in
//! every year; the State Council's yearly notice only arranges them (moves
//! weekdays into a block, names the make-up working days). Until a year's
//! notice is published, its fixed days off are known and are computed here:
//! the solar dates of 元旦, 劳动节 and 国庆节, 清明 as the solar term, and
//! the lunar dates of 春节, 端午节 and 中秋节 converted with `tyme4rs` (the
//! lunar calendar and 寿星天文历 solar terms of 6tail's Tyme). The make-up
//! working days stay unknown, so such a year remains *provisional*.
//!
//! The rules changed over the years; each year gets the version in force
//! (the calendar tests check the computed days against every notice from
//! 2020 on, and the version boundaries against 2008, 2014 and 2025).

use std::ops::RangeInclusive;

use chrono::NaiveDate;
use tyme4rs::tyme::lunar::LunarDay;
use tyme4rs::tyme::solar::{SolarDay, SolarTerm};

/// Years whose fixed days off are computed when no notice is loaded. The
/// five-day week (the calendar's Monday-to-Friday base) holds from 1995; the
/// lunar conversion is proven on published years; beyond 2100 a deadline is
/// not a practical question.
pub const COMPUTED_YEARS: RangeInclusive<i32> = 2000..=2100;

/// Which version of 《全国年节及纪念日放假办法》 governs a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// 国务院令第270号 (1999): 元旦 1 day, 春节 初一–初三, 劳动节 5月1–3日,
    /// 国庆节 10月1–3日; no 清明, 端午 or 中秋.
    Of1999,
    /// 国务院令第513号 (2007, in force 2008-01-01): 春节 除夕–初二, 劳动节
    /// 5月1日, 清明节, 端午节 and 中秋节 added.
    Of2007,
    /// 国务院令第644号 (2013, in force 2014-01-01): 春节 初一–初三.
    Of2013,
    /// 国务院令第795号 (2024, in force 2025-01-01): 春节 除夕–初三, 劳动节
    /// 5月1–2日.
    Of2024,
}

impl Version {
    fn for_year(year: i32) -> Version {
        match year {
            ..=2007 => Version::Of1999,
            2008..=2013 => Version::Of2007,
            2014..=2024 => Version::Of2013,
            _ => Version::Of2024,
        }
    }
}

/// The days off fixed by law in `year` (Gregorian), with the holiday's
/// name as the notices write it, in date order. Empty outside
/// [`COMPUTED_YEARS`]. Two holidays on one date (中秋节 on 10月1日) give
/// one entry named `国庆节、中秋节`, as the 2020 notice does.
pub fn fixed_days_off(year: i32) -> Vec<(NaiveDate, String)> {
    if !COMPUTED_YEARS.contains(&year) {
        return Vec::new();
    }
    let version = Version::for_year(year);
    let mut days: Vec<(NaiveDate, &'static str)> = Vec::new();
    let mut solar = |month: u32, from: u32, to: u32, name: &'static str| {
        for day in from..=to {
            if let Some(d) = NaiveDate::from_ymd_opt(year, month, day) {
                days.push((d, name));
            }
        }
    };
    solar(1, 1, 1, "元旦");
    let (labour_days, national_days) = match version {
        Version::Of1999 => (3, 3),
        Version::Of2007 | Version::Of2013 => (1, 3),
        Version::Of2024 => (2, 3),
    };
    solar(5, 1, labour_days, "劳动节");
    solar(10, 1, national_days, "国庆节");

    // 春节: the lunar new year that falls in this Gregorian year (it is
    // always between 01-21 and 02-20), with 除夕 the day before 初一.
    if let Some(new_year) = lunar(year, 1, 1) {
        let (before, after) = match version {
            Version::Of1999 | Version::Of2013 => (0, 2),
            Version::Of2007 => (1, 1),
            Version::Of2024 => (1, 2),
        };
        let first = new_year - chrono::Days::new(before);
        let last = new_year + chrono::Days::new(after);
        for d in first.iter_days().take_while(|d| *d <= last) {
            days.push((d, "春节"));
        }
    }
    if version != Version::Of1999 {
        if let Some(d) = solar_term(year, "清明") {
            days.push((d, "清明节"));
        }
        if let Some(d) = lunar(year, 5, 5) {
            days.push((d, "端午节"));
        }
        if let Some(d) = lunar(year, 8, 15) {
            days.push((d, "中秋节"));
        }
    }

    // By date; one date's names stay in the order above (国庆节、中秋节).
    days.sort_by_key(|(date, _)| *date);
    let mut merged: Vec<(NaiveDate, String)> = Vec::with_capacity(days.len());
    for (date, name) in days {
        match merged.last_mut() {
            Some((last, names)) if *last == date => {
                names.push('、');
                names.push_str(name);
            }
            _ => merged.push((date, name.to_owned())),
        }
    }
    merged
}

/// The Gregorian date of lunar `month`/`day` (not a leap month) of the
/// lunar year that starts in Gregorian `year`.
fn lunar(year: i32, month: isize, day: usize) -> Option<NaiveDate> {
    let lunar = LunarDay::new(isize::try_from(year).ok()?, month, day).ok()?;
    to_naive(&lunar.get_solar_day())
}

/// The Gregorian date of the solar term `name` in `year`.
fn solar_term(year: i32, name: &str) -> Option<NaiveDate> {
    let term = SolarTerm::new(isize::try_from(year).ok()?, name).ok()?;
    to_naive(&term.get_julian_day().get_solar_day())
}

fn to_naive(day: &SolarDay) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::try_from(day.get_year()).ok()?,
        u32::try_from(day.get_month()).ok()?,
        u32::try_from(day.get_day()).ok()?,
    )
}
