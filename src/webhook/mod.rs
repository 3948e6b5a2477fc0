//! A key's rejection webhook, as every layer shares it: where it may point ([`address`]),
//! the secret it is signed with ([`secret`]), and the signature itself (`KEYGATE-WEBHOOK-V1`,
//! `v1=`, one per live secret during a rotation), which is the `keygate-verify` crate's —
//! receivers use that crate to verify it — re-exported here. What keygate sends, and when
//! it tries again, is the approval queue's ([`crate::approval`]).

pub mod address;
pub mod secret;

pub use keygate_verify::webhook::*;
