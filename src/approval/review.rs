//! Who may see and decide which approvals: the root token, or an unrelated key reviewer
//! of the same workspace and environment.

use super::{
    Approval, ApprovalState, ApprovalStatus, Decider, Decision, Delivery, QueueDeclined, Verdict,
    APPROVALS_RESOURCE,
};
use crate::authority::Refusal;
use crate::delegation::Actor;
use crate::key::{Environment, KeyId};
use crate::policy::{Access, Action, Policy, RouteTarget};
use crate::record::Principal;
use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;

/// Who is looking at the queue, and what they may do there.
///
/// A key reviewer sees and decides only approvals of its own workspace and environment (a
/// test key never sends a request to production), and never decides one submitted by
/// itself or by a key related to it: a key it created, the key that created it, or a
/// sibling made by the same key — else one key could make a twin, submit through it and
/// approve as itself. Keys made by the root token (or a person) are not siblings. Where
/// either creator is unknown (keys stored before keygate recorded it), a relation cannot
/// be ruled out, and only the root token or an unrelated key with known creator decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewer {
    pub decider: Decider,
    pub reach: Reach,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "reach", rename_all = "snake_case")]
pub enum Reach {
    /// The root token: every approval.
    Everything,
    /// A key: its own submissions, and its workspace's as far as its `approvals` grant goes.
    Workspace {
        workspace: String,
        environment: Environment,
        /// The reviewing key's creator; `None`: unknown.
        #[serde(default)]
        created_by: Option<Principal>,
        /// The reviewing key's family; `None`: unknown.
        #[serde(default)]
        family: Option<KeyId>,
        may_read: bool,
        may_decide: bool,
    },
    /// A member with `approvals:review` (checked for every approval route before the
    /// reviewer is made): its workspace's approvals, both environments. A person is no
    /// key, so the related-key rule has nothing to compare.
    Member { workspace: String },
}

impl Reviewer {
    /// The reviewer an admin caller is: the policy's `approvals` resource says what a
    /// key may do (`admin` reaches it like any resource).
    pub fn of(actor: &Actor, policy: &Policy) -> Reviewer {
        match actor {
            Actor::Root => Reviewer {
                decider: Decider::Root,
                reach: Reach::Everything,
            },
            Actor::Key { grantee } => {
                let allowed = |action| {
                    let target = RouteTarget {
                        resource: APPROVALS_RESOURCE.to_string(),
                        action,
                    };
                    policy.decide(&grantee.scopes, &target) == Access::Allowed
                };
                Reviewer {
                    decider: Decider::Key {
                        key_id: grantee.key_id.clone(),
                        key_name: grantee.key_name.clone(),
                    },
                    reach: Reach::Workspace {
                        workspace: grantee.workspace.clone(),
                        environment: grantee.environment,
                        created_by: grantee.created_by.clone(),
                        family: grantee.family.clone(),
                        may_read: allowed(Action::Read),
                        may_decide: allowed(Action::Write),
                    },
                }
            }
            Actor::Member {
                workspace, member, ..
            } => Reviewer {
                decider: Decider::Member {
                    id: member.id.clone(),
                    name: member.name.clone(),
                },
                reach: Reach::Member {
                    workspace: workspace.clone(),
                },
            },
        }
    }

    /// `Err` naming the scope a key lacks to list the queue or decide on it.
    pub fn needs(&self, action: Action) -> Result<(), Refusal> {
        let held = match (&self.reach, action) {
            (Reach::Everything | Reach::Member { .. }, _) => true,
            (Reach::Workspace { may_decide, .. }, Action::Write) => *may_decide,
            (Reach::Workspace { may_read, .. }, _) => *may_read,
        };
        match held {
            true => Ok(()),
            false => Err(Refusal::Scope {
                required_scope: format!("{APPROVALS_RESOURCE}:{}", action.as_str()),
                approval_scope: None,
            }),
        }
    }

    /// The environment a key reviewer works in; `None` for the root token (both).
    pub fn environment(&self) -> Option<Environment> {
        match &self.reach {
            Reach::Everything | Reach::Member { .. } => None,
            Reach::Workspace { environment, .. } => Some(*environment),
        }
    }

    /// Whether the reviewer may see `approval`: its workspace's and environment's with
    /// `approvals:read`, and a key always its own submissions (so an agent can poll for the
    /// outcome).
    pub fn may_read(&self, approval: &Approval) -> bool {
        match (&self.reach, &self.decider) {
            (Reach::Everything, _) => true,
            (Reach::Member { workspace }, _) => *workspace == approval.workspace,
            (
                Reach::Workspace {
                    workspace,
                    environment,
                    may_read,
                    ..
                },
                Decider::Key { key_id, .. },
            ) => {
                (*may_read
                    && *workspace == approval.workspace
                    && *environment == approval.environment)
                    || *key_id == approval.key_id
            }
            (Reach::Workspace { .. }, _) => false,
        }
    }

    pub(super) fn may_decide(&self, approval: &Approval) -> Result<(), QueueDeclined> {
        match (&self.reach, &self.decider) {
            (Reach::Everything, _) => Ok(()),
            (Reach::Member { workspace }, _) => match *workspace == approval.workspace {
                true => Ok(()),
                false => Err(QueueDeclined::NotFound),
            },
            (
                Reach::Workspace {
                    workspace,
                    environment,
                    created_by,
                    family,
                    may_decide,
                    ..
                },
                Decider::Key { key_id, .. },
            ) => {
                if *key_id == approval.key_id {
                    // A human checkpoint the submitter can pass itself is no checkpoint.
                    Err(QueueDeclined::OwnApproval)
                } else if !(*may_decide
                    && *workspace == approval.workspace
                    && *environment == approval.environment)
                {
                    Err(QueueDeclined::NotFound)
                } else if related(key_id, created_by.as_ref(), family.as_ref(), approval) {
                    Err(QueueDeclined::RelatedApproval)
                } else {
                    Ok(())
                }
            }
            (Reach::Workspace { .. }, _) => Err(QueueDeclined::NotFound),
        }
    }
}

/// Whether the reviewing key (`reviewer`, made by `reviewer_creator`, of `reviewer_family`)
/// and the key that submitted `approval` are related: of one family — one made the other,
/// one key made both, or any longer chain of keys making keys (a key's family is the top
/// of its chain of makers). An unknown creator on either side may hide a relation, so it
/// counts as one; without families (older records) the direct relations are checked.
fn related(
    reviewer: &KeyId,
    reviewer_creator: Option<&Principal>,
    reviewer_family: Option<&KeyId>,
    approval: &Approval,
) -> bool {
    let made_by = |creator: Option<&Principal>, key: &KeyId| matches!(creator, Some(Principal::Key { key_id }) if key_id == key);
    match (reviewer_creator, approval.submitter_created_by.as_ref()) {
        (None, _) | (_, None) => true,
        (Some(mine), Some(theirs)) => {
            let same_family = matches!(
                (reviewer_family, approval.submitter_family.as_ref()),
                (Some(a), Some(b)) if a == b
            );
            same_family
                || made_by(Some(theirs), reviewer)
                || made_by(Some(mine), &approval.key_id)
                || matches!((mine, theirs), (Principal::Key { key_id: a }, Principal::Key { key_id: b }) if a == b)
        }
    }
}

impl Approval {
    /// Applies `verdict` if `reviewer` may and the approval is still pending; otherwise
    /// changes nothing. An approval whose key may no longer make the request becomes
    /// `Failed` (and the answer says why).
    pub fn decide(
        &mut self,
        reviewer: &Reviewer,
        verdict: Verdict,
        now_ms: u64,
    ) -> Result<(), QueueDeclined> {
        reviewer.may_decide(self)?;
        match self.status(now_ms) {
            ApprovalStatus::Pending => {}
            status => return Err(QueueDeclined::NotPending { status }),
        }
        let decision = Decision {
            by: reviewer.decider.clone(),
            at: now_ms,
        };
        self.state = match verdict {
            Verdict::Approve { submitter: Ok(()) } => ApprovalState::Approved {
                decision,
                result: None,
            },
            Verdict::Approve {
                submitter: Err(failure),
            } => ApprovalState::Failed { decision, failure },
            Verdict::Reject {
                reason,
                webhook,
                retry_ms,
            } => ApprovalState::Rejected {
                decision,
                reason,
                webhook: webhook.map(|url| Delivery::new(url, now_ms, retry_ms)),
            },
        };
        match &self.state {
            ApprovalState::Failed { failure, .. } => Err(QueueDeclined::SubmitterNotAllowed {
                failure: failure.clone(),
            }),
            _ => Ok(()),
        }
    }
}
