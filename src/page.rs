//! Lists, one way for every list (keys, approvals): newest first, ties broken by id, a page
//! at a time. A [`Position`] is both where a Durable Object's list resumes and, encoded,
//! the `cursor` a client passes back.

use crate::key::KeyId;
use serde::{Deserialize, Serialize};

/// The page size when a list request names none.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The most items one page may hold.
pub const MAX_PAGE_SIZE: usize = 100;

/// The most digits a cursor's time may have. Creation times are milliseconds up to the year
/// 9999 (15 digits), and every 15-digit number is below 2^53, so a cursor of the documented
/// shape always decodes and its time survives the trip through JavaScript numbers exactly.
pub const MAX_CURSOR_TIME_DIGITS: usize = 15;

/// What a list holds, by id: keys or approvals.
pub trait ListedId: Sized {
    fn parse(text: &str) -> Option<Self>;
    fn as_str(&self) -> &str;
}

impl ListedId for KeyId {
    fn parse(text: &str) -> Option<KeyId> {
        KeyId::parse(text)
    }
    fn as_str(&self) -> &str {
        KeyId::as_str(self)
    }
}

/// An item's place in list order: a page starts after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position<Id> {
    pub created_at: u64,
    pub id: Id,
}

impl<Id: ListedId> Position<Id> {
    /// `<created_at>.<id>`, e.g. `1700000000000.key_…`. Clients pass it back as is; its
    /// shape is written in openapi.yaml, so a tester can tell a well-formed cursor from
    /// garbage without having been given one.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id.as_str())
    }

    pub fn decode(text: &str) -> Option<Position<Id>> {
        let (created_at, id) = text.split_once('.')?;
        // Digits only: `u64::from_str` would also take a leading `+`.
        let digits = (1..=MAX_CURSOR_TIME_DIGITS).contains(&created_at.len())
            && created_at.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            return None;
        }
        Some(Position {
            created_at: created_at.parse().ok()?,
            id: Id::parse(id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KEY_ID_RANDOM_BYTES;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_position_survives_its_cursor(created_at in 0u64..10u64.pow(15), seed: u8) {
            let position = Position {
                created_at,
                id: KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]),
            };
            prop_assert_eq!(Position::decode(&position.encode()), Some(position));
        }
    }

    #[test]
    fn cursors_of_another_shape_do_not_decode() {
        let id = KeyId::generate(&[7; KEY_ID_RANDOM_BYTES]);
        let too_long = "9".repeat(MAX_CURSOR_TIME_DIGITS + 1);
        for cursor in [
            String::new(),
            format!("{}", 1_700_000_000_000u64),
            format!(".{id}"),
            format!("+1700000000000.{id}"),
            format!("-1.{id}"),
            format!("{too_long}.{id}"),
            "1700000000000.apr_not_a_key".to_string(),
        ] {
            assert_eq!(Position::<KeyId>::decode(&cursor), None, "{cursor:?}");
        }
    }
}
