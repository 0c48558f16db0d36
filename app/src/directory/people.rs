//! People: read by themselves and the managers of their organizations;
//! changed and deleted only by someone who manages *every* organization
//! they belong to (before and after the change). A person changes their
//! own e-mail address only through a link sent to the old one.

use serde::Deserialize;
use stageflow_engine::state::{Mail, Values};
use stageflow_store::{Membership, NewPerson, Person, PersonPatch};
use utoipa::ToSchema;

use super::check_status;
use crate::caller::{ORGANIZER_ROLES, hash_token, new_token};
use crate::definitions::unknown_org;
use crate::error::{AppError, AppResult};
use crate::policy::{Op, PersonScope, Target};
use crate::scope::dedup;
use crate::validate;
use crate::views::{MembershipView, PersonView};
use crate::{App, Caller};

/// A new person.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPersonInput {
    /// Id (the safe alphabet); generated when absent.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Birth date (YYYY-MM-DD).
    pub birth_date: Option<String>,
    /// 群众 / 申请人 / 积极分子 / 发展对象 / 预备党员 / 正式党员 (default 群众).
    pub status: Option<String>,
    /// Key dates.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub key_dates: serde_json::Map<String, serde_json::Value>,
    /// Roles in organizations.
    #[serde(default)]
    pub memberships: Vec<MembershipView>,
}

/// Changes to a person; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonChange {
    /// New name.
    pub name: Option<String>,
    /// New email (one's own: confirmed from the old address first).
    pub email: Option<String>,
    /// New phone.
    pub phone: Option<String>,
    /// New birth date (YYYY-MM-DD).
    pub birth_date: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New key dates (replace all).
    #[schema(value_type = Option<Object>)]
    pub key_dates: Option<serde_json::Map<String, serde_json::Value>>,
    /// New memberships (replace all).
    pub memberships: Option<Vec<MembershipView>>,
}

/// What a change did.
#[derive(Debug, Clone)]
pub struct PersonChanged {
    /// The person now.
    pub person: PersonView,
    /// A new e-mail address waiting for confirmation from the old one.
    pub pending_email: Option<String>,
}

fn person_missing(id: &str) -> AppError {
    AppError::not_found(format!("找不到人员「{id}」"))
}

impl App {
    /// People with a role in a subtree the caller manages (all the
    /// subtrees they manage when `org` is absent; everyone for the admin).
    pub async fn people(&self, caller: &Caller, org: Option<&str>) -> AppResult<Vec<PersonView>> {
        let roots: Vec<Option<String>> = match org {
            Some(org) => {
                self.org_for(caller, org, Op::ReadReports).await?;
                vec![Some(org.to_string())]
            }
            None if caller.is_admin() => vec![None],
            None => caller.managed_orgs().into_iter().map(Some).collect(),
        };
        let mut out: Vec<PersonView> = Vec::new();
        for root in roots {
            for p in self.store.people_under(root.as_deref()).await? {
                if !out.iter().any(|x| x.id == p.id) {
                    out.push(p.into());
                }
            }
        }
        Ok(out)
    }

    /// One person: themselves, or someone the caller manages.
    pub async fn person(&self, caller: &Caller, id: &str) -> AppResult<PersonView> {
        let (person, _) = self.readable_person(caller, id).await?;
        Ok(person.into())
    }

    /// Creates a person: every membership in an organization the caller
    /// manages.
    pub async fn create_person(
        &self,
        caller: &Caller,
        input: NewPersonInput,
    ) -> AppResult<PersonView> {
        if let Some(id) = &input.id {
            validate::id("person", id)?;
        }
        validate::name("name", &input.name)?;
        check_contact(input.email.as_deref(), input.phone.as_deref())?;
        if let Some(s) = &input.status {
            check_status(s)?;
        }
        if let Some(d) = &input.birth_date {
            validate::date("birth_date", d)?;
        }
        let memberships = memberships(&input.memberships)?;
        if memberships.is_empty() && !caller.is_admin() {
            return Err(AppError::invalid(
                "invalid-body",
                "新增人员须至少在一个您管理的组织中任职（`memberships`）",
            ));
        }
        let scope = self.membership_scope(caller, "", &memberships).await?;
        self.allow(caller, Op::CreatePerson, Target::Person(&scope), || {
            unknown_org(memberships.first().map_or("", |m| m.org.as_str()))
        })?;
        if let Some(email) = &input.email {
            self.require_free_email(email, "").await?;
        }
        let person = self
            .store
            .create_person(
                &NewPerson {
                    id: input.id,
                    name: input.name.trim().to_string(),
                    email: input.email,
                    phone: input.phone,
                    birth_date: input.birth_date,
                    status: input.status,
                    key_dates: input.key_dates,
                    memberships,
                },
                &self.audit(caller),
            )
            .await?;
        Ok(person.into())
    }

    /// Changes a person. Someone who manages every organization the person
    /// belongs to — before and after — changes anything; a person changes
    /// their own phone, and their own e-mail address through a link sent
    /// to the old one (the change waits for it).
    pub async fn update_person(
        &self,
        caller: &Caller,
        id: &str,
        change: PersonChange,
    ) -> AppResult<PersonChanged> {
        let (person, scope) = self.readable_person(caller, id).await?;
        if let Some(n) = &change.name {
            validate::name("name", n)?;
        }
        check_contact(change.email.as_deref(), change.phone.as_deref())?;
        if let Some(s) = &change.status {
            check_status(s)?;
        }
        if let Some(d) = &change.birth_date {
            validate::date("birth_date", d)?;
        }
        let new_memberships = change.memberships.as_deref().map(memberships).transpose()?;
        let only_contact = change.name.is_none()
            && change.birth_date.is_none()
            && change.status.is_none()
            && change.key_dates.is_none()
            && new_memberships.is_none();
        let myself = caller.person == person.id && !caller.is_admin();
        if myself && only_contact {
            return self.change_own_contact(caller, person, scope, change).await;
        }
        // Authority over every organization, before and after.
        let mut whole = scope.clone();
        if let Some(ms) = &new_memberships {
            let after = self.membership_scope(caller, id, ms).await?;
            whole.paths.extend(after.paths);
            whole.leads.extend(after.leads);
        }
        self.allow(caller, Op::ChangePerson, Target::Person(&whole), || {
            person_missing(id)
        })?;
        if myself && change.email.is_some() {
            return Err(AppError::forbidden(
                "更改自己的邮箱须通过发往原邮箱的确认链接进行：请单独提交邮箱的更改",
            ));
        }
        if let Some(email) = &change.email {
            self.require_free_email(email, id).await?;
        }
        let updated = self
            .store
            .update_person(
                id,
                &PersonPatch {
                    name: change.name.map(|n| n.trim().to_string()),
                    email: change.email,
                    phone: change.phone,
                    birth_date: change.birth_date,
                    status: change.status,
                    key_dates: change.key_dates,
                    memberships: new_memberships,
                },
                &self.audit(caller),
            )
            .await?;
        Ok(PersonChanged {
            person: updated.into(),
            pending_email: None,
        })
    }

    /// One's own phone (at once) and e-mail address (after confirmation
    /// from the old one). Nothing is written when the e-mail change cannot
    /// be asked for.
    async fn change_own_contact(
        &self,
        caller: &Caller,
        person: Person,
        scope: PersonScope,
        change: PersonChange,
    ) -> AppResult<PersonChanged> {
        self.allow(caller, Op::ChangeOwnContact, Target::Person(&scope), || {
            person_missing(&person.id)
        })?;
        let new_email = change.email.filter(|e| Some(e) != person.email.as_ref());
        if new_email.is_some() && person.email.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::invalid(
                "no-old-address",
                "您还没有邮箱，无法确认更改：请联系本组织的书记或组织委员为您填写",
            ));
        }
        if let Some(email) = &new_email {
            self.require_free_email(email, &person.id).await?;
        }
        let mut now_person = person.clone();
        if change.phone.is_some() {
            now_person = self
                .store
                .update_person(
                    &person.id,
                    &PersonPatch {
                        phone: change.phone,
                        ..PersonPatch::default()
                    },
                    &self.audit(caller),
                )
                .await?;
        }
        if let Some(email) = &new_email {
            self.mail_email_change(&person.id, email).await?;
        }
        Ok(PersonChanged {
            person: now_person.into(),
            pending_email: new_email,
        })
    }

    /// Mails the link that confirms a new address to the old one.
    async fn mail_email_change(&self, person: &str, email: &str) -> AppResult<()> {
        let token = new_token();
        let hash = hash_token(&token);
        let now = self.now();
        let minutes = self.config.link_minutes;
        self.store
            .put_email_change(
                &hash,
                person,
                email,
                now,
                now + chrono::Duration::minutes(minutes),
            )
            .await?;
        let mut vars = Values::new();
        vars.insert("confirm_email".into(), token.into());
        vars.insert("email".into(), email.into());
        vars.insert("reason".into(), format!("{minutes} 分钟").into());
        self.runtime
            .queue_mail(
                &Mail {
                    key: format!("email-change:{person}:{}", &hash[..16]),
                    to: person.to_string(),
                    kind: "email_change".into(),
                    vars,
                },
                now,
            )
            .await?;
        Ok(())
    }

    /// Refuses an address another person already has: a mailed sign-in
    /// link must find one person.
    pub(crate) async fn require_free_email(&self, email: &str, person: &str) -> AppResult<()> {
        let holders = self.store.people_by_email(email).await?;
        match holders.iter().find(|other| *other != person) {
            Some(_) => Err(AppError::invalid(
                "email-taken",
                format!("邮箱「{email}」已被其他人使用；每个人须使用自己的邮箱"),
            )),
            _ => Ok(()),
        }
    }

    /// Applies an e-mail change confirmed by the link sent to the old
    /// address; the link works once, within its time.
    pub async fn confirm_email(&self, token: &str) -> AppResult<PersonView> {
        let (person, email) = self
            .store
            .take_email_change(&hash_token(token.trim()), self.now())
            .await?
            .ok_or_else(|| {
                AppError::invalid(
                    "link-invalid",
                    "确认链接无效或已过期（仅可使用一次），请重新申请更改邮箱",
                )
            })?;
        self.require_free_email(&email, &person).await?;
        let updated = self
            .store
            .update_person(
                &person,
                &PersonPatch {
                    email: Some(email),
                    ..PersonPatch::default()
                },
                &stageflow_store::Audit {
                    actor: &person,
                    at: self.now(),
                },
            )
            .await?;
        Ok(updated.into())
    }

    /// Deletes a person with no pending tasks: someone who manages every
    /// organization they belong to, never oneself.
    pub async fn delete_person(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let (_, scope) = self.readable_person(caller, id).await?;
        self.allow(caller, Op::DeletePerson, Target::Person(&scope), || {
            person_missing(id)
        })?;
        self.store.delete_person(id, &self.audit(caller)).await?;
        Ok(())
    }

    /// A person the caller may read, with what the policy knows of them.
    pub(crate) async fn readable_person(
        &self,
        caller: &Caller,
        id: &str,
    ) -> AppResult<(Person, PersonScope)> {
        let person = self
            .store
            .person(id)
            .await?
            .ok_or_else(|| person_missing(id))?;
        let scope = self.person_scope(&person).await?;
        self.allow(caller, Op::ReadPerson, Target::Person(&scope), || {
            person_missing(id)
        })?;
        Ok((person, scope))
    }

    /// What the policy knows of memberships asked for: each organization
    /// must exist and be one the caller sees (one that does not, or that
    /// lies outside their scope, is named as missing alike).
    async fn membership_scope(
        &self,
        caller: &Caller,
        id: &str,
        ms: &[Membership],
    ) -> AppResult<PersonScope> {
        let (mut paths, mut leads) = (Vec::new(), Vec::new());
        for m in ms {
            let (org, scope) = self
                .org_scoped(&m.org)
                .await?
                .ok_or_else(|| unknown_org(&m.org))?;
            self.allow(caller, Op::ReadOrg, Target::Org(&scope), || {
                unknown_org(&m.org)
            })?;
            if ORGANIZER_ROLES.contains(&m.role.as_str()) {
                leads.push(org.path.clone());
            }
            paths.push(org.path);
        }
        Ok(PersonScope {
            id: id.to_string(),
            paths: dedup(paths),
            leads: dedup(leads),
        })
    }
}

fn memberships(views: &[MembershipView]) -> AppResult<Vec<Membership>> {
    views
        .iter()
        .map(|m| {
            validate::no_controls("org", &m.org)?;
            validate::id("role", &m.role)?;
            Ok(Membership {
                org: m.org.clone(),
                role: m.role.clone(),
            })
        })
        .collect()
}

fn check_contact(email: Option<&str>, phone: Option<&str>) -> AppResult<()> {
    if let Some(e) = email {
        validate::email(e)?;
    }
    if let Some(p) = phone {
        validate::no_controls("phone", p)?;
        if p.chars().count() > 40 {
            return Err(AppError::invalid("invalid-body", "`phone` 超过 40 个字符"));
        }
    }
    Ok(())
}
