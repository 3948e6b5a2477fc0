//! List queries and cursors.

use super::*;

// --- list queries ---------------------------------------------------------------

fn a_cursor() -> Position<KeyId> {
    Position {
        created_at: NOW,
        id: KeyId::generate(&[5; KEY_ID_RANDOM_BYTES]),
    }
}

fn query_errors(query: &str) -> Vec<(String, String)> {
    field_errors(parse_list_query(Some(query)))
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

/// The query is refused for exactly one reason, on `field`; returns its message.
fn query_refused_on(field: &str, query: &str) -> String {
    refused_on(field, parse_list_query(Some(query)))
}

#[test]
fn a_list_query_defaults_to_a_first_page_of_20() {
    assert_eq!((DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), (20, 100));
    let first_page = ListQuery {
        status: None,
        workspace: None,
        limit: 20,
        cursor: None,
    };
    for query in [None, Some(""), Some("&"), Some("&&")] {
        assert_eq!(parse_list_query(query), Ok(first_page.clone()), "{query:?}");
    }
}

#[test]
fn each_list_parameter_is_read() {
    let read = |query: &str| parse_list_query(Some(query)).unwrap();
    assert_eq!(read("status=active").status, Some(Status::Active));
    assert_eq!(read("status=revoked").status, Some(Status::Revoked));
    assert_eq!(read("status=expired").status, Some(Status::Expired));
    assert_eq!(
        read("workspace=acme-prod_1.eu").workspace.as_deref(),
        Some("acme-prod_1.eu")
    );
    for limit in [1, 37, 100] {
        assert_eq!(read(&format!("limit={limit}")).limit, limit);
    }
    let cursor = a_cursor();
    assert_eq!(
        read(&format!("cursor={}", cursor.encode())).cursor,
        Some(cursor.clone())
    );
    assert_eq!(
        read(&format!(
            "cursor={}&limit=5&workspace=acme&status=revoked",
            cursor.encode()
        )),
        ListQuery {
            status: Some(Status::Revoked),
            workspace: Some("acme".into()),
            limit: 5,
            cursor: Some(cursor),
        }
    );
}

#[test]
fn bad_list_parameters_are_named() {
    for status in ["ACTIVE", "", "deleted", "active ", "all"] {
        assert_eq!(
            query_refused_on("status", &format!("status={status}")),
            "must be `active`, `revoked` or `expired`"
        );
    }
    assert_eq!(
        query_refused_on("status", "status"),
        "must be `active`, `revoked` or `expired`"
    );
    for workspace in ["", "-acme", "a%20b", "a/b", &"w".repeat(65)] {
        let message = query_refused_on("workspace", &format!("workspace={workspace}"));
        assert!(
            message.contains("1 to 64 characters"),
            "{workspace}: {message}"
        );
    }
    for limit in [
        "0",
        "101",
        "-1",
        "abc",
        "",
        "1.5",
        "1e2",
        "99999999999999999999999",
    ] {
        assert_eq!(
            query_refused_on("limit", &format!("limit={limit}")),
            "must be a whole number from 1 to 100",
            "{limit}"
        );
    }
    for cursor in ["", "garbage!", "MTIz", &format!("{}=", a_cursor().encode())] {
        assert_eq!(
            query_refused_on("cursor", &format!("cursor={cursor}")),
            "is not a cursor this API returned; pass `next_cursor` as is",
            "{cursor}"
        );
    }
    for unknown in ["page=2", "Status=active", "offset=0", "=x", "cursor[]=1"] {
        let field = unknown.split_once('=').map_or(unknown, |(name, _)| name);
        assert_eq!(
            query_refused_on(field, unknown),
            "unknown parameter; allowed: status, workspace, limit, cursor"
        );
    }
}

#[test]
fn a_repeated_list_parameter_is_refused() {
    for query in [
        "limit=5&limit=5",
        "status=active&status=revoked",
        "workspace=a&limit=2&workspace=a",
    ] {
        let errors = query_errors(query);
        assert_eq!(errors.len(), 1, "{query}: {errors:?}");
        assert_eq!(errors[0].1, "is given more than once", "{query}");
    }
    let cursor = a_cursor().encode();
    assert_eq!(
        query_refused_on("cursor", &format!("cursor={cursor}&cursor={cursor}")),
        "is given more than once"
    );
}

#[test]
fn several_bad_list_parameters_are_reported_at_once() {
    let fields: Vec<String> = query_errors("status=x&limit=0&cursor=zz&page=2&limit=3&workspace=-")
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(
        fields,
        ["status", "limit", "cursor", "page", "limit", "workspace"]
    );
}

#[test]
fn garbage_cursors_decode_to_nothing() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let key_id = KeyId::generate(&[6; KEY_ID_RANDOM_BYTES]);
    let valid = Position {
        created_at: 1,
        id: key_id.clone(),
    }
    .encode();
    assert_eq!(valid, format!("1.{key_id}"));
    assert!(Position::<KeyId>::decode(&valid).is_some());
    let id = key_id.as_str();
    let approval_id = ApprovalId::parse("apr_0123456789ABCDEFGHIJab").unwrap();
    for garbage in [
        String::new(),
        "!!!".into(),
        "a".into(),
        "1".into(),
        "1.".into(),
        format!(".{id}"),
        format!("abc.{id}"),
        format!("-1.{id}"),
        format!("+1.{id}"),
        format!(" 1.{id}"),
        format!("1.{id} "),
        format!("1e3.{id}"),
        format!("1,{id}"),
        format!("\u{ff11}.{id}"),
        // More than 15 digits, even when the number would fit.
        format!("18446744073709551616.{id}"),
        format!("9007199254740993.{id}"),
        format!("0000000000000001.{id}"),
        format!("1.{id}.2"),
        "1.key_short".into(),
        "1.not-a-key-id".into(),
        format!("1.{}", approval_id.as_str()),
        // The encoding cursors had before they were written out plainly.
        URL_SAFE_NO_PAD.encode(format!("1.{id}")),
    ] {
        assert_eq!(Position::<KeyId>::decode(&garbage), None, "{garbage:?}");
    }
    assert_eq!(
        Position::<KeyId>::decode(&format!("{}.{id}", "9".repeat(MAX_CURSOR_TIME_DIGITS))),
        Some(Position {
            created_at: 999_999_999_999_999,
            id: key_id,
        })
    );
}
