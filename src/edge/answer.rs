//! What every admin handler answers with: JSON, the request id, never cached.

use super::platform::{json_response, now_ms};
use crate::admin::calls;
use crate::approval::{approval_object, Approval};
use crate::authority::Reply;
use crate::config::Config;
use crate::request::reply::Refused;
use worker::Response;

pub type Outcome = Result<Response, Refused>;

pub struct Answer<'a> {
    pub config: &'a Config,
    pub request_id: &'a str,
}

impl Answer<'_> {
    pub fn json(&self, status: u16, body: &impl serde::Serialize) -> Outcome {
        Ok(json_response(status, body, self.request_id)?)
    }

    /// A key object for a reply that shows one key; `with_usage` adds the usage figures (GET).
    pub fn key(&self, reply: Reply, status: u16, with_usage: bool) -> Outcome {
        let body = calls::key_answer(reply, with_usage, &self.config.policy, now_ms())?;
        self.json(status, &body)
    }

    /// One approval, with its stored request's headers and body.
    pub fn approval(&self, approval: &Approval, body: &[u8]) -> Outcome {
        self.json(200, &approval_object(approval, Some(body), now_ms()))
    }
}
