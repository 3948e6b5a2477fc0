use super::*;

/// 2023-11-14T00:00:00Z, a UTC midnight, so that offsets below read as times of day.
const MIDNIGHT_MS: u64 = 19_675 * MS_PER_DAY;
const HOUR_MS: u64 = 3_600_000;
/// 01:00:00 UTC on that day: far from both midnights.
const T0: u64 = MIDNIGHT_MS + HOUR_MS;

fn limits(per_minute: u64, per_day: u64) -> Limits {
    match Limits::new(per_minute, per_day) {
        Ok(limits) => limits,
        Err(error) => panic!("test limits are valid: {error}"),
    }
}

/// Limits as storage might hold them, bypassing [`Limits::new`]'s checks (e.g. a minute
/// limit above the day limit).
fn raw_limits(per_minute: u32, per_day: u32) -> Limits {
    match (NonZeroU32::new(per_minute), NonZeroU32::new(per_day)) {
        (Some(per_minute), Some(per_day)) => Limits {
            per_minute,
            per_day,
        },
        _ => panic!("test limits are non-zero"),
    }
}

fn admitted(state: &mut LimiterState, limits: &Limits, now_ms: u64) -> Quota {
    match check_and_count(state, limits, now_ms) {
        Ok(quota) => quota,
        Err(throttled) => panic!("expected admission at {now_ms}, got {throttled:?}"),
    }
}

fn throttled(state: &mut LimiterState, limits: &Limits, now_ms: u64) -> Throttled {
    let before = state.clone();
    match check_and_count(state, limits, now_ms) {
        Ok(quota) => panic!("expected a throttle at {now_ms}, got {quota:?}"),
        Err(throttled) => {
            assert_eq!(*state, before, "a refused request must change nothing");
            throttled
        }
    }
}

#[test]
fn admits_exactly_per_minute_then_throttles_until_the_first_second_leaves() {
    let limits = limits(3, 1_000);
    let mut state = LimiterState::default();
    for n in 1..=3u32 {
        let quota = admitted(&mut state, &limits, T0);
        assert_eq!(quota.minute.remaining, 3 - n);
        assert_eq!(quota.minute.reset_secs, 60);
        assert_eq!(quota.day.remaining, 1_000 - n);
    }
    let refusal = throttled(&mut state, &limits, T0);
    assert_eq!(refusal.window, Window::Minute);
    assert_eq!(refusal.retry_after_secs, 60);
    assert_eq!(refusal.quota.minute.remaining, 0);

    // Half a second in, the wait is still counted in whole seconds from the next tick.
    assert_eq!(
        throttled(&mut state, &limits, T0 + 500).retry_after_secs,
        60
    );
    assert_eq!(
        throttled(&mut state, &limits, T0 + 59_999).retry_after_secs,
        1
    );
    admitted(&mut state, &limits, T0 + 60_000);
}

#[test]
fn the_window_slides_one_second_at_a_time() {
    let limits = limits(3, 1_000);
    let mut state = LimiterState::default();
    admitted(&mut state, &limits, T0);
    admitted(&mut state, &limits, T0 + 10_000);
    admitted(&mut state, &limits, T0 + 20_000);

    let refusal = throttled(&mut state, &limits, T0 + 30_000);
    assert_eq!(refusal.retry_after_secs, 30);
    assert_eq!(refusal.quota.minute.reset_secs, 50);
    assert_eq!(
        throttled(&mut state, &limits, T0 + 59_999).retry_after_secs,
        1
    );

    // The t=0 bucket has left at 60.000: exactly one slot back.
    let quota = admitted(&mut state, &limits, T0 + 60_000);
    assert_eq!(quota.minute.remaining, 0);
    assert_eq!(quota.minute.reset_secs, 60);
    // Next to go is the t=10 bucket, at 70.000.
    assert_eq!(
        throttled(&mut state, &limits, T0 + 60_500).retry_after_secs,
        10
    );
    admitted(&mut state, &limits, T0 + 70_000);
}

#[test]
fn a_throttled_request_does_not_use_the_day_budget() {
    let limits = limits(2, 10);
    let mut state = LimiterState::default();
    admitted(&mut state, &limits, T0);
    admitted(&mut state, &limits, T0);
    for offset_ms in [0, 1_000, 30_000, 59_999] {
        throttled(&mut state, &limits, T0 + offset_ms);
    }
    let quota = peek(&state, &limits, T0 + 59_999);
    assert_eq!(quota.day.remaining, 8);
    assert_eq!(quota.minute.remaining, 0);
}

#[test]
fn an_exhausted_day_waits_for_utc_midnight() {
    let limits = raw_limits(10, 3);
    let mut state = LimiterState::default();
    let late = MIDNIGHT_MS + MS_PER_DAY - 30_000; // 23:59:30
    for _ in 0..3 {
        admitted(&mut state, &limits, late);
    }
    let refusal = throttled(&mut state, &limits, late);
    assert_eq!(refusal.window, Window::Day);
    assert_eq!(refusal.retry_after_secs, 30);
    assert_eq!(refusal.quota.day.remaining, 0);
    assert_eq!(refusal.quota.day.reset_secs, 30);
    assert_eq!(refusal.quota.minute.remaining, 7);

    // A fraction of a second before midnight still rounds up to a whole second.
    let last_ms = MIDNIGHT_MS + MS_PER_DAY - 1;
    assert_eq!(throttled(&mut state, &limits, last_ms).retry_after_secs, 1);

    let quota = admitted(&mut state, &limits, MIDNIGHT_MS + MS_PER_DAY);
    assert_eq!(quota.day.remaining, 2);
    // The three requests from 23:59:30 are still in the sliding minute.
    assert_eq!(quota.minute.remaining, 6);
}

#[test]
fn when_both_windows_are_exhausted_the_later_one_decides() {
    let limits = limits(3, 3);
    let mut state = LimiterState::default();
    let late = MIDNIGHT_MS + MS_PER_DAY - 10_000; // 23:59:50
    for _ in 0..3 {
        admitted(&mut state, &limits, late);
    }
    // Minute frees at +60 s, the day at +10 s: the minute decides.
    let refusal = throttled(&mut state, &limits, late);
    assert_eq!(
        (refusal.window, refusal.retry_after_secs),
        (Window::Minute, 60)
    );

    let mut state = LimiterState::default();
    for _ in 0..3 {
        admitted(&mut state, &limits, T0);
    }
    // Minute frees at +60 s, the day 23 hours later: the day decides.
    let refusal = throttled(&mut state, &limits, T0);
    assert_eq!(refusal.window, Window::Day);
    assert_eq!(refusal.retry_after_secs, 23 * 3_600);
}

#[test]
fn the_day_counter_resets_at_utc_midnight() {
    let limits = limits(5, 5);
    let mut state = LimiterState::default();
    let before_midnight = MIDNIGHT_MS + MS_PER_DAY - 120_000;
    admitted(&mut state, &limits, before_midnight);
    admitted(&mut state, &limits, before_midnight);
    assert_eq!(peek(&state, &limits, before_midnight).day.remaining, 3);

    let after_midnight = MIDNIGHT_MS + MS_PER_DAY;
    let quota = peek(&state, &limits, after_midnight);
    assert_eq!(quota.day.remaining, 5);
    assert_eq!(quota.day.reset_secs, 0);
    // The minute window has long forgotten them too.
    assert_eq!(
        quota.minute,
        WindowStatus {
            limit: 5,
            remaining: 5,
            reset_secs: 0
        }
    );

    let quota = admitted(&mut state, &limits, after_midnight);
    assert_eq!(quota.day.remaining, 4);
    assert_eq!(quota.day.reset_secs, 86_400);
}

#[test]
fn an_empty_state_reports_full_quota_and_no_reset() {
    let quota = peek(&LimiterState::default(), &limits(120, 50_000), T0);
    assert_eq!(
        quota.minute,
        WindowStatus {
            limit: 120,
            remaining: 120,
            reset_secs: 0
        }
    );
    assert_eq!(
        quota.day,
        WindowStatus {
            limit: 50_000,
            remaining: 50_000,
            reset_secs: 0
        }
    );
}

#[test]
fn lowering_the_limit_below_the_count_throttles_until_enough_has_left() {
    let mut state = LimiterState::default();
    let generous = limits(10, 100);
    for second in 0..6 {
        admitted(&mut state, &generous, T0 + second * 1_000);
    }
    // Six counted, one in each of seconds 0..=5. With a limit of 2, at most one may still
    // count when a seventh arrives, so seconds 0..=4 must leave first: at second 64.
    let strict = limits(2, 100);
    let refusal = throttled(&mut state, &strict, T0 + 10_000);
    assert_eq!(refusal.window, Window::Minute);
    assert_eq!(refusal.retry_after_secs, 54);
    assert_eq!(refusal.quota.minute.remaining, 0);
    throttled(&mut state, &strict, T0 + 63_999);
    admitted(&mut state, &strict, T0 + 64_000);

    // Lowering the day limit below today's count throttles until midnight.
    let strict_day = limits(1, 3);
    let refusal = throttled(&mut state, &strict_day, T0 + 200_000);
    assert_eq!(refusal.window, Window::Day);
    assert_eq!(refusal.quota.day.remaining, 0);
    assert_eq!(
        refusal.retry_after_secs,
        (MS_PER_DAY - HOUR_MS - 200_000) / 1_000
    );
}

#[test]
fn a_committed_state_is_sorted_merged_and_small() {
    let limits = limits(1_000, 10_000);
    let mut state = LimiterState::default();
    for second in 0..200u64 {
        admitted(&mut state, &limits, T0 + second * 500);
    }
    // Counting only at now never needs more than the window's own seconds.
    assert!(state.minute.len() <= MINUTE_WINDOW_SECS as usize);
    assert!(state.minute.windows(2).all(|pair| match pair {
        [earlier, later] => earlier.0 < later.0,
        _ => true,
    }));
    let json = serde_json::to_string(&state).unwrap_or_default();
    assert!(json.starts_with(r#"{"minute":[["#), "{json}");
    assert!(json.len() < 2_200, "{json}");
    let back: LimiterState = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, state);
}

#[test]
fn missing_fields_deserialise_to_an_empty_state() {
    let state: Result<LimiterState, _> = serde_json::from_str("{}");
    assert_eq!(state.ok(), Some(LimiterState::default()));
}

fn corrupt(json: &str) -> LimiterState {
    match serde_json::from_str(json) {
        Ok(state) => state,
        Err(error) => panic!("{json} should deserialise: {error}"),
    }
}

#[test]
fn corrupt_buckets_are_summed_whatever_their_order() {
    let now_sec = T0 / 1_000;
    let json = format!(
        r#"{{"minute":[[{a},1],[{b},2],[{a},1],[{old},9],[{c},0]],"day":{day},"day_count":4}}"#,
        a = now_sec - 5,
        b = now_sec - 30,
        old = now_sec - 60,
        c = now_sec - 1,
        day = T0 / MS_PER_DAY,
    );
    let mut state = corrupt(&json);
    let limits = limits(5, 100);
    // In the window: 2 + 1 + 1 = 4 (the bucket 60 s old has left, the empty one is
    // ignored). One more fits.
    let quota = peek(&state, &limits, T0);
    assert_eq!(quota.minute.remaining, 1);
    assert_eq!(quota.minute.reset_secs, 55);
    let quota = admitted(&mut state, &limits, T0);
    assert_eq!(quota.minute.remaining, 0);
    assert_eq!(quota.day.remaining, 95);
    assert_eq!(
        state.minute,
        vec![(now_sec - 30, 2), (now_sec - 5, 2), (now_sec, 1)]
    );
    // Next to leave is the bucket of 30 s ago.
    assert_eq!(throttled(&mut state, &limits, T0).retry_after_secs, 30);
}

#[test]
fn counts_above_the_limit_throttle_without_overflow() {
    let now_sec = T0 / 1_000;
    let json = format!(
        r#"{{"minute":[[{s},4294967295],[{s},4294967295]],"day":{d},"day_count":4294967295}}"#,
        s = now_sec,
        d = T0 / MS_PER_DAY,
    );
    let mut state = corrupt(&json);
    let limits = limits(MAX_PER_MINUTE.into(), MAX_PER_DAY.into());
    let refusal = throttled(&mut state, &limits, T0);
    assert_eq!(refusal.window, Window::Day);
    assert_eq!(refusal.quota.minute.remaining, 0);
    assert_eq!(refusal.quota.day.remaining, 0);
    admitted(&mut state, &limits, MIDNIGHT_MS + MS_PER_DAY + 60_000);
}

#[test]
fn buckets_from_the_future_count_until_they_leave_by_their_own_second() {
    // The clock moved back 10 s after two requests were counted.
    let limits = limits(2, 100);
    let mut state = LimiterState::default();
    admitted(&mut state, &limits, T0 + 10_000);
    admitted(&mut state, &limits, T0 + 10_000);
    let refusal = throttled(&mut state, &limits, T0);
    assert_eq!(refusal.retry_after_secs, 70);
    assert_eq!(refusal.quota.minute.reset_secs, 70);
    throttled(&mut state, &limits, T0 + 69_999);
    admitted(&mut state, &limits, T0 + 70_000);
}

#[test]
fn a_day_from_the_future_counts_until_that_day_is_over() {
    let limits = raw_limits(5, 2);
    let tomorrow = T0 / MS_PER_DAY + 1;
    let mut state = corrupt(&format!(r#"{{"day":{tomorrow},"day_count":2}}"#));
    let refusal = throttled(&mut state, &limits, T0);
    assert_eq!(refusal.window, Window::Day);
    assert_eq!(refusal.retry_after_secs, (2 * MS_PER_DAY - HOUR_MS) / 1_000);
    throttled(&mut state, &limits, MIDNIGHT_MS + 2 * MS_PER_DAY - 1);
    admitted(&mut state, &limits, MIDNIGHT_MS + 2 * MS_PER_DAY);
}

#[test]
fn many_future_buckets_are_folded_to_keep_storage_bounded() {
    let now_sec = T0 / 1_000;
    let buckets: Vec<String> = (1..=500u64)
        .map(|ahead| format!("[{},1]", now_sec + ahead))
        .collect();
    let mut state = corrupt(&format!(r#"{{"minute":[{}]}}"#, buckets.join(",")));
    let limits = limits(1_000, 10_000);
    let quota = admitted(&mut state, &limits, T0);
    assert_eq!(quota.minute.remaining, 1_000 - 501);
    assert!(state.minute.len() <= MAX_MINUTE_BUCKETS);
    // Folding moves counts later, never drops them.
    let total: u64 = state
        .minute
        .iter()
        .map(|&(_, count)| u64::from(count))
        .sum();
    assert_eq!(total, 501);
    assert_eq!(peek(&state, &limits, T0).minute.remaining, 1_000 - 501);
}

#[test]
fn extreme_clocks_and_seconds_never_panic() {
    let limits = limits(1, 1);
    for now_ms in [0, 1, 59_999, u64::MAX - 1, u64::MAX] {
        let mut state = LimiterState::default();
        let _ = check_and_count(&mut state, &limits, now_ms);
        let refusal = check_and_count(&mut state, &limits, now_ms);
        assert!(refusal.is_err_and(|throttled| throttled.retry_after_secs >= 1));
        let _ = peek(&state, &limits, now_ms);
    }
    let mut state = corrupt(&format!(
        r#"{{"minute":[[{max},1],[0,1]],"day":{max},"day_count":1}}"#,
        max = u64::MAX
    ));
    let refusal = throttled(&mut state, &limits, T0);
    assert!(refusal.retry_after_secs >= 1);
}

#[test]
fn headers_follow_the_draft_and_name_the_tightest_window() {
    let quota = Quota {
        minute: WindowStatus {
            limit: 120,
            remaining: 119,
            reset_secs: 60,
        },
        day: WindowStatus {
            limit: 50_000,
            remaining: 49_000,
            reset_secs: 36_000,
        },
    };
    assert_eq!(
        rate_limit_headers(&quota),
        vec![
            (
                "RateLimit-Policy",
                r#""minute";q=120;w=60, "day";q=50000;w=86400"#.to_string()
            ),
            (
                "RateLimit",
                r#""minute";r=119;t=60, "day";r=49000;t=36000"#.to_string()
            ),
            ("X-RateLimit-Limit", "120".to_string()),
            ("X-RateLimit-Remaining", "119".to_string()),
            ("X-RateLimit-Reset", "60".to_string()),
        ]
    );
}

#[test]
fn headers_leave_out_t_when_nothing_is_counted() {
    let quota = peek(&LimiterState::default(), &limits(10, 100), T0);
    let headers = rate_limit_headers(&quota);
    assert!(headers.contains(&("RateLimit", r#""minute";r=10, "day";r=100"#.to_string())));
    assert!(headers.contains(&("X-RateLimit-Remaining", "10".to_string())));
    assert!(headers.contains(&("X-RateLimit-Reset", "0".to_string())));
}

#[test]
fn on_equal_remaining_the_later_reset_is_the_tightest() {
    let quota = Quota {
        minute: WindowStatus {
            limit: 10,
            remaining: 0,
            reset_secs: 40,
        },
        day: WindowStatus {
            limit: 10,
            remaining: 0,
            reset_secs: 7_200,
        },
    };
    assert_eq!(most_restrictive(&quota), quota.day);
    let quota = Quota {
        minute: WindowStatus {
            limit: 10,
            remaining: 0,
            reset_secs: 40,
        },
        day: WindowStatus {
            limit: 10,
            remaining: 1,
            reset_secs: 7_200,
        },
    };
    assert_eq!(most_restrictive(&quota), quota.minute);
}

#[test]
fn throttled_headers_never_point_past_retry_after() {
    let limits = limits(2, 100);
    let mut state = LimiterState::default();
    admitted(&mut state, &limits, T0);
    admitted(&mut state, &limits, T0 + 30_000);
    let refusal = throttled(&mut state, &limits, T0 + 40_000);
    assert_eq!(refusal.retry_after_secs, 20);
    assert_eq!(refusal.quota.minute.reset_secs, 50);
    let headers = throttled_rate_limit_headers(&refusal);
    assert!(headers.iter().all(|(name, _)| *name != "Retry-After"));
    assert!(headers.contains(&(
        "RateLimit",
        r#""minute";r=0;t=20, "day";r=98;t=82760"#.to_string()
    )));
    assert!(headers.contains(&("X-RateLimit-Reset", "20".to_string())));
}

#[test]
fn window_serialises_as_its_policy_name() {
    for window in [Window::Minute, Window::Day] {
        let json = serde_json::to_string(&window).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", window.policy_name()));
        assert_eq!(serde_json::from_str::<Window>(&json).ok(), Some(window));
    }
}
