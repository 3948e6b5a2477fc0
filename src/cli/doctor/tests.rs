//! The doctor's checks against canned gateway answers: every line it can print, the exit
//! it leads to, and that the test key is deleted whatever happened in between.

use super::*;
use std::collections::VecDeque;

const ID: &str = "key_5C6oug3qxDqDYRHASGJgAo";
const SECRET: &str = "kg_test_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv";

fn demo_policy() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/demo.toml"))
        .unwrap();
    Policy::from_toml(&text).unwrap().describe()
}

fn reply(status: u16, body: Value) -> Result<Reply, TransportError> {
    Ok(Reply {
        status,
        body: if body.is_null() {
            String::new()
        } else {
            body.to_string()
        },
        ..Reply::default()
    })
}

fn probe(status: u16, headers: &[(&str, &str)], body: Value) -> Result<Probe, TransportError> {
    Ok(Probe {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.to_string(),
    })
}

/// Answers in order, and remembers what was asked (secrets as `<key>`).
#[derive(Default)]
struct Canned {
    admin: VecDeque<Result<Reply, TransportError>>,
    data: VecDeque<Result<Probe, TransportError>>,
    asked: Vec<String>,
}

impl Gateway for Canned {
    fn admin(&mut self, request: &request::ApiRequest) -> Result<Reply, TransportError> {
        let body = request
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        self.asked.push(format!(
            "{} {} {body}",
            request.method.as_str(),
            request.path
        ));
        self.admin.pop_front().expect("an unexpected admin request")
    }

    fn get(&mut self, path: &str, key: Option<&Token>) -> Result<Probe, TransportError> {
        let with = match key {
            Some(key) if key.expose() == SECRET => " <key>",
            Some(_) => " <another key>",
            None => "",
        };
        self.asked.push(format!("GET {path}{with}"));
        self.data
            .pop_front()
            .expect("an unexpected data-plane request")
    }
}

fn healthy() -> Canned {
    Canned {
        admin: VecDeque::from([
            reply(200, demo_policy()),
            reply(201, json!({"id": ID, "key": SECRET})),
            reply(204, Value::Null),
        ]),
        data: VecDeque::from([
            probe(
                401,
                &[("www-authenticate", r#"Bearer realm="keygate""#)],
                json!({"code": "missing_credentials"}),
            ),
            probe(
                200,
                &[
                    ("ratelimit", r#""minute";r=59;t=60"#),
                    ("ratelimit-policy", r#""minute";q=60;w=60"#),
                ],
                json!({"identity_verified": true}),
            ),
        ]),
        asked: Vec::new(),
    }
}

fn plan(path: Option<&str>) -> Plan {
    Plan {
        local_policy: None,
        path: path.map(str::to_string),
        now_ms: 1_900_000_000_000,
    }
}

fn run_checks(plan: &Plan, gateway: &mut Canned) -> Vec<Line> {
    let mut printed = Vec::new();
    let lines = check(plan, gateway, &mut |line: &Line| printed.push(line.clone()));
    assert_eq!(printed, lines, "every line is printed as it is known");
    lines
}

fn verdicts(lines: &[Line]) -> Vec<Verdict> {
    lines.iter().map(|l| l.verdict).collect()
}

fn text(lines: &[Line]) -> String {
    lines.iter().map(Line::render).collect()
}

#[test]
fn a_healthy_deployment_passes_every_check() {
    let mut gateway = healthy();
    let lines = run_checks(&plan(Some("/v1/contacts")), &mut gateway);
    use Verdict::*;
    assert_eq!(
        verdicts(&lines),
        [Ok, Skip, Ok, Ok, Ok, Ok, Ok],
        "{}",
        text(&lines)
    );
    let shown = text(&lines);
    assert!(
        shown.contains("ok    admin API answers the token (deployed policy: "),
        "{shown}"
    );
    assert!(shown.contains(
        "GET /v1/contacts without a key: 401 missing_credentials, WWW-Authenticate: Bearer"
    ));
    assert!(shown.contains(&format!(
        "created test key {ID} (scope contacts:read, environment test"
    )));
    assert!(
        shown.contains("GET /v1/contacts with the test key: 200, RateLimit: \"minute\";r=59;t=60")
    );
    assert!(shown.contains("identity_verified: true"));
    assert!(shown.contains(&format!("deleted test key {ID}")));
    assert!(!shown.contains(SECRET), "the key's secret is never printed");
    // The key is exactly the route's scope, in the test environment, short-lived.
    assert_eq!(gateway.asked[0], "GET /policy ");
    let create: Value =
        serde_json::from_str(gateway.asked[2].trim_start_matches("POST /keys ")).unwrap();
    assert_eq!(create["scopes"], json!(["contacts:read"]));
    assert_eq!(create["environment"], "test");
    assert_eq!(
        create["expires_at"],
        format_rfc3339(1_900_000_000_000 + TEST_KEY_LIFETIME_MS)
    );
    assert_eq!(gateway.asked[3], "GET /v1/contacts <key>");
    assert_eq!(gateway.asked[4], format!("DELETE /keys/{ID} "));
}

#[test]
fn a_wrong_token_fails_with_what_to_do_and_creates_no_key() {
    let mut gateway = Canned {
        admin: VecDeque::from([reply(
            401,
            json!({"code": "invalid_admin_token", "detail": "The admin token is not valid."}),
        )]),
        data: VecDeque::from([probe(401, &[], json!({"code": "missing_credentials"}))]),
        asked: Vec::new(),
    };
    let lines = run_checks(&plan(Some("/v1/contacts")), &mut gateway);
    use Verdict::*;
    assert_eq!(verdicts(&lines), [Fail, Skip, Ok, Skip]);
    assert!(lines[0].render().starts_with(
        "FAIL  admin API refused the token: 401 invalid_admin_token: The admin token is not valid. — set KEYGATE_TOKEN to KEYGATE_ROOT_TOKEN"
    ), "{}", lines[0].render());
    assert_eq!(gateway.asked.len(), 2, "{:?}", gateway.asked);
}

#[test]
fn the_key_is_deleted_even_when_its_call_fails() {
    for failure in [
        probe(502, &[], json!({"code": "origin_unreachable"})),
        probe(200, &[], json!({"identity_verified": false})),
        Err(TransportError::Timeout),
    ] {
        let mut gateway = healthy();
        gateway.data[1] = failure;
        let lines = run_checks(&plan(Some("/v1/contacts")), &mut gateway);
        assert!(
            lines.iter().any(|l| l.verdict == Verdict::Fail),
            "{}",
            text(&lines)
        );
        assert_eq!(
            gateway.asked.last().unwrap(),
            &format!("DELETE /keys/{ID} ")
        );
        assert_eq!(
            lines.last().unwrap().verdict,
            Verdict::Ok,
            "{}",
            text(&lines)
        );
    }
    let mut gateway = healthy();
    gateway.data[1] = probe(502, &[], json!({"code": "origin_unreachable"}));
    let shown = text(&run_checks(&plan(Some("/v1/contacts")), &mut gateway));
    assert!(shown.contains("FAIL  GET /v1/contacts with the test key: 502 origin_unreachable — keygate could not reach the origin: check KEYGATE_ORIGIN"), "{shown}");
}

#[test]
fn a_key_that_cannot_be_deleted_is_named_with_the_command_to_delete_it() {
    let mut gateway = healthy();
    gateway.admin[2] = Err(TransportError::Failed("connection reset".into()));
    let lines = run_checks(&plan(Some("/v1/contacts")), &mut gateway);
    let last = lines.last().unwrap().render();
    assert!(last.starts_with(&format!("FAIL  test key {ID} not deleted: cannot connect: connection reset — delete it: keygate keys delete {ID}")), "{last}");
}

#[test]
fn missing_rate_limit_headers_fail() {
    let mut gateway = healthy();
    gateway.data[1] = probe(200, &[], json!({}));
    let lines = run_checks(&plan(Some("/v1/contacts")), &mut gateway);
    let shown = text(&lines);
    assert!(
        shown.contains("FAIL  GET /v1/contacts with the test key: 200 but without the RateLimit"),
        "{shown}"
    );
    // An origin that is not the demo origin: the signature line is a skip, not a failure.
    assert!(shown.contains("skip  signature at the origin"), "{shown}");
}

#[test]
fn the_no_key_check_wants_a_401() {
    for (answer, expected) in [
        (
            probe(200, &[], json!({})),
            "FAIL  GET / without a key: 200, expected 401",
        ),
        (
            probe(403, &[], json!({"code": "https_required"})),
            "FAIL  GET / without a key: 403 https_required — use the https:// URL",
        ),
        (
            probe(401, &[("www-authenticate", "Basic realm=x")], json!({})),
            "FAIL  GET / without a key: 401 but WWW-Authenticate is `Basic realm=x`",
        ),
        (probe(401, &[], json!({})), "ok    GET / without a key: 401"),
    ] {
        let mut gateway = Canned {
            admin: VecDeque::from([Err(TransportError::Timeout)]),
            data: VecDeque::from([answer]),
            asked: Vec::new(),
        };
        let lines = run_checks(&plan(None), &mut gateway);
        assert!(
            lines[2].render().starts_with(expected),
            "{}",
            lines[2].render()
        );
    }
}

#[test]
fn the_local_policy_is_compared_field_by_field() {
    let mut local = demo_policy();
    let mut same = plan(Some("/v1/contacts"));
    same.local_policy = Some(("policies/demo.toml".into(), Ok(local.clone())));
    let lines = run_checks(&same, &mut healthy());
    assert_eq!(
        lines[1].render(),
        "ok    the deployed policy is policies/demo.toml\n"
    );

    local["key_prefix"] = json!("other");
    local["routes"] = json!([]);
    let mut different = plan(Some("/v1/contacts"));
    different.local_policy = Some(("mine.toml".into(), Ok(local)));
    let lines = run_checks(&different, &mut healthy());
    assert!(
        lines[1].render().starts_with(
            "FAIL  the deployed policy differs from mine.toml (in key_prefix, routes) — deploy it"
        ),
        "{}",
        lines[1].render()
    );

    let mut unreadable = plan(Some("/v1/contacts"));
    unreadable.local_policy = Some((
        "gone.toml".into(),
        Err("cannot read it: No such file".into()),
    ));
    let lines = run_checks(&unreadable, &mut healthy());
    assert_eq!(
        lines[1].render(),
        "FAIL  local policy gone.toml cannot read it: No such file\n"
    );
}

#[test]
fn the_path_defaults_to_the_first_plain_get_route_and_must_be_mapped() {
    let mut gateway = healthy();
    let lines = run_checks(&plan(None), &mut gateway);
    let expected = default_path(&demo_policy()).unwrap();
    assert_eq!(gateway.asked[1], format!("GET {expected}"));
    assert!(
        lines.iter().all(|l| l.verdict != Verdict::Fail),
        "{}",
        text(&lines)
    );

    let mut gateway = healthy();
    gateway.admin.truncate(1);
    gateway.data.truncate(1);
    let lines = run_checks(&plan(Some("/nowhere")), &mut gateway);
    assert_eq!(
        lines.last().unwrap().render(),
        "FAIL  test key: no route of the deployed policy matches GET /nowhere — pass a --path the policy maps\n"
    );
}

#[test]
fn the_scope_comes_from_the_deployed_routes() {
    let policy = demo_policy();
    assert_eq!(
        scope_for_get(&policy, "/v1/contacts").unwrap(),
        "contacts:read"
    );
    assert_eq!(
        scope_for_get(&policy, "/v1/contacts/42").unwrap(),
        "contacts:read"
    );
    // A reported value goes into the TOML as a string and comes out as itself.
    let odd = "a\"\nkind = \"x\\";
    let parsed: toml::Value = toml::from_str(&format!("v = {}", toml_string(&json!(odd)))).unwrap();
    assert_eq!(parsed["v"].as_str(), Some(odd));
}

#[test]
fn the_command_line() {
    let parse = |line: &str| {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        crate::cli::args::parse(&words)
            .map(|i| (i.globals.endpoint, i.command))
            .map_err(|e| crate::cli::args::tests::message(&e))
    };
    assert_eq!(
        parse("--endpoint https://api.example.com doctor --policy p.toml --path /v1/contacts"),
        Ok((
            Some("https://api.example.com".into()),
            crate::cli::args::Command::Doctor(DoctorArgs {
                policy: Some("p.toml".into()),
                path: Some("/v1/contacts".into()),
            })
        ))
    );
    assert_eq!(
        parse("doctor --path v1/contacts"),
        Err(
            "--path: `v1/contacts` must start with / and contain no spaces, e.g. /v1/contacts"
                .into()
        )
    );
    assert_eq!(
        parse("doctor now"),
        Err("unexpected argument 'now' found".into())
    );
}
