//! The approval queue's admin routes: list, show, approve (the one place a stored request
//! is sent to the origin) and reject. Who may do what is [`Reviewer`]'s, the verdicts are
//! [`calls`]'; every change is one [`QueueCommand::Decide`] in the queue's Durable Object.

use super::answer::{Answer, Outcome};
use super::platform::now_ms;
use super::proxy::{self, Outbound};
use super::{approval_queue, authority_object};
use crate::admin::calls::{self, OriginAnswer};
use crate::admin::parse_approvals_query;
use crate::approval::{
    approval_object, Approval, ApprovalId, QueueCommand, QueueReply, Reviewer, Verdict,
    MAX_RESULT_BODY_BYTES,
};
use crate::delegation::Actor;
use crate::policy::Action;
use crate::problem::GatewayError;
use crate::queue::QueueShard;
use crate::request::origin::{path_and_query, Sender};
use crate::request::reply::Refused;
use serde_json::Value;
use worker::Env;

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
    let page = crate::admin::ApprovalsPage {
        approvals,
        next_cursor: next.map(|position| position.encode()),
    };
    answer.json(200, &page)
}

pub async fn get(id: ApprovalId, actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let reviewer = Reviewer::of(actor, &answer.config.policy);
    let (approval, body) = fetch(id, reviewer, env).await?;
    answer.approval(&approval, &body)
}

/// Re-checks the submitting key, decides, and — only if this call moved the approval from
/// pending to approved — sends the stored request to the origin and records its answer.
pub async fn approve(id: ApprovalId, actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let config = answer.config;
    let reviewer = Reviewer::of(actor, &config.policy);
    reviewer.needs(Action::Write).map_err(GatewayError::from)?;
    let (approval, _) = fetch(id.clone(), reviewer.clone(), env).await?;
    calls::still_pending(&approval, now_ms())?;
    let recheck = calls::recheck(&approval);
    let standing = calls::standing(authority_object::call(env, &approval.key_id, &recheck).await?)?;
    let verdict = calls::approve_verdict(&standing);
    let decider = reviewer.decider.clone();
    let (approval, body) = decide(id.clone(), reviewer, verdict, env).await?;
    // Decided above, so this call alone holds the approval: the origin is called once.
    let grantee = calls::approved_sender(standing)?;
    let request = &approval.request;
    let outbound = Outbound {
        method: worker::Method::from(request.method.clone()),
        path_and_query: path_and_query(&request.path, request.query.as_deref()),
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
    let approved_by = decider.header_value();
    let sender = Sender {
        grantee: &grantee,
        approval: Some((id.as_str(), approved_by.as_str())),
    };
    let sent = match proxy::send(outbound, config, &sender, answer.request_id, now_ms()).await {
        Ok(response) => {
            let mut response = worker::Response::from(response);
            // A response without a body has no stream: an empty result body.
            let stream = response.stream().ok();
            let (body, truncated) = proxy::read_at_most(stream, MAX_RESULT_BODY_BYTES)
                .await
                .unwrap_or_default();
            Ok(OriginAnswer {
                status: response.status_code(),
                body,
                truncated,
            })
        }
        Err(error) => Err(error),
    };
    let record = QueueCommand::Record {
        id: id.clone(),
        result: calls::origin_result(sent),
    };
    let reply = approval_queue::call_about(env, &id, &record).await?;
    let (approval, body) = calls::approval_reply(reply)?;
    answer.approval(&approval, &body)
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
    calls::still_pending(&approval, now_ms())?;
    let lookup = calls::webhook_lookup();
    let webhook =
        calls::rejection_webhook(authority_object::call(env, &approval.key_id, &lookup).await?)?;
    let verdict = calls::reject_verdict(reason, webhook, &config.policy.approvals());
    let (approval, body) = decide(id, reviewer, verdict, env).await?;
    answer.approval(&approval, &body)
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
    let reply = approval_queue::call_about(env, &id, &command).await?;
    Ok(calls::approval_reply(reply)?)
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
    let reply = approval_queue::call_about(env, &id, &command).await?;
    Ok(calls::approval_reply(reply)?)
}
