//! The KV index from a secret's hash to its key's id: the data plane's one KV read, and the
//! writes the admin API's plans ([`crate::admin::calls`]) ask for.
//!
//! KV is eventually consistent and only an index: a key's status, secrets and their exact
//! ends are enforced by the key's Durable Object.

use super::platform;
use crate::admin::calls::IndexEntry;
use crate::key::KeyId;
use crate::problem::GatewayError;
use worker::{Env, KvStore};

/// The KV namespace that maps a key's hash to its id.
const KEY_INDEX: &str = "KEY_INDEX";

pub fn store(env: &Env) -> Result<KvStore, GatewayError> {
    env.kv(KEY_INDEX)
        .map_err(|_| platform::store_down("KV binding missing"))
}

/// A miss is an unknown key; an error fails closed.
pub async fn lookup(env: &Env, index_name: &str) -> Result<KeyId, GatewayError> {
    let value = store(env)?
        .get(index_name)
        .text()
        .await
        .map_err(|_| platform::store_down("KV lookup failed"))?;
    match value {
        None => Err(GatewayError::KeyUnknown),
        Some(id) => {
            KeyId::parse(&id).ok_or_else(|| platform::store_down("KV held a malformed key id"))
        }
    }
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
