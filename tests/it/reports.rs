//! Organizer views: the 督办台账 (JSON, CSV, XLSX), the admission pipeline,
//! campaign progress and calendar feeds.

use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::server::Server;

async fn hand_in_application(s: &mut Server) {
    let task = s.inbox("applicant-1").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = s.token("applicant-1").await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"scan".to_vec()).file_name("a.pdf"),
    );
    let file = s
        .raw(
            s.client
                .post(format!("{}/api/v1/tasks/{task}/files", s.base))
                .bearer_auth(t)
                .multipart(form),
        )
        .await
        .body["id"]
        .clone();
    let r = s.post("applicant-1", &format!("/api/v1/tasks/{task}/actions"), json!({ "action": "complete", "form": { "applied_on": "2026-03-02", "application_letter": file } })).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overdue_list_in_json_csv_and_xlsx() {
    let mut s = Server::start(Server::t0()).await;
    hand_in_application(&mut s).await;
    // The talk was due 2026-04-02; on 04-10 it is 8 days overdue and was escalated once.
    s.set_clock(Utc.with_ymd_and_hms(2026, 4, 10, 1, 0, 0).unwrap())
        .await;
    let r = s
        .get("jiguan-secretary", "/api/v1/reports/overdue?org=jiguan")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let talk = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["step"] == "2. 党组织派人谈话")
        .expect("the talk is overdue")
        .clone();
    assert_eq!(talk["organization"], "机关第一党支部");
    assert_eq!(talk["assignee_id"], "zb1-secretary");
    assert_eq!(talk["due"], "2026-04-02");
    assert_eq!(talk["days_overdue"], 8);
    assert_eq!(talk["escalations"], 1);
    let t = s.token("jiguan-secretary").await;
    let resp = s
        .client
        .get(format!(
            "{}/api/v1/reports/overdue?org=jiguan&format=csv",
            s.base
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.unwrap();
    assert!(
        csv.starts_with("\u{feff}事项,环节,对象,组织,承办人,期限,逾期天数,督办次数,任务编号\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("发展党员,2. 党组织派人谈话,徐娟,机关第一党支部,"),
        "{csv}"
    );
    assert!(csv.contains(",2026-04-02,8,1,"), "{csv}");
    let resp = s
        .client
        .get(format!(
            "{}/api/v1/reports/overdue?org=jiguan&format=xlsx",
            s.base
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = resp.bytes().await.unwrap();
    let sheet = xlsx_sheet(&bytes, "督办台账");
    assert_eq!(
        sheet[0],
        [
            "事项",
            "环节",
            "对象",
            "组织",
            "承办人",
            "期限",
            "逾期天数",
            "督办次数",
            "任务编号"
        ]
    );
    let row = sheet
        .iter()
        .find(|r| r[1] == "2. 党组织派人谈话")
        .unwrap_or_else(|| panic!("{sheet:?}"));
    assert_eq!(
        row[2..8],
        ["徐娟", "机关第一党支部", "赵芳", "2026-04-02", "8", "1"]
    );
    // Every pending task of the subtree, not only the overdue ones: a
    // sheet of its own name, the overdue talk among them.
    let all = s
        .get(
            "jiguan-secretary",
            "/api/v1/reports/overdue?org=jiguan&all=true",
        )
        .await
        .body;
    let all = all.as_array().unwrap();
    assert!(all.len() > r.body.as_array().unwrap().len(), "{all:?}");
    assert!(all.iter().any(|row| row["days_overdue"] == 0), "{all:?}");
    let resp = s
        .client
        .get(format!(
            "{}/api/v1/reports/overdue?org=jiguan&all=true&format=xlsx",
            s.base
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let sheet = xlsx_sheet(&resp.bytes().await.unwrap(), "全部待办");
    assert_eq!(sheet.len(), all.len() + 1, "{sheet:?}");
    // Only for those who manage the subtree; to others it answers as
    // missing.
    assert_eq!(
        s.get("zb2-secretary", "/api/v1/reports/overdue?org=zb1")
            .await
            .status,
        404
    );
    assert_eq!(
        s.get(
            "zb1-secretary",
            "/api/v1/reports/overdue?org=zb1&format=pdf"
        )
        .await
        .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_progress_and_calendars() {
    let mut s = Server::start(Server::t0()).await;
    hand_in_application(&mut s).await;
    let r = s
        .get("jiguan-secretary", "/api/v1/reports/pipeline?org=jiguan")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let zb1 = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["org"] == "zb1")
        .unwrap()
        .clone();
    assert_eq!(zb1["people"]["正式党员"], 7);
    assert_eq!(zb1["people"]["预备党员"], 1);
    assert_eq!(zb1["people"]["申请人"], 1);
    assert_eq!(zb1["admissions"]["申请入党"], 1);
    // The campaign's deliverables, per branch.
    let campaign = s
        .inbox("zb1-secretary")
        .await
        .into_iter()
        .find(|t| t["workflow"] == "campaign-chuangxian-zhengyou");
    let instance = match campaign {
        Some(t) => t["instance"].as_str().unwrap().to_string(),
        None => {
            let mine = s.inbox("jiguan-secretary").await;
            mine.iter()
                .find(|t| t["workflow"] == "campaign-chuangxian-zhengyou")
                .expect("the campaign runs")["instance"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let r = s
        .get(
            "jiguan-secretary",
            &format!("/api/v1/reports/progress/{instance}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!([]), "nothing fanned out yet");
    // The 机关党委 sets up the campaign; then the deliverables fan out.
    for _ in 0..5 {
        for task in s.inbox("jiguan-secretary").await {
            if task["workflow"] == "campaign-chuangxian-zhengyou" && task["earliest"].is_null() {
                crate::api::act_on(
                    &mut s,
                    "jiguan-secretary",
                    &task,
                    crate::api::local_today(Server::t0()),
                )
                .await;
            }
        }
    }
    let r = s
        .get(
            "jiguan-secretary",
            &format!("/api/v1/reports/progress/{instance}"),
        )
        .await;
    let rows = r.body.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["机关第一党支部", "机关第二党支部", "机关第三党支部"],
        "{}",
        r.body
    );
    assert!(
        rows.iter()
            .all(|x| x["pending"].as_u64().unwrap() >= 1 && x["overdue"] == 0),
        "{}",
        r.body
    );
    // A branch that misses its deliverable's deadline moves to the top.
    s.set_clock(Utc.with_ymd_and_hms(2026, 6, 1, 1, 0, 0).unwrap())
        .await;
    let r = s
        .get(
            "jiguan-secretary",
            &format!("/api/v1/reports/progress/{instance}"),
        )
        .await;
    assert!(r.body[0]["overdue"].as_u64().unwrap() >= 1, "{}", r.body);
    // Calendar feeds: the secretary's deadline as an all-day event.
    let t = s.token("zb1-secretary").await;
    let resp = s
        .client
        .get(format!(
            "{}/api/v1/calendar/people/zb1-secretary.ics",
            s.base
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = resp.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(
        ics.contains("SUMMARY:【期限】2. 党组织派人谈话\r\n"),
        "{ics}"
    );
    assert!(ics.contains("DTSTART;VALUE=DATE:20260402\r\n"), "{ics}");
    let resp = s
        .client
        .get(format!("{}/api/v1/calendar/orgs/zb1.ics", s.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("X-WR-CALNAME:机关第一党支部")
    );
    assert_eq!(
        s.get("zb1-member-1", "/api/v1/calendar/people/zb1-secretary.ics")
            .await
            .status,
        404
    );
}

/// A workbook's sheet as text cells, read with calamine (numbers as their
/// integer text).
fn xlsx_sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("an xlsx workbook");
    assert_eq!(book.sheet_names(), [name]);
    let range = book.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}
