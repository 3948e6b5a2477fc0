// The Approvals tab: the workspace's queue of requests an agent's key made that wait for a
// person, newest first, filtered by status; a request's detail with Approve (then the
// origin's answer) and Reject (a reason is required; the key's webhook is told).
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { Dialog, ErrorNote, Loading, Pager, useCursorPages, When } from "./ui.jsx";

const STATUSES = ["pending", "approved", "rejected", "expired", "failed"];
const PAGE_SIZE = 20;
const statusLabel = (status) => status.charAt(0).toUpperCase() + status.slice(1);

function deciderText(by) {
  if (!by) return "Unknown";
  if (by.type === "member") return by.name;
  if (by.type === "key") return `the key “${by.name}”`;
  return "the provider";
}

/** A stored body as a person reads it: JSON pretty-printed, text as it is, bytes as base64. */
function bodyText(body, encoding) {
  if (!body) return "";
  if (encoding === "base64") return body;
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function ApprovalDialog({ id, onClose, onDecided }) {
  const [approval, setApproval] = useState(null);
  const [error, setError] = useState(null);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api("GET", `/approvals/${encodeURIComponent(id)}`).then(setApproval, setError);
  }, [id]);
  const decide = async (action, body) => {
    setBusy(true);
    setError(null);
    try {
      await api("POST", `/approvals/${encodeURIComponent(id)}/${action}`, body);
      setApproval(await api("GET", `/approvals/${encodeURIComponent(id)}`));
      setRejecting(false);
      onDecided();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const reject = (event) => {
    event.preventDefault();
    if (!reason.trim()) {
      setError({ title: "A reason is required", detail: "Say why, so the key's owner learns what to change." });
      return;
    }
    decide("reject", { reason: reason.trim() });
  };
  const a = approval;
  return (
    <Dialog title={a ? `${a.method} ${a.path}` : "Request"} onClose={onClose} wide>
      <ErrorNote error={error} />
      {!a && !error ? <Loading what="the request" /> : null}
      {a ? (
        <>
          <dl class="details">
            <dt>Status</dt>
            <dd>{statusLabel(a.status)}</dd>
            <dt>Key</dt>
            <dd>
              {a.key_name} <span class="muted">({a.key_id})</span>
            </dd>
            <dt>Method</dt>
            <dd>{a.method}</dd>
            <dt>Path</dt>
            <dd>
              <code>{a.path}</code>
            </dd>
            <dt>Query</dt>
            <dd>{a.query ? <code>{a.query}</code> : <span class="muted">None</span>}</dd>
            <dt>Requested</dt>
            <dd>
              <When at={a.created_at} />
            </dd>
            <dt>Expires</dt>
            <dd>
              <When at={a.expires_at} />
            </dd>
            {a.decided_at ? (
              <>
                <dt>Decided</dt>
                <dd>
                  <When at={a.decided_at} /> by {deciderText(a.decided_by)}
                </dd>
              </>
            ) : null}
            {a.reason ? (
              <>
                <dt>Reason</dt>
                <dd>{a.reason}</dd>
              </>
            ) : null}
            {a.result ? (
              <>
                <dt>Result</dt>
                <dd>{a.result.origin_status ? `The API answered ${a.result.origin_status}` : a.result.detail}</dd>
              </>
            ) : null}
            {a.webhook ? (
              <>
                <dt>Webhook</dt>
                <dd>
                  {a.webhook.status}
                  {a.webhook.attempts ? ` after ${a.webhook.attempts} attempt${a.webhook.attempts === 1 ? "" : "s"}` : ""}
                </dd>
              </>
            ) : null}
          </dl>
          <h3>Headers</h3>
          {Object.keys(a.headers ?? {}).length ? (
            <dl class="headers">
              {Object.entries(a.headers).map(([name, value]) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd>{value}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p class="muted">None kept.</p>
          )}
          <h3>Body</h3>
          {a.body ? (
            <pre class="body" tabIndex={0} aria-label="Request body">
              {bodyText(a.body, a.body_encoding)}
            </pre>
          ) : (
            <p class="muted">Empty.</p>
          )}
          {a.status === "pending" && rejecting ? (
            <form onSubmit={reject} noValidate>
              <label for="reject-reason">Reason for rejecting</label>
              <textarea id="reject-reason" required maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
              <div class="buttons">
                <button type="button" onClick={() => setRejecting(false)}>
                  Back
                </button>
                <button type="submit" class="danger" disabled={busy}>
                  Reject request
                </button>
              </div>
            </form>
          ) : null}
        </>
      ) : null}
      {!rejecting ? (
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Close
          </button>
          {a?.status === "pending" ? (
            <>
              <button type="button" class="danger" onClick={() => setRejecting(true)}>
                Reject
              </button>
              <button type="button" class="primary" disabled={busy} onClick={() => decide("approve")}>
                Approve
              </button>
            </>
          ) : null}
        </div>
      ) : null}
    </Dialog>
  );
}

export function ApprovalsTab() {
  const [status, setStatus] = useState("pending");
  const [open, setOpen] = useState(null);
  const [reloads, setReloads] = useState(0);
  const { page, error, atFirst, first, next } = useCursorPages("/approvals", { status, limit: String(PAGE_SIZE) }, reloads);
  return (
    <section aria-labelledby="approvals-heading">
      <div class="section-head">
        <h2 id="approvals-heading">Approvals</h2>
        <label class="inline">
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      {!page && !error ? <Loading what="requests" /> : null}
      {page && page.approvals.length === 0 ? <p class="empty">No {status} requests.</p> : null}
      {page?.approvals.length ? (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">{statusLabel(status)} requests</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Request</th>
                <th scope="col">Requested</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.approvals.map((a) => (
                <tr key={a.id}>
                  <th scope="row" data-label="Key">
                    {a.key_name}
                  </th>
                  <td data-label="Request">
                    <code>
                      {a.method} {a.path}
                    </code>
                  </td>
                  <td data-label="Requested">
                    <When at={a.created_at} />
                  </td>
                  <td data-label="Expires">
                    <When at={a.expires_at} />
                  </td>
                  <td class="actions">
                    <button type="button" aria-label={`Review ${a.method} ${a.path} from ${a.key_name}`} onClick={() => setOpen(a.id)}>
                      Review
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager label="Requests" cursor={page?.next_cursor} atFirst={atFirst} onFirst={first} onNext={next} />
      {open ? <ApprovalDialog id={open} onClose={() => setOpen(null)} onDecided={() => setReloads((n) => n + 1)} /> : null}
    </section>
  );
}
