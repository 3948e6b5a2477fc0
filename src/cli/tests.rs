//! The CLI's pipeline with a fake transport: what is sent, what is printed, how it exits.

use super::*;
use crate::cli::args::{EditArgs, NewKeyArgs};
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

    let missing = "no admin token: set KEYGATE_TOKEN (or pass --token) to the root token or a key with api_keys grants";
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
        err.starts_with("keygate: --limit: 0 is out of range"),
        "{err}"
    );
    assert!(err.contains("\nusage: keygate keys list"), "{err}");
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
    let (exit, out, _) = run_line("--help", &[]);
    assert_eq!(exit, Exit::Done);
    for command in [
        "keys create",
        "keys list",
        "keys show",
        "keys edit",
        "keys revoke",
        "keys activate",
        "keys rotate",
        "keys delete",
        "policy show",
        "policy check",
    ] {
        assert!(out.contains(command), "{command}");
    }
}

#[test]
fn policy_check_keeps_its_output_and_exit_codes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/demo.toml");
    let (exit, out, _) = run_line(&format!("policy check {path}"), &[]);
    assert_eq!(exit, Exit::Done);
    assert_eq!(
        out,
        format!("{path}: ok (9 resources, 16 routes, 27 scopes)\n")
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

// --- execute: requests, output and exits -----------------------------------------------

#[test]
fn show_prints_details_with_usage() {
    let body = key_json(ID, "Zapier").replace(
        r#""rejection_webhook":null}"#,
        r#""rejection_webhook":null,"usage":{"last_24h":1,"last_7d":2,"last_30d":3}}"#,
    );
    let run = execute_with(
        Command::Keys(KeysCommand::Show(id())),
        false,
        vec![json_reply(200, &body)],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent,
        vec![request::keys_request(&KeysCommand::Show(id()))]
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
        Command::Keys(KeysCommand::Show(id())),
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
    let run = execute_with(Command::PolicyShow, false, vec![Ok(reply)]);
    assert_eq!(run.exit, Exit::Refused);
    assert!(run.err.contains("retry after: 12 s"), "{}", run.err);
}

#[test]
fn no_answer_exits_3_naming_the_endpoint() {
    let run = execute_with(
        Command::PolicyShow,
        false,
        vec![Err(TransportError::Timeout)],
    );
    assert_eq!(run.exit, Exit::Unreachable);
    assert_eq!(
        run.err,
        "keygate: no answer from the gateway at https://gw.example within 30 s\n"
    );

    let run = execute_with(
        Command::PolicyShow,
        false,
        vec![Err(TransportError::Failed("Connection refused".into()))],
    );
    assert_eq!(run.exit.code(), 3);
    assert_eq!(
        run.err,
        "keygate: cannot reach the gateway at https://gw.example: Connection refused\n"
    );

    let run = execute_with(
        Command::PolicyShow,
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
    let run = execute_with(Command::PolicyShow, false, vec![html]);
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
fn lifecycle_commands_say_what_happened() {
    let body = key_json(ID, "Zapier");
    for (command, said) in [
        (KeysCommand::Revoke(id()), "Revoked key"),
        (KeysCommand::Activate(id()), "Activated key"),
        (
            KeysCommand::Edit(
                id(),
                EditArgs {
                    name: Some("n".into()),
                    ..EditArgs::default()
                },
            ),
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
        Command::Keys(KeysCommand::Delete(id())),
        false,
        vec![no_content.clone()],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.out, format!("Deleted key {ID}.\n"));
    let run = execute_with(
        Command::Keys(KeysCommand::Delete(id())),
        true,
        vec![no_content],
    );
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(run.out, "");
}

#[test]
fn an_empty_success_where_a_key_was_expected_exits_3() {
    let run = execute_with(
        Command::Keys(KeysCommand::Show(id())),
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
    let list = Command::Keys(KeysCommand::List(ListArgs::default()));
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
    let list = ListArgs {
        all: true,
        status: Some(crate::authority::Status::Active),
        limit: Some(2),
        ..ListArgs::default()
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
    let list = Command::Keys(KeysCommand::List(ListArgs {
        all: true,
        ..ListArgs::default()
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
    let list = Command::Keys(KeysCommand::List(ListArgs::default()));
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
    let run = execute_with(Command::PolicyShow, false, vec![json_reply(200, &policy)]);
    assert_eq!(run.exit, Exit::Done);
    assert_eq!(
        run.sent[0].url("https://gw"),
        "https://gw/_keygate/v1/policy"
    );
    assert!(run.out.contains("key_prefix:"), "{}", run.out);
    assert!(run.out.contains("\nRESOURCE "));
    assert!(run.out.contains("\nMETHOD "));
    assert!(run.out.contains("scopes (27):"));
    let run = execute_with(Command::PolicyShow, true, vec![json_reply(200, &policy)]);
    assert_eq!(
        serde_json::from_str::<Value>(&run.out).unwrap(),
        serde_json::from_str::<Value>(&policy).unwrap()
    );
}

#[test]
fn json_problem_also_goes_to_stdout() {
    let problem = r#"{"status":404,"code":"not_found","detail":"no such resource"}"#;
    let run = execute_with(
        Command::Keys(KeysCommand::Show(id())),
        true,
        vec![json_reply(404, problem)],
    );
    assert_eq!(run.exit, Exit::Refused);
    assert_eq!(
        serde_json::from_str::<Value>(&run.out).unwrap(),
        json!({"status": 404, "code": "not_found", "detail": "no such resource"})
    );
}
