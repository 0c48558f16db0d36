//! `/api/v1/tokens`: one's own personal tokens (made with a lifetime,
//! listed, revoked), and the tokens of people one manages completely.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use stageflow_app::policy::Op;
use stageflow_app::tokens::{NewToken, TokenView};

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::extract::{Body, Params};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::GET,
            "/api/v1/tokens",
            Access::Op(Op::ManageTokensOf),
            get(list),
        ),
        api(
            Method::POST,
            "/api/v1/tokens",
            Access::Op(Op::CreateToken),
            post(create),
        ),
        api(
            Method::DELETE,
            "/api/v1/tokens/{id}",
            Access::Op(Op::ManageTokensOf),
            delete(revoke),
        ),
    ]
}

/// Whose tokens.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// A person you manage completely (default: yourself).
    pub person: Option<String>,
    /// Instead: everyone's in a subtree you manage whom you manage
    /// completely.
    pub org: Option<String>,
}

/// Live tokens (never the tokens themselves): one's own, a person's whose
/// every organization the caller manages, or all of those in a subtree.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenQuery),
    responses((status = 200, body = [TokenView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<TokenQuery>,
) -> ApiResult<Json<Vec<TokenView>>> {
    match (q.person, q.org) {
        (Some(_), Some(_)) => Err(crate::error::ApiError::bad_request(
            "`person` 和 `org` 只能给出其一",
        )),
        (person, None) => Ok(Json(app.tokens(&caller, person.as_deref()).await?)),
        (None, Some(org)) => Ok(Json(app.tokens_under(&caller, &org).await?)),
    }
}

/// A new personal token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// How many days it lives (default 90, at most 3650).
    pub days: Option<i64>,
}

/// Makes a personal token for yourself; it is shown once (only its hash
/// is kept).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = NewToken), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Body(body): Body<CreateToken>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let person = caller.person.clone();
    Ok((
        StatusCode::CREATED,
        Json(app.create_token(&caller, &person, body.days).await?),
    ))
}

/// Revokes a token by its id: it gets 401 from now on.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.revoke_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
