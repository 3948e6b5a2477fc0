use super::*;
use proptest::prelude::*;

fn table(edit: impl FnOnce(&mut PortalTable)) -> PortalTable {
    let mut table = PortalTable::default();
    edit(&mut table);
    table
}

fn settings(edit: impl FnOnce(&mut PortalTable)) -> PortalSettings {
    PortalSettings::from_table(&table(edit)).expect("a valid [portal] table")
}

fn refused_fields(edit: impl FnOnce(&mut PortalTable)) -> Vec<String> {
    match PortalSettings::from_table(&table(edit)) {
        Ok(settings) => panic!("accepted: {settings:?}"),
        Err(problems) => problems.into_iter().map(|p| p.field).collect(),
    }
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn asset(file: &str) -> Result<PortalRequest, PortalRefusal> {
    classify("GET", &format!("/_keygate/portal/assets/{file}"))
}

// ---- Paths ----

#[test]
fn the_portal_is_the_prefix_and_what_is_below_it() {
    assert!(is_portal_path("/_keygate/portal"));
    assert!(is_portal_path("/_keygate/portal/"));
    assert!(is_portal_path("/_keygate/portal/assets/x.js"));
    assert!(!is_portal_path("/_keygate/portalx"));
    assert!(!is_portal_path("/_keygate/portal.html"));
    assert!(!is_portal_path("/_keygate/v1/keys"));
    assert!(!is_portal_path("/v1/_keygate/portal"));
}

#[test]
fn each_exact_form_names_one_thing() {
    assert_eq!(
        classify("GET", "/_keygate/portal"),
        Ok(PortalRequest::Redirect)
    );
    assert_eq!(
        classify("GET", "/_keygate/portal/"),
        Ok(PortalRequest::Page)
    );
    assert_eq!(
        classify("HEAD", "/_keygate/portal/index.html"),
        Ok(PortalRequest::Page)
    );
    assert_eq!(
        classify("GET", "/_keygate/portal/config"),
        Ok(PortalRequest::Config)
    );
    let Ok(PortalRequest::Asset(script)) = asset("index-B3x_9a.js") else {
        panic!("a script is an asset");
    };
    assert_eq!(script.kind(), AssetKind::Script);
    assert_eq!(
        PortalRequest::Asset(script).asset_path().as_deref(),
        Some("/assets/index-B3x_9a.js")
    );
    assert_eq!(
        PortalRequest::Page.asset_path().as_deref(),
        Some("/index.html")
    );
    assert_eq!(PortalRequest::Config.asset_path(), None);
    for (file, kind) in [
        ("a.css", AssetKind::Stylesheet),
        ("logo.svg", AssetKind::Svg),
        ("x.y-z_1.png", AssetKind::Png),
    ] {
        assert!(matches!(asset(file), Ok(PortalRequest::Asset(a)) if a.kind() == kind));
    }
}

#[test]
fn only_get_and_head_are_answered() {
    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "TRACE"] {
        for path in [
            "/_keygate/portal",
            "/_keygate/portal/",
            "/_keygate/portal/nope",
        ] {
            assert_eq!(
                classify(method, path),
                Err(PortalRefusal::MethodNotAllowed),
                "{method} {path}"
            );
        }
    }
}

#[test]
fn traversal_and_unusual_forms_name_nothing() {
    for path in [
        "/_keygate/portal//",
        "/_keygate/portal//index.html",
        "/_keygate/portal/index.htm",
        "/_keygate/portal/index.html/",
        "/_keygate/portal/config/",
        "/_keygate/portal/config.json",
        "/_keygate/portal/assets",
        "/_keygate/portal/assets/",
        "/_keygate/portal/assets//x.js",
        "/_keygate/portal/assets/a/b.js",
        "/_keygate/portal/assets/../index.html",
        "/_keygate/portal/assets/..",
        "/_keygate/portal/assets/x..js",
        "/_keygate/portal/assets/.hidden.js",
        "/_keygate/portal/assets/%2e%2e%2fconfig.js",
        "/_keygate/portal/assets/..%2fx.js",
        "/_keygate/portal/assets/x%2ejs",
        "/_keygate/portal/assets/a\\b.js",
        "/_keygate/portal/assets/a\0.js",
        "/_keygate/portal/assets/a.js%00",
        "/_keygate/portal/assets/a.js;x",
        "/_keygate/portal/assets/a.html",
        "/_keygate/portal/assets/a.JS",
        "/_keygate/portal/assets/a.map",
        "/_keygate/portal/assets/js",
        "/_keygate/portal/%2e%2e/v1/keys",
        "/_keygate/portal/%69ndex.html",
        "/_keygate/portal/dist/index.html",
        "/_keygate/portal/\\",
        "/_keygate/portalx",
        "/elsewhere",
    ] {
        assert_eq!(
            classify("GET", path),
            Err(PortalRefusal::NotFound),
            "{path:?}"
        );
    }
    let longest = format!("{}.js", "a".repeat(MAX_ASSET_NAME_BYTES - 3));
    assert!(asset(&longest).is_ok());
    assert_eq!(asset(&format!("a{longest}")), Err(PortalRefusal::NotFound));
}

/// An independent statement of the rule: a path is an asset exactly when what follows
/// `/assets/` is a plain file name of the served kinds.
fn is_asset_by_rule(rest: &str) -> bool {
    let Some(file) = rest.strip_prefix("/assets/") else {
        return false;
    };
    let alphabet = file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    alphabet
        && (1..=128).contains(&file.len())
        && !file.starts_with('.')
        && !file.contains("..")
        && [".js", ".css", ".svg", ".png"]
            .iter()
            .any(|ext| file.ends_with(ext))
}

proptest! {
    #[test]
    fn every_portal_path_classifies_to_exactly_one_thing(
        rest in prop_oneof![
            "(/[a-z.%2eE/\\\\]{0,12}){0,3}",
            "/assets/[A-Za-z0-9._%/\\\\-]{0,20}(\\.js|\\.css|\\.svg|\\.png|\\.html)?",
            "[ -~\u{0}\u{80}-\u{10ffff}]{0,30}",
            Just("/".to_string()),
            Just("/index.html".to_string()),
            Just("/config".to_string()),
        ],
        method in prop_oneof![Just("GET"), Just("HEAD"), Just("POST"), Just("DELETE")],
    ) {
        let path = format!("{PORTAL_PREFIX}{rest}");
        let got = classify(method, &path);
        if method != "GET" && method != "HEAD" {
            prop_assert_eq!(got, Err(PortalRefusal::MethodNotAllowed));
            return Ok(());
        }
        let expected = match rest.as_str() {
            "" => Some("redirect"),
            "/" | "/index.html" => Some("page"),
            "/config" => Some("config"),
            _ if is_asset_by_rule(&rest) => Some("asset"),
            _ => None,
        };
        let kind = match &got {
            Ok(PortalRequest::Redirect) => Some("redirect"),
            Ok(PortalRequest::Page) => Some("page"),
            Ok(PortalRequest::Config) => Some("config"),
            Ok(PortalRequest::Asset(_)) => Some("asset"),
            Err(PortalRefusal::NotFound) => None,
            Err(other) => panic!("{other:?} for {path:?}"),
        };
        prop_assert_eq!(kind, expected, "{:?}", path);
        // What reaches the store is always the asset directory plus a plain name.
        if let Ok(request) = got {
            if let Some(stored) = request.asset_path() {
                let expected_file = rest.strip_prefix("/assets/").map(|file| format!("/assets/{file}"));
                prop_assert!(stored == "/index.html" || Some(&stored) == expected_file.as_ref(), "{}", stored);
                prop_assert!(!stored.contains("..") && !stored.contains('%') && !stored.contains('\\'));
            }
        }
    }
}

// ---- Answer headers ----

fn stored(content_type: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), content_type.into()),
        ("etag".into(), "\"abc\"".into()),
        (
            "last-modified".into(),
            "Tue, 01 Dec 2026 00:00:00 GMT".into(),
        ),
        ("content-length".into(), "42".into()),
        (
            "cache-control".into(),
            "public, max-age=0, must-revalidate".into(),
        ),
        ("set-cookie".into(), "x=1".into()),
        ("access-control-allow-origin".into(), "*".into()),
    ]
}

fn owned(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

#[test]
fn the_page_is_html_revalidated_with_the_store_headers_that_describe_its_bytes() {
    let headers = PortalRequest::Page
        .file_headers(&PortalSettings::default(), 200, &stored("text/html"))
        .expect("served");
    assert_eq!(
        owned(&headers, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        owned(&headers, "cache-control").as_deref(),
        Some("no-cache")
    );
    assert_eq!(owned(&headers, "etag").as_deref(), Some("\"abc\""));
    assert_eq!(owned(&headers, "content-length").as_deref(), Some("42"));
    assert!(owned(&headers, "last-modified").is_some());
    assert_eq!(owned(&headers, "set-cookie"), None);
    assert_eq!(owned(&headers, "access-control-allow-origin"), None);
    assert_eq!(
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
            .count(),
        1
    );
    assert!(owned(&headers, "content-security-policy").is_some());
}

#[test]
fn an_asset_is_immutable_and_only_served_as_what_its_name_says() {
    let Ok(script) = asset("index-abc.js") else {
        panic!("an asset");
    };
    let settings = PortalSettings::default();
    for content_type in ["text/javascript; charset=utf-8", "application/javascript"] {
        let headers = script
            .file_headers(&settings, 200, &stored(content_type))
            .expect("served");
        assert_eq!(
            owned(&headers, "content-type").as_deref(),
            Some(content_type)
        );
        assert_eq!(
            owned(&headers, "cache-control").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
    }
    for content_type in ["text/html", "text/plain", "application/octet-stream", ""] {
        assert_eq!(
            script.file_headers(&settings, 200, &stored(content_type)),
            Err(PortalRefusal::NotFound),
            "{content_type}"
        );
    }
    assert_eq!(
        script.file_headers(&settings, 200, &[]),
        Err(PortalRefusal::NotFound)
    );
    let Ok(style) = asset("index-abc.css") else {
        panic!("an asset");
    };
    assert!(style
        .file_headers(&settings, 200, &stored("text/css"))
        .is_ok());
    assert!(style
        .file_headers(&settings, 200, &stored("text/javascript"))
        .is_err());
}

#[test]
fn anything_but_a_200_from_the_store_is_not_found() {
    for status in [404, 304, 307, 500] {
        assert_eq!(
            PortalRequest::Page.file_headers(
                &PortalSettings::default(),
                status,
                &stored("text/html")
            ),
            Err(PortalRefusal::NotFound),
            "{status}"
        );
    }
}

#[test]
fn the_default_headers_allow_nothing_but_the_page_itself() {
    let headers = PortalSettings::default().security_headers();
    assert_eq!(
        header(&headers, "content-security-policy"),
        Some("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'; frame-ancestors 'none'")
    );
    assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(
        header(&headers, "cross-origin-opener-policy"),
        Some("same-origin")
    );
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
}

#[test]
fn framing_and_the_logo_origin_come_from_the_policy() {
    let settings = settings(|t| {
        t.logo_url = Some("https://cdn.example.com:8443/brand/logo.svg?v=2".into());
        t.frame_ancestors = Some(vec!["'self'".into(), "https://app.example.com".into()]);
    });
    let headers = settings.security_headers();
    let csp = header(&headers, "content-security-policy").expect("a CSP");
    assert!(
        csp.contains("; img-src 'self' https://cdn.example.com:8443; "),
        "{csp}"
    );
    assert!(
        csp.ends_with("; frame-ancestors 'self' https://app.example.com"),
        "{csp}"
    );
    assert_eq!(header(&headers, "x-frame-options"), None);
}

// ---- The [portal] table ----

#[test]
fn an_empty_table_is_the_defaults() {
    assert_eq!(settings(|_| {}), PortalSettings::default());
    let config = serde_json::to_value(PortalSettings::default().config()).expect("json");
    assert_eq!(
        config,
        serde_json::json!({
            "title": "API keys", "accent_color": "#2563eb",
            "logo_url": null, "billing_url": null, "docs_url": null,
        })
    );
    let described = serde_json::to_value(PortalSettings::default().describe()).expect("json");
    assert_eq!(described["frame_ancestors"], serde_json::json!([]));
    assert_eq!(described["title"], "API keys");
}

#[test]
fn a_full_table_is_shown_as_written() {
    let settings = settings(|t| {
        t.title = Some("Acme API keys".into());
        t.accent_color = Some("#FF6600".into());
        t.logo_url = Some("https://acme.example/logo.png".into());
        t.billing_url = Some("/settings/billing".into());
        t.docs_url = Some("https://docs.acme.example/keys#scopes".into());
        t.frame_ancestors = Some(vec!["https://app.acme.example".into()]);
    });
    let described = serde_json::to_value(settings.describe()).expect("json");
    assert_eq!(
        described,
        serde_json::json!({
            "title": "Acme API keys", "accent_color": "#FF6600",
            "logo_url": "https://acme.example/logo.png",
            "billing_url": "/settings/billing",
            "docs_url": "https://docs.acme.example/keys#scopes",
            "frame_ancestors": ["https://app.acme.example"],
        })
    );
}

#[test]
fn each_field_is_checked_and_every_problem_reported() {
    assert_eq!(
        refused_fields(|t| {
            t.title = Some(String::new());
            t.accent_color = Some("blue".into());
            t.logo_url = Some("http://example.com/logo.png".into());
            t.billing_url = Some("javascript:alert(1)".into());
            t.docs_url = Some("//evil.example/docs".into());
            t.frame_ancestors = Some(vec!["*".into()]);
        }),
        [
            "title",
            "accent_color",
            "logo_url",
            "billing_url",
            "docs_url",
            "frame_ancestors[0]"
        ]
    );
}

#[test]
fn titles() {
    for title in ["A", "API keys", &"é".repeat(80), "Acme — keys"] {
        let t = title.to_string();
        assert!(
            PortalSettings::from_table(&table(|x| x.title = Some(t))).is_ok(),
            "{title}"
        );
    }
    for title in [
        "",
        "   ",
        &"a".repeat(81),
        "a\nb",
        "a\u{7}",
        "tab\there",
        "\u{85}",
    ] {
        assert_eq!(
            refused_fields(|x| x.title = Some(title.into())),
            ["title"],
            "{title:?}"
        );
    }
}

#[test]
fn accent_colours() {
    for color in ["#2563eb", "#ABCDEF", "#000000"] {
        assert!(
            PortalSettings::from_table(&table(|x| x.accent_color = Some(color.into()))).is_ok()
        );
    }
    for color in [
        "2563eb", "#2563e", "#2563ebb", "#gggggg", "#fff", "red", "#2563eb;",
    ] {
        assert_eq!(
            refused_fields(|x| x.accent_color = Some(color.into())),
            ["accent_color"],
            "{color:?}"
        );
    }
}

#[test]
fn logo_urls() {
    for url in [
        "https://example.com/logo.svg",
        "https://cdn.example.com:8443/a/b.png?v=1&x=%20",
        "https://example.com",
    ] {
        assert!(
            PortalSettings::from_table(&table(|x| x.logo_url = Some(url.into()))).is_ok(),
            "{url}"
        );
    }
    let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
    for url in [
        "http://example.com/logo.svg",
        "/logo.svg",
        "https://user:pass@example.com/logo.svg",
        "https://user@example.com/logo.svg",
        "https://example.com/logo.svg#x",
        "https://example.com/a b.svg",
        "https://example.com/\"x",
        "https://example.com/<x>",
        "https://example.com/a\\b",
        "https://",
        "https://example.com:0/x",
        "https://example.com:65536/x",
        "https://example..com/x",
        "https://-example.com/x",
        "https://exa_mple.com/x",
        "https://[::1]/x",
        "data:image/png;base64,AAAA",
        "HTTPS://example.com/x",
        long.as_str(),
    ] {
        assert_eq!(
            refused_fields(|x| x.logo_url = Some(url.into())),
            ["logo_url"],
            "{url:?}"
        );
    }
}

#[test]
fn billing_and_docs_links() {
    for link in [
        "https://example.com/billing",
        "/billing",
        "/docs/keys#scopes",
        "https://docs.example.com#top",
        "https://a0.example/billing",
        "https://example.com1/",
        "https://0xfoo.example/",
    ] {
        assert!(
            PortalSettings::from_table(&table(|x| {
                x.billing_url = Some(link.into());
                x.docs_url = Some(link.into());
            }))
            .is_ok(),
            "{link}"
        );
    }
    for link in [
        "http://example.com/billing",
        "billing",
        "//evil.example/billing",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://u:p@example.com/",
        "/a b",
        "",
        // A host ending in a number is an IPv4 address to the WHATWG parser: `a.0` fails
        // to parse, `1.2.3` and `x.0x1f` go to other hosts than the ones written.
        "https://a.0",
        "https://1.2.3/billing",
        "https://x.0x1f/",
        "https://127.0.0.1/",
    ] {
        assert_eq!(
            refused_fields(|x| x.docs_url = Some(link.into())),
            ["docs_url"],
            "{link:?}"
        );
        assert_eq!(
            refused_fields(|x| x.billing_url = Some(link.into())),
            ["billing_url"],
            "{link:?}"
        );
    }
}

#[test]
fn frame_ancestors_are_exact_origins_or_self() {
    for list in [
        vec![],
        vec!["'self'"],
        vec!["https://app.example.com"],
        vec![
            "'self'",
            "https://app.example.com:8443",
            "https://other.example",
        ],
    ] {
        let list: Vec<String> = list.into_iter().map(String::from).collect();
        assert!(
            PortalSettings::from_table(&table(|x| x.frame_ancestors = Some(list.clone()))).is_ok(),
            "{list:?}"
        );
    }
    for entry in [
        "self",
        "'none'",
        "'unsafe-inline'",
        "*",
        "https://*.example.com",
        "https:",
        "http://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com;",
        "https://app.example.com; script-src *",
        "https://app.example.com,https://b.example",
        "https://app.example.com https://b.example",
        "'self' https://b.example",
        "'self';",
        "https://app.example.com'",
        "https://app.example.com\"",
        "https://app.example.com\r\nX-Injected: 1",
        "https://user@app.example.com",
        "https://app.example.com:",
        "https://app.example.com:08443",
        "",
    ] {
        assert_eq!(
            refused_fields(|x| x.frame_ancestors = Some(vec![entry.into()])),
            ["frame_ancestors[0]"],
            "{entry:?}"
        );
    }
    assert_eq!(
        refused_fields(|x| x.frame_ancestors = Some(vec!["'self'".into(), "'self'".into()])),
        ["frame_ancestors[1]"]
    );
    let many: Vec<String> = (0..17).map(|n| format!("https://a{n}.example")).collect();
    assert_eq!(
        refused_fields(|x| x.frame_ancestors = Some(many)),
        ["frame_ancestors"]
    );
}

/// Whether a CSP value is one policy with exactly the directives keygate writes, each
/// source a plain token: nothing a value in the policy carried could add a directive,
/// end one, or break the header line.
fn csp_is_exactly_keygates(csp: &str) -> bool {
    let names: Vec<&str> = csp
        .split("; ")
        .map(|directive| directive.split(' ').next().unwrap_or_default())
        .collect();
    let tokens_plain = csp.split("; ").all(|directive| {
        directive.split(' ').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"'))
        })
    });
    names
        == [
            "default-src",
            "script-src",
            "style-src",
            "img-src",
            "connect-src",
            "font-src",
            "object-src",
            "base-uri",
            "form-action",
            "require-trusted-types-for",
            "trusted-types",
            "frame-ancestors",
        ]
        && tokens_plain
}

proptest! {
    #[test]
    fn nothing_accepted_can_inject_into_the_csp(
        ancestors in proptest::collection::vec(
            prop_oneof![
                "https://[a-z0-9.:;, '\"*/-]{1,24}",
                "[ -~]{0,24}",
                Just("'self'".to_string()),
                Just("https://app.example.com".to_string()),
            ],
            0..4,
        ),
        logo in prop_oneof![
            "https://[a-z0-9.:;, '\"*/@#-]{1,30}",
            "[ -~\r\n]{0,30}",
            Just("https://example.com/logo.svg".to_string()),
        ],
    ) {
        let table = PortalTable {
            frame_ancestors: Some(ancestors),
            logo_url: Some(logo),
            ..PortalTable::default()
        };
        if let Ok(settings) = PortalSettings::from_table(&table) {
            for (_, value) in settings.security_headers() {
                prop_assert!(value.bytes().all(|b| (b' '..=b'~').contains(&b)), "{:?}", value);
            }
            let headers = settings.security_headers();
            let csp = header(&headers, "content-security-policy").unwrap_or_default();
            prop_assert!(csp_is_exactly_keygates(csp), "{}", csp);
        }
    }
}

/// Pieces of links a browser reads as another origin, or as no URL, when written as a path
/// or an https URL: protocol-relative and backslashed starts, whitespace and controls it
/// strips, dot segments, user info, other schemes.
fn link_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("//".to_string()),
        Just("\\".to_string()),
        Just("/\\".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("\u{0}".to_string()),
        Just("%2f".to_string()),
        Just("%5c".to_string()),
        Just("./".to_string()),
        Just("../".to_string()),
        Just("@".to_string()),
        Just(":".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just("https:".to_string()),
        Just("https://".to_string()),
        Just("javascript:".to_string()),
        Just("evil.example".to_string()),
        Just("docs.example.com".to_string()),
        Just(".0".to_string()),
        Just(".0x1f".to_string()),
        "[a-z0-9.]{1,8}",
    ]
}

proptest! {
    /// What the page links to is where the policy check believed it goes: a site path
    /// stays on the page's own origin, an https URL goes to the origin written before its
    /// path, as the browser's URL parser (WHATWG, the `url` crate) resolves them.
    #[test]
    fn an_accepted_link_goes_where_it_was_checked_to(
        pieces in proptest::collection::vec(link_piece(), 1..6),
    ) {
        let link = pieces.concat();
        let accepted = PortalSettings::from_table(&table(|t| t.docs_url = Some(link.clone()))).is_ok();
        if accepted {
            let page = url::Url::parse("https://api.example.com/_keygate/portal/").expect("a URL");
            let resolved = page.join(&link);
            prop_assert!(resolved.is_ok(), "{:?} does not parse", link);
            let resolved = resolved.expect("checked");
            let expected = if link.starts_with('/') {
                "https://api.example.com".to_string()
            } else {
                url_origin(&link).unwrap_or_default().to_ascii_lowercase()
            };
            prop_assert_eq!(resolved.origin().ascii_serialization(), expected, "{:?}", link);
        }
    }
}
