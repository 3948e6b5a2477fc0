//! Lease mode in the simulation (`keygate::lease::simulation`), small: whatever the number
//! of isolates, the network delays, the lease time and the clients, no 60 s window and no
//! UTC day ever admits more than its limit, counted from the moments requests were admitted;
//! and a revoke stops every admission within the lease time. The large runs and their
//! table are `cargo bench --bench lease_simulation`.

use keygate::lease::simulation::{
    most_in_any_day, most_in_any_minute, run, Bursts, Report, Scenario,
};
use keygate::lease::{LeaseTime, Tuning, MAX_LEASE_MS, MIN_LEASE_MS};
use keygate::limits::Limits;
use proptest::prelude::*;

const MS_PER_DAY: u64 = 86_400_000;
/// 2023-11-15T00:00:00Z.
const MIDNIGHT_MS: u64 = 19_676 * MS_PER_DAY;

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

fn scenario(seed: u64) -> Scenario {
    Scenario {
        seed,
        isolates: 10,
        max_delay_ms: 100,
        lease_time: LeaseTime::DEFAULT,
        tuning: Tuning::DEFAULT,
        limits: limits(600, 100_000),
        start_ms: MIDNIGHT_MS + 3_600_000,
        duration_ms: 120_000,
        steady_per_second: 8,
        bursts: None,
        revoke: false,
    }
}

/// The promises of lease mode, for one run.
fn check(scenario: &Scenario, report: &Report) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        report.over_admission(&scenario.limits),
        0,
        "over the limit: {:?} for {:?}",
        report,
        scenario
    );
    prop_assert!(report.admitted <= report.requests);
    if scenario.revoke {
        let lease_ms = scenario.lease_time.ms();
        // The bound is the lease time plus a round trip; timing a lease from the
        // ask's send time makes it the lease time alone.
        prop_assert!(
            report.revocation_delay_ms < lease_ms,
            "revocation took {} ms: {:?}",
            report.revocation_delay_ms,
            report
        );
        prop_assert!(report.revocation_delay_ms <= lease_ms + report.max_round_trip_ms);
    }
    Ok(())
}

fn scenarios() -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        prop_oneof![1u32..=4, 5u32..=50, Just(1_000u32)],
        0u64..=200,
        prop_oneof![MIN_LEASE_MS..=2_000, Just(MAX_LEASE_MS)],
        (1u64..=300, 1u64..=5),
        // Offered load: from a tenth of the minute limit to four times it.
        10u32..=400,
        prop::option::of((1u32..=60, 200u64..=5_000)),
        any::<bool>(),
        // Start anywhere in the 5 minutes before a UTC midnight, so runs cross it.
        0u64..=300_000,
    )
        .prop_map(
            |(
                seed,
                isolates,
                max_delay_ms,
                lease_ms,
                (per_minute, day_minutes),
                load_percent,
                bursts,
                revoke,
                before_midnight,
            )| {
                let per_second = (per_minute * u64::from(load_percent)).div_ceil(6_000);
                Scenario {
                    seed,
                    isolates,
                    max_delay_ms,
                    lease_time: lease_time(lease_ms),
                    tuning: Tuning::DEFAULT,
                    // A day limit of a few minutes' worth, so the day runs out too.
                    limits: limits(per_minute, per_minute * day_minutes),
                    start_ms: MIDNIGHT_MS - before_midnight,
                    duration_ms: 150_000,
                    steady_per_second: u32::try_from(per_second).unwrap_or(u32::MAX),
                    bursts: bursts.map(|(size, mean_gap_ms)| Bursts { size, mean_gap_ms }),
                    revoke,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn no_window_is_ever_over_its_limit_and_a_revoke_lands_within_the_lease_time(
        scenario in scenarios(),
    ) {
        let report = run(&scenario);
        check(&scenario, &report)?;
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let mut busy = scenario(42);
    busy.bursts = Some(Bursts {
        size: 20,
        mean_gap_ms: 1_000,
    });
    busy.revoke = true;
    assert_eq!(run(&busy), run(&busy));
    let other = Scenario {
        seed: 43,
        ..busy.clone()
    };
    assert_ne!(run(&busy), run(&other));
}

#[test]
fn under_the_limit_every_request_is_admitted() {
    for seed in 0..8 {
        // Half the limit, steadily, over 2 isolates.
        let scenario = Scenario {
            isolates: 2,
            steady_per_second: 5,
            ..scenario(seed)
        };
        let report = run(&scenario);
        assert_eq!(report.admitted, report.requests, "{report:?}");
        assert_eq!(report.exact_admitted, report.requests, "{report:?}");
        assert!(report.object_calls < report.requests, "{report:?}");
    }
}

#[test]
fn a_burst_in_one_isolate_gets_exactly_the_limit() {
    // The end-to-end test's case: 50 requests at once against a limit of 20 a minute.
    for max_delay_ms in [0, 5, 200] {
        let scenario = Scenario {
            isolates: 1,
            max_delay_ms,
            limits: limits(20, 1_000),
            duration_ms: 30_000,
            steady_per_second: 0,
            bursts: Some(Bursts {
                size: 50,
                mean_gap_ms: 1_000_000,
            }),
            ..scenario(7)
        };
        let report = run(&scenario);
        assert_eq!(report.requests, 50, "{report:?}");
        assert_eq!(report.admitted, 20, "{report:?}");
        assert_eq!(report.exact_admitted, 20, "{report:?}");
    }
}

#[test]
fn twice_the_limit_over_a_thousand_isolates_never_goes_over() {
    let scenario = Scenario {
        isolates: 1_000,
        max_delay_ms: 200,
        limits: limits(600, 100_000),
        steady_per_second: 20,
        bursts: Some(Bursts {
            size: 10,
            mean_gap_ms: 500,
        }),
        revoke: true,
        ..scenario(11)
    };
    let report = run(&scenario);
    assert_eq!(report.over_admission(&scenario.limits), 0, "{report:?}");
    assert_eq!(
        report.max_in_minute, 600,
        "the limit is reached: {report:?}"
    );
    assert!(report.revocation_delay_ms < 1_000, "{report:?}");
}

#[test]
fn the_day_limit_holds_across_a_utc_midnight() {
    let scenario = Scenario {
        isolates: 20,
        limits: limits(100, 150),
        start_ms: MIDNIGHT_MS - 90_000,
        duration_ms: 180_000,
        steady_per_second: 10,
        ..scenario(5)
    };
    let report = run(&scenario);
    assert_eq!(report.over_admission(&scenario.limits), 0, "{report:?}");
    // Both days fill up: 150 before midnight, 150 after.
    assert_eq!(report.max_in_day, 150, "{report:?}");
    assert_eq!(report.admitted, 300, "{report:?}");
}

#[test]
fn the_window_counts_follow_the_limiters_seconds() {
    // Seconds (s - 60, s]: 0.999 s and 60.000 s are in different windows, 59.999 s is not.
    assert_eq!(most_in_any_minute(&[999, 60_000]), 1);
    assert_eq!(most_in_any_minute(&[999, 59_999]), 2);
    assert_eq!(most_in_any_minute(&[0, 1, 2, 61_000, 61_001]), 3);
    assert_eq!(most_in_any_minute(&[]), 0);
    let day = 86_400_000;
    assert_eq!(most_in_any_day(&[day - 1, day, day + 1]), 2);
    assert_eq!(most_in_any_day(&[]), 0);
}
