//! `stageflow import orgs.csv people.csv` and `stageflow export`.
//!
//! UTF-8 CSV with a header. `orgs.csv`: `id,name,kind,parent,term_start,term_years`.
//! `people.csv`: `id,name,email,phone,birth_date,status,memberships`, where
//! `memberships` is `org:role;org:role`. Every row is checked first and a
//! bad row is reported with its line number; then everything is written in
//! one transaction, so nothing is half-imported.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde::{Deserialize, Serialize};
use stageflow_store::{Membership, NewOrg, NewPerson};

const STATUSES: &[&str] = &[
    "群众",
    "申请人",
    "积极分子",
    "发展对象",
    "预备党员",
    "正式党员",
];

#[derive(Args)]
pub struct ImportArgs {
    /// Organizations CSV (id,name,kind,parent,term_start,term_years)
    orgs: PathBuf,
    /// People CSV (id,name,email,phone,birth_date,status,memberships)
    people: Option<PathBuf>,
    /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
    #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
    db: String,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Directory to write orgs.csv and people.csv into
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
    #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
    db: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OrgRow {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    term_start: Option<String>,
    #[serde(default)]
    term_years: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PersonRow {
    id: String,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    birth_date: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    memberships: Option<String>,
}

fn empty_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn valid_date(d: &Option<String>) -> bool {
    d.as_deref()
        .is_none_or(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
}

/// Reads rows; each error names `file:line`.
fn read<T: for<'de> Deserialize<'de>>(path: &Path, errors: &mut Vec<String>) -> Vec<(u64, T)> {
    let name = path.display().to_string();
    let mut reader = match csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
    {
        Ok(r) => r,
        Err(e) => {
            errors.push(format!("{name}: cannot read: {e}"));
            return Vec::new();
        }
    };
    let mut rows = Vec::new();
    for result in reader.deserialize::<T>() {
        match result {
            Ok(row) => rows.push((0, row)),
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                let what = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                    other => format!("{other:?}"),
                };
                errors.push(format!("{name}:{line}: {what}"));
            }
        }
    }
    // Line numbers: the header is line 1, rows follow.
    for (i, row) in rows.iter_mut().enumerate() {
        row.0 = i as u64 + 2;
    }
    rows
}

pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut errors = Vec::new();
    let org_rows: Vec<(u64, OrgRow)> = read(&args.orgs, &mut errors);
    let person_rows: Vec<(u64, PersonRow)> = args
        .people
        .as_deref()
        .map(|p| read(p, &mut errors))
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = stageflow_store::open(&args.db).await.with_context(|| format!("opening {}", crate::db::redacted(&args.db)))?;
        let oname = args.orgs.display().to_string();
        // Organizations: unique ids, known parents (in the file or the
        // database), dates; ordered parents first.
        let mut in_file: HashMap<String, u64> = HashMap::new();
        for (line, row) in &org_rows {
            if row.id.is_empty() || row.id.contains('/') || row.id.contains('%') {
                errors.push(format!("{oname}:{line}: id '{}' may not be empty or contain '/' or '%'", row.id));
            }
            if row.name.is_empty() || row.kind.is_empty() {
                errors.push(format!("{oname}:{line}: name and kind are required"));
            }
            if let Some(first) = in_file.insert(row.id.clone(), *line) {
                errors.push(format!("{oname}:{line}: id '{}' was already used on line {first}", row.id));
            }
            if !valid_date(&empty_to_none(row.term_start.clone())) {
                errors.push(format!("{oname}:{line}: term_start '{}' is not a date YYYY-MM-DD", row.term_start.clone().unwrap_or_default()));
            }
        }
        for (line, row) in &org_rows {
            if let Some(p) = empty_to_none(row.parent.clone())
                && !in_file.contains_key(&p) && store.org(&p).await?.is_none() {
                    errors.push(format!("{oname}:{line}: parent '{p}' is neither in this file nor in the database"));
                }
            if store.org(&row.id).await?.is_some() {
                errors.push(format!("{oname}:{line}: organization '{}' already exists", row.id));
            }
        }
        let mut ordered: Vec<NewOrg> = Vec::new();
        let mut placed: HashSet<String> = HashSet::new();
        let mut pending: Vec<&OrgRow> = org_rows.iter().map(|(_, r)| r).collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|r| {
                let parent = empty_to_none(r.parent.clone());
                let ready = parent.as_ref().is_none_or(|p| placed.contains(p) || !in_file.contains_key(p));
                if ready {
                    placed.insert(r.id.clone());
                    ordered.push(NewOrg {
                        id: Some(r.id.clone()),
                        name: r.name.clone(),
                        kind: r.kind.clone(),
                        parent,
                        term_start: empty_to_none(r.term_start.clone()),
                        term_years: r.term_years,
                    });
                }
                !ready
            });
            if pending.len() == before {
                for r in &pending {
                    errors.push(format!("{oname}:{}: organization '{}' is part of a parent cycle", in_file.get(&r.id).copied().unwrap_or(0), r.id));
                }
                break;
            }
        }
        // People.
        let pname = args.people.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
        let mut people = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (line, row) in &person_rows {
            if row.id.is_empty() || row.name.is_empty() {
                errors.push(format!("{pname}:{line}: id and name are required"));
            }
            if let Some(first) = seen.insert(row.id.clone(), *line) {
                errors.push(format!("{pname}:{line}: id '{}' was already used on line {first}", row.id));
            }
            if store.person(&row.id).await?.is_some() {
                errors.push(format!("{pname}:{line}: person '{}' already exists", row.id));
            }
            let birth = empty_to_none(row.birth_date.clone());
            if !valid_date(&birth) {
                errors.push(format!("{pname}:{line}: birth_date '{}' is not a date YYYY-MM-DD", birth.clone().unwrap_or_default()));
            }
            let status = empty_to_none(row.status.clone());
            if let Some(s) = &status
                && !STATUSES.contains(&s.as_str()) {
                    errors.push(format!("{pname}:{line}: status '{s}' is not one of {}", STATUSES.join(", ")));
                }
            let mut memberships = Vec::new();
            for part in empty_to_none(row.memberships.clone()).unwrap_or_default().split(';').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once(':') {
                    Some((org, role)) if !org.trim().is_empty() && !role.trim().is_empty() => {
                        let org = org.trim().to_string();
                        if !in_file.contains_key(&org) && store.org(&org).await?.is_none() {
                            errors.push(format!("{pname}:{line}: organization '{org}' is neither in the organizations file nor in the database"));
                        }
                        memberships.push(Membership { org, role: role.trim().to_string() });
                    }
                    _ => errors.push(format!("{pname}:{line}: membership '{part}' must be written org:role (several separated by ';')")),
                }
            }
            people.push(NewPerson {
                id: Some(row.id.clone()),
                name: row.name.clone(),
                email: empty_to_none(row.email.clone()),
                phone: empty_to_none(row.phone.clone()),
                birth_date: birth,
                status,
                key_dates: serde_json::Map::new(),
                memberships,
            });
        }
        if !errors.is_empty() {
            for e in &errors {
                println!("{e}");
            }
            eprintln!("nothing was imported: {} problem(s)", errors.len());
            return Ok(ExitCode::from(1));
        }
        let (o, p) = store.import_directory(&ordered, &people, chrono::Utc::now()).await.context("importing")?;
        println!("imported {o} organizations and {p} people");
        Ok(ExitCode::SUCCESS)
    })
}

pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = stageflow_store::open(&args.db)
            .await
            .with_context(|| format!("opening {}", crate::db::redacted(&args.db)))?;
        std::fs::create_dir_all(&args.out)?;
        let orgs_path = args.out.join("orgs.csv");
        let mut w = csv::Writer::from_path(&orgs_path)?;
        let orgs = store.orgs_under(None, None).await?;
        for o in &orgs {
            w.serialize(OrgRow {
                id: o.id.clone(),
                name: o.name.clone(),
                kind: o.kind.clone(),
                parent: o.parent.clone(),
                term_start: o.term_start.clone(),
                term_years: o.term_years,
            })?;
        }
        w.flush()?;
        let people_path = args.out.join("people.csv");
        let mut w = csv::Writer::from_path(&people_path)?;
        let people = store.people_under(None).await?;
        for p in &people {
            let memberships = p
                .memberships
                .iter()
                .map(|m| format!("{}:{}", m.org, m.role))
                .collect::<Vec<_>>()
                .join(";");
            w.serialize(PersonRow {
                id: p.id.clone(),
                name: p.name.clone(),
                email: p.email.clone(),
                phone: p.phone.clone(),
                birth_date: p.birth_date.clone(),
                status: Some(p.status.clone()),
                memberships: Some(memberships),
            })?;
        }
        w.flush()?;
        println!(
            "wrote {} organizations to {} and {} people to {}",
            orgs.len(),
            orgs_path.display(),
            people.len(),
            people_path.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}
