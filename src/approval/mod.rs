//! The approval queue: requests a key may make only with a human's approval.
//!
//! A key whose grant on a resource is exactly an `<action>-approval` level does not reach
//! the origin: keygate stores the request (an [`Approval`]) and answers 202. A reviewer —
//! the root token, or a key holding `approvals:write` in the same workspace ([`Reviewer`])
//! — then approves it, and keygate sends it to the origin once, or rejects it with a
//! reason, and keygate tells the submitting key's rejection webhook
//! ([`crate::webhook`]).
//!
//! Every change of an approval is one call of [`Approval::decide`] on the queue's Durable
//! Object, which runs one command at a time: of two racing approvals exactly one finds it
//! pending, so the origin is called once. A pending approval past its `expires_at` is
//! expired; nothing needs to run for that.

pub mod base64_bytes;
mod delivery;
mod lifecycle;
mod protocol;
mod review;
mod view;

pub use delivery::{outcome_of_status, Delivery, DeliveryError, DeliveryState, ATTEMPT_TIMEOUT_MS};
pub use lifecycle::{
    Approval, ApprovalId, ApprovalState, ApprovalStatus, Decider, Decision, OriginResult,
    QueueDeclined, QueuedRequest, Submission, Verdict, APPROVAL_ID_RANDOM_BYTES,
};
pub use protocol::{QueueCommand, QueueReply};
pub use review::{Reach, Reviewer};
pub use view::{
    approval_object, queued_answer, rejection_payload, BodyView, DeciderView, DeliveryView,
    QueuedAnswer,
};

/// The policy resource whose grants let a key review the queue: read lists and shows,
/// write approves and rejects.
pub const APPROVALS_RESOURCE: &str = "approvals";
/// How much of the origin's answer to an approved request is kept.
pub const MAX_RESULT_BODY_BYTES: usize = 64 * 1024;
/// Longer than any origin call lasts (`KEYGATE_ORIGIN_TIMEOUT_MS` is at most 5 minutes).
pub const IN_FLIGHT_MS: u64 = 10 * 60 * 1000;

#[cfg(test)]
mod tests;
