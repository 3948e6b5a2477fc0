// The API keys tab: active keys with usage and the Revoked / Expired section, each row's ⋯ menu
// opening the lifecycle's dialogs (key-dialogs.jsx) — create, details, edit, revoke, activate,
// rotate, delete — each offered only where the policy's [lifecycle] and the session allow it.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { summary } from "./permissions.js";
import { ConfirmDialog, DetailsDialog, KeyForm, RotateDialog, ShowSecretDialog, UpgradePrompt } from "./key-dialogs.jsx";
import { count, Dialog, ErrorNote, Loading, Pager, useCursorPages, When } from "./ui.jsx";

const PAGE_SIZE = 20;

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

/** The last second of the chosen day, in the person's own time zone, as RFC 3339. */
function endOfDay(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).toISOString();
}

function sameSet(a, b) {
  return a.length === b.length && a.every((x) => b.includes(x));
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
    const edited = Object.keys(body).length ? await api("PATCH", `/keys/${encodeURIComponent(key.id)}`, body) : null;
    reload();
    // A new webhook comes with its signing secret, in this answer only.
    if (edited?.rejection_webhook_secret) setDialog({ kind: "secret", what: "webhook secret", title: "Webhook secret", secret: edited.rejection_webhook_secret });
    else close();
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
      {dialog?.kind === "secret" ? <ShowSecretDialog title={dialog.title} secret={dialog.secret} what={dialog.what} onDone={close} /> : null}
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
