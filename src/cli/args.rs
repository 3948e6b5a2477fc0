//! Command-line words in, a checked [`Invocation`] out — or a [`UsageError`] that says
//! exactly what is wrong, before any request is made.
//!
//! Everything the gateway would refuse for its *syntax* is caught here (numbers, RFC 3339
//! times, JSON metadata, key and approval ids, enumerations, conflicting flags, an empty
//! rejection reason). What depends on the
//! deployment (which scopes exist, whether a webhook URL is acceptable, whether a time is in
//! the future by the gateway's clock) is left to the gateway, which answers with field errors.

use crate::admin::{parse_status, ListedStatus};
use crate::approval::{ApprovalId, ApprovalStatus};
use crate::key::{Environment, KeyId};
use crate::record::Status;
use crate::timestamp::parse_rfc3339;
use serde_json::{Map, Value};
use std::fmt;

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8787";
pub const ENDPOINT_VAR: &str = "KEYGATE_ENDPOINT";
pub const TOKEN_VAR: &str = "KEYGATE_TOKEN";

/// Bounds the admin API states; checked here so a typo never costs a round trip.
pub const MAX_PAGE_SIZE: u64 = 100;
pub const MAX_GRACE_SECONDS: u64 = 2_592_000;
/// A rejection reason's length, in characters, after trimming.
pub const MAX_REASON_CHARS: usize = 1000;

pub const USAGE: &str = "\
keygate — operate a keygate gateway through its admin API

usage: keygate [--endpoint URL] [--token TOKEN] [--json] <command>

commands:
  keys create --name N --scope S [--scope S ...] [--workspace W] [--expires-at RFC3339]
              [--per-minute N] [--per-day N] [--metadata JSON-OBJECT] [--webhook URL]
              [--environment live|test]
  keys list   [--status active|revoked|expired] [--workspace W] [--limit 1-100] [--cursor C] [--all]
  keys show ID
  keys edit ID [--name N] [--scope S ...] [--per-minute N] [--per-day N] [--default-limits]
               [--expires-at RFC3339 | --no-expiry] [--metadata JSON-OBJECT]
               [--webhook URL | --no-webhook]
  keys revoke ID
  keys activate ID
  keys rotate ID [--grace SECONDS]
  keys rotate-webhook-secret ID [--grace SECONDS]
  keys delete ID
  approvals list [--status pending|approved|rejected|expired|failed] [--workspace W]
                 [--limit 1-100] [--cursor C] [--all]
  approvals show ID
  approvals approve ID
  approvals reject ID --reason TEXT
  policy show
  policy check FILE
  policy diff OLD NEW
  deploy secrets [--out FILE] [--env NAME]
  deploy secrets --rotate NAME --in FILE [--force]
  deploy secrets --upload --in FILE [--env NAME]
  doctor [--policy FILE] [--path /PATH]

options (anywhere on the line):
  --endpoint URL   the gateway's base URL (default: $KEYGATE_ENDPOINT, else http://127.0.0.1:8787)
  --token TOKEN    the root token or a key with api_keys or approvals grants (default:
                   $KEYGATE_TOKEN; prefer the variable: other users of the machine can see
                   command lines)
  --json           print the gateway's JSON answer as it is, for scripts
  -h, --help       this text

`keys edit --scope` replaces the whole scope list; `--default-limits` returns the key to the
policy's limits. `keys list --all` and `approvals list --all` follow the pages to the end.
Approval queues are per workspace: with the root token, `approvals list` needs
`--workspace`. `approvals approve` sends the stored request to the origin, once; `approvals reject` needs a
reason (at most 1000 characters), which the key's rejection webhook is told.
`deploy secrets` writes the Worker's four secrets to a new 0600 file (default
keygate-secrets.json, never overwritten) and prints no value; `--rotate` changes one
(the signing and webhook secrets keep the old value as NAME_PREVIOUS for an overlap;
KEYGATE_HASH_SECRET, which invalidates every key, needs --force); `--upload` runs
`npx wrangler secret bulk` ($KEYGATE_WRANGLER) with the four current values on its input.
`doctor` smoke-tests a deployment (admin API, policy, 401 without a key, a temporary test key
on GET --path); it exits 1 if any check failed.

`policy check` checks a policy file offline: every syntax error, every broken rule, and routes
that can never be reached; it prints the scopes the policy defines. `policy diff` says what
deploying NEW over OLD does to existing keys (exit 1 when something does).

exit status: 0 done, 1 the gateway refused (the reason is printed), the policy file is invalid,
             or `policy diff` found changes that affect existing keys; 2 usage error (or a
             `policy diff` file that cannot be read or loaded); 3 the gateway could not be
             reached or did not answer with JSON";

/// Why the command line was not understood, with the usage of the command concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    pub usage: &'static str,
}

impl UsageError {
    fn new(message: impl Into<String>, usage: &'static str) -> UsageError {
        UsageError {
            message: message.into(),
            usage,
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The admin token. Its `Debug` never shows it, so no error or log line can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(text: impl Into<String>) -> Token {
        Token(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Options that apply to every command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Globals {
    pub endpoint: Option<String>,
    pub token: Option<Token>,
    pub json: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub globals: Globals,
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Help,
    PolicyCheck { path: String },
    PolicyDiff { old: String, new: String },
    PolicyShow,
    Keys(KeysCommand),
    Approvals(ApprovalsCommand),
    DeploySecrets(SecretsCommand),
    Doctor(DoctorArgs),
}

/// `keygate deploy secrets …`: the Worker's four secrets in a local file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretsCommand {
    /// A new file with four new secrets; `out` defaults to [`crate::cli::deploy::default_file`].
    Generate {
        out: Option<String>,
        env: Option<String>,
    },
    /// A new value for one secret in an existing file.
    Rotate {
        name: SecretName,
        file: String,
        force: bool,
    },
    /// The file's four current secrets to `wrangler secret bulk`.
    Upload { file: String, env: Option<String> },
}

/// The Worker's secrets, in the order the file lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretName {
    Hash,
    Signing,
    RootToken,
    Webhook,
}

impl SecretName {
    pub const ALL: [SecretName; 4] = [
        SecretName::Hash,
        SecretName::Signing,
        SecretName::RootToken,
        SecretName::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretName::Hash => "KEYGATE_HASH_SECRET",
            SecretName::Signing => "KEYGATE_SIGNING_SECRET",
            SecretName::RootToken => "KEYGATE_ROOT_TOKEN",
            SecretName::Webhook => "KEYGATE_WEBHOOK_SECRET",
        }
    }

    fn parse(text: &str) -> Option<SecretName> {
        SecretName::ALL.into_iter().find(|n| n.as_str() == text)
    }
}

/// `keygate doctor`: a smoke test of a deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DoctorArgs {
    /// A local policy file the deployed policy must equal.
    pub policy: Option<String>,
    /// A GET path to call with a short-lived test key; starts with `/`.
    pub path: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum KeysCommand {
    Create(NewKeyArgs),
    List(ListArgs),
    Show(KeyId),
    Edit(KeyId, EditArgs),
    Revoke(KeyId),
    Activate(KeyId),
    Rotate {
        id: KeyId,
        grace_seconds: Option<u64>,
    },
    RotateWebhookSecret {
        id: KeyId,
        grace_seconds: Option<u64>,
    },
    Delete(KeyId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalsCommand {
    List(ApprovalListArgs),
    Show(ApprovalId),
    Approve(ApprovalId),
    /// The reason is trimmed and known not to be empty.
    Reject {
        id: ApprovalId,
        reason: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalListArgs {
    pub status: Option<ApprovalStatus>,
    pub workspace: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub all: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewKeyArgs {
    pub name: String,
    pub scopes: Vec<String>,
    pub workspace: Option<String>,
    pub expires_at: Option<String>,
    pub per_minute: Option<u64>,
    pub per_day: Option<u64>,
    pub metadata: Option<Map<String, Value>>,
    pub webhook: Option<String>,
    pub environment: Option<Environment>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListArgs {
    pub status: Option<Status>,
    pub workspace: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub all: bool,
}

/// A field of `keys edit`: left alone, cleared (JSON `null`), or set.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EditArgs {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `Clear` is `--default-limits`; `Set` carries whichever of per_minute and per_day were given.
    pub limits: Change<(Option<u64>, Option<u64>)>,
    pub expires_at: Change<String>,
    pub metadata: Option<Map<String, Value>>,
    pub webhook: Change<String>,
}

impl EditArgs {
    fn is_empty(&self) -> bool {
        *self == EditArgs::default()
    }
}

// --- usage lines -------------------------------------------------------------------------

const KEYS_USAGE: &str =
    "usage: keygate keys <create|list|show|edit|revoke|activate|rotate|rotate-webhook-secret|delete> ...";
const POLICY_USAGE: &str = "usage: keygate policy <show|check FILE|diff OLD NEW>";
const CREATE_USAGE: &str = "usage: keygate keys create --name N --scope S [--scope S ...] [--workspace W] [--expires-at RFC3339] [--per-minute N] [--per-day N] [--metadata JSON-OBJECT] [--webhook URL] [--environment live|test]";
const LIST_USAGE: &str = "usage: keygate keys list [--status active|revoked|expired] [--workspace W] [--limit 1-100] [--cursor C] [--all]";
const SHOW_USAGE: &str = "usage: keygate keys show ID";
const EDIT_USAGE: &str = "usage: keygate keys edit ID [--name N] [--scope S ...] [--per-minute N] [--per-day N] [--default-limits] [--expires-at RFC3339 | --no-expiry] [--metadata JSON-OBJECT] [--webhook URL | --no-webhook]";
const REVOKE_USAGE: &str = "usage: keygate keys revoke ID";
const ACTIVATE_USAGE: &str = "usage: keygate keys activate ID";
const ROTATE_USAGE: &str = "usage: keygate keys rotate ID [--grace SECONDS]";
const ROTATE_WEBHOOK_SECRET_USAGE: &str =
    "usage: keygate keys rotate-webhook-secret ID [--grace SECONDS]";
const DELETE_USAGE: &str = "usage: keygate keys delete ID";
const APPROVALS_USAGE: &str = "usage: keygate approvals <list|show|approve|reject> ...";
const APPROVALS_LIST_USAGE: &str = "usage: keygate approvals list [--status pending|approved|rejected|expired|failed] [--workspace W] [--limit 1-100] [--cursor C] [--all]";
const APPROVALS_SHOW_USAGE: &str = "usage: keygate approvals show ID";
const APPROVE_USAGE: &str = "usage: keygate approvals approve ID";
const REJECT_USAGE: &str = "usage: keygate approvals reject ID --reason TEXT";
const POLICY_SHOW_USAGE: &str = "usage: keygate policy show";
const POLICY_CHECK_USAGE: &str = "usage: keygate policy check FILE";
const POLICY_DIFF_USAGE: &str = "usage: keygate policy diff OLD NEW";
const DEPLOY_USAGE: &str = "usage: keygate deploy secrets [--out FILE] [--env NAME] | --rotate NAME --in FILE [--force] | --upload --in FILE [--env NAME]";
const DOCTOR_USAGE: &str =
    "usage: keygate [--endpoint URL] doctor [--policy FILE] [--path /PATH]   (token: $KEYGATE_TOKEN)";
const TOP_USAGE: &str =
    "usage: keygate [--endpoint URL] [--token TOKEN] [--json] <keys ...|approvals ...|policy ...|deploy ...|doctor>";

// --- option specs ------------------------------------------------------------------------

/// One option a command accepts: its name, and the placeholder of its value if it takes one.
#[derive(Clone, Copy)]
struct Opt {
    name: &'static str,
    value: Option<&'static str>,
    repeatable: bool,
}

const fn flag(name: &'static str) -> Opt {
    Opt {
        name,
        value: None,
        repeatable: false,
    }
}

const fn valued(name: &'static str, placeholder: &'static str) -> Opt {
    Opt {
        name,
        value: Some(placeholder),
        repeatable: false,
    }
}

const fn repeated(name: &'static str, placeholder: &'static str) -> Opt {
    Opt {
        name,
        value: Some(placeholder),
        repeatable: true,
    }
}

const GLOBAL_OPTS: &[Opt] = &[
    valued("--endpoint", "URL"),
    valued("--token", "TOKEN"),
    flag("--json"),
];

const CREATE_OPTS: &[Opt] = &[
    valued("--name", "N"),
    repeated("--scope", "S"),
    valued("--workspace", "W"),
    valued("--expires-at", "RFC3339"),
    valued("--per-minute", "N"),
    valued("--per-day", "N"),
    valued("--metadata", "JSON-OBJECT"),
    valued("--webhook", "URL"),
    valued("--environment", "live|test"),
];

const LIST_OPTS: &[Opt] = &[
    valued("--status", "active|revoked|expired"),
    valued("--workspace", "W"),
    valued("--limit", "N"),
    valued("--cursor", "C"),
    flag("--all"),
];

const EDIT_OPTS: &[Opt] = &[
    valued("--name", "N"),
    repeated("--scope", "S"),
    valued("--per-minute", "N"),
    valued("--per-day", "N"),
    flag("--default-limits"),
    valued("--expires-at", "RFC3339"),
    flag("--no-expiry"),
    valued("--metadata", "JSON-OBJECT"),
    valued("--webhook", "URL"),
    flag("--no-webhook"),
];

const ROTATE_OPTS: &[Opt] = &[valued("--grace", "SECONDS")];

const APPROVALS_LIST_OPTS: &[Opt] = &[
    valued("--status", "pending|approved|rejected|expired|failed"),
    valued("--workspace", "W"),
    valued("--limit", "N"),
    valued("--cursor", "C"),
    flag("--all"),
];

const REJECT_OPTS: &[Opt] = &[valued("--reason", "TEXT")];

const SECRETS_OPTS: &[Opt] = &[
    valued("--out", "FILE"),
    valued("--in", "FILE"),
    valued("--env", "NAME"),
    valued("--rotate", "NAME"),
    flag("--force"),
    flag("--upload"),
];

const DOCTOR_OPTS: &[Opt] = &[valued("--policy", "FILE"), valued("--path", "/PATH")];

/// The words of a command line after the options were taken out: positionals in order, and
/// each option with its value (`None` for flags), in order.
struct Matches {
    positionals: Vec<String>,
    options: Vec<(&'static str, Option<String>)>,
    usage: &'static str,
}

impl Matches {
    fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.options
            .iter()
            .filter(|(n, _)| *n == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| *n == name)
    }

    fn error(&self, message: impl Into<String>) -> UsageError {
        UsageError::new(message, self.usage)
    }

    fn number(&self, name: &str, min: u64, max: Option<u64>) -> Result<Option<u64>, UsageError> {
        self.value(name)
            .map(|text| parse_number(name, text, min, max).map_err(|m| self.error(m)))
            .transpose()
    }

    fn rfc3339(&self, name: &str) -> Result<Option<String>, UsageError> {
        self.value(name)
            .map(|text| {
                parse_rfc3339(text)
                    .map(|_| text.to_string())
                    .map_err(|m| self.error(format!("{name}: {m}")))
            })
            .transpose()
    }

    fn metadata(&self) -> Result<Option<Map<String, Value>>, UsageError> {
        self.value("--metadata")
            .map(|text| match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => {
                    Err(self
                        .error("--metadata: must be a JSON object, e.g. '{\"team\":\"growth\"}'"))
                }
                Err(e) => Err(self.error(format!("--metadata: not valid JSON ({e})"))),
            })
            .transpose()
    }

    /// Exactly one positional: the key id.
    fn key_id(&self) -> Result<KeyId, UsageError> {
        match self.positionals.as_slice() {
            [] => Err(self.error("missing the key ID")),
            [id] => KeyId::parse(id).ok_or_else(|| {
                self.error("ID must be `key_` followed by 22 letters or digits, as `keygate keys list` shows it")
            }),
            [_, extra, ..] => Err(self.error(format!("unexpected argument `{extra}`"))),
        }
    }

    /// Exactly one positional: the approval id.
    fn approval_id(&self) -> Result<ApprovalId, UsageError> {
        match self.positionals.as_slice() {
            [] => Err(self.error("missing the approval ID")),
            [id] => ApprovalId::parse(id).ok_or_else(|| {
                self.error("ID must be `apr_` followed by 22 letters or digits, as `keygate approvals list` shows it")
            }),
            [_, extra, ..] => Err(self.error(format!("unexpected argument `{extra}`"))),
        }
    }

    fn no_positionals(&self) -> Result<(), UsageError> {
        match self.positionals.first() {
            None => Ok(()),
            Some(extra) => Err(self.error(format!("unexpected argument `{extra}`"))),
        }
    }

    fn conflict(&self, a: &str, b: &str) -> Result<(), UsageError> {
        if self.flag(a) && self.flag(b) {
            return Err(self.error(format!("{a} and {b} cannot be used together")));
        }
        Ok(())
    }
}

fn parse_number(name: &str, text: &str, min: u64, max: Option<u64>) -> Result<u64, String> {
    let range = match max {
        Some(max) => format!("a whole number from {min} to {max}"),
        None => format!("a whole number of at least {min}"),
    };
    let number: u64 = text
        .parse()
        .map_err(|_| format!("{name}: `{text}` is not {range}"))?;
    if number < min || max.is_some_and(|max| number > max) {
        return Err(format!("{name}: {number} is out of range; use {range}"));
    }
    Ok(number)
}

/// Splits `words` into positionals and options known to `opts` (plus the global ones, which
/// are also written into `globals`). `--opt value` and `--opt=value` are both accepted; a
/// value may not start with `--` unless written with `=`, so a forgotten value is reported
/// instead of swallowing the next option.
fn match_words(
    words: &[String],
    opts: &[Opt],
    usage: &'static str,
    globals: &mut Globals,
) -> Result<Matches, UsageError> {
    let mut matches = Matches {
        positionals: Vec::new(),
        options: Vec::new(),
        usage,
    };
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        if !word.starts_with('-') || word == "-" {
            matches.positionals.push(word.clone());
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (word.as_str(), None),
        };
        let Some(opt) = GLOBAL_OPTS
            .iter()
            .chain(opts)
            .find(|o| o.name == name)
            .copied()
        else {
            return Err(UsageError::new(format!("unknown option {name}"), usage));
        };
        let value = match (opt.value, inline) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(UsageError::new(format!("{name} takes no value"), usage))
            }
            (Some(_), Some(value)) => Some(value),
            (Some(placeholder), None) => match iter.next() {
                Some(next) if !next.starts_with("--") => Some(next.clone()),
                _ => {
                    return Err(UsageError::new(
                        format!("{name} needs a value ({name} {placeholder})"),
                        usage,
                    ))
                }
            },
        };
        if !opt.repeatable && matches.options.iter().any(|(n, _)| *n == opt.name) {
            return Err(UsageError::new(format!("{name} given twice"), usage));
        }
        matches.options.push((opt.name, value));
    }
    // Globals may also have come before the command words.
    let twice = [
        ("--json", globals.json),
        ("--endpoint", globals.endpoint.is_some()),
        ("--token", globals.token.is_some()),
    ]
    .into_iter()
    .find(|(name, already)| *already && matches.flag(name));
    if let Some((name, _)) = twice {
        return Err(UsageError::new(format!("{name} given twice"), usage));
    }
    globals.json |= matches.flag("--json");
    if let Some(endpoint) = matches.value("--endpoint") {
        globals.endpoint = Some(endpoint.to_string());
    }
    if let Some(token) = matches.value("--token") {
        globals.token = Some(Token(token.to_string()));
    }
    Ok(matches)
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Invocation {
            globals: Globals::default(),
            command: Command::Help,
        });
    }
    parse_command(args, &mut Globals::default())
}

/// Takes the leading global options (with their values), then the command words, then the
/// command's own options and positionals.
fn parse_command(args: &[String], globals: &mut Globals) -> Result<Invocation, UsageError> {
    let mut index = 0;
    let mut leading: Vec<String> = Vec::new();
    while let Some(word) = args.get(index) {
        if !word.starts_with('-') {
            break;
        }
        leading.push(word.clone());
        let takes_value = GLOBAL_OPTS
            .iter()
            .any(|o| o.value.is_some() && o.name == word.as_str());
        if takes_value {
            if let Some(value) = args.get(index + 1) {
                leading.push(value.clone());
                index += 1;
            }
        }
        index += 1;
    }
    match_words(&leading, &[], TOP_USAGE, globals)?;
    let rest = args.get(index..).unwrap_or_default();
    let (command, tail) = match rest {
        [] => return Err(UsageError::new("missing a command", TOP_USAGE)),
        [group, ..] if group == "help" => {
            return Ok(Invocation {
                globals: globals.clone(),
                command: Command::Help,
            });
        }
        [group, tail @ ..] if group == "keys" => match tail {
            [] => return Err(UsageError::new("missing a keys command", KEYS_USAGE)),
            [sub, tail @ ..] => (("keys", sub.as_str()), tail),
        },
        [group, tail @ ..] if group == "approvals" => match tail {
            [] => {
                return Err(UsageError::new(
                    "missing an approvals command",
                    APPROVALS_USAGE,
                ))
            }
            [sub, tail @ ..] => (("approvals", sub.as_str()), tail),
        },
        [group, tail @ ..] if group == "policy" => match tail {
            [] => return Err(UsageError::new("missing a policy command", POLICY_USAGE)),
            [sub, tail @ ..] => (("policy", sub.as_str()), tail),
        },
        [group, tail @ ..] if group == "deploy" => match tail {
            [sub, tail @ ..] if sub == "secrets" => {
                let m = match_words(tail, SECRETS_OPTS, DEPLOY_USAGE, globals)?;
                return Ok(Invocation {
                    globals: globals.clone(),
                    command: Command::DeploySecrets(secrets(&m)?),
                });
            }
            [] => return Err(UsageError::new("missing a deploy command", DEPLOY_USAGE)),
            [other, ..] => {
                return Err(UsageError::new(
                    format!("unknown deploy command `{other}`"),
                    DEPLOY_USAGE,
                ))
            }
        },
        [group, tail @ ..] if group == "doctor" => {
            let m = match_words(tail, DOCTOR_OPTS, DOCTOR_USAGE, globals)?;
            return Ok(Invocation {
                globals: globals.clone(),
                command: Command::Doctor(doctor(&m)?),
            });
        }
        [other, ..] => {
            return Err(UsageError::new(
                format!("unknown command `{other}`"),
                TOP_USAGE,
            ))
        }
    };
    let command = match command {
        ("keys", "create") => Command::Keys(KeysCommand::Create(create(&match_words(
            tail,
            CREATE_OPTS,
            CREATE_USAGE,
            globals,
        )?)?)),
        ("keys", "list") => Command::Keys(KeysCommand::List(list(&match_words(
            tail, LIST_OPTS, LIST_USAGE, globals,
        )?)?)),
        ("keys", "show") => Command::Keys(KeysCommand::Show(
            match_words(tail, &[], SHOW_USAGE, globals)?.key_id()?,
        )),
        ("keys", "edit") => {
            let m = match_words(tail, EDIT_OPTS, EDIT_USAGE, globals)?;
            Command::Keys(KeysCommand::Edit(m.key_id()?, edit(&m)?))
        }
        ("keys", "revoke") => Command::Keys(KeysCommand::Revoke(
            match_words(tail, &[], REVOKE_USAGE, globals)?.key_id()?,
        )),
        ("keys", "activate") => Command::Keys(KeysCommand::Activate(
            match_words(tail, &[], ACTIVATE_USAGE, globals)?.key_id()?,
        )),
        ("keys", "rotate") => {
            let m = match_words(tail, ROTATE_OPTS, ROTATE_USAGE, globals)?;
            Command::Keys(KeysCommand::Rotate {
                id: m.key_id()?,
                grace_seconds: m.number("--grace", 0, Some(MAX_GRACE_SECONDS))?,
            })
        }
        ("keys", "rotate-webhook-secret") => {
            let m = match_words(tail, ROTATE_OPTS, ROTATE_WEBHOOK_SECRET_USAGE, globals)?;
            Command::Keys(KeysCommand::RotateWebhookSecret {
                id: m.key_id()?,
                grace_seconds: m.number("--grace", 0, Some(MAX_GRACE_SECONDS))?,
            })
        }
        ("keys", "delete") => Command::Keys(KeysCommand::Delete(
            match_words(tail, &[], DELETE_USAGE, globals)?.key_id()?,
        )),
        ("keys", other) => {
            return Err(UsageError::new(
                format!("unknown keys command `{other}`"),
                KEYS_USAGE,
            ))
        }
        ("approvals", "list") => Command::Approvals(ApprovalsCommand::List(approvals_list(
            &match_words(tail, APPROVALS_LIST_OPTS, APPROVALS_LIST_USAGE, globals)?,
        )?)),
        ("approvals", "show") => Command::Approvals(ApprovalsCommand::Show(
            match_words(tail, &[], APPROVALS_SHOW_USAGE, globals)?.approval_id()?,
        )),
        ("approvals", "approve") => Command::Approvals(ApprovalsCommand::Approve(
            match_words(tail, &[], APPROVE_USAGE, globals)?.approval_id()?,
        )),
        ("approvals", "reject") => {
            let m = match_words(tail, REJECT_OPTS, REJECT_USAGE, globals)?;
            Command::Approvals(ApprovalsCommand::Reject {
                id: m.approval_id()?,
                reason: reason(&m)?,
            })
        }
        ("approvals", other) => {
            return Err(UsageError::new(
                format!("unknown approvals command `{other}`"),
                APPROVALS_USAGE,
            ))
        }
        ("policy", "show") => {
            match_words(tail, &[], POLICY_SHOW_USAGE, globals)?.no_positionals()?;
            Command::PolicyShow
        }
        ("policy", "check") => {
            let m = match_words(tail, &[], POLICY_CHECK_USAGE, globals)?;
            match m.positionals.as_slice() {
                [path] => Command::PolicyCheck { path: path.clone() },
                [] => return Err(m.error("missing the policy FILE")),
                [_, extra, ..] => return Err(m.error(format!("unexpected argument `{extra}`"))),
            }
        }
        ("policy", "diff") => {
            let m = match_words(tail, &[], POLICY_DIFF_USAGE, globals)?;
            match m.positionals.as_slice() {
                [old, new] => Command::PolicyDiff {
                    old: old.clone(),
                    new: new.clone(),
                },
                [] | [_] => return Err(m.error("needs two policy files: OLD and NEW")),
                [_, _, extra, ..] => return Err(m.error(format!("unexpected argument `{extra}`"))),
            }
        }
        (_, other) => {
            return Err(UsageError::new(
                format!("unknown policy command `{other}`"),
                POLICY_USAGE,
            ))
        }
    };
    Ok(Invocation {
        globals: globals.clone(),
        command,
    })
}

fn create(m: &Matches) -> Result<NewKeyArgs, UsageError> {
    m.no_positionals()?;
    let name = m
        .value("--name")
        .ok_or_else(|| m.error("--name is required"))?
        .to_string();
    let scopes = m.values("--scope");
    if scopes.is_empty() {
        return Err(m.error("at least one --scope is required"));
    }
    let environment = m
        .value("--environment")
        .map(|e| match e {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            other => Err(m.error(format!("--environment: `{other}` is not one of live, test"))),
        })
        .transpose()?;
    Ok(NewKeyArgs {
        name,
        scopes,
        workspace: m.value("--workspace").map(str::to_string),
        expires_at: m.rfc3339("--expires-at")?,
        per_minute: m.number("--per-minute", 1, None)?,
        per_day: m.number("--per-day", 1, None)?,
        metadata: m.metadata()?,
        webhook: m.value("--webhook").map(str::to_string),
        environment,
    })
}

fn list(m: &Matches) -> Result<ListArgs, UsageError> {
    m.no_positionals()?;
    let status = status::<Status>(m)?;
    Ok(ListArgs {
        status,
        workspace: m.value("--workspace").map(str::to_string),
        limit: m.number("--limit", 1, Some(MAX_PAGE_SIZE))?,
        cursor: m.value("--cursor").map(str::to_string),
        all: m.flag("--all"),
    })
}

fn approvals_list(m: &Matches) -> Result<ApprovalListArgs, UsageError> {
    m.no_positionals()?;
    let status = status::<ApprovalStatus>(m)?;
    Ok(ApprovalListArgs {
        status,
        workspace: m.value("--workspace").map(str::to_string),
        limit: m.number("--limit", 1, Some(MAX_PAGE_SIZE))?,
        cursor: m.value("--cursor").map(str::to_string),
        all: m.flag("--all"),
    })
}

/// `--status`, one of the list's statuses (the gateway's own names).
fn status<S: ListedStatus>(m: &Matches) -> Result<Option<S>, UsageError> {
    m.value("--status")
        .map(|text| {
            parse_status(text).ok_or_else(|| {
                let names: Vec<&str> = S::ALL.iter().map(|s| s.as_str()).collect();
                m.error(format!(
                    "--status: `{text}` is not one of {}",
                    names.join(", ")
                ))
            })
        })
        .transpose()
}

/// `deploy secrets`: which of generate, rotate and upload, with the options that one takes.
fn secrets(m: &Matches) -> Result<SecretsCommand, UsageError> {
    m.no_positionals()?;
    m.conflict("--rotate", "--upload")?;
    m.conflict("--out", "--in")?;
    m.conflict("--rotate", "--env")?;
    let env = m
        .value("--env")
        .map(|name| {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            match valid {
                true => Ok(name.to_string()),
                false => Err(m.error(format!(
                    "--env: `{name}` is not a wrangler environment name (letters, digits, - and _)"
                ))),
            }
        })
        .transpose()?;
    let file = || {
        m.value("--in")
            .map(str::to_string)
            .ok_or_else(|| m.error("--in FILE is required: the secrets file to change or upload"))
    };
    if let Some(name) = m.value("--rotate") {
        let name = SecretName::parse(name).ok_or_else(|| {
            let names: Vec<&str> = SecretName::ALL.iter().map(|n| n.as_str()).collect();
            m.error(format!(
                "--rotate: `{name}` is not one of {}",
                names.join(", ")
            ))
        })?;
        return Ok(SecretsCommand::Rotate {
            name,
            file: file()?,
            force: m.flag("--force"),
        });
    }
    if m.flag("--force") {
        return Err(m.error("--force only goes with --rotate"));
    }
    if m.flag("--upload") {
        return Ok(SecretsCommand::Upload { file: file()?, env });
    }
    if m.flag("--in") {
        return Err(m.error("--in goes with --rotate or --upload; a new file is named with --out"));
    }
    Ok(SecretsCommand::Generate {
        out: m.value("--out").map(str::to_string),
        env,
    })
}

fn doctor(m: &Matches) -> Result<DoctorArgs, UsageError> {
    m.no_positionals()?;
    let path = m.value("--path").map(str::to_string);
    if let Some(path) = &path {
        if !path.starts_with('/') || path.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(m.error(format!(
                "--path: `{path}` must start with / and contain no spaces, e.g. /v1/contacts"
            )));
        }
    }
    Ok(DoctorArgs {
        policy: m.value("--policy").map(str::to_string),
        path,
    })
}

/// `--reason`, trimmed: the gateway refuses an empty one and one over 1000 characters.
fn reason(m: &Matches) -> Result<String, UsageError> {
    let reason = m
        .value("--reason")
        .ok_or_else(|| m.error("--reason is required: say why, for the key's owner"))?
        .trim();
    if reason.is_empty() {
        return Err(m.error("--reason: must not be empty or only spaces"));
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(m.error(format!(
            "--reason: {chars} characters is too long; use at most {MAX_REASON_CHARS}"
        )));
    }
    Ok(reason.to_string())
}

fn edit(m: &Matches) -> Result<EditArgs, UsageError> {
    m.conflict("--expires-at", "--no-expiry")?;
    m.conflict("--webhook", "--no-webhook")?;
    m.conflict("--per-minute", "--default-limits")?;
    m.conflict("--per-day", "--default-limits")?;
    let scopes = m.values("--scope");
    let per_minute = m.number("--per-minute", 1, None)?;
    let per_day = m.number("--per-day", 1, None)?;
    let limits = if m.flag("--default-limits") {
        Change::Clear
    } else if per_minute.is_some() || per_day.is_some() {
        Change::Set((per_minute, per_day))
    } else {
        Change::Keep
    };
    let expires_at = match m.rfc3339("--expires-at")? {
        Some(at) => Change::Set(at),
        None if m.flag("--no-expiry") => Change::Clear,
        None => Change::Keep,
    };
    let webhook = match m.value("--webhook") {
        Some(url) => Change::Set(url.to_string()),
        None if m.flag("--no-webhook") => Change::Clear,
        None => Change::Keep,
    };
    let args = EditArgs {
        name: m.value("--name").map(str::to_string),
        scopes: (!scopes.is_empty()).then_some(scopes),
        limits,
        expires_at,
        metadata: m.metadata()?,
        webhook,
    };
    if args.is_empty() {
        return Err(m.error("nothing to change: give at least one of the options"));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "key_5C6oug3qxDqDYRHASGJgAo";

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn ok(line: &str) -> Invocation {
        parse(&words(line)).unwrap_or_else(|e| panic!("`{line}` refused: {e}"))
    }

    fn keys(line: &str) -> KeysCommand {
        match ok(line).command {
            Command::Keys(keys) => keys,
            other => panic!("`{line}` gave {other:?}"),
        }
    }

    /// `line` is a usage error whose message is exactly `message`.
    fn refused(line: &str, message: &str) -> UsageError {
        let error = parse(&words(line)).expect_err(line);
        assert_eq!(error.message, message, "for `{line}`");
        assert!(error.usage.starts_with("usage: keygate"));
        error
    }

    fn id() -> KeyId {
        KeyId::parse(ID).unwrap()
    }

    // --- what is accepted ------------------------------------------------------------

    #[test]
    fn create_with_every_option() {
        let line = "keys create --name Zapier --scope contacts:read --scope email:send --workspace acme \
             --expires-at 2030-01-31T23:59:59Z --per-minute 30 --per-day 1000 \
             --metadata {\"team\":\"growth\"} --webhook https://hooks.example.com/r --environment test";
        let KeysCommand::Create(args) = keys(line) else {
            panic!()
        };
        assert_eq!(
            args,
            NewKeyArgs {
                name: "Zapier".into(),
                scopes: vec!["contacts:read".into(), "email:send".into()],
                workspace: Some("acme".into()),
                expires_at: Some("2030-01-31T23:59:59Z".into()),
                per_minute: Some(30),
                per_day: Some(1000),
                metadata: json!({"team": "growth"}).as_object().cloned(),
                webhook: Some("https://hooks.example.com/r".into()),
                environment: Some(Environment::Test),
            }
        );
    }

    #[test]
    fn names_with_spaces_and_equals_forms() {
        let args: Vec<String> = [
            "keys",
            "create",
            "--name=Claude Desktop — prod",
            "--scope",
            "admin",
        ]
        .map(String::from)
        .to_vec();
        let Command::Keys(KeysCommand::Create(create)) = parse(&args).unwrap().command else {
            panic!()
        };
        assert_eq!(create.name, "Claude Desktop — prod");
        // `=` lets a value start with `--`.
        let args: Vec<String> = ["keys", "create", "--name=--odd", "--scope=a"]
            .map(String::from)
            .to_vec();
        assert!(parse(&args).is_ok());
    }

    #[test]
    fn globals_go_before_or_after_the_command() {
        let before = ok(&format!(
            "--endpoint https://gw.example --token t0k --json keys show {ID}"
        ));
        let after = ok(&format!(
            "keys show {ID} --json --token=t0k --endpoint=https://gw.example"
        ));
        for invocation in [&before, &after] {
            assert_eq!(
                invocation.globals.endpoint.as_deref(),
                Some("https://gw.example")
            );
            assert_eq!(
                invocation.globals.token.as_ref().map(Token::expose),
                Some("t0k")
            );
            assert!(invocation.globals.json);
            assert_eq!(invocation.command, Command::Keys(KeysCommand::Show(id())));
        }
        assert!(!ok(&format!("keys show {ID}")).globals.json);
    }

    #[test]
    fn list_options() {
        assert_eq!(keys("keys list"), KeysCommand::List(ListArgs::default()));
        assert_eq!(
            keys("keys list --status revoked --workspace acme --limit 100 --cursor c_1 --all"),
            KeysCommand::List(ListArgs {
                status: Some(Status::Revoked),
                workspace: Some("acme".into()),
                limit: Some(100),
                cursor: Some("c_1".into()),
                all: true,
            })
        );
        assert_eq!(
            keys("keys list --limit 1"),
            KeysCommand::List(ListArgs {
                limit: Some(1),
                ..ListArgs::default()
            })
        );
    }

    #[test]
    fn edit_sets_clears_or_keeps_each_field() {
        let KeysCommand::Edit(got, args) = keys(&format!(
            "keys edit {ID} --name New --scope a:read --scope b:write --per-day 500 --no-expiry --metadata {{}} --no-webhook"
        )) else {
            panic!()
        };
        assert_eq!(got, id());
        assert_eq!(
            args,
            EditArgs {
                name: Some("New".into()),
                scopes: Some(vec!["a:read".into(), "b:write".into()]),
                limits: Change::Set((None, Some(500))),
                expires_at: Change::Clear,
                metadata: Some(Map::new()),
                webhook: Change::Clear,
            }
        );
        let KeysCommand::Edit(_, args) = keys(&format!(
            "keys edit {ID} --default-limits --expires-at 2030-01-01T00:00:00+02:00 --webhook https://h.example/x"
        )) else {
            panic!()
        };
        assert_eq!(args.limits, Change::Clear);
        assert_eq!(
            args.expires_at,
            Change::Set("2030-01-01T00:00:00+02:00".into())
        );
        assert_eq!(args.webhook, Change::Set("https://h.example/x".into()));
        assert_eq!(args.name, None);
        assert_eq!(args.scopes, None);
    }

    #[test]
    fn lifecycle_commands_take_an_id() {
        assert_eq!(keys(&format!("keys show {ID}")), KeysCommand::Show(id()));
        assert_eq!(
            keys(&format!("keys revoke {ID}")),
            KeysCommand::Revoke(id())
        );
        assert_eq!(
            keys(&format!("keys activate {ID}")),
            KeysCommand::Activate(id())
        );
        assert_eq!(
            keys(&format!("keys delete {ID}")),
            KeysCommand::Delete(id())
        );
        assert_eq!(
            keys(&format!("keys rotate {ID}")),
            KeysCommand::Rotate {
                id: id(),
                grace_seconds: None
            }
        );
        assert_eq!(
            keys(&format!("keys rotate-webhook-secret {ID} --grace 60")),
            KeysCommand::RotateWebhookSecret {
                id: id(),
                grace_seconds: Some(60)
            }
        );
        assert_eq!(
            keys(&format!("keys rotate {ID} --grace 0")),
            KeysCommand::Rotate {
                id: id(),
                grace_seconds: Some(0)
            }
        );
        assert_eq!(
            keys(&format!("keys rotate --grace 2592000 {ID}")),
            KeysCommand::Rotate {
                id: id(),
                grace_seconds: Some(2_592_000)
            }
        );
    }

    #[test]
    fn policy_and_help() {
        assert_eq!(
            ok("policy check policies/demo.toml").command,
            Command::PolicyCheck {
                path: "policies/demo.toml".into()
            }
        );
        assert_eq!(ok("policy show").command, Command::PolicyShow);
        assert_eq!(
            ok("policy diff old.toml new.toml").command,
            Command::PolicyDiff {
                old: "old.toml".into(),
                new: "new.toml".into()
            }
        );
        for line in ["--help", "-h", "help", "keys create --help", "keys -h"] {
            assert_eq!(ok(line).command, Command::Help, "{line}");
        }
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let invocation = ok(&format!("--token s3cr3t-t0ken keys show {ID}"));
        assert!(!format!("{invocation:?}").contains("s3cr3t"));
    }

    // --- every usage error -----------------------------------------------------------

    #[test]
    fn missing_or_unknown_commands() {
        refused("", "missing a command");
        refused("--json", "missing a command");
        refused("frobnicate", "unknown command `frobnicate`");
        refused("keys", "missing a keys command");
        refused("keys frob", "unknown keys command `frob`");
        refused("policy", "missing a policy command");
        refused("policy frob", "unknown policy command `frob`");
    }

    #[test]
    fn unknown_options_and_values() {
        refused("--verbose keys list", "unknown option --verbose");
        refused("keys create --colour blue", "unknown option --colour");
        refused(&format!("keys show {ID} --name x"), "unknown option --name");
        refused("keys list -a", "unknown option -a");
        refused("keys list --json=yes", "--json takes no value");
        refused("keys list --all=1", "--all takes no value");
    }

    #[test]
    fn options_missing_their_value() {
        refused(
            "keys create --scope a --name",
            "--name needs a value (--name N)",
        );
        refused(
            "keys create --name --scope a",
            "--name needs a value (--name N)",
        );
        refused("--token", "--token needs a value (--token TOKEN)");
        refused(
            "--endpoint --json keys list",
            "--endpoint needs a value (--endpoint URL)",
        );
        refused("keys list --cursor", "--cursor needs a value (--cursor C)");
    }

    #[test]
    fn options_given_twice() {
        refused(
            "keys create --name a --name b --scope s",
            "--name given twice",
        );
        refused("keys list --all --all", "--all given twice");
        refused("--json keys list --json", "--json given twice");
    }

    #[test]
    fn create_needs_a_name_and_a_scope() {
        refused("keys create --scope a", "--name is required");
        refused("keys create --name a", "at least one --scope is required");
        refused(
            "keys create --name a --scope s extra",
            "unexpected argument `extra`",
        );
    }

    #[test]
    fn numbers_are_checked() {
        let base = "keys create --name a --scope s";
        refused(
            &format!("{base} --per-minute ten"),
            "--per-minute: `ten` is not a whole number of at least 1",
        );
        refused(
            &format!("{base} --per-minute 0"),
            "--per-minute: 0 is out of range; use a whole number of at least 1",
        );
        refused(
            &format!("{base} --per-minute -5"),
            "--per-minute: `-5` is not a whole number of at least 1",
        );
        refused(
            &format!("{base} --per-day 1.5"),
            "--per-day: `1.5` is not a whole number of at least 1",
        );
        refused(
            &format!("{base} --per-day 99999999999999999999999"),
            "--per-day: `99999999999999999999999` is not a whole number of at least 1",
        );
        refused(
            "keys list --limit 0",
            "--limit: 0 is out of range; use a whole number from 1 to 100",
        );
        refused(
            "keys list --limit 101",
            "--limit: 101 is out of range; use a whole number from 1 to 100",
        );
        refused(
            "keys list --limit many",
            "--limit: `many` is not a whole number from 1 to 100",
        );
        refused(
            &format!("keys rotate {ID} --grace 2592001"),
            "--grace: 2592001 is out of range; use a whole number from 0 to 2592000",
        );
        refused(
            &format!("keys rotate {ID} --grace 1h"),
            "--grace: `1h` is not a whole number from 0 to 2592000",
        );
        refused(
            &format!("keys edit {ID} --per-minute 0"),
            "--per-minute: 0 is out of range; use a whole number of at least 1",
        );
    }

    #[test]
    fn times_json_and_choices_are_checked() {
        let base = "keys create --name a --scope s";
        let error = parse(&words(&format!("{base} --expires-at tomorrow"))).unwrap_err();
        assert!(
            error
                .message
                .starts_with("--expires-at: not an RFC 3339 timestamp"),
            "{}",
            error.message
        );
        let error = parse(&words(&format!("keys edit {ID} --expires-at 2030-01-31"))).unwrap_err();
        assert!(
            error
                .message
                .starts_with("--expires-at: not an RFC 3339 timestamp"),
            "{}",
            error.message
        );
        let error = parse(&words(&format!("{base} --metadata {{team:1}}"))).unwrap_err();
        assert!(
            error.message.starts_with("--metadata: not valid JSON ("),
            "{}",
            error.message
        );
        refused(
            &format!("{base} --metadata [1,2]"),
            "--metadata: must be a JSON object, e.g. '{\"team\":\"growth\"}'",
        );
        refused(
            &format!("keys edit {ID} --metadata \"x\""),
            "--metadata: must be a JSON object, e.g. '{\"team\":\"growth\"}'",
        );
        refused(
            &format!("{base} --environment prod"),
            "--environment: `prod` is not one of live, test",
        );
        refused(
            "keys list --status gone",
            "--status: `gone` is not one of active, revoked, expired",
        );
    }

    #[test]
    fn ids_are_checked() {
        let id_error =
            "ID must be `key_` followed by 22 letters or digits, as `keygate keys list` shows it";
        for command in ["show", "revoke", "activate", "delete", "rotate"] {
            refused(&format!("keys {command}"), "missing the key ID");
            refused(&format!("keys {command} abc"), id_error);
            refused(
                &format!("keys {command} {ID} {ID}"),
                &format!("unexpected argument `{ID}`"),
            );
        }
        refused("keys edit --name x", "missing the key ID");
        refused("keys show ../policy", id_error);
        refused("keys show key_5C6oug3qxDqDYRHASGJgA?", id_error);
        // A key's secret is not its id.
        refused(
            "keys show kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv",
            id_error,
        );
    }

    #[test]
    fn edits_must_change_something_and_not_contradict() {
        refused(
            &format!("keys edit {ID}"),
            "nothing to change: give at least one of the options",
        );
        refused(
            &format!("keys edit {ID} --expires-at 2030-01-01T00:00:00Z --no-expiry"),
            "--expires-at and --no-expiry cannot be used together",
        );
        refused(
            &format!("keys edit {ID} --webhook https://h.example --no-webhook"),
            "--webhook and --no-webhook cannot be used together",
        );
        refused(
            &format!("keys edit {ID} --per-minute 5 --default-limits"),
            "--per-minute and --default-limits cannot be used together",
        );
        refused(
            &format!("keys edit {ID} --per-day 5 --default-limits"),
            "--per-day and --default-limits cannot be used together",
        );
    }

    #[test]
    fn positional_mistakes() {
        refused("keys list acme", "unexpected argument `acme`");
        refused("policy show extra", "unexpected argument `extra`");
        refused("policy check", "missing the policy FILE");
        refused("policy check a.toml b.toml", "unexpected argument `b.toml`");
        refused("policy diff", "needs two policy files: OLD and NEW");
        refused("policy diff a.toml", "needs two policy files: OLD and NEW");
        refused(
            "policy diff a.toml b.toml c.toml",
            "unexpected argument `c.toml`",
        );
    }

    #[test]
    fn each_error_names_its_own_usage() {
        assert_eq!(
            refused("keys create --name a", "at least one --scope is required").usage,
            CREATE_USAGE
        );
        assert_eq!(
            refused(
                "keys list --limit 0",
                "--limit: 0 is out of range; use a whole number from 1 to 100"
            )
            .usage,
            LIST_USAGE
        );
        assert_eq!(
            refused(
                &format!("keys edit {ID}"),
                "nothing to change: give at least one of the options"
            )
            .usage,
            EDIT_USAGE
        );
        assert_eq!(
            refused("keys nope", "unknown keys command `nope`").usage,
            KEYS_USAGE
        );
    }
}
