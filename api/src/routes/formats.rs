//! Reports written in the formats people open them in: the 督办台账 as CSV
//! (UTF-8 with a BOM, so spreadsheet programs read the Chinese) and XLSX,
//! deadlines as an iCalendar feed.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use stageflow_app::reports::{Feed, OverdueRow};

use crate::error::{ApiError, ApiResult};

const OVERDUE_HEADER: [&str; 9] = [
    "事项",
    "环节",
    "对象",
    "组织",
    "承办人",
    "期限",
    "逾期天数",
    "督办次数",
    "任务编号",
];

fn overdue_cells(r: &OverdueRow) -> [String; 9] {
    [
        r.workflow.clone(),
        r.step.clone(),
        r.subject.clone(),
        r.organization.clone(),
        r.assignee.clone(),
        r.due.clone(),
        r.days_overdue.to_string(),
        r.escalations.to_string(),
        r.task.to_string(),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The 督办台账 as CSV.
pub fn overdue_csv(rows: &[OverdueRow]) -> Response {
    let mut text = String::from("\u{feff}");
    text.push_str(&OVERDUE_HEADER.join(","));
    text.push_str("\r\n");
    for r in rows {
        text.push_str(
            &overdue_cells(r)
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"overdue.csv\"".to_string(),
            ),
        ],
        text,
    )
        .into_response()
}

/// The 督办台账 as an Excel workbook.
pub fn overdue_xlsx(rows: &[OverdueRow], title: &str) -> ApiResult<Response> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let xerr = |e: rust_xlsxwriter::XlsxError| ApiError::internal(e.to_string());
    sheet.set_name(title).map_err(xerr)?;
    for (c, h) in OVERDUE_HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(xerr)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in overdue_cells(r).iter().enumerate() {
            // 逾期天数 and 督办次数 are numbers a spreadsheet can sum.
            if c == 6 || c == 7 {
                sheet
                    .write_number(row, c as u16, v.parse::<f64>().unwrap_or(0.0))
                    .map_err(xerr)?;
            } else {
                sheet.write_string(row, c as u16, v).map_err(xerr)?;
            }
        }
    }
    let bytes = book.save_to_buffer().map_err(xerr)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"overdue.xlsx\"".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Deadlines as an iCalendar feed.
pub fn ics(feed: &Feed, now: DateTime<Utc>) -> Response {
    let mut text = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//stageflow//CN\r\nCALSCALE:GREGORIAN\r\n",
    );
    text.push_str(&format!(
        "X-WR-CALNAME:{}\r\nX-WR-TIMEZONE:Asia/Shanghai\r\n",
        escape(&feed.name)
    ));
    for d in &feed.deadlines {
        text.push_str("BEGIN:VEVENT\r\n");
        text.push_str(&format!("UID:{}@stageflow\r\n", d.task));
        text.push_str(&format!("DTSTAMP:{}\r\n", now.format("%Y%m%dT%H%M%SZ")));
        text.push_str(&format!(
            "DTSTART;VALUE=DATE:{}\r\n",
            d.date.format("%Y%m%d")
        ));
        text.push_str(&format!("SUMMARY:{}\r\n", escape(&d.summary)));
        text.push_str(&format!("DESCRIPTION:{}\r\n", escape(&d.description)));
        text.push_str("END:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        text,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}
