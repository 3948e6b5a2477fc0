use super::*;
use crate::limits::{check_and_count, peek, Window, MAX_MINUTE_BUCKETS};

/// 2023-11-14T00:00:00Z.
const MIDNIGHT_MS: u64 = 19_675 * MS_PER_DAY;
/// 01:00:00.250 UTC that day: far from both midnights, not on a whole second.
const T0: u64 = MIDNIGHT_MS + 3_600_000 + 250;

fn limits(per_minute: u64, per_day: u64) -> Limits {
    match Limits::new(per_minute, per_day) {
        Ok(limits) => limits,
        Err(error) => panic!("test limits are valid: {error}"),
    }
}

fn lease_time(ms: u64) -> LeaseTime {
    match LeaseTime::from_ms(ms) {
        Ok(time) => time,
        Err(error) => panic!("test lease time is valid: {error}"),
    }
}

fn ask(want: u32, returned: Vec<Unused>) -> LeaseAsk {
    LeaseAsk {
        want: NonZeroU32::new(want).unwrap_or(NonZeroU32::MIN),
        returned,
    }
}

fn try_grant(
    state: &mut LimiterState,
    limits: &Limits,
    ask: &LeaseAsk,
    time: LeaseTime,
    not_after_ms: Option<u64>,
    now_ms: u64,
) -> Result<Lease, NoLease> {
    grant(
        state,
        limits,
        time,
        ask,
        not_after_ms,
        now_ms,
        &Tuning::DEFAULT,
    )
}

fn granted(
    state: &mut LimiterState,
    limits: &Limits,
    want: u32,
    time: LeaseTime,
    now_ms: u64,
) -> Lease {
    match try_grant(state, limits, &ask(want, Vec::new()), time, None, now_ms) {
        Ok(lease) => lease,
        Err(refused) => panic!("expected a lease at {now_ms}, got {refused:?}"),
    }
}

fn used(state: &LimiterState, limits: &Limits, now_ms: u64) -> u32 {
    limits.per_minute.get() - peek(state, limits, now_ms).minute.remaining
}

fn day_used(state: &LimiterState, limits: &Limits, now_ms: u64) -> u32 {
    limits.per_day.get() - peek(state, limits, now_ms).day.remaining
}

#[test]
fn a_grant_counts_its_requests_at_once_in_its_last_second() {
    let limits = limits(100, 1_000);
    let mut state = LimiterState::default();
    let lease = granted(&mut state, &limits, 30, LeaseTime::DEFAULT, T0);
    assert_eq!(lease.count.get(), 30);
    assert_eq!(lease.valid_ms, 1_000);
    // It may admit until T0 + 999 ms, which is in the next second.
    assert_eq!(lease.second, T0.div_ceil(1_000));
    assert_eq!(lease.day, T0 / MS_PER_DAY);
    assert_eq!(used(&state, &limits, T0), 30);
    assert_eq!(day_used(&state, &limits, T0), 30);
    // A lease ending on a whole second counts in the second before it.
    let on_the_second = T0 - 250;
    let lease = granted(&mut state, &limits, 1, LeaseTime::DEFAULT, on_the_second);
    assert_eq!(lease.second, on_the_second / 1_000);
}

#[test]
fn a_bucket_ahead_counts_from_the_grant_until_a_minute_after_its_own_second() {
    let limits = limits(10, 1_000);
    let mut state = LimiterState::default();
    // Each lease takes half of what is left: four of them fill the minute.
    let leases: Vec<Lease> = (0..4)
        .map(|_| granted(&mut state, &limits, 10, lease_time(MAX_LEASE_MS), T0))
        .collect();
    assert_eq!(leases.iter().map(|l| l.count.get()).sum::<u32>(), 10);
    let lease = leases[0];
    assert_eq!(lease.second, T0 / 1_000 + 10);
    let leaves_ms = (lease.second + 60) * 1_000;
    assert!(check_and_count(&mut state, &limits, T0).is_err());
    assert!(check_and_count(&mut state, &limits, leaves_ms - 1).is_err());
    assert!(check_and_count(&mut state, &limits, leaves_ms).is_ok());
}

#[test]
fn a_grant_is_never_more_than_wanted_nor_than_a_share_of_what_is_left() {
    let limits = limits(20, 1_000);
    let mut state = LimiterState::default();
    let first = granted(&mut state, &limits, 3, LeaseTime::DEFAULT, T0);
    assert_eq!(first.count.get(), 3);
    // 17 left: each lease gets at most half of what is left, rounded up.
    let counts: Vec<u32> = (0..5)
        .map(|_| {
            granted(&mut state, &limits, 50, LeaseTime::DEFAULT, T0)
                .count
                .get()
        })
        .collect();
    assert_eq!(counts, [9, 4, 2, 1, 1]);
    assert_eq!(used(&state, &limits, T0), 20);
    let refused = try_grant(
        &mut state,
        &limits,
        &ask(1, Vec::new()),
        LeaseTime::DEFAULT,
        None,
        T0,
    );
    match refused {
        Err(NoLease::Throttled(throttled)) => {
            assert_eq!(throttled.window, Window::Minute);
            // Everything counted in the lease's second, which leaves 61 s from now's second.
            assert_eq!(throttled.retry_after_secs, 61);
        }
        other => panic!("expected a throttle, got {other:?}"),
    }
}

#[test]
fn the_day_window_bounds_a_lease_too() {
    let limits = limits(50, 60);
    let mut state = LimiterState::default();
    let mut lend_until_refused = |now_ms: u64| {
        let mut counts = Vec::new();
        loop {
            match try_grant(
                &mut state,
                &limits,
                &ask(50, Vec::new()),
                LeaseTime::DEFAULT,
                None,
                now_ms,
            ) {
                Ok(lease) => counts.push(lease.count.get()),
                Err(NoLease::Throttled(throttled)) => return (counts, throttled.window),
                Err(other) => panic!("expected a throttle, got {other:?}"),
            }
        }
    };
    let (counts, window) = lend_until_refused(T0);
    assert_eq!(counts.iter().sum::<u32>(), 50);
    assert_eq!(window, Window::Minute);
    // A minute later the minute is free again; the day has 10 left.
    let (counts, window) = lend_until_refused(T0 + 120_000);
    assert_eq!(counts, [5, 3, 1, 1]);
    assert_eq!(window, Window::Day);
}

#[test]
fn a_lease_never_spans_utc_midnight() {
    let limits = limits(100, 1_000);
    let mut state = LimiterState::default();
    let before_midnight = MIDNIGHT_MS + MS_PER_DAY - 300;
    let lease = granted(&mut state, &limits, 5, LeaseTime::DEFAULT, before_midnight);
    assert_eq!(lease.valid_ms, 300);
    assert_eq!(lease.day, before_midnight / MS_PER_DAY);
    assert_eq!(lease.second, (MIDNIGHT_MS + MS_PER_DAY - 1) / 1_000);
    // The next day starts with its full quota.
    let after = MIDNIGHT_MS + MS_PER_DAY;
    assert_eq!(peek(&state, &limits, after).day.remaining, 1_000);
}

#[test]
fn a_lease_never_outlives_the_key() {
    let limits = limits(100, 1_000);
    let mut state = LimiterState::default();
    let expires = T0 + 400;
    let lease = try_grant(
        &mut state,
        &limits,
        &ask(5, Vec::new()),
        LeaseTime::DEFAULT,
        Some(expires),
        T0,
    );
    assert_eq!(lease.map(|l| l.valid_ms), Ok(400));
    let before = state.clone();
    let expired = try_grant(
        &mut state,
        &limits,
        &ask(5, Vec::new()),
        LeaseTime::DEFAULT,
        Some(T0),
        T0,
    );
    assert_eq!(expired, Err(NoLease::KeyExpired));
    assert_eq!(state, before, "an expired key is not counted");
}

#[test]
fn unused_requests_go_back_to_their_own_bucket_and_day() {
    let limits = limits(100, 1_000);
    let mut state = LimiterState::default();
    let first = granted(&mut state, &limits, 30, LeaseTime::DEFAULT, T0);
    let second = granted(&mut state, &limits, 20, LeaseTime::DEFAULT, T0 + 1_000);
    assert_ne!(first.second, second.second);
    let later = T0 + 2_000;
    take_back(&mut state, &[first.unused(10)], later);
    assert_eq!(used(&state, &limits, later), 40);
    assert_eq!(day_used(&state, &limits, later), 40);
    // Never below zero, never from the other bucket: the first has 20 left.
    take_back(&mut state, &[first.unused(500)], later);
    assert_eq!(used(&state, &limits, later), 20);
    assert_eq!(day_used(&state, &limits, later), 20);
    // A bucket nobody counted in gives nothing back.
    let nowhere = Unused {
        second: second.second + 1,
        ..second.unused(5)
    };
    take_back(&mut state, &[nowhere], later);
    assert_eq!(used(&state, &limits, later), 20);
}

#[test]
fn handing_back_after_the_bucket_left_the_window_changes_nothing() {
    let limits = limits(100, 1_000);
    let mut state = LimiterState::default();
    let old = granted(&mut state, &limits, 30, LeaseTime::DEFAULT, T0);
    let gone = (old.second + 60) * 1_000;
    granted(&mut state, &limits, 5, LeaseTime::DEFAULT, gone);
    take_back(&mut state, &[old.unused(30)], gone);
    assert_eq!(used(&state, &limits, gone), 5);
    // The day keeps the 30 as used: it gives back only what the bucket did.
    assert_eq!(day_used(&state, &limits, gone), 35);
}

#[test]
fn handing_back_yesterdays_lease_leaves_today_alone() {
    let limits = limits(100, 1_000);
    let mut state = LimiterState::default();
    let yesterday = granted(
        &mut state,
        &limits,
        30,
        LeaseTime::DEFAULT,
        MIDNIGHT_MS - 500,
    );
    let today = MIDNIGHT_MS + 100;
    granted(&mut state, &limits, 7, LeaseTime::DEFAULT, today);
    take_back(&mut state, &[yesterday.unused(30)], today);
    // The minute takes the 30 back (its bucket is still in the window); the day does not.
    assert_eq!(used(&state, &limits, today), 7);
    assert_eq!(day_used(&state, &limits, today), 7);
}

#[test]
fn an_ask_hands_back_before_it_is_granted() {
    let limits = limits(20, 1_000);
    let mut state = LimiterState::default();
    let first = granted(&mut state, &limits, 20, LeaseTime::DEFAULT, T0);
    assert_eq!(first.count.get(), 10);
    let second = granted(&mut state, &limits, 20, LeaseTime::DEFAULT, T0);
    assert_eq!(second.count.get(), 5);
    let again = try_grant(
        &mut state,
        &limits,
        &ask(20, vec![first.unused(10), second.unused(5)]),
        LeaseTime::DEFAULT,
        None,
        T0 + 1_000,
    );
    // All 20 free again, the lease takes half.
    assert_eq!(again.map(|l| l.count.get()), Ok(10));
}

#[test]
fn ten_seconds_of_leases_ahead_and_a_full_window_fit_the_storage_bound() {
    let limits = limits(1_000_000, 1_000_000_000);
    let mut state = LimiterState::default();
    let time = lease_time(MAX_LEASE_MS);
    let start = T0 - 250;
    // A lease every 100 ms for two minutes: buckets in 60 seconds past and 10 ahead.
    let mut leases = Vec::new();
    for step in 0..1_200u64 {
        leases.push(granted(&mut state, &limits, 3, time, start + step * 100));
    }
    let now = start + 1_199 * 100;
    let json = serde_json::to_string(&state).unwrap_or_default();
    let buckets: Vec<(u64, u32)> = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| serde_json::from_value(v["minute"].clone()).ok())
        .unwrap_or_default();
    assert!(buckets.len() <= MAX_MINUTE_BUCKETS, "{json}");
    // Nothing was folded: every bucket holds exactly the leases of its second (10 leases
    // of 3 for each full second), and every lease can be handed back in full.
    assert!(buckets.iter().all(|&(_, count)| count <= 30), "{json}");
    let in_window: u32 = buckets.iter().map(|&(_, count)| count).sum();
    assert_eq!(in_window, used(&state, &limits, now));
    let recent: Vec<Unused> = leases
        .iter()
        .filter(|l| l.second + 60 > now / 1_000)
        .map(|l| l.unused(3))
        .collect();
    for chunk in recent.chunks(MAX_RETURNED) {
        take_back(&mut state, chunk, now);
    }
    assert_eq!(used(&state, &limits, now), 0);
}

#[test]
fn lease_time_is_bounded_with_a_precise_error() {
    assert_eq!(LeaseTime::DEFAULT.ms(), 1_000);
    assert_eq!(LeaseTime::from_ms(MIN_LEASE_MS).map(LeaseTime::ms), Ok(100));
    assert_eq!(
        LeaseTime::from_ms(MAX_LEASE_MS).map(LeaseTime::ms),
        Ok(10_000)
    );
    for bad in [0, 99, 10_001, u64::MAX] {
        assert_eq!(LeaseTime::from_ms(bad), Err(LeaseTimeError(bad)));
    }
    assert_eq!(
        LeaseTimeError(20_000).to_string(),
        "lease time must be between 100 ms and 10000 ms, got 20000 ms"
    );
    assert_eq!(
        serde_json::from_str::<LeaseTime>("2500")
            .map(LeaseTime::ms)
            .ok(),
        Some(2_500)
    );
    assert!(serde_json::from_str::<LeaseTime>("50").is_err());
}

#[test]
fn an_ask_crosses_the_boundary_as_json() {
    let sent = ask(
        12,
        vec![Unused {
            second: 1_700_000_001,
            day: 19_675,
            count: 3,
        }],
    );
    let json = serde_json::to_string(&sent).unwrap_or_default();
    assert_eq!(
        json,
        r#"{"want":12,"returned":[{"second":1700000001,"day":19675,"count":3}]}"#
    );
    assert_eq!(serde_json::from_str::<LeaseAsk>(&json).ok(), Some(sent));
    // `want` of 0 is unrepresentable.
    assert!(serde_json::from_str::<LeaseAsk>(r#"{"want":0}"#).is_err());
}

mod holder {
    use super::super::{Admission, LeaseHolder, Tuning, LOST_ASK_MS};
    use crate::limits::Window;

    /// The isolate's clock: unrelated to the object's.
    const LOCAL: u64 = 5_000_000;
    const SECOND: u64 = 1_700_000_001;
    const DAY: u64 = 19_675;

    /// A holder whose first request asked at `LOCAL` and got `count` for `valid_ms`, the
    /// answer `round_trip_ms` later; that request is admitted.
    fn holder_with_lease(count: u32, valid_ms: u64, round_trip_ms: u64) -> LeaseHolder {
        let mut holder = LeaseHolder::new(Tuning::DEFAULT);
        assert_eq!(holder.arrive(LOCAL), Admission::Wait);
        let (ask, ticket) = holder.ask_for_waiting(LOCAL).expect("none on its way");
        assert_eq!(ask.want.get(), 1, "a first ask wants its request");
        assert!(ask.returned.is_empty());
        let now = LOCAL + round_trip_ms;
        holder.granted(ticket, count, valid_ms, SECOND, DAY, now);
        assert_eq!(holder.retry(now), Admission::Admitted);
        holder
    }

    #[test]
    fn a_lease_is_timed_from_the_asks_send_time() {
        let mut holder = holder_with_lease(10, 1_000, 300);
        assert_eq!(holder.arrive(LOCAL + 999), Admission::Admitted);
        // Sent at LOCAL, valid 1000 ms: over at LOCAL + 1000 here, though it arrived late.
        assert_eq!(holder.arrive(LOCAL + 1_000), Admission::Wait);
        let (ask, _) = holder
            .ask_for_waiting(LOCAL + 1_000)
            .expect("none on its way");
        assert_eq!(ask.returned.len(), 1);
        assert_eq!(ask.returned[0].count, 8);
        assert_eq!(ask.returned[0].second, SECOND);
    }

    #[test]
    fn each_ask_times_its_own_lease() {
        let mut holder = holder_with_lease(1, 1_000, 10);
        let (_, renewal) = holder.renew(LOCAL + 20);
        assert_eq!(holder.arrive(LOCAL + 400), Admission::Wait);
        let (_, asked) = holder
            .ask_for_waiting(LOCAL + 400)
            .expect("none on its way");
        // The later ask's answer comes first; then the earlier one's.
        holder.granted(asked, 1, 1_000, SECOND, DAY, LOCAL + 450);
        holder.granted(renewal, 1, 1_000, SECOND, DAY, LOCAL + 500);
        assert_eq!(holder.retry(LOCAL + 500), Admission::Admitted);
        assert_eq!(holder.arrive(LOCAL + 1_019), Admission::Admitted);
        // Neither lease outlives its own ask: the renewal's ends at LOCAL + 1020.
        assert_eq!(holder.arrive(LOCAL + 1_020), Admission::Wait);
    }

    #[test]
    fn one_ask_goes_for_all_the_waiting_requests() {
        let mut holder = LeaseHolder::new(Tuning::DEFAULT);
        for _ in 0..5 {
            assert_eq!(holder.arrive(LOCAL), Admission::Wait);
        }
        let (ask, ticket) = holder.ask_for_waiting(LOCAL).expect("the first sends it");
        assert_eq!(ask.want.get(), 5);
        assert_eq!(
            holder.ask_for_waiting(LOCAL + 1),
            None,
            "the others wait for it"
        );
        holder.granted(ticket, 3, 1_000, SECOND, DAY, LOCAL + 50);
        let admissions: Vec<Admission> = (0..5).map(|_| holder.retry(LOCAL + 50)).collect();
        assert_eq!(
            admissions
                .iter()
                .filter(|a| **a == Admission::Admitted)
                .count(),
            3
        );
        assert_eq!(holder.waiting(), 2);
        // The next of those still waiting asks for them.
        let (ask, _) = holder.ask_for_waiting(LOCAL + 50).expect("none on its way");
        assert!(ask.want.get() >= 2);
    }

    #[test]
    fn an_ask_whose_sender_vanished_is_taken_as_lost() {
        let mut holder = LeaseHolder::new(Tuning::DEFAULT);
        assert_eq!(holder.arrive(LOCAL), Admission::Wait);
        let (_, lost) = holder.ask_for_waiting(LOCAL).expect("none on its way");
        assert_eq!(holder.ask_for_waiting(LOCAL + LOST_ASK_MS - 1), None);
        let (_, again) = holder
            .ask_for_waiting(LOCAL + LOST_ASK_MS)
            .expect("the lost one no longer counts");
        // The lost one's answer, if it ever comes, is a lease like any other; the new ask
        // stays on its way.
        holder.granted(lost, 1, 10_000, SECOND, DAY, LOCAL + LOST_ASK_MS + 1);
        assert_eq!(holder.ask_for_waiting(LOCAL + LOST_ASK_MS + 2), None);
        holder.granted(again, 1, 10_000, SECOND, DAY, LOCAL + LOST_ASK_MS + 3);
        assert!(holder.ask_for_waiting(LOCAL + LOST_ASK_MS + 4).is_some());
    }

    #[test]
    fn a_lease_admits_its_count_and_no_more() {
        let mut holder = holder_with_lease(3, 1_000, 10);
        assert_eq!(holder.arrive(LOCAL + 11), Admission::Admitted);
        assert_eq!(holder.arrive(LOCAL + 12), Admission::Admitted);
        assert_eq!(holder.arrive(LOCAL + 13), Admission::Wait);
        // Used up, nothing to hand back.
        assert!(holder
            .ask_for_waiting(LOCAL + 14)
            .expect("none on its way")
            .0
            .returned
            .is_empty());
    }

    #[test]
    fn it_renews_ahead_of_running_out_in_time() {
        let mut holder = holder_with_lease(1_000, 1_000, 100);
        assert!(!holder.wants_to_renew(LOCAL + 500));
        // Renewing two round trips (200 ms) before the end.
        assert_eq!(holder.arrive(LOCAL + 800), Admission::Admitted);
        assert!(holder.wants_to_renew(LOCAL + 800));
        let (_, ticket) = holder.renew(LOCAL + 800);
        assert!(holder.renewing() && !holder.wants_to_renew(LOCAL + 801));
        holder.granted(ticket, 10, 1_000, SECOND + 1, DAY, LOCAL + 900);
        assert!(!holder.renewing());
        // The old lease's requests go first, then the new one's.
        assert_eq!(holder.arrive(LOCAL + 999), Admission::Admitted);
        assert_eq!(holder.arrive(LOCAL + 1_500), Admission::Admitted);
    }

    #[test]
    fn it_renews_ahead_of_running_out_in_requests() {
        let mut holder = holder_with_lease(12, 1_000, 50);
        // A request every 10 ms. After `i` of them, `i` over the `50 + 10 i` ms since the
        // ask is the rate: it renews once what is left (`11 - i`) would last no longer than
        // two round trips (100 ms), at the sixth (5 left, 600/110 expected).
        let mut renewed_at = None;
        for i in 1..=11u64 {
            assert_eq!(holder.arrive(LOCAL + 50 + i * 10), Admission::Admitted);
            if renewed_at.is_none() && holder.wants_to_renew(LOCAL + 50 + i * 10) {
                renewed_at = Some(i);
            }
        }
        assert_eq!(renewed_at, Some(6));
    }

    #[test]
    fn an_ask_wants_the_recent_rate_with_headroom_less_what_is_held() {
        let mut holder = holder_with_lease(100, 1_000, 10);
        for i in 1..40u64 {
            assert_eq!(holder.arrive(LOCAL + 10 + i * 20), Admission::Admitted);
        }
        // 39 requests came in the 790 ms since the ask: at twice that rate over the 1 s
        // lease, 99; 60 are held already.
        let (ask, _) = holder.renew(LOCAL + 790);
        assert_eq!(ask.want.get(), 99 - 60);
        // Right after, with no request since, an ask wants one, never none.
        let (ask, _) = holder
            .ask_for_waiting(LOCAL + 791)
            .expect("none on its way");
        assert_eq!(ask.want.get(), 1);
    }

    #[test]
    fn a_throttle_is_believed_for_a_lease_time_at_most_when_no_lease_has_room() {
        let mut holder = LeaseHolder::new(Tuning::DEFAULT);
        assert_eq!(holder.arrive(LOCAL), Admission::Wait);
        let (_, ticket) = holder.ask_for_waiting(LOCAL).expect("none on its way");
        holder.throttled(ticket, Window::Minute, 30, 1_000, LOCAL + 40);
        let throttled = |retry_after_secs| Admission::Throttled {
            window: Window::Minute,
            retry_after_secs,
        };
        assert_eq!(holder.retry(LOCAL + 40), throttled(30));
        assert!(!holder.wants_to_renew(LOCAL + 500));
        assert_eq!(holder.arrive(LOCAL + 999), throttled(30));
        // After a lease time the object is asked again.
        assert_eq!(holder.arrive(LOCAL + 1_000), Admission::Wait);
    }

    #[test]
    fn a_lease_with_room_admits_whatever_another_ask_was_told() {
        let mut holder = holder_with_lease(5, 1_000, 10);
        let (_, ticket) = holder.ask_for_waiting(LOCAL + 20).expect("none on its way");
        holder.throttled(ticket, Window::Minute, 30, 1_000, LOCAL + 30);
        // Its requests are counted already: using them is always within the limit.
        assert_eq!(holder.arrive(LOCAL + 40), Admission::Admitted);
    }

    #[test]
    fn a_refused_key_voids_every_lease() {
        let mut holder = holder_with_lease(10, 1_000, 10);
        holder.renew(LOCAL + 20);
        assert_eq!(holder.arrive(LOCAL + 21), Admission::Admitted);
        holder.refused();
        assert!(!holder.renewing());
        assert_eq!(holder.arrive(LOCAL + 30), Admission::Wait);
        // Nothing to hand back to an object that refused the key.
        assert!(holder
            .ask_for_waiting(LOCAL + 30)
            .expect("none on its way")
            .0
            .returned
            .is_empty());
    }

    #[test]
    fn a_failed_ask_keeps_the_leases() {
        let mut holder = holder_with_lease(10, 1_000, 10);
        let (_, ticket) = holder.renew(LOCAL + 20);
        holder.failed(ticket);
        assert!(!holder.renewing());
        assert_eq!(holder.arrive(LOCAL + 30), Admission::Admitted);
    }

    #[test]
    fn the_first_lease_adopted_from_a_call_made_without_a_holder_is_timed_from_that_call() {
        let mut holder = LeaseHolder::new(Tuning::DEFAULT);
        holder.adopt(LOCAL, 2, 1_000, SECOND, DAY, LOCAL + 100);
        assert_eq!(holder.arrive(LOCAL + 100), Admission::Admitted);
        assert_eq!(holder.arrive(LOCAL + 999), Admission::Admitted);
        assert_eq!(holder.arrive(LOCAL + 999), Admission::Wait);
    }

    #[test]
    fn an_isolate_that_goes_quiet_hands_back_when_its_lease_ends() {
        let mut holder = holder_with_lease(10, 1_000, 10);
        assert_eq!(holder.hand_back_at(LOCAL + 10), Some(LOCAL + 1_000));
        assert_eq!(holder.hand_back_at(LOCAL + 10), None, "armed once");
        let returned = holder.hand_back_due(LOCAL + 1_000);
        assert_eq!(returned.len(), 1);
        assert_eq!(returned[0].count, 9);
        // Handed back once: nothing more to do.
        assert_eq!(holder.hand_back_at(LOCAL + 1_000), None);
        assert!(holder
            .ask_for_waiting(LOCAL + 5_000)
            .expect("none on its way")
            .0
            .returned
            .is_empty());
    }

    #[test]
    fn a_lost_timer_is_armed_again() {
        let mut holder = holder_with_lease(10, 1_000, 10);
        assert_eq!(holder.hand_back_at(LOCAL + 10), Some(LOCAL + 1_000));
        // The task sleeping for it was ended; long after, the next request arms it again.
        let (_, ticket) = holder.renew(LOCAL + 2_500);
        holder.granted(ticket, 5, 1_000, SECOND + 3, DAY, LOCAL + 2_510);
        assert_eq!(holder.hand_back_at(LOCAL + 2_510), Some(LOCAL + 3_500));
    }

    #[test]
    fn a_busy_isolate_leaves_its_hand_back_to_the_next_ask() {
        let mut holder = holder_with_lease(10, 1_000, 10);
        let (_, ticket) = holder.renew(LOCAL + 800);
        holder.granted(ticket, 10, 1_000, SECOND + 1, DAY, LOCAL + 810);
        assert_eq!(holder.hand_back_at(LOCAL + 810), Some(LOCAL + 1_000));
        // The first lease ended with 9 left, but the second is held: no call of its own.
        assert!(holder.hand_back_due(LOCAL + 1_000).is_empty());
        assert_eq!(holder.hand_back_at(LOCAL + 1_000), Some(LOCAL + 1_800));
        let (ask, _) = holder
            .ask_for_waiting(LOCAL + 1_500)
            .expect("none on its way");
        assert_eq!(ask.returned.len(), 1);
        assert_eq!(ask.returned[0].count, 9);
    }

    #[test]
    fn what_is_handed_back_is_merged_by_bucket_and_bounded() {
        let mut holder = LeaseHolder::new(Tuning::DEFAULT);
        let base = 1_700_000_000;
        let mut now = LOCAL;
        // Twenty leases of 5 in a row, each over unused before the next, two per bucket.
        for lease in 0..20u64 {
            holder.adopt(now, 5, 100, base + lease / 2, DAY, now);
            now += 1_000;
        }
        let (ask, _) = holder.ask_for_waiting(now).expect("none on its way");
        assert_eq!(ask.returned.len(), super::MAX_RETURNED);
        assert!(ask.returned.iter().all(|u| u.count == 10), "{ask:?}");
        // The oldest buckets were the ones dropped.
        assert!(ask.returned.iter().all(|u| u.second >= base + 2), "{ask:?}");
    }
}

mod adversary {
    //! The object's side against an isolate that uses its leases in the worst way it may:
    //! every admission at the first or the last moment of a lease, unused requests handed
    //! back late or never, leases of every length, across a UTC midnight. Whatever it does,
    //! the requests it admitted never exceed a limit in any window.

    use super::*;
    use crate::lease::simulation::{most_in_any_day, most_in_any_minute};
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct Step {
        advance_ms: u64,
        want: u32,
        lease_ms: u64,
        used_percent: u64,
        at_the_end: bool,
        hand_back_after_ms: Option<u64>,
    }

    fn step() -> impl Strategy<Value = Step> {
        (
            // Often just about a minute: when the requests of a lease leave the window.
            prop_oneof![0u64..50, 0u64..3_000, 0u64..70_000, 49_000u64..61_000],
            1u32..60,
            MIN_LEASE_MS..=MAX_LEASE_MS,
            0u64..=100,
            any::<bool>(),
            prop::option::of(prop_oneof![0u64..2_000, 0u64..90_000]),
        )
            .prop_map(
                |(advance_ms, want, lease_ms, used_percent, at_the_end, hand_back_after_ms)| Step {
                    advance_ms,
                    want,
                    lease_ms,
                    used_percent,
                    at_the_end,
                    hand_back_after_ms,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn what_leases_admit_never_exceeds_a_limit(
            per_minute in 1u64..80,
            day_minutes in 1u64..4,
            before_midnight in 0u64..200_000,
            steps in prop::collection::vec(step(), 1..120),
        ) {
            let limits = limits(per_minute, per_minute * day_minutes);
            let mut state = LimiterState::default();
            let mut now = MIDNIGHT_MS + MS_PER_DAY - before_midnight;
            let mut admitted: Vec<u64> = Vec::new();
            // (when, what): hand-backs still on their way.
            let mut hand_backs: Vec<(u64, Unused)> = Vec::new();
            for step in steps {
                now += step.advance_ms;
                let (due, later): (Vec<_>, Vec<_>) =
                    hand_backs.into_iter().partition(|(at, _)| *at <= now);
                hand_backs = later;
                let due: Vec<Unused> = due.into_iter().map(|(_, unused)| unused).collect();
                let lease = grant(
                    &mut state,
                    &limits,
                    lease_time(step.lease_ms),
                    &ask(step.want, due),
                    None,
                    now,
                    &Tuning::DEFAULT,
                );
                let Ok(lease) = lease else { continue };
                prop_assert!(lease.valid_ms <= step.lease_ms);
                // No lease spans a UTC midnight.
                prop_assert_eq!(now / MS_PER_DAY, (now + lease.valid_ms - 1) / MS_PER_DAY);
                let count = lease.count.get();
                let used = (u64::from(count) * step.used_percent / 100) as u32;
                let at = match step.at_the_end {
                    true => now + lease.valid_ms - 1,
                    false => now,
                };
                admitted.extend(std::iter::repeat_n(at, used as usize));
                if let Some(after) = step.hand_back_after_ms {
                    let unused = lease.unused(count - used);
                    hand_backs.push((now + lease.valid_ms + after, unused));
                }
            }
            admitted.sort_unstable();
            prop_assert!(
                most_in_any_minute(&admitted) <= per_minute,
                "{} in a minute", most_in_any_minute(&admitted)
            );
            prop_assert!(most_in_any_day(&admitted) <= per_minute * day_minutes);
        }
    }
}
