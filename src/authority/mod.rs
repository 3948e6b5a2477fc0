//! The per-key authority: what the key's Durable Object knows and decides, as pure code.
//!
//! Each key has one Durable Object. It is single-threaded and strongly consistent, so it
//! is the authority on the key's status, scopes, secrets and counts; Workers KV is only
//! the index from a secret's hash to the key's id. A request is admitted by one call,
//! [`KeyState::handle`] with [`Command::Admit`], which checks the presented hash, the
//! status and expiry, the scope and both limit windows together — so a revoke or an edit
//! is in force for the very next request, and a limit can never be overshot by concurrent
//! requests. A key in lease mode ([`crate::lease`]) answers the data plane's
//! [`Command::Lease`] with a lease instead: requests counted at once for an isolate to admit
//! on its own, so a revoke or an edit is in force everywhere within the lease time. Every
//! lifecycle change (edit, revoke, activate, rotate, delete) goes through
//! the same object, checked against who asks ([`crate::delegation::Actor`]) in the same step.

mod edit;
mod protocol;
mod refusal;
mod secrets;
mod state;
mod view;

pub use edit::{KeyEdit, LimitsEdit};
pub use protocol::{
    Changed, Command, DirectorySync, LimitHeaders, Queueing, Reply, RetiredSecret, WebhookSigners,
};
pub use refusal::{Declined, Refusal, SubmitterFailure};
pub use secrets::{number_secrets, Secret, MAX_LIVE_SECRETS};
pub use state::{legacy_secret, Counters, KeyState, LAST_USED_SYNC_MS};
pub use view::key_object;

#[cfg(test)]
mod tests;
