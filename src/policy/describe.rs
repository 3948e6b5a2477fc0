//! The policy as `GET /_keygate/v1/policy` shows it, and as `keygate policy check` and
//! `policy diff` read it.

use super::{LifecycleAction, Policy};
use crate::cors::CorsSettings;
use serde_json::json;

impl Policy {
    /// The body of `GET /_keygate/v1/policy`: the scope table in force.
    pub fn describe(&self) -> serde_json::Value {
        let resources: Vec<serde_json::Value> = self
            .resources
            .iter()
            .map(|resource| {
                json!({
                    "name": resource.name,
                    "kind": resource.kind.as_str(),
                    "levels": resource.kind.levels(),
                    "ordered": resource.kind.is_ordered(),
                    "actions": resource.kind.actions(),
                    "group": resource.group,
                    "administrative": resource.administrative,
                    "description": resource.description,
                })
            })
            .collect();
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|group| json!({"name": group.name, "administrative": group.administrative}))
            .collect();
        let routes: Vec<serde_json::Value> = self
            .routes
            .iter()
            .map(|route| {
                json!({
                    "method": route.method.as_str(),
                    "path": route.path,
                    "resource": route.resource,
                    "action": route.action.as_str(),
                })
            })
            .collect();
        let coarse_scopes: Vec<&str> = self.coarse_scopes.iter().map(|c| c.as_str()).collect();
        let lifecycle: serde_json::Map<String, serde_json::Value> = LifecycleAction::ALL
            .into_iter()
            .map(|action| (action.as_str().to_string(), json!(self.allows(action))))
            .collect();
        json!({
            "key_prefix": self.key_prefix,
            "unmapped_route_status": self.unmapped_route_status,
            "origin_reads_body_overrides": self.origin_reads_body_overrides,
            "groups": groups,
            "resources": resources,
            "routes": routes,
            "scopes": self.valid_scopes,
            "coarse_scopes": coarse_scopes,
            "limits": {
                "per_minute": self.limits.per_minute.get(),
                "per_day": self.limits.per_day.get(),
            },
            "lifecycle": lifecycle,
            "approvals": {
                "max_body_bytes": self.approvals.max_body_bytes,
                "expire_after_seconds": self.approvals.expire_after_ms / 1000,
                "webhook_retry_seconds": self.approvals.webhook_retry_ms / 1000,
                "max_pending_per_key": self.approvals.caps.max_pending_per_key,
                "max_pending_per_workspace": self.approvals.caps.max_pending_per_workspace,
                "max_pending_bytes_per_workspace": self.approvals.caps.max_pending_bytes_per_workspace,
                "retain_decided_seconds": self.approvals.retain_decided_ms / 1000,
            },
            "credentials": {"header": self.credential_header},
            "cors": self.cors.as_ref().map(CorsSettings::describe),
            "problems": {"type_base": self.problem_type_base},
        })
    }
}
