//! The keygate command-line tool.
//!
//! `keygate policy check <file>` validates a policy file with exactly the rules the Worker
//! applies, and prints every problem with its location.

use keygate::policy::Policy;
use std::process::ExitCode;

const USAGE: &str = "usage: keygate policy check <policy.toml>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["policy", "check", path] => check_policy(path),
        ["--help"] | ["-h"] | ["help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn check_policy(path: &str) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("keygate: cannot read {path}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match Policy::from_toml(&text) {
        Ok(policy) => {
            let description = policy.describe();
            let count = |field: &str| description[field].as_array().map_or(0, Vec::len);
            println!(
                "{path}: ok ({} resources, {} routes, {} scopes)",
                count("resources"),
                count("routes"),
                count("scopes")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{path}: invalid policy");
            for line in error.to_string().lines() {
                eprintln!("  {line}");
            }
            ExitCode::FAILURE
        }
    }
}
