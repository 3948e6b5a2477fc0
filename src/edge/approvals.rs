//! The approval queue's admin routes: list, show, approve (the one place a stored request
//! is sent to the origin) and reject. Who may do what is [`Reviewer`]'s; every change is
//! one [`QueueCommand::Decide`] in the queue's Durable Object.

use super::admin::Answer;
use super::platform::{json_response, now_ms, Refused};
use super::proxy::{self, Outbound, Sender};
use super::{approval_queue, authority_object};
use crate::admin::parse_approvals_query;
use crate::approval::{
    approval_object, Approval, ApprovalId, ApprovalStatus, OriginResult, QueueCommand, QueueReply,
    Reviewer, Verdict, MAX_RESULT_BODY_BYTES,
};
use crate::authority::{Command, Reply};
use crate::delegation::Actor;
use crate::policy::Action;
use crate::problem::GatewayError;
use crate::queue::QueueShard;
use serde_json::Value;
use worker::{Env, Response};

type Outcome = Result<Response, Refused>;

pub async fn list(query: Option<&str>, actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let reviewer = Reviewer::of(actor, &answer.config.policy);
    reviewer.needs(Action::Read).map_err(GatewayError::from)?;
    let list = parse_approvals_query(query)?;
    // Each workspace's queue is its own object: there is no list of every workspace.
    let workspace = actor
        .workspace_for(list.workspace.as_deref())
        .map_err(GatewayError::BeyondOwnGrant)?
        .ok_or(GatewayError::WorkspaceRequired)?;
    let shard = QueueShard::of(&workspace);
    let now = now_ms();
    let command = QueueCommand::List {
        workspace,
        page: list.page(reviewer.environment(), now),
    };
    let QueueReply::Page { approvals, next } = approval_queue::call(env, &shard, &command).await?
    else {
        return Err(GatewayError::Internal.into());
    };
    let approvals: Vec<Value> = approvals
        .iter()
        .map(|approval| approval_object(approval, None, now))
        .collect();
    let next_cursor = next.map(|position| position.encode());
    let body = serde_json::json!({ "approvals": approvals, "next_cursor": next_cursor });
    Ok(json_response(200, &body, answer.request_id)?)
}

pub async fn get(id: ApprovalId, actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let reviewer = Reviewer::of(actor, &answer.config.policy);
    let (approval, body) = fetch(id, reviewer, env).await?;
    shown(&approval, &body, answer)
}

/// Re-checks the submitting key, decides, and — only if this call moved the approval from
/// pending to approved — sends the stored request to the origin and records its answer.
pub async fn approve(id: ApprovalId, actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let config = answer.config;
    let reviewer = Reviewer::of(actor, &config.policy);
    reviewer.needs(Action::Write).map_err(GatewayError::from)?;
    let (approval, _) = fetch(id.clone(), reviewer.clone(), env).await?;
    still_pending(&approval)?;
    let recheck = Command::Recheck {
        resource: approval.target.resource.clone(),
        action: approval.target.action,
        secret: approval.secret,
    };
    let standing = match authority_object::call(env, &approval.key_id, &recheck).await? {
        Reply::Rechecked { standing } => standing,
        other => return Err(super::platform::unexpected_reply(&other)),
    };
    let verdict = Verdict::Approve {
        submitter: standing.as_ref().map(|_| ()).map_err(Clone::clone),
    };
    let decider = reviewer.decider.clone();
    let (approval, body) = decide(id.clone(), reviewer, verdict, env).await?;
    // Decided above, so this call alone holds the approval: the origin is called once.
    let Ok(grantee) = standing else {
        return Err(GatewayError::Internal.into());
    };
    let request = &approval.request;
    let path_and_query = match &request.query {
        Some(query) => format!("{}?{query}", request.path),
        None => request.path.clone(),
    };
    let outbound = Outbound {
        method: worker::Method::from(request.method.clone()),
        path_and_query,
        headers: request.headers.clone(),
        // Stored whole, so always signed by its digest.
        body: if body.is_empty() {
            proxy::OutboundBody::None
        } else {
            proxy::OutboundBody::Whole(body)
        },
        // The client's request is long gone; the approver's country is not the client's.
        platform_country: None,
    };
    let sender = Sender {
        grantee: &grantee,
        approval: Some((id.as_str(), decider.header_value())),
    };
    let result = match proxy::send(outbound, config, &sender, answer.request_id, now_ms()).await {
        Ok(mut response) => {
            // A response without a body has no stream: an empty result body.
            let stream = response.stream().ok();
            let (body, truncated) = proxy::read_at_most(stream, MAX_RESULT_BODY_BYTES)
                .await
                .unwrap_or_default();
            OriginResult::Answered {
                status: response.status_code(),
                body,
                truncated,
            }
        }
        Err(GatewayError::OriginTimeout) => OriginResult::TimedOut,
        Err(_) => OriginResult::Unreachable,
    };
    let record = QueueCommand::Record {
        id: id.clone(),
        result,
    };
    match approval_queue::call_about(env, &id, &record).await? {
        QueueReply::Approval { approval, body } => shown(&approval, &body, answer),
        other => Err(unexpected(other)),
    }
}

/// Rejects with a reason; the submitting key's current rejection webhook (if any) is told
/// from the queue's alarm, after this answer.
pub async fn reject(
    id: ApprovalId,
    actor: &Actor,
    reason: String,
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    let config = answer.config;
    let reviewer = Reviewer::of(actor, &config.policy);
    reviewer.needs(Action::Write).map_err(GatewayError::from)?;
    let (approval, _) = fetch(id.clone(), reviewer.clone(), env).await?;
    still_pending(&approval)?;
    let owner = Command::Get { actor: Actor::Root };
    let webhook = match authority_object::call(env, &approval.key_id, &owner).await? {
        Reply::Key { record, .. } => record.rejection_webhook,
        // A deleted key has no webhook; the rejection is still recorded.
        Reply::Declined { .. } => None,
        other => return Err(super::platform::unexpected_reply(&other)),
    };
    let verdict = Verdict::Reject {
        reason,
        webhook,
        retry_ms: config.policy.approvals().webhook_retry_ms,
    };
    let (approval, body) = decide(id, reviewer, verdict, env).await?;
    shown(&approval, &body, answer)
}

/// The approval, if the reviewer may see it.
async fn fetch(
    id: ApprovalId,
    reviewer: Reviewer,
    env: &Env,
) -> Result<(Approval, Vec<u8>), Refused> {
    let command = QueueCommand::Get {
        id: id.clone(),
        reviewer,
    };
    match approval_queue::call_about(env, &id, &command).await? {
        QueueReply::Approval { approval, body } => Ok((*approval, body)),
        other => Err(unexpected(other)),
    }
}

async fn decide(
    id: ApprovalId,
    reviewer: Reviewer,
    verdict: Verdict,
    env: &Env,
) -> Result<(Approval, Vec<u8>), Refused> {
    let command = QueueCommand::Decide {
        id: id.clone(),
        reviewer,
        verdict,
        now_ms: now_ms(),
    };
    match approval_queue::call_about(env, &id, &command).await? {
        QueueReply::Approval { approval, body } => Ok((*approval, body)),
        other => Err(unexpected(other)),
    }
}

/// Answers early for an approval that is already decided; the queue checks again when it
/// decides, so a race between two reviewers still ends with one decision.
fn still_pending(approval: &Approval) -> Result<(), Refused> {
    match approval.status(now_ms()) {
        ApprovalStatus::Pending => Ok(()),
        status => Err(GatewayError::ApprovalDecided { status }.into()),
    }
}

fn shown(approval: &Approval, body: &[u8], answer: &Answer<'_>) -> Outcome {
    let object = approval_object(approval, Some(body), now_ms());
    Ok(json_response(200, &object, answer.request_id)?)
}

fn unexpected(reply: QueueReply) -> Refused {
    match reply {
        QueueReply::Declined { declined } => GatewayError::from(declined).into(),
        _ => super::platform::store_down("the approval queue answered unexpectedly").into(),
    }
}
