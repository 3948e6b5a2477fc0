// Seed 001 (TPTM): the Key: Manage permission opens the page; "Click Create API Key, enter a
// descriptive name, click Create" (no permission choice: the policy's default scope); the
// key shown once with a copy button and Done; delete with a confirmation showing the key's
// name. The policy offers nothing else: no edit, revoke or rotate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyInPage, rowAction, rowActions, usePortal } from "./harness.mjs";

const env = usePortal({ policy: "seed-001-simple" });

test("Key: Manage: create with a name only, copy once, Done; the key works with the default scope", async () => {
  const page = await env.open({ permissions: ["keys:manage"] });
  await page.getByText("No active keys yet.").waitFor();
  const { secret, shown } = await createKeyInPage(page, "Production Integration", async (dialog) => {
    // The policy's default scope is chosen already; nothing needs touching.
    assert.equal(await dialog.getByRole("slider", { name: "API" }).getAttribute("aria-valuetext"), "Write");
  });
  assert.match(secret, /^tptm_live_/);
  await shown.getByRole("button", { name: "Done" }).click();
  await shown.waitFor({ state: "detached" });
  assert.ok(!(await page.content()).includes(secret));
  const row = page.getByRole("row", { name: /Production Integration/ });
  await row.waitFor();
  assert.match(await row.textContent(), /API: Write/);
  assert.equal((await env.gw.request("/v1/things", { key: secret, method: "POST", body: "{}" })).status, 200);
  // Created by the member, as the key object records it.
  const [key] = await env.keys();
  assert.deepEqual(key.created_by, { type: "member", id: "user_42", name: "Ada Lovelace" });
  await page.context().close();
});

test("delete: a confirmation dialog showing the key's name, then gone (its secret a 401); nothing else is offered", async () => {
  const page = await env.open({ permissions: ["keys:manage"] });
  const { secret, shown } = await createKeyInPage(page, "Staging Environment");
  await shown.getByRole("button", { name: "Done" }).click();
  assert.deepEqual(await rowActions(page, "Staging Environment"), ["Show details", "Delete"]);
  await rowAction(page, "Staging Environment", "Delete");
  const confirm = page.getByRole("dialog", { name: "Delete “Staging Environment”?" });
  await confirm.getByText("This cannot be undone.").waitFor();
  // Cancel keeps it.
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await confirm.waitFor({ state: "detached" });
  assert.equal((await env.gw.request("/v1/things", { key: secret })).status, 200);
  await rowAction(page, "Staging Environment", "Delete");
  await page.getByRole("dialog", { name: "Delete “Staging Environment”?" }).getByRole("button", { name: "Delete key" }).click();
  await page.getByRole("row", { name: /Staging Environment/ }).waitFor({ state: "detached" });
  assert.equal((await env.gw.request("/v1/things", { key: secret })).status, 401);
  await page.context().close();
});

test("without Key: Manage the page lists keys but offers no Create and no Delete", async () => {
  const page = await env.open({ permissions: ["keys:read"] });
  await page.getByRole("heading", { name: "API keys", level: 2 }).waitFor();
  await page.getByRole("row", { name: /Production Integration/ }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Create API key" }).count(), 0);
  assert.deepEqual(await rowActions(page, "Production Integration"), ["Show details"]);
  await page.context().close();
});
