//! The operator's command line: `keygate keys …`, `keygate approvals …`,
//! `keygate workspaces …`, `keygate sessions …` and `keygate policy show` against a gateway's admin API, `keygate policy check` and
//! `keygate policy diff` on policy files, `keygate deploy secrets` ([`deploy`]) for the
//! Worker's secrets and `keygate doctor` ([`doctor`]) to smoke-test a deployment. Native
//! only; the Worker never links it.
//!
//! ```no_run
//! let args: Vec<String> = ["keys", "list", "--status", "active"].map(String::from).to_vec();
//! let env = |name: &str| std::env::var(name).ok();
//! let exit = keygate::cli::run(&args, &env, &mut std::io::stdout(), &mut std::io::stderr());
//! assert_eq!(exit.code(), 0);
//! ```
//!
//! The same pipeline as the gateway's, in named phases: [`args::parse`] (words → a checked
//! command, or a usage error before any request) → [`connection`] (endpoint and token) →
//! [`request`] (command → method, path, query, JSON body) → [`Transport::send`] (the only
//! I/O) → [`answer::classify`] (done, refused, or not an admin API answer) → [`output`]
//! (text for people, or the JSON as it came with `--json`). Everything but `send` is pure
//! and tested natively; `tests/cli.rs` runs the binary against a local HTTP server.
//!
//! Arguments are declared with `clap`'s derive in [`args`]; every value is checked by this
//! crate's own rules (key and approval ids, RFC 3339 times, the admin API's bounds), so a usage
//! error exits 2 with a message precise enough to act on
//! (`--per-minute: \`ten\` is not a whole number of at least 1`). HTTP is `ureq` (blocking,
//! small, rustls with webpki roots for `https://` endpoints).

pub mod answer;
pub mod args;
mod connection;
pub mod deploy;
pub mod doctor;
mod exit;
mod http;
pub mod output;
mod policy_file;
pub mod request;

use answer::{Answer, Reply};
use args::{
    ApprovalListArgs, ApprovalsCommand, Command, DeployCommand, KeyListArgs, KeysCommand,
    PolicyCommand, SessionsCommand, WorkspaceListArgs, WorkspacesCommand,
};
pub use connection::{connection, Connection, Transport, TransportError, UsageError, TIMEOUT};
pub use exit::Exit;
use output::Secret;
pub use policy_file::{check_policy, compile_policy, diff_policies};
use request::ApiRequest;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write;

/// Runs one command line. `env` reads environment variables; output goes to `out`, messages
/// and refusals to `err`.
pub fn run(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let invocation = match args::parse(args) {
        Ok(invocation) => invocation,
        // Help and version go to stdout and exit 0; a usage error to stderr, exit 2.
        Err(stop) if stop.use_stderr() => {
            let _ = write!(err, "{}", stop.render());
            return Exit::Usage;
        }
        Err(stop) => {
            let _ = write!(out, "{}", stop.render());
            return Exit::Done;
        }
    };
    match &invocation.command {
        Command::Policy(PolicyCommand::Check { path }) => check_policy(path, out, err),
        Command::Policy(PolicyCommand::Compile { path }) => compile_policy(path, out, err),
        Command::Policy(PolicyCommand::Diff { old, new }) => diff_policies(old, new, out, err),
        Command::Deploy(DeployCommand::Secrets(secrets)) => {
            deploy::run(&secrets.command(), env, out, err)
        }
        Command::Doctor(doctor_args) => {
            let connection = match connection(&invocation.globals, env) {
                Ok(connection) => connection,
                Err(error) => return usage_error(&error, err),
            };
            let mut gateway =
                http::HttpTransport::new(&connection.endpoint, connection.token.clone(), TIMEOUT);
            doctor::run(doctor_args, &connection, &mut gateway, out, err)
        }
        command => {
            let connection = match connection(&invocation.globals, env) {
                Ok(connection) => connection,
                Err(error) => return usage_error(&error, err),
            };
            if connection.plain_http_remote {
                let _ = writeln!(
                    err,
                    "keygate: warning: {} is plain http; the admin token crosses the network unencrypted",
                    connection.endpoint
                );
            }
            let mut transport =
                http::HttpTransport::new(&connection.endpoint, connection.token.clone(), TIMEOUT);
            execute(
                command,
                invocation.globals.json,
                &connection.endpoint,
                &mut transport,
                out,
                err,
            )
        }
    }
}

fn usage_error(error: &UsageError, err: &mut dyn Write) -> Exit {
    let _ = writeln!(err, "keygate: {}\n{}", error.message, error.usage);
    let _ = writeln!(err, "Run `keygate --help` for every command and option.");
    Exit::Usage
}

/// An admin command from request to printed result. `endpoint` only names the gateway in
/// messages.
pub fn execute(
    command: &Command,
    json: bool,
    endpoint: &str,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let mut session = Session {
        endpoint,
        json,
        transport,
        err,
        out,
    };
    let keys = match command {
        Command::Keys(keys) => keys,
        Command::Approvals(approvals) => return approvals_command(approvals, json, &mut session),
        Command::Sessions(sessions) => return sessions_command(sessions, json, &mut session),
        Command::Workspaces(workspaces) => {
            return workspaces_command(workspaces, json, &mut session)
        }
        Command::Policy(PolicyCommand::Show) => {
            return match session.call(&request::policy_request()) {
                Ok((reply, Some(policy))) => {
                    let text = if json {
                        output::pretty_json(&reply.body) + "\n"
                    } else {
                        output::policy_summary(&policy)
                    };
                    session.finish(&text)
                }
                Ok((_, None)) => session.unexpected("answered with an empty body"),
                Err(exit) => exit,
            };
        }
        Command::Policy(_) | Command::Deploy(_) | Command::Doctor(_) => return Exit::Usage,
    };
    if let KeysCommand::List(list) = keys {
        if list.all {
            let pages = Pages::Keys(list);
            return list_all(&pages, list.cursor.as_deref(), json, &mut session);
        }
    }
    let (reply, body) = match session.call(&request::keys_request(keys)) {
        Ok(answer) => answer,
        Err(exit) => return exit,
    };
    if json {
        let text = match body {
            Some(_) => output::pretty_json(&reply.body) + "\n",
            None => String::new(),
        };
        return session.finish(&text);
    }
    let text = match (keys, &body) {
        (KeysCommand::Delete { id }, _) => format!("Deleted key {id}.\n"),
        (KeysCommand::List(_), Some(body)) => {
            match list_page(body, "keys", output::keys_table, More::OrAll) {
                Ok(text) => text,
                Err(message) => return session.unexpected(&message),
            }
        }
        (KeysCommand::Create(_), Some(body)) => output::with_secret(body, Secret::Created),
        (KeysCommand::Rotate { .. }, Some(body)) => output::with_secret(body, Secret::Rotated),
        (KeysCommand::RotateWebhookSecret { id, .. }, Some(body)) => format!(
            "Rotated the webhook secret of key {id}.\n{}\n{}",
            output::webhook_secret_notice(body),
            output::key_details(body)
        ),
        (KeysCommand::Revoke { id }, Some(body)) => {
            format!("Revoked key {id}.\n\n{}", output::key_details(body))
        }
        (KeysCommand::Activate { id }, Some(body)) => {
            format!("Activated key {id}.\n\n{}", output::key_details(body))
        }
        (KeysCommand::Edit { id, .. }, Some(body)) => format!(
            "Updated key {id}.\n{}\n{}",
            output::webhook_secret_notice(body),
            output::key_details(body)
        ),
        (KeysCommand::Show { .. }, Some(body)) => output::key_details(body),
        (_, None) => return session.unexpected("answered with an empty body"),
    };
    session.finish(&text)
}

/// An approvals command from request to printed result.
fn approvals_command(command: &ApprovalsCommand, json: bool, session: &mut Session<'_>) -> Exit {
    if let ApprovalsCommand::List(list) = command {
        if list.all {
            let pages = Pages::Approvals(list);
            return list_all(&pages, list.cursor.as_deref(), json, session);
        }
    }
    let (reply, body) = match session.call(&request::approvals_request(command)) {
        Ok((reply, Some(body))) => (reply, body),
        Ok((_, None)) => return session.unexpected("answered with an empty body"),
        Err(exit) => return exit,
    };
    if json {
        return session.finish(&(output::pretty_json(&reply.body) + "\n"));
    }
    let text = match command {
        ApprovalsCommand::List(_) => {
            match list_page(&body, "approvals", output::approvals_table, More::OrAll) {
                Ok(text) => text,
                Err(message) => return session.unexpected(&message),
            }
        }
        ApprovalsCommand::Show { .. } => output::approval_details(&body),
        ApprovalsCommand::Approve { .. } | ApprovalsCommand::Reject { .. } => {
            output::approval_decision(&body)
        }
    };
    session.finish(&text)
}

/// A workspaces command from request to printed result.
fn workspaces_command(command: &WorkspacesCommand, json: bool, session: &mut Session<'_>) -> Exit {
    if let WorkspacesCommand::List(list) = command {
        if list.all {
            let pages = Pages::Workspaces(list);
            return list_all(&pages, list.cursor.as_deref(), json, session);
        }
    }
    let (reply, body) = match session.call(&request::workspaces_request(command)) {
        Ok((reply, Some(body))) => (reply, body),
        Ok((_, None)) => return session.unexpected("answered with an empty body"),
        Err(exit) => return exit,
    };
    if json {
        return session.finish(&(output::pretty_json(&reply.body) + "\n"));
    }
    let text = match command {
        WorkspacesCommand::List(_) => {
            match list_page(&body, "workspaces", output::workspaces_table, More::OrAll) {
                Ok(text) => text,
                Err(message) => return session.unexpected(&message),
            }
        }
        WorkspacesCommand::Show { .. } => output::workspace_details(&body),
        WorkspacesCommand::SetPlan { .. } => output::plan_set(&body),
    };
    session.finish(&text)
}

/// A sessions command from request to printed result.
fn sessions_command(command: &SessionsCommand, json: bool, session: &mut Session<'_>) -> Exit {
    let (reply, body) = match session.call(&request::sessions_request(command)) {
        Ok(answer) => answer,
        Err(exit) => return exit,
    };
    if json {
        let text = match body {
            Some(_) => output::pretty_json(&reply.body) + "\n",
            None => String::new(),
        };
        return session.finish(&text);
    }
    let text = match (command, &body) {
        (SessionsCommand::Revoke { id }, _) => format!("Revoked session {id}.\n"),
        (SessionsCommand::Create(_), Some(body)) => output::minted_session(body),
        (SessionsCommand::List { .. }, Some(body)) => {
            match list_page(body, "sessions", output::sessions_table, More::Cursor) {
                Ok(text) => text,
                Err(message) => return session.unexpected(&message),
            }
        }
        (_, None) => return session.unexpected("answered with an empty body"),
    };
    session.finish(&text)
}

/// How a list's next page is asked for: by `--cursor`, or also by `--all` where the list has it.
enum More {
    Cursor,
    OrAll,
}

/// One page of `list` as a table, and how to ask for the next one while there is more.
fn list_page(
    body: &Value,
    list: &str,
    table: fn(&[Value]) -> String,
    more: More,
) -> Result<String, String> {
    let page = answer::page(body, list)?;
    let mut text = table(&page.items);
    if let Some(cursor) = page.next_cursor {
        let all = match more {
            More::Cursor => "",
            More::OrAll => " (or use --all)",
        };
        text.push_str(&format!(
            "\nMore {list}: add --cursor {}{all}.\n",
            output::clean(&cursor)
        ));
    }
    Ok(text)
}

/// One command's conversation with the gateway, reporting failures as they happen.
struct Session<'a> {
    endpoint: &'a str,
    json: bool,
    transport: &'a mut dyn Transport,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl Session<'_> {
    fn finish(&mut self, text: &str) -> Exit {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
        Exit::Done
    }

    /// Sends `request`; a success comes back with its parsed body, anything else has already
    /// been reported and comes back as the exit to take.
    fn call(&mut self, request: &ApiRequest) -> Result<(Reply, Option<Value>), Exit> {
        let reply = match self.transport.send(request) {
            Ok(reply) => reply,
            Err(error) => {
                let message = match error {
                    TransportError::Timeout => format!(
                        "keygate: no answer from the gateway at {} within {} s",
                        self.endpoint,
                        TIMEOUT.as_secs()
                    ),
                    TransportError::Failed(cause) => format!(
                        "keygate: cannot reach the gateway at {}: {}",
                        self.endpoint,
                        output::clean(&cause)
                    ),
                    TransportError::Unreadable(cause) => format!(
                        "keygate: the gateway at {} sent an answer that could not be read: {}",
                        self.endpoint,
                        output::clean(&cause)
                    ),
                };
                let _ = writeln!(self.err, "{message}");
                return Err(Exit::Unreachable);
            }
        };
        match answer::classify(&reply) {
            Answer::Done(body) => Ok((reply, body)),
            Answer::Refused(problem) => {
                // Scripts get the problem as JSON on stdout too, to branch on its `code`.
                if self.json {
                    let _ = writeln!(self.out, "{}", output::pretty_json(&reply.body));
                }
                let _ = write!(
                    self.err,
                    "{}",
                    output::problem(&problem, reply.status, reply.retry_after.as_deref())
                );
                Err(Exit::Refused)
            }
            Answer::Unexpected(what) => Err(self.unexpected(&what)),
        }
    }

    fn unexpected(&mut self, what: &str) -> Exit {
        let _ = writeln!(
            self.err,
            "keygate: the gateway at {} {what}; is this a keygate admin endpoint?",
            self.endpoint
        );
        Exit::Unreachable
    }
}

/// A list that `--all` follows to its end: which pages to ask for, and how to show them.
enum Pages<'a> {
    Keys(&'a KeyListArgs),
    Approvals(&'a ApprovalListArgs),
    Workspaces(&'a WorkspaceListArgs),
}

impl Pages<'_> {
    /// The field of each page that holds the objects.
    fn field(&self) -> &'static str {
        match self {
            Pages::Keys(_) => "keys",
            Pages::Approvals(_) => "approvals",
            Pages::Workspaces(_) => "workspaces",
        }
    }

    fn request(&self, cursor: Option<&str>) -> ApiRequest {
        match self {
            Pages::Keys(args) => request::list_page(args, cursor),
            Pages::Approvals(args) => request::approvals_page(args, cursor),
            Pages::Workspaces(args) => request::workspaces_page(args, cursor),
        }
    }

    fn table(&self, items: &[Value]) -> String {
        match self {
            Pages::Keys(_) => output::keys_table(items),
            Pages::Approvals(_) => output::approvals_table(items),
            Pages::Workspaces(_) => output::workspaces_table(items),
        }
    }
}

/// `keys list --all`, `approvals list --all` and `workspaces list --all`: follows
/// `next_cursor` to the end. With `--json` the objects are passed through as they came, in
/// one `{"keys": [...]}` (or `{"approvals": [...]}`, `{"workspaces": [...]}`).
fn list_all(pages: &Pages<'_>, start: Option<&str>, json: bool, session: &mut Session<'_>) -> Exit {
    let field = pages.field();
    let mut cursor = start.map(str::to_string);
    let mut seen: HashSet<String> = cursor.iter().cloned().collect();
    let mut items: Vec<Value> = Vec::new();
    let mut raw_items: Vec<String> = Vec::new();
    loop {
        let (reply, body) = match session.call(&pages.request(cursor.as_deref())) {
            Ok(answer) => answer,
            Err(exit) => return exit,
        };
        let page = match body.as_ref().map(|body| answer::page(body, field)) {
            Some(Ok(page)) => page,
            Some(Err(message)) => return session.unexpected(&message),
            None => return session.unexpected("answered with an empty body"),
        };
        if json {
            match raw_page_items(&reply.body, field) {
                Ok(raw) => raw_items.extend(raw),
                Err(message) => return session.unexpected(&message),
            }
        } else {
            items.extend(page.items);
        }
        match page.next_cursor {
            None => break,
            // A cursor seen before would loop forever; the contract says every object once.
            Some(next) if !seen.insert(next.clone()) => {
                return session.unexpected("answered with a next_cursor it had already given");
            }
            Some(next) => cursor = Some(next),
        }
    }
    let text = if json {
        output::pretty_json(&format!("{{\"{field}\":[{}]}}", raw_items.join(","))) + "\n"
    } else {
        pages.table(&items)
    };
    session.finish(&text)
}

/// The objects of a page's `field` list as the gateway wrote them, field order and all.
fn raw_page_items(body: &str, field: &str) -> Result<Vec<String>, String> {
    use serde_json::value::RawValue;
    let missing = || answer::missing_list(field);
    let page: std::collections::HashMap<String, &RawValue> =
        serde_json::from_str(body).map_err(|_| missing())?;
    let list = page.get(field).ok_or_else(missing)?;
    let items: Vec<&RawValue> = serde_json::from_str(list.get()).map_err(|_| missing())?;
    Ok(items.iter().map(|raw| raw.get().to_string()).collect())
}

#[cfg(test)]
mod tests;
