//! Property tests of the state machine: random command sequences against a
//! definition that uses approvals, returns, votes, waits, recurring tasks,
//! ratings, deadlines with reminders, escalation and automatic timeouts.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use indexmap::IndexMap;
use proptest::prelude::*;

use crate::calendar::Calendar;
use crate::directory::Directory;
use crate::expr::Expr;
use crate::machine::{Command, Context, Rejection, apply};
use crate::model::*;
use crate::state::{
    InstanceState, RatingValue, RecordedEvent, Subject, TaskStatus, Values, verify_chain,
};
use crate::time::{Span, TimeExpr};

struct Tree;

impl Directory for Tree {
    fn parent(&self, org: &str) -> Option<String> {
        (org == "b").then(|| "p".to_string())
    }
    fn kind(&self, org: &str) -> Option<String> {
        Some(if org == "b" { "党支部" } else { "党委" }.to_string())
    }
    fn holders(&self, org: &str, role: &str) -> Vec<String> {
        match role {
            "full_member" => (1..=3).map(|i| format!("{org}.m{i}")).collect(),
            "committee_member" => (1..=2).map(|i| format!("{org}.c{i}")).collect(),
            _ => vec![format!("{org}.{role}")],
        }
    }
    fn orgs_under(&self, root: &str, _kind: Option<&str>) -> Vec<String> {
        vec![root.to_string()]
    }
}

fn span(s: &str) -> Span {
    Span::parse(s).unwrap()
}

fn time(s: &str) -> TimeExpr {
    TimeExpr::parse(s).unwrap()
}

fn step(id: &str, kind: StepKind) -> Step {
    Step {
        id: id.into(),
        name: id.into(),
        kind,
        after: vec![],
        when: None,
        required: true,
        assignee: Some(Assignee::Role {
            role: "secretary".into(),
            org: OrgRef::Own,
        }),
        due: None,
        earliest: None,
        remind: Remind::default(),
        escalate: vec![],
        on_timeout: None,
        outcomes: IndexMap::new(),
        form: vec![],
        checks: vec![],
        set: vec![],
        comment_required: false,
        hide: Vec::new(),
        operations: None,
    }
}

fn outcome(route: Route, max_times: Option<u32>) -> Outcome {
    Outcome {
        label: "x".into(),
        route,
        max_times,
    }
}

pub(crate) fn definition() -> Definition {
    let mut apply_step = step("apply", StepKind::Task);
    apply_step.assignee = Some(Assignee::Subject);
    apply_step.form = vec![Field {
        id: "on".into(),
        label: "日期".into(),
        kind: FieldKind::Date,
        required: true,
        default: None,
        min: None,
        max: None,
        future: false,
        not_before: None,
        eligible: Vec::new(),
    }];
    let mut review = step(
        "review",
        StepKind::Approval {
            mode: ApprovalMode::All,
        },
    );
    review.after = vec!["apply".into()];
    review.assignee = Some(Assignee::Role {
        role: "committee_member".into(),
        org: OrgRef::Own,
    });
    review.due = Some(time("3 days after activated"));
    review.remind = Remind {
        before: vec![span("1 day")],
        at_due: true,
        every: Some(span("1 day")),
        max: 2,
    };
    review.escalate = vec![Escalation {
        after: span("2 days"),
        limit: None,
        to: Assignee::Role {
            role: "secretary".into(),
            org: OrgRef::Parent,
        },
    }];
    review.outcomes.insert(
        "reject".into(),
        outcome(Route::End("rejected".into()), None),
    );
    review.outcomes.insert(
        "return".into(),
        outcome(Route::Step("apply".into()), Some(2)),
    );
    let mut wait = step(
        "publicity",
        StepKind::Wait {
            until: WaitUntil::For(span("2 workdays inclusive")),
        },
    );
    wait.after = vec!["review".into()];
    let mut vote = step(
        "vote",
        StepKind::Vote(Box::new(VoteRule {
            voters: Assignee::Role {
                role: "full_member".into(),
                org: OrgRef::Own,
            },
            choices: vec![],
            quorum: Expr::parse("present > eligible / 2").unwrap(),
            pass: Expr::parse("yes > eligible / 2").unwrap(),
        })),
    );
    vote.outcomes.insert(
        "fail".into(),
        outcome(
            Route::Stage {
                stage: "first".into(),
                step: Some("review".into()),
            },
            None,
        ),
    );
    let mut rate = step(
        "rate",
        StepKind::Rating(Box::new(RatingRule {
            raters: Assignee::Role {
                role: "full_member".into(),
                org: OrgRef::Own,
            },
            ratees: vec![Assignee::Role {
                role: "full_member".into(),
                org: OrgRef::Own,
            }],
            no_grade_roles: vec![],
            scheme: RatingScheme::Scale {
                grades: vec![
                    Grade {
                        id: "good".into(),
                        name: "优秀".into(),
                        max_share: Some(1.0 / 3.0),
                        min_score: None,
                    },
                    Grade {
                        id: "ok".into(),
                        name: "合格".into(),
                        max_share: None,
                        min_score: None,
                    },
                ],
            },
        })),
    );
    rate.after = vec!["vote".into()];
    let mut check_in = step(
        "check_in",
        StepKind::Recurring(Box::new(Recurrence {
            every: span("1 month"),
            within: Some(span("5 days")),
            until: None,
            orgs: None,
        })),
    );
    check_in.required = false;
    let mut approve = step(
        "approve",
        StepKind::Approval {
            mode: ApprovalMode::Any,
        },
    );
    approve.after = vec!["rate".into()];
    approve.assignee = Some(Assignee::Role {
        role: "secretary".into(),
        org: OrgRef::Parent,
    });
    approve.due = Some(time("1 month after activated"));
    approve.on_timeout = Some(Timeout {
        after: Some(span("1 day")),
        limit: None,
        outcome: "approve".into(),
    });
    approve.outcomes.insert(
        "reject".into(),
        outcome(Route::End("rejected".into()), None),
    );
    approve.outcomes.insert(
        "return".into(),
        outcome(
            Route::Stage {
                stage: "first".into(),
                step: None,
            },
            None,
        ),
    );
    Definition {
        id: "prop".into(),
        version: 1,
        name: "属性测试".into(),
        subject: SubjectKind::Person,
        timezone: chrono_tz::Asia::Shanghai,
        calendar: "cn".into(),
        inputs: vec![],
        checks: vec![],
        end_states: vec![
            EndState {
                id: "done".into(),
                name: "完成".into(),
            },
            EndState {
                id: "rejected".into(),
                name: "未通过".into(),
            },
        ],
        stages: vec![
            Stage {
                id: "first".into(),
                name: "一".into(),
                steps: vec![apply_step, review, wait],
                then: Route::Next,
                window: None,
            },
            Stage {
                id: "second".into(),
                name: "二".into(),
                steps: vec![vote, rate, check_in, approve],
                then: Route::End("done".into()),
                window: None,
            },
        ],
        schedules: vec![],
        templates: BTreeMap::new(),
        empty_assignee: EmptyAssignee::Fail,
        deadline_on_holiday: HolidayDeadline::NextWorkday,
        role_names: Default::default(),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 24, 1, 0, 0).unwrap()
}

/// A command chosen by indices into whatever the state offers.
#[derive(Debug, Clone)]
enum Pick {
    Complete {
        task: usize,
        actor_is_assignee: bool,
        outcome: usize,
        with_form: bool,
    },
    Ballot {
        voter: usize,
        choice: usize,
        written: bool,
    },
    Rate {
        rater: usize,
        grade: usize,
    },
    Close {
        vote: bool,
    },
    Fire {
        timer: usize,
        bogus: bool,
    },
    Advance {
        hours: u32,
    },
    Cancel,
    /// 转办, 委派, 加签 before/after, 减签, 撤回, 催办 on a task.
    Manage {
        task: usize,
        op: usize,
        person: usize,
    },
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => (any::<usize>(), prop::bool::weighted(0.9), prop_oneof![3 => Just(0usize), 4 => Just(1usize), 1 => Just(2usize), 1 => Just(3usize), 1 => Just(4usize)], prop::bool::weighted(0.9))
            .prop_map(|(task, a, outcome, f)| Pick::Complete { task, actor_is_assignee: a, outcome, with_form: f }),
        3 => (any::<usize>(), 0usize..4, any::<bool>()).prop_map(|(voter, choice, written)| Pick::Ballot { voter, choice, written }),
        2 => (any::<usize>(), 0usize..3).prop_map(|(rater, grade)| Pick::Rate { rater, grade }),
        1 => any::<bool>().prop_map(|vote| Pick::Close { vote }),
        3 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(timer, bogus)| Pick::Fire { timer, bogus }),
        3 => (1u32..24 * 40).prop_map(|hours| Pick::Advance { hours }),
                1 => Just(Pick::Cancel),
        4 => (any::<usize>(), 0usize..7, 0usize..4).prop_map(|(task, op, person)| Pick::Manage { task, op, person }),
    ]
}

fn to_command(state: &InstanceState, p: &Pick) -> Option<Command> {
    let nth = |n: usize, len: usize| if len == 0 { None } else { Some(n % len) };
    Some(match p {
        Pick::Complete {
            task,
            actor_is_assignee,
            outcome,
            with_form,
        } => {
            let tasks: Vec<_> = state.tasks.iter().collect();
            let (id, t) = tasks[nth(*task, tasks.len())?];
            let outcomes = ["done", "approve", "reject", "return", "bogus"];
            let mut form = Values::new();
            if *with_form {
                form.insert("on".into(), "2026-09-24".into());
            }
            Command::Complete {
                task: *id,
                actor: if *actor_is_assignee {
                    t.assignee.clone()
                } else {
                    "intruder".into()
                },
                outcome: Some(outcomes[*outcome].into()),
                form,
                comment: Some("意见".into()),
                // Returns sometimes name a step: a valid earlier one, or one
                // that is not earlier (refused).
                return_to: match (*outcome, task % 3) {
                    (3, 0) => Some("apply".into()),
                    (3, 1) => Some("vote".into()),
                    _ => None,
                },
            }
        }
        Pick::Ballot {
            voter,
            choice,
            written,
        } => {
            let voters = ["b.m1", "b.m2", "b.m3", "nobody"];
            let choices = ["yes", "no", "abstain", "maybe"];
            Command::CastBallot {
                step: "vote".into(),
                voter: voters[voter % voters.len()].into(),
                choice: choices[*choice].into(),
                written: *written,
            }
        }
        Pick::Rate { rater, grade } => {
            let raters = ["b.m1", "b.m2", "b.m3"];
            let grades = ["good", "ok", "bad"];
            let ratings = ["b.m1", "b.m2", "b.m3"]
                .iter()
                .map(|p| (p.to_string(), RatingValue::Grade(grades[*grade].into())))
                .collect();
            Command::SubmitRating {
                step: "rate".into(),
                rater: raters[rater % 3].into(),
                ratings,
            }
        }
        Pick::Close { vote } => {
            if *vote {
                Command::CloseVote {
                    held_on: None,
                    step: "vote".into(),
                    actor: "b.secretary".into(),
                }
            } else {
                Command::CloseRating {
                    step: "rate".into(),
                    actor: "b.secretary".into(),
                }
            }
        }
        Pick::Fire { timer, bogus } => {
            if *bogus {
                return Some(Command::FireTimer {
                    timer: "nope#1:due".into(),
                });
            }
            let timers: Vec<_> = state.timers.keys().collect();
            Command::FireTimer {
                timer: timers[nth(*timer, timers.len())?].clone(),
            }
        }
        Pick::Advance { .. } => return None,
        Pick::Manage { task, op, person } => {
            let tasks: Vec<_> = state.tasks.iter().collect();
            let (id, t) = tasks[nth(*task, tasks.len())?];
            let people = ["b.c1", "b.c2", "b.m1", "b.secretary"];
            let other = people[*person].to_string();
            let actor = t.assignee.clone();
            match op {
                0 => Command::Transfer {
                    task: *id,
                    actor,
                    to: other,
                    comment: None,
                },
                1 => Command::Delegate {
                    task: *id,
                    actor,
                    to: other,
                    comment: None,
                },
                2 => Command::AddSigner {
                    task: *id,
                    actor,
                    signer: other,
                    before: true,
                },
                3 => Command::AddSigner {
                    task: *id,
                    actor,
                    signer: other,
                    before: false,
                },
                4 => Command::RemoveSigner {
                    task: *id,
                    actor,
                    signer: other,
                },
                5 => Command::Withdraw { task: *id, actor },
                _ => Command::Urge {
                    task: *id,
                    actor: "b.organization_member".into(),
                },
            }
        }
        Pick::Cancel => Command::Cancel {
            actor: "b.secretary".into(),
            reason: "测试".into(),
        },
    })
}

fn start(def: &Definition, now: DateTime<Utc>) -> (InstanceState, Vec<RecordedEvent>) {
    let ctx = Context {
        now,
        directory: &Tree,
        calendar: Calendar::china(),
    };
    let s0 = InstanceState::new(uuid::Uuid::from_u128(7));
    let cmd = Command::Start {
        subject: Subject {
            person: Some("b.applicant".into()),
            org: "b".into(),
            attrs: Values::new(),
        },
        initiator: "b.organization_member".into(),
        inputs: Values::new(),
    };
    let t = apply(def, &s0, &cmd, &ctx).unwrap();
    (t.state, t.events)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_the_invariants(picks in prop::collection::vec(pick(), 1..120)) {
        let def = definition();
        let mut now = t0();
        let (mut state, mut log) = start(&def, now);
        for p in &picks {
            if let Pick::Advance { hours } = p {
                now += Duration::hours(i64::from(*hours));
                continue;
            }
            let Some(cmd) = to_command(&state, p) else { continue };
            let ctx = Context { now, directory: &Tree, calendar: Calendar::china() };
            let before = state.clone();
            match apply(&def, &state, &cmd, &ctx) {
                Err(_) => {
                    // A rejection is a value and changes nothing.
                    prop_assert_eq!(&state, &before);
                }
                Ok(t) => {
                    prop_assert_eq!(t.events.first().map(|e| e.seq), if t.events.is_empty() { None } else { Some(before.seq + 1) });
                    log.extend(t.events.iter().cloned());
                    state = t.state;
                    // Applying the same command again has no further effect.
                    if let Ok(again) = apply(&def, &state, &cmd, &ctx) {
                        let only_timer_noop = again.events.is_empty();
                        let is_ballot_or_fire = matches!(cmd, Command::FireTimer { .. });
                        prop_assert!(only_timer_noop || !is_ballot_or_fire, "second {:?} produced {} events", cmd, again.events.len());
                        prop_assert!(
                            !matches!(cmd, Command::Complete { .. } | Command::CastBallot { .. } | Command::SubmitRating { .. } | Command::Cancel { .. } | Command::Withdraw { .. } | Command::Urge { .. }),
                            "a repeated decision was accepted: {:?}", cmd
                        );
                    }
                }
            }
            // The log is chained and replays to the live state.
            prop_assert!(verify_chain(&log).is_ok());
            prop_assert_eq!(&InstanceState::replay(state.id, &log), &state);
            // Every open task belongs to an active step of the current stage.
            for t in state.tasks.values().filter(|t| t.status == TaskStatus::Open) {
                let (stage, _) = def.step(&t.step).unwrap();
                prop_assert_eq!(state.stage.as_deref(), Some(stage.id.as_str()));
            }
        }
    }
}

#[test]
fn two_approvers_cannot_both_decide_the_same_task() {
    let def = definition();
    let now = t0();
    let (state, _) = start(&def, now);
    let ctx = Context {
        now,
        directory: &Tree,
        calendar: Calendar::china(),
    };
    let (task, t) = state
        .tasks
        .iter()
        .next()
        .map(|(k, v)| (*k, v.clone()))
        .unwrap();
    let mut form = Values::new();
    form.insert("on".into(), "2026-09-24".into());
    let cmd = Command::Complete {
        task,
        actor: t.assignee.clone(),
        outcome: None,
        form,
        comment: None,
        return_to: None,
    };
    let first = apply(&def, &state, &cmd, &ctx).unwrap();
    let second = apply(&def, &first.state, &cmd, &ctx).unwrap_err();
    assert_eq!(second.to_string(), "该事项已经办理过，不能重复办理");
    let intruder = Command::Complete {
        task,
        actor: "x".into(),
        outcome: None,
        form: Values::new(),
        comment: None,
        return_to: None,
    };
    let refused = apply(&def, &state, &intruder, &ctx).unwrap_err();
    assert!(
        matches!(refused, Rejection::NotAnAssignee(_)),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!("该事项由「{}」办理", t.assignee)
    );
}

#[test]
fn returning_re_arms_the_deadline_timers() {
    let def = definition();
    let now = t0();
    let (state, _) = start(&def, now);
    let ctx = Context {
        now,
        directory: &Tree,
        calendar: Calendar::china(),
    };
    let mut form = Values::new();
    form.insert("on".into(), "2026-09-24".into());
    let (task, t) = state
        .tasks
        .iter()
        .next()
        .map(|(k, v)| (*k, v.clone()))
        .unwrap();
    let s1 = apply(
        &def,
        &state,
        &Command::Complete {
            task,
            actor: t.assignee,
            outcome: None,
            form: form.clone(),
            comment: None,
            return_to: None,
        },
        &ctx,
    )
    .unwrap()
    .state;
    assert!(s1.timers.keys().any(|k| k.starts_with("review#1:due")));
    let (rtask, rt) = s1.open_tasks("review")[0];
    let rt = rt.clone();
    let later = now + Duration::days(1);
    let ctx2 = Context {
        now: later,
        directory: &Tree,
        calendar: Calendar::china(),
    };
    let s2 = apply(
        &def,
        &s1,
        &Command::Complete {
            task: rtask,
            actor: rt.assignee,
            outcome: Some("return".into()),
            form: Values::new(),
            comment: Some("材料不全".into()),
            return_to: None,
        },
        &ctx2,
    )
    .unwrap()
    .state;
    assert!(
        !s2.timers.keys().any(|k| k.starts_with("review#")),
        "old timers disarmed"
    );
    let (atask, at) = s2.open_tasks("apply")[0];
    let at = at.clone();
    let s3 = apply(
        &def,
        &s2,
        &Command::Complete {
            task: atask,
            actor: at.assignee,
            outcome: None,
            form,
            comment: None,
            return_to: None,
        },
        &ctx2,
    )
    .unwrap()
    .state;
    let due = s3
        .timers
        .get("review#2:due")
        .expect("deadline re-armed for the second entry");
    // 3 days after 2026-09-25 (local) = 2026-09-28, missed at its end.
    assert_eq!(due.at.to_rfc3339(), "2026-09-28T16:00:00+00:00");
}

/// Drives the property-test definition down its happy path, so the random
/// walks above are known to have a reachable end, and checks the stages.
#[test]
fn happy_path_reaches_the_end_through_every_kind() {
    let def = definition();
    let mut now = t0();
    let (mut state, mut log) = start(&def, now);
    let mut visited = std::collections::BTreeSet::new();
    for _ in 0..500 {
        if state.status != crate::state::Status::Running {
            break;
        }
        visited.insert(state.stage.clone().unwrap_or_default());
        let ctx = Context {
            now,
            directory: &Tree,
            calendar: Calendar::china(),
        };
        let open: Vec<_> = state
            .tasks
            .iter()
            .filter(|(_, t)| t.status == TaskStatus::Open)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let cmd = if let Some((id, t)) = open.first() {
            match t.kind {
                crate::state::TaskKind::Ballot => Command::CastBallot {
                    step: t.step.clone(),
                    voter: t.assignee.clone(),
                    choice: "yes".into(),
                    written: false,
                },
                crate::state::TaskKind::Rate => Command::SubmitRating {
                    step: t.step.clone(),
                    rater: t.assignee.clone(),
                    ratings: ["b.m1", "b.m2", "b.m3"]
                        .iter()
                        .map(|p| (p.to_string(), RatingValue::Grade("good".into())))
                        .collect(),
                },
                crate::state::TaskKind::Work => {
                    let mut form = Values::new();
                    if t.step == "apply" {
                        form.insert("on".into(), "2026-09-24".into());
                    }
                    let outcome = if t.step == "apply" || t.step == "check_in" {
                        "done"
                    } else {
                        "approve"
                    };
                    Command::Complete {
                        task: *id,
                        actor: t.assignee.clone(),
                        outcome: Some(outcome.into()),
                        form,
                        comment: None,
                        return_to: None,
                    }
                }
            }
        } else {
            let (timer, at) = state
                .timers
                .iter()
                .map(|(k, v)| (k.clone(), v.at))
                .min_by_key(|(_, at)| *at)
                .expect("something is pending");
            now = now.max(at);
            Command::FireTimer { timer }
        };
        let ctx = Context { now, ..ctx };
        let t = apply(&def, &state, &cmd, &ctx).unwrap_or_else(|r| panic!("{cmd:?}: {r}"));
        log.extend(t.events.iter().cloned());
        state = t.state;
    }
    assert_eq!(state.status, crate::state::Status::Ended("done".into()));
    assert_eq!(visited.into_iter().collect::<Vec<_>>(), ["first", "second"]);
    assert_eq!(InstanceState::replay(state.id, &log), state);
    let rate = &state.steps["rate"];
    // 1/3 of three ratees may be 优秀; the other two move down.
    let good = rate.results.values().filter(|g| *g == "good").count();
    assert_eq!(good, 1);
}
