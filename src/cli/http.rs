//! The one place the CLI touches the network: an [`ApiRequest`] out, a [`Reply`] back.
//!
//! Every request has one overall deadline, follows no redirects (so the bearer token is only
//! ever sent to the endpoint the operator named), and takes any HTTP status as an answer to
//! be read, not as an error.

use super::answer::Reply;
use super::args::Token;
use super::connection::{Transport, TransportError};
use super::request::{ApiRequest, Method};
use std::time::Duration;
use ureq::Agent;

pub struct HttpTransport {
    agent: Agent,
    endpoint: String,
    token: Token,
}

impl HttpTransport {
    pub fn new(endpoint: &str, token: Token, timeout: Duration) -> HttpTransport {
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("keygate-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        HttpTransport {
            agent,
            endpoint: endpoint.to_string(),
            token,
        }
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, request: &ApiRequest) -> Result<Reply, TransportError> {
        let url = request.url(&self.endpoint);
        let authorization = format!("Bearer {}", self.token.expose());
        let body = request.body.as_ref().map(|b| b.to_string());
        let result = match (request.method, body) {
            (Method::Get, _) => self
                .agent
                .get(&url)
                .header("Authorization", &authorization)
                .header("Accept", "application/json")
                .call(),
            (Method::Delete, _) => self
                .agent
                .delete(&url)
                .header("Authorization", &authorization)
                .header("Accept", "application/json")
                .call(),
            (method, body) => {
                let builder = match method {
                    Method::Patch => self.agent.patch(&url),
                    Method::Put => self.agent.put(&url),
                    _ => self.agent.post(&url),
                }
                .header("Authorization", &authorization)
                .header("Accept", "application/json");
                match body {
                    Some(json) => builder
                        .header("Content-Type", "application/json")
                        .send(json.as_bytes()),
                    None => builder.send_empty(),
                }
            }
        };
        let mut response = result.map_err(transport_error)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (content_type, retry_after, location) = (
            header("content-type"),
            header("retry-after"),
            header("location"),
        );
        let status = response.status().as_u16();
        let body =
            response
                .body_mut()
                .read_to_string()
                .map_err(|error| match transport_error(error) {
                    TransportError::Failed(cause) => TransportError::Unreadable(cause),
                    other => other,
                })?;
        Ok(Reply {
            status,
            content_type,
            retry_after,
            location,
            body,
        })
    }
}

/// ureq's errors name the host and the cause, never the request's headers, so the token
/// cannot appear in them.
fn transport_error(error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => TransportError::Timeout,
        other => TransportError::Failed(other.to_string()),
    }
}

/// The doctor's view: the admin API as above, and the data plane as a client calls it.
impl super::doctor::Gateway for HttpTransport {
    fn admin(&mut self, request: &ApiRequest) -> Result<Reply, TransportError> {
        self.send(request)
    }

    fn get(
        &mut self,
        path: &str,
        key: Option<&Token>,
    ) -> Result<super::doctor::Probe, TransportError> {
        let url = format!("{}{path}", self.endpoint);
        let mut request = self.agent.get(&url);
        if let Some(key) = key {
            request = request.header("Authorization", &format!("Bearer {}", key.expose()));
        }
        let mut response = request.call().map_err(transport_error)?;
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|error| TransportError::Unreadable(error.to_string()))?;
        Ok(super::doctor::Probe {
            status,
            headers,
            body,
        })
    }
}
