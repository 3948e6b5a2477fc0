//! Admin API request validation: a JSON body in, a checked value or every field's error out.

use crate::approval::{ApprovalId, ApprovalStatus, APPROVALS_RESOURCE};
use crate::authority::{KeyEdit, KeyRecord, LimitsEdit, Status};
use crate::delegation::{KeysAction, Principal, KEYS_RESOURCE};
use crate::key::{ApiKey, Environment, KeyId};
use crate::limits::{Limits, LimitsError};
use crate::policy::{Action, Policy, RouteTarget};
use crate::problem::{FieldError, GatewayError};
use crate::timestamp::parse_rfc3339;
use serde_json::{Map, Value};

/// The prefix every admin route lives under.
pub const ADMIN_PREFIX: &str = "/_keygate/v1";
/// Admin bodies are small; anything bigger is a mistake or an attack.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;
pub const MAX_NAME_CHARS: usize = 120;
const MAX_METADATA_BYTES: usize = 4 * 1024;
const MAX_WORKSPACE_CHARS: usize = 64;
pub const DEFAULT_WORKSPACE: &str = "default";

const CREATE_FIELDS: &[&str] = &[
    "name",
    "scopes",
    "workspace",
    "expires_at",
    "limits",
    "metadata",
    "rejection_webhook",
    "environment",
];

/// A validated `POST /keys` body.
#[derive(Clone, Debug, PartialEq)]
pub struct NewKey {
    pub name: String,
    pub scopes: Vec<String>,
    /// `None` when the body names none: the acting key's own, or [`DEFAULT_WORKSPACE`].
    pub workspace: Option<String>,
    pub expires_at: Option<u64>,
    pub limits: Option<Limits>,
    pub metadata: Map<String, Value>,
    pub rejection_webhook: Option<String>,
    pub environment: Environment,
}

impl NewKey {
    /// The record for this key, once the Workers layer has drawn its id and secret.
    /// `fallback_workspace` is used when the body named none.
    pub fn into_record(
        self,
        id: KeyId,
        key: &ApiKey,
        now_ms: u64,
        fallback_workspace: &str,
        created_by: Principal,
        family: Option<KeyId>,
    ) -> KeyRecord {
        KeyRecord {
            id,
            name: self.name,
            hint: key.hint(),
            workspace: self
                .workspace
                .unwrap_or_else(|| fallback_workspace.to_string()),
            scopes: self.scopes,
            environment: self.environment,
            created_at: now_ms,
            expires_at: self.expires_at,
            revoked_at: None,
            revoked_by: None,
            created_by: Some(created_by),
            family,
            limits: self.limits,
            metadata: self.metadata,
            rejection_webhook: self.rejection_webhook,
            version: 1,
        }
    }
}

/// Parses and checks a create body. Every field error is reported at once; unknown scopes
/// get their own answer listing the valid ones.
pub fn parse_create(
    body: &[u8],
    policy: &Policy,
    now_ms: u64,
    https_only: bool,
) -> Result<NewKey, GatewayError> {
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| !CREATE_FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.as_str(),
                format!("unknown field; allowed: {}", CREATE_FIELDS.join(", ")),
            )
        })
        .collect();
    let name = collect(&mut errors, name(object.get("name")));
    let scopes = collect(&mut errors, scopes(object.get("scopes")));
    let workspace = match object.get("workspace") {
        None | Some(Value::Null) => Some(None),
        given => collect(&mut errors, workspace(given)).map(Some),
    };
    let expires_at = collect(&mut errors, expires_at(object.get("expires_at"), now_ms));
    let limits = collect(&mut errors, limits(object.get("limits"), policy));
    let metadata = collect(&mut errors, metadata(object.get("metadata")));
    let rejection_webhook = collect(
        &mut errors,
        webhook(object.get("rejection_webhook"), https_only),
    );
    let environment = collect(&mut errors, environment(object.get("environment")));

    match (
        name,
        scopes,
        workspace,
        expires_at,
        limits,
        metadata,
        rejection_webhook,
        environment,
    ) {
        (
            Some(name),
            Some(scopes),
            Some(workspace),
            Some(expires_at),
            Some(limits),
            Some(metadata),
            Some(rejection_webhook),
            Some(environment),
        ) if errors.is_empty() => {
            policy
                .check_scopes(&scopes)
                .map_err(|u| GatewayError::UnknownScopes {
                    unknown: u.unknown,
                    valid: u.valid,
                })?;
            Ok(NewKey {
                name,
                scopes,
                workspace,
                expires_at,
                limits,
                metadata,
                rejection_webhook,
                environment,
            })
        }
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}

const EDIT_FIELDS: &[&str] = &[
    "name",
    "scopes",
    "limits",
    "expires_at",
    "metadata",
    "rejection_webhook",
];

/// Parses and checks a `PATCH /keys/{id}` body: the fields present are replaced; `null`
/// clears `expires_at`, `limits` (back to the policy's defaults), `rejection_webhook` and
/// `metadata`. A missing window in `limits` takes the policy's default, as at create.
pub fn parse_edit(
    body: &[u8],
    policy: &Policy,
    now_ms: u64,
    https_only: bool,
) -> Result<KeyEdit, GatewayError> {
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| !EDIT_FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.as_str(),
                format!("unknown field; editable: {}", EDIT_FIELDS.join(", ")),
            )
        })
        .collect();
    if object.is_empty() {
        errors.push(FieldError::new(
            "body",
            format!(
                "names no field to change; editable: {}",
                EDIT_FIELDS.join(", ")
            ),
        ));
    }
    let field = |name: &str| object.get(name);
    let mut edit = KeyEdit::default();
    if let Some(value) = field("name") {
        edit.name = collect(&mut errors, name(Some(value)));
    }
    if let Some(value) = field("scopes") {
        edit.scopes = collect(&mut errors, scopes(Some(value)));
    }
    if let Some(value) = field("limits") {
        edit.limits = collect(&mut errors, limits_edit(value));
    }
    if let Some(value) = field("expires_at") {
        edit.expires_at = collect(&mut errors, expires_at(Some(value), now_ms));
    }
    if let Some(value) = field("metadata") {
        edit.metadata = collect(&mut errors, metadata(Some(value)));
    }
    if let Some(value) = field("rejection_webhook") {
        edit.rejection_webhook = collect(&mut errors, webhook(Some(value), https_only));
    }
    if !errors.is_empty() {
        return Err(GatewayError::InvalidBody { errors });
    }
    if let Some(scopes) = &edit.scopes {
        policy
            .check_scopes(scopes)
            .map_err(|u| GatewayError::UnknownScopes {
                unknown: u.unknown,
                valid: u.valid,
            })?;
    }
    Ok(edit)
}

/// The longest grace a rotation may give the previous secret: 30 days.
pub const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

/// Parses a rotate body, `{"grace_seconds": N}`, into the grace in milliseconds. An empty
/// body means no grace: the previous secret stops at once.
pub fn parse_rotate(body: &[u8]) -> Result<u64, GatewayError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(0);
    }
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| *k != "grace_seconds")
        .map(|k| FieldError::new(k.as_str(), "unknown field; allowed: grace_seconds"))
        .collect();
    let grace = match object.get("grace_seconds") {
        None | Some(Value::Null) => Some(0),
        Some(value) => {
            match whole_number(value) {
                Some(seconds) if seconds <= MAX_GRACE_SECONDS => Some(seconds),
                _ => {
                    errors.push(FieldError::new(
                    "grace_seconds",
                    format!("must be a whole number of seconds from 0 to {MAX_GRACE_SECONDS} (30 days)"),
                ));
                    None
                }
            }
        }
    };
    match grace {
        Some(seconds) if errors.is_empty() => Ok(seconds * 1_000),
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}

/// What a list holds, by id: keys or approvals.
pub trait ListedId: Sized {
    fn parse(text: &str) -> Option<Self>;
    fn as_str(&self) -> &str;
}

impl ListedId for KeyId {
    fn parse(text: &str) -> Option<KeyId> {
        KeyId::parse(text)
    }
    fn as_str(&self) -> &str {
        KeyId::as_str(self)
    }
}

impl ListedId for ApprovalId {
    fn parse(text: &str) -> Option<ApprovalId> {
        ApprovalId::parse(text)
    }
    fn as_str(&self) -> &str {
        ApprovalId::as_str(self)
    }
}

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

/// Where a list page starts: after this item, in the list's order (newest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor<Id = KeyId> {
    pub created_at: u64,
    pub id: Id,
}

/// The most digits a cursor's time may have. Creation times are milliseconds up to the year
/// 9999 (15 digits), and every 15-digit number is below 2^53, so a cursor of the documented
/// shape always decodes and its time survives the trip through JavaScript numbers exactly.
pub const MAX_CURSOR_TIME_DIGITS: usize = 15;

impl<Id: ListedId> ListCursor<Id> {
    /// `<created_at>.<id>`, e.g. `1700000000000.key_…`. Clients pass it back as is; its
    /// shape is written in openapi.yaml, so a tester can tell a well-formed cursor from
    /// garbage without having been given one.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id.as_str())
    }

    pub fn decode(text: &str) -> Option<ListCursor<Id>> {
        let (created_at, id) = text.split_once('.')?;
        // Digits only: `u64::from_str` would also take a leading `+`.
        let digits = (1..=MAX_CURSOR_TIME_DIGITS).contains(&created_at.len())
            && created_at.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            return None;
        }
        Some(ListCursor {
            created_at: created_at.parse().ok()?,
            id: Id::parse(id)?,
        })
    }
}

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// `GET /keys?status=&workspace=&limit=&cursor=` (or `/approvals`), checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery<S = Status, Id = KeyId> {
    pub status: Option<S>,
    pub workspace: Option<String>,
    pub limit: usize,
    pub cursor: Option<ListCursor<Id>>,
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

/// `GET /approvals?status=&workspace=&limit=&cursor=`, checked.
pub type ApprovalsQuery = ListQuery<ApprovalStatus, ApprovalId>;

/// Parses the query of `GET /keys`. Every bad parameter is reported, by name.
pub fn parse_list_query(query: Option<&str>) -> Result<ListQuery, GatewayError> {
    parse_any_list_query(query)
}

/// Parses the query of `GET /approvals`, with the same rules as [`parse_list_query`].
pub fn parse_approvals_query(query: Option<&str>) -> Result<ApprovalsQuery, GatewayError> {
    parse_any_list_query(query)
}

fn parse_any_list_query<S: ListedStatus, Id: ListedId>(
    query: Option<&str>,
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
            "cursor" => match ListCursor::decode(value) {
                Some(cursor) => list.cursor = Some(cursor),
                None => errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor this API returned; pass `next_cursor` as is",
                )),
            },
            other => errors.push(FieldError::new(
                other,
                "unknown parameter; allowed: status, workspace, limit, cursor",
            )),
        }
    }
    match errors.is_empty() {
        true => Ok(list),
        false => Err(GatewayError::InvalidBody { errors }),
    }
}

/// Every admin route: method and path under [`ADMIN_PREFIX`]. The Worker serves exactly
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
}

impl AdminRoute {
    /// The grant a key needs for this route: a level of `api_keys`, or of `approvals`.
    /// (On an approval it submitted, a key needs no `approvals` grant to read it.)
    pub fn required_grant(&self) -> RouteTarget {
        let keys = |action: KeysAction| RouteTarget {
            resource: KEYS_RESOURCE.to_string(),
            action: action.action(),
        };
        let approvals = |action| RouteTarget {
            resource: APPROVALS_RESOURCE.to_string(),
            action,
        };
        match self {
            AdminRoute::ListKeys | AdminRoute::GetKey(_) | AdminRoute::Policy => {
                keys(KeysAction::Read)
            }
            AdminRoute::CreateKey
            | AdminRoute::EditKey(_)
            | AdminRoute::ActivateKey(_)
            | AdminRoute::RotateKey(_)
            | AdminRoute::RotateWebhookSecret(_) => keys(KeysAction::Write),
            AdminRoute::RevokeKey(_) | AdminRoute::DeleteKey(_) => keys(KeysAction::Delete),
            AdminRoute::ListApprovals | AdminRoute::GetApproval(_) => approvals(Action::Read),
            AdminRoute::Approve(_) | AdminRoute::Reject(_) => approvals(Action::Write),
        }
    }
}

/// Finds the route for `method` and `path` (the part after [`ADMIN_PREFIX`]). A path that
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
        _ => return Err(GatewayError::NotFound),
    };
    // An id that cannot exist is a 404 whatever the method.
    let possible = match (segments.first(), id) {
        (_, None) => true,
        (Some(&"keys"), Some(text)) => KeyId::parse(text).is_some(),
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
        _ => return Err(GatewayError::NotFound),
    })
}

/// Keeps a field's value, or records its error so every bad field is reported at once.
fn collect<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A JSON number that is a whole number at least 0, whichever way it is written: JSON
/// Schema's `integer` counts `374`, `374.0` and `3.74e2` alike, so the document's integer
/// fields accept all of them. Fractions, negatives and non-numbers are `None`.
fn whole_number(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let n = value.as_f64()?;
    // `as` saturates: a whole number past `u64::MAX` (e.g. `1e300`) becomes `u64::MAX`,
    // beyond every bound, so it is refused as out of range. `-0.0` is 0.
    (n.fract() == 0.0 && n >= 0.0).then_some(n as u64)
}

pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    let invalid = |message: String| GatewayError::InvalidBody {
        errors: vec![FieldError::new("body", message)],
    };
    if body.len() > MAX_ADMIN_BODY_BYTES {
        return Err(GatewayError::PayloadTooLarge {
            max_bytes: MAX_ADMIN_BODY_BYTES as u64,
            bound: crate::problem::BodyBound::Admin,
        });
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("must be a JSON object".into())),
        Err(e) => Err(invalid(format!("is not valid JSON ({e})"))),
    }
}

fn name(value: Option<&Value>) -> Result<String, FieldError> {
    let error = |m: &str| FieldError::new("name", m);
    let text = match value {
        None | Some(Value::Null) => return Err(error("is required")),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(error("must be a string")),
    };
    if text.is_empty() {
        return Err(error("must not be empty"));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(error(&format!(
            "must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(error(
            "must not contain control characters such as line breaks",
        ));
    }
    Ok(text.to_string())
}

fn scopes(value: Option<&Value>) -> Result<Vec<String>, FieldError> {
    let error = |m: &str| FieldError::new("scopes", m);
    let list = match value {
        None | Some(Value::Null) => return Err(error("is required: a list of at least one scope")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(error("must be a list of scope strings")),
    };
    let mut scopes: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        match item.as_str() {
            Some(s) if !scopes.iter().any(|seen| seen == s) => scopes.push(s.to_string()),
            Some(_) => {}
            None => return Err(error("must contain only strings")),
        }
    }
    if scopes.is_empty() {
        return Err(error("must contain at least one scope"));
    }
    Ok(scopes)
}

fn workspace(value: Option<&Value>) -> Result<String, FieldError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_WORKSPACE.to_string()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(FieldError::new("workspace", "must be a string")),
    };
    let valid = (1..=MAX_WORKSPACE_CHARS).contains(&text.len())
        && text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        return Err(FieldError::new(
            "workspace",
            format!("must be 1 to {MAX_WORKSPACE_CHARS} characters of letters, digits, `_`, `.` or `-`, starting with a letter or digit"),
        ));
    }
    Ok(text.clone())
}

fn expires_at(value: Option<&Value>, now_ms: u64) -> Result<Option<u64>, FieldError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(FieldError::new(
                "expires_at",
                "must be an RFC 3339 timestamp string",
            ))
        }
    };
    let at = parse_rfc3339(text).map_err(|m| FieldError::new("expires_at", m))?;
    if at <= now_ms {
        return Err(FieldError::new("expires_at", "must be in the future"));
    }
    Ok(Some(at))
}

fn limits(value: Option<&Value>, policy: &Policy) -> Result<Option<Limits>, FieldError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(FieldError::new(
                "limits",
                "must be an object with per_minute and/or per_day",
            ))
        }
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| *k != "per_minute" && *k != "per_day")
    {
        return Err(FieldError::new(
            format!("limits.{unknown}"),
            "unknown field; allowed: per_minute, per_day",
        ));
    }
    let defaults = policy.default_limits();
    let count = |field: &str, default: u32| -> Result<u64, FieldError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(u64::from(default)),
            Some(v) => whole_number(v).ok_or_else(|| {
                FieldError::new(
                    format!("limits.{field}"),
                    "must be a whole number of at least 1",
                )
            }),
        }
    };
    let given = |field: &str| object.get(field).is_some_and(|v| !v.is_null());
    if !given("per_minute") && !given("per_day") {
        // Nothing to override: keep following the policy's defaults, even as they change.
        return Ok(None);
    }
    let per_minute = count("per_minute", defaults.per_minute.get())?;
    let per_day = count("per_day", defaults.per_day.get())?;
    Limits::new(per_minute, per_day).map(Some).map_err(|e| {
        let message = match e {
            LimitsError::MinuteAboveDay { .. } if !given("per_minute") => format!(
                "per_day ({per_day}) is below the policy's default per_minute ({per_minute}); set per_minute too"
            ),
            other => other.to_string(),
        };
        FieldError::new("limits", message)
    })
}

/// An edit's `limits`: `null` goes back to the policy's defaults; an object sets the
/// windows it names and keeps the other at the key's current value (checked by the key's
/// authority, which knows it).
fn limits_edit(value: &Value) -> Result<LimitsEdit, FieldError> {
    let object = match value {
        Value::Null => return Ok(LimitsEdit::PolicyDefaults),
        Value::Object(o) => o,
        _ => return Err(FieldError::new(
            "limits",
            "must be an object with per_minute and/or per_day, or null for the policy's defaults",
        )),
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| *k != "per_minute" && *k != "per_day")
    {
        return Err(FieldError::new(
            format!("limits.{unknown}"),
            "unknown field; allowed: per_minute, per_day",
        ));
    }
    let window = |field: &str, max: u32| -> Result<Option<u64>, FieldError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => whole_number(v)
                .filter(|n| (1..=u64::from(max)).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    FieldError::new(
                        format!("limits.{field}"),
                        format!("must be a whole number from 1 to {max}"),
                    )
                }),
        }
    };
    let per_minute = window("per_minute", crate::limits::MAX_PER_MINUTE)?;
    let per_day = window("per_day", crate::limits::MAX_PER_DAY)?;
    match (per_minute, per_day) {
        (None, None) => Err(FieldError::new(
            "limits",
            "names no window; give per_minute and/or per_day, or null for the policy's defaults",
        )),
        (Some(minute), Some(day)) if minute > day => Err(FieldError::new(
            "limits",
            format!("per_minute ({minute}) must not exceed per_day ({day})"),
        )),
        _ => Ok(LimitsEdit::Set {
            per_minute,
            per_day,
        }),
    }
}

fn metadata(value: Option<&Value>) -> Result<Map<String, Value>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => {
            let size = serde_json::to_string(o).map_or(usize::MAX, |s| s.len());
            if size > MAX_METADATA_BYTES {
                return Err(FieldError::new(
                    "metadata",
                    format!("must be at most {MAX_METADATA_BYTES} bytes as JSON"),
                ));
            }
            Ok(o.clone())
        }
        Some(_) => Err(FieldError::new("metadata", "must be a JSON object")),
    }
}

/// HTTPS to a host name or a public address; loopback (by any spelling, and plain HTTP to
/// it) only while HTTPS-only is off, for local testing. See [`crate::webhook::address`].
fn webhook(value: Option<&Value>, https_only: bool) -> Result<Option<String>, FieldError> {
    use crate::webhook::address::{receiver_host, ReceiverHost};
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(FieldError::new("rejection_webhook", "must be a URL string")),
    };
    let error = |m: &str| Err(FieldError::new("rejection_webhook", m));
    // Hook URLs often carry a token in the query; a fragment never reaches a server.
    if text.contains('#') {
        return error("must not contain a fragment (`#`)");
    }
    if text.contains(char::is_whitespace) {
        return error("must not contain spaces");
    }
    let without_query = text.split_once('?').map_or(text.as_str(), |(base, _)| base);
    if let Err(m) = crate::config::Origin::parse(without_query) {
        return error(&m);
    }
    if text.len() > 2048 {
        return error("must be at most 2048 characters");
    }
    let host = match receiver_host(text) {
        Ok(host) => host,
        Err(m) => return error(&m),
    };
    let loopback = host == ReceiverHost::Loopback;
    if !text.starts_with("https://") {
        if https_only {
            return error("must be an https:// URL");
        }
        if !loopback {
            return error("must be an https:// URL (plain http:// is accepted only for loopback hosts while HTTPS-only is off)");
        }
    }
    match host {
        ReceiverHost::Forbidden(range) => error(&format!(
            "must not point at {range}: a webhook must reach a public receiver"
        )),
        ReceiverHost::Loopback if https_only => error(
            "must not point at this machine (localhost or a loopback address) while HTTPS-only is on",
        ),
        _ => Ok(Some(text.clone())),
    }
}

fn environment(value: Option<&Value>) -> Result<Environment, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(Environment::Live),
        Some(Value::String(s)) if s == "live" => Ok(Environment::Live),
        Some(Value::String(s)) if s == "test" => Ok(Environment::Test),
        Some(_) => Err(FieldError::new("environment", "must be `live` or `test`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{hash_key, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
    use crate::timestamp::format_rfc3339;
    use proptest::prelude::*;
    use serde_json::json;

    /// 2030-03-17T17:46:40Z.
    const NOW: u64 = 1_900_000_000_000;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("demo policy parses")
    }

    fn parse_with(body: &Value, https_only: bool) -> Result<NewKey, GatewayError> {
        parse_create(body.to_string().as_bytes(), &policy(), NOW, https_only)
    }

    fn parse(body: &Value) -> Result<NewKey, GatewayError> {
        parse_with(body, true)
    }

    /// The smallest valid body, with `field` set to `value`.
    fn with(field: &str, value: Value) -> Value {
        let mut body = json!({"name": "Zapier", "scopes": ["contacts:read"]});
        body[field] = value;
        body
    }

    fn without(field: &str) -> Value {
        let mut body = with("name", json!("Zapier"));
        body.as_object_mut().unwrap().remove(field);
        body
    }

    fn field_errors<T: std::fmt::Debug>(result: Result<T, GatewayError>) -> Vec<FieldError> {
        match result {
            Err(GatewayError::InvalidBody { errors }) => errors,
            other => panic!("expected InvalidBody, got {other:?}"),
        }
    }

    /// The body is refused for exactly one reason, on `field`; returns its message.
    fn refused_on<T: std::fmt::Debug>(field: &str, result: Result<T, GatewayError>) -> String {
        let errors = field_errors(result);
        match errors.as_slice() {
            [one] if one.field == field => one.message.clone(),
            _ => panic!("expected one error on `{field}`, got {errors:?}"),
        }
    }

    fn at(ms: u64) -> Value {
        json!(format_rfc3339(ms))
    }

    // --- whole bodies ---------------------------------------------------------------

    #[test]
    fn a_full_body_sets_every_field() {
        let body = json!({
            "name": "  Claude Desktop — prod  ",
            "scopes": ["contacts:write", "email:send-approval", "read:all"],
            "workspace": "acme-prod_1.eu",
            "expires_at": "2030-12-31T23:59:59Z",
            "limits": {"per_minute": 10, "per_day": 1000},
            "metadata": {"team": "growth", "cost_center": 42, "tags": ["a", "b"]},
            "rejection_webhook": "https://hooks.example.com/keygate/rejected",
            "environment": "test",
        });
        let new_key = parse(&body).unwrap();
        assert_eq!(
            new_key,
            NewKey {
                name: "Claude Desktop — prod".into(),
                scopes: vec![
                    "contacts:write".into(),
                    "email:send-approval".into(),
                    "read:all".into()
                ],
                workspace: Some("acme-prod_1.eu".into()),
                expires_at: Some(1_924_991_999_000),
                limits: Some(Limits::new(10, 1000).unwrap()),
                metadata: body["metadata"].as_object().unwrap().clone(),
                rejection_webhook: Some("https://hooks.example.com/keygate/rejected".into()),
                environment: Environment::Test,
            }
        );
    }

    #[test]
    fn omitted_and_null_fields_take_their_defaults() {
        let expected = NewKey {
            name: "Zapier".into(),
            scopes: vec!["contacts:read".into()],
            // No workspace named: the record gets the acting key's own, or the default.
            workspace: None,
            expires_at: None,
            limits: None,
            metadata: Map::new(),
            rejection_webhook: None,
            environment: Environment::Live,
        };
        assert_eq!(DEFAULT_WORKSPACE, "default");
        assert_eq!(parse(&with("name", json!("Zapier"))).unwrap(), expected);
        let nulls = json!({
            "name": "Zapier", "scopes": ["contacts:read"], "workspace": null,
            "expires_at": null, "limits": null, "metadata": null,
            "rejection_webhook": null, "environment": null,
        });
        assert_eq!(parse(&nulls).unwrap(), expected);
        let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
        let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
        let record = expected.into_record(id, &key, NOW, DEFAULT_WORKSPACE, Principal::Root, None);
        assert_eq!(record.workspace, "default");
    }

    #[test]
    fn into_record_builds_a_fresh_active_record() {
        let new_key = parse(&with("workspace", json!("acme"))).unwrap();
        let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
        let hash = hash_key(&HashingSecret::new(b"secret".to_vec()), &key);
        let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
        // A workspace named in the body wins over the fallback.
        let record =
            new_key
                .clone()
                .into_record(id.clone(), &key, NOW, "fallback", Principal::Root, None);
        assert_eq!(record.id, id);
        assert_eq!(record.name, new_key.name);
        assert_eq!(record.hint, key.hint());
        assert_eq!(record.workspace, "acme");
        assert_eq!(record.scopes, new_key.scopes);
        assert_eq!(record.created_at, NOW);
        assert_eq!(record.revoked_at, None);
        assert_eq!(record.version, 1);
        assert_eq!(record.expires_at, new_key.expires_at);
        assert_eq!(record.limits, new_key.limits);
        assert_eq!(record.environment, new_key.environment);
        // Neither the key nor its hash is in the record: the authority keeps the hash apart.
        let hex = &hash.index_name()[3..];
        for text in [
            format!("{record:?}"),
            serde_json::to_string(&record).unwrap(),
        ] {
            assert!(!text.contains(key.expose()), "{text}");
            assert!(!text.contains(hex), "{text}");
        }

        // No workspace named: the fallback (the acting key's own workspace).
        let unnamed = parse(&with("name", json!("Zapier"))).unwrap();
        assert_eq!(unnamed.workspace, None);
        let record = unnamed.into_record(id, &key, NOW, "acme-team", Principal::Root, None);
        assert_eq!(record.workspace, "acme-team");
    }

    #[test]
    fn unknown_top_level_fields_are_each_named() {
        let mut body = with("scope", json!("contacts:read"));
        body["expiry"] = json!("2031-01-01T00:00:00Z");
        let errors = field_errors(parse(&body));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["expiry", "scope"]);
        assert!(errors[0].message.contains("allowed: name, scopes"));
    }

    #[test]
    fn every_bad_field_is_reported_in_one_answer() {
        let body = json!({
            "name": "",
            "scopes": [],
            "workspace": "no spaces",
            "expires_at": "tomorrow",
            "limits": {"per_minute": 0},
            "metadata": [],
            "rejection_webhook": "ftp://example.com",
            "environment": "prod",
            "colour": "blue",
        });
        let errors = field_errors(parse(&body));
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "colour",
                "environment",
                "expires_at",
                "limits",
                "metadata",
                "name",
                "rejection_webhook",
                "scopes",
                "workspace"
            ]
        );
    }

    #[test]
    fn unknown_scopes_are_listed_with_the_valid_ones() {
        let body = with(
            "scopes",
            json!([
                "contacts:read",
                "contacts:admin",
                "billing:read",
                "contacts:admin"
            ]),
        );
        match parse(&body) {
            Err(GatewayError::UnknownScopes { unknown, valid }) => {
                assert_eq!(unknown, ["contacts:admin", "billing:read"]);
                assert_eq!(valid, policy().valid_scopes());
                assert!(valid.iter().any(|s| s == "contacts:read"));
                assert!(valid.iter().any(|s| s == "admin"));
            }
            other => panic!("expected UnknownScopes, got {other:?}"),
        }
        // Field errors come first: an unknown scope is not reported next to a bad field.
        let mut body = with("scopes", json!(["billing:read"]));
        body["name"] = json!("");
        assert_eq!(refused_on("name", parse(&body)), "must not be empty");
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_refused_on_body() {
        for body in [
            &b"[]"[..],
            b"\"a string\"",
            b"42",
            b"null",
            b"",
            b"{",
            b"{\"name\": }",
            b"\xff\xfe",
            b"{\"name\": \"a\"} trailing",
        ] {
            let errors = field_errors(parse_create(body, &policy(), NOW, true));
            assert_eq!(errors.len(), 1, "{body:?}");
            assert_eq!(errors[0].field, "body", "{body:?}");
        }
        let errors = field_errors(parse_create(b"[1]", &policy(), NOW, true));
        assert_eq!(errors[0].message, "must be a JSON object");
    }

    #[test]
    fn bodies_over_64_kib_are_refused_before_parsing() {
        let base = with("name", json!("Zapier")).to_string();
        let padded = |total: usize| format!("{base}{}", " ".repeat(total - base.len()));
        let at_limit = padded(MAX_ADMIN_BODY_BYTES);
        assert!(parse_create(at_limit.as_bytes(), &policy(), NOW, true).is_ok());
        let code = |body: &[u8]| {
            parse_create(body, &policy(), NOW, true)
                .err()
                .map(|e| e.code())
        };
        let over = padded(MAX_ADMIN_BODY_BYTES + 1);
        assert_eq!(code(over.as_bytes()), Some("payload_too_large"));
        // Even an invalid body is refused for its size, not parsed.
        let junk = vec![b'x'; MAX_ADMIN_BODY_BYTES + 1];
        assert_eq!(code(&junk), Some("payload_too_large"));
    }

    // --- name -----------------------------------------------------------------------

    #[test]
    fn name_is_required_non_empty_and_trimmed() {
        assert_eq!(refused_on("name", parse(&without("name"))), "is required");
        assert_eq!(
            refused_on("name", parse(&with("name", json!(null)))),
            "is required"
        );
        for empty in ["", "   ", "\t\n"] {
            assert_eq!(
                refused_on("name", parse(&with("name", json!(empty)))),
                "must not be empty"
            );
        }
        for not_string in [json!(1), json!(["a"]), json!({}), json!(true)] {
            assert_eq!(
                refused_on("name", parse(&with("name", not_string))),
                "must be a string"
            );
        }
        assert_eq!(
            parse(&with("name", json!("  CI bot \n"))).unwrap().name,
            "CI bot"
        );
    }

    #[test]
    fn name_is_at_most_120_characters() {
        let ok = "é".repeat(120);
        assert_eq!(parse(&with("name", json!(ok))).unwrap().name, ok);
        let long = "a".repeat(121);
        assert_eq!(
            refused_on("name", parse(&with("name", json!(long)))),
            "must be at most 120 characters"
        );
        refused_on("name", parse(&with("name", json!("é".repeat(121)))));
    }

    #[test]
    fn name_refuses_control_characters() {
        for bad in [
            "line\nbreak",
            "tab\there",
            "nul\u{0}",
            "bell\u{7}",
            "del\u{7f}x",
            "c1\u{85}x",
        ] {
            let message = refused_on("name", parse(&with("name", json!(bad))));
            assert!(message.contains("control characters"), "{bad:?}: {message}");
        }
    }

    // --- scopes ---------------------------------------------------------------------

    #[test]
    fn scopes_must_be_a_non_empty_list_of_strings() {
        assert!(refused_on("scopes", parse(&without("scopes"))).starts_with("is required"));
        assert!(
            refused_on("scopes", parse(&with("scopes", json!(null)))).starts_with("is required")
        );
        assert_eq!(
            refused_on("scopes", parse(&with("scopes", json!([])))),
            "must contain at least one scope"
        );
        for not_list in [
            json!("contacts:read"),
            json!({"contacts": "read"}),
            json!(1),
        ] {
            assert_eq!(
                refused_on("scopes", parse(&with("scopes", not_list))),
                "must be a list of scope strings"
            );
        }
        for not_strings in [
            json!([1]),
            json!(["contacts:read", null]),
            json!([["admin"]]),
        ] {
            assert_eq!(
                refused_on("scopes", parse(&with("scopes", not_strings))),
                "must contain only strings"
            );
        }
    }

    #[test]
    fn duplicate_scopes_collapse_in_order() {
        let body = with(
            "scopes",
            json!([
                "tags:read",
                "contacts:read",
                "tags:read",
                "contacts:read",
                "tags:read"
            ]),
        );
        assert_eq!(parse(&body).unwrap().scopes, ["tags:read", "contacts:read"]);
    }

    // --- workspace ------------------------------------------------------------------

    #[test]
    fn workspace_is_1_to_64_safe_characters_starting_alphanumeric() {
        for ok in ["a", "Acme", "acme-prod_1.eu", "9lives", &"w".repeat(64)] {
            assert_eq!(
                parse(&with("workspace", json!(ok))).unwrap().workspace,
                Some(ok.to_string())
            );
        }
        let too_long = "w".repeat(65);
        for bad in [
            "",
            "-acme",
            "_acme",
            ".acme",
            "ac me",
            "acme/other",
            "acme:1",
            "ünïcode",
            "acme\n",
            too_long.as_str(),
        ] {
            let message = refused_on("workspace", parse(&with("workspace", json!(bad))));
            assert!(message.contains("1 to 64 characters"), "{bad:?}: {message}");
        }
        assert_eq!(
            refused_on("workspace", parse(&with("workspace", json!(7)))),
            "must be a string"
        );
    }

    // --- expires_at -----------------------------------------------------------------

    #[test]
    fn expires_at_must_be_an_rfc_3339_string() {
        for bad in [
            "tomorrow",
            "2031-01-01",
            "2031-01-01 00:00:00",
            "1900000000",
            "2031-13-01T00:00:00Z",
        ] {
            let message = refused_on("expires_at", parse(&with("expires_at", json!(bad))));
            assert!(message.contains("RFC 3339"), "{bad:?}: {message}");
        }
        for not_string in [json!(NOW + 1_000), json!(true), json!({})] {
            refused_on("expires_at", parse(&with("expires_at", not_string)));
        }
        assert!(refused_on(
            "expires_at",
            parse(&with("expires_at", json!("1969-12-31T23:59:59Z")))
        )
        .contains("1970"));
    }

    #[test]
    fn expires_at_must_be_strictly_in_the_future() {
        for not_future in [NOW - 86_400_000, NOW - 1_000, NOW] {
            assert_eq!(
                refused_on("expires_at", parse(&with("expires_at", at(not_future)))),
                "must be in the future"
            );
        }
        // Within the same second as now, but later: accepted at millisecond precision.
        assert_eq!(
            parse(&with("expires_at", json!("2030-03-17T17:46:40.001Z")))
                .unwrap()
                .expires_at,
            Some(NOW + 1)
        );
        assert_eq!(
            parse(&with("expires_at", json!("2030-03-17T19:46:41+02:00")))
                .unwrap()
                .expires_at,
            Some(NOW + 1_000)
        );
    }

    // --- limits ---------------------------------------------------------------------

    #[test]
    fn limits_are_whole_numbers_of_at_least_one() {
        for (value, field) in [
            (json!({"per_minute": 0, "per_day": 10}), "limits"),
            (json!({"per_minute": 1, "per_day": 0}), "limits"),
            (
                json!({"per_minute": -1, "per_day": 10}),
                "limits.per_minute",
            ),
            (json!({"per_minute": 1, "per_day": -10}), "limits.per_day"),
            (
                json!({"per_minute": 1.5, "per_day": 10}),
                "limits.per_minute",
            ),
            (
                json!({"per_minute": 1.25e0, "per_day": 10}),
                "limits.per_minute",
            ),
            (
                json!({"per_minute": -1.0, "per_day": 10}),
                "limits.per_minute",
            ),
            (json!({"per_minute": 1, "per_day": 1e300}), "limits"),
            (
                json!({"per_minute": "5", "per_day": 10}),
                "limits.per_minute",
            ),
            (json!({"per_minute": 1, "per_day": true}), "limits.per_day"),
            (
                json!({"per_minute": 1_000_001, "per_day": 2_000_000}),
                "limits",
            ),
            (
                json!({"per_minute": 1, "per_day": 1_000_000_001u64}),
                "limits",
            ),
            (
                json!({"per_minute": u64::MAX, "per_day": u64::MAX}),
                "limits",
            ),
        ] {
            refused_on(field, parse(&with("limits", value)));
        }
        assert!(
            refused_on("limits", parse(&with("limits", json!({"per_minute": 0}))))
                .contains("per_minute must be between 1 and")
        );
    }

    #[test]
    fn limits_refuse_unknown_fields_and_non_objects() {
        assert_eq!(
            refused_on(
                "limits.burst",
                parse(&with("limits", json!({"per_minute": 5, "burst": 10})))
            ),
            "unknown field; allowed: per_minute, per_day"
        );
        for not_object in [json!(5), json!([5, 10]), json!("5/min")] {
            refused_on("limits", parse(&with("limits", not_object)));
        }
    }

    #[test]
    fn per_minute_may_not_exceed_per_day() {
        let message = refused_on(
            "limits",
            parse(&with("limits", json!({"per_minute": 11, "per_day": 10}))),
        );
        assert_eq!(message, "per_minute (11) must not exceed per_day (10)");
        assert_eq!(
            parse(&with("limits", json!({"per_minute": 10, "per_day": 10})))
                .unwrap()
                .limits,
            Some(Limits::new(10, 10).unwrap())
        );
    }

    #[test]
    fn partial_limits_fill_from_the_policy_defaults() {
        let defaults = policy().default_limits();
        assert_eq!(defaults, Limits::new(120, 50_000).unwrap());
        let limits = |value: Value| parse(&with("limits", value)).unwrap().limits;
        assert_eq!(
            limits(json!({"per_minute": 5})),
            Some(Limits::new(5, 50_000).unwrap())
        );
        assert_eq!(
            limits(json!({"per_day": 1_000})),
            Some(Limits::new(120, 1_000).unwrap())
        );
        assert_eq!(
            limits(json!({"per_minute": 7, "per_day": null})),
            Some(Limits::new(7, 50_000).unwrap())
        );
        // An empty object, like null, overrides nothing: the key follows the policy.
        assert_eq!(limits(json!({})), None);
        assert_eq!(limits(json!({"per_minute": null})), None);
        assert_eq!(limits(json!(null)), None);
        // A per_day below the default per_minute says where the 120 came from.
        assert_eq!(
            refused_on("limits", parse(&with("limits", json!({"per_day": 100})))),
            "per_day (100) is below the policy's default per_minute (120); set per_minute too"
        );
    }

    // --- metadata -------------------------------------------------------------------

    #[test]
    fn metadata_is_an_object_of_at_most_4_kib() {
        for not_object in [json!([]), json!("team=growth"), json!(1), json!(true)] {
            assert_eq!(
                refused_on("metadata", parse(&with("metadata", not_object))),
                "must be a JSON object"
            );
        }
        // {"k":"…"} is 8 bytes plus the value.
        let fits = json!({"k": "x".repeat(MAX_METADATA_BYTES - 8)});
        assert_eq!(fits.to_string().len(), MAX_METADATA_BYTES);
        assert_eq!(
            parse(&with("metadata", fits.clone())).unwrap().metadata,
            *fits.as_object().unwrap()
        );
        let over = json!({"k": "x".repeat(MAX_METADATA_BYTES - 7)});
        assert_eq!(
            refused_on("metadata", parse(&with("metadata", over))),
            "must be at most 4096 bytes as JSON"
        );
        let nested = json!({"a": {"b": [1, 2.5, null, {"c": "d"}]}});
        assert_eq!(
            parse(&with("metadata", nested.clone())).unwrap().metadata,
            *nested.as_object().unwrap()
        );
    }

    // --- rejection_webhook ----------------------------------------------------------

    #[test]
    fn https_webhooks_are_accepted_in_every_mode() {
        for url in [
            "https://hooks.example.com/rejected",
            "https://hooks.example.com",
            "https://hooks.example.com:8443/a/b",
            "https://203.0.113.7/r",
            "https://[2001:db8::7]/r",
        ] {
            for https_only in [true, false] {
                assert_eq!(
                    parse_with(&with("rejection_webhook", json!(url)), https_only)
                        .unwrap()
                        .rejection_webhook
                        .as_deref(),
                    Some(url)
                );
            }
        }
    }

    #[test]
    fn plain_http_webhooks_only_for_loopback_while_https_only_is_off() {
        for url in [
            "http://localhost/hook",
            "http://localhost:8787/hook",
            "http://127.0.0.1:9000/hook",
            "http://127.0.0.1",
            "http://[::1]:8080/hook",
            "http://[::1]/hook",
        ] {
            let body = with("rejection_webhook", json!(url));
            assert_eq!(
                parse_with(&body, false)
                    .unwrap()
                    .rejection_webhook
                    .as_deref(),
                Some(url)
            );
            assert_eq!(
                refused_on("rejection_webhook", parse_with(&body, true)),
                "must be an https:// URL"
            );
        }
    }

    #[test]
    fn webhooks_at_private_link_local_or_metadata_addresses_are_refused_in_every_mode() {
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/r",
            "https://172.16.0.1/r",
            "https://192.168.1.1/r",
            "https://100.64.0.1/r",
            "https://0.0.0.0/r",
            "https://[fc00::1]/r",
            "https://[fe80::1]/r",
            "https://[::ffff:169.254.169.254]/r",
            "https://[::ffff:10.0.0.1]/r",
            "https://2852039166/r",
            "https://0xa9.0xfe.0xa9.0xfe/r",
        ] {
            for https_only in [true, false] {
                let message = refused_on(
                    "rejection_webhook",
                    parse_with(&with("rejection_webhook", json!(url)), https_only),
                );
                assert!(message.starts_with("must not point at"), "{url}: {message}");
            }
        }
    }

    #[test]
    fn loopback_in_any_spelling_only_while_https_only_is_off() {
        for url in [
            "https://127.0.0.1/r",
            "https://localhost/r",
            "https://[::1]/r",
            "https://[::ffff:127.0.0.1]/r",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://127.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
        ] {
            let body = with("rejection_webhook", json!(url));
            let message = refused_on("rejection_webhook", parse_with(&body, true));
            assert!(
                message.starts_with("must not point at this machine")
                    || message == "must be an https:// URL",
                "{url}: {message}"
            );
            assert_eq!(
                parse_with(&body, false)
                    .unwrap()
                    .rejection_webhook
                    .as_deref(),
                Some(url)
            );
        }
    }

    #[test]
    fn plain_http_to_other_hosts_is_refused() {
        for url in [
            "http://hooks.example.com/r",
            "http://10.0.0.1/r",
            "http://localhost.example.com/r",
            "http://128.0.0.1/r",
            "http://[::2]/r",
        ] {
            for https_only in [true, false] {
                let message = refused_on(
                    "rejection_webhook",
                    parse_with(&with("rejection_webhook", json!(url)), https_only),
                );
                assert!(
                    message.starts_with("must be an https:// URL"),
                    "{url}: {message}"
                );
            }
        }
        // A loopback name with a broken port is refused for the port, before the scheme rule.
        for https_only in [true, false] {
            let message = refused_on(
                "rejection_webhook",
                parse_with(
                    &with("rejection_webhook", json!("http://localhost:abc/r")),
                    https_only,
                ),
            );
            assert!(message.contains("port"), "{message}");
        }
    }

    #[test]
    fn plain_http_to_a_dns_name_that_starts_with_127_is_refused() {
        for url in [
            "http://127.0.0.1.evil.com/",
            "http://127.0.0.1.nip.io/hook",
            "http://127.evil.com/",
            "http://127.0.0.1:80.evil.com/",
        ] {
            let result = parse_with(&with("rejection_webhook", json!(url)), false);
            assert!(
                matches!(result, Err(GatewayError::InvalidBody { .. })),
                "{url} accepted as loopback: {result:?}"
            );
        }
    }

    #[test]
    fn webhooks_without_a_host_are_refused() {
        for url in [
            "https://:443",
            "https://:443/r",
            "https://:8443/r",
            "https://:/r",
        ] {
            let result = parse(&with("rejection_webhook", json!(url)));
            assert!(
                matches!(result, Err(GatewayError::InvalidBody { .. })),
                "{url} accepted without a host: {result:?}"
            );
        }
    }

    #[test]
    fn webhooks_with_user_info_or_other_shapes_are_refused() {
        for url in [
            "https://user:pass@hooks.example.com/r",
            "https://user@hooks.example.com/r",
            "http://localhost@evil.com/r",
            "http://127.0.0.1:8080@evil.com/",
            "ftp://hooks.example.com/r",
            "hooks.example.com/r",
            "https://",
            "https:///path",
            "https://hooks.example.com/r#frag",
            "https://hooks.example.com/a b",
            "https://hooks.example.com/r?token=a b",
            "HTTPS://hooks.example.com/r",
            "",
        ] {
            for https_only in [true, false] {
                refused_on(
                    "rejection_webhook",
                    parse_with(&with("rejection_webhook", json!(url)), https_only),
                );
            }
        }
        // Hook URLs commonly carry a token in the query: that is accepted.
        let with_token = "https://hooks.example.com/r?token=abc&v=2";
        assert_eq!(
            parse(&with("rejection_webhook", json!(with_token)))
                .unwrap()
                .rejection_webhook
                .as_deref(),
            Some(with_token)
        );
        let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
        assert_eq!(
            refused_on(
                "rejection_webhook",
                parse(&with("rejection_webhook", json!(long)))
            ),
            "must be at most 2048 characters"
        );
        for not_string in [json!(1), json!(["https://a.example"]), json!({"url": "x"})] {
            assert_eq!(
                refused_on(
                    "rejection_webhook",
                    parse(&with("rejection_webhook", not_string))
                ),
                "must be a URL string"
            );
        }
    }

    // --- environment ----------------------------------------------------------------

    #[test]
    fn environment_is_live_or_test() {
        assert_eq!(
            parse(&with("environment", json!("live")))
                .unwrap()
                .environment,
            Environment::Live
        );
        assert_eq!(
            parse(&with("environment", json!("test")))
                .unwrap()
                .environment,
            Environment::Test
        );
        for bad in [
            json!("prod"),
            json!("LIVE"),
            json!(" test"),
            json!(""),
            json!(1),
            json!(["live"]),
        ] {
            assert_eq!(
                refused_on("environment", parse(&with("environment", bad))),
                "must be `live` or `test`"
            );
        }
    }

    // --- edit bodies ----------------------------------------------------------------

    fn parse_edit_with(body: &Value, https_only: bool) -> Result<KeyEdit, GatewayError> {
        parse_edit(body.to_string().as_bytes(), &policy(), NOW, https_only)
    }

    fn edit_of(body: Value) -> Result<KeyEdit, GatewayError> {
        parse_edit_with(&body, true)
    }

    const EDITABLE: &str = "name, scopes, limits, expires_at, metadata, rejection_webhook";

    #[test]
    fn an_edit_sets_only_the_fields_it_names() {
        assert_eq!(
            edit_of(json!({"name": "  Renamed \n"})).unwrap(),
            KeyEdit {
                name: Some("Renamed".into()),
                ..KeyEdit::default()
            }
        );
        assert_eq!(
            edit_of(json!({"scopes": ["tags:read", "contacts:read", "tags:read"]})).unwrap(),
            KeyEdit {
                scopes: Some(vec!["tags:read".into(), "contacts:read".into()]),
                ..KeyEdit::default()
            }
        );
        let every = json!({
            "name": "Renamed",
            "scopes": ["contacts:write"],
            "limits": {"per_minute": 5},
            "expires_at": "2030-12-31T23:59:59Z",
            "metadata": {"team": "growth"},
            "rejection_webhook": "https://hooks.example.com/r",
        });
        assert_eq!(
            edit_of(every.clone()).unwrap(),
            KeyEdit {
                name: Some("Renamed".into()),
                scopes: Some(vec!["contacts:write".into()]),
                // A missing window keeps the key's current value (resolved by its authority).
                limits: Some(LimitsEdit::Set {
                    per_minute: Some(5),
                    per_day: None
                }),
                expires_at: Some(Some(1_924_991_999_000)),
                metadata: Some(every["metadata"].as_object().unwrap().clone()),
                rejection_webhook: Some(Some("https://hooks.example.com/r".into())),
            }
        );
    }

    #[test]
    fn null_clears_expiry_limits_webhook_and_metadata() {
        assert_eq!(
            edit_of(json!({"expires_at": null, "limits": null, "rejection_webhook": null, "metadata": null}))
                .unwrap(),
            KeyEdit {
                limits: Some(LimitsEdit::PolicyDefaults),
                expires_at: Some(None),
                metadata: Some(Map::new()),
                rejection_webhook: Some(None),
                ..KeyEdit::default()
            }
        );
        // Limits that override nothing, like null, go back to the policy's defaults.
        // An object naming no window is a mistake, not a reset: null is the reset.
        for nothing in [json!({}), json!({"per_minute": null, "per_day": null})] {
            assert!(edit_of(json!({ "limits": nothing })).is_err());
        }
        // A name and scopes cannot be cleared.
        assert_eq!(
            refused_on("name", edit_of(json!({"name": null}))),
            "is required"
        );
        assert!(refused_on("scopes", edit_of(json!({"scopes": null}))).starts_with("is required"));
        assert_eq!(
            refused_on("scopes", edit_of(json!({"scopes": []}))),
            "must contain at least one scope"
        );
    }

    #[test]
    fn an_edit_that_names_no_field_is_refused_on_body() {
        let message = refused_on("body", edit_of(json!({})));
        assert_eq!(
            message,
            format!("names no field to change; editable: {EDITABLE}")
        );
        for body in [
            &b""[..],
            b"   ",
            b"[]",
            b"null",
            b"\"name\"",
            b"{",
            b"{\"name\": \"a\"} trailing",
        ] {
            refused_on("body", parse_edit(body, &policy(), NOW, true));
        }
        let over = format!(r#"{{"name": "a"}}{}"#, " ".repeat(MAX_ADMIN_BODY_BYTES));
        let refused = parse_edit(over.as_bytes(), &policy(), NOW, true).err();
        assert_eq!(refused.map(|e| e.code()), Some("payload_too_large"));
    }

    #[test]
    fn unknown_and_create_only_fields_are_each_named_in_an_edit() {
        let errors = field_errors(edit_of(json!({
            "name": "Fine",
            "workspace": "other",
            "environment": "test",
            "id": "key_x",
            "colour": "blue",
        })));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "environment", "id", "workspace"]);
        for error in &errors {
            assert_eq!(
                error.message,
                format!("unknown field; editable: {EDITABLE}")
            );
        }
    }

    #[test]
    fn every_bad_edit_field_is_reported_in_one_answer() {
        let errors = field_errors(edit_of(json!({
            "name": "",
            "scopes": [],
            "limits": {"per_minute": 0},
            "expires_at": "tomorrow",
            "metadata": [],
            "rejection_webhook": "ftp://example.com",
            "bogus": 1,
        })));
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "bogus",
                "expires_at",
                "limits.per_minute",
                "metadata",
                "name",
                "rejection_webhook",
                "scopes"
            ]
        );
    }

    #[test]
    fn an_edit_cannot_set_an_expiry_in_the_past() {
        for not_future in [NOW - 86_400_000, NOW - 1, NOW] {
            assert_eq!(
                refused_on("expires_at", edit_of(json!({"expires_at": at(not_future)}))),
                "must be in the future"
            );
        }
        assert_eq!(
            edit_of(json!({"expires_at": "2030-03-17T17:46:40.001Z"}))
                .unwrap()
                .expires_at,
            Some(Some(NOW + 1))
        );
        assert_eq!(
            edit_of(json!({"expires_at": at(NOW + 1_000)}))
                .unwrap()
                .expires_at,
            Some(Some(NOW + 1_000))
        );
        for not_string in [json!(NOW + 1_000), json!(true)] {
            refused_on("expires_at", edit_of(json!({ "expires_at": not_string })));
        }
    }

    #[test]
    fn an_edit_with_unknown_scopes_lists_the_valid_ones() {
        match edit_of(json!({"scopes": ["contacts:read", "billing:read", "contacts:admin"]})) {
            Err(GatewayError::UnknownScopes { unknown, valid }) => {
                assert_eq!(unknown, ["billing:read", "contacts:admin"]);
                assert_eq!(valid, policy().valid_scopes());
            }
            other => panic!("expected UnknownScopes, got {other:?}"),
        }
        // Field errors come first, as at create.
        assert_eq!(
            refused_on(
                "name",
                edit_of(json!({"scopes": ["billing:read"], "name": ""}))
            ),
            "must not be empty"
        );
    }

    #[test]
    fn an_id_that_cannot_exist_is_404_whatever_the_method() {
        for (method, path) in [
            ("PUT", "/keys/nope"),
            ("POST", "/keys/"),
            ("GET", "/keys//revoke"),
        ] {
            assert_eq!(
                admin_route(method, path),
                Err(GatewayError::NotFound),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn edit_limits_and_webhooks_follow_the_create_rules() {
        // One window alone is kept for the key's authority, which knows the other.
        assert_eq!(
            edit_of(json!({"limits": {"per_day": 100}})).unwrap().limits,
            Some(LimitsEdit::Set {
                per_minute: None,
                per_day: Some(100)
            })
        );
        assert_eq!(
            refused_on(
                "limits",
                edit_of(json!({"limits": {"per_minute": 10, "per_day": 5}}))
            ),
            "per_minute (10) must not exceed per_day (5)"
        );
        assert_eq!(
            refused_on(
                "limits.per_day",
                edit_of(json!({"limits": {"per_day": 1_000_000_001u64}}))
            ),
            "must be a whole number from 1 to 1000000000"
        );
        assert_eq!(
            refused_on(
                "limits.burst",
                edit_of(json!({"limits": {"per_minute": 5, "burst": 10}}))
            ),
            "unknown field; allowed: per_minute, per_day"
        );
        let local = json!({"rejection_webhook": "http://localhost:8787/hook"});
        assert_eq!(
            parse_edit_with(&local, false).unwrap().rejection_webhook,
            Some(Some("http://localhost:8787/hook".into()))
        );
        assert_eq!(
            refused_on("rejection_webhook", parse_edit_with(&local, true)),
            "must be an https:// URL"
        );
        refused_on(
            "rejection_webhook",
            edit_of(json!({"rejection_webhook": "https://user@hooks.example.com/"})),
        );
        let over = json!({"k": "x".repeat(MAX_METADATA_BYTES - 7)});
        assert_eq!(
            refused_on("metadata", edit_of(json!({ "metadata": over }))),
            "must be at most 4096 bytes as JSON"
        );
    }

    // --- rotate bodies --------------------------------------------------------------

    #[test]
    fn a_rotate_body_gives_the_grace_in_milliseconds() {
        assert_eq!(MAX_GRACE_SECONDS, 30 * 86_400);
        let max = MAX_GRACE_SECONDS.to_string();
        for (body, grace_ms) in [
            ("", 0),
            (" \r\n\t", 0),
            ("{}", 0),
            (r#"{"grace_seconds": null}"#, 0),
            (r#"{"grace_seconds": 0}"#, 0),
            (r#"{"grace_seconds": 1}"#, 1_000),
            (r#" {"grace_seconds": 3600} "#, 3_600_000),
            (
                &format!(r#"{{"grace_seconds": {max}}}"#),
                MAX_GRACE_SECONDS * 1_000,
            ),
        ] {
            assert_eq!(parse_rotate(body.as_bytes()), Ok(grace_ms), "{body:?}");
        }
    }

    /// JSON Schema's `integer` is any whole number, however it is written (`374`, `374.0`,
    /// `3.74e2`), so every integer field of the document takes them all.
    #[test]
    fn whole_numbers_written_with_a_fraction_or_exponent_are_integers() {
        let floats = r#"{"name": "n", "scopes": ["contacts:read"], "limits": {"per_minute": 6e1, "per_day": 374.0}}"#;
        let created = parse_create(floats.as_bytes(), &policy(), NOW, true).unwrap();
        assert_eq!(created.limits, Some(Limits::new(60, 374).unwrap()));
        let edit = parse_edit(
            br#"{"limits": {"per_minute": 1.0, "per_day": 1000000000.0}}"#,
            &policy(),
            NOW,
            true,
        )
        .unwrap();
        assert_eq!(
            edit.limits,
            Some(LimitsEdit::Set {
                per_minute: Some(1),
                per_day: Some(1_000_000_000)
            })
        );
        for (body, grace_ms) in [
            (r#"{"grace_seconds": 6738.0}"#, 6_738_000),
            (r#"{"grace_seconds": 3.6e3}"#, 3_600_000),
            (r#"{"grace_seconds": 0.0}"#, 0),
            (r#"{"grace_seconds": -0.0}"#, 0),
            (r#"{"grace_seconds": 2592000.0}"#, MAX_GRACE_SECONDS * 1_000),
        ] {
            assert_eq!(parse_rotate(body.as_bytes()), Ok(grace_ms), "{body}");
        }
        assert_eq!(whole_number(&json!(1e16)), Some(10_000_000_000_000_000));
        assert_eq!(whole_number(&json!(1e300)), Some(u64::MAX));
        for not_whole in [
            json!(0.5),
            json!(-1.0),
            json!(-1),
            json!(1e-300),
            json!("1"),
        ] {
            assert_eq!(whole_number(&not_whole), None, "{not_whole}");
        }
    }

    #[test]
    fn rotate_grace_must_be_whole_seconds_within_30_days() {
        for bad in [
            json!(MAX_GRACE_SECONDS + 1),
            json!(u64::MAX),
            json!(-1),
            json!(1.5),
            json!(-1.0),
            json!(0.001),
            json!(2592001.0),
            json!(1e300),
            json!("60"),
            json!(true),
            json!([60]),
            json!({"seconds": 60}),
        ] {
            let body = json!({ "grace_seconds": bad }).to_string();
            assert_eq!(
                refused_on("grace_seconds", parse_rotate(body.as_bytes())),
                "must be a whole number of seconds from 0 to 2592000 (30 days)",
                "{body}"
            );
        }
    }

    #[test]
    fn rotate_refuses_unknown_fields_and_non_objects() {
        assert_eq!(
            refused_on("grace", parse_rotate(br#"{"grace": 60}"#)),
            "unknown field; allowed: grace_seconds"
        );
        refused_on(
            "secret",
            parse_rotate(br#"{"grace_seconds": 60, "secret": "kg_live_x"}"#),
        );
        // Both problems at once.
        let errors = field_errors(parse_rotate(br#"{"grace_seconds": -1, "hint": "x"}"#));
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["grace_seconds", "hint"]);
        for body in [&b"[]"[..], b"60", b"null", b"\"60\"", b"{", b"\xff"] {
            refused_on("body", parse_rotate(body));
        }
        let over = format!("{{}}{}", " ".repeat(MAX_ADMIN_BODY_BYTES));
        let refused = parse_rotate(over.as_bytes()).err();
        assert_eq!(refused.map(|e| e.code()), Some("payload_too_large"));
    }

    // --- list queries ---------------------------------------------------------------

    fn a_cursor() -> ListCursor {
        ListCursor {
            created_at: NOW,
            id: KeyId::generate(&[5; KEY_ID_RANDOM_BYTES]),
        }
    }

    fn query_errors(query: &str) -> Vec<(String, String)> {
        field_errors(parse_list_query(Some(query)))
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    /// The query is refused for exactly one reason, on `field`; returns its message.
    fn query_refused_on(field: &str, query: &str) -> String {
        refused_on(field, parse_list_query(Some(query)))
    }

    #[test]
    fn a_list_query_defaults_to_a_first_page_of_20() {
        assert_eq!((DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), (20, 100));
        let first_page = ListQuery {
            status: None,
            workspace: None,
            limit: 20,
            cursor: None,
        };
        for query in [None, Some(""), Some("&"), Some("&&")] {
            assert_eq!(parse_list_query(query), Ok(first_page.clone()), "{query:?}");
        }
    }

    #[test]
    fn each_list_parameter_is_read() {
        let read = |query: &str| parse_list_query(Some(query)).unwrap();
        assert_eq!(read("status=active").status, Some(Status::Active));
        assert_eq!(read("status=revoked").status, Some(Status::Revoked));
        assert_eq!(read("status=expired").status, Some(Status::Expired));
        assert_eq!(
            read("workspace=acme-prod_1.eu").workspace.as_deref(),
            Some("acme-prod_1.eu")
        );
        for limit in [1, 37, 100] {
            assert_eq!(read(&format!("limit={limit}")).limit, limit);
        }
        let cursor = a_cursor();
        assert_eq!(
            read(&format!("cursor={}", cursor.encode())).cursor,
            Some(cursor.clone())
        );
        assert_eq!(
            read(&format!(
                "cursor={}&limit=5&workspace=acme&status=revoked",
                cursor.encode()
            )),
            ListQuery {
                status: Some(Status::Revoked),
                workspace: Some("acme".into()),
                limit: 5,
                cursor: Some(cursor),
            }
        );
    }

    #[test]
    fn bad_list_parameters_are_named() {
        for status in ["ACTIVE", "", "deleted", "active ", "all"] {
            assert_eq!(
                query_refused_on("status", &format!("status={status}")),
                "must be `active`, `revoked` or `expired`"
            );
        }
        assert_eq!(
            query_refused_on("status", "status"),
            "must be `active`, `revoked` or `expired`"
        );
        for workspace in ["", "-acme", "a%20b", "a/b", &"w".repeat(65)] {
            let message = query_refused_on("workspace", &format!("workspace={workspace}"));
            assert!(
                message.contains("1 to 64 characters"),
                "{workspace}: {message}"
            );
        }
        for limit in [
            "0",
            "101",
            "-1",
            "abc",
            "",
            "1.5",
            "1e2",
            "99999999999999999999999",
        ] {
            assert_eq!(
                query_refused_on("limit", &format!("limit={limit}")),
                "must be a whole number from 1 to 100",
                "{limit}"
            );
        }
        for cursor in ["", "garbage!", "MTIz", &format!("{}=", a_cursor().encode())] {
            assert_eq!(
                query_refused_on("cursor", &format!("cursor={cursor}")),
                "is not a cursor this API returned; pass `next_cursor` as is",
                "{cursor}"
            );
        }
        for unknown in ["page=2", "Status=active", "offset=0", "=x", "cursor[]=1"] {
            let field = unknown.split_once('=').map_or(unknown, |(name, _)| name);
            assert_eq!(
                query_refused_on(field, unknown),
                "unknown parameter; allowed: status, workspace, limit, cursor"
            );
        }
    }

    #[test]
    fn a_repeated_list_parameter_is_refused() {
        for query in [
            "limit=5&limit=5",
            "status=active&status=revoked",
            "workspace=a&limit=2&workspace=a",
        ] {
            let errors = query_errors(query);
            assert_eq!(errors.len(), 1, "{query}: {errors:?}");
            assert_eq!(errors[0].1, "is given more than once", "{query}");
        }
        let cursor = a_cursor().encode();
        assert_eq!(
            query_refused_on("cursor", &format!("cursor={cursor}&cursor={cursor}")),
            "is given more than once"
        );
    }

    #[test]
    fn several_bad_list_parameters_are_reported_at_once() {
        let fields: Vec<String> =
            query_errors("status=x&limit=0&cursor=zz&page=2&limit=3&workspace=-")
                .into_iter()
                .map(|(field, _)| field)
                .collect();
        assert_eq!(
            fields,
            ["status", "limit", "cursor", "page", "limit", "workspace"]
        );
    }

    #[test]
    fn garbage_cursors_decode_to_nothing() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let key_id = KeyId::generate(&[6; KEY_ID_RANDOM_BYTES]);
        let valid = ListCursor {
            created_at: 1,
            id: key_id.clone(),
        }
        .encode();
        assert_eq!(valid, format!("1.{key_id}"));
        assert!(ListCursor::<KeyId>::decode(&valid).is_some());
        let id = key_id.as_str();
        let approval_id = ApprovalId::parse("apr_0123456789ABCDEFGHIJab").unwrap();
        for garbage in [
            String::new(),
            "!!!".into(),
            "a".into(),
            "1".into(),
            "1.".into(),
            format!(".{id}"),
            format!("abc.{id}"),
            format!("-1.{id}"),
            format!("+1.{id}"),
            format!(" 1.{id}"),
            format!("1.{id} "),
            format!("1e3.{id}"),
            format!("1,{id}"),
            format!("\u{ff11}.{id}"),
            // More than 15 digits, even when the number would fit.
            format!("18446744073709551616.{id}"),
            format!("9007199254740993.{id}"),
            format!("0000000000000001.{id}"),
            format!("1.{id}.2"),
            "1.key_short".into(),
            "1.not-a-key-id".into(),
            format!("1.{}", approval_id.as_str()),
            // The encoding cursors had before they were written out plainly.
            URL_SAFE_NO_PAD.encode(format!("1.{id}")),
        ] {
            assert_eq!(ListCursor::<KeyId>::decode(&garbage), None, "{garbage:?}");
        }
        assert_eq!(
            ListCursor::<KeyId>::decode(&format!("{}.{id}", "9".repeat(MAX_CURSOR_TIME_DIGITS))),
            Some(ListCursor {
                created_at: 999_999_999_999_999,
                id: key_id,
            })
        );
    }

    // --- routes ---------------------------------------------------------------------

    fn an_id() -> KeyId {
        KeyId::generate(&[9; KEY_ID_RANDOM_BYTES])
    }

    const METHODS: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "get",
    ];

    fn an_approval_id() -> ApprovalId {
        ApprovalId::generate(
            &crate::queue::QueueShard::of("acme"),
            &[9; crate::approval::APPROVAL_ID_RANDOM_BYTES],
        )
    }

    #[test]
    fn every_admin_route_is_served_with_the_grant_it_needs() {
        let id = an_id();
        let approval = an_approval_id();
        let expected = [
            (("POST", "/keys"), AdminRoute::CreateKey, "api_keys:write"),
            (("GET", "/keys"), AdminRoute::ListKeys, "api_keys:read"),
            (
                ("GET", "/keys/{id}"),
                AdminRoute::GetKey(id.clone()),
                "api_keys:read",
            ),
            (
                ("PATCH", "/keys/{id}"),
                AdminRoute::EditKey(id.clone()),
                "api_keys:write",
            ),
            (
                ("DELETE", "/keys/{id}"),
                AdminRoute::DeleteKey(id.clone()),
                "api_keys:delete",
            ),
            (
                ("POST", "/keys/{id}/revoke"),
                AdminRoute::RevokeKey(id.clone()),
                "api_keys:delete",
            ),
            (
                ("POST", "/keys/{id}/activate"),
                AdminRoute::ActivateKey(id.clone()),
                "api_keys:write",
            ),
            (
                ("POST", "/keys/{id}/rotate"),
                AdminRoute::RotateKey(id.clone()),
                "api_keys:write",
            ),
            (
                ("POST", "/keys/{id}/webhook-secret/rotate"),
                AdminRoute::RotateWebhookSecret(id.clone()),
                "api_keys:write",
            ),
            (
                ("GET", "/approvals"),
                AdminRoute::ListApprovals,
                "approvals:read",
            ),
            (
                ("GET", "/approvals/{id}"),
                AdminRoute::GetApproval(approval.clone()),
                "approvals:read",
            ),
            (
                ("POST", "/approvals/{id}/approve"),
                AdminRoute::Approve(approval.clone()),
                "approvals:write",
            ),
            (
                ("POST", "/approvals/{id}/reject"),
                AdminRoute::Reject(approval.clone()),
                "approvals:write",
            ),
            (("GET", "/policy"), AdminRoute::Policy, "api_keys:read"),
        ];
        let listed: Vec<(&str, &str)> = expected.iter().map(|(route, ..)| *route).collect();
        assert_eq!(listed, ADMIN_ROUTES, "ADMIN_ROUTES lists exactly these");
        for ((method, template), route, grant) in expected {
            let id = match template.starts_with("/keys") {
                true => id.as_str(),
                false => approval.as_str(),
            };
            let path = template.replace("{id}", id);
            assert_eq!(
                admin_route(method, &path),
                Ok(route.clone()),
                "{method} {path}"
            );
            let needed = route.required_grant();
            assert_eq!(
                format!("{}:{}", needed.resource, needed.action.as_str()),
                grant,
                "{method} {template}"
            );
        }
    }

    #[test]
    fn an_id_of_the_other_kind_is_404() {
        let key = an_id();
        let approval = an_approval_id();
        for (method, template) in ADMIN_ROUTES {
            let wrong = match template.starts_with("/keys") {
                true => approval.as_str(),
                false => key.as_str(),
            };
            if template.contains("{id}") {
                let path = template.replace("{id}", wrong);
                assert_eq!(
                    admin_route(method, &path),
                    Err(GatewayError::NotFound),
                    "{path}"
                );
            }
        }
    }

    #[test]
    fn approval_list_queries_take_approval_statuses_and_cursors() {
        let query = parse_approvals_query(Some("status=expired&workspace=acme&limit=5")).unwrap();
        assert_eq!(query.status, Some(ApprovalStatus::Expired));
        assert_eq!((query.workspace.as_deref(), query.limit), (Some("acme"), 5));
        let cursor = ListCursor {
            created_at: 7,
            id: an_approval_id(),
        };
        let query = parse_approvals_query(Some(&format!("cursor={}", cursor.encode()))).unwrap();
        assert_eq!(query.cursor, Some(cursor));
        // A key list's cursor or status is no approval list's.
        let key_cursor = ListCursor {
            created_at: 7,
            id: an_id(),
        }
        .encode();
        for (bad, field) in [
            ("status=active", "status"),
            (&*format!("cursor={key_cursor}"), "cursor"),
        ] {
            let Err(GatewayError::InvalidBody { errors }) = parse_approvals_query(Some(bad)) else {
                panic!("{bad} accepted");
            };
            assert_eq!(errors[0].field, field);
        }
        let Err(GatewayError::InvalidBody { errors }) =
            parse_approvals_query(Some("status=active"))
        else {
            panic!("accepted");
        };
        assert!(errors[0]
            .message
            .contains("`pending`, `approved`, `rejected`, `expired` or `failed`"));
    }

    #[test]
    fn a_known_path_with_another_method_is_405_naming_the_allowed_ones() {
        let id = an_id();
        for (template, allowed) in [
            ("/keys", "POST, GET"),
            ("/keys/{id}", "GET, PATCH, DELETE"),
            ("/keys/{id}/revoke", "POST"),
            ("/keys/{id}/activate", "POST"),
            ("/keys/{id}/rotate", "POST"),
            ("/keys/{id}/webhook-secret/rotate", "POST"),
            ("/approvals", "GET"),
            ("/approvals/{id}", "GET"),
            ("/approvals/{id}/approve", "POST"),
            ("/approvals/{id}/reject", "POST"),
            ("/policy", "GET"),
        ] {
            // The Allow list is ADMIN_ROUTES' methods for the path, in its order.
            let from_table: Vec<&str> = ADMIN_ROUTES
                .iter()
                .filter(|(_, t)| *t == template)
                .map(|(m, _)| *m)
                .collect();
            assert_eq!(from_table.join(", "), allowed);
            let path = match template.starts_with("/keys") {
                true => template.replace("{id}", id.as_str()),
                false => template.replace("{id}", an_approval_id().as_str()),
            };
            for method in METHODS {
                let result = admin_route(method, &path);
                if from_table.contains(&method) {
                    assert!(result.is_ok(), "{method} {path}: {result:?}");
                    continue;
                }
                let error = result.expect_err("not an allowed method");
                assert_eq!(
                    error,
                    GatewayError::MethodNotAllowed {
                        allowed: allowed.into()
                    },
                    "{method} {path}"
                );
                let problem = error.to_problem("r");
                assert_eq!(problem.status, 405);
                assert_eq!(problem.headers, [("Allow", allowed.to_string())]);
            }
        }
    }

    #[test]
    fn unknown_paths_are_404_for_every_method() {
        let id = an_id();
        let id = id.as_str();
        for path in [
            String::new(),
            "/".into(),
            "keys".into(),
            "//keys".into(),
            "/key".into(),
            "/KEYS".into(),
            "/keys/".into(),
            format!("/keys/{id}/"),
            format!("/keys/{id}/suspend"),
            format!("/keys/{id}/revoke/"),
            format!("/keys/{id}/rotate/now"),
            format!("/keys/{id}/webhook-secret"),
            format!("/keys/{id}/webhook-secret/"),
            format!("/keys/{id}/webhook_secret/rotate"),
            format!("/keys/{id}//revoke"),
            "/policy/".into(),
            "/policy/x".into(),
            "/approvals/".into(),
            "/approval".into(),
            format!("/approvals/{}/decline", an_approval_id()),
            format!("/approvals/{}/approve/", an_approval_id()),
            "/v1/keys".into(),
            "/_keygate/v1/keys".into(),
        ] {
            for method in METHODS {
                let result = admin_route(method, &path);
                // A trailing slash after /keys reads as an empty id: 404 where the method fits.
                if path == "/keys/" && !["GET", "PATCH", "DELETE"].contains(&method) {
                    continue;
                }
                if path == "/approvals/" && method != "GET" {
                    continue;
                }
                assert_eq!(result, Err(GatewayError::NotFound), "{method} {path:?}");
            }
        }
    }

    #[test]
    fn an_id_that_cannot_exist_is_404() {
        let id = an_id();
        let id = id.as_str();
        let mut wrong_char = id.to_string();
        wrong_char.replace_range(5..6, "-");
        for bad in [
            "".to_string(),
            "nope".into(),
            "key_".into(),
            "key_short".into(),
            id[..id.len() - 1].to_string(),
            format!("{id}x"),
            wrong_char,
            id.to_uppercase(),
            id.replacen("key_", "kez_", 1),
            "..".into(),
            "%2e%2e".into(),
        ] {
            for (method, template) in ADMIN_ROUTES {
                if !template.contains("{id}") {
                    continue;
                }
                let path = template.replace("{id}", &bad);
                assert_eq!(
                    admin_route(method, &path),
                    Err(GatewayError::NotFound),
                    "{method} {path}"
                );
            }
        }
    }

    // --- properties -----------------------------------------------------------------

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            (0u64..100).prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "\\PC{0,30}".prop_map(Value::String),
            "[\\x00-\\x7f]{0,10}".prop_map(Value::String),
            prop::sample::select(vec![
                "contacts:read",
                "contacts:write-approval",
                "admin",
                "read:all",
                "nope:read",
                "live",
                "test",
                "acme",
                "2031-01-01T00:00:00Z",
                "2000-01-01T00:00:00Z",
                "2030-03-17T17:46:40Z",
                "https://hooks.example.com/r",
                "http://localhost:8787/r",
                "http://127.0.0.1.evil.com/",
                "https://10.0.0.1/r",
                "https://169.254.169.254/",
                "https://[::ffff:192.168.0.1]/",
                "https://0x7f.1/",
                "http://2130706433/",
                "https://localhost/r?t=1",
                "http://user@localhost/",
                "http://[::1]:",
                "http://:80",
                "https://:443",
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("per_minute".to_string()),
                        Just("per_day".to_string()),
                        "[a-z_]{0,8}",
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn create_body() -> impl Strategy<Value = Map<String, Value>> {
        let field = prop_oneof![
            10 => prop::sample::select(CREATE_FIELDS).prop_map(str::to_string),
            1 => "[a-z_]{1,10}",
        ];
        prop::collection::btree_map(field, json_value(), 0..10)
            .prop_map(|fields| fields.into_iter().collect())
    }

    /// What every accepted body guarantees, whatever it looked like.
    fn check_accepted(new_key: &NewKey, policy: &Policy, https_only: bool) {
        assert!(!new_key.name.is_empty() && new_key.name.chars().count() <= MAX_NAME_CHARS);
        assert_eq!(new_key.name, new_key.name.trim());
        assert!(!new_key.name.chars().any(char::is_control));
        assert!(!new_key.scopes.is_empty());
        assert!(policy.check_scopes(&new_key.scopes).is_ok());
        for (i, scope) in new_key.scopes.iter().enumerate() {
            assert!(!new_key.scopes[..i].contains(scope), "duplicate {scope}");
        }
        assert!(new_key
            .workspace
            .as_ref()
            .is_none_or(|w| (1..=MAX_WORKSPACE_CHARS).contains(&w.len())));
        assert!(new_key.expires_at.is_none_or(|at| at > NOW));
        if let Some(limits) = new_key.limits {
            assert!(limits.per_minute <= limits.per_day);
        }
        assert!(serde_json::to_string(&new_key.metadata).unwrap().len() <= MAX_METADATA_BYTES);
        if let Some(url) = &new_key.rejection_webhook {
            use crate::webhook::address::{receiver_host, ReceiverHost};
            assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
            assert!(!url.contains('@'));
            let host = receiver_host(url).expect("an accepted webhook parses");
            assert!(!matches!(host, ReceiverHost::Forbidden(_)), "{url}");
            assert!(!(https_only && host == ReceiverHost::Loopback), "{url}");
        }
    }

    proptest! {
        #[test]
        fn parse_create_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256), https_only in any::<bool>()) {
            let _ = parse_create(&body, &policy(), NOW, https_only);
        }

        #[test]
        fn parse_create_never_panics_on_near_json(body in "[{}\\[\\]\":,0-9a-z_ .\\-]{0,80}") {
            let _ = parse_create(body.as_bytes(), &policy(), NOW, true);
        }

        #[test]
        fn parse_create_never_panics_on_objects_of_known_fields(
            fields in create_body(),
            https_only in any::<bool>(),
        ) {
            let policy = policy();
            let body = serde_json::to_vec(&Value::Object(fields)).unwrap();
            match parse_create(&body, &policy, NOW, https_only) {
                Ok(new_key) => check_accepted(&new_key, &policy, https_only),
                Err(GatewayError::InvalidBody { errors }) => prop_assert!(!errors.is_empty()),
                Err(GatewayError::UnknownScopes { unknown, valid }) => {
                    prop_assert!(!unknown.is_empty());
                    prop_assert_eq!(valid, policy.valid_scopes());
                }
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }

        #[test]
        fn mostly_valid_bodies_are_accepted_or_name_the_bad_field(
            name in "\\PC{0,130}",
            scopes in prop::collection::vec(prop::sample::select(vec!["contacts:read", "tags:write", "admin", "email:send-approval"]), 1..5),
            per_minute in 0u64..200,
            per_day in 0u64..200,
        ) {
            let body = json!({"name": name, "scopes": scopes, "limits": {"per_minute": per_minute, "per_day": per_day}});
            match parse(&body) {
                Ok(new_key) => {
                    check_accepted(&new_key, &policy(), true);
                    prop_assert_eq!(new_key.name, name.trim());
                    prop_assert_eq!(new_key.limits, Some(Limits::new(per_minute, per_day).unwrap()));
                }
                Err(GatewayError::InvalidBody { errors }) => {
                    for e in &errors {
                        prop_assert!(e.field == "name" || e.field == "limits", "{:?}", e);
                    }
                    prop_assert!(!errors.is_empty());
                }
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }
    }

    fn edit_body() -> impl Strategy<Value = Map<String, Value>> {
        let field = prop_oneof![
            10 => prop::sample::select(EDIT_FIELDS).prop_map(str::to_string),
            1 => "[a-z_]{1,10}",
        ];
        prop::collection::btree_map(field, json_value(), 0..7)
            .prop_map(|fields| fields.into_iter().collect())
    }

    /// The method and path template an admin route is served at.
    fn template_of(route: &AdminRoute) -> (&'static str, &'static str) {
        match route {
            AdminRoute::CreateKey => ("POST", "/keys"),
            AdminRoute::ListKeys => ("GET", "/keys"),
            AdminRoute::GetKey(_) => ("GET", "/keys/{id}"),
            AdminRoute::EditKey(_) => ("PATCH", "/keys/{id}"),
            AdminRoute::DeleteKey(_) => ("DELETE", "/keys/{id}"),
            AdminRoute::RevokeKey(_) => ("POST", "/keys/{id}/revoke"),
            AdminRoute::ActivateKey(_) => ("POST", "/keys/{id}/activate"),
            AdminRoute::RotateKey(_) => ("POST", "/keys/{id}/rotate"),
            AdminRoute::RotateWebhookSecret(_) => ("POST", "/keys/{id}/webhook-secret/rotate"),
            AdminRoute::ListApprovals => ("GET", "/approvals"),
            AdminRoute::GetApproval(_) => ("GET", "/approvals/{id}"),
            AdminRoute::Approve(_) => ("POST", "/approvals/{id}/approve"),
            AdminRoute::Reject(_) => ("POST", "/approvals/{id}/reject"),
            AdminRoute::Policy => ("GET", "/policy"),
        }
    }

    proptest! {
        #[test]
        fn list_cursors_round_trip(
            // Creation times are milliseconds up to year 9999: 15 digits, the bound.
            created_at in 0..=999_999_999_999_999u64,
            random in any::<[u8; KEY_ID_RANDOM_BYTES]>(),
        ) {
            let cursor = ListCursor { created_at, id: KeyId::generate(&random) };
            let text = cursor.encode();
            // Safe in a query string as is.
            prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'), "{}", text);
            prop_assert_eq!(ListCursor::decode(&text), Some(cursor.clone()));
            let query = parse_list_query(Some(&format!("limit=3&cursor={text}"))).unwrap();
            prop_assert_eq!(query.cursor, Some(cursor));
        }

        #[test]
        fn decoding_any_text_never_panics_and_yields_only_real_cursors(text in "[A-Za-z0-9_\\-=+/. ]{0,64}") {
            if let Some(cursor) = ListCursor::<KeyId>::decode(&text) {
                prop_assert!(KeyId::parse(cursor.id.as_str()).is_some());
                prop_assert_eq!(ListCursor::decode(&cursor.encode()), Some(cursor));
            }
        }

        #[test]
        fn parse_edit_never_panics_and_accepts_only_real_changes(
            fields in edit_body(),
            https_only in any::<bool>(),
        ) {
            let policy = policy();
            let body = serde_json::to_vec(&Value::Object(fields)).unwrap();
            match parse_edit(&body, &policy, NOW, https_only) {
                Ok(edit) => {
                    prop_assert!(edit != KeyEdit::default(), "an edit that names nothing");
                    if let Some(name) = &edit.name {
                        prop_assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
                        prop_assert_eq!(name, name.trim());
                    }
                    if let Some(scopes) = &edit.scopes {
                        prop_assert!(!scopes.is_empty());
                        prop_assert!(policy.check_scopes(scopes).is_ok());
                    }
                    if let Some(Some(at)) = edit.expires_at {
                        prop_assert!(at > NOW);
                    }
                    if let Some(LimitsEdit::Set { per_minute: Some(m), per_day: Some(d) }) = edit.limits {
                        prop_assert!(m <= d);
                    }
                    if let Some(Some(url)) = &edit.rejection_webhook {
                        prop_assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
                    }
                }
                Err(GatewayError::InvalidBody { errors }) => prop_assert!(!errors.is_empty()),
                Err(GatewayError::UnknownScopes { unknown, .. }) => prop_assert!(!unknown.is_empty()),
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }

        #[test]
        fn parse_rotate_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(grace_ms) = parse_rotate(&body) {
                prop_assert!(grace_ms % 1_000 == 0 && grace_ms <= MAX_GRACE_SECONDS * 1_000);
            }
        }

        #[test]
        fn parse_rotate_accepts_exactly_the_seconds_from_0_to_30_days(seconds in prop_oneof![any::<i64>(), -10i64..3_000_000]) {
            let body = format!(r#"{{"grace_seconds": {seconds}}}"#);
            let in_range = (0..=MAX_GRACE_SECONDS as i64).contains(&seconds);
            match parse_rotate(body.as_bytes()) {
                Ok(grace_ms) => {
                    prop_assert!(in_range, "{} accepted", seconds);
                    prop_assert_eq!(grace_ms, seconds as u64 * 1_000);
                }
                Err(_) => prop_assert!(!in_range, "{} refused", seconds),
            }
        }

        #[test]
        fn parse_list_query_never_panics(query in "[a-z=&%0-9A-Z_.\\-]{0,60}") {
            if let Ok(list) = parse_list_query(Some(&query)) {
                prop_assert!((1..=MAX_PAGE_SIZE).contains(&list.limit));
            }
        }

        #[test]
        fn admin_route_serves_only_listed_routes(
            method in prop::sample::select(METHODS.to_vec()),
            path in "(/(keys|policy|revoke|rotate|activate|webhook-secret|key_[A-Za-z0-9]{22}|[a-z_]{0,5})){0,5}",
        ) {
            match admin_route(method, &path) {
                Ok(route) => {
                    let (served_method, template) = template_of(&route);
                    prop_assert_eq!(served_method, method);
                    prop_assert!(ADMIN_ROUTES.contains(&(method, template)));
                    let id = match &route {
                        AdminRoute::GetKey(id) | AdminRoute::EditKey(id) | AdminRoute::DeleteKey(id)
                        | AdminRoute::RevokeKey(id) | AdminRoute::ActivateKey(id)
                        | AdminRoute::RotateKey(id) | AdminRoute::RotateWebhookSecret(id) => id.as_str(),
                        _ => "",
                    };
                    prop_assert_eq!(template.replace("{id}", id), path);
                }
                Err(GatewayError::NotFound) => {}
                Err(GatewayError::MethodNotAllowed { allowed }) => {
                    prop_assert!(!allowed.split(", ").any(|m| m == method));
                }
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }
    }
}
