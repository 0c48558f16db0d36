//! A task form as the browser submits it (multipart: text fields and
//! files), read into typed values: the form's fields as the step declares
//! them, and the grades or scores of a rating.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stageflow_app::files::Upload;
use stageflow_app::tasks::Rating;

use crate::error::ApiError;

/// The fields of a submitted task form: text values, and files by the
/// form field they are for.
pub(super) struct Submitted {
    pub(super) text: Vec<(String, String)>,
    pub(super) files: Vec<(String, Upload)>,
}

impl Submitted {
    pub(super) fn get(&self, k: &str) -> Option<String> {
        self.text
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn all(&self, k: &str) -> Vec<String> {
        self.text
            .iter()
            .filter(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub(super) async fn read_form(mut multipart: Multipart) -> Result<Submitted, Response> {
    let mut form = Submitted {
        text: Vec::new(),
        files: Vec::new(),
    };
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("表单无法读取：{}", e.body_text())).into_response()
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if let Some(form_id) = name.strip_prefix("file.") {
            let form_id = form_id.to_string();
            let file_name = field.file_name().unwrap_or_default().to_string();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() && !file_name.is_empty() {
                form.files.push((
                    form_id,
                    Upload {
                        name: file_name,
                        content_type,
                        bytes: bytes.to_vec(),
                    },
                ));
            }
        } else {
            let value = field.text().await.map_err(bad)?;
            form.text.push((name, value));
        }
    }
    Ok(form)
}

/// The ratings of the rating form: `r.N` is the grade of the N-th ratee,
/// `r.N.ITEM` a rubric item's score. Every ratee must be rated.
pub(super) fn ratings_from(
    task: &stageflow_app::views::TaskView,
    form: &Submitted,
) -> Result<BTreeMap<String, Rating>, String> {
    let Some(r) = &task.rating else {
        return Err("该事项不是评议".into());
    };
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut out = BTreeMap::new();
    for (i, ratee) in r.ratees.iter().enumerate() {
        if r.items.is_empty() {
            let grade = get(&format!("r.{i}")).ok_or("请为每一位评议对象选择等次")?;
            out.insert(ratee.clone(), Rating::Grade(grade));
        } else {
            let mut scores = BTreeMap::new();
            for item in &r.items {
                let raw = get(&format!("r.{i}.{}", item.id))
                    .ok_or_else(|| format!("请为每一位评议对象填写「{}」的得分", item.name))?;
                let score: f64 = raw
                    .parse()
                    .map_err(|_| format!("「{}」的得分须为数字", item.name))?;
                scores.insert(item.id.clone(), score);
            }
            out.insert(ratee.clone(), Rating::Scores(scores));
        }
    }
    Ok(out)
}

/// A form field's value as the step declares it (`None`: not given, or a
/// file, which is uploaded separately); an error in words otherwise.
pub(super) fn typed(kind: &str, label: &str, raw: &str) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    Ok(Some(match kind {
        "file" => return Ok(None),
        "boolean" => Value::Bool(raw == "true"),
        _ if raw.is_empty() => return Ok(None),
        "integer" => json!(
            raw.parse::<i64>()
                .map_err(|_| format!("「{label}」须填写整数"))?
        ),
        "number" => json!(
            raw.parse::<f64>()
                .map_err(|_| format!("「{label}」须填写数字"))?
        ),
        _ => Value::String(raw.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::typed;
    use serde_json::json;

    #[test]
    fn form_values_take_the_type_the_step_declares() {
        assert_eq!(typed("integer", "天数", " 3 "), Ok(Some(json!(3))));
        assert_eq!(typed("number", "学时", "24.5"), Ok(Some(json!(24.5))));
        assert_eq!(typed("boolean", "是否", "true"), Ok(Some(json!(true))));
        assert_eq!(typed("boolean", "是否", ""), Ok(Some(json!(false))));
        assert_eq!(
            typed("date", "日期", "2026-03-02"),
            Ok(Some(json!("2026-03-02")))
        );
        assert_eq!(typed("text", "意见", "  "), Ok(None));
        assert_eq!(typed("file", "扫描件", "x"), Ok(None));
        assert_eq!(
            typed("integer", "天数", "三"),
            Err("「天数」须填写整数".to_string())
        );
    }
}
