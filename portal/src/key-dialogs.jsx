// The key lifecycle's dialogs: create and edit (one form), the secret shown once, details,
// a confirmation (revoke, delete), rotate; and the upgrade prompt of a plan without API access.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { defaultLimits, summary } from "./permissions.js";
import { PermissionsPicker } from "./permissions-picker.jsx";
import { count, Dialog, ErrorNote, Loading, When } from "./ui.jsx";

const GRACE_CHOICES = [
  [0, "None: the old key stops working now"],
  [3600, "1 hour"],
  [86400, "24 hours"],
  [604800, "7 days"],
];

const limitsText = (limits) => (limits ? `${count(limits.per_minute)} requests per minute, ${count(limits.per_day)} per day` : "–");

function creatorText(by) {
  if (!by) return "Unknown";
  if (by.type === "member") return by.name;
  if (by.type === "key") return `Key ${by.id}`;
  return "The provider";
}

/**
 * A secret, once: Copy, the warning, Done. After Done it is nowhere on the page. `what` names
 * it: "key" (a new or rotated key) or "webhook secret" (what signs the key's rejection webhooks).
 */
export function ShowSecretDialog({ title, secret, what = "key", onDone }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <Dialog title={title} onClose={onDone}>
      <p class="warning" role="note">
        {what === "key" ? "Copy this key now. It will not be shown again." : "Copy this webhook secret now: your webhook receiver checks signatures with it. It will not be shown again."}
      </p>
      <div class="secret">
        <code aria-label={what === "key" ? "Your new API key" : "The webhook signing secret"}>{secret}</code>
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p role="status" class="muted">
        {copied ? "Copied to the clipboard." : ""}
      </p>
      <div class="buttons">
        <button type="button" class="primary" onClick={onDone}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

/** Create and edit share the form: name, expiry (create), permissions, webhook (edit). */
export function KeyForm({ mode, policy, plan, branding, initial, onSubmit, onCancel }) {
  const [name, setName] = useState(initial.name ?? "");
  const [expires, setExpires] = useState("");
  const [scopes, setScopes] = useState(initial.scopes ?? []);
  const [webhook, setWebhook] = useState(initial.rejection_webhook ?? "");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit({ name, expires, scopes, webhook });
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const limits = mode === "create" ? defaultLimits(policy, plan) : initial.limits;
  return (
    <form onSubmit={submit} noValidate>
      <ErrorNote error={error} />
      <label for="key-name">Name</label>
      <input id="key-name" required maxLength={120} value={name} onInput={(e) => setName(e.currentTarget.value)} autoComplete="off" />
      {mode === "create" ? (
        <>
          <label for="key-expires">Expires (optional)</label>
          <input id="key-expires" type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} aria-describedby="key-expires-hint" />
          <p id="key-expires-hint" class="muted">
            Leave blank for a key that never expires.
          </p>
        </>
      ) : null}
      <h3>Permissions</h3>
      <PermissionsPicker policy={policy} plan={plan} scopes={scopes} onChange={setScopes} billingUrl={branding.billing_url} />
      {mode === "edit" ? (
        <>
          <label for="key-webhook">Rejection webhook (optional)</label>
          <input id="key-webhook" type="url" value={webhook} placeholder="https://…" onInput={(e) => setWebhook(e.currentTarget.value)} aria-describedby="key-webhook-hint" />
          <p id="key-webhook-hint" class="muted">
            Told, signed, when a person rejects one of this key's requests.
          </p>
        </>
      ) : null}
      <p class="muted">Limits: {limitsText(limits)}</p>
      <div class="buttons">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {mode === "create" ? "Create key" : "Save changes"}
        </button>
      </div>
    </form>
  );
}



export function DetailsDialog({ id, policy, onClose }) {
  const [key, setKey] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("GET", `/keys/${encodeURIComponent(id)}`).then(setKey, setError);
  }, [id]);
  return (
    <Dialog title={key ? `Key “${key.name}”` : "Key details"} onClose={onClose}>
      <ErrorNote error={error} />
      {!key && !error ? <Loading what="the key" /> : null}
      {key ? (
        <dl class="details">
          <dt>Name</dt>
          <dd>{key.name}</dd>
          <dt>Key</dt>
          <dd>
            <code>{key.hint}</code> <span class="muted">(only the last characters are kept visible)</span>
          </dd>
          <dt>Status</dt>
          <dd>{key.status}</dd>
          <dt>Permissions</dt>
          <dd>{summary(policy, key.scopes)}</dd>
          <dt>Environment</dt>
          <dd>{key.environment}</dd>
          <dt>Created</dt>
          <dd>
            <When at={key.created_at} /> by {creatorText(key.created_by)}
          </dd>
          <dt>Expires</dt>
          <dd>
            <When at={key.expires_at} fallback="Never" />
          </dd>
          <dt>Last used</dt>
          <dd>
            <When at={key.last_used_at} />
          </dd>
          <dt>Usage</dt>
          <dd>
            {count(key.usage?.last_24h)} in 24 hours · {count(key.usage?.last_7d)} in 7 days · {count(key.usage?.last_30d)} in 30 days
          </dd>
          <dt>Limits</dt>
          <dd>{limitsText(key.limits)}</dd>
          {key.rejection_webhook ? (
            <>
              <dt>Rejection webhook</dt>
              <dd>{key.rejection_webhook}</dd>
            </>
          ) : null}
        </dl>
      ) : null}
      <div class="buttons">
        <button type="button" class="primary" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

export function ConfirmDialog({ title, message, confirm, danger, onConfirm, onClose }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      await onConfirm();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <ErrorNote error={error} />
      <p>{message}</p>
      <div class="buttons">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class={danger ? "danger" : "primary"} disabled={busy} onClick={run}>
          {confirm}
        </button>
      </div>
    </Dialog>
  );
}

export function RotateDialog({ keyName, onRotate, onClose }) {
  const [grace, setGrace] = useState(0);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onRotate(grace);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Rotate “${keyName}”`} onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorNote error={error} />
        <p>A new secret replaces the current one; the key keeps its name, permissions, limits and usage.</p>
        <label for="grace">Keep the old secret working for</label>
        <select id="grace" value={grace} onChange={(e) => setGrace(Number(e.currentTarget.value))}>
          {GRACE_CHOICES.map(([seconds, label]) => (
            <option key={seconds} value={seconds}>
              {label}
            </option>
          ))}
        </select>
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Rotate key
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function UpgradePrompt({ plan, requiredPlan, branding }) {
  return (
    <div class="upgrade" role="note">
      <strong>API access is not included in your plan{plan ? ` (${plan})` : ""}.</strong>
      <p>{requiredPlan ? `Upgrade to the ${requiredPlan} plan to create API keys.` : "Upgrade your plan to create API keys."}</p>
      {branding.billing_url ? (
        <a class="button primary" href={branding.billing_url} target="_blank" rel="noopener noreferrer">
          Go to billing
        </a>
      ) : null}
    </div>
  );
}
