//! The key directory: the list index of every key, for `GET /_keygate/v1/keys`.
//!
//! KV maps a secret's hash to a key id and cannot list; each key's Durable Object knows
//! only its own key. The directory is one more Durable Object (SQLite-backed) holding a
//! copy of every record, written by the key's own object before an admin change is
//! answered — so a list right after a create or a revoke shows it. `last_used_at` is
//! refreshed in the background at most once a minute per key; `GET /keys/{id}` is exact.
//!
//! Copies carry the record's `version`, and the directory keeps the newest it has seen,
//! so copies that arrive out of order cannot roll a key back. A deleted key leaves a
//! tombstone, so a late copy cannot bring it back into lists.
//!
//! The directory is also where a workspace's plan is set ([`crate::workspace`]): it lists
//! every key of the workspace, so it is the one place that can tell them all. Setting a
//! plan numbers the change and queues it for each of the workspace's keys; the directory
//! sends it to each key's Durable Object before answering (up to [`FANOUT_BATCH`] keys,
//! the rest from its alarm, batch after batch) and keeps what did not land queued,
//! retried every [`FANOUT_RETRY_MS`], until it does. A key being created at the same time
//! cannot miss the change: its copy in the directory is answered with the workspace's
//! current assignment, which the key adopts if it is newer than the one it was made with.
//!
//! The directory also holds the portal sessions ([`crate::session`]): one row per live
//! session, named by its token's HMAC. One object for the deployment, so a session is
//! found, listed and revoked in one strongly consistent place: a revoked session answers
//! 401 from the next request on, everywhere. Every mint purges the expired rows first and
//! counts the workspace's live ones against its cap, so the table never grows past
//! [`crate::session::MAX_LIVE_SESSIONS_PER_WORKSPACE`] rows per workspace.

use crate::key::KeyId;
use crate::page::{PageRequest, Position};
use crate::record::{KeyRecord, Status};
use crate::session::{Session, SessionId, SessionIndexName, TooManySessions};
use crate::workspace::{PlanAssignment, Workspace, WorkspaceName};
use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;

/// How many keys one pass of a plan change reaches: the PUT's own, then each alarm's.
pub const FANOUT_BATCH: usize = 100;
/// How many of a pass's calls are in flight at once.
pub const FANOUT_CONCURRENCY: usize = 10;
/// How long a key whose object could not be reached waits before the next try.
pub const FANOUT_RETRY_MS: u64 = 1_000;

/// Requests to the directory (the body of its Durable Object call).
#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DirectoryCommand {
    /// The key's record as of `record.version`, and its last use.
    Put {
        record: Box<KeyRecord>,
        last_used_at: Option<u64>,
    },
    /// The key was deleted.
    Remove { id: KeyId },
    List {
        /// `None` for the root token's list: every workspace.
        workspace: Option<String>,
        #[serde(flatten)]
        page: PageRequest<Status, KeyId>,
    },
    /// A workspace as the directory holds it (`None`: never heard of).
    Workspace { id: WorkspaceName },
    /// Sets a workspace's plan (`None`: back to the policy's default) and tells its keys.
    SetPlan {
        id: WorkspaceName,
        plan: Option<String>,
        now_ms: u64,
    },
    ListWorkspaces {
        #[serde(flatten)]
        page: PageRequest<Status, WorkspaceName>,
    },
    /// Stores a new session under its token's name, after purging every session expired
    /// at `now_ms`, unless its workspace already has the most live sessions it may.
    MintSession {
        index_name: SessionIndexName,
        session: Session,
        now_ms: u64,
    },
    /// The live session whose token has this name, if any.
    FindSession {
        index_name: SessionIndexName,
        now_ms: u64,
    },
    /// Forgets a session: it answers 401 from the next request on.
    RevokeSession { by: SessionRef },
    /// One page of a workspace's live sessions, newest first.
    ListSessions {
        workspace: String,
        limit: usize,
        after: Option<Position<SessionId>>,
        now_ms: u64,
    },
}

/// Which session a revoke names: the caller's own (its token's name), or one by id.
#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SessionRef {
    Current { index_name: SessionIndexName },
    Id { id: SessionId },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub record: KeyRecord,
    pub last_used_at: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DirectoryReply {
    Done,
    /// A key's copy is stored; its workspace's plan is `assignment` (the key adopts it if
    /// it is newer than its own).
    Stored {
        assignment: PlanAssignment,
    },
    Workspace {
        workspace: Option<Workspace>,
    },
    /// A plan was set: `updated` keys have it already, `pending` are still being told.
    PlanSet {
        workspace: Workspace,
        updated: u64,
        pending: u64,
    },
    Workspaces {
        workspaces: Vec<Workspace>,
        next: Option<Position<WorkspaceName>>,
    },
    Page {
        keys: Vec<Listed>,
        /// Where the next page starts; `None` on the last page.
        next: Option<Position<KeyId>>,
    },
    SessionMinted,
    TooManySessions(TooManySessions),
    /// The answer to `FindSession`: `None` for a token that names no live session; with a
    /// live one, its workspace's plan as the directory holds it (read in the same step, so
    /// a member's call costs one directory call).
    Session {
        session: Option<Session>,
        #[serde(default)]
        assignment: PlanAssignment,
    },
    /// The answer to `RevokeSession`: whether there was such a session.
    SessionRevoked {
        found: bool,
    },
    SessionPage {
        sessions: Vec<Session>,
        next: Option<Position<SessionId>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Environment;
    use crate::key::KEY_ID_RANDOM_BYTES;
    use crate::limits::Limits;

    fn record() -> KeyRecord {
        KeyRecord {
            id: KeyId::generate(&[8; KEY_ID_RANDOM_BYTES]),
            name: "Listed".into(),
            hint: "kg_live_…abcd".into(),
            workspace: "acme".into(),
            scopes: vec!["contacts:read".into()],
            environment: Environment::Test,
            created_at: 1_900_000_000_000,
            expires_at: Some(1_900_000_100_000),
            revoked_at: Some(1_900_000_050_000),
            revoked_by: None,
            created_by: None,
            limits: Some(Limits::new(5, 50).expect("valid limits")),
            enforcement: None,
            metadata: serde_json::json!({"big": u64::MAX, "f": 0.1, "a": [null]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            rejection_webhook: Some("https://hooks.example.com/r".into()),
            version: 7,
            family: None,
            plan: Default::default(),
        }
    }

    fn session() -> Session {
        use crate::session::{Member, Permission, SESSION_ID_RANDOM_BYTES};
        Session {
            id: SessionId::generate(&[4; SESSION_ID_RANDOM_BYTES]),
            workspace: "acme".into(),
            member: Member {
                id: "user_1".into(),
                name: "Ada — admin".into(),
            },
            permissions: vec![Permission::KeysManage, Permission::ApprovalsReview],
            created_at: 1_900_000_000_000,
            expires_at: 1_900_003_600_000,
        }
    }

    fn index_name() -> SessionIndexName {
        let secret = crate::key::HashingSecret::new(b"s".to_vec());
        crate::session::SessionToken::generate(&[1; 24]).index_name(&secret)
    }

    #[test]
    fn session_commands_and_replies_round_trip_through_json() {
        let commands = [
            DirectoryCommand::MintSession {
                index_name: index_name(),
                session: session(),
                now_ms: 1,
            },
            DirectoryCommand::FindSession {
                index_name: index_name(),
                now_ms: 2,
            },
            DirectoryCommand::RevokeSession {
                by: SessionRef::Current {
                    index_name: index_name(),
                },
            },
            DirectoryCommand::RevokeSession {
                by: SessionRef::Id { id: session().id },
            },
            DirectoryCommand::ListSessions {
                workspace: "acme".into(),
                limit: 20,
                after: Some(Position {
                    created_at: 3,
                    id: session().id,
                }),
                now_ms: 4,
            },
        ];
        for command in commands {
            let json = serde_json::to_string(&command).expect("serializes");
            assert_eq!(
                serde_json::from_str::<DirectoryCommand>(&json).ok(),
                Some(command),
                "{json}"
            );
        }
        let replies = [
            DirectoryReply::SessionMinted,
            DirectoryReply::TooManySessions(TooManySessions { max: 1_000 }),
            DirectoryReply::Session {
                session: None,
                assignment: PlanAssignment::default(),
            },
            DirectoryReply::Session {
                session: Some(session()),
                assignment: PlanAssignment {
                    plan: Some("pro".into()),
                    version: 3,
                },
            },
            DirectoryReply::SessionRevoked { found: true },
            DirectoryReply::SessionPage {
                sessions: vec![session()],
                next: None,
            },
        ];
        for reply in replies {
            let json = serde_json::to_string(&reply).expect("serializes");
            assert_eq!(
                serde_json::from_str::<DirectoryReply>(&json).ok(),
                Some(reply),
                "{json}"
            );
        }
    }

    #[test]
    fn a_list_command_is_flat_on_the_wire() {
        let flat = r#"{"op":"list","workspace":"acme","environment":"test","status":"expired","limit":20,"after":null,"now_ms":5}"#;
        let command: DirectoryCommand = serde_json::from_str(flat).expect("reads");
        let expected = DirectoryCommand::List {
            workspace: Some("acme".into()),
            page: PageRequest {
                environment: Some(Environment::Test),
                status: Some(Status::Expired),
                limit: 20,
                after: None,
                now_ms: 5,
            },
        };
        assert_eq!(command, expected);
        assert_eq!(
            serde_json::to_value(&expected).expect("writes"),
            serde_json::from_str::<serde_json::Value>(flat).expect("JSON")
        );
    }

    #[test]
    fn commands_round_trip_through_json() {
        let commands = [
            DirectoryCommand::List {
                workspace: Some("acme".into()),
                page: PageRequest {
                    environment: Some(Environment::Test),
                    status: Some(Status::Expired),
                    limit: 20,
                    after: None,
                    now_ms: 5,
                },
            },
            DirectoryCommand::List {
                workspace: None,
                page: PageRequest {
                    environment: None,
                    status: None,
                    limit: 100,
                    after: Some(Position {
                        created_at: 1,
                        id: KeyId::generate(&[9; KEY_ID_RANDOM_BYTES]),
                    }),
                    now_ms: u64::MAX,
                },
            },
            DirectoryCommand::Put {
                record: Box::new(record()),
                last_used_at: Some(1_900_000_000_001),
            },
            DirectoryCommand::Put {
                record: Box::new(record()),
                last_used_at: None,
            },
            DirectoryCommand::Remove { id: record().id },
        ];
        for command in commands {
            let json = serde_json::to_string(&command).expect("serializes");
            assert_eq!(
                serde_json::from_str::<DirectoryCommand>(&json).ok(),
                Some(command),
                "{json}"
            );
        }
    }

    #[test]
    fn replies_round_trip_through_json() {
        let replies = [
            DirectoryReply::Done,
            DirectoryReply::Page {
                keys: Vec::new(),
                next: None,
            },
            DirectoryReply::Page {
                keys: vec![Listed {
                    record: record(),
                    last_used_at: Some(3),
                }],
                next: Some(Position {
                    created_at: 1_900_000_000_000,
                    id: record().id,
                }),
            },
        ];
        for reply in replies {
            let json = serde_json::to_string(&reply).expect("serializes");
            assert_eq!(
                serde_json::from_str::<DirectoryReply>(&json).ok(),
                Some(reply),
                "{json}"
            );
        }
    }
}
