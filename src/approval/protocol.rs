//! The approval queue's Durable Object protocol: its commands, its replies and the list
//! order.

use super::{
    base64_bytes, Approval, ApprovalId, ApprovalStatus, OriginResult, QueueDeclined, Reviewer,
    Verdict,
};
use crate::page::{PageRequest, Position};
use serde::Serialize;
use serde_tag_first::TagFirstDeserialize;

/// Requests to the approval queue's Durable Object.
#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum QueueCommand {
    Submit {
        approval: Box<Approval>,
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
    },
    Get {
        id: ApprovalId,
        reviewer: Reviewer,
    },
    /// One workspace's: a queue object holds only the workspaces of its shard.
    List {
        workspace: String,
        #[serde(flatten)]
        page: PageRequest<ApprovalStatus, ApprovalId>,
    },
    Decide {
        id: ApprovalId,
        reviewer: Reviewer,
        verdict: Verdict,
        now_ms: u64,
    },
    /// The origin's answer to an approved request.
    Record {
        id: ApprovalId,
        result: OriginResult,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum QueueReply {
    Done,
    Approval {
        approval: Box<Approval>,
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
    },
    Page {
        approvals: Vec<Approval>,
        /// Where the next page starts; `None` on the last page.
        next: Option<Position<ApprovalId>>,
    },
    Declined {
        declined: QueueDeclined,
    },
}
