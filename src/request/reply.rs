//! A Durable Object's reply, read as what the command wanted or as a refusal: the one place
//! where a reply of the wrong kind becomes an answer.
//!
//! Every command has the replies it wants ([`Reply::Key`] for a `Get`, [`Reply::Admitted`]
//! or [`Reply::Queued`] for an `Admit`, ...). Anything else is either a refusal the
//! object made for the client (a refused key, a declined command: the client is told
//! why) or a reply the command never gets, which means the object and this Worker
//! disagree (a bug, or a deploy under way): that fails closed as
//! [`GatewayError::StoreUnavailable`], and the log says which reply it was.
//!
//! A reader matches the kinds it wants and hands every other reply to [`unwanted`]:
//!
//! ```
//! use keygate::authority::Reply;
//! use keygate::key::IndexName;
//! use keygate::request::reply::{unwanted, ReplyError};
//! fn deleted(reply: Reply) -> Result<Vec<IndexName>, ReplyError> {
//!     match reply {
//!         Reply::Deleted { index_names, .. } => Ok(index_names),
//!         other => Err(unwanted(other)),
//!     }
//! }
//! let error = deleted(Reply::AlreadyExists).unwrap_err();
//! assert_eq!(error.to_string(), "the key authority answered `already_exists` unexpectedly");
//! assert_eq!(error.refused().error.code(), "store_unavailable");
//! ```

use crate::approval::QueueReply;
use crate::authority::{LimitHeaders, Reply};
use crate::directory::DirectoryReply;
use crate::problem::GatewayError;
use std::fmt;

/// A refusal and the limit state to show with it.
#[derive(Debug)]
pub struct Refused {
    pub error: GatewayError,
    pub limit_headers: LimitHeaders,
}

impl From<GatewayError> for Refused {
    fn from(error: GatewayError) -> Refused {
        Refused {
            error,
            limit_headers: LimitHeaders::new(),
        }
    }
}

impl Refused {
    /// The refusal of a request that was counted before it was refused: it shows the key's
    /// limit state as it was counted, unless it carries its own.
    pub fn counted(self, limit_headers: LimitHeaders) -> Refused {
        match self.limit_headers.is_empty() {
            true => Refused {
                limit_headers,
                ..self
            },
            false => self,
        }
    }
}

/// Why a reply is not what the command wanted.
#[derive(Debug)]
pub enum ReplyError {
    /// The object refused or declined: the client is told why.
    Refused(Refused),
    /// A reply this command never gets.
    Unexpected {
        object: &'static str,
        kind: &'static str,
    },
}

impl ReplyError {
    /// What the client gets.
    pub fn refused(self) -> Refused {
        match self {
            ReplyError::Refused(refused) => refused,
            ReplyError::Unexpected { .. } => GatewayError::StoreUnavailable.into(),
        }
    }
}

impl From<GatewayError> for ReplyError {
    fn from(error: GatewayError) -> ReplyError {
        ReplyError::Refused(error.into())
    }
}

/// For the operator's log; it names kinds only, never what a reply holds.
impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Refused(refused) => f.write_str(refused.error.code()),
            ReplyError::Unexpected { object, kind } => {
                write!(f, "the {object} answered `{kind}` unexpectedly")
            }
        }
    }
}

/// A Durable Object's reply, as [`unwanted`] reads it.
pub trait ObjectReply {
    /// The object, as the log names it.
    const OBJECT: &'static str;
    /// The reply's kind, as the log names it.
    fn kind(&self) -> &'static str;
    /// The client's answer when the object refused or declined the command.
    fn refusal(self) -> Option<Refused>;
}

/// A reply of a kind its reader did not want: the object's refusal, or unexpected.
pub fn unwanted<R: ObjectReply>(reply: R) -> ReplyError {
    let kind = reply.kind();
    match reply.refusal() {
        Some(refused) => ReplyError::Refused(refused),
        None => ReplyError::Unexpected {
            object: R::OBJECT,
            kind,
        },
    }
}

impl ObjectReply for Reply {
    const OBJECT: &'static str = "key authority";

    fn kind(&self) -> &'static str {
        match self {
            Reply::Admitted { .. } => "admitted",
            Reply::Leased { .. } => "leased",
            Reply::HandedBack => "handed_back",
            Reply::Queued { .. } => "queued",
            Reply::Rechecked { .. } => "rechecked",
            Reply::Refused { .. } => "refused",
            Reply::Key { .. } => "key",
            Reply::Rotated { .. } => "rotated",
            Reply::WebhookSecretRotated { .. } => "webhook_secret_rotated",
            Reply::WebhookSigners { .. } => "webhook_signers",
            Reply::Deleted { .. } => "deleted",
            Reply::Declined { .. } => "declined",
            Reply::AlreadyExists => "already_exists",
            Reply::PlanAdopted { .. } => "plan_adopted",
        }
    }

    fn refusal(self) -> Option<Refused> {
        match self {
            Reply::Refused {
                refusal,
                limit_headers,
            } => Some(Refused {
                error: refusal.into(),
                limit_headers,
            }),
            Reply::Declined { declined } => Some(GatewayError::from(declined).into()),
            _ => None,
        }
    }
}

impl ObjectReply for QueueReply {
    const OBJECT: &'static str = "approval queue";

    fn kind(&self) -> &'static str {
        match self {
            QueueReply::Done => "done",
            QueueReply::Approval { .. } => "approval",
            QueueReply::Page { .. } => "page",
            QueueReply::Declined { .. } => "declined",
        }
    }

    fn refusal(self) -> Option<Refused> {
        match self {
            QueueReply::Declined { declined } => Some(GatewayError::from(declined).into()),
            _ => None,
        }
    }
}

impl ObjectReply for DirectoryReply {
    const OBJECT: &'static str = "key directory";

    fn kind(&self) -> &'static str {
        match self {
            DirectoryReply::Done => "done",
            DirectoryReply::Stored { .. } => "stored",
            DirectoryReply::Workspace { .. } => "workspace",
            DirectoryReply::PlanSet { .. } => "plan_set",
            DirectoryReply::Workspaces { .. } => "workspaces",
            DirectoryReply::Page { .. } => "page",
            DirectoryReply::SessionMinted => "session_minted",
            DirectoryReply::TooManySessions(_) => "too_many_sessions",
            DirectoryReply::Session { .. } => "session",
            DirectoryReply::SessionRevoked { .. } => "session_revoked",
            DirectoryReply::SessionPage { .. } => "session_page",
        }
    }

    fn refusal(self) -> Option<Refused> {
        match self {
            DirectoryReply::TooManySessions(full) => Some(GatewayError::from(full).into()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::QueueDeclined;
    use crate::authority::{Declined, Refusal};
    use crate::key::{KeyId, KEY_ID_RANDOM_BYTES};

    fn limit_headers() -> LimitHeaders {
        vec![("RateLimit-Remaining".into(), "9".into())]
    }

    /// One reply of every kind the key authority has.
    fn every_reply() -> Vec<Reply> {
        vec![
            Reply::Refused {
                refusal: Refusal::Revoked,
                limit_headers: limit_headers(),
            },
            Reply::Declined {
                declined: Declined::NotFound,
            },
            Reply::Deleted {
                id: KeyId::generate(&[1; KEY_ID_RANDOM_BYTES]),
                index_names: Vec::new(),
            },
            Reply::AlreadyExists,
        ]
    }

    fn deleted(reply: Reply) -> Result<KeyId, ReplyError> {
        match reply {
            Reply::Deleted { id, .. } => Ok(id),
            other => Err(unwanted(other)),
        }
    }

    #[test]
    fn the_wanted_kind_is_read_and_a_refusal_keeps_its_limit_state() {
        let [refused, declined, deleted_reply, already]: [Reply; 4] =
            every_reply().try_into().expect("four replies");
        assert!(deleted(deleted_reply).is_ok());
        let refused = deleted(refused).expect_err("refused").refused();
        assert_eq!(refused.error, GatewayError::KeyRevoked);
        assert_eq!(refused.limit_headers, limit_headers());
        let declined = deleted(declined).expect_err("declined").refused();
        assert_eq!(declined.error, GatewayError::NotFound);
        assert!(declined.limit_headers.is_empty());
        let unexpected = deleted(already).expect_err("unexpected");
        assert!(matches!(
            unexpected,
            ReplyError::Unexpected {
                object: "key authority",
                kind: "already_exists"
            }
        ));
        let refused = unexpected.refused();
        assert_eq!(refused.error, GatewayError::StoreUnavailable);
        assert!(refused.limit_headers.is_empty());
    }

    #[test]
    fn the_approval_queue_s_replies_read_the_same_way() {
        let done = |reply| match reply {
            QueueReply::Done => Ok(()),
            other => Err(unwanted(other)),
        };
        assert!(done(QueueReply::Done).is_ok());
        let declined = QueueReply::Declined {
            declined: QueueDeclined::OwnApproval,
        };
        assert_eq!(
            done(declined).expect_err("declined").refused().error,
            GatewayError::OwnApproval
        );
        let page = QueueReply::Page {
            approvals: Vec::new(),
            next: None,
        };
        let unexpected = done(page).expect_err("a page");
        assert_eq!(
            unexpected.to_string(),
            "the approval queue answered `page` unexpectedly"
        );
        assert_eq!(unexpected.refused().error, GatewayError::StoreUnavailable);
    }

    #[test]
    fn a_counted_refusal_shows_the_count_unless_it_has_its_own() {
        let own = Refused {
            error: GatewayError::KeyRevoked,
            limit_headers: vec![("RateLimit-Remaining".into(), "0".into())],
        };
        assert_eq!(own.counted(limit_headers()).limit_headers[0].1, "0");
        let plain = Refused::from(GatewayError::OriginTimeout).counted(limit_headers());
        assert_eq!(plain.limit_headers, limit_headers());
    }
}
