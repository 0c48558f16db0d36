//! Request extractors whose rejections are problem+json: a JSON body that
//! names the offending field, and query strings.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; malformed JSON is 400, a wrong or unknown field is 422
/// naming it.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::unprocessable(
                "invalid-body",
                format!("请求内容有误：{}", body_detail(&e.body_text())),
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::bad_request(format!(
                "请求体不是有效的 JSON：{}",
                body_detail(&e.body_text())
            ))),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::unsupported_media_type(
                "请以 JSON 发送请求体，并带上 `Content-Type: application/json`",
            )),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large(
                    "请求体超过 API 接受的上限（2 MB）；文件请通过文件上传接口发送",
                ))
            }
            Err(e) => Err(ApiError::bad_request(format!(
                "请求体无法读取：{}",
                e.body_text()
            ))),
        }
    }
}

fn body_detail(text: &str) -> String {
    // serde says e.g. "Failed to deserialize the JSON body into the target type: unknown field `x`, expected one of ... at line 1 column 5"
    text.split_once(": ")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| text.to_string())
}

/// A query string; a bad parameter is 400 naming it.
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Params(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                format!("查询参数有误：{}", body_detail(&e.body_text())),
            )),
            Err(e) => Err(ApiError::bad_request(format!(
                "查询参数有误：{}",
                e.body_text()
            ))),
        }
    }
}
