//! Lease mode in the isolate: the data plane's admit, answered from the leases this isolate
//! holds when it can, from the key's Durable Object when it must ([`crate::lease`]).
//!
//! [`admit`] stands where the call to the key's object stood and answers with the same
//! [`Reply`]. A key in exact mode costs what it did: each request is one call, which the
//! object answers exactly. A key in lease mode answers the first call with a lease; from
//! then on the isolate admits that key's requests on that route itself, renews in the
//! background (`ctx.wait_until`) before the lease runs out, and hands back what it leaves
//! unused. Requests that find no lease with room wait for one ask, which the first of them
//! sends.
//!
//! Workers caveats, where they matter here: an isolate serves many requests at once on one
//! thread, so the leases live in a `thread_local` and no borrow of it is held across an
//! `await`; a request cannot await another request's I/O (workerd cancels it), so the
//! requests waiting for an ask look for its answer in the holder every few milliseconds
//! instead of awaiting the call; `Date.now()` only moves between I/O, and is fresh when a
//! request starts, which is when it is admitted; a `wait_until` task may be ended by the
//! runtime, so a hand-back timer it slept for is taken as lost when long overdue.

use super::authority_object;
use super::platform::{self, now_ms};
use crate::authority::{Command, LimitHeaders, Queueing, Refusal, Reply};
use crate::key::{IndexName, KeyHash, KeyId};
use crate::lease::{Admission, LeaseAsk, LeaseHolder, Ticket, Tuning, LOST_ASK_MS, MAX_LEASE_MS};
use crate::policy::Action;
use crate::problem::GatewayError;
use crate::record::Grantee;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;
use worker::{Context, Delay, Env};

/// Most leases one isolate keeps (one per key and route in use). Past it the one used
/// longest ago goes: its unused requests are never handed back, which only under-admits.
const CAPACITY: usize = 10_000;

/// How often a request waiting for another's ask looks for its answer.
const POLL_MS: u64 = 5;
/// How long a request waits for a lease at most before it fails (503): past the time an
/// ask on its way is taken as lost, one it sent itself has had its chance too.
const WAIT_LIMIT_MS: u64 = 2 * LOST_ASK_MS;

/// A key's route: what one lease is for (the object decides scope per route). The action
/// by name, which orders; [`Held`] keeps the action itself.
type Route = (IndexName, String, &'static str);

/// One key's route in this isolate.
struct Held {
    holder: LeaseHolder,
    key_id: KeyId,
    key_hash: KeyHash,
    action: Action,
    /// From the last lease: who requests are admitted as, the headers they show.
    grantee: Grantee,
    limit_headers: LimitHeaders,
    /// From the last refusal for lack of room, shown while it is believed.
    throttled_headers: LimitHeaders,
    lease_ms: u64,
    used_at: u64,
}

thread_local! {
    static LEASES: RefCell<BTreeMap<Route, Held>> = const { RefCell::new(BTreeMap::new()) };
}

/// What a request does next.
enum Step {
    /// No lease for this route: ask the object, as exact mode would.
    Call,
    Answer(Box<Reply>),
    /// No lease with room: wait for an ask's answer.
    Wait,
}

/// The data plane's admit for one request: the object's answer, or the isolate's own under
/// a lease it holds.
pub async fn admit(
    env: &Env,
    ctx: &Context,
    key_id: &KeyId,
    key_hash: KeyHash,
    resource: String,
    action: Action,
    queueing: Queueing,
) -> Result<Reply, GatewayError> {
    let route: Route = (key_hash.index_name(), resource, action.as_str());
    let lease_command = |ask| Command::Lease {
        key_hash: key_hash.clone(),
        resource: route.1.clone(),
        action,
        // The request's own: an answer for it alone (queued, or exact after the key left
        // lease mode) is its answer.
        queueing: Some(queueing),
        ask,
    };
    let started = now_ms();
    let mut step = decide(&route, Decision::Arrive);
    loop {
        match step {
            Step::Answer(reply) => {
                in_background(env, ctx, &route);
                return Ok(*reply);
            }
            Step::Call => {
                let ask = LeaseAsk {
                    want: NonZeroU32::MIN,
                    returned: Vec::new(),
                };
                let sent = now_ms();
                let reply = authority_object::call(env, key_id, &lease_command(ask)).await?;
                let Reply::Leased {
                    grantee,
                    limit_headers,
                    lease,
                    lease_ms,
                } = reply
                else {
                    return Ok(reply);
                };
                // The key leases: hold it, then take this request's share like any other
                // (the lease may be over already, after a slow round trip).
                let now = now_ms();
                LEASES.with(|leases| {
                    let mut leases = leases.borrow_mut();
                    if !leases.contains_key(&route) && leases.len() >= CAPACITY {
                        evict_oldest(&mut leases);
                    }
                    let held = leases.entry(route.clone()).or_insert_with(|| Held {
                        holder: LeaseHolder::new(Tuning::DEFAULT),
                        key_id: key_id.clone(),
                        key_hash: key_hash.clone(),
                        action,
                        grantee: grantee.clone(),
                        limit_headers: limit_headers.clone(),
                        throttled_headers: Vec::new(),
                        lease_ms,
                        used_at: now,
                    });
                    held.grantee = grantee;
                    held.limit_headers = limit_headers;
                    held.lease_ms = lease_ms;
                    let count = lease.count.get();
                    held.holder
                        .adopt(sent, count, lease.valid_ms, lease.second, lease.day, now);
                });
                step = decide(&route, Decision::Arrive);
            }
            Step::Wait => {
                let now = now_ms();
                if now >= started.saturating_add(WAIT_LIMIT_MS) {
                    LEASES.with(|leases| {
                        if let Some(held) = leases.borrow_mut().get_mut(&route) {
                            held.holder.stop_waiting();
                        }
                    });
                    return Err(platform::store_down("no lease came in time"));
                }
                let sending = LEASES.with(|leases| {
                    let mut leases = leases.borrow_mut();
                    leases
                        .get_mut(&route)
                        .and_then(|held| held.holder.ask_for_waiting(now))
                });
                match sending {
                    Some((ask, ticket)) => {
                        let outcome =
                            authority_object::call(env, key_id, &lease_command(ask)).await;
                        settle(&route, ticket, &outcome);
                        match outcome? {
                            Reply::Leased { .. }
                            | Reply::Refused {
                                refusal: Refusal::Throttled { .. },
                                ..
                            } => {}
                            // The key refused, or admitted this request exactly (it left
                            // lease mode, or wants approval now): its answer either way.
                            other => return Ok(other),
                        }
                    }
                    // Another request's ask is on its way: its answer lands in the holder.
                    None => Delay::from(Duration::from_millis(POLL_MS)).await,
                }
                step = decide(&route, Decision::Retry);
            }
        }
    }
}

/// Which of the holder's doors a request comes through.
enum Decision {
    Arrive,
    Retry,
}

fn decide(route: &Route, decision: Decision) -> Step {
    let now = now_ms();
    LEASES.with(|leases| {
        let mut leases = leases.borrow_mut();
        let Some(held) = leases.get_mut(route) else {
            return Step::Call;
        };
        held.used_at = now;
        let admission = match decision {
            Decision::Arrive => held.holder.arrive(now),
            Decision::Retry => held.holder.retry(now),
        };
        match admission {
            Admission::Admitted => Step::Answer(Box::new(Reply::Admitted {
                grantee: held.grantee.clone(),
                limit_headers: held.limit_headers.clone(),
            })),
            Admission::Throttled {
                window,
                retry_after_secs,
            } => Step::Answer(Box::new(Reply::Refused {
                refusal: Refusal::Throttled {
                    window,
                    retry_after_secs,
                },
                limit_headers: held.throttled_headers.clone(),
            })),
            Admission::Wait => Step::Wait,
        }
    })
}

fn evict_oldest(leases: &mut BTreeMap<Route, Held>) {
    let oldest = leases
        .iter()
        .min_by_key(|(_, held)| held.used_at)
        .map(|(route, _)| route.clone());
    if let Some(route) = oldest {
        leases.remove(&route);
    }
}

/// An ask's answer, into the holder that sent it.
fn settle(route: &Route, ticket: Ticket, outcome: &Result<Reply, GatewayError>) {
    let now = now_ms();
    LEASES.with(|leases| {
        let mut leases = leases.borrow_mut();
        let Some(held) = leases.get_mut(route) else {
            return;
        };
        match outcome {
            Ok(Reply::Leased {
                grantee,
                limit_headers,
                lease,
                lease_ms,
            }) => {
                held.grantee = grantee.clone();
                held.limit_headers = limit_headers.clone();
                held.lease_ms = *lease_ms;
                let count = lease.count.get();
                held.holder
                    .granted(ticket, count, lease.valid_ms, lease.second, lease.day, now);
            }
            Ok(Reply::Refused {
                refusal:
                    Refusal::Throttled {
                        window,
                        retry_after_secs,
                    },
                limit_headers,
            }) => {
                held.throttled_headers = limit_headers.clone();
                let believe_ms = held.lease_ms;
                held.holder
                    .throttled(ticket, *window, *retry_after_secs, believe_ms, now);
            }
            Err(_) => held.holder.failed(ticket),
            // Refused (revoked, deleted, expired, out of scope) or no longer in lease mode:
            // every lease of this route is void.
            Ok(_) => {
                leases.remove(route);
            }
        }
    });
}

/// After a request admitted under a lease: renew before it runs out, and arm the timer
/// that hands back what a lease leaves unused if the traffic stops.
fn in_background(env: &Env, ctx: &Context, route: &Route) {
    let now = now_ms();
    let (renewal, hand_back_at) = LEASES.with(|leases| {
        let mut leases = leases.borrow_mut();
        let Some(held) = leases.get_mut(route) else {
            return (None, None);
        };
        let renewal = held.holder.wants_to_renew(now).then(|| {
            let (ask, ticket) = held.holder.renew(now);
            let command = Command::Lease {
                key_hash: held.key_hash.clone(),
                resource: route.1.clone(),
                action: held.action,
                // No request behind it: a key that left lease mode, or wants approval
                // now, answers it for nobody, and the next request asks for itself.
                queueing: Some(Queueing::default()),
                ask,
            };
            (held.key_id.clone(), command, ticket)
        });
        (renewal, held.holder.hand_back_at(now))
    });
    if let Some((key_id, command, ticket)) = renewal {
        let (env, route) = (env.clone(), route.clone());
        ctx.wait_until(async move {
            let outcome = authority_object::call(&env, &key_id, &command).await;
            settle(&route, ticket, &outcome);
        });
    }
    if let Some(at) = hand_back_at {
        ctx.wait_until(hand_back(env.clone(), route.clone(), at));
    }
}

/// Sleeps until `at`, hands back what the leases left unused, and again for the next lease
/// while there is one (as long as the runtime keeps this task).
async fn hand_back(env: Env, route: Route, mut at: u64) {
    loop {
        let wait = at.saturating_sub(now_ms()).min(MAX_LEASE_MS);
        Delay::from(Duration::from_millis(wait)).await;
        let now = now_ms();
        let due = LEASES.with(|leases| {
            let mut leases = leases.borrow_mut();
            let held = leases.get_mut(&route)?;
            let returned = held.holder.hand_back_due(now);
            let next = held.holder.hand_back_at(now);
            Some((held.key_id.clone(), returned, next))
        });
        let Some((key_id, returned, next)) = due else {
            return;
        };
        if !returned.is_empty() {
            // Lost on the way only under-admits: nothing to retry.
            let _ = authority_object::call(&env, &key_id, &Command::HandBack { returned }).await;
        }
        match next {
            Some(next) => at = next,
            None => return,
        }
    }
}
