//! The description `GET /_keygate/v1/policy` serves.

use super::*;
use serde_json::json;

#[test]
fn describe_has_the_documented_shape() {
    let policy = load(&format!(
        "{ONE_OF_EACH_KIND}\n[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{{id}}\"\nresource = \"contacts\"\naction = \"read\"\n"
    ));
    let body = policy.describe();
    assert_described(
        &body,
        &[
            ("/key_prefix", json!("kg")),
            ("/unmapped_route_status", json!(404)),
            ("/limits/per_minute", json!(120)),
            ("/limits/per_day", json!(50_000)),
            ("/resources/0/name", json!("contacts")),
            ("/resources/0/kind", json!("ladder")),
            ("/resources/0/levels/1", json!("write-approval")),
            ("/resources/0/group", json!("Everyday")),
            ("/resources/0/description", json!("People")),
            ("/resources/1/group", json!(null)),
            ("/resources/1/description", json!(null)),
            ("/resources/6/administrative", json!(true)),
            (
                "/routes/0",
                json!({"method": "GET", "path": "/v1/contacts/{id}", "resource": "contacts", "action": "read"}),
            ),
            ("/coarse_scopes", json!(["read:all", "write:all", "admin"])),
            (
                "/lifecycle",
                json!({"edit": true, "revoke": true, "reactivate": true, "rotate": true}),
            ),
        ],
    );
    assert_eq!(
        body["scopes"].as_array().map(Vec::len),
        Some(policy.valid_scopes().len())
    );
}

#[test]
fn describe_shows_the_lifecycle_in_force() {
    let policy = load("[lifecycle]\nedit = false\nreactivate = false\n");
    assert_eq!(
        policy.describe()["lifecycle"],
        json!({"edit": false, "revoke": true, "reactivate": false, "rotate": true})
    );
}

/// Every optional table set, so each field of the description has a value.
const EVERY_TABLE: &str = r##"
    key_prefix = "acme"
    unmapped_route_status = 403
    origin_reads_body_overrides = false
    coarse_scopes = ["admin", "read:all"]
    default_scopes = ["contacts:read", "read:all"]
    default_plan = "team"

    [limits]
    per_minute = 10
    per_day = 1000
    enforcement = "lease"
    lease_seconds = 2

    [lifecycle]
    edit = false
    reactivate = false

    [approvals]
    max_body_bytes = 4096
    expire_after_seconds = 3600
    webhook_retry_seconds = 60
    max_pending_per_key = 5
    max_pending_per_workspace = 50
    max_pending_bytes_per_workspace = 65536
    retain_decided_seconds = 86400

    [credentials]
    header = "X-API-Key"

    [cors]
    allowed_origins = ["https://app.example.com", "http://localhost:3000"]
    allowed_methods = ["GET", "POST"]
    allowed_headers = ["Idempotency-Key"]
    exposed_headers = ["ETag"]
    max_age_seconds = 600

    [problems]
    type_base = "https://docs.example.com/errors/"

    [portal]
    title = "Acme — API keys"
    accent_color = "#0F766E"
    logo_url = "https://cdn.example.com/acme/logo.svg"
    billing_url = "/settings/billing"
    docs_url = "https://docs.example.com/keys#scopes"
    frame_ancestors = ["'self'", "https://app.example.com:8443"]

    [[groups]]
    name = "Back office"
    administrative = true

    [[resources]]
    name = "contacts"
    kind = "ladder"
    description = "People and companies"

    [[resources]]
    name = "calls"
    kind = "independent"

    [[resources]]
    name = "billing"
    kind = "read_write"
    group = "Back office"

    [[plans]]
    name = "free"
    api_access = false
    resources = ["contacts"]
    limits = { per_minute = 5, per_day = 100 }

    [[plans]]
    name = "team"
    max_limits = { per_minute = 10, per_day = 1000 }

    [[routes]]
    method = "GET"
    path = "/v1/contacts/{id}"
    resource = "contacts"
    action = "read"

    [[routes]]
    method = "*"
    path = "/v1/calls/*"
    resource = "calls"
    action = "write"

    [[routes]]
    method = "DELETE"
    path = "/v1/billing/"
    resource = "billing"
    action = "write"
"##;

/// The description is what `GET /_keygate/v1/policy` serves and what `keygate policy
/// check` and `policy diff` read: byte for byte, key order included, it stays as fixed here.
#[test]
fn describe_is_byte_for_byte_the_fixed_json() {
    let cases = [
        (
            "policies/demo.toml",
            include_str!("../../../policies/demo.toml"),
            include_str!("demo-description.json"),
        ),
        (
            "EVERY_TABLE",
            EVERY_TABLE,
            include_str!("every-table-description.json"),
        ),
    ];
    for (name, text, expected) in cases {
        let described = load(text).describe();
        let pretty = serde_json::to_string_pretty(&described).unwrap();
        assert_eq!(pretty, expected.trim_end(), "{name}");
    }
}

#[test]
fn describe_lists_only_the_coarse_scopes_when_fine_scopes_are_off() {
    let policy = load(&format!("fine_scopes = false\n{ONE_OF_EACH_KIND}"));
    let body = policy.describe();
    assert_eq!(body["fine_scopes"], json!(false));
    assert_eq!(body["scopes"], json!(["read:all", "write:all", "admin"]));
    assert_eq!(body["coarse_scopes"], body["scopes"]);
    // The resources are still described: the coarse scopes reach them.
    assert_eq!(body["resources"].as_array().map(Vec::len), Some(7));
}
