//! The per-key Durable Object: storage around [`KeyState`], and the call that reaches it.
//!
//! Durable Objects are single-threaded, and the state is changed in memory before the
//! first `await` of a request, so two requests for one key can never both see the same
//! remaining quota. Writes are confirmed before the reply leaves (the runtime's output
//! gate), so an admitted request's count is durable.

use super::directory_object;
use super::platform::{self, now_ms};
use crate::authority::{Changed, Command, Counters, DirectorySync, KeyState, Reply, Secret};
use crate::directory::{DirectoryCommand, DirectoryReply};
use crate::key::KeyId;
use crate::record::KeyRecord;
use crate::usage::UsageHistory;
use crate::webhook::secret::WebhookSecrets;
use serde::Serialize;
use std::cell::RefCell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

const RECORD: &str = "record";
const SECRETS: &str = "secrets";
/// The webhook's signing secrets, as is (signing needs them), apart from the record that
/// the directory copies.
const WEBHOOK_SECRETS: &str = "webhook_secrets";
const COUNTERS: &str = "counters";
const HISTORY: &str = "history";
/// Set while a deleted key's removal from the directory is still owed (the alarm retries).
const REMOVAL_OWED: &str = "removal_owed";
/// How long the alarm waits before trying the directory again.
const DIRECTORY_RETRY_MS: i64 = 60_000;

// The directory calls keys too (a plan change), so the call itself sits below both objects.
pub use super::platform::call_authority as call;

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
        self.sync_directory(changed.directory, &reply).await;
        Response::from_json(&reply)
    }

    /// Sends the key's current state to the directory: the background refresh of
    /// `last_used_at`, and the retry of an admin change's copy that failed.
    async fn alarm(&self) -> Result<Response> {
        self.load().await?;
        let storage = self.state.storage();
        let command = match storage.get::<String>(REMOVAL_OWED).await? {
            Some(id) => KeyId::parse(&id).map(|id| DirectoryCommand::Remove { id }),
            None => self.snapshot(),
        };
        let Some(command) = command else {
            return Response::ok("nothing to sync");
        };
        match directory_object::call(&self.env, &command).await {
            Ok(reply) => self.adopt(reply).await?,
            Err(error) => {
                // The runtime's own retries give up after a few minutes; this never does.
                worker::console_warn!("directory sync failed, retrying in a minute: {error:?}");
                storage.set_alarm(DIRECTORY_RETRY_MS).await?;
                return Response::ok("retry scheduled");
            }
        }
        if let DirectoryCommand::Remove { .. } = command {
            storage.delete(REMOVAL_OWED).await?;
        }
        Response::ok("synced")
    }
}

impl KeyAuthority {
    async fn load(&self) -> Result<()> {
        if self.key.borrow().is_some() {
            return Ok(());
        }
        let storage = self.state.storage();
        let record: Option<KeyRecord> = read(&storage, RECORD).await?;
        let mut secrets: Vec<Secret> = read(&storage, SECRETS).await?.unwrap_or_default();
        // Keys stored by early 0.1.0 builds had one hash inside the record: adopt it as the
        // current secret, write it back, and get the key listed (until 0.2.0).
        let mut adopted = false;
        if record.is_some() && secrets.is_empty() {
            let stored: Option<String> = storage.get(RECORD).await?;
            if let Some(hash) = stored.as_deref().and_then(crate::authority::legacy_secret) {
                secrets.push(Secret {
                    hash,
                    valid_until: None,
                    serial: 1,
                });
                adopted = true;
            }
        }
        crate::authority::number_secrets(&mut secrets);
        let webhook_secrets: WebhookSecrets =
            read(&storage, WEBHOOK_SECRETS).await?.unwrap_or_default();
        let counters: Counters = read(&storage, COUNTERS).await?.unwrap_or_default();
        let history: UsageHistory = read(&storage, HISTORY).await?.unwrap_or_default();
        // Another request may have loaded (and changed) the state while this one awaited.
        {
            let mut slot = self.key.borrow_mut();
            if slot.is_some() {
                return Ok(());
            }
            *slot = Some(KeyState {
                record,
                secrets,
                webhook_secrets,
                counters,
                history,
                last_used_synced_at: None,
            });
        }
        if adopted {
            let changed = Changed {
                record: true,
                ..Changed::default()
            };
            self.persist(changed).await?;
            storage.set_alarm(0).await?;
        }
        Ok(())
    }

    /// Writes what changed. The hot path (an admitted request) changes only the counters,
    /// and the usage history once an hour.
    async fn persist(&self, changed: Changed) -> Result<()> {
        let storage = self.state.storage();
        if changed.wiped {
            return storage.delete_all().await;
        }
        #[derive(Serialize, Default)]
        struct Values {
            #[serde(skip_serializing_if = "Option::is_none")]
            record: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            secrets: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            webhook_secrets: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            counters: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            history: Option<String>,
        }
        let values = {
            let slot = self.key.borrow();
            let Some(key) = slot.as_ref() else {
                return Ok(());
            };
            let mut values = Values::default();
            if changed.record {
                values.record = Some(serde_json::to_string(&key.record)?);
                values.secrets = Some(serde_json::to_string(&key.secrets)?);
                values.webhook_secrets = Some(serde_json::to_string(&key.webhook_secrets)?);
            }
            if changed.counters {
                values.counters = Some(serde_json::to_string(&key.counters)?);
            }
            if changed.history {
                values.history = Some(serde_json::to_string(&key.history)?);
            }
            values
        };
        match values {
            Values {
                record: None,
                counters: None,
                history: None,
                ..
            } => Ok(()),
            // The hot path: one small value, one plain put.
            Values {
                record: None,
                counters: Some(counters),
                history: None,
                ..
            } => storage.put(COUNTERS, counters).await,
            // One call, so every changed value is committed together or not at all.
            values => storage.put_multiple(values).await,
        }
    }

    /// Keeps the directory's copy current. An admin change is copied before the admin API
    /// answers; if that fails (or for a mere `last_used_at` refresh) the alarm does it.
    async fn sync_directory(&self, sync: DirectorySync, reply: &Reply) {
        let command = match (sync, reply) {
            (DirectorySync::None, _) => return,
            (DirectorySync::Soon, _) => None,
            // The state is gone, so the id comes from the reply.
            (DirectorySync::Now, Reply::Deleted { id, .. }) => {
                Some(DirectoryCommand::Remove { id: id.clone() })
            }
            (DirectorySync::Now, _) => self.snapshot(),
        };
        let storage = self.state.storage();
        if let Some(command) = command {
            match directory_object::call(&self.env, &command).await {
                Ok(reply) => match self.adopt(reply).await {
                    Ok(()) => return,
                    Err(error) => worker::console_warn!("plan not adopted, retrying: {error}"),
                },
                Err(error) => worker::console_warn!("directory copy deferred: {error:?}"),
            }
            if let DirectoryCommand::Remove { id } = command {
                if let Err(error) = storage.put(REMOVAL_OWED, id.as_str()).await {
                    worker::console_error!("directory removal lost: {error}");
                }
            }
        }
        if let Err(error) = storage.set_alarm(0).await {
            worker::console_error!("could not schedule the directory sync: {error}");
        }
    }

    /// The directory answers a key's copy with its workspace's plan: a key made while the
    /// plan changed adopts the newer one here (see [`crate::directory`]).
    async fn adopt(&self, reply: DirectoryReply) -> Result<()> {
        let DirectoryReply::Stored { assignment } = reply else {
            return Ok(());
        };
        let outcome = self
            .key
            .borrow_mut()
            .as_mut()
            .map(|key| key.adopt_plan(assignment));
        let Some(Ok((_, changed))) = outcome else {
            return Ok(());
        };
        if changed.record {
            self.persist(changed).await?;
            // The directory's copy shows the limits the plan gives.
            self.state.storage().set_alarm(0).await?;
        }
        Ok(())
    }

    fn snapshot(&self) -> Option<DirectoryCommand> {
        let slot = self.key.borrow();
        let key = slot.as_ref()?;
        Some(DirectoryCommand::Put {
            record: Box::new(key.record.clone()?),
            last_used_at: key.counters.last_used_at,
        })
    }
}

async fn read<T: serde::de::DeserializeOwned>(
    storage: &worker::Storage,
    name: &str,
) -> Result<Option<T>> {
    match storage.get::<String>(name).await? {
        Some(json) => Ok(Some(serde_json::from_str(&json)?)),
        None => Ok(None),
    }
}
