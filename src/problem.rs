//! Every refusal keygate makes, and the `application/problem+json` body (RFC 9457) it
//! becomes. One enum, one exhaustive match: a new refusal cannot be added without saying
//! what status and code it answers with. Bodies never carry a key, a hash or internal
//! error text; the `detail` of each variant is written here, not passed through.

use crate::ambiguity::Ambiguity;
use crate::approval::{ApprovalStatus, QueueDeclined};
use crate::authority::SubmitterFailure;
use crate::authority::{Declined, Refusal};
use crate::cors::PreflightRefusal;
use crate::delegation::{Overreach, PermissionMissing, Stronger};
use crate::entitlement::PlanRefusal;
use crate::limits::Window;
use crate::policy::LifecycleAction;
use crate::portal::{PortalRefusal, ALLOWED_METHODS};
use crate::queue::QueueFull;
use crate::record::Status;
use crate::session::{Permission, TooManySessions};
use serde::Serialize;
use serde_json::Value;

/// One invalid field of an admin request body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// A whole key under another prefix: issued before the policy's `key_prefix` changed.
    KeyPrefixUnknown,
    KeyChecksumMismatch,
    KeyUnknown,
    KeyRevoked,
    KeyExpired,
    /// The key is valid but lacks the grant the route needs. `approval_scope` is the
    /// level that would have queued the request for a human, where the policy has one.
    InsufficientScope {
        required_scope: String,
        approval_scope: Option<String>,
    },
    /// A key in `Authorization` and in the policy's credential header at once, or a
    /// credential header sent more than once: keygate does not pick one (RFC 6750's
    /// `invalid_request`).
    CredentialsAmbiguous {
        what: String,
    },
    /// A CORS preflight the policy's `[cors]` table does not allow.
    CorsPreflightRefused {
        refused: PreflightRefusal,
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
    /// The grant is an approval level where nothing can be queued (keygate's own admin
    /// API): a key's management is never left waiting in a queue.
    ApprovalNotOffered {
        required_scope: String,
    },
    /// A body over the bound keygate reads it with: refused as soon as the bound is passed.
    PayloadTooLarge {
        max_bytes: u64,
        bound: BodyBound,
    },
    /// A form, multipart or JSON body keygate could not read whole for a method override
    /// (longer than it scans, or compressed), for an origin the policy says reads them.
    BodyNotScannable {
        max_bytes: u64,
    },
    /// A key of this deployment outside `Authorization` (path, query, another header),
    /// where it would reach the origin and its logs.
    KeyInRequest {
        place: String,
    },
    /// A request for the approval queue while one of its caps is reached; nothing is stored.
    ApprovalQueueFull(QueueFull),
    /// `GET /approvals` with the root token and no `?workspace=`: each workspace's queue is
    /// its own object, so there is no list of everything.
    WorkspaceRequired,
    /// Approve or reject of an approval that is no longer pending.
    ApprovalDecided {
        status: ApprovalStatus,
    },
    /// Approve of a request its key may no longer make; the approval is now failed.
    SubmitterNotAllowed {
        failure: SubmitterFailure,
    },
    /// A key deciding on a request it submitted itself.
    OwnApproval,
    /// A key deciding on a request of a key it created, that created it, or that was made
    /// by the same key (or whose creator is unknown).
    RelatedKeyApproval,
    OriginUnreachable,
    OriginTimeout,
    /// KV or the key's Durable Object failed: authentication fails closed.
    StoreUnavailable,
    /// The deployment's configuration is invalid; the precise reason is in the log.
    Misconfigured,
    /// Something keygate itself did failed; the precise reason is in the log.
    Internal,
    /// Admin API: the root token is missing (`credentials_sent: false`) or wrong.
    InvalidAdminToken {
        credentials_sent: bool,
    },
    InvalidBody {
        errors: Vec<FieldError>,
    },
    UnknownScopes {
        unknown: Vec<String>,
        valid: Vec<String>,
    },
    NotFound,
    MethodNotAllowed {
        allowed: String,
    },
    Conflict {
        detail: String,
    },
    /// The policy's `[lifecycle]` table turns this operation off.
    LifecycleNotAllowed {
        action: LifecycleAction,
    },
    /// Rotation needs an active key.
    KeyNotActive {
        status: Status,
    },
    /// A key acting on keys tried to give (or reach) more than it holds.
    BeyondOwnGrant(Overreach),
    /// A webhook secret rotation for a key that has no rejection webhook.
    NoRejectionWebhook,
    /// A key editing or rotating a key it did not create.
    NotKeyCreator,
    /// A key re-activating a key that the root token, another key, or nobody on record
    /// revoked.
    ReactivationNotAllowed,
    /// The workspace's plan does not offer what was asked (a request, a key, a limit).
    BeyondPlan(PlanRefusal),
    /// An admin route only the deployment's root token may call.
    RootTokenRequired,
    /// A member (portal session) calling a route its permissions do not cover.
    PermissionRequired {
        permission: Permission,
    },
    /// A mint for a workspace that already has the most live sessions it may.
    TooManySessions {
        max: u64,
    },
    /// A portal path on a Worker deployed without the built page (no static assets).
    PortalNotDeployed,
}

/// Which bound a body passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyBound {
    /// The policy's `[approvals] max_body_bytes` for a request waiting for approval.
    Queued,
    /// The admin API's bound on its JSON bodies.
    Admin,
}

/// A refusal ready to send: status, extra headers, and the problem body.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Problem {
    /// The problem with its `type` under a base URL of the provider's documentation
    /// (the policy's `[problems] type_base`): base + `code`, e.g.
    /// `https://docs.example.com/errors/key_revoked`.
    pub fn with_type_base(mut self, type_base: &str) -> Problem {
        if let Some(body) = self.body.as_object_mut() {
            let code = body.get("code").and_then(Value::as_str).unwrap_or_default();
            let typed = format!("{type_base}{code}");
            body.insert("type".into(), Value::String(typed));
        }
        self
    }
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
            KeyPrefixUnknown => (401, "key_prefix_unknown", "Unauthorized"),
            KeyChecksumMismatch => (401, "key_checksum_mismatch", "Unauthorized"),
            KeyUnknown => (401, "key_unknown", "Unauthorized"),
            KeyRevoked => (401, "key_revoked", "Unauthorized"),
            KeyExpired => (401, "key_expired", "Unauthorized"),
            InsufficientScope { .. } => (403, "insufficient_scope", "Forbidden"),
            CredentialsAmbiguous { .. } => (400, "credentials_ambiguous", "Bad Request"),
            CorsPreflightRefused { .. } => (403, "cors_preflight_refused", "Forbidden"),
            RouteNotMapped { status } => (*status, "route_not_mapped", "Route not available"),
            AmbiguousPath { .. } => (400, "path_ambiguous", "Bad Request"),
            OverrideNotAllowed { .. } => (400, "override_not_allowed", "Bad Request"),
            MethodNotSupported => (501, "method_not_supported", "Not Implemented"),
            BodyNotAllowed => (400, "body_not_allowed", "Bad Request"),
            RateLimited { .. } => (429, "rate_limited", "Too Many Requests"),
            ApprovalNotOffered { .. } => (403, "approval_not_offered", "Forbidden"),
            PayloadTooLarge { .. } => (413, "payload_too_large", "Content Too Large"),
            BodyNotScannable { .. } => (413, "body_not_scannable", "Content Too Large"),
            KeyInRequest { .. } => (400, "key_in_request", "Bad Request"),
            ApprovalQueueFull(_) => (429, "approval_queue_full", "Too Many Requests"),
            WorkspaceRequired => (400, "workspace_required", "Bad Request"),
            ApprovalDecided { .. } => (409, "approval_decided", "Conflict"),
            SubmitterNotAllowed { .. } => (409, "submitter_not_allowed", "Conflict"),
            OwnApproval => (403, "own_approval", "Forbidden"),
            RelatedKeyApproval => (403, "related_key_approval", "Forbidden"),
            OriginUnreachable => (502, "origin_unreachable", "Bad Gateway"),
            OriginTimeout => (504, "origin_timeout", "Gateway Timeout"),
            StoreUnavailable => (503, "store_unavailable", "Service Unavailable"),
            Misconfigured => (503, "gateway_misconfigured", "Service Unavailable"),
            Internal => (500, "internal_error", "Internal Server Error"),
            InvalidAdminToken { .. } => (401, "invalid_admin_token", "Unauthorized"),
            InvalidBody { .. } => (400, "invalid_request", "Bad Request"),
            UnknownScopes { .. } => (400, "unknown_scopes", "Bad Request"),
            NotFound => (404, "not_found", "Not Found"),
            MethodNotAllowed { .. } => (405, "method_not_allowed", "Method Not Allowed"),
            Conflict { .. } => (409, "conflict", "Conflict"),
            LifecycleNotAllowed { .. } => (409, "lifecycle_not_allowed", "Conflict"),
            KeyNotActive { .. } => (409, "key_not_active", "Conflict"),
            NoRejectionWebhook => (409, "no_rejection_webhook", "Conflict"),
            BeyondOwnGrant(overreach) => match overreach {
                Overreach::Scopes { .. } => (403, "scope_exceeds_own", "Forbidden"),
                Overreach::Limit { .. } => (403, "limit_exceeds_own", "Forbidden"),
                Overreach::Expiry { .. } => (403, "expiry_exceeds_own", "Forbidden"),
                Overreach::Environment => (403, "environment_exceeds_own", "Forbidden"),
                Overreach::Workspace { .. } => (403, "workspace_forbidden", "Forbidden"),
            },
            NotKeyCreator => (403, "not_key_creator", "Forbidden"),
            ReactivationNotAllowed => (403, "reactivation_not_allowed", "Forbidden"),
            BeyondPlan(refusal) => match refusal {
                PlanRefusal::NoApiAccess { .. } => (403, "plan_required", "Forbidden"),
                PlanRefusal::ScopesNotInPlan { .. } => (403, "scope_not_in_plan", "Forbidden"),
                PlanRefusal::LimitAbovePlan { .. } => (403, "limit_exceeds_plan", "Forbidden"),
            },
            RootTokenRequired => (403, "root_token_required", "Forbidden"),
            PermissionRequired { .. } => (403, "permission_required", "Forbidden"),
            TooManySessions { .. } => (409, "too_many_sessions", "Conflict"),
            PortalNotDeployed => (404, "portal_not_deployed", "Not Found"),
        }
    }

    fn detail(&self) -> String {
        use GatewayError::*;
        match self {
            HttpsRequired => "this API is served over HTTPS only; a key sent over plain HTTP should be rotated".into(),
            MissingCredentials => "send the key as `Authorization: Bearer <key>`".into(),
            InvalidScheme => "the Authorization header must use the Bearer scheme: `Authorization: Bearer <key>`".into(),
            KeyMalformed => "the key is not in the expected format; copy it again without spaces or line breaks".into(),
            // Names neither prefix: the client has its own, and needs no more than "get a new key".
            KeyPrefixUnknown => "the key was not issued under this gateway's key prefix; keys issued before the prefix changed no longer work, so ask for a new one".into(),
            KeyChecksumMismatch => "the key's checksum does not match; it was probably mistyped or truncated".into(),
            KeyUnknown => "the key is not recognised".into(),
            KeyRevoked => "the key has been revoked".into(),
            KeyExpired => "the key has expired".into(),
            InsufficientScope { required_scope, approval_scope: None } => format!("this request needs the scope `{required_scope}`, which the key does not have"),
            InsufficientScope { required_scope, approval_scope: Some(approval_scope) } => format!(
                "this request needs the scope `{required_scope}`, which the key does not have; with `{approval_scope}` it would be queued for a human to approve"
            ),
            CredentialsAmbiguous { what } => format!("{what}; send one key, once, in one header"),
            CorsPreflightRefused { refused } => format!("{refused}; this deployment's CORS settings do not allow the request"),
            RouteNotMapped { .. } => "no route matches this method and path".into(),
            AmbiguousPath { reason } => format!("the path contains {reason}, which the origin could read as a different path; keygate does not forward it"),
            OverrideNotAllowed { what } => format!("{what} could make the origin act on another method or path than the one authorised; send the real method and path instead"),
            MethodNotSupported => "keygate forwards only the standard HTTP methods (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)".into(),
            BodyNotAllowed => "a GET or HEAD request cannot carry a body".into(),
            RateLimited { window, retry_after_secs } => format!(
                "the key's {} limit is used up; retry after {retry_after_secs} seconds",
                match window { Window::Minute => "per-minute", Window::Day => "per-day" }
            ),
            ApprovalNotOffered { required_scope } => format!(
                "the key holds only the approval level for this action, and key management is never queued for approval; `{required_scope}` would allow it"
            ),
            PayloadTooLarge { max_bytes, bound: BodyBound::Queued } => format!(
                "the body is larger than the {max_bytes} bytes a request waiting for approval may carry; nothing was queued"
            ),
            PayloadTooLarge { max_bytes, bound: BodyBound::Admin } => format!(
                "the body is larger than the {max_bytes} bytes an admin request may carry; nothing was changed"
            ),
            BodyNotScannable { max_bytes } => format!(
                "the origin reads method overrides from bodies, and keygate checks only the first {max_bytes} bytes of a form, multipart or JSON body, uncompressed; send a smaller or uncompressed body"
            ),
            KeyInRequest { place } => format!(
                "{place} holds an API key; send a key only in the Authorization header, and rotate this one if it was shared"
            ),
            ApprovalQueueFull(full) => full.detail(),
            WorkspaceRequired => "the root token lists one workspace's approvals at a time: add `?workspace=`".into(),
            ApprovalDecided { status } => format!(
                "the approval is {} and can no longer be approved or rejected",
                status.as_str()
            ),
            SubmitterNotAllowed { failure } => format!(
                "{}; the approval has failed and the request was not sent",
                failure.detail()
            ),
            OwnApproval => "a key cannot approve or reject a request it submitted itself; ask another reviewer".into(),
            RelatedKeyApproval => "a key cannot approve or reject a request of a key it created, of the key that created it, or of a key made by the same key (nor where a creator is unknown); ask another reviewer".into(),
            OriginUnreachable => "the upstream API could not be reached".into(),
            OriginTimeout => "the upstream API did not answer in time".into(),
            StoreUnavailable => "keygate could not reach its key store; the request was refused to stay safe".into(),
            Misconfigured => "keygate is misconfigured; the operator has been told in the logs".into(),
            Internal => "keygate failed unexpectedly; quote the request_id to the operator".into(),
            InvalidAdminToken { .. } => "send the root token as `Authorization: Bearer <token>`".into(),
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
            LifecycleNotAllowed { action } => format!(
                "this deployment's policy does not allow {} keys (`[lifecycle] {} = false`)",
                match action {
                    LifecycleAction::Edit => "editing",
                    LifecycleAction::Revoke => "revoking",
                    LifecycleAction::Reactivate => "re-activating",
                    LifecycleAction::Rotate => "rotating",
                },
                action.as_str()
            ),
            KeyNotActive { status } => format!("the key is {}; only an active key can be rotated", status.as_str()),
            NoRejectionWebhook => "the key has no rejection webhook, so it has no webhook secret to rotate; set `rejection_webhook` first (that answer shows its secret)".into(),
            BeyondOwnGrant(overreach) => match overreach {
                Overreach::Scopes { scopes } => format!(
                    "a key cannot give more than it holds: {} not within the calling key's scopes",
                    scopes.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                        + if scopes.len() == 1 { " is" } else { " are" }
                ),
                Overreach::Limit { window, own } => format!(
                    "a key cannot give a higher limit than its own: the calling key's {} limit is {own}",
                    match window { Window::Minute => "per-minute", Window::Day => "per-day" }
                ),
                Overreach::Expiry { own } => format!(
                    "the calling key expires at {}; a key it manages must expire no later",
                    crate::timestamp::format_rfc3339(*own)
                ),
                Overreach::Environment => "a key manages only keys of its own environment: a test key test keys, a live key live keys".into(),
                Overreach::Workspace { own } => format!("the calling key manages only keys of its own workspace, `{own}`"),
            },
            NotKeyCreator => "only the root token or the key that created this key may edit or rotate it".into(),
            BeyondPlan(PlanRefusal::NoApiAccess { plan, needed: Some(needed) }) => format!("the workspace's plan, `{plan}`, does not include API access; the `{needed}` plan does: upgrade the workspace first"),
            BeyondPlan(PlanRefusal::NoApiAccess { plan, needed: None }) => format!("the workspace's plan, `{plan}`, does not include API access"),
            BeyondPlan(PlanRefusal::ScopesNotInPlan { plan, scopes }) => format!("the workspace's plan, `{plan}`, does not include {}", scopes.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")),
            BeyondPlan(PlanRefusal::LimitAbovePlan { plan, window, max }) => format!("the workspace's plan, `{plan}`, allows a key at most {max} requests per {}", window.policy_name()),
            RootTokenRequired => "only the deployment's root token may call this admin route".into(),
            ReactivationNotAllowed => "only the root token, or the key that revoked this key (while it still holds `api_keys:delete`), may re-activate it".into(),
            PermissionRequired { permission } => format!(
                "this call needs the session permission `{}`, which this session does not have",
                permission.as_str()
            ),
            TooManySessions { max } => format!(
                "the workspace already has {max} live sessions, the most it may have; revoke one or wait for one to expire"
            ),
            PortalNotDeployed => "the portal page is not deployed with this Worker: build it (scripts/build.sh) and deploy with wrangler.toml's [assets]".into(),
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3) of a refusal about the credential.
    /// A request that sent none, or not as a bearer token, gets the bare challenge (§3.1:
    /// no error code when authentication information is missing or of an unsupported
    /// method); a token that is not accepted `invalid_token`; a malformed request
    /// `invalid_request`; a token without the grant `insufficient_scope` with the `scope`
    /// it needs. Scopes are policy names (`[a-z0-9_:-]`), never in need of escaping.
    fn challenge(&self) -> Option<String> {
        use GatewayError::*;
        let data_plane = r#"Bearer realm="keygate""#;
        match self {
            MissingCredentials | InvalidScheme => Some(data_plane.to_string()),
            KeyMalformed | KeyPrefixUnknown | KeyChecksumMismatch | KeyUnknown | KeyRevoked
            | KeyExpired => Some(format!(r#"{data_plane}, error="invalid_token""#)),
            CredentialsAmbiguous { .. } => {
                Some(format!(r#"{data_plane}, error="invalid_request""#))
            }
            InsufficientScope { required_scope, .. } | ApprovalNotOffered { required_scope } => {
                Some(format!(
                    r#"{data_plane}, error="insufficient_scope", scope="{required_scope}""#
                ))
            }
            InvalidAdminToken {
                credentials_sent: false,
            } => Some(r#"Bearer realm="keygate-admin""#.to_string()),
            InvalidAdminToken {
                credentials_sent: true,
            } => Some(r#"Bearer realm="keygate-admin", error="invalid_token""#.to_string()),
            _ => None,
        }
    }

    /// The response for this refusal. `request_id` ties the body to keygate's logs.
    pub fn to_problem(&self, request_id: &str) -> Problem {
        let (status, code, title) = self.describe();
        let mut headers = Vec::new();
        if let Some(challenge) = self.challenge() {
            headers.push(("WWW-Authenticate", challenge));
        }
        match self {
            GatewayError::RateLimited {
                retry_after_secs, ..
            } => headers.push(("Retry-After", retry_after_secs.to_string())),
            GatewayError::MethodNotAllowed { allowed } => headers.push(("Allow", allowed.clone())),
            _ => {}
        }
        let body = ProblemBody {
            problem_type: format!("urn:keygate:problem:{code}"),
            title,
            status,
            code,
            detail: self.detail(),
            request_id,
            members: self.members(),
        };
        Problem {
            status,
            headers,
            // A map of plain values cannot fail to serialize.
            body: serde_json::to_value(body).unwrap_or_default(),
        }
    }

    /// The members this refusal adds to the standard ones, for clients to act on.
    fn members(&self) -> Option<Members<'_>> {
        Some(match self {
            GatewayError::InsufficientScope {
                required_scope,
                approval_scope,
            } => Members::Scope {
                required_scope,
                approval_scope: approval_scope.as_deref(),
            },
            GatewayError::ApprovalNotOffered { required_scope } => Members::Scope {
                required_scope,
                approval_scope: None,
            },
            GatewayError::PayloadTooLarge { max_bytes, .. }
            | GatewayError::BodyNotScannable { max_bytes } => Members::MaxBytes {
                max_bytes: *max_bytes,
            },
            GatewayError::ApprovalQueueFull(full) => Members::QueueCap {
                cap: full.setting(),
                max: full.max(),
            },
            // `status` is the HTTP status in a problem; the approval's is `approval_status`.
            GatewayError::ApprovalDecided { status } => Members::ApprovalStatus {
                approval_status: *status,
                reason: None,
            },
            GatewayError::SubmitterNotAllowed { failure } => Members::ApprovalStatus {
                approval_status: ApprovalStatus::Failed,
                reason: Some(failure.code()),
            },
            GatewayError::RateLimited {
                retry_after_secs, ..
            } => Members::RetryAfter {
                retry_after: *retry_after_secs,
            },
            GatewayError::InvalidBody { errors } => Members::Errors { errors },
            GatewayError::UnknownScopes { unknown, valid } => Members::UnknownScopes {
                unknown_scopes: unknown,
                valid_scopes: valid,
            },
            GatewayError::KeyNotActive { status } => Members::KeyStatus {
                key_status: *status,
            },
            GatewayError::BeyondOwnGrant(Overreach::Scopes { scopes }) => {
                Members::Scopes { scopes }
            }
            GatewayError::BeyondPlan(refusal) => match refusal {
                PlanRefusal::NoApiAccess { plan, needed } => Members::Plan {
                    plan,
                    required_plan: needed.as_deref(),
                },
                PlanRefusal::ScopesNotInPlan { plan, scopes } => {
                    Members::PlanScopes { plan, scopes }
                }
                PlanRefusal::LimitAbovePlan { plan, window, max } => Members::PlanLimit {
                    plan,
                    window: window.policy_name(),
                    max: *max,
                },
            },
            GatewayError::PermissionRequired { permission } => Members::Permission {
                permission: *permission,
            },
            GatewayError::TooManySessions { max } => Members::Max { max: *max },
            _ => return None,
        })
    }
}

/// A problem body (RFC 9457) as keygate sends it: the standard members, keygate's `code`
/// and `request_id`, and the members one refusal adds.
#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: String,
    request_id: &'a str,
    #[serde(flatten)]
    members: Option<Members<'a>>,
}

/// The members a refusal adds, by what a client does with them.
#[derive(Serialize)]
#[serde(untagged)]
enum Members<'a> {
    Scope {
        required_scope: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        approval_scope: Option<&'a str>,
    },
    MaxBytes {
        max_bytes: u64,
    },
    QueueCap {
        cap: &'static str,
        max: u64,
    },
    ApprovalStatus {
        approval_status: ApprovalStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    },
    RetryAfter {
        retry_after: u64,
    },
    Errors {
        errors: &'a [FieldError],
    },
    UnknownScopes {
        unknown_scopes: &'a [String],
        valid_scopes: &'a [String],
    },
    KeyStatus {
        key_status: Status,
    },
    Scopes {
        scopes: &'a [String],
    },
    Plan {
        plan: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        required_plan: Option<&'a str>,
    },
    PlanScopes {
        plan: &'a str,
        scopes: &'a [String],
    },
    PlanLimit {
        plan: &'a str,
        window: &'static str,
        max: u32,
    },
    Permission {
        permission: Permission,
    },
    Max {
        max: u64,
    },
}

// What each layer's own refusals become on the wire. They live here, with the error they
// build, so the layers below never import the HTTP face.

impl From<Ambiguity> for GatewayError {
    fn from(ambiguity: Ambiguity) -> GatewayError {
        match ambiguity {
            Ambiguity::MethodNotSupported => GatewayError::MethodNotSupported,
            Ambiguity::Path { reason } => GatewayError::AmbiguousPath { reason },
            Ambiguity::Override { what } => GatewayError::OverrideNotAllowed { what },
            Ambiguity::KeyInRequest { place } => GatewayError::KeyInRequest { place },
            Ambiguity::BodyNotAllowed => GatewayError::BodyNotAllowed,
            Ambiguity::BodyNotScannable { max_bytes } => {
                GatewayError::BodyNotScannable { max_bytes }
            }
        }
    }
}

impl From<Refusal> for GatewayError {
    fn from(refusal: Refusal) -> GatewayError {
        match refusal {
            Refusal::Unknown => GatewayError::KeyUnknown,
            Refusal::Revoked => GatewayError::KeyRevoked,
            Refusal::Expired => GatewayError::KeyExpired,
            Refusal::Scope {
                required_scope,
                approval_scope,
            } => GatewayError::InsufficientScope {
                required_scope,
                approval_scope,
            },
            Refusal::ApprovalNotOffered { required_scope } => {
                GatewayError::ApprovalNotOffered { required_scope }
            }
            Refusal::BodyTooLarge { max_bytes } => GatewayError::PayloadTooLarge {
                max_bytes,
                bound: BodyBound::Queued,
            },
            Refusal::Throttled {
                window,
                retry_after_secs,
            } => GatewayError::RateLimited {
                window,
                retry_after_secs,
            },
            Refusal::Plan(refusal) => GatewayError::BeyondPlan(refusal),
        }
    }
}

impl From<Declined> for GatewayError {
    fn from(declined: Declined) -> GatewayError {
        match declined {
            Declined::NotFound => GatewayError::NotFound,
            Declined::NotAllowed { action } => GatewayError::LifecycleNotAllowed { action },
            Declined::NotActive { status } => GatewayError::KeyNotActive { status },
            Declined::Overreach(overreach) => GatewayError::BeyondOwnGrant(overreach),
            Declined::Stronger(Stronger::NotCreator) => GatewayError::NotKeyCreator,
            Declined::Stronger(Stronger::RevokedByOther) => GatewayError::ReactivationNotAllowed,
            Declined::InvalidLimits { message } => GatewayError::InvalidBody {
                errors: vec![FieldError::new("limits", message)],
            },
            Declined::NoWebhook => GatewayError::NoRejectionWebhook,
            Declined::Plan(refusal) => GatewayError::BeyondPlan(refusal),
        }
    }
}

impl From<PlanRefusal> for GatewayError {
    fn from(refusal: PlanRefusal) -> GatewayError {
        GatewayError::BeyondPlan(refusal)
    }
}

impl From<PermissionMissing> for GatewayError {
    fn from(missing: PermissionMissing) -> GatewayError {
        GatewayError::PermissionRequired {
            permission: missing.permission,
        }
    }
}

impl From<TooManySessions> for GatewayError {
    fn from(full: TooManySessions) -> GatewayError {
        GatewayError::TooManySessions { max: full.max }
    }
}

impl From<PortalRefusal> for GatewayError {
    fn from(refusal: PortalRefusal) -> GatewayError {
        match refusal {
            PortalRefusal::NotFound => GatewayError::NotFound,
            PortalRefusal::MethodNotAllowed => GatewayError::MethodNotAllowed {
                allowed: ALLOWED_METHODS.to_string(),
            },
            PortalRefusal::NotDeployed => GatewayError::PortalNotDeployed,
        }
    }
}

impl From<QueueDeclined> for GatewayError {
    fn from(declined: QueueDeclined) -> GatewayError {
        match declined {
            QueueDeclined::NotFound => GatewayError::NotFound,
            QueueDeclined::NotPending { status } => GatewayError::ApprovalDecided { status },
            QueueDeclined::OwnApproval => GatewayError::OwnApproval,
            QueueDeclined::RelatedApproval => GatewayError::RelatedKeyApproval,
            QueueDeclined::SubmitterNotAllowed { failure } => {
                GatewayError::SubmitterNotAllowed { failure }
            }
            QueueDeclined::QueueFull { full } => GatewayError::ApprovalQueueFull(full),
        }
    }
}

#[cfg(test)]
mod tests;
