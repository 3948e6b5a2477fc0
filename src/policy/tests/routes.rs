//! Route patterns: how a method and a path are written, and which route a request matches.

use super::*;

#[test]
fn route_method_is_uppercase_token_or_star() {
    for bad in ["get", "", "G E T", "GET1"] {
        let message = refusal(&with_route(bad, "/v1/contacts", "contacts", "read"));
        assert!(
            message.starts_with("routes[0].method: "),
            "{bad}: {message}"
        );
    }
    load(&with_route("PROPFIND", "/v1/contacts", "contacts", "read"));
    load(&with_route("*", "/v1/contacts", "contacts", "read"));
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

fn routed(policy: &Policy, method: &str, path: &str) -> Option<(String, Action)> {
    policy
        .route(method, path)
        .map(|target| (target.resource, target.action))
}

fn some(resource: &str, action: Action) -> Option<(String, Action)> {
    Some((resource.to_string(), action))
}

#[test]
fn literal_and_param_segments() {
    let policy = load(ROUTES);
    assert_eq!(
        routed(&policy, "GET", "/v1/contacts"),
        some("contacts", Action::Read)
    );
    assert_eq!(
        routed(&policy, "GET", "/v1/contacts/42"),
        some("contacts", Action::Read)
    );
    assert_eq!(
        routed(&policy, "DELETE", "/v1/contacts/42"),
        some("contacts", Action::Delete)
    );
    assert_eq!(routed(&policy, "GET", "/"), some("analytics", Action::Read));
}

#[test]
fn param_matches_exactly_one_non_empty_segment() {
    let policy = load(ROUTES);
    assert_eq!(
        routed(&policy, "DELETE", "/v1/contacts/"),
        some("fallback", Action::Write)
    );
    assert_eq!(
        routed(&policy, "DELETE", "/v1/contacts/1/2"),
        some("fallback", Action::Write)
    );
}

#[test]
fn trailing_star_matches_zero_or_more_segments() {
    let policy = load(ROUTES);
    for path in [
        "/v1/analytics",
        "/v1/analytics/",
        "/v1/analytics/a",
        "/v1/analytics/a/b/c",
    ] {
        assert_eq!(
            routed(&policy, "GET", path),
            some("analytics", Action::Read),
            "{path}"
        );
    }
    assert_eq!(
        routed(&policy, "GET", "/v1/analyticsx"),
        some("fallback", Action::Write)
    );
}

#[test]
fn head_uses_the_get_route_and_star_matches_any_method() {
    let policy = load(ROUTES);
    assert_eq!(
        routed(&policy, "HEAD", "/v1/contacts/7"),
        some("contacts", Action::Read)
    );
    for method in ["GET", "POST", "PURGE"] {
        assert_eq!(
            routed(&policy, method, "/v1/contacts/7/notes"),
            some("contacts", Action::Write),
            "{method}"
        );
    }
    // GET does not match a POST request; the catch-all takes it.
    assert_eq!(
        routed(&policy, "POST", "/v1/contacts"),
        some("fallback", Action::Write)
    );
    // Methods are case-sensitive, as in HTTP.
    assert_eq!(
        routed(&policy, "get", "/v1/analytics/x"),
        some("fallback", Action::Write)
    );
}

#[test]
fn first_match_in_file_order_wins() {
    let policy = load(ROUTES);
    assert_eq!(
        routed(&policy, "GET", "/v1/shadowed/special"),
        some("analytics", Action::Read)
    );
}

#[test]
fn trailing_slash_is_strict_and_unmapped_is_none() {
    let policy = load(&ROUTES.replace("path = \"/v1/*\"", "path = \"/v1/only\""));
    assert_eq!(routed(&policy, "GET", "/v1/contacts/"), None);
    assert_eq!(
        routed(&policy, "GET", "/v1/contacts"),
        some("contacts", Action::Read)
    );
    assert_eq!(routed(&policy, "GET", "/v2/contacts"), None);
    assert_eq!(routed(&policy, "GET", ""), None);
    assert_eq!(routed(&policy, "GET", "v1/contacts"), None);
    assert_eq!(routed(&policy, "GET", "//"), None);
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
    for path in [
        "/v1/contacts/export",
        "/v1/contacts/%65xport",
        "/v1/contacts/%65%78%70%6F%72%74",
        "/v1/%63ontacts/expor%74",
    ] {
        assert_eq!(
            routed(&policy, "GET", path),
            some("exports", Action::Read),
            "{path}"
        );
    }
    assert_eq!(
        routed(&policy, "GET", "/v1/contacts/%65xports"),
        some("contacts", Action::Read)
    );
}

#[test]
fn ambiguous_paths_are_never_routed() {
    let policy = load(ROUTES);
    for path in [
        "/v1/analytics/../contacts",
        "/v1/analytics/./x",
        "/v1/analytics/%2e%2E/contacts",
        "/v1/analytics/.%2e",
        "/v1/contacts/a%2Fb",
        "/v1/contacts/a%5cb",
        "/v1/contacts/a\\b",
    ] {
        assert_eq!(routed(&policy, "GET", path), None, "{path}");
    }
    // Dots inside a segment are ordinary.
    assert_eq!(
        routed(&policy, "GET", "/v1/contacts/a.b"),
        some("contacts", Action::Read)
    );
}
