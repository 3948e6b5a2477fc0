//! What the Workers layer decides no more: the pure steps between the platform and the
//! core's rules, on a request's path through keygate. The edge (`src/edge/`) reads the
//! platform, calls these, and carries out what they return.
//!
//! - [`bearer`]: the credential a request presents, and its key's format errors;
//! - [`reply`]: a Durable Object's reply read as what the caller wanted, or a refusal;
//! - [`admission`]: the key authority's verdict on a request (forward it, or queue it);
//! - [`queued`]: a request stored for a human's approval, and its 202;
//! - [`origin`]: what the origin is sent (the path, who is calling);
//! - [`body`]: the bounds a body is read with;
//! - [`target`]: the scheme, path and query of the URL the runtime hands over.

pub mod admission;
pub mod bearer;
pub mod body;
pub mod origin;
pub mod queued;
pub mod reply;
pub mod target;
