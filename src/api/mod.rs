//! Typed client of the registry API: one async fn per endpoint, one `Clone` error type.
//! Knows HTTP and nothing about signals; pages decide what a failure means to the user.

use crate::model::audit_query::AuditQuery;
use crate::model::capabilities::{Capabilities, Feature};
use crate::model::fleet_query::FleetQuery;
use crate::model::log_query::LogQuery;
use bodies::{bulk_body, install_token_body, lifecycle_body, revoke_body, verification_body};
use fleet_protocol::{
    Agent, ApiError, AuditPage, BulkOutcome, BulkRequest, BulkResponse, ErrorCode, EventTicket,
    FleetSummary, InstallToken, InstallTokenRequest, Installation, InstallationList,
    LifecycleAction, LifecycleRequest, LogPage, Me, RevokeRequest, VerificationRequest,
    VerificationStatus,
};
use gloo_net::http::{Request, RequestBuilder, Response};
use json::{decode, FromJson};
use shapes::FleetList;

pub mod bodies;
pub mod json;
pub mod shapes;

/// Where a failed call got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// The registry could not be reached at all (network down, registry stopped, CORS).
    Nothing,
    /// The registry answered with this HTTP status.
    Registry(u16),
}

/// Why a call failed, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    pub reached: Reached,
    pub code: Option<ErrorCode>,
    pub message: String,
}

impl ApiFailure {
    fn unreachable(error: gloo_net::Error) -> ApiFailure {
        // The browser's own words when it has some (`Failed to fetch`); matched rather than
        // formatted, which would bring every variant's formatting into the bundle.
        let detail = match error {
            gloo_net::Error::JsError(js) => js.message,
            _ => "the request failed".to_owned(),
        };
        ApiFailure {
            reached: Reached::Nothing,
            code: None,
            message: format!("The registry could not be reached ({detail})."),
        }
    }

    /// The registry is down or the network is gone: retry later, keep what is shown.
    pub fn is_unreachable(&self) -> bool {
        self.reached == Reached::Nothing
    }

    /// The key was rejected: sign in again.
    pub fn is_unauthorized(&self) -> bool {
        self.code == Some(ErrorCode::Unauthorized) || self.reached == Reached::Registry(401)
    }

    /// Someone changed the agent since it was loaded.
    pub fn is_stale(&self) -> bool {
        self.code == Some(ErrorCode::PreconditionFailed)
    }
}

/// A registry and the key to use with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    /// Origin of the registry, without a trailing slash.
    pub base_url: String,
    pub key: String,
}

impl Registry {
    pub fn new(base_url: &str, key: &str) -> Registry {
        Registry {
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            key: key.trim().to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request with the key and answers the body of a 2xx response as text.
    /// Not generic, so the async machinery exists once however many endpoints there are.
    async fn send(
        &self,
        request: RequestBuilder,
        body: Option<String>,
    ) -> Result<Text, ApiFailure> {
        let request = request.header("X-API-Key", &self.key);
        let request = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body),
            None => request.build(),
        }
        .map_err(ApiFailure::unreachable)?;
        let response = request.send().await.map_err(ApiFailure::unreachable)?;
        if !response.ok() {
            return Err(failure(response).await);
        }
        let body = response.text().await.map_err(ApiFailure::unreachable)?;
        Ok(Text {
            status: response.status(),
            next_cursor: response.headers().get("x-next-cursor"),
            body,
        })
    }

    async fn get<T: FromJson>(&self, path: &str) -> Result<T, ApiFailure> {
        self.send(Request::get(&self.url(path)), None)
            .await?
            .parse()
    }

    async fn post<T: FromJson>(&self, path: &str, body: String) -> Result<T, ApiFailure> {
        self.send(Request::post(&self.url(path)), Some(body))
            .await?
            .parse()
    }

    /// Who the key belongs to; also how a key is checked at sign-in.
    pub async fn me(&self) -> Result<Me, ApiFailure> {
        self.get("/api/v1/me").await
    }

    pub async fn fleet_summary(&self) -> Result<FleetSummary, ApiFailure> {
        self.get("/api/v1/fleet/summary").await
    }

    /// What this registry offers beyond Sekuire's standard API, from the OpenAPI document
    /// it publishes; without one that can be read, the standard API only.
    pub async fn capabilities(&self) -> Capabilities {
        self.get("/api/v1/openapi.json")
            .await
            .unwrap_or(Capabilities::STANDARD)
    }

    /// A page of the fleet. A registry without list queries is asked for the search only,
    /// and as many matches as one answer holds; the page filters and sorts those.
    pub async fn list_agents(
        &self,
        view: &FleetQuery,
        caps: Capabilities,
    ) -> Result<FleetList, ApiFailure> {
        if caps.has(Feature::ListQueries) {
            self.get(&view.to_api_path()).await
        } else {
            self.get(&view.to_search_path()).await
        }
    }

    pub async fn agent(&self, sekuire_id: &str) -> Result<Agent, ApiFailure> {
        self.get(&format!("/api/v1/agents/{sekuire_id}")).await
    }

    pub async fn installations(&self, sekuire_id: &str) -> Result<InstallationList, ApiFailure> {
        self.get(&format!("/api/v1/agents/{sekuire_id}/installations"))
            .await
    }

    /// Pauses, resumes or terminates one agent. On a registry that keeps revisions (not
    /// 0) it is refused with 412 unless the agent is still at `revision`: an operator never
    /// acts on a state they have not seen. Any 2xx is success, as for Sekuire's client;
    /// the answer's body is not read (the hosted registry's is not ours), so the caller
    /// reads the agent again.
    pub async fn apply(
        &self,
        sekuire_id: &str,
        action: LifecycleAction,
        reason: Option<String>,
        revision: i64,
    ) -> Result<(), ApiFailure> {
        let mut request = Request::post(&self.url(&format!(
            "/api/v1/agents/{}/{action}",
            crate::model::encode_component(sekuire_id)
        )));
        if revision > 0 {
            request = request.header("If-Match", &format!("\"{revision}\""));
        }
        self.send(request, Some(lifecycle_body(&LifecycleRequest { reason })))
            .await
            .map(drop)
    }

    /// The same action on many agents: one request where the registry takes them in bulk,
    /// else one request per agent, in order, each succeeding or failing on its own.
    pub async fn apply_bulk(
        &self,
        action: LifecycleAction,
        ids: Vec<String>,
        reason: Option<String>,
        caps: Capabilities,
    ) -> Result<BulkResponse, ApiFailure> {
        if caps.has(Feature::Bulk) {
            return self
                .post(
                    &format!("/api/v1/agents/bulk/{action}"),
                    bulk_body(&BulkRequest { ids, reason }),
                )
                .await;
        }
        let mut results = Vec::with_capacity(ids.len());
        for sekuire_id in ids {
            let outcome = self.apply(&sekuire_id, action, reason.clone(), 0).await;
            if let Err(failure) = &outcome {
                if failure.is_unreachable() || failure.is_unauthorized() {
                    return Err(failure.clone());
                }
            }
            results.push(BulkOutcome {
                ok: outcome.is_ok(),
                changed: None,
                error: outcome.as_ref().err().and_then(|f| f.code),
                message: outcome.err().map(|f| f.message),
                sekuire_id,
            });
        }
        Ok(BulkResponse { results })
    }

    /// An admin's verification decision on a pushed agent.
    pub async fn set_verification(
        &self,
        sekuire_id: &str,
        status: VerificationStatus,
        reason: Option<String>,
    ) -> Result<Agent, ApiFailure> {
        self.post(
            &format!("/api/v1/agents/{sekuire_id}/verification"),
            verification_body(&VerificationRequest { status, reason }),
        )
        .await
    }

    /// A single-use install token for `sekuire run`, in the key's workspace.
    pub async fn create_install_token(
        &self,
        workspace_id: &str,
        sekuire_id: &str,
        expiry_minutes: i64,
    ) -> Result<InstallToken, ApiFailure> {
        let request = InstallTokenRequest {
            agent_id: Some(sekuire_id.to_owned()),
            sekuire_id: Some(sekuire_id.to_owned()),
            expiry_minutes: Some(expiry_minutes),
        };
        self.post(
            &format!(
                "/api/v1/workspaces/{}/install-tokens",
                crate::model::encode_component(workspace_id)
            ),
            install_token_body(&request),
        )
        .await
    }

    /// Stops one installation: it gets `terminate` on its next lease.
    pub async fn revoke_installation(
        &self,
        installation_id: &str,
        reason: Option<String>,
    ) -> Result<Installation, ApiFailure> {
        self.post(
            &format!(
                "/api/v1/installations/{}/revoke",
                crate::model::encode_component(installation_id)
            ),
            revoke_body(&RevokeRequest {
                reason,
                shutdown_timeout_ms: None,
            }),
        )
        .await
    }

    /// A page of an agent's event log.
    pub async fn logs(&self, sekuire_id: &str, query: &LogQuery) -> Result<LogPage, ApiFailure> {
        self.get(&query.to_api_path(sekuire_id)).await
    }

    pub async fn audit(&self, view: &AuditQuery) -> Result<AuditPage, ApiFailure> {
        self.get(&view.to_api_path(false)).await
    }

    /// The filtered audit trail as CSV text, as much as one export holds (the newest
    /// 100,000 entries), and whether more match.
    pub async fn audit_csv(&self, view: &AuditQuery) -> Result<CsvExport, ApiFailure> {
        let path = view.to_api_path(true);
        let text = self.send(Request::get(&self.url(&path)), None).await?;
        Ok(CsvExport {
            more: text.next_cursor.is_some(),
            csv: text.body,
        })
    }

    /// A single-use ticket for the event stream (keys never go into URLs).
    pub async fn event_ticket(&self) -> Result<EventTicket, ApiFailure> {
        self.post("/api/v1/events/ticket", "{}".to_owned()).await
    }

    /// The event stream URL for `ticket`.
    pub fn events_url(&self, ticket: &str) -> String {
        self.url(&format!(
            "/api/v1/events?ticket={}",
            crate::model::encode_component(ticket)
        ))
    }
}

/// The body of a successful response.
struct Text {
    status: u16,
    /// `X-Next-Cursor`: where a CSV export that stopped at its limit would continue.
    next_cursor: Option<String>,
    body: String,
}

/// One CSV export of the audit trail.
pub struct CsvExport {
    pub csv: String,
    /// More entries match than one export holds.
    pub more: bool,
}

impl Text {
    fn parse<T: FromJson>(self) -> Result<T, ApiFailure> {
        decode(&self.body).map_err(|err| ApiFailure {
            reached: Reached::Registry(self.status),
            code: None,
            message: format!("The registry sent an answer this dashboard cannot read ({err})."),
        })
    }
}

async fn failure(response: Response) -> ApiFailure {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    match decode::<ApiError>(&body) {
        Ok(body) => ApiFailure {
            reached: Reached::Registry(status),
            code: Some(body.error),
            message: body.message,
        },
        Err(_) => ApiFailure {
            reached: Reached::Registry(status),
            code: None,
            message: format!("The registry answered {status} {}.", response.status_text()),
        },
    }
}
