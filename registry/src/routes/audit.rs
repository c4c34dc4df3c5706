//! `/audit` and `/agents/{id}/audit`: the audit trail, as JSON pages or CSV.

use crate::error::{AppError, AppResult};
use crate::extract::{comma_list, time_param, AgentId, ApiQuery};
use crate::routes::agents::page_limit;
use crate::store::{AuditFilter, Caller};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fleet_protocol::{ApiError, AuditEntry, AuditPage};
use serde::Deserialize;

/// Rows one CSV export may hold; the `X-Next-Cursor` header continues past it.
const MAX_CSV_ROWS: u32 = 100_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(fleet_audit))
        .route("/agents/{id}/audit", get(agent_audit))
}

/// Query of the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Comma list of `pause`, `resume`, `terminate`.
    action: Option<String>,
    /// Key name.
    actor: Option<String>,
    /// RFC 3339; inclusive.
    since: Option<String>,
    /// RFC 3339; inclusive.
    until: Option<String>,
    /// Default 50, max 500 (JSON); default and max 100,000 for CSV.
    limit: Option<u32>,
    cursor: Option<String>,
    /// `csv` for CSV.
    format: Option<String>,
}

async fn audit_page(
    state: &AppState,
    sekuire_id: Option<String>,
    query: AuditQuery,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let filter = AuditFilter {
        sekuire_id,
        actions: comma_list("action", query.action.as_deref())?,
        actor: query.actor.filter(|a| !a.is_empty()),
        since_ms: time_param("since", query.since.as_deref())?,
        until_ms: time_param("until", query.until.as_deref())?,
    };
    let wants_csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") | None | Some("") => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
        Some(other) => {
            return Err(AppError::InvalidRequest(format!(
                "format must be json or csv, got `{other}`"
            )))
        }
    };
    let limit = if wants_csv {
        query.limit.unwrap_or(MAX_CSV_ROWS).clamp(1, MAX_CSV_ROWS)
    } else {
        page_limit(query.limit)?
    };
    let page = state
        .store
        .list_audit(
            &filter,
            limit,
            query.cursor.as_deref().filter(|c| !c.is_empty()),
        )
        .await?;
    if !wants_csv {
        return Ok(Json(page).into_response());
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sekuire-audit.csv\"",
            ),
        ],
        audit_csv(&page.entries),
    )
        .into_response();
    if let Some(next) = page
        .next_cursor
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        response.headers_mut().insert("x-next-cursor", next);
    }
    Ok(response)
}

/// The fleet's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), tag = "audit",
    responses((status = 200, body = AuditPage), (status = 400, body = ApiError)))]
pub async fn fleet_audit(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    audit_page(&state, None, query, &headers).await
}

/// One agent's audit trail, newest first; it survives termination.
#[utoipa::path(get, path = "/api/v1/agents/{id}/audit", params(("id" = String, Path), AuditQuery), tag = "audit",
    responses((status = 200, body = AuditPage), (status = 404, body = ApiError)))]
pub async fn agent_audit(
    State(state): State<AppState>,
    _caller: Caller,
    AgentId(id): AgentId,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    state.store.agent(&id).await?;
    audit_page(&state, Some(id), query, &headers).await
}

/// One CSV field: quoted when it holds a separator, quote or line break; a leading
/// `= + - @` is prefixed with `'` so a spreadsheet never runs a reason as a formula.
fn csv_field(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

fn audit_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from(
        "id,at,actor,action,sekuire_id,agent_name,from_status,to_status,reason,request_id\n",
    );
    for e in entries {
        let fields = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.to_string(),
            e.sekuire_id.clone(),
            e.agent_name.clone(),
            e.from_status.to_string(),
            e.to_status.to_string(),
            e.reason.clone().unwrap_or_default(),
            e.request_id.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
