//! `stageflow import orgs.csv people.csv` and `stageflow export`.
//!
//! UTF-8 CSV with a header. `orgs.csv`: `id,name,kind,parent,term_start,term_years`.
//! `people.csv`: `id,name,email,phone,birth_date,status,memberships`, where
//! `memberships` is `org:role;org:role`. Every row is checked first and a
//! bad row is reported with its line number; then everything is written in
//! one transaction, so nothing is half-imported.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::{Deserialize, Serialize};
use stageflow_app::Caller;
use stageflow_app::directory::{ImportOrg, ImportPerson, ImportSource};

#[derive(Args)]
pub struct ImportArgs {
    /// Organizations CSV (id,name,kind,parent,term_start,term_years)
    orgs: PathBuf,
    /// People CSV (id,name,email,phone,birth_date,status,memberships)
    people: Option<PathBuf>,
    #[command(flatten)]
    db: crate::db::DbArgs,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Directory to write orgs.csv and people.csv into
    #[arg(long, default_value = ".")]
    out: PathBuf,
    #[command(flatten)]
    db: crate::db::DbArgs,
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
    let oname = args.orgs.display().to_string();
    let pname = args
        .people
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let orgs: Vec<ImportOrg> = org_rows
        .into_iter()
        .map(|(line, r)| ImportOrg {
            line,
            id: r.id,
            name: r.name,
            kind: r.kind,
            parent: empty_to_none(r.parent),
            term_start: empty_to_none(r.term_start),
            term_years: r.term_years,
        })
        .collect();
    let mut people = Vec::new();
    for (line, r) in person_rows {
        let mut memberships = Vec::new();
        for part in empty_to_none(r.memberships)
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.split_once(':') {
                Some((org, role)) if !org.trim().is_empty() && !role.trim().is_empty() => {
                    memberships.push((org.trim().to_string(), role.trim().to_string()));
                }
                _ => errors.push(format!(
                    "{pname}:{line}: membership '{part}' must be written org:role (several separated by ';')"
                )),
            }
        }
        people.push(ImportPerson {
            line,
            id: r.id,
            name: r.name,
            email: empty_to_none(r.email),
            phone: empty_to_none(r.phone),
            birth_date: empty_to_none(r.birth_date),
            status: empty_to_none(r.status),
            memberships,
        });
    }
    crate::db::runtime()?.block_on(async {
        let app = args.db.open().await?;
        let imported = app
            .import_directory(&Caller::operator(), &orgs, &people, !errors.is_empty())
            .await
            .map_err(|e| anyhow::anyhow!("importing: {e}"))?;
        match imported {
            Ok(done) if errors.is_empty() => {
                println!(
                    "imported {} organizations and {} people",
                    done.orgs, done.people
                );
                Ok(ExitCode::SUCCESS)
            }
            Ok(_) => {
                for e in &errors {
                    println!("{e}");
                }
                eprintln!("nothing was imported: {} problem(s)", errors.len());
                Ok(ExitCode::from(1))
            }
            Err(problems) => {
                for p in problems {
                    let file = match p.source {
                        ImportSource::Orgs => &oname,
                        ImportSource::People => &pname,
                    };
                    errors.push(format!("{file}:{}: {}", p.line, p.message));
                }
                for e in &errors {
                    println!("{e}");
                }
                eprintln!("nothing was imported: {} problem(s)", errors.len());
                Ok(ExitCode::from(1))
            }
        }
    })
}

pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    crate::db::runtime()?.block_on(async {
        let app = args.db.open().await?;
        let (orgs, people) = app
            .export_directory(&Caller::operator())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        std::fs::create_dir_all(&args.out)?;
        let orgs_path = args.out.join("orgs.csv");
        let mut w = csv::Writer::from_path(&orgs_path)?;
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
