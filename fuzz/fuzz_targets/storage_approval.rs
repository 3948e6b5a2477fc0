//! An approval as the approval queue's Durable Object reads it back from SQLite (the
//! record JSON and the base64 body), then one queue command on it. Nothing panics, the
//! views built from it (the admin API's object, the rejection webhook's payload) are
//! JSON, and the approval survives the trip back to storage.
//!
//! Input: `record`, `body`, `command` and `now_ms`, split at 0xFF bytes.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate::approval::{
    approval_object, rejection_payload, Approval, DeliveryError, DeliveryView, QueueCommand,
    QueueReply,
};
use keygate_fuzz::{assert_round_trips, parts, stored, NOW_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    if let Some(command) = parts.get(2).and_then(|b| stored::<QueueCommand>(b)) {
        if let Some(reply) = parts.get(2).and_then(|b| stored::<QueueReply>(b)) {
            assert_round_trips(&reply);
        }
        let _ = command;
    }
    let Some(mut approval) = parts.first().and_then(|b| stored::<Approval>(b)) else {
        return;
    };
    let Some(body) = parts
        .get(1)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|b| STANDARD.decode(b).ok())
    else {
        return;
    };
    let now_ms = parts
        .get(3)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(NOW_MS);

    let _ = approval.status(now_ms);
    let _ = approval.required_scope();
    let _ = approval_object(&approval, Some(&body), now_ms).to_string();
    let _ = approval_object(&approval, None, now_ms).to_string();
    match parts.get(2).and_then(|b| stored::<QueueCommand>(b)) {
        Some(QueueCommand::Decide {
            reviewer,
            verdict,
            now_ms,
            ..
        }) => {
            let before = approval.clone();
            if approval.decide(&reviewer, verdict, now_ms).is_err() && approval == before {
                // Declined without a change: nothing else to check.
            }
        }
        Some(QueueCommand::Record { result, .. }) => {
            let _ = approval.record_result(result);
        }
        Some(QueueCommand::Get { reviewer, .. }) => {
            let _ = reviewer.may_read(&approval);
        }
        _ => {}
    }
    if let Some(payload) = rejection_payload(&approval, &body) {
        let _: serde_json::Value =
            serde_json::from_slice(&payload).expect("the webhook body is JSON");
    }
    if let Some(delivery) = approval.delivery_mut() {
        delivery.after_attempt(Err(DeliveryError::Unreachable), now_ms);
        serde_json::to_string(&DeliveryView::of(delivery)).expect("a delivery's view serializes");
    }
    assert_round_trips(&approval);
    assert_round_trips(&QueueReply::Approval {
        approval: Box::new(approval),
        body,
    });
});
