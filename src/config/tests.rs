use super::*;
use crate::policy::compile;
use std::collections::HashMap;

const DEMO_FILE: &str = include_str!("../../policies/demo.toml");

/// The demo policy as scripts/build.sh bundles it: compiled.
fn demo() -> String {
    compile(DEMO_FILE).expect("the demo policy compiles")
}

fn vars(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        ("KEYGATE_ORIGIN", "http://127.0.0.1:9000"),
        ("KEYGATE_HASH_SECRET", "h".repeat(32).as_str()),
        ("KEYGATE_SIGNING_SECRET", "s".repeat(40).as_str()),
        ("KEYGATE_ROOT_TOKEN", "r".repeat(32).as_str()),
        ("KEYGATE_WEBHOOK_SECRET", "w".repeat(32).as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        map.insert(k.to_string(), v.to_string());
    }
    map
}

/// The configuration of a Worker built with the demo policy.
fn load(overrides: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_bundled(&demo(), overrides)
}

fn load_bundled(bundled: &str, overrides: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map = vars(overrides);
    Config::from_lookup(bundled, |name| map.get(name).cloned())
}

/// A policy as a large API has one: `resources` resources, five routes each, every
/// table documented as the demo policy documents its own.
fn large_policy(resources: usize) -> String {
    let mut text = String::from(
        "# A generated policy for a large API.\nkey_prefix = \"kg\"\n\n[limits]\nper_minute = 600\nper_day = 100000\n",
    );
    for i in 0..resources {
        text += &format!(
            "\n[[resources]]\nname = \"res_{i:03}\"\nkind = \"ladder\"\ndescription = \"Generated resource {i}: records of kind {i}.\"\n"
        );
        for (method, path, action) in [
            ("GET", "items", "read"),
            ("GET", "items/{id}", "read"),
            ("POST", "items", "write"),
            ("PATCH", "items/{id}", "write"),
            ("DELETE", "items/{id}", "delete"),
        ] {
            text += &format!(
                "\n[[routes]]\nmethod = \"{method}\"\npath = \"/v1/res{i:03}/{path}\"\nresource = \"res_{i:03}\"\naction = \"{action}\"\n"
            );
        }
    }
    text
}

#[test]
fn without_a_policy_variable_the_bundled_policy_is_in_force() {
    let config = load(&[]).unwrap();
    assert_eq!(config.policy_source, PolicySource::Bundled);
    assert!(config.policy.route("DELETE", "/v1/contacts/7").is_some());
    // A blank variable (a dashboard field left empty) is no policy either.
    let blank = load(&[("KEYGATE_POLICY", " \n")]).unwrap();
    assert_eq!(blank.policy_source, PolicySource::Bundled);
}

#[test]
fn a_policy_variable_overrides_the_bundled_policy() {
    let other = compile(&large_policy(1)).unwrap();
    let config = load(&[("KEYGATE_POLICY", &other)]).unwrap();
    assert_eq!(config.policy_source, PolicySource::Variable);
    assert!(config.policy.route("GET", "/v1/res000/items").is_some());
    assert!(config.policy.route("GET", "/v1/contacts").is_none());
}

#[test]
fn an_invalid_bundled_policy_names_the_build_setting() {
    let invalid = r#"{"keygate_policy":1,"policy":{"key_prefix":"K"}}"#;
    let error = load_bundled(invalid, &[]).unwrap_err();
    assert_eq!(error.variable, "KEYGATE_POLICY_FILE");
    assert!(error.problem.contains("key_prefix"), "{error}");
    // A valid variable still overrides it: the bundle is not read then.
    let overridden = load_bundled(invalid, &[("KEYGATE_POLICY", &demo())]).unwrap();
    assert_eq!(overridden.policy_source, PolicySource::Variable);
}

#[test]
fn a_build_without_a_bundled_policy_says_how_to_make_one() {
    // build.rs bundles nothing when the wasm is built without scripts/build.sh.
    let error = load_bundled("", &[]).unwrap_err();
    assert_eq!(error.variable, "KEYGATE_POLICY_FILE");
    assert!(error.problem.contains("scripts/build.sh"), "{error}");
    assert_eq!(
        load_bundled("", &[("KEYGATE_POLICY", &demo())])
            .unwrap()
            .policy_source,
        PolicySource::Variable
    );
}

#[test]
fn a_policy_file_given_to_the_worker_is_refused_naming_the_compiler() {
    // The Worker has no TOML parser: the text must be what `keygate policy compile` prints.
    for (bundled, overrides, variable) in [
        (
            demo(),
            vec![("KEYGATE_POLICY", DEMO_FILE)],
            "KEYGATE_POLICY",
        ),
        (DEMO_FILE.to_string(), vec![], "KEYGATE_POLICY_FILE"),
    ] {
        let error = load_bundled(&bundled, &overrides).unwrap_err();
        assert_eq!(error.variable, variable);
        assert!(
            error.problem.contains("keygate policy compile FILE"),
            "{error}"
        );
        assert!(error.problem.contains("TOML"), "{error}");
    }
}

#[test]
fn a_compiled_policy_of_another_format_is_named_as_such() {
    let later = demo().replacen(r#""keygate_policy":1"#, r#""keygate_policy":2"#, 1);
    let error = load(&[("KEYGATE_POLICY", &later)]).unwrap_err();
    assert_eq!(error.variable, "KEYGATE_POLICY");
    assert!(error.problem.contains("format 2"), "{error}");
    assert!(error.problem.contains("reads format 1"), "{error}");
    // JSON that is not a compiled policy says so, and how to make one.
    let error = load(&[("KEYGATE_POLICY", r#"{"key_prefix":"kg"}"#)]).unwrap_err();
    assert!(
        error.problem.starts_with("not a compiled policy"),
        "{error}"
    );
    assert!(
        error.problem.contains("keygate policy compile FILE"),
        "{error}"
    );
}

#[test]
fn a_50_kb_policy_works_bundled_and_as_a_variable() {
    let text = large_policy(100);
    // Ten times what a Worker variable may hold (5 KB), the reason policies are bundled.
    assert!(text.len() > 50_000, "{} bytes", text.len());
    let compiled = compile(&text).unwrap();
    assert!(compiled.len() > 40_000, "{} bytes compiled", compiled.len());
    for config in [
        load_bundled(&compiled, &[]).unwrap(),
        load(&[("KEYGATE_POLICY", &compiled)]).unwrap(),
    ] {
        assert_eq!(
            config.policy.describe()["routes"].as_array().unwrap().len(),
            500
        );
        let last = config
            .policy
            .route("DELETE", "/v1/res099/items/42")
            .unwrap();
        assert_eq!(last.resource, "res_099");
        assert!(config.policy.route("GET", "/v1/res100/items").is_none());
    }
}

#[test]
fn defaults_are_safe() {
    let config = load(&[]).unwrap();
    assert!(config.https_only);
    assert_eq!(config.origin_timeout_ms, 30_000);
}

#[test]
fn each_bad_value_names_its_variable_without_echoing_secrets() {
    let cases = [
        ("KEYGATE_ORIGIN", "ftp://x"),
        ("KEYGATE_ORIGIN", "http://user@host"),
        ("KEYGATE_POLICY", "this is = not [toml"),
        ("KEYGATE_HASH_SECRET", "short-secret-value"),
        ("KEYGATE_ROOT_TOKEN", ""),
        ("KEYGATE_WEBHOOK_SECRET", "too-short-webhook-secret"),
        ("KEYGATE_HTTPS_ONLY", "yes"),
        ("KEYGATE_ORIGIN_TIMEOUT_MS", "0"),
    ];
    for (variable, value) in cases {
        let error = load(&[(variable, value)]).unwrap_err();
        assert_eq!(error.variable, variable);
        if variable.ends_with("SECRET") || variable.ends_with("TOKEN") {
            assert!(value.is_empty() || !error.to_string().contains(value));
        }
    }
}

#[test]
fn origins_keep_base_path_and_host() {
    let origin = Origin::parse("https://api.internal:8443/v2/").unwrap();
    assert_eq!(origin.host, "api.internal:8443");
    assert_eq!(
        origin.url_for("/contacts?x=1"),
        "https://api.internal:8443/v2/contacts?x=1"
    );
    assert_eq!(Origin::parse("http://h").unwrap().url_for("/"), "http://h/");
    assert_eq!(Origin::parse("http://h:80/").unwrap().host, "h");
    assert_eq!(Origin::parse("https://h:443").unwrap().host, "h");
    assert_eq!(Origin::parse("http://h:443").unwrap().host, "h:443");
    assert_eq!(
        Origin::parse("http://[::1]:8080/x").unwrap().host,
        "[::1]:8080"
    );
    for bad in [
        "https://:443",
        "https://:8443/r",
        "https://:/r",
        "http://h:/",
        "http://h:99999",
        "http://a_b",
        "http://[::1",
    ] {
        assert!(Origin::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn hosts_fetch_cannot_parse_are_refused() {
    // fetch() cannot parse these URLs (a last label that is a number makes the host an
    // IPv4 address; IPv6 and punycode are checked; a port is digits only).
    for bad in [
        "http://1.2.3.999",
        "http://a.b.2",
        "http://[zzz]",
        "http://xn--a.com",
        "http://%68",
        "http://h\\x",
        "http://h\t:80",
        "http://a_b:99999",
    ] {
        assert_eq!(Origin::parse(bad), Err(NO_HOST.to_string()), "{bad:?}");
    }
    for bad_port in ["http://h:+80", "http://h:", "http://h:0", "http://h:99999"] {
        assert_eq!(
            Origin::parse(bad_port),
            Err(BAD_PORT.to_string()),
            "{bad_port}"
        );
    }
    assert_eq!(
        Origin::parse("http://[::1"),
        Err("has an unclosed IPv6 address".to_string())
    );
    assert_eq!(
        Origin::parse("http://[::1]x"),
        Err("has text after the IPv6 address".to_string())
    );
    // What fetch can parse keeps its host as written, in lower case.
    for (good, host) in [
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("http://127.1", "127.1"),
        ("http://0x7F.1:8080", "0x7f.1:8080"),
        ("http://[0:0:0:0:0:0:0:1]", "[0:0:0:0:0:0:0:1]"),
        ("http://H.Example./x", "h.example."),
        ("http://xn--9ca.com", "xn--9ca.com"),
        ("http://h:0080/x", "h"),
        ("http://1e3", "1e3"),
    ] {
        assert_eq!(
            Origin::parse(good).map(|o| o.host),
            Ok(host.to_string()),
            "{good}"
        );
    }
}

#[test]
fn loopback_means_the_address_not_a_name_prefix() {
    for host in [
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "http://localhost:1",
        "http://[::1]:2",
    ] {
        assert!(Origin::parse(host).unwrap().is_loopback(), "{host}");
    }
    for host in [
        "http://127.0.0.1.evil.com",
        "http://127.evil.com",
        "http://10.0.0.1",
        "http://128.0.0.1",
    ] {
        assert!(!Origin::parse(host).unwrap().is_loopback(), "{host}");
    }
}

#[test]
fn plain_http_origins_must_be_loopback_unless_allowed() {
    for origin in [
        "http://api.internal",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.evil.com",
    ] {
        let error = load(&[("KEYGATE_ORIGIN", origin)]).unwrap_err();
        assert_eq!(error.variable, "KEYGATE_ORIGIN", "{origin}");
        assert!(error.problem.contains("KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN"));
        let allowed = load(&[
            ("KEYGATE_ORIGIN", origin),
            ("KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN", "true"),
        ]);
        assert!(allowed.is_ok(), "{origin}");
    }
    for origin in [
        "https://api.internal",
        "http://127.0.0.1:9000",
        "http://localhost:1",
        "http://[::1]:2",
    ] {
        assert!(load(&[("KEYGATE_ORIGIN", origin)]).is_ok(), "{origin}");
    }
    let error = load(&[
        ("KEYGATE_ORIGIN", "http://api.internal"),
        ("KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN", "yes"),
    ])
    .unwrap_err();
    assert_eq!(error.variable, "KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN");
}

#[test]
fn an_uppercase_origin_host_is_signed_as_the_origin_sees_it() {
    use crate::identity::{sign, verify, BodyDigest, Content, Identity, ReceivedBody, RequestLine};
    let config = load(&[("KEYGATE_ORIGIN", "https://API.Internal.Example:8443/V2")]).unwrap();
    assert_eq!(config.origin.host, "api.internal.example:8443");
    assert_eq!(config.origin.hostname, "api.internal.example");
    // The base path is not a host: its case is the origin's business.
    assert_eq!(
        config.origin.url_for("/x"),
        "https://api.internal.example:8443/V2/x"
    );
    let identity = Identity {
        key_id: "key_1".into(),
        key_name: "n".into(),
        workspace: "w".into(),
        environment: "live".into(),
        scopes: vec![],
        request_id: "req_1".into(),
        approval_id: None,
        approved_by: None,
        timestamp: 1_900_000_000,
    };
    let content = Content {
        content_type: None,
        content_length: None,
        body: BodyDigest::of(b""),
    };
    let signed_line = RequestLine {
        method: "GET",
        host: &config.origin.host,
        path_and_query: "/V2/x",
    };
    let headers = identity.headers(
        &content,
        &sign(&config.signing_secret, &signed_line, &content, &identity),
    );
    // The origin rebuilds the line from the `Host` it received: lower case.
    let received = RequestLine {
        host: "api.internal.example:8443",
        ..signed_line
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert!(verify(
        &config.signing_secret,
        &received,
        header,
        ReceivedBody::Bytes(b""),
        1_900_000_000,
        300
    )
    .is_ok());
}

#[test]
fn no_two_secrets_may_be_equal_and_the_error_names_only_variables() {
    let same = "x".repeat(40);
    let names = [
        "KEYGATE_HASH_SECRET",
        "KEYGATE_SIGNING_SECRET",
        "KEYGATE_ROOT_TOKEN",
        "KEYGATE_WEBHOOK_SECRET",
    ];
    for (i, first) in names.iter().enumerate() {
        for second in &names[i + 1..] {
            let error = load(&[(first, &same), (second, &same)]).unwrap_err();
            assert_eq!(error.variable, *second);
            assert!(error.problem.contains(first), "{error}");
            assert!(!error.to_string().contains(&same));
        }
    }
}

#[test]
fn root_token_compares_exactly_and_hides_in_debug() {
    let config = load(&[]).unwrap();
    assert!(config.root_token.matches(&"r".repeat(32)));
    assert!(!config.root_token.matches(&"r".repeat(31)));
    assert!(!format!("{config:?}").contains(&"r".repeat(32)));
    assert!(!format!("{config:?}").contains(&"s".repeat(40)));
    assert!(!format!("{config:?}").contains(&"w".repeat(32)));
}
