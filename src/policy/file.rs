//! The policy file as written, before validation: the shape serde reads, every table
//! denying unknown fields. Values whose range or spelling is checked later are read wider
//! than they may be (strings, signed integers, any TOML value), so a wrong one gets a
//! problem naming its field among the others rather than serde's first error.

use super::LifecycleAction;
use crate::cors::CorsTable;
use crate::portal::PortalTable;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub(super) key_prefix: Option<String>,
    // Wider than the accepted range so an out-of-range value gets our message, not serde's.
    pub(super) unmapped_route_status: Option<i64>,
    #[serde(default = "assume_origin_reads_body_overrides")]
    pub(super) origin_reads_body_overrides: bool,
    #[serde(default)]
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
    #[serde(default)]
    pub(super) groups: Vec<GroupTable>,
    #[serde(default)]
    pub(super) resources: Vec<ResourceTable>,
    #[serde(default)]
    pub(super) routes: Vec<RouteTable>,
    #[serde(default)]
    pub(super) plans: Vec<PlanTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsTable {
    pub(super) per_minute: Option<i64>,
    pub(super) per_day: Option<i64>,
}

/// The policy's own `[limits]`: the windows, as a plan's, and how they are enforced.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyLimitsTable {
    pub(super) per_minute: Option<i64>,
    pub(super) per_day: Option<i64>,
    pub(super) enforcement: Option<toml::Value>,
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

// Any TOML value rather than `bool`, so `edit = "no"` gets a message naming the field
// among the other problems, not serde's type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LifecycleTable {
    pub(super) edit: Option<toml::Value>,
    pub(super) revoke: Option<toml::Value>,
    pub(super) reactivate: Option<toml::Value>,
    pub(super) rotate: Option<toml::Value>,
}

impl LifecycleTable {
    pub(super) fn written(&self, action: LifecycleAction) -> Option<&toml::Value> {
        match action {
            LifecycleAction::Edit => self.edit.as_ref(),
            LifecycleAction::Revoke => self.revoke.as_ref(),
            LifecycleAction::Reactivate => self.reactivate.as_ref(),
            LifecycleAction::Rotate => self.rotate.as_ref(),
        }
    }
}

// Signed and wide, like the limits, so a negative value gets our message.
#[derive(Deserialize)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CredentialsTable {
    pub(super) header: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProblemsTable {
    pub(super) type_base: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupTable {
    pub(super) name: String,
    #[serde(default)]
    pub(super) administrative: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceTable {
    pub(super) name: String,
    // Strings rather than enums so a wrong value gets a message listing the right ones.
    pub(super) kind: String,
    pub(super) group: Option<String>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteTable {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) resource: String,
    pub(super) action: String,
}

#[derive(Deserialize)]
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
