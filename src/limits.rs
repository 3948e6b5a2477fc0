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

/// The farthest ahead of now, in whole seconds, that [`count_ahead`] is asked to count: a
/// lease ([`crate::lease`]) of at most 10 s counts its requests in its last second.
pub const MAX_SECONDS_AHEAD: u64 = 10;

/// The most per-second buckets a stored state keeps: the window's 60 whole seconds and the
/// seconds ahead that leases count in, so storage stays bounded whatever the limit. Counting
/// only at now never needs more than 60.
///
/// The bound must hold that many: folding the oldest bucket into the next every second (as
/// 61 buckets would, with a lease's bucket one second ahead) carries its requests along for
/// as long as traffic lasts, and the window fills with requests long gone.
pub const MAX_MINUTE_BUCKETS: usize = MINUTE_WINDOW_SECS as usize + MAX_SECONDS_AHEAD as usize;

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
    count_ahead(state, limits, now_ms, now_sec, NonZeroU32::MIN).map(|counted| counted.quota)
}

/// Requests counted at once by [`count_ahead`], and where they were counted: what is left
/// unused is taken back from exactly there ([`uncount`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    pub count: NonZeroU32,
    /// The minute bucket (a Unix second) they were counted in.
    pub second: u64,
    /// The UTC day they were counted in.
    pub day: u64,
    /// Both windows after counting them.
    pub quota: Quota,
}

/// [`check_and_count`] for up to `want` requests at once, counted in the minute bucket of
/// `second` (now, if that is earlier): as many as both windows have room for, or refused,
/// exactly as one request would be, when there is no room for one.
///
/// A bucket ahead of now counts from now until 60 s after its own second, so requests
/// admitted at any moment up to `second` are counted for at least the 60 s after them, and
/// already before they happen. That is what a lease needs ([`crate::lease`]): the requests it
/// may admit are counted when it is granted.
///
/// ```
/// use keygate::limits::{count_ahead, LimiterState, Limits};
/// use std::num::NonZeroU32;
///
/// let limits = Limits::new(10, 100).unwrap();
/// let mut state = LimiterState::default();
/// let now_ms = 1_700_000_000_250;
/// let want = NonZeroU32::new(25).unwrap();
/// let counted = count_ahead(&mut state, &limits, now_ms, 1_700_000_001, want).unwrap();
/// assert_eq!(counted.count.get(), 10);
/// assert_eq!(counted.quota.minute.remaining, 0);
/// assert_eq!(counted.quota.minute.reset_secs, 61);
/// ```
pub fn count_ahead(
    state: &mut LimiterState,
    limits: &Limits,
    now_ms: u64,
    second: u64,
    want: NonZeroU32,
) -> Result<Counted, Throttled> {
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

    // Both windows have room for at least one (neither waits), so this is at least 1.
    let room = remaining_of(limits.per_minute.get(), minute.used)
        .min(remaining_of(limits.per_day.get(), day.used));
    let count = NonZeroU32::new(want.get().min(room)).unwrap_or(NonZeroU32::MIN);
    let second = second.max(now_sec);
    // Commit both, from the normalised views, so whatever odd shape storage had is
    // replaced by a sorted, merged, bounded one.
    state.minute = minute.counting(count.get(), second);
    let (day_index, day_count) = day.counting(count.get(), now_ms);
    state.day = day_index;
    state.day_count = day_count;
    Ok(Counted {
        count,
        second,
        day: day_index,
        quota: peek(state, limits, now_ms),
    })
}

/// Takes back up to `count` requests that [`count_ahead`] counted in the minute bucket
/// `second` and the UTC day `day` and that were never admitted.
///
/// Bounded so that it can only ever give back what is there: a bucket never goes below
/// zero, nothing is taken from another bucket, and the day gives back only what the bucket
/// did (so nothing once the bucket has left the window, and nothing on another day). A
/// bucket that the storage bound folded into a later one ([`MAX_MINUTE_BUCKETS`]) is gone,
/// and its requests count longer; taking from another request's bucket of the same second
/// is still safe, as the folded ones then count, in a later bucket, in its place.
pub fn uncount(state: &mut LimiterState, now_ms: u64, second: u64, day: u64, count: u32) {
    let now_sec = now_ms / MS_PER_SECOND;
    let mut minute = MinuteWindow::read(state, now_sec);
    let mut taken = 0;
    if let Ok(found) = minute
        .buckets
        .binary_search_by_key(&second, |&(bucket_second, _)| bucket_second)
    {
        if let Some(bucket) = minute.buckets.get_mut(found) {
            taken = bucket.1.min(u64::from(count));
            bucket.1 -= taken;
        }
    }
    minute.buckets.retain(|&(_, count)| count > 0);
    state.minute = bounded(stored(&minute.buckets));
    let today = now_ms / MS_PER_DAY;
    if state.day == day && day >= today {
        let taken = u32::try_from(taken).unwrap_or(u32::MAX);
        state.day_count = state.day_count.saturating_sub(taken);
    }
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

    /// The buckets to store after admitting `count` more requests in `second`.
    fn counting(&self, count: u32, second: u64) -> Vec<(u64, u32)> {
        let mut buckets = stored(&self.buckets);
        match buckets.binary_search_by_key(&second, |&(bucket_second, _)| bucket_second) {
            Ok(found) => {
                if let Some(bucket) = buckets.get_mut(found) {
                    bucket.1 = bucket.1.saturating_add(count);
                }
            }
            Err(position) => buckets.insert(position, (second, count)),
        }
        bounded(buckets)
    }
}

/// Normalised buckets in their stored form.
fn stored(buckets: &[(u64, u64)]) -> Vec<(u64, u32)> {
    buckets
        .iter()
        .map(|&(second, count)| (second, u32::try_from(count).unwrap_or(u32::MAX)))
        .collect()
}

/// Sorted buckets cut to [`MAX_MINUTE_BUCKETS`]. Only buckets further ahead of now than
/// [`MAX_SECONDS_AHEAD`] (a clock that moved back) can push them past it. The oldest are
/// folded into the next: their requests then count for longer, never shorter, so the bound
/// on storage can only refuse requests, not admit extra ones.
fn bounded(mut buckets: Vec<(u64, u32)>) -> Vec<(u64, u32)> {
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

    /// `(day, day_count)` to store after admitting `count` more requests.
    fn counting(&self, count: u32, now_ms: u64) -> (u64, u32) {
        let count = u32::try_from(self.used.saturating_add(u64::from(count))).unwrap_or(u32::MAX);
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
mod tests;
