//! The KV index from a secret's hash to its key's id: the data plane's one KV read, and the
//! writes the admin API's plans ([`crate::admin::calls`]) ask for.
//!
//! KV is eventually consistent and only an index: a key's status, secrets and their exact
//! ends are enforced by the key's Durable Object.

use super::platform;
use crate::admin::calls::IndexEntry;
use crate::index_cache::{IndexCache, CAPACITY};
use crate::key::{IndexName, KeyId};
use crate::problem::GatewayError;
use std::cell::RefCell;
use worker::{Env, KvStore};

thread_local! {
    /// What this isolate has found in KV (see [`crate::index_cache`] for why that is safe).
    static FOUND: RefCell<IndexCache> = RefCell::new(IndexCache::with_capacity(CAPACITY));
}

/// The KV namespace that maps a key's hash to its id.
const KEY_INDEX: &str = "KEY_INDEX";

pub fn store(env: &Env) -> Result<KvStore, GatewayError> {
    env.kv(KEY_INDEX)
        .map_err(|_| platform::store_down("KV binding missing"))
}

/// The key id a secret's name maps to: from this isolate's memory, or KV's answer (then
/// remembered). A miss is an unknown key and is not remembered; an error fails closed.
pub async fn lookup(env: &Env, index_name: &IndexName) -> Result<KeyId, GatewayError> {
    if let Some(id) = FOUND.with(|found| found.borrow().get(index_name).cloned()) {
        return Ok(id);
    }
    let value = store(env)?
        .get(index_name)
        .text()
        .await
        .map_err(|_| platform::store_down("KV lookup failed"))?;
    let id = match value {
        None => return Err(GatewayError::KeyUnknown),
        Some(id) => {
            KeyId::parse(&id).ok_or_else(|| platform::store_down("KV held a malformed key id"))?
        }
    };
    FOUND.with(|found| found.borrow_mut().insert(index_name.clone(), id.clone()));
    Ok(id)
}

/// Forgets a name whose key's object did not know its secret (retired, or the key deleted).
pub fn forget(index_name: &IndexName) {
    FOUND.with(|found| found.borrow_mut().forget(index_name));
}

pub async fn put(env: &Env, entry: &IndexEntry) -> Result<(), GatewayError> {
    let mut put = store(env)?
        .put(&entry.name, entry.key_id.as_str())
        .map_err(|_| platform::store_down("KV put could not be prepared"))?;
    if let Some(ttl) = entry.ttl_secs {
        put = put.expiration_ttl(ttl);
    }
    put.execute()
        .await
        .map_err(|_| platform::store_down("KV put failed"))
}
