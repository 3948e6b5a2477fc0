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
//! ```
//! use keygate::delegation::Actor;
//! assert!(Actor::Root.reaches("any-workspace"));
//! ```

use crate::key::{Environment, KeyId};
use crate::limits::Window;
use crate::policy::{Access, Action, Policy, RouteTarget};
use crate::record::{Grantee, KeyRecord, Principal};
use serde::{Deserialize, Serialize};

/// The resource whose grants let a key manage keys.
pub const KEYS_RESOURCE: &str = "api_keys";

/// Who makes an admin request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The deployment's root token: every workspace, no bounds.
    Root,
    /// A keygate key with grants on [`KEYS_RESOURCE`], as its authority admitted it.
    Key { grantee: Grantee },
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The environment a key acts in; `None` for the root token, which sees both.
    pub fn environment(&self) -> Option<Environment> {
        match self {
            Actor::Root => None,
            Actor::Key { grantee } => Some(grantee.environment),
        }
    }

    /// The family a key this actor makes joins: the acting key's own (so a key, its
    /// children and their children are one family); `None` for the root token.
    pub fn family_for_new_key(&self) -> Option<KeyId> {
        match self {
            Actor::Root => None,
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
        }
    }

    /// `Ok` when the actor may edit or rotate `record`: the root token, or the key that
    /// created it. Whoever rotates receives the key's new secret, and an edit can narrow a
    /// stronger key down to what the editor holds before a rotation; both would let a key
    /// take over an identity it never had. A key whose creator is unknown (made before
    /// keygate recorded creators) is changed by the root token only.
    pub fn may_change(&self, record: &KeyRecord) -> Result<(), Stronger> {
        match (self, &record.created_by) {
            (Actor::Root, _) => Ok(()),
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
    pub fn may_undo(&self, record: &KeyRecord, policy: &Policy) -> Result<(), Stronger> {
        let Actor::Key { grantee } = self else {
            return Ok(());
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

    /// The workspace a request works in: a key's own (naming another is refused), or for
    /// the root token whatever the request names (`None`: every workspace, or the default).
    pub fn workspace_for(&self, asked: Option<&str>) -> Result<Option<String>, Overreach> {
        match (self, asked) {
            (Actor::Root, asked) => Ok(asked.map(str::to_string)),
            (Actor::Key { grantee }, Some(asked)) if asked != grantee.workspace => {
                Err(Overreach::Workspace {
                    own: grantee.workspace.clone(),
                })
            }
            (Actor::Key { grantee }, _) => Ok(Some(grantee.workspace.clone())),
        }
    }

    /// A key that a key makes, or sets back to the defaults, gets the policy's current
    /// defaults as limits of its own: following them could later lift it above its maker
    /// when the defaults are raised. The root token's keys may follow the defaults.
    pub fn pin_limits(&self, record: &mut KeyRecord, policy: &Policy) {
        if let (Actor::Key { .. }, None) = (self, record.limits) {
            record.limits = Some(policy.default_limits());
        }
    }

    /// `Ok` when a key shaped like `record` is within what the actor holds.
    pub fn may_hold(&self, record: &KeyRecord, policy: &Policy) -> Result<(), Overreach> {
        let Actor::Key { grantee } = self else {
            return Ok(());
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
        let limits = record.effective_limits(policy.default_limits());
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
mod tests {
    use super::*;
    use crate::limits::Limits;
    use serde_json::Map;

    const NOW: u64 = 1_900_000_000_000;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("demo policy parses")
    }

    fn limits(per_minute: u64, per_day: u64) -> Limits {
        Limits::new(per_minute, per_day).expect("valid limits")
    }

    fn manager(scopes: &[&str]) -> Grantee {
        Grantee {
            key_id: KeyId::generate(&[1; crate::key::KEY_ID_RANDOM_BYTES]),
            key_name: "Manager".into(),
            workspace: "acme".into(),
            environment: Environment::Live,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            limits: limits(60, 10_000),
            expires_at: None,
            created_by: None,
            family: None,
        }
    }

    fn record(scopes: &[&str]) -> KeyRecord {
        KeyRecord {
            id: KeyId::generate(&[2; crate::key::KEY_ID_RANDOM_BYTES]),
            name: "Made".into(),
            hint: "kg_live_…abcd".into(),
            workspace: "acme".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            environment: Environment::Live,
            created_at: NOW,
            expires_at: None,
            revoked_at: None,
            revoked_by: None,
            created_by: None,
            limits: Some(limits(60, 10_000)),
            metadata: Map::new(),
            rejection_webhook: None,
            version: 1,
            family: None,
        }
    }

    fn actor(grantee: Grantee) -> Actor {
        Actor::Key { grantee }
    }

    #[test]
    fn root_reaches_everything_and_holds_everything() {
        assert!(Actor::Root.reaches("acme") && Actor::Root.reaches("other"));
        assert_eq!(Actor::Root.workspace_for(None), Ok(None));
        let mut huge = record(&["admin"]);
        huge.limits = None;
        assert_eq!(Actor::Root.may_hold(&huge, &policy()), Ok(()));
    }

    #[test]
    fn a_key_reaches_only_its_own_workspace() {
        let acting = actor(manager(&["api_keys:write"]));
        assert!(acting.reaches("acme"));
        assert!(!acting.reaches("other"));
        assert_eq!(acting.workspace_for(None), Ok(Some("acme".into())));
        let mut elsewhere = record(&[]);
        elsewhere.workspace = "other".into();
        assert_eq!(
            acting.may_hold(&elsewhere, &policy()),
            Err(Overreach::Workspace { own: "acme".into() })
        );
    }

    #[test]
    fn scopes_within_the_actors_own_are_allowed() {
        let acting = actor(manager(&["api_keys:write", "contacts:write", "tags:read"]));
        for scopes in [
            &["contacts:read"][..],
            &["contacts:write", "tags:read"],
            &["contacts:write-approval"],
            &["api_keys:read"],
        ] {
            assert_eq!(
                acting.may_hold(&record(scopes), &policy()),
                Ok(()),
                "{scopes:?}"
            );
        }
    }

    #[test]
    fn scopes_beyond_the_actors_own_are_named() {
        let acting = actor(manager(&["api_keys:write", "contacts:write"]));
        assert_eq!(
            acting.may_hold(
                &record(&["contacts:read", "contacts:delete", "admin"]),
                &policy()
            ),
            Err(Overreach::Scopes {
                scopes: vec!["contacts:delete".into(), "admin".into()]
            })
        );
        // Holding an approval level does not allow handing out the level above it.
        let approver = actor(manager(&["api_keys:write", "contacts:write-approval"]));
        assert_eq!(
            approver.may_hold(&record(&["contacts:write"]), &policy()),
            Err(Overreach::Scopes {
                scopes: vec!["contacts:write".into()]
            })
        );
    }

    #[test]
    fn limits_above_the_actors_own_are_refused_per_window() {
        let acting = actor(manager(&["api_keys:write"]));
        let mut made = record(&[]);
        made.limits = Some(limits(61, 100));
        assert_eq!(
            acting.may_hold(&made, &policy()),
            Err(Overreach::Limit {
                window: Window::Minute,
                own: 60
            })
        );
        made.limits = Some(limits(10, 10_001));
        assert_eq!(
            acting.may_hold(&made, &policy()),
            Err(Overreach::Limit {
                window: Window::Day,
                own: 10_000
            })
        );
        made.limits = Some(limits(60, 10_000));
        assert_eq!(acting.may_hold(&made, &policy()), Ok(()));
        // Following the policy's defaults (120/min) is above this actor's 60/min.
        made.limits = None;
        assert!(matches!(
            acting.may_hold(&made, &policy()),
            Err(Overreach::Limit {
                window: Window::Minute,
                ..
            })
        ));
    }

    #[test]
    fn an_expiring_actor_only_makes_keys_that_expire_no_later() {
        let mut grantee = manager(&["api_keys:write"]);
        grantee.expires_at = Some(NOW + 1_000);
        let acting = actor(grantee);
        let mut made = record(&[]);
        assert_eq!(
            acting.may_hold(&made, &policy()),
            Err(Overreach::Expiry { own: NOW + 1_000 })
        );
        made.expires_at = Some(NOW + 1_001);
        assert!(acting.may_hold(&made, &policy()).is_err());
        made.expires_at = Some(NOW + 1_000);
        assert_eq!(acting.may_hold(&made, &policy()), Ok(()));
    }

    #[test]
    fn a_key_manages_only_keys_of_its_own_environment() {
        let mut grantee = manager(&["api_keys:write"]);
        grantee.environment = Environment::Test;
        let acting = actor(grantee);
        let mut made = record(&[]);
        assert_eq!(
            acting.may_hold(&made, &policy()),
            Err(Overreach::Environment)
        );
        made.environment = Environment::Test;
        assert_eq!(acting.may_hold(&made, &policy()), Ok(()));
        // Nor a live key test keys: each environment is managed apart.
        let live = actor(manager(&["api_keys:write"]));
        assert_eq!(live.may_hold(&made, &policy()), Err(Overreach::Environment));
        assert!(!live.reaches_key(&made));
        assert!(acting.reaches_key(&made));
        assert!(!acting.reaches_key(&record(&[])));
        assert!(Actor::Root.reaches_key(&made));
    }

    #[test]
    fn a_key_works_in_its_own_workspace_and_root_where_it_asks() {
        let acting = actor(manager(&["api_keys:write"]));
        assert_eq!(acting.workspace_for(None), Ok(Some("acme".into())));
        assert_eq!(acting.workspace_for(Some("acme")), Ok(Some("acme".into())));
        assert_eq!(
            acting.workspace_for(Some("other")),
            Err(Overreach::Workspace { own: "acme".into() })
        );
        assert_eq!(Actor::Root.workspace_for(None), Ok(None));
        assert_eq!(
            Actor::Root.workspace_for(Some("other")),
            Ok(Some("other".into()))
        );
    }

    #[test]
    fn keys_made_by_keys_get_limits_of_their_own() {
        let mut made = record(&[]);
        made.limits = None;
        Actor::Root.pin_limits(&mut made, &policy());
        assert_eq!(made.limits, None);
        actor(manager(&["api_keys:write"])).pin_limits(&mut made, &policy());
        assert_eq!(made.limits, Some(policy().default_limits()));
        // Limits already its own stay as they are.
        made.limits = Some(limits(5, 50));
        actor(manager(&["api_keys:write"])).pin_limits(&mut made, &policy());
        assert_eq!(made.limits, Some(limits(5, 50)));
    }

    #[test]
    fn actors_round_trip_through_json() {
        for acting in [Actor::Root, actor(manager(&["api_keys:delete"]))] {
            let json = serde_json::to_string(&acting).expect("serializes");
            assert_eq!(serde_json::from_str::<Actor>(&json).ok(), Some(acting));
        }
    }

    #[test]
    fn keys_actions_climb_the_api_keys_ladder() {
        use crate::policy::{Access, RouteTarget};
        assert_eq!(KeysAction::Read.action(), Action::Read);
        assert_eq!(KeysAction::Write.action(), Action::Write);
        assert_eq!(KeysAction::Delete.action(), Action::Delete);
        // read < write < delete: each grant holds the actions below it, never above.
        let policy = policy();
        let actions = [KeysAction::Read, KeysAction::Write, KeysAction::Delete];
        for (held, scope) in ["api_keys:read", "api_keys:write", "api_keys:delete"]
            .into_iter()
            .enumerate()
        {
            for (asked, action) in actions.into_iter().enumerate() {
                let target = RouteTarget {
                    resource: KEYS_RESOURCE.into(),
                    action: action.action(),
                };
                let access = policy.decide(&[scope.to_string()], &target);
                assert_eq!(
                    access == Access::Allowed,
                    asked <= held,
                    "{scope} for {action:?}: {access:?}"
                );
            }
        }
    }

    #[test]
    fn overreaches_round_trip_through_json() {
        for overreach in [
            Overreach::Scopes {
                scopes: vec!["admin".into()],
            },
            Overreach::Limit {
                window: Window::Day,
                own: 5,
            },
            Overreach::Expiry { own: NOW },
            Overreach::Environment,
            Overreach::Workspace { own: "acme".into() },
        ] {
            let json = serde_json::to_string(&overreach).expect("serializes");
            assert_eq!(
                serde_json::from_str::<Overreach>(&json).ok(),
                Some(overreach),
                "{json}"
            );
        }
    }

    #[test]
    fn only_the_root_token_and_the_creator_change_a_key() {
        let acting = actor(manager(&["api_keys:write"]));
        let other = Principal::Key {
            key_id: KeyId::generate(&[9; crate::key::KEY_ID_RANDOM_BYTES]),
        };
        let mut made = record(&[]);
        // Unknown, the root token, another key: not the acting key's.
        for creator in [None, Some(Principal::Root), Some(other)] {
            made.created_by = creator;
            assert_eq!(Actor::Root.may_change(&made), Ok(()));
            assert_eq!(acting.may_change(&made), Err(Stronger::NotCreator));
        }
        made.created_by = Some(acting.principal());
        assert_eq!(acting.may_change(&made), Ok(()));
    }

    #[test]
    fn a_key_undoes_only_its_own_revocation_while_it_may_still_revoke() {
        let revoker = actor(manager(&["api_keys:delete"]));
        let other = Principal::Key {
            key_id: KeyId::generate(&[9; crate::key::KEY_ID_RANDOM_BYTES]),
        };
        let mut revoked = record(&[]);
        revoked.revoked_at = Some(NOW);
        for by in [None, Some(Principal::Root), Some(other)] {
            revoked.revoked_by = by;
            assert_eq!(Actor::Root.may_undo(&revoked, &policy()), Ok(()));
            assert_eq!(
                revoker.may_undo(&revoked, &policy()),
                Err(Stronger::RevokedByOther)
            );
        }
        revoked.revoked_by = Some(revoker.principal());
        assert_eq!(revoker.may_undo(&revoked, &policy()), Ok(()));
        assert_eq!(
            actor(manager(&["admin"])).may_undo(&revoked, &policy()),
            Ok(())
        );
        // The same key, since narrowed to `api_keys:write`: it could not revoke it now.
        assert_eq!(
            actor(manager(&["api_keys:write"])).may_undo(&revoked, &policy()),
            Err(Stronger::RevokedByOther)
        );
    }
}
