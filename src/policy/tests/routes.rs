//! Route patterns: how a method and a path are written, and which route a request matches.

use super::*;

#[test]
fn route_method_is_uppercase_token_or_star() {
    for (method, loads) in [
        ("get", false),
        ("", false),
        ("G E T", false),
        ("GET1", false),
        ("PROPFIND", true),
        ("*", true),
    ] {
        let text = with_route(method, "/v1/contacts", "contacts", "read");
        if loads {
            load(&text);
        } else {
            let message = refusal(&text);
            assert!(
                message.starts_with("routes[0].method: "),
                "{method}: {message}"
            );
        }
    }
}

#[test]
fn route_path_errors_name_the_path() {
    let cases = [
        ("v1/contacts", "must start with \"/\""),
        ("/v1/*/contacts", "\"*\" may only be the last segment"),
        ("/v1/contacts*", "mixes \"*\" with text"),
        ("/v1/{id", "mixes a parameter with text"),
        ("/v1/{id}.json", "mixes a parameter with text"),
        ("/v1/{}", "is not a valid parameter"),
        ("/v1/{a-b}", "is not a valid parameter"),
        ("/v1/{id}/x/{id}", "appears twice"),
        ("/v1//contacts", "empty segment"),
        ("/v1/../contacts", "dot segment"),
        ("/v1/contacts?x=1", "must not contain \"?\""),
        ("/v1/con tacts", "visible ASCII"),
        ("/v1/contäcts", "visible ASCII"),
        ("/_keygate/v1/keys", "reserved for keygate's admin API"),
    ];
    for (path, expected) in cases {
        let message = refusal(&with_route("GET", path, "contacts", "read"));
        assert!(
            message.starts_with("routes[0].path: ") && message.contains(expected),
            "{path}: {message}"
        );
    }
    assert_eq!(
        refusal(&with_route("GET", "/v1/*/x", "contacts", "read")),
        "routes[0].path: \"*\" may only be the last segment"
    );
}

const ROUTES: &str = r#"
    [[resources]]
    name = "contacts"
    kind = "ladder"
    [[resources]]
    name = "analytics"
    kind = "read_only"
    [[resources]]
    name = "fallback"
    kind = "read_write"

    [[routes]]
    method = "GET"
    path = "/v1/contacts"
    resource = "contacts"
    action = "read"

    [[routes]]
    method = "GET"
    path = "/v1/contacts/{id}"
    resource = "contacts"
    action = "read"

    [[routes]]
    method = "DELETE"
    path = "/v1/contacts/{id}"
    resource = "contacts"
    action = "delete"

    [[routes]]
    method = "GET"
    path = "/v1/analytics/*"
    resource = "analytics"
    action = "read"

    [[routes]]
    method = "*"
    path = "/v1/contacts/{id}/notes"
    resource = "contacts"
    action = "write"

    [[routes]]
    method = "GET"
    path = "/"
    resource = "analytics"
    action = "read"

    [[routes]]
    method = "GET"
    path = "/v1/shadowed/{x}"
    resource = "analytics"
    action = "read"

    [[routes]]
    method = "GET"
    path = "/v1/shadowed/special"
    resource = "contacts"
    action = "read"

    [[routes]]
    method = "*"
    path = "/v1/*"
    resource = "fallback"
    action = "write"
"#;

/// The resource and action a request routes to; `None`: unmapped.
type Routed<'a> = Option<(&'a str, Action)>;

/// `policy.route` on each case: (method, path, where it routes).
fn assert_routes(policy: &Policy, cases: &[(&str, &str, Routed)]) {
    for (method, path, expected) in cases {
        let routed = policy.route(method, path);
        let expected = expected.map(|(resource, action)| target(resource, action));
        assert_eq!(routed, expected, "{method} {path}");
    }
}

#[test]
fn literal_and_param_segments() {
    let policy = load(ROUTES);
    assert_routes(
        &policy,
        &[
            ("GET", "/v1/contacts", Some(("contacts", Action::Read))),
            ("GET", "/v1/contacts/42", Some(("contacts", Action::Read))),
            (
                "DELETE",
                "/v1/contacts/42",
                Some(("contacts", Action::Delete)),
            ),
            ("GET", "/", Some(("analytics", Action::Read))),
        ],
    );
}

#[test]
fn param_matches_exactly_one_non_empty_segment() {
    let policy = load(ROUTES);
    assert_routes(
        &policy,
        &[
            ("DELETE", "/v1/contacts/", Some(("fallback", Action::Write))),
            (
                "DELETE",
                "/v1/contacts/1/2",
                Some(("fallback", Action::Write)),
            ),
        ],
    );
}

#[test]
fn trailing_star_matches_zero_or_more_segments() {
    let policy = load(ROUTES);
    let analytics = Some(("analytics", Action::Read));
    assert_routes(
        &policy,
        &[
            ("GET", "/v1/analytics", analytics),
            ("GET", "/v1/analytics/", analytics),
            ("GET", "/v1/analytics/a", analytics),
            ("GET", "/v1/analytics/a/b/c", analytics),
            ("GET", "/v1/analyticsx", Some(("fallback", Action::Write))),
        ],
    );
}

#[test]
fn head_uses_the_get_route_and_star_matches_any_method() {
    let policy = load(ROUTES);
    let notes = Some(("contacts", Action::Write));
    assert_routes(
        &policy,
        &[
            ("HEAD", "/v1/contacts/7", Some(("contacts", Action::Read))),
            ("GET", "/v1/contacts/7/notes", notes),
            ("POST", "/v1/contacts/7/notes", notes),
            ("PURGE", "/v1/contacts/7/notes", notes),
            // GET does not match a POST request; the catch-all takes it.
            ("POST", "/v1/contacts", Some(("fallback", Action::Write))),
            // Methods are case-sensitive, as in HTTP.
            ("get", "/v1/analytics/x", Some(("fallback", Action::Write))),
        ],
    );
}

#[test]
fn first_match_in_file_order_wins() {
    let policy = load(ROUTES);
    assert_routes(
        &policy,
        &[(
            "GET",
            "/v1/shadowed/special",
            Some(("analytics", Action::Read)),
        )],
    );
}

#[test]
fn trailing_slash_is_strict_and_unmapped_is_none() {
    let policy = load(&ROUTES.replace("path = \"/v1/*\"", "path = \"/v1/only\""));
    assert_routes(
        &policy,
        &[
            ("GET", "/v1/contacts/", None),
            ("GET", "/v1/contacts", Some(("contacts", Action::Read))),
            ("GET", "/v2/contacts", None),
            ("GET", "", None),
            ("GET", "v1/contacts", None),
            ("GET", "//", None),
        ],
    );
}

#[test]
fn an_escaped_literal_segment_routes_as_the_literal_a_decoding_origin_reads() {
    // Starlette, Django and Flask route on the decoded path: `/v1/contacts/%65xport` is
    // their `/v1/contacts/export`, so it must need what that route needs, not match `{id}`.
    let policy = load(
        r#"
        [[resources]]
        name = "contacts"
        kind = "ladder"
        [[resources]]
        name = "exports"
        kind = "read_only"

        [[routes]]
        method = "GET"
        path = "/v1/contacts/export"
        resource = "exports"
        action = "read"

        [[routes]]
        method = "GET"
        path = "/v1/contacts/{id}"
        resource = "contacts"
        action = "read"
    "#,
    );
    let exports = Some(("exports", Action::Read));
    assert_routes(
        &policy,
        &[
            ("GET", "/v1/contacts/export", exports),
            ("GET", "/v1/contacts/%65xport", exports),
            ("GET", "/v1/contacts/%65%78%70%6F%72%74", exports),
            ("GET", "/v1/%63ontacts/expor%74", exports),
            (
                "GET",
                "/v1/contacts/%65xports",
                Some(("contacts", Action::Read)),
            ),
        ],
    );
}

#[test]
fn ambiguous_paths_are_never_routed() {
    let policy = load(ROUTES);
    assert_routes(
        &policy,
        &[
            ("GET", "/v1/analytics/../contacts", None),
            ("GET", "/v1/analytics/./x", None),
            ("GET", "/v1/analytics/%2e%2E/contacts", None),
            ("GET", "/v1/analytics/.%2e", None),
            ("GET", "/v1/contacts/a%2Fb", None),
            ("GET", "/v1/contacts/a%5cb", None),
            ("GET", "/v1/contacts/a\\b", None),
            // Dots inside a segment are ordinary.
            ("GET", "/v1/contacts/a.b", Some(("contacts", Action::Read))),
        ],
    );
}
