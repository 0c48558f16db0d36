//! Cron schedules through the API with the manual clock: preview, firing
//! across a month boundary in Asia/Shanghai, pause / resume / trigger,
//! overlap and catch-up.

use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::server::Server;

async fn publish(s: &mut Server, file: &str) {
    let yaml =
        std::fs::read_to_string(crate::root().join("tests/fixtures/good").join(file)).unwrap();
    let r = s
        .raw(
            s.client
                .post(format!("{}/api/v1/definitions?filename={file}", s.base))
                .bearer_auth(crate::server::ADMIN)
                .body(yaml),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn instances_of(s: &Server, workflow: &str) -> usize {
    let mut n = 0;
    for org in ["zb1", "zb2", "zb3"] {
        n += s
            .store
            .running_orgs(workflow)
            .await
            .unwrap()
            .iter()
            .filter(|o| *o == org)
            .count();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_yearly_appraisal_schedule_is_listed_and_previewed() {
    let mut s = Server::start(Server::t0()).await;
    let r = s.get("admin", "/api/v1/schedules").await;
    assert_eq!(r.status, 200);
    let yearly = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "democratic-appraisal:yearly")
        .expect("registered at publish")
        .clone();
    assert_eq!(
        yearly["next_fire_at"], "2026-12-01T01:00:00Z",
        "09:00 on 1 December, Beijing time"
    );
    let r = s
        .get(
            "admin",
            "/api/v1/schedules/democratic-appraisal:yearly/preview?n=3",
        )
        .await;
    assert_eq!(
        r.body["next"],
        json!([
            "2026-12-01T09:00:00+08:00",
            "2027-12-01T09:00:00+08:00",
            "2028-12-01T09:00:00+08:00"
        ])
    );
    // A whole-tree schedule is the admin's; an organizer of one branch neither sees nor steers it.
    assert_eq!(
        s.get("zb1-secretary", "/api/v1/schedules").await.body,
        json!([])
    );
    assert_eq!(
        s.post(
            "zb1-secretary",
            "/api/v1/schedules/democratic-appraisal:yearly/trigger",
            json!({})
        )
        .await
        .status,
        404
    );
    // Triggered now: every 党支部 but zb2, whose appraisal still runs (overlap: skip).
    let r = s
        .post(
            "admin",
            "/api/v1/schedules/democratic-appraisal:yearly/trigger",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["started"].as_u64(), r.body["skipped"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(instances_of(&s, "democratic-appraisal").await, 3);
    assert!(
        s.inbox("zb1-secretary")
            .await
            .iter()
            .any(|t| t["workflow"] == "democratic-appraisal")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_schedule_fires_at_midnight_beijing_time_across_the_month_boundary() {
    let mut s = Server::start(Server::t0()).await;
    publish(&mut s, "monthly-report.yaml").await;
    let r = s
        .get(
            "jiguan-secretary",
            "/api/v1/schedules/monthly-report:monthly",
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the 机关党委 manages a schedule under it: {}",
        r.body
    );
    // 2026-04-01 00:00 in Beijing is 2026-03-31 16:00 UTC.
    assert_eq!(r.body["next_fire_at"], "2026-03-31T16:00:00Z");
    s.set_clock(Utc.with_ymd_and_hms(2026, 3, 31, 15, 59, 0).unwrap())
        .await;
    assert_eq!(
        instances_of(&s, "monthly-report").await,
        0,
        "not a minute early"
    );
    s.set_clock(Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap())
        .await;
    assert_eq!(
        instances_of(&s, "monthly-report").await,
        3,
        "one per 党支部 under the 机关党委"
    );
    let task = s
        .inbox("zb1-secretary")
        .await
        .into_iter()
        .find(|t| t["workflow"] == "monthly-report")
        .unwrap();
    assert_eq!(
        task["due"], "2026-04-27",
        "25 days after 04-01 is Sun 04-26, moved to Monday (民法典 第203条)"
    );
    let r = s
        .get(
            "jiguan-secretary",
            "/api/v1/schedules/monthly-report:monthly",
        )
        .await;
    assert_eq!(r.body["next_fire_at"], "2026-04-30T16:00:00Z");
    assert_eq!(r.body["runs"][0]["started"], 3);

    // Paused: nothing fires; resumed: what was missed while paused is not fired.
    let r = s
        .post(
            "jiguan-secretary",
            "/api/v1/schedules/monthly-report:monthly/pause",
            json!({ "note": "换届期间暂停" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pause_note"], "换届期间暂停");
    s.set_clock(Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).unwrap())
        .await;
    let r = s
        .get(
            "jiguan-secretary",
            "/api/v1/schedules/monthly-report:monthly",
        )
        .await;
    assert_eq!(
        r.body["runs"].as_array().unwrap().len(),
        1,
        "a paused schedule does not fire"
    );
    let r = s
        .post(
            "jiguan-secretary",
            "/api/v1/schedules/monthly-report:monthly/resume",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["next_fire_at"], "2026-05-31T16:00:00Z");
    assert_eq!(r.body["runs"].as_array().unwrap().len(), 1);

    // Downtime of three months: catch-up `last` fires the last missed run once.
    s.set_clock(Utc.with_ymd_and_hms(2026, 8, 15, 0, 0, 0).unwrap())
        .await;
    let r = s
        .get(
            "jiguan-secretary",
            "/api/v1/schedules/monthly-report:monthly",
        )
        .await;
    let runs = r.body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{}", r.body);
    assert_eq!(runs[0]["occurrence"], "2026-07-31T16:00:00Z");
    assert_eq!(r.body["next_fire_at"], "2026-08-31T16:00:00Z");
}
