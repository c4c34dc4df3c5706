//! Extractors that turn every malformed request into the spec's 400/413, never a 500 or a
//! plain-text rejection.

use crate::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{header, request::Parts};
use fleet_protocol::{is_valid_sekuire_id, MAX_BODY_BYTES};
use serde::de::DeserializeOwned;

/// A JSON body of at most 64 KiB. An empty body reads as `{}`, since Sekuire's client may
/// send lifecycle commands without one.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let declared_len = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_len.is_some_and(|len| len > MAX_BODY_BYTES) {
            return Err(AppError::PayloadTooLarge);
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|err| {
                let too_large = std::error::Error::source(&err)
                    .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
                if too_large {
                    AppError::PayloadTooLarge
                } else {
                    AppError::InvalidRequest(format!("could not read the request body: {err}"))
                }
            })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            if let Some(content_type) = content_type {
                if !is_json_media_type(&content_type) {
                    return Err(AppError::InvalidRequest(format!(
                        "expected Content-Type: application/json, got {content_type}"
                    )));
                }
            }
            &bytes
        };
        serde_json::from_slice(body)
            .map(JsonBody)
            .map_err(|err| AppError::InvalidRequest(format!("malformed JSON body: {err}")))
    }
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Query parameters; an unparsable value is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|err| AppError::InvalidRequest(format!("bad query: {}", err.body_text())))
    }
}

/// The `{id}` of an agent path, checked to be 1–64 lowercase hex characters.
pub struct AgentId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for AgentId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|err| AppError::InvalidRequest(err.body_text()))?;
        if is_valid_sekuire_id(&id) {
            Ok(AgentId(id))
        } else {
            Err(AppError::InvalidRequest(
                "a Sekuire ID is 1 to 64 lowercase hex characters".to_owned(),
            ))
        }
    }
}

/// The revision named by `If-Match: "17"` (quotes and a weak `W/` prefix are accepted),
/// or `None` when the header is absent or `*`.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let raw = value.to_str().unwrap_or_default();
        if raw == "*" {
            return Ok(IfMatch(None));
        }
        // Exactly `17`, `"17"`, `W/17` or `W/"17"`, as the OpenAPI pattern says.
        let tag = raw.strip_prefix("W/").unwrap_or(raw);
        let digits = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(tag);
        let well_formed =
            (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        match digits.parse::<i64>() {
            Ok(revision) if well_formed => Ok(IfMatch(Some(revision))),
            _ => Err(AppError::InvalidRequest(format!(
                "If-Match must be a revision such as \"17\", got {raw}"
            ))),
        }
    }
}

/// An optional RFC 3339 query value as Unix milliseconds, naming the parameter on error.
/// Present but empty is an error too, as the OpenAPI `date-time` format says.
pub fn time_param(name: &str, value: Option<&str>) -> Result<Option<i64>, AppError> {
    value
        .map(|v| {
            crate::clock::parse_rfc3339(v).ok_or_else(|| {
                AppError::InvalidRequest(format!("{name} must be an RFC 3339 time, got `{v}`"))
            })
        })
        .transpose()
}

/// Splits a comma list query value (`active,paused`; empty for none) into parsed items,
/// naming the parameter on error. Exactly what the OpenAPI patterns say: no spaces, no
/// empty items.
pub fn comma_list<T: std::str::FromStr>(
    param: &str,
    value: Option<&str>,
) -> Result<Vec<T>, AppError> {
    match value.unwrap_or_default() {
        "" => Ok(Vec::new()),
        list => list
            .split(',')
            .map(|s| {
                s.parse()
                    .map_err(|_| AppError::InvalidRequest(format!("unknown {param} value `{s}`")))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::RuntimeStatus;

    #[test]
    fn json_media_types_include_charset_and_suffixes() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
    }

    #[test]
    fn comma_lists_parse_and_reject_unknown_values() {
        let ok: Vec<RuntimeStatus> = comma_list("runtime_status", Some("active,paused")).unwrap();
        assert_eq!(ok, vec![RuntimeStatus::Active, RuntimeStatus::Paused]);
        assert!(comma_list::<RuntimeStatus>("runtime_status", Some("asleep")).is_err());
        assert!(comma_list::<RuntimeStatus>("runtime_status", Some("active, paused")).is_err());
        assert!(comma_list::<RuntimeStatus>("runtime_status", Some("active,")).is_err());
        assert!(comma_list::<RuntimeStatus>("runtime_status", Some(""))
            .unwrap()
            .is_empty());
        assert!(comma_list::<RuntimeStatus>("runtime_status", None)
            .unwrap()
            .is_empty());
    }
}
