//! A key's usage: requests per UTC hour over the last 30 days, for the "last 24 hours /
//! 7 days / 30 days" figures of the admin API.
//!
//! The hour being counted lives with the hot counters (written on every request); finished
//! hours move to a separate history, written at most once an hour. The figures are exact
//! to the hour: "last 24 hours" is the current hour plus the 23 before it.
//!
//! ```
//! use keygate::usage::{HourCount, UsageHistory, record, totals};
//! const HOUR: u64 = 3_600_000;
//! let (mut current, mut history) = (None::<HourCount>, UsageHistory::default());
//! record(&mut current, &mut history, 10 * HOUR);
//! record(&mut current, &mut history, 11 * HOUR);
//! let figures = totals(current, &history, 11 * HOUR);
//! assert_eq!((figures.last_24h, figures.last_30d), (2, 2));
//! assert_eq!(totals(current, &history, 35 * HOUR).last_24h, 0);
//! ```

use serde::{Deserialize, Serialize};

pub const HOUR_MS: u64 = 3_600_000;
/// How far back usage is kept: the longest figure shown.
const KEPT_HOURS: u64 = 30 * 24;

/// Requests counted in one UTC hour (`hour` is Unix milliseconds / [`HOUR_MS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    pub hour: u64,
    pub count: u64,
}

/// Finished hours with requests, oldest first, none older than 30 days.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsageHistory(Vec<HourCount>);

/// What the admin API shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub last_24h: u64,
    pub last_7d: u64,
    pub last_30d: u64,
}

/// Counts one request at `now_ms`. Returns whether `history` changed (the hour rolled
/// over), so the caller writes it only then.
pub fn record(current: &mut Option<HourCount>, history: &mut UsageHistory, now_ms: u64) -> bool {
    record_many(current, history, now_ms, 1)
}

/// [`record`] for `count` requests at once (a lease's, in lease mode).
pub fn record_many(
    current: &mut Option<HourCount>,
    history: &mut UsageHistory,
    now_ms: u64,
    count: u64,
) -> bool {
    let hour = now_ms / HOUR_MS;
    match current {
        // A clock that steps back (a restart on another machine) counts into the open hour.
        Some(open) if open.hour >= hour => {
            open.count = open.count.saturating_add(count);
            false
        }
        _ => {
            let before = history.0.len();
            let finished = current.replace(HourCount { hour, count });
            let moved = finished.is_some();
            history.0.extend(finished);
            let oldest_kept = hour.saturating_sub(KEPT_HOURS - 1);
            history.0.retain(|h| h.hour >= oldest_kept);
            moved || history.0.len() != before
        }
    }
}

/// Takes back up to `count` requests recorded at `at_ms` that were never made (a lease's
/// unused ones), if their hour is still the one being counted; a finished hour keeps them.
pub fn unrecord(current: &mut Option<HourCount>, at_ms: u64, count: u64) {
    if let Some(open) = current.as_mut().filter(|open| open.hour == at_ms / HOUR_MS) {
        open.count = open.count.saturating_sub(count);
    }
}

/// The requests of the last 24 hours, 7 days and 30 days as of `now_ms`.
pub fn totals(current: Option<HourCount>, history: &UsageHistory, now_ms: u64) -> UsageTotals {
    let hour = now_ms / HOUR_MS;
    let within = |hours: u64| {
        let oldest = hour.saturating_sub(hours - 1);
        history
            .0
            .iter()
            .chain(current.iter())
            .filter(|h| h.hour >= oldest)
            .map(|h| h.count)
            .fold(0u64, u64::saturating_add)
    };
    UsageTotals {
        last_24h: within(24),
        last_7d: within(7 * 24),
        last_30d: within(KEPT_HOURS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: u64 = HOUR_MS;
    const START: u64 = 500_000 * H;

    fn counted(times: &[u64]) -> (Option<HourCount>, UsageHistory) {
        let (mut current, mut history) = (None, UsageHistory::default());
        for &t in times {
            record(&mut current, &mut history, t);
        }
        (current, history)
    }

    #[test]
    fn requests_in_one_hour_stay_in_the_open_hour() {
        let (current, history) = counted(&[START, START + 1, START + H - 1]);
        assert_eq!(
            current,
            Some(HourCount {
                hour: START / H,
                count: 3
            })
        );
        assert_eq!(history, UsageHistory::default());
    }

    #[test]
    fn history_changes_only_when_the_hour_rolls_over() {
        let (mut current, mut history) = (None, UsageHistory::default());
        // Opening the first hour finishes none: nothing to write yet.
        assert!(!record(&mut current, &mut history, START));
        assert!(!record(&mut current, &mut history, START + 10));
        assert!(record(&mut current, &mut history, START + H));
        assert_eq!(
            history.0,
            vec![HourCount {
                hour: START / H,
                count: 2
            }]
        );
    }

    #[test]
    fn each_window_includes_the_open_hour_and_the_ones_before_it() {
        // One request 23 hours ago, one 24 hours ago, one 29 days 23 hours ago, one 30 days ago.
        let now = START + 40 * 24 * H;
        let times = [
            now - 30 * 24 * H,
            now - (30 * 24 - 1) * H,
            now - 7 * 24 * H,
            now - 24 * H,
            now - 23 * H,
            now,
        ];
        let (current, history) = counted(&times);
        assert_eq!(
            totals(current, &history, now),
            UsageTotals {
                last_24h: 2,
                last_7d: 3,
                last_30d: 5
            }
        );
    }

    #[test]
    fn hours_older_than_thirty_days_are_dropped() {
        let (current, history) = counted(&[START, START + 31 * 24 * H]);
        assert!(history.0.is_empty(), "{history:?}");
        assert_eq!(current.map(|c| c.count), Some(1));
    }

    #[test]
    fn a_clock_stepping_back_counts_into_the_open_hour() {
        let (current, history) = counted(&[START + 5 * H, START]);
        assert_eq!(current.map(|c| (c.hour, c.count)), Some((START / H + 5, 2)));
        assert!(history.0.is_empty());
    }

    #[test]
    fn history_round_trips_as_a_plain_list() {
        let (_, history) = counted(&[START, START + H, START + 2 * H]);
        let json = serde_json::to_string(&history).expect("serializes");
        assert!(json.starts_with('['), "{json}");
        assert_eq!(
            serde_json::from_str::<UsageHistory>(&json).ok(),
            Some(history)
        );
    }

    #[test]
    fn nothing_counted_is_zero_everywhere() {
        assert_eq!(
            totals(None, &UsageHistory::default(), START),
            UsageTotals::default()
        );
        assert_eq!(
            totals(None, &UsageHistory::default(), 0),
            UsageTotals::default()
        );
    }

    #[test]
    fn counts_saturate_instead_of_overflowing() {
        let mut current = Some(HourCount {
            hour: START / H,
            count: u64::MAX,
        });
        let mut history = UsageHistory(vec![HourCount {
            hour: START / H - 1,
            count: u64::MAX,
        }]);
        assert!(!record(&mut current, &mut history, START));
        assert_eq!(current.map(|c| c.count), Some(u64::MAX));
        assert_eq!(totals(current, &history, START).last_24h, u64::MAX);
    }

    #[test]
    fn an_hour_counted_ahead_of_the_clock_still_shows() {
        // The open hour is later than now (the clock stepped back): it is not lost.
        let (current, history) = counted(&[START + 2 * H]);
        assert_eq!(totals(current, &history, START).last_24h, 1);
    }

    proptest! {
        /// Against a naive model that keeps every request's time.
        #[test]
        fn totals_match_counting_every_request(
            gaps in prop::collection::vec(0u64..(50 * H), 0..200),
            later in 0u64..(40 * 24 * H),
        ) {
            let mut times = Vec::new();
            let mut t = START;
            for gap in gaps {
                t += gap;
                times.push(t);
            }
            let now = t + later;
            let (current, history) = counted(&times);
            prop_assert!(history.0.len() <= KEPT_HOURS as usize);
            let hour = now / H;
            let model = |hours: u64| times.iter().filter(|&&at| at / H + hours > hour).count() as u64;
            prop_assert_eq!(
                totals(current, &history, now),
                UsageTotals { last_24h: model(24), last_7d: model(7 * 24), last_30d: model(30 * 24) }
            );
        }
    }
}
