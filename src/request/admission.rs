//! The key authority's verdict on a data-plane request: forward it to the origin, queue it
//! for a human, or refuse it (with the key's limit state, when it was counted).

use super::reply::{unwanted, ReplyError};
use crate::authority::{LimitHeaders, Reply};
use crate::record::Grantee;

/// An admitted request: counted, and on its way.
#[derive(Debug, PartialEq)]
pub enum Admission {
    /// To the origin, signed as `grantee`.
    Forward {
        grantee: Grantee,
        limit_headers: LimitHeaders,
    },
    /// The key holds only the approval level: the request waits in the approval queue.
    Queue {
        grantee: Grantee,
        limit_headers: LimitHeaders,
        /// The serial of the secret that sent it, checked again when it is approved.
        secret: u64,
    },
}

/// Reads the authority's reply to `Admit`.
pub fn admission(reply: Reply) -> Result<Admission, ReplyError> {
    match reply {
        Reply::Admitted {
            grantee,
            limit_headers,
        } => Ok(Admission::Forward {
            grantee,
            limit_headers,
        }),
        Reply::Queued {
            grantee,
            limit_headers,
            secret,
        } => Ok(Admission::Queue {
            grantee,
            limit_headers,
            secret,
        }),
        other => Err(unwanted(other)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::authority::Refusal;
    use crate::key::{Environment, KeyId, KEY_ID_RANDOM_BYTES};
    use crate::limits::Limits;
    use crate::problem::GatewayError;
    use crate::record::Principal;

    pub(crate) fn grantee() -> Grantee {
        Grantee {
            key_id: KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]),
            key_name: "agent ünïcode".into(),
            workspace: "acme".into(),
            environment: Environment::Test,
            scopes: vec!["contacts:read".into(), "contacts:write-approval".into()],
            limits: Limits::new(10, 100).expect("valid limits"),
            expires_at: None,
            created_by: Some(Principal::Root),
            family: None,
        }
    }

    fn limit_headers() -> LimitHeaders {
        vec![("RateLimit-Remaining".into(), "9".into())]
    }

    #[test]
    fn admitted_forwards_and_queued_queues_with_the_count() {
        let admitted = Reply::Admitted {
            grantee: grantee(),
            limit_headers: limit_headers(),
        };
        assert_eq!(
            admission(admitted).ok(),
            Some(Admission::Forward {
                grantee: grantee(),
                limit_headers: limit_headers()
            })
        );
        let queued = Reply::Queued {
            grantee: grantee(),
            limit_headers: limit_headers(),
            secret: 3,
        };
        assert_eq!(
            admission(queued).ok(),
            Some(Admission::Queue {
                grantee: grantee(),
                limit_headers: limit_headers(),
                secret: 3
            })
        );
    }

    #[test]
    fn a_refusal_is_the_client_s_and_any_other_reply_fails_closed() {
        let throttled = Reply::Refused {
            refusal: Refusal::Scope {
                required_scope: "contacts:write".into(),
                approval_scope: None,
            },
            limit_headers: limit_headers(),
        };
        let refused = admission(throttled).expect_err("refused").refused();
        assert_eq!(refused.error.code(), "insufficient_scope");
        assert_eq!(refused.limit_headers, limit_headers());
        let refused = admission(Reply::AlreadyExists)
            .expect_err("unexpected")
            .refused();
        assert_eq!(refused.error, GatewayError::StoreUnavailable);
    }
}
