//! The key directory's Durable Object: SQLite rows behind [`DirectoryCommand`], and the
//! call that reaches it. See [`crate::directory`] for why it exists.

use super::platform::{self, sql_integer};
use crate::directory::{DirectoryCommand, DirectoryReply, Listed};
use crate::key::KeyId;
use crate::page::{page_of, PageRequest, Position};
use crate::problem::GatewayError;
use crate::record::Status;
use std::cell::Cell;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorageValue, State,
};

/// The Durable Object binding; one directory for the deployment.
const BINDING: &str = "KEY_DIRECTORY";
const NAME: &str = "keys";

pub async fn call(
    env: &Env,
    command: &DirectoryCommand,
) -> std::result::Result<DirectoryReply, GatewayError> {
    platform::call_object(env, BINDING, NAME, command).await
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    version INTEGER NOT NULL,
    last_used_at INTEGER,
    record TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS keys_by_time ON keys (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS keys_by_workspace ON keys (workspace, created_at DESC, id DESC);
";

/// Newer versions replace older ones; `last_used_at` only moves forward; a tombstone
/// (deleted = 1) is never overwritten.
const PUT: &str = "
INSERT INTO keys (id, workspace, created_at, expires_at, revoked_at, version, last_used_at, record)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    workspace = excluded.workspace,
    created_at = excluded.created_at,
    expires_at = excluded.expires_at,
    revoked_at = excluded.revoked_at,
    version = excluded.version,
    record = excluded.record,
    last_used_at = CASE
        WHEN excluded.last_used_at IS NULL THEN keys.last_used_at
        WHEN keys.last_used_at IS NULL THEN excluded.last_used_at
        ELSE max(keys.last_used_at, excluded.last_used_at)
    END
WHERE keys.deleted = 0 AND excluded.version >= keys.version
";

const REMOVE: &str = "
INSERT INTO keys (id, workspace, created_at, version, record, deleted)
VALUES (?, '', 0, 0, '', 1)
ON CONFLICT (id) DO UPDATE SET deleted = 1, record = ''
";

#[durable_object]
pub struct KeyDirectory {
    state: State,
    ready: Cell<bool>,
}

impl DurableObject for KeyDirectory {
    fn new(state: State, _env: Env) -> Self {
        KeyDirectory {
            state,
            ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command: DirectoryCommand = match serde_json::from_str(&req.text().await?) {
            Ok(command) => command,
            Err(_) => return Response::error("malformed command", 400),
        };
        let sql = self.state.storage().sql();
        if !self.ready.get() {
            sql.exec(SCHEMA, None)?;
            self.ready.set(true);
        }
        // SQL calls are synchronous: each command is one step, never interleaved.
        let reply = match command {
            DirectoryCommand::Put {
                record,
                last_used_at,
            } => {
                sql.exec(
                    PUT,
                    vec![
                        record.id.as_str().into(),
                        record.workspace.as_str().into(),
                        sql_integer(record.created_at),
                        record
                            .expires_at
                            .map(sql_integer)
                            .unwrap_or(SqlStorageValue::Null),
                        record
                            .revoked_at
                            .map(sql_integer)
                            .unwrap_or(SqlStorageValue::Null),
                        sql_integer(record.version),
                        last_used_at
                            .map(sql_integer)
                            .unwrap_or(SqlStorageValue::Null),
                        serde_json::to_string(&record)?.into(),
                    ],
                )?;
                DirectoryReply::Done
            }
            DirectoryCommand::Remove { id } => {
                sql.exec(REMOVE, vec![id.as_str().into()])?;
                DirectoryReply::Done
            }
            DirectoryCommand::List { workspace, page } => list(&sql, workspace, page)?,
        };
        Response::from_json(&reply)
    }
}

#[derive(serde::Deserialize)]
struct Row {
    record: String,
    last_used_at: Option<f64>,
}

/// One page of the keys of `workspace` (every workspace for `None`).
fn list(
    sql: &worker::SqlStorage,
    workspace: Option<String>,
    page: PageRequest<Status, KeyId>,
) -> Result<DirectoryReply> {
    let mut query = String::from("SELECT record, last_used_at FROM keys WHERE deleted = 0");
    let mut bindings: Vec<SqlStorageValue> = Vec::new();
    if let Some(workspace) = workspace {
        query.push_str(" AND workspace = ?");
        bindings.push(workspace.into());
    }
    // Read from the stored record, so rows copied before this filter existed need nothing.
    if let Some(environment) = page.environment {
        query.push_str(" AND json_extract(record, '$.environment') = ?");
        bindings.push(environment.as_str().into());
    }
    match page.status {
        None => {}
        Some(Status::Revoked) => query.push_str(" AND revoked_at IS NOT NULL"),
        Some(Status::Active) => {
            query.push_str(" AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)");
            bindings.push(sql_integer(page.now_ms));
        }
        Some(Status::Expired) => {
            query.push_str(" AND revoked_at IS NULL AND expires_at <= ?");
            bindings.push(sql_integer(page.now_ms));
        }
    }
    platform::newest_first_after(&mut query, &mut bindings, page.after.as_ref(), page.limit);

    let rows: Vec<Row> = sql.exec(&query, bindings)?.to_array()?;
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        listed.push(Listed {
            record: serde_json::from_str(&row.record)?,
            last_used_at: row.last_used_at.map(|at| at as u64),
        });
    }
    let (keys, next) = page_of(listed, page.limit, |last: &Listed| Position {
        created_at: last.record.created_at,
        id: last.record.id.clone(),
    });
    Ok(DirectoryReply::Page { keys, next })
}
