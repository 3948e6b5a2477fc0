//! Each command becomes one admin API request: method, path under `/_keygate/v1`, query and
//! JSON body. Pure functions, so every request the CLI can send is checked by unit tests.

use super::args::{
    ApprovalListArgs, ApprovalsCommand, Change, EditArgs, KeyListArgs, KeysCommand, ListArgs,
    NewKeyArgs, NewSessionArgs, SessionsCommand, WorkspaceListArgs, WorkspacesCommand,
};
use crate::admin::{ListedStatus, ADMIN_PREFIX};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// The path under the admin prefix, e.g. `/keys/key_…/revoke`.
    pub path: String,
    /// Name and value, not yet encoded.
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl ApiRequest {
    fn new(method: Method, path: String) -> ApiRequest {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    fn with_body(mut self, body: Value) -> ApiRequest {
        self.body = Some(body);
        self
    }

    /// The full URL under `endpoint` (a base URL without a trailing slash, as
    /// [`super::connection`] leaves it).
    pub fn url(&self, endpoint: &str) -> String {
        let mut url = format!("{endpoint}{ADMIN_PREFIX}{}", self.path);
        for (index, (name, value)) in self.query.iter().enumerate() {
            url.push(if index == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        url
    }
}

/// Everything but RFC 3986's unreserved characters (letters, digits, `-._~`).
const QUERY_VALUE_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes everything but RFC 3986's unreserved characters, so an opaque cursor or a
/// workspace name can never add a parameter or change the path.
pub fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE_ESCAPED).to_string()
}

/// The request for one keys command. `keys list` gives its first page; [`list_page`] gives
/// the others.
pub fn keys_request(command: &KeysCommand) -> ApiRequest {
    match command {
        KeysCommand::Create(args) => {
            ApiRequest::new(Method::Post, "/keys".into()).with_body(create_body(args))
        }
        KeysCommand::List(args) => list_page(args, args.cursor.as_deref()),
        KeysCommand::Show { id } => ApiRequest::new(Method::Get, format!("/keys/{id}")),
        KeysCommand::Edit { id, changes } => {
            ApiRequest::new(Method::Patch, format!("/keys/{id}")).with_body(edit_body(changes))
        }
        KeysCommand::Revoke { id } => ApiRequest::new(Method::Post, format!("/keys/{id}/revoke")),
        KeysCommand::Activate { id } => {
            ApiRequest::new(Method::Post, format!("/keys/{id}/activate"))
        }
        KeysCommand::Rotate { id, grace_seconds } => {
            let body = match grace_seconds {
                Some(seconds) => json!({ "grace_seconds": seconds }),
                None => json!({}),
            };
            ApiRequest::new(Method::Post, format!("/keys/{id}/rotate")).with_body(body)
        }
        KeysCommand::RotateWebhookSecret { id, grace_seconds } => {
            let body = match grace_seconds {
                Some(seconds) => json!({ "grace_seconds": seconds }),
                None => json!({}),
            };
            ApiRequest::new(Method::Post, format!("/keys/{id}/webhook-secret/rotate"))
                .with_body(body)
        }
        KeysCommand::Delete { id } => ApiRequest::new(Method::Delete, format!("/keys/{id}")),
    }
}

pub fn policy_request() -> ApiRequest {
    ApiRequest::new(Method::Get, "/policy".into())
}

/// One page of `keys list`, starting at `cursor` (the first page without one).
pub fn list_page(args: &KeyListArgs, cursor: Option<&str>) -> ApiRequest {
    page_request("/keys", args, cursor)
}

/// The request for one approvals command. `approvals list` gives its first page;
/// [`approvals_page`] gives the others.
pub fn approvals_request(command: &ApprovalsCommand) -> ApiRequest {
    match command {
        ApprovalsCommand::List(args) => approvals_page(args, args.cursor.as_deref()),
        ApprovalsCommand::Show { id } => ApiRequest::new(Method::Get, format!("/approvals/{id}")),
        ApprovalsCommand::Approve { id } => {
            ApiRequest::new(Method::Post, format!("/approvals/{id}/approve")).with_body(json!({}))
        }
        ApprovalsCommand::Reject { id, reason } => {
            ApiRequest::new(Method::Post, format!("/approvals/{id}/reject"))
                .with_body(json!({ "reason": reason }))
        }
    }
}

/// One page of `approvals list`, starting at `cursor` (the first page without one).
pub fn approvals_page(args: &ApprovalListArgs, cursor: Option<&str>) -> ApiRequest {
    page_request("/approvals", args, cursor)
}

/// The request for one workspaces command. `workspaces list` gives its first page;
/// [`workspaces_page`] gives the others.
pub fn workspaces_request(command: &WorkspacesCommand) -> ApiRequest {
    match command {
        WorkspacesCommand::List(args) => workspaces_page(args, args.cursor.as_deref()),
        WorkspacesCommand::Show { workspace } => {
            ApiRequest::new(Method::Get, format!("/workspaces/{}", workspace.as_str()))
        }
        WorkspacesCommand::SetPlan { workspace, plan } => {
            ApiRequest::new(Method::Put, format!("/workspaces/{}", workspace.as_str()))
                .with_body(json!({ "plan": plan }))
        }
    }
}

/// One page of `workspaces list`, starting at `cursor` (the first page without one).
pub fn workspaces_page(args: &WorkspaceListArgs, cursor: Option<&str>) -> ApiRequest {
    let mut request = ApiRequest::new(Method::Get, "/workspaces".into());
    if let Some(limit) = args.limit {
        request.query.push(("limit", limit.to_string()));
    }
    if let Some(cursor) = cursor {
        request.query.push(("cursor", cursor.to_string()));
    }
    request
}

/// The request for one sessions command.
pub fn sessions_request(command: &SessionsCommand) -> ApiRequest {
    match command {
        SessionsCommand::Create(args) => {
            ApiRequest::new(Method::Post, "/portal/sessions".into()).with_body(mint_body(args))
        }
        SessionsCommand::List {
            workspace,
            limit,
            cursor,
        } => {
            let mut request = ApiRequest::new(Method::Get, "/portal/sessions".into());
            request.query.push(("workspace", workspace.clone()));
            if let Some(limit) = limit {
                request.query.push(("limit", limit.to_string()));
            }
            if let Some(cursor) = cursor {
                request.query.push(("cursor", cursor.clone()));
            }
            request
        }
        SessionsCommand::Revoke { id } => {
            ApiRequest::new(Method::Delete, format!("/portal/sessions/{id}"))
        }
    }
}

fn mint_body(args: &NewSessionArgs) -> Value {
    let mut body = json!({
        "workspace": args.workspace,
        "member": {"id": args.member_id, "name": args.member_name},
        "permissions": args.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    });
    if let Some(ttl) = args.ttl_seconds {
        body["ttl_seconds"] = ttl.into();
    }
    body
}

/// A list request: the same four parameters, in the same order, for keys and approvals.
fn page_request<S: ListedStatus + Send + Sync>(
    path: &str,
    args: &ListArgs<S>,
    cursor: Option<&str>,
) -> ApiRequest {
    let mut request = ApiRequest::new(Method::Get, path.into());
    if let Some(status) = args.status {
        request.query.push(("status", status.as_str().into()));
    }
    if let Some(workspace) = &args.workspace {
        request.query.push(("workspace", workspace.clone()));
    }
    if let Some(limit) = args.limit {
        request.query.push(("limit", limit.to_string()));
    }
    if let Some(cursor) = cursor {
        request.query.push(("cursor", cursor.to_string()));
    }
    request
}

fn limits(per_minute: Option<u64>, per_day: Option<u64>) -> Value {
    let mut limits = Map::new();
    if let Some(n) = per_minute {
        limits.insert("per_minute".into(), n.into());
    }
    if let Some(n) = per_day {
        limits.insert("per_day".into(), n.into());
    }
    Value::Object(limits)
}

/// Only what was given: the gateway applies its own defaults to the rest.
fn create_body(args: &NewKeyArgs) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), args.name.clone().into());
    if !args.scopes.is_empty() {
        body.insert("scopes".into(), args.scopes.clone().into());
    }
    if let Some(workspace) = &args.workspace {
        body.insert("workspace".into(), workspace.clone().into());
    }
    if let Some(at) = &args.expires_at {
        body.insert("expires_at".into(), at.clone().into());
    }
    if args.per_minute.is_some() || args.per_day.is_some() {
        body.insert("limits".into(), limits(args.per_minute, args.per_day));
    }
    if let Some(metadata) = &args.metadata {
        body.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    if let Some(url) = &args.webhook {
        body.insert("rejection_webhook".into(), url.clone().into());
    }
    if let Some(environment) = args.environment {
        body.insert("environment".into(), environment.as_str().into());
    }
    Value::Object(body)
}

/// Only the fields being changed; `null` clears expiry, own limits and the webhook.
fn edit_body(args: &EditArgs) -> Value {
    fn change<T: Clone + Into<Value>>(body: &mut Map<String, Value>, field: &str, c: &Change<T>) {
        match c {
            Change::Keep => {}
            Change::Clear => {
                body.insert(field.into(), Value::Null);
            }
            Change::Set(value) => {
                body.insert(field.into(), value.clone().into());
            }
        }
    }
    let mut body = Map::new();
    if let Some(name) = &args.name {
        body.insert("name".into(), name.clone().into());
    }
    if let Some(scopes) = &args.scopes {
        body.insert("scopes".into(), scopes.clone().into());
    }
    let limits = match args.limits() {
        Change::Keep => Change::Keep,
        Change::Clear => Change::Clear,
        Change::Set((per_minute, per_day)) => Change::Set(limits(per_minute, per_day)),
    };
    change(&mut body, "limits", &limits);
    change(&mut body, "expires_at", &args.expires_at());
    if let Some(metadata) = &args.metadata {
        body.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    change(&mut body, "rejection_webhook", &args.webhook());
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Environment;
    use crate::key::KeyId;
    use crate::record::Status;

    const ID: &str = "key_5C6oug3qxDqDYRHASGJgAo";

    fn id() -> KeyId {
        KeyId::parse(ID).unwrap()
    }

    fn sent(command: KeysCommand) -> (Method, String, Option<Value>) {
        let request = keys_request(&command);
        (
            request.method,
            request.url("https://gw.example"),
            request.body,
        )
    }

    #[test]
    fn create_sends_only_what_was_given() {
        let minimal = NewKeyArgs {
            name: "Zapier".into(),
            scopes: vec!["contacts:read".into()],
            ..NewKeyArgs::default()
        };
        assert_eq!(
            sent(KeysCommand::Create(minimal.clone())),
            (
                Method::Post,
                "https://gw.example/_keygate/v1/keys".into(),
                Some(json!({"name": "Zapier", "scopes": ["contacts:read"]}))
            )
        );
        // No scope given: none sent, so the policy's `default_scopes` apply.
        let name_only = NewKeyArgs {
            name: "Integration".into(),
            ..NewKeyArgs::default()
        };
        assert_eq!(
            keys_request(&KeysCommand::Create(name_only)).body,
            Some(json!({"name": "Integration"}))
        );
        let full = NewKeyArgs {
            workspace: Some("acme".into()),
            expires_at: Some("2030-01-31T23:59:59Z".into()),
            per_minute: Some(30),
            per_day: None,
            metadata: json!({"team": "growth"}).as_object().cloned(),
            webhook: Some("https://hooks.example.com/r".into()),
            environment: Some(Environment::Test),
            ..minimal
        };
        assert_eq!(
            keys_request(&KeysCommand::Create(full)).body,
            Some(json!({
                "name": "Zapier",
                "scopes": ["contacts:read"],
                "workspace": "acme",
                "expires_at": "2030-01-31T23:59:59Z",
                "limits": {"per_minute": 30},
                "metadata": {"team": "growth"},
                "rejection_webhook": "https://hooks.example.com/r",
                "environment": "test"
            }))
        );
    }

    #[test]
    fn list_puts_filters_in_the_query() {
        let args = ListArgs::default();
        assert_eq!(
            sent(KeysCommand::List(args)),
            (
                Method::Get,
                "https://gw.example/_keygate/v1/keys".into(),
                None
            )
        );
        let args = ListArgs {
            status: Some(Status::Expired),
            workspace: Some("acme prod&x=1".into()),
            limit: Some(50),
            cursor: Some("abc+/=".into()),
            all: false,
        };
        assert_eq!(
            keys_request(&KeysCommand::List(args.clone())).url("https://gw.example/base"),
            "https://gw.example/base/_keygate/v1/keys?status=expired&workspace=acme%20prod%26x%3D1&limit=50&cursor=abc%2B%2F%3D"
        );
        // Later pages replace the starting cursor.
        assert_eq!(
            list_page(&args, Some("next")).query.last(),
            Some(&("cursor", "next".to_string()))
        );
        assert!(!list_page(&args, None)
            .query
            .iter()
            .any(|(n, _)| *n == "cursor"));
    }

    #[test]
    fn one_key_commands() {
        let url = format!("https://gw.example/_keygate/v1/keys/{ID}");
        assert_eq!(
            sent(KeysCommand::Show { id: id() }),
            (Method::Get, url.clone(), None)
        );
        assert_eq!(
            sent(KeysCommand::Delete { id: id() }),
            (Method::Delete, url.clone(), None)
        );
        assert_eq!(
            sent(KeysCommand::Revoke { id: id() }),
            (Method::Post, format!("{url}/revoke"), None)
        );
        assert_eq!(
            sent(KeysCommand::Activate { id: id() }),
            (Method::Post, format!("{url}/activate"), None)
        );
        assert_eq!(
            sent(KeysCommand::Rotate {
                id: id(),
                grace_seconds: Some(3600)
            }),
            (
                Method::Post,
                format!("{url}/rotate"),
                Some(json!({"grace_seconds": 3600}))
            )
        );
        assert_eq!(
            sent(KeysCommand::RotateWebhookSecret {
                id: id(),
                grace_seconds: Some(60)
            }),
            (
                Method::Post,
                format!("{url}/webhook-secret/rotate"),
                Some(json!({"grace_seconds": 60}))
            )
        );
        assert_eq!(
            sent(KeysCommand::Rotate {
                id: id(),
                grace_seconds: None
            }),
            (Method::Post, format!("{url}/rotate"), Some(json!({})))
        );
        assert_eq!(
            policy_request().url("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/_keygate/v1/policy"
        );
        assert_eq!(policy_request().method.as_str(), "GET");
    }

    #[test]
    fn edit_sends_changes_and_nulls() {
        let edit = |changes: EditArgs| sent(KeysCommand::Edit { id: id(), changes });
        let (method, url, body) = edit(EditArgs {
            name: Some("New".into()),
            scopes: Some(vec!["a:read".into()]),
            per_minute: Some(10),
            per_day: Some(100),
            expires_at: Some("2030-01-01T00:00:00Z".into()),
            metadata: Some(Map::new()),
            webhook: Some("https://h.example/x".into()),
            ..EditArgs::default()
        });
        assert_eq!(method, Method::Patch);
        assert_eq!(url, format!("https://gw.example/_keygate/v1/keys/{ID}"));
        assert_eq!(
            body,
            Some(json!({
                "name": "New",
                "scopes": ["a:read"],
                "limits": {"per_minute": 10, "per_day": 100},
                "expires_at": "2030-01-01T00:00:00Z",
                "metadata": {},
                "rejection_webhook": "https://h.example/x"
            }))
        );
        let (_, _, body) = edit(EditArgs {
            default_limits: true,
            no_expiry: true,
            no_webhook: true,
            ..EditArgs::default()
        });
        assert_eq!(
            body,
            Some(json!({"limits": null, "expires_at": null, "rejection_webhook": null}))
        );
        let (_, _, body) = edit(EditArgs {
            per_day: Some(500),
            ..EditArgs::default()
        });
        assert_eq!(body, Some(json!({"limits": {"per_day": 500}})));
    }

    #[test]
    fn workspace_commands() {
        use crate::workspace::WorkspaceName;
        let acme = || WorkspaceName::parse("acme.eu-1").unwrap();
        let show = workspaces_request(&WorkspacesCommand::Show { workspace: acme() });
        assert_eq!(
            (show.method, show.url("https://gw.example"), show.body),
            (
                Method::Get,
                "https://gw.example/_keygate/v1/workspaces/acme.eu-1".into(),
                None
            )
        );
        let set = workspaces_request(&WorkspacesCommand::SetPlan {
            workspace: acme(),
            plan: "pro".into(),
        });
        assert_eq!(
            (set.method.as_str(), set.url("https://gw.example"), set.body),
            (
                "PUT",
                "https://gw.example/_keygate/v1/workspaces/acme.eu-1".into(),
                Some(json!({"plan": "pro"}))
            )
        );
        let list = |args: WorkspaceListArgs| {
            workspaces_request(&WorkspacesCommand::List(args)).url("https://gw.example")
        };
        assert_eq!(
            list(WorkspaceListArgs::default()),
            "https://gw.example/_keygate/v1/workspaces"
        );
        let args = WorkspaceListArgs {
            limit: Some(5),
            cursor: Some("1700000000000.a&b".into()),
            all: false,
        };
        assert_eq!(
            list(args.clone()),
            "https://gw.example/_keygate/v1/workspaces?limit=5&cursor=1700000000000.a%26b"
        );
        // Later pages replace the starting cursor.
        assert_eq!(
            workspaces_page(&args, Some("next")).query,
            vec![("limit", "5".to_string()), ("cursor", "next".to_string())]
        );
    }

    #[test]
    fn percent_encoding_leaves_only_unreserved_characters() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(
            percent_encode("a b/c?d#e&f=g%"),
            "a%20b%2Fc%3Fd%23e%26f%3Dg%25"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
        for byte in 0u8..0x80 {
            let text = char::from(byte).to_string();
            let kept = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
            let expected = if kept {
                text.clone()
            } else {
                format!("%{byte:02X}")
            };
            assert_eq!(percent_encode(&text), expected, "byte {byte:#04x}");
        }
    }
}
