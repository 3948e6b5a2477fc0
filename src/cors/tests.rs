use super::*;
use proptest::prelude::*;

fn settings(table: CorsTable) -> CorsSettings {
    CorsSettings::from_table(&table, Some("X-API-Key")).expect("valid table")
}

fn listed() -> CorsSettings {
    settings(CorsTable {
        allowed_origins: vec![
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
        ],
        allowed_headers: vec!["Idempotency-Key".into()],
        exposed_headers: vec!["ETag".into()],
        ..CorsTable::default()
    })
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_allowed_preflight_names_every_allowed_method_and_header() {
    let Preflight::Allowed(headers) = listed().preflight(
        "https://app.example.com",
        "DELETE",
        Some("authorization,content-type,idempotency-key,x-api-key"),
    ) else {
        panic!("allowed")
    };
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&headers, "access-control-allow-methods"),
        Some("GET, HEAD, POST, PUT, PATCH, DELETE")
    );
    assert_eq!(
        header(&headers, "access-control-allow-headers"),
        Some("authorization, accept, accept-language, content-language, content-type, x-api-key, idempotency-key")
    );
    assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
    assert_eq!(header(&headers, "access-control-allow-credentials"), None);
}

#[test]
fn a_preflight_is_refused_for_the_origin_the_method_or_a_header() {
    let cors = listed();
    let refused = |origin, method, headers| match cors.preflight(origin, method, headers) {
        Preflight::Refused(why) => Some(why),
        Preflight::Allowed(_) => None,
    };
    let app = "https://app.example.com";
    assert_eq!(
        refused("https://evil.example", "GET", None),
        Some(PreflightRefusal::Origin)
    );
    // Exact: another scheme, port or a trailing slash is another origin.
    assert_eq!(
        refused("http://app.example.com", "GET", None),
        Some(PreflightRefusal::Origin)
    );
    assert_eq!(
        refused("https://app.example.com:8443", "GET", None),
        Some(PreflightRefusal::Origin)
    );
    assert_eq!(
        refused("https://app.example.com/", "GET", None),
        Some(PreflightRefusal::Origin)
    );
    assert_eq!(refused("null", "GET", None), Some(PreflightRefusal::Origin));
    assert_eq!(
        refused(app, "OPTIONS", None),
        Some(PreflightRefusal::Method)
    );
    assert_eq!(refused(app, "patch", None), Some(PreflightRefusal::Method));
    assert_eq!(refused(app, "TRACE", None), Some(PreflightRefusal::Method));
    assert_eq!(
        refused(app, "GET", Some("authorization, x-other")),
        Some(PreflightRefusal::Headers)
    );
    assert_eq!(
        refused(app, "GET", Some("cookie")),
        Some(PreflightRefusal::Headers)
    );
    assert_eq!(
        refused(app, "GET", Some(" Authorization ,, Content-Type ")),
        None
    );
    assert_eq!(refused("http://localhost:3000", "PUT", Some("")), None);
}

#[test]
fn request_headers_are_read_bounded() {
    let cors = listed();
    let app = "https://app.example.com";
    let many = vec!["authorization"; MAX_REQUEST_HEADER_NAMES].join(",");
    assert!(matches!(
        cors.preflight(app, "GET", Some(&many)),
        Preflight::Allowed(_)
    ));
    let too_many = format!("{many},accept");
    assert_eq!(
        cors.preflight(app, "GET", Some(&too_many)),
        Preflight::Refused(PreflightRefusal::Headers)
    );
    let long = format!("authorization{}", ",".repeat(MAX_REQUEST_HEADERS_BYTES));
    assert_eq!(
        cors.preflight(app, "GET", Some(&long)),
        Preflight::Refused(PreflightRefusal::Headers)
    );
}

#[test]
fn other_responses_carry_the_origin_and_exposed_headers_only_when_allowed() {
    let cors = listed();
    let allowed = cors.response_headers(Some("https://app.example.com"));
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let exposed = header(&allowed, "access-control-expose-headers").unwrap();
    for name in KEYGATE_EXPOSED_HEADERS.iter().chain(&["ETag"]) {
        assert!(
            exposed.split(", ").any(|e| e == *name),
            "{name} in {exposed}"
        );
    }
    assert_eq!(header(&allowed, "vary"), Some("Origin"));
    for origin in [None, Some("https://evil.example")] {
        assert_eq!(
            cors.response_headers(origin),
            vec![("Vary", "Origin".to_string())]
        );
    }
}

#[test]
fn any_origin_answers_star_and_does_not_vary() {
    let cors = settings(CorsTable {
        allowed_origins: vec!["*".into()],
        ..CorsTable::default()
    });
    let headers = cors.response_headers(Some("https://anyone.example"));
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&headers, "vary"), None);
    assert!(cors.response_headers(None).is_empty());
    let Preflight::Allowed(preflight) = cors.preflight("null", "POST", Some("authorization"))
    else {
        panic!("any origin")
    };
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
}

#[test]
fn the_origins_own_cors_headers_are_replaced_and_vary_is_kept() {
    let response = vec![
        ("access-control-allow-origin".to_string(), "*".to_string()),
        (
            "Access-Control-Allow-Credentials".to_string(),
            "true".to_string(),
        ),
        ("vary".to_string(), "Accept-Encoding".to_string()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    let out = listed().apply(Some("https://app.example.com"), response);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "vary",
            "content-type",
            "Access-Control-Allow-Origin",
            "Access-Control-Expose-Headers",
            "Vary"
        ]
    );
    assert_eq!(out[2].1, "https://app.example.com");
    assert!(listed()
        .apply(
            Some("https://evil.example"),
            vec![("Access-Control-Allow-Origin".into(), "*".into())]
        )
        .iter()
        .all(|(name, _)| !is_cors_response_header(name)));
}

#[test]
fn only_an_options_with_origin_and_request_method_is_a_preflight() {
    let origin = Some("https://a.example");
    assert_eq!(
        preflight_of("OPTIONS", origin, Some("GET")),
        Some(("https://a.example", "GET"))
    );
    assert_eq!(preflight_of("OPTIONS", origin, None), None);
    assert_eq!(preflight_of("OPTIONS", None, Some("GET")), None);
    assert_eq!(preflight_of("GET", origin, Some("GET")), None);
}

#[test]
fn the_table_is_validated_with_every_problem_named() {
    let problems = CorsSettings::from_table(
        &CorsTable {
            allowed_origins: vec![
                "https://app.example.com/".into(),
                "https://APP.example.com".into(),
                "app.example.com".into(),
                "https://app.example.com:443".into(),
                "ftp://files.example".into(),
                "null".into(),
                "http://localhost:3000".into(),
                "http://localhost:3000".into(),
            ],
            allowed_methods: Some(vec![
                "GET".into(),
                "get".into(),
                "TRACE".into(),
                "GET".into(),
            ]),
            allowed_headers: vec!["X_Custom".into(), "*".into(), "Ok-Name".into()],
            exposed_headers: vec!["".into()],
            max_age_seconds: Some(-1),
        },
        None,
    )
    .unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "allowed_origins[0]",
            "allowed_origins[1]",
            "allowed_origins[2]",
            "allowed_origins[3]",
            "allowed_origins[4]",
            "allowed_origins[5]",
            "allowed_origins[7]",
            "allowed_methods[1]",
            "allowed_methods[2]",
            "allowed_methods[3]",
            "allowed_headers[0]",
            "allowed_headers[1]",
            "exposed_headers[0]",
            "max_age_seconds",
        ]
    );
    let star = CorsSettings::from_table(
        &CorsTable {
            allowed_origins: vec!["*".into(), "https://a.example".into()],
            ..CorsTable::default()
        },
        None,
    )
    .unwrap_err();
    assert_eq!(star[0].field, "allowed_origins");
    let empty = CorsSettings::from_table(&CorsTable::default(), None).unwrap_err();
    assert_eq!(empty[0].field, "allowed_origins");
    for origin in [
        "https://[::1]:8443",
        "http://127.0.0.1:8787",
        "https://a-b.example.co.uk",
    ] {
        let table = CorsTable {
            allowed_origins: vec![origin.into()],
            ..CorsTable::default()
        };
        assert!(CorsSettings::from_table(&table, None).is_ok(), "{origin}");
    }
}

#[test]
fn the_policy_lists_are_bounded() {
    let table = CorsTable {
        allowed_origins: (0..=MAX_ORIGINS)
            .map(|i| format!("https://a{i}.example"))
            .collect(),
        allowed_headers: (0..=MAX_HEADER_NAMES).map(|i| format!("X-H{i}")).collect(),
        exposed_headers: (0..=MAX_HEADER_NAMES).map(|i| format!("X-E{i}")).collect(),
        ..CorsTable::default()
    };
    let fields: Vec<String> = CorsSettings::from_table(&table, None)
        .unwrap_err()
        .into_iter()
        .map(|p| p.field)
        .collect();
    assert_eq!(
        fields,
        ["allowed_origins", "allowed_headers", "exposed_headers"]
    );
}

proptest! {
    /// The preflight decision against a naive reading of the rules: allowed exactly
    /// when the origin is listed, the method listed, and every non-empty trimmed name
    /// of a bounded list is allowed in any case.
    #[test]
    fn a_preflight_is_allowed_exactly_by_the_rules(
        origin in prop::sample::select(vec!["https://app.example.com", "http://localhost:3000", "https://evil.example", "null", ""]),
        method in prop::sample::select(vec!["GET", "POST", "DELETE", "OPTIONS", "patch", "TRACE"]),
        names in prop::collection::vec(prop::sample::select(vec!["Authorization", "content-type", "X-API-KEY", "idempotency-key", "cookie", "x-other", "", " "]), 0..70),
    ) {
        let cors = listed();
        let list = names.join(",");
        let answer = cors.preflight(origin, method, Some(&list));
        let origin_ok = ["https://app.example.com", "http://localhost:3000"].contains(&origin);
        let method_ok = DEFAULT_METHODS.contains(&method);
        let present: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
        let headers_ok = present.len() <= MAX_REQUEST_HEADER_NAMES
            && present.iter().all(|n| !["cookie", "x-other"].contains(&n.to_ascii_lowercase().as_str()));
        prop_assert_eq!(matches!(answer, Preflight::Allowed(_)), origin_ok && method_ok && headers_ok);
        if let Preflight::Allowed(headers) = answer {
            prop_assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin));
        }
    }

    /// Whatever the origin answered, what reaches the client has exactly keygate's
    /// CORS headers, and every other header as it was, in order.
    #[test]
    fn apply_keeps_every_other_header_and_only_keygates_cors(
        names in prop::collection::vec("(access-control-[a-z-]{1,12}|[a-z]{1,10}|Vary)", 0..8),
        allowed in any::<bool>(),
    ) {
        let response: Vec<(String, String)> = names.iter().map(|n| (n.clone(), "v".into())).collect();
        let origin = if allowed { "https://app.example.com" } else { "https://evil.example" };
        let out = listed().apply(Some(origin), response.clone());
        let kept: Vec<&(String, String)> = response.iter().filter(|(n, _)| !is_cors_response_header(n)).collect();
        prop_assert_eq!(out.iter().take(kept.len()).collect::<Vec<_>>(), kept.clone());
        let added: Vec<&str> = out[kept.len()..].iter().map(|(n, _)| n.as_str()).collect();
        if allowed {
            prop_assert_eq!(added, vec!["Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"]);
        } else {
            prop_assert_eq!(added, vec!["Vary"]);
        }
    }
}
