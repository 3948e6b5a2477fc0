//! Signed identity headers: what keygate tells the origin about a request (V3: the request
//! line, the body's framing and digest, and who is calling, under HMAC-SHA256).
//!
//! The one implementation is the `keygate-verify` crate (`packages/verify-rs`), which
//! origins use to verify: keygate signs with the same code. This module is its face in the
//! gateway, plus what only the gateway needs.

pub use keygate_verify::identity::*;

/// Every header in this prefix is keygate's: stripped from clients and from origin
/// responses, set only by keygate.
pub const RESERVED_PREFIX: &str = "x-keygate-";
