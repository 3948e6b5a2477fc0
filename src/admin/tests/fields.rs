//! Each field of a key body, one at a time.

use super::*;

// --- name -----------------------------------------------------------------------

#[test]
fn name_is_required_non_empty_and_trimmed() {
    assert_eq!(refused_on("name", parse(&without("name"))), "is required");
    assert_eq!(
        refused_on("name", parse(&with("name", json!(null)))),
        "is required"
    );
    for empty in ["", "   ", "\t\n"] {
        assert_eq!(
            refused_on("name", parse(&with("name", json!(empty)))),
            "must not be empty"
        );
    }
    for not_string in [json!(1), json!(["a"]), json!({}), json!(true)] {
        assert_eq!(
            refused_on("name", parse(&with("name", not_string))),
            "must be a string"
        );
    }
    assert_eq!(
        parse(&with("name", json!("  CI bot \n"))).unwrap().name,
        "CI bot"
    );
}

#[test]
fn name_is_at_most_120_characters() {
    let ok = "é".repeat(120);
    assert_eq!(parse(&with("name", json!(ok))).unwrap().name, ok);
    let long = "a".repeat(121);
    assert_eq!(
        refused_on("name", parse(&with("name", json!(long)))),
        "must be at most 120 characters"
    );
    refused_on("name", parse(&with("name", json!("é".repeat(121)))));
}

#[test]
fn name_refuses_control_characters() {
    for bad in [
        "line\nbreak",
        "tab\there",
        "nul\u{0}",
        "bell\u{7}",
        "del\u{7f}x",
        "c1\u{85}x",
    ] {
        let message = refused_on("name", parse(&with("name", json!(bad))));
        assert!(message.contains("control characters"), "{bad:?}: {message}");
    }
}

// --- scopes ---------------------------------------------------------------------

#[test]
fn scopes_must_be_a_non_empty_list_of_strings() {
    assert!(refused_on("scopes", parse(&without("scopes"))).starts_with("is required"));
    assert!(refused_on("scopes", parse(&with("scopes", json!(null)))).starts_with("is required"));
    assert_eq!(
        refused_on("scopes", parse(&with("scopes", json!([])))),
        "must contain at least one scope"
    );
    for not_list in [
        json!("contacts:read"),
        json!({"contacts": "read"}),
        json!(1),
    ] {
        assert_eq!(
            refused_on("scopes", parse(&with("scopes", not_list))),
            "must be a list of scope strings"
        );
    }
    for not_strings in [
        json!([1]),
        json!(["contacts:read", null]),
        json!([["admin"]]),
    ] {
        assert_eq!(
            refused_on("scopes", parse(&with("scopes", not_strings))),
            "must contain only strings"
        );
    }
}

#[test]
fn duplicate_scopes_collapse_in_order() {
    let body = with(
        "scopes",
        json!([
            "tags:read",
            "contacts:read",
            "tags:read",
            "contacts:read",
            "tags:read"
        ]),
    );
    assert_eq!(parse(&body).unwrap().scopes, ["tags:read", "contacts:read"]);
}

// --- workspace ------------------------------------------------------------------

#[test]
fn workspace_is_1_to_64_safe_characters_starting_alphanumeric() {
    for ok in ["a", "Acme", "acme-prod_1.eu", "9lives", &"w".repeat(64)] {
        assert_eq!(
            parse(&with("workspace", json!(ok))).unwrap().workspace,
            Some(ok.to_string())
        );
    }
    let too_long = "w".repeat(65);
    for bad in [
        "",
        "-acme",
        "_acme",
        ".acme",
        "ac me",
        "acme/other",
        "acme:1",
        "ünïcode",
        "acme\n",
        too_long.as_str(),
    ] {
        let message = refused_on("workspace", parse(&with("workspace", json!(bad))));
        assert!(message.contains("1 to 64 characters"), "{bad:?}: {message}");
    }
    assert_eq!(
        refused_on("workspace", parse(&with("workspace", json!(7)))),
        "must be a string"
    );
}

// --- expires_at -----------------------------------------------------------------

#[test]
fn expires_at_must_be_an_rfc_3339_string() {
    for bad in [
        "tomorrow",
        "2031-01-01",
        "2031-01-01 00:00:00",
        "1900000000",
        "2031-13-01T00:00:00Z",
    ] {
        let message = refused_on("expires_at", parse(&with("expires_at", json!(bad))));
        assert!(message.contains("RFC 3339"), "{bad:?}: {message}");
    }
    for not_string in [json!(NOW + 1_000), json!(true), json!({})] {
        refused_on("expires_at", parse(&with("expires_at", not_string)));
    }
    assert!(refused_on(
        "expires_at",
        parse(&with("expires_at", json!("1969-12-31T23:59:59Z")))
    )
    .contains("1970"));
}

#[test]
fn expires_at_must_be_strictly_in_the_future() {
    for not_future in [NOW - 86_400_000, NOW - 1_000, NOW] {
        assert_eq!(
            refused_on("expires_at", parse(&with("expires_at", at(not_future)))),
            "must be in the future"
        );
    }
    // Within the same second as now, but later: accepted at millisecond precision.
    assert_eq!(
        parse(&with("expires_at", json!("2030-03-17T17:46:40.001Z")))
            .unwrap()
            .expires_at,
        Some(NOW + 1)
    );
    assert_eq!(
        parse(&with("expires_at", json!("2030-03-17T19:46:41+02:00")))
            .unwrap()
            .expires_at,
        Some(NOW + 1_000)
    );
}

// --- limits ---------------------------------------------------------------------

#[test]
fn limits_are_whole_numbers_of_at_least_one() {
    for (value, field) in [
        (json!({"per_minute": 0, "per_day": 10}), "limits"),
        (json!({"per_minute": 1, "per_day": 0}), "limits"),
        (
            json!({"per_minute": -1, "per_day": 10}),
            "limits.per_minute",
        ),
        (json!({"per_minute": 1, "per_day": -10}), "limits.per_day"),
        (
            json!({"per_minute": 1.5, "per_day": 10}),
            "limits.per_minute",
        ),
        (
            json!({"per_minute": 1.25e0, "per_day": 10}),
            "limits.per_minute",
        ),
        (
            json!({"per_minute": -1.0, "per_day": 10}),
            "limits.per_minute",
        ),
        (json!({"per_minute": 1, "per_day": 1e300}), "limits"),
        (
            json!({"per_minute": "5", "per_day": 10}),
            "limits.per_minute",
        ),
        (json!({"per_minute": 1, "per_day": true}), "limits.per_day"),
        (
            json!({"per_minute": 1_000_001, "per_day": 2_000_000}),
            "limits",
        ),
        (
            json!({"per_minute": 1, "per_day": 1_000_000_001u64}),
            "limits",
        ),
        (
            json!({"per_minute": u64::MAX, "per_day": u64::MAX}),
            "limits",
        ),
    ] {
        refused_on(field, parse(&with("limits", value)));
    }
    assert!(
        refused_on("limits", parse(&with("limits", json!({"per_minute": 0}))))
            .contains("per_minute must be between 1 and")
    );
}

#[test]
fn limits_refuse_unknown_fields_and_non_objects() {
    assert_eq!(
        refused_on(
            "limits.burst",
            parse(&with("limits", json!({"per_minute": 5, "burst": 10})))
        ),
        "unknown field; allowed: per_minute, per_day"
    );
    for not_object in [json!(5), json!([5, 10]), json!("5/min")] {
        refused_on("limits", parse(&with("limits", not_object)));
    }
}

#[test]
fn per_minute_may_not_exceed_per_day() {
    let message = refused_on(
        "limits",
        parse(&with("limits", json!({"per_minute": 11, "per_day": 10}))),
    );
    assert_eq!(message, "per_minute (11) must not exceed per_day (10)");
    assert_eq!(
        parse(&with("limits", json!({"per_minute": 10, "per_day": 10})))
            .unwrap()
            .limits,
        Some(Limits::new(10, 10).unwrap())
    );
}

#[test]
fn partial_limits_fill_from_the_policy_defaults() {
    let defaults = policy().default_limits();
    assert_eq!(defaults, Limits::new(120, 50_000).unwrap());
    let limits = |value: Value| parse(&with("limits", value)).unwrap().limits;
    assert_eq!(
        limits(json!({"per_minute": 5})),
        Some(Limits::new(5, 50_000).unwrap())
    );
    assert_eq!(
        limits(json!({"per_day": 1_000})),
        Some(Limits::new(120, 1_000).unwrap())
    );
    assert_eq!(
        limits(json!({"per_minute": 7, "per_day": null})),
        Some(Limits::new(7, 50_000).unwrap())
    );
    // An empty object, like null, overrides nothing: the key follows the policy.
    assert_eq!(limits(json!({})), None);
    assert_eq!(limits(json!({"per_minute": null})), None);
    assert_eq!(limits(json!(null)), None);
    // A per_day below the default per_minute says where the 120 came from.
    assert_eq!(
        refused_on("limits", parse(&with("limits", json!({"per_day": 100})))),
        "per_day (100) is below the default per_minute (120); set per_minute too"
    );
}

// --- metadata -------------------------------------------------------------------

#[test]
fn metadata_is_an_object_of_at_most_4_kib() {
    for not_object in [json!([]), json!("team=growth"), json!(1), json!(true)] {
        assert_eq!(
            refused_on("metadata", parse(&with("metadata", not_object))),
            "must be a JSON object"
        );
    }
    // {"k":"…"} is 8 bytes plus the value.
    let fits = json!({"k": "x".repeat(MAX_METADATA_BYTES - 8)});
    assert_eq!(fits.to_string().len(), MAX_METADATA_BYTES);
    assert_eq!(
        parse(&with("metadata", fits.clone())).unwrap().metadata,
        *fits.as_object().unwrap()
    );
    let over = json!({"k": "x".repeat(MAX_METADATA_BYTES - 7)});
    assert_eq!(
        refused_on("metadata", parse(&with("metadata", over))),
        "must be at most 4096 bytes as JSON"
    );
    let nested = json!({"a": {"b": [1, 2.5, null, {"c": "d"}]}});
    assert_eq!(
        parse(&with("metadata", nested.clone())).unwrap().metadata,
        *nested.as_object().unwrap()
    );
}

// --- rejection_webhook ----------------------------------------------------------

#[test]
fn https_webhooks_are_accepted_in_every_mode() {
    for url in [
        "https://hooks.example.com/rejected",
        "https://hooks.example.com",
        "https://hooks.example.com:8443/a/b",
        "https://203.0.113.7/r",
        "https://[2001:db8::7]/r",
    ] {
        for https_only in [true, false] {
            assert_eq!(
                parse_with(&with("rejection_webhook", json!(url)), https_only)
                    .unwrap()
                    .rejection_webhook
                    .as_deref(),
                Some(url)
            );
        }
    }
}

#[test]
fn plain_http_webhooks_only_for_loopback_while_https_only_is_off() {
    for url in [
        "http://localhost/hook",
        "http://localhost:8787/hook",
        "http://127.0.0.1:9000/hook",
        "http://127.0.0.1",
        "http://[::1]:8080/hook",
        "http://[::1]/hook",
    ] {
        let body = with("rejection_webhook", json!(url));
        assert_eq!(
            parse_with(&body, false)
                .unwrap()
                .rejection_webhook
                .as_deref(),
            Some(url)
        );
        assert_eq!(
            refused_on("rejection_webhook", parse_with(&body, true)),
            "must be an https:// URL"
        );
    }
}

#[test]
fn webhooks_at_private_link_local_or_metadata_addresses_are_refused_in_every_mode() {
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/r",
        "https://172.16.0.1/r",
        "https://192.168.1.1/r",
        "https://100.64.0.1/r",
        "https://0.0.0.0/r",
        "https://[fc00::1]/r",
        "https://[fe80::1]/r",
        "https://[::ffff:169.254.169.254]/r",
        "https://[::ffff:10.0.0.1]/r",
        "https://2852039166/r",
        "https://0xa9.0xfe.0xa9.0xfe/r",
    ] {
        for https_only in [true, false] {
            let message = refused_on(
                "rejection_webhook",
                parse_with(&with("rejection_webhook", json!(url)), https_only),
            );
            assert!(message.starts_with("must not point at"), "{url}: {message}");
        }
    }
}

#[test]
fn loopback_in_any_spelling_only_while_https_only_is_off() {
    for url in [
        "https://127.0.0.1/r",
        "https://localhost/r",
        "https://[::1]/r",
        "https://[::ffff:127.0.0.1]/r",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
    ] {
        let body = with("rejection_webhook", json!(url));
        let message = refused_on("rejection_webhook", parse_with(&body, true));
        assert!(
            message.starts_with("must not point at this machine")
                || message == "must be an https:// URL",
            "{url}: {message}"
        );
        assert_eq!(
            parse_with(&body, false)
                .unwrap()
                .rejection_webhook
                .as_deref(),
            Some(url)
        );
    }
}

#[test]
fn plain_http_to_other_hosts_is_refused() {
    for url in [
        "http://hooks.example.com/r",
        "http://10.0.0.1/r",
        "http://localhost.example.com/r",
        "http://128.0.0.1/r",
        "http://[::2]/r",
    ] {
        for https_only in [true, false] {
            let message = refused_on(
                "rejection_webhook",
                parse_with(&with("rejection_webhook", json!(url)), https_only),
            );
            assert!(
                message.starts_with("must be an https:// URL"),
                "{url}: {message}"
            );
        }
    }
    // A loopback name with a broken port is refused for the port, before the scheme rule.
    for https_only in [true, false] {
        let message = refused_on(
            "rejection_webhook",
            parse_with(
                &with("rejection_webhook", json!("http://localhost:abc/r")),
                https_only,
            ),
        );
        assert!(message.contains("port"), "{message}");
    }
}

#[test]
fn plain_http_to_a_dns_name_that_starts_with_127_is_refused() {
    for url in [
        "http://127.0.0.1.evil.com/",
        "http://127.0.0.1.nip.io/hook",
        "http://127.evil.com/",
        "http://127.0.0.1:80.evil.com/",
    ] {
        let result = parse_with(&with("rejection_webhook", json!(url)), false);
        assert!(
            matches!(result, Err(GatewayError::InvalidBody { .. })),
            "{url} accepted as loopback: {result:?}"
        );
    }
}

#[test]
fn webhooks_without_a_host_are_refused() {
    for url in [
        "https://:443",
        "https://:443/r",
        "https://:8443/r",
        "https://:/r",
    ] {
        let result = parse(&with("rejection_webhook", json!(url)));
        assert!(
            matches!(result, Err(GatewayError::InvalidBody { .. })),
            "{url} accepted without a host: {result:?}"
        );
    }
}

#[test]
fn webhooks_with_user_info_or_other_shapes_are_refused() {
    for url in [
        "https://user:pass@hooks.example.com/r",
        "https://user@hooks.example.com/r",
        "http://localhost@evil.com/r",
        "http://127.0.0.1:8080@evil.com/",
        "ftp://hooks.example.com/r",
        "hooks.example.com/r",
        "https://",
        "https:///path",
        "https://hooks.example.com/r#frag",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/r?token=a b",
        "HTTPS://hooks.example.com/r",
        "",
    ] {
        for https_only in [true, false] {
            refused_on(
                "rejection_webhook",
                parse_with(&with("rejection_webhook", json!(url)), https_only),
            );
        }
    }
    // Hook URLs commonly carry a token in the query: that is accepted.
    let with_token = "https://hooks.example.com/r?token=abc&v=2";
    assert_eq!(
        parse(&with("rejection_webhook", json!(with_token)))
            .unwrap()
            .rejection_webhook
            .as_deref(),
        Some(with_token)
    );
    let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
    assert_eq!(
        refused_on(
            "rejection_webhook",
            parse(&with("rejection_webhook", json!(long)))
        ),
        "must be at most 2048 characters"
    );
    for not_string in [json!(1), json!(["https://a.example"]), json!({"url": "x"})] {
        assert_eq!(
            refused_on(
                "rejection_webhook",
                parse(&with("rejection_webhook", not_string))
            ),
            "must be a URL string"
        );
    }
}

// --- environment ----------------------------------------------------------------

#[test]
fn environment_is_live_or_test() {
    assert_eq!(
        parse(&with("environment", json!("live")))
            .unwrap()
            .environment,
        Environment::Live
    );
    assert_eq!(
        parse(&with("environment", json!("test")))
            .unwrap()
            .environment,
        Environment::Test
    );
    for bad in [
        json!("prod"),
        json!("LIVE"),
        json!(" test"),
        json!(""),
        json!(1),
        json!(["live"]),
    ] {
        assert_eq!(
            refused_on("environment", parse(&with("environment", bad))),
            "must be `live` or `test`"
        );
    }
}

#[test]
fn enforcement_is_exact_lease_or_the_policys() {
    let of = |value| parse(&with("enforcement", value)).unwrap().enforcement;
    assert_eq!(of(json!("exact")), Some(Enforcement::Exact));
    assert_eq!(of(json!("lease")), Some(Enforcement::Lease));
    assert_eq!(of(json!(null)), None);
    for bad in [json!("Lease"), json!(""), json!(true), json!(["lease"])] {
        assert_eq!(
            refused_on("enforcement", parse(&with("enforcement", bad))),
            "must be `exact`, `lease` or null (follow the policy's)"
        );
    }
}
