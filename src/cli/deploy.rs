//! `keygate deploy secrets`: the Worker's four secrets generated into a local file you keep,
//! rotated one at a time, and uploaded with `wrangler secret bulk`.
//!
//! The file is exactly what `wrangler secret bulk FILE` reads — one JSON object of names to
//! string values — created exclusively with mode 0600, never overwritten. During a rotation
//! of the signing or webhook secret it also holds the old value under `<NAME>_PREVIOUS`, for
//! the origin (or webhook receiver) to accept beside the new one; the upload sends only the
//! four current values, so that name never reaches the Worker.
//!
//! No value is ever written to the terminal: the person reads them from the file (which is
//! where they must be kept anyway), so none lands in scrollback, a screen share or a CI log.
//!
//! The upload runs wrangler (`npx wrangler secret bulk`, or `$KEYGATE_WRANGLER`) with the JSON
//! on its standard input rather than printing a command: a command could only name the file,
//! and after a rotation the file holds a `_PREVIOUS` value that must not be uploaded. It is a
//! separate step from generating, so the file can be backed up before anything depends on it.

use super::args::{SecretName, SecretsCommand};
use super::exit::Exit;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// The file `deploy secrets` writes without `--out`; `.gitignore` has `keygate-secrets*.json`.
pub const DEFAULT_FILE: &str = "keygate-secrets.json";
/// Where a rotated secret's old value is kept, after its own name.
pub const PREVIOUS_SUFFIX: &str = "_PREVIOUS";
/// Overrides the wrangler command the upload runs (words split on spaces).
pub const WRANGLER_VAR: &str = "KEYGATE_WRANGLER";
/// Random bytes per secret: 256 bits, 43 base64url characters (the Worker needs ≥ 32).
pub const SECRET_BYTES: usize = 32;
/// The Worker refuses a secret shorter than this.
pub const MIN_SECRET_CHARS: usize = 32;
/// A secrets file is a few hundred bytes; anything far larger is not one.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The default file for a wrangler environment: `keygate-secrets.json`, or
/// `keygate-secrets.staging.json` with `--env staging`, so two environments never share one.
pub fn default_file(env: Option<&str>) -> String {
    match env {
        Some(env) => format!("keygate-secrets.{env}.json"),
        None => DEFAULT_FILE.to_string(),
    }
}

/// A secrets file's entries in order. `Debug` shows the names only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretsFile {
    entries: Vec<(String, String)>,
}

impl fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "SecretsFile({names:?}, values redacted)")
    }
}

/// A new secret from `random` bytes (the caller takes them from the OS CSPRNG).
pub fn encode_secret(random: &[u8; SECRET_BYTES]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// 32 bytes from the operating system's CSPRNG, encoded.
fn new_secret() -> Result<String, String> {
    let mut random = [0u8; SECRET_BYTES];
    getrandom::getrandom(&mut random)
        .map_err(|e| format!("the operating system gave no random bytes: {e}"))?;
    Ok(encode_secret(&random))
}

impl SecretsFile {
    /// The four secrets from `values`, in [`SecretName::ALL`] order.
    pub fn from_values(values: [String; 4]) -> SecretsFile {
        SecretsFile {
            entries: SecretName::ALL
                .iter()
                .map(|n| n.as_str().to_string())
                .zip(values)
                .collect(),
        }
    }

    /// Reads a file's text: a JSON object of strings holding the four secrets, each long
    /// enough and all different (what the Worker insists on). Other names are kept as they are.
    pub fn parse(text: &str) -> Result<SecretsFile, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            format!("is not JSON ({e}); it should be what `keygate deploy secrets` wrote")
        })?;
        let object = value
            .as_object()
            .ok_or("is not a JSON object of secret names to values")?;
        // The four first, in their order, then any others (`_PREVIOUS` values) by name.
        let rank = |name: &str| {
            SecretName::ALL
                .iter()
                .position(|n| n.as_str() == name)
                .unwrap_or(SecretName::ALL.len())
        };
        let mut entries = Vec::with_capacity(object.len());
        for (name, value) in object {
            let value = value
                .as_str()
                .ok_or_else(|| format!("{name} is not a string (wrangler takes only strings)"))?;
            entries.push((name.clone(), value.to_string()));
        }
        entries.sort_by_key(|(name, _)| rank(name));
        let file = SecretsFile { entries };
        let mut seen: Vec<&str> = Vec::new();
        for name in SecretName::ALL {
            let value = file
                .get(name.as_str())
                .ok_or_else(|| format!("has no {}", name.as_str()))?;
            if value.chars().count() < MIN_SECRET_CHARS {
                return Err(format!(
                    "{}: shorter than {MIN_SECRET_CHARS} characters; the Worker refuses it",
                    name.as_str()
                ));
            }
            if seen.contains(&value) {
                return Err(format!(
                    "{} equals another secret; the Worker refuses two equal secrets",
                    name.as_str()
                ));
            }
            seen.push(value);
        }
        Ok(file)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// Gives `name` the value `new`. The signing and webhook secrets keep the old value under
    /// `<NAME>_PREVIOUS` (replacing an older one): their receivers accept both for a window.
    /// The root token and the hash secret have no overlap — the Worker holds one of each.
    pub fn rotate(&mut self, name: SecretName, new: String) {
        let old = self.get(name.as_str()).map(str::to_string);
        if let (Some(old), true) = (old, has_overlap(name)) {
            self.set(&format!("{}{PREVIOUS_SUFFIX}", name.as_str()), old);
        }
        self.set(name.as_str(), new);
    }

    /// The whole file as written to disk: pretty JSON, one entry a line.
    pub fn to_file_text(&self) -> String {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|(name, value)| format!("  {}: {}", json_string(name), json_string(value)))
            .collect();
        format!("{{\n{}\n}}\n", lines.join(",\n"))
    }

    /// What the Worker gets: the four current secrets on one line (wrangler reads stdin line
    /// by line and joins the lines without a separator).
    pub fn upload_json(&self) -> String {
        let fields: Vec<String> = SecretName::ALL
            .iter()
            .filter_map(|name| {
                self.get(name.as_str())
                    .map(|value| format!("{}:{}", json_string(name.as_str()), json_string(value)))
            })
            .collect();
        format!("{{{}}}", fields.join(","))
    }
}

/// Whether a rotation of `name` keeps the old value for its receivers.
fn has_overlap(name: SecretName) -> bool {
    matches!(name, SecretName::Signing | SecretName::Webhook)
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// Runs one `deploy secrets` command.
pub fn run(
    command: &SecretsCommand,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let result = match command {
        SecretsCommand::Generate { out: file, env } => generate(file.as_deref(), env.as_deref()),
        SecretsCommand::Rotate { name, file, force } => rotate(*name, file, *force, err),
        SecretsCommand::Upload { file, env: target } => upload(file, target.as_deref(), env, err),
    };
    match result {
        Ok(text) => {
            let _ = out.write_all(text.as_bytes());
            Exit::Done
        }
        Err((exit, message)) => {
            let _ = writeln!(err, "keygate: {message}");
            exit
        }
    }
}

type Outcome = Result<String, (Exit, String)>;

fn refused(message: impl Into<String>) -> (Exit, String) {
    (Exit::Refused, message.into())
}

/// The upload command as the person would type it.
fn upload_command(file: &str, env: Option<&str>) -> String {
    let env = env.map(|e| format!(" --env {e}")).unwrap_or_default();
    format!("keygate deploy secrets --upload --in {file}{env}")
}

fn generate(file: Option<&str>, env: Option<&str>) -> Outcome {
    let path = file.map_or_else(|| default_file(env), str::to_string);
    let values = [new_secret(), new_secret(), new_secret(), new_secret()];
    let mut generated = Vec::with_capacity(4);
    for value in values {
        generated.push(value.map_err(refused)?);
    }
    let values: [String; 4] = generated
        .try_into()
        .map_err(|_| refused("could not generate four secrets"))?;
    let secrets = SecretsFile::from_values(values);
    write_new(Path::new(&path), &secrets.to_file_text()).map_err(|error| {
        if error.kind() == ErrorKind::AlreadyExists {
            (
                Exit::Usage,
                format!(
                    "{path} already exists; keygate never overwrites a secrets file (it may be the only copy of a deployment's secrets). \
                     Change one secret with --rotate NAME --in {path}, or choose another --out."
                ),
            )
        } else {
            refused(format!("cannot create {path}: {error}"))
        }
    })?;
    Ok(format!(
        "Wrote four new secrets to {path} (mode 0600). Values are not shown; read them from the file.\n\
         \x20 KEYGATE_SIGNING_SECRET  give this one to your origin: it verifies X-Keygate-Signature with it\n\
         \x20 KEYGATE_ROOT_TOKEN      the admin API's root token (for the CLI: export KEYGATE_TOKEN from it)\n\
         \x20 KEYGATE_HASH_SECRET     the Worker's alone: keys are stored as HMACs under it\n\
         \x20 KEYGATE_WEBHOOK_SECRET  for deployment-level webhook receivers\n\
         Never commit {path} (`keygate-secrets*.json` is in .gitignore); back it up where you keep passwords, it is the only copy.\n\
         Upload them to the Worker (runs `npx wrangler secret bulk` with them on its standard input):\n\
         \x20 {}\n",
        upload_command(&path, env)
    ))
}

fn rotate(name: SecretName, path: &str, force: bool, err: &mut dyn Write) -> Outcome {
    if name == SecretName::Hash && !force {
        return Err((
            Exit::Usage,
            "rotating KEYGATE_HASH_SECRET invalidates every key: keys are stored as HMACs under it, so after the upload \
             every existing key answers 401 key_unknown and has to be created again. Pass --force if that is what you want."
                .into(),
        ));
    }
    let mut secrets = read_secrets(path, err)?;
    secrets.rotate(name, new_secret().map_err(refused)?);
    replace(Path::new(path), &secrets.to_file_text())
        .map_err(|error| refused(format!("cannot rewrite {path}: {error}")))?;
    let upload = upload_command(path, None);
    let id = name.as_str();
    let previous = format!("{id}{PREVIOUS_SUFFIX}");
    let text = match name {
        SecretName::Signing => format!(
            "Rotated {id} in {path}; the old value is kept there as {previous}.\n\
             The Worker signs with the old one until you upload. In this order:\n\
             \x20 1. Give your origin both secrets, the new one first ({id}, then {previous}),\n\
             \x20    and deploy it: the verifiers accept a list of secrets, newest first.\n\
             \x20 2. Upload (add --env NAME for an environment): {upload}\n\
             \x20    From then on the Worker signs with the new secret and the origin accepts both.\n\
             \x20 3. After the window (the signature's 300 s plus requests still in flight; 10 minutes is ample),\n\
             \x20    remove the old secret from the origin. {previous} is never uploaded.\n"
        ),
        SecretName::Webhook => format!(
            "Rotated {id} in {path}; the old value is kept there as {previous}.\n\
             In this order:\n\
             \x20 1. Make your deployment-level webhook receivers accept both, the new one first.\n\
             \x20 2. Upload (add --env NAME for an environment): {upload}\n\
             \x20 3. When the deliveries in flight are done, remove the old one from the receivers.\n"
        ),
        SecretName::RootToken => format!(
            "Rotated {id} in {path}.\n\
             Upload it (add --env NAME for an environment): {upload}\n\
             The old token stops working when the upload finishes (there is one root token, no overlap);\n\
             then set KEYGATE_TOKEN from the file wherever the old one was used.\n"
        ),
        SecretName::Hash => format!(
            "Rotated {id} in {path}.\n\
             Upload it (add --env NAME for an environment): {upload}\n\
             After the upload every existing key answers 401 key_unknown: create new keys, hand them out,\n\
             and delete the old ones (`keygate keys list`, `keygate keys delete ID`).\n"
        ),
    };
    Ok(text)
}

fn upload(
    path: &str,
    target: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    err: &mut dyn Write,
) -> Outcome {
    let secrets = read_secrets(path, err)?;
    let configured = env(WRANGLER_VAR).filter(|c| !c.trim().is_empty());
    let command = configured.unwrap_or_else(|| "npx wrangler".to_string());
    let mut words = command.split_whitespace();
    let program = words.next().unwrap_or("npx");
    let mut args: Vec<&str> = words.collect();
    args.extend(["secret", "bulk"]);
    if let Some(target) = target {
        args.extend(["--env", target]);
    }
    let _ = writeln!(
        err,
        "keygate: running `{program} {}` with the four secrets of {path} on its standard input",
        args.join(" ")
    );
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| {
            refused(format!(
                "cannot run `{command}`: {e} (set {WRANGLER_VAR} to the wrangler command)"
            ))
        })?;
    let written = match child.stdin.take() {
        Some(mut stdin) => stdin
            .write_all(secrets.upload_json().as_bytes())
            .and_then(|()| stdin.write_all(b"\n")),
        None => Err(ErrorKind::BrokenPipe.into()),
    };
    let status = child
        .wait()
        .map_err(|e| refused(format!("`{command}` did not finish: {e}")))?;
    match (written, status.success()) {
        (Ok(()), true) => Ok(format!(
            "Uploaded the four secrets of {path}{}.\n",
            target
                .map(|t| format!(" to the {t} environment"))
                .unwrap_or_default()
        )),
        (Err(e), _) => Err(refused(format!(
            "could not hand the secrets to `{command}`: {e}"
        ))),
        (Ok(()), false) => Err(refused(format!(
            "`{command} {}` failed ({status}); see its output above. Nothing in {path} changed.",
            args.join(" ")
        ))),
    }
}

/// Reads and checks a secrets file, warning when others may read it.
fn read_secrets(path: &str, err: &mut dyn Write) -> Result<SecretsFile, (Exit, String)> {
    let file = File::open(path).map_err(|e| refused(format!("cannot read {path}: {e}")))?;
    #[cfg(unix)]
    if let Ok(metadata) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let _ = writeln!(
                err,
                "keygate: warning: {path} can be read by other users (mode {mode:04o}); run `chmod 600 {path}`"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = &err;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| refused(format!("cannot read {path}: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(refused(format!(
            "{path} is larger than a secrets file can be"
        )));
    }
    SecretsFile::parse(&text).map_err(|m| refused(format!("{path} {m}")))
}

/// Creates `path` for writing only if it does not exist, readable by its owner only.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = create_private(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Replaces `path` whole or not at all: a private temporary file beside it, then a rename, so
/// an interrupted rotation never leaves a half-written file (or loses the old secret).
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = Path::new(&temporary);
    let mut file = create_private(temporary).map_err(|error| match error.kind() {
        // Not ours to remove: it may hold the only copy of a value an interrupted run made.
        ErrorKind::AlreadyExists => std::io::Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "{} exists (left by an interrupted rotation?); compare it with the file and remove it",
                temporary.display()
            ),
        ),
        _ => error,
    })?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four() -> SecretsFile {
        SecretsFile::from_values(["h", "s", "r", "w"].map(|c| c.repeat(43)))
    }

    #[test]
    fn a_secret_is_43_url_safe_characters() {
        let secret = encode_secret(&[0xff; SECRET_BYTES]);
        assert_eq!(secret.len(), 43);
        assert!(secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(new_secret().unwrap() != new_secret().unwrap());
    }

    #[test]
    fn the_file_is_the_json_wrangler_reads() {
        let text = four().to_file_text();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 4);
        assert!(object.values().all(serde_json::Value::is_string));
        assert_eq!(object["KEYGATE_SIGNING_SECRET"], "s".repeat(43));
        assert_eq!(SecretsFile::parse(&text).unwrap(), four());
    }

    #[test]
    fn files_the_worker_would_refuse_are_refused() {
        let cases = [
            ("[]", "is not a JSON object"),
            ("{", "is not JSON"),
            (
                r#"{"KEYGATE_HASH_SECRET": 1}"#,
                "KEYGATE_HASH_SECRET is not a string",
            ),
        ];
        for (text, expected) in cases {
            let error = SecretsFile::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let mut short = four();
        short.set("KEYGATE_ROOT_TOKEN", "short".into());
        let error = SecretsFile::parse(&short.to_file_text()).unwrap_err();
        assert!(
            error.starts_with("KEYGATE_ROOT_TOKEN: shorter than 32"),
            "{error}"
        );
        let mut equal = four();
        equal.set("KEYGATE_WEBHOOK_SECRET", "h".repeat(43));
        let error = SecretsFile::parse(&equal.to_file_text()).unwrap_err();
        assert!(
            error.starts_with("KEYGATE_WEBHOOK_SECRET equals another"),
            "{error}"
        );
        let mut missing = four();
        missing.entries.remove(1);
        let error = SecretsFile::parse(&missing.to_file_text()).unwrap_err();
        assert_eq!(error, "has no KEYGATE_SIGNING_SECRET");
    }

    #[test]
    fn rotating_the_signing_secret_keeps_the_old_one_for_the_origin() {
        let mut secrets = four();
        secrets.rotate(SecretName::Signing, "n".repeat(43));
        assert_eq!(
            secrets.get("KEYGATE_SIGNING_SECRET"),
            Some("n".repeat(43).as_str())
        );
        assert_eq!(
            secrets.get("KEYGATE_SIGNING_SECRET_PREVIOUS"),
            Some("s".repeat(43).as_str())
        );
        // A second rotation replaces the previous one: the origin still has it configured.
        secrets.rotate(SecretName::Signing, "m".repeat(43));
        assert_eq!(
            secrets.get("KEYGATE_SIGNING_SECRET_PREVIOUS"),
            Some("n".repeat(43).as_str())
        );
        assert_eq!(secrets.entries.len(), 5);
        // The file still parses, and the upload never carries the previous value.
        let reread = SecretsFile::parse(&secrets.to_file_text()).unwrap();
        let upload: serde_json::Value = serde_json::from_str(&reread.upload_json()).unwrap();
        assert_eq!(upload.as_object().unwrap().len(), 4);
        assert_eq!(upload["KEYGATE_SIGNING_SECRET"], "m".repeat(43));
        assert!(!reread.upload_json().contains('\n'));
    }

    #[test]
    fn the_root_token_and_hash_secret_have_no_overlap() {
        for name in [SecretName::RootToken, SecretName::Hash] {
            let mut secrets = four();
            secrets.rotate(name, "n".repeat(43));
            assert_eq!(secrets.entries.len(), 4, "{name:?}");
            assert_eq!(secrets.get(name.as_str()), Some("n".repeat(43).as_str()));
        }
    }

    #[test]
    fn debug_shows_names_never_values() {
        let shown = format!("{:?}", four());
        assert!(shown.contains("KEYGATE_ROOT_TOKEN"));
        assert!(!shown.contains(&"r".repeat(43)));
    }

    #[test]
    fn each_environment_has_its_own_default_file() {
        assert_eq!(default_file(None), "keygate-secrets.json");
        assert_eq!(
            default_file(Some("staging")),
            "keygate-secrets.staging.json"
        );
    }

    fn parse(line: &str) -> Result<SecretsCommand, String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        use crate::cli::args::{parse, tests::message, Command, DeployCommand};
        match parse(&words) {
            Ok(invocation) => match invocation.command {
                Command::Deploy(DeployCommand::Secrets(args)) => Ok(args.command()),
                other => Err(format!("not deploy secrets: {other:?}")),
            },
            Err(error) => Err(message(&error)),
        }
    }

    #[test]
    fn the_command_line() {
        assert_eq!(
            parse("deploy secrets"),
            Ok(SecretsCommand::Generate {
                out: None,
                env: None
            })
        );
        assert_eq!(
            parse("deploy secrets --out s.json --env staging"),
            Ok(SecretsCommand::Generate {
                out: Some("s.json".into()),
                env: Some("staging".into())
            })
        );
        assert_eq!(
            parse("deploy secrets --rotate KEYGATE_SIGNING_SECRET --in s.json"),
            Ok(SecretsCommand::Rotate {
                name: SecretName::Signing,
                file: "s.json".into(),
                force: false
            })
        );
        assert_eq!(
            parse("deploy secrets --upload --in s.json --env production"),
            Ok(SecretsCommand::Upload {
                file: "s.json".into(),
                env: Some("production".into())
            })
        );
        let missing = "the following required arguments were not provided:";
        for (line, expected) in [
            ("deploy keys", "unrecognized subcommand 'keys'".to_string()),
            ("deploy secrets extra", "unexpected argument 'extra' found".into()),
            ("deploy secrets --rotate KEYGATE_ROOT_TOKEN", format!("{missing}\n  --in <FILE>")),
            ("deploy secrets --upload", format!("{missing}\n  --in <FILE>")),
            ("deploy secrets --rotate ROOT --in s.json", "--rotate: `ROOT` is not one of KEYGATE_HASH_SECRET, KEYGATE_SIGNING_SECRET, KEYGATE_ROOT_TOKEN, KEYGATE_WEBHOOK_SECRET".into()),
            ("deploy secrets --rotate KEYGATE_ROOT_TOKEN --upload --in s.json", "the argument '--rotate <NAME>' cannot be used with '--upload'".into()),
            ("deploy secrets --rotate KEYGATE_ROOT_TOKEN --in s.json --env x", "the argument '--rotate <NAME>' cannot be used with '--env <NAME>'".into()),
            ("deploy secrets --force", format!("{missing}\n  --in <FILE>\n  <--rotate <NAME>|--upload>")),
            ("deploy secrets --force --upload --in s.json", "the argument '--force' cannot be used with '--upload'".into()),
            ("deploy secrets --in s.json", format!("{missing}\n  <--rotate <NAME>|--upload>")),
            ("deploy secrets --out a --in b --upload", "the argument '--out <FILE>' cannot be used with '--in <FILE>'".into()),
            ("deploy secrets --env ../prod", "--env: `../prod` is not a wrangler environment name (letters, digits, - and _)".into()),
        ] {
            assert_eq!(parse(line), Err(expected), "{line}");
        }
    }
}
