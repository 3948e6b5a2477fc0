//! The `keygate` binary, black box, against a tiny HTTP server on 127.0.0.1 that answers
//! canned JSON and records what it received. Every wait has a deadline: a broken CLI fails
//! a test, it never hangs one.

use keygate::policy::Policy;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const TOKEN: &str = "root-token-for-cli-tests-0123456789";
const ID: &str = "key_5C6oug3qxDqDYRHASGJgAo";
const DEADLINE: Duration = Duration::from_secs(20);

/// One request as the server saw it.
#[derive(Debug)]
struct Received {
    request_line: String,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Server {
    url: String,
    received: Receiver<Received>,
}

impl Server {
    /// The next request, or a panic after a while.
    fn next(&self) -> Received {
        self.received
            .recv_timeout(DEADLINE)
            .expect("the CLI sent no request")
    }

    fn nothing_received(&self) -> bool {
        self.received
            .recv_timeout(Duration::from_millis(300))
            .is_err()
    }
}

/// A raw HTTP/1.1 response that closes the connection.
fn response(status: u16, content_type: &str, body: &str, extra: &[(&str, &str)]) -> String {
    let mut text = format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        text.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in extra {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

fn json_response(status: u16, body: &Value) -> String {
    let kind = if status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    response(status, kind, &body.to_string(), &[])
}

/// Serves `responses` in order, one connection each, then stops. Gives up accepting after
/// the deadline so the thread always ends.
fn serve(responses: Vec<String>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let (sender, received) = mpsc::channel();
    thread::spawn(move || {
        let started = Instant::now();
        for canned in responses {
            let mut stream = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(_) if started.elapsed() < DEADLINE => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
            if let Some(request) = read_request(&stream) {
                let _ = sender.send(request);
            }
            let _ = stream.write_all(canned.as_bytes());
            let _ = stream.flush();
        }
    });
    Server { url, received }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` and only the environment given (no KEYGATE_* leaks in).
fn keygate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keygate"));
    command
        .args(args)
        .env_remove("KEYGATE_TOKEN")
        .env_remove("KEYGATE_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run the keygate binary");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for keygate") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("keygate {args:?} did not finish within {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let output = Output {
        code: status.code().expect("exited, not killed"),
        stdout,
        stderr,
    };
    assert!(
        !output.stdout.contains(TOKEN) && !output.stderr.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        output.stdout,
        output.stderr
    );
    output
}

fn with_token(server: &Server) -> Vec<(&str, &str)> {
    vec![
        ("KEYGATE_TOKEN", TOKEN),
        ("KEYGATE_ENDPOINT", server.url.as_str()),
    ]
}

fn key_object(id: &str, name: &str) -> Value {
    json!({
        "id": id, "name": name, "hint": "kg_live_…abcd", "workspace": "acme",
        "scopes": ["contacts:read"], "status": "active", "environment": "live",
        "created_at": "2030-01-01T00:00:00Z", "expires_at": null, "revoked_at": null,
        "last_used_at": null, "limits": {"per_minute": 120, "per_day": 50000, "source": "policy"},
        "metadata": {}, "rejection_webhook": null
    })
}

#[test]
fn sends_the_token_as_a_bearer_and_prints_the_key() {
    let mut body = key_object(ID, "Zapier");
    body["usage"] = json!({"last_24h": 4, "last_7d": 9, "last_30d": 30});
    let server = serve(vec![json_response(200, &body)]);
    let out = keygate(&["keys", "show", ID], &with_token(&server));
    let request = server.next();
    assert_eq!(
        request.request_line,
        format!("GET /_keygate/v1/keys/{ID} HTTP/1.1")
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("name:              Zapier\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("usage.last_30d:    30\n"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn the_token_flag_and_endpoint_flag_win_over_the_environment() {
    let server = serve(vec![json_response(
        200,
        &json!({"keys": [], "next_cursor": null}),
    )]);
    let env = [
        ("KEYGATE_TOKEN", "other-token"),
        ("KEYGATE_ENDPOINT", "http://127.0.0.1:9"),
    ];
    let out = keygate(
        &["--endpoint", &server.url, "--token", TOKEN, "keys", "list"],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        server.next().header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(out.stdout, "no keys\n");
}

#[test]
fn json_prints_the_gateways_body() {
    let body = json!({"keys": [key_object(ID, "Zapier")], "next_cursor": "c2"});
    let server = serve(vec![json_response(200, &body)]);
    let out = keygate(
        &[
            "--json", "keys", "list", "--status", "active", "--limit", "5",
        ],
        &with_token(&server),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        server.next().request_line,
        "GET /_keygate/v1/keys?status=active&limit=5 HTTP/1.1"
    );
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), body);
    assert!(out.stdout.starts_with("{\n  \""), "pretty: {}", out.stdout);
}

#[test]
fn list_all_follows_the_cursor() {
    let second = "key_000000000000000000000B";
    let server = serve(vec![
        json_response(
            200,
            &json!({"keys": [key_object(ID, "one")], "next_cursor": "page 2"}),
        ),
        json_response(
            200,
            &json!({"keys": [key_object(second, "two")], "next_cursor": null}),
        ),
    ]);
    let out = keygate(&["keys", "list", "--all", "--json"], &with_token(&server));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.next().request_line, "GET /_keygate/v1/keys HTTP/1.1");
    assert_eq!(
        server.next().request_line,
        "GET /_keygate/v1/keys?cursor=page%202 HTTP/1.1"
    );
    let all: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        all,
        json!({"keys": [key_object(ID, "one"), key_object(second, "two")]})
    );
}

#[test]
fn create_sends_the_body_and_shows_the_secret_once() {
    let mut body = key_object(ID, "Zapier");
    body["key"] = json!("kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv");
    let server = serve(vec![json_response(201, &body)]);
    let out = keygate(
        &[
            "keys",
            "create",
            "--name",
            "Zapier",
            "--scope",
            "contacts:read",
            "--scope",
            "email:send",
            "--per-minute",
            "30",
            "--metadata",
            r#"{"team":"growth"}"#,
        ],
        &with_token(&server),
    );
    let request = server.next();
    assert_eq!(request.request_line, "POST /_keygate/v1/keys HTTP/1.1");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"name": "Zapier", "scopes": ["contacts:read", "email:send"], "limits": {"per_minute": 30}, "metadata": {"team": "growth"}})
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("\n    kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("shown once — store it now"));
}

#[test]
fn edit_sends_a_patch_with_nulls() {
    let server = serve(vec![json_response(200, &key_object(ID, "Renamed"))]);
    let out = keygate(
        &[
            "keys",
            "edit",
            ID,
            "--name",
            "Renamed",
            "--no-expiry",
            "--default-limits",
        ],
        &with_token(&server),
    );
    let request = server.next();
    assert_eq!(
        request.request_line,
        format!("PATCH /_keygate/v1/keys/{ID} HTTP/1.1")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"name": "Renamed", "expires_at": null, "limits": null})
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with(&format!("Updated key {ID}.\n")));
}

#[test]
fn delete_accepts_204() {
    let server = serve(vec![response(204, "", "", &[])]);
    let out = keygate(&["keys", "delete", ID], &with_token(&server));
    assert_eq!(
        server.next().request_line,
        format!("DELETE /_keygate/v1/keys/{ID} HTTP/1.1")
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("Deleted key {ID}.\n"));
}

#[test]
fn a_refusal_prints_the_problem_and_exits_1() {
    let problem = json!({
        "type": "urn:keygate:problem:invalid_request", "title": "Bad Request", "status": 400,
        "code": "invalid_request", "detail": "2 fields are invalid; see `errors`", "request_id": "req_42",
        "errors": [
            {"field": "expires_at", "message": "must be in the future"},
            {"field": "rejection_webhook", "message": "must be an https:// URL"}
        ]
    });
    let server = serve(vec![json_response(400, &problem)]);
    let out = keygate(
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--scope",
            "contacts:read",
            "--expires-at",
            "2001-01-01T00:00:00Z",
            "--webhook",
            "http://example.com/h",
        ],
        &with_token(&server),
    );
    server.next();
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "keygate: the gateway refused (400 invalid_request): 2 fields are invalid; see `errors`\n\
         \x20 expires_at: must be in the future\n\
         \x20 rejection_webhook: must be an https:// URL\n\
         \x20 request_id: req_42\n"
    );
}

#[test]
fn unknown_scopes_list_both_sides() {
    let problem = json!({
        "status": 400, "code": "unknown_scopes", "detail": "unknown scope(s): `contacts:admin`; see `valid_scopes`",
        "unknown_scopes": ["contacts:admin"], "valid_scopes": ["contacts:read", "admin"], "request_id": "r"
    });
    let server = serve(vec![json_response(400, &problem)]);
    let out = keygate(
        &["keys", "create", "--name", "x", "--scope", "contacts:admin"],
        &with_token(&server),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("\n  unknown scopes: contacts:admin\n  valid scopes: contacts:read, admin\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_wrong_token_is_a_refusal_with_a_hint() {
    let problem = json!({"status": 401, "code": "invalid_admin_token", "detail": "send the root token as `Authorization: Bearer <token>`"});
    let server = serve(vec![json_response(401, &problem)]);
    let out = keygate(&["policy", "show"], &with_token(&server));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("(401 invalid_admin_token)"));
    assert!(out
        .stderr
        .contains("hint: the token from --token or $KEYGATE_TOKEN was not accepted"));
}

#[test]
fn an_unreachable_endpoint_exits_3_and_names_it() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = keygate(
        &["--endpoint", &endpoint, "keys", "list"],
        &[("KEYGATE_TOKEN", TOKEN)],
    );
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.starts_with(&format!(
            "keygate: cannot reach the gateway at {endpoint}: "
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn an_html_answer_exits_3() {
    let server = serve(vec![response(
        502,
        "text/html",
        "<html><h1>Bad Gateway</h1></html>",
        &[],
    )]);
    let out = keygate(&["policy", "show"], &with_token(&server));
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("answered 502 with `text/html`"),
        "{}",
        out.stderr
    );
}

#[test]
fn redirects_are_not_followed_so_the_token_stays_put() {
    let elsewhere = serve(vec![json_response(200, &json!({}))]);
    let server = serve(vec![response(
        302,
        "",
        "",
        &[("Location", &format!("{}/_keygate/v1/policy", elsewhere.url))],
    )]);
    let out = keygate(&["policy", "show"], &with_token(&server));
    server.next();
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("redirecting to"), "{}", out.stderr);
    assert!(elsewhere.nothing_received(), "the redirect was followed");
}

#[test]
fn a_missing_token_exits_2_without_a_request() {
    let server = serve(vec![json_response(
        200,
        &json!({"keys": [], "next_cursor": null}),
    )]);
    let out = keygate(
        &["keys", "list"],
        &[("KEYGATE_ENDPOINT", server.url.as_str())],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("keygate: no admin token: set KEYGATE_TOKEN"),
        "{}",
        out.stderr
    );
    assert!(server.nothing_received());
}

#[test]
fn a_bad_number_exits_2_without_a_request() {
    let server = serve(vec![json_response(200, &json!({}))]);
    let out = keygate(
        &["keys", "rotate", ID, "--grace", "soon"],
        &with_token(&server),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.starts_with("error: --grace: `soon` is not a whole number from 0 to 2592000\n\nUsage: keygate keys rotate"), "{}", out.stderr);
    assert!(server.nothing_received());
}

#[test]
fn policy_check_and_diff_exit_codes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/demo.toml");
    let out = keygate(&["policy", "check", path], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "{path}: ok (9 resources, 16 routes, 27 scopes)\nscopes:\n  contacts:read "
        )),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
    let out = keygate(&["policy", "check"], &[]);
    assert_eq!(out.code, 2);

    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/seed-004-coarse.toml");
    let out = keygate(&["policy", "diff", path, path], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = keygate(&["policy", "diff", path, seed], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("  key_prefix: \"kg\" → \"sk\": every existing key stops working"),
        "{}",
        out.stdout
    );
    let out = keygate(&["policy", "diff", path], &[]);
    assert_eq!(out.code, 2);
}

#[test]
fn policy_compile_prints_what_the_worker_reads_or_refuses_as_check_does() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/demo.toml");
    let out = keygate(&["policy", "compile", path], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout.starts_with(r#"{"keygate_policy":1,"policy":{"#),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 1);
    let policy = Policy::from_compiled(out.stdout.trim_end()).expect("the compiled form loads");
    let file = Policy::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(format!("{policy:?}"), format!("{file:?}"));

    // What `policy check` refuses (here a route no request reaches, which still loads) is
    // refused with the same words, and nothing is printed to compile from.
    let dir = std::env::temp_dir().join(format!("keygate-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shadowed = dir.join("shadowed.toml");
    std::fs::write(
        &shadowed,
        "[[resources]]\nname = \"a\"\nkind = \"read_write\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/a/{id}\"\nresource = \"a\"\naction = \"read\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/a/b\"\nresource = \"a\"\naction = \"write\"\n",
    )
    .unwrap();
    let shadowed = shadowed.to_str().unwrap();
    let check = keygate(&["policy", "check", shadowed], &[]);
    let compile = keygate(&["policy", "compile", shadowed], &[]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((check.code, compile.code), (1, 1));
    assert!(
        compile.stderr.starts_with(&format!(
            "{shadowed}: invalid policy\n  routes[1] (line 9): error: "
        )),
        "{}",
        compile.stderr
    );
    assert_eq!(compile.stderr, check.stderr);
    assert_eq!(compile.stdout, "");
    assert_eq!(
        keygate(&["policy", "compile", "/nonexistent.toml"], &[]).code,
        1
    );
}

// --- approvals ---------------------------------------------------------------------------

const APR: &str = "apr_3x9QbdVftBjciVLa2q1ye2";

fn approval_object(id: &str, status: &str) -> Value {
    json!({
        "id": id, "status": status, "workspace": "acme",
        "key_id": ID, "key_name": "Claude agent", "environment": "live",
        "required_scope": "contacts:write", "method": "POST", "path": "/v1/contacts",
        "query": null, "headers": {"content-type": "application/json"},
        "body": "{\"name\":\"Ada\"}", "body_encoding": "utf8", "body_bytes": 14,
        "created_at": "2030-01-01T00:00:00Z", "expires_at": "2030-01-08T00:00:00Z",
        "decided_at": null, "decided_by": null, "reason": null, "result": null, "webhook": null
    })
}

#[test]
fn approvals_list_sends_the_filters_and_prints_a_table() {
    let mut item = approval_object(APR, "pending");
    item.as_object_mut().unwrap().remove("headers");
    item.as_object_mut().unwrap().remove("body");
    let server = serve(vec![json_response(
        200,
        &json!({"approvals": [item], "next_cursor": "c 2"}),
    )]);
    let out = keygate(
        &[
            "approvals",
            "list",
            "--status",
            "pending",
            "--workspace",
            "acme",
            "--limit",
            "10",
        ],
        &with_token(&server),
    );
    let request = server.next();
    assert_eq!(
        request.request_line,
        "GET /_keygate/v1/approvals?status=pending&workspace=acme&limit=10 HTTP/1.1"
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("ID  "), "{}", out.stdout);
    assert!(lines[0].contains("STATUS"));
    assert!(
        lines[1].starts_with(&format!(
            "{APR}  pending  POST    /v1/contacts  Claude agent  acme"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("\nMore approvals: add --cursor c 2 (or use --all).\n"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn approvals_list_all_follows_the_cursor() {
    let second = "apr_0000000000000000000002";
    let server = serve(vec![
        json_response(
            200,
            &json!({"approvals": [approval_object(APR, "pending")], "next_cursor": "p2"}),
        ),
        json_response(
            200,
            &json!({"approvals": [approval_object(second, "expired")], "next_cursor": null}),
        ),
    ]);
    let out = keygate(
        &["--json", "approvals", "list", "--all"],
        &with_token(&server),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        server.next().request_line,
        "GET /_keygate/v1/approvals HTTP/1.1"
    );
    assert_eq!(
        server.next().request_line,
        "GET /_keygate/v1/approvals?cursor=p2 HTTP/1.1"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"approvals": [approval_object(APR, "pending"), approval_object(second, "expired")]})
    );
}

#[test]
fn approvals_show_prints_the_stored_request() {
    let mut body = approval_object(APR, "rejected");
    body["query"] = json!("dry=1");
    body["body"] = json!("AAEC");
    body["body_encoding"] = json!("base64");
    body["body_bytes"] = json!(3);
    body["reason"] = json!("not on a Friday");
    body["decided_by"] = json!({"type": "root"});
    body["webhook"] = json!({"status": "failed", "attempts": 3, "last_attempt_at": "2030-01-02T00:00:00Z",
                             "last_error": "timed out", "delivered_at": null});
    let server = serve(vec![json_response(200, &body)]);
    let out = keygate(&["approvals", "show", APR], &with_token(&server));
    assert_eq!(
        server.next().request_line,
        format!("GET /_keygate/v1/approvals/{APR} HTTP/1.1")
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for expected in [
        format!("id:             {APR}\nstatus:         rejected\n"),
        format!("key:            Claude agent ({ID})\n"),
        "request:        POST /v1/contacts?dry=1\n".to_string(),
        "decided_by:     root (the admin token)\n".to_string(),
        "reason:         not on a Friday\n".to_string(),
        "webhook:        failed, 3 attempts, last attempt at 2030-01-02T00:00:00Z, last error: timed out\n".to_string(),
        "headers:\n  content-type: application/json\n".to_string(),
        "body (3 bytes, base64-encoded: not UTF-8 text):\n  AAEC\n".to_string(),
    ] {
        assert!(out.stdout.contains(&expected), "missing {expected:?} in\n{}", out.stdout);
    }
}

#[test]
fn approvals_show_refuses_a_bad_id_without_a_request() {
    let server = serve(vec![json_response(200, &json!({}))]);
    let out = keygate(&["approvals", "show", ID], &with_token(&server));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(
            "error: ID must be `apr_` followed by 22 letters or digits, as `keygate approvals list` shows it\n\nUsage: keygate approvals show [OPTIONS] <ID>\n"
        ),
        "{}",
        out.stderr
    );
    assert!(server.nothing_received());
}

#[test]
fn approve_posts_an_empty_object_and_prints_the_origins_status() {
    let mut body = approval_object(APR, "approved");
    body["decided_at"] = json!("2030-01-01T01:00:00Z");
    body["decided_by"] = json!({"type": "root"});
    body["result"] = json!({"origin_status": 201, "body": "{\"id\":\"c_1\"}", "body_encoding": "utf8", "body_truncated": false});
    let server = serve(vec![json_response(200, &body)]);
    let out = keygate(&["approvals", "approve", APR], &with_token(&server));
    let request = server.next();
    assert_eq!(
        request.request_line,
        format!("POST /_keygate/v1/approvals/{APR}/approve HTTP/1.1")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({})
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "Approved {APR}: the request was sent and the origin answered 201.\n\n"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("origin's body (UTF-8 text):\n  {\"id\":\"c_1\"}\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn approve_409_is_a_refusal_with_the_current_status() {
    let problem = json!({
        "type": "urn:keygate:problem:approval_decided", "title": "Conflict", "status": 409, "approval_status": "expired",
        "code": "approval_decided", "detail": "the approval is not pending", "request_id": "req_9"
    });
    let server = serve(vec![json_response(409, &problem)]);
    let out = keygate(&["approvals", "approve", APR], &with_token(&server));
    server.next();
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with(
            "keygate: the gateway refused (409 approval_decided): the approval is not pending\n  current status: expired\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with("  request_id: req_9\n"),
        "{}",
        out.stderr
    );

    let problem = json!({
        "status": 409, "approval_status": "failed", "code": "submitter_not_allowed",
        "detail": "the key that made the request may no longer make it", "reason": "key_expired"
    });
    let server = serve(vec![json_response(409, &problem)]);
    let out = keygate(
        &["--json", "approvals", "approve", APR],
        &with_token(&server),
    );
    server.next();
    assert_eq!(out.code, 1);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), problem);
    assert!(
        out.stderr
            .contains("\n  current status: failed\n  reason: key_expired\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn reject_sends_the_reason_and_prints_the_outcome() {
    let mut body = approval_object(APR, "rejected");
    body["reason"] = json!("not on a Friday");
    body["webhook"] = json!({"status": "pending", "attempts": 0, "last_attempt_at": null, "last_error": null, "delivered_at": null});
    let server = serve(vec![json_response(200, &body)]);
    let out = keygate(
        &["approvals", "reject", APR, "--reason", " not on a Friday "],
        &with_token(&server),
    );
    let request = server.next();
    assert_eq!(
        request.request_line,
        format!("POST /_keygate/v1/approvals/{APR}/reject HTTP/1.1")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"reason": "not on a Friday"})
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "Rejected {APR}. The key's rejection webhook is told shortly.\n\n"
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("reason:         not on a Friday\n"));
}

#[test]
fn reject_without_a_reason_exits_2_without_a_request() {
    for extra in [&[][..], &["--reason", "   "][..], &["--reason="][..]] {
        let server = serve(vec![json_response(200, &json!({}))]);
        let mut args = vec!["approvals", "reject", APR];
        args.extend_from_slice(extra);
        let out = keygate(&args, &with_token(&server));
        assert_eq!(out.code, 2, "{args:?}");
        assert_eq!(out.stdout, "");
        let message = if extra.is_empty() {
            "error: the following required arguments were not provided:\n  --reason <TEXT>\n\nUsage: keygate approvals reject --reason <TEXT> <ID>\n"
        } else {
            "error: --reason: must not be empty or only spaces\n\nUsage: keygate approvals reject [OPTIONS] --reason <TEXT> <ID>\n"
        };
        assert!(out.stderr.starts_with(message), "{args:?}: {}", out.stderr);
        assert!(server.nothing_received(), "{args:?}");
    }
}

// --- deploy secrets ----------------------------------------------------------------------

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("keygate-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SECRET_NAMES: [&str; 4] = [
    "KEYGATE_HASH_SECRET",
    "KEYGATE_SIGNING_SECRET",
    "KEYGATE_ROOT_TOKEN",
    "KEYGATE_WEBHOOK_SECRET",
];

fn read_json(path: &str) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(path).expect("read the secrets file");
    match serde_json::from_str(&text).expect("the secrets file is JSON") {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

fn mode(path: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts that no value of `secrets` appears in what the command printed.
fn prints_no_secret(output: &Output, secrets: &serde_json::Map<String, Value>) {
    for (name, value) in secrets {
        let value = value.as_str().unwrap();
        assert!(
            !output.stdout.contains(value) && !output.stderr.contains(value),
            "{name}'s value was printed:\n{}\n{}",
            output.stdout,
            output.stderr
        );
    }
}

#[test]
fn deploy_secrets_writes_four_distinct_secrets_to_a_private_file_and_prints_none() {
    let dir = TempDir::new("generate");
    let file = dir.path("keygate-secrets.json");
    let out = keygate(&["deploy", "secrets", "--out", &file], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(mode(&file), 0o600);
    let secrets = read_json(&file);
    // Exactly what `wrangler secret bulk FILE` takes: an object of four names to strings.
    let mut names: Vec<&str> = secrets.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = SECRET_NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let values: Vec<&str> = secrets.values().map(|v| v.as_str().unwrap()).collect();
    assert!(values.iter().all(|v| v.len() >= 32), "{values:?}");
    let mut distinct = values.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "two secrets are equal");
    prints_no_secret(&out, &secrets);
    assert!(out
        .stdout
        .contains(&format!("Wrote four new secrets to {file} (mode 0600)")));
    assert!(out
        .stdout
        .contains("KEYGATE_SIGNING_SECRET  give this one to your origin"));
    assert!(out.stdout.contains("Never commit"));
    assert!(out
        .stdout
        .contains(&format!("keygate deploy secrets --upload --in {file}\n")));
    // Another run makes other secrets.
    let other = dir.path("other.json");
    assert_eq!(
        keygate(&["deploy", "secrets", "--out", &other], &[]).code,
        0
    );
    assert_ne!(read_json(&other), secrets);
}

#[test]
fn deploy_secrets_never_overwrites_a_file() {
    let dir = TempDir::new("overwrite");
    let file = dir.path("keygate-secrets.json");
    std::fs::write(&file, "my only copy").unwrap();
    let out = keygate(&["deploy", "secrets", "--out", &file], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(&format!(
            "keygate: {file} already exists; keygate never overwrites a secrets file"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "my only copy");
}

/// A stand-in for wrangler that records its arguments and standard input, and exits with
/// `status`.
fn fake_wrangler(dir: &TempDir, status: u8) -> String {
    let script = dir.path("wrangler");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\ncat > '{}'\necho 'wrangler: uploaded'\nexit {status}\n",
            dir.path("args"),
            dir.path("stdin")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn rotating_the_signing_secret_keeps_the_old_one_and_the_upload_sends_only_the_four() {
    let dir = TempDir::new("rotate");
    let file = dir.path("s.json");
    assert_eq!(keygate(&["deploy", "secrets", "--out", &file], &[]).code, 0);
    let before = read_json(&file);
    let out = keygate(
        &[
            "deploy",
            "secrets",
            "--rotate",
            "KEYGATE_SIGNING_SECRET",
            "--in",
            &file,
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = read_json(&file);
    assert_eq!(mode(&file), 0o600, "the rewritten file is private too");
    assert_eq!(after.len(), 5);
    assert_eq!(
        after["KEYGATE_SIGNING_SECRET_PREVIOUS"],
        before["KEYGATE_SIGNING_SECRET"]
    );
    assert_ne!(
        after["KEYGATE_SIGNING_SECRET"],
        before["KEYGATE_SIGNING_SECRET"]
    );
    for name in [
        "KEYGATE_HASH_SECRET",
        "KEYGATE_ROOT_TOKEN",
        "KEYGATE_WEBHOOK_SECRET",
    ] {
        assert_eq!(after[name], before[name], "{name} changed");
    }
    prints_no_secret(&out, &after);
    assert!(out
        .stdout
        .contains("1. Give your origin both secrets, the new one first"));

    let wrangler = fake_wrangler(&dir, 0);
    let out = keygate(
        &[
            "deploy", "secrets", "--upload", "--in", &file, "--env", "staging",
        ],
        &[("KEYGATE_WRANGLER", wrangler.as_str())],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    prints_no_secret(&out, &after);
    assert_eq!(
        std::fs::read_to_string(dir.path("args")).unwrap(),
        "secret bulk --env staging\n"
    );
    let uploaded: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("stdin")).unwrap()).unwrap();
    let mut expected = after.clone();
    expected.remove("KEYGATE_SIGNING_SECRET_PREVIOUS");
    assert_eq!(uploaded, Value::Object(expected));
    assert!(out.stdout.contains(&format!(
        "Uploaded the four secrets of {file} to the staging environment."
    )));
}

#[test]
fn a_failed_upload_exits_1_and_says_so() {
    let dir = TempDir::new("upload-fails");
    let file = dir.path("s.json");
    assert_eq!(keygate(&["deploy", "secrets", "--out", &file], &[]).code, 0);
    let wrangler = fake_wrangler(&dir, 1);
    let out = keygate(
        &["deploy", "secrets", "--upload", "--in", &file],
        &[("KEYGATE_WRANGLER", wrangler.as_str())],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("secret bulk` failed"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path("args")).unwrap(),
        "secret bulk\n"
    );
}

#[test]
fn rotating_the_hash_secret_needs_force() {
    let dir = TempDir::new("rotate-hash");
    let file = dir.path("s.json");
    assert_eq!(keygate(&["deploy", "secrets", "--out", &file], &[]).code, 0);
    let before = read_json(&file);
    let rotate = [
        "deploy",
        "secrets",
        "--rotate",
        "KEYGATE_HASH_SECRET",
        "--in",
        &file,
    ];
    let out = keygate(&rotate, &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("rotating KEYGATE_HASH_SECRET invalidates every key"),
        "{}",
        out.stderr
    );
    assert_eq!(read_json(&file), before);
    let mut forced = rotate.to_vec();
    forced.push("--force");
    let out = keygate(&forced, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = read_json(&file);
    assert_eq!(after.len(), 4, "no overlap for the hash secret");
    assert_ne!(after["KEYGATE_HASH_SECRET"], before["KEYGATE_HASH_SECRET"]);
    prints_no_secret(&out, &after);
}

#[test]
fn a_file_others_can_read_is_warned_about() {
    let dir = TempDir::new("readable");
    let file = dir.path("s.json");
    assert_eq!(keygate(&["deploy", "secrets", "--out", &file], &[]).code, 0);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = keygate(
        &[
            "deploy",
            "secrets",
            "--rotate",
            "KEYGATE_ROOT_TOKEN",
            "--in",
            &file,
        ],
        &[],
    );
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains(&format!(
        "warning: {file} can be read by other users (mode 0644); run `chmod 600 {file}`"
    )));
}

#[test]
fn a_rotation_leaves_a_leftover_temporary_file_alone() {
    let dir = TempDir::new("leftover");
    let file = dir.path("s.json");
    assert_eq!(keygate(&["deploy", "secrets", "--out", &file], &[]).code, 0);
    let before = read_json(&file);
    let leftover = format!("{file}.new");
    std::fs::write(&leftover, "from an interrupted run").unwrap();
    let out = keygate(
        &[
            "deploy",
            "secrets",
            "--rotate",
            "KEYGATE_ROOT_TOKEN",
            "--in",
            &file,
        ],
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "{leftover} exists (left by an interrupted rotation?); compare it with the file and remove it"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(read_json(&file), before);
    assert_eq!(
        std::fs::read_to_string(&leftover).unwrap(),
        "from an interrupted run"
    );
}

#[test]
fn sessions_create_mints_and_shows_the_token_and_link_once() {
    let token = "kgs_0123456789ABCDEFGHIJabcdefghijklmnopqrstu";
    let body = json!({
        "id": "ses_4Tq8Ln2XcR7tBv0ZsK1wYe", "workspace": "acme",
        "member": {"id": "user_42", "name": "Ada Lovelace"},
        "permissions": ["keys:manage"], "created_at": "2030-01-01T00:00:00Z",
        "expires_at": "2030-01-01T01:00:00Z", "token": token,
        "url": format!("https://gw.example/_keygate/portal/#session={token}"),
    });
    let server = serve(vec![json_response(201, &body)]);
    let out = keygate(
        &[
            "sessions",
            "create",
            "--workspace",
            "acme",
            "--member-id",
            "user_42",
            "--member-name",
            "Ada Lovelace",
            "--permission",
            "keys:manage",
        ],
        &with_token(&server),
    );
    let request = server.next();
    assert_eq!(
        request.request_line,
        "POST /_keygate/v1/portal/sessions HTTP/1.1"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"workspace": "acme", "member": {"id": "user_42", "name": "Ada Lovelace"}, "permissions": ["keys:manage"]})
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.matches(&format!("\n    {token}\n")).count(),
        1,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("/_keygate/portal/#session="),
        "{}",
        out.stdout
    );
}
