//! Bundles the compiled policy into the Worker. `scripts/build.sh` compiles the policy file
//! `KEYGATE_POLICY_FILE` names (`keygate policy compile`, which checks it first, so a bad
//! policy stops the build and `wrangler deploy`) to `target/keygate-policy.json` and names
//! that file in `KEYGATE_COMPILED_POLICY`; the wasm32 build copies it to
//! `$OUT_DIR/policy.json`, which `src/edge/platform.rs` includes. A wasm32 build without
//! that variable (`cargo clippy --target wasm32-unknown-unknown`) bundles nothing, and the
//! Worker it makes answers 503 until a `KEYGATE_POLICY` variable is set.
//!
//! Native builds (tests, the CLI) bundle nothing: they read policies at run time.

use std::env;
use std::fs;
use std::path::PathBuf;

/// How every compiled policy starts (src/policy/compiled.rs).
const COMPILED_PREFIX: &str = "{\"keygate_policy\":";

fn main() -> Result<(), String> {
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        // Without a rerun-if line cargo would rerun this on any change in the package.
        println!("cargo:rerun-if-changed=build.rs");
        return Ok(());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=KEYGATE_COMPILED_POLICY");
    let compiled = match env::var_os("KEYGATE_COMPILED_POLICY").filter(|path| !path.is_empty()) {
        None => String::new(),
        Some(path) => {
            let source = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", source.display());
            let text = fs::read_to_string(&source).map_err(|error| {
                format!(
                    "KEYGATE_COMPILED_POLICY: cannot read {}: {error}",
                    source.display()
                )
            })?;
            if !text.starts_with(COMPILED_PREFIX) {
                return Err(format!(
                    "KEYGATE_COMPILED_POLICY: {} is not what `keygate policy compile` prints",
                    source.display()
                ));
            }
            text
        }
    };
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    fs::write(out_dir.join("policy.json"), compiled.trim_end()).map_err(|error| {
        format!(
            "cannot write the bundled policy to {}: {error}",
            out_dir.display()
        )
    })
}
