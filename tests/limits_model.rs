//! The limiter against a naive reference model.
//!
//! The model keeps every admitted timestamp and answers each question by counting them, the
//! way the limits are specified: a request at second `s` is admitted iff fewer than
//! `per_minute` admitted requests fall in seconds `(s - 60, s]` and fewer than `per_day` in
//! the same UTC day. The limiter must agree with it on every decision, every remaining
//! count and every reset, and its `retry_after_secs` must be the exact whole-second wait.
//! Time is only ever the `now_ms` passed in.

use keygate::limits::{
    check_and_count, peek, LimiterState, Limits, Quota, Throttled, Window, WindowStatus,
    MAX_MINUTE_BUCKETS,
};
use proptest::prelude::*;
use std::num::NonZeroU32;

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_DAY: u64 = 86_400_000;
/// Generous bound on the stored JSON: 60 `[u64,u32]` pairs at their widest, plus the rest.
const MAX_STATE_JSON_BYTES: usize = 2_200;

/// Limits straight from their parts, as storage could hold them: the minute limit may
/// exceed the day limit here, which `Limits::new` would refuse.
fn limits(per_minute: u32, per_day: u32) -> Limits {
    Limits {
        per_minute: NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN),
        per_day: NonZeroU32::new(per_day).unwrap_or(NonZeroU32::MIN),
    }
}

#[derive(Default)]
struct Model {
    admitted_ms: Vec<u64>,
}

impl Model {
    fn in_minute_window(at_ms: u64, now_ms: u64) -> bool {
        let (second, now_sec) = (at_ms / MS_PER_SECOND, now_ms / MS_PER_SECOND);
        second <= now_sec && second + 60 > now_sec
    }

    fn minute_used(&self, now_ms: u64) -> u64 {
        let in_window = self.admitted_ms.iter();
        in_window
            .filter(|&&at| Self::in_minute_window(at, now_ms))
            .count() as u64
    }

    fn day_used(&self, now_ms: u64) -> u64 {
        let today = now_ms / MS_PER_DAY;
        let same_day = self.admitted_ms.iter();
        same_day.filter(|&&at| at / MS_PER_DAY == today).count() as u64
    }

    fn minute_blocks(&self, limits: &Limits, now_ms: u64) -> bool {
        self.minute_used(now_ms) >= u64::from(limits.per_minute.get())
    }

    fn day_blocks(&self, limits: &Limits, now_ms: u64) -> bool {
        self.day_used(now_ms) >= u64::from(limits.per_day.get())
    }

    fn admits(&self, limits: &Limits, now_ms: u64) -> bool {
        !self.minute_blocks(limits, now_ms) && !self.day_blocks(limits, now_ms)
    }

    fn quota(&self, limits: &Limits, now_ms: u64) -> Quota {
        let now_sec = now_ms / MS_PER_SECOND;
        let last_to_leave = self
            .admitted_ms
            .iter()
            .filter(|&&at| Self::in_minute_window(at, now_ms))
            .map(|&at| at / MS_PER_SECOND + 60 - now_sec)
            .max()
            .unwrap_or(0);
        let day_used = self.day_used(now_ms);
        let next_midnight_ms = (now_ms / MS_PER_DAY + 1) * MS_PER_DAY;
        let per_minute = limits.per_minute.get();
        let per_day = limits.per_day.get();
        Quota {
            minute: WindowStatus {
                limit: per_minute,
                remaining: per_minute.saturating_sub(self.minute_used(now_ms) as u32),
                reset_secs: last_to_leave,
            },
            day: WindowStatus {
                limit: per_day,
                remaining: per_day.saturating_sub(day_used as u32),
                reset_secs: if day_used == 0 {
                    0
                } else {
                    (next_midnight_ms - now_ms).div_ceil(MS_PER_SECOND)
                },
            },
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// Move the clock forward by this many ms (0: the same instant) and send a request.
    Advance(u64),
    /// Move the clock to this many ms before the next UTC midnight and send a request.
    BeforeMidnight(u64),
    /// An operator edits the key's limits; no request.
    ChangeLimits(u32, u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Advance(0)),
        6 => (0u64..2_000).prop_map(Step::Advance),
        4 => (0u64..70_000).prop_map(Step::Advance),
        1 => (0u64..3 * MS_PER_DAY).prop_map(Step::Advance),
        1 => (0u64..3_000).prop_map(Step::BeforeMidnight),
        1 => (1u32..10, 1u32..30).prop_map(|(m, d)| Step::ChangeLimits(m, d)),
    ]
}

fn start_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        // Near the epoch: the window's lower edge would be negative.
        0u64..200_000,
        1_600_000_000_000u64..1_800_000_000_000,
    ]
}

fn check_throttle(
    model: &Model,
    limits: &Limits,
    now_ms: u64,
    throttled: &Throttled,
) -> Result<(), TestCaseError> {
    let wait = throttled.retry_after_secs;
    prop_assert!(wait >= 1, "a throttle must say 'later': {throttled:?}");
    prop_assert_eq!(throttled.quota, model.quota(limits, now_ms));
    let retry_ms = now_ms + wait * MS_PER_SECOND;
    prop_assert!(
        model.admits(limits, retry_ms),
        "after {wait}s the model must admit: {throttled:?}"
    );
    let a_second_early = now_ms + (wait - 1) * MS_PER_SECOND;
    prop_assert!(
        !model.admits(limits, a_second_early),
        "a whole second earlier must still be throttled: {throttled:?}"
    );
    // The named window is the one still blocking a second before the retry.
    let deciding_blocks = match throttled.window {
        Window::Minute => model.minute_blocks(limits, a_second_early),
        Window::Day => model.day_blocks(limits, a_second_early),
    };
    prop_assert!(deciding_blocks, "{throttled:?}");
    Ok(())
}

fn check_stored_form(state: &LimiterState) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(state).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(json.len() <= MAX_STATE_JSON_BYTES, "{json}");
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let buckets = value
        .get("minute")
        .and_then(|minute| minute.as_array())
        .map_or(0, Vec::len);
    // A clock that only moves forward, counting at now: never more than the window's 60
    // seconds (the bound's room for leases counted ahead is not needed here).
    prop_assert!(buckets <= 60, "{json}");
    prop_assert!(buckets <= MAX_MINUTE_BUCKETS, "{json}");
    let back: LimiterState =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, state);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_limiter_agrees_with_the_reference_model(
        start in start_ms(),
        per_minute in 1u32..10,
        per_day in 1u32..30,
        steps in prop::collection::vec(step(), 1..200),
    ) {
        let mut limits = limits(per_minute, per_day);
        let mut state = LimiterState::default();
        let mut model = Model::default();
        let mut now_ms = start;

        for step in steps {
            match step {
                Step::ChangeLimits(m, d) => {
                    limits = self::limits(m, d);
                    prop_assert_eq!(peek(&state, &limits, now_ms), model.quota(&limits, now_ms));
                    continue;
                }
                Step::Advance(delta_ms) => now_ms += delta_ms,
                Step::BeforeMidnight(before_ms) => {
                    let target = (now_ms / MS_PER_DAY + 1) * MS_PER_DAY - before_ms;
                    now_ms = now_ms.max(target);
                }
            }

            let expect_admit = model.admits(&limits, now_ms);
            let before = state.clone();
            match check_and_count(&mut state, &limits, now_ms) {
                Ok(quota) => {
                    prop_assert!(expect_admit, "the model throttles at {now_ms}: {quota:?}");
                    model.admitted_ms.push(now_ms);
                    prop_assert_eq!(quota, model.quota(&limits, now_ms));
                }
                Err(throttled) => {
                    prop_assert!(!expect_admit, "the model admits at {now_ms}: {throttled:?}");
                    prop_assert_eq!(&state, &before, "a throttle must change nothing");
                    check_throttle(&model, &limits, now_ms, &throttled)?;
                }
            }
            prop_assert_eq!(peek(&state, &limits, now_ms), model.quota(&limits, now_ms));
            check_stored_form(&state)?;
        }
    }

    /// Whatever storage hands back: no panic, never more admitted than the limit, a
    /// truthful retry, and a committed state that is bounded again.
    #[test]
    fn any_stored_state_is_handled_conservatively(
        now_ms in 0u64..4_000_000_000_000,
        buckets in prop::collection::vec(
            (
                prop_oneof![-200i64..200i64, Just(i64::MAX)],
                prop_oneof![0u32..5, Just(u32::MAX)],
            ),
            0..150,
        ),
        day_offset in -2i64..3,
        day_count in prop_oneof![0u32..40, Just(u32::MAX)],
        per_minute in 1u32..10,
        per_day in 1u32..30,
    ) {
        let now_sec = now_ms / MS_PER_SECOND;
        let today = now_ms / MS_PER_DAY;
        let stored_buckets: Vec<(u64, u32)> = buckets
            .iter()
            .map(|&(offset, count)| {
                let second = if offset == i64::MAX {
                    u64::MAX
                } else {
                    now_sec.saturating_add_signed(offset)
                };
                (second, count)
            })
            .collect();
        let stored_day = today.saturating_add_signed(day_offset);
        let json = serde_json::json!({
            "minute": stored_buckets,
            "day": stored_day,
            "day_count": day_count,
        });
        let mut state: LimiterState =
            serde_json::from_value(json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let limits = limits(per_minute, per_day);

        // The documented reading: every bucket not yet 60 s old counts, future ones included;
        // a stored day that is today or later counts.
        let minute_used: u64 = stored_buckets
            .iter()
            .filter(|&&(second, _)| second.saturating_add(60) > now_sec)
            .map(|&(_, count)| u64::from(count))
            .sum();
        let day_used = if stored_day >= today { u64::from(day_count) } else { 0 };
        let fits = minute_used < u64::from(per_minute) && day_used < u64::from(per_day);

        let before = state.clone();
        match check_and_count(&mut state, &limits, now_ms) {
            Ok(quota) => {
                prop_assert!(fits, "admitted over the limit: {quota:?}");
                prop_assert_eq!(u64::from(quota.minute.remaining), u64::from(per_minute) - minute_used - 1);
                prop_assert_eq!(u64::from(quota.day.remaining), u64::from(per_day) - day_used - 1);
                check_stored_form(&state)?;
                let after = peek(&state, &limits, now_ms);
                prop_assert_eq!(after, quota);
            }
            Err(throttled) => {
                prop_assert!(!fits, "refused with room: {throttled:?}");
                prop_assert_eq!(&state, &before);
                prop_assert!(throttled.retry_after_secs >= 1);
                prop_assert_eq!(throttled.quota, peek(&state, &limits, now_ms));
                // The retry is exact wherever the clock can still express it.
                let wait = throttled.retry_after_secs;
                if let Some(retry_ms) = wait.checked_mul(MS_PER_SECOND).and_then(|ms| ms.checked_add(now_ms)) {
                    prop_assert!(check_and_count(&mut state.clone(), &limits, retry_ms).is_ok());
                    let a_second_early = retry_ms - MS_PER_SECOND;
                    prop_assert!(check_and_count(&mut state.clone(), &limits, a_second_early).is_err());
                }
            }
        }
    }
}
