//! Lease mode's simulation, large: the table in BENCHMARKS.md ("Lease mode simulation"),
//! the comparison of sizings that chose [`Tuning::DEFAULT`], then criterion's timing of one
//! run (the simulator's own speed, for keeping it usable).
//!
//! Run: `cargo bench --bench lease_simulation` (add `-- --test` to skip the timing). The
//! tables are deterministic: the same on any machine. Every run asserts the promises:
//! nothing over the limit, and a revoke effective everywhere within the lease time.

use criterion::Criterion;
use keygate::lease::simulation::{run, Bursts, Report, Scenario};
use keygate::lease::{LeaseTime, Tuning};
use keygate::limits::Limits;
use std::hint::black_box;

/// 2023-11-14T22:13:20Z.
const START_MS: u64 = 1_700_000_000_000;
/// The key's limit: 1000 requests a second, as a minute.
const PER_SECOND: u32 = 1_000;
const SEEDS: [u64; 3] = [1, 2, 3];

fn lease_time(ms: u64) -> LeaseTime {
    LeaseTime::from_ms(ms).expect("a valid lease time")
}

/// `load_percent` of the limit, four fifths steady over random isolates, one fifth in
/// bursts of 20 to one isolate each; a revoke somewhere in the middle half.
fn scenario(
    seed: u64,
    isolates: u32,
    max_delay_ms: u64,
    lease_ms: u64,
    load_percent: u32,
    duration_ms: u64,
    tuning: Tuning,
) -> Scenario {
    let offered = PER_SECOND * load_percent / 100;
    let bursts_per_second = offered / 5 / 20;
    Scenario {
        seed,
        isolates,
        max_delay_ms,
        lease_time: lease_time(lease_ms),
        tuning,
        limits: Limits::new(u64::from(PER_SECOND) * 60, 100_000_000).expect("valid limits"),
        start_ms: START_MS,
        duration_ms,
        steady_per_second: offered * 4 / 5,
        bursts: Some(Bursts {
            size: 20,
            mean_gap_ms: u64::from(1_000 / bursts_per_second.max(1)),
        }),
        revoke: true,
    }
}

fn checked(scenario: &Scenario) -> Report {
    let report = run(scenario);
    assert_eq!(
        report.over_admission(&scenario.limits),
        0,
        "over the limit: {report:?} in {scenario:?}"
    );
    assert!(
        report.revocation_delay_ms < scenario.lease_time.ms(),
        "revoke too slow: {report:?} in {scenario:?}"
    );
    report
}

fn main_table() {
    println!("Lease mode, 10 simulated minutes per row; limit {PER_SECOND}/s (60,000 a minute).");
    println!("| isolates | one-way delay | lease | load | requests | admitted / exact | busiest minute / limit | over | DO calls / request | waited (steady) | revoke delay | bound |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for isolates in [1, 10, 100, 1_000] {
        for max_delay_ms in [20, 200] {
            for lease_ms in [1_000, 10_000] {
                for load_percent in [50, 200] {
                    let scenario = scenario(
                        SEEDS[0],
                        isolates,
                        max_delay_ms,
                        lease_ms,
                        load_percent,
                        600_000,
                        Tuning::DEFAULT,
                    );
                    let report = checked(&scenario);
                    println!(
                        "| {isolates} | 0–{max_delay_ms} ms | {} s | {load_percent} % | {} | {:.4} | {:.3} | {} | {:.4} | {:.1} % ({:.1} %) | {} ms | {} ms |",
                        lease_ms / 1_000,
                        report.requests,
                        report.share_of_exact(),
                        report.max_in_minute as f64 / f64::from(PER_SECOND * 60),
                        report.over_admission(&scenario.limits),
                        report.calls_per_request(),
                        report.waited_share() * 100.0,
                        report.steady_waited_share() * 100.0,
                        report.revocation_delay_ms,
                        lease_ms + report.max_round_trip_ms,
                    );
                }
            }
        }
    }
}

fn tuning_table() {
    println!();
    println!("Sizings compared: 0–200 ms one way, 1 s leases, load at the limit, 3 minutes, mean of 3 seeds.");
    println!("| isolates | share divisor | headroom | renew ahead | admitted / exact | waited (steady) | DO calls / request | |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    let default = Tuning::DEFAULT;
    let tunings = [
        default,
        Tuning {
            share_divisor: 1,
            ..default
        },
        Tuning {
            share_divisor: 8,
            ..default
        },
        Tuning {
            headroom_percent: 100,
            ..default
        },
        Tuning {
            headroom_percent: 400,
            ..default
        },
        Tuning {
            renew_ahead_percent: 100,
            ..default
        },
        Tuning {
            renew_ahead_percent: 400,
            ..default
        },
    ];
    for isolates in [10, 100, 1_000] {
        for tuning in tunings {
            let reports: Vec<Report> = SEEDS
                .iter()
                .map(|&seed| checked(&scenario(seed, isolates, 200, 1_000, 100, 180_000, tuning)))
                .collect();
            let mean =
                |f: fn(&Report) -> f64| reports.iter().map(f).sum::<f64>() / reports.len() as f64;
            println!(
                "| {isolates} | {} | {} % | {} % | {:.4} | {:.1} % ({:.1} %) | {:.4} | {} |",
                tuning.share_divisor,
                tuning.headroom_percent,
                tuning.renew_ahead_percent,
                mean(Report::share_of_exact),
                mean(Report::waited_share) * 100.0,
                mean(Report::steady_waited_share) * 100.0,
                mean(Report::calls_per_request),
                if tuning == default { "**default**" } else { "" },
            );
        }
    }
}

fn main() {
    main_table();
    tuning_table();
    let mut criterion = Criterion::default().configure_from_args();
    let one_minute = scenario(SEEDS[0], 100, 200, 1_000, 100, 60_000, Tuning::DEFAULT);
    criterion.bench_function("lease simulation: 100 isolates, 1 simulated minute", |b| {
        b.iter(|| run(black_box(&one_minute)))
    });
    criterion.final_summary();
}
