//! The admin routes: which method and path ask for what.

use crate::approval::{ApprovalId, APPROVALS_RESOURCE};
use crate::delegation::{KeysAction, KEYS_RESOURCE};
use crate::key::KeyId;
use crate::policy::{Action, RouteTarget};
use crate::problem::GatewayError;
use crate::session::{Permission, SessionId};
use crate::workspace::WorkspaceName;

/// Every admin route: method and path under [`super::ADMIN_PREFIX`]. The Worker serves exactly
/// these (see [`admin_route`]) and `openapi.yaml` documents exactly these; a test holds
/// the two together.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("POST", "/keys"),
    ("GET", "/keys"),
    ("GET", "/keys/{id}"),
    ("PATCH", "/keys/{id}"),
    ("DELETE", "/keys/{id}"),
    ("POST", "/keys/{id}/revoke"),
    ("POST", "/keys/{id}/activate"),
    ("POST", "/keys/{id}/rotate"),
    ("POST", "/keys/{id}/webhook-secret/rotate"),
    ("GET", "/approvals"),
    ("GET", "/approvals/{id}"),
    ("POST", "/approvals/{id}/approve"),
    ("POST", "/approvals/{id}/reject"),
    ("GET", "/policy"),
    ("GET", "/workspaces"),
    ("GET", "/workspaces/{workspace}"),
    ("PUT", "/workspaces/{workspace}"),
    ("POST", "/portal/sessions"),
    ("GET", "/portal/sessions"),
    ("GET", "/portal/sessions/current"),
    ("DELETE", "/portal/sessions/current"),
    ("DELETE", "/portal/sessions/{id}"),
];

/// What an admin request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminRoute {
    CreateKey,
    ListKeys,
    GetKey(KeyId),
    EditKey(KeyId),
    DeleteKey(KeyId),
    RevokeKey(KeyId),
    ActivateKey(KeyId),
    RotateKey(KeyId),
    RotateWebhookSecret(KeyId),
    ListApprovals,
    GetApproval(ApprovalId),
    Approve(ApprovalId),
    Reject(ApprovalId),
    Policy,
    ListWorkspaces,
    GetWorkspace(WorkspaceName),
    SetPlan(WorkspaceName),
    /// Portal sessions: mint, list and revoke by id are the root token's; the current
    /// session is its own token's.
    MintSession,
    ListSessions,
    CurrentSession,
    EndCurrentSession,
    RevokeSession(SessionId),
}

impl AdminRoute {
    /// The grant a key needs for this route: a level of `api_keys`, or of `approvals`
    /// (on an approval it submitted, a key needs no `approvals` grant to read it); `None`
    /// where only the root token may call it, or only a portal session (its own).
    pub fn required_grant(&self) -> Option<RouteTarget> {
        let keys = |action: KeysAction| RouteTarget {
            resource: KEYS_RESOURCE.to_string(),
            action: action.action(),
        };
        let approvals = |action| RouteTarget {
            resource: APPROVALS_RESOURCE.to_string(),
            action,
        };
        Some(match self {
            AdminRoute::ListKeys
            | AdminRoute::GetKey(_)
            | AdminRoute::Policy
            | AdminRoute::GetWorkspace(_) => keys(KeysAction::Read),
            AdminRoute::CreateKey
            | AdminRoute::EditKey(_)
            | AdminRoute::ActivateKey(_)
            | AdminRoute::RotateKey(_)
            | AdminRoute::RotateWebhookSecret(_) => keys(KeysAction::Write),
            AdminRoute::RevokeKey(_) | AdminRoute::DeleteKey(_) => keys(KeysAction::Delete),
            AdminRoute::ListApprovals | AdminRoute::GetApproval(_) => approvals(Action::Read),
            AdminRoute::Approve(_) | AdminRoute::Reject(_) => approvals(Action::Write),
            // Plans are what the provider sells: set by the provider alone, and listed
            // across workspaces only to it.
            AdminRoute::ListWorkspaces | AdminRoute::SetPlan(_) => return None,
            AdminRoute::MintSession
            | AdminRoute::ListSessions
            | AdminRoute::CurrentSession
            | AdminRoute::EndCurrentSession
            | AdminRoute::RevokeSession(_) => return None,
        })
    }

    /// The permission a member (portal session) needs for this route. `None`: no
    /// permission gives it — the root token's routes, and the current session, which is
    /// its own token's ([`AdminRoute::is_own_session`]).
    pub fn required_permission(&self) -> Option<Permission> {
        Some(match self {
            AdminRoute::ListKeys
            | AdminRoute::GetKey(_)
            | AdminRoute::Policy
            | AdminRoute::GetWorkspace(_) => Permission::KeysRead,
            AdminRoute::CreateKey
            | AdminRoute::EditKey(_)
            | AdminRoute::DeleteKey(_)
            | AdminRoute::RevokeKey(_)
            | AdminRoute::ActivateKey(_)
            | AdminRoute::RotateKey(_)
            | AdminRoute::RotateWebhookSecret(_) => Permission::KeysManage,
            AdminRoute::ListApprovals
            | AdminRoute::GetApproval(_)
            | AdminRoute::Approve(_)
            | AdminRoute::Reject(_) => Permission::ApprovalsReview,
            AdminRoute::ListWorkspaces
            | AdminRoute::SetPlan(_)
            | AdminRoute::MintSession
            | AdminRoute::ListSessions
            | AdminRoute::CurrentSession
            | AdminRoute::EndCurrentSession
            | AdminRoute::RevokeSession(_) => return None,
        })
    }

    /// The routes about the caller's own session: only a session token has one.
    pub fn is_own_session(&self) -> bool {
        matches!(
            self,
            AdminRoute::CurrentSession | AdminRoute::EndCurrentSession
        )
    }
}

/// Finds the route for `method` and `path` (the part after [`super::ADMIN_PREFIX`]). A path that
/// exists with other methods is a 405 naming them; an id that cannot exist is a 404.
pub fn admin_route(method: &str, path: &str) -> Result<AdminRoute, GatewayError> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let (template, id) = match segments.as_slice() {
        ["keys"] => ("/keys", None),
        ["keys", id] => ("/keys/{id}", Some(*id)),
        ["keys", id, "revoke"] => ("/keys/{id}/revoke", Some(*id)),
        ["keys", id, "activate"] => ("/keys/{id}/activate", Some(*id)),
        ["keys", id, "rotate"] => ("/keys/{id}/rotate", Some(*id)),
        ["keys", id, "webhook-secret", "rotate"] => ("/keys/{id}/webhook-secret/rotate", Some(*id)),
        ["approvals"] => ("/approvals", None),
        ["approvals", id] => ("/approvals/{id}", Some(*id)),
        ["approvals", id, "approve"] => ("/approvals/{id}/approve", Some(*id)),
        ["approvals", id, "reject"] => ("/approvals/{id}/reject", Some(*id)),
        ["policy"] => ("/policy", None),
        ["workspaces"] => ("/workspaces", None),
        ["workspaces", id] => ("/workspaces/{workspace}", Some(*id)),
        ["portal", "sessions"] => ("/portal/sessions", None),
        ["portal", "sessions", "current"] => ("/portal/sessions/current", None),
        ["portal", "sessions", id] => ("/portal/sessions/{id}", Some(*id)),
        _ => return Err(GatewayError::NotFound),
    };
    // An id that cannot exist is a 404 whatever the method.
    let possible = match (segments.first(), id) {
        (_, None) => true,
        (Some(&"keys"), Some(text)) => KeyId::parse(text).is_some(),
        (Some(&"workspaces"), Some(text)) => WorkspaceName::parse(text).is_some(),
        (Some(&"portal"), Some(text)) => SessionId::parse(text).is_some(),
        (_, Some(text)) => ApprovalId::parse(text).is_some(),
    };
    if !possible {
        return Err(GatewayError::NotFound);
    }
    let allowed: Vec<&str> = ADMIN_ROUTES
        .iter()
        .filter(|(_, t)| *t == template)
        .map(|(m, _)| *m)
        .collect();
    if !allowed.contains(&method) {
        return Err(GatewayError::MethodNotAllowed {
            allowed: allowed.join(", "),
        });
    }
    let key = || id.and_then(KeyId::parse).ok_or(GatewayError::NotFound);
    let approval = || id.and_then(ApprovalId::parse).ok_or(GatewayError::NotFound);
    let workspace = || {
        id.and_then(WorkspaceName::parse)
            .ok_or(GatewayError::NotFound)
    };
    Ok(match (method, template) {
        ("POST", "/keys") => AdminRoute::CreateKey,
        ("GET", "/keys") => AdminRoute::ListKeys,
        ("GET", "/keys/{id}") => AdminRoute::GetKey(key()?),
        ("PATCH", "/keys/{id}") => AdminRoute::EditKey(key()?),
        ("DELETE", "/keys/{id}") => AdminRoute::DeleteKey(key()?),
        ("POST", "/keys/{id}/revoke") => AdminRoute::RevokeKey(key()?),
        ("POST", "/keys/{id}/activate") => AdminRoute::ActivateKey(key()?),
        ("POST", "/keys/{id}/rotate") => AdminRoute::RotateKey(key()?),
        ("POST", "/keys/{id}/webhook-secret/rotate") => AdminRoute::RotateWebhookSecret(key()?),
        ("GET", "/approvals") => AdminRoute::ListApprovals,
        ("GET", "/approvals/{id}") => AdminRoute::GetApproval(approval()?),
        ("POST", "/approvals/{id}/approve") => AdminRoute::Approve(approval()?),
        ("POST", "/approvals/{id}/reject") => AdminRoute::Reject(approval()?),
        ("GET", "/policy") => AdminRoute::Policy,
        ("GET", "/workspaces") => AdminRoute::ListWorkspaces,
        ("GET", "/workspaces/{workspace}") => AdminRoute::GetWorkspace(workspace()?),
        ("PUT", "/workspaces/{workspace}") => AdminRoute::SetPlan(workspace()?),
        ("POST", "/portal/sessions") => AdminRoute::MintSession,
        ("GET", "/portal/sessions") => AdminRoute::ListSessions,
        ("GET", "/portal/sessions/current") => AdminRoute::CurrentSession,
        ("DELETE", "/portal/sessions/current") => AdminRoute::EndCurrentSession,
        ("DELETE", "/portal/sessions/{id}") => AdminRoute::RevokeSession(
            id.and_then(SessionId::parse)
                .ok_or(GatewayError::NotFound)?,
        ),
        _ => return Err(GatewayError::NotFound),
    })
}
