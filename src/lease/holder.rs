//! The isolate's side of lease mode: the leases it holds for one key, what it hands back,
//! and when it asks again.

use super::{LeaseAsk, Tuning, Unused, MAX_RETURNED};
use crate::limits::Window;
use std::num::NonZeroU32;

/// Most leases held at once. Renewing ahead overlaps two; more only when round trips are
/// short against the traffic, and then the one ending first is handed back.
const MAX_HELD: usize = 4;

/// A hand-back timer this long overdue is taken as lost, and armed again.
const LOST_TIMER_MS: u64 = 1_000;

/// An ask on its way this long is taken as lost (the request that sent it was cancelled
/// before its answer came): the next waiting request asks again.
pub const LOST_ASK_MS: u64 = 5_000;

/// What an isolate does with one request, by its own leases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Admitted under a lease: counted by the object already.
    Admitted,
    /// The object refused an ask for lack of room; believed for a lease time.
    Throttled {
        window: Window,
        retry_after_secs: u64,
    },
    /// No lease with room: the request waits for an ask's answer, sending the ask if none
    /// is on its way ([`LeaseHolder::ask_for_waiting`]), then tries again
    /// ([`LeaseHolder::retry`]).
    Wait,
}

/// One ask on its way, handed back with its answer: a lease is timed from its own ask's
/// send time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    sent: u64,
    renewal: bool,
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
    /// Local time until which requests that find no lease are refused here.
    until: u64,
    /// Local time the object said the same request would pass.
    retry_at: u64,
}

/// The leases one isolate holds for one key and route. Times are the isolate's own clock
/// in milliseconds; it need not agree with the object's.
///
/// A request calls [`arrive`](LeaseHolder::arrive). On [`Admission::Wait`] it waits for
/// the answer to one ask for all the waiting requests, which the first of them sends
/// ([`ask_for_waiting`](LeaseHolder::ask_for_waiting)): the sender hands the answer to
/// [`granted`](LeaseHolder::granted), [`throttled`](LeaseHolder::throttled),
/// [`refused`](LeaseHolder::refused) or [`failed`](LeaseHolder::failed), and every waiting
/// request tries again with [`retry`](LeaseHolder::retry). (On Workers a request cannot
/// await another's I/O, so the others find the answer here, not in the call.) After a
/// request, [`wants_to_renew`](LeaseHolder::wants_to_renew) says whether to
/// [`renew`](LeaseHolder::renew) in the background, and
/// [`hand_back_at`](LeaseHolder::hand_back_at) when to hand back what a lease leaves
/// unused.
#[derive(Clone, Debug)]
pub struct LeaseHolder {
    tuning: Tuning,
    /// Sorted by `ends_at`: the lease ending first is used first.
    held: Vec<Held>,
    returns: Vec<Unused>,
    /// The background renewal on its way.
    renewing: Option<Ticket>,
    /// The ask on its way for the waiting requests.
    asking: Option<Ticket>,
    /// Requests waiting for an answer.
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
            renewing: None,
            asking: None,
            waiting: 0,
            demand: 0,
            last_ask_at: None,
            round_trip_ms: 0,
            lease_ms: 0,
            refusal: None,
            hand_back_timer: None,
        }
    }

    /// A new request. On [`Admission::Wait`] it counts as waiting until
    /// [`retry`](Self::retry) decides it.
    pub fn arrive(&mut self, now: u64) -> Admission {
        self.demand = self.demand.saturating_add(1);
        let admission = self.try_admit(now);
        if admission == Admission::Wait {
            self.waiting = self.waiting.saturating_add(1);
        }
        admission
    }

    /// A waiting request, again, after an answer came.
    pub fn retry(&mut self, now: u64) -> Admission {
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

    /// A waiting request gives up (its own deadline passed, or it was cancelled).
    pub fn stop_waiting(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// The ask for the waiting requests, for the one calling to send, if none is on its
    /// way (or the one on its way is taken as lost).
    pub fn ask_for_waiting(&mut self, now: u64) -> Option<(LeaseAsk, Ticket)> {
        let on_its_way = self
            .asking
            .is_some_and(|ticket| now < ticket.sent.saturating_add(LOST_ASK_MS));
        if on_its_way {
            return None;
        }
        let (ask, ticket) = self.ask(now, false);
        self.asking = Some(ticket);
        Some((ask, ticket))
    }

    /// Whether a background renewal is on its way.
    pub fn renewing(&self) -> bool {
        self.renewing.is_some()
    }

    /// Whether to renew now, in the background: none is on its way, no refusal is
    /// believed, and the leases would run out (in time, or in requests at the rate since
    /// the last ask) within the next round trips.
    pub fn wants_to_renew(&self, now: u64) -> bool {
        if self.renewing.is_some() || self.refusal.is_some_and(|r| now < r.until) {
            return false;
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
        let since = self
            .last_ask_at
            .map_or(1, |at| now.saturating_sub(at).max(1));
        let expected = (u64::from(self.demand) * ahead_ms).div_ceil(since);
        ends_soon || remaining <= expected
    }

    /// The background renewal to send now.
    pub fn renew(&mut self, now: u64) -> (LeaseAsk, Ticket) {
        let (ask, ticket) = self.ask(now, true);
        self.renewing = Some(ticket);
        (ask, ticket)
    }

    /// An ask sent now. It carries what expired unused (taken out here: if the ask is lost,
    /// so are they, which only under-admits).
    fn ask(&mut self, now: u64, renewal: bool) -> (LeaseAsk, Ticket) {
        self.expire(now);
        let held_remaining: u64 = self.held.iter().map(|h| u64::from(h.remaining)).sum();
        // The rate since the last ask, over a lease time, with headroom; less what is held
        // already; at least what waits. Measured over at least half a lease time, so that a
        // burst right after an ask is not taken for a rate that lasts.
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
        self.last_ask_at = Some(now);
        self.demand = 0;
        let ask = LeaseAsk {
            want: NonZeroU32::new(want).unwrap_or(NonZeroU32::MIN),
            returned: std::mem::take(&mut self.returns),
        };
        (ask, Ticket { sent: now, renewal })
    }

    /// The object granted the ask of `ticket` a lease of `count` requests, valid `valid_ms`
    /// from its now, counted in `second` and `day`.
    pub fn granted(
        &mut self,
        ticket: Ticket,
        count: u32,
        valid_ms: u64,
        second: u64,
        day: u64,
        now: u64,
    ) {
        self.answered(ticket, now);
        self.refusal = None;
        self.hold(ticket.sent, count, valid_ms, second, day, now);
    }

    /// A lease the object granted to a call sent at `sent` before there was a holder (the
    /// first, before the isolate knew the key leases): timed from there like any other.
    pub fn adopt(&mut self, sent: u64, count: u32, valid_ms: u64, second: u64, day: u64, now: u64) {
        self.round_trip_ms = self.round_trip_ms.max(now.saturating_sub(sent));
        self.hold(sent, count, valid_ms, second, day, now);
    }

    /// The object had no room for the ask of `ticket`; the same request would pass after
    /// `retry_after_secs`. Believed for `believe_ms` (the lease time) from the ask's send
    /// time, for requests that find no lease with room.
    pub fn throttled(
        &mut self,
        ticket: Ticket,
        window: Window,
        retry_after_secs: u64,
        believe_ms: u64,
        now: u64,
    ) {
        self.answered(ticket, now);
        let retry_at = ticket
            .sent
            .saturating_add(retry_after_secs.saturating_mul(1_000));
        self.refusal = Some(Refusal {
            window,
            until: retry_at.min(ticket.sent.saturating_add(believe_ms)),
            retry_at,
        });
    }

    /// The object refused the key (revoked, deleted, expired, out of scope): every lease
    /// is void, and nothing goes back to an object that refuses the key. The caller gives
    /// the refusal to every waiting request.
    pub fn refused(&mut self) {
        *self = LeaseHolder::new(self.tuning);
    }

    /// The ask of `ticket` got no answer: the leases held stay good. The caller gives the
    /// error to every waiting request.
    pub fn failed(&mut self, ticket: Ticket) {
        self.release(ticket);
        if !ticket.renewal {
            self.waiting = 0;
        }
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
        // A timer long overdue was lost (the runtime ended the task that slept for it).
        if self
            .hand_back_timer
            .is_some_and(|at| now <= at.saturating_add(LOST_TIMER_MS))
        {
            return None;
        }
        let at = match self.held.first() {
            Some(lease) => lease.ends_at,
            None if !self.returns.is_empty() && !self.on_its_way() => now,
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
        match self.on_its_way() || !self.held.is_empty() {
            true => Vec::new(),
            false => std::mem::take(&mut self.returns),
        }
    }

    fn on_its_way(&self) -> bool {
        self.renewing.is_some() || self.asking.is_some()
    }

    /// The ask of `ticket` is on its way no more (a later one, sent after it was taken as
    /// lost, stays).
    fn release(&mut self, ticket: Ticket) {
        let slot = match ticket.renewal {
            true => &mut self.renewing,
            false => &mut self.asking,
        };
        if *slot == Some(ticket) {
            *slot = None;
        }
    }

    /// An ask's answer came at `now`.
    fn answered(&mut self, ticket: Ticket, now: u64) {
        self.release(ticket);
        let round_trip = now.saturating_sub(ticket.sent);
        self.round_trip_ms = round_trip.max(self.round_trip_ms - self.round_trip_ms / 8);
    }

    fn hold(&mut self, sent: u64, count: u32, valid_ms: u64, second: u64, day: u64, now: u64) {
        self.lease_ms = valid_ms;
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

    fn try_admit(&mut self, now: u64) -> Admission {
        self.expire(now);
        // A lease with room is always good: its requests are counted already.
        if let Some(lease) = self.held.iter_mut().find(|h| h.remaining > 0) {
            lease.remaining -= 1;
            return Admission::Admitted;
        }
        match self.refusal.filter(|r| now < r.until) {
            Some(refusal) => Admission::Throttled {
                window: refusal.window,
                retry_after_secs: refusal.retry_at.saturating_sub(now).div_ceil(1_000).max(1),
            },
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
