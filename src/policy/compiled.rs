//! The compiled policy: a policy file's tables as JSON, made at deploy time by
//! `keygate policy compile FILE` and the only form the Worker reads, so the Worker carries
//! no TOML parser (nor the checker's analyses).
//!
//! ```
//! use keygate::policy::{compile, Policy};
//!
//! let compiled = compile("key_prefix = \"acme\"\n[limits]\nper_minute = 60\n").unwrap();
//! assert_eq!(
//!     compiled,
//!     r#"{"keygate_policy":1,"policy":{"key_prefix":"acme","limits":{"per_minute":60},"origin_reads_body_overrides":true}}"#
//! );
//! assert_eq!(Policy::from_compiled(&compiled).unwrap().key_prefix(), "acme");
//! ```
//!
//! The form is `{"keygate_policy":<format>,"policy":{…}}`, `policy` holding the file's
//! tables as written (what the file leaves out is left out). Reading it validates the whole
//! policy again with the rules a policy file meets ([`super::load`]): the compiled text is
//! an operator's input like the file (a `KEYGATE_POLICY` variable holds one), never trusted
//! to be what `compile` printed.

use super::errors::PolicyError;
use super::file::PolicyFile;
use super::load::build_policy;
use super::Policy;
use serde::Deserialize;

/// The version of the compiled form this build writes and reads. A change to the
/// policy's shape that an older Worker would misread takes a new number.
const COMPILED_FORMAT: u64 = 1;

/// What to do with a policy file, for every refusal of a text that is not a compiled policy.
const HOW_TO_COMPILE: &str = "the Worker reads a policy as `keygate policy compile FILE` \
    prints it (scripts/build.sh compiles KEYGATE_POLICY_FILE into the build)";

/// The format number alone, read first so that another format is named as such rather
/// than as a shape error.
#[derive(Deserialize)]
struct Format {
    keygate_policy: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Compiled {
    #[serde(rename = "keygate_policy")]
    _format: u64,
    policy: PolicyFile,
}

impl Policy {
    /// Reads and validates a compiled policy. A policy file's text (TOML) is refused with
    /// a message naming `keygate policy compile`.
    pub fn from_compiled(text: &str) -> Result<Policy, PolicyError> {
        // A policy file opens with a comment, a key or a `[table]`, never with `{`.
        if !text.trim_start().starts_with('{') {
            return Err(PolicyError::Syntax(format!(
                "not a compiled policy: this looks like a policy file (TOML), and {HOW_TO_COMPILE}"
            )));
        }
        let format: Format = serde_json::from_str(text).map_err(|error| {
            PolicyError::Syntax(format!("not a compiled policy ({error}); {HOW_TO_COMPILE}"))
        })?;
        if format.keygate_policy != COMPILED_FORMAT {
            return Err(PolicyError::Syntax(format!(
                "a compiled policy of format {}, and this Worker reads format {COMPILED_FORMAT}: \
                 compile the file with the keygate CLI of the release deployed",
                format.keygate_policy
            )));
        }
        let compiled: Compiled = serde_json::from_str(text)
            .map_err(|error| PolicyError::Syntax(format!("compiled policy: {error}")))?;
        build_policy(compiled.policy)
    }
}

/// Compiles a policy file's text: refused exactly when [`Policy::from_toml`] refuses it
/// (with the same error), otherwise the compiled form, one line of JSON.
#[cfg(not(target_arch = "wasm32"))]
pub fn compile(text: &str) -> Result<String, PolicyError> {
    let file = super::load::read_toml(text)?;
    // Written out before validation takes the file; a policy that does not load is refused
    // with its own problems first.
    let written = serde_json::to_value(&file);
    build_policy(file)?;
    let mut written = written.map_err(|error| PolicyError::Syntax(error.to_string()))?;
    drop_nulls(&mut written);
    let compiled = serde_json::json!({ "keygate_policy": COMPILED_FORMAT, "policy": written });
    Ok(compiled.to_string())
}

/// Leaves out every field the file left out (`None` is written as `null`; a missing field
/// reads back as `None`).
#[cfg(not(target_arch = "wasm32"))]
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            fields.retain(|_, field| !field.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
