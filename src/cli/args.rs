//! Command-line words in, a checked [`Invocation`] out — or clap's usage error (exit 2),
//! before any request is made. The grammar is declared with clap's derive; the values are
//! checked with this crate's own rules ([`KeyId::parse`], [`ApprovalId::parse`],
//! [`WorkspaceName::parse`],
//! [`parse_rfc3339`], [`parse_status`], the admin API's bounds), each refusal worded as
//! `--option: what is wrong`.
//!
//! Everything the gateway would refuse for its *syntax* is caught here (numbers, RFC 3339
//! times, JSON metadata, key and approval ids, enumerations, conflicting flags, an empty
//! rejection reason). What depends on the
//! deployment (which scopes exist, whether a webhook URL is acceptable, whether a time is in
//! the future by the gateway's clock) is left to the gateway, which answers with field errors.

use crate::admin::{parse_status, ListedStatus, MAX_GRACE_SECONDS, MAX_REASON_CHARS};
use crate::approval::{ApprovalId, ApprovalStatus};
use crate::key::{Environment, KeyId};
use crate::page::MAX_PAGE_SIZE;
use crate::record::Status;
use crate::session::{
    Permission, SessionId, MAX_MEMBER_ID_CHARS, MAX_MEMBER_NAME_CHARS, MAX_TTL_SECONDS,
    MIN_TTL_SECONDS,
};
use crate::timestamp::parse_rfc3339;
use crate::workspace::WorkspaceName;
use clap::builder::{PossibleValue, TypedValueParser, ValueParserFactory};
use clap::error::ErrorKind;
use clap::{Arg, ArgGroup, Args, Parser, Subcommand};
use serde_json::{Map, Value};
use std::ffi::OsStr;
use std::fmt;
use std::marker::PhantomData;

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8787";
pub const ENDPOINT_VAR: &str = "KEYGATE_ENDPOINT";
pub const TOKEN_VAR: &str = "KEYGATE_TOKEN";

const AFTER_HELP: &str = "\
The endpoint is --endpoint, else $KEYGATE_ENDPOINT, else http://127.0.0.1:8787; the token is
--token, else $KEYGATE_TOKEN. `keygate <command> --help` shows a command's options.

exit status: 0 done, 1 the gateway refused (the reason is printed), the policy file is invalid,
             or `policy diff` found changes that affect existing keys; 2 usage error (or a
             `policy diff` file that cannot be read or loaded); 3 the gateway could not be
             reached or did not answer with JSON";

/// Parses the arguments after the program name. `--help` and `--version` come back as an
/// error too, clap's way: [`clap::Error::use_stderr`] is false for them.
pub fn parse(args: &[String]) -> Result<Invocation, clap::Error> {
    Invocation::try_parse_from(std::iter::once("keygate").chain(args.iter().map(String::as_str)))
}

/// Operate a keygate gateway through its admin API
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(name = "keygate", version, after_help = AFTER_HELP)]
pub struct Invocation {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to every command, anywhere on the line.
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
#[command(next_help_heading = "Global options")]
pub struct Globals {
    /// The gateway's base URL [default: $KEYGATE_ENDPOINT, else http://127.0.0.1:8787]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The root token or a key with api_keys or approvals grants [default: $KEYGATE_TOKEN;
    /// prefer the variable: other users of the machine can see command lines]
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<Token>,
    /// Print the gateway's JSON answer as it is, for scripts
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Clone, Debug, PartialEq)]
pub enum Command {
    /// Create, list, show, edit, revoke, activate, rotate and delete keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List, show, approve and reject queued requests
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Mint, list and revoke portal sessions for the provider's members (root token)
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// List and show workspaces, and put them on plans
    #[command(subcommand)]
    Workspaces(WorkspacesCommand),
    /// Show the deployed policy, or check and compare policy files offline
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Keep a deployment's secrets
    #[command(subcommand)]
    Deploy(DeployCommand),
    /// Smoke-test a deployment
    ///
    /// Checks the admin API, the policy, a 401 without a key, and a temporary test key on
    /// GET --path; exits 1 if any check failed. The token is $KEYGATE_TOKEN.
    Doctor(DoctorArgs),
}

#[derive(Subcommand, Clone, Debug, PartialEq)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once
    Create(NewKeyArgs),
    /// List keys, a page at a time (or every page with --all)
    List(KeyListArgs),
    /// Show a key with its usage counts
    Show {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
    },
    /// Change a key's name, scopes, limits, expiry, metadata or webhook
    #[command(override_usage = "keygate keys edit <ID> <OPTIONS>...  (at least one option)")]
    Edit {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
        #[command(flatten)]
        changes: EditArgs,
    },
    /// Revoke a key: its next request is a 401 key_revoked
    Revoke {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
    },
    /// Activate a revoked key again (policy permitting)
    Activate {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
    },
    /// Give a key a new secret; the old one keeps working for --grace seconds
    Rotate {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
        /// How long the old secret keeps working [default: the gateway's]
        #[arg(long = "grace", value_name = "SECONDS", value_parser = checked(grace), allow_negative_numbers = true)]
        grace_seconds: Option<u64>,
    },
    /// Give a key's rejection webhook a new signing secret
    ///
    /// The old secret keeps signing too for --grace seconds.
    RotateWebhookSecret {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
        /// How long the old secret keeps signing too [default: the gateway's]
        #[arg(long = "grace", value_name = "SECONDS", value_parser = checked(grace), allow_negative_numbers = true)]
        grace_seconds: Option<u64>,
    },
    /// Delete a key: 401 for its secret, 404 for its id
    Delete {
        /// The key's id, as `keygate keys list` shows it
        id: KeyId,
    },
}

#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum ApprovalsCommand {
    /// List a workspace's queued requests (with the root token, --workspace is needed)
    List(ApprovalListArgs),
    /// Show a queued request as the origin will get it
    Show {
        /// The approval's id, as `keygate approvals list` shows it
        id: ApprovalId,
    },
    /// Send the stored request to the origin, once, and print the origin's answer
    Approve {
        /// The approval's id, as `keygate approvals list` shows it
        id: ApprovalId,
    },
    /// Reject a queued request; the key's rejection webhook is told the reason
    Reject {
        /// The approval's id, as `keygate approvals list` shows it
        id: ApprovalId,
        /// Why, for the key's owner (trimmed; at most 1000 characters)
        #[arg(long, value_name = "TEXT", value_parser = checked(reason))]
        reason: String,
    },
}

#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum WorkspacesCommand {
    /// List workspaces and their plans, a page at a time (or every page with --all; root
    /// token only)
    List(WorkspaceListArgs),
    /// Show a workspace and the plan it is on
    Show {
        /// The workspace's name, as `keygate workspaces list` shows it
        workspace: WorkspaceName,
    },
    /// Put a workspace on one of the policy's plans (root token only)
    SetPlan {
        /// The workspace's name; one keygate does not know yet is created on the plan
        workspace: WorkspaceName,
        /// The plan, as `keygate policy show` lists it
        plan: String,
    },
}

/// The page options of `workspaces list` (workspaces have no status and no workspace filter).
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkspaceListArgs {
    /// How many per page, 1 to 100 [default: the gateway's, 20]
    #[arg(long, value_name = "N", value_parser = checked(page_size), allow_negative_numbers = true)]
    pub limit: Option<u64>,
    /// Start where a previous page's next_cursor says
    #[arg(long, value_name = "C")]
    pub cursor: Option<String>,
    /// Follow the pages to the end
    #[arg(long)]
    pub all: bool,
}

#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum SessionsCommand {
    /// Mint a session for one member; its token and portal link are printed once
    Create(NewSessionArgs),
    /// List a workspace's live sessions, newest first
    List {
        /// The workspace whose sessions to list
        #[arg(long, value_name = "W")]
        workspace: String,
        /// How many per page, 1 to 100 [default: the gateway's, 20]
        #[arg(long, value_name = "N", value_parser = checked(page_size), allow_negative_numbers = true)]
        limit: Option<u64>,
        /// Start where a previous page's next_cursor says
        #[arg(long, value_name = "C")]
        cursor: Option<String>,
    },
    /// Revoke a session: its token is a 401 from the next request on
    Revoke {
        /// The session's id, as `keygate sessions list` shows it
        id: SessionId,
    },
}

#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct NewSessionArgs {
    /// The workspace the member acts in
    #[arg(long, value_name = "W")]
    pub workspace: String,
    /// The member's id in your own system
    #[arg(long, value_name = "ID", value_parser = checked(member_id))]
    pub member_id: String,
    /// The member's name, as the portal shows it
    #[arg(long, value_name = "NAME", value_parser = checked(member_name))]
    pub member_name: String,
    /// keys:read, keys:manage or approvals:review (repeat for several)
    #[arg(long = "permission", value_name = "P", required = true)]
    pub permissions: Vec<Permission>,
    /// How long the session lives, 60 to 43200 seconds [default: the gateway's, 3600]
    #[arg(long = "ttl", value_name = "SECONDS", value_parser = checked(ttl), allow_negative_numbers = true)]
    pub ttl_seconds: Option<u64>,
}

#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum PolicyCommand {
    /// Print the deployed policy's scopes and routes
    Show,
    /// Check a policy file offline: every syntax error, every broken rule, and routes that can
    /// never be reached; prints the scopes the policy defines
    Check {
        #[arg(value_name = "FILE")]
        path: String,
    },
    /// Say what deploying NEW over OLD does to existing keys (exit 1 when something does)
    Diff { old: String, new: String },
    /// Print a policy file in the compiled form the Worker reads (one line of JSON), after
    /// the checks `policy check` makes; scripts/build.sh bundles it
    Compile {
        #[arg(value_name = "FILE")]
        path: String,
    },
}

#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum DeployCommand {
    /// Write the Worker's four secrets to a new file, rotate one, or upload them
    ///
    /// The new file is 0600 and never overwritten, and no value is printed. --upload runs
    /// `npx wrangler secret bulk` ($KEYGATE_WRANGLER) with the four current values on its input.
    Secrets(SecretsArgs),
}

/// `keygate deploy secrets`: generate (the default), `--rotate` or `--upload`.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
#[command(group(ArgGroup::new("change").args(["rotate", "upload"])))]
pub struct SecretsArgs {
    /// The new file [default: keygate-secrets.json, or keygate-secrets.NAME.json with --env]
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    pub out: Option<String>,
    /// The secrets file to change or upload
    #[arg(long = "in", value_name = "FILE", requires = "change")]
    pub file: Option<String>,
    /// The wrangler environment the secrets are for
    #[arg(long, value_name = "NAME", value_parser = checked(wrangler_env), conflicts_with = "rotate")]
    pub env: Option<String>,
    /// Change one secret in --in; the signing and webhook secrets keep the old value as
    /// NAME_PREVIOUS for an overlap
    #[arg(long, value_name = "NAME", requires = "file")]
    pub rotate: Option<SecretName>,
    /// Allow --rotate KEYGATE_HASH_SECRET, which invalidates every key
    #[arg(long, requires = "rotate", conflicts_with = "upload")]
    pub force: bool,
    /// Send --in's four current secrets to `npx wrangler secret bulk`
    #[arg(long, requires = "file")]
    pub upload: bool,
}

impl SecretsArgs {
    /// Which of the three the options ask for; clap has already refused every other mix.
    pub fn command(&self) -> SecretsCommand {
        match (self.rotate, &self.file) {
            (Some(name), Some(file)) => SecretsCommand::Rotate {
                name,
                file: file.clone(),
                force: self.force,
            },
            (None, Some(file)) if self.upload => SecretsCommand::Upload {
                file: file.clone(),
                env: self.env.clone(),
            },
            _ => SecretsCommand::Generate {
                out: self.out.clone(),
                env: self.env.clone(),
            },
        }
    }
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
}

/// `keygate doctor`: a smoke test of a deployment.
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct DoctorArgs {
    /// A local policy file the deployed policy must equal
    #[arg(long, value_name = "FILE")]
    pub policy: Option<String>,
    /// A GET path to call with a short-lived test key, e.g. /v1/contacts
    #[arg(long, value_name = "/PATH", value_parser = checked(get_path))]
    pub path: Option<String>,
}

#[derive(Args, Clone, Debug, Default, PartialEq)]
pub struct NewKeyArgs {
    /// The key's name, for people
    #[arg(long, value_name = "N")]
    pub name: String,
    /// A scope the key is granted (repeat for several) [default: the policy's
    /// `default_scopes`, where it has them]
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// The workspace the key belongs to [default: the caller's, or `default`]
    #[arg(long, value_name = "W")]
    pub workspace: Option<String>,
    /// When the key stops working (RFC 3339, e.g. 2030-01-31T23:59:59Z)
    #[arg(long, value_name = "RFC3339", value_parser = checked(rfc3339))]
    pub expires_at: Option<String>,
    /// Requests per minute [default: the policy's]
    #[arg(long, value_name = "N", value_parser = checked(at_least_one), allow_negative_numbers = true)]
    pub per_minute: Option<u64>,
    /// Requests per day [default: the policy's]
    #[arg(long, value_name = "N", value_parser = checked(at_least_one), allow_negative_numbers = true)]
    pub per_day: Option<u64>,
    /// Metadata the origin receives, e.g. '{"team":"growth"}'
    #[arg(long, value_name = "JSON-OBJECT", value_parser = checked(metadata))]
    pub metadata: Option<Map<String, Value>>,
    /// The https URL told when one of the key's queued requests is rejected
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// live or test [default: live]
    #[arg(long, value_name = "live|test")]
    pub environment: Option<Environment>,
}

/// The page and filters of `keys list` and `approvals list`: one set of options, whose
/// `--status` takes the statuses of `S`.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct ListArgs<S: ListedStatus + Send + Sync> {
    /// Only those with this status
    #[arg(long, value_parser = StatusParser::<S>(PhantomData))]
    pub status: Option<S>,
    /// Only those of this workspace
    #[arg(long, value_name = "W")]
    pub workspace: Option<String>,
    /// How many per page, 1 to 100 [default: the gateway's, 20]
    #[arg(long, value_name = "N", value_parser = checked(page_size), allow_negative_numbers = true)]
    pub limit: Option<u64>,
    /// Start where a previous page's next_cursor says
    #[arg(long, value_name = "C")]
    pub cursor: Option<String>,
    /// Follow the pages to the end
    #[arg(long)]
    pub all: bool,
}

pub type KeyListArgs = ListArgs<Status>;
pub type ApprovalListArgs = ListArgs<ApprovalStatus>;

impl<S: ListedStatus + Send + Sync> Default for ListArgs<S> {
    fn default() -> Self {
        ListArgs {
            status: None,
            workspace: None,
            limit: None,
            cursor: None,
            all: false,
        }
    }
}

/// A field of `keys edit`: left alone, cleared (JSON `null`), or set.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T: Clone> Change<T> {
    fn of(value: &Option<T>, clear: bool) -> Change<T> {
        match (value, clear) {
            (Some(value), _) => Change::Set(value.clone()),
            (None, true) => Change::Clear,
            (None, false) => Change::Keep,
        }
    }
}

/// What `keys edit` changes: at least one option, and no option with its opposite.
#[derive(Args, Clone, Debug, Default, PartialEq)]
#[group(required = true, multiple = true)]
pub struct EditArgs {
    /// A new name
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// The new scopes: replaces the whole list (repeat for several)
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Option<Vec<String>>,
    /// The key's own per-minute limit
    #[arg(long, value_name = "N", value_parser = checked(at_least_one), allow_negative_numbers = true)]
    pub per_minute: Option<u64>,
    /// The key's own per-day limit
    #[arg(long, value_name = "N", value_parser = checked(at_least_one), allow_negative_numbers = true)]
    pub per_day: Option<u64>,
    /// Return the key to the policy's limits
    #[arg(long, conflicts_with_all = ["per_minute", "per_day"])]
    pub default_limits: bool,
    /// A new expiry (RFC 3339)
    #[arg(long, value_name = "RFC3339", value_parser = checked(rfc3339))]
    pub expires_at: Option<String>,
    /// The key never expires
    #[arg(long, conflicts_with = "expires_at")]
    pub no_expiry: bool,
    /// New metadata, a JSON object (replaces the old)
    #[arg(long, value_name = "JSON-OBJECT", value_parser = checked(metadata))]
    pub metadata: Option<Map<String, Value>>,
    /// A new rejection webhook URL
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Remove the rejection webhook
    #[arg(long, conflicts_with = "webhook")]
    pub no_webhook: bool,
}

impl EditArgs {
    /// `Clear` is `--default-limits`; `Set` carries whichever of per_minute and per_day were given.
    pub fn limits(&self) -> Change<(Option<u64>, Option<u64>)> {
        let given = (self.per_minute.is_some() || self.per_day.is_some())
            .then_some((self.per_minute, self.per_day));
        Change::of(&given, self.default_limits)
    }

    pub fn expires_at(&self) -> Change<String> {
        Change::of(&self.expires_at, self.no_expiry)
    }

    pub fn webhook(&self) -> Change<String> {
        Change::of(&self.webhook, self.no_webhook)
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

// --- values, checked by the crate's own rules --------------------------------------------

/// One of this crate's checks as a clap value parser. Its refusal is the whole error line,
/// after the option's name (`--limit: 0 is out of range; …`), so the words stay the check's.
#[derive(Clone)]
pub struct Checked<T>(fn(&str) -> Result<T, String>);

fn checked<T>(check: fn(&str) -> Result<T, String>) -> Checked<T> {
    Checked(check)
}

/// A refusal of `arg`'s value, with the usage of the command being parsed.
fn refusal(cmd: &clap::Command, arg: Option<&Arg>, message: String) -> clap::Error {
    let line = match arg.and_then(Arg::get_long) {
        Some(long) => format!("--{long}: {message}"),
        None => message,
    };
    clap::Error::raw(ErrorKind::ValueValidation, line).format(&mut cmd.clone())
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Checked<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        (self.0)(&value.to_string_lossy()).map_err(|message| refusal(cmd, arg, message))
    }
}

/// `--status`: one of `S`'s statuses, by the gateway's own names (listed in the help).
#[derive(Clone)]
pub struct StatusParser<S>(PhantomData<S>);

impl<S: ListedStatus + Send + Sync> TypedValueParser for StatusParser<S> {
    type Value = S;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<S, clap::Error> {
        let text = value.to_string_lossy();
        parse_status(&text).ok_or_else(|| {
            let names: Vec<&str> = S::ALL.iter().map(|s| s.as_str()).collect();
            refusal(
                cmd,
                arg,
                format!("`{text}` is not one of {}", names.join(", ")),
            )
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            S::ALL.iter().map(|s| PossibleValue::new(s.as_str())),
        ))
    }
}

/// The types clap finds a parser for by themselves, as `Option<KeyId>` or `KeyId` fields.
macro_rules! checked_type {
    ($($type:ty => $check:expr;)*) => {$(
        impl ValueParserFactory for $type {
            type Parser = Checked<$type>;
            fn value_parser() -> Checked<$type> {
                Checked($check)
            }
        }
    )*};
}

checked_type! {
    KeyId => |text| KeyId::parse(text).ok_or_else(|| {
        "ID must be `key_` followed by 22 letters or digits, as `keygate keys list` shows it".into()
    });
    ApprovalId => |text| ApprovalId::parse(text).ok_or_else(|| {
        "ID must be `apr_` followed by 22 letters or digits, as `keygate approvals list` shows it"
            .into()
    });
    WorkspaceName => |text| WorkspaceName::parse(text).ok_or_else(|| {
        format!("WORKSPACE must be {}", WorkspaceName::rule())
    });
    SessionId => |text| SessionId::parse(text).ok_or_else(|| {
        "ID must be `ses_` followed by 22 letters or digits, as `keygate sessions list` shows it"
            .into()
    });
    Permission => |text| one_of(&Permission::ALL, Permission::as_str, text);
    Token => |text| Ok(Token::new(text));
    Environment => |text| {
        one_of(&[Environment::Live, Environment::Test], Environment::as_str, text)
    };
    SecretName => |text| one_of(&SecretName::ALL, SecretName::as_str, text);
}

/// The one of `all` named `text`, or a refusal listing the names.
fn one_of<T: Copy>(all: &[T], name: fn(T) -> &'static str, text: &str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|t| name(*t) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
            format!("`{text}` is not one of {}", names.join(", "))
        })
}

fn whole(text: &str, min: u64, max: Option<u64>) -> Result<u64, String> {
    let range = match max {
        Some(max) => format!("a whole number from {min} to {max}"),
        None => format!("a whole number of at least {min}"),
    };
    let number: u64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not {range}"))?;
    if number < min || max.is_some_and(|max| number > max) {
        return Err(format!("{number} is out of range; use {range}"));
    }
    Ok(number)
}

fn at_least_one(text: &str) -> Result<u64, String> {
    whole(text, 1, None)
}

fn page_size(text: &str) -> Result<u64, String> {
    // The admin API's own bound: a usize of 100.
    whole(text, 1, Some(MAX_PAGE_SIZE as u64))
}

fn ttl(text: &str) -> Result<u64, String> {
    whole(text, MIN_TTL_SECONDS, Some(MAX_TTL_SECONDS))
}

/// A member's id or name as the gateway takes it: sent as written, 1 to `max` characters,
/// no control characters.
fn member_text(text: &str, max: usize) -> Result<String, String> {
    let chars = text.chars().count();
    if chars == 0 {
        return Err("must not be empty".into());
    }
    if chars > max {
        return Err(format!("{chars} characters is too long; use at most {max}"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(text.to_string())
}

fn member_id(text: &str) -> Result<String, String> {
    member_text(text, MAX_MEMBER_ID_CHARS)
}

fn member_name(text: &str) -> Result<String, String> {
    member_text(text, MAX_MEMBER_NAME_CHARS)
}

fn grace(text: &str) -> Result<u64, String> {
    whole(text, 0, Some(MAX_GRACE_SECONDS))
}

/// Checked here, sent as written: the gateway reads the same text.
fn rfc3339(text: &str) -> Result<String, String> {
    parse_rfc3339(text).map(|_| text.to_string())
}

fn metadata(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object, e.g. '{\"team\":\"growth\"}'".into()),
        Err(e) => Err(format!("not valid JSON ({e})")),
    }
}

/// `--reason`, trimmed: the gateway refuses an empty one and one over its length bound.
fn reason(text: &str) -> Result<String, String> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err("must not be empty or only spaces".into());
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(format!(
            "{chars} characters is too long; use at most {MAX_REASON_CHARS}"
        ));
    }
    Ok(reason.to_string())
}

fn wrangler_env(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match valid {
        true => Ok(name.to_string()),
        false => Err(format!(
            "`{name}` is not a wrangler environment name (letters, digits, - and _)"
        )),
    }
}

fn get_path(path: &str) -> Result<String, String> {
    match path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic()) {
        true => Ok(path.to_string()),
        false => Err(format!(
            "`{path}` must start with / and contain no spaces, e.g. /v1/contacts"
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "key_5C6oug3qxDqDYRHASGJgAo";
    const KEY_ID_ERROR: &str =
        "ID must be `key_` followed by 22 letters or digits, as `keygate keys list` shows it";

    /// What a usage error says, without clap's `error: ` and the usage and hint after it.
    pub(crate) fn message(error: &clap::Error) -> String {
        let text = error.render().to_string();
        let text = text.strip_prefix("error: ").unwrap_or(&text);
        text.split("\n\n").next().unwrap_or_default().to_string()
    }

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

    /// Each line is a usage error (exit 2, on stderr) that says exactly its message, with the
    /// usage of the command concerned.
    fn refused(cases: &[(&str, &str)]) {
        for (line, expected) in cases {
            let error = parse(&words(line)).expect_err(line);
            assert!(error.use_stderr() && error.exit_code() == 2, "`{line}`");
            assert_eq!(message(&error), *expected, "for `{line}`");
            assert!(error.render().to_string().contains("\nUsage: keygate"));
        }
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
        assert_eq!(
            keys(line),
            KeysCommand::Create(NewKeyArgs {
                name: "Zapier".into(),
                scopes: vec!["contacts:read".into(), "email:send".into()],
                workspace: Some("acme".into()),
                expires_at: Some("2030-01-31T23:59:59Z".into()),
                per_minute: Some(30),
                per_day: Some(1000),
                metadata: json!({"team": "growth"}).as_object().cloned(),
                webhook: Some("https://hooks.example.com/r".into()),
                environment: Some(Environment::Test),
            })
        );
    }

    #[test]
    fn names_with_spaces_and_equals_forms() {
        let args = [
            "keys",
            "create",
            "--name=Claude Desktop — prod",
            "--scope",
            "admin",
        ];
        let Command::Keys(KeysCommand::Create(create)) =
            parse(&args.map(String::from)).unwrap().command
        else {
            panic!()
        };
        assert_eq!(create.name, "Claude Desktop — prod");
        // `=` lets a value start with `--`.
        assert!(parse(&words("keys create --name=--odd --scope=a")).is_ok());
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
            assert_eq!(
                invocation.command,
                Command::Keys(KeysCommand::Show { id: id() })
            );
        }
        assert!(!ok(&format!("keys show {ID}")).globals.json);
    }

    #[test]
    fn list_options() {
        let list = |status, workspace: Option<&str>, limit, cursor: Option<&str>, all| {
            KeysCommand::List(ListArgs {
                status,
                workspace: workspace.map(String::from),
                limit,
                cursor: cursor.map(String::from),
                all,
            })
        };
        for (line, expected) in [
            ("keys list", list(None, None, None, None, false)),
            (
                "keys list --status revoked --workspace acme --limit 100 --cursor c_1 --all",
                list(
                    Some(Status::Revoked),
                    Some("acme"),
                    Some(100),
                    Some("c_1"),
                    true,
                ),
            ),
            (
                "keys list --limit 1",
                list(None, None, Some(1), None, false),
            ),
        ] {
            assert_eq!(keys(line), expected, "{line}");
        }
    }

    #[test]
    fn edit_sets_clears_or_keeps_each_field() {
        let KeysCommand::Edit { id: got, changes } = keys(&format!(
            "keys edit {ID} --name New --scope a:read --scope b:write --per-day 500 --no-expiry --metadata {{}} --no-webhook"
        )) else {
            panic!()
        };
        assert_eq!(got, id());
        assert_eq!(changes.name.as_deref(), Some("New"));
        assert_eq!(
            changes.scopes,
            Some(vec!["a:read".into(), "b:write".into()])
        );
        assert_eq!(changes.limits(), Change::Set((None, Some(500))));
        assert_eq!(changes.expires_at(), Change::Clear);
        assert_eq!(changes.metadata, Some(Map::new()));
        assert_eq!(changes.webhook(), Change::Clear);
        let KeysCommand::Edit { changes, .. } = keys(&format!(
            "keys edit {ID} --default-limits --expires-at 2030-01-01T00:00:00+02:00 --webhook https://h.example/x"
        )) else {
            panic!()
        };
        assert_eq!(changes.limits(), Change::Clear);
        assert_eq!(
            changes.expires_at(),
            Change::Set("2030-01-01T00:00:00+02:00".into())
        );
        assert_eq!(changes.webhook(), Change::Set("https://h.example/x".into()));
        assert_eq!((changes.name, changes.scopes), (None, None));
        let KeysCommand::Edit { changes, .. } = keys(&format!("keys edit {ID} --name n")) else {
            panic!()
        };
        assert_eq!(
            (changes.limits(), changes.expires_at(), changes.webhook()),
            (Change::Keep, Change::Keep, Change::Keep)
        );
    }

    #[test]
    fn lifecycle_commands_take_an_id() {
        let rotate = |grace_seconds| KeysCommand::Rotate {
            id: id(),
            grace_seconds,
        };
        for (line, expected) in [
            ("show", KeysCommand::Show { id: id() }),
            ("revoke", KeysCommand::Revoke { id: id() }),
            ("activate", KeysCommand::Activate { id: id() }),
            ("delete", KeysCommand::Delete { id: id() }),
            ("rotate", rotate(None)),
            ("rotate --grace 0", rotate(Some(0))),
            (
                "rotate-webhook-secret --grace 60",
                KeysCommand::RotateWebhookSecret {
                    id: id(),
                    grace_seconds: Some(60),
                },
            ),
        ] {
            let (command, options) = line.split_once(' ').unwrap_or((line, ""));
            assert_eq!(keys(&format!("keys {command} {ID} {options}")), expected);
        }
        assert_eq!(
            keys(&format!("keys rotate --grace 2592000 {ID}")),
            rotate(Some(MAX_GRACE_SECONDS))
        );
    }

    #[test]
    fn policy_commands() {
        for (line, expected) in [
            (
                "policy check policies/demo.toml",
                PolicyCommand::Check {
                    path: "policies/demo.toml".into(),
                },
            ),
            ("policy show", PolicyCommand::Show),
            (
                "policy compile policies/demo.toml",
                PolicyCommand::Compile {
                    path: "policies/demo.toml".into(),
                },
            ),
            (
                "policy diff old.toml new.toml",
                PolicyCommand::Diff {
                    old: "old.toml".into(),
                    new: "new.toml".into(),
                },
            ),
        ] {
            assert_eq!(ok(line).command, Command::Policy(expected), "{line}");
        }
    }

    #[test]
    fn help_and_version_go_to_stdout_and_exit_0() {
        for (line, shows) in [
            ("--help", "Usage: keygate [OPTIONS] <COMMAND>"),
            ("-h", "Usage: keygate [OPTIONS] <COMMAND>"),
            ("help", "Usage: keygate [OPTIONS] <COMMAND>"),
            ("keys -h", "Usage: keygate keys [OPTIONS] <COMMAND>"),
            ("help keys", "Usage: keygate keys [OPTIONS] <COMMAND>"),
            (
                "keys create --help",
                "Usage: keygate keys create [OPTIONS] --name <N>",
            ),
            ("keys create --name x --help", "--environment <live|test>"),
            ("--version", "keygate 0.1.0"),
        ] {
            let stop = parse(&words(line)).expect_err(line);
            assert!(!stop.use_stderr() && stop.exit_code() == 0, "{line}");
            assert!(stop.render().to_string().contains(shows), "{line}");
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
        refused(&[
            ("frobnicate", "unrecognized subcommand 'frobnicate'"),
            ("keys frob", "unrecognized subcommand 'frob'"),
            ("policy frob", "unrecognized subcommand 'frob'"),
        ]);
        // A missing command is a usage error (alone on the line, it shows the group's help).
        for line in ["", "--json", "keys", "policy", "approvals", "deploy"] {
            let error = parse(&words(line)).expect_err(line);
            assert!(error.use_stderr() && error.exit_code() == 2, "`{line}`");
        }
    }

    #[test]
    fn unknown_options_and_values() {
        refused(&[
            (
                "--verbose keys list",
                "unexpected argument '--verbose' found",
            ),
            (
                "keys create --colour blue",
                "unexpected argument '--colour' found",
            ),
            (
                &format!("keys show {ID} --name x"),
                "unexpected argument '--name' found",
            ),
            ("keys list -a", "unexpected argument '-a' found"),
            (
                "keys list --json=yes",
                "unexpected value 'yes' for '--json' found; no more were expected",
            ),
            (
                "keys list --all=1",
                "unexpected value '1' for '--all' found; no more were expected",
            ),
        ]);
    }

    #[test]
    fn options_missing_their_value() {
        for (line, option) in [
            ("keys create --scope a --name", "--name <N>"),
            ("keys create --name --scope a", "--name <N>"),
            ("--token", "--token <TOKEN>"),
            ("--endpoint --json keys list", "--endpoint <URL>"),
            ("keys list --cursor", "--cursor <C>"),
        ] {
            let error = parse(&words(line)).expect_err(line);
            assert_eq!(
                message(&error),
                format!("a value is required for '{option}' but none was supplied"),
                "{line}"
            );
        }
    }

    #[test]
    fn options_given_twice() {
        refused(&[
            (
                "keys create --name a --name b --scope s",
                "the argument '--name <N>' cannot be used multiple times",
            ),
            (
                "keys list --all --all",
                "the argument '--all' cannot be used multiple times",
            ),
        ]);
    }

    #[test]
    fn create_needs_a_name_and_leaves_scopes_to_the_policy_s_defaults() {
        // Without `--scope` the body names none: the gateway gives the policy's
        // `default_scopes`, or answers 400 where the policy has none.
        assert!(parse(&words("keys create --name a")).is_ok());
        refused(&[
            (
                "keys create --scope a",
                "the following required arguments were not provided:\n  --name <N>",
            ),
            (
                "keys create --name a --scope s extra",
                "unexpected argument 'extra' found",
            ),
        ]);
    }

    #[test]
    fn numbers_are_checked() {
        let create = |option: &str| format!("keys create --name a --scope s {option}");
        refused(&[
            (
                &create("--per-minute ten"),
                "--per-minute: `ten` is not a whole number of at least 1",
            ),
            (
                &create("--per-minute 0"),
                "--per-minute: 0 is out of range; use a whole number of at least 1",
            ),
            (
                &create("--per-minute -5"),
                "--per-minute: `-5` is not a whole number of at least 1",
            ),
            (
                &create("--per-day 1.5"),
                "--per-day: `1.5` is not a whole number of at least 1",
            ),
            (
                &create("--per-day 99999999999999999999999"),
                "--per-day: `99999999999999999999999` is not a whole number of at least 1",
            ),
            (
                "keys list --limit 0",
                "--limit: 0 is out of range; use a whole number from 1 to 100",
            ),
            (
                "keys list --limit 101",
                "--limit: 101 is out of range; use a whole number from 1 to 100",
            ),
            (
                "keys list --limit many",
                "--limit: `many` is not a whole number from 1 to 100",
            ),
            (
                &format!("keys rotate {ID} --grace 2592001"),
                "--grace: 2592001 is out of range; use a whole number from 0 to 2592000",
            ),
            (
                &format!("keys rotate {ID} --grace 1h"),
                "--grace: `1h` is not a whole number from 0 to 2592000",
            ),
            (
                &format!("keys edit {ID} --per-minute 0"),
                "--per-minute: 0 is out of range; use a whole number of at least 1",
            ),
        ]);
    }

    #[test]
    fn times_json_and_choices_are_checked() {
        let base = "keys create --name a --scope s";
        for (line, starts) in [
            (
                format!("{base} --expires-at tomorrow"),
                "--expires-at: not an RFC 3339 timestamp",
            ),
            (
                format!("keys edit {ID} --expires-at 2030-01-31"),
                "--expires-at: not an RFC 3339 timestamp",
            ),
            (
                format!("{base} --metadata {{team:1}}"),
                "--metadata: not valid JSON (",
            ),
        ] {
            let error = parse(&words(&line)).expect_err(&line);
            assert!(message(&error).starts_with(starts), "{}", message(&error));
        }
        refused(&[
            (
                &format!("{base} --metadata [1,2]"),
                "--metadata: must be a JSON object, e.g. '{\"team\":\"growth\"}'",
            ),
            (
                &format!("keys edit {ID} --metadata \"x\""),
                "--metadata: must be a JSON object, e.g. '{\"team\":\"growth\"}'",
            ),
            (
                &format!("{base} --environment prod"),
                "--environment: `prod` is not one of live, test",
            ),
            (
                "keys list --status gone",
                "--status: `gone` is not one of active, revoked, expired",
            ),
        ]);
    }

    #[test]
    fn ids_are_checked() {
        for command in ["show", "revoke", "activate", "delete", "rotate"] {
            refused(&[
                (
                    &format!("keys {command}"),
                    "the following required arguments were not provided:\n  <ID>",
                ),
                (&format!("keys {command} abc"), KEY_ID_ERROR),
                (
                    &format!("keys {command} {ID} {ID}"),
                    &format!("unexpected argument '{ID}' found"),
                ),
            ]);
        }
        refused(&[
            (
                "keys edit --name x",
                "the following required arguments were not provided:\n  <ID>",
            ),
            ("keys show ../policy", KEY_ID_ERROR),
            ("keys show key_5C6oug3qxDqDYRHASGJgA?", KEY_ID_ERROR),
            // A key's secret is not its id.
            (
                "keys show kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv",
                KEY_ID_ERROR,
            ),
        ]);
    }

    #[test]
    fn edits_must_change_something_and_not_contradict() {
        let error = parse(&words(&format!("keys edit {ID}"))).unwrap_err();
        assert!(message(&error).starts_with(
            "the following required arguments were not provided:\n  <--name <N>|--scope <S>|"
        ));
        refused(&[
            (
                &format!("keys edit {ID} --expires-at 2030-01-01T00:00:00Z --no-expiry"),
                "the argument '--expires-at <RFC3339>' cannot be used with '--no-expiry'",
            ),
            (
                &format!("keys edit {ID} --webhook https://h.example --no-webhook"),
                "the argument '--webhook <URL>' cannot be used with '--no-webhook'",
            ),
            (
                &format!("keys edit {ID} --per-minute 5 --default-limits"),
                "the argument '--per-minute <N>' cannot be used with '--default-limits'",
            ),
            (
                &format!("keys edit {ID} --per-day 5 --default-limits"),
                "the argument '--per-day <N>' cannot be used with '--default-limits'",
            ),
        ]);
    }

    #[test]
    fn positional_mistakes() {
        refused(&[
            ("keys list acme", "unexpected argument 'acme' found"),
            ("policy show extra", "unexpected argument 'extra' found"),
            (
                "policy check",
                "the following required arguments were not provided:\n  <FILE>",
            ),
            (
                "policy check a.toml b.toml",
                "unexpected argument 'b.toml' found",
            ),
            (
                "policy compile",
                "the following required arguments were not provided:\n  <FILE>",
            ),
            (
                "policy diff",
                "the following required arguments were not provided:\n  <OLD>\n  <NEW>",
            ),
            (
                "policy diff a.toml",
                "the following required arguments were not provided:\n  <NEW>",
            ),
            (
                "policy diff a.toml b.toml c.toml",
                "unexpected argument 'c.toml' found",
            ),
        ]);
    }

    #[test]
    fn each_error_names_its_own_usage() {
        for (line, usage) in [
            (
                "keys create --scope a",
                "Usage: keygate keys create --name <N>",
            ),
            ("keys list --limit 0", "Usage: keygate keys list [OPTIONS]"),
            (
                &format!("keys edit {ID} --no-expiry --expires-at x"),
                "Usage: keygate keys edit <ID> <OPTIONS>...",
            ),
            (
                "approvals list --limit 0",
                "Usage: keygate approvals list [OPTIONS]",
            ),
            ("keys nope", "Usage: keygate keys [OPTIONS] <COMMAND>"),
        ] {
            let error = parse(&words(line)).expect_err(line);
            assert!(
                error.render().to_string().contains(usage),
                "{line}: {}",
                error.render()
            );
        }
    }

    fn workspaces(line: &str) -> WorkspacesCommand {
        match ok(line).command {
            Command::Workspaces(workspaces) => workspaces,
            other => panic!("`{line}` gave {other:?}"),
        }
    }

    #[test]
    fn workspace_commands_parse() {
        assert_eq!(
            workspaces("workspaces list"),
            WorkspacesCommand::List(WorkspaceListArgs::default())
        );
        assert_eq!(
            workspaces("workspaces list --limit 100 --cursor 1700000000000.acme --all"),
            WorkspacesCommand::List(WorkspaceListArgs {
                limit: Some(100),
                cursor: Some("1700000000000.acme".into()),
                all: true,
            })
        );
        let acme = WorkspaceName::parse("Acme-42_eu.prod").unwrap();
        assert_eq!(
            workspaces("workspaces show Acme-42_eu.prod"),
            WorkspacesCommand::Show {
                workspace: acme.clone()
            }
        );
        assert_eq!(
            workspaces("workspaces set-plan Acme-42_eu.prod pro --json"),
            WorkspacesCommand::SetPlan {
                workspace: acme,
                plan: "pro".into()
            }
        );
        assert!(ok("workspaces set-plan acme pro --json").globals.json);
    }

    #[test]
    fn workspace_commands_are_checked() {
        let name_error = format!("WORKSPACE must be {}", WorkspaceName::rule());
        refused(&[
            ("workspaces show .acme", name_error.as_str()),
            ("workspaces show a/b", name_error.as_str()),
            (
                &format!("workspaces show {}", "x".repeat(65)),
                name_error.as_str(),
            ),
            ("workspaces set-plan acme%2F pro", name_error.as_str()),
            (
                "workspaces show",
                "the following required arguments were not provided:\n  <WORKSPACE>",
            ),
            (
                "workspaces set-plan acme",
                "the following required arguments were not provided:\n  <PLAN>",
            ),
            (
                "workspaces set-plan acme pro extra",
                "unexpected argument 'extra' found",
            ),
            (
                "workspaces list --limit 0",
                "--limit: 0 is out of range; use a whole number from 1 to 100",
            ),
            (
                "workspaces list --status active",
                "unexpected argument '--status' found",
            ),
        ]);
    }
}
