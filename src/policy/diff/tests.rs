use super::*;
use proptest::prelude::*;

const BASE: &str = r#"
coarse_scopes = ["read:all", "write:all"]

[[groups]]
name = "Admin only"
administrative = true

[[resources]]
name = "contacts"
kind = "ladder"

[[resources]]
name = "invoices"
kind = "read_write"

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
path = "/v1/invoices/*"
resource = "invoices"
action = "read"
"#;

fn load(text: &str) -> Policy {
    match Policy::from_toml(text) {
        Ok(policy) => policy,
        Err(error) => panic!("should load:\n{error}\n{text}"),
    }
}

fn changes(old: &str, new: &str) -> Vec<Change> {
    diff(&load(old), &load(new))
}

fn subjects(changes: &[Change]) -> Vec<&str> {
    changes.iter().map(|c| c.subject.as_str()).collect()
}

#[test]
fn the_same_policy_changes_nothing() {
    assert_eq!(changes(BASE, BASE), []);
    // Comments, whitespace and spelling of the same table make no difference either.
    let reformatted = BASE.replace("[[routes]]", "# a route\n[[routes]]\n");
    assert_eq!(changes(BASE, &reformatted), []);
}

#[test]
fn a_new_key_prefix_invalidates_every_key() {
    let found = changes(BASE, &format!("key_prefix = \"acme\"\n{BASE}"));
    assert_eq!(subjects(&found), ["key_prefix"]);
    assert!(found[0].affects_keys);
    assert!(found[0]
        .message
        .contains("every existing key stops working"));
    assert!(found[0].message.contains("401 key_prefix_unknown"));
}

#[test]
fn a_removed_resource_leaves_scopes_that_grant_nothing() {
    let without_invoices = BASE
        .replace("[[resources]]\nname = \"invoices\"\nkind = \"read_write\"\n", "")
        .replace(
            "[[routes]]\nmethod = \"GET\"\npath = \"/v1/invoices/*\"\nresource = \"invoices\"\naction = \"read\"\n",
            "",
        );
    let found = changes(BASE, &without_invoices);
    let gone: Vec<&Change> = found
        .iter()
        .filter(|c| c.message.starts_with("no longer exist"))
        .collect();
    assert_eq!(gone.len(), 1, "{found:#?}");
    assert_eq!(gone[0].subject, "scopes invoices:read, invoices:write");
    assert!(gone[0].message.contains("resource invoices is removed"));
    assert!(gone[0].message.contains("403 insufficient_scope"));
    // And the requests that needed it are now unmapped.
    assert!(
        found.iter().any(|c| c.subject == "GET /v1/invoices"
            && c.message.contains("needed invoices:read")
            && c.message.contains("now unmapped: 404 route_not_mapped")),
        "{found:#?}"
    );
    // read:all no longer reaches invoices.
    assert!(found
        .iter()
        .any(|c| c.subject == "scope read:all"
            && c.message.contains("invoices:read allowed → denied")));
}

#[test]
fn a_kind_with_fewer_levels_removes_scopes_and_says_why() {
    let found = changes(
        BASE,
        &BASE
            .replace("kind = \"ladder\"", "kind = \"read_write\"")
            .replace("action = \"delete\"", "action = \"write\""),
    );
    let gone: Vec<&str> = found
        .iter()
        .filter(|c| c.message.starts_with("no longer exist"))
        .map(|c| c.subject.as_str())
        .collect();
    assert_eq!(
        gone,
        ["scopes contacts:write-approval, contacts:delete-approval, contacts:delete"]
    );
    assert!(found.iter().any(|c| c.message.contains(
        "resource contacts is now of kind read_write (levels read, write), no longer ladder"
    )));
}

#[test]
fn an_unordered_kind_changes_what_a_scope_gives() {
    let found = changes(
        BASE,
        &BASE.replace("kind = \"read_write\"", "kind = \"independent\""),
    );
    assert!(
        found.iter().any(|c| c.subject == "scope invoices:write"
            && c.message.contains("invoices:read allowed → denied")),
        "{found:#?}"
    );
}

#[test]
fn an_administrative_group_takes_a_resource_out_of_write_all() {
    let new = BASE.replace(
        "name = \"invoices\"\nkind = \"read_write\"",
        "name = \"invoices\"\nkind = \"read_write\"\ngroup = \"Admin only\"",
    );
    let found = changes(BASE, &new);
    assert!(found
        .iter()
        .any(|c| c.subject == "scope write:all"
            && c.message.contains("invoices:write allowed → denied")));
    assert!(found
        .iter()
        .any(|c| !c.affects_keys && c.subject == "resource invoices"));
}

#[test]
fn a_request_that_needs_another_scope_is_named_with_both_routes() {
    let shadowed = BASE.replace(
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{id}\"",
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/summary\"\nresource = \"invoices\"\naction = \"read\"\n\n[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{id}\"",
    );
    let found = changes(BASE, &shadowed);
    assert_eq!(subjects(&found), ["GET /v1/contacts/summary"], "{found:#?}");
    assert_eq!(
        found[0].message,
        "requests like it: needed contacts:read (routes[0] GET \"/v1/contacts/{id}\" (contacts:read)), now needs invoices:read (routes[0] GET \"/v1/contacts/summary\" (invoices:read))"
    );
    // And back: the same request in the other direction.
    let found = changes(&shadowed, BASE);
    assert_eq!(subjects(&found), ["GET /v1/contacts/summary"]);
    // Newly mapped requests are named too.
    let with_post = format!(
        "{BASE}\n[[routes]]\nmethod = \"POST\"\npath = \"/v1/contacts\"\nresource = \"contacts\"\naction = \"write\"\n"
    );
    let found = changes(BASE, &with_post);
    assert_eq!(subjects(&found), ["POST /v1/contacts"]);
    assert!(found[0]
        .message
        .contains("was unmapped (404 route_not_mapped), now needs contacts:write"));
}

#[test]
fn reordering_routes_without_changing_a_request_does_not_affect_keys() {
    let moved = BASE.replace(
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{id}\"\nresource = \"contacts\"\naction = \"read\"\n",
        "",
    ) + "[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{id}\"\nresource = \"contacts\"\naction = \"read\"\n";
    let found = changes(BASE, &moved);
    assert_eq!(subjects(&found), ["routes"]);
    assert!(!found[0].affects_keys);
}

#[test]
fn settings_are_compared_field_by_field() {
    let new = format!(
        "unmapped_route_status = 403\n{BASE}\n[limits]\nper_minute = 60\n[lifecycle]\nreactivate = false\n[approvals]\nmax_body_bytes = 1000\n"
    );
    let found = changes(BASE, &new);
    assert_eq!(
        subjects(&found),
        [
            "approvals.max_body_bytes",
            "lifecycle.reactivate",
            "limits.per_minute",
            "unmapped_route_status"
        ]
    );
    assert!(found.iter().all(|c| c.affects_keys));
    assert!(found[2]
        .message
        .starts_with("120 → 60: keys without limits of their own"));
}

#[test]
fn client_settings_are_compared_too() {
    let new = format!(
        "{BASE}\n[credentials]\nheader = \"X-API-Key\"\n[cors]\nallowed_origins = [\"https://app.example.com\"]\n[problems]\ntype_base = \"https://docs.example.com/errors/\"\n"
    );
    let found = changes(BASE, &new);
    assert_eq!(
        subjects(&found),
        ["cors", "credentials.header", "problems.type_base"],
        "{found:#?}"
    );
    assert!(found.iter().all(|c| c.affects_keys));
    assert!(found[1]
        .message
        .starts_with("null → \"X-API-Key\": the one header"));
}

#[test]
fn the_portal_branding_is_reported_without_affecting_keys() {
    let new =
        format!("{BASE}\n[portal]\ntitle = \"Acme API keys\"\nframe_ancestors = [\"'self'\"]\n");
    let found = changes(BASE, &new);
    assert_eq!(
        subjects(&found),
        ["portal.frame_ancestors", "portal.title"],
        "{found:#?}"
    );
    assert!(found.iter().all(|c| !c.affects_keys));
    assert!(found[1]
        .message
        .starts_with("\"API keys\" → \"Acme API keys\": the portal page's branding"));
}

#[test]
fn new_scopes_alone_do_not_affect_existing_keys() {
    let new = format!("{BASE}\n[[resources]]\nname = \"tags\"\nkind = \"read_only\"\n");
    // read:all now reaches tags: that does affect keys holding it.
    let found = changes(BASE, &new);
    assert!(found
        .iter()
        .any(|c| c.affects_keys && c.subject == "scope read:all"));
    let without_coarse = BASE.replace("coarse_scopes = [\"read:all\", \"write:all\"]", "");
    let found = changes(
        &without_coarse,
        &format!("{without_coarse}\n[[resources]]\nname = \"tags\"\nkind = \"read_only\"\n"),
    );
    assert_eq!(subjects(&found), ["new scopes"]);
    assert!(!found[0].affects_keys);
    assert_eq!(found[0].message, "keys can now be granted tags:read");
}

// ----- the router itself is the oracle -------------------------------------------------

const SEGMENTS: [&str; 4] = ["a", "b", "{p}", "*"];
const METHODS: [&str; 3] = ["GET", "POST", "*"];
const RESOURCES: [&str; 2] = ["r0", "r1"];

/// BASE with `top` before its tables and `plans` after them.
fn with_plans(top: &str, plans: &str) -> String {
    format!("{top}\n{BASE}\n{plans}")
}

const FREE_AND_PRO: &str =
    "[[plans]]\nname = \"free\"\napi_access = false\n\n[[plans]]\nname = \"pro\"\n";

#[test]
fn a_removed_plan_moves_its_workspaces_to_the_default_plan() {
    let old = with_plans("default_plan = \"free\"", FREE_AND_PRO);
    let new = with_plans(
        "default_plan = \"free\"",
        "[[plans]]\nname = \"free\"\napi_access = false\n",
    );
    let found = changes(&old, &new);
    assert_eq!(subjects(&found), ["plan pro"]);
    assert!(found[0].affects_keys);
    assert_eq!(
        found[0].message,
        "removed: its workspaces move to the default plan \"free\", and their keys are judged by its api_access, resources and limits"
    );
}

#[test]
fn added_changed_and_default_plans_are_each_reported() {
    let old = with_plans("default_plan = \"free\"", FREE_AND_PRO);
    let new = with_plans(
        "default_plan = \"pro\"\ndefault_scopes = [\"contacts:read\"]",
        "[[plans]]\nname = \"free\"\napi_access = false\nresources = [\"contacts\"]\n\n[[plans]]\nname = \"pro\"\n\n[[plans]]\nname = \"team\"\n",
    );
    let found = changes(&old, &new);
    assert_eq!(
        subjects(&found),
        ["plan free", "default_plan", "plan team", "default_scopes"],
        "{found:#?}"
    );
    let affects: Vec<bool> = found.iter().map(|c| c.affects_keys).collect();
    assert_eq!(affects, [true, true, false, false]);
    assert_eq!(
        found[0].message,
        "resources [\"contacts\",\"invoices\"] → [\"contacts\"]: every key of a workspace on it is judged by the new plan"
    );
    assert_eq!(
        found[1].message,
        "\"free\" → \"pro\": workspaces never put on a plan (or on a removed one) are on \"pro\""
    );
    assert_eq!(found[2].message, "new: workspaces can be put on it");
}

#[test]
fn dropping_every_plan_says_nothing_is_checked() {
    let old = with_plans("default_plan = \"free\"", FREE_AND_PRO);
    let found = changes(&old, BASE);
    assert_eq!(subjects(&found), ["plan free", "plan pro", "default_plan"]);
    assert!(found[0]
        .message
        .contains("the policy has no plans any more"));
    assert_eq!(
        found[2].message,
        "\"free\" → null: no plan is checked any more"
    );
}

#[test]
fn fine_scopes_off_removes_every_resource_scope_for_that_reason() {
    let new = format!("fine_scopes = false\n{BASE}");
    let found = changes(BASE, &new);
    assert_eq!(
        subjects(&found),
        [
            "scopes contacts:read, contacts:write-approval, contacts:write, contacts:delete-approval, contacts:delete, invoices:read, invoices:write",
            "fine_scopes"
        ],
        "{found:#?}"
    );
    assert!(found[0]
        .message
        .starts_with("no longer exist (fine_scopes = false: only the coarse scopes are offered)"));
    assert!(found[1]
        .message
        .starts_with("true → false: false offers only the coarse scopes"));
}

fn routes_text(routes: &[(usize, Vec<usize>, usize)]) -> String {
    let mut text = String::from(
        "[[resources]]\nname = \"r0\"\nkind = \"read_write\"\n[[resources]]\nname = \"r1\"\nkind = \"read_write\"\n",
    );
    let mut seen = BTreeSet::new();
    for (method, segments, resource) in routes {
        let mut parts: Vec<&str> = segments.iter().map(|s| SEGMENTS[*s]).collect();
        if let Some(star) = parts.iter().position(|s| *s == "*") {
            parts.truncate(star + 1);
        }
        let mut param = false;
        parts.retain(|s| {
            if *s == "{p}" {
                !std::mem::replace(&mut param, true)
            } else {
                true
            }
        });
        let path = format!("/{}", parts.join("/"));
        if !seen.insert((METHODS[*method], path.clone())) {
            continue;
        }
        text.push_str(&format!(
            "[[routes]]\nmethod = \"{}\"\npath = \"{path}\"\nresource = \"{}\"\naction = \"read\"\n",
            METHODS[*method], RESOURCES[*resource]
        ));
    }
    text
}

fn route_strategy() -> impl Strategy<Value = Vec<(usize, Vec<usize>, usize)>> {
    prop::collection::vec(
        (
            0..METHODS.len(),
            prop::collection::vec(0..SEGMENTS.len(), 1..4),
            0..RESOURCES.len(),
        ),
        0..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Route changes are reported exactly when some request the router can tell apart is
    /// routed to another resource (or mapped on one side only), and each example shown is
    /// such a request.
    #[test]
    fn request_changes_are_exactly_what_the_routers_do(old in route_strategy(), new in route_strategy()) {
        let (old, new) = (load(&routes_text(&old)), load(&routes_text(&new)));
        let found = diff(&old, &new);
        let mut differs = false;
        let mut paths: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for path in &paths {
                for segment in ["a", "b", "x", ""] {
                    let mut next = path.clone();
                    next.push(segment);
                    longer.push(next);
                }
            }
            for path in &longer {
                let path = format!("/{}", path.join("/"));
                if crate::ambiguity::path_ambiguity(&path).is_some() {
                    continue;
                }
                for method in ["GET", "HEAD", "POST", "DELETE"] {
                    if old.route(method, &path) != new.route(method, &path) {
                        differs = true;
                    }
                }
            }
            paths = longer;
        }
        let reported: Vec<&Change> = found.iter().filter(|c| c.subject.starts_with('/') || c.subject.contains(" /")).collect();
        prop_assert_eq!(differs, !reported.is_empty(), "{:#?}", found);
        for change in reported {
            let (method, path) = change.subject.split_once(' ').unwrap();
            prop_assert_ne!(old.route(method, path), new.route(method, path), "{}", change.subject);
        }
    }
}
