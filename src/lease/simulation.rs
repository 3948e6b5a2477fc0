//! A deterministic simulation of lease mode: one key's object, `N` isolates with their own
//! clocks, random network delays, steady and bursty clients, and a revoke at a random
//! moment. Seeded; the same [`Scenario`] always gives the same [`Report`].
//!
//! Discrete events in microseconds: a client's request reaches an isolate, which runs
//! [`LeaseHolder`]; an ask travels to the object (0..=`max_delay_ms`, drawn per message),
//! which runs [`grant`]; the answer travels back. An isolate hands back what a lease left
//! unused when it ends, if no ask carried it first. What the report says is measured from
//! the moments requests were actually admitted, not from the object's state, and compared
//! with [`check_and_count`] deciding the same arrivals exactly, with no network at all.
//!
//! `cargo test` runs it small (`tests/lease_simulation.rs`); `cargo bench --bench
//! lease_simulation` large, printing the table in BENCHMARKS.md.

use super::{grant, take_back, Admission, LeaseHolder, LeaseTime, NoLease, Ticket, Tuning};
use crate::limits::{check_and_count, LimiterState, Limits, Window};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

const US_PER_MS: u64 = 1_000;
const MS_PER_DAY: u64 = 86_400_000;

/// splitmix64: tiny, fast, and good enough to draw delays and arrivals.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        let span = u128::from(max) + 1;
        ((u128::from(self.next_u64()) * span) >> 64) as u64
    }

    /// An exponentially distributed gap with the given mean (Poisson arrivals).
    fn exponential(&mut self, mean: f64) -> u64 {
        // In (0, 1]: the logarithm stays finite.
        let unit = ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        (-unit.ln() * mean) as u64
    }
}

/// Clients that send many requests at once, each burst to one isolate (one client's
/// connection): one as the run starts, then at exponentially distributed gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bursts {
    pub size: u32,
    pub mean_gap_ms: u64,
}

/// One run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    /// Isolates holding leases for the key, 1..=1000.
    pub isolates: u32,
    /// Each message to or from the object takes 0..=this, drawn per message.
    pub max_delay_ms: u64,
    pub lease_time: LeaseTime,
    pub tuning: Tuning,
    pub limits: Limits,
    /// Unix milliseconds the run starts at (put it before a UTC midnight to cross one).
    pub start_ms: u64,
    pub duration_ms: u64,
    /// Poisson requests per second over the whole key, each to a random isolate.
    pub steady_per_second: u32,
    pub bursts: Option<Bursts>,
    /// Revoke the key at a random moment in the middle half of the run.
    pub revoke: bool,
}

/// What a run measured. Times are Unix milliseconds. "Requests" are those that arrived
/// while the key worked (before the revoke, or the whole run without one): what lease mode
/// admits of them and what it costs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub requests: u64,
    /// Of `requests`, admitted.
    pub admitted: u64,
    /// What [`check_and_count`] admits of the same requests, at their arrival times.
    pub exact_admitted: u64,
    /// Asks sent to the object while the key worked.
    pub object_calls: u64,
    /// Of `requests`, those that waited for an ask's answer: the object was on their path.
    pub waited: u64,
    /// The same two for the steady clients alone (a burst larger than a lease waits
    /// whatever the sizing).
    pub steady_requests: u64,
    pub steady_waited: u64,
    /// Over every admission, before the revoke and after: the most in any 60 whole
    /// seconds (the limiter's window), and in one UTC day.
    pub max_in_minute: u64,
    pub max_in_day: u64,
    pub revoked_at_ms: Option<u64>,
    /// Requests that arrived after the revoke and were admitted all the same.
    pub admitted_after_revoke: u64,
    /// From the revoke to the last request admitted after it (0 if none was).
    pub revocation_delay_ms: u64,
    pub max_round_trip_ms: u64,
}

impl Report {
    /// Requests admitted beyond a limit: the most by which any minute window or day went
    /// over. Lease mode promises 0.
    pub fn over_admission(&self, limits: &Limits) -> u64 {
        let minute = self
            .max_in_minute
            .saturating_sub(u64::from(limits.per_minute.get()));
        let day = self
            .max_in_day
            .saturating_sub(u64::from(limits.per_day.get()));
        minute.max(day)
    }

    pub fn calls_per_request(&self) -> f64 {
        self.object_calls as f64 / self.requests.max(1) as f64
    }

    /// Admitted as a share of what the exact limiter admits (above 1 is possible: other
    /// moments of admission leave room at other moments).
    pub fn share_of_exact(&self) -> f64 {
        self.admitted as f64 / self.exact_admitted.max(1) as f64
    }

    pub fn waited_share(&self) -> f64 {
        self.waited as f64 / self.requests.max(1) as f64
    }

    pub fn steady_waited_share(&self) -> f64 {
        self.steady_waited as f64 / self.steady_requests.max(1) as f64
    }
}

/// An answer from the object, as it travels.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Granted {
        count: u32,
        valid_ms: u64,
        second: u64,
        day: u64,
    },
    Throttled {
        window: Window,
        retry_after_secs: u64,
    },
    Refused,
}

#[derive(Clone, Debug)]
enum Event {
    SteadyArrival,
    Burst,
    Revoke,
    AskArrives { asked: Asked, ask: super::LeaseAsk },
    AnswerArrives { asked: Asked, answer: Answer },
    HandBackTimer { isolate: usize },
    HandBackArrives { returned: Vec<super::Unused> },
}

/// An event at a moment (microseconds); equal moments in the order scheduled.
struct Scheduled {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: `BinaryHeap` pops the greatest, the simulation wants the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// An ask on its way, and from where.
#[derive(Clone, Copy, Debug)]
struct Asked {
    isolate: usize,
    ticket: Ticket,
    /// When it was sent (µs).
    sent_at: u64,
}

/// A request from a client.
#[derive(Clone, Copy, Debug)]
struct Request {
    /// When it reached its isolate (µs).
    arrived: u64,
    steady: bool,
}

struct Isolate {
    holder: LeaseHolder,
    /// The requests waiting for an answer, oldest first.
    waiting: VecDeque<Request>,
    /// This isolate's clock minus the object's, in milliseconds.
    clock_offset_ms: u64,
}

struct Run<'s> {
    scenario: &'s Scenario,
    rng: Rng,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    isolates: Vec<Isolate>,
    object: LimiterState,
    revoked: bool,
    revoke_at: Option<u64>,
    /// Arrival moments (µs) of `requests`, for the exact limiter.
    requests: Vec<u64>,
    /// Admission moments (ms), in order.
    admitted: Vec<u64>,
    report: Report,
}

/// Runs one scenario to its end.
pub fn run(scenario: &Scenario) -> Report {
    let mut rng = Rng::new(scenario.seed);
    let isolates = (0..scenario.isolates.max(1))
        .map(|_| Isolate {
            holder: LeaseHolder::new(scenario.tuning),
            waiting: VecDeque::new(),
            clock_offset_ms: rng.up_to(3_600_000),
        })
        .collect();
    let start = scenario.start_ms * US_PER_MS;
    let end = start + scenario.duration_ms * US_PER_MS;
    let revoke_at = scenario
        .revoke
        .then(|| start + end.saturating_sub(start) / 4 + rng.up_to((end - start) / 2));
    let mut run = Run {
        scenario,
        rng,
        queue: BinaryHeap::new(),
        seq: 0,
        isolates,
        object: LimiterState::default(),
        revoked: false,
        revoke_at,
        requests: Vec::new(),
        admitted: Vec::new(),
        report: Report::default(),
    };
    if scenario.steady_per_second > 0 {
        let first = start + run.steady_gap();
        run.schedule(first, Event::SteadyArrival);
    }
    if scenario.bursts.is_some() {
        run.schedule(start, Event::Burst);
    }
    if let Some(at) = revoke_at {
        run.schedule(at, Event::Revoke);
    }
    while let Some(Scheduled { at, event, .. }) = run.queue.pop() {
        // Answers still on their way at the end are delivered; no new requests come.
        let arriving = matches!(event, Event::SteadyArrival | Event::Burst);
        if arriving && at >= end {
            continue;
        }
        run.handle(at, event);
    }
    run.finish()
}

impl Run<'_> {
    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
    }

    fn steady_gap(&mut self) -> u64 {
        let mean_us = 1_000_000.0 / f64::from(self.scenario.steady_per_second.max(1));
        self.rng.exponential(mean_us)
    }

    fn delay(&mut self) -> u64 {
        self.rng.up_to(self.scenario.max_delay_ms * US_PER_MS)
    }

    fn random_isolate(&mut self) -> usize {
        self.rng.up_to(self.isolates.len() as u64 - 1) as usize
    }

    fn before_revoke(&self, at: u64) -> bool {
        self.revoke_at.is_none_or(|revoke| at < revoke)
    }

    fn handle(&mut self, at: u64, event: Event) {
        match event {
            Event::SteadyArrival => {
                let isolate = self.random_isolate();
                self.arrive(
                    Request {
                        arrived: at,
                        steady: true,
                    },
                    isolate,
                );
                let next = at + self.steady_gap();
                self.schedule(next, Event::SteadyArrival);
            }
            Event::Burst => {
                let Some(bursts) = self.scenario.bursts else {
                    return;
                };
                let isolate = self.random_isolate();
                for _ in 0..bursts.size {
                    self.arrive(
                        Request {
                            arrived: at,
                            steady: false,
                        },
                        isolate,
                    );
                }
                let next = at
                    + self
                        .rng
                        .exponential((bursts.mean_gap_ms * US_PER_MS) as f64);
                self.schedule(next, Event::Burst);
            }
            Event::Revoke => self.revoked = true,
            Event::AskArrives { asked, ask } => {
                let answer = self.answer(&ask, at / US_PER_MS);
                let back = at + self.delay();
                let round_trip_ms = (back - asked.sent_at).div_ceil(US_PER_MS);
                self.report.max_round_trip_ms = self.report.max_round_trip_ms.max(round_trip_ms);
                self.schedule(back, Event::AnswerArrives { asked, answer });
            }
            Event::AnswerArrives { asked, answer } => self.take_answer(at, asked, answer),
            Event::HandBackTimer { isolate } => {
                let now = self.local_ms(at, isolate);
                let returned = self.isolates[isolate].holder.hand_back_due(now);
                if !returned.is_empty() {
                    self.count_call(at);
                    let arrives = at + self.delay();
                    self.schedule(arrives, Event::HandBackArrives { returned });
                }
                self.arm_hand_back(at, isolate);
            }
            Event::HandBackArrives { returned } => {
                if !self.revoked {
                    take_back(&mut self.object, &returned, at / US_PER_MS);
                }
            }
        }
    }

    /// The object's side.
    fn answer(&mut self, ask: &super::LeaseAsk, now_ms: u64) -> Answer {
        if self.revoked {
            return Answer::Refused;
        }
        let scenario = self.scenario;
        let granted = grant(
            &mut self.object,
            &scenario.limits,
            scenario.lease_time,
            ask,
            None,
            now_ms,
            &scenario.tuning,
        );
        match granted {
            Ok(lease) => Answer::Granted {
                count: lease.count.get(),
                valid_ms: lease.valid_ms,
                second: lease.second,
                day: lease.day,
            },
            Err(NoLease::Throttled(throttled)) => Answer::Throttled {
                window: throttled.window,
                retry_after_secs: throttled.retry_after_secs,
            },
            Err(NoLease::KeyExpired) => Answer::Refused,
        }
    }

    fn local_ms(&self, at: u64, isolate: usize) -> u64 {
        at / US_PER_MS + self.isolates[isolate].clock_offset_ms
    }

    fn arrive(&mut self, request: Request, isolate: usize) {
        let at = request.arrived;
        if self.before_revoke(at) {
            self.requests.push(at);
            self.report.steady_requests += u64::from(request.steady);
        }
        let now = self.local_ms(at, isolate);
        match self.isolates[isolate].holder.arrive(now) {
            Admission::Admitted => self.admit(at, at),
            Admission::Wait => {
                self.isolates[isolate].waiting.push_back(request);
                self.ask_for_waiting(at, isolate);
            }
            Admission::Throttled { .. } => {}
        }
        self.renew_if_wanted(at, isolate);
        self.arm_hand_back(at, isolate);
    }

    /// A request that arrived at `arrived` is admitted at `at`.
    fn admit(&mut self, arrived: u64, at: u64) {
        self.admitted.push(at / US_PER_MS);
        match self.before_revoke(arrived) {
            true => self.report.admitted += 1,
            false => self.report.admitted_after_revoke += 1,
        }
    }

    /// A request that waited for the object is decided.
    fn decided_after_waiting(&mut self, request: Request) {
        if self.before_revoke(request.arrived) {
            self.report.waited += 1;
            self.report.steady_waited += u64::from(request.steady);
        }
    }

    fn take_answer(&mut self, at: u64, asked: Asked, answer: Answer) {
        let isolate = asked.isolate;
        let now = self.local_ms(at, isolate);
        let lease_ms = self.scenario.lease_time.ms();
        let holder = &mut self.isolates[isolate].holder;
        match answer {
            Answer::Granted {
                count,
                valid_ms,
                second,
                day,
            } => holder.granted(asked.ticket, count, valid_ms, second, day, now),
            Answer::Throttled {
                window,
                retry_after_secs,
            } => holder.throttled(asked.ticket, window, retry_after_secs, lease_ms, now),
            Answer::Refused => {
                // The key is refused: so is every request waiting.
                holder.refused();
                let refused: Vec<Request> = self.isolates[isolate].waiting.drain(..).collect();
                for request in refused {
                    self.decided_after_waiting(request);
                }
            }
        }
        // Every waiting request tries again (on Workers each finds the answer in the holder).
        while let Some(&request) = self.isolates[isolate].waiting.front() {
            let admission = self.isolates[isolate].holder.retry(now);
            if admission == Admission::Wait {
                break;
            }
            self.isolates[isolate].waiting.pop_front();
            self.decided_after_waiting(request);
            if admission == Admission::Admitted {
                self.admit(request.arrived, at);
            }
        }
        if !self.isolates[isolate].waiting.is_empty() {
            self.ask_for_waiting(at, isolate);
        }
        self.renew_if_wanted(at, isolate);
        self.arm_hand_back(at, isolate);
    }

    /// The first waiting request sends the ask for all, if none is on its way.
    fn ask_for_waiting(&mut self, at: u64, isolate: usize) {
        let now = self.local_ms(at, isolate);
        if let Some((ask, ticket)) = self.isolates[isolate].holder.ask_for_waiting(now) {
            self.send(at, isolate, ask, ticket);
        }
    }

    fn renew_if_wanted(&mut self, at: u64, isolate: usize) {
        let now = self.local_ms(at, isolate);
        let holder = &mut self.isolates[isolate].holder;
        if holder.wants_to_renew(now) {
            let (ask, ticket) = holder.renew(now);
            self.send(at, isolate, ask, ticket);
        }
    }

    fn send(&mut self, at: u64, isolate: usize, ask: super::LeaseAsk, ticket: Ticket) {
        self.count_call(at);
        let asked = Asked {
            isolate,
            ticket,
            sent_at: at,
        };
        let arrives = at + self.delay();
        self.schedule(arrives, Event::AskArrives { asked, ask });
    }

    fn count_call(&mut self, at: u64) {
        if self.before_revoke(at) {
            self.report.object_calls += 1;
        }
    }

    /// The isolate's hand-back timer, if it wants one: in its own clock, so at the moment
    /// its clock shows that time.
    fn arm_hand_back(&mut self, at: u64, isolate: usize) {
        let now = self.local_ms(at, isolate);
        let Isolate {
            holder,
            clock_offset_ms,
            ..
        } = &mut self.isolates[isolate];
        if let Some(local_ms) = holder.hand_back_at(now) {
            // Not before now: the clocks' milliseconds and the microseconds here differ.
            let fires = (local_ms.saturating_sub(*clock_offset_ms) * US_PER_MS).max(at);
            self.schedule(fires, Event::HandBackTimer { isolate });
        }
    }

    fn finish(mut self) -> Report {
        let limits = &self.scenario.limits;
        let mut exact = LimiterState::default();
        self.report.requests = self.requests.len() as u64;
        self.report.exact_admitted = self
            .requests
            .iter()
            .filter(|&&at| check_and_count(&mut exact, limits, at / US_PER_MS).is_ok())
            .count() as u64;
        self.report.max_in_minute = most_in_any_minute(&self.admitted);
        self.report.max_in_day = most_in_any_day(&self.admitted);
        if let Some(revoke) = self.revoke_at {
            let revoke_ms = revoke / US_PER_MS;
            self.report.revoked_at_ms = Some(revoke_ms);
            self.report.revocation_delay_ms = self
                .admitted
                .last()
                .map_or(0, |&last| last.saturating_sub(revoke_ms));
        }
        self.report
    }
}

/// The most of `admitted` (ms, sorted) in any window of 60 whole seconds, seconds
/// `(s - 60, s]`: the window the limiter enforces.
pub fn most_in_any_minute(admitted: &[u64]) -> u64 {
    let seconds: Vec<u64> = admitted.iter().map(|ms| ms / 1_000).collect();
    let mut first = 0;
    let mut most = 0;
    for (last, &second) in seconds.iter().enumerate() {
        while seconds[first] + 60 <= second {
            first += 1;
        }
        most = most.max(last - first + 1);
    }
    most as u64
}

/// The most of `admitted` (ms, sorted) in one UTC day.
pub fn most_in_any_day(admitted: &[u64]) -> u64 {
    let mut most = 0u64;
    let mut current = (u64::MAX, 0u64);
    for day in admitted.iter().map(|ms| ms / MS_PER_DAY) {
        current = match current {
            (same, count) if same == day => (same, count + 1),
            _ => (day, 1),
        };
        most = most.max(current.1);
    }
    most
}
