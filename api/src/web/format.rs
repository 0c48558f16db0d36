//! Dates and deadlines as the pages show them: `2026年4月2日`,
//! `还剩 3 天`, `今天到期`, `已逾期 2 天`.

use chrono::{Datelike, NaiveDate};

/// `2026年4月2日`.
pub fn date_zh(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// How a deadline stands today, and whether it is missed.
pub fn due_in_words(due: NaiveDate, today: NaiveDate) -> (String, bool) {
    let days = (due - today).num_days();
    match days {
        d if d > 0 => (format!("还剩 {d} 天"), false),
        0 => ("今天到期".to_string(), false),
        d => (format!("已逾期 {} 天", -d), true),
    }
}

/// An instant in Beijing time: `2026年3月2日 09:00`.
pub fn datetime_zh(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string()
}

/// What the 暂算 mark next to a deadline means (its tooltip).
pub const PROVISIONAL_TITLE: &str = "该期限跨入放假调休通知尚未发布的年份：已按《全国年节及纪念日放假办法》扣除法定节日，调休上班日未知，通知发布后可能变动";

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn dates_read_as_chinese_dates() {
        assert_eq!(date_zh(d("2026-04-02")), "2026年4月2日");
        assert_eq!(date_zh(d("2026-12-31")), "2026年12月31日");
    }

    #[test]
    fn deadlines_say_how_long_is_left_or_how_late() {
        let today = d("2026-03-30");
        assert_eq!(
            due_in_words(d("2026-04-02"), today),
            ("还剩 3 天".into(), false)
        );
        assert_eq!(
            due_in_words(d("2026-03-30"), today),
            ("今天到期".into(), false)
        );
        assert_eq!(
            due_in_words(d("2026-03-28"), today),
            ("已逾期 2 天".into(), true)
        );
    }
}
