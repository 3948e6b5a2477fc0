//! Per-key request limits: the values, and (below) the exact window math.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;

/// The most a per-minute limit may be. Above this a sliding window stops being a useful
/// defence and becomes a typo.
pub const MAX_PER_MINUTE: u32 = 1_000_000;
/// The most a per-day limit may be.
pub const MAX_PER_DAY: u32 = 1_000_000_000;

/// A key's limits. Zero is unrepresentable; build one with [`Limits::new`] to get a
/// precise error for a bad value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub per_minute: NonZeroU32,
    pub per_day: NonZeroU32,
}

/// Why a pair of limits was refused. The `Display` text is shown to operators as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitsError {
    PerMinuteOutOfRange(u64),
    PerDayOutOfRange(u64),
    MinuteAboveDay { per_minute: u32, per_day: u32 },
}

impl fmt::Display for LimitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PerMinuteOutOfRange(v) => {
                write!(
                    f,
                    "per_minute must be between 1 and {MAX_PER_MINUTE}, got {v}"
                )
            }
            Self::PerDayOutOfRange(v) => {
                write!(f, "per_day must be between 1 and {MAX_PER_DAY}, got {v}")
            }
            Self::MinuteAboveDay {
                per_minute,
                per_day,
            } => write!(
                f,
                "per_minute ({per_minute}) must not exceed per_day ({per_day})"
            ),
        }
    }
}

impl Limits {
    pub fn new(per_minute: u64, per_day: u64) -> Result<Limits, LimitsError> {
        let minute = u32::try_from(per_minute)
            .ok()
            .filter(|v| (1..=MAX_PER_MINUTE).contains(v))
            .and_then(NonZeroU32::new)
            .ok_or(LimitsError::PerMinuteOutOfRange(per_minute))?;
        let day = u32::try_from(per_day)
            .ok()
            .filter(|v| (1..=MAX_PER_DAY).contains(v))
            .and_then(NonZeroU32::new)
            .ok_or(LimitsError::PerDayOutOfRange(per_day))?;
        if minute > day {
            return Err(LimitsError::MinuteAboveDay {
                per_minute: minute.get(),
                per_day: day.get(),
            });
        }
        Ok(Limits {
            per_minute: minute,
            per_day: day,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Window math.
//
// The per-key Durable Object is single-threaded, so the state below is read, decided on and
// written back without races; "exact" here means exact at one-second granularity.
// ---------------------------------------------------------------------------------------

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_DAY: u64 = 86_400_000;
/// Width of the sliding window, in whole seconds.
const MINUTE_WINDOW_SECS: u64 = 60;
/// Width of the calendar window, in seconds (for the `w` parameter only; the day resets at
/// UTC midnight, it does not slide).
const DAY_WINDOW_SECS: u64 = 86_400;

/// The most per-second buckets a stored state keeps. A window of 60 whole seconds never
/// needs more, so storage stays bounded whatever the limit.
pub const MAX_MINUTE_BUCKETS: usize = 60;

/// What a key's Durable Object stores between requests.
///
/// Stored as JSON, e.g. `{"minute":[[1700000000,3],[1700000007,1]],"day":19675,"day_count":42}`.
/// Any value that deserialises is accepted — buckets out of order, repeated, from the
/// future, counts above the limit — and handled conservatively (see [`check_and_count`]);
/// nothing here can panic on what storage hands back. Missing fields default to empty, so
/// a key without stored state starts with a full quota.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimiterState {
    /// `[unix_second, admitted]` pairs for the sliding minute window.
    #[serde(default)]
    minute: Vec<(u64, u32)>,
    /// The UTC day (`unix_ms / 86_400_000`) that `day_count` belongs to.
    #[serde(default)]
    day: u64,
    /// Requests admitted during `day`.
    #[serde(default)]
    day_count: u32,
}

/// The state of one window after a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until this window's quota is fully restored: for the minute, until every
    /// counted request has left the sliding window; for the day, until the next UTC
    /// midnight. Rounded up; 0 only if nothing is counted.
    pub reset_secs: u64,
}

/// Which of a key's two windows refused a request. Serialised as `"minute"` / `"day"`, the
/// same names as the policies in the headers, so it can cross the Durable Object boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Minute,
    Day,
}

impl Window {
    /// The policy name used in the `RateLimit-Policy` and `RateLimit` fields.
    pub fn policy_name(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Day => "day",
        }
    }
}

/// Both windows of a key at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub minute: WindowStatus,
    pub day: WindowStatus,
}

/// A refused request: which window refused it, when the same request would pass, and the
/// (unchanged) quota to show in the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// The window that decides `retry_after_secs`: when both are exhausted, the one that
    /// frees up later (the day on a tie).
    pub window: Window,
    /// The smallest whole number of seconds after which this same request would be
    /// admitted, assuming nothing else is admitted meanwhile. Never 0.
    pub retry_after_secs: u64,
    pub quota: Quota,
}

/// Checks both windows at `now_ms` (Unix milliseconds) and, if both have room, counts the
/// request in both. A refused request changes nothing.
///
/// A request at second `s = now_ms / 1000` passes the minute window iff the requests counted
/// in seconds `(s - 60, s]`, plus this one, fit in `per_minute`; it passes the day window
/// iff the requests counted in the current UTC day, plus this one, fit in `per_day`.
///
/// Stored state that does not look like something this function wrote is read
/// conservatively, so that corruption can only refuse requests, never admit extra ones:
/// - buckets in any order, or repeated, are summed;
/// - a bucket from the future (the clock moved back) counts as in the window until 60 s
///   after its own second; a `day` in the future counts as today until that day is over;
/// - counts above the limit simply leave no room until enough of them expire.
///
/// ```
/// use keygate::limits::{check_and_count, LimiterState, Limits, Window};
///
/// let limits = Limits::new(2, 100).unwrap();
/// let mut state = LimiterState::default();
/// let t0 = 1_700_000_000_000;
/// assert!(check_and_count(&mut state, &limits, t0).is_ok());
/// assert!(check_and_count(&mut state, &limits, t0 + 500).is_ok());
/// let throttled = check_and_count(&mut state, &limits, t0 + 1_000).unwrap_err();
/// assert_eq!(throttled.window, Window::Minute);
/// assert_eq!(throttled.retry_after_secs, 59);
/// ```
pub fn check_and_count(
    state: &mut LimiterState,
    limits: &Limits,
    now_ms: u64,
) -> Result<Quota, Throttled> {
    let now_sec = now_ms / MS_PER_SECOND;
    let minute = MinuteWindow::read(state, now_sec);
    let day = DayWindow::read(state, now_ms);

    let minute_wait = minute.wait_for_room(limits.per_minute.get(), now_sec);
    let day_wait = day.wait_for_room(limits.per_day.get(), now_ms);
    let refusal = match (minute_wait, day_wait) {
        (None, None) => None,
        (Some(minute_secs), None) => Some((Window::Minute, minute_secs)),
        (None, Some(day_secs)) => Some((Window::Day, day_secs)),
        (Some(minute_secs), Some(day_secs)) if minute_secs > day_secs => {
            Some((Window::Minute, minute_secs))
        }
        (Some(_), Some(day_secs)) => Some((Window::Day, day_secs)),
    };
    if let Some((window, retry_after_secs)) = refusal {
        return Err(Throttled {
            window,
            retry_after_secs,
            quota: quota_of(&minute, &day, limits, now_ms),
        });
    }

    // Both windows have room: commit both, from the normalised views, so whatever odd
    // shape storage had is replaced by a sorted, merged, bounded one.
    state.minute = minute.counting_one_more(now_sec);
    let (day_index, day_count) = day.counting_one_more(now_ms);
    state.day = day_index;
    state.day_count = day_count;
    Ok(peek(state, limits, now_ms))
}

/// The quota at `now_ms` without counting anything (for showing limit headers on e.g. a
/// 403, or for admin reads).
pub fn peek(state: &LimiterState, limits: &Limits, now_ms: u64) -> Quota {
    let minute = MinuteWindow::read(state, now_ms / MS_PER_SECOND);
    let day = DayWindow::read(state, now_ms);
    quota_of(&minute, &day, limits, now_ms)
}

fn quota_of(minute: &MinuteWindow, day: &DayWindow, limits: &Limits, now_ms: u64) -> Quota {
    Quota {
        minute: minute.status(limits.per_minute.get(), now_ms / MS_PER_SECOND),
        day: day.status(limits.per_day.get(), now_ms),
    }
}

/// `limit - used`, never below zero; `used` may exceed the limit after the limit was
/// lowered or storage was corrupted.
fn remaining_of(limit: u32, used: u64) -> u32 {
    let remaining = u64::from(limit).saturating_sub(used);
    u32::try_from(remaining).unwrap_or(0)
}

/// The second in which a request counted in second `second` stops counting. Saturates, so
/// a corrupt second near `u64::MAX` simply never leaves.
fn leaves_at(second: u64) -> u64 {
    second.saturating_add(MINUTE_WINDOW_SECS)
}

/// The counted minute buckets at one second: only those still in the window, sorted
/// oldest first, one per second, none empty.
struct MinuteWindow {
    buckets: Vec<(u64, u64)>,
    used: u64,
}

impl MinuteWindow {
    fn read(state: &LimiterState, now_sec: u64) -> MinuteWindow {
        // `leaves_at(second) > now_sec` rather than `second > now_sec - 60`: no underflow
        // near the epoch, and future seconds are in the window by construction.
        let mut buckets: Vec<(u64, u64)> = state
            .minute
            .iter()
            .filter(|(second, count)| *count > 0 && leaves_at(*second) > now_sec)
            .map(|&(second, count)| (second, u64::from(count)))
            .collect();
        buckets.sort_unstable_by_key(|&(second, _)| second);
        buckets.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = earlier.1.saturating_add(later.1);
                true
            } else {
                false
            }
        });
        let used = buckets
            .iter()
            .fold(0u64, |sum, &(_, count)| sum.saturating_add(count));
        MinuteWindow { buckets, used }
    }

    fn status(&self, limit: u32, now_sec: u64) -> WindowStatus {
        // The newest bucket is the last to leave; buckets are never empty, so there is one
        // iff something is counted.
        let reset_secs = self
            .buckets
            .last()
            .map_or(0, |&(second, _)| leaves_at(second).saturating_sub(now_sec));
        WindowStatus {
            limit,
            remaining: remaining_of(limit, self.used),
            reset_secs,
        }
    }

    /// `None` if one more request fits now; otherwise the whole seconds until it would.
    fn wait_for_room(&self, limit: u32, now_sec: u64) -> Option<u64> {
        let limit = u64::from(limit);
        if self.used < limit {
            return None;
        }
        // Let buckets expire oldest first until one more request fits. A limit is at least
        // 1, so at the latest this ends when every bucket has left.
        let mut still_counted = self.used;
        for &(second, count) in &self.buckets {
            still_counted = still_counted.saturating_sub(count);
            if still_counted < limit {
                // In-window buckets leave strictly after `now_sec`, so this is at least 1.
                return Some(leaves_at(second).saturating_sub(now_sec).max(1));
            }
        }
        // Unreachable for a limit of at least 1; refusing for a second is the safe answer.
        Some(1)
    }

    /// The buckets to store after admitting one request at `now_sec`.
    fn counting_one_more(&self, now_sec: u64) -> Vec<(u64, u32)> {
        let mut buckets: Vec<(u64, u32)> = self
            .buckets
            .iter()
            .map(|&(second, count)| (second, u32::try_from(count).unwrap_or(u32::MAX)))
            .collect();
        match buckets.binary_search_by_key(&now_sec, |&(second, _)| second) {
            Ok(found) => {
                if let Some(bucket) = buckets.get_mut(found) {
                    bucket.1 = bucket.1.saturating_add(1);
                }
            }
            Err(position) => buckets.insert(position, (now_sec, 1)),
        }
        // Only buckets from the future (the clock moved back) can push this past 60. Fold the
        // oldest into the next: their requests then count for longer, never shorter, so the
        // bound on storage can only refuse requests, not admit extra ones.
        let excess = buckets.len().saturating_sub(MAX_MINUTE_BUCKETS);
        if excess > 0 {
            let folded = buckets
                .drain(..excess)
                .fold(0u32, |sum, (_, count)| sum.saturating_add(count));
            if let Some(oldest_kept) = buckets.first_mut() {
                oldest_kept.1 = oldest_kept.1.saturating_add(folded);
            }
        }
        buckets
    }
}

/// The day counter as it applies at one moment.
struct DayWindow {
    /// The day whose end resets the counter: today, or a later day if storage says so.
    day: u64,
    used: u64,
}

impl DayWindow {
    fn read(state: &LimiterState, now_ms: u64) -> DayWindow {
        let today = now_ms / MS_PER_DAY;
        if state.day >= today && state.day_count > 0 {
            // A stored day after today means the clock moved back over midnight; its count
            // keeps applying until that day is over.
            DayWindow {
                day: state.day,
                used: u64::from(state.day_count),
            }
        } else {
            DayWindow {
                day: today,
                used: 0,
            }
        }
    }

    /// Whole seconds from `now_ms` until the end of the counted day, rounded up.
    fn secs_until_reset(&self, now_ms: u64) -> u64 {
        let reset_ms = self.day.saturating_add(1).saturating_mul(MS_PER_DAY);
        reset_ms.saturating_sub(now_ms).div_ceil(MS_PER_SECOND)
    }

    fn status(&self, limit: u32, now_ms: u64) -> WindowStatus {
        WindowStatus {
            limit,
            remaining: remaining_of(limit, self.used),
            reset_secs: if self.used == 0 {
                0
            } else {
                self.secs_until_reset(now_ms)
            },
        }
    }

    fn wait_for_room(&self, limit: u32, now_ms: u64) -> Option<u64> {
        // Only saturation at the very end of time could make the wait 0; a refusal must
        // still say "later".
        (self.used >= u64::from(limit)).then(|| self.secs_until_reset(now_ms).max(1))
    }

    /// `(day, day_count)` to store after admitting one request.
    fn counting_one_more(&self, now_ms: u64) -> (u64, u32) {
        let count = u32::try_from(self.used.saturating_add(1)).unwrap_or(u32::MAX);
        // `read` already chose today, or the later stored day; `max` only guards the
        // invariant if that ever changes.
        (self.day.max(now_ms / MS_PER_DAY), count)
    }
}

// ---------------------------------------------------------------------------------------
// Response headers.
// ---------------------------------------------------------------------------------------

/// Rate-limit response headers for a quota, as name/value pairs.
///
/// Follows draft-ietf-httpapi-ratelimit-headers-10 (September 2025, the newest draft in
/// github.com/ietf-wg-httpapi/ratelimit-headers): `RateLimit-Policy` is a structured-field
/// list of policies with `q` (quota) and `w` (window, seconds); `RateLimit` is a list of
/// service limits with `r` (remaining) and `t` (seconds until quota comes back). Both
/// windows are listed, named `"minute"` and `"day"`. `t` is left out while nothing is
/// counted, since then no quota is waiting to come back.
///
/// For clients that predate the draft it also sends `X-RateLimit-Limit`,
/// `X-RateLimit-Remaining` and `X-RateLimit-Reset` for the most restrictive window: the one
/// with the fewest remaining, and on a tie the one that resets later. `X-RateLimit-Reset`
/// is in delta seconds, like `t` and `Retry-After`, not a Unix timestamp: it needs no clock
/// agreement with the client.
///
/// ```
/// use keygate::limits::{rate_limit_headers, Quota, WindowStatus};
///
/// let quota = Quota {
///     minute: WindowStatus { limit: 120, remaining: 119, reset_secs: 60 },
///     day: WindowStatus { limit: 50_000, remaining: 49_999, reset_secs: 36_000 },
/// };
/// let headers = rate_limit_headers(&quota);
/// assert!(headers.contains(&("RateLimit", r#""minute";r=119;t=60, "day";r=49999;t=36000"#.to_string())));
/// ```
pub fn rate_limit_headers(quota: &Quota) -> Vec<(&'static str, String)> {
    let windows = [
        (Window::Minute, MINUTE_WINDOW_SECS, quota.minute),
        (Window::Day, DAY_WINDOW_SECS, quota.day),
    ];
    let policy = windows
        .iter()
        .map(|(window, width_secs, status)| {
            format!(
                "\"{}\";q={};w={}",
                window.policy_name(),
                status.limit,
                width_secs
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let service_limits = windows
        .iter()
        .map(|(window, _, status)| {
            let name = window.policy_name();
            match status.reset_secs {
                0 => format!("\"{name}\";r={}", status.remaining),
                reset => format!("\"{name}\";r={};t={reset}", status.remaining),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let tightest = most_restrictive(quota);
    vec![
        ("RateLimit-Policy", policy),
        ("RateLimit", service_limits),
        ("X-RateLimit-Limit", tightest.limit.to_string()),
        ("X-RateLimit-Remaining", tightest.remaining.to_string()),
        ("X-RateLimit-Reset", tightest.reset_secs.to_string()),
    ]
}

/// [`rate_limit_headers`] for a 429, made consistent with its `Retry-After`.
///
/// The draft asks that `Retry-After` not point earlier than the `t` next to it. For the
/// sliding minute, "fully restored" is usually later than "this request would pass", so in
/// a refusal every exhausted window reports the earlier of the two; `t` and
/// `X-RateLimit-Reset` then agree with `Retry-After`. `Retry-After` itself (equal to
/// `retry_after_secs`) is not included: the error-to-response mapping owns it.
pub fn throttled_rate_limit_headers(throttled: &Throttled) -> Vec<(&'static str, String)> {
    let wait = throttled.retry_after_secs;
    let until_retry = |status: WindowStatus| WindowStatus {
        reset_secs: if status.remaining == 0 {
            status.reset_secs.min(wait)
        } else {
            status.reset_secs
        },
        ..status
    };
    rate_limit_headers(&Quota {
        minute: until_retry(throttled.quota.minute),
        day: until_retry(throttled.quota.day),
    })
}

/// The window a client should watch: fewest remaining; on a tie, the later reset; on a
/// full tie, the day (its quota is the one that takes long to come back).
fn most_restrictive(quota: &Quota) -> WindowStatus {
    let (minute, day) = (quota.minute, quota.day);
    if (minute.remaining, std::cmp::Reverse(minute.reset_secs))
        < (day.remaining, std::cmp::Reverse(day.reset_secs))
    {
        minute
    } else {
        day
    }
}

#[cfg(test)]
mod tests {
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
        assert!(state.minute.len() <= MAX_MINUTE_BUCKETS);
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
}
