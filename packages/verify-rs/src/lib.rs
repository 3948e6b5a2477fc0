//! Verify what keygate signs: the identity headers it adds to every request it forwards to
//! an origin ([`identity`]), and the rejection webhooks it POSTs ([`webhook`]).
//!
//! This is the one implementation of both schemes: the keygate gateway signs with the same
//! code an origin verifies with. Everything here is pure: the current time is passed in,
//! nothing is read from a clock, a socket or the environment. With the `tower` feature,
//! `layer::VerifyIdentityLayer` and `layer::VerifyWebhookLayer` do it for a whole
//! request (bounded body read, verification, replay cache); with `axum`, a handler takes
//! the result as an argument.
//!
//! ```
//! use keygate_verify::identity::{verify_any, ReceivedBody, RequestLine};
//! use keygate_verify::SigningSecret;
//! # use keygate_verify::identity::{sign, BodyDigest, Content, Identity};
//! # let old = SigningSecret::new(b"the origin's previous secret".to_vec());
//! # let line = RequestLine { method: "GET", host: "api.internal", path_and_query: "/v1/contacts" };
//! # let content = Content { content_type: None, content_length: None, body: BodyDigest::of(b"") };
//! # let identity = Identity { key_id: "key_1".into(), key_name: "Zapier".into(), workspace: "acme".into(),
//! #     environment: "live".into(), scopes: vec![], request_id: "req_1".into(), approval_id: None,
//! #     approved_by: None, timestamp: 1_900_000_000 };
//! # let headers = identity.headers(&content, &sign(&old, &line, &content, &identity));
//! # let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
//! // During a rotation the origin holds both secrets, the newest first.
//! let secrets = [SigningSecret::new(b"the origin's new secret".to_vec()), old];
//! let verified = verify_any(&secrets, &line, header, ReceivedBody::Bytes(b""), 1_900_000_010, 300)?;
//! assert_eq!(verified.identity.key_id, "key_1");
//! assert_eq!(verified.secret_index, 1); // still signed with the previous secret
//! # Ok::<(), keygate_verify::VerifyError>(())
//! ```

mod error;
pub mod identity;
#[cfg(feature = "tower")]
pub mod layer;
pub mod replay;
mod secret;
mod signature;
pub mod webhook;

pub use error::VerifyError;
pub use secret::SigningSecret;
