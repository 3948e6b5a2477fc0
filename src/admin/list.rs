//! List queries: `GET /keys` and `GET /approvals`, with one set of rules.

use super::fields::{collect, workspace};
use crate::approval::{ApprovalId, ApprovalStatus};
use crate::key::{Environment, KeyId};
use crate::page::{ListedId, PageRequest, Position, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::problem::{FieldError, GatewayError};
use crate::record::Status;
use serde_json::Value;

/// The `?status=` values a list accepts: every status, by its name.
pub trait ListedStatus: Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
}

impl ListedStatus for Status {
    const ALL: &'static [Status] = &[Status::Active, Status::Revoked, Status::Expired];
    fn as_str(self) -> &'static str {
        Status::as_str(self)
    }
}

impl ListedStatus for ApprovalStatus {
    const ALL: &'static [ApprovalStatus] = &ApprovalStatus::ALL;
    fn as_str(self) -> &'static str {
        ApprovalStatus::as_str(self)
    }
}

/// The status named `text`, if the list has one (the CLI checks `--status` with it too).
pub fn parse_status<S: ListedStatus>(text: &str) -> Option<S> {
    S::ALL
        .iter()
        .copied()
        .find(|status| status.as_str() == text)
}

/// The statuses for a message, e.g. "`active`, `revoked` or `expired`".
fn status_choices<S: ListedStatus>() -> String {
    let names: Vec<String> = S::ALL.iter().map(|s| format!("`{}`", s.as_str())).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `GET /keys?status=&workspace=&limit=&cursor=` (or `/approvals`), checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery<S = Status, Id = KeyId> {
    pub status: Option<S>,
    pub workspace: Option<String>,
    pub limit: usize,
    pub cursor: Option<Position<Id>>,
}

impl<S, Id> Default for ListQuery<S, Id> {
    fn default() -> Self {
        ListQuery {
            status: None,
            workspace: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

impl<S, Id> ListQuery<S, Id> {
    /// The page to ask the list's Durable Object for, as `environment` sees the list (an
    /// acting key or key reviewer sees only its own environment's items).
    pub fn page(self, environment: Option<Environment>, now_ms: u64) -> PageRequest<S, Id> {
        PageRequest {
            environment,
            status: self.status,
            limit: self.limit,
            after: self.cursor,
            now_ms,
        }
    }
}

/// A page of `GET /keys`: the keys as the admin API shows them, and the cursor of the next
/// page (`null` on the last).
#[derive(serde::Serialize)]
pub struct KeysPage {
    pub keys: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// A page of `GET /approvals`, the same way.
#[derive(serde::Serialize)]
pub struct ApprovalsPage {
    pub approvals: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// `GET /approvals?status=&workspace=&limit=&cursor=`, checked.
pub type ApprovalsQuery = ListQuery<ApprovalStatus, ApprovalId>;

/// Parses the query of `GET /keys`. Every bad parameter is reported, by name.
pub fn parse_list_query(query: Option<&str>) -> Result<ListQuery, GatewayError> {
    parse_listing(query, &LIST_PARAMETERS)
}

/// Parses the query of `GET /approvals`, with the same rules as [`parse_list_query`].
pub fn parse_approvals_query(query: Option<&str>) -> Result<ApprovalsQuery, GatewayError> {
    parse_listing(query, &LIST_PARAMETERS)
}

/// Every parameter a list may take; each list takes some of them.
const LIST_PARAMETERS: [&str; 4] = ["status", "workspace", "limit", "cursor"];

/// A list query with the `allowed` parameters (of [`LIST_PARAMETERS`]), each checked.
pub(super) fn parse_listing<S: ListedStatus, Id: ListedId>(
    query: Option<&str>,
    allowed: &[&str],
) -> Result<ListQuery<S, Id>, GatewayError> {
    let mut list = ListQuery::default();
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if seen.contains(&name) {
            errors.push(FieldError::new(name, "is given more than once"));
            continue;
        }
        seen.push(name);
        if !allowed.contains(&name) {
            errors.push(FieldError::new(
                name,
                format!("unknown parameter; allowed: {}", allowed.join(", ")),
            ));
            continue;
        }
        match name {
            "status" => match parse_status(value) {
                Some(status) => list.status = Some(status),
                None => errors.push(FieldError::new(
                    "status",
                    format!("must be {}", status_choices::<S>()),
                )),
            },
            "workspace" => {
                list.workspace = collect(&mut errors, workspace(Some(&Value::String(value.into()))))
            }
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => list.limit = n,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )),
            },
            "cursor" => match Position::decode(value) {
                Some(cursor) => list.cursor = Some(cursor),
                None => errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor this API returned; pass `next_cursor` as is",
                )),
            },
            // Not in `allowed`: refused above.
            _ => {}
        }
    }
    match errors.is_empty() {
        true => Ok(list),
        false => Err(GatewayError::InvalidBody { errors }),
    }
}
