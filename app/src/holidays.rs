//! Holiday notices a deployment adds at run time.
//!
//! The built-in calendar knows the notices published before the build. The
//! State Council publishes next year's 放假调休 notice in the autumn; until
//! a new build ships it, an operator drops the year's file (holiday-cn JSON,
//! as in `engine/data/holiday-cn/`) into a directory that `serve` (and the
//! `calendar` and `simulate` commands) read with `--holidays DIR`. A file
//! replaces the built-in file of its year. See `docs/calendar.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stageflow_engine::calendar::Calendar;

/// The largest holiday file read (a year's notice is a few kilobytes).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The calendar with a directory's notices, and which file gave which year.
#[derive(Debug, Clone)]
pub struct HolidayData {
    /// The built-in calendar with the directory's files.
    pub calendar: Arc<Calendar>,
    /// The files read, with the year each gives, by year.
    pub files: Vec<(i32, PathBuf)>,
}

/// A holiday directory that cannot be used: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct HolidayError {
    /// The directory or file.
    pub path: String,
    /// What is wrong, in Chinese.
    pub message: String,
}

/// Reads every `*.json` file of `dir` as a year of notices on top of the
/// built-in calendar. Nothing is half-loaded: one bad file fails the whole
/// directory, naming the file.
///
/// # Errors
///
/// The directory cannot be read, a file is not a holiday-cn year file, two
/// files give the same year, or a date is listed both as a day off and as a
/// working day.
pub fn load_dir(dir: &Path) -> Result<HolidayData, HolidayError> {
    let fail = |path: &Path, message: String| HolidayError {
        path: path.display().to_string(),
        message,
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| fail(dir, format!("无法读取放假安排目录：{e}")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut texts = Vec::with_capacity(paths.len());
    let mut files: Vec<(i32, PathBuf)> = Vec::with_capacity(paths.len());
    for path in &paths {
        // A regular file of sane size: a FIFO or /dev/zero behind a name
        // would hang the start, a huge file would fill memory.
        let meta = std::fs::metadata(path).map_err(|e| fail(path, format!("无法读取文件：{e}")))?;
        if !meta.is_file() {
            return Err(fail(path, "不是普通文件".into()));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(fail(
                path,
                format!(
                    "文件过大（{} 字节，至多 {MAX_FILE_BYTES} 字节）",
                    meta.len()
                ),
            ));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(path, format!("无法读取文件：{e}")))?;
        // Each file alone first, so an error names its file.
        let alone = Calendar::from_json_years("check", &[text.as_str()])
            .map_err(|e| fail(path, explain(&e)))?;
        let year = alone.published_years().next().or_else(|| year_of(&text));
        let Some(year) = year else {
            return Err(fail(path, "文件缺少 `year`".into()));
        };
        if !(1949..=2200).contains(&year) {
            return Err(fail(path, format!("年份 {year} 超出范围（1949–2200）")));
        }
        // `2028.json` must be the year 2028.
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            && let Ok(named) = stem.parse::<i32>()
            && named != year
        {
            return Err(fail(
                path,
                format!("文件名是 {named} 年，内容的 `year` 却是 {year}"),
            ));
        }
        if let Some((_, first)) = files.iter().find(|(y, _)| *y == year) {
            return Err(fail(
                path,
                format!("{year} 年已由 {} 给出，每年只能有一个文件", first.display()),
            ));
        }
        files.push((year, path.clone()));
        texts.push(text);
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let calendar = Calendar::china_with(&refs).map_err(|e| fail(dir, explain(&e)))?;
    files.sort();
    Ok(HolidayData {
        calendar: Arc::new(calendar),
        files,
    })
}

/// The built-in calendar, or the built-in one with `dir`'s notices.
///
/// # Errors
///
/// As [`load_dir`].
pub fn calendar(dir: Option<&Path>) -> Result<HolidayData, HolidayError> {
    match dir {
        Some(dir) => load_dir(dir),
        None => Ok(HolidayData {
            calendar: stageflow_runtime::built_in_calendar(),
            files: Vec::new(),
        }),
    }
}

fn year_of(text: &str) -> Option<i32> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("year")?
        .as_i64()
        .and_then(|y| i32::try_from(y).ok())
}

/// A calendar error in Chinese, with what to write instead.
fn explain(e: &stageflow_engine::calendar::CalendarError) -> String {
    use stageflow_engine::calendar::CalendarError as E;
    match e {
        E::Json { source, .. } => format!(
            "不是 holiday-cn 格式的年度文件（{source}）；应为 {{\"year\": 2027, \"papers\": [\"通知网址\"], \"days\": [{{\"name\": \"元旦\", \"date\": \"2027-01-01\", \"isOffDay\": true}}]}}"
        ),
        E::DuplicateYear { year } => format!("{year} 年由多个文件给出"),
        E::InvalidDate { value, .. } => format!("日期「{value}」无效，应写作 YYYY-MM-DD"),
        E::DateOutsideYear { year, date } => {
            format!("日期 {date} 不属于 {year} 年的放假安排（只能是该年或相邻年份的日期）")
        }
        E::ConflictingDate { date } => format!("{date} 既列为放假又列为上班"),
    }
}
