//! The per-key Durable Object: storage around [`KeyState`], and the call that reaches it.
//!
//! Durable Objects are single-threaded, and the state is changed in memory before the
//! first `await` of a request, so two requests for one key can never both see the same
//! remaining quota. Writes are confirmed before the reply leaves (the runtime's output
//! gate), so an admitted request's count is durable.

use super::platform::{self, now_ms};
use crate::authority::{Changed, Command, Counters, KeyRecord, KeyState, Reply};
use crate::key::KeyId;
use crate::problem::GatewayError;
use serde::Serialize;
use std::cell::RefCell;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State,
};

/// The Durable Object binding, one object per key id.
const BINDING: &str = "KEY_AUTHORITY";
const RECORD: &str = "record";
const COUNTERS: &str = "counters";

/// Sends one command to a key's authority and reads its reply. Any failure fails closed.
pub async fn call(
    env: &Env,
    id: &KeyId,
    command: &Command,
) -> std::result::Result<Reply, GatewayError> {
    let outcome = async {
        let stub = env
            .durable_object(BINDING)?
            .id_from_name(id.as_str())?
            .get_stub()?;
        let body = serde_json::to_string(command)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let request = Request::new_with_init("https://key-authority/", &init)?;
        let mut response = stub.fetch_with_request(request).await?;
        if response.status_code() != 200 {
            return Err(worker::Error::RustError(format!(
                "key authority answered {}",
                response.status_code()
            )));
        }
        response.json::<Reply>().await
    }
    .await;
    outcome.map_err(|e| platform::store_down(&format!("key authority call failed: {e}")))
}

#[durable_object]
pub struct KeyAuthority {
    state: State,
    env: Env,
    /// `None` until loaded from storage on the first request this instance serves.
    key: RefCell<Option<KeyState>>,
}

impl DurableObject for KeyAuthority {
    fn new(state: State, env: Env) -> Self {
        KeyAuthority {
            state,
            env,
            key: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command: Command = match serde_json::from_str(&req.text().await?) {
            Ok(command) => command,
            Err(_) => return Response::error("malformed command", 400),
        };
        let config = match platform::config(&self.env) {
            Ok(config) => config,
            Err(error) => {
                worker::console_error!("keygate is misconfigured: {error}");
                return Response::error("misconfigured", 503);
            }
        };
        self.load().await?;
        // The borrow ends before any await: the decision and the in-memory update are one step.
        let outcome = self
            .key
            .borrow_mut()
            .as_mut()
            .map(|key| key.handle(command, &config.policy, now_ms()));
        let Some((reply, changed)) = outcome else {
            return Response::error("state not loaded", 500);
        };
        if let Err(error) = self.persist(changed).await {
            // Forget the in-memory state so the next request reloads what was really stored.
            *self.key.borrow_mut() = None;
            return Err(error);
        }
        Response::from_json(&reply)
    }
}

impl KeyAuthority {
    async fn load(&self) -> Result<()> {
        if self.key.borrow().is_some() {
            return Ok(());
        }
        let storage = self.state.storage();
        let record: Option<KeyRecord> = match storage.get::<String>(RECORD).await? {
            Some(json) => serde_json::from_str(&json)?,
            None => None,
        };
        let counters: Counters = match storage.get::<String>(COUNTERS).await? {
            Some(json) => serde_json::from_str(&json)?,
            None => Counters::default(),
        };
        // Another request may have loaded (and changed) the state while this one awaited.
        let mut slot = self.key.borrow_mut();
        if slot.is_none() {
            *slot = Some(KeyState { record, counters });
        }
        Ok(())
    }

    /// Writes what changed. The hot path (an admitted request) changes only the counters.
    async fn persist(&self, changed: Changed) -> Result<()> {
        #[derive(Serialize)]
        struct Both {
            record: String,
            counters: String,
        }
        let serialized = {
            let slot = self.key.borrow();
            let Some(key) = slot.as_ref() else {
                return Ok(());
            };
            let record = match changed.record {
                true => Some(serde_json::to_string(&key.record)?),
                false => None,
            };
            let counters = match changed.counters {
                true => Some(serde_json::to_string(&key.counters)?),
                false => None,
            };
            (record, counters)
        };
        let storage = self.state.storage();
        match serialized {
            // One call, so both values are committed together or not at all.
            (Some(record), Some(counters)) => storage.put_multiple(Both { record, counters }).await,
            (Some(record), None) => storage.put(RECORD, record).await,
            (None, Some(counters)) => storage.put(COUNTERS, counters).await,
            (None, None) => Ok(()),
        }
    }
}
