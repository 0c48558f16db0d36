//! `/api/v1/people`: people and their roles.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use stageflow_store::{Membership, NewPerson, PersonPatch};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Params};
use crate::views::{MembershipView, PersonView};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/people", get(list).post(create))
        .route(
            "/api/v1/people/{id}",
            get(get_one).patch(update).delete(remove),
        )
}

/// Person statuses.
pub const STATUSES: &[&str] = &[
    "群众",
    "申请人",
    "积极分子",
    "发展对象",
    "预备党员",
    "正式党员",
];

/// A new person.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePerson {
    /// Id; generated when absent.
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

/// Creates a person; every membership must be in a subtree the caller
/// manages.
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = CreatePerson,
    responses((status = 201, body = PersonView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreatePerson>,
) -> ApiResult<(StatusCode, Json<PersonView>)> {
    if body.name.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "`name` must not be empty",
        ));
    }
    if let Some(s) = &body.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("status '{s}' is not one of {}", STATUSES.join(", ")),
        ));
    }
    if let Some(d) = &body.birth_date
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("birth_date '{d}' is not a date YYYY-MM-DD"),
        ));
    }
    if body.memberships.is_empty() && !caller.admin {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "a person needs at least one membership in an organization you manage",
        ));
    }
    for m in &body.memberships {
        caller.require_manages(&state, &m.org).await?;
    }
    let person = state
        .store
        .create_person(
            &NewPerson {
                id: body.id,
                name: body.name,
                email: body.email,
                phone: body.phone,
                birth_date: body.birth_date,
                status: body.status,
                key_dates: body.key_dates,
                memberships: body
                    .memberships
                    .into_iter()
                    .map(|m| Membership {
                        org: m.org,
                        role: m.role,
                    })
                    .collect(),
            },
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(person.into())))
}

/// Filters of the people list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    /// Only people with a role in this subtree.
    pub org: Option<String>,
}

/// People with roles in the subtrees the caller manages.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PeopleQuery), responses((status = 200, body = [PersonView])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<PeopleQuery>,
) -> ApiResult<Json<Vec<PersonView>>> {
    if let Some(org) = &q.org {
        caller.require_manages(&state, org).await?;
    } else if !caller.admin {
        // Everyone in the caller's managed subtrees.
        let mut out: Vec<PersonView> = Vec::new();
        for path in &caller.managed_paths {
            let root = path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            for p in state.store.people_under(Some(root)).await? {
                if !out.iter().any(|x| x.id == p.id) {
                    out.push(p.into());
                }
            }
        }
        return Ok(Json(out));
    }
    let people = state.store.people_under(q.org.as_deref()).await?;
    Ok(Json(people.into_iter().map(Into::into).collect()))
}

/// One person: themselves, or someone in a subtree the caller manages.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path)),
    responses((status = 200, body = PersonView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonView>> {
    let person = state
        .store
        .person(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("person '{id}' not found")))?;
    let mut allowed = caller.admin || caller.person == id;
    for m in &person.memberships {
        if allowed {
            break;
        }
        allowed = caller.manages(&state, &m.org).await?;
    }
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "person '{id}' is outside the organizations you manage"
        )));
    }
    Ok(Json(person.into()))
}

/// Changes to a person.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePerson {
    /// New name.
    pub name: Option<String>,
    /// New email.
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

async fn require_manages_person(
    state: &AppState,
    caller: &Caller,
    person: &stageflow_store::Person,
) -> ApiResult<()> {
    for m in &person.memberships {
        if caller.manages(state, &m.org).await? {
            return Ok(());
        }
    }
    if caller.admin {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "person '{}' is outside the organizations you manage",
        person.id
    )))
}

/// Changes a person in a subtree the caller manages; new memberships must
/// be in it too.
#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path)), request_body = UpdatePerson,
    responses((status = 200, body = PersonView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<UpdatePerson>,
) -> ApiResult<Json<PersonView>> {
    let person = state
        .store
        .person(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("person '{id}' not found")))?;
    require_manages_person(&state, &caller, &person).await?;
    if let Some(ms) = &body.memberships {
        for m in ms {
            caller.require_manages(&state, &m.org).await?;
        }
    }
    if let Some(st) = &body.status
        && !STATUSES.contains(&st.as_str())
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("status '{st}' is not one of {}", STATUSES.join(", ")),
        ));
    }
    if let Some(d) = &body.birth_date
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("birth_date '{d}' is not a date YYYY-MM-DD"),
        ));
    }
    let patch = PersonPatch {
        name: body.name,
        email: body.email,
        phone: body.phone,
        birth_date: body.birth_date,
        status: body.status,
        key_dates: body.key_dates,
        memberships: body.memberships.map(|ms| {
            ms.into_iter()
                .map(|m| Membership {
                    org: m.org,
                    role: m.role,
                })
                .collect()
        }),
    };
    Ok(Json(state.store.update_person(&id, &patch).await?.into()))
}

/// Deletes a person with no pending tasks (memberships and tokens go too;
/// the history keeps their id).
#[utoipa::path(delete, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let person = state
        .store
        .person(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("person '{id}' not found")))?;
    require_manages_person(&state, &caller, &person).await?;
    state.store.delete_person(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
