//! The approval queue's Durable Objects: one per workspace shard ([`QueueShard`]), SQLite
//! rows behind [`QueueCommand`], the call that reaches them, and the alarm that delivers
//! rejection webhooks and purges settled approvals. See [`crate::approval`] and
//! [`crate::queue`].
//!
//! SQL calls are synchronous, and each command reads, decides and writes its row without
//! an `await` in between, so commands never interleave: of two racing approvals one finds
//! the approval pending and the other finds it decided, and of two racing submits only one
//! can take a cap's last place.

use super::authority_object;
use super::platform::{self, now_ms, sql_integer};
use super::proxy::{fetch_within, FetchFailure};
use crate::approval::{
    self, Approval, ApprovalId, ApprovalStatus, DeliveryError, QueueCommand, QueueDeclined,
    QueueReply, ATTEMPT_TIMEOUT_MS,
};
use crate::authority::{Command, Reply, WebhookSigners};
use crate::identity::SigningSecret;
use crate::page::{page_of, PageRequest, Position};
use crate::policy::ApprovalSettings;
use crate::problem::GatewayError;
use crate::queue::{PendingUsage, QueueShard};
use crate::webhook;
use crate::webhook::secret::WebhookSecret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::cell::Cell;
use worker::{
    durable_object, DurableObject, Env, Headers, Request, Response, Result, SqlStorage,
    SqlStorageValue, State,
};

/// The Durable Object binding; one object per workspace shard.
const BINDING: &str = "APPROVAL_QUEUE";
/// Deliveries one alarm run attempts; the rest wait for the next run, right after.
const DELIVERIES_PER_ALARM: usize = 10;
/// Rows one alarm run purges; the rest wait for the next run, right after.
const PURGES_PER_ALARM: usize = 500;

/// A command for the queue of `shard`: a workspace's ([`QueueShard::of`]).
pub async fn call(
    env: &Env,
    shard: &QueueShard,
    command: &QueueCommand,
) -> std::result::Result<QueueReply, GatewayError> {
    platform::call_object(env, BINDING, &shard.object_name(), command).await
}

/// A command about one approval, sent to the queue its id names.
pub async fn call_about(
    env: &Env,
    id: &ApprovalId,
    command: &QueueCommand,
) -> std::result::Result<QueueReply, GatewayError> {
    let shard = id.shard().ok_or(GatewayError::NotFound)?;
    call(env, &shard, command).await
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    key_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    next_delivery_at INTEGER,
    purge_at INTEGER,
    record TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_workspace ON approvals (workspace, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS approvals_pending_by_workspace ON approvals (workspace, status, expires_at);
CREATE INDEX IF NOT EXISTS approvals_pending_by_key ON approvals (key_id, status, expires_at);
CREATE INDEX IF NOT EXISTS approvals_due ON approvals (next_delivery_at);
CREATE INDEX IF NOT EXISTS approvals_purge ON approvals (purge_at);
";

#[durable_object]
pub struct ApprovalQueue {
    state: State,
    env: Env,
    ready: Cell<bool>,
}

impl DurableObject for ApprovalQueue {
    fn new(state: State, env: Env) -> Self {
        ApprovalQueue {
            state,
            env,
            ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command: QueueCommand = match serde_json::from_str(&req.text().await?) {
            Ok(command) => command,
            Err(_) => return Response::error("malformed command", 400),
        };
        let config = match platform::config(&self.env) {
            Ok(config) => config,
            Err(error) => {
                worker::console_error!("keygate is misconfigured: {error}");
                return Response::error("misconfigured", 503);
            }
        };
        let sql = self.sql()?;
        let (reply, changed) = handle(&sql, command, &config.policy.approvals())?;
        if changed {
            // A webhook goes out from the alarm, so the reject answer never waits on it.
            self.schedule(&sql).await?;
        }
        Response::from_json(&reply)
    }

    async fn alarm(&self) -> Result<Response> {
        let sql = self.sql()?;
        let config = match platform::config(&self.env) {
            Ok(config) => config,
            Err(error) => {
                worker::console_error!("keygate is misconfigured: {error}");
                return Response::error("misconfigured", 503);
            }
        };
        let retain_ms = config.policy.approvals().retain_decided_ms;
        let due: Vec<IdRow> = sql
            .exec(
                "SELECT id FROM approvals WHERE next_delivery_at <= ? ORDER BY next_delivery_at LIMIT ?",
                vec![sql_integer(now_ms()), sql_integer(DELIVERIES_PER_ALARM as u64)],
            )?
            .to_array()?;
        for IdRow { id } in due {
            let Some(id) = ApprovalId::parse(&id) else {
                continue;
            };
            let Some((mut approval, body)) = load(&sql, &id)? else {
                continue;
            };
            let (Some(payload), Some(url)) = (
                approval::rejection_payload(&approval, &body),
                approval.delivery_mut().map(|d| d.url.clone()),
            ) else {
                continue;
            };
            // Signed with the secrets of the key's receiver as it is now, and only if that is
            // still this URL: a receiver the key dropped gets nothing more.
            let signers = Command::WebhookSigners { url: url.clone() };
            let secrets = match authority_object::call(&self.env, &approval.key_id, &signers).await
            {
                Ok(Reply::WebhookSigners {
                    signers: WebhookSigners::Key { secrets },
                }) => Ok(secrets.iter().map(WebhookSecret::signing_secret).collect()),
                Ok(Reply::WebhookSigners {
                    signers: WebhookSigners::Deployment,
                }) => Ok(vec![config.webhook_secret.clone()]),
                Ok(Reply::WebhookSigners {
                    signers: WebhookSigners::Nobody,
                }) => Err(DeliveryError::ReceiverRemoved),
                _ => Err(DeliveryError::SigningUnavailable),
            };
            let outcome = match &secrets {
                Ok(secrets) => deliver(&url, &approval.id, &payload, secrets).await,
                Err(error) => Err(*error),
            };
            if let Some(delivery) = approval.delivery_mut() {
                match outcome {
                    Err(DeliveryError::ReceiverRemoved) => {
                        delivery.give_up(DeliveryError::ReceiverRemoved, now_ms())
                    }
                    outcome => delivery.after_attempt(outcome, now_ms()),
                }
            }
            // Only the alarm changes a rejected approval, so nothing moved it meanwhile.
            save(&sql, &approval, None, retain_ms)?;
        }
        // Settled approvals past their retention: a bounded batch per run.
        sql.exec(
            "DELETE FROM approvals WHERE id IN
             (SELECT id FROM approvals WHERE purge_at <= ? ORDER BY purge_at LIMIT ?)",
            vec![sql_integer(now_ms()), sql_integer(PURGES_PER_ALARM as u64)],
        )?;
        self.schedule(&sql).await?;
        Response::ok("done")
    }
}

impl ApprovalQueue {
    /// Sets the alarm for the earliest due delivery or purge. That time is read from the
    /// rows, so setting it again after any change is always right.
    async fn schedule(&self, sql: &SqlStorage) -> Result<()> {
        let next: Vec<NextRow> = sql
            .exec(
                "SELECT min(at) AS next FROM
                 (SELECT min(next_delivery_at) AS at FROM approvals
                  UNION ALL SELECT min(purge_at) FROM approvals)",
                None,
            )?
            .to_array()?;
        if let Some(next) = next.first().and_then(|row| row.next) {
            let wait = (next as i64).saturating_sub(now_ms() as i64).max(0);
            self.state.storage().set_alarm(wait).await?;
        }
        Ok(())
    }

    fn sql(&self) -> Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.ready.get() {
            sql.exec(SCHEMA, None)?;
            self.ready.set(true);
        }
        Ok(sql)
    }
}

/// One command, start to end, without an `await`. The flag says rows changed, so the
/// alarm is set again.
fn handle(
    sql: &SqlStorage,
    command: QueueCommand,
    settings: &ApprovalSettings,
) -> Result<(QueueReply, bool)> {
    let not_found = QueueReply::Declined {
        declined: QueueDeclined::NotFound,
    };
    let retain_ms = settings.retain_decided_ms;
    Ok(match command {
        QueueCommand::Submit { approval, body } => {
            // Counted and inserted in this one synchronous step: no submit slips between.
            let usage = pending_usage(sql, &approval, now_ms())?;
            match settings.caps.admit(&usage, approval.request.stored_bytes()) {
                Ok(()) => {
                    save(sql, &approval, Some(&body), retain_ms)?;
                    (QueueReply::Done, true)
                }
                Err(full) => (
                    QueueReply::Declined {
                        declined: QueueDeclined::QueueFull { full },
                    },
                    false,
                ),
            }
        }
        QueueCommand::Get { id, reviewer } => match load(sql, &id)? {
            Some((approval, body)) if reviewer.may_read(&approval) => (
                QueueReply::Approval {
                    approval: Box::new(approval),
                    body,
                },
                false,
            ),
            _ => (not_found, false),
        },
        QueueCommand::List { workspace, page } => (list(sql, &workspace, page)?, false),
        QueueCommand::Decide {
            id,
            reviewer,
            verdict,
            now_ms,
        } => {
            let Some((mut approval, body)) = load(sql, &id)? else {
                return Ok((not_found, false));
            };
            if !reviewer.may_read(&approval) {
                return Ok((not_found, false));
            }
            let before = approval.state.clone();
            let outcome = approval.decide(&reviewer, verdict, now_ms);
            // A failed approval is a change too: it is recorded, then reported.
            let changed = approval.state != before;
            if changed {
                save(sql, &approval, None, retain_ms)?;
            }
            match outcome {
                Ok(()) => (
                    QueueReply::Approval {
                        approval: Box::new(approval),
                        body,
                    },
                    changed,
                ),
                Err(declined) => (QueueReply::Declined { declined }, changed),
            }
        }
        QueueCommand::Record { id, result } => {
            let Some((mut approval, body)) = load(sql, &id)? else {
                return Ok((not_found, false));
            };
            let changed = approval.record_result(result);
            if changed {
                save(sql, &approval, None, retain_ms)?;
            }
            (
                QueueReply::Approval {
                    approval: Box::new(approval),
                    body,
                },
                changed,
            )
        }
    })
}

#[derive(serde::Deserialize)]
struct IdRow {
    id: String,
}

#[derive(serde::Deserialize)]
struct NextRow {
    next: Option<f64>,
}

#[derive(serde::Deserialize)]
struct CountRow {
    requests: f64,
    bytes: f64,
}

#[derive(serde::Deserialize)]
struct RecordRow {
    record: String,
}

#[derive(serde::Deserialize)]
struct FullRow {
    record: String,
    body: String,
}

fn load(sql: &SqlStorage, id: &ApprovalId) -> Result<Option<(Approval, Vec<u8>)>> {
    let rows: Vec<FullRow> = sql
        .exec(
            "SELECT record, body FROM approvals WHERE id = ?",
            vec![id.as_str().into()],
        )?
        .to_array()?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let approval: Approval = serde_json::from_str(&row.record)?;
    let body = STANDARD
        .decode(row.body)
        .map_err(|e| worker::Error::RustError(format!("stored body: {e}")))?;
    Ok(Some((approval, body)))
}

/// What is pending and unexpired for `approval`'s key and workspace. The indexes on
/// (key_id | workspace, status, expires_at) keep this to two index range scans.
fn pending_usage(sql: &SqlStorage, approval: &Approval, now_ms: u64) -> Result<PendingUsage> {
    let count = |column: &str, value: &str| -> Result<CountRow> {
        let rows: Vec<CountRow> = sql
            .exec(
                &format!(
                    "SELECT count(*) AS requests, coalesce(sum(stored_bytes), 0) AS bytes
                     FROM approvals WHERE {column} = ? AND status = 'pending' AND expires_at > ?"
                ),
                vec![value.into(), sql_integer(now_ms)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next().unwrap_or(CountRow {
            requests: 0.0,
            bytes: 0.0,
        }))
    };
    let key = count("key_id", approval.key_id.as_str())?;
    let workspace = count("workspace", &approval.workspace)?;
    Ok(PendingUsage {
        key_requests: key.requests as u64,
        workspace_requests: workspace.requests as u64,
        workspace_bytes: workspace.bytes as u64,
    })
}

/// Inserts an approval with its body, or updates its state (`body` `None`); either way
/// its purge time follows from its state and `retain_ms`.
fn save(sql: &SqlStorage, approval: &Approval, body: Option<&[u8]>, retain_ms: u64) -> Result<()> {
    let record = serde_json::to_string(approval)?;
    let purge_at = approval
        .purge_at(retain_ms)
        .map(sql_integer)
        .unwrap_or(SqlStorageValue::Null);
    let status = approval.state.stored_status().as_str();
    let next_delivery_at = match approval.state {
        crate::approval::ApprovalState::Rejected {
            webhook: Some(ref delivery),
            ..
        } => delivery.next_attempt_at.map(sql_integer),
        _ => None,
    }
    .unwrap_or(SqlStorageValue::Null);
    match body {
        Some(body) => sql.exec(
            "INSERT INTO approvals (id, workspace, key_id, status, created_at, expires_at,
                 stored_bytes, next_delivery_at, purge_at, record, body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                approval.id.as_str().into(),
                approval.workspace.as_str().into(),
                approval.key_id.as_str().into(),
                status.into(),
                sql_integer(approval.created_at),
                sql_integer(approval.expires_at),
                sql_integer(approval.request.stored_bytes()),
                next_delivery_at,
                purge_at,
                record.into(),
                STANDARD.encode(body).into(),
            ],
        )?,
        None => sql.exec(
            "UPDATE approvals SET status = ?, next_delivery_at = ?, purge_at = ?, record = ? WHERE id = ?",
            vec![
                status.into(),
                next_delivery_at,
                purge_at,
                record.into(),
                approval.id.as_str().into(),
            ],
        )?,
    };
    Ok(())
}

/// One workspace's page: rows of other workspaces that share the shard never show.
fn list(
    sql: &SqlStorage,
    workspace: &str,
    page: PageRequest<ApprovalStatus, ApprovalId>,
) -> Result<QueueReply> {
    let mut query = String::from("SELECT record FROM approvals WHERE workspace = ?");
    let mut bindings: Vec<SqlStorageValue> = vec![workspace.into()];
    // Read from the stored record, so rows stored before this filter need no migration.
    if let Some(environment) = page.environment {
        query.push_str(" AND json_extract(record, '$.environment') = ?");
        bindings.push(environment.as_str().into());
    }
    match page.status {
        None => {}
        // Expiry is computed: a pending row past its time lists as expired.
        Some(ApprovalStatus::Pending) => {
            query.push_str(" AND status = 'pending' AND expires_at > ?");
            bindings.push(sql_integer(page.now_ms));
        }
        Some(ApprovalStatus::Expired) => {
            query.push_str(" AND status = 'pending' AND expires_at <= ?");
            bindings.push(sql_integer(page.now_ms));
        }
        Some(other) => {
            query.push_str(" AND status = ?");
            bindings.push(other.as_str().into());
        }
    }
    platform::newest_first_after(&mut query, &mut bindings, page.after.as_ref(), page.limit);

    let rows: Vec<RecordRow> = sql.exec(&query, bindings)?.to_array()?;
    let mut approvals = Vec::with_capacity(rows.len());
    for row in rows {
        approvals.push(serde_json::from_str::<Approval>(&row.record)?);
    }
    let (approvals, next) = page_of(approvals, page.limit, |last: &Approval| Position {
        created_at: last.created_at,
        id: last.id.clone(),
    });
    Ok(QueueReply::Page { approvals, next })
}

/// One delivery attempt, signed with each of `secrets`.
async fn deliver(
    url: &str,
    id: &ApprovalId,
    payload: &[u8],
    secrets: &[SigningSecret],
) -> std::result::Result<(), DeliveryError> {
    let timestamp = now_ms() / 1000;
    let headers = Headers::new();
    let set = |name: &str, value: &str| {
        headers
            .set(name, value)
            .map_err(|_| DeliveryError::Unreachable)
    };
    set("Content-Type", "application/json")?;
    set(webhook::EVENT, webhook::REJECTED_EVENT)?;
    set(crate::identity::APPROVAL_ID, id.as_str())?;
    set(crate::identity::TIMESTAMP, &timestamp.to_string())?;
    set(
        crate::identity::SIGNATURE,
        &webhook::signatures(secrets, timestamp, payload),
    )?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_body(&js_sys::Uint8Array::from(payload));
    match fetch_within(url, &init, ATTEMPT_TIMEOUT_MS).await {
        Ok(response) => approval::outcome_of_status(response.status()),
        Err(FetchFailure::TimedOut) => Err(DeliveryError::Timeout),
        Err(FetchFailure::Failed(_)) => Err(DeliveryError::Unreachable),
    }
}
