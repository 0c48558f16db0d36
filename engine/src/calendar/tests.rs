//! Tests against the State Council notices (国务院办公厅关于X年部分节假日安排的通知).

use super::*;

fn d(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid test date")
}

fn cn() -> &'static Calendar {
    Calendar::china()
}

fn holiday(name: &str) -> DayKind {
    DayKind::Holiday {
        name: name.to_owned(),
    }
}

fn makeup(name: &str) -> DayKind {
    DayKind::MakeupWorkday {
        name: name.to_owned(),
    }
}

fn days_of(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |date| *date <= to)
}

#[test]
fn built_in_calendar_publishes_2007_to_2026() {
    let cn = cn();
    assert_eq!(cn.name(), "cn");
    for year in 2007..=2026 {
        assert!(cn.is_published(year), "{year}");
        assert!(!cn.papers(year).is_empty(), "{year}");
    }
    for year in [1900, 2006, 2027, 2028, i32::MIN, i32::MAX] {
        assert!(!cn.is_published(year), "{year}");
        assert!(cn.papers(year).is_empty(), "{year}");
    }
    assert_eq!(
        cn.papers(2026),
        ["https://www.gov.cn/zhengce/zhengceku/202511/content_7047091.htm"]
    );
}

#[test]
fn day_kinds_2026() {
    let cn = cn();
    // 国庆节、中秋节: off 09-25..27 and 10-01..07, work Sun 09-20 and Sat 10-10.
    assert_eq!(cn.day_kind(d(2026, 10, 10)), makeup("国庆节"));
    assert_eq!(cn.day_kind(d(2026, 10, 5)), holiday("国庆节"));
    assert_eq!(cn.day_kind(d(2026, 10, 3)), holiday("国庆节"));
    assert_eq!(cn.day_kind(d(2026, 9, 25)), holiday("中秋节"));
    assert_eq!(cn.day_kind(d(2026, 9, 20)), makeup("国庆节"));
    assert!(cn.is_workday(d(2026, 9, 20)));
    assert!(cn.is_workday(d(2026, 10, 10)));
    assert!(!cn.is_workday(d(2026, 10, 5)));
    // 元旦: off 01-01..03, work Sun 01-04.
    assert_eq!(cn.day_kind(d(2026, 1, 1)), holiday("元旦"));
    assert_eq!(cn.day_kind(d(2026, 1, 4)), makeup("元旦"));
    // 春节: off 02-15..23, work Sat 02-14 and Sat 02-28.
    assert_eq!(cn.day_kind(d(2026, 2, 14)), makeup("春节"));
    assert!(cn.is_workday(d(2026, 2, 14)));
    assert_eq!(cn.day_kind(d(2026, 2, 16)), holiday("春节"));
    assert!(!cn.is_workday(d(2026, 2, 16)));
    assert_eq!(cn.day_kind(d(2026, 2, 28)), makeup("春节"));
    // 劳动节: work Sat 05-09.
    assert_eq!(cn.day_kind(d(2026, 5, 9)), makeup("劳动节"));
    // Ordinary days.
    assert_eq!(cn.day_kind(d(2026, 3, 7)), DayKind::Weekend);
    assert!(!cn.is_workday(d(2026, 3, 7)));
    assert_eq!(cn.day_kind(d(2026, 3, 9)), DayKind::Workday);
    assert!(cn.is_workday(d(2026, 3, 9)));
}

#[test]
fn day_kinds_2025() {
    let cn = cn();
    assert_eq!(cn.day_kind(d(2025, 1, 26)), makeup("春节"));
    assert!(cn.is_workday(d(2025, 1, 26)));
    assert_eq!(cn.day_kind(d(2025, 2, 8)), makeup("春节"));
    assert_eq!(cn.day_kind(d(2025, 1, 28)), holiday("春节"));
    assert_eq!(cn.day_kind(d(2025, 10, 8)), holiday("国庆节、中秋节"));
    assert!(!cn.is_workday(d(2025, 10, 8)));
    assert_eq!(cn.day_kind(d(2025, 10, 11)), makeup("国庆节、中秋节"));
    assert!(cn.is_workday(d(2025, 10, 11)));
}

#[test]
fn dates_listed_in_the_next_years_notice() {
    let cn = cn();
    // The 2008 notice gives 2007-12-29 (Sat) as a working day and
    // 2007-12-30..31 off for 元旦 2008.
    assert_eq!(cn.day_kind(d(2007, 12, 29)), makeup("元旦"));
    assert_eq!(cn.day_kind(d(2007, 12, 31)), holiday("元旦"));
    // The 2023 notice gives Sat 2022-12-31 off.
    assert_eq!(cn.day_kind(d(2022, 12, 31)), holiday("元旦"));
    // The 2007 notice reaches into 2006, which stays unpublished.
    assert_eq!(cn.day_kind(d(2006, 12, 30)), makeup("元旦"));
    assert!(!cn.is_published(2006));
}

#[test]
fn listed_weekday_working_day_is_an_ordinary_workday() {
    // The 2020 Spring Festival extension lists Mon 2020-02-03 as not off.
    assert_eq!(cn().day_kind(d(2020, 2, 3)), DayKind::Workday);
    assert_eq!(cn().day_kind(d(2020, 2, 2)), holiday("春节"));
}

#[test]
fn publicity_period_inclusive() {
    // 公示 "9月24日至10月8日（5个工作日）".
    let result = cn().add_workdays(d(2026, 9, 24), 5, Counting::Inclusive);
    assert_eq!(
        result,
        WorkdayResult {
            date: d(2026, 10, 8),
            provisional: false
        }
    );
}

#[test]
fn inclusive_and_exclusive_from_a_workday() {
    let cn = cn();
    let start = d(2026, 9, 24); // Thursday, a working day.
    assert_eq!(
        cn.add_workdays(start, 1, Counting::Inclusive).date,
        d(2026, 9, 24)
    );
    assert_eq!(
        cn.add_workdays(start, 1, Counting::Exclusive).date,
        d(2026, 9, 28)
    );
    // 09-28, 09-29, 09-30, 10-08, 10-09.
    assert_eq!(
        cn.add_workdays(start, 5, Counting::Exclusive).date,
        d(2026, 10, 9)
    );
}

#[test]
fn inclusive_and_exclusive_from_a_holiday() {
    let cn = cn();
    let start = d(2026, 10, 1); // 国庆节, not a working day.
    for counting in [Counting::Inclusive, Counting::Exclusive] {
        assert_eq!(cn.add_workdays(start, 1, counting).date, d(2026, 10, 8));
        // 10-08, 10-09, then the make-up Saturday 10-10.
        assert_eq!(cn.add_workdays(start, 3, counting).date, d(2026, 10, 10));
        assert_eq!(cn.add_workdays(start, 4, counting).date, d(2026, 10, 12));
    }
}

#[test]
fn zero_workdays_returns_the_start() {
    let cn = cn();
    for counting in [Counting::Inclusive, Counting::Exclusive] {
        assert_eq!(
            cn.add_workdays(d(2026, 10, 3), 0, counting),
            WorkdayResult {
                date: d(2026, 10, 3),
                provisional: false
            }
        );
        assert_eq!(
            cn.sub_workdays(d(2026, 10, 3), 0, counting).date,
            d(2026, 10, 3)
        );
    }
    assert!(
        cn.add_workdays(d(2027, 3, 1), 0, Counting::Exclusive)
            .provisional
    );
}

#[test]
fn sub_workdays_across_holidays() {
    let cn = cn();
    let start = d(2026, 10, 8);
    assert_eq!(
        cn.sub_workdays(start, 1, Counting::Exclusive).date,
        d(2026, 9, 30)
    );
    assert_eq!(
        cn.sub_workdays(start, 1, Counting::Inclusive).date,
        d(2026, 10, 8)
    );
    // The inverse of the 公示 example.
    assert_eq!(
        cn.sub_workdays(start, 5, Counting::Inclusive),
        WorkdayResult {
            date: d(2026, 9, 24),
            provisional: false
        }
    );
    // 09-30, 09-29, 09-28, 09-24, 09-23.
    assert_eq!(
        cn.sub_workdays(start, 5, Counting::Exclusive).date,
        d(2026, 9, 23)
    );
    // 09-23, 09-22, 09-21, then the make-up Sunday 09-20.
    assert_eq!(
        cn.sub_workdays(d(2026, 9, 24), 4, Counting::Exclusive).date,
        d(2026, 9, 20)
    );
    // From a holiday, both modes skip it.
    for counting in [Counting::Inclusive, Counting::Exclusive] {
        assert_eq!(
            cn.sub_workdays(d(2026, 2, 20), 1, counting).date,
            d(2026, 2, 14)
        );
    }
}

#[test]
fn workdays_between_spring_festival_2026() {
    let cn = cn();
    // Work Sat 02-14; off 02-15..23; work 02-24..27 and Sat 02-28.
    assert_eq!(
        cn.workdays_between(d(2026, 2, 14), d(2026, 2, 28)),
        WorkdayCount {
            count: 6,
            provisional: false
        }
    );
    assert_eq!(cn.workdays_between(d(2026, 2, 15), d(2026, 2, 23)).count, 0);
    // February 2026: 20 weekdays, 6 of them off (16..20, 23), 2 make-up Saturdays.
    assert_eq!(cn.workdays_between(d(2026, 2, 1), d(2026, 2, 28)).count, 16);
    assert_eq!(
        cn.workdays_between(d(2026, 2, 28), d(2026, 2, 14)),
        WorkdayCount {
            count: 0,
            provisional: false
        }
    );
    assert_eq!(cn.workdays_between(d(2026, 2, 14), d(2026, 2, 14)).count, 1);
}

#[test]
fn counts_agree_with_walking() {
    let cn = cn();
    let from = d(2024, 12, 1);
    let mut walked = 0;
    for to in days_of(from, d(2027, 1, 31)) {
        if cn.is_workday(to) {
            walked += 1;
        }
        assert_eq!(cn.workdays_between(from, to).count, walked, "{to}");
    }
}

#[test]
fn next_workday_on_or_after() {
    let cn = cn();
    assert_eq!(
        cn.next_workday_on_or_after(d(2026, 10, 1)).date,
        d(2026, 10, 8)
    );
    assert_eq!(
        cn.next_workday_on_or_after(d(2026, 9, 20)).date,
        d(2026, 9, 20)
    );
    assert_eq!(
        cn.next_workday_on_or_after(d(2026, 3, 7)).date,
        d(2026, 3, 9)
    );
    let new_year = cn.next_workday_on_or_after(d(2027, 1, 2));
    assert_eq!(new_year.date, d(2027, 1, 4));
    assert!(new_year.provisional);
}

#[test]
fn unpublished_years_keep_the_fixed_holidays_and_are_provisional() {
    let cn = cn();
    assert!(!cn.is_published(2027));
    assert_eq!(cn.year_status(2027), YearStatus::Provisional);
    assert_eq!(cn.year_status(2026), YearStatus::Official);
    assert_eq!(cn.year_status(1999), YearStatus::Unknown);
    // 《全国年节及纪念日放假办法》(2024年修订) 第二条: 元旦 is a day off in
    // any year, notice or not. 2027-01-01 is a Friday.
    assert_eq!(cn.day_kind(d(2027, 1, 1)), holiday("元旦"));
    assert_eq!(cn.day_kind(d(2027, 1, 2)), DayKind::Weekend);
    // 春节 2027: 初一 is Sat 02-06; 除夕 to 初三 are Fri 02-05 .. Mon 02-08.
    for day in 5..=8 {
        assert_eq!(cn.day_kind(d(2027, 2, day)), holiday("春节"), "02-{day}");
    }
    assert!(cn.is_workday(d(2027, 2, 9)));
    // The make-up working days are unknown: a Sunday stays a day off.
    assert_eq!(cn.day_kind(d(2027, 2, 14)), DayKind::Weekend);
    let result = cn.add_workdays(d(2027, 3, 5), 1, Counting::Exclusive);
    assert_eq!(
        result,
        WorkdayResult {
            date: d(2027, 3, 8),
            provisional: true
        }
    );
    assert!(
        !cn.add_workdays(d(2026, 3, 5), 1, Counting::Exclusive)
            .provisional
    );
    // Mon 2026-12-28 .. Thu 12-31, (元旦 Fri 2027-01-01), Mon 01-04 .. Fri 01-08.
    assert_eq!(
        cn.workdays_between(d(2026, 12, 28), d(2027, 1, 8)),
        WorkdayCount {
            count: 9,
            provisional: true
        }
    );
    assert!(
        cn.add_workdays(d(2026, 12, 28), 5, Counting::Inclusive)
            .provisional
    );
    assert!(
        !cn.add_workdays(d(2026, 12, 28), 4, Counting::Inclusive)
            .provisional
    );
    assert!(
        cn.sub_workdays(d(2007, 1, 5), 5, Counting::Exclusive)
            .provisional
    );
    assert!(
        !cn.workdays_between(d(2007, 1, 1), d(2026, 12, 31))
            .provisional
    );
}

/// The holidays a name covers, as keys: `国庆节、中秋节` → 国庆, 中秋;
/// the notices' `“五一”` and `“五一”国际劳动节` are 劳动, `“十一”` is 国庆.
fn festivals(name: &str) -> Vec<&'static str> {
    const KEYS: [&str; 7] = ["元旦", "春节", "清明", "劳动", "端午", "中秋", "国庆"];
    name.split('、')
        .filter_map(|part| {
            if part.contains("五一") {
                return Some("劳动");
            }
            if part.contains("十一") {
                return Some("国庆");
            }
            KEYS.into_iter().find(|key| part.contains(key))
        })
        .collect()
}

/// Whether the notice's holiday name `published` names the holiday
/// `computed` (`中秋节` in `国庆节、中秋节`, `劳动节` in `“五一”`).
fn names_match(published: &str, computed: &str) -> bool {
    let published = festivals(published);
    festivals(computed).iter().any(|f| published.contains(f))
}

/// 《全国年节及纪念日放假办法》: the days the law fixes, computed (lunar
/// dates and 清明 included), are days off in every published notice, under
/// the version in force that year (1999 to 2007, 2007 revision for
/// 2008–2013, 2013 revision for 2014–2024, 2024 revision from 2025).
#[test]
fn computed_fixed_holidays_reproduce_every_published_notice() {
    let cn = cn();
    for year in 2007..=2026 {
        let fixed = fixed_days_off(year);
        assert!(fixed.len() >= 7, "{year}: {fixed:?}");
        for (date, name) in &fixed {
            match cn.day_kind(*date) {
                DayKind::Holiday { name: published } => assert!(
                    names_match(&published, name),
                    "{year}: {date} is {published} in the notice, computed {name}"
                ),
                other => panic!("{year}: computed {name} on {date}, the notice has {other:?}"),
            }
        }
        // And every holiday block of the notice holds a computed day of
        // each holiday it names: no festival is missed or misdated.
        let mut block: Vec<(NaiveDate, String)> = Vec::new();
        // A block can run into the next year (2007-12-30 .. 2008-01-01).
        let nearby: Vec<(NaiveDate, String)> =
            (year - 1..=year + 1).flat_map(fixed_days_off).collect();
        let listed =
            days_of(d(year, 1, 1), d(year + 1, 1, 7)).filter_map(|date| match cn.day_kind(date) {
                DayKind::Holiday { name } => Some((date, name)),
                _ => None,
            });
        let mut blocks: Vec<Vec<(NaiveDate, String)>> = Vec::new();
        for (date, name) in listed {
            let continues = block.last().is_some_and(|(last, n)| {
                // A weekend the file does not list does not split a block
                // (2014: 清明节 04-05, Sunday 04-06, 04-07).
                *n == name
                    && days_of(*last, date)
                        .skip(1)
                        .all(|g| g == date || !cn.is_workday(g))
            });
            if !continues && !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            block.push((date, name));
        }
        blocks.push(block);
        for block in blocks {
            let published = &block[0].1;
            let keys = festivals(published);
            if keys.is_empty() {
                // A one-off day off by its own decision, not by the 放假办法.
                assert_eq!(
                    (year, published.as_str()),
                    (2015, "抗日战争暨世界反法西斯战争胜利70周年纪念日")
                );
            }
            for key in keys {
                assert!(
                    block.iter().any(|(date, _)| nearby
                        .iter()
                        .any(|(f, n)| f == date && festivals(n).contains(&key))),
                    "{year}: the notice's {published} block {:?}..{:?} holds no computed {key}",
                    block.first().map(|b| b.0),
                    block.last().map(|b| b.0)
                );
            }
        }
    }
}

/// The versions differ where the notices differ: 除夕 was a day off under
/// the 2007 revision (2008), not under the 2013 one (2014: 除夕 01-30 was a
/// working day), and is again under the 2024 one (2025); 劳动节 has two
/// days from 2025.
#[test]
fn fixed_holidays_follow_the_version_in_force() {
    let has = |year: i32, date: NaiveDate| fixed_days_off(year).iter().any(|(f, _)| *f == date);
    assert!(has(2008, d(2008, 2, 6)));
    assert!(!has(2014, d(2014, 1, 30)));
    assert!(cn().is_workday(d(2014, 1, 30)));
    assert!(has(2025, d(2025, 1, 28)));
    assert!(!has(2024, d(2024, 5, 2)));
    assert!(has(2025, d(2025, 5, 2)));
    assert!(has(2007, d(2007, 5, 3)));
    assert!(!has(2007, d(2007, 4, 5)));
    assert!(fixed_days_off(1999).is_empty());
    assert!(fixed_days_off(2101).is_empty());
    // 2020: 中秋节 on 国庆节's first day, one day, both names.
    let first = fixed_days_off(2020)
        .into_iter()
        .find(|(f, _)| *f == d(2020, 10, 1));
    assert_eq!(first, Some((d(2020, 10, 1), "国庆节、中秋节".to_owned())));
}

/// A notice published after the build replaces the built-in year.
#[test]
fn a_newer_notice_replaces_the_built_in_year() {
    let notice = r#"{"year": 2027, "papers": ["https://www.gov.cn/example"], "days": [
        {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
        {"name": "春节", "date": "2027-02-09", "isOffDay": true},
        {"name": "春节", "date": "2027-02-14", "isOffDay": false}
    ]}"#;
    let cal = Calendar::china_with(&[notice]).unwrap();
    assert_eq!(cal.year_status(2027), YearStatus::Official);
    assert_eq!(cal.papers(2027), ["https://www.gov.cn/example"]);
    assert_eq!(cal.day_kind(d(2027, 2, 14)), makeup("春节"));
    assert_eq!(cal.day_kind(d(2027, 2, 9)), holiday("春节"));
    // Only what the notice lists: no computed days for a published year.
    assert_eq!(cal.day_kind(d(2027, 2, 8)), DayKind::Workday);
    assert!(
        !cal.add_workdays(d(2027, 3, 5), 1, Counting::Exclusive)
            .provisional
    );
    // The next year is still computed; the built-in years are kept.
    assert_eq!(cal.year_status(2028), YearStatus::Provisional);
    assert_eq!(cal.day_kind(d(2026, 10, 5)), holiday("国庆节"));
    assert!(matches!(
        Calendar::china_with(&[notice, notice]),
        Err(CalendarError::DuplicateYear { year: 2027 })
    ));
    assert!(matches!(
        Calendar::china_with(&["{"]),
        Err(CalendarError::Json { index: 0, .. })
    ));
}

#[test]
fn next_workday_exclusive_over_2025_and_2026() {
    let cn = cn();
    for date in days_of(d(2025, 1, 1), d(2026, 12, 31)) {
        let result = cn.add_workdays(date, 1, Counting::Exclusive);
        assert!(result.date > date, "{date}");
        assert!(cn.is_workday(result.date), "{date} -> {}", result.date);
        for between in days_of(date.succ_opt().expect("in range"), result.date)
            .filter(|day| *day < result.date)
        {
            assert!(
                !cn.is_workday(between),
                "{date} -> {}: {between}",
                result.date
            );
        }
        assert_eq!(result.provisional, result.date.year() == 2027, "{date}");
        // Going back one working day from the result lands on or before `date`.
        let back = cn.sub_workdays(result.date, 1, Counting::Exclusive).date;
        assert!(back <= date, "{date}");
    }
}

#[test]
fn search_agrees_with_linear_walk() {
    let cn = cn().with_override(d(2025, 3, 3), holiday("本地"));
    for origin in [
        d(2024, 12, 30),
        d(2025, 9, 28),
        d(2026, 2, 14),
        d(2026, 10, 3),
        d(2026, 12, 31),
    ] {
        for n in (1..=400).step_by(7).chain([LINEAR_MAX, LINEAR_MAX + 1]) {
            for direction in [Direction::Forward, Direction::Backward] {
                assert_eq!(
                    cn.nth_workday_linear(origin, n, direction),
                    cn.nth_workday_search(origin, n, direction),
                    "{origin} {n} {direction:?}"
                );
            }
        }
    }
}

#[test]
fn large_counts_are_exact() {
    let cn = cn();
    let start = d(2007, 1, 4);
    let result = cn.add_workdays(start, 100_000, Counting::Inclusive);
    assert!(result.provisional);
    assert_eq!(cn.workdays_between(start, result.date).count, 100_000);
    assert!(cn.is_workday(result.date));
    let back = cn.sub_workdays(result.date, 100_000, Counting::Inclusive);
    assert_eq!(back.date, start);

    // 2007..=2026 all published: 20 years of working days, not provisional.
    let total = cn.workdays_between(d(2007, 1, 1), d(2026, 12, 31)).count;
    let last = cn.add_workdays(d(2007, 1, 1), total, Counting::Inclusive);
    assert_eq!(
        last,
        WorkdayResult {
            date: d(2026, 12, 31),
            provisional: false
        }
    );
}

#[test]
fn saturates_at_chrono_limits() {
    let cn = cn();
    let huge = cn.add_workdays(d(2026, 1, 1), u32::MAX, Counting::Exclusive);
    assert_eq!(
        huge,
        WorkdayResult {
            date: NaiveDate::MAX,
            provisional: true
        }
    );
    let huge_back = cn.sub_workdays(d(2026, 1, 1), u32::MAX, Counting::Inclusive);
    assert_eq!(huge_back.date, NaiveDate::MIN);
    assert!(huge_back.provisional);

    for counting in [Counting::Inclusive, Counting::Exclusive] {
        for n in [1, 2, 300, u32::MAX] {
            let forward = cn.add_workdays(NaiveDate::MAX, n, counting);
            assert!(forward.provisional);
            let backward = cn.sub_workdays(NaiveDate::MIN, n, counting);
            assert!(backward.provisional);
            let _ = cn.add_workdays(NaiveDate::MIN, n, counting);
            let _ = cn.sub_workdays(NaiveDate::MAX, n, counting);
        }
    }
    let all = cn.workdays_between(NaiveDate::MIN, NaiveDate::MAX);
    assert!(all.provisional);
    assert!(all.count > 60_000_000);
    let _ = cn.next_workday_on_or_after(NaiveDate::MAX);
    let _ = cn.day_kind(NaiveDate::MIN);
}

#[test]
fn overrides() {
    let cn = cn();
    let local = cn
        .with_override(d(2026, 3, 9), holiday("本地放假"))
        .with_override(d(2026, 3, 14), makeup("本地调休"));
    assert_eq!(local.name(), "cn");
    assert_eq!(local.day_kind(d(2026, 3, 9)), holiday("本地放假"));
    assert!(!local.is_workday(d(2026, 3, 9)));
    assert!(local.is_workday(d(2026, 3, 14)));
    // Fri 03-06 -> skip Sat, Sun and the local day off -> Tue 03-10.
    assert_eq!(
        local
            .add_workdays(d(2026, 3, 6), 1, Counting::Exclusive)
            .date,
        d(2026, 3, 10)
    );
    // Mon 03-09 .. Sun 03-15: 4 weekdays + the extra Saturday.
    assert_eq!(
        local.workdays_between(d(2026, 3, 9), d(2026, 3, 15)).count,
        5
    );
    // The built-in calendar is unchanged.
    assert!(cn.is_workday(d(2026, 3, 9)));
    // Overriding a holiday back to a working day.
    let open = cn.with_override(d(2026, 10, 8), DayKind::Workday);
    assert!(open.is_workday(d(2026, 10, 8)));
    assert_eq!(
        open.add_workdays(d(2026, 10, 1), 1, Counting::Inclusive)
            .date,
        d(2026, 10, 8)
    );
}

#[test]
fn civil_code_months_and_years() {
    assert_eq!(add_months(d(2026, 1, 31), 1), d(2026, 2, 28));
    assert_eq!(add_months(d(2024, 1, 31), 1), d(2024, 2, 29));
    assert_eq!(add_months(d(2026, 3, 2), 1), d(2026, 4, 2));
    assert_eq!(add_months(d(2026, 1, 31), 3), d(2026, 4, 30));
    assert_eq!(add_months(d(2026, 3, 31), -1), d(2026, 2, 28));
    assert_eq!(add_months(d(2026, 3, 31), 0), d(2026, 3, 31));
    assert_eq!(add_months(d(2026, 11, 30), 3), d(2027, 2, 28));
    assert_eq!(add_years(d(2024, 2, 29), 1), d(2025, 2, 28));
    assert_eq!(add_years(d(2024, 2, 29), 4), d(2028, 2, 29));
    assert_eq!(add_years(d(2026, 6, 15), -3), d(2023, 6, 15));
    // Saturation.
    assert_eq!(add_months(d(2026, 1, 1), i32::MAX), NaiveDate::MAX);
    assert_eq!(add_months(d(2026, 1, 1), i32::MIN), NaiveDate::MIN);
    assert_eq!(add_years(d(2026, 1, 1), i32::MAX), NaiveDate::MAX);
    assert_eq!(add_years(d(2026, 1, 1), i32::MIN), NaiveDate::MIN);
    assert_eq!(add_months(NaiveDate::MAX, 1), NaiveDate::MAX);
    assert_eq!(add_months(NaiveDate::MIN, -1), NaiveDate::MIN);
}

#[test]
fn from_json_years_and_errors() {
    let file = r#"{"year": 2030, "papers": ["https://example.org/notice"], "days": [
        {"name": "元旦", "date": "2029-12-29", "isOffDay": false},
        {"name": "元旦", "date": "2030-01-01", "isOffDay": true}
    ]}"#;
    let empty = r#"{"year": 2031, "papers": [], "days": []}"#;
    let calendar = Calendar::from_json_years("test", &[file, empty]).expect("valid files");
    assert_eq!(calendar.name(), "test");
    assert!(calendar.is_published(2030));
    assert!(!calendar.is_published(2029));
    assert!(!calendar.is_published(2031));
    assert_eq!(calendar.papers(2030), ["https://example.org/notice"]);
    assert_eq!(calendar.day_kind(d(2029, 12, 29)), makeup("元旦"));
    assert_eq!(calendar.day_kind(d(2030, 1, 1)), holiday("元旦"));

    let error = Calendar::from_json_years("test", &[file, file]).unwrap_err();
    assert!(matches!(error, CalendarError::DuplicateYear { year: 2030 }));
    assert_eq!(
        error.to_string(),
        "year 2030 is given by more than one holiday file"
    );

    let error = Calendar::from_json_years("test", &[empty, "{"]).unwrap_err();
    assert!(matches!(error, CalendarError::Json { index: 1, .. }));
    assert!(error.to_string().starts_with("holiday file #1 "));

    let missing_days = r#"{"year": 2030, "papers": []}"#;
    assert!(matches!(
        Calendar::from_json_years("test", &[missing_days]),
        Err(CalendarError::Json { index: 0, .. })
    ));

    for bad in [
        "2030-1-01",
        "2030-02-30",
        "30-01-01",
        "2030/01/01",
        "+030-01-01",
    ] {
        let text = format!(
            r#"{{"year": 2030, "papers": [], "days": [{{"name": "x", "date": "{bad}", "isOffDay": true}}]}}"#
        );
        let error = Calendar::from_json_years("test", &[&text]).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid date `{bad}` in the holiday file for 2030 (expected YYYY-MM-DD)")
        );
    }

    let far = r#"{"year": 2030, "papers": [], "days": [
        {"name": "x", "date": "2032-01-01", "isOffDay": true}]}"#;
    let error = Calendar::from_json_years("test", &[far]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "date 2032-01-01 does not belong in the holiday file for 2030"
    );

    let next = r#"{"year": 2030, "papers": [], "days": [
        {"name": "元旦", "date": "2029-12-29", "isOffDay": true}]}"#;
    let error = Calendar::from_json_years("test", &[file, next]).unwrap_err();
    assert!(matches!(error, CalendarError::DuplicateYear { .. }));
    let other = next.replace("\"year\": 2030", "\"year\": 2029");
    let error = Calendar::from_json_years("test", &[file, &other]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "date 2029-12-29 is listed both as a day off and as a working day"
    );
}

#[test]
fn serde_forms() {
    assert_eq!(
        serde_json::to_value(holiday("国庆节")).expect("serializes"),
        serde_json::json!({"kind": "holiday", "name": "国庆节"})
    );
    assert_eq!(
        serde_json::to_value(makeup("春节")).expect("serializes"),
        serde_json::json!({"kind": "makeup_workday", "name": "春节"})
    );
    assert_eq!(
        serde_json::to_value(DayKind::Weekend).expect("serializes"),
        serde_json::json!({"kind": "weekend"})
    );
    assert_eq!(
        serde_json::to_value(Counting::Inclusive).expect("serializes"),
        serde_json::json!("inclusive")
    );
    assert_eq!(
        serde_json::from_str::<Counting>("\"exclusive\"").expect("deserializes"),
        Counting::Exclusive
    );
    assert!(serde_json::from_str::<Counting>("\"Exclusive\"").is_err());
    assert_eq!(
        serde_json::to_value(WorkdayResult {
            date: d(2026, 10, 8),
            provisional: false
        })
        .expect("serializes"),
        serde_json::json!({"date": "2026-10-08", "provisional": false})
    );
}
