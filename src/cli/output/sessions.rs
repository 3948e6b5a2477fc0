//! Portal sessions: the token and portal link shown once, the table, a session's lines.

use super::{inline, shorten, table, text};
use serde_json::Value;
use std::fmt::Write as _;

const MEMBER_COLUMN_CHARS: usize = 40;

/// `Name (id)` of a session's member.
fn member(session: &Value) -> String {
    let member = session.get("member").unwrap_or(&Value::Null);
    format!("{} ({})", text(member, "name"), text(member, "id"))
}

fn permissions(session: &Value) -> String {
    match session.get("permissions") {
        Some(Value::Array(list)) if !list.is_empty() => {
            list.iter().map(inline).collect::<Vec<_>>().join(",")
        }
        _ => "-".into(),
    }
}

/// `sessions create`: the token and the portal link on lines of their own, the warning
/// that they are shown once, then the session.
pub fn minted_session(session: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Minted session {} for {} in {}.",
        text(session, "id"),
        member(session),
        text(session, "workspace")
    );
    let _ = writeln!(out, "\n    {}\n", text(session, "token"));
    let _ = writeln!(
        out,
        "The portal page, signed in with it:\n\n    {}\n",
        text(session, "url")
    );
    let _ = writeln!(
        out,
        "The token is shown once — hand it (or the link) to the member now; keygate keeps only a hash of it."
    );
    let _ = writeln!(out, "\npermissions: {}", permissions(session));
    let _ = writeln!(out, "expires_at:  {}", text(session, "expires_at"));
    out
}

/// `sessions list`: one line per live session, newest first as the gateway sends them.
pub fn sessions_table(sessions: &[Value]) -> String {
    if sessions.is_empty() {
        return "no live sessions\n".into();
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|session| {
            vec![
                text(session, "id"),
                shorten(member(session), MEMBER_COLUMN_CHARS),
                permissions(session),
                text(session, "created_at"),
                text(session, "expires_at"),
            ]
        })
        .collect();
    table(
        &["ID", "MEMBER", "PERMISSIONS", "CREATED", "EXPIRES"],
        &rows,
    )
}
