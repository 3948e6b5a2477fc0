//! The admin API's calls, decided: who is calling (the root token, a key its authority
//! admits, or a member through a live portal session), what a key creation and a rotation write and in which order, what each reply
//! answers, and a reviewer's verdict on an approval. The edge (`src/edge/admin.rs` and
//! `approvals.rs`) draws the randomness, makes the calls and writes what these return.
//!
//! The approval verdict lives here, not with the data plane's request path: it is made by a
//! reviewer's admin call, and only an admin call sends an approved request to the origin.

use crate::admin::{
    asked_workspace, parse_create_with, AdminRoute, NewSession, ADMIN_PREFIX, DEFAULT_WORKSPACE,
};
use crate::approval::{
    Approval, ApprovalId, ApprovalStatus, OriginResult, QueueReply, Verdict, APPROVALS_RESOURCE,
};
use crate::authority::{key_object, Command, LimitHeaders, Reply, RetiredSecret, SubmitterFailure};
use crate::config::{Config, RootToken};
use crate::delegation::Actor;
use crate::directory::{DirectoryCommand, DirectoryReply, SessionRef};
use crate::entitlement;
use crate::key::{
    self, hash_key, ApiKey, Environment, IndexName, KeyHash, KeyId, ParsedKey, KEY_ID_RANDOM_BYTES,
    KEY_RANDOM_BYTES,
};
use crate::policy::{ApprovalSettings, Policy};
use crate::problem::GatewayError;
use crate::record::Grantee;
use crate::request::bearer::bearer_token;
use crate::request::reply::{unwanted, ReplyError};
use crate::session::{
    Session, SessionId, SessionIndexName, SessionToken, SESSION_ID_RANDOM_BYTES,
    SESSION_TOKEN_RANDOM_BYTES,
};
use crate::timestamp::format_rfc3339;
use crate::webhook::secret::{WebhookSecret, WEBHOOK_SECRET_RANDOM_BYTES};
use crate::workspace::{PlanAssignment, Workspace, WorkspaceName};
use serde_json::Value;

// ---- Who is calling ----

/// What an admin caller presented.
#[derive(Debug)]
pub enum AdminCredential {
    Root,
    /// A key of this deployment, by its format: its authority decides the rest.
    Key(ParsedKey),
    /// A portal session token, by its format: the key directory's row decides the rest.
    Session(SessionToken),
}

/// The caller's `Authorization: Bearer` token: the root token, a key of this deployment,
/// or a portal session token. Anything else is `invalid_admin_token`, whose
/// `credentials_sent` tells a missing token from a wrong one.
pub fn admin_credential(
    authorization: Option<&str>,
    root_token: &RootToken,
    key_prefix: &str,
) -> Result<AdminCredential, GatewayError> {
    let token = bearer_token(authorization).map_err(|error| GatewayError::InvalidAdminToken {
        credentials_sent: error != GatewayError::MissingCredentials,
    })?;
    if root_token.matches(token) {
        return Ok(AdminCredential::Root);
    }
    // A key first: under the policy's prefix `kgs` a key starts like a session token.
    if let Ok(parsed) = key::parse(token, key_prefix) {
        return Ok(AdminCredential::Key(parsed));
    }
    SessionToken::parse(token)
        .map(AdminCredential::Session)
        .ok_or(GatewayError::InvalidAdminToken {
            credentials_sent: true,
        })
}

/// Why a caller without the right credential kind may not call `route`: a route about the
/// caller's own session has nothing to show anyone but a session (404), and the other
/// session routes are the root token's.
fn not_for_this_caller(route: &AdminRoute) -> GatewayError {
    match route.is_own_session() {
        true => GatewayError::NotFound,
        false => GatewayError::RootTokenRequired,
    }
}

/// The root token may call every route but those about the caller's own session.
pub fn root_may_call(route: &AdminRoute) -> Result<(), GatewayError> {
    match route.is_own_session() {
        true => Err(not_for_this_caller(route)),
        false => Ok(()),
    }
}

/// The authority's command for a key calling `route`, so that a revoked key loses admin
/// rights on the very next request and admin calls count against the key's limits like any
/// other: for `api_keys` routes, admitted with the grant the route needs; for the approval
/// queue only identified (any active key), since what it may see depends on the approval
/// (its own, or its workspace's with an `approvals` grant) — but listing or deciding needs
/// a plan that offers the queue, so that no key of a workspace without it is a reviewer,
/// whatever it holds (`admin` included). A route no key may call (the root token's, or a
/// portal session's own) is refused before any key is looked up.
pub fn authentication(route: &AdminRoute, key_hash: KeyHash) -> Result<Command, GatewayError> {
    let grant = route
        .required_grant()
        .ok_or_else(|| not_for_this_caller(route))?;
    Ok(match grant.resource.as_str() {
        APPROVALS_RESOURCE => Command::Identify {
            key_hash,
            offered: match route {
                AdminRoute::GetApproval(_) => None,
                _ => Some(grant),
            },
        },
        _ => Command::Admit {
            key_hash,
            resource: grant.resource,
            action: grant.action,
            queueing: None,
        },
    })
}

/// Reads the reply to [`authentication`]'s command: the key as an actor, and its limit state.
pub fn admin_actor(reply: Reply) -> Result<(Actor, LimitHeaders), ReplyError> {
    match reply {
        Reply::Admitted {
            grantee,
            limit_headers,
        } => Ok((Actor::Key { grantee }, limit_headers)),
        other => Err(unwanted(other)),
    }
}

// ---- Portal sessions ----

/// The key directory's command that finds a session token's live session.
pub fn find_session(index_name: SessionIndexName, now_ms: u64) -> DirectoryCommand {
    DirectoryCommand::FindSession { index_name, now_ms }
}

/// Reads the reply to [`find_session`] as the member calling `route`, at `now_ms`: a
/// token that names no live session (never minted, revoked, expired) is
/// `invalid_admin_token`, like any other wrong token; a live one may call the routes
/// about itself and those its permissions give, and no other (403 naming the permission,
/// or the root token for the session routes). The workspace's plan binds a member's review
/// as it binds a key's: listing or deciding on the queue needs a plan that offers it.
pub fn session_caller(
    reply: DirectoryReply,
    route: &AdminRoute,
    policy: &Policy,
    now_ms: u64,
) -> Result<(Session, Actor), ReplyError> {
    let (session, assignment) = match reply {
        DirectoryReply::Session {
            session,
            assignment,
        } => (session, assignment),
        other => return Err(unwanted(other)),
    };
    let session = session.filter(|session| session.is_live(now_ms)).ok_or(
        GatewayError::InvalidAdminToken {
            credentials_sent: true,
        },
    )?;
    let actor = Actor::Member {
        workspace: session.workspace.clone(),
        member: session.member.clone(),
        permissions: session.permissions.clone(),
    };
    if !route.is_own_session() {
        let needed = route
            .required_permission()
            .ok_or_else(|| not_for_this_caller(route))?;
        actor.holds(needed).map_err(GatewayError::from)?;
    }
    let reviews = match route {
        AdminRoute::ListApprovals | AdminRoute::Approve(_) | AdminRoute::Reject(_) => {
            route.required_grant()
        }
        _ => None,
    };
    if let Some(review) = reviews {
        let plan = entitlement::plan_of(policy, &assignment);
        entitlement::admits(plan, Some(&review), policy).map_err(GatewayError::from)?;
    }
    Ok((session, actor))
}

/// The randomness a mint draws from the platform.
pub struct MintRandom {
    pub id: [u8; SESSION_ID_RANDOM_BYTES],
    pub token: [u8; SESSION_TOKEN_RANDOM_BYTES],
}

/// A mint: the directory command that stores the session, and the token to show once.
pub struct Mint {
    pub command: DirectoryCommand,
    pub session: Session,
    pub token: SessionToken,
}

pub fn plan_mint(
    new_session: NewSession,
    config: &Config,
    now_ms: u64,
    random: &MintRandom,
) -> Mint {
    let token = SessionToken::generate(&random.token);
    let session = new_session.into_session(SessionId::generate(&random.id), now_ms);
    Mint {
        command: DirectoryCommand::MintSession {
            index_name: token.index_name(&config.hash_secret),
            session: session.clone(),
            now_ms,
        },
        session,
        token,
    }
}

/// Reads the reply to [`Mint::command`]: stored, or the workspace's cap reached (409).
pub fn minted(reply: DirectoryReply) -> Result<(), ReplyError> {
    match reply {
        DirectoryReply::SessionMinted => Ok(()),
        other => Err(unwanted(other)),
    }
}

/// The command that ends the session with this token name, or the one with this id.
pub fn revoke_session(by: SessionRef) -> DirectoryCommand {
    DirectoryCommand::RevokeSession { by }
}

/// Reads the reply to [`revoke_session`]: an unknown session is a 404.
pub fn session_revoked(reply: DirectoryReply) -> Result<(), ReplyError> {
    match reply {
        DirectoryReply::SessionRevoked { found: true } => Ok(()),
        DirectoryReply::SessionRevoked { found: false } => Err(GatewayError::NotFound.into()),
        other => Err(unwanted(other)),
    }
}

// ---- The KV index ----

/// One KV index entry: a secret's hash names its key's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: IndexName,
    pub key_id: KeyId,
    /// `None`: kept for good.
    pub ttl_secs: Option<u64>,
}

/// KV needs an expiry at least 60 s ahead; the authority enforces the exact end.
pub const KV_EXPIRY_MARGIN_SECS: u64 = 60;

/// A retired secret's entry, rewritten to expire on its own once the secret's grace has
/// ended (the authority refuses the secret exactly on time; KV only forgets it later).
pub fn retired_entry(retired: RetiredSecret, key_id: &KeyId, now_ms: u64) -> IndexEntry {
    IndexEntry {
        name: retired.index_name,
        key_id: key_id.clone(),
        ttl_secs: Some(retired.valid_until.saturating_sub(now_ms) / 1_000 + KV_EXPIRY_MARGIN_SECS),
    }
}

// ---- Create ----

/// The randomness a key creation draws from the platform.
pub struct CreationRandom {
    pub key_id: [u8; KEY_ID_RANDOM_BYTES],
    pub key: [u8; KEY_RANDOM_BYTES],
    /// Kept by the authority only when the key has a rejection webhook.
    pub webhook_secret: [u8; WEBHOOK_SECRET_RANDOM_BYTES],
}

/// A key creation, in the order the edge carries it out: write `index` (for good) first,
/// since until the authority holds the record it leads nowhere; then send `create` to the
/// new key's authority (`index.key_id`), so that if that call fails the secret was never
/// shown.
pub struct Creation {
    pub index: IndexEntry,
    pub create: Command,
    /// The new key, shown in the answer only.
    pub key: ApiKey,
}

/// A create body, and the workspace the key will belong to: its plan is read before the
/// body is checked ([`plan_creation`]), since a limits window left out takes the plan's
/// default.
pub struct CreateRequest {
    workspace: WorkspaceName,
    body: Vec<u8>,
}

impl CreateRequest {
    pub fn workspace(&self) -> &WorkspaceName {
        &self.workspace
    }
}

/// The workspace a create body's key will belong to: the body's, else the actor's own,
/// else the default one. Nothing is refused here: a body that names a bad workspace, or one
/// a key may not reach, is refused by [`plan_creation`] with every other error in it.
pub fn read_creation(body: &[u8], actor: &Actor) -> CreateRequest {
    let asked = asked_workspace(body);
    let workspace = actor
        .workspace_for(asked.as_deref())
        .ok()
        .flatten()
        .or_else(|| actor.workspace_for(None).ok().flatten())
        .and_then(|name| WorkspaceName::parse(&name))
        .unwrap_or_else(WorkspaceName::default_workspace);
    CreateRequest {
        workspace,
        body: body.to_vec(),
    }
}

/// Checks a create body against the policy and the plan its workspace is on
/// (`assignment`), and builds the key within what `actor` may hand out.
pub fn plan_creation(
    request: CreateRequest,
    assignment: PlanAssignment,
    actor: &Actor,
    config: &Config,
    now_ms: u64,
    random: &CreationRandom,
) -> Result<Creation, GatewayError> {
    let plan = entitlement::plan_of(&config.policy, &assignment);
    let defaults = entitlement::default_limits(plan, &config.policy);
    let new_key = parse_create_with(
        &request.body,
        &config.policy,
        defaults,
        now_ms,
        config.https_only,
    )?;
    let workspace = actor
        .workspace_for(new_key.workspace.as_deref())
        .map_err(GatewayError::BeyondOwnGrant)?
        .unwrap_or_else(|| DEFAULT_WORKSPACE.to_string());
    // The plan read was that of `request.workspace`; a key of any other would be our bug.
    if workspace != request.workspace.as_str() {
        return Err(GatewayError::Internal);
    }
    let key_id = KeyId::generate(&random.key_id);
    let key = ApiKey::generate(config.policy.key_prefix(), new_key.environment, &random.key);
    let mut record = new_key.into_record(
        key_id.clone(),
        &key,
        now_ms,
        workspace.as_str(),
        actor.principal(),
        actor.family_for_new_key(),
    );
    record.plan = assignment;
    // The plan binds every actor, the root token too: it is what the workspace bought.
    let plan = entitlement::key_plan(&record, &config.policy);
    entitlement::may_create(plan, &config.policy)?;
    entitlement::fits(&record.scopes, record.limits, plan, &config.policy)?;
    actor.pin_limits(&mut record, &config.policy);
    actor
        .may_hold(&record, &config.policy)
        .map_err(GatewayError::BeyondOwnGrant)?;
    let secret = hash_key(&config.hash_secret, &key);
    Ok(Creation {
        index: IndexEntry {
            name: secret.index_name(),
            key_id,
            ttl_secs: None,
        },
        create: Command::Create {
            record: Box::new(record),
            secret,
            webhook_secret: WebhookSecret::generate(&random.webhook_secret),
        },
        key,
    })
}

/// Reads the directory's reply to `Workspace`: the workspace, `None` if keygate never
/// heard of it (it is then on the default plan).
pub fn workspace_reply(reply: DirectoryReply) -> Result<Option<Workspace>, GatewayError> {
    match reply {
        DirectoryReply::Workspace { workspace } => Ok(workspace),
        _ => Err(GatewayError::Internal),
    }
}

/// The workspace `GET /workspaces/{workspace}` shows: one the actor reaches and keygate
/// knows; any other is a 404, so a key learns nothing of other workspaces.
pub fn shown_workspace(reply: DirectoryReply, actor: &Actor) -> Result<Workspace, GatewayError> {
    match workspace_reply(reply)? {
        Some(workspace) if actor.reaches(workspace.id.as_str()) => Ok(workspace),
        _ => Err(GatewayError::NotFound),
    }
}

/// Reads the directory's reply to `SetPlan`.
pub fn plan_set(reply: DirectoryReply) -> Result<(Workspace, u64, u64), GatewayError> {
    match reply {
        DirectoryReply::PlanSet {
            workspace,
            updated,
            pending,
        } => Ok((workspace, updated, pending)),
        _ => Err(GatewayError::Internal),
    }
}

/// Reads the reply to [`Creation::create`]: the new key's object, its secret shown this
/// once (it is never stored or shown again).
pub fn created(
    reply: Reply,
    creation: &Creation,
    policy: &Policy,
    now_ms: u64,
) -> Result<Value, ReplyError> {
    match reply {
        Reply::AlreadyExists => Err(GatewayError::Conflict {
            detail: "a key with this id already exists; retry the request".into(),
        }
        .into()),
        Reply::Key {
            record,
            last_used_at,
            webhook_secret,
            ..
        } => {
            let mut body = key_object(&record, last_used_at, policy, now_ms);
            insert(&mut body, "key", creation.key.expose().into());
            show_webhook_secret(&mut body, webhook_secret.as_ref());
            Ok(body)
        }
        other => Err(unwanted(other)),
    }
}

/// Where a key is found in the admin API (`Location`).
pub fn key_location(id: &KeyId) -> String {
    format!("{ADMIN_PREFIX}/keys/{}", id.as_str())
}

// ---- Rotate ----

/// Reads the reply to the `Get` before a rotation: the key's environment, which the new
/// secret keeps.
pub fn key_environment(reply: Reply) -> Result<Environment, ReplyError> {
    match reply {
        Reply::Key { record, .. } => Ok(record.environment),
        other => Err(unwanted(other)),
    }
}

/// A rotation, in the order the edge carries it out: write `index` (the new secret's entry,
/// for good) before the authority switches, so the new secret works the moment it is shown;
/// then send `rotate`; then do what [`rotated`] says.
pub struct Rotation {
    pub index: IndexEntry,
    pub rotate: Command,
    /// The new key, shown in the answer only.
    pub key: ApiKey,
}

pub fn plan_rotation(
    key_id: &KeyId,
    environment: Environment,
    actor: Actor,
    grace_ms: u64,
    config: &Config,
    random: &[u8; KEY_RANDOM_BYTES],
) -> Rotation {
    let key = ApiKey::generate(config.policy.key_prefix(), environment, random);
    let secret = hash_key(&config.hash_secret, &key);
    Rotation {
        index: IndexEntry {
            name: secret.index_name(),
            key_id: key_id.clone(),
            ttl_secs: None,
        },
        rotate: Command::Rotate {
            actor,
            secret,
            hint: key.hint(),
            grace_ms,
        },
        key,
    }
}

/// What follows the authority's reply to [`Rotation::rotate`].
#[derive(Debug)]
pub enum RotationOutcome {
    /// Rewrite each retired secret's entry with its expiry, then answer 200 with `body`.
    /// Best effort: an entry left behind leads to an authority that refuses it.
    Rotated {
        retired: Vec<IndexEntry>,
        body: Value,
    },
    /// The authority did not switch: remove the new entry again, then refuse. Best effort:
    /// an entry left behind leads to an authority that does not know the hash.
    NotRotated {
        remove: IndexName,
        error: ReplyError,
    },
}

/// Reads the reply to [`Rotation::rotate`], sent at `now_ms`.
pub fn rotated(reply: Reply, rotation: &Rotation, policy: &Policy, now_ms: u64) -> RotationOutcome {
    match reply {
        Reply::Rotated {
            record,
            last_used_at,
            previous_valid_until,
            retired,
            ..
        } => {
            let mut body = key_object(&record, last_used_at, policy, now_ms);
            insert(&mut body, "key", rotation.key.expose().into());
            insert(
                &mut body,
                "previous_key_valid_until",
                format_rfc3339(previous_valid_until).into(),
            );
            let retired = retired
                .into_iter()
                .map(|old| retired_entry(old, &rotation.index.key_id, now_ms))
                .collect();
            RotationOutcome::Rotated { retired, body }
        }
        other => RotationOutcome::NotRotated {
            remove: rotation.index.name.clone(),
            error: unwanted(other),
        },
    }
}

/// Reads the reply to `RotateWebhookSecret`: the key's object with the new signing secret,
/// shown this once; the previous one signs deliveries too until
/// `previous_webhook_secret_valid_until`.
pub fn webhook_secret_rotated(
    reply: Reply,
    policy: &Policy,
    now_ms: u64,
) -> Result<Value, ReplyError> {
    match reply {
        Reply::WebhookSecretRotated {
            record,
            last_used_at,
            webhook_secret,
            previous_valid_until,
        } => {
            let mut body = key_object(&record, last_used_at, policy, now_ms);
            show_webhook_secret(&mut body, Some(&webhook_secret));
            insert(
                &mut body,
                "previous_webhook_secret_valid_until",
                format_rfc3339(previous_valid_until).into(),
            );
            Ok(body)
        }
        other => Err(unwanted(other)),
    }
}

// ---- Get, edit, revoke, activate, delete ----

/// Reads a reply that shows one key: its object, with its usage figures when `with_usage`
/// (a GET), and a webhook secret the command issued (the one time it is shown).
pub fn key_answer(
    reply: Reply,
    with_usage: bool,
    policy: &Policy,
    now_ms: u64,
) -> Result<Value, ReplyError> {
    match reply {
        Reply::Key {
            record,
            last_used_at,
            usage,
            webhook_secret,
        } => {
            let mut body = key_object(&record, last_used_at, policy, now_ms);
            if with_usage {
                insert(&mut body, "usage", serde_json::json!(usage));
            }
            show_webhook_secret(&mut body, webhook_secret.as_ref());
            Ok(body)
        }
        other => Err(unwanted(other)),
    }
}

/// Reads the reply to `Delete`: the key's KV index entries, to remove now that its
/// authority has forgotten it (so it answers 401 at once).
pub fn deleted(reply: Reply) -> Result<Vec<IndexName>, ReplyError> {
    match reply {
        Reply::Deleted { index_names, .. } => Ok(index_names),
        other => Err(unwanted(other)),
    }
}

fn show_webhook_secret(body: &mut Value, secret: Option<&WebhookSecret>) {
    if let Some(secret) = secret {
        insert(body, "rejection_webhook_secret", secret.expose().into());
    }
}

fn insert(body: &mut Value, field: &str, value: Value) {
    if let Some(object) = body.as_object_mut() {
        object.insert(field.into(), value);
    }
}

// ---- Approve and reject ----

/// Where an approval is found in the admin API (`Location`).
pub fn approval_location(id: &ApprovalId) -> String {
    format!("{ADMIN_PREFIX}/approvals/{id}")
}

/// Reads the queue's reply to `Get`, `Decide` or `Record`: the approval and its stored body.
pub fn approval_reply(reply: QueueReply) -> Result<(Approval, Vec<u8>), ReplyError> {
    match reply {
        QueueReply::Approval { approval, body } => Ok((*approval, body)),
        other => Err(unwanted(other)),
    }
}

/// Answers early for an approval that is already decided; the queue checks again when it
/// decides, so a race between two reviewers still ends with one decision.
pub fn still_pending(approval: &Approval, now_ms: u64) -> Result<(), GatewayError> {
    match approval.status(now_ms) {
        ApprovalStatus::Pending => Ok(()),
        status => Err(GatewayError::ApprovalDecided { status }),
    }
}

/// The command that checks the submitting key again, as it is now: still active, still
/// holding the grant, and the secret that queued the request still live.
pub fn recheck(approval: &Approval) -> Command {
    Command::Recheck {
        resource: approval.target.resource.clone(),
        action: approval.target.action,
        secret: approval.secret,
    }
}

/// Where the submitting key stands: whom the approved request is sent as, or why it may
/// no longer be sent.
pub type Standing = Result<Grantee, SubmitterFailure>;

/// Reads the reply to [`recheck`].
pub fn standing(reply: Reply) -> Result<Standing, ReplyError> {
    match reply {
        Reply::Rechecked { standing } => Ok(standing),
        other => Err(unwanted(other)),
    }
}

/// The approve verdict: the queue approves a key that still may, and fails the approval
/// (the origin is not called) of one that no longer may.
pub fn approve_verdict(standing: &Standing) -> Verdict {
    Verdict::Approve {
        submitter: standing.as_ref().map(|_| ()).map_err(Clone::clone),
    }
}

/// Whom the approved request is sent as, once the queue has accepted [`approve_verdict`]:
/// it declines the verdict of a key that may no longer, so a failure here is keygate's bug.
pub fn approved_sender(standing: Standing) -> Result<Grantee, GatewayError> {
    standing.map_err(|_| GatewayError::Internal)
}

/// The command that reads the submitting key's current rejection webhook: as the root
/// token, since the reviewer need not be able to see the key.
pub fn webhook_lookup() -> Command {
    Command::Get { actor: Actor::Root }
}

/// Reads the reply to [`webhook_lookup`]: a deleted key has no webhook, and the rejection
/// is still recorded.
pub fn rejection_webhook(reply: Reply) -> Result<Option<String>, ReplyError> {
    match reply {
        Reply::Key { record, .. } => Ok(record.rejection_webhook),
        Reply::Declined { .. } => Ok(None),
        other => Err(unwanted(other)),
    }
}

/// The reject verdict: the reason, and the webhook to tell (retried for the policy's
/// `webhook_retry_ms`) from the queue's alarm, after the answer.
pub fn reject_verdict(
    reason: String,
    webhook: Option<String>,
    settings: &ApprovalSettings,
) -> Verdict {
    Verdict::Reject {
        reason,
        webhook,
        retry_ms: settings.webhook_retry_ms,
    }
}

/// What the origin answered to an approved request, its body read up to
/// [`crate::approval::MAX_RESULT_BODY_BYTES`].
pub struct OriginAnswer {
    pub status: u16,
    pub body: Vec<u8>,
    pub truncated: bool,
}

/// The result recorded for an approved request sent to the origin.
pub fn origin_result(sent: Result<OriginAnswer, GatewayError>) -> OriginResult {
    match sent {
        Ok(OriginAnswer {
            status,
            body,
            truncated,
        }) => OriginResult::Answered {
            status,
            body,
            truncated,
        },
        Err(GatewayError::OriginTimeout) => OriginResult::TimedOut,
        Err(_) => OriginResult::Unreachable,
    }
}

#[cfg(test)]
mod tests;
