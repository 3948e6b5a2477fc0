// The API keys tab: active keys with usage, the Revoked / Expired section, and the dialogs of
// the key lifecycle — create (then the secret shown once), details, edit, revoke, activate,
// rotate, delete — each offered only where the policy's [lifecycle] and the session allow it.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { defaultLimits, summary } from "./permissions.js";
import { PermissionsPicker } from "./permissions-picker.jsx";
import { count, Dialog, ErrorNote, Loading, Pager, useCursorPages, When } from "./ui.jsx";

const PAGE_SIZE = 20;
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

/** Usage counts (24 h, 7 d, 30 d) for the keys shown: each key's own GET. */
function useUsage(keys) {
  const [usage, setUsage] = useState({});
  useEffect(() => {
    let live = true;
    for (const key of keys ?? []) {
      api("GET", `/keys/${encodeURIComponent(key.id)}`).then(
        (full) => live && setUsage((u) => ({ ...u, [key.id]: full.usage })),
        () => {},
      );
    }
    return () => {
      live = false;
    };
  }, [keys]);
  return usage;
}

/** The row's ⋯ menu: a button that opens a list of actions (arrow keys, Escape). */
function RowMenu({ name, actions }) {
  const [open, setOpen] = useState(false);
  const menu = useRef(null);
  const button = useRef(null);
  // A layout effect: focus and the listeners are in place before the open menu is painted,
  // so a key pressed the moment it shows is not lost.
  useLayoutEffect(() => {
    if (!open) return undefined;
    menu.current?.querySelector("button")?.focus();
    const away = (event) => {
      if (!menu.current?.contains(event.target) && event.target !== button.current) setOpen(false);
    };
    // Escape closes the menu wherever focus is (on its button too), and focus goes back there.
    const escape = (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener("pointerdown", away);
    document.addEventListener("keydown", escape);
    return () => {
      document.removeEventListener("pointerdown", away);
      document.removeEventListener("keydown", escape);
    };
  }, [open]);
  const keydown = (event) => {
    const items = [...menu.current.querySelectorAll("button")];
    const at = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length].focus();
    } else if (event.key === "Tab") {
      setOpen(false);
    }
  };
  return (
    <div class="menu-wrap">
      <button ref={button} type="button" class="icon" aria-haspopup="menu" aria-expanded={open} aria-label={`Actions for ${name}`} onClick={() => setOpen(!open)}>
        ⋯
      </button>
      {open ? (
        <ul ref={menu} role="menu" aria-label={`Actions for ${name}`} class="menu" onKeyDown={keydown}>
          {actions.map(([label, run]) => (
            <li role="none" key={label}>
              <button
                type="button"
                role="menuitem"
                onClick={() => {
                  setOpen(false);
                  run();
                }}
              >
                {label}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function KeyTable({ caption, keys, policy, usage, actionsFor, showUsage }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key</th>
            <th scope="col">Permissions</th>
            <th scope="col">Created</th>
            <th scope="col">{showUsage ? "Last used" : "Status"}</th>
            {showUsage ? (
              <>
                <th scope="col">24 h</th>
                <th scope="col">7 d</th>
                <th scope="col">30 d</th>
              </>
            ) : null}
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <th scope="row" data-label="Name">
                {key.name}
                {key.environment === "test" ? <span class="badge">Test</span> : null}
              </th>
              <td data-label="Key">
                <code>{key.hint}</code>
              </td>
              <td data-label="Permissions">{summary(policy, key.scopes)}</td>
              <td data-label="Created">
                <When at={key.created_at} />
              </td>
              {showUsage ? (
                <>
                  <td data-label="Last used">
                    <When at={key.last_used_at} />
                  </td>
                  <td data-label="24 h">{count(usage[key.id]?.last_24h)}</td>
                  <td data-label="7 d">{count(usage[key.id]?.last_7d)}</td>
                  <td data-label="30 d">{count(usage[key.id]?.last_30d)}</td>
                </>
              ) : (
                <td data-label="Status">{key.status === "revoked" ? "Revoked" : "Expired"}</td>
              )}
              <td class="actions">
                <RowMenu name={key.name} actions={actionsFor(key)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The secret, once: Copy, the warning, Done. After Done it is nowhere on the page. */
function ShowSecretDialog({ title, secret, onDone }) {
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
        Copy this key now. It will not be shown again.
      </p>
      <div class="secret">
        <code aria-label="Your new API key">{secret}</code>
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
function KeyForm({ mode, policy, plan, branding, initial, onSubmit, onCancel }) {
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

/** Midnight at the end of the chosen day, in the person's own time zone, as RFC 3339. */
function endOfDay(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).toISOString();
}

function sameSet(a, b) {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function DetailsDialog({ id, policy, onClose }) {
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

function ConfirmDialog({ title, message, confirm, danger, onConfirm, onClose }) {
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

function RotateDialog({ keyName, onRotate, onClose }) {
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

function UpgradePrompt({ plan, requiredPlan, branding }) {
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

export function KeysTab({ session, policy, workspace, plan, branding }) {
  const manage = session.permissions.includes("keys:manage");
  const lifecycle = policy.lifecycle;
  const [reloads, setReloads] = useState(0);
  const reload = () => setReloads((n) => n + 1);
  const keysPage = (status) => ({ status, limit: String(PAGE_SIZE) });
  const active = useCursorPages("/keys", keysPage("active"), reloads);
  const revoked = useCursorPages("/keys", keysPage("revoked"), reloads);
  const expired = useCursorPages("/keys", keysPage("expired"), reloads);
  const usage = useUsage(active.page?.keys);
  const [dialog, setDialog] = useState(null);
  const close = () => setDialog(null);
  const apiAccess = workspace ? workspace.api_access !== false : plan?.api_access !== false;
  const requiredPlan = policy.plans?.find((p) => p.api_access)?.name;

  const create = async ({ name, expires, scopes }) => {
    const body = { name, scopes };
    if (expires) body.expires_at = endOfDay(expires);
    const created = await api("POST", "/keys", body);
    reload();
    setDialog({ kind: "secret", title: "API key created", secret: created.key });
  };
  const edit = (key) => async ({ name, scopes, webhook }) => {
    const body = {};
    if (name !== key.name) body.name = name;
    if (!sameSet(scopes, key.scopes)) body.scopes = scopes;
    if (webhook !== (key.rejection_webhook ?? "")) body.rejection_webhook = webhook || null;
    if (Object.keys(body).length) await api("PATCH", `/keys/${encodeURIComponent(key.id)}`, body);
    reload();
    close();
  };
  const post = (key, action, body) => api("POST", `/keys/${encodeURIComponent(key.id)}/${action}`, body);

  const actionsFor = (key) => {
    const actions = [["Show details", () => setDialog({ kind: "details", key })]];
    if (!manage) return actions;
    if (key.status === "active") {
      if (lifecycle.edit) actions.push(["Edit", () => setDialog({ kind: "edit", key })]);
      if (lifecycle.rotate) actions.push(["Rotate", () => setDialog({ kind: "rotate", key })]);
      if (lifecycle.revoke) actions.push(["Revoke", () => setDialog({ kind: "revoke", key })]);
    } else if (key.status === "revoked" && lifecycle.reactivate) {
      actions.push([
        "Activate",
        async () => {
          try {
            await post(key, "activate");
            reload();
          } catch (e) {
            setDialog({ kind: "error", error: e });
          }
        },
      ]);
    }
    actions.push(["Delete", () => setDialog({ kind: "delete", key })]);
    return actions;
  };

  const inactive = [...(revoked.page?.keys ?? []), ...(expired.page?.keys ?? [])];
  return (
    <section aria-labelledby="keys-heading">
      <div class="section-head">
        <h2 id="keys-heading">API keys</h2>
        {manage && apiAccess ? (
          <button type="button" class="primary" onClick={() => setDialog({ kind: "create" })}>
            Create API key
          </button>
        ) : null}
      </div>
      {manage && !apiAccess ? <UpgradePrompt plan={workspace?.plan ?? plan?.name} requiredPlan={requiredPlan} branding={branding} /> : null}
      <ErrorNote error={active.error} />
      {!active.page && !active.error ? <Loading what="keys" /> : null}
      {active.page && active.page.keys.length === 0 && active.atFirst ? <p class="empty">No active keys yet.</p> : null}
      {active.page?.keys.length ? (
        <KeyTable caption="Active keys" keys={active.page.keys} policy={policy} usage={usage} actionsFor={actionsFor} showUsage />
      ) : null}
      <Pager label="Active keys" cursor={active.page?.next_cursor} atFirst={active.atFirst} onFirst={active.first} onNext={active.next} />

      <h2 id="inactive-heading">Revoked / Expired</h2>
      <ErrorNote error={revoked.error ?? expired.error} />
      {revoked.page && expired.page && inactive.length === 0 && revoked.atFirst && expired.atFirst ? <p class="empty">No revoked or expired keys.</p> : null}
      {inactive.length ? <KeyTable caption="Revoked and expired keys" keys={inactive} policy={policy} usage={{}} actionsFor={actionsFor} showUsage={false} /> : null}
      <Pager label="Revoked keys" cursor={revoked.page?.next_cursor} atFirst={revoked.atFirst} onFirst={revoked.first} onNext={revoked.next} />
      <Pager label="Expired keys" cursor={expired.page?.next_cursor} atFirst={expired.atFirst} onFirst={expired.first} onNext={expired.next} />

      {dialog?.kind === "create" ? (
        <Dialog title="Create API key" onClose={close} wide>
          <KeyForm mode="create" policy={policy} plan={plan} branding={branding} initial={{ scopes: policy.default_scopes ?? [] }} onSubmit={create} onCancel={close} />
        </Dialog>
      ) : null}
      {dialog?.kind === "secret" ? <ShowSecretDialog title={dialog.title} secret={dialog.secret} onDone={close} /> : null}
      {dialog?.kind === "details" ? <DetailsDialog id={dialog.key.id} policy={policy} onClose={close} /> : null}
      {dialog?.kind === "edit" ? (
        <Dialog title={`Edit “${dialog.key.name}”`} onClose={close} wide>
          <KeyForm mode="edit" policy={policy} plan={plan} branding={branding} initial={dialog.key} onSubmit={edit(dialog.key)} onCancel={close} />
        </Dialog>
      ) : null}
      {dialog?.kind === "revoke" ? (
        <ConfirmDialog
          title={`Revoke “${dialog.key.name}”?`}
          message={`Requests with the key “${dialog.key.name}” are refused from now on.${lifecycle.reactivate ? " You can activate it again later." : " This cannot be undone."}`}
          confirm="Revoke key"
          danger
          onClose={close}
          onConfirm={async () => {
            await post(dialog.key, "revoke");
            reload();
            close();
          }}
        />
      ) : null}
      {dialog?.kind === "delete" ? (
        <ConfirmDialog
          title={`Delete “${dialog.key.name}”?`}
          message={`The key “${dialog.key.name}” will be deleted permanently, with its usage history. This cannot be undone.`}
          confirm="Delete key"
          danger
          onClose={close}
          onConfirm={async () => {
            await api("DELETE", `/keys/${encodeURIComponent(dialog.key.id)}`);
            reload();
            close();
          }}
        />
      ) : null}
      {dialog?.kind === "rotate" ? (
        <RotateDialog
          keyName={dialog.key.name}
          onClose={close}
          onRotate={async (grace) => {
            const rotated = await post(dialog.key, "rotate", { grace_seconds: grace });
            reload();
            setDialog({ kind: "secret", title: "Key rotated", secret: rotated.key });
          }}
        />
      ) : null}
      {dialog?.kind === "error" ? (
        <Dialog title="That did not work" onClose={close}>
          <ErrorNote error={dialog.error} />
          <div class="buttons">
            <button type="button" class="primary" onClick={close}>
              Close
            </button>
          </div>
        </Dialog>
      ) : null}
    </section>
  );
}
