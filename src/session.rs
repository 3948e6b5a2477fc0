//! Portal sessions: a short-lived token the provider's backend mints for one of its members
//! (a person, with a role the provider gives as permissions) to act in one workspace
//! through the admin API.
//!
//! A token reads `kgs_` followed by 39 base62 characters: 33 encode 192 random bits, the
//! last 6 a CRC-32 of everything before them, exactly as keys end
//! ([`crate::key`]), so a mistyped token is refused without touching storage. keygate
//! keeps only an HMAC of it under the deployment's hash secret, labelled so that it can
//! never equal a key's hash, and the session row it names ([`Session`]).
//!
//! ```
//! use keygate::session::SessionToken;
//! let token = SessionToken::generate(&[7u8; 24]);
//! assert!(SessionToken::parse(token.expose()).is_some());
//! assert!(SessionToken::parse("kgs_not-a-token").is_none());
//! ```

use crate::key::{
    base62_fixed, checksum, checksum_matches, is_base62, HashingSecret, BODY_CHARS, CHECKSUM_CHARS,
    KEY_ID_RANDOM_BYTES,
};
use crate::page::ListedId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What every session token starts with. A key always has an environment after its
/// prefix (`kg_live_…`), so no key reads like a session token, whatever the policy's prefix.
pub const SESSION_TOKEN_PREFIX: &str = "kgs_";
/// Random bytes in a token: 192 bits, like a key's.
pub const SESSION_TOKEN_RANDOM_BYTES: usize = 24;
/// Random bytes in a session id; ids are shown, they only need to be unique.
pub const SESSION_ID_RANDOM_BYTES: usize = KEY_ID_RANDOM_BYTES;
const SESSION_ID_PREFIX: &str = "ses_";
const SESSION_ID_CHARS: usize = 22;
/// The label a token is hashed after, so its HMAC differs from any key's.
const HASH_LABEL: &[u8] = b"keygate portal session v1\0";

/// `ttl_seconds` bounds: at least a minute, at most half a day.
pub const MIN_TTL_SECONDS: u64 = 60;
pub const MAX_TTL_SECONDS: u64 = 43_200;
pub const DEFAULT_TTL_SECONDS: u64 = 3_600;
/// The most live sessions one workspace may have: expired ones are purged on every mint,
/// so the table never holds more than this per workspace.
pub const MAX_LIVE_SESSIONS_PER_WORKSPACE: u64 = 1_000;
/// A member's id and name as the provider gives them, in characters.
pub const MAX_MEMBER_ID_CHARS: usize = 128;
pub const MAX_MEMBER_NAME_CHARS: usize = 200;

/// A plain session token. In memory only: shown once when minted, hashed on every request,
/// never stored, logged or printed (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    pub fn generate(random: &[u8; SESSION_TOKEN_RANDOM_BYTES]) -> SessionToken {
        let mut token = SESSION_TOKEN_PREFIX.to_string();
        token.push_str(&base62_fixed(random, BODY_CHARS));
        token.push_str(&checksum(&token));
        SessionToken(token)
    }

    /// A token of this shape with a matching checksum, or `None`. Pure; touches no storage.
    pub fn parse(text: &str) -> Option<SessionToken> {
        let body = text.strip_prefix(SESSION_TOKEN_PREFIX)?;
        let shaped = body.len() == BODY_CHARS + CHECKSUM_CHARS && body.bytes().all(is_base62);
        (shaped && checksum_matches(text)).then(|| SessionToken(text.to_string()))
    }

    /// Whether `text` is meant as a session token (its prefix), well formed or not.
    pub fn is_claimed_by(text: &str) -> bool {
        text.starts_with(SESSION_TOKEN_PREFIX)
    }

    /// The secret itself, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The name its session row is stored under: `s1:` and an HMAC of the token.
    pub fn index_name(&self, secret: &HashingSecret) -> SessionIndexName {
        SessionIndexName(format!(
            "s1:{}",
            secret.mac_hex(&[HASH_LABEL, self.0.as_bytes()])
        ))
    }
}

/// Whether `text` holds something shaped like a session token: `kgs_` then at least a
/// token's 39 base62 characters. The checksum is not checked on purpose, as for keys
/// ([`crate::key::contains_key_shape`]): a token with one character wrong still gives most
/// of it away.
pub fn contains_token_shape(text: &[u8]) -> bool {
    let prefix = SESSION_TOKEN_PREFIX.as_bytes();
    (0..text.len()).any(|at| {
        text.get(at..)
            .and_then(|rest| rest.strip_prefix(prefix))
            .and_then(|rest| rest.get(..BODY_CHARS + CHECKSUM_CHARS))
            .is_some_and(|chars| chars.iter().copied().all(is_base62))
    })
}

/// The stored name of a session: a secret's fingerprint, so `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionIndexName(String);

impl SessionIndexName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionIndexName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionIndexName(<redacted>)")
    }
}

/// A session's public identifier, `ses_…`: what the root token lists and revokes by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate(random: &[u8; SESSION_ID_RANDOM_BYTES]) -> SessionId {
        SessionId(format!(
            "{SESSION_ID_PREFIX}{}",
            base62_fixed(random, SESSION_ID_CHARS)
        ))
    }

    /// Accepts only ids this module could have made.
    pub fn parse(text: &str) -> Option<SessionId> {
        let body = text.strip_prefix(SESSION_ID_PREFIX)?;
        (body.len() == SESSION_ID_CHARS && body.bytes().all(is_base62))
            .then(|| SessionId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ListedId for SessionId {
    fn parse(text: &str) -> Option<SessionId> {
        SessionId::parse(text)
    }
    fn as_str(&self) -> &str {
        SessionId::as_str(self)
    }
}

/// What a member may do in its workspace. The provider maps its roles onto these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    /// List and get keys (with usage), read the policy and the workspace.
    #[serde(rename = "keys:read")]
    KeysRead,
    /// Everything `keys:read` gives, and create, edit, revoke, activate, rotate, rotate a
    /// webhook secret and delete — as far as the policy's `[lifecycle]` offers.
    #[serde(rename = "keys:manage")]
    KeysManage,
    /// List, get, approve and reject the workspace's approvals.
    #[serde(rename = "approvals:review")]
    ApprovalsReview,
}

impl Permission {
    pub const ALL: [Permission; 3] = [
        Permission::KeysRead,
        Permission::KeysManage,
        Permission::ApprovalsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::KeysRead => "keys:read",
            Permission::KeysManage => "keys:manage",
            Permission::ApprovalsReview => "approvals:review",
        }
    }

    pub fn parse(text: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Whether holding `self` gives `needed`: each gives itself, and `keys:manage` gives
    /// `keys:read` too (who may change keys may see them).
    pub fn gives(self, needed: Permission) -> bool {
        self == needed || (self == Permission::KeysManage && needed == Permission::KeysRead)
    }
}

/// Whether any of `held` gives `needed`.
pub fn permits(held: &[Permission], needed: Permission) -> bool {
    held.iter().any(|permission| permission.gives(needed))
}

/// A person of the provider's, as its backend names them: an id of its own and a name to
/// show (1 to [`MAX_MEMBER_ID_CHARS`] and [`MAX_MEMBER_NAME_CHARS`] characters, no control
/// characters; the admin API checks both).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
}

/// One session as the key directory stores it (beside the token's [`SessionIndexName`],
/// never the token) and the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub workspace: String,
    pub member: Member,
    pub permissions: Vec<Permission>,
    pub created_at: u64,
    pub expires_at: u64,
}

impl Session {
    /// A session works until `expires_at` (exclusive); from then on it is as if revoked,
    /// and the next mint purges its row.
    pub fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at
    }
}

/// The expiry of a session minted at `now_ms` for `ttl_seconds`.
pub fn expiry(now_ms: u64, ttl_seconds: u64) -> u64 {
    now_ms.saturating_add(ttl_seconds.saturating_mul(1_000))
}

/// A mint refused because the workspace already has [`MAX_LIVE_SESSIONS_PER_WORKSPACE`]
/// live sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TooManySessions {
    pub max: u64,
}

/// Whether one more session may be minted in a workspace that has `live` live ones.
pub fn may_mint(live: u64) -> Result<(), TooManySessions> {
    match live < MAX_LIVE_SESSIONS_PER_WORKSPACE {
        true => Ok(()),
        false => Err(TooManySessions {
            max: MAX_LIVE_SESSIONS_PER_WORKSPACE,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{self, hash_key, ApiKey, Environment, KEY_RANDOM_BYTES};
    use proptest::prelude::*;

    fn token(seed: u8) -> SessionToken {
        SessionToken::generate(&[seed; SESSION_TOKEN_RANDOM_BYTES])
    }

    #[test]
    fn tokens_have_the_documented_shape() {
        let text = token(1).expose().to_string();
        assert!(text.starts_with("kgs_"));
        assert_eq!(text.len(), 4 + 33 + 6);
        assert!(text[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(SessionToken::parse(&text), Some(token(1)));
        assert_ne!(token(1), token(2));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = token(3).expose().to_string();
        for bad in [
            String::new(),
            "kgs_".to_string(),
            good[..good.len() - 1].to_string(),
            format!("{good}A"),
            good.replacen("kgs_", "kgx_", 1),
            good.replacen("kgs_", "kgs-", 1),
            format!("{}-{}", &good[..10], &good[11..]),
            format!("{}é", &good[..good.len() - 2]),
        ] {
            assert_eq!(SessionToken::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn no_key_reads_as_a_session_token_even_under_the_prefix_kgs() {
        let key = ApiKey::generate("kgs", Environment::Live, &[5; KEY_RANDOM_BYTES]);
        assert_eq!(SessionToken::parse(key.expose()), None);
        assert!(key::parse(token(5).expose(), "kgs").is_err());
        assert!(key::parse(token(5).expose(), "kg").is_err());
    }

    #[test]
    fn token_shapes_are_found_anywhere_in_a_text() {
        let text = token(7).expose().to_string();
        for around in [
            text.clone(),
            format!("session={text}&x=1"),
            format!("/v1/{text}/x"),
            format!("{}X", &text[..text.len() - 1]),
        ] {
            assert!(contains_token_shape(around.as_bytes()), "{around}");
        }
        for other in [&text[..text.len() - 1], "kgs_", "", &text[1..]] {
            assert!(!contains_token_shape(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn a_tokens_hash_is_labelled_apart_from_a_keys() {
        let secret = HashingSecret::new(b"hash secret".to_vec());
        let name = token(4).index_name(&secret);
        assert!(name.as_str().starts_with("s1:"));
        assert_eq!(name.as_str().len(), 3 + 64);
        assert_eq!(name, token(4).index_name(&secret));
        assert_ne!(name, token(5).index_name(&secret));
        assert_ne!(
            name,
            token(4).index_name(&HashingSecret::new(b"other".to_vec()))
        );
        // The very same text hashed as a key gives another MAC, not only another prefix.
        let as_key = hash_key(
            &secret,
            &ApiKey::generate("kg", Environment::Live, &[4; 24]),
        );
        assert_ne!(&name.as_str()[3..], &as_key.index_name()[3..]);
        let unlabelled = secret.mac_hex(&[token(4).expose().as_bytes()]);
        assert_ne!(&name.as_str()[3..], unlabelled);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let secret = HashingSecret::new(b"s".to_vec());
        let shown = format!("{:?} {:?}", token(6), token(6).index_name(&secret));
        assert!(!shown.contains(token(6).expose()), "{shown}");
        assert!(!shown.contains(&token(6).index_name(&secret).as_str()[3..]));
    }

    #[test]
    fn session_ids_round_trip_and_refuse_anything_else() {
        let id = SessionId::generate(&[9; SESSION_ID_RANDOM_BYTES]);
        assert!(id.as_str().starts_with("ses_"));
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        for bad in ["", "ses_", "key_0000000000000000000000", &id.as_str()[1..]] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_manage_gives_keys_read_and_nothing_else_gives_more_than_itself() {
        use Permission::*;
        for held in Permission::ALL {
            for needed in Permission::ALL {
                let expected = held == needed || (held, needed) == (KeysManage, KeysRead);
                assert_eq!(held.gives(needed), expected, "{held:?} → {needed:?}");
            }
        }
        assert!(!permits(&[], KeysRead));
        assert!(permits(&[ApprovalsReview, KeysManage], KeysRead));
        assert!(!permits(&[KeysRead, ApprovalsReview], KeysManage));
    }

    #[test]
    fn permissions_have_their_documented_names() {
        for permission in Permission::ALL {
            let json = serde_json::to_value(permission).expect("writes");
            assert_eq!(json, permission.as_str());
            assert_eq!(Permission::parse(permission.as_str()), Some(permission));
        }
        assert_eq!(Permission::parse("keys:write"), None);
    }

    #[test]
    fn a_session_is_live_until_its_expiry_exclusive() {
        let session = Session {
            id: SessionId::generate(&[1; SESSION_ID_RANDOM_BYTES]),
            workspace: "acme".into(),
            member: Member {
                id: "u1".into(),
                name: "Ada".into(),
            },
            permissions: vec![Permission::KeysRead],
            created_at: 1_000,
            expires_at: expiry(1_000, MIN_TTL_SECONDS),
        };
        assert_eq!(session.expires_at, 61_000);
        assert!(session.is_live(1_000));
        assert!(session.is_live(60_999));
        assert!(!session.is_live(61_000));
        assert!(!session.is_live(u64::MAX));
        assert_eq!(expiry(u64::MAX - 1, MAX_TTL_SECONDS), u64::MAX);
    }

    #[test]
    fn a_workspace_mints_up_to_its_cap() {
        assert_eq!(may_mint(0), Ok(()));
        assert_eq!(may_mint(MAX_LIVE_SESSIONS_PER_WORKSPACE - 1), Ok(()));
        assert_eq!(
            may_mint(MAX_LIVE_SESSIONS_PER_WORKSPACE),
            Err(TooManySessions { max: 1_000 })
        );
    }

    proptest! {
        #[test]
        fn every_generated_token_parses(random in any::<[u8; SESSION_TOKEN_RANDOM_BYTES]>()) {
            let token = SessionToken::generate(&random);
            prop_assert_eq!(SessionToken::parse(token.expose()), Some(token));
        }

        #[test]
        fn any_single_character_change_is_refused(random in any::<[u8; SESSION_TOKEN_RANDOM_BYTES]>(), pos in 4usize..43, replacement in "[0-9A-Za-z_-]") {
            let text = SessionToken::generate(&random).expose().to_string();
            let mut changed = text.clone();
            changed.replace_range(pos..pos + 1, &replacement);
            prop_assume!(changed != text);
            prop_assert_eq!(SessionToken::parse(&changed), None);
        }

        #[test]
        fn parse_never_panics(text in ".{0,60}") {
            let _ = SessionToken::parse(&text);
            let _ = SessionId::parse(&text);
        }
    }
}
