//! The key directory's Durable Object: SQLite rows behind [`DirectoryCommand`], and the
//! call that reaches it. See [`crate::directory`] for why it exists, and for how a plan
//! change reaches every key of its workspace.

use super::platform::{self, now_ms, sql_integer};
use crate::authority::{Command, Reply};
use crate::directory::{
    DirectoryCommand, DirectoryReply, Listed, SessionRef, FANOUT_BATCH, FANOUT_CONCURRENCY,
    FANOUT_RETRY_MS,
};
use crate::key::KeyId;
use crate::page::{page_of, PageRequest, Position};
use crate::problem::GatewayError;
use crate::record::Status;
use crate::session::{self, Session, SessionId, SessionIndexName};
use crate::workspace::{PlanAssignment, Workspace, WorkspaceName};
use futures_util::future::join_all;
use std::cell::Cell;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue,
    State,
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
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    plan TEXT,
    plan_version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    plan_set_at INTEGER
);
CREATE INDEX IF NOT EXISTS workspaces_by_time ON workspaces (created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS plan_fanout (
    key_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    version INTEGER NOT NULL,
    due_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS plan_fanout_by_due ON plan_fanout (due_at);
CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY);
INSERT OR IGNORE INTO workspaces (id, created_at)
    SELECT workspace, MIN(created_at) FROM keys
    WHERE deleted = 0 AND NOT EXISTS (SELECT 1 FROM migrations WHERE name = 'workspaces')
    GROUP BY workspace;
INSERT OR IGNORE INTO migrations (name) VALUES ('workspaces');
CREATE TABLE IF NOT EXISTS sessions (
    index_name TEXT PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    workspace TEXT NOT NULL,
    member_id TEXT NOT NULL,
    member_name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_workspace ON sessions (workspace, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
";

/// Every key copied in makes its workspace known (first seen: the key's creation).
const SEE_WORKSPACE: &str = "INSERT OR IGNORE INTO workspaces (id, created_at) VALUES (?, ?)";

const WORKSPACE: &str =
    "SELECT id, plan, plan_version, created_at, plan_set_at FROM workspaces WHERE id = ?";

const SET_PLAN: &str = "
INSERT INTO workspaces (id, plan, plan_version, created_at, plan_set_at) VALUES (?, ?, 1, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    plan = excluded.plan,
    plan_version = workspaces.plan_version + 1,
    plan_set_at = excluded.plan_set_at
";

/// Queues the workspace's current assignment for each of its keys (a key already queued
/// gets the newer version, due at once).
const QUEUE_FANOUT: &str = "
INSERT INTO plan_fanout (key_id, workspace, version, due_at)
SELECT id, workspace, ?, 0 FROM keys WHERE workspace = ? AND deleted = 0
ON CONFLICT (key_id) DO UPDATE SET version = excluded.version, due_at = 0
";

/// The queued keys that are due, with their workspace's assignment as it is now: of one
/// workspace (the PUT's own pass, so that another workspace's backlog never delays it), or
/// of every workspace (`?` bound to NULL: the alarm's passes).
const DUE_FANOUT: &str = "
SELECT f.key_id AS key_id, w.plan AS plan, w.plan_version AS version
FROM plan_fanout f JOIN workspaces w ON w.id = f.workspace
WHERE f.due_at <= ? AND (? IS NULL OR f.workspace = ?) ORDER BY f.due_at LIMIT ?
";

/// A key told `version` is done, unless a newer change was queued for it meanwhile.
const FANOUT_LANDED: &str = "DELETE FROM plan_fanout WHERE key_id = ? AND version <= ?";
const FANOUT_FAILED: &str = "UPDATE plan_fanout SET due_at = ? WHERE key_id = ?";

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
    env: Env,
    ready: Cell<bool>,
}

impl DurableObject for KeyDirectory {
    fn new(state: State, env: Env) -> Self {
        KeyDirectory {
            state,
            env,
            ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command: DirectoryCommand = match serde_json::from_str(&req.text().await?) {
            Ok(command) => command,
            Err(_) => return Response::error("malformed command", 400),
        };
        let sql = self.sql()?;
        // SQL calls are synchronous: each command is one step, never interleaved (a plan
        // change awaits the keys it tells only after its rows are written).
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
                sql.exec(
                    SEE_WORKSPACE,
                    vec![
                        record.workspace.as_str().into(),
                        sql_integer(record.created_at),
                    ],
                )?;
                let assignment = workspace(&sql, record.workspace.as_str())?
                    .map(|workspace| workspace.assignment)
                    .unwrap_or_default();
                DirectoryReply::Stored { assignment }
            }
            DirectoryCommand::Remove { id } => {
                sql.exec(REMOVE, vec![id.as_str().into()])?;
                DirectoryReply::Done
            }
            DirectoryCommand::List { workspace, page } => list(&sql, workspace, page)?,
            DirectoryCommand::Workspace { id } => DirectoryReply::Workspace {
                workspace: workspace(&sql, id.as_str())?,
            },
            DirectoryCommand::SetPlan { id, plan, now_ms } => {
                self.set_plan(id, plan, now_ms).await?
            }
            DirectoryCommand::ListWorkspaces { page } => list_workspaces(&sql, page)?,
            DirectoryCommand::MintSession {
                index_name,
                session,
                now_ms,
            } => mint_session(&sql, &index_name, &session, now_ms)?,
            DirectoryCommand::FindSession { index_name, now_ms } => {
                let session = find_session(&sql, &index_name, now_ms)?;
                let assignment = match &session {
                    Some(session) => workspace(&sql, &session.workspace)?
                        .map(|workspace| workspace.assignment)
                        .unwrap_or_default(),
                    None => PlanAssignment::default(),
                };
                DirectoryReply::Session {
                    session,
                    assignment,
                }
            }
            DirectoryCommand::RevokeSession { by } => revoke_session(&sql, by)?,
            DirectoryCommand::ListSessions {
                workspace,
                limit,
                after,
                now_ms,
            } => list_sessions(&sql, &workspace, limit, after, now_ms)?,
        };
        Response::from_json(&reply)
    }

    /// Tells the keys still owed a plan change, a batch at a time, until none is left.
    async fn alarm(&self) -> Result<Response> {
        self.fan_out(None).await?;
        Response::ok("plan changes sent")
    }
}

impl KeyDirectory {
    fn sql(&self) -> Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.ready.get() {
            sql.exec(SCHEMA, None)?;
            self.ready.set(true);
        }
        Ok(sql)
    }

    /// Records the new assignment, queues it for every key of the workspace, and sends the
    /// first batch before answering.
    async fn set_plan(
        &self,
        id: WorkspaceName,
        plan: Option<String>,
        now_ms: u64,
    ) -> Result<DirectoryReply> {
        let sql = self.sql()?;
        let name = id.as_str();
        sql.exec(
            SET_PLAN,
            vec![
                name.into(),
                plan.map(SqlStorageValue::from)
                    .unwrap_or(SqlStorageValue::Null),
                sql_integer(now_ms),
                sql_integer(now_ms),
            ],
        )?;
        let Some(current) = workspace(&sql, name)? else {
            return Err(worker::Error::RustError("workspace row missing".into()));
        };
        sql.exec(
            QUEUE_FANOUT,
            vec![sql_integer(current.assignment.version), name.into()],
        )?;
        let updated = self.fan_out(Some(name)).await?;
        #[derive(serde::Deserialize)]
        struct Count {
            pending: f64,
        }
        let pending: Vec<Count> = sql
            .exec(
                "SELECT COUNT(*) AS pending FROM plan_fanout WHERE workspace = ?",
                vec![name.into()],
            )?
            .to_array()?;
        Ok(DirectoryReply::PlanSet {
            workspace: current,
            updated,
            pending: pending.first().map_or(0, |count| count.pending as u64),
        })
    }

    /// One pass over the due keys (at most [`FANOUT_BATCH`]) of `workspace` (`None`: of
    /// every workspace): each told its workspace's assignment as it is now. Returns how
    /// many landed; schedules the alarm for the rest.
    async fn fan_out(&self, workspace: Option<&str>) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Due {
            key_id: String,
            plan: Option<String>,
            version: f64,
        }
        let sql = self.sql()?;
        let now = now_ms();
        let due: Vec<Due> = sql
            .exec(
                DUE_FANOUT,
                vec![
                    sql_integer(now),
                    SqlStorageValue::from(workspace),
                    SqlStorageValue::from(workspace),
                    sql_integer(FANOUT_BATCH as u64),
                ],
            )?
            .to_array()?;
        let mut landed = 0;
        for chunk in due.chunks(FANOUT_CONCURRENCY) {
            let calls = chunk.iter().map(|row| async move {
                let id = KeyId::parse(&row.key_id)?;
                let command = Command::AdoptPlan {
                    assignment: PlanAssignment {
                        plan: row.plan.clone(),
                        version: row.version as u64,
                    },
                };
                Some(platform::call_authority(&self.env, &id, &command).await)
            });
            for (row, outcome) in chunk.iter().zip(join_all(calls).await) {
                // A key that is gone needs no plan: its row goes as if it had landed.
                let done = match outcome {
                    None => true,
                    Some(Ok(reply)) => {
                        matches!(reply, Reply::PlanAdopted { .. } | Reply::Declined { .. })
                    }
                    Some(Err(_)) => false,
                };
                if done {
                    landed += 1;
                    sql.exec(
                        FANOUT_LANDED,
                        vec![row.key_id.as_str().into(), sql_integer(row.version as u64)],
                    )?;
                } else {
                    sql.exec(
                        FANOUT_FAILED,
                        vec![
                            sql_integer(now + FANOUT_RETRY_MS),
                            row.key_id.as_str().into(),
                        ],
                    )?;
                }
            }
        }
        #[derive(serde::Deserialize)]
        struct Next {
            due_at: Option<f64>,
        }
        let next: Vec<Next> = sql
            .exec("SELECT MIN(due_at) AS due_at FROM plan_fanout", None)?
            .to_array()?;
        if let Some(due_at) = next.first().and_then(|next| next.due_at) {
            let wait = (due_at as i64 - now_ms() as i64).max(0);
            self.state.storage().set_alarm(wait).await?;
        }
        Ok(landed)
    }
}

#[derive(serde::Deserialize)]
struct WorkspaceRow {
    id: String,
    plan: Option<String>,
    plan_version: f64,
    created_at: f64,
    plan_set_at: Option<f64>,
}

impl WorkspaceRow {
    fn into_workspace(self) -> Option<Workspace> {
        Some(Workspace {
            id: WorkspaceName::parse(&self.id)?,
            assignment: PlanAssignment {
                plan: self.plan,
                version: self.plan_version as u64,
            },
            created_at: self.created_at as u64,
            plan_set_at: self.plan_set_at.map(|at| at as u64),
        })
    }
}

fn workspace(sql: &SqlStorage, id: &str) -> Result<Option<Workspace>> {
    let rows: Vec<WorkspaceRow> = sql.exec(WORKSPACE, vec![id.into()])?.to_array()?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(WorkspaceRow::into_workspace))
}

/// One page of every workspace keygate knows, newest first.
fn list_workspaces(
    sql: &SqlStorage,
    page: PageRequest<Status, WorkspaceName>,
) -> Result<DirectoryReply> {
    let mut query = String::from(
        "SELECT id, plan, plan_version, created_at, plan_set_at FROM workspaces WHERE 1 = 1",
    );
    let mut bindings: Vec<SqlStorageValue> = Vec::new();
    platform::newest_first_after(&mut query, &mut bindings, page.after.as_ref(), page.limit);
    let rows: Vec<WorkspaceRow> = sql.exec(&query, bindings)?.to_array()?;
    // A row whose name no longer reads (never written by keygate) is left out, not fatal.
    let listed = rows
        .into_iter()
        .filter_map(WorkspaceRow::into_workspace)
        .collect();
    let (workspaces, next) = page_of(listed, page.limit, |last: &Workspace| Position {
        created_at: last.created_at,
        id: last.id.clone(),
    });
    Ok(DirectoryReply::Workspaces { workspaces, next })
}

#[derive(serde::Deserialize)]
struct Row {
    record: String,
    last_used_at: Option<f64>,
}

/// One page of the keys of `workspace` (every workspace for `None`).
fn list(
    sql: &SqlStorage,
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

// ---- Portal sessions ----

const SESSION_COLUMNS: &str =
    "id, workspace, member_id, member_name, permissions, created_at, expires_at";

#[derive(serde::Deserialize)]
struct SessionRow {
    id: String,
    workspace: String,
    member_id: String,
    member_name: String,
    permissions: String,
    created_at: f64,
    expires_at: f64,
}

impl SessionRow {
    fn session(self) -> Result<Session> {
        let id = SessionId::parse(&self.id)
            .ok_or_else(|| worker::Error::RustError("stored session id malformed".into()))?;
        Ok(Session {
            id,
            workspace: self.workspace,
            member: session::Member {
                id: self.member_id,
                name: self.member_name,
            },
            permissions: serde_json::from_str(&self.permissions)?,
            created_at: self.created_at as u64,
            expires_at: self.expires_at as u64,
        })
    }
}

#[derive(serde::Deserialize)]
struct CountRow {
    live: f64,
}

/// Purges every expired session, then stores this one unless its workspace is full: one
/// synchronous step, so two mints never both take the last place.
fn mint_session(
    sql: &worker::SqlStorage,
    index_name: &SessionIndexName,
    new: &Session,
    now_ms: u64,
) -> Result<DirectoryReply> {
    sql.exec(
        "DELETE FROM sessions WHERE expires_at <= ?",
        vec![sql_integer(now_ms)],
    )?;
    let counted: Vec<CountRow> = sql
        .exec(
            "SELECT count(*) AS live FROM sessions WHERE workspace = ?",
            vec![new.workspace.as_str().into()],
        )?
        .to_array()?;
    let live = counted.first().map_or(0, |row| row.live as u64);
    if let Err(full) = session::may_mint(live) {
        return Ok(DirectoryReply::TooManySessions(full));
    }
    sql.exec(
        &format!(
            "INSERT INTO sessions (index_name, {SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        vec![
            index_name.as_str().into(),
            new.id.as_str().into(),
            new.workspace.as_str().into(),
            new.member.id.as_str().into(),
            new.member.name.as_str().into(),
            serde_json::to_string(&new.permissions)?.into(),
            sql_integer(new.created_at),
            sql_integer(new.expires_at),
        ],
    )?;
    Ok(DirectoryReply::SessionMinted)
}

/// The session named by a token's HMAC, if it is live at `now_ms`.
fn find_session(
    sql: &worker::SqlStorage,
    index_name: &SessionIndexName,
    now_ms: u64,
) -> Result<Option<Session>> {
    let rows: Vec<SessionRow> = sql
        .exec(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE index_name = ? AND expires_at > ?"
            ),
            vec![index_name.as_str().into(), sql_integer(now_ms)],
        )?
        .to_array()?;
    rows.into_iter().next().map(SessionRow::session).transpose()
}

fn revoke_session(sql: &worker::SqlStorage, by: SessionRef) -> Result<DirectoryReply> {
    let (column, value) = match &by {
        SessionRef::Current { index_name } => ("index_name", index_name.as_str()),
        SessionRef::Id { id } => ("id", id.as_str()),
    };
    let removed: Vec<serde_json::Value> = sql
        .exec(
            &format!("DELETE FROM sessions WHERE {column} = ? RETURNING id"),
            vec![value.into()],
        )?
        .to_array()?;
    Ok(DirectoryReply::SessionRevoked {
        found: !removed.is_empty(),
    })
}

/// One page of a workspace's live sessions, newest first.
fn list_sessions(
    sql: &worker::SqlStorage,
    workspace: &str,
    limit: usize,
    after: Option<Position<SessionId>>,
    now_ms: u64,
) -> Result<DirectoryReply> {
    let mut query =
        format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE workspace = ? AND expires_at > ?");
    let mut bindings: Vec<SqlStorageValue> = vec![workspace.into(), sql_integer(now_ms)];
    platform::newest_first_after(&mut query, &mut bindings, after.as_ref(), limit);
    let rows: Vec<SessionRow> = sql.exec(&query, bindings)?.to_array()?;
    let sessions = rows
        .into_iter()
        .map(SessionRow::session)
        .collect::<Result<Vec<_>>>()?;
    let (sessions, next) = page_of(sessions, limit, |last: &Session| Position {
        created_at: last.created_at,
        id: last.id.clone(),
    });
    Ok(DirectoryReply::SessionPage { sessions, next })
}
