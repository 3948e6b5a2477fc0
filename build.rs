//! Bundles the policy into the Worker. The wasm32 build copies the file that
//! `KEYGATE_POLICY_FILE` names (relative to this crate's root; default
//! `policies/demo.toml`) to `$OUT_DIR/policy.toml`, which `src/edge/platform.rs` includes.
//! `scripts/build.sh` runs `keygate policy check` on the same file first, so a bad policy
//! stops the build (and `wrangler deploy`) instead of answering requests with 503.
//!
//! Native builds (tests, the CLI) bundle nothing: they read policies at run time.

use std::env;
use std::fs;
use std::path::PathBuf;

const DEFAULT_POLICY_FILE: &str = "policies/demo.toml";

fn main() -> Result<(), String> {
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        // Without a rerun-if line cargo would rerun this on any change in the package.
        println!("cargo:rerun-if-changed=build.rs");
        return Ok(());
    }
    println!("cargo:rerun-if-env-changed=KEYGATE_POLICY_FILE");
    let root =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?);
    let named = env::var("KEYGATE_POLICY_FILE")
        .ok()
        .filter(|path| !path.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POLICY_FILE.to_string());
    // An absolute path stays as it is; a relative one is read from the crate's root.
    let source = root.join(&named);
    println!("cargo:rerun-if-changed={}", source.display());
    let text = fs::read_to_string(&source).map_err(|error| {
        format!(
            "KEYGATE_POLICY_FILE: cannot read {}: {error}",
            source.display()
        )
    })?;
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    fs::write(out_dir.join("policy.toml"), text).map_err(|error| {
        format!(
            "cannot write the bundled policy to {}: {error}",
            out_dir.display()
        )
    })
}
