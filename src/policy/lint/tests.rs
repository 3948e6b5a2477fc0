use super::*;
use proptest::prelude::*;

/// A policy with one `read_write` resource per name in `resources`, and `routes` as
/// `(method, path, resource, action)`.
fn policy_text(resources: &[&str], routes: &[(&str, &str, &str, &str)]) -> String {
    let mut text = String::new();
    for name in resources {
        text.push_str(&format!(
            "[[resources]]\nname = \"{name}\"\nkind = \"read_write\"\n\n"
        ));
    }
    for (method, path, resource, action) in routes {
        text.push_str(&format!(
            "[[routes]]\nmethod = \"{method}\"\npath = \"{path}\"\nresource = \"{resource}\"\naction = \"{action}\"\n\n"
        ));
    }
    text
}

fn findings(resources: &[&str], routes: &[(&str, &str, &str, &str)]) -> Vec<Finding> {
    match check(&policy_text(resources, routes)) {
        Checked::Loaded { findings, .. } => findings,
        Checked::Refused(errors) => panic!("should load: {errors:?}"),
    }
}

fn shown(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(ToString::to_string).collect()
}

#[test]
fn a_literal_after_a_parameter_that_covers_it_is_never_reached() {
    let found = findings(
        &["invoices"],
        &[
            ("GET", "/api/invoices/{id}", "invoices", "read"),
            ("GET", "/api/invoices/summary", "invoices", "write"),
        ],
    );
    assert_eq!(
        shown(&found),
        ["routes[1] (line 11): error: GET \"/api/invoices/summary\" (invoices:write): never reached: every request it matches is decided first by routes[0] GET \"/api/invoices/{id}\" (invoices:read), e.g. GET /api/invoices/summary. Routes are tried in file order; move it above routes[0]"]
    );
    // The fix: the specific route first.
    let found = findings(
        &["invoices"],
        &[
            ("GET", "/api/invoices/summary", "invoices", "write"),
            ("GET", "/api/invoices/{id}", "invoices", "read"),
        ],
    );
    assert_eq!(found, []);
}

#[test]
fn a_route_covered_by_several_earlier_ones_names_them_all() {
    let found = findings(
        &["a", "b"],
        &[
            ("GET", "/a", "a", "read"),
            ("GET", "/a/", "a", "read"),
            ("GET", "/a/{x}/*", "a", "read"),
            // "/a//x" would be left, but the request rules refuse `//`.
            ("GET", "/a/*", "b", "read"),
        ],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let message = &found[0].message;
    assert_eq!(found[0].location, "routes[3]");
    for taker in [
        "routes[0] GET \"/a\"",
        "routes[1] GET \"/a/\"",
        "routes[2] GET \"/a/{x}/*\"",
    ] {
        assert!(message.contains(taker), "{message}");
    }
    // Without the trailing-slash route, "/a/" still reaches it: no finding.
    let found = findings(
        &["a", "b"],
        &[
            ("GET", "/a", "a", "read"),
            ("GET", "/a/{x}/*", "a", "read"),
            ("GET", "/a/*", "b", "read"),
        ],
    );
    assert_eq!(found, []);
}

#[test]
fn methods_shadow_as_the_router_matches_them() {
    // `*` takes every method, GET takes HEAD.
    let found = findings(
        &["c"],
        &[
            ("*", "/v1/c/{id}", "c", "write"),
            ("GET", "/v1/c/{id}", "c", "read"),
        ],
    );
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("never reached"), "{found:?}");
    let found = findings(
        &["c"],
        &[
            ("GET", "/v1/c", "c", "read"),
            ("HEAD", "/v1/c", "c", "write"),
        ],
    );
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("e.g. HEAD /v1/c"), "{found:?}");
    // Other methods on the same path are separate routes.
    let found = findings(
        &["c"],
        &[
            ("GET", "/v1/c", "c", "read"),
            ("POST", "/v1/c", "c", "write"),
        ],
    );
    assert_eq!(found, []);
}

#[test]
fn a_dead_route_is_an_error_even_with_the_same_scope() {
    let found = findings(
        &["c"],
        &[("GET", "/v1/*", "c", "read"), ("GET", "/v1/c", "c", "read")],
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Error);
}

#[test]
fn an_exception_listed_first_is_how_routes_are_written() {
    let found = findings(
        &["c", "exports"],
        &[
            ("GET", "/v1/c/export", "exports", "read"),
            ("GET", "/v1/c/{id}", "c", "read"),
            ("*", "/v1/*", "c", "write"),
        ],
    );
    assert_eq!(found, []);
}

#[test]
fn crossing_patterns_with_another_scope_are_a_warning_with_an_example() {
    let found = findings(
        &["x", "y"],
        &[
            ("GET", "/a/{x}/b", "x", "read"),
            ("GET", "/a/c/{y}", "y", "read"),
        ],
    );
    assert_eq!(
        shown(&found),
        ["routes[1] (line 15): warning: GET \"/a/c/{y}\" (y:read): some of its requests (e.g. GET /a/c/b) are decided first by routes[0] GET \"/a/{x}/b\", which needs x:read instead"]
    );
    // The same scope either way: nothing to say.
    let found = findings(
        &["x"],
        &[
            ("GET", "/a/{x}/b", "x", "read"),
            ("GET", "/a/c/{y}", "x", "read"),
        ],
    );
    assert_eq!(found, []);
}

#[test]
fn other_routers_parameters_are_an_error_saying_how_to_write_them() {
    for (segment, name) in [
        (":id", "id"),
        ("<id>", "id"),
        ("<int:id>", "id"),
        ("[id]", "id"),
        ("[...slug]", "slug"),
    ] {
        let found = findings(&["c"], &[("GET", &format!("/v1/c/{segment}"), "c", "read")]);
        assert_eq!(found.len(), 1, "{segment}: {found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            found[0].message.ends_with(&format!("Write {{{name}}}")),
            "{segment}: {}",
            found[0].message
        );
    }
    // Text that merely contains such characters is not a parameter.
    let found = findings(
        &["c"],
        &[
            ("GET", "/v1/c:batch", "c", "read"),
            ("GET", "/v1/:1", "c", "read"),
        ],
    );
    assert_eq!(found, []);
}

#[test]
fn routes_the_request_rules_refuse_are_never_reached() {
    let found = findings(
        &["c"],
        &[
            ("PROPFIND", "/dav", "c", "read"),
            ("GET", "/v1/a;b", "c", "read"),
            ("GET", "/v1/a%2Fb", "c", "read"),
        ],
    );
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].message.contains("501 method_not_supported"));
    assert!(found[1].message.contains("400 path_ambiguous"));
    assert!(found[1].message.contains("`;`"));
    assert!(found[2].message.contains("an encoded slash"));
}

#[test]
fn refusals_keep_the_workers_messages_and_syntax_errors_carry_their_place() {
    let Checked::Refused(errors) = check("key_prefix = \"K\"\n") else {
        panic!("refused")
    };
    assert_eq!(errors[0].location, "key_prefix");
    let Checked::Refused(errors) = check("key_prefix = \"kg\"\n[limits\n") else {
        panic!("refused")
    };
    assert_eq!(errors[0].location, "line 2, column 8");
}

// ----- the router itself is the oracle -------------------------------------------------

const SEGMENTS: [&str; 4] = ["a", "b", "{p}", "*"];
const METHODS: [&str; 4] = ["GET", "POST", "HEAD", "*"];

fn route_strategy() -> impl Strategy<Value = (usize, Vec<usize>)> {
    (
        0..METHODS.len(),
        prop::collection::vec(0..SEGMENTS.len(), 1..4),
    )
}

/// Every request the router can tell apart for patterns over `a`, `b`: each segment one
/// of those, another word, or (last only) empty; up to `depth` segments.
fn requests(depth: usize) -> Vec<(&'static str, String)> {
    let mut paths: Vec<Vec<&str>> = vec![vec![]];
    let mut all = Vec::new();
    for _ in 0..depth {
        let mut longer = Vec::new();
        for path in &paths {
            for segment in ["a", "b", "x", ""] {
                let mut next = path.clone();
                next.push(segment);
                longer.push(next);
            }
        }
        all.extend(longer.iter().map(|p| format!("/{}", p.join("/"))));
        paths = longer;
    }
    let mut out = Vec::new();
    for path in all {
        for method in ["GET", "HEAD", "POST", "PUT"] {
            out.push((method, path.clone()));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A route is reported never reached exactly when no request the router can tell apart
    /// reaches it; and every example a finding shows is routed where it says.
    #[test]
    fn never_reached_is_exactly_what_the_router_does(
        raw in prop::collection::vec(route_strategy(), 1..7)
    ) {
        // One resource per route, so the target says which route matched.
        let names: Vec<String> = (0..raw.len()).map(|i| format!("r{i}")).collect();
        let mut routes: Vec<(String, String)> = Vec::new();
        for (method, segments) in &raw {
            let mut parts: Vec<&str> = segments.iter().map(|s| SEGMENTS[*s]).collect();
            // `*` only last; `{p}` once.
            if let Some(star) = parts.iter().position(|s| *s == "*") {
                parts.truncate(star + 1);
            }
            let mut seen_param = false;
            parts.retain(|s| if *s == "{p}" { !std::mem::replace(&mut seen_param, true) } else { true });
            let path = format!("/{}", parts.join("/"));
            let candidate = (METHODS[*method].to_string(), path);
            if !routes.contains(&candidate) {
                routes.push(candidate);
            }
        }
        let names: Vec<&str> = names.iter().take(routes.len()).map(String::as_str).collect();
        let table: Vec<(&str, &str, &str, &str)> = routes
            .iter()
            .zip(&names)
            .map(|((m, p), r)| (m.as_str(), p.as_str(), *r, "read"))
            .collect();
        let Checked::Loaded { policy, findings } = check(&policy_text(&names, &table)) else {
            return Err(TestCaseError::fail("generated policy should load"));
        };
        let reached: Vec<bool> = {
            let mut reached = vec![false; routes.len()];
            for (method, path) in requests(4) {
                if crate::ambiguity::path_ambiguity(&path).is_some() {
                    continue;
                }
                if let Some(target) = policy.route(method, &path) {
                    let index: usize = target.resource[1..].parse().unwrap();
                    reached[index] = true;
                }
            }
            reached
        };
        for (index, was_reached) in reached.iter().enumerate() {
            let flagged = findings.iter().any(|f| {
                f.location == format!("routes[{index}]") && f.message.contains("never reached")
            });
            prop_assert_eq!(flagged, !was_reached, "routes[{}] in {:?}: {:?}", index, table, findings);
        }
        // Each example is a request of the finding's route that the named earlier route
        // decides instead.
        for finding in &findings {
            let index: usize = finding.location["routes[".len()..finding.location.len() - 1].parse().unwrap();
            for piece in finding.message.split("e.g. ").skip(1) {
                let mut words = piece.split([' ', ')', ';', ',']);
                let (Some(method), Some(path)) = (words.next(), words.next()) else { continue };
                let path = path.trim_end_matches('.');
                prop_assert!(policy.route(method, path).is_some());
                let own = (table[index].0, table[index].1);
                let matches_own = Policy::from_toml(&policy_text(&["r"], &[(own.0, own.1, "r", "read")]))
                    .unwrap()
                    .route(method, path)
                    .is_some();
                prop_assert!(matches_own, "{} {} is not a request of {:?}", method, path, own);
                let routed = policy.route(method, path).unwrap().resource;
                prop_assert_ne!(routed.clone(), format!("r{}", index), "{}", finding);
                let named = format!("routes[{}]", &routed[1..]);
                prop_assert!(finding.message.contains(&named), "{} should name {}", finding, named);
            }
        }
    }
}

fn loaded_findings(text: &str) -> Vec<String> {
    match check(text) {
        Checked::Loaded { findings, .. } => shown(&findings),
        Checked::Refused(errors) => panic!("should load: {errors:?}"),
    }
}

#[test]
fn plans_that_leave_workspaces_nothing_are_warnings() {
    let resources = policy_text(&["contacts", "deals"], &[]);
    let no_api = format!(
        "default_plan = \"free\"\n{resources}[[plans]]\nname = \"free\"\napi_access = false\n"
    );
    assert_eq!(
        loaded_findings(&no_api),
        ["plans: warning: no plan has api_access: no workspace can create a key or call the API (403 plan_required)"]
    );
    let empty =
        format!("default_plan = \"free\"\n{resources}[[plans]]\nname = \"free\"\nresources = []\n");
    assert_eq!(
        loaded_findings(&empty),
        ["plans[0].resources: warning: plan \"free\" has api_access but offers no resource: its keys can call nothing"]
    );
}

#[test]
fn default_scopes_the_default_plan_does_not_offer_are_warnings() {
    let resources = policy_text(&["contacts", "deals"], &[]);
    let text = format!(
        "default_plan = \"starter\"\ndefault_scopes = [\"contacts:write\", \"deals:read\"]\n{resources}[[plans]]\nname = \"starter\"\nresources = [\"contacts\"]\n\n[[plans]]\nname = \"pro\"\n"
    );
    assert_eq!(
        loaded_findings(&text),
        ["default_scopes[1]: warning: \"deals:read\" is on a resource the default plan \"starter\" does not offer: a create without scopes in a workspace on it is refused (403 scope_not_in_plan)"]
    );
    // On a plan offering everything, nothing to say; nor without plans.
    assert_eq!(
        loaded_findings(&text.replace("default_plan = \"starter\"", "default_plan = \"pro\"")),
        Vec::<String>::new()
    );
    assert_eq!(
        loaded_findings(&format!("default_scopes = [\"deals:read\"]\n{resources}")),
        Vec::<String>::new()
    );
}

#[test]
fn plan_refusals_reach_policy_check_with_their_locations() {
    let resources = policy_text(&["contacts", "deals"], &[]);
    let text = format!(
        "default_plan = \"gold\"\n{resources}[[plans]]\nname = \"free\"\nresources = [\"billing\"]\n"
    );
    let Checked::Refused(refusals) = check(&text) else {
        panic!("should be refused")
    };
    let shown: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "plans[0].resources[0]: unknown resource \"billing\" (declared: contacts, deals)",
            "default_plan: no plan named \"gold\" (plans: free)",
        ]
    );
}
