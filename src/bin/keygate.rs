//! The keygate command-line tool: `keygate policy check <file>` validates a policy file with
//! exactly the rules the Worker applies (and finds routes that would not work as written),
//! `keygate policy diff <old> <new>` says what a new policy does to existing keys,
//! `keygate keys …`, `keygate approvals …` and `keygate policy show` operate a gateway
//! through its admin API, `keygate deploy secrets` keeps a deployment's secrets and
//! `keygate doctor` smoke-tests it. The logic lives in
//! `keygate::cli`; run `keygate --help`.

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Result<Vec<String>, OsString> = std::env::args_os()
        .skip(1)
        .map(OsString::into_string)
        .collect();
    let Ok(args) = args else {
        eprintln!("keygate: every argument must be valid UTF-8");
        return ExitCode::from(keygate::cli::Exit::Usage.code());
    };
    let env = |name: &str| std::env::var(name).ok();
    let exit = keygate::cli::run(
        &args,
        &env,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(exit.code())
}
