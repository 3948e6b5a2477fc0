//! The CLI's pipeline with a fake transport: what is sent, what is printed, how it exits.

use super::*;
use crate::approval::ApprovalId;
use crate::approval::ApprovalStatus;
use crate::cli::args::{EditArgs, Globals, NewKeyArgs, Token};
use crate::key::KeyId;
use serde_json::json;
use std::collections::{HashMap, VecDeque};

const ID: &str = "key_5C6oug3qxDqDYRHASGJgAo";

/// Answers with queued replies, in order, and records what was sent.
#[derive(Default)]
struct Fake {
    replies: VecDeque<Result<Reply, TransportError>>,
    sent: Vec<ApiRequest>,
}

impl Fake {
    fn answering(replies: Vec<Result<Reply, TransportError>>) -> Fake {
        Fake {
            replies: replies.into(),
            sent: Vec::new(),
        }
    }
}

impl Transport for Fake {
    fn send(&mut self, request: &ApiRequest) -> Result<Reply, TransportError> {
        self.sent.push(request.clone());
        self.replies
            .pop_front()
            .unwrap_or(Err(TransportError::Failed("no reply queued".into())))
    }
}

fn json_reply(status: u16, body: &str) -> Result<Reply, TransportError> {
    Ok(Reply {
        status,
        content_type: Some(if status >= 400 {
            "application/problem+json".into()
        } else {
            "application/json".into()
        }),
        body: body.into(),
        ..Reply::default()
    })
}

struct Run {
    exit: Exit,
    out: String,
    err: String,
    sent: Vec<ApiRequest>,
}

fn execute_with(command: Command, json: bool, replies: Vec<Result<Reply, TransportError>>) -> Run {
    let mut fake = Fake::answering(replies);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = execute(
        &command,
        json,
        "https://gw.example",
        &mut fake,
        &mut out,
        &mut err,
    );
    Run {
        exit,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
        sent: fake.sent,
    }
}

fn id() -> KeyId {
    KeyId::parse(ID).unwrap()
}

fn key_json(id: &str, name: &str) -> String {
    format!(
        r#"{{"name":"{name}","id":"{id}","hint":"kg_live_…abcd","workspace":"default","scopes":["contacts:read"],"status":"active","environment":"live","created_at":"2030-01-01T00:00:00Z","expires_at":null,"revoked_at":null,"last_used_at":null,"limits":{{"per_minute":120,"per_day":50000,"source":"policy"}},"metadata":{{}},"rejection_webhook":null}}"#
    )
}

// --- connection ----------------------------------------------------------------------

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn globals(endpoint: Option<&str>, token: Option<&str>) -> Globals {
    Globals {
        endpoint: endpoint.map(String::from),
        token: token.map(Token::new),
        json: false,
    }
}

#[test]
fn endpoint_comes_from_the_flag_then_the_variable_then_the_default() {
    let env = env_of(&[
        ("KEYGATE_ENDPOINT", "https://from-env.example"),
        ("KEYGATE_TOKEN", "t"),
    ]);
    let flag = connection(&globals(Some("https://flag.example/"), None), &env).unwrap();
    assert_eq!(flag.endpoint, "https://flag.example");
    assert_eq!(
        connection(&globals(None, None), &env).unwrap().endpoint,
        "https://from-env.example"
    );
    let bare = env_of(&[("KEYGATE_TOKEN", "t"), ("KEYGATE_ENDPOINT", "")]);
    assert_eq!(
        connection(&globals(None, None), &bare).unwrap().endpoint,
        "http://127.0.0.1:8787"
    );
}

#[test]
fn endpoint_keeps_a_base_path_and_drops_the_admin_prefix() {
    let env = env_of(&[("KEYGATE_TOKEN", "t")]);
    let at = |e: &str| connection(&globals(Some(e), None), &env).unwrap().endpoint;
    assert_eq!(
        at("https://api.example.com/gw/"),
        "https://api.example.com/gw"
    );
    assert_eq!(
        at("http://127.0.0.1:8787/_keygate/v1"),
        "http://127.0.0.1:8787"
    );
    assert_eq!(at("https://api.example.com:443"), "https://api.example.com");
}

#[test]
fn bad_endpoints_are_usage_errors() {
    let env = env_of(&[("KEYGATE_TOKEN", "t")]);
    for (endpoint, expected) in [
        (
            "api.example.com",
            "--endpoint: `api.example.com` must start with http:// or https://",
        ),
        (
            "ftp://x",
            "--endpoint: `ftp://x` must start with http:// or https://",
        ),
        (
            "https://gw.example?x=1",
            "--endpoint: `https://gw.example?x=1` must not contain a query, fragment or space",
        ),
        (
            "https://user:pw@gw.example",
            "--endpoint: `https://user:pw@gw.example` must not contain user info",
        ),
        ("http://:80", "--endpoint: `http://:80` must name a host"),
    ] {
        let error = connection(&globals(Some(endpoint), None), &env).unwrap_err();
        assert!(
            error.message.starts_with(expected),
            "{endpoint}: {}",
            error.message
        );
    }
    let from_env = env_of(&[("KEYGATE_TOKEN", "t"), ("KEYGATE_ENDPOINT", "gw:8787")]);
    let error = connection(&globals(None, None), &from_env).unwrap_err();
    assert!(
        error.message.starts_with("KEYGATE_ENDPOINT: `gw:8787`"),
        "{}",
        error.message
    );
}

#[test]
fn the_token_comes_from_the_flag_then_the_variable_and_is_required() {
    let env = env_of(&[("KEYGATE_TOKEN", "from-env")]);
    assert_eq!(
        connection(&globals(None, Some("flag")), &env)
            .unwrap()
            .token
            .expose(),
        "flag"
    );
    assert_eq!(
        connection(&globals(None, None), &env)
            .unwrap()
            .token
            .expose(),
        "from-env"
    );
    let trimmed = env_of(&[("KEYGATE_TOKEN", " tok\n")]);
    assert_eq!(
        connection(&globals(None, None), &trimmed)
            .unwrap()
            .token
            .expose(),
        "tok"
    );

    let missing = "no admin token: set KEYGATE_TOKEN (or pass --token) to the root token or a key with api_keys or approvals grants";
    assert_eq!(
        connection(&globals(None, None), &env_of(&[]))
            .unwrap_err()
            .message,
        missing
    );
    assert_eq!(
        connection(&globals(None, None), &env_of(&[("KEYGATE_TOKEN", "  ")]))
            .unwrap_err()
            .message,
        missing
    );
    assert_eq!(
        connection(&globals(None, Some("")), &env_of(&[]))
            .unwrap_err()
            .message,
        missing
    );
}

#[test]
fn a_token_that_cannot_be_a_header_is_refused_without_echoing_it() {
    let error = connection(&globals(None, Some("sec ret")), &env_of(&[])).unwrap_err();
    assert!(error.message.contains("cannot be sent in an HTTP header"));
    assert!(!error.message.contains("sec ret"));
    let error = connection(&globals(None, Some("s\u{e9}cret")), &env_of(&[])).unwrap_err();
    assert!(!error.message.contains("cret"));
}

#[test]
fn plain_http_is_flagged_unless_loopback() {
    let env = env_of(&[("KEYGATE_TOKEN", "t")]);
    let remote = |e: &str| {
        connection(&globals(Some(e), None), &env)
            .unwrap()
            .plain_http_remote
    };
    assert!(remote("http://gw.example"));
    assert!(!remote("https://gw.example"));
    assert!(!remote("http://127.0.0.1:8787"));
    assert!(!remote("http://localhost:8787"));
    assert!(!remote("http://[::1]:8787"));
}

#[test]
fn connection_debug_redacts_the_token() {
    let c = connection(&globals(None, Some("s3cr3t")), &env_of(&[])).unwrap();
    assert!(!format!("{c:?}").contains("s3cr3t"));
}

// --- run: what is decided before any request ------------------------------------------

fn run_line(line: &str, env: &[(&str, &str)]) -> (Exit, String, String) {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = run(&args, &env_of(env), &mut out, &mut err);
    (
        exit,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn usage_errors_exit_2_with_message_and_usage() {
    let (exit, out, err) = run_line("keys list --limit 0", &[("KEYGATE_TOKEN", "t")]);
    assert_eq!(exit, Exit::Usage);
    assert_eq!(exit.code(), 2);
    assert!(out.is_empty());
    assert!(
        err.starts_with("error: --limit: 0 is out of range"),
        "{err}"
    );
    assert!(err.contains("\nUsage: keygate keys list"), "{err}");
}

#[test]
fn a_missing_token_exits_2_before_any_request() {
    // The endpoint is unroutable: reaching the network would exit 3, not 2.
    let (exit, _, err) = run_line(
        &format!("--endpoint http://192.0.2.1:9 keys show {ID}"),
        &[],
    );
    assert_eq!(exit, Exit::Usage);
    assert!(err.starts_with("keygate: no admin token"), "{err}");
}

#[test]
fn help_prints_every_command() {
    for (line, commands) in [
        (
            "--help",
            &[
                "keys",
                "approvals",
                "sessions",
                "workspaces",
                "policy",
                "deploy",
                "doctor",
            ][..],
        ),
        ("sessions --help", &["create", "list", "revoke"]),
        (
            "keys --help",
            &[
                "create",
                "list",
                "show",
                "edit",
                "revoke",
                "activate",
                "rotate",
                "rotate-webhook-secret",
                "delete",
            ],
        ),
        ("approvals --help", &["list", "show", "approve", "reject"]),
        ("workspaces --help", &["list", "show", "set-plan"]),
        ("policy --help", &["show", "check", "diff"]),
        ("deploy --help", &["secrets"]),
    ] {
        let (exit, out, err) = run_line(line, &[]);
        assert_eq!((exit, err.as_str()), (Exit::Done, ""), "{line}");
        for command in commands {
            assert!(
                out.contains(&format!("\n  {command} ")),
                "{line}: {command}"
            );
        }
    }
    let (_, out, _) = run_line("approvals list --help", &[]);
    assert!(out.contains("[possible values: pending, approved, rejected, expired, failed]"));
}

#[test]
fn policy_check_keeps_its_output_and_exit_codes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/demo.toml");
    let (exit, out, err) = run_line(&format!("policy check {path}"), &[]);
    assert_eq!(exit, Exit::Done);
    assert_eq!(err, "");
    assert_eq!(
        out,
        format!(
            "{path}: ok (9 resources, 16 routes, 27 scopes)
scopes:
  contacts:read contacts:write-approval contacts:write contacts:delete-approval contacts:delete
  email:read email:send-approval email:send
  ai:use-approval ai:use
  tags:read tags:write
  documents:read documents:write
  analytics:read
  settings:read settings:write
  api_keys:read api_keys:write-approval api_keys:write api_keys:delete-approval api_keys:delete
  approvals:read approvals:write
  read:all write:all admin
portal: \"Acme API keys\", accent #7c3aed, docs https://docs.example.com/api-keys, framed by no site
"
        )
    );

    let (exit, _, err) = run_line("policy check /nonexistent/policy.toml", &[]);
    assert_eq!(exit.code(), 1);
    assert!(
        err.starts_with("keygate: cannot read /nonexistent/policy.toml: "),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("keygate-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "key_prefix = \"K\"\n").unwrap();
    let (exit, _, err) = run_line(&format!("policy check {}", bad.display()), &[]);
    assert_eq!(exit.code(), 1);
    assert!(
        err.starts_with(&format!("{}: invalid policy\n  ", bad.display())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file under a fresh directory of this test process, removed when dropped.
struct PolicyFiles(std::path::PathBuf);

impl PolicyFiles {
    fn new(test: &str) -> PolicyFiles {
        let dir = std::env::temp_dir().join(format!("keygate-cli-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        PolicyFiles(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for PolicyFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const INVOICES: &str = "[[resources]]\nname = \"invoices\"\nkind = \"read_write\"\n";

fn route(method: &str, path: &str, action: &str) -> String {
    format!("[[routes]]\nmethod = \"{method}\"\npath = \"{path}\"\nresource = \"invoices\"\naction = \"{action}\"\n")
}

#[test]
fn policy_check_refuses_a_route_no_request_reaches() {
    let files = PolicyFiles::new("shadow");
    let path = files.write(
        "shadowed.toml",
        &format!(
            "{INVOICES}{}{}",
            route("GET", "/api/invoices/{id}", "read"),
            route("GET", "/api/invoices/summary", "write")
        ),
    );
    let (exit, out, err) = run_line(&format!("policy check {path}"), &[]);
    assert_eq!(exit.code(), 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("{path}: invalid policy\n  routes[1] (line 9): error: GET \"/api/invoices/summary\" (invoices:write): never reached: every request it matches is decided first by routes[0] GET \"/api/invoices/{{id}}\" (invoices:read), e.g. GET /api/invoices/summary. Routes are tried in file order; move it above routes[0]\n")
    );
    let express = files.write(
        "express.toml",
        &format!("{INVOICES}{}", route("GET", "/api/invoices/:id", "read")),
    );
    let (exit, _, err) = run_line(&format!("policy check {express}"), &[]);
    assert_eq!(exit.code(), 1);
    assert!(err.contains("error: GET \"/api/invoices/:id\" (invoices:read): segment \":id\" is another router's parameter; keygate matches it as the literal text \":id\". Write {id}\n"), "{err}");
}

#[test]
fn policy_check_passes_with_a_warning_for_crossing_routes() {
    let files = PolicyFiles::new("crossing");
    let path = files.write(
        "crossing.toml",
        &format!(
            "{INVOICES}{}{}",
            route("GET", "/a/{x}/b", "read"),
            route("GET", "/a/c/{y}", "write")
        ),
    );
    let (exit, out, err) = run_line(&format!("policy check {path}"), &[]);
    assert_eq!(exit, Exit::Done);
    assert!(out.starts_with(&format!("{path}: ok (1 resources, 2 routes, 2 scopes)\nscopes:\n  invoices:read invoices:write\n")), "{out}");
    assert_eq!(
        err,
        format!("{path}: routes[1] (line 9): warning: GET \"/a/c/{{y}}\" (invoices:write): some of its requests (e.g. GET /a/c/b) are decided first by routes[0] GET \"/a/{{x}}/b\", which needs invoices:read instead\n")
    );
}

#[test]
fn policy_check_reports_every_syntax_error_with_its_place() {
    let files = PolicyFiles::new("syntax");
    let path = files.write(
        "broken.toml",
        "key_prefix = \"kg\n[limits]\nper_minute = 10\nper_dya = 5\n\n[[resources]]\nname = \"a\"\nkind \"ladder\"\n",
    );
    let (exit, _, err) = run_line(&format!("policy check {path}"), &[]);
    assert_eq!(exit.code(), 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("{path}: invalid policy").as_str())
    );
    let places: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.trim_start().split(':').next().unwrap())
        .collect();
    assert_eq!(
        places,
        ["line 1, column 17", "line 4, column 1", "line 8, column 6"],
        "{err}"
    );
}

#[test]
fn policy_diff_exits_by_whether_existing_keys_see_a_change() {
    let files = PolicyFiles::new("diff");
    let old = files.write(
        "old.toml",
        &format!("{INVOICES}{}", route("GET", "/api/invoices/{id}", "read")),
    );
    let same = files.write(
        "same.toml",
        &format!(
            "# reformatted\n{INVOICES}\n{}",
            route("GET", "/api/invoices/{id}", "read")
        ),
    );
    let (exit, out, err) = run_line(&format!("policy diff {old} {same}"), &[]);
    assert_eq!((exit, err.as_str()), (Exit::Done, ""));
    assert_eq!(
        out,
        format!("{same} over {old}: no change affects existing keys\n")
    );

    let new = files.write(
        "new.toml",
        &format!(
            "key_prefix = \"acme\"\n{INVOICES}{}",
            route("GET", "/api/invoices/{id}", "write")
        ),
    );
    let (exit, out, _) = run_line(&format!("policy diff {old} {new}"), &[]);
    assert_eq!(exit.code(), 1);
    assert_eq!(
        out,
        format!("{new} over {old}: 2 change(s) affect existing keys:
  key_prefix: \"kg\" → \"acme\": every existing key stops working. A key carries its prefix in its text, so each kg_… key is refused with 401 key_prefix_unknown before any lookup, and every client needs a new key
  GET /api/invoices/x: requests like it: needed invoices:read (routes[0] GET \"/api/invoices/{{id}}\" (invoices:read)), now needs invoices:write (routes[0] GET \"/api/invoices/{{id}}\" (invoices:write))
")
    );

    let broken = files.write("broken.toml", "key_prefix = 1\n");
    let (exit, out, err) = run_line(&format!("policy diff {old} {broken}"), &[]);
    assert_eq!((exit.code(), out.as_str()), (2, ""));
    assert!(
        err.starts_with(&format!(
            "keygate: {broken}: invalid policy\n  line 1, column 14: "
        )),
        "{err}"
    );
    let (exit, _, err) = run_line(&format!("policy diff {old} /nonexistent.toml"), &[]);
    assert_eq!(exit.code(), 2);
    assert!(
        err.starts_with("keygate: cannot read /nonexistent.toml: "),
        "{err}"
    );
}

// --- execute: requests, output and exits -----------------------------------------------

#[test]
fn show_prints_details_with_usage() {
    let body = key_json(ID, "Zapier").replace(
        r#""rejection_webhook":null}"#,
        r#""rejection_webhook":null,"usage":{"last_24h":1,"last_7d":2,"last_30d":3}}"#,
    );
    let run = execute_with(
        Command::Keys(KeysCommand::Show { id: id() }),
        false,
        vec![json_reply(200, &body)],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent,
        vec![request::keys_request(&KeysCommand::Show { id: id() })]
    );
    assert!(
        run.out.starts_with(&format!(
            "id:                {ID}\nname:              Zapier\n"
        )),
        "{}",
        run.out
    );
    assert!(run.out.contains("usage.last_30d:    3\n"));
    assert!(run.err.is_empty());
}

#[test]
fn json_prints_the_answer_as_it_came() {
    let body = key_json(ID, "Zapier");
    let run = execute_with(
        Command::Keys(KeysCommand::Show { id: id() }),
        true,
        vec![json_reply(200, &body)],
    );
    assert_eq!(run.exit, Exit::Done);
    assert!(
        run.out
            .starts_with("{\n  \"name\": \"Zapier\",\n  \"id\": "),
        "field order kept: {}",
        run.out
    );
    let parsed: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(parsed, serde_json::from_str::<Value>(&body).unwrap());
}

#[test]
fn a_refusal_exits_1_and_prints_the_problem_to_stderr() {
    let problem = r#"{"type":"urn:keygate:problem:invalid_request","title":"Bad Request","status":400,"code":"invalid_request","detail":"2 fields are invalid; see `errors`","request_id":"req_9","errors":[{"field":"name","message":"is required"},{"field":"scopes","message":"must contain at least one scope"}]}"#;
    let create = Command::Keys(KeysCommand::Create(NewKeyArgs {
        name: "x".into(),
        scopes: vec!["s".into()],
        ..NewKeyArgs::default()
    }));
    let run = execute_with(create.clone(), false, vec![json_reply(400, problem)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.out.is_empty());
    assert!(run.err.contains("(400 invalid_request)"));
    assert!(
        run.err
            .contains("\n  name: is required\n  scopes: must contain at least one scope\n"),
        "{}",
        run.err
    );

    // With --json the problem is also printed on stdout for scripts.
    let run = execute_with(create, true, vec![json_reply(400, problem)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.err.contains("  name: is required\n"));
}

#[test]
fn a_429_says_when_to_retry() {
    let mut reply = json_reply(
        429,
        r#"{"status":429,"code":"rate_limited","detail":"slow down"}"#,
    )
    .unwrap();
    reply.retry_after = Some("12".into());
    let run = execute_with(Command::Policy(PolicyCommand::Show), false, vec![Ok(reply)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.err.contains("retry after: 12 s"), "{}", run.err);
}

#[test]
fn no_answer_exits_3_naming_the_endpoint() {
    let run = execute_with(
        Command::Policy(PolicyCommand::Show),
        false,
        vec![Err(TransportError::Timeout)],
    );
    assert_eq!(run.exit, Exit::Unreachable);
    assert_eq!(
        run.err,
        "keygate: no answer from the gateway at https://gw.example within 30 s\n"
    );

    let run = execute_with(
        Command::Policy(PolicyCommand::Show),
        false,
        vec![Err(TransportError::Failed("Connection refused".into()))],
    );
    assert_eq!(run.exit.code(), 3);
    assert_eq!(
        run.err,
        "keygate: cannot reach the gateway at https://gw.example: Connection refused\n"
    );

    let run = execute_with(
        Command::Policy(PolicyCommand::Show),
        false,
        vec![Err(TransportError::Unreadable("not UTF-8".into()))],
    );
    assert_eq!(run.exit.code(), 3);
}

#[test]
fn a_non_json_answer_exits_3() {
    let html = Ok(Reply {
        status: 200,
        content_type: Some("text/html".into()),
        body: "<html>dashboard</html>".into(),
        ..Reply::default()
    });
    let run = execute_with(Command::Policy(PolicyCommand::Show), false, vec![html]);
    assert_eq!(run.exit, Exit::Unreachable);
    assert!(
        run.err.starts_with(
            "keygate: the gateway at https://gw.example answered 200 with `text/html`"
        ),
        "{}",
        run.err
    );
    assert!(run.err.contains("is this a keygate admin endpoint?"));
}

#[test]
fn create_prints_the_secret_once_prominently() {
    let body = key_json(ID, "Zapier").replacen('{', r#"{"key":"kg_live_SECRET","#, 1);
    let create = Command::Keys(KeysCommand::Create(NewKeyArgs {
        name: "Zapier".into(),
        scopes: vec!["contacts:read".into()],
        ..NewKeyArgs::default()
    }));
    let run = execute_with(create, false, vec![json_reply(201, &body)]);
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.out.matches("kg_live_SECRET").count(), 1);
    assert!(run.out.contains("\n    kg_live_SECRET\n"));
    assert!(run.out.contains("shown once — store it now"));
}

#[test]
fn a_webhook_secret_is_printed_once_where_it_was_issued() {
    let notice = "give it to the webhook's receiver now";
    let issued = key_json(ID, "Hooked").replacen(
        '{',
        r#"{"key":"kg_live_SECRET","rejection_webhook_secret":"whsec_ONCE","#,
        1,
    );
    let create = Command::Keys(KeysCommand::Create(NewKeyArgs {
        name: "Hooked".into(),
        scopes: vec!["contacts:read".into()],
        webhook: Some("https://hooks.example.com/r".into()),
        ..NewKeyArgs::default()
    }));
    let edit = Command::Keys(KeysCommand::Edit {
        id: id(),
        changes: EditArgs {
            webhook: Some("https://hooks.example.com/new".into()),
            ..EditArgs::default()
        },
    });
    for (command, status) in [(create, 201), (edit, 200)] {
        let run = execute_with(command, false, vec![json_reply(status, &issued)]);
        assert_eq!(run.exit, Exit::Done);
        assert_eq!(run.out.matches("whsec_ONCE").count(), 1, "{}", run.out);
        assert!(run.out.contains("\n    whsec_ONCE\n"), "{}", run.out);
        assert!(run.out.contains(notice), "{}", run.out);
    }
    let rotated = key_json(ID, "Hooked").replacen(
        '{',
        r#"{"rejection_webhook_secret":"whsec_NEW","previous_webhook_secret_valid_until":"2030-01-01T01:00:00Z","#,
        1,
    );
    let run = execute_with(
        Command::Keys(KeysCommand::RotateWebhookSecret {
            id: id(),
            grace_seconds: Some(3600),
        }),
        false,
        vec![json_reply(200, &rotated)],
    );
    assert!(run
        .out
        .starts_with(&format!("Rotated the webhook secret of key {ID}.")));
    assert_eq!(run.out.matches("whsec_NEW").count(), 1, "{}", run.out);
    assert!(
        run.out.contains("too until 2030-01-01T01:00:00Z"),
        "{}",
        run.out
    );
    // An answer that issued none says nothing of one.
    let run = execute_with(
        Command::Keys(KeysCommand::Show { id: id() }),
        false,
        vec![json_reply(200, &key_json(ID, "Hooked"))],
    );
    assert!(!run.out.contains("signing secret"), "{}", run.out);
}

#[test]
fn lifecycle_commands_say_what_happened() {
    let body = key_json(ID, "Zapier");
    for (command, said) in [
        (KeysCommand::Revoke { id: id() }, "Revoked key"),
        (KeysCommand::Activate { id: id() }, "Activated key"),
        (
            KeysCommand::Edit {
                id: id(),
                changes: EditArgs {
                    name: Some("n".into()),
                    ..EditArgs::default()
                },
            },
            "Updated key",
        ),
    ] {
        let run = execute_with(Command::Keys(command), false, vec![json_reply(200, &body)]);
        assert_eq!(run.exit, Exit::Done);
        assert!(
            run.out.starts_with(&format!("{said} {ID}.\n\nid:")),
            "{}",
            run.out
        );
    }
    let rotated = body.replacen(
        '{',
        r#"{"key":"kg_live_NEW","previous_key_valid_until":"2030-01-01T01:00:00Z","#,
        1,
    );
    let run = execute_with(
        Command::Keys(KeysCommand::Rotate {
            id: id(),
            grace_seconds: Some(3600),
        }),
        false,
        vec![json_reply(200, &rotated)],
    );
    assert!(run.out.contains("\n    kg_live_NEW\n"));
    assert!(run.out.contains("until 2030-01-01T01:00:00Z"));
}

#[test]
fn delete_answers_204_without_a_body() {
    let no_content = Ok(Reply {
        status: 204,
        ..Reply::default()
    });
    let run = execute_with(
        Command::Keys(KeysCommand::Delete { id: id() }),
        false,
        vec![no_content.clone()],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.out, format!("Deleted key {ID}.\n"));
    let run = execute_with(
        Command::Keys(KeysCommand::Delete { id: id() }),
        true,
        vec![no_content],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.out, "");
}

#[test]
fn an_empty_success_where_a_key_was_expected_exits_3() {
    let run = execute_with(
        Command::Keys(KeysCommand::Show { id: id() }),
        false,
        vec![Ok(Reply {
            status: 200,
            ..Reply::default()
        })],
    );
    assert_eq!(run.exit, Exit::Unreachable);
}

fn page(keys: &[String], next: Option<&str>) -> Result<Reply, TransportError> {
    let next = next.map_or("null".to_string(), |c| format!("\"{c}\""));
    json_reply(
        200,
        &format!(r#"{{"keys":[{}],"next_cursor":{next}}}"#, keys.join(",")),
    )
}

const ID2: &str = "key_000000000000000000000B";
const ID3: &str = "key_000000000000000000000C";

#[test]
fn one_page_mentions_the_next_cursor() {
    let list = Command::Keys(KeysCommand::List(KeyListArgs::default()));
    let run = execute_with(list, false, vec![page(&[key_json(ID, "one")], Some("c/2"))]);
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.sent.len(), 1);
    assert!(run.out.starts_with("ID "));
    assert!(
        run.out
            .ends_with("\nMore keys: add --cursor c/2 (or use --all).\n"),
        "{}",
        run.out
    );
}

#[test]
fn all_follows_next_cursor_to_the_end() {
    let list = KeyListArgs {
        all: true,
        status: Some(crate::record::Status::Active),
        limit: Some(2),
        ..KeyListArgs::default()
    };
    let replies = vec![
        page(&[key_json(ID, "one"), key_json(ID2, "two")], Some("c/2")),
        page(&[key_json(ID3, "three")], None),
    ];
    let run = execute_with(
        Command::Keys(KeysCommand::List(list.clone())),
        false,
        replies.clone(),
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent,
        vec![
            request::list_page(&list, None),
            request::list_page(&list, Some("c/2"))
        ]
    );
    assert_eq!(
        run.sent[1].url("https://gw"),
        "https://gw/_keygate/v1/keys?status=active&limit=2&cursor=c%2F2"
    );
    assert_eq!(run.out.lines().count(), 4, "{}", run.out);
    assert!(!run.out.contains("More keys"));

    let run = execute_with(Command::Keys(KeysCommand::List(list)), true, replies);
    assert_eq!(run.exit, Exit::Done);
    let all: Value = serde_json::from_str(&run.out).unwrap();
    let ids: Vec<&str> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ID, ID2, ID3]);
    assert_eq!(all.as_object().unwrap().len(), 1, "only `keys`");
    assert!(
        run.out
            .starts_with("{\n  \"keys\": [\n    {\n      \"name\": \"one\","),
        "field order kept: {}",
        run.out
    );
}

#[test]
fn all_stops_on_a_refusal_or_a_repeated_cursor() {
    let list = Command::Keys(KeysCommand::List(KeyListArgs {
        all: true,
        ..KeyListArgs::default()
    }));
    let replies = vec![
        page(&[key_json(ID, "one")], Some("c2")),
        json_reply(
            503,
            r#"{"status":503,"code":"store_unavailable","detail":"down"}"#,
        ),
    ];
    let run = execute_with(list.clone(), false, replies);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.out.is_empty(), "nothing half-printed");

    let replies = vec![
        page(&[key_json(ID, "one")], Some("c2")),
        page(&[], Some("c2")),
    ];
    let run = execute_with(list, false, replies);
    assert_eq!(run.exit, Exit::Unreachable);
    assert!(
        run.err.contains("next_cursor it had already given"),
        "{}",
        run.err
    );
}

#[test]
fn a_list_without_keys_exits_3() {
    let list = Command::Keys(KeysCommand::List(KeyListArgs::default()));
    let run = execute_with(list, false, vec![json_reply(200, r#"{"items":[]}"#)]);
    assert_eq!(run.exit, Exit::Unreachable);
    assert!(run.err.contains("without a `keys` list"));
}

#[test]
fn policy_show_summarises_or_passes_json_through() {
    let policy = crate::policy::Policy::from_toml(include_str!("../../policies/demo.toml"))
        .unwrap()
        .describe()
        .to_string();
    let run = execute_with(
        Command::Policy(PolicyCommand::Show),
        false,
        vec![json_reply(200, &policy)],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent[0].url("https://gw"),
        "https://gw/_keygate/v1/policy"
    );
    assert!(run.out.contains("key_prefix:"), "{}", run.out);
    assert!(run.out.contains("\nRESOURCE "));
    assert!(run.out.contains("\nMETHOD "));
    assert!(run.out.contains("scopes (27):"));
    let run = execute_with(
        Command::Policy(PolicyCommand::Show),
        true,
        vec![json_reply(200, &policy)],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&run.out).unwrap(),
        serde_json::from_str::<Value>(&policy).unwrap()
    );
}

#[test]
fn json_problem_also_goes_to_stdout() {
    let problem = r#"{"status":404,"code":"not_found","detail":"no such resource"}"#;
    let run = execute_with(
        Command::Keys(KeysCommand::Show { id: id() }),
        true,
        vec![json_reply(404, problem)],
    );
    assert_eq!(run.exit, Exit::Refused);
    assert_eq!(
        serde_json::from_str::<Value>(&run.out).unwrap(),
        json!({"status": 404, "code": "not_found", "detail": "no such resource"})
    );
}

// --- approvals -------------------------------------------------------------------------

const APR: &str = "apr_3x9QbdVftBjciVLa2q1ye2";
const APR2: &str = "apr_0000000000000000000002";
const APR3: &str = "apr_0000000000000000000003";

fn apr() -> ApprovalId {
    ApprovalId::parse(APR).unwrap()
}

fn approvals(command: ApprovalsCommand) -> Command {
    Command::Approvals(command)
}

fn parse_words(words: &[&str]) -> Result<args::Invocation, clap::Error> {
    args::parse(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
}

fn parsed(words: &[&str]) -> Command {
    parse_words(words)
        .unwrap_or_else(|e| panic!("{words:?} refused: {e}"))
        .command
}

/// Each of `cases` is a usage error that says exactly its message, with an approvals usage.
fn usage_errors(cases: &[(&[&str], &str)]) {
    for (words, expected) in cases {
        let error = parse_words(words).expect_err(&words.join(" "));
        assert_eq!(args::tests::message(&error), *expected, "for {words:?}");
        let text = error.render().to_string();
        assert!(
            text.contains("\nUsage: keygate approvals"),
            "{words:?}: {text}"
        );
    }
}

/// A pending approval as `GET /approvals/{id}` answers it.
fn approval(id: &str) -> Value {
    json!({
        "id": id, "status": "pending", "workspace": "acme",
        "key_id": ID, "key_name": "Claude agent", "environment": "live",
        "required_scope": "contacts:write", "method": "POST", "path": "/v1/contacts",
        "query": "a=1&b=2",
        "headers": {"content-type": "application/json", "x-request-source": "agent"},
        "body": "{\"name\":\"Ada\"}", "body_encoding": "utf8", "body_bytes": 14,
        "created_at": "2030-01-01T00:00:00Z", "expires_at": "2030-01-08T00:00:00Z",
        "decided_at": null, "decided_by": null, "reason": null, "result": null, "webhook": null
    })
}

/// The same approval as a list item: without `headers` and `body`.
fn approval_item(id: &str) -> Value {
    let mut item = approval(id);
    let object = item.as_object_mut().unwrap();
    object.remove("headers");
    object.remove("body");
    item
}

fn approvals_page(items: &[Value], next: Option<&str>) -> Result<Reply, TransportError> {
    json_reply(
        200,
        &json!({"approvals": items, "next_cursor": next}).to_string(),
    )
}

fn show(body: &Value) -> Run {
    execute_with(
        approvals(ApprovalsCommand::Show { id: apr() }),
        false,
        vec![json_reply(200, &body.to_string())],
    )
}

#[test]
fn approvals_arguments_accepted() {
    assert_eq!(
        parsed(&["approvals", "list"]),
        approvals(ApprovalsCommand::List(ApprovalListArgs::default()))
    );
    assert_eq!(
        parsed(&[
            "approvals",
            "list",
            "--status",
            "failed",
            "--workspace",
            "acme",
            "--limit",
            "100",
            "--cursor=c_1",
            "--all"
        ]),
        approvals(ApprovalsCommand::List(ApprovalListArgs {
            status: Some(ApprovalStatus::Failed),
            workspace: Some("acme".into()),
            limit: Some(100),
            cursor: Some("c_1".into()),
            all: true,
        }))
    );
    for status in ApprovalStatus::ALL {
        let Command::Approvals(ApprovalsCommand::List(list)) =
            parsed(&["approvals", "list", "--status", status.as_str()])
        else {
            panic!()
        };
        assert_eq!(list.status, Some(status));
    }
    assert_eq!(
        parsed(&["approvals", "show", APR]),
        approvals(ApprovalsCommand::Show { id: apr() })
    );
    assert_eq!(
        parsed(&["approvals", "approve", APR]),
        approvals(ApprovalsCommand::Approve { id: apr() })
    );
    // The reason is one argument with spaces, trimmed; the option may come first.
    assert_eq!(
        parsed(&[
            "approvals",
            "reject",
            "--reason",
            "  not on a Friday\n",
            APR
        ]),
        approvals(ApprovalsCommand::Reject {
            id: apr(),
            reason: "not on a Friday".into()
        })
    );
    assert_eq!(
        parsed(&["approvals", "reject", APR, "--reason=--dry-run first"]),
        approvals(ApprovalsCommand::Reject {
            id: apr(),
            reason: "--dry-run first".into()
        })
    );
    let long = "é".repeat(crate::admin::MAX_REASON_CHARS);
    assert!(parse_words(&["approvals", "reject", APR, "--reason", &long]).is_ok());
    let invocation = parse_words(&["--json", "approvals", "show", APR, "--token", "t"]).unwrap();
    assert!(invocation.globals.json);
    assert_eq!(
        invocation.globals.token.as_ref().map(Token::expose),
        Some("t")
    );
}

#[test]
fn approvals_commands_missing_or_unknown() {
    let missing = parse_words(&["approvals"]).unwrap_err();
    assert_eq!(missing.exit_code(), 2);
    assert!(missing.render().to_string().contains("\n  reject "));
    usage_errors(&[(&["approvals", "accept"], "unrecognized subcommand 'accept'")]);
    assert_eq!(
        args::tests::message(&parse_words(&["approval", "list"]).unwrap_err()),
        "unrecognized subcommand 'approval'"
    );
}

#[test]
fn approvals_list_errors() {
    let list = |more: &'static [&'static str]| -> Vec<&'static str> {
        [&["approvals", "list"][..], more].concat()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            list(&["--status", "active"]),
            "--status: `active` is not one of pending, approved, rejected, expired, failed",
        ),
        (
            list(&["--limit", "0"]),
            "--limit: 0 is out of range; use a whole number from 1 to 100",
        ),
        (
            list(&["--limit", "101"]),
            "--limit: 101 is out of range; use a whole number from 1 to 100",
        ),
        (
            list(&["--limit", "ten"]),
            "--limit: `ten` is not a whole number from 1 to 100",
        ),
        (
            list(&["--all", "--all"]),
            "the argument '--all' cannot be used multiple times",
        ),
        (
            list(&["--all=yes"]),
            "unexpected value 'yes' for '--all' found; no more were expected",
        ),
        (list(&["pending"]), "unexpected argument 'pending' found"),
        (
            list(&["--reason", "x"]),
            "unexpected argument '--reason' found",
        ),
    ];
    let cases: Vec<(&[&str], &str)> = cases.iter().map(|(w, m)| (&w[..], *m)).collect();
    usage_errors(&cases);
    for (words, option) in [
        (list(&["--cursor"]), "--cursor <C>"),
        (list(&["--status", "--all"]), "--status <STATUS>"),
    ] {
        let message = args::tests::message(&parse_words(&words).unwrap_err());
        assert!(
            message.starts_with(&format!(
                "a value is required for '{option}' but none was supplied"
            )),
            "{message}"
        );
    }
}

#[test]
fn approvals_ids_are_checked() {
    let id_error =
        "ID must be `apr_` followed by 22 letters or digits, as `keygate approvals list` shows it";
    let extra = format!("unexpected argument '{APR2}' found");
    for command in ["show", "approve", "reject"] {
        let reason: &[&str] = if command == "reject" {
            &["--reason", "no"]
        } else {
            &[]
        };
        let with = |words: &[&'static str]| -> Vec<&'static str> {
            let mut all = vec!["approvals", command];
            all.extend_from_slice(words);
            all.extend_from_slice(reason);
            all
        };
        usage_errors(&[
            (
                &with(&[]),
                "the following required arguments were not provided:\n  <ID>",
            ),
            (&with(&["abc"]), id_error),
            // A key id is not an approval id.
            (&with(&[ID]), id_error),
            (&with(&["apr_3x9QbdVftBjciVLa2q1ye"]), id_error),
            (&with(&["apr_3x9QbdVftBjciVLa2q1y/2"]), id_error),
            (&with(&[APR, APR2]), &extra),
        ]);
    }
    usage_errors(&[
        (
            &["approvals", "approve", APR, "--reason", "x"],
            "unexpected argument '--reason' found",
        ),
        (
            &["approvals", "show", APR, "--all"],
            "unexpected argument '--all' found",
        ),
    ]);
}

#[test]
fn reject_needs_a_reason() {
    let long = format!("  {}  ", "x".repeat(1001));
    usage_errors(&[
        (
            &["approvals", "reject", APR],
            "the following required arguments were not provided:\n  --reason <TEXT>",
        ),
        (
            &["approvals", "reject", APR, "--reason="],
            "--reason: must not be empty or only spaces",
        ),
        (
            &["approvals", "reject", APR, "--reason", " \t\n "],
            "--reason: must not be empty or only spaces",
        ),
        (
            &["approvals", "reject", APR, "--reason", "a", "--reason", "b"],
            "the argument '--reason <TEXT>' cannot be used multiple times",
        ),
        (
            &["approvals", "reject", APR, "--reason", &long],
            "--reason: 1001 characters is too long; use at most 1000",
        ),
    ]);
    assert_eq!(
        args::tests::message(&parse_words(&["approvals", "reject", APR, "--reason"]).unwrap_err()),
        "a value is required for '--reason <TEXT>' but none was supplied"
    );
}

#[test]
fn approvals_usage_errors_exit_2_before_any_request() {
    // The endpoint is unroutable: reaching the network would exit 3, not 2.
    let (exit, out, err) = run_line(
        &format!("--endpoint http://192.0.2.1:9 approvals reject {APR}"),
        &[("KEYGATE_TOKEN", "t")],
    );
    assert_eq!(exit.code(), 2);
    assert!(out.is_empty());
    assert_eq!(
        err,
        "error: the following required arguments were not provided:\n  --reason <TEXT>\n\n\
         Usage: keygate approvals reject --reason <TEXT> <ID>\n\n\
         For more information, try '--help'.\n"
    );
}

#[test]
fn approvals_requests() {
    let url = |command: ApprovalsCommand| {
        let request = request::approvals_request(&command);
        (
            request.method,
            request.url("https://gw.example"),
            request.body,
        )
    };
    assert_eq!(
        url(ApprovalsCommand::List(ApprovalListArgs::default())),
        (
            request::Method::Get,
            "https://gw.example/_keygate/v1/approvals".into(),
            None
        )
    );
    let list = ApprovalListArgs {
        status: Some(ApprovalStatus::Expired),
        workspace: Some("acme prod&x=1".into()),
        limit: Some(50),
        cursor: Some("abc+/=".into()),
        all: false,
    };
    assert_eq!(
        url(ApprovalsCommand::List(list.clone())).1,
        "https://gw.example/_keygate/v1/approvals?status=expired&workspace=acme%20prod%26x%3D1&limit=50&cursor=abc%2B%2F%3D"
    );
    // Later pages replace the starting cursor.
    assert_eq!(
        request::approvals_page(&list, Some("next")).query.last(),
        Some(&("cursor", "next".to_string()))
    );
    assert!(!request::approvals_page(&list, None)
        .query
        .iter()
        .any(|(name, _)| *name == "cursor"));

    let one = format!("https://gw.example/_keygate/v1/approvals/{APR}");
    assert_eq!(
        url(ApprovalsCommand::Show { id: apr() }),
        (request::Method::Get, one.clone(), None)
    );
    assert_eq!(
        url(ApprovalsCommand::Approve { id: apr() }),
        (
            request::Method::Post,
            format!("{one}/approve"),
            Some(json!({}))
        )
    );
    assert_eq!(
        url(ApprovalsCommand::Reject {
            id: apr(),
            reason: "not \"now\"".into()
        }),
        (
            request::Method::Post,
            format!("{one}/reject"),
            Some(json!({"reason": "not \"now\""}))
        )
    );
}

#[test]
fn approvals_list_prints_a_table_and_the_next_cursor() {
    let mut other = approval_item(APR2);
    other["status"] = json!("rejected");
    other["method"] = json!("DELETE");
    other["path"] = json!("/v1/contacts/an-id-that-is-far-too-long-for-the-path-column");
    other["key_name"] = Value::Null;
    let list = approvals(ApprovalsCommand::List(ApprovalListArgs {
        status: Some(ApprovalStatus::Pending),
        ..ApprovalListArgs::default()
    }));
    let run = execute_with(
        list,
        false,
        vec![approvals_page(&[approval_item(APR), other], Some("c/2"))],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent[0].url("https://gw"),
        "https://gw/_keygate/v1/approvals?status=pending"
    );
    let lines: Vec<&str> = run.out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "ID",
            "STATUS",
            "METHOD",
            "PATH",
            "KEY",
            "WORKSPACE",
            "CREATED"
        ]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            APR,
            "pending",
            "POST",
            "/v1/contacts",
            "Claude",
            "agent",
            "acme",
            "2030-01-01T00:00:00Z"
        ]
    );
    // No name: the key's id; a long path is cut.
    assert!(lines[2].contains("  rejected  DELETE  /v1/contacts/an-id-that-is-far-too-long…  "));
    assert!(
        lines[2].contains(&format!("  {ID}  acme  ")),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "");
    assert_eq!(lines[4], "More approvals: add --cursor c/2 (or use --all).");
    assert_eq!(lines.len(), 5);

    let run = execute_with(
        approvals(ApprovalsCommand::List(ApprovalListArgs::default())),
        false,
        vec![approvals_page(&[], None)],
    );
    assert_eq!(run.out, "no approvals\n");
}

#[test]
fn approvals_list_all_follows_the_cursor_and_passes_json_through() {
    let list = ApprovalListArgs {
        all: true,
        limit: Some(2),
        ..ApprovalListArgs::default()
    };
    let replies = vec![
        approvals_page(&[approval_item(APR), approval_item(APR2)], Some("c2")),
        // Field order as the gateway wrote it, which --json keeps.
        json_reply(
            200,
            &format!(r#"{{"approvals":[{{"status":"failed","id":"{APR3}"}}],"next_cursor":null}}"#),
        ),
    ];
    let command = approvals(ApprovalsCommand::List(list.clone()));
    let run = execute_with(command.clone(), false, replies.clone());
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent,
        vec![
            request::approvals_page(&list, None),
            request::approvals_page(&list, Some("c2"))
        ]
    );
    assert_eq!(run.out.lines().count(), 4, "{}", run.out);
    assert!(run.out.contains(APR3));
    assert!(!run.out.contains("More approvals"));

    let run = execute_with(command.clone(), true, replies);
    assert_eq!(run.exit, Exit::Done);
    let all: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(
        all,
        json!({"approvals": [approval_item(APR), approval_item(APR2), {"status": "failed", "id": APR3}]})
    );
    assert!(
        run.out
            .contains("{\n      \"status\": \"failed\",\n      \"id\": "),
        "field order kept: {}",
        run.out
    );

    // A repeated cursor stops rather than looping.
    let run = execute_with(
        command,
        false,
        vec![
            approvals_page(&[approval_item(APR)], Some("c2")),
            approvals_page(&[], Some("c2")),
        ],
    );
    assert_eq!(run.exit, Exit::Unreachable);
    assert!(run.out.is_empty());
}

#[test]
fn an_approvals_list_without_approvals_exits_3() {
    let list = approvals(ApprovalsCommand::List(ApprovalListArgs::default()));
    let run = execute_with(list.clone(), false, vec![json_reply(200, r#"{"keys":[]}"#)]);
    assert_eq!(run.exit, Exit::Unreachable);
    assert!(
        run.err.contains("without an `approvals` list"),
        "{}",
        run.err
    );
    let all = approvals(ApprovalsCommand::List(ApprovalListArgs {
        all: true,
        ..ApprovalListArgs::default()
    }));
    let run = execute_with(all, true, vec![json_reply(200, r#"{"keys":[]}"#)]);
    assert_eq!(run.exit, Exit::Unreachable);
}

#[test]
fn show_prints_every_field_of_a_pending_approval() {
    let run = show(&approval(APR));
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent,
        vec![request::approvals_request(&ApprovalsCommand::Show {
            id: apr()
        })]
    );
    assert_eq!(
        run.out,
        format!(
            "id:             {APR}\n\
             status:         pending\n\
             workspace:      acme\n\
             key:            Claude agent ({ID})\n\
             environment:    live\n\
             required_scope: contacts:write\n\
             request:        POST /v1/contacts?a=1&b=2\n\
             created_at:     2030-01-01T00:00:00Z\n\
             expires_at:     2030-01-08T00:00:00Z\n\
             decided_at:     -\n\
             decided_by:     -\n\
             reason:         -\n\
             result:         -\n\
             webhook:        -\n\
             headers:\n\
             \x20 content-type: application/json\n\
             \x20 x-request-source: agent\n\
             body (14 bytes, UTF-8 text):\n\
             \x20 {{\"name\":\"Ada\"}}\n"
        )
    );
    assert!(run.err.is_empty());
}

#[test]
fn show_approved_with_the_origins_answer() {
    let mut body = approval(APR);
    body["status"] = json!("approved");
    body["query"] = Value::Null;
    body["headers"] = json!({});
    body["body"] = json!("line one\r\nline two\n\nevil \u{1b}[2J");
    body["body_bytes"] = json!(31);
    body["decided_at"] = json!("2030-01-01T01:00:00Z");
    body["decided_by"] = json!({"type": "key", "id": ID2, "name": "Ops"});
    body["result"] = json!({"origin_status": 201, "body": "{\"id\":\"c_1\"}", "body_encoding": "utf8", "body_truncated": true});
    body["future_field"] = json!("x");
    let run = show(&body);
    assert_eq!(run.exit, Exit::Done);
    for expected in [
        "request:        POST /v1/contacts\n",
        "decided_at:     2030-01-01T01:00:00Z\n",
        &format!("decided_by:     key Ops ({ID2})\n"),
        "result:         the origin answered 201\n",
        "future_field:   x\n",
        "headers: -\n",
        "body (31 bytes, UTF-8 text):\n  line one\n  line two\n\n  evil \\u{1b}[2J\n",
        "origin's body (UTF-8 text, truncated to the first 64 KiB):\n  {\"id\":\"c_1\"}\n",
    ] {
        assert!(
            run.out.contains(expected),
            "missing {expected:?} in\n{}",
            run.out
        );
    }
    assert!(!run.out.contains('\u{1b}'));
    assert!(!run.out.contains('\r'));
}

#[test]
fn show_says_when_a_body_is_base64() {
    let mut body = approval(APR);
    body["body"] = json!(format!("{}AAE=", "A".repeat(80)));
    body["body_encoding"] = json!("base64");
    body["body_bytes"] = json!(62);
    let run = show(&body);
    assert_eq!(run.exit, Exit::Done);
    assert!(
        run.out.ends_with(&format!(
            "body (62 bytes, base64-encoded: not UTF-8 text):\n  {}\n  AAAAAAE=\n",
            "A".repeat(76)
        )),
        "{}",
        run.out
    );

    body["status"] = json!("approved");
    body["result"] = json!({"origin_status": 200, "body": "/w==", "body_encoding": "base64", "body_truncated": false});
    let run = show(&body);
    assert!(
        run.out
            .ends_with("origin's body (base64-encoded: not UTF-8 text):\n  /w==\n"),
        "{}",
        run.out
    );
}

#[test]
fn show_a_failed_approval_and_an_origin_that_failed() {
    let mut body = approval(APR);
    body["status"] = json!("failed");
    body["decided_at"] = json!("2030-01-01T01:00:00Z");
    body["decided_by"] = json!({"type": "root"});
    body["result"] =
        json!({"error": "key_revoked", "detail": "the key was revoked before the approval"});
    let run = show(&body);
    assert_eq!(run.exit, Exit::Done);
    assert!(run.out.contains("status:         failed\n"), "{}", run.out);
    assert!(
        run.out.contains("decided_by:     root (the admin token)\n"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains(
            "result:         not sent (key_revoked): the key was revoked before the approval\n"
        ),
        "{}",
        run.out
    );
    assert!(!run.out.contains("origin's body"));

    body["status"] = json!("approved");
    body["result"] = json!({"error": "origin_timeout", "detail": "no answer within 30 s"});
    let run = show(&body);
    assert!(
        run.out.contains(
            "result:         sent, but the origin failed (origin_timeout): no answer within 30 s\n"
        ),
        "{}",
        run.out
    );
}

#[test]
fn show_a_rejection_whose_webhook_failed() {
    let mut body = approval(APR);
    body["status"] = json!("rejected");
    body["reason"] = json!("not on a Friday");
    body["webhook"] = json!({"status": "failed", "attempts": 12, "last_attempt_at": "2030-01-02T00:00:00Z",
                             "last_error": "HTTP 500 from the webhook", "delivered_at": null});
    let run = show(&body);
    assert_eq!(run.exit, Exit::Done);
    assert!(
        run.out.contains("reason:         not on a Friday\n"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains(
            "webhook:        failed, 12 attempts, last attempt at 2030-01-02T00:00:00Z, last error: HTTP 500 from the webhook\n"
        ),
        "{}",
        run.out
    );

    body["webhook"] = json!({"status": "delivered", "attempts": 1, "last_attempt_at": "2030-01-01T01:00:01Z",
                             "last_error": null, "delivered_at": "2030-01-01T01:00:01Z"});
    let run = show(&body);
    assert!(
        run.out.contains(
            "webhook:        delivered, 1 attempt, delivered at 2030-01-01T01:00:01Z, last attempt at 2030-01-01T01:00:01Z\n"
        ),
        "{}",
        run.out
    );
}

#[test]
fn show_with_json_passes_the_body_through() {
    let body = format!(r#"{{"status":"pending","id":"{APR}","body":"x","future":[1,2]}}"#);
    let run = execute_with(
        approvals(ApprovalsCommand::Show { id: apr() }),
        true,
        vec![json_reply(200, &body)],
    );
    assert_eq!(run.exit, Exit::Done);
    assert!(
        run.out
            .starts_with("{\n  \"status\": \"pending\",\n  \"id\": "),
        "field order kept: {}",
        run.out
    );
    assert_eq!(
        serde_json::from_str::<Value>(&run.out).unwrap(),
        serde_json::from_str::<Value>(&body).unwrap()
    );
}

#[test]
fn an_empty_approval_answer_exits_3() {
    for json in [false, true] {
        let run = execute_with(
            approvals(ApprovalsCommand::Approve { id: apr() }),
            json,
            vec![Ok(Reply {
                status: 200,
                ..Reply::default()
            })],
        );
        assert_eq!(run.exit, Exit::Unreachable);
        assert!(
            run.err.contains("answered with an empty body"),
            "{}",
            run.err
        );
    }
}

#[test]
fn approve_prints_the_outcome() {
    let mut body = approval(APR);
    body["status"] = json!("approved");
    body["decided_by"] = json!({"type": "root"});
    body["result"] =
        json!({"origin_status": 201, "body": "", "body_encoding": "utf8", "body_truncated": false});
    let run = execute_with(
        approvals(ApprovalsCommand::Approve { id: apr() }),
        false,
        vec![json_reply(200, &body.to_string())],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.sent[0].path, format!("/approvals/{APR}/approve"));
    assert_eq!(run.sent[0].body, Some(json!({})));
    assert!(
        run.out.starts_with(&format!(
            "Approved {APR}: the request was sent and the origin answered 201.\n\nid:             {APR}\nstatus:         approved\n"
        )),
        "{}",
        run.out
    );
    assert!(run.out.ends_with("origin's body: (empty)\n"), "{}", run.out);

    // Approved, but the origin did not answer: still done, and said plainly.
    body["result"] = json!({"error": "origin_unreachable", "detail": "connection refused"});
    let run = execute_with(
        approvals(ApprovalsCommand::Approve { id: apr() }),
        false,
        vec![json_reply(200, &body.to_string())],
    );
    assert_eq!(run.exit, Exit::Done);
    assert!(
        run.out.starts_with(&format!(
            "Approved {APR}, but the request did not complete: sent, but the origin failed (origin_unreachable): connection refused.\n"
        )),
        "{}",
        run.out
    );
}

#[test]
fn reject_prints_the_outcome_and_the_webhook() {
    let mut body = approval(APR);
    body["status"] = json!("rejected");
    body["reason"] = json!("not on a Friday");
    body["webhook"] = json!({"status": "pending", "attempts": 0, "last_attempt_at": null, "last_error": null, "delivered_at": null});
    let reject = approvals(ApprovalsCommand::Reject {
        id: apr(),
        reason: "not on a Friday".into(),
    });
    let run = execute_with(
        reject.clone(),
        false,
        vec![json_reply(200, &body.to_string())],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.sent[0].method, request::Method::Post);
    assert_eq!(run.sent[0].path, format!("/approvals/{APR}/reject"));
    assert_eq!(run.sent[0].body, Some(json!({"reason": "not on a Friday"})));
    assert!(
        run.out.starts_with(&format!(
            "Rejected {APR}. The key's rejection webhook is told shortly.\n\n"
        )),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("webhook:        pending, 0 attempts\n"),
        "{}",
        run.out
    );

    body["webhook"] = Value::Null;
    let run = execute_with(reject, false, vec![json_reply(200, &body.to_string())]);
    assert!(
        run.out.starts_with(&format!(
            "Rejected {APR}. The key has no rejection webhook to tell.\n\n"
        )),
        "{}",
        run.out
    );
}

#[test]
fn an_approval_already_decided_is_a_refusal_naming_its_status() {
    let problem = r#"{"type":"urn:keygate:problem:approval_decided","title":"Conflict","status":409,"approval_status":"rejected","code":"approval_decided","detail":"the approval is not pending","request_id":"req_7"}"#;
    let approve = approvals(ApprovalsCommand::Approve { id: apr() });
    let run = execute_with(approve.clone(), false, vec![json_reply(409, problem)]);
    assert_eq!(run.exit, Exit::Refused);
    assert_eq!(run.exit.code(), 1);
    assert!(run.out.is_empty());
    assert_eq!(
        run.err,
        "keygate: the gateway refused (409 approval_decided): the approval is not pending\n\
         \x20 current status: rejected\n\
         \x20 hint: it is no longer pending; `keygate approvals show ID` tells who decided and when\n\
         \x20 request_id: req_7\n"
    );
    // Scripts get the problem on stdout with --json, to branch on `code` and `approval_status`.
    let run = execute_with(approve, true, vec![json_reply(409, problem)]);
    assert_eq!(run.exit, Exit::Refused);
    let printed: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(printed["approval_status"], "rejected");
}

#[test]
fn a_submitter_no_longer_allowed_is_a_refusal_naming_the_reason() {
    let problem = r#"{"type":"urn:keygate:problem:submitter_not_allowed","title":"Conflict","status":409,"approval_status":"failed","code":"submitter_not_allowed","detail":"the key that made the request may no longer make it","reason":"scope_lost","request_id":"req_8"}"#;
    let run = execute_with(
        approvals(ApprovalsCommand::Reject {
            id: apr(),
            reason: "no".into(),
        }),
        false,
        vec![json_reply(409, problem)],
    );
    assert_eq!(run.exit, Exit::Refused);
    assert!(
        run.err.starts_with(
            "keygate: the gateway refused (409 submitter_not_allowed): the key that made the request may no longer make it\n\
             \x20 current status: failed\n\
             \x20 reason: scope_lost\n"
        ),
        "{}",
        run.err
    );
    // Other refusals have no approval status: no "current status" line.
    let run = execute_with(
        approvals(ApprovalsCommand::Show { id: apr() }),
        false,
        vec![json_reply(
            404,
            r#"{"status":404,"code":"not_found","detail":"no such approval"}"#,
        )],
    );
    assert_eq!(run.exit, Exit::Refused);
    assert_eq!(
        run.err,
        "keygate: the gateway refused (404 not_found): no such approval\n"
    );
}

#[test]
fn policy_check_lists_the_plans_and_only_the_scopes_in_force() {
    let files = PolicyFiles::new("plans");
    let path = files.write(
        "plans.toml",
        &format!(
            "fine_scopes = false\ncoarse_scopes = [\"read:all\", \"admin\"]\ndefault_plan = \"free\"\n{INVOICES}\n[[resources]]\nname = \"reports\"\nkind = \"read_only\"\n\n[[plans]]\nname = \"free\"\napi_access = false\n\n[[plans]]\nname = \"pro\"\nresources = [\"invoices\"]\nlimits = {{ per_minute = 60, per_day = 10000 }}\nmax_limits = {{ per_minute = 600, per_day = 100000 }}\n\n[[plans]]\nname = \"scale\"\n"
        ),
    );
    let (exit, out, err) = run_line(&format!("policy check {path}"), &[]);
    assert_eq!(exit, Exit::Done, "{err}");
    assert_eq!(err, "");
    assert_eq!(
        out,
        format!(
            "{path}: ok (2 resources, 0 routes, 2 scopes)
scopes:
  read:all admin
plans:
  free (default): no API access
  pro: invoices; 60/minute, 10000/day (at most 600/minute, 100000/day)
  scale: invoices reports; 120/minute, 50000/day
"
        )
    );
}

// --- workspaces ------------------------------------------------------------------------

fn workspace_json(id: &str, plan: &str, source: &str) -> String {
    let set_at = match source {
        "set" => "\"2030-01-02T09:30:00Z\"",
        _ => "null",
    };
    format!(
        r#"{{"id":"{id}","plan":"{plan}","plan_source":"{source}","api_access":{},"created_at":"2030-01-01T00:00:00Z","plan_set_at":{set_at}}}"#,
        plan != "free"
    )
}

fn workspaces_page(workspaces: &[String], next: Option<&str>) -> Result<Reply, TransportError> {
    let next = next.map_or("null".to_string(), |c| format!("\"{c}\""));
    json_reply(
        200,
        &format!(
            r#"{{"workspaces":[{}],"next_cursor":{next}}}"#,
            workspaces.join(",")
        ),
    )
}

fn workspace_name(name: &str) -> crate::workspace::WorkspaceName {
    crate::workspace::WorkspaceName::parse(name).unwrap()
}

#[test]
fn workspaces_list_prints_a_table_and_the_next_cursor() {
    let list = Command::Workspaces(WorkspacesCommand::List(WorkspaceListArgs::default()));
    let replies = vec![workspaces_page(
        &[
            workspace_json("acme", "pro", "set"),
            workspace_json("team-42", "free", "default"),
        ],
        Some("1700000000000.team-42"),
    )];
    let run = execute_with(list, false, replies);
    assert_eq!((run.exit, run.err.as_str()), (Exit::Done, ""));
    assert_eq!(
        run.sent,
        vec![request::workspaces_page(
            &WorkspaceListArgs::default(),
            None
        )]
    );
    assert_eq!(
        run.out,
        "WORKSPACE  PLAN  SOURCE   API ACCESS  CREATED               PLAN SET\n\
         acme       pro   set      yes         2030-01-01T00:00:00Z  2030-01-02T09:30:00Z\n\
         team-42    free  default  no          2030-01-01T00:00:00Z  never\n\
         \nMore workspaces: add --cursor 1700000000000.team-42 (or use --all).\n"
    );
    let empty = Command::Workspaces(WorkspacesCommand::List(WorkspaceListArgs::default()));
    let run = execute_with(empty, false, vec![workspaces_page(&[], None)]);
    assert_eq!(run.out, "no workspaces\n");
}

#[test]
fn workspaces_list_all_follows_every_page() {
    let list = WorkspaceListArgs {
        limit: Some(1),
        all: true,
        ..WorkspaceListArgs::default()
    };
    let replies = vec![
        workspaces_page(&[workspace_json("acme", "pro", "set")], Some("2.acme")),
        workspaces_page(&[workspace_json("beta", "free", "default")], None),
    ];
    let command = Command::Workspaces(WorkspacesCommand::List(list.clone()));
    let run = execute_with(command.clone(), false, replies.clone());
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent
            .iter()
            .map(|r| r.url("https://gw"))
            .collect::<Vec<_>>(),
        [
            "https://gw/_keygate/v1/workspaces?limit=1",
            "https://gw/_keygate/v1/workspaces?limit=1&cursor=2.acme"
        ]
    );
    assert_eq!(run.out.lines().count(), 3, "{}", run.out);
    assert!(!run.out.contains("More workspaces"));

    let run = execute_with(command, true, replies);
    let all: Value = serde_json::from_str(&run.out).unwrap();
    let ids: Vec<&str> = all["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);
    assert_eq!(all.as_object().unwrap().len(), 1, "only `workspaces`");
}

#[test]
fn workspaces_show_prints_the_workspace_or_its_json() {
    let show = Command::Workspaces(WorkspacesCommand::Show {
        workspace: workspace_name("acme"),
    });
    let body = workspace_json("acme", "free", "default");
    let run = execute_with(show.clone(), false, vec![json_reply(200, &body)]);
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.sent[0].path, "/workspaces/acme");
    assert_eq!(
        run.out,
        "id:          acme\n\
         plan:        free (the policy's default)\n\
         api_access:  no\n\
         created_at:  2030-01-01T00:00:00Z\n\
         plan_set_at: never\n"
    );
    let run = execute_with(show, true, vec![json_reply(200, &body)]);
    assert_eq!(run.out, output::pretty_json(&body) + "\n");
}

#[test]
fn set_plan_says_how_far_the_change_reached() {
    let set = Command::Workspaces(WorkspacesCommand::SetPlan {
        workspace: workspace_name("acme"),
        plan: "pro".into(),
    });
    let answer = |pending: u64| {
        let workspace = workspace_json("acme", "pro", "set");
        let body = workspace.trim_end_matches('}').to_string();
        json_reply(
            200,
            &format!(r#"{body},"keys_updated":3,"keys_pending":{pending}}}"#),
        )
    };
    let run = execute_with(set.clone(), false, vec![answer(0)]);
    assert_eq!((run.exit, run.err.as_str()), (Exit::Done, ""));
    assert_eq!(run.sent[0].method, request::Method::Put);
    assert_eq!(run.sent[0].body, Some(json!({"plan": "pro"})));
    assert!(
        run.out.starts_with(
            "Workspace acme is on plan pro.\nEvery key of the workspace has it (3 updated).\n\nid:"
        ),
        "{}",
        run.out
    );
    assert!(run.out.contains("\nplan:        pro\n"), "{}", run.out);
    assert!(!run.out.contains("keys_updated"), "{}", run.out);
    let run = execute_with(set, false, vec![answer(2)]);
    assert!(
        run.out.contains(
            "3 of its keys have it; 2 are still being told (keygate retries until each has it).\n"
        ),
        "{}",
        run.out
    );
}

#[test]
fn workspace_refusals_are_printed_like_every_other() {
    let set = Command::Workspaces(WorkspacesCommand::SetPlan {
        workspace: workspace_name("acme"),
        plan: "gold".into(),
    });
    let invalid = r#"{"type":"urn:keygate:problem:invalid_request","title":"Bad Request","status":400,"code":"invalid_request","detail":"1 field is invalid; see `errors`","request_id":"req_1","errors":[{"field":"plan","message":"no plan named \"gold\"; plans: free, pro"}]}"#;
    let run = execute_with(set.clone(), false, vec![json_reply(400, invalid)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.out.is_empty());
    assert_eq!(
        run.err,
        "keygate: the gateway refused (400 invalid_request): 1 field is invalid; see `errors`\n  \
         plan: no plan named \"gold\"; plans: free, pro\n  request_id: req_1\n"
    );

    let root_only = r#"{"status":403,"code":"root_token_required","detail":"only the deployment's root token may call this admin route","request_id":"req_2"}"#;
    let run = execute_with(set.clone(), true, vec![json_reply(403, root_only)]);
    assert_eq!(run.exit, Exit::Refused);
    assert_eq!(run.out, output::pretty_json(root_only) + "\n");
    assert!(run.err.contains("(403 root_token_required)"), "{}", run.err);
    assert!(run.err.contains("hint: only the deployment's root token"));

    let show = Command::Workspaces(WorkspacesCommand::Show {
        workspace: workspace_name("elsewhere"),
    });
    let not_found =
        r#"{"status":404,"code":"not_found","detail":"no such resource","request_id":"req_3"}"#;
    let run = execute_with(show, false, vec![json_reply(404, not_found)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run
        .err
        .starts_with("keygate: the gateway refused (404 not_found)"));
}

#[test]
fn a_plan_refusal_names_the_plan_and_what_it_lacks() {
    let create = Command::Keys(KeysCommand::Create(NewKeyArgs {
        name: "x".into(),
        scopes: vec!["contacts:read".into()],
        workspace: Some("acme".into()),
        ..NewKeyArgs::default()
    }));
    let problem = r#"{"status":403,"code":"plan_required","detail":"the workspace's plan, `free`, does not include API access; the `pro` plan does: upgrade the workspace first","plan":"free","required_plan":"pro","request_id":"req_4"}"#;
    let run = execute_with(create, false, vec![json_reply(403, problem)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.err.contains("\n  plan: free\n"), "{}", run.err);
    assert!(run.err.contains("\n  required_plan: pro\n"), "{}", run.err);
    assert!(
        run.err
            .contains("keygate workspaces set-plan WORKSPACE PLAN"),
        "{}",
        run.err
    );
}

#[test]
fn workspace_names_are_checked_before_any_request() {
    for line in ["workspaces show .acme", "workspaces set-plan a/b pro"] {
        let (exit, out, err) = run_line(line, &[("KEYGATE_TOKEN", "t")]);
        assert_eq!(exit, Exit::Usage, "{line}");
        assert!(out.is_empty());
        assert!(
            err.contains("WORKSPACE must be 1 to 64 characters"),
            "{line}: {err}"
        );
    }
}

// --- sessions --------------------------------------------------------------------------

const SES: &str = "ses_4Tq8Ln2XcR7tBv0ZsK1wYe";
const TOKEN: &str = "kgs_0123456789ABCDEFGHIJabcdefghijklmnopqrstu";

fn parsed_line(line: &str) -> Command {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    args::parse(&args).expect("parses").command
}

fn session_json() -> String {
    format!(
        r#"{{"id":"{SES}","workspace":"acme","member":{{"id":"user_42","name":"Ada"}},"permissions":["keys:manage","approvals:review"],"created_at":"2030-01-01T00:00:00Z","expires_at":"2030-01-01T01:00:00Z"}}"#
    )
}

#[test]
fn sessions_create_mints_with_the_body_the_gateway_takes_and_prints_token_and_link_once() {
    let command = parsed_line(
        "sessions create --workspace acme --member-id user_42 --member-name Ada --permission keys:manage --permission approvals:review --ttl 600",
    );
    let minted = session_json().replacen(
        "{",
        &format!(
            r#"{{"token":"{TOKEN}","url":"https://gw.example/_keygate/portal/#session={TOKEN}","#
        ),
        1,
    );
    let run = execute_with(command, false, vec![json_reply(201, &minted)]);
    assert_eq!(run.exit, Exit::Done, "{}", run.err);
    let sent = &run.sent[0];
    assert_eq!(
        (sent.method, sent.path.as_str()),
        (request::Method::Post, "/portal/sessions")
    );
    assert_eq!(
        sent.body,
        Some(json!({
            "workspace": "acme",
            "member": {"id": "user_42", "name": "Ada"},
            "permissions": ["keys:manage", "approvals:review"],
            "ttl_seconds": 600,
        }))
    );
    assert!(
        run.out.starts_with(&format!(
            "Minted session {SES} for Ada (user_42) in acme.\n"
        )),
        "{}",
        run.out
    );
    assert_eq!(
        run.out.matches(&format!("\n    {TOKEN}\n")).count(),
        1,
        "{}",
        run.out
    );
    assert!(run.out.contains(&format!(
        "    https://gw.example/_keygate/portal/#session={TOKEN}\n"
    )));
    assert!(run.out.contains("shown once"));
    assert!(run
        .out
        .contains("permissions: keys:manage,approvals:review\n"));
    // Without --ttl the gateway's default applies.
    let command = parsed_line(
        "sessions create --workspace acme --member-id u --member-name N --permission keys:read",
    );
    let run = execute_with(command, false, vec![json_reply(201, &session_json())]);
    assert_eq!(
        run.sent[0].body.as_ref().and_then(|b| b.get("ttl_seconds")),
        None
    );
}

#[test]
fn sessions_arguments_are_checked_before_any_request() {
    for (line, message) in [
        ("sessions create --workspace acme --member-id u --member-name N", "--permission"),
        ("sessions create --workspace acme --member-id u --member-name N --permission keys:write", "`keys:write` is not one of keys:read, keys:manage, approvals:review"),
        ("sessions create --workspace acme --member-id u --member-name N --permission keys:read --ttl 59", "--ttl: 59 is out of range"),
        ("sessions create --workspace acme --member-id u --member-name N --permission keys:read --ttl 43201", "--ttl: 43201 is out of range"),
        ("sessions revoke ses_short", "ID must be `ses_`"),
        ("sessions list", "--workspace"),
    ] {
        let (exit, out, err) = run_line(line, &[("KEYGATE_TOKEN", "t")]);
        assert_eq!(exit, Exit::Usage, "{line}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(message), "{line}: {err}");
    }
    let long = "x".repeat(201);
    let args: Vec<String> = [
        "sessions",
        "create",
        "--workspace",
        "a",
        "--member-id",
        "u",
        "--member-name",
        &long,
        "--permission",
        "keys:read",
    ]
    .map(String::from)
    .to_vec();
    let err = args::parse(&args).expect_err("refused").to_string();
    assert!(
        err.contains("--member-name: 201 characters is too long; use at most 200"),
        "{err}"
    );
}

#[test]
fn sessions_list_and_revoke() {
    let page = format!(
        r#"{{"sessions":[{}],"next_cursor":"1893456000000.{SES}"}}"#,
        session_json()
    );
    let run = execute_with(
        parsed_line("sessions list --workspace acme --limit 5"),
        false,
        vec![json_reply(200, &page)],
    );
    assert_eq!(run.exit, Exit::Done, "{}", run.err);
    assert_eq!(
        run.sent[0].url("https://gw.example"),
        "https://gw.example/_keygate/v1/portal/sessions?workspace=acme&limit=5"
    );
    assert!(run.out.starts_with("ID "), "{}", run.out);
    assert!(
        run.out.contains(SES) && run.out.contains("Ada (user_42)"),
        "{}",
        run.out
    );
    assert!(run
        .out
        .contains(&format!("More sessions: add --cursor 1893456000000.{SES}.")));

    let run = execute_with(
        parsed_line(&format!("sessions revoke {SES}")),
        false,
        vec![Ok(Reply {
            status: 204,
            ..Reply::default()
        })],
    );
    assert_eq!(run.exit, Exit::Done, "{}", run.err);
    assert_eq!(
        (run.sent[0].method, run.sent[0].path.clone()),
        (request::Method::Delete, format!("/portal/sessions/{SES}"))
    );
    assert_eq!(run.out, format!("Revoked session {SES}.\n"));

    let refused = r#"{"type":"urn:keygate:problem:root_token_required","title":"Forbidden","status":403,"code":"root_token_required","detail":"only the root token may mint, list or revoke portal sessions","request_id":"req_1"}"#;
    let run = execute_with(
        parsed_line(&format!("sessions revoke {SES}")),
        false,
        vec![json_reply(403, refused)],
    );
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.err.contains("root_token_required"), "{}", run.err);
}
