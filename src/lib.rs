//! keygate — an API-key gateway for Cloudflare Workers.
//!
//! Everything that decides lives in the pure modules below: no I/O, `now` passed in,
//! compiled and tested natively with `cargo test`. The Workers glue (`edge`, wasm32 only)
//! and the operator CLI (`cli`, native only) move data between the outside and them.
//!
//! The modules stand in floors, each importing only its own floor and those below
//! (`tests/layers.rs` holds them to it, and to having no circle):
//! 1. nouns every layer shares — [`key`], [`limits`] and [`lease`], [`usage`], [`timestamp`],
//!    [`percent`], [`methods`], [`identity`], [`record`], [`page`], [`queue`], [`webhook`], [`workspace`],
//!    [`session`],
//!    and the request's shape: [`ambiguity`], [`headers`], [`cors`], [`portal`] (the
//!    portal page's paths, branding and headers);
//! 2. what the operator configured — [`policy`] and [`config`];
//! 3. decisions — [`delegation`], [`entitlement`], [`authority`], [`approval`], [`directory`];
//! 4. the HTTP face — [`problem`] (every refusal's status, code and body), [`admin`];
//! 5. `edge` and `cli`.
//!
//! A request's path, in order: [`config`] (transport rules) → [`key::parse`] (the bearer
//! key, no storage touched) → [`ambiguity::check_request`] (methods, paths and overrides
//! the origin could read differently, a key where it would travel on) →
//! [`policy::Policy::route`] (which resource and action the request needs) → KV lookup of
//! the key's hash → [`ambiguity::check_body`] → the key's Durable Object runs
//! [`authority::KeyState::handle`] (status, scope, limits, all at once) → an approval level
//! queues the request instead ([`approval`]: 202, and a reviewer sends it on once) →
//! [`headers`] and [`identity`] (strip, then add signed identity) → origin.

pub mod admin;
pub mod ambiguity;
pub mod approval;
pub mod authority;
pub mod config;
pub mod cors;
pub mod delegation;
pub mod directory;
pub mod entitlement;
pub mod headers;
pub mod hostname;
pub mod identity;
pub mod index_cache;
pub mod key;
pub mod lease;
pub mod limits;
pub mod methods;
pub mod page;
pub mod percent;
pub mod policy;
pub mod portal;
pub mod problem;
pub mod queue;
pub mod record;
pub mod request;
pub mod session;
pub mod timestamp;
pub mod usage;
pub mod webhook;
pub mod workspace;

#[cfg(target_arch = "wasm32")]
mod edge;

// The operator CLI's logic (`src/bin/keygate.rs` is its `main`). Native only: it does
// network I/O with a blocking HTTP client the Worker must never link.
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
