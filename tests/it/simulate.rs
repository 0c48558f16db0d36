//! The shipped definitions, simulated through the real engine and store
//! with a virtual clock: the dates the rules imply.

use chrono::NaiveDate;
use stageflow_engine::state::Values;
use stageflow_runtime::simulate::{Policy, SimEvent, SimOptions, SimReport, simulate};

use crate::root;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn run(file: &str, start: &str, inputs: &[(&str, &str)], policy: Policy) -> SimReport {
    let text = std::fs::read_to_string(root().join("workflows/library").join(file)).unwrap();
    let loaded = stageflow_workflows::load_str(file, &text).unwrap();
    let mut values = Values::new();
    for (k, v) in inputs {
        values.insert(k.to_string(), v.to_string().into());
    }
    let opts = SimOptions {
        start: date(start),
        inputs: values,
        subject: Values::new(),
        org: None,
        policy,
        // Late runs that loop (a lapsing approval) stop after a few years.
        until: (policy == Policy::Late).then(|| date("2029-12-31")),
        calendar: None,
    };
    simulate(&loaded.definition, &text, &opts).await.unwrap()
}

fn find<'a>(r: &'a SimReport, kind: &str, step: &str) -> &'a SimEvent {
    r.events
        .iter()
        .find(|e| e.kind == kind && e.step.as_deref() == Some(step))
        .unwrap_or_else(|| panic!("no {kind} for {step}"))
}

fn day(e: &SimEvent) -> String {
    e.at.format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn member_admission_from_2026_03_02_follows_the_rules_and_ends_admitted() {
    let r = run("member-admission.yaml", "2026-03-02", &[], Policy::Earliest).await;
    assert_eq!(r.end_state, "admitted", "{:?}", r.stuck);
    assert!(r.stuck.is_none());
    assert!(r.chain_verified, "hash chain and replay");
    // 细则 第七条: the talk within one month of the application.
    assert_eq!(
        find(&r, "task_created", "talk").due,
        Some(date("2026-04-02"))
    );
    // 第十一条: 考察 every six months; 第十三条: 发展对象 one year after.
    let reviews: Vec<String> = r
        .events
        .iter()
        .filter(|e| e.kind == "occurrence" && e.step.as_deref() == Some("training_review"))
        .map(day)
        .collect();
    assert_eq!(reviews, ["2026-09-02", "2027-03-02"]);
    assert_eq!(
        find(&r, "task_created", "determine_candidate").earliest,
        Some(date("2027-03-02"))
    );
    // 公示 five working days counting the posting day (2027 has no notice:
    // only the fixed holidays, none in March; flagged provisional):
    // 03-02 … 03-08, so it ends at 03-09 00:00.
    let publicity = find(&r, "step_activated", "candidate_publicity");
    assert!(publicity.provisional);
    assert_eq!(
        day(find(&r, "wait_ended", "candidate_publicity")),
        "2027-03-09"
    );
    // 支部大会: nine eligible voters, all present and for.
    let vote = find(&r, "vote_closed", "admission_vote");
    assert_eq!(vote.detail.as_deref(), Some("应到 9 实到 9 投票 9：yes 9"));
    // 第二十四条: 党委 approval within three months of the resolution:
    // 2027-06-09 is 端午节 (五月初五, computed: 2027 has no notice yet), so
    // by 民法典 第二百零三条 the reminder deadline is the next working day,
    // provisionally. The legal limit (第二十五条: at most 6 months) counts
    // from the meeting itself.
    let approval = find(&r, "task_created", "party_approval");
    assert_eq!(approval.due, Some(date("2027-06-10")));
    assert_eq!(approval.limit, Some(date("2027-09-09")));
    assert!(approval.provisional);
    assert_eq!(r.provisional_years, [2027, 2028]);
    // 第三十二条: 预备期 one year from the vote; 转正 not before it ends.
    assert_eq!(day(find(&r, "wait_ended", "probation_full")), "2028-03-09");
    assert_eq!(
        find(&r, "task_created", "regularize_approval").due,
        Some(date("2028-06-09"))
    );
    // Every one of the 25 steps of 《发展党员工作细则》 appears.
    for n in 1..=25 {
        let prefix = format!("{n}. ");
        assert!(
            r.events.iter().any(|e| e.kind == "task_created"
                || e.kind == "step_completed"
                || e.kind == "wait_ended")
                && r.events.iter().any(|e| e
                    .name
                    .as_deref()
                    .is_some_and(|name| name.starts_with(&prefix))),
            "step {n} is missing from the timeline"
        );
    }
    let last = r.events.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), day(last).as_str()),
        ("instance_ended", "2028-03-09")
    );
}

#[tokio::test]
async fn member_admission_refuses_an_applicant_under_18() {
    let text =
        std::fs::read_to_string(root().join("workflows/library/member-admission.yaml")).unwrap();
    let loaded = stageflow_workflows::load_str("member-admission.yaml", &text).unwrap();
    let mut subject = Values::new();
    subject.insert("birth_date".into(), "2008-03-03".into());
    let opts = SimOptions {
        start: date("2026-03-02"),
        inputs: Values::new(),
        subject,
        org: None,
        policy: Policy::Earliest,
        until: None,
        calendar: None,
    };
    let r = simulate(&loaded.definition, &text, &opts).await.unwrap();
    assert_eq!(r.end_state, "stuck");
    assert!(
        r.stuck
            .as_deref()
            .unwrap_or_default()
            .contains("申请人须年满十八周岁"),
        "{:?}",
        r.stuck
    );
}

#[tokio::test]
async fn member_admission_late_policy_escalates_the_overdue_approval() {
    // Nobody acts until deadlines force it: the 党委 approval is escalated
    // past three months, and at six months the resolution lapses and goes
    // back to the 支部大会 (which, in this policy, keeps happening).
    let r = run("member-admission.yaml", "2026-03-02", &[], Policy::Late).await;
    let escalations: Vec<&SimEvent> = r
        .events
        .iter()
        .filter(|e| e.kind == "escalation" && e.step.as_deref() == Some("party_approval"))
        .collect();
    assert!(
        escalations.len() >= 2,
        "督办 at 3 months and at the 6-month limit"
    );
    assert!(
        escalations
            .iter()
            .all(|e| e.detail.as_deref().unwrap_or_default().contains("已逾期"))
    );
    let lapse = r
        .events
        .iter()
        .find(|e| e.kind == "step_completed" && e.step.as_deref() == Some("party_approval"))
        .expect("the approval ends automatically");
    assert_eq!(lapse.outcome.as_deref(), Some("lapse"));
    assert_eq!(
        lapse.detail.as_deref(),
        Some("期限已过，按规则自动逾期六个月失效（重新提交支部大会讨论）")
    );
    let votes = r
        .events
        .iter()
        .filter(|e| e.kind == "vote_closed" && e.step.as_deref() == Some("admission_vote"))
        .count();
    assert!(
        votes >= 2,
        "the 支部大会 discusses it again after the lapse"
    );
}

/// 细则 第二十五条: the 上级党委 approves within three months of the 支部大会,
/// six at the most. The six months count from the 支部大会 itself — not
/// from the three-month deadline, which moves off a holiday for the people
/// (民法典 第二百零三条) — so the lapse comes the day after the 支部大会's
/// date six months on, and the last 督办 on that last day.
#[tokio::test]
async fn article_25_the_six_month_limit_counts_from_the_branch_meeting() {
    for start in ["2026-03-02", "2026-04-20", "2026-06-30"] {
        let r = run("member-admission.yaml", start, &[], Policy::Late).await;
        let vote = r
            .events
            .iter()
            .find(|e| e.kind == "vote_closed" && e.step.as_deref() == Some("admission_vote"))
            .expect("the 支部大会");
        let last_day = vote
            .at
            .date_naive()
            .checked_add_months(chrono::Months::new(6))
            .unwrap();
        let lapse = r
            .events
            .iter()
            .find(|e| e.kind == "step_completed" && e.step.as_deref() == Some("party_approval"))
            .expect("the approval lapses");
        assert_eq!(lapse.outcome.as_deref(), Some("lapse"), "{start}");
        // The timeline shows the statutory limit beside the deadline.
        let task = r
            .events
            .iter()
            .find(|e| e.kind == "task_created" && e.step.as_deref() == Some("party_approval"))
            .unwrap();
        assert_eq!(task.limit, Some(last_day), "{start}");
        let lines = stageflow_runtime::simulate::timeline_lines(&r.events);
        assert!(
            lines
                .iter()
                .any(|(_, l)| l.contains(&format!("法定期限 {last_day}"))),
            "{start}: {lines:?}"
        );
        assert_eq!(
            lapse.at.naive_local(),
            last_day.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap(),
            "{start}: the lapse follows the last day, {last_day}"
        );
        let last_escalation = r
            .events
            .iter()
            .filter(|e| e.kind == "escalation" && e.step.as_deref() == Some("party_approval"))
            .map(|e| e.at)
            .filter(|at| *at <= lapse.at)
            .max()
            .unwrap();
        assert_eq!(
            last_escalation.naive_local(),
            last_day.and_hms_opt(9, 0, 0).unwrap(),
            "{start}"
        );
    }
}

/// A step entered again starts fresh (the issue "The rules as written",
/// rule 4): after the 上级党委's six months lapse (细则 第二十五条), the
/// 支部大会 discusses the case again with as long as the first time had —
/// it does not re-open already overdue against the first 预审's month.
#[tokio::test]
async fn a_step_entered_again_gets_a_fresh_deadline() {
    let r = run("member-admission.yaml", "2026-04-20", &[], Policy::Late).await;
    let votes: Vec<&SimEvent> = r
        .events
        .iter()
        .filter(|e| e.kind == "task_created" && e.step.as_deref() == Some("admission_vote"))
        .collect();
    let mut entries: Vec<(NaiveDate, NaiveDate)> = votes
        .iter()
        .map(|e| (e.at.date_naive(), e.due.expect("the vote has a deadline")))
        .collect();
    entries.dedup();
    assert!(entries.len() >= 2, "the vote is held again: {entries:?}");
    let first_span = entries[0].1 - entries[0].0;
    for (opened, due) in &entries[1..] {
        assert!(due >= opened, "re-opened overdue: {entries:?}");
        // As long as the first entry had (a holiday may push it a few days).
        let span = *due - *opened;
        assert!(
            span >= first_span && span <= first_span + chrono::Duration::days(8),
            "{entries:?}"
        );
    }
}

#[tokio::test]
async fn democratic_appraisal_caps_excellent_at_one_third_and_grades_no_probationary_member() {
    let r = run(
        "democratic-appraisal.yaml",
        "2026-12-01",
        &[],
        Policy::Earliest,
    )
    .await;
    assert_eq!(r.end_state, "completed");
    let rating = find(&r, "rating_closed", "peer_rating");
    // Nine 正式党员 all rated 优秀 by everyone: the cap keeps 3 (1/3), the
    // other 6 move down to 合格; the two 预备党员 take part without a grade.
    assert_eq!(
        rating.detail.as_deref(),
        Some("优秀 3，合格 6，不评定等次 2")
    );
    assert!(r.chain_verified);
}

#[tokio::test]
async fn campaign_runs_its_four_phases_in_their_windows() {
    let inputs = [
        ("phase1_start", "2010-04-26"),
        ("phase1_end", "2010-06-30"),
        ("phase2_start", "2010-07-01"),
        ("phase2_end", "2011-06-30"),
        ("phase3_start", "2011-07-01"),
        ("phase3_end", "2012-06-30"),
        ("phase4_start", "2012-07-01"),
        ("phase4_end", "2012-11-07"),
    ];
    let r = run(
        "campaign-chuangxian-zhengyou.yaml",
        "2010-04-26",
        &inputs,
        Policy::Earliest,
    )
    .await;
    assert_eq!(r.end_state, "completed", "{:?}", r.stuck);
    let stages: Vec<(String, String)> = r
        .events
        .iter()
        .filter(|e| e.kind == "stage_entered")
        .map(|e| (e.name.clone().unwrap_or_default(), day(e)))
        .collect();
    let names: Vec<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "宣传动员部署阶段",
            "全面推进阶段",
            "深化提升阶段",
            "总结完善阶段"
        ]
    );
    // Monthly reports from every 党支部 while 全面推进 is active: one a month
    // from 2010-08-01 to 2011-06-01, three branches each.
    let reports = r
        .events
        .iter()
        .filter(|e| {
            e.kind == "task_created" && e.step.as_deref() == Some("progress_report_advance")
        })
        .count();
    assert_eq!(reports, 11 * 3);
    // Deliverables fan out to the three branches.
    let plans = r
        .events
        .iter()
        .filter(|e| e.kind == "task_created" && e.step.as_deref() == Some("branch_plans"))
        .count();
    assert_eq!(plans, 3);
    // The gate of a phase is held on the phase's last day.
    assert_eq!(
        day(find(&r, "step_completed", "gate_advance")),
        "2011-06-30"
    );
    assert!(r.chain_verified);
}

/// Every date rule of the admission workflow pinned to the reference: (rule,
/// start date, event, step, expected date).
#[tokio::test]
async fn admission_date_rules_pinned_to_the_reference() {
    struct Row {
        rule: &'static str,
        start: &'static str,
        kind: &'static str,
        step: &'static str,
        field: &'static str,
        want: &'static str,
    }
    let rows = [
        Row {
            rule: "细则 第七条: talk within 1 month (same day of month)",
            start: "2026-03-02",
            kind: "task_created",
            step: "talk",
            field: "due",
            want: "2026-04-02",
        },
        Row {
            rule: "民法典 第202条: month end clamps (01-31 + 1 month); 02-28 is a 调休 working Saturday, so it stays",
            start: "2026-01-31",
            kind: "task_created",
            step: "talk",
            field: "due",
            want: "2026-02-28",
        },
        Row {
            rule: "民法典 第203条: a deadline on a rest day moves to the next working day (2026-01-31 is a Saturday)",
            start: "2025-12-31",
            kind: "task_created",
            step: "talk",
            field: "due",
            want: "2026-02-02",
        },
        Row {
            rule: "细则 第十三条: 一年以上 is inclusive (≥ 12 months)",
            start: "2026-03-02",
            kind: "task_created",
            step: "determine_candidate",
            field: "earliest",
            want: "2027-03-02",
        },
        Row {
            rule: "一年以上 from 02-29 clamps to 02-28",
            start: "2024-02-29",
            kind: "task_created",
            step: "determine_candidate",
            field: "earliest",
            want: "2025-02-28",
        },
        Row {
            rule: "公示 5 working days counting the posting day, across 中秋 (09-25..27) and 国庆 (10-01..07): 09-24 … 10-08",
            start: "2025-09-24",
            kind: "wait_ended",
            step: "candidate_publicity",
            field: "at",
            want: "2026-10-09",
        },
        Row {
            rule: "细则 第二十四条: 党委 approval within 3 months of the vote (06-09 is 端午节 2027, computed)",
            start: "2026-03-02",
            kind: "task_created",
            step: "party_approval",
            field: "due",
            want: "2027-06-10",
        },
        Row {
            rule: "细则 第三十二条: 预备期 one year from the vote",
            start: "2026-03-02",
            kind: "wait_ended",
            step: "probation_full",
            field: "at",
            want: "2028-03-09",
        },
        Row {
            rule: "细则 第三十四条: 转正 approval within 3 months",
            start: "2026-03-02",
            kind: "task_created",
            step: "regularize_approval",
            field: "due",
            want: "2028-06-09",
        },
    ];
    let mut failures = Vec::new();
    for row in &rows {
        let r = run("member-admission.yaml", row.start, &[], Policy::Earliest).await;
        let event = r
            .events
            .iter()
            .find(|e| e.kind == row.kind && e.step.as_deref() == Some(row.step));
        let got = event.map(|e| match row.field {
            "due" => e.due.map(|d| d.to_string()).unwrap_or_default(),
            "earliest" => e.earliest.map(|d| d.to_string()).unwrap_or_default(),
            _ => day(e),
        });
        if got.as_deref() != Some(row.want) {
            failures.push(format!(
                "{}: start {} → {:?}, want {}",
                row.rule, row.start, got, row.want
            ));
        }
    }
    // 细则 第二十五条: never past 6 months — the second escalation of the 党委
    // approval is planned at vote + 6 months (2027-03-09 → 2027-09-09).
    let r = run("member-admission.yaml", "2026-03-02", &[], Policy::Earliest).await;
    let planned: Vec<String> = r
        .events
        .iter()
        .filter(|e| e.kind == "escalation_planned" && e.step.as_deref() == Some("party_approval"))
        .filter_map(|e| e.fires_at.map(|t| t.format("%Y-%m-%d").to_string()))
        .collect();
    if !planned.contains(&"2027-09-09".to_string()) {
        failures.push(format!(
            "6-month hard limit: escalations planned {planned:?}, want one on 2027-09-09"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
