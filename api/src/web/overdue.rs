//! 督办台账 for organizers: overdue tasks in a subtree they manage, the
//! most overdue first, with the escalations so far — or (`?all=1`) every
//! pending task there, by deadline; each row names whom the case is about.
//! Excel and CSV export of either.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stageflow_app::policy::Op;

use super::{error_page, format, frame, org_choice, organizer, render};
use crate::AppState;
use crate::routes::formats;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/console/overdue",
            Access::Op(Op::ReadReports),
            get(list),
        ),
        page(
            Method::GET,
            "/console/overdue/export",
            Access::Op(Op::ReadReports),
            get(export),
        ),
    ]
}

#[derive(Deserialize)]
struct OrgParam {
    org: Option<String>,
    format: Option<String>,
    all: Option<String>,
}

impl OrgParam {
    fn all(&self) -> bool {
        self.all.as_deref().is_some_and(|a| a == "1" || a == "true")
    }
}

async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&app, &headers, "/console/overdue").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (org, org_name, orgs) = match org_choice(&app, &s, q.org.clone()).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return render(
                StatusCode::OK,
                "overdue",
                "督办台账",
                json!({ "orgs": [], "rows": [], "org_name": "" }),
                frame(&s, "overdue"),
            );
        }
        Err(e) => return error_page(&s, &e),
    };
    let all = q.all();
    let rows = match app.pending_under(&s.caller, &org, !all).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, &e),
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut v = json!(r);
            if let Ok(d) = r.due.parse() {
                v["due"] = json!(format::date_zh(d));
            }
            v
        })
        .collect();
    render(
        StatusCode::OK,
        "overdue",
        "督办台账",
        json!({ "orgs": orgs, "org": org, "org_name": org_name, "count": rows.len(), "rows": rows,
                "all": all }),
        frame(&s, "overdue"),
    )
}

/// The same list as a file.
async fn export(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&app, &headers, "/console/overdue").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(org) = q.org.clone() else {
        return error_page(&s, &stageflow_app::AppError::bad_request("请选择组织"));
    };
    let all = q.all();
    let rows = match app.pending_under(&s.caller, &org, !all).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, &e),
    };
    match q.format.as_deref() {
        Some("csv") => formats::overdue_csv(&rows),
        _ => match formats::overdue_xlsx(&rows, if all { "全部待办" } else { "督办台账" }) {
            Ok(r) => r,
            Err(e) => error_page(&s, &e.0),
        },
    }
}
