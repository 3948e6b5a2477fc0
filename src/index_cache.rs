//! An isolate's memory of the KV index: which key id a secret's hash names, bounded.
//!
//! The data plane's one KV read maps a presented key's [`IndexName`] to its [`KeyId`]. The
//! answer for a given name never changes to another id (a name is the hash of a random
//! secret), and the key's Durable Object checks the secret itself on every request, so a
//! remembered answer can only be stale in one direction: the secret was retired or the key
//! deleted, and the object refuses it. Remembering answers is therefore safe; remembering
//! *misses* is not (a key created a moment ago must work on its first request), so only
//! found names are kept.
//!
//! Only names of real keys get in (a miss is never kept), so an attacker sending random keys
//! cannot grow it; a deployment with more live keys in one isolate than [`CAPACITY`] just
//! reads KV for the oldest ones again. Entries leave oldest first.
//!
//! ```
//! use keygate::index_cache::IndexCache;
//! use keygate::key::{hash_key, ApiKey, Environment, HashingSecret, KeyId};
//!
//! let mut cache = IndexCache::with_capacity(2);
//! let key = ApiKey::generate("kg", Environment::Live, &[7; 24]);
//! let name = hash_key(&HashingSecret::new(b"secret".to_vec()), &key).index_name();
//! assert_eq!(cache.get(&name), None);
//! let id = KeyId::generate(&[9; 16]);
//! cache.insert(name.clone(), id.clone());
//! assert_eq!(cache.get(&name), Some(&id));
//! cache.forget(&name);
//! assert_eq!(cache.get(&name), None);
//! ```

use crate::key::{IndexName, KeyId};
use std::collections::{BTreeMap, VecDeque};

/// How many names one isolate remembers: about 250 bytes each, so ~2.5 MB of the
/// isolate's 128 MB at most.
pub const CAPACITY: usize = 10_000;

/// Found KV answers, oldest first out. A `BTreeMap`, not a `HashMap`: no hash seed to
/// predict, whatever names arrive.
#[derive(Debug)]
pub struct IndexCache {
    capacity: usize,
    /// Each name with its id and the insertion number that [`IndexCache::order`] holds for it.
    ids: BTreeMap<IndexName, (KeyId, u64)>,
    /// Insertion numbers and names, oldest first. A forgotten or replaced name leaves its
    /// old number here until it reaches the front, where it is skipped.
    order: VecDeque<(u64, IndexName)>,
    inserted: u64,
}

impl IndexCache {
    pub fn with_capacity(capacity: usize) -> IndexCache {
        IndexCache {
            capacity: capacity.max(1),
            ids: BTreeMap::new(),
            order: VecDeque::new(),
            inserted: 0,
        }
    }

    pub fn get(&self, name: &IndexName) -> Option<&KeyId> {
        self.ids.get(name).map(|(id, _)| id)
    }

    /// Remembers a name KV found, dropping the oldest names beyond the capacity.
    pub fn insert(&mut self, name: IndexName, id: KeyId) {
        self.inserted += 1;
        self.order.push_back((self.inserted, name.clone()));
        self.ids.insert(name, (id, self.inserted));
        while self.ids.len() > self.capacity {
            self.drop_oldest();
        }
        // Forgotten names' numbers pile up in `order` only until they would outnumber the
        // live ones; then they are swept, so `order` stays within twice the capacity.
        if self.order.len() > 2 * self.capacity {
            let ids = &self.ids;
            self.order
                .retain(|(number, name)| ids.get(name).is_some_and(|(_, n)| n == number));
        }
    }

    /// Forgets a name the key's object refused: its secret is retired or its key gone.
    pub fn forget(&mut self, name: &IndexName) {
        self.ids.remove(name);
    }

    fn drop_oldest(&mut self) {
        while let Some((number, name)) = self.order.pop_front() {
            if self.ids.get(&name).is_some_and(|(_, n)| *n == number) {
                self.ids.remove(&name);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
