//! Rejection webhooks: what keygate POSTs to a key's `rejection_webhook` when a reviewer
//! rejects one of its queued requests, and when a failed delivery is tried again. Each
//! key's webhook is signed with its own secret ([`crate::webhook`]), never the origin's
//! signing secret nor another key's.

use serde::{Deserialize, Serialize};

/// How long one delivery attempt may take.
pub const ATTEMPT_TIMEOUT_MS: u64 = 10_000;
const FIRST_RETRY_MS: u64 = 1_000;
const MAX_RETRY_MS: u64 = 300_000;

/// A rejection webhook's delivery: tried at once, then again after 1 s, 2 s, 4 s, … (at
/// most 5 minutes apart) until it succeeds or `give_up_at` passes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Never shown: a webhook URL may carry a token of the receiver's.
    pub url: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// When to try next; `None` once delivered or given up.
    pub next_attempt_at: Option<u64>,
    pub last_attempt_at: Option<u64>,
    pub last_error: Option<DeliveryError>,
    pub delivered_at: Option<u64>,
    pub give_up_at: u64,
}

/// Why an attempt failed, as reviewers see it: coarse on purpose, so a webhook URL cannot
/// be used to learn how some other server answers (no status code, no message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "String")]
pub enum DeliveryError {
    /// It answered, but not with a 2xx.
    ReceiverError,
    /// No answer within [`ATTEMPT_TIMEOUT_MS`].
    Timeout,
    /// No connection (or no request could be made to the URL).
    Unreachable,
    /// The key was deleted, or its webhook changed or removed, since the rejection: the
    /// receiver it was meant for is no longer the key's, so nothing is sent.
    ReceiverRemoved,
    /// keygate could not reach the key's signing secrets; tried again later.
    SigningUnavailable,
}

impl From<String> for DeliveryError {
    /// Rows stored before errors were coarse held a sentence.
    fn from(text: String) -> DeliveryError {
        match text.as_str() {
            "timeout" => DeliveryError::Timeout,
            "unreachable" => DeliveryError::Unreachable,
            "receiver_removed" => DeliveryError::ReceiverRemoved,
            "signing_unavailable" => DeliveryError::SigningUnavailable,
            _ if text.starts_with("no answer within") => DeliveryError::Timeout,
            _ if text.contains("could not be reached") => DeliveryError::Unreachable,
            _ => DeliveryError::ReceiverError,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl Delivery {
    pub fn new(url: String, now_ms: u64, retry_ms: u64) -> Delivery {
        Delivery {
            url,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: Some(now_ms),
            last_attempt_at: None,
            last_error: None,
            delivered_at: None,
            give_up_at: now_ms.saturating_add(retry_ms),
        }
    }

    /// Records one attempt's outcome and schedules the next one, or gives up.
    pub fn after_attempt(&mut self, outcome: Result<(), DeliveryError>, now_ms: u64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_attempt_at = Some(now_ms);
        match outcome {
            Ok(()) => {
                self.state = DeliveryState::Delivered;
                self.delivered_at = Some(now_ms);
                self.next_attempt_at = None;
            }
            Err(error) => {
                self.last_error = Some(error);
                let wait = FIRST_RETRY_MS
                    .saturating_mul(1 << self.attempts.saturating_sub(1).min(20))
                    .min(MAX_RETRY_MS);
                let next = now_ms.saturating_add(wait);
                if next > self.give_up_at {
                    self.state = DeliveryState::Failed;
                    self.next_attempt_at = None;
                } else {
                    self.next_attempt_at = Some(next);
                }
            }
        }
    }

    /// Ends the delivery without sending: its receiver is no longer the key's.
    pub fn give_up(&mut self, error: DeliveryError, now_ms: u64) {
        self.state = DeliveryState::Failed;
        self.last_error = Some(error);
        self.last_attempt_at = Some(now_ms);
        self.next_attempt_at = None;
    }
}

/// What one attempt's HTTP answer means: any 2xx is delivered; anything else is worth
/// another try (a receiver that is down now may be up later).
pub fn outcome_of_status(status: u16) -> Result<(), DeliveryError> {
    match status {
        200..=299 => Ok(()),
        _ => Err(DeliveryError::ReceiverError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{rejection_payload, DeliveryView};
    use crate::approval::{
        Approval, ApprovalId, QueuedRequest, Reviewer, Submission, Verdict,
        APPROVAL_ID_RANDOM_BYTES,
    };
    use crate::delegation::Actor;
    use crate::key::{Environment, KeyId, KEY_ID_RANDOM_BYTES};
    use crate::limits::Limits;
    use crate::policy::{Action, Policy, RouteTarget};
    use crate::record::Grantee;
    use serde_json::{json, Value};

    const NOW: u64 = 1_900_000_000_000;

    fn rejected(body: &[u8]) -> (Approval, Vec<u8>) {
        let grantee = Grantee {
            key_id: KeyId::generate(&[1; KEY_ID_RANDOM_BYTES]),
            key_name: "Agent".into(),
            workspace: "acme".into(),
            environment: Environment::Live,
            scopes: vec!["contacts:write-approval".into()],
            limits: Limits::new(1, 1).expect("valid limits"),
            expires_at: None,
            created_by: None,
            family: None,
        };
        let mut approval = Approval::submit(
            ApprovalId::generate(
                &crate::queue::QueueShard::of("acme"),
                &[2; APPROVAL_ID_RANDOM_BYTES],
            ),
            Submission {
                grantee: &grantee,
                secret: 1,
                target: RouteTarget {
                    resource: "contacts".into(),
                    action: Action::Write,
                },
                request: QueuedRequest {
                    method: "POST".into(),
                    path: "/v1/contacts".into(),
                    query: None,
                    headers: Vec::new(),
                    body_bytes: body.len() as u64,
                },
                now_ms: NOW,
                expire_after_ms: 1_000,
            },
        );
        let policy = Policy::from_toml("").expect("empty policy");
        let verdict = Verdict::Reject {
            reason: "duplicate contact".into(),
            webhook: Some("https://hooks.example.com/r".into()),
            retry_ms: 0,
        };
        approval
            .decide(&Reviewer::of(&Actor::Root, &policy), verdict, NOW + 1)
            .expect("rejected");
        let payload = rejection_payload(&approval, body).expect("a rejection has a payload");
        (approval, payload)
    }

    #[test]
    fn the_payload_carries_the_reason_ids_and_the_original_request() {
        let (approval, payload) = rejected(br#"{"name":"Ada"}"#);
        let json: Value = serde_json::from_slice(&payload).expect("JSON");
        assert_eq!(json["type"], "approval.rejected");
        assert_eq!(json["approval_id"], approval.id.as_str());
        assert_eq!(json["key_id"], approval.key_id.as_str());
        assert_eq!(json["reason"], "duplicate contact");
        assert_eq!(json["rejected_by"], json!({"type": "root"}));
        assert_eq!(json["request"]["method"], "POST");
        assert_eq!(json["request"]["path"], "/v1/contacts");
        assert_eq!(json["request"]["body"], r#"{"name":"Ada"}"#);
        assert_eq!(json["request"]["body_encoding"], "utf8");
        assert!(!String::from_utf8_lossy(&payload).contains("hooks.example.com"));
        let (_, binary) = rejected(&[0xff, 0xfe]);
        let json: Value = serde_json::from_slice(&binary).expect("JSON");
        assert_eq!(json["request"]["body_encoding"], "base64");
    }

    #[test]
    fn a_pending_approval_has_no_payload() {
        let (mut approval, _) = rejected(b"");
        approval.state = crate::approval::ApprovalState::Pending;
        assert_eq!(rejection_payload(&approval, b""), None);
    }

    #[test]
    fn only_2xx_is_delivered() {
        for status in [200, 202, 204, 299] {
            assert_eq!(outcome_of_status(status), Ok(()));
        }
        // Every other status looks the same to a reviewer: no oracle for what answered.
        for status in [199, 301, 400, 401, 404, 500, 503] {
            assert_eq!(outcome_of_status(status), Err(DeliveryError::ReceiverError));
        }
    }

    #[test]
    fn reviewers_see_a_coarse_error_and_old_rows_still_read() {
        let mut delivery = Delivery::new("https://hooks.example.com/r?t=1".into(), NOW, 60_000);
        delivery.after_attempt(outcome_of_status(503), NOW);
        let shown = serde_json::to_value(DeliveryView::of(&delivery)).expect("a view serializes");
        assert_eq!(shown["last_error"], "receiver_error");
        assert!(!shown.to_string().contains("503") && !shown.to_string().contains("hooks"));
        delivery.after_attempt(Err(DeliveryError::Timeout), NOW + 1_000);
        assert_eq!(
            serde_json::to_value(DeliveryView::of(&delivery)).expect("a view serializes")
                ["last_error"],
            "timeout"
        );
        delivery.give_up(DeliveryError::ReceiverRemoved, NOW + 2_000);
        assert_eq!(delivery.state, DeliveryState::Failed);
        assert_eq!(delivery.next_attempt_at, None);
        assert_eq!(
            serde_json::to_value(DeliveryView::of(&delivery)).expect("a view serializes")
                ["last_error"],
            "receiver_removed"
        );
        let stored = serde_json::to_string(&delivery).unwrap();
        assert_eq!(serde_json::from_str::<Delivery>(&stored).unwrap(), delivery);
        for (old, now) in [
            ("the receiver answered 404", DeliveryError::ReceiverError),
            ("no answer within 10 seconds", DeliveryError::Timeout),
            (
                "the receiver could not be reached",
                DeliveryError::Unreachable,
            ),
        ] {
            let row = stored.replace("\"receiver_removed\"", &format!("{old:?}"));
            let read: Delivery = serde_json::from_str(&row).unwrap();
            assert_eq!(read.last_error, Some(now), "{old}");
        }
    }
}
