//! The keys each object of the language allows. The decoder and the JSON
//! Schema both read these lists, so they cannot drift apart.

/// Top level.
pub const DEFINITION: &[&str] = &[
    "stageflow",
    "id",
    "name",
    "description",
    "version",
    "subject",
    "timezone",
    "calendar",
    "empty_assignee",
    "deadline_on_holiday",
    "roles",
    "inputs",
    "checks",
    "end_states",
    "stages",
    "schedules",
    "templates",
];
/// A stage.
pub const STAGE: &[&str] = &["id", "name", "steps", "then", "window"];
/// A stage window.
pub const WINDOW: &[&str] = &["opens", "closes"];
/// Keys every step kind allows.
pub const STEP: &[&str] = &[
    "id",
    "name",
    "kind",
    "after",
    "when",
    "required",
    "assignee",
    "due",
    "earliest",
    "remind",
    "escalate",
    "on_timeout",
    "outcomes",
    "form",
    "checks",
    "set",
    "comment_required",
    "hide",
    "operations",
];
/// Step kinds.
pub const STEP_KINDS: &[&str] = &[
    "task",
    "approval",
    "vote",
    "rating",
    "wait",
    "recurring",
    "fanout",
    "notify",
    "subflow",
];
/// Extra keys of approval steps.
pub const APPROVAL: &[&str] = &["mode", "ratio"];
/// Extra keys of vote steps.
pub const VOTE: &[&str] = &["voters", "choices", "quorum", "pass"];
/// Extra keys of rating steps.
pub const RATING: &[&str] = &["raters", "ratees", "no_grade", "scale", "rubric"];
/// Extra keys of wait steps.
pub const WAIT: &[&str] = &["for", "until"];
/// Extra keys of recurring steps.
pub const RECURRING: &[&str] = &["every", "within", "until", "orgs", "role"];
/// Extra keys of fanout steps.
pub const FANOUT: &[&str] = &["orgs", "role"];
/// Extra keys of notify steps.
pub const NOTIFY: &[&str] = &["template"];
/// Extra keys of subflow steps.
pub const SUBFLOW: &[&str] = &["workflow", "inputs"];
/// A form field or input.
pub const FIELD: &[&str] = &[
    "id",
    "label",
    "type",
    "required",
    "default",
    "options",
    "min",
    "max",
    "future",
    "not_before",
    "eligible",
];
/// A check.
pub const CHECK: &[&str] = &["rule", "message"];
/// An assignee given as a mapping.
pub const ASSIGNEE: &[&str] = &["role", "org", "field"];
/// An organization selector.
pub const ORG_SELECTOR: &[&str] = &["kind", "under"];
/// Reminders.
pub const REMIND: &[&str] = &["before", "at_due", "every", "max"];
/// An escalation.
pub const ESCALATE: &[&str] = &["after", "limit", "to"];
/// An automatic timeout outcome.
pub const TIMEOUT: &[&str] = &["after", "limit", "outcome"];
/// An outcome given as a mapping.
pub const OUTCOME: &[&str] = &["to", "label", "max_times"];
/// A computed variable.
pub const SET: &[&str] = &["date", "expr"];
/// A rubric.
pub const RUBRIC: &[&str] = &["items", "grades"];
/// A rubric item.
pub const RUBRIC_ITEM: &[&str] = &["id", "name", "max", "min", "weight"];
/// A grade.
pub const GRADE: &[&str] = &["id", "name", "max_share", "min_score"];
/// A schedule.
pub const SCHEDULE: &[&str] = &[
    "id", "cron", "timezone", "orgs", "inputs", "overlap", "catch_up",
];
/// A schedule's organization selector.
pub const SCHEDULE_ORGS: &[&str] = &["kind", "under"];
/// A mail template.
pub const TEMPLATE: &[&str] = &["subject", "body"];
