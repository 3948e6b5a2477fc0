//! Every refusal keygate makes, and the `application/problem+json` body (RFC 9457) it
//! becomes. One enum, one exhaustive match: a new refusal cannot be added without saying
//! what status and code it answers with. Bodies never carry a key, a hash or internal
//! error text; the `detail` of each variant is written here, not passed through.

use crate::limits::Window;
use serde_json::{json, Map, Value};

/// One invalid field of an admin request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    /// Plain `http://` while HTTPS-only is on.
    HttpsRequired,
    MissingCredentials,
    /// `Authorization` present but not `Bearer <token>`.
    InvalidScheme,
    KeyMalformed,
    KeyChecksumMismatch,
    KeyUnknown,
    KeyRevoked,
    KeyExpired,
    /// The key is valid but lacks the grant the route needs.
    InsufficientScope {
        required_scope: String,
    },
    /// No route in the scope table matches; the policy picks 404 or 403.
    RouteNotMapped {
        status: u16,
    },
    /// A path whose meaning could differ between keygate and the origin (see `ambiguity`).
    AmbiguousPath {
        reason: &'static str,
    },
    /// A header or query parameter that could make the origin act on another method or path.
    OverrideNotAllowed {
        what: String,
    },
    /// A method keygate cannot forward faithfully (not one of the standard HTTP methods).
    MethodNotSupported,
    /// A GET or HEAD request with a body, which cannot be forwarded.
    BodyNotAllowed,
    RateLimited {
        window: Window,
        retry_after_secs: u64,
    },
    /// The grant is an approval level; the approval queue is not part of this build yet.
    ApprovalQueueUnavailable {
        required_scope: String,
    },
    OriginUnreachable,
    OriginTimeout,
    /// KV or the key's Durable Object failed: authentication fails closed.
    StoreUnavailable,
    /// The deployment's configuration is invalid; the precise reason is in the log.
    Misconfigured,
    /// Something keygate itself did failed; the precise reason is in the log.
    Internal,
    /// Admin API: the root token is missing or wrong.
    InvalidAdminToken,
    InvalidBody {
        errors: Vec<FieldError>,
    },
    UnknownScopes {
        unknown: Vec<String>,
        valid: Vec<String>,
    },
    NotFound,
    MethodNotAllowed {
        allowed: &'static str,
    },
    Conflict {
        detail: String,
    },
}

/// A refusal ready to send: status, extra headers, and the problem body.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl GatewayError {
    /// The stable machine-readable code clients may branch on.
    pub fn code(&self) -> &'static str {
        self.describe().1
    }

    pub fn status(&self) -> u16 {
        self.describe().0
    }

    fn describe(&self) -> (u16, &'static str, &'static str) {
        use GatewayError::*;
        match self {
            HttpsRequired => (403, "https_required", "HTTPS required"),
            MissingCredentials => (401, "missing_credentials", "Unauthorized"),
            InvalidScheme => (401, "invalid_authorization_scheme", "Unauthorized"),
            KeyMalformed => (401, "key_malformed", "Unauthorized"),
            KeyChecksumMismatch => (401, "key_checksum_mismatch", "Unauthorized"),
            KeyUnknown => (401, "key_unknown", "Unauthorized"),
            KeyRevoked => (401, "key_revoked", "Unauthorized"),
            KeyExpired => (401, "key_expired", "Unauthorized"),
            InsufficientScope { .. } => (403, "insufficient_scope", "Forbidden"),
            RouteNotMapped { status } => (*status, "route_not_mapped", "Route not available"),
            AmbiguousPath { .. } => (400, "path_ambiguous", "Bad Request"),
            OverrideNotAllowed { .. } => (400, "override_not_allowed", "Bad Request"),
            MethodNotSupported => (501, "method_not_supported", "Not Implemented"),
            BodyNotAllowed => (400, "body_not_allowed", "Bad Request"),
            RateLimited { .. } => (429, "rate_limited", "Too Many Requests"),
            ApprovalQueueUnavailable { .. } => {
                (501, "approval_queue_unavailable", "Approval required")
            }
            OriginUnreachable => (502, "origin_unreachable", "Bad Gateway"),
            OriginTimeout => (504, "origin_timeout", "Gateway Timeout"),
            StoreUnavailable => (503, "store_unavailable", "Service Unavailable"),
            Misconfigured => (503, "gateway_misconfigured", "Service Unavailable"),
            Internal => (500, "internal_error", "Internal Server Error"),
            InvalidAdminToken => (401, "invalid_admin_token", "Unauthorized"),
            InvalidBody { .. } => (400, "invalid_request", "Bad Request"),
            UnknownScopes { .. } => (400, "unknown_scopes", "Bad Request"),
            NotFound => (404, "not_found", "Not Found"),
            MethodNotAllowed { .. } => (405, "method_not_allowed", "Method Not Allowed"),
            Conflict { .. } => (409, "conflict", "Conflict"),
        }
    }

    fn detail(&self) -> String {
        use GatewayError::*;
        match self {
            HttpsRequired => "this API is served over HTTPS only; a key sent over plain HTTP should be rotated".into(),
            MissingCredentials => "send the key as `Authorization: Bearer <key>`".into(),
            InvalidScheme => "the Authorization header must use the Bearer scheme: `Authorization: Bearer <key>`".into(),
            KeyMalformed => "the key is not in the expected format; copy it again without spaces or line breaks".into(),
            KeyChecksumMismatch => "the key's checksum does not match; it was probably mistyped or truncated".into(),
            KeyUnknown => "the key is not recognised".into(),
            KeyRevoked => "the key has been revoked".into(),
            KeyExpired => "the key has expired".into(),
            InsufficientScope { required_scope } => format!("this request needs the scope `{required_scope}`, which the key does not have"),
            RouteNotMapped { .. } => "no route matches this method and path".into(),
            AmbiguousPath { reason } => format!("the path contains {reason}, which the origin could read as a different path; keygate does not forward it"),
            OverrideNotAllowed { what } => format!("{what} could make the origin act on another method or path than the one authorised; send the real method and path instead"),
            MethodNotSupported => "keygate forwards only the standard HTTP methods (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)".into(),
            BodyNotAllowed => "a GET or HEAD request cannot carry a body".into(),
            RateLimited { window, retry_after_secs } => format!(
                "the key's {} limit is used up; retry after {retry_after_secs} seconds",
                match window { Window::Minute => "per-minute", Window::Day => "per-day" }
            ),
            ApprovalQueueUnavailable { required_scope } => format!(
                "the key may only perform this action with human approval, and the approval queue is not enabled in this deployment; `{required_scope}` would allow it directly"
            ),
            OriginUnreachable => "the upstream API could not be reached".into(),
            OriginTimeout => "the upstream API did not answer in time".into(),
            StoreUnavailable => "keygate could not reach its key store; the request was refused to stay safe".into(),
            Misconfigured => "keygate is misconfigured; the operator has been told in the logs".into(),
            Internal => "keygate failed unexpectedly; quote the request_id to the operator".into(),
            InvalidAdminToken => "send the root token as `Authorization: Bearer <token>`".into(),
            InvalidBody { errors } => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                _ => format!("{} fields are invalid; see `errors`", errors.len()),
            },
            UnknownScopes { unknown, .. } => format!(
                "unknown scope(s): {}; see `valid_scopes`",
                unknown.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
            ),
            NotFound => "no such resource".into(),
            MethodNotAllowed { allowed } => format!("allowed methods: {allowed}"),
            Conflict { detail } => detail.clone(),
        }
    }

    /// The response for this refusal. `request_id` ties the body to keygate's logs.
    pub fn to_problem(&self, request_id: &str) -> Problem {
        let (status, code, title) = self.describe();
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("urn:keygate:problem:{code}")));
        body.insert("title".into(), json!(title));
        body.insert("status".into(), json!(status));
        body.insert("code".into(), json!(code));
        body.insert("detail".into(), json!(self.detail()));
        body.insert("request_id".into(), json!(request_id));
        let mut headers = Vec::new();
        match self {
            GatewayError::MissingCredentials
            | GatewayError::InvalidScheme
            | GatewayError::KeyMalformed
            | GatewayError::KeyChecksumMismatch
            | GatewayError::KeyUnknown
            | GatewayError::KeyRevoked
            | GatewayError::KeyExpired => {
                headers.push(("WWW-Authenticate", r#"Bearer realm="keygate""#.to_string()));
            }
            GatewayError::InvalidAdminToken => {
                headers.push((
                    "WWW-Authenticate",
                    r#"Bearer realm="keygate-admin""#.to_string(),
                ));
            }
            GatewayError::InsufficientScope { required_scope }
            | GatewayError::ApprovalQueueUnavailable { required_scope } => {
                body.insert("required_scope".into(), json!(required_scope));
            }
            GatewayError::RateLimited {
                retry_after_secs, ..
            } => {
                headers.push(("Retry-After", retry_after_secs.to_string()));
                body.insert("retry_after".into(), json!(retry_after_secs));
            }
            GatewayError::InvalidBody { errors } => {
                let list: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"field": e.field, "message": e.message}))
                    .collect();
                body.insert("errors".into(), Value::Array(list));
            }
            GatewayError::UnknownScopes { unknown, valid } => {
                body.insert("unknown_scopes".into(), json!(unknown));
                body.insert("valid_scopes".into(), json!(valid));
            }
            GatewayError::MethodNotAllowed { allowed } => {
                headers.push(("Allow", allowed.to_string()));
            }
            _ => {}
        }
        Problem {
            status,
            headers,
            body: Value::Object(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_revoked_expired_share_one_shape() {
        let shapes: Vec<Vec<String>> = [
            GatewayError::KeyUnknown,
            GatewayError::KeyRevoked,
            GatewayError::KeyExpired,
        ]
        .iter()
        .map(|e| {
            let p = e.to_problem("req_1");
            assert_eq!(p.status, 401);
            assert_eq!(p.headers[0].0, "WWW-Authenticate");
            p.body.as_object().unwrap().keys().cloned().collect()
        })
        .collect();
        assert_eq!(shapes[0], shapes[1]);
        assert_eq!(shapes[1], shapes[2]);
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let p = GatewayError::RateLimited {
            window: Window::Minute,
            retry_after_secs: 17,
        }
        .to_problem("req_2");
        assert_eq!(p.status, 429);
        assert!(p.headers.contains(&("Retry-After", "17".to_string())));
        assert_eq!(p.body["retry_after"], 17);
        assert_eq!(p.body["code"], "rate_limited");
        assert_eq!(p.body["request_id"], "req_2");
    }

    #[test]
    fn scope_refusal_names_the_scope() {
        let p = GatewayError::InsufficientScope {
            required_scope: "contacts:write".into(),
        }
        .to_problem("r");
        assert_eq!(p.status, 403);
        assert_eq!(p.body["required_scope"], "contacts:write");
        assert!(p.body["detail"]
            .as_str()
            .unwrap()
            .contains("contacts:write"));
    }

    #[test]
    fn unmapped_routes_use_the_policy_status() {
        assert_eq!(GatewayError::RouteNotMapped { status: 403 }.status(), 403);
        assert_eq!(GatewayError::RouteNotMapped { status: 404 }.status(), 404);
    }

    #[test]
    fn field_errors_are_listed() {
        let p = GatewayError::InvalidBody {
            errors: vec![FieldError::new("name", "is required")],
        }
        .to_problem("r");
        assert_eq!(p.body["detail"], "name: is required");
        assert_eq!(p.body["errors"][0]["field"], "name");
    }
}
