//! Who is calling, and may they. Keys come in `X-API-Key` (Sekuire's header) or
//! `Authorization: Bearer`; they are hashed before lookup and never logged.

use crate::error::AppError;
use crate::store::Caller;
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fleet_protocol::{LifecycleAction, Role};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The key of a request, from either accepted header.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = presented_key(&parts.headers)
            .filter(|k| !k.is_empty())
            .ok_or(AppError::Unauthorized(
                "missing API key: send it in the X-API-Key header",
            ))?;
        let caller = state
            .store
            .authenticate(key)
            .await?
            .ok_or(AppError::Unauthorized("API key is unknown or revoked"))?;
        state.rate_limiter.check(&caller.name)?;
        Ok(caller)
    }
}

impl Caller {
    /// Refuses with 403 unless the caller's role may issue `action`.
    pub fn require_action(&self, action: LifecycleAction) -> Result<(), AppError> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "key {} has role {}; to {} agents you need {}",
                self.name,
                self.role,
                action,
                action.required_role()
            )))
        }
    }

    /// Refuses with 403 unless the caller's role is at least `role`.
    pub fn require_role(&self, role: Role, what: &str) -> Result<(), AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "key {} has role {}; {what} needs {role}",
                self.name, self.role
            )))
        }
    }
}

/// A token bucket per key: `per_second` sustained, bursts of twice that.
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second == 0` turns limiting off.
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from the key's bucket.
    pub fn check(&self, key_name: &str) -> Result<(), AppError> {
        self.take(key_name)
            .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    /// Takes one request from `bucket`; when it is empty, the seconds to wait.
    fn take(&self, bucket: &str) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let capacity = self.per_second * 2.0;
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            // Forget full buckets: they hold nothing a fresh one would not.
            let per_second = self.per_second;
            buckets.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * per_second < capacity
            });
        }
        let (tokens, last) = buckets.entry(bucket.to_owned()).or_insert((capacity, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Middleware: limits, per client address, what reaches the registry without a valid key.
/// A request that presents no credential (an installation's bootstrap, an event stream
/// opened with a ticket) costs its address one request, and is refused with 429 once the
/// address has spent its bucket. A refused key or token costs one request of a second
/// bucket; once that is spent, further refusals answer 429 instead of 401. A valid key or
/// runtime token always goes through, so clients behind one address (a NAT, a proxy) are
/// never locked out by a neighbour guessing keys. Keys are limited per key instead.
pub async fn limit_by_address(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(address) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
    else {
        return next.run(request).await;
    };
    let limiter = &state.address_limiter;
    // Two buckets per address: one for requests without a credential, one for refused
    // credentials. Only the second stops credentialed requests, so a fleet bootstrapping
    // at once from one address never holds up its own leases.
    let anonymous = presented_key(request.headers()).is_none();
    if anonymous {
        if let Err(retry_after_secs) = limiter.take(&format!("anonymous {address}")) {
            return AppError::AddressRateLimited { retry_after_secs }.into_response();
        }
    }
    let response = next.run(request).await;
    if !anonymous && response.status() == StatusCode::UNAUTHORIZED {
        if let Err(retry_after_secs) = limiter.take(&format!("refused {address}")) {
            return AppError::AddressRateLimited { retry_after_secs }.into_response();
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_header_carries_the_key() {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "sk_a".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("sk_a"));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer sk_b".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("sk_b"));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn bucket_allows_a_burst_of_twice_the_rate_then_refuses() {
        let limiter = RateLimiter::new(2);
        for _ in 0..4 {
            assert!(limiter.check("alice").is_ok());
        }
        assert!(matches!(
            limiter.check("alice"),
            Err(AppError::RateLimited {
                retry_after_secs: 1
            })
        ));
        assert!(limiter.check("bob").is_ok(), "buckets are per key");
    }

    #[test]
    fn zero_rate_means_unlimited() {
        let limiter = RateLimiter::new(0);
        assert!((0..1_000).all(|_| limiter.check("alice").is_ok()));
    }
}
