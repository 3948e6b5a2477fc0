//! Who may manage keys, and how far: the root token, or a key acting within its workspace
//! that can never hand out more than it holds itself.
//!
//! A key with grants on the `api_keys` resource manages the keys of its own workspace and
//! environment (read: list and get; write: create, edit, rotate, activate; delete: revoke
//! and delete). Whatever it creates, edits, rotates or re-activates must fit inside its own
//! grants: scopes ([`Policy::grants_within`]), both limit windows, expiry and environment —
//! else a key with `api_keys:write` could mint itself a more powerful twin. Editing and
//! rotating need more: the acting key must be the key's creator ([`Actor::may_change`]),
//! and re-activating must not undo a stronger actor's revocation ([`Actor::may_undo`]).
//! The checks run inside the target key's Durable Object, in the same step as the change.
//!
//! A member (one of the provider's people, through a portal session) is no key: its role
//! is its permissions ([`crate::session::Permission`], checked per route before any call),
//! and within its one workspace it may give a key any scope of the policy, edit and rotate
//! any key there, and undo any revocation but the root token's.
//!
//! ```
//! use keygate::delegation::Actor;
//! assert!(Actor::Root.reaches("any-workspace"));
//! ```

use crate::entitlement;
use crate::key::{Environment, KeyId};
use crate::limits::Window;
use crate::policy::{Access, Action, Policy, RouteTarget};
use crate::record::{Grantee, KeyRecord, Principal};
use crate::session::{permits, Member, Permission};
use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;

/// The resource whose grants let a key manage keys.
pub const KEYS_RESOURCE: &str = "api_keys";

/// Who makes an admin request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The deployment's root token: every workspace, no bounds.
    Root,
    /// A keygate key with grants on [`KEYS_RESOURCE`], as its authority admitted it.
    Key { grantee: Grantee },
    /// One of the provider's members, through a live portal session: its workspace only
    /// (both environments), with its permissions.
    Member {
        workspace: String,
        member: Member,
        permissions: Vec<Permission>,
    },
}

/// A member's call that its permissions do not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermissionMissing {
    pub permission: Permission,
}

/// Why a key may not make a lifecycle change that is otherwise within its grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stronger {
    /// Edit and rotate: only the root token and the key's creator.
    NotCreator,
    /// Re-activate: the revocation was made by the root token, another key, or before
    /// keygate recorded who revoked.
    RevokedByOther,
}

/// What a key acting on keys tried to give beyond its own grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "beyond", rename_all = "snake_case")]
pub enum Overreach {
    /// These scopes give something the acting key does not hold.
    Scopes { scopes: Vec<String> },
    /// The window's limit is above the acting key's own.
    Limit { window: Window, own: u32 },
    /// The acting key expires; a key it manages must expire no later.
    Expiry { own: u64 },
    /// A key manages only keys of its own environment (live or test).
    Environment,
    /// A key manages only its own workspace.
    Workspace { own: String },
}

impl Actor {
    /// Whether the actor may see and manage keys of `workspace`.
    pub fn reaches(&self, workspace: &str) -> bool {
        match self {
            Actor::Root => true,
            Actor::Key { grantee } => grantee.workspace == workspace,
            Actor::Member { workspace: own, .. } => own == workspace,
        }
    }

    /// `Ok` when the actor may make a call that needs `needed` of a member: the root token
    /// and keys always (their rights are their grants, checked by their authority).
    pub fn holds(&self, needed: Permission) -> Result<(), PermissionMissing> {
        match self {
            Actor::Member { permissions, .. } if !permits(permissions, needed) => {
                Err(PermissionMissing { permission: needed })
            }
            _ => Ok(()),
        }
    }

    /// Whether the actor may see `record` at all: a key sees only its own workspace's keys
    /// of its own environment, so a test key never learns of live keys, nor a live key of
    /// test ones.
    pub fn reaches_key(&self, record: &KeyRecord) -> bool {
        self.reaches(&record.workspace)
            && self
                .environment()
                .is_none_or(|own| own == record.environment)
    }

    /// The environment a key acts in; `None` for the root token and members, who see
    /// both (a person manages a workspace's live and test keys alike).
    pub fn environment(&self) -> Option<Environment> {
        match self {
            Actor::Root | Actor::Member { .. } => None,
            Actor::Key { grantee } => Some(grantee.environment),
        }
    }

    /// The family a key this actor makes joins: the acting key's own (so a key, its
    /// children and their children are one family); `None` for the root token and
    /// members, whose keys head families of their own.
    pub fn family_for_new_key(&self) -> Option<KeyId> {
        match self {
            Actor::Root | Actor::Member { .. } => None,
            Actor::Key { grantee } => Some(
                grantee
                    .family
                    .clone()
                    .unwrap_or_else(|| grantee.key_id.clone()),
            ),
        }
    }

    /// The actor as a key record remembers it.
    pub fn principal(&self) -> Principal {
        match self {
            Actor::Root => Principal::Root,
            Actor::Key { grantee } => Principal::Key {
                key_id: grantee.key_id.clone(),
            },
            Actor::Member { member, .. } => Principal::Member {
                id: member.id.clone(),
                name: member.name.clone(),
            },
        }
    }

    /// `Ok` when the actor may edit or rotate `record`: the root token, or the key that
    /// created it. Whoever rotates receives the key's new secret, and an edit can narrow a
    /// stronger key down to what the editor holds before a rotation; both would let a key
    /// take over an identity it never had. A key whose creator is unknown (made before
    /// keygate recorded creators) is changed by the root token only. A member changes any
    /// key it reaches: it is a person managing its workspace, not a key that could take
    /// over a stronger identity than its own.
    pub fn may_change(&self, record: &KeyRecord) -> Result<(), Stronger> {
        match (self, &record.created_by) {
            (Actor::Root | Actor::Member { .. }, _) => Ok(()),
            (Actor::Key { grantee }, Some(Principal::Key { key_id }))
                if *key_id == grantee.key_id =>
            {
                Ok(())
            }
            (Actor::Key { .. }, _) => Err(Stronger::NotCreator),
        }
    }

    /// `Ok` when the actor may undo `record`'s revocation: the root token always; a key
    /// only a revocation it made itself, and only while it could still make it (it holds
    /// `api_keys:delete`). "As strong as the revoker" is thus exact: the root token is
    /// stronger than every key, and a key is as strong as itself and no other key. A
    /// revocation with no recorded revoker counts as the root token's.
    ///
    /// A member undoes a revocation made by a member or by a key (which could only reach
    /// the key from its workspace), never the root token's.
    pub fn may_undo(&self, record: &KeyRecord, policy: &Policy) -> Result<(), Stronger> {
        let grantee = match self {
            Actor::Root => return Ok(()),
            Actor::Member { .. } => {
                return match &record.revoked_by {
                    Some(Principal::Member { .. } | Principal::Key { .. }) => Ok(()),
                    Some(Principal::Root) | None => Err(Stronger::RevokedByOther),
                };
            }
            Actor::Key { grantee } => grantee,
        };
        let revoked_by_itself = matches!(
            &record.revoked_by,
            Some(Principal::Key { key_id }) if *key_id == grantee.key_id
        );
        let may_revoke = policy.decide(
            &grantee.scopes,
            &RouteTarget {
                resource: KEYS_RESOURCE.to_string(),
                action: Action::Delete,
            },
        ) == Access::Allowed;
        match revoked_by_itself && may_revoke {
            true => Ok(()),
            false => Err(Stronger::RevokedByOther),
        }
    }

    /// The workspace a request works in: a key's or member's own (naming another is
    /// refused), or for the root token whatever the request names (`None`: every
    /// workspace, or the default).
    pub fn workspace_for(&self, asked: Option<&str>) -> Result<Option<String>, Overreach> {
        let own = match self {
            Actor::Root => return Ok(asked.map(str::to_string)),
            Actor::Key { grantee } => &grantee.workspace,
            Actor::Member { workspace, .. } => workspace,
        };
        match asked {
            Some(asked) if asked != own => Err(Overreach::Workspace { own: own.clone() }),
            _ => Ok(Some(own.clone())),
        }
    }

    /// A key that a key makes, or sets back to the defaults, gets its plan's (or the
    /// policy's) current defaults as limits of its own: following them could later lift it above its maker
    /// when the defaults are raised. The root token's keys may follow the defaults.
    pub fn pin_limits(&self, record: &mut KeyRecord, policy: &Policy) {
        if let (Actor::Key { .. }, None) = (self, record.limits) {
            let plan = entitlement::key_plan(record, policy);
            record.limits = Some(entitlement::default_limits(plan, policy));
        }
    }

    /// `Ok` when a key shaped like `record` is within what the actor holds. A member holds
    /// no grants to stay within: any scope of the policy, in its own workspace.
    pub fn may_hold(&self, record: &KeyRecord, policy: &Policy) -> Result<(), Overreach> {
        let grantee = match self {
            Actor::Root => return Ok(()),
            Actor::Member { workspace, .. } if *workspace != record.workspace => {
                return Err(Overreach::Workspace {
                    own: workspace.clone(),
                })
            }
            Actor::Member { .. } => return Ok(()),
            Actor::Key { grantee } => grantee,
        };
        if grantee.workspace != record.workspace {
            return Err(Overreach::Workspace {
                own: grantee.workspace.clone(),
            });
        }
        let beyond: Vec<String> = record
            .scopes
            .iter()
            .filter(|scope| !policy.grants_within(std::slice::from_ref(scope), &grantee.scopes))
            .cloned()
            .collect();
        if !beyond.is_empty() {
            return Err(Overreach::Scopes { scopes: beyond });
        }
        // Scope by scope above; the whole set too, in case only a combination oversteps.
        if !policy.grants_within(&record.scopes, &grantee.scopes) {
            return Err(Overreach::Scopes {
                scopes: record.scopes.clone(),
            });
        }
        let limits = entitlement::key_limits(record, policy);
        for (window, wanted, own) in [
            (Window::Minute, limits.per_minute, grantee.limits.per_minute),
            (Window::Day, limits.per_day, grantee.limits.per_day),
        ] {
            if wanted > own {
                return Err(Overreach::Limit {
                    window,
                    own: own.get(),
                });
            }
        }
        if let Some(own) = grantee.expires_at {
            if record.expires_at.is_none_or(|at| at > own) {
                return Err(Overreach::Expiry { own });
            }
        }
        if grantee.environment != record.environment {
            return Err(Overreach::Environment);
        }
        Ok(())
    }
}

/// The `api_keys` action an admin operation needs from a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysAction {
    /// List and get (and read the policy).
    Read,
    /// Create, edit, rotate, activate.
    Write,
    /// Revoke and delete.
    Delete,
}

impl KeysAction {
    pub fn action(self) -> Action {
        match self {
            KeysAction::Read => Action::Read,
            KeysAction::Write => Action::Write,
            KeysAction::Delete => Action::Delete,
        }
    }
}

#[cfg(test)]
mod tests;
