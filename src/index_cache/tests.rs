use super::*;
use crate::key::{hash_key, ApiKey, Environment, HashingSecret};
use proptest::prelude::*;

fn name(n: u8) -> IndexName {
    let key = ApiKey::generate("kg", Environment::Live, &[n; crate::key::KEY_RANDOM_BYTES]);
    hash_key(&HashingSecret::new(b"test secret".to_vec()), &key).index_name()
}

fn id(n: u8) -> KeyId {
    KeyId::generate(&[n; crate::key::KEY_ID_RANDOM_BYTES])
}

#[test]
fn the_oldest_name_leaves_first_once_full() {
    let mut cache = IndexCache::with_capacity(2);
    cache.insert(name(1), id(1));
    cache.insert(name(2), id(2));
    cache.insert(name(3), id(3));
    assert_eq!(cache.get(&name(1)), None);
    assert_eq!(cache.get(&name(2)), Some(&id(2)));
    assert_eq!(cache.get(&name(3)), Some(&id(3)));
    assert_eq!(cache.ids.len(), 2);
}

#[test]
fn a_name_inserted_again_counts_from_its_new_insertion() {
    let mut cache = IndexCache::with_capacity(2);
    cache.insert(name(1), id(1));
    cache.insert(name(2), id(2));
    cache.insert(name(1), id(1));
    cache.insert(name(3), id(3));
    // 2 is now the oldest: 1's first insertion no longer speaks for it.
    assert_eq!(cache.get(&name(2)), None);
    assert_eq!(cache.get(&name(1)), Some(&id(1)));
}

#[test]
fn a_forgotten_name_is_a_miss_and_frees_its_place() {
    let mut cache = IndexCache::with_capacity(2);
    cache.insert(name(1), id(1));
    cache.insert(name(2), id(2));
    cache.forget(&name(1));
    cache.insert(name(3), id(3));
    assert_eq!(cache.get(&name(1)), None);
    assert_eq!(cache.get(&name(2)), Some(&id(2)));
    assert_eq!(cache.get(&name(3)), Some(&id(3)));
}

#[test]
fn debug_shows_no_hash() {
    let mut cache = IndexCache::with_capacity(2);
    let remembered = name(1);
    cache.insert(remembered.clone(), id(1));
    let shown = format!("{cache:?}");
    let hex = remembered.as_str().trim_start_matches("h1:");
    assert!(!shown.contains(hex), "{shown}");
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8),
    Forget(u8),
}

proptest! {
    /// Against a model (a list of names, oldest first, cut to the capacity): the cache holds
    /// exactly the model's names with their ids, never more than its capacity, and its
    /// insertion log stays bounded.
    #[test]
    fn holds_the_newest_names_and_nothing_else(
        capacity in 1usize..6,
        ops in prop::collection::vec(
            prop_oneof![(0u8..12).prop_map(Op::Insert), (0u8..12).prop_map(Op::Forget)],
            0..200,
        ),
    ) {
        let mut cache = IndexCache::with_capacity(capacity);
        let mut model: Vec<u8> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(n) => {
                    cache.insert(name(n), id(n));
                    model.retain(|m| *m != n);
                    model.push(n);
                    if model.len() > capacity {
                        model.remove(0);
                    }
                }
                Op::Forget(n) => {
                    cache.forget(&name(n));
                    model.retain(|m| *m != n);
                }
            }
            prop_assert_eq!(cache.ids.len(), model.len());
            prop_assert!(cache.order.len() <= 2 * capacity + 1);
            for n in 0..12u8 {
                let expected = model.contains(&n).then(|| id(n));
                prop_assert_eq!(cache.get(&name(n)), expected.as_ref());
            }
        }
    }
}
