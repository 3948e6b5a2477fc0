//! `openapi.yaml` against the code: the document describes exactly the routes the Worker
//! serves (`keygate::admin::ADMIN_ROUTES`, routed by `keygate::admin::admin_route`), no
//! more and no fewer, and is internally sound (3.1.x, unique operation ids, 2xx and 401
//! on every operation, every `$ref` resolves).
//!
//! YAML parser: `serde_norway` (dev-dependency only), the maintained fork of the archived
//! `serde_yaml` 0.9 with the same API. `serde_yml` was passed over (unsound, unmaintained).
//! The document is read into a `serde_json::Value`, so response codes must be quoted
//! strings (`'200'`), as OpenAPI recommends for YAML.
//!
//! Where the document gives a string a `pattern`, the pattern must say exactly what the
//! server accepts (an API tester generates from it, and counts every refusal of a matching
//! value as a bug): the tests below hold the patterns of key names, scopes and cursors
//! against the parsers, both ways.

use keygate::admin::{
    admin_route, parse_approvals_query, parse_create, parse_list_query, parse_set_plan,
    parse_workspaces_query, ADMIN_PREFIX, ADMIN_ROUTES, MAX_GRACE_SECONDS, MAX_NAME_CHARS,
};
use keygate::limits::{MAX_PER_DAY, MAX_PER_MINUTE};
use keygate::page::{DEFAULT_PAGE_SIZE, MAX_CURSOR_TIME_DIGITS, MAX_PAGE_SIZE};
use keygate::policy::Policy;
use keygate::problem::GatewayError;
use keygate::workspace::WorkspaceName;
use proptest::prelude::*;
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const DOCUMENT: &str = include_str!("../openapi.yaml");

/// The operation keys of an OpenAPI path item (3.1: eight HTTP methods).
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A syntactically valid key id: `key_` and 22 base62 characters.
const SAMPLE_KEY_ID: &str = "key_0123456789ABCDEFGHIJab";
/// A syntactically valid approval id: `apr_` and 22 base62 characters.
const SAMPLE_APPROVAL_ID: &str = "apr_0123456789ABCDEFGHIJab";
/// A valid workspace name, with each kind of character the rule allows.
const SAMPLE_WORKSPACE: &str = "Acme-42_eu.prod";
/// A syntactically valid session id: `ses_` and 22 base62 characters.
const SAMPLE_SESSION_ID: &str = "ses_0123456789ABCDEFGHIJab";

fn document() -> Value {
    serde_norway::from_str(DOCUMENT).unwrap_or_else(|e| panic!("openapi.yaml does not parse: {e}"))
}

/// `{method, path} -> operation` for every operation in the document, method uppercased.
fn documented_operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let paths = doc["paths"]
        .as_object()
        .expect("openapi.yaml has a `paths` object");
    let mut operations = BTreeMap::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("paths.{path} is not an object"));
        for (field, value) in item {
            if HTTP_METHODS.contains(&field.as_str()) {
                operations.insert((field.to_uppercase(), path.clone()), value.clone());
            }
        }
    }
    operations
}

fn served_routes() -> BTreeSet<(String, String)> {
    ADMIN_ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect()
}

/// Keys and approvals each have their own id shape; workspaces are named.
fn concrete(path: &str) -> String {
    let path = path.replace("{workspace}", SAMPLE_WORKSPACE);
    match path.as_str() {
        p if p.starts_with("/approvals") => path.replace("{id}", SAMPLE_APPROVAL_ID),
        p if p.starts_with("/portal") => path.replace("{id}", SAMPLE_SESSION_ID),
        _ => path.replace("{id}", SAMPLE_KEY_ID),
    }
}

fn show(routes: &BTreeSet<(String, String)>) -> String {
    routes
        .iter()
        .map(|(method, path)| format!("{method} {ADMIN_PREFIX}{path}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn the_server_is_the_admin_prefix() {
    let doc = document();
    let servers = doc["servers"].as_array().expect("`servers` is a list");
    assert_eq!(servers.len(), 1, "exactly one server: {servers:?}");
    assert_eq!(
        servers[0]["url"].as_str(),
        Some(ADMIN_PREFIX),
        "servers[0].url must be keygate::admin::ADMIN_PREFIX"
    );
}

#[test]
fn every_served_route_is_documented() {
    let documented: BTreeSet<(String, String)> =
        documented_operations(&document()).into_keys().collect();
    let missing: BTreeSet<_> = served_routes().difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "served by the Worker (ADMIN_ROUTES) but missing from openapi.yaml: {}",
        show(&missing)
    );
}

#[test]
fn every_documented_operation_is_served() {
    let documented: BTreeSet<(String, String)> =
        documented_operations(&document()).into_keys().collect();
    let extra: BTreeSet<_> = documented.difference(&served_routes()).cloned().collect();
    assert!(
        extra.is_empty(),
        "documented in openapi.yaml but not served by the Worker (not in ADMIN_ROUTES): {}",
        show(&extra)
    );
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(
        version.starts_with("3.1."),
        "`openapi` must be 3.1.x, got {version}"
    );
}

#[test]
fn every_operation_has_a_unique_id_a_2xx_and_a_401() {
    let doc = document();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for ((method, path), operation) in documented_operations(&doc) {
        let route = format!("{method} {path}");
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{route} has no operationId"));
        if let Some(other) = ids.insert(id.to_string(), route.clone()) {
            panic!("operationId `{id}` is used by both {other} and {route}");
        }
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{route} has no responses"));
        for code in responses.keys() {
            assert!(
                code == "default"
                    || (code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
                    || ["1XX", "2XX", "3XX", "4XX", "5XX"].contains(&code.as_str()),
                "{route}: `{code}` is not a response code"
            );
        }
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{route} documents no 2xx response"
        );
        assert!(
            responses.contains_key("401"),
            "{route} does not document 401"
        );
    }
}

/// Follows a local JSON pointer (`#/a/b~1c`) from the document's root.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(doc);
    }
    pointer
        .strip_prefix('/')?
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .try_fold(doc, |node, token| match node {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn collect_refs(node: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}/{key}");
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push((here, target.clone())),
                    _ => collect_refs(value, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_refs(item, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, "#", &mut refs);
    assert!(!refs.is_empty(), "no $ref found at all");
    let broken: Vec<String> = refs
        .iter()
        .filter(|(_, target)| resolve(&doc, target).is_none())
        .map(|(at, target)| format!("{at} -> {target}"))
        .collect();
    assert!(broken.is_empty(), "$ref that do not resolve: {broken:#?}");
}

#[test]
fn the_named_components_exist() {
    let doc = document();
    for name in [
        "KeyObject",
        "KeyWithSecret",
        "KeyWithUsage",
        "KeyList",
        "Problem",
        "FieldError",
        "Policy",
        "Limits",
        "Usage",
        "Workspace",
        "WorkspacePlanSet",
        "WorkspacesPage",
        "SetPlanBody",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "components.schemas.{name} is missing"
        );
    }
}

/// The methods documented for each path.
fn documented_methods(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_path: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (method, path) in documented_operations(doc).into_keys() {
        by_path.entry(path).or_default().insert(method);
    }
    by_path
}

#[test]
fn every_documented_route_routes() {
    let doc = document();
    for (method, path) in documented_operations(&doc).into_keys() {
        let url = concrete(&path);
        if let Err(error) = admin_route(&method, &url) {
            panic!(
                "documented {method} {ADMIN_PREFIX}{path} is not routed by admin_route \
                 ({method} {url} -> {error:?})"
            );
        }
    }
}

#[test]
fn undocumented_methods_are_405_naming_the_documented_ones() {
    let doc = document();
    for (path, methods) in documented_methods(&doc) {
        let url = concrete(&path);
        for candidate in HTTP_METHODS.map(str::to_uppercase) {
            if methods.contains(&candidate) {
                continue;
            }
            match admin_route(&candidate, &url) {
                Err(GatewayError::MethodNotAllowed { allowed }) => {
                    let allowed: BTreeSet<String> =
                        allowed.split(", ").map(str::to_string).collect();
                    assert_eq!(
                        allowed, methods,
                        "{candidate} {ADMIN_PREFIX}{path}: the 405's `allowed` (left) differs \
                         from the methods openapi.yaml documents for the path (right)"
                    );
                }
                other => panic!(
                    "{candidate} {ADMIN_PREFIX}{path} is not documented, so it should be a 405; \
                     admin_route answered {other:?}"
                ),
            }
        }
    }
}

#[test]
fn id_paths_take_their_own_id_and_answer_404_for_others() {
    let doc = document();
    let pattern = doc["components"]["schemas"]["KeyIdString"]["pattern"].as_str();
    assert_eq!(pattern, Some("^key_[0-9A-Za-z]{22}$"));
    let pattern = doc["components"]["schemas"]["ApprovalIdString"]["pattern"].as_str();
    assert_eq!(pattern, Some("^apr_[0-9A-Za-z]{22}$"));
    for ((method, path), operation) in documented_operations(&doc) {
        if !path.contains("{id}") {
            continue;
        }
        let declared = doc["paths"][&path]["parameters"]
            .as_array()
            .into_iter()
            .chain(operation["parameters"].as_array())
            .flatten()
            .any(|p| {
                p["$ref"] == "#/components/parameters/KeyId"
                    || p["$ref"] == "#/components/parameters/ApprovalId"
                    || p["$ref"] == "#/components/parameters/SessionId"
                    || p["name"] == "id"
            });
        assert!(
            declared,
            "{method} {path} does not declare its `id` parameter"
        );
        assert!(
            operation["responses"]["404"].is_object(),
            "{method} {path} does not document 404"
        );
        let bad = path.replace("{id}", "key_short");
        assert_eq!(
            admin_route(&method, &bad),
            Err(GatewayError::NotFound),
            "{method} {bad}: an id of the wrong shape should be a 404"
        );
    }
}

#[test]
fn workspace_paths_take_a_workspace_name_and_answer_404_for_others() {
    let doc = document();
    let parameter = &doc["components"]["parameters"]["Workspace"];
    assert_eq!(parameter["name"], "workspace");
    assert_eq!(parameter["in"], "path");
    assert_eq!(
        parameter["schema"]["$ref"],
        "#/components/schemas/WorkspaceName"
    );
    for ((method, path), operation) in documented_operations(&doc) {
        if !path.contains("{workspace}") {
            continue;
        }
        let declared = doc["paths"][&path]["parameters"]
            .as_array()
            .into_iter()
            .chain(operation["parameters"].as_array())
            .flatten()
            .any(|p| p["$ref"] == "#/components/parameters/Workspace");
        assert!(declared, "{method} {path} does not declare `workspace`");
        assert!(
            operation["responses"]["404"].is_object(),
            "{method} {path} does not document 404"
        );
        for bad in ["-acme", "a%2Fb", &"x".repeat(65)] {
            let url = path.replace("{workspace}", bad);
            assert_eq!(
                admin_route(&method, &url),
                Err(GatewayError::NotFound),
                "{method} {url}: a name against the rule should be a 404"
            );
        }
    }
}

#[test]
fn the_plan_body_names_its_one_field() {
    let doc = document();
    let body = &doc["components"]["schemas"]["SetPlanBody"];
    assert_eq!(body["required"], serde_json::json!(["plan"]));
    assert_eq!(body["additionalProperties"], Value::Bool(false));
    let policy = Policy::from_toml(PLANS_POLICY).expect("the plans policy parses");
    assert!(parse_set_plan(br#"{"plan": "pro"}"#, &policy).is_ok());
    for refused in [
        r#"{}"#,
        r#"{"plan": "gold"}"#,
        r#"{"plan": "pro", "extra": 1}"#,
        r#"{"plan": 1}"#,
    ] {
        assert!(
            parse_set_plan(refused.as_bytes(), &policy).is_err(),
            "{refused}"
        );
    }
    let pattern = schema_pattern("PlanName");
    for plan in policy.plans() {
        assert!(pattern.is_match(plan.name()), "{}", plan.name());
    }
}

/// A small policy with two plans, for the plan-setting body.
const PLANS_POLICY: &str = r#"
default_plan = "free"

[[resources]]
name = "contacts"
kind = "ladder"

[[routes]]
method = "GET"
path = "/v1/contacts"
resource = "contacts"
action = "read"

[[plans]]
name = "free"
api_access = false

[[plans]]
name = "pro"
"#;

#[test]
fn each_operation_names_the_grant_the_code_requires() {
    let doc = document();
    for ((method, path), operation) in documented_operations(&doc) {
        let route = admin_route(&method, &concrete(&path))
            .unwrap_or_else(|e| panic!("{method} {path} does not route: {e:?}"));
        // A route only the root token may call documents the role `root`; one only a
        // portal session may call (its own), `session`.
        let needed = match route.required_grant() {
            Some(grant) => format!("{}:{}", grant.resource, grant.action.as_str()),
            None if route.is_own_session() => "session".to_string(),
            None => "root".to_string(),
        };
        let roles: Vec<&str> = operation["security"][0]["keygateBearer"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has no keygateBearer security"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            roles,
            [needed.as_str()],
            "{method} {path}: the documented grant differs from the code's"
        );
        // What a member (a portal session) needs for it.
        let permission = route.required_permission().map(|p| p.as_str());
        assert_eq!(
            operation["x-keygate-permission"].as_str(),
            permission,
            "{method} {path}: `x-keygate-permission` differs from the code's"
        );
    }
}

#[test]
fn documented_bounds_match_the_code() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let max = |v: &Value| v["maximum"].as_u64();
    for limits in [&schemas["Limits"], &schemas["LimitsInput"]] {
        assert_eq!(
            max(&limits["properties"]["per_minute"]),
            Some(u64::from(MAX_PER_MINUTE))
        );
        assert_eq!(
            max(&limits["properties"]["per_day"]),
            Some(u64::from(MAX_PER_DAY))
        );
    }
    assert_eq!(
        max(&schemas["RotateKeyRequest"]["properties"]["grace_seconds"]),
        Some(MAX_GRACE_SECONDS)
    );
    let list = &doc["paths"]["/keys"]["get"]["parameters"];
    let limit = list
        .as_array()
        .expect("GET /keys has parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("GET /keys documents `limit`");
    assert_eq!(max(&limit["schema"]), Some(MAX_PAGE_SIZE as u64));
    assert_eq!(
        limit["schema"]["default"].as_u64(),
        Some(DEFAULT_PAGE_SIZE as u64)
    );
    assert_eq!(
        schemas["KeyList"]["properties"]["keys"]["maxItems"].as_u64(),
        Some(MAX_PAGE_SIZE as u64)
    );
}

/// `components.schemas.<name>.pattern`, compiled once per schema for the property tests.
fn schema_pattern(name: &'static str) -> &'static Regex {
    static PATTERNS: OnceLock<BTreeMap<&'static str, Regex>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        let doc = document();
        [
            "KeyName",
            "KeyCursor",
            "ApprovalCursor",
            "WorkspaceCursor",
            "WorkspaceName",
            "PlanName",
            "Scope",
        ]
        .into_iter()
        .map(|schema| {
            let pattern = doc["components"]["schemas"][schema]["pattern"]
                .as_str()
                .unwrap_or_else(|| panic!("components.schemas.{schema} has a pattern"));
            let regex = Regex::new(pattern)
                .unwrap_or_else(|e| panic!("{schema}'s pattern does not compile: {e}"));
            (schema, regex)
        })
        .collect()
    });
    &patterns[name]
}

#[test]
fn cursor_patterns_are_built_from_the_codes_bounds() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for (schema, prefix) in [("KeyCursor", "key"), ("ApprovalCursor", "apr")] {
        assert_eq!(
            schemas[schema]["pattern"].as_str(),
            Some(
                format!("^[0-9]{{1,{MAX_CURSOR_TIME_DIGITS}}}\\.{prefix}_[0-9A-Za-z]{{22}}$")
                    .as_str()
            ),
            "{schema}"
        );
    }
}

#[test]
fn the_key_name_pattern_is_built_from_the_codes_bound() {
    let doc = document();
    let pattern = doc["components"]["schemas"]["KeyName"]["pattern"]
        .as_str()
        .expect("KeyName has a pattern");
    // A first and a last character around at most MAX_NAME_CHARS - 2 others.
    let inner = format!("{{0,{}}}", MAX_NAME_CHARS - 2);
    assert_eq!(pattern.matches(inner.as_str()).count(), 1, "{pattern}");
}

fn demo_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("the demo policy parses")
    })
}

/// Characters that sit on every edge of the name rule: whitespace that is control
/// (`\t`, U+0085) or not (space, U+00A0, U+3000), control that is not whitespace (U+0000,
/// U+007F, U+009F), and ordinary text.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '\t', '\n', '\r', '\u{b}', '\u{c}', ' ', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
            '\u{200a}', '\u{200b}', '\u{2028}', '\u{202f}', '\u{3000}', '\u{feff}', '\0', '\u{1b}',
            '\u{1f}', '\u{7f}', '\u{9f}', 'a', 'Z', '0', '-', 'é', '名',
        ]),
        any::<char>(),
    ]
}

proptest! {
    #[test]
    fn a_name_matches_the_documented_pattern_exactly_when_the_server_takes_it(
        chars in prop::collection::vec(name_char(), 0..8),
        padding in 0usize..3,
        long in prop::sample::select(vec![0usize, MAX_NAME_CHARS - 2, MAX_NAME_CHARS - 1, MAX_NAME_CHARS]),
    ) {
        let mut name: String = chars.into_iter().collect();
        // Around the length bound, with and without surrounding whitespace.
        if long > 0 {
            name = format!("{}{}{}", " ".repeat(padding), "n".repeat(long), name);
        }
        let body = serde_json::json!({"name": name, "scopes": ["contacts:read"]}).to_string();
        let accepted = parse_create(body.as_bytes(), demo_policy(), 0, true).is_ok();
        prop_assert_eq!(schema_pattern("KeyName").is_match(&name), accepted, "{:?}", name);
    }

    #[test]
    fn a_cursor_matches_the_documented_pattern_exactly_when_the_server_takes_it(
        time in prop_oneof!["[0-9]{0,21}", "[0-9+ -]{0,21}"],
        separator in prop::sample::select(vec![".", "", ",", ".."]),
        kind in prop::sample::select(vec!["key_", "apr_", "kez_", ""]),
        id in prop_oneof!["[0-9A-Za-z]{22}", "[0-9A-Za-z_.-]{20,24}"],
    ) {
        let cursor = format!("{time}{separator}{kind}{id}");
        let query = format!("cursor={cursor}");
        prop_assert_eq!(
            schema_pattern("KeyCursor").is_match(&cursor),
            parse_list_query(Some(&query)).is_ok(),
            "{}", cursor
        );
        prop_assert_eq!(
            schema_pattern("ApprovalCursor").is_match(&cursor),
            parse_approvals_query(Some(&query)).is_ok(),
            "{}", cursor
        );
        prop_assert_eq!(
            schema_pattern("WorkspaceCursor").is_match(&cursor),
            parse_workspaces_query(Some(&query)).is_ok(),
            "{}", cursor
        );
    }

    #[test]
    fn a_workspace_cursor_matches_the_documented_pattern_exactly_when_the_server_takes_it(
        time in prop_oneof!["[0-9]{0,16}", "[0-9+ -]{0,3}"],
        separator in prop::sample::select(vec![".", "", ","]),
        name in prop_oneof!["[A-Za-z0-9][A-Za-z0-9_.-]{0,64}", "[A-Za-z0-9_.%/ -]{0,6}"],
    ) {
        let cursor = format!("{time}{separator}{name}");
        let query = format!("cursor={cursor}");
        prop_assert_eq!(
            schema_pattern("WorkspaceCursor").is_match(&cursor),
            parse_workspaces_query(Some(&query)).is_ok(),
            "{}", cursor
        );
    }

    #[test]
    fn a_workspace_name_matches_the_documented_pattern_exactly_when_the_server_takes_it(
        name in prop_oneof!["[A-Za-z0-9][A-Za-z0-9_.-]{0,64}", "\\PC{0,6}", "[A-Za-z0-9_.%/ -]{0,6}"],
    ) {
        prop_assert_eq!(
            schema_pattern("WorkspaceName").is_match(&name),
            WorkspaceName::parse(&name).is_some(),
            "{:?}", name
        );
    }
}

#[test]
fn every_scope_of_every_shipped_policy_has_the_documented_shape() {
    let scope = schema_pattern("Scope");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("policies/ is readable") {
        let path = entry.expect("a policies/ entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable policy");
        let Ok(policy) = Policy::from_toml(&text) else {
            continue; // a deliberately broken example is for the policy tests
        };
        for s in policy.valid_scopes() {
            assert!(scope.is_match(&s), "{}: {s}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 0, "no scope was checked");
}
