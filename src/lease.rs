//! Lease mode: a key's Durable Object lends an isolate a number of requests it may admit on
//! its own for a short time, so the object is off the request's path while traffic flows.
//!
//! The object's side is [`grant`]; the isolate's is [`LeaseHolder`]. Both are pure: time is
//! the `now` passed in, and the isolate's clock need not agree with the object's.
//!
//! ```
//! use keygate::lease::{grant, LeaseAsk, LeaseTime, Tuning};
//! use keygate::limits::{LimiterState, Limits};
//! use std::num::NonZeroU32;
//!
//! let limits = Limits::new(20, 1_000).unwrap();
//! let mut state = LimiterState::default();
//! let now_ms = 1_700_000_000_250;
//! let ask = LeaseAsk { want: NonZeroU32::new(50).unwrap(), returned: Vec::new() };
//! let lease = grant(&mut state, &limits, LeaseTime::DEFAULT, &ask, None, now_ms, &Tuning::DEFAULT)
//!     .unwrap();
//! // Never more than the windows have left, and at most half of it to one isolate.
//! assert_eq!(lease.count.get(), 10);
//! assert_eq!(lease.valid_ms, 1_000);
//! ```
//!
//! # Why it never admits more than the limit
//!
//! A grant counts its `n` requests in the limiter at once, in the minute bucket of the last
//! second the lease can admit in ([`limits::count_ahead`]). Each request the isolate admits
//! under it, at a moment `t` before the lease ends, is then counted from before `t` until
//! at least 60 s after `t`: the object's count always covers every request admitted, and
//! every request still to be admitted, under its leases. A grant only hands out what the
//! windows have left, so within any 60 s the requests admitted are at most `per_minute`.
//! A lease never runs past the key's UTC midnight (nor its expiry), so the day counter is
//! exact in the same way.
//!
//! The isolate times a lease from when it *sent* its ask, before the object granted it,
//! so the lease ends in the isolate no later than in the object, whatever the network delay
//! and whatever the two clocks say (only their rates need agree, over at most 10 s).
//!
//! Unused requests go back at the next ask ([`Unused`]), subtracted from the bucket they
//! were counted in ([`limits::uncount`]); one lost on the way is only under-admission.
//!
//! # Bounded staleness
//!
//! A lease admits without asking the object, so a revoke, delete, scope edit or expiry
//! reaches an isolate at its next ask: every request admitted after the object refused the
//! key came under a lease granted before, and ends within the lease time of the refusal.
//! The key's expiry is exact: no lease outlives it (`not_after_ms`).

use crate::limits::{self, LimiterState, Limits, Throttled};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;

mod holder;
#[cfg(not(target_arch = "wasm32"))]
pub mod simulation;

pub use holder::{Admission, LeaseHolder, Ticket, LOST_ASK_MS};

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_DAY: u64 = 86_400_000;

/// The shortest lease time a policy may set: below a round trip to the object a lease is
/// over before it arrives.
pub const MIN_LEASE_MS: u64 = 100;
/// The longest: the bound on how long a revoke takes to reach every isolate. A lease counts
/// in its last second, at most this far ahead, which the limiter's storage bound allows for.
pub const MAX_LEASE_MS: u64 = limits::MAX_SECONDS_AHEAD * MS_PER_SECOND;
/// Most [`Unused`] one ask carries (the holder merges them by bucket; more are dropped,
/// which only under-admits).
pub const MAX_RETURNED: usize = 8;

/// How a key's limits are enforced: by its object on every request (the default), or by
/// leases its object lends the isolates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Every request asks the key's object: a revoke is effective on the next request.
    #[default]
    Exact,
    /// Isolates admit under leases: a revoke is effective everywhere within the lease time.
    Lease,
}

impl Enforcement {
    /// The name a policy and the admin API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Exact => "exact",
            Enforcement::Lease => "lease",
        }
    }

    pub fn parse(name: &str) -> Option<Enforcement> {
        match name {
            "exact" => Some(Enforcement::Exact),
            "lease" => Some(Enforcement::Lease),
            _ => None,
        }
    }
}

/// How long a lease lets an isolate admit without asking the object again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct LeaseTime(u64);

/// A lease time outside [`MIN_LEASE_MS`]..=[`MAX_LEASE_MS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimeError(pub u64);

impl fmt::Display for LeaseTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lease time must be between {MIN_LEASE_MS} ms and {MAX_LEASE_MS} ms, got {} ms",
            self.0
        )
    }
}

impl LeaseTime {
    /// One second: long enough against round trips of up to a few hundred milliseconds
    /// (BENCHMARKS.md, "Lease mode simulation"), and a revoke still lands within a second.
    pub const DEFAULT: LeaseTime = LeaseTime(1_000);

    pub fn from_ms(ms: u64) -> Result<LeaseTime, LeaseTimeError> {
        match (MIN_LEASE_MS..=MAX_LEASE_MS).contains(&ms) {
            true => Ok(LeaseTime(ms)),
            false => Err(LeaseTimeError(ms)),
        }
    }

    pub fn ms(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for LeaseTime {
    type Error = LeaseTimeError;
    fn try_from(ms: u64) -> Result<LeaseTime, LeaseTimeError> {
        LeaseTime::from_ms(ms)
    }
}

impl From<LeaseTime> for u64 {
    fn from(time: LeaseTime) -> u64 {
        time.0
    }
}

/// How leases are sized and renewed. [`Tuning::DEFAULT`] is what keygate runs; the others
/// exist for the simulation that chose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// One lease gets at most `1 / share_divisor` of what the windows have left (rounded
    /// up, so at least one request): a busy isolate cannot take the whole remaining quota
    /// for a lease time while others wait.
    pub share_divisor: u32,
    /// An isolate asks for its recent rate times the lease time times this, in percent:
    /// room for its traffic to grow before the next renewal.
    pub headroom_percent: u32,
    /// An isolate renews when its lease would run out (in time or in requests, at its
    /// recent rate) within this many of its last round trips, in percent.
    pub renew_ahead_percent: u32,
}

impl Tuning {
    /// Chosen with the simulation (BENCHMARKS.md, "Lease mode simulation").
    pub const DEFAULT: Tuning = Tuning {
        share_divisor: 2,
        headroom_percent: 200,
        renew_ahead_percent: 200,
    };
}

/// What an isolate asks its key's object for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseAsk {
    /// How many requests it expects to admit during one lease (the object may give fewer).
    pub want: NonZeroU32,
    /// Requests of its earlier leases it did not admit and never will.
    #[serde(default)]
    pub returned: Vec<Unused>,
}

/// Unused requests of a lease, handed back: where they were counted, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unused {
    /// The minute bucket (a Unix second) the lease was counted in.
    pub second: u64,
    /// The UTC day it was counted in.
    pub day: u64,
    pub count: u32,
}

/// What an isolate is told of its lease (the part of [`Lease`] that crosses the Durable
/// Object boundary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTerms {
    pub count: NonZeroU32,
    pub valid_ms: u64,
    pub second: u64,
    pub day: u64,
}

/// A lease as the object grants it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Requests the isolate may admit; all of them are counted already.
    pub count: NonZeroU32,
    /// For how long from the object's now. The isolate counts it from when it sent its
    /// ask, so it ends there no later than here.
    pub valid_ms: u64,
    /// Where the requests were counted, for handing back the unused ones.
    pub second: u64,
    pub day: u64,
    /// Both windows after the grant.
    pub quota: limits::Quota,
}

impl Lease {
    pub fn terms(&self) -> LeaseTerms {
        LeaseTerms {
            count: self.count,
            valid_ms: self.valid_ms,
            second: self.second,
            day: self.day,
        }
    }

    /// The part of this lease never admitted, to hand back.
    pub fn unused(&self, count: u32) -> Unused {
        Unused {
            second: self.second,
            day: self.day,
            count,
        }
    }
}

/// Why no lease was granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoLease {
    /// Neither window has room for one more request.
    Throttled(Throttled),
    /// The key's expiry is not after now (the caller checks the key's status first, so
    /// this is only a guard): a lease would admit past it.
    KeyExpired,
}

/// The object's side: takes back what the ask returns, then lends up to `ask.want`
/// requests for `time` (cut short at the UTC midnight and at `not_after_ms`, the key's
/// expiry, exclusive), counting them in `state` at once.
///
/// The count is the smallest of what the isolate wants, what both windows have left, and
/// one share of that ([`Tuning::share_divisor`]).
pub fn grant(
    state: &mut LimiterState,
    limits: &Limits,
    time: LeaseTime,
    ask: &LeaseAsk,
    not_after_ms: Option<u64>,
    now_ms: u64,
    tuning: &Tuning,
) -> Result<Lease, NoLease> {
    take_back(state, &ask.returned, now_ms);
    let next_midnight = (now_ms / MS_PER_DAY).saturating_add(1) * MS_PER_DAY;
    let end_ms = now_ms
        .saturating_add(time.ms())
        .min(next_midnight)
        .min(not_after_ms.unwrap_or(u64::MAX));
    if end_ms <= now_ms {
        return Err(NoLease::KeyExpired);
    }
    // The last millisecond the lease admits in is `end_ms - 1`; its second is the bucket.
    let second = (end_ms - 1) / MS_PER_SECOND;
    let quota = limits::peek(state, limits, now_ms);
    let room = quota.minute.remaining.min(quota.day.remaining);
    let share = room.div_ceil(tuning.share_divisor.max(1)).max(1);
    let count = ask
        .want
        .min(NonZeroU32::new(share).unwrap_or(NonZeroU32::MIN));
    let counted =
        limits::count_ahead(state, limits, now_ms, second, count).map_err(NoLease::Throttled)?;
    Ok(Lease {
        count: counted.count,
        valid_ms: end_ms - now_ms,
        second: counted.second,
        day: counted.day,
        quota: counted.quota,
    })
}

/// Takes back what an isolate returns (at most [`MAX_RETURNED`] of them), each from the
/// bucket it was counted in. For an ask that is refused, too: the requests are unused
/// whatever the answer.
pub fn take_back(state: &mut LimiterState, returned: &[Unused], now_ms: u64) {
    for unused in returned.iter().take(MAX_RETURNED) {
        limits::uncount(state, now_ms, unused.second, unused.day, unused.count);
    }
}

#[cfg(test)]
mod tests;
