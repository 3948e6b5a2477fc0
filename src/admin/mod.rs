//! The admin API's HTTP face: which route a request asks for, and its body or query
//! checked — a JSON body in, a checked value or every field's error out.

mod approvals;
pub mod calls;
mod fields;
mod keys;
mod list;
mod routes;
mod sessions;
mod workspaces;

pub use approvals::{parse_approve, parse_reject, MAX_REASON_CHARS};
pub use fields::{DEFAULT_WORKSPACE, MAX_NAME_CHARS};
pub use keys::{
    asked_workspace, parse_create, parse_create_with, parse_edit, parse_rotate, NewKey,
    MAX_GRACE_SECONDS,
};
pub use list::{
    parse_approvals_query, parse_list_query, parse_status, ApprovalsPage, ApprovalsQuery, KeysPage,
    ListQuery, ListedStatus,
};
pub use routes::{admin_route, AdminRoute, ADMIN_ROUTES};
pub use sessions::{
    minted_object, parse_mint, parse_sessions_query, portal_url, session_object, NewSession,
    SessionsPage, PORTAL_PATH,
};
pub use workspaces::{
    parse_set_plan, parse_workspaces_query, PlanSetView, WorkspaceView, WorkspacesPage,
    WorkspacesQuery,
};

/// The prefix every admin route lives under.
pub const ADMIN_PREFIX: &str = "/_keygate/v1";
/// Admin bodies are small; anything bigger is a mistake or an attack.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests;
