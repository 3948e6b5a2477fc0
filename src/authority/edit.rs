//! An edit of a key, as the admin API's `PATCH` asks for it and the authority applies it.

use super::refusal::Declined;
use crate::entitlement;
use crate::lease::Enforcement;
use crate::limits::Limits;
use crate::policy::Policy;
use crate::record::KeyRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_tag_first::TagFirstDeserialize;

/// A `PATCH` of a key: each field present is replaced. `Some(None)` clears an optional
/// field (expiry, per-key limits, webhook).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsEdit>,
    /// `Some(None)`: follow the policy's again.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub enforcement: Option<Option<Enforcement>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub expires_at: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub rejection_webhook: Option<Option<String>>,
}

/// A change to a key's own limits: back to following the policy's defaults, or new values
/// for the windows given — a window left out keeps the key's current value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum LimitsEdit {
    PolicyDefaults,
    Set {
        per_minute: Option<u64>,
        per_day: Option<u64>,
    },
}

/// A field that is present, even as `null`, is `Some`; `default` covers the absent case.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl KeyEdit {
    /// Applies the edit. Only the limits can fail: a window given alone must still fit the
    /// other one's current value.
    pub(super) fn apply_to(self, record: &mut KeyRecord, policy: &Policy) -> Result<(), Declined> {
        let KeyEdit {
            name,
            scopes,
            limits,
            enforcement,
            expires_at,
            metadata,
            rejection_webhook,
        } = self;
        if let Some(enforcement) = enforcement {
            record.enforcement = enforcement;
        }
        if let Some(name) = name {
            record.name = name;
        }
        if let Some(scopes) = scopes {
            record.scopes = scopes;
        }
        if let Some(change) = limits {
            record.limits = match change {
                LimitsEdit::PolicyDefaults => None,
                LimitsEdit::Set {
                    per_minute,
                    per_day,
                } => {
                    let current = entitlement::key_limits(record, policy);
                    let per_minute = per_minute.unwrap_or(u64::from(current.per_minute.get()));
                    let per_day = per_day.unwrap_or(u64::from(current.per_day.get()));
                    let limits = Limits::new(per_minute, per_day).map_err(|error| {
                        Declined::InvalidLimits {
                            message: error.to_string(),
                        }
                    })?;
                    Some(limits)
                }
            };
        }
        if let Some(expires_at) = expires_at {
            record.expires_at = expires_at;
        }
        if let Some(metadata) = metadata {
            record.metadata = metadata;
        }
        if let Some(webhook) = rejection_webhook {
            record.rejection_webhook = webhook;
        }
        Ok(())
    }
}
