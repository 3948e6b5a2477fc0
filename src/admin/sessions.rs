//! The portal session bodies and answers: `POST /portal/sessions` checked field by field,
//! `GET /portal/sessions`' query, and a session as the admin API shows it.

use super::fields::{collect, parse_object, whole_number, workspace};
use super::list::{parse_listing, ListQuery};
use crate::problem::{FieldError, GatewayError};
use crate::record::Status;
use crate::session::{
    self, Member, Permission, Session, SessionId, SessionToken, DEFAULT_TTL_SECONDS,
    MAX_MEMBER_ID_CHARS, MAX_MEMBER_NAME_CHARS, MAX_TTL_SECONDS, MIN_TTL_SECONDS,
};
use crate::timestamp::format_rfc3339;
use serde::Serialize;
use serde_json::{Map, Value};

const MINT_FIELDS: &[&str] = &["workspace", "member", "permissions", "ttl_seconds"];
const MEMBER_FIELDS: &[&str] = &["id", "name"];
/// Where the portal page is served; the token travels in the fragment, which a browser
/// never sends to a server, so it reaches no server's log.
pub const PORTAL_PATH: &str = crate::portal::PAGE_PATH;

/// A validated `POST /portal/sessions` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub workspace: String,
    pub member: Member,
    pub permissions: Vec<Permission>,
    pub ttl_seconds: u64,
}

impl NewSession {
    /// The session, once the Workers layer has drawn its id, minted at `now_ms`.
    pub fn into_session(self, id: SessionId, now_ms: u64) -> Session {
        Session {
            id,
            workspace: self.workspace,
            member: self.member,
            permissions: self.permissions,
            created_at: now_ms,
            expires_at: session::expiry(now_ms, self.ttl_seconds),
        }
    }
}

/// Parses and checks a mint body; every bad field is reported at once.
pub fn parse_mint(body: &[u8]) -> Result<NewSession, GatewayError> {
    let object = parse_object(body)?;
    let mut errors = unknown_fields(&object, MINT_FIELDS, "");
    let workspace = match object.get("workspace") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("workspace", "is required"));
            None
        }
        given => collect(&mut errors, workspace(given)),
    };
    let member = match object.get("member") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("member", "is required"));
            None
        }
        Some(Value::Object(member)) => member_fields(member, &mut errors),
        Some(_) => {
            errors.push(FieldError::new(
                "member",
                "must be an object with `id` and `name`",
            ));
            None
        }
    };
    let permissions = collect(&mut errors, permissions(object.get("permissions")));
    let ttl_seconds = collect(&mut errors, ttl_seconds(object.get("ttl_seconds")));
    match (workspace, member, permissions, ttl_seconds) {
        (Some(workspace), Some(member), Some(permissions), Some(ttl_seconds))
            if errors.is_empty() =>
        {
            Ok(NewSession {
                workspace,
                member,
                permissions,
                ttl_seconds,
            })
        }
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}

fn unknown_fields(object: &Map<String, Value>, allowed: &[&str], within: &str) -> Vec<FieldError> {
    object
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                format!("{within}{k}"),
                format!("unknown field; allowed: {}", allowed.join(", ")),
            )
        })
        .collect()
}

/// The member, or its fields' errors (`member.id`, `member.name`) added to `errors`.
fn member_fields(object: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Member> {
    let before = errors.len();
    errors.extend(unknown_fields(object, MEMBER_FIELDS, "member."));
    let id = collect(
        errors,
        member_text(object.get("id"), "member.id", MAX_MEMBER_ID_CHARS),
    );
    let name = collect(
        errors,
        member_text(object.get("name"), "member.name", MAX_MEMBER_NAME_CHARS),
    );
    match (id, name) {
        (Some(id), Some(name)) if errors.len() == before => Some(Member { id, name }),
        _ => None,
    }
}

/// A member's id or name as given (not trimmed: it is the provider's own), 1 to `max`
/// characters, none of them a control character.
fn member_text(value: Option<&Value>, field: &str, max: usize) -> Result<String, FieldError> {
    let error = |m: String| FieldError::new(field, m);
    let text = match value {
        None | Some(Value::Null) => return Err(error("is required".into())),
        Some(Value::String(text)) => text,
        Some(_) => return Err(error("must be a string".into())),
    };
    if text.is_empty() {
        return Err(error("must not be empty".into()));
    }
    if text.chars().count() > max {
        return Err(error(format!("must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(error(
            "must not contain control characters such as line breaks".into(),
        ));
    }
    Ok(text.clone())
}

fn permission_names() -> String {
    Permission::ALL
        .iter()
        .map(|p| format!("`{}`", p.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn permissions(value: Option<&Value>) -> Result<Vec<Permission>, FieldError> {
    let error = |m: String| FieldError::new("permissions", m);
    let list = match value {
        None | Some(Value::Null) => return Err(error("is required".into())),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(error("must be an array of permission names".into())),
    };
    if list.is_empty() {
        return Err(error(format!(
            "must name at least one of {}",
            permission_names()
        )));
    }
    let mut permissions = Vec::with_capacity(list.len());
    for item in list {
        let permission = item.as_str().and_then(Permission::parse).ok_or_else(|| {
            error(format!(
                "{item} is not a permission; the permissions are {}",
                permission_names()
            ))
        })?;
        if permissions.contains(&permission) {
            return Err(error(format!(
                "names `{}` more than once",
                permission.as_str()
            )));
        }
        permissions.push(permission);
    }
    Ok(permissions)
}

fn ttl_seconds(value: Option<&Value>) -> Result<u64, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_TTL_SECONDS),
        Some(value) => whole_number(value)
            .filter(|seconds| (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(seconds))
            .ok_or_else(|| {
                FieldError::new(
                    "ttl_seconds",
                    format!(
                        "must be a whole number of seconds from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} (12 hours)"
                    ),
                )
            }),
    }
}

/// `GET /portal/sessions?workspace=&limit=&cursor=`, checked: the workspace is required
/// (sessions are listed one workspace at a time), and there is no `status` (only live
/// sessions are listed).
pub fn parse_sessions_query(
    query: Option<&str>,
) -> Result<ListQuery<Status, SessionId>, GatewayError> {
    let list: ListQuery<Status, SessionId> =
        parse_listing(query, &["workspace", "limit", "cursor"])?;
    match list.workspace {
        Some(_) => Ok(list),
        None => Err(GatewayError::InvalidBody {
            errors: vec![FieldError::new("workspace", "is required")],
        }),
    }
}

/// A session as the admin API shows it: never its token, nor the token's hash.
#[derive(Serialize)]
struct SessionView<'a> {
    id: &'a SessionId,
    workspace: &'a str,
    member: &'a Member,
    permissions: &'a [Permission],
    created_at: String,
    expires_at: String,
}

pub fn session_object(session: &Session) -> Value {
    let view = SessionView {
        id: &session.id,
        workspace: &session.workspace,
        member: &session.member,
        permissions: &session.permissions,
        created_at: format_rfc3339(session.created_at),
        expires_at: format_rfc3339(session.expires_at),
    };
    // Strings and lists of them cannot fail to serialize.
    serde_json::to_value(view).unwrap_or_default()
}

/// The answer to a mint: the session, its token (shown this once) and the portal page's
/// address on `origin` (the request's own, e.g. `https://api.example.com`), the token in
/// its fragment.
pub fn minted_object(session: &Session, token: &SessionToken, origin: &str) -> Value {
    let mut body = session_object(session);
    if let Some(fields) = body.as_object_mut() {
        fields.insert("token".into(), token.expose().into());
        fields.insert("url".into(), portal_url(origin, token).into());
    }
    body
}

pub fn portal_url(origin: &str, token: &SessionToken) -> String {
    format!("{origin}{PORTAL_PATH}#session={}", token.expose())
}

/// A page of `GET /portal/sessions`.
#[derive(Serialize)]
pub struct SessionsPage {
    pub sessions: Vec<Value>,
    pub next_cursor: Option<String>,
}
