//! keygate — an API-key gateway for Cloudflare Workers.
//!
//! The crate is split in two. Everything that is logic lives in the pure modules below:
//! no I/O, `now` passed in, compiled and tested natively with `cargo test`. The Workers
//! glue (`edge`) is compiled only for `wasm32` and does nothing but move data between the
//! platform (KV, Durable Objects, fetch) and these modules.
//!
//! A request's path, in order: [`config`] (transport rules) → [`key::parse`] (bearer key,
//! no storage touched) → KV lookup of the key's hash → [`policy::Policy::route`] (which
//! resource and action the request needs) → the key's Durable Object runs
//! [`authority::KeyState::handle`] (status, scope, limits, all at once) → [`headers`] and [`identity`]
//! (strip, then add signed identity) → origin.

pub mod admin;
pub mod ambiguity;
pub mod approval;
pub mod authority;
pub mod bearer;
pub mod config;
pub mod cors;
pub mod delegation;
pub mod directory;
pub mod headers;
pub mod identity;
pub mod key;
pub mod limits;
pub mod methods;
pub mod page;
pub mod percent;
pub mod policy;
pub mod problem;
pub mod queue;
pub mod record;
pub mod timestamp;
pub mod usage;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod edge;

// The operator CLI's logic (`src/bin/keygate.rs` is its `main`). Native only: it does
// network I/O with a blocking HTTP client the Worker must never link.
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
