//! The built-in vocabulary: roles, organization kinds, mail kinds.
//!
//! Definitions may declare more roles under `roles:`; the directory's own
//! vocabulary is configurable in the server.

/// Built-in roles: id and the name users see.
pub const ROLES: &[(&str, &str)] = &[
    ("secretary", "书记"),
    ("deputy_secretary", "副书记"),
    ("organization_member", "组织委员"),
    ("publicity_member", "宣传委员"),
    ("discipline_member", "纪检委员"),
    ("committee_member", "委员"),
    ("group_leader", "党小组长"),
    ("full_member", "正式党员"),
    ("probationary_member", "预备党员"),
    ("trainer", "培养联系人"),
    ("introducer", "入党介绍人"),
    ("org_officer", "组织员"),
    ("org_department", "组织部门"),
    ("chair", "主席"),
    ("vice_chair", "副主席"),
    ("member", "成员"),
    ("supervisor", "督导组"),
    ("leading_group_office", "领导小组办公室"),
    ("leading_group", "领导小组成员"),
    ("branch_secretary", "支部书记"),
    ("party_representative", "党代表"),
];

/// A person's 身份 in the directory, in the order of the procedure.
pub const PERSON_STATUSES: &[&str] = &[
    "群众",
    "申请人",
    "积极分子",
    "发展对象",
    "预备党员",
    "正式党员",
];

/// Built-in organization kinds.
pub const ORG_KINDS: &[&str] = &[
    "党委",
    "党工委",
    "党总支",
    "党支部",
    "党小组",
    "组织部",
    "工会",
    "分工会",
    "团委",
    "团支部",
    "妇委会",
];

/// Known calendars.
pub const CALENDARS: &[&str] = &["cn"];

/// Mail kinds the engine sends; a definition may override their templates.
pub const MAIL_KINDS: &[&str] = &[
    "task_assigned",
    "reminder",
    "overdue",
    "escalation",
    "notice",
    "urge",
];

/// Variables a mail template may use.
pub const MAIL_VARS: &[&str] = &[
    "workflow",
    "instance",
    "stage",
    "step",
    "task",
    "due",
    "subject",
    "reason",
    "recipient",
    "link",
    "actor",
];

/// The name of a built-in role.
pub fn role_name(id: &str) -> Option<&'static str> {
    ROLES.iter().find(|(r, _)| *r == id).map(|(_, n)| *n)
}

/// Step kinds with the names users see.
pub const STEP_KIND_NAMES: &[(&str, &str)] = &[
    ("task", "任务"),
    ("approval", "审批"),
    ("vote", "表决"),
    ("rating", "评议"),
    ("wait", "等待"),
    ("recurring", "定期"),
    ("fanout", "分发"),
    ("notify", "通知"),
    ("subflow", "子流程"),
];

/// The name of a step kind (the id itself when unknown).
pub fn step_kind_name(kind: &str) -> &str {
    STEP_KIND_NAMES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| *n)
        .unwrap_or(kind)
}

/// Field types with the names users see.
pub const FIELD_TYPES: &[(&str, &str)] = &[
    ("text", "文本"),
    ("textarea", "多行文本"),
    ("integer", "整数"),
    ("number", "数字"),
    ("boolean", "是/否"),
    ("date", "日期"),
    ("person", "人员"),
    ("org", "组织"),
    ("file", "文件"),
    ("choice", "单选"),
];

/// `` `id`（名称）、`id`（名称） ``: ids to write, each with its name.
pub fn ids_with_names(items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(id, name)| format!("`{id}`（{name}）"))
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_kind_has_a_name() {
        let named: Vec<&str> = STEP_KIND_NAMES.iter().map(|(k, _)| *k).collect();
        assert_eq!(named, crate::keys::STEP_KINDS);
        assert_eq!(step_kind_name("vote"), "表决");
        assert_eq!(
            ids_with_names(&ROLES[..2]),
            "`secretary`（书记）、`deputy_secretary`（副书记）"
        );
    }
}
