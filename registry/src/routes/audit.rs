//! `/audit` and `/agents/{id}/audit`: the audit trail, as JSON pages or CSV.

use crate::error::{AppError, AppResult};
use crate::extract::{comma_list, time_param, AgentId, ApiQuery};
use crate::routes::agents::page_limit;
use crate::store::{AuditFilter, Caller};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fleet_protocol::{ApiError, AuditEntry, AuditPage};
use futures_util::StreamExt;
use serde::Deserialize;

/// Rows one CSV export may hold; the `X-Next-Cursor` header continues past it.
const MAX_CSV_ROWS: u32 = 100_000;
/// The header that says where the next CSV export continues (exposed to CORS callers).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";
const CSV_HEADER: &[u8] =
    b"id,at,actor,action,sekuire_id,agent_name,from_status,to_status,reason,request_id,installation_id\n";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(fleet_audit))
        .route("/agents/{id}/audit", get(agent_audit))
}

/// Query of the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Comma list of `pause`, `resume`, `terminate`, `publish`, `verify`, `revoke`.
    #[param(
        pattern = r"^((pause|resume|terminate|publish|verify|revoke)(,(pause|resume|terminate|publish|verify|revoke))*)?$"
    )]
    action: Option<String>,
    /// Key name.
    actor: Option<String>,
    /// Inclusive.
    #[param(format = DateTime)]
    since: Option<String>,
    /// Inclusive.
    #[param(format = DateTime)]
    until: Option<String>,
    /// JSON: default 50, values above 500 are served as 500. CSV: default and most 100,000.
    #[param(minimum = 1, maximum = 4294967295_u64)]
    limit: Option<u32>,
    /// `next_cursor` (or `X-Next-Cursor`) of the previous page.
    #[param(pattern = r"^([0-9]{1,18})?$")]
    cursor: Option<String>,
    /// `csv` for CSV, `json` for JSON; when absent, CSV if `Accept` names `text/csv`.
    #[param(pattern = r"^(json|csv)?$")]
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
        min_id: None,
    };
    let wants_csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        None | Some("") => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
        Some(other) => {
            return Err(AppError::InvalidRequest(format!(
                "format must be json or csv, got `{other}`"
            )))
        }
    };
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    if wants_csv {
        let limit = match query.limit {
            Some(0) => page_limit(Some(0))?,
            limit => limit.unwrap_or(MAX_CSV_ROWS).min(MAX_CSV_ROWS),
        };
        return csv_export(state, &filter, limit, cursor).await;
    }
    let page = state
        .store
        .list_audit(&filter, page_limit(query.limit)?, cursor)
        .await?;
    Ok(Json(page).into_response())
}

/// Rows read and sent at a time while streaming a CSV export.
const CSV_CHUNK_ROWS: u32 = 1_000;

/// Streams the export chunk by chunk, so a 100,000-row export holds one chunk in memory,
/// not the whole file. `X-Next-Cursor` says where the next export continues.
async fn csv_export(
    state: &AppState,
    filter: &AuditFilter,
    limit: u32,
    cursor: Option<&str>,
) -> AppResult<Response> {
    let export = state.store.plan_audit_export(filter, limit, cursor).await?;
    let store = state.store.clone();
    let filter = export.filter;
    let header =
        futures_util::stream::once(async { Ok::<_, AppError>(Bytes::from_static(CSV_HEADER)) });
    let rows = futures_util::stream::unfold(export.start, move |cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let cursor = cursor?;
            Some(
                match store
                    .list_audit(&filter, CSV_CHUNK_ROWS, Some(&cursor))
                    .await
                {
                    Ok(page) => (Ok(Bytes::from(csv_rows(&page.entries))), page.next_cursor),
                    Err(err) => (Err(err), None),
                },
            )
        }
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sekuire-audit.csv\"",
            ),
        ],
        Body::from_stream(header.chain(rows)),
    )
        .into_response();
    if let Some(next) = export
        .next_cursor
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        response.headers_mut().insert(NEXT_CURSOR_HEADER, next);
    }
    Ok(response)
}

/// The fleet's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), tag = "audit",
    responses((status = 200, description = "A page of entries, or CSV with `format=csv` or `Accept: text/csv`",
        content((AuditPage = "application/json"), (String = "text/csv")),
        headers(("X-Next-Cursor" = String, description = "CSV only: where the next export continues, when more match"))),
        (status = 400, body = ApiError)))]
pub async fn fleet_audit(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    audit_page(&state, None, query, &headers).await
}

/// One agent's audit trail, newest first; it survives termination.
#[utoipa::path(get, path = "/api/v1/agents/{id}/audit", params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$"), AuditQuery), tag = "audit",
    responses((status = 200, description = "A page of entries, or CSV with `format=csv` or `Accept: text/csv`",
        content((AuditPage = "application/json"), (String = "text/csv")),
        headers(("X-Next-Cursor" = String, description = "CSV only: where the next export continues, when more match"))),
        (status = 404, body = ApiError)))]
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
    // `;` too: spreadsheets in many locales split on it.
    if defused.contains([',', ';', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

fn csv_rows(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let fields = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.to_string(),
            e.sekuire_id.clone(),
            e.agent_name.clone(),
            e.from_status.clone(),
            e.to_status.clone(),
            e.reason.clone().unwrap_or_default(),
            e.request_id.clone(),
            e.installation_id.clone().unwrap_or_default(),
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
        assert_eq!(csv_field("a;b"), "\"a;b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
