//! Reading the shared vector files (the repository's `tests/vectors/`).

use serde_json::{Map, Value};

pub fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is text"))
}

/// A case's header by name, any case (the files write names in lower case).
pub fn header<'a>(headers: &'a Map<String, Value>, wanted: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
        .and_then(|(_, value)| value.as_str())
}
