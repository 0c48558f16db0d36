//! The web pages over plain HTTP: the session cookie's flags, CSRF, and a
//! stale page (someone acted first) answered with the fresh state and a
//! message instead of an error page.

use crate::server::Server;

/// Signs in through the form; returns the session cookie (`sf_session=…`).
pub(crate) async fn sign_in(s: &Server, token: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&next=%2Finbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/inbox");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

/// A page as the signed-in browser gets it: status and HTML.
pub(crate) async fn page(s: &Server, cookie: &str, path: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", s.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) fn field<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in the page"));
    let rest = &html[at + name.len() + 15..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_csrf_token_and_a_stale_page_is_told_what_happened() {
    let mut s = Server::start(Server::t0()).await;
    let token = s.token("applicant-1").await;
    let cookie = sign_in(&s, &token).await;
    let client = reqwest::Client::new();
    let inbox = s.get("applicant-1", "/api/v1/tasks").await.body;
    let task = inbox["tasks"][0]["id"].as_str().unwrap().to_string();
    let (_, html) = page(&s, &cookie, &format!("/tasks/{task}")).await;
    let csrf = field(&html, "csrf").to_string();
    let form = |csrf: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.to_string())
            .text("f.applied_on", "2026-03-02")
            .part(
                "file.application_letter",
                reqwest::multipart::Part::bytes(b"%PDF scan".to_vec()).file_name("申请书.pdf"),
            )
            .text("do", "complete:done")
    };
    // A form from elsewhere (no valid CSRF token) changes nothing.
    let r = client
        .post(format!("{}/tasks/{task}", s.base))
        .header("cookie", &cookie)
        .multipart(form("forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("安全校验未通过"));
    let still = s.get("applicant-1", &format!("/api/v1/tasks/{task}")).await;
    assert_eq!(still.body["status"], "pending");
    // The real form works once …
    let r = client
        .post(format!("{}/tasks/{task}", s.base))
        .header("cookie", &cookie)
        .multipart(form(&csrf))
        .send()
        .await
        .unwrap();
    assert!(r.url().path().starts_with("/done"), "{}", r.url());
    // … and the same page sent again is told it is stale, with the fresh state.
    let r = client
        .post(format!("{}/tasks/{task}", s.base))
        .header("cookie", &cookie)
        .multipart(form(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("已由他人办理或流程已推进"), "{html}");
    assert!(html.contains("已办理"), "the fresh state shows");
    // One decision in the history, not two.
    let instance = still.body["instance"].as_str().unwrap().to_string();
    let history = s
        .get("admin", &format!("/api/v1/instances/{instance}/history"))
        .await
        .body;
    let decisions = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "task_completed" && e["data"]["task"] == task.as_str())
        .count();
    assert_eq!(decisions, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secretary_transfers_and_copies_a_task_from_the_page() {
    let mut s = Server::start(Server::t0()).await;
    // The applicant hands in the application (through the API).
    crate::api::hand_in(&mut s).await;
    let talk = s.get("zb1-secretary", "/api/v1/tasks").await.body["tasks"][0].clone();
    assert_eq!(talk["step"], "talk");
    let talk_id = talk["id"].as_str().unwrap().to_string();
    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let client = reqwest::Client::new();
    let (_, html) = page(&s, &cookie, &format!("/tasks/{talk_id}")).await;
    // The 谈话人 field and the 转办 list offer the branch's people by name.
    assert!(
        html.contains(r#"<select id="f-talker" name="f.talker" required>"#),
        "{html}"
    );
    assert!(html.contains(r#"<option value="zb1-member-1">"#));
    assert!(html.contains("更多操作"));
    let csrf = field(&html, "csrf").to_string();
    let post = |parts: Vec<(&'static str, String)>| {
        let mut form = reqwest::multipart::Form::new().text("csrf", csrf.clone());
        for (k, v) in parts {
            form = form.text(k, v);
        }
        client
            .post(format!("{}/tasks/{talk_id}", s.base))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
    };
    // 抄送 to two members: the page says so and stays.
    let r = post(vec![
        ("people", "zb1-member-1".into()),
        ("people", "zb1-member-2".into()),
        ("do", "cc".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("已抄送"));
    // 转办 to a member: it leaves the secretary's 待办 for theirs.
    let r = post(vec![
        ("to", "zb1-member-1".into()),
        ("comment", "请代为谈话".into()),
        ("do", "transfer".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("已转办"));
    let theirs = s.get("zb1-member-1", "/api/v1/tasks").await.body;
    assert!(
        theirs["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == talk_id.as_str()),
        "{theirs}"
    );
    let mine = s.get("zb1-secretary", "/api/v1/tasks").await.body;
    assert!(
        mine["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != talk_id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overdue_list_page_shows_the_late_talk_and_exports_it() {
    let mut s = Server::start(Server::t0()).await;
    crate::api::hand_in(&mut s).await;
    // The talk was due 2026-04-02; on 04-10 it is 8 days late and the
    // 党委书记 has been told.
    let later = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 4, 10, 2, 0, 0).unwrap();
    assert_eq!(s.set_clock(later).await.status, 200);
    let token = s.token("jiguan-organizer").await;
    let cookie = sign_in(&s, &token).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{}{path}", s.base))
            .header("cookie", &cookie)
            .send()
    };
    let (status, html) = page(&s, &cookie, "/console/overdue?org=jiguan").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>督办台账</h1>"));
    // Most overdue first: the campaign's first step (due 04-01) leads.
    let rows: Vec<&str> = html.split("<tr class=\"overdue\">").skip(1).collect();
    assert!(rows.len() >= 2, "{html}");
    assert!(rows[0].contains("<td>9 天</td>"), "{}", rows[0]);
    let row = rows
        .iter()
        .find(|r| r.contains("党组织派人谈话"))
        .unwrap_or_else(|| panic!("no overdue talk: {html}"));
    assert!(row.contains("2. 党组织派人谈话"), "{row}");
    assert!(row.contains("机关第一党支部"), "{row}");
    assert!(row.contains("2026年4月2日"), "{row}");
    assert!(row.contains("<td>8 天</td>"), "{row}");
    assert!(row.contains("<td>1</td>"), "one 督办 so far: {row}");
    // The export buttons give the same list as CSV and as an Excel workbook.
    let csv = get("/console/overdue/export?org=jiguan&format=csv".into())
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.text().await.unwrap().contains("2. 党组织派人谈话"));
    let xlsx = get("/console/overdue/export?org=jiguan&format=xlsx".into())
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    assert!(
        xlsx.bytes().await.unwrap().starts_with(b"PK"),
        "an .xlsx is a zip"
    );
    // The 支部书记's 待办 filters: only overdue, one workflow.
    let secretary = s.token("zb1-secretary").await;
    let sc = sign_in(&s, &secretary).await;
    let (_, late) = page(&s, &sc, "/inbox?overdue=1").await;
    assert!(late.contains("2. 党组织派人谈话"), "{late}");
    let rows = late.matches("<tr class=").count();
    assert!(rows >= 1);
    assert_eq!(
        rows,
        late.matches("<tr class=\"overdue\">").count(),
        "only overdue rows: {late}"
    );
    assert!(late.contains(r#"name="overdue" value="1" checked"#));
    // Another branch's secretary has the 民主评议 to do (no deadline):
    // listed, but not among the overdue.
    let other = s.token("zb2-secretary").await;
    let oc = sign_in(&s, &other).await;
    let (_, all) = page(&s, &oc, "/inbox").await;
    assert!(all.contains("学习教育和动员部署"), "{all}");
    let (_, late) = page(&s, &oc, "/inbox?overdue=1").await;
    assert!(!late.contains("学习教育和动员部署"), "{late}");
    assert!(late.contains("没有符合条件的待办事项"));
    let (_, one) = page(&s, &oc, "/inbox?workflow=democratic-appraisal").await;
    assert!(one.contains("学习教育和动员部署"), "{one}");
    assert!(one.contains(r#"<option value="democratic-appraisal" selected>"#));
    let (_, none) = page(&s, &oc, "/inbox?workflow=member-admission").await;
    assert!(none.contains("没有符合条件的待办事项"), "{none}");
    assert!(none.contains("清除筛选"));
    // A branch member who organizes nothing may not see it.
    let member = s.token("zb1-member-1").await;
    let cookie = sign_in(&s, &member).await;
    assert_eq!(
        page(&s, &cookie, "/console/overdue?org=jiguan").await.0,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admission_pipeline_page_counts_each_branch() {
    let mut s = Server::start(Server::t0()).await;
    let token = s.token("jiguan-organizer").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, "/console/pipeline?org=jiguan").await;
    assert!(html.contains("<h1>发展党员进度</h1>"), "{html}");
    // The demo's 入党申请人 in the first branch, her admission at its first stage.
    let zb1 = html
        .split("<section class=\"card branch\"")
        .find(|s| s.contains("机关第一党支部"))
        .unwrap_or_else(|| panic!("no first branch: {html}"));
    assert!(zb1.contains("<th scope=\"col\">申请人</th>"), "{zb1}");
    assert!(
        zb1.contains("<th scope=\"row\">申请入党</th><td>1 人</td>"),
        "{zb1}"
    );
    let counts = zb1.split("<tbody><tr>").nth(1).unwrap_or_default();
    assert!(counts.starts_with("<td>1</td>"), "one 申请人: {counts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_page_lists_units_people_and_roles() {
    let mut s = Server::start(Server::t0()).await;
    let token = s.token("jiguan-organizer").await;
    let cookie = sign_in(&s, &token).await;
    let (_, html) = page(&s, &cookie, "/console/orgs?org=jiguan").await;
    assert!(html.contains("<h1>组织和人员</h1>"), "{html}");
    let zb1 = html
        .split("<li class=\"depth-")
        .find(|u| u.contains("<strong>机关第一党支部</strong>"))
        .unwrap_or_else(|| panic!("no first branch: {html}"));
    // Its secretary by name with the role in words; the applicant as 申请人.
    let secretary = s.get("admin", "/api/v1/people/zb1-secretary").await.body;
    let name = secretary["name"].as_str().unwrap();
    let row = zb1
        .split("<tr>")
        .find(|r| r.starts_with(&format!("<td>{name}</td>")))
        .unwrap_or_else(|| panic!("no {name}: {zb1}"));
    assert!(row.contains("书记</td>"), "{row}");
    assert!(zb1.contains("申请人"), "{zb1}");
    // A branch secretary manages only their branch: another answers as
    // missing.
    let token = s.token("zb2-secretary").await;
    let cookie = sign_in(&s, &token).await;
    assert_eq!(page(&s, &cookie, "/console/orgs?org=zb1").await.0, 404);
}

/// The approver's desk §2: a 待办 row names whom the case is about — five
/// applicants are not five identical rows — with their branch; the list
/// is searched by that name (the API's `subject=` and the page's 对象 box);
/// the navigation shows how many tasks wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_rows_name_the_case_and_the_navigation_counts_them() {
    let mut s = Server::start(Server::t0()).await;
    for (id, name) in [("wang-xm", "王小明"), ("li-xh", "李小红")] {
        let r = s
            .post(
                "zb1-organizer",
                "/api/v1/people",
                serde_json::json!({ "id": id, "name": name, "email": format!("{id}@example.org"),
                    "birth_date": "1998-05-01", "memberships": [{ "org": "zb1", "role": "member" }] }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = s
            .post(
                "zb1-organizer",
                "/api/v1/instances",
                serde_json::json!({ "definition": "member-admission", "org": "zb1", "subject": id }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        // The applicant hands in the letter: the 书记's talk task follows.
        let apply = s
            .inbox(id)
            .await
            .into_iter()
            .next()
            .expect("the apply task");
        let file = crate::rules::letter(&mut s, id, &apply).await;
        let form = serde_json::json!({ "applied_on": "2026-03-01", "application_letter": file });
        let r = crate::rules::complete(&mut s, id, &apply, form).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let all = s.get("zb1-secretary", "/api/v1/tasks?limit=500").await.body;
    let rows = all["tasks"].as_array().unwrap();
    let named = |who: &str| {
        rows.iter()
            .filter(|t| t["subject"]["name"] == who && t["step"] == "talk")
            .count()
    };
    assert_eq!((named("王小明"), named("李小红")), (1, 1), "{all}");
    let zb1 = rows
        .iter()
        .find(|t| t["subject"]["name"] == "王小明")
        .unwrap();
    assert_eq!(zb1["subject"]["person"], "wang-xm");
    let branch = zb1["subject"]["org_name"].as_str().unwrap().to_string();
    assert!(
        !branch.is_empty() && branch != "zb1",
        "the branch by name: {zb1}"
    );

    let found = s
        .get("zb1-secretary", "/api/v1/tasks?subject=%E5%B0%8F%E6%98%8E")
        .await
        .body;
    let found = found["tasks"].as_array().unwrap();
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|t| t["subject"]["name"] == "王小明"),
        "{found:?}"
    );
    // A LIKE wildcard is a literal character, not "anything".
    let none = s
        .get("zb1-secretary", "/api/v1/tasks?subject=%25")
        .await
        .body;
    assert_eq!(none["tasks"].as_array().unwrap().len(), 0, "{none}");

    let token = s.token("zb1-secretary").await;
    let cookie = sign_in(&s, &token).await;
    let (status, html) = page(&s, &cookie, "/inbox").await;
    assert_eq!(status, 200);
    assert!(html.contains("王小明") && html.contains("李小红"), "{html}");
    assert!(
        html.contains(&format!("<span class=\"sub\">{branch}</span>")),
        "{html}"
    );
    let count = format!(
        "<span class=\"count\" aria-label=\"{n} 件待办\">{n}</span>",
        n = rows.len()
    );
    assert!(html.contains(&count), "{count} in {html}");
    let (_, html) = page(&s, &cookie, "/inbox?q=%E6%9D%8E").await;
    assert!(
        html.contains("李小红") && !html.contains("王小明"),
        "{html}"
    );
    assert!(
        html.contains("value=\"李\""),
        "the box keeps the search: {html}"
    );
}
