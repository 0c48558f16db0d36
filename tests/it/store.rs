//! The store contract, against a real SQLite file and a real PostgreSQL
//! database. Written over `Arc<dyn Store>` so every backend runs the same
//! checks.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use stageflow_engine::machine::{Command, Context, Rejection};
use stageflow_engine::state::{InstanceState, Status, Subject, TaskStatus, Values, verify_chain};
use stageflow_engine::{Definition, apply};
use stageflow_runtime::synthetic::SyntheticDirectory;
use stageflow_runtime::{ExecError, Runtime, StartRequest};
use stageflow_store::{
    PgOptions, PgStore, SqliteOptions, SqliteStore, Store, StoreError, StoredDefinition, Wakeup,
};
use uuid::Uuid;

use crate::root;

fn leave_request() -> (Definition, String) {
    let path = root().join("tests/fixtures/good/leave-request.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = stageflow_workflows::load_str("leave-request.yaml", &text).unwrap();
    (loaded.definition, text)
}

fn t0() -> DateTime<Utc> {
    // 2026-09-24 09:00 in Shanghai, just before the 中秋/国庆 holidays.
    Utc.with_ymd_and_hms(2026, 9, 24, 1, 0, 0).unwrap()
}

/// The test's changes to the directory, as the audit trail records them.
fn audit() -> stageflow_store::Audit<'static> {
    stageflow_store::Audit {
        actor: "test",
        at: t0(),
    }
}

async fn sqlite_file(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let path = dir.path().join("stageflow.db");
    Arc::new(
        SqliteStore::open(&SqliteOptions::new(path.display().to_string()))
            .await
            .unwrap(),
    )
}

fn inputs() -> Values {
    let mut v = Values::new();
    v.insert("days".into(), 3.into());
    v
}

fn form() -> Values {
    let mut v = Values::new();
    v.insert("reason".into(), "探亲".into());
    v
}

async fn started(store: Arc<dyn Store>) -> (Runtime, Uuid) {
    let runtime = Runtime::new(store, Arc::new(SyntheticDirectory::default()));
    let (def, source) = leave_request();
    runtime.publish(def, source, None, t0()).await.unwrap();
    let id = Uuid::from_u128(42);
    let subject = Subject {
        person: Some("branch-1.applicant".into()),
        org: "branch-1".into(),
        attrs: Values::new(),
    };
    let request = StartRequest {
        workflow: "leave-request".into(),
        version: None,
        id,
        subject,
        initiator: "branch-1.applicant".into(),
        inputs: inputs(),
    };
    runtime.start(request, t0()).await.unwrap();
    (runtime, id)
}

/// Every check of the contract, in order, against one store.
async fn contract(store: Arc<dyn Store>) {
    // Definitions are immutable once published.
    let (def, source) = leave_request();
    let stored = StoredDefinition {
        definition: def.clone(),
        source: source.clone(),
        owner: None,
    };
    store.put_definition(&stored, t0()).await.unwrap();
    store.put_definition(&stored, t0()).await.unwrap();
    let changed = StoredDefinition {
        definition: def.clone(),
        source: format!("{source}\n# changed\n"),
        owner: None,
    };
    assert!(matches!(
        store.put_definition(&changed, t0()).await,
        Err(StoreError::DefinitionExists { .. })
    ));
    let listed = store.list_definitions().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "请假审批");

    let (runtime, id) = started(store.clone()).await;
    let state = store.instance(id).await.unwrap().unwrap();
    assert_eq!(state.status, Status::Running);
    let events = store.events(id).await.unwrap();
    assert_eq!(events.len() as u64, state.seq);
    verify_chain(&events).unwrap();
    assert_eq!(InstanceState::replay(id, &events), state);

    // The applicant's task is in their inbox.
    let inbox = store
        .tasks_for("branch-1.applicant", "open", 50)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].step, "submit");
    let submit = inbox[0].id;

    // Two commands computed from the same state: one wins, the other
    // conflicts and writes nothing.
    let ctx = Context {
        now: t0(),
        directory: &SyntheticDirectory::default(),
        calendar: stageflow_engine::calendar::Calendar::china(),
    };
    let cmd = Command::Complete {
        task: submit,
        actor: "branch-1.applicant".into(),
        outcome: None,
        form: form(),
        comment: None,
        return_to: None,
    };
    let a = apply(&def, &state, &cmd, &ctx).unwrap();
    let b = apply(&def, &state, &cmd, &ctx).unwrap();
    store.commit(state.seq, &a).await.unwrap();
    let after_a = store.events(id).await.unwrap().len();
    assert!(matches!(store.commit(state.seq, &b).await, Err(StoreError::Conflict(x)) if x == id));
    assert_eq!(
        store.events(id).await.unwrap().len(),
        after_a,
        "the losing commit wrote nothing"
    );
    assert_eq!(store.instance(id).await.unwrap().unwrap(), a.state);

    // Retrying the same command on fresh state is refused by the engine.
    let again = runtime.execute(id, &cmd, t0()).await.unwrap_err();
    assert!(
        matches!(again, ExecError::Rejected(Rejection::AlreadyDecided)),
        "{again}"
    );

    // The approval task is open with its deadline: 3 working days after
    // 2026-09-24 skips 中秋 (09-25..27): 09-30, missed at its end (16:00 UTC).
    let tasks = store
        .tasks_for("branch-1.secretary", "open", 50)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].due_at.unwrap().to_rfc3339(),
        "2026-09-30T16:00:00+00:00"
    );
    let done = store
        .tasks_for("branch-1.applicant", "done", 50)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome.as_deref(), Some("done"));

    // Timers: nothing due now; the reminder is due on 09-29 09:00.
    assert!(store.due_timers(t0(), 10).await.unwrap().is_empty());
    let next = store.next_timer_at().await.unwrap().unwrap();
    assert_eq!(next.to_rfc3339(), "2026-09-29T01:00:00+00:00");
    let fired = runtime.fire_due_timers(next).await.unwrap();
    assert_eq!(fired, 1);
    assert_eq!(
        runtime.fire_due_timers(next).await.unwrap(),
        0,
        "a timer fires once"
    );
    let mails = store.pending_mail(100).await.unwrap();
    let kinds: Vec<&str> = mails.iter().map(|m| m.mail.kind.as_str()).collect();
    assert_eq!(kinds, ["task_assigned", "task_assigned", "reminder"]);
    let keys: std::collections::BTreeSet<&str> =
        mails.iter().map(|m| m.mail.key.as_str()).collect();
    assert_eq!(keys.len(), mails.len(), "idempotency keys are unique");

    // Past the deadline, the escalation and then the automatic approval.
    let late = t0() + Duration::days(20);
    runtime.fire_due_timers(late).await.unwrap();
    let end = store.instance(id).await.unwrap().unwrap();
    assert_eq!(end.status, Status::Ended("approved".into()));
    let t = store.instance_tasks(id).await.unwrap();
    assert!(t.iter().all(|t| t.status != "open"));
    assert!(
        store.next_timer_at().await.unwrap().is_none(),
        "an ended instance keeps no timers"
    );
    let events = store.events(id).await.unwrap();
    verify_chain(&events).unwrap();
    let json = serde_json::to_string(&events).unwrap();
    assert!(
        json.contains("escalated"),
        "the escalation is in the history"
    );
    assert!(
        json.contains("期限已过，按规则自动通过"),
        "the automatic approval says why"
    );
    assert_eq!(InstanceState::replay(id, &events), end);
    let closed: Vec<_> = end
        .tasks
        .values()
        .filter(|t| matches!(t.status, TaskStatus::Done(_)))
        .collect();
    assert_eq!(closed.len(), 2);

    // Mail claims are leased and fenced: while one process holds a mail no
    // other gets it; once the lease ran out another takes it over, and the
    // first can then neither send it (its lease is gone) nor record it.
    let first = store
        .claim_mail(late, late + Duration::minutes(5), 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let key = first[0].mail.key.clone();
    let during = store
        .claim_mail(
            late + Duration::minutes(1),
            late + Duration::minutes(6),
            100,
        )
        .await
        .unwrap();
    assert!(
        during.iter().all(|m| m.mail.key != key),
        "a held mail is not handed out twice"
    );
    let later = late + Duration::minutes(10);
    let second = store
        .claim_mail(later, later + Duration::minutes(5), 100)
        .await
        .unwrap();
    let taken = second
        .iter()
        .find(|m| m.mail.key == key)
        .expect("taken over after the lease");
    assert_ne!(taken.lease, first[0].lease);
    assert!(
        !store
            .mail_lease_held(&key, first[0].lease, later)
            .await
            .unwrap()
    );
    assert!(!store.mail_sent(&key, first[0].lease, later).await.unwrap());
    assert!(
        store
            .mail_lease_held(&key, taken.lease, later)
            .await
            .unwrap()
    );
    assert!(store.mail_sent(&key, taken.lease, later).await.unwrap());
    assert!(
        store
            .pending_mail(100)
            .await
            .unwrap()
            .iter()
            .all(|m| m.mail.key != key)
    );
}

/// Tokens by kind: a token opens only its own kind, expires, a one-time
/// token is used once, and a person's feed tokens are revoked together.
async fn tokens(store: Arc<dyn Store>) {
    use stageflow_store::{NewPerson, TokenKind};
    store
        .create_person(
            &NewPerson {
                id: Some("p1".into()),
                name: "王芳".into(),
                email: Some("Wang.Fang@Example.org".into()),
                ..Default::default()
            },
            &audit(),
        )
        .await
        .unwrap();
    let hour = Duration::hours(1);
    store
        .put_token("h-personal", "p1", TokenKind::Personal, t0(), None)
        .await
        .unwrap();
    store
        .put_token(
            "h-session",
            "p1",
            TokenKind::Session,
            t0(),
            Some(t0() + hour),
        )
        .await
        .unwrap();
    let person = |hash: &'static str, kind, at| {
        let store = store.clone();
        async move { store.token_person(hash, kind, at).await.unwrap() }
    };
    assert_eq!(
        person("h-personal", TokenKind::Personal, t0())
            .await
            .as_deref(),
        Some("p1")
    );
    assert_eq!(person("h-personal", TokenKind::Session, t0()).await, None);
    assert_eq!(person("h-session", TokenKind::Personal, t0()).await, None);
    assert_eq!(
        person("h-session", TokenKind::Session, t0())
            .await
            .as_deref(),
        Some("p1")
    );
    assert_eq!(
        person("h-session", TokenKind::Session, t0() + hour).await,
        None
    );
    // Making a token later purges the expired session.
    store
        .put_token(
            "h-link",
            "p1",
            TokenKind::LoginLink,
            t0() + hour * 2,
            Some(t0() + hour * 3),
        )
        .await
        .unwrap();
    assert_eq!(
        person("h-session", TokenKind::Session, t0()).await,
        None,
        "purged"
    );
    // A one-time link: used once; an expired one is used up and refused.
    assert_eq!(
        store
            .take_token("h-link", TokenKind::LoginLink, t0() + hour * 2)
            .await
            .unwrap()
            .as_deref(),
        Some("p1")
    );
    assert_eq!(
        store
            .take_token("h-link", TokenKind::LoginLink, t0() + hour * 2)
            .await
            .unwrap(),
        None
    );
    store
        .put_token(
            "h-old-link",
            "p1",
            TokenKind::LoginLink,
            t0(),
            Some(t0() + hour),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .take_token("h-old-link", TokenKind::LoginLink, t0() + hour)
            .await
            .unwrap(),
        None
    );
    // Feeds are revoked together; other kinds stay.
    for h in ["h-feed-1", "h-feed-2"] {
        store
            .put_token(h, "p1", TokenKind::Feed, t0(), None)
            .await
            .unwrap();
    }
    assert_eq!(
        store.delete_tokens_of("p1", TokenKind::Feed).await.unwrap(),
        2
    );
    assert_eq!(person("h-feed-1", TokenKind::Feed, t0()).await, None);
    assert_eq!(
        person("h-personal", TokenKind::Personal, t0())
            .await
            .as_deref(),
        Some("p1")
    );
    // Addresses compare without case.
    assert_eq!(
        store
            .people_by_email("wang.fang@example.ORG")
            .await
            .unwrap(),
        vec!["p1".to_string()]
    );
    assert_eq!(
        store.people_by_email("nobody@example.org").await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn tokens_open_their_own_kind_expire_and_are_used_once() {
    let dir = tempfile::tempdir().unwrap();
    tokens(sqlite_file(&dir).await).await;
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    tokens(Arc::new(store)).await;
}

/// What a request's authorization and a command's directory snapshot read,
/// each in one round trip: a token's holder with their roles and the paths
/// of the roles' organizations, an organization's chain of ancestors, and
/// the role holders of several organizations.
async fn holders_and_chains(store: Arc<dyn Store>) {
    use stageflow_store::{Membership, NewOrg, NewPerson, TokenKind};
    let org = |id: &str, kind: &str, parent: Option<&str>| NewOrg {
        id: Some(id.into()),
        name: format!("{id} 名称"),
        kind: kind.into(),
        parent: parent.map(str::to_string),
        ..Default::default()
    };
    let role = |org: &str, role: &str| Membership {
        org: org.into(),
        role: role.into(),
    };
    let people = [
        NewPerson {
            id: Some("sec".into()),
            name: "李书记".into(),
            memberships: vec![role("b1", "secretary"), role("committee", "member")],
            ..Default::default()
        },
        NewPerson {
            id: Some("loner".into()),
            name: "赵某".into(),
            ..Default::default()
        },
        NewPerson {
            id: Some("org".into()),
            name: "钱委员".into(),
            memberships: vec![role("b1", "organization_member")],
            ..Default::default()
        },
    ];
    store
        .import_directory(
            &[
                org("county", "党委", None),
                org("committee", "党委", Some("county")),
                org("b1", "党支部", Some("committee")),
            ],
            &people,
            &audit(),
        )
        .await
        .unwrap();
    let hour = Duration::hours(1);
    store
        .put_token("h-sec", "sec", TokenKind::Personal, t0(), None)
        .await
        .unwrap();
    store
        .put_token(
            "h-loner",
            "loner",
            TokenKind::Session,
            t0(),
            Some(t0() + hour),
        )
        .await
        .unwrap();

    let sec = store
        .token_holder("h-sec", TokenKind::Personal, t0())
        .await
        .unwrap()
        .expect("the secretary's token");
    assert_eq!(sec.person, "sec");
    assert_eq!(sec.name.as_deref(), Some("李书记"));
    assert_eq!(
        sec.roles,
        vec![
            (role("b1", "secretary"), "/county/committee/b1/".to_string()),
            (
                role("committee", "member"),
                "/county/committee/".to_string()
            ),
        ]
    );
    let loner = store
        .token_holder("h-loner", TokenKind::Session, t0())
        .await
        .unwrap()
        .expect("a session");
    assert_eq!((loner.person.as_str(), loner.roles.len()), ("loner", 0));
    // The wrong kind, an expired session, an unknown hash: nobody.
    for (hash, kind, at) in [
        ("h-sec", TokenKind::Session, t0()),
        ("h-loner", TokenKind::Session, t0() + hour),
        ("h-none", TokenKind::Personal, t0()),
    ] {
        assert_eq!(store.token_holder(hash, kind, at).await.unwrap(), None);
    }

    let chain: Vec<String> = store
        .org_chain("b1")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(chain, ["b1", "committee", "county"]);
    assert_eq!(store.org_chain("county").await.unwrap().len(), 1);
    assert!(store.org_chain("nowhere").await.unwrap().is_empty());

    let holders = store
        .holders_in(&["committee".to_string(), "b1".to_string()])
        .await
        .unwrap();
    let triple = |o: &str, r: &str, p: &str| (o.to_string(), r.to_string(), p.to_string());
    assert_eq!(
        holders,
        vec![
            triple("b1", "organization_member", "org"),
            triple("b1", "secretary", "sec"),
            triple("committee", "member", "sec"),
        ]
    );
    assert!(store.holders_in(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_token_s_holder_an_organization_s_chain_and_role_holders_in_one_query() {
    let dir = tempfile::tempdir().unwrap();
    holders_and_chains(sqlite_file(&dir).await).await;
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    holders_and_chains(Arc::new(store)).await;
}

/// A system clock reads nanoseconds; the stores keep microseconds. A
/// history written at such an instant still verifies when read back.
async fn nanosecond_instants_verify(store: Arc<dyn Store>) {
    let runtime = Runtime::new(store.clone(), Arc::new(SyntheticDirectory::default()));
    let (def, source) = leave_request();
    runtime.publish(def, source, None, t0()).await.unwrap();
    let at = t0() + Duration::nanoseconds(123_456_789);
    let request = StartRequest {
        workflow: "leave-request".into(),
        version: None,
        id: Uuid::from_u128(7),
        subject: Subject {
            person: Some("branch-1.applicant".into()),
            org: "branch-1".into(),
            attrs: Values::new(),
        },
        initiator: "branch-1.applicant".into(),
        inputs: inputs(),
    };
    runtime.start(request, at).await.unwrap();
    let events = store.events(Uuid::from_u128(7)).await.unwrap();
    assert!(!events.is_empty());
    verify_chain(&events).unwrap();
}

#[tokio::test]
async fn histories_written_at_nanosecond_instants_verify() {
    let dir = tempfile::tempdir().unwrap();
    nanosecond_instants_verify(sqlite_file(&dir).await).await;
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    nanosecond_instants_verify(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_file_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(sqlite_file(&dir).await).await;
}

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    contract(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_never_both_succeed_on_postgres() {
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    concurrent_approvals(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_armed_on_one_node_wakes_the_others_on_postgres() {
    let db = crate::pg::FreshDb::create().await;
    let one: Arc<dyn Store> = Arc::new(PgStore::open(&PgOptions::new(&db.url)).await.unwrap());
    let other = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    let mut wakeups = other.wakeups().await.unwrap().expect("PostgreSQL listens");
    let next = async |wakeups: &mut tokio::sync::mpsc::UnboundedReceiver<Wakeup>| {
        tokio::time::timeout(std::time::Duration::from_secs(10), wakeups.recv())
            .await
            .expect("no wake-up within 10 s")
            .unwrap()
    };
    // The start queues the 待办 mail for the applicant.
    let (runtime, id) = started(one.clone()).await;
    assert_eq!(next(&mut wakeups).await, Wakeup::Mail);
    // Submitting arms the approval's deadline (and queues its mail).
    let submit = one
        .tasks_for("branch-1.applicant", "open", 1)
        .await
        .unwrap()[0]
        .id;
    let cmd = Command::Complete {
        task: submit,
        actor: "branch-1.applicant".into(),
        outcome: None,
        form: form(),
        comment: None,
        return_to: None,
    };
    runtime.execute(id, &cmd, t0()).await.unwrap();
    assert!(one.next_timer_at().await.unwrap().is_some());
    let mut seen = vec![next(&mut wakeups).await];
    seen.push(next(&mut wakeups).await);
    assert!(seen.contains(&Wakeup::Timer), "{seen:?}");
    // SQLite: one process owns the file, nothing to listen for.
    let dir = tempfile::tempdir().unwrap();
    assert!(sqlite_file(&dir).await.wakeups().await.unwrap().is_none());
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let (_, id) = started(sqlite_file(&dir).await).await;
        id
    };
    let store = sqlite_file(&dir).await;
    let state = store
        .instance(id)
        .await
        .unwrap()
        .expect("instance persisted");
    let events = store.events(id).await.unwrap();
    assert_eq!(InstanceState::replay(id, &events), state);
    assert_eq!(
        store
            .tasks_for("branch-1.applicant", "open", 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_never_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_approvals(sqlite_file(&dir).await).await;
}

/// Eight decisions on one task at once: exactly one wins.
async fn concurrent_approvals(store: Arc<dyn Store>) {
    let (runtime, id) = started(store.clone()).await;
    let runtime = Arc::new(runtime);
    let submit = store
        .tasks_for("branch-1.applicant", "open", 1)
        .await
        .unwrap()[0]
        .id;
    runtime
        .execute(
            id,
            &Command::Complete {
                task: submit,
                actor: "branch-1.applicant".into(),
                outcome: None,
                form: form(),
                comment: None,
                return_to: None,
            },
            t0(),
        )
        .await
        .unwrap();
    let approve = store
        .tasks_for("branch-1.secretary", "open", 1)
        .await
        .unwrap()[0]
        .id;
    let mut handles = Vec::new();
    for outcome in [
        "approve", "reject", "approve", "reject", "approve", "reject", "approve", "reject",
    ] {
        let runtime = runtime.clone();
        handles.push(tokio::spawn(async move {
            let cmd = Command::Complete {
                task: approve,
                actor: "branch-1.secretary".into(),
                outcome: Some(outcome.into()),
                form: Values::new(),
                comment: Some(format!("{outcome} 意见")),
                return_to: None,
            };
            runtime.execute(id, &cmd, t0() + Duration::hours(1)).await
        }));
    }
    let mut wins = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => wins += 1,
            Err(ExecError::Rejected(Rejection::AlreadyDecided))
            | Err(ExecError::Rejected(Rejection::NotRunning(_))) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one decision wins");
    let events = store.events(id).await.unwrap();
    verify_chain(&events).unwrap();
    let decisions = events
        .iter()
        .filter(|e| matches!(&e.event, stageflow_engine::Event::TaskCompleted { task, .. } if *task == approve))
        .count();
    assert_eq!(decisions, 1);
}

/// A scheduled fan-out start reads the directory for a thousand
/// organizations at once (`snapshots`): each organization's directory is
/// the one a single command would read (`snapshot`), fan-out selectors
/// included (the star rating fans out from a 党委 to its 党支部).
async fn batched_snapshots_match_single_ones(store: Arc<dyn Store>) {
    use stageflow_runtime::directory::{DirectorySource, StoreDirectory};
    use stageflow_store::{Membership, NewOrg, NewPerson};
    let org = |id: &str, kind: &str, parent: Option<&str>| NewOrg {
        id: Some(id.into()),
        name: id.into(),
        kind: kind.into(),
        parent: parent.map(str::to_string),
        ..Default::default()
    };
    let mut orgs = vec![
        org("county", "党委", None),
        org("c1", "党委", Some("county")),
        org("c2", "党委", Some("county")),
    ];
    let mut people = vec![];
    let roles = ["secretary", "organization_member", "org_officer", "member"];
    for (i, parent) in ["c1", "c1", "c1", "c2", "c2"].iter().enumerate() {
        orgs.push(org(&format!("b{i}"), "党支部", Some(parent)));
    }
    for (i, o) in orgs.iter().enumerate() {
        let o = o.id.clone().unwrap();
        for (k, role) in roles.iter().enumerate() {
            // Not every organization has every role.
            if (i + k) % 3 != 0 {
                people.push(NewPerson {
                    id: Some(format!("{o}-{role}")),
                    name: format!("{o} {role}"),
                    memberships: vec![Membership {
                        org: o.clone(),
                        role: role.to_string(),
                    }],
                    ..Default::default()
                });
            }
        }
    }
    store
        .import_directory(&orgs, &people, &audit())
        .await
        .unwrap();
    let path = crate::root().join("workflows/library/star-rating.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let def = stageflow_workflows::load_str(&path.display().to_string(), &text)
        .map_err(|_| ())
        .unwrap()
        .definition;
    let source = StoreDirectory::new(store.clone());
    let all = store.orgs_under(None, None).await.unwrap();
    let batch = source.snapshots(&def, &all).await.unwrap();
    assert_eq!(batch.len(), all.len());
    let ids: Vec<String> = all.iter().map(|o| o.id.clone()).collect();
    let mut selected = 0;
    for (o, batched) in all.iter().zip(&batch) {
        let single = source.snapshot(&def, &o.id).await.unwrap();
        for x in &ids {
            assert_eq!(
                batched.parent(x),
                single.parent(x),
                "parent of {x} for {}",
                o.id
            );
            assert_eq!(batched.kind(x), single.kind(x), "kind of {x} for {}", o.id);
            for role in roles {
                assert_eq!(
                    batched.holders(x, role),
                    single.holders(x, role),
                    "{role} of {x} for {}",
                    o.id
                );
            }
            for kind in [None, Some("党支部"), Some("党委")] {
                let under = batched.orgs_under(x, kind);
                selected += under.len();
                assert_eq!(under, single.orgs_under(x, kind), "under {x} for {}", o.id);
            }
        }
    }
    // The selector was read: a 党委's snapshot lists its 党支部.
    assert!(selected > 0);
    assert_eq!(
        batch[1].orgs_under("c1", Some("党支部")),
        ["b0", "b1", "b2"]
    );
}

#[tokio::test]
async fn a_fan_out_start_reads_each_organization_s_directory_as_a_single_start_does() {
    let dir = tempfile::tempdir().unwrap();
    batched_snapshots_match_single_ones(sqlite_file(&dir).await).await;
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    batched_snapshots_match_single_ones(Arc::new(store)).await;
}

/// A page of tasks or a report reads its instances together: in the order
/// asked, unknown ids left out; and one type of event of many instances.
async fn read_together(store: Arc<dyn Store>) {
    let runtime = Runtime::new(store.clone(), Arc::new(SyntheticDirectory::default()));
    let (def, source) = leave_request();
    runtime.publish(def, source, None, t0()).await.unwrap();
    let ids: Vec<Uuid> = (1..=3).map(|i| Uuid::from_u128(100 + i)).collect();
    for id in &ids {
        runtime
            .start(
                StartRequest {
                    workflow: "leave-request".into(),
                    version: None,
                    id: *id,
                    subject: Subject {
                        person: Some("branch-1.applicant".into()),
                        org: "branch-1".into(),
                        attrs: Values::new(),
                    },
                    initiator: "branch-1.applicant".into(),
                    inputs: inputs(),
                },
                t0(),
            )
            .await
            .unwrap();
    }
    let missing = Uuid::from_u128(999);
    let asked = [ids[2], missing, ids[0], ids[2]];
    let got: Vec<Uuid> = store
        .instances(&asked)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(got, [ids[2], ids[0]]);
    assert_eq!(
        store.instances(&ids).await.unwrap()[1],
        store.instance(ids[1]).await.unwrap().unwrap()
    );
    assert!(store.instances(&[]).await.unwrap().is_empty());

    let started = store
        .events_of_type(&[ids[1], missing, ids[0]], "instance_started")
        .await
        .unwrap();
    let mut of: Vec<Uuid> = started.iter().map(|(id, _)| *id).collect();
    of.sort();
    assert_eq!(of, [ids[0], ids[1]]);
    assert!(
        started.iter().all(|(_, e)| e.seq == 1
            && matches!(e.event, stageflow_engine::Event::InstanceStarted { .. }))
    );
    assert!(
        store
            .events_of_type(&ids, "escalated")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn instances_and_one_type_of_event_are_read_together() {
    let dir = tempfile::tempdir().unwrap();
    read_together(sqlite_file(&dir).await).await;
    let db = crate::pg::FreshDb::create().await;
    let store = PgStore::open(&PgOptions::new(&db.url)).await.unwrap();
    read_together(Arc::new(store)).await;
}
