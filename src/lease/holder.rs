//! The isolate's side of lease mode: the leases it holds for one key, what it hands back,
//! and when it asks again.

use super::{LeaseAsk, Tuning, Unused, MAX_RETURNED};
use crate::limits::Window;
use std::num::NonZeroU32;

/// Most leases held at once. Renewing ahead overlaps two; more only when round trips are
/// short against the traffic, and then the one ending first is handed back.
const MAX_HELD: usize = 4;

/// What an isolate does with one request, by its own leases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Admitted under a lease: counted by the object already.
    Admitted,
    /// The object refused the last ask for lack of room; believed for a lease time.
    Throttled {
        window: Window,
        retry_after_secs: u64,
    },
    /// No lease with room: wait for the answer to an ask, sending one if none is on its
    /// way ([`LeaseHolder::wants_to_ask`]).
    Wait,
}

/// One lease in the isolate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    remaining: u32,
    /// Local time the lease ends (exclusive): its ask's send time plus its validity.
    ends_at: u64,
    second: u64,
    day: u64,
}

/// A refusal the isolate keeps believing for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Refusal {
    window: Window,
    /// Local time until which requests are refused here.
    until: u64,
    /// Local time the object said the same request would pass.
    retry_at: u64,
}

/// The leases one isolate holds for one key and route. Times are the isolate's own clock
/// in milliseconds; it need not agree with the object's.
///
/// A request calls [`arrive`](LeaseHolder::arrive); a request that must wait calls
/// [`admit_waiting`](LeaseHolder::admit_waiting) once an answer came. Whoever sees
/// [`wants_to_ask`](LeaseHolder::wants_to_ask) sends [`ask`](LeaseHolder::ask) to the
/// object, in the background if nobody waits for it, and hands its answer to
/// [`granted`](LeaseHolder::granted), [`throttled`](LeaseHolder::throttled),
/// [`refused`](LeaseHolder::refused) or [`failed`](LeaseHolder::failed).
#[derive(Clone, Debug)]
pub struct LeaseHolder {
    tuning: Tuning,
    /// Sorted by `ends_at`: the lease ending first is used first.
    held: Vec<Held>,
    returns: Vec<Unused>,
    /// When the ask on its way was sent.
    asking_since: Option<u64>,
    waiting: u32,
    /// Requests that arrived since the last ask was sent.
    demand: u32,
    last_ask_at: Option<u64>,
    /// Send to answer of recent asks: the longest, decaying by an eighth per answer, so one
    /// slow answer makes the next renewals earlier for a while.
    round_trip_ms: u64,
    /// The validity of the last lease granted: the key's lease time, as the isolate sees it.
    lease_ms: u64,
    refusal: Option<Refusal>,
    /// When the hand-back timer the caller armed fires, if one is armed.
    hand_back_timer: Option<u64>,
}

impl LeaseHolder {
    pub fn new(tuning: Tuning) -> LeaseHolder {
        LeaseHolder {
            tuning,
            held: Vec::new(),
            returns: Vec::new(),
            asking_since: None,
            waiting: 0,
            demand: 0,
            last_ask_at: None,
            round_trip_ms: 0,
            lease_ms: 0,
            refusal: None,
            hand_back_timer: None,
        }
    }

    /// A new request. On [`Admission::Wait`] it is counted as waiting until
    /// [`admit_waiting`](Self::admit_waiting) decides it (or the ask's answer is a refusal
    /// or an error, which the caller gives to every waiting request).
    pub fn arrive(&mut self, now: u64) -> Admission {
        self.demand = self.demand.saturating_add(1);
        let admission = self.try_admit(now);
        if admission == Admission::Wait {
            self.waiting = self.waiting.saturating_add(1);
        }
        admission
    }

    /// A waiting request, again, after an answer came.
    pub fn admit_waiting(&mut self, now: u64) -> Admission {
        let admission = self.try_admit(now);
        if admission != Admission::Wait {
            self.waiting = self.waiting.saturating_sub(1);
        }
        admission
    }

    /// Requests waiting for an answer.
    pub fn waiting(&self) -> u32 {
        self.waiting
    }

    /// Whether an ask is on its way.
    pub fn asking(&self) -> bool {
        self.asking_since.is_some()
    }

    /// Whether to send an ask now: none is on its way, no refusal is believed, and a
    /// request waits or the leases would run out within the next round trips.
    pub fn wants_to_ask(&self, now: u64) -> bool {
        if self.asking_since.is_some() || self.refusal.is_some_and(|r| now < r.until) {
            return false;
        }
        if self.waiting > 0 {
            return true;
        }
        let usable = self
            .held
            .iter()
            .filter(|h| h.remaining > 0 && h.ends_at > now);
        let (remaining, last_end) = usable.fold((0u64, 0u64), |(sum, end), h| {
            (sum + u64::from(h.remaining), end.max(h.ends_at))
        });
        if remaining == 0 {
            return false;
        }
        let ahead_ms = self.round_trip_ms * u64::from(self.tuning.renew_ahead_percent) / 100;
        let ends_soon = last_end.saturating_sub(now) <= ahead_ms;
        // At the rate since the last ask: requests expected in the next `ahead_ms`.
        let since = self
            .last_ask_at
            .map_or(1, |at| now.saturating_sub(at).max(1));
        let expected = (u64::from(self.demand) * ahead_ms).div_ceil(since);
        ends_soon || remaining <= expected
    }

    /// The ask to send now; it is on its way until its answer is handed back. It carries
    /// what expired unused (taken out here: if the ask is lost, so are they, which only
    /// under-admits).
    pub fn ask(&mut self, now: u64) -> LeaseAsk {
        self.expire(now);
        let held_remaining: u64 = self.held.iter().map(|h| u64::from(h.remaining)).sum();
        // The rate since the last ask, over a lease time, with headroom; less what is held
        // already. Measured over at least half a lease time, so that a burst right after
        // an ask is not taken for a rate that lasts.
        let projected = match self.last_ask_at {
            Some(at) if self.lease_ms > 0 => {
                let since = now.saturating_sub(at).max(self.lease_ms / 2);
                (u64::from(self.demand) * u64::from(self.tuning.headroom_percent) * self.lease_ms)
                    .div_ceil(100 * since)
            }
            _ => 0,
        };
        let want = projected
            .saturating_sub(held_remaining)
            .max(u64::from(self.waiting));
        let want = u32::try_from(want).unwrap_or(u32::MAX);
        self.asking_since = Some(now);
        self.last_ask_at = Some(now);
        self.demand = 0;
        LeaseAsk {
            want: NonZeroU32::new(want).unwrap_or(NonZeroU32::MIN),
            returned: std::mem::take(&mut self.returns),
        }
    }

    /// The object granted a lease of `count` requests, valid `valid_ms` from its now,
    /// counted in `second` and `day`.
    pub fn granted(&mut self, count: u32, valid_ms: u64, second: u64, day: u64, now: u64) {
        let sent = self.answered(now);
        self.lease_ms = valid_ms;
        self.refusal = None;
        let lease = Held {
            remaining: count,
            ends_at: sent.saturating_add(valid_ms),
            second,
            day,
        };
        let at = self.held.partition_point(|h| h.ends_at <= lease.ends_at);
        self.held.insert(at, lease);
        if self.held.len() > MAX_HELD {
            let first = self.held.remove(0);
            self.hand_back(first);
        }
        self.expire(now);
    }

    /// The object had no room; the same request would pass after `retry_after_secs`.
    /// Believed for `believe_ms` (the lease time) from the ask's send time.
    pub fn throttled(&mut self, window: Window, retry_after_secs: u64, believe_ms: u64, now: u64) {
        let sent = self.answered(now);
        let retry_at = sent.saturating_add(retry_after_secs.saturating_mul(1_000));
        self.refusal = Some(Refusal {
            window,
            until: retry_at.min(sent.saturating_add(believe_ms)),
            retry_at,
        });
    }

    /// The object refused the key (revoked, deleted, expired, out of scope): every lease
    /// is void. The caller gives the refusal to every waiting request.
    pub fn refused(&mut self) {
        self.asking_since = None;
        self.held.clear();
        self.returns.clear();
        self.waiting = 0;
    }

    /// When to hand back what the leases leave unused if no ask carries it first: the end
    /// of the first lease held (now, if none is held but something waits to go back). The
    /// caller arms a timer for then (in the background, after its response) and calls
    /// [`hand_back_due`](Self::hand_back_due) when it fires. `None` while a timer is armed
    /// or there is nothing to wait for.
    ///
    /// Without it an isolate whose traffic stopped would keep its unused requests counted
    /// until its next ask, perhaps a minute later: with many isolates, that is much of the
    /// quota held by isolates that do not use it.
    pub fn hand_back_at(&mut self, now: u64) -> Option<u64> {
        if self.hand_back_timer.is_some() {
            return None;
        }
        let at = match self.held.first() {
            Some(lease) => lease.ends_at,
            None if !self.returns.is_empty() && self.asking_since.is_none() => now,
            None => return None,
        };
        self.hand_back_timer = Some(at);
        Some(at)
    }

    /// The timer fired: what to send back now on its own. Nothing while a lease is still
    /// held or an ask is on its way: the isolate is busy, and its next ask carries it (if
    /// none comes, the held lease's end fires again).
    pub fn hand_back_due(&mut self, now: u64) -> Vec<Unused> {
        self.hand_back_timer = None;
        self.expire(now);
        match self.asking_since.is_some() || !self.held.is_empty() {
            true => Vec::new(),
            false => std::mem::take(&mut self.returns),
        }
    }

    /// The ask got no answer: the leases held stay good. The caller gives the error to
    /// every waiting request.
    pub fn failed(&mut self) {
        self.asking_since = None;
        self.waiting = 0;
    }

    /// The ask on its way was answered at `now`; when it was sent.
    fn answered(&mut self, now: u64) -> u64 {
        let sent = self.asking_since.take().unwrap_or(now);
        let round_trip = now.saturating_sub(sent);
        self.round_trip_ms = round_trip.max(self.round_trip_ms - self.round_trip_ms / 8);
        sent
    }

    fn try_admit(&mut self, now: u64) -> Admission {
        self.expire(now);
        if let Some(refusal) = self.refusal.filter(|r| now < r.until) {
            return Admission::Throttled {
                window: refusal.window,
                retry_after_secs: refusal.retry_at.saturating_sub(now).div_ceil(1_000).max(1),
            };
        }
        match self.held.iter_mut().find(|h| h.remaining > 0) {
            Some(lease) => {
                lease.remaining -= 1;
                Admission::Admitted
            }
            None => Admission::Wait,
        }
    }

    /// Leases that ended, or have nothing left, go; what they did not use is handed back.
    fn expire(&mut self, now: u64) {
        let (gone, kept): (Vec<Held>, Vec<Held>) = self
            .held
            .iter()
            .partition(|h| h.ends_at <= now || h.remaining == 0);
        self.held = kept;
        for lease in gone {
            self.hand_back(lease);
        }
    }

    fn hand_back(&mut self, lease: Held) {
        if lease.remaining == 0 {
            return;
        }
        match self
            .returns
            .iter_mut()
            .find(|u| u.second == lease.second && u.day == lease.day)
        {
            Some(same) => same.count = same.count.saturating_add(lease.remaining),
            None => self.returns.push(Unused {
                second: lease.second,
                day: lease.day,
                count: lease.remaining,
            }),
        }
        if self.returns.len() > MAX_RETURNED {
            // The oldest bucket is the first to leave the window anyway.
            let oldest = self
                .returns
                .iter()
                .enumerate()
                .min_by_key(|(_, u)| u.second);
            if let Some((at, _)) = oldest {
                self.returns.remove(at);
            }
        }
    }
}
