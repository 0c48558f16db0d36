//! The history of an instance in words: one line per event a person
//! cares about, people by name, steps and outcomes by their labels.

use std::collections::HashMap;

use uuid::Uuid;

/// One line of the history, in words; `None` for bookkeeping events.
/// `steps` names each task's step (from the events that created them).
pub(super) fn describe(
    event: &stageflow_engine::Event,
    names: &HashMap<String, String>,
    steps: &HashMap<Uuid, String>,
    def: &stageflow_engine::Definition,
) -> Option<String> {
    use stageflow_engine::Event as E;
    let step_name = |id: &str| def.step(id).map_or(id.to_string(), |(_, s)| s.name.clone());
    let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    let note = |what: &str, c: &Option<String>| {
        c.as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| format!("，{what}：{c}"))
            .unwrap_or_default()
    };
    Some(match event {
        E::InstanceStarted { initiator, .. } => format!("{} 发起流程", name(initiator)),
        E::StageEntered { stage } => {
            let name = def
                .stages
                .iter()
                .find(|s| &s.id == stage)
                .map_or(stage.clone(), |s| s.name.clone());
            format!("进入阶段「{name}」")
        }
        E::TaskCreated { record, .. } => {
            format!(
                "「{}」交由 {} 办理",
                step_name(&record.step),
                name(&record.assignee)
            )
        }
        // A ballot or a rating completes its task; its own line says so.
        E::TaskCompleted {
            outcome,
            automatic: None,
            ..
        } if outcome == "voted" || outcome == "rated" => return None,
        E::Commented { actor, text, .. } => format!("{} 意见：{text}", name(actor)),
        E::TaskCompleted {
            task,
            actor,
            outcome,
            comment,
            automatic,
            ..
        } => {
            let mut line = match automatic {
                Some(reason) => format!("系统：{reason}"),
                None => format!(
                    "{} 办理：{}",
                    name(actor),
                    outcome_label(def, steps.get(task).map(String::as_str), outcome)
                ),
            };
            if let Some(c) = comment.as_deref().filter(|c| !c.trim().is_empty()) {
                line.push_str(&format!("，意见：{c}"));
            }
            line
        }
        E::StepCompleted { step, outcome, .. } => {
            format!(
                "环节「{}」完成（{}）",
                step_name(step),
                outcome_label(def, Some(step), outcome)
            )
        }
        E::Escalated { reason, .. } => format!("督办：{reason}"),
        E::Urged { actor, .. } => format!("{} 催办", name(actor)),
        E::CopiedTo {
            actor, to, comment, ..
        } => {
            let to: Vec<String> = to.iter().map(name).collect();
            format!(
                "{} 抄送给 {}{}",
                name(actor),
                to.join("、"),
                note("附言", comment)
            )
        }
        E::TaskTransferred {
            from, to, comment, ..
        } => {
            format!(
                "{} 转办给 {}{}",
                name(from),
                name(to),
                note("说明", comment)
            )
        }
        E::TaskDelegated {
            from, to, comment, ..
        } => {
            format!(
                "{} 委派 {} 提出意见{}",
                name(from),
                name(to),
                note("说明", comment)
            )
        }
        E::SignerAdded {
            by,
            signer,
            position,
            ..
        } => format!(
            "{} {}加签 {}",
            name(by),
            if position == "before" { "前" } else { "后" },
            name(signer)
        ),
        E::Withdrawn { by, .. } => format!("{} 撤回了自己的办理", name(by)),
        E::BallotCast { voter, .. } => format!("{} 已投票", name(voter)),
        E::VoteClosed {
            step,
            tally,
            quorum,
            held_on,
            ..
        } => {
            let choice = |c: &str| match c {
                "yes" => "赞成".to_string(),
                "no" => "反对".to_string(),
                "abstain" => "弃权".to_string(),
                other => outcome_label(def, Some(step), other),
            };
            let counts: Vec<String> = tally
                .counts
                .iter()
                .map(|(c, n)| format!("{} {n}", choice(c)))
                .collect();
            format!(
                "「{}」计票：应到 {} 人，实到 {} 人，投票 {} 人（{}）{}{}",
                step_name(step),
                tally.eligible,
                tally.present,
                tally.cast,
                counts.join("，"),
                if *quorum { "" } else { "，到会人数不足" },
                held_on
                    .map(|d| format!("；会议召开日期 {}", super::format::date_zh(d)))
                    .unwrap_or_default()
            )
        }
        E::RatingSubmitted { rater, .. } => format!("{} 提交评议", name(rater)),
        E::RatingClosed { step, results } => {
            let grade = |g: &str| {
                def.step(step)
                    .and_then(|(_, st)| match &st.kind {
                        stageflow_engine::model::StepKind::Rating(r) => match &r.scheme {
                            stageflow_engine::model::RatingScheme::Scale { grades } => {
                                grades.iter().find(|x| x.id == g).map(|x| x.name.clone())
                            }
                            stageflow_engine::model::RatingScheme::Rubric { grades, .. } => {
                                grades.iter().find(|x| x.id == g).map(|x| x.name.clone())
                            }
                        },
                        _ => None,
                    })
                    .unwrap_or_else(|| {
                        if g == "no_grade" {
                            "不评等次".into()
                        } else {
                            g.to_string()
                        }
                    })
            };
            let list: Vec<String> = results
                .iter()
                .map(|(p, g)| format!("{} {}", name(p), grade(g)))
                .collect();
            format!("「{}」评议结果：{}", step_name(step), list.join("，"))
        }
        E::InstanceEnded { end_state } => {
            let name = def
                .end_states
                .iter()
                .find(|e| &e.id == end_state)
                .map_or(end_state.clone(), |e| e.name.clone());
            format!("流程结束：{name}")
        }
        E::InstanceCancelled { .. } => "流程已撤销".to_string(),
        _ => return None,
    })
}

/// An outcome as the step's button said it.
pub(super) fn outcome_label(
    def: &stageflow_engine::Definition,
    step: Option<&str>,
    outcome: &str,
) -> String {
    step.and_then(|id| def.step(id))
        .and_then(|(_, st)| st.outcomes.get(outcome).map(|o| o.label.clone()))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| stageflow_app::views::default_label(outcome))
}
