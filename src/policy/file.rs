//! The policy file as written, before validation: the shape serde reads, every table
//! denying unknown fields. Values whose range or spelling is checked later are read wider
//! than they may be (strings, signed integers, any value), so a wrong one gets a
//! problem naming its field among the others rather than serde's first error.
//!
//! The same shape is read from TOML (a policy file, in the CLI) and from JSON (the
//! compiled form the Worker reads, [`super::compiled`]), so nothing here is TOML's own.

use super::LifecycleAction;
use crate::cors::CorsTable;
use crate::portal::PortalTable;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub(super) key_prefix: Option<String>,
    // Wider than the accepted range so an out-of-range value gets our message, not serde's.
    pub(super) unmapped_route_status: Option<i64>,
    #[serde(default = "assume_origin_reads_body_overrides")]
    pub(super) origin_reads_body_overrides: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) coarse_scopes: Vec<String>,
    pub(super) fine_scopes: Option<bool>,
    pub(super) default_scopes: Option<Vec<String>>,
    pub(super) default_plan: Option<String>,
    pub(super) limits: Option<PolicyLimitsTable>,
    pub(super) lifecycle: Option<LifecycleTable>,
    pub(super) approvals: Option<ApprovalsTable>,
    pub(super) credentials: Option<CredentialsTable>,
    pub(super) cors: Option<CorsTable>,
    pub(super) problems: Option<ProblemsTable>,
    pub(super) portal: Option<PortalTable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) groups: Vec<GroupTable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) resources: Vec<ResourceTable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) routes: Vec<RouteTable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) plans: Vec<PlanTable>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsTable {
    pub(super) per_minute: Option<i64>,
    pub(super) per_day: Option<i64>,
}

/// The policy's own `[limits]`: the windows, as a plan's, and how they are enforced.
/// `enforcement` is read as any string, so a misspelt one gets our message.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyLimitsTable {
    pub(super) per_minute: Option<i64>,
    pub(super) per_day: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) enforcement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) lease_seconds: Option<i64>,
}

impl PolicyLimitsTable {
    pub(super) fn windows(&self) -> LimitsTable {
        LimitsTable {
            per_minute: self.per_minute,
            per_day: self.per_day,
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LifecycleTable {
    pub(super) edit: Option<Flag>,
    pub(super) revoke: Option<Flag>,
    pub(super) reactivate: Option<Flag>,
    pub(super) rotate: Option<Flag>,
}

impl LifecycleTable {
    pub(super) fn written(&self, action: LifecycleAction) -> Option<&Flag> {
        match action {
            LifecycleAction::Edit => self.edit.as_ref(),
            LifecycleAction::Revoke => self.revoke.as_ref(),
            LifecycleAction::Reactivate => self.reactivate.as_ref(),
            LifecycleAction::Rotate => self.rotate.as_ref(),
        }
    }
}

// Signed and wide, like the limits, so a negative value gets our message.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApprovalsTable {
    pub(super) max_body_bytes: Option<i64>,
    pub(super) expire_after_seconds: Option<i64>,
    pub(super) webhook_retry_seconds: Option<i64>,
    pub(super) max_pending_per_key: Option<i64>,
    pub(super) max_pending_per_workspace: Option<i64>,
    pub(super) max_pending_bytes_per_workspace: Option<i64>,
    pub(super) retain_decided_seconds: Option<i64>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CredentialsTable {
    pub(super) header: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProblemsTable {
    pub(super) type_base: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupTable {
    pub(super) name: String,
    #[serde(default)]
    pub(super) administrative: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceTable {
    pub(super) name: String,
    // Strings rather than enums so a wrong value gets a message listing the right ones.
    pub(super) kind: String,
    pub(super) group: Option<String>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteTable {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) resource: String,
    pub(super) action: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PlanTable {
    pub(super) name: String,
    #[serde(default = "plans_offer_api_access")]
    pub(super) api_access: bool,
    /// `None`: the plan offers every resource.
    pub(super) resources: Option<Vec<String>>,
    pub(super) limits: Option<LimitsTable>,
    pub(super) max_limits: Option<LimitsTable>,
}

/// A plan is for using the API unless the operator says it is not.
fn plans_offer_api_access() -> bool {
    true
}

/// Unless the operator says otherwise, an origin may act on `_method` in a body.
fn assume_origin_reads_body_overrides() -> bool {
    true
}

/// A `[lifecycle]` value as written. Any value is read rather than only `bool`, so
/// `edit = "no"` gets a message naming the field among the other problems, not serde's
/// type error.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Flag {
    Boolean(bool),
    /// Anything else, as the problem names it: `the string "no"`, `3`, `an array`.
    Other(String),
}

/// toml's deserialiser hands a date-time over as a map with this one key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Flag, D::Error> {
        deserializer.deserialize_any(FlagVisitor)
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Flag;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Flag, E> {
        Ok(Flag::Boolean(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Flag, E> {
        Ok(Flag::Other(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Flag, E> {
        Ok(Flag::Other(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Flag, E> {
        Ok(Flag::Other(value.to_string()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Flag, E> {
        Ok(Flag::Other(format!("the string {value:?}")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flag, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Flag::Other("an array".to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flag, A::Error> {
        let first_key = map.next_key::<String>()?;
        if first_key.is_some() {
            map.next_value::<IgnoredAny>()?;
        }
        let mut more_keys = false;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            more_keys = true;
        }
        let what = match first_key {
            Some(key) if key == TOML_DATETIME_KEY && !more_keys => "a date-time",
            _ => "a table",
        };
        Ok(Flag::Other(what.to_string()))
    }
}

/// Only a boolean is written out: the compiled form is made from a policy that loaded.
impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Flag::Boolean(value) => serializer.serialize_bool(*value),
            Flag::Other(what) => Err(serde::ser::Error::custom(format!(
                "a lifecycle flag must be true or false, got {what}"
            ))),
        }
    }
}
