//! Replays: a signature proves keygate sent a request, not that it is the first time the
//! origin sees it. Within the timestamp tolerance a captured request verifies again, so an
//! origin that must act once per request remembers each `X-Keygate-Request-Id` until its
//! timestamp has left the window (after which [`crate::identity::verify`] refuses it as
//! stale anyway).
//!
//! [`ReplayCache`] is that memory, bounded: when it is full of ids still inside the window
//! it refuses the new request ([`Replay::Full`]) rather than forget one that could then be
//! replayed. It is in memory and per process: several instances of an origin each keep
//! their own, so a replay sent to another instance is not caught (share a store such as
//! Redis, keyed the same way, for that).
//!
//! ```
//! use keygate_verify::replay::{Replay, ReplayCache};
//! let mut seen = ReplayCache::new(10_000, 300);
//! assert_eq!(seen.check_and_remember("req_1", 1_900_000_000, 1_900_000_005), Ok(()));
//! assert_eq!(seen.check_and_remember("req_1", 1_900_000_000, 1_900_000_006), Err(Replay::Seen));
//! ```

use std::collections::{BTreeSet, HashSet};

/// Why a verified request is still refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// This request id was already accepted within the window.
    Seen,
    /// Every slot holds an id still inside the window: refusing is the only safe answer.
    Full,
}

impl Replay {
    /// A stable name, as [`crate::VerifyError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            Replay::Seen => "replayed",
            Replay::Full => "replay_cache_full",
        }
    }
}

/// Request ids accepted within the tolerance window, at most `capacity` of them.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    tolerance_secs: u64,
    ids: HashSet<String>,
    /// The same ids by when they leave the window, soonest first.
    by_expiry: BTreeSet<(u64, String)>,
}

impl ReplayCache {
    /// `tolerance_secs` must be the one verification uses: an id is kept until a request
    /// with its timestamp would be refused as stale.
    pub fn new(capacity: usize, tolerance_secs: u64) -> ReplayCache {
        ReplayCache {
            capacity,
            tolerance_secs,
            ids: HashSet::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// Remembers `request_id`, signed at `timestamp`, unless it was seen within the window
    /// or there is no room. Call it only for a request that verified: ids of forgeries
    /// would take the room of real ones.
    pub fn check_and_remember(
        &mut self,
        request_id: &str,
        timestamp: u64,
        now_secs: u64,
    ) -> Result<(), Replay> {
        self.forget_expired(now_secs);
        if self.ids.contains(request_id) {
            return Err(Replay::Seen);
        }
        if self.ids.len() >= self.capacity {
            return Err(Replay::Full);
        }
        let expires_at = timestamp.saturating_add(self.tolerance_secs);
        self.ids.insert(request_id.to_string());
        self.by_expiry.insert((expires_at, request_id.to_string()));
        Ok(())
    }

    /// How many ids it can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many ids it holds now.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Drops every id whose timestamp is now outside the window: verification refuses a
    /// replay of it as stale.
    fn forget_expired(&mut self, now_secs: u64) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 >= now_secs {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first() {
                self.ids.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: u64 = 1_900_000_000;

    #[test]
    fn an_id_is_refused_until_its_timestamp_leaves_the_window() {
        let mut seen = ReplayCache::new(10, 300);
        assert_eq!(seen.check_and_remember("req_1", T, T), Ok(()));
        assert_eq!(
            seen.check_and_remember("req_1", T, T + 300),
            Err(Replay::Seen)
        );
        // At T + 301 verification refuses the replay as stale: the id can go.
        assert_eq!(seen.check_and_remember("req_2", T + 301, T + 301), Ok(()));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen.check_and_remember("req_1", T, T + 301), Ok(()));
    }

    #[test]
    fn a_full_cache_fails_closed_then_frees_room_as_time_passes() {
        let mut seen = ReplayCache::new(2, 300);
        assert_eq!(seen.check_and_remember("a", T, T), Ok(()));
        assert_eq!(seen.check_and_remember("b", T + 10, T + 10), Ok(()));
        assert_eq!(
            seen.check_and_remember("c", T + 20, T + 20),
            Err(Replay::Full)
        );
        // A refused id is not remembered: the same request is refused again as full.
        assert_eq!(
            seen.check_and_remember("c", T + 20, T + 20),
            Err(Replay::Full)
        );
        // "a" leaves the window at T + 301; "b" is still in it.
        assert_eq!(seen.check_and_remember("c", T + 20, T + 301), Ok(()));
        assert_eq!(
            seen.check_and_remember("b", T + 10, T + 301),
            Err(Replay::Seen)
        );
        assert_eq!(
            ReplayCache::new(0, 300).check_and_remember("a", T, T),
            Err(Replay::Full)
        );
    }

    #[test]
    fn a_timestamp_from_the_future_is_kept_until_it_too_is_stale() {
        let mut seen = ReplayCache::new(10, 300);
        assert_eq!(seen.check_and_remember("ahead", T + 300, T), Ok(()));
        assert_eq!(
            seen.check_and_remember("ahead", T + 300, T + 600),
            Err(Replay::Seen)
        );
        assert_eq!(seen.check_and_remember("ahead", T + 300, T + 601), Ok(()));
        // The far future saturates instead of wrapping to "already expired".
        assert_eq!(seen.check_and_remember("end", u64::MAX, T), Ok(()));
        assert_eq!(
            seen.check_and_remember("end", u64::MAX, u64::MAX),
            Err(Replay::Seen)
        );
    }

    proptest! {
        /// Against a naive model: a list of (id, expiry) scanned whole on every call.
        #[test]
        fn agrees_with_a_naive_model(
            calls in proptest::collection::vec((0u8..6, 0u64..400, 0u64..50), 1..60),
            capacity in 0usize..5,
        ) {
            let tolerance = 100;
            let mut cache = ReplayCache::new(capacity, tolerance);
            let mut model: Vec<(String, u64)> = Vec::new();
            let mut now = T;
            for (id, age, wait) in calls {
                now += wait;
                let id = format!("req_{id}");
                let timestamp = now.saturating_sub(age % (2 * tolerance)) + tolerance / 2;
                model.retain(|(_, expiry)| *expiry >= now);
                let expected = if model.iter().any(|(seen, _)| *seen == id) {
                    Err(Replay::Seen)
                } else if model.len() >= capacity {
                    Err(Replay::Full)
                } else {
                    model.push((id.clone(), timestamp + tolerance));
                    Ok(())
                };
                prop_assert_eq!(cache.check_and_remember(&id, timestamp, now), expected);
                prop_assert!(cache.len() <= capacity);
            }
        }
    }
}
