//! The whole directory in and out, by the operator: rows checked first
//! (every problem named by its file and line), then written in one
//! transaction, so nothing is half-imported.

use std::collections::{HashMap, HashSet};

use stageflow_store::{Membership, NewOrg, NewPerson};

use super::STATUSES;
use crate::error::AppResult;
use crate::policy::{Op, Target};
use crate::validate;
use crate::views::{OrgView, PersonView};
use crate::{App, AppError, Caller};

/// Which file a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// The organizations.
    Orgs,
    /// The people.
    People,
}

/// An organization row.
#[derive(Debug, Clone)]
pub struct ImportOrg {
    /// Its line in the file.
    pub line: u64,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Parent (in the file or the database).
    pub parent: Option<String>,
    /// Term start.
    pub term_start: Option<String>,
    /// Term length in years.
    pub term_years: Option<u32>,
}

/// A person row.
#[derive(Debug, Clone)]
pub struct ImportPerson {
    /// Its line in the file.
    pub line: u64,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// `(org, role)`, as written (`org:role;org:role`).
    pub memberships: Vec<(String, String)>,
}

/// A problem with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// Which file.
    pub source: ImportSource,
    /// Which line (0: the file as a whole).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Organizations.
    pub orgs: usize,
    /// People.
    pub people: usize,
}

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<ImportProblem>);

impl Problems {
    fn add(&mut self, source: ImportSource, line: u64, message: String) {
        self.0.push(ImportProblem {
            source,
            line,
            message,
        });
    }
}

impl App {
    /// Imports organizations and people (the operator): every row is
    /// checked first; with any problem nothing is written and the problems
    /// come back, each with its file and line. A dry run only checks.
    pub async fn import_directory(
        &self,
        caller: &Caller,
        orgs: &[ImportOrg],
        people: &[ImportPerson],
        dry_run: bool,
    ) -> AppResult<Result<Imported, Vec<ImportProblem>>> {
        self.allow(caller, Op::ImportDirectory, Target::System, || {
            AppError::forbidden("导入组织和人员须使用管理员令牌")
        })?;
        let mut problems = Problems::default();
        let in_file = self.check_org_rows(orgs, &mut problems).await?;
        let ordered = parents_first(orgs, &in_file, &mut problems);
        let new_people = self
            .check_person_rows(people, &in_file, &mut problems)
            .await?;
        if !problems.0.is_empty() {
            return Ok(Err(problems.0));
        }
        if dry_run {
            return Ok(Ok(Imported {
                orgs: ordered.len(),
                people: new_people.len(),
            }));
        }
        let (o, p) = self
            .store
            .import_directory(&ordered, &new_people, &self.audit(caller))
            .await?;
        Ok(Ok(Imported { orgs: o, people: p }))
    }

    /// Checks the organization rows; returns the ids the file defines, by
    /// their first line.
    async fn check_org_rows<'r>(
        &self,
        orgs: &'r [ImportOrg],
        problems: &mut Problems,
    ) -> AppResult<HashMap<&'r str, u64>> {
        let mut bad = |line, message| problems.add(ImportSource::Orgs, line, message);
        let mut in_file: HashMap<&str, u64> = HashMap::new();
        for r in orgs {
            if let Err(e) = validate::id("organization", &r.id) {
                bad(r.line, e.detail);
            }
            if let Err(e) = validate::name("name", &r.name).and(validate::name("kind", &r.kind)) {
                bad(r.line, e.detail);
            }
            if let Some(first) = in_file.insert(&r.id, r.line) {
                bad(r.line, format!("id「{}」已在第 {first} 行使用过", r.id));
            }
            if let Some(d) = &r.term_start
                && let Err(e) = validate::date("term_start", d)
            {
                bad(r.line, e.detail);
            }
        }
        for r in orgs {
            if let Some(p) = &r.parent
                && !in_file.contains_key(p.as_str())
                && self.store.org(p).await?.is_none()
            {
                bad(
                    r.line,
                    format!("上级组织「{p}」既不在本文件中，也不在数据库中"),
                );
            }
            if self.store.org(&r.id).await?.is_some() {
                bad(r.line, format!("组织「{}」已经存在", r.id));
            }
        }
        Ok(in_file)
    }

    /// Checks the people rows; returns them as the store takes them.
    async fn check_person_rows(
        &self,
        people: &[ImportPerson],
        in_file: &HashMap<&str, u64>,
        problems: &mut Problems,
    ) -> AppResult<Vec<NewPerson>> {
        let mut bad = |line, message| problems.add(ImportSource::People, line, message);
        let mut new_people = Vec::new();
        let mut seen: HashMap<&str, u64> = HashMap::new();
        let mut addresses: HashMap<String, u64> = HashMap::new();
        for r in people {
            if let Err(e) = validate::id("person", &r.id).and(validate::name("name", &r.name)) {
                bad(r.line, e.detail);
            }
            if let Some(first) = seen.insert(&r.id, r.line) {
                bad(r.line, format!("id「{}」已在第 {first} 行使用过", r.id));
            }
            if self.store.person(&r.id).await?.is_some() {
                bad(r.line, format!("人员「{}」已经存在", r.id));
            }
            if let Some(e) = &r.email {
                if let Err(e) = validate::email(e) {
                    bad(r.line, e.detail);
                }
                if let Some(first) = addresses.insert(e.to_lowercase(), r.line) {
                    bad(r.line, format!("邮箱「{e}」已在第 {first} 行使用过"));
                } else if !self.store.people_by_email(e).await?.is_empty() {
                    bad(r.line, format!("邮箱「{e}」已被其他人使用"));
                }
            }
            if let Some(d) = &r.birth_date
                && let Err(e) = validate::date("birth_date", d)
            {
                bad(r.line, e.detail);
            }
            if let Some(s) = &r.status
                && !STATUSES.contains(&s.as_str())
            {
                bad(
                    r.line,
                    format!(
                        "`status` 的值「{s}」无效，应为以下之一：{}",
                        STATUSES.join("、")
                    ),
                );
            }
            let mut memberships = Vec::new();
            for (org, role) in &r.memberships {
                if !in_file.contains_key(org.as_str()) && self.store.org(org).await?.is_none() {
                    bad(
                        r.line,
                        format!("组织「{org}」既不在组织文件中，也不在数据库中"),
                    );
                }
                memberships.push(Membership {
                    org: org.clone(),
                    role: role.clone(),
                });
            }
            new_people.push(NewPerson {
                id: Some(r.id.clone()),
                name: r.name.clone(),
                email: r.email.clone(),
                phone: r.phone.clone(),
                birth_date: r.birth_date.clone(),
                status: r.status.clone(),
                key_dates: serde_json::Map::new(),
                memberships,
            });
        }
        Ok(new_people)
    }

    /// The whole directory (the operator's export).
    pub async fn export_directory(
        &self,
        caller: &Caller,
    ) -> AppResult<(Vec<OrgView>, Vec<PersonView>)> {
        self.allow(caller, Op::ImportDirectory, Target::System, || {
            AppError::forbidden("导出组织和人员须使用管理员令牌")
        })?;
        Ok((
            self.store
                .orgs_under(None, None)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
            self.store
                .people_under(None)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }
}

/// The organizations with parents before children; a parent cycle is a
/// problem of each row in it.
fn parents_first(
    orgs: &[ImportOrg],
    in_file: &HashMap<&str, u64>,
    problems: &mut Problems,
) -> Vec<NewOrg> {
    let mut ordered: Vec<NewOrg> = Vec::new();
    let mut placed: HashSet<&str> = HashSet::new();
    let mut pending: Vec<&ImportOrg> = orgs.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|r| {
            let ready = r
                .parent
                .as_deref()
                .is_none_or(|p| placed.contains(p) || !in_file.contains_key(p));
            if ready {
                placed.insert(&r.id);
                ordered.push(NewOrg {
                    id: Some(r.id.clone()),
                    name: r.name.clone(),
                    kind: r.kind.clone(),
                    parent: r.parent.clone(),
                    term_start: r.term_start.clone(),
                    term_years: r.term_years,
                });
            }
            !ready
        });
        if pending.len() == before {
            for r in &pending {
                problems.add(
                    ImportSource::Orgs,
                    r.line,
                    format!("组织「{}」的上级关系构成了循环", r.id),
                );
            }
            break;
        }
    }
    ordered
}
