//! Approvals as the admin API and the 202 answer show them.

use super::{Approval, ApprovalState, ApprovalStatus, Decider, OriginResult};
use crate::timestamp::format_rfc3339;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

/// The body of a 202: where the request waits.
pub fn queued_answer(approval: &Approval) -> Value {
    json!({
        "approval_id": approval.id.as_str(),
        "status": ApprovalStatus::Pending.as_str(),
        "expires_at": format_rfc3339(approval.expires_at),
    })
}

/// An approval as the admin API shows it. `body` is the stored body for a single
/// approval; `None` (a list) leaves out the headers and the body.
pub fn approval_object(approval: &Approval, body: Option<&[u8]>, now_ms: u64) -> Value {
    let request = &approval.request;
    let decision = approval.state.decision();
    let mut object = json!({
        "id": approval.id.as_str(),
        "status": approval.status(now_ms).as_str(),
        "workspace": approval.workspace,
        "key_id": approval.key_id.as_str(),
        "key_name": approval.key_name,
        "environment": approval.environment.as_str(),
        "required_scope": approval.required_scope(),
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "body_bytes": request.body_bytes,
        "created_at": format_rfc3339(approval.created_at),
        "expires_at": format_rfc3339(approval.expires_at),
        "decided_at": decision.map(|d| format_rfc3339(d.at)),
        "decided_by": decision.map(|d| decider_object(&d.by)),
        "reason": match &approval.state {
            ApprovalState::Rejected { reason, .. } => Some(reason.as_str()),
            _ => None,
        },
        "result": result_object(&approval.state),
        "webhook": match &approval.state {
            ApprovalState::Rejected { webhook: Some(delivery), .. } => delivery.object(),
            _ => Value::Null,
        },
    });
    if let (Some(body), Some(fields)) = (body, object.as_object_mut()) {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), Value::from(value.as_str())))
            .collect();
        fields.insert("headers".into(), Value::Object(headers));
        insert_body(fields, body);
    }
    object
}

/// Who decided, as the admin API and the rejection webhook show it.
pub fn decider_object(decider: &Decider) -> Value {
    match decider {
        Decider::Root => json!({"type": "root"}),
        Decider::Key { key_id, key_name } => {
            json!({"type": "key", "key_id": key_id.as_str(), "key_name": key_name})
        }
    }
}

fn result_object(state: &ApprovalState) -> Value {
    match state {
        ApprovalState::Approved {
            result:
                Some(OriginResult::Answered {
                    status,
                    body,
                    truncated,
                }),
            ..
        } => {
            let mut fields = Map::new();
            fields.insert("origin_status".into(), json!(status));
            insert_body(&mut fields, body);
            fields.insert("body_truncated".into(), json!(truncated));
            Value::Object(fields)
        }
        ApprovalState::Approved {
            result: Some(OriginResult::Unreachable),
            ..
        } => {
            json!({"error": "origin_unreachable", "detail": "the upstream API could not be reached; the request was sent once and is not retried"})
        }
        ApprovalState::Approved {
            result: Some(OriginResult::TimedOut),
            ..
        } => {
            json!({"error": "origin_timeout", "detail": "the upstream API did not answer in time; it may have acted on the request"})
        }
        ApprovalState::Failed { failure, .. } => {
            json!({"error": failure.code(), "detail": failure.detail()})
        }
        _ => Value::Null,
    }
}

/// `body` and `body_encoding`: the text when it is UTF-8, base64 otherwise.
pub fn insert_body(fields: &mut Map<String, Value>, body: &[u8]) {
    let (text, encoding) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (STANDARD.encode(body), "base64"),
    };
    fields.insert("body".into(), Value::from(text));
    fields.insert("body_encoding".into(), Value::from(encoding));
}
