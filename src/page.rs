//! Lists, one way for every list (keys, approvals): newest first, ties broken by id, a page
//! at a time. A [`Position`] is both where a Durable Object's list resumes and, encoded,
//! the `cursor` a client passes back.

use crate::key::{Environment, KeyId};
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

/// One page asked of a list's Durable Object: which status, how many, after which item.
/// Keys and approvals alike; the workspace is each list's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest<S, Id> {
    /// An acting key's (or a key reviewer's) environment: it lists only that environment's.
    #[serde(default)]
    pub environment: Option<Environment>,
    pub status: Option<S>,
    pub limit: usize,
    pub after: Option<Position<Id>>,
    /// Expiry is computed, so a status filter needs the time.
    pub now_ms: u64,
}

/// The first `limit` of `rows`, which a store reads one more than `limit` of, and where
/// the next page starts: after the last item shown, while more remain.
pub fn page_of<T, Id>(
    mut rows: Vec<T>,
    limit: usize,
    position: impl Fn(&T) -> Position<Id>,
) -> (Vec<T>, Option<Position<Id>>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(position)
    } else {
        None
    };
    (rows, next)
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
    fn a_page_is_at_most_its_limit_and_names_the_next_only_while_more_remain() {
        let at = |n: &u64| Position {
            created_at: *n,
            id: KeyId::generate(&[*n as u8; KEY_ID_RANDOM_BYTES]),
        };
        for (rows, limit, shown, next) in [
            (vec![], 3, vec![], None),
            (vec![9, 8], 3, vec![9, 8], None),
            (vec![9, 8, 7], 3, vec![9, 8, 7], None),
            (vec![9, 8, 7, 6], 3, vec![9, 8, 7], Some(7)),
            (vec![9, 8], 1, vec![9], Some(9)),
        ] {
            let (items, after) = page_of(rows.clone(), limit, at);
            assert_eq!(items, shown, "{rows:?} by {limit}");
            assert_eq!(after, next.as_ref().map(at), "{rows:?} by {limit}");
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
