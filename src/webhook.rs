//! Rejection webhooks: what keygate POSTs to a key's `rejection_webhook` when a reviewer
//! rejects one of its queued requests, how it is signed, and when a failed delivery is
//! tried again.
//!
//! The signature is HMAC-SHA256 under the deployment's webhook secret (never the origin's
//! signing secret) over `KEYGATE-WEBHOOK-V1`, the timestamp and the raw body, one per line;
//! a receiver checks it with [`verify`]:
//!
//! ```
//! use keygate::identity::SigningSecret;
//! use keygate::webhook::{sign, verify};
//! let secret = SigningSecret::new(b"shared with the receiver".to_vec());
//! let body = br#"{"type":"approval.rejected"}"#;
//! let signature = sign(&secret, 1_900_000_000, body);
//! assert!(signature.starts_with("v1="));
//! assert_eq!(verify(&secret, "1900000000", &signature, body, 1_900_000_030, 300), Ok(()));
//! assert!(verify(&secret, "1900000000", &signature, b"{}", 1_900_000_030, 300).is_err());
//! ```

use crate::approval::{decider_object, insert_body, Approval, ApprovalState};
use crate::identity::{SigningSecret, VerifyError};
use crate::timestamp::format_rfc3339;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub const EVENT: &str = "X-Keygate-Event";
pub const REJECTED_EVENT: &str = "approval.rejected";
const SCHEME: &str = "KEYGATE-WEBHOOK-V1";
const SIGNATURE_PREFIX: &str = "v1=";
/// How long one delivery attempt may take.
pub const ATTEMPT_TIMEOUT_MS: u64 = 10_000;
const FIRST_RETRY_MS: u64 = 1_000;
const MAX_RETRY_MS: u64 = 300_000;

/// The `X-Keygate-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &SigningSecret, timestamp: u64, body: &[u8]) -> String {
    let mac = signature_over(secret, &timestamp.to_string(), body);
    format!("{SIGNATURE_PREFIX}{}", URL_SAFE_NO_PAD.encode(mac))
}

/// Checks a webhook the way a receiver should: the signature in constant time, then that
/// the timestamp is within `tolerance_secs` of `now_secs`.
pub fn verify(
    secret: &SigningSecret,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let expected = signature_over(secret, timestamp, body);
    crate::identity::check_signed(
        &expected,
        signature,
        SIGNATURE_PREFIX,
        timestamp,
        now_secs,
        tolerance_secs,
    )
    .map(|_| ())
}

fn signature_over(secret: &SigningSecret, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = secret.mac();
    hmac::Mac::update(&mut mac, SCHEME.as_bytes());
    hmac::Mac::update(&mut mac, b"\n");
    hmac::Mac::update(&mut mac, timestamp.as_bytes());
    hmac::Mac::update(&mut mac, b"\n");
    hmac::Mac::update(&mut mac, body);
    hmac::Mac::finalize(mac).into_bytes().to_vec()
}

/// The JSON body POSTed for a rejected approval; `None` if it is not rejected.
pub fn rejection_payload(approval: &Approval, body: &[u8]) -> Option<Vec<u8>> {
    let ApprovalState::Rejected {
        decision, reason, ..
    } = &approval.state
    else {
        return None;
    };
    let mut request = Map::new();
    request.insert("method".into(), json!(approval.request.method));
    request.insert("path".into(), json!(approval.request.path));
    request.insert("query".into(), json!(approval.request.query));
    insert_body(&mut request, body);
    let payload = json!({
        "type": REJECTED_EVENT,
        "approval_id": approval.id.as_str(),
        "key_id": approval.key_id.as_str(),
        "key_name": approval.key_name,
        "workspace": approval.workspace,
        "reason": reason,
        "rejected_at": format_rfc3339(decision.at),
        "rejected_by": decider_object(&decision.by),
        "request": request,
    });
    Some(payload.to_string().into_bytes())
}

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
    pub last_error: Option<String>,
    pub delivered_at: Option<u64>,
    pub give_up_at: u64,
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

    /// Records one attempt's outcome (`Err` says what went wrong, for the operator) and
    /// schedules the next one, or gives up.
    pub fn after_attempt(&mut self, outcome: Result<(), String>, now_ms: u64) {
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

    /// What the admin API shows (never the URL).
    pub fn object(&self) -> Value {
        json!({
            "status": self.state,
            "attempts": self.attempts,
            "last_attempt_at": self.last_attempt_at.map(format_rfc3339),
            "last_error": self.last_error,
            "delivered_at": self.delivered_at.map(format_rfc3339),
        })
    }
}

/// What one attempt's HTTP answer means: any 2xx is delivered; anything else is worth
/// another try (a receiver that is down now may be up later).
pub fn outcome_of_status(status: u16) -> Result<(), String> {
    match status {
        200..=299 => Ok(()),
        status => Err(format!("the receiver answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{
        Approval, ApprovalId, QueuedRequest, Reviewer, Submission, Verdict,
        APPROVAL_ID_RANDOM_BYTES,
    };
    use crate::authority::Grantee;
    use crate::delegation::Actor;
    use crate::key::{Environment, KeyId, KEY_ID_RANDOM_BYTES};
    use crate::limits::Limits;
    use crate::policy::{Action, Policy, RouteTarget};

    const NOW: u64 = 1_900_000_000_000;

    fn secret() -> SigningSecret {
        SigningSecret::new(b"webhook-secret-for-tests-0123456789".to_vec())
    }

    fn rejected(body: &[u8]) -> (Approval, Vec<u8>) {
        let grantee = Grantee {
            key_id: KeyId::generate(&[1; KEY_ID_RANDOM_BYTES]),
            key_name: "Agent".into(),
            workspace: "acme".into(),
            environment: Environment::Live,
            scopes: vec!["contacts:write-approval".into()],
            limits: Limits::new(1, 1).expect("valid limits"),
            expires_at: None,
        };
        let mut approval = Approval::submit(
            ApprovalId::generate(
                &crate::queue::QueueShard::of("acme"),
                &[2; APPROVAL_ID_RANDOM_BYTES],
            ),
            Submission {
                grantee: &grantee,
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
    fn signatures_verify_and_any_change_breaks_them() {
        let body = br#"{"type":"approval.rejected"}"#;
        let signature = sign(&secret(), 1_900_000_000, body);
        assert_eq!(
            verify(
                &secret(),
                "1900000000",
                &signature,
                body,
                1_900_000_000,
                300
            ),
            Ok(())
        );
        let other = SigningSecret::new(b"another".to_vec());
        for (secret, timestamp, body) in [
            (&other, "1900000000", &body[..]),
            (&secret(), "1900000001", &body[..]),
            (&secret(), "1900000000", &b"{}"[..]),
        ] {
            assert_eq!(
                verify(secret, timestamp, &signature, body, 1_900_000_000, 300),
                Err(VerifyError::BadSignature)
            );
        }
        assert_eq!(
            verify(
                &secret(),
                "1900000000",
                &signature,
                body,
                1_900_000_301,
                300
            ),
            Err(VerifyError::StaleTimestamp { age_secs: 301 })
        );
        assert!(verify(&secret(), "1900000000", "v2=abc", body, 1_900_000_000, 300).is_err());
        // Not the origin's identity scheme: the same secret signs something else there.
        assert!(signature.starts_with("v1=") && signature.len() == 3 + 43);
    }

    #[test]
    fn only_2xx_is_delivered() {
        for status in [200, 202, 204, 299] {
            assert_eq!(outcome_of_status(status), Ok(()));
        }
        for status in [199, 301, 400, 404, 500, 503] {
            assert_eq!(
                outcome_of_status(status),
                Err(format!("the receiver answered {status}"))
            );
        }
    }
}
