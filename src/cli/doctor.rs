//! `keygate doctor`: a smoke test of a deployment, one line per check — `ok`, `FAIL` with
//! what to do, or `skip` with why — and exit 0 only when nothing failed.
//!
//! The checks, in order: the admin API answers the token (the root token, from
//! `$KEYGATE_TOKEN`) with the policy in force; that policy equals a local file (`--policy`);
//! a request without a key gets 401 (with a `Bearer` challenge when one is sent); a
//! temporary test-environment key holding exactly the scope of the deployed policy's route
//! for `GET --path` is created, gets 200 with the rate-limit headers, and is deleted again
//! whatever happened; and when the origin is keygate's demo origin (it answers
//! `identity_verified`), that the origin verified the signature.
//!
//! [`check`] runs them against a [`Gateway`]; the real one is HTTP ([`super::http`]), the
//! unit tests substitute canned answers. The test key's secret and the token are never
//! printed: only ids, statuses, problem codes and header values are.

use super::answer::Reply;
use super::args::{DoctorArgs, KeysCommand, NewKeyArgs, Token};
use super::connection::{Connection, TransportError, TIMEOUT};
use super::exit::Exit;
use super::output::clean;
use super::request;
use crate::key::{Environment, KeyId};
use crate::policy::Policy;
use crate::timestamp::format_rfc3339;
use serde_json::{json, Value};
use std::io::Write;

/// How long the test key may live if its deletion fails.
pub const TEST_KEY_LIFETIME_MS: u64 = 10 * 60 * 1000;
/// The name every test key gets, so a stray one is easy to find in `keygate keys list`.
pub const TEST_KEY_NAME: &str = "keygate doctor (temporary)";

/// A data-plane answer: status, headers (lower-case names) and body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Probe {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the doctor talks to: the admin API with the connection's token, and the data plane
/// as a client would, with a key or without one.
pub trait Gateway {
    fn admin(&mut self, request: &request::ApiRequest) -> Result<Reply, TransportError>;
    fn get(&mut self, path: &str, key: Option<&Token>) -> Result<Probe, TransportError>;
}

/// What to check, decided before any request.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The local policy file's name and its description (`Policy::describe`), or why it
    /// could not be read.
    pub local_policy: Option<(String, Result<Value, String>)>,
    pub path: Option<String>,
    /// Unix milliseconds, for the test key's expiry.
    pub now_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Fail,
    Skip,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub verdict: Verdict,
    pub text: String,
}

impl Line {
    fn render(&self) -> String {
        let tag = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        format!("{tag}  {}\n", clean(&self.text))
    }
}

/// Collects the lines and hands each to `print` as soon as it is known.
struct Report<'a> {
    lines: Vec<Line>,
    print: &'a mut dyn FnMut(&Line),
}

impl Report<'_> {
    fn add(&mut self, verdict: Verdict, text: impl Into<String>) {
        let line = Line {
            verdict,
            text: text.into(),
        };
        (self.print)(&line);
        self.lines.push(line);
    }
    fn ok(&mut self, text: impl Into<String>) {
        self.add(Verdict::Ok, text);
    }
    fn fail(&mut self, text: impl Into<String>) {
        self.add(Verdict::Fail, text);
    }
    fn skip(&mut self, text: impl Into<String>) {
        self.add(Verdict::Skip, text);
    }
}

/// `keygate doctor`: reads the local policy, runs the checks over HTTP, prints a summary.
pub fn run(
    args: &DoctorArgs,
    connection: &Connection,
    gateway: &mut dyn Gateway,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    if connection.plain_http_remote {
        let _ = writeln!(
            err,
            "keygate: warning: {} is plain http; the admin token crosses the network unencrypted",
            connection.endpoint
        );
    }
    let plan = Plan {
        local_policy: args.policy.as_ref().map(|path| {
            let described = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read it: {e}"))
                .and_then(|text| {
                    Policy::from_toml(&text)
                        .map(|policy| policy.describe())
                        .map_err(|e| {
                            format!(
                                "is invalid (see `keygate policy check {path}`): {}",
                                first_line(&e.to_string())
                            )
                        })
                });
            (path.clone(), described)
        }),
        path: args.path.clone(),
        now_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let _ = writeln!(out, "keygate doctor: {}", connection.endpoint);
    let mut print = |line: &Line| {
        let _ = out.write_all(line.render().as_bytes());
        let _ = out.flush();
    };
    let lines = check(&plan, gateway, &mut print);
    let count = |v: Verdict| lines.iter().filter(|l| l.verdict == v).count();
    let failed = count(Verdict::Fail);
    let summary = format!(
        "{} ok, {failed} failed, {} skipped",
        count(Verdict::Ok),
        count(Verdict::Skip)
    );
    if failed == 0 {
        let _ = writeln!(out, "{summary}: the deployment works");
        Exit::Done
    } else {
        let _ = writeln!(out, "{summary}");
        Exit::Refused
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// Runs every check in order; returns the lines (each also given to `print` as it is known).
pub fn check(plan: &Plan, gateway: &mut dyn Gateway, print: &mut dyn FnMut(&Line)) -> Vec<Line> {
    let mut report = Report {
        lines: Vec::new(),
        print,
    };
    let deployed = check_admin(gateway, &mut report);
    check_policy_file(plan, deployed.as_ref(), &mut report);
    let path = plan
        .path
        .clone()
        .or_else(|| deployed.as_ref().and_then(default_path));
    check_without_key(gateway, path.as_deref().unwrap_or("/"), &mut report);
    match (&deployed, &path) {
        (None, _) => report.skip("test key: needs the admin API (see above)"),
        (Some(_), None) => report.fail(
            "test key: the policy has no GET route without parameters to call — pass --path /a/path/the/policy/maps",
        ),
        (Some(described), Some(path)) => check_with_key(gateway, described, path, plan.now_ms, &mut report),
    }
    report.lines
}

/// The admin API with the token: the deployed policy's description, or a FAIL saying why not.
fn check_admin(gateway: &mut dyn Gateway, report: &mut Report<'_>) -> Option<Value> {
    let reply = match gateway.admin(&request::policy_request()) {
        Ok(reply) => reply,
        Err(error) => {
            report.fail(format!(
                "admin API: {} — check the URL, and that the Worker is deployed and routed there",
                transport_text(&error)
            ));
            return None;
        }
    };
    let body: Option<Value> = serde_json::from_str(&reply.body).ok();
    let problem = body.as_ref().map(problem_text).unwrap_or_default();
    match reply.status {
        200 => match body {
            Some(described @ Value::Object(_)) => {
                let count = |field: &str| described[field].as_array().map_or(0, Vec::len);
                report.ok(format!(
                    "admin API answers the token (deployed policy: {} routes, {} scopes)",
                    count("routes"),
                    count("scopes")
                ));
                Some(described)
            }
            _ => {
                report.fail("admin API: answered 200 without the policy's JSON — is this a keygate endpoint?");
                None
            }
        },
        401 | 403 => {
            report.fail(format!(
                "admin API refused the token: {}{problem} — set KEYGATE_TOKEN to KEYGATE_ROOT_TOKEN from your secrets file, \
                 and upload that file if you have not (keygate deploy secrets --upload --in FILE)",
                reply.status
            ));
            None
        }
        503 => {
            report.fail(format!(
                "admin API: 503{problem} — the Worker's configuration is incomplete; `npx wrangler tail` names the variable"
            ));
            None
        }
        status => {
            report.fail(format!(
                "admin API answered {status}{problem} — is this a keygate endpoint (its base URL, without /_keygate/v1)?"
            ));
            None
        }
    }
}

fn check_policy_file(plan: &Plan, deployed: Option<&Value>, report: &mut Report<'_>) {
    let Some((file, local)) = &plan.local_policy else {
        report.skip("deployed policy not compared with a file (pass --policy FILE)");
        return;
    };
    let local = match local {
        Ok(local) => local,
        Err(why) => return report.fail(format!("local policy {file} {why}")),
    };
    let Some(deployed) = deployed else {
        return report.skip(format!("policy {file}: needs the admin API (see above)"));
    };
    // `source` says where the deployed one came from, which a file cannot say.
    let differing: Vec<&str> = field_names(local, deployed)
        .into_iter()
        .filter(|field| *field != "source" && local.get(field) != deployed.get(field))
        .collect();
    if differing.is_empty() {
        report.ok(format!("the deployed policy is {file}"));
    } else {
        report.fail(format!(
            "the deployed policy differs from {file} (in {}) — deploy it (npx wrangler deploy), or compare with `keygate policy show`",
            differing.join(", ")
        ));
    }
}

/// Every top-level field of either description, in order, once.
fn field_names<'a>(a: &'a Value, b: &'a Value) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for object in [a, b].into_iter().filter_map(Value::as_object) {
        for name in object.keys() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    names
}

fn check_without_key(gateway: &mut dyn Gateway, path: &str, report: &mut Report<'_>) {
    let probe = match gateway.get(path, None) {
        Ok(probe) => probe,
        Err(error) => {
            return report.fail(format!(
                "GET {path} without a key: {}",
                transport_text(&error)
            ))
        }
    };
    let code = problem_code(&probe.body);
    match (probe.status, probe.header("www-authenticate")) {
        (401, Some(challenge)) if challenge.starts_with("Bearer") => report.ok(format!(
            "GET {path} without a key: 401{code}, WWW-Authenticate: {challenge}"
        )),
        (401, Some(challenge)) => report.fail(format!(
            "GET {path} without a key: 401 but WWW-Authenticate is `{challenge}`, not a Bearer challenge — something in front of keygate answered"
        )),
        (401, None) => report.ok(format!("GET {path} without a key: 401{code}")),
        (403, _) if code.contains("https_required") => report.fail(format!(
            "GET {path} without a key: 403{code} — use the https:// URL (KEYGATE_HTTPS_ONLY is on, as it should be)"
        )),
        (status, _) => report.fail(format!(
            "GET {path} without a key: {status}{code}, expected 401 — another service answers this URL, or the Worker is not routed on it"
        )),
    }
}

fn check_with_key(
    gateway: &mut dyn Gateway,
    described: &Value,
    path: &str,
    now_ms: u64,
    report: &mut Report<'_>,
) {
    let scope = match scope_for_get(described, path) {
        Ok(scope) => scope,
        Err(why) => return report.fail(format!("test key: {why}")),
    };
    let create = KeysCommand::Create(NewKeyArgs {
        name: TEST_KEY_NAME.into(),
        scopes: vec![scope.clone()],
        expires_at: Some(format_rfc3339(now_ms.saturating_add(TEST_KEY_LIFETIME_MS))),
        metadata: json!({"created_by": "keygate doctor"}).as_object().cloned(),
        environment: Some(Environment::Test),
        ..NewKeyArgs::default()
    });
    let (id, secret) = match gateway.admin(&request::keys_request(&create)) {
        Err(error) => {
            return report.fail(format!("test key: not created: {}", transport_text(&error)))
        }
        Ok(reply) => match created_key(&reply) {
            Ok(created) => created,
            Err(why) => return report.fail(format!("test key: not created: {why}")),
        },
    };
    report.ok(format!(
        "created test key {id} (scope {scope}, environment test, expires in {} minutes)",
        TEST_KEY_LIFETIME_MS / 60_000
    ));
    call_with_key(gateway, path, &secret, report);
    // Always, whatever the call did: a smoke test must not leave a working key behind.
    match gateway.admin(&request::keys_request(&KeysCommand::Delete { id: id.clone() })) {
        Ok(reply) if (200..300).contains(&reply.status) => {
            report.ok(format!("deleted test key {id}"))
        }
        Ok(reply) => report.fail(format!(
            "test key {id} not deleted: {}{} — delete it: keygate keys delete {id} (it expires by itself in {} minutes)",
            reply.status,
            serde_json::from_str::<Value>(&reply.body).map(|b| problem_text(&b)).unwrap_or_default(),
            TEST_KEY_LIFETIME_MS / 60_000
        )),
        Err(error) => report.fail(format!(
            "test key {id} not deleted: {} — delete it: keygate keys delete {id}",
            transport_text(&error)
        )),
    }
}

fn call_with_key(gateway: &mut dyn Gateway, path: &str, secret: &Token, report: &mut Report<'_>) {
    let probe = match gateway.get(path, Some(secret)) {
        Ok(probe) => probe,
        Err(error) => {
            return report.fail(format!(
                "GET {path} with the test key: {}",
                transport_text(&error)
            ))
        }
    };
    if probe.status != 200 {
        let code = problem_code(&probe.body);
        let hint = match probe.status {
            502 | 504 => " — keygate could not reach the origin: check KEYGATE_ORIGIN and that the origin is up",
            404 if code.is_empty() => " — the origin answered 404: pass a --path the origin serves",
            _ => "",
        };
        return report.fail(format!(
            "GET {path} with the test key: {}{code}{hint}",
            probe.status
        ));
    }
    match (probe.header("ratelimit"), probe.header("ratelimit-policy")) {
        (Some(remaining), Some(_)) => report.ok(format!(
            "GET {path} with the test key: 200, RateLimit: {remaining}"
        )),
        _ => report.fail(format!(
            "GET {path} with the test key: 200 but without the RateLimit and RateLimit-Policy headers — did this pass through keygate?"
        )),
    }
    let verified = serde_json::from_str::<Value>(&probe.body)
        .ok()
        .and_then(|body| body.get("identity_verified").and_then(Value::as_bool));
    match verified {
        Some(true) => report.ok("the origin verified keygate's signature (identity_verified: true)"),
        Some(false) => report.fail(
            "the demo origin could not verify keygate's signature — give it KEYGATE_SIGNING_SECRET from your secrets file",
        ),
        None => report.skip(
            "signature at the origin: the origin does not report identity_verified (the demo origin does); check its verifier's log",
        ),
    }
}

/// The id and secret of a 201 key answer.
fn created_key(reply: &Reply) -> Result<(KeyId, Token), String> {
    let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    if reply.status != 201 {
        return Err(format!("{}{}", reply.status, problem_text(&body)));
    }
    let id = body["id"].as_str().and_then(KeyId::parse);
    let secret = body["key"].as_str().map(Token::new);
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err("the answer has no key id and secret".into()),
    }
}

/// The first GET route of the deployed policy whose path has no parameters or wildcard.
fn default_path(described: &Value) -> Option<String> {
    described["routes"].as_array()?.iter().find_map(|route| {
        let path = route["path"].as_str()?;
        let literal = !path.contains('{') && !path.contains('*');
        (matches!(route["method"].as_str(), Some("GET" | "*")) && literal).then(|| path.to_string())
    })
}

/// The scope of the deployed policy's route for `GET path` (`<resource>:<action>`), by the
/// gateway's own matcher: the reported resources and routes are loaded as a policy.
pub fn scope_for_get(described: &Value, path: &str) -> Result<String, String> {
    let mut toml = String::new();
    for resource in described["resources"].as_array().into_iter().flatten() {
        toml.push_str(&format!(
            "[[resources]]\nname = {}\nkind = {}\n",
            toml_string(&resource["name"]),
            toml_string(&resource["kind"])
        ));
    }
    for route in described["routes"].as_array().into_iter().flatten() {
        toml.push_str(&format!(
            "[[routes]]\nmethod = {}\npath = {}\nresource = {}\naction = {}\n",
            toml_string(&route["method"]),
            toml_string(&route["path"]),
            toml_string(&route["resource"]),
            toml_string(&route["action"])
        ));
    }
    let policy = Policy::from_toml(&toml).map_err(|e| {
        format!(
            "the deployed policy's routes could not be read: {}",
            first_line(&e.to_string())
        )
    })?;
    let target = policy.route("GET", path).ok_or_else(|| {
        format!(
            "no route of the deployed policy matches GET {path} — pass a --path the policy maps"
        )
    })?;
    Ok(format!("{}:{}", target.resource, target.action.as_str()))
}

/// A JSON string is a TOML basic string: the same quotes and escapes. Anything but a
/// string becomes `""`, which the policy then refuses with its own message.
fn toml_string(value: &Value) -> String {
    Value::String(value.as_str().unwrap_or_default().to_string()).to_string()
}

/// ` code: detail` of a problem body, or nothing.
fn problem_text(body: &Value) -> String {
    match (body["code"].as_str(), body["detail"].as_str()) {
        (Some(code), Some(detail)) => format!(" {code}: {detail}"),
        (Some(code), None) => format!(" {code}"),
        _ => String::new(),
    }
}

/// ` code` of a problem body, or nothing.
fn problem_code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| b["code"].as_str().map(|c| format!(" {c}")))
        .unwrap_or_default()
}

fn transport_text(error: &TransportError) -> String {
    match error {
        TransportError::Timeout => format!("no answer within {} s", TIMEOUT.as_secs()),
        TransportError::Failed(cause) => format!("cannot connect: {cause}"),
        TransportError::Unreadable(cause) => format!("unreadable answer: {cause}"),
    }
}

#[cfg(test)]
mod tests;
