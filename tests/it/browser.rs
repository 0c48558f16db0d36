//! The web pages in a real browser: headless Chromium driven over the W3C
//! WebDriver protocol (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs). A small client over reqwest speaks the protocol.
//! Screenshots of the pages go to `target/screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::server::Server;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one browser session; both end when this is dropped.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver is required for the browser tests ({e}); \
                     install Debian's chromium and chromium-driver (.ci/run does)"
                )
            });
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=zh-CN"]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {r}"))
            .to_string();
        Browser {
            driver,
            http,
            session,
            base,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("webdriver {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (up to 10 s) until the element exists and its text contains
    /// `want`: a click that submits a form returns before the next page is
    /// there.
    async fn wait_text(&self, css: &str, want: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let v: Value = self
                .http
                .post(url)
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(el) = v["value"][ELEMENT].as_str() {
                let url = format!("{}/session/{}/element/{el}/text", self.base, self.session);
                let t: Value = self
                    .http
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                last = t["value"].as_str().unwrap_or_default().to_string();
                if last.contains(want) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never said {want:?} (last: {last:?})");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Sets a field's value as a user's picker would (date inputs take
    /// keystrokes in the browser's locale format).
    async fn set_value(&self, css: &str, value: &str) {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "document.querySelector(arguments[0]).value = arguments[1];",
                "args": [css, value],
            })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks the link or button whose text contains `text`.
    async fn click_text(&self, css: &str, text: &str) {
        for el in self.find_all(css).await {
            let t = self
                .call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                .await;
            if t.as_str().is_some_and(|t| t.contains(text)) {
                self.call(
                    reqwest::Method::POST,
                    &format!("/element/{el}/click"),
                    Some(json!({})),
                )
                .await;
                return;
            }
        }
        panic!("nothing matching {css} says {text:?}");
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// At phone width (390 px), from the top of the page: the navigation
    /// links that break across lines, whether the page itself scrolls
    /// sideways, and the smallest button's height (px); then back to the
    /// desktop size.
    async fn phone_layout(&self) -> Value {
        let size = |w: u32, h: u32| Some(json!({ "width": w, "height": h }));
        self.call(reqwest::Method::POST, "/window/rect", size(390, 844))
            .await;
        let script = "window.scrollTo(0, 0);
            const broken = [...document.querySelectorAll('.top nav a')]
                .filter(a => a.getClientRects().length > 1 || a.offsetHeight > 2.2 * parseFloat(getComputedStyle(a).lineHeight))
                .map(a => a.textContent.trim());
            const buttons = [...document.querySelectorAll('main button')].filter(b => b.offsetParent);
            return { broken, sideways: document.documentElement.scrollWidth > window.innerWidth,
                     smallest_button: Math.min(...buttons.map(b => b.getBoundingClientRect().height), 999) };";
        let v = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({ "script": script, "args": [] })),
            )
            .await;
        self.screenshot("phone-top").await;
        self.call(reqwest::Method::POST, "/window/rect", size(1280, 1000))
            .await;
        v
    }

    /// A screenshot at phone width (390 px), then back to the desktop size.
    async fn screenshot_phone(&self, name: &str) {
        let size = |w: u32, h: u32| Some(json!({ "width": w, "height": h }));
        self.call(reqwest::Method::POST, "/window/rect", size(390, 844))
            .await;
        let center = "document.activeElement.blur(); (document.querySelector('input[name=held_on]') || document.body).scrollIntoView({block: 'center'});";
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": center, "args": [] })),
        )
        .await;
        self.screenshot(name).await;
        self.call(reqwest::Method::POST, "/window/rect", size(1280, 1000))
            .await;
    }

    async fn screenshot(&self, name: &str) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = crate::smtp::base64(v.as_str().unwrap());
        let dir = crate::root().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    /// Ends the browser session first (chromedriver then quits Chromium,
    /// which killing the driver alone would leave running), then the driver.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let host = self.base.trim_start_matches("http://").to_string();
        if let Ok(mut tcp) = std::net::TcpStream::connect(&host) {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                self.session
            );
            if tcp.write_all(request.as_bytes()).is_ok() {
                let _ = tcp.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_and_a_secretary_work_through_the_pages() {
    let mut s = Server::start(Server::t0()).await;
    let applicant = s.token("applicant-1").await;
    let secretary = s.token("zb1-secretary").await;
    let b = Browser::start().await;

    // Not signed in: the inbox sends the browser to the sign-in page.
    b.goto(&format!("{}/inbox", s.base)).await;
    assert!(
        b.url().await.contains("/login?next=/inbox"),
        "{}",
        b.url().await
    );
    b.wait_text("h1", "登录").await;
    // A wrong token is refused with a message.
    b.type_into("#token", "sf_wrong").await;
    b.click("button[type=submit]").await;
    b.wait_text("[role=alert]", "令牌无效").await;

    // The applicant signs in and sees the 待办.
    b.type_into("#token", &applicant).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "待办").await;
    assert!(b.text("table.tasks").await.contains("1. 递交入党申请书"));

    // The task page: stage map, form, history.
    b.click_text("table.tasks a", "递交入党申请书").await;
    b.wait_text("h1", "1. 递交入党申请书").await;
    assert!(b.text(".stages li.current").await.contains("申请入党"));
    assert!(b.text(".history").await.contains("交由"));
    // Submitting without the required date: the browser itself asks for it
    // (required fields); the server also refuses a missing scan.
    let scan = tempfile::NamedTempFile::with_suffix(".pdf").unwrap();
    std::fs::write(scan.path(), b"%PDF-1.4 scan").unwrap();
    b.set_value("#f-applied_on", "2026-03-02").await;
    b.type_into("#f-application_letter", scan.path().to_str().unwrap())
        .await;
    b.type_into("#comment", "本人自愿申请加入中国共产党").await;
    b.screenshot("task-form").await;
    b.click_text("button", "完成").await;

    // Done: it moved to 已办 with a message.
    b.wait_text("h1", "已办").await;
    b.wait_text("[role=status]", "已办理").await;
    assert!(b.text("table.tasks").await.contains("1. 递交入党申请书"));

    // Signing out ends the session: the pages ask to sign in again.
    b.click("form.logout button").await;
    b.wait_text("h1", "登录").await;
    b.goto(&format!("{}/done", s.base)).await;
    b.wait_text("h1", "登录").await;

    // The instance moved on: the 支部书记 got a 待办 mail whose link opens
    // the task page (through the sign-in).
    let sink = crate::smtp::SmtpSink::start(0).await;
    s.deliver_mail(&sink, Server::t0()).await;
    let to_secretary = sink
        .received()
        .into_iter()
        .find(|m| m.subject().contains("2. 党组织派人谈话"))
        .expect("a 待办 mail for the talk");
    let body = to_secretary.body();
    let at = body
        .find(&format!("{}/tasks/", s.base))
        .unwrap_or_else(|| panic!("no task link in {body}"));
    let link: String = body[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    b.goto(&link).await;
    b.wait_text("h1", "登录").await;
    b.type_into("#token", &secretary).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "2. 党组织派人谈话").await;
    // The deadline a month after the application, in words.
    let facts = b.text(".facts").await;
    assert!(
        facts.contains("2026年4月2日") && facts.contains("还剩 31 天"),
        "{facts}"
    );
    // The 待办 lists it the same way.
    b.goto(&format!("{}/inbox", s.base)).await;
    let inbox = b.wait_text("table.tasks", "2. 党组织派人谈话").await;
    assert!(inbox.contains("2026年4月2日"), "{inbox}");
    assert!(inbox.contains("还剩 31 天"), "{inbox}");
    b.screenshot("inbox").await;
    // On a phone (390 px): the navigation is one swipeable row with no
    // word broken (督办台账 was split), nothing scrolls sideways, the
    // buttons are a thumb's height.
    let phone = b.phone_layout().await;
    assert_eq!(phone["broken"], json!([]), "{phone}");
    assert_eq!(phone["sideways"], false, "{phone}");
    assert!(
        phone["smallest_button"].as_f64().unwrap() >= 44.0,
        "{phone}"
    );
    std::fs::copy(
        crate::root().join("target/screenshots/phone-top.png"),
        crate::root().join("target/screenshots/inbox-phone.png"),
    )
    .unwrap();
    // The history of the instance shows what the applicant did, by name.
    b.click_text("table.tasks a", "党组织派人谈话").await;
    b.wait_text("h1", "2. 党组织派人谈话").await;
    let history = b.text(".history").await;
    assert!(history.contains("办理：完成"), "{history}");
    assert!(history.contains("本人自愿申请加入中国共产党"), "{history}");
    assert!(b.text("#hist-h").await.contains("记录完整"));
    // The case file: what the applicant recorded, in the current stage's
    // open section — the date in Chinese, the uploaded scan by its name.
    let case = b.text(".casefile details[open]").await;
    assert!(
        case.contains("申请入党") && case.contains("1. 递交入党申请书"),
        "{case}"
    );
    assert!(
        case.contains("申请日期") && case.contains("2026年3月2日"),
        "{case}"
    );
    let scan_name = scan
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(case.contains(&scan_name), "{case}");
    b.screenshot("task").await;
    b.screenshot_phone("task-phone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_sees_a_broken_definition_s_problems_at_their_lines() {
    let mut s = Server::start(Server::t0()).await;
    let organizer = s.token("zb1-organizer").await;
    let b = Browser::start().await;
    b.goto(&format!("{}/login?next=/console/definitions", s.base))
        .await;
    b.type_into("#token", &organizer).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "流程定义").await;
    b.wait_text("table.tasks", "发展党员").await;

    // A definition with three bad times: not published, each problem at its line.
    let bad =
        std::fs::read_to_string(crate::root().join("tests/fixtures/bad/bad-times.yaml")).unwrap();
    b.set_value("#yaml-text", &bad).await;
    b.click_text("button", "校验并发布").await;
    b.wait_text("#diag-h", "处问题，未发布").await;
    let line = b.wait_text("#L13", "第 13 行第 14 列").await;
    assert!(line.contains("fortnight"), "{line}");
    assert!(b.text(".diagnostics").await.contains("第 15 行第 14 列"));
    b.screenshot("definition-errors").await;

    // A good one is published and shown with its source.
    let good =
        std::fs::read_to_string(crate::root().join("tests/fixtures/good/leave-request.yaml"))
            .unwrap();
    b.set_value("#yaml-text", &good).await;
    b.click_text("button", "校验并发布").await;
    b.wait_text("#src-h", "leave-request 第 1 版").await;
    let listed = s.get("admin", "/api/v1/definitions/leave-request").await;
    assert_eq!(listed.status, 200);

    // Someone who organizes nothing is shown the door.
    let member = s.token("zb1-member-1").await;
    b.click("form.logout button").await;
    b.wait_text("h1", "登录").await;
    b.type_into("#token", &member).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "待办").await;
    b.goto(&format!("{}/console/definitions", s.base)).await;
    b.wait_text("h1", "无权访问").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_shows_its_phases_and_who_is_late_after_the_clock_moves() {
    let mut s = Server::start(Server::t0()).await;
    // The 党委 sets up the campaign (three steps), so each 党支部 gets its
    // 实施方案 to write by the end of the first phase; one branch does it.
    let today = Server::t0().date_naive();
    for who in [
        "jiguan-secretary",
        "jiguan-secretary",
        "jiguan-secretary",
        "zb1-secretary",
    ] {
        let inbox = s.get(who, "/api/v1/tasks").await.body;
        let task = inbox["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["workflow"] == "campaign-chuangxian-zhengyou")
            .unwrap_or_else(|| panic!("{who} has no campaign task: {inbox}"))
            .clone();
        crate::api::act_choosing(&mut s, who, &task, today, None).await;
    }
    let organizer = s.token("jiguan-organizer").await;
    let b = Browser::start().await;
    b.goto(&format!("{}/login?next=/console/campaigns", s.base))
        .await;
    b.type_into("#token", &organizer).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "活动").await;
    b.click_text("table.tasks a", "创先争优").await;
    b.wait_text("h1", "创先争优").await;
    // The phases with their dates; the first is on, today marked.
    let timeline = b.wait_text(".timeline", "宣传动员").await;
    assert!(timeline.contains("2026年3月2日"), "{timeline}");
    assert!(b.text(".timeline li.current").await.contains("◀ 今天"));
    let before = b.text("table.progress").await;
    assert!(before.contains("第一党支部"), "{before}");
    assert_eq!(
        b.find_all("table.progress tr.overdue").await.len(),
        0,
        "{before}"
    );
    // Six weeks later the branches that did nothing are late, listed first.
    let later = Server::t0() + chrono::Duration::days(42);
    assert_eq!(s.set_clock(later).await.status, 200);
    let url = b.url().await;
    b.goto(&url).await;
    // Six weeks is past the session's 12 hours: sign in again, and land
    // back on the page.
    b.wait_text("[role=alert]", "登录已失效").await;
    b.type_into("#token", &organizer).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "创先争优").await;
    let late = b.find_all("table.progress tr.overdue").await;
    assert!(!late.is_empty(), "{}", b.text("table.progress").await);
    let first_row = b.text("table.progress tbody tr:first-child").await;
    let first_late = b.text("table.progress tbody tr.overdue").await;
    assert_eq!(first_row, first_late, "overdue organizations come first");
    // The branch that handed in its plan is not among the late ones.
    let last_row = b.text("table.progress tbody tr:last-child").await;
    assert!(last_row.contains("第一党支部"), "{last_row}");
    assert!(late.len() < b.find_all("table.progress tbody tr").await.len());
    b.screenshot("campaign").await;
}

/// Signs out whoever is signed in and signs in with a token; lands on 待办.
async fn switch_to(b: &Browser, base: &str, token: &str) {
    b.goto(&format!("{base}/inbox")).await;
    if !b.url().await.contains("/login") {
        b.click("form.logout button").await;
        b.wait_text("h1", "登录").await;
    }
    b.type_into("#token", token).await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "待办").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committee_starts_votes_and_rates_in_the_browser() {
    let mut s = Server::start(Server::t0()).await;
    let organizer = s.token("jiguan-organizer").await;
    let b = Browser::start().await;
    switch_to(&b, &s.base, &organizer).await;

    // The organizer publishes the definition and starts it from the form
    // generated from its inputs.
    b.goto(&format!("{}/console/definitions", s.base)).await;
    let yaml = std::fs::read_to_string(
        crate::root().join("tests/fixtures/web/committee-vote-and-rating.yaml"),
    )
    .unwrap();
    b.set_value("#yaml-text", &yaml).await;
    b.click_text("button", "校验并发布").await;
    b.wait_text("#start-h", "发起「党委会表决和支部书记测评」")
        .await;
    assert!(b.text("label[for=in-seats-s]").await.contains("拟定名额"));
    b.set_value("#s-org", "jiguan").await;
    b.type_into("#in-topic-s", "表彰先进基层党组织").await;
    b.click_text("button", "发起").await;
    b.wait_text("[role=status]", "流程已发起").await;
    assert!(b.text("h1").await.contains("党委会表决"));

    // The three 党委委员 vote, each signed in on their own: two for, one
    // against, with comments.
    for (who, choice, comment) in [
        ("jiguan-secretary", "赞成", "同意"),
        ("jiguan-organizer", "赞成", ""),
        ("jiguan-officer", "反对", "建议下次再议"),
    ] {
        let token = s.token(who).await;
        switch_to(&b, &s.base, &token).await;
        b.click_text("table.tasks a", "党委会表决").await;
        b.wait_text("h1", "党委会表决").await;
        let buttons = b.text(".buttons").await;
        assert!(
            buttons.contains("赞成") && buttons.contains("反对") && buttons.contains("弃权"),
            "{buttons}"
        );
        if who == "jiguan-secretary" {
            // The chair may close early, giving the day the meeting was held.
            b.find("input[type=date][name=held_on]").await;
            b.call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({ "script": "document.querySelector('input[name=held_on]').scrollIntoView({block: 'center'});", "args": [] })),
            )
            .await;
            b.screenshot("ballot").await;
            b.screenshot_phone("ballot-phone").await;
        }
        if !comment.is_empty() {
            b.type_into("#comment", comment).await;
        }
        b.click_text("button", choice).await;
        b.wait_text("h1", "已办").await;
        assert!(b.text("[role=status]").await.contains("已办理"));
    }

    // The last ballot closed the vote (2 of 3 for): the rating is open.
    b.goto(&format!("{}/inbox", s.base)).await;
    b.click_text("table.tasks a", "支部书记测评").await;
    b.wait_text("h1", "支部书记测评").await;
    let history = b.text(".history").await;
    assert!(
        history.contains("「党委会表决」计票：应到 3 人，实到 3 人，投票 3 人（反对 1，赞成 2）"),
        "{history}"
    );
    assert!(history.contains("已投票"), "{history}");
    assert!(history.contains("建议下次再议"), "{history}");
    assert!(b.text(".stages li.current").await.contains("支部书记测评"));
    // One select per 支部书记, by name; the grades of the scale.
    let ratees = b.find_all("fieldset.rating select").await;
    assert_eq!(ratees.len(), 3);
    let form = b.text("fieldset.rating").await;
    let first = s.store.person("zb1-secretary").await.unwrap().unwrap().name;
    assert!(form.contains(&first), "{form}");
    // Submitting with a grade missing: the server says what is missing.
    b.set_value("#r-0", "good").await;
    b.set_value("#r-1", "fair").await;
    b.call(
        reqwest::Method::POST,
        "/execute/sync",
        Some(json!({ "script": "document.querySelector('#r-2').removeAttribute('required');", "args": [] })),
    )
    .await;
    b.click_text("button", "提交评议").await;
    b.wait_text("[role=alert]", "请为每一位评议对象选择等次")
        .await;
    b.set_value("#r-0", "good").await;
    b.set_value("#r-1", "fair").await;
    b.set_value("#r-2", "good").await;
    b.screenshot("rating").await;
    b.click_text("button", "提交评议").await;
    b.wait_text("h1", "已办").await;

    // The ratings are on record, as chosen.
    let done = s
        .get("jiguan-officer", "/api/v1/tasks?status=done")
        .await
        .body;
    let rating_task = done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["step"] == "secretary_rating")
        .unwrap_or_else(|| panic!("{done}"))
        .clone();
    let history = s
        .get(
            "jiguan-officer",
            &format!(
                "/api/v1/instances/{}/history",
                rating_task["instance"].as_str().unwrap()
            ),
        )
        .await
        .body;
    let submitted = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "rating_submitted")
        .unwrap_or_else(|| panic!("{history}"))
        .clone();
    let data = &submitted["data"];
    assert_eq!(data["rater"], "jiguan-officer", "{submitted}");
    assert_eq!(
        data["ratings"]["zb1-secretary"],
        json!({ "grade": "good" }),
        "{submitted}"
    );
    assert_eq!(data["ratings"]["zb2-secretary"], json!({ "grade": "fair" }));
    assert_eq!(data["ratings"]["zb3-secretary"], json!({ "grade": "good" }));
}
