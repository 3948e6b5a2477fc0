// Seed 000 (ladders, Full Access, the yellow Admin Only group, Pro plan for API access, the
// Approvals tab), walked in a real browser on the page keygate serves, sentence by sentence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { verifyWebhook } from "@keygate/verify";
import { poll } from "../e2e/harness.mjs";
import { createKeyInPage, rowAction, screenshot, startWebhookReceiver, usePortal } from "./harness.mjs";

const env = usePortal({ policy: "seed-000-ladders" });
const request = (key, method = "GET", path = "/v1/contacts", body) =>
  env.gw.request(path, { key, method, ...(body ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}) });

async function createKey(page, name, fill) {
  const created = await createKeyInPage(page, name, fill);
  assert.match(created.secret, /^tp_live_/);
  return created;
}

test("a Free workspace sees the upgrade prompt with the billing link, not Create", async () => {
  const page = await env.open({ workspace: "free-co" });
  await page.getByText("API access is not included in your plan (free).").waitFor();
  await page.getByText("Upgrade to the pro plan to create API keys.").waitFor();
  assert.equal(await page.getByRole("button", { name: "Create API key" }).count(), 0);
  // "head to https://app.trustpager.com/settings/billing first": the policy's billing link.
  assert.equal(await page.getByRole("link", { name: "Go to billing" }).getAttribute("href"), "https://app.trustpager.com/settings/billing");
  assert.equal(await page.title(), "API Keys");
  await screenshot(page, "upgrade-prompt");
  await page.context().close();
});

test("Pro: create with sliders, copy the key once, use it; Full Access; the Admin Only group in yellow", async () => {
  await env.gw.admin("PUT", "/workspaces/acme", { plan: "pro" });
  const page = await env.open();
  await page.getByText("No active keys yet.").waitFor();

  await page.getByRole("button", { name: "Create API key" }).click();
  const dialog = page.getByRole("dialog", { name: "Create API key" });
  // The ladder: No access, Read, Write with approval, Write automatically, Delete with approval, Delete automatically.
  const contacts = dialog.getByRole("slider", { name: "Contacts" });
  for (const [position, label] of [["0", "No access"], ["1", "Read"], ["2", "Write with approval"], ["3", "Write automatically"], ["4", "Delete with approval"], ["5", "Delete automatically"]]) {
    await contacts.fill(position);
    assert.equal(await contacts.getAttribute("aria-valuetext"), label);
  }
  // Communication and AI ladders have their own levels.
  await dialog.getByRole("slider", { name: "Email" }).fill("2");
  assert.equal(await dialog.getByRole("slider", { name: "Email" }).getAttribute("aria-valuetext"), "Send with approval");
  await dialog.getByRole("slider", { name: "AI", exact: true }).fill("1");
  assert.equal(await dialog.getByRole("slider", { name: "AI", exact: true }).getAttribute("aria-valuetext"), "Use with approval");
  // The Admin Only group is highlighted in yellow, with its warning.
  const adminGroup = dialog.getByRole("group", { name: "Admin only" });
  await adminGroup.getByText("Give them only to a key you trust").waitFor();
  const background = await adminGroup.evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(background, "rgb(254, 249, 195)");
  await dialog.getByText("Limits: 120 requests per minute, 50,000 per day").waitFor();
  await contacts.fill("1");
  await dialog.getByRole("slider", { name: "Email" }).fill("0");
  await dialog.getByRole("slider", { name: "AI", exact: true }).fill("0");
  await screenshot(page, "create-dialog");
  await dialog.getByLabel("Name").fill("Zapier");
  await dialog.getByRole("button", { name: "Create key" }).click();

  const shown = page.getByRole("dialog", { name: "API key created" });
  await shown.getByText("It will not be shown again").waitFor();
  await screenshot(page, "key-shown-once");
  await shown.getByRole("button", { name: "Copy" }).click();
  await shown.getByText("Copied to the clipboard.").waitFor();
  const secret = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(secret, /^tp_live_/);
  await shown.getByRole("button", { name: "Done" }).click();

  // After Done the secret is nowhere on the page: not in the DOM, not in storage.
  const row = page.getByRole("row", { name: /Zapier/ });
  await row.waitFor();
  assert.ok(!(await page.content()).includes(secret), "the secret left the DOM");
  const storage = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  assert.ok(!storage.includes(secret), "the secret is in no storage");
  assert.match(await row.textContent(), /Contacts: Read/);
  assert.match(await row.textContent(), new RegExp(secret.slice(-4)));

  // The key works against the origin, with exactly what was chosen.
  assert.equal((await request(secret)).status, 200);
  assert.equal((await request(secret, "POST", "/v1/contacts", { name: "x" })).status, 403);

  // Full Access (Admin) covers everything.
  const full = await createKey(page, "Claude Desktop", (d) => d.getByRole("checkbox", { name: "Full Access (Admin)" }).check());
  await full.shown.getByRole("button", { name: "Done" }).click();
  assert.equal((await request(full.secret, "DELETE", "/v1/contacts/1")).status, 200);
  assert.deepEqual(env.pageErrors, []);
  await page.context().close();
});

test("edit scopes and see the next request change; revoke (401), stays listed, activate", async () => {
  const page = await env.open();
  const { secret, shown } = await createKey(page, "Make", (d) => d.getByRole("slider", { name: "Contacts" }).fill("1"));
  await shown.getByRole("button", { name: "Done" }).click();
  assert.equal((await request(secret, "POST", "/v1/contacts", { name: "x" })).status, 403);

  await rowAction(page, "Make", "Edit");
  const edit = page.getByRole("dialog", { name: "Edit “Make”" });
  await edit.getByRole("slider", { name: "Contacts" }).fill("3");
  await edit.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("row", { name: /Make.*Contacts: Write automatically/ }).waitFor();
  assert.equal((await request(secret, "POST", "/v1/contacts", { name: "x" })).status, 200);

  await rowAction(page, "Make", "Revoke");
  const revoke = page.getByRole("dialog", { name: "Revoke “Make”?" });
  await revoke.getByRole("button", { name: "Revoke key" }).click();
  // Revoked keys stay visible, in the Revoked / Expired section.
  await page.getByRole("table", { name: "Revoked and expired keys" }).getByRole("row", { name: /Make/ }).waitFor();
  assert.equal((await request(secret)).status, 401);
  await screenshot(page, "revoked-section");

  await rowAction(page, "Make", "Activate");
  await page.getByRole("table", { name: "Active keys" }).getByRole("row", { name: /Make/ }).waitFor();
  assert.equal((await request(secret)).status, 200);
  await page.context().close();
});

test("rotate shows the new key once; delete asks, naming the key", async () => {
  const page = await env.open();
  const { secret, shown } = await createKey(page, "Script", (d) => d.getByRole("slider", { name: "Contacts" }).fill("1"));
  await shown.getByRole("button", { name: "Done" }).click();

  await rowAction(page, "Script", "Rotate");
  const rotate = page.getByRole("dialog", { name: "Rotate “Script”" });
  await rotate.getByLabel("Keep the old secret working for").selectOption({ label: "None: the old key stops working now" });
  await rotate.getByRole("button", { name: "Rotate key" }).click();
  const rotated = page.getByRole("dialog", { name: "Key rotated" });
  const fresh = await rotated.getByLabel("Your new API key").textContent();
  assert.notEqual(fresh, secret);
  await rotated.getByRole("button", { name: "Done" }).click();
  assert.equal((await request(secret)).status, 401);
  assert.equal((await request(fresh)).status, 200);

  await rowAction(page, "Script", "Delete");
  const confirm = page.getByRole("dialog", { name: "Delete “Script”?" });
  await confirm.getByText("The key “Script” will be deleted permanently").waitFor();
  await screenshot(page, "delete-confirmation");
  await confirm.getByRole("button", { name: "Delete key" }).click();
  await confirm.waitFor({ state: "detached" });
  await page.getByRole("row", { name: /Script/ }).waitFor({ state: "detached" });
  assert.equal((await request(fresh)).status, 401);
  await page.context().close();
});

test("usage counts move after requests; Show details keeps only the last characters visible", async () => {
  const page = await env.open();
  const { secret, shown } = await createKey(page, "Counter", (d) => d.getByRole("slider", { name: "Contacts" }).fill("1"));
  await shown.getByRole("button", { name: "Done" }).click();
  for (let i = 0; i < 3; i++) assert.equal((await request(secret)).status, 200);
  await page.reload();
  const row = page.getByRole("row", { name: /Counter/ });
  await poll(
    async () => (await row.locator('td[data-label="24 h"]').textContent()).trim(),
    (text) => text === "3",
  );
  assert.equal((await row.locator('td[data-label="24 h"]').textContent()).trim(), "3");
  await screenshot(page, "keys-list");

  await rowAction(page, "Counter", "Show details");
  const details = page.getByRole("dialog", { name: "Key “Counter”" });
  await details.getByText("3 in 24 hours").waitFor();
  await details.getByText("by Ada Lovelace").waitFor();
  assert.ok(!(await details.textContent()).includes(secret));
  await page.keyboard.press("Escape");
  await details.waitFor({ state: "detached" });
  await page.context().close();
});

test("the Approvals tab: approve one queued write (the origin gets it once), reject another with a reason (the webhook gets it)", async () => {
  const receiver = await startWebhookReceiver();
  try {
    const page = await env.open();
    const { secret, shown } = await createKey(page, "Agent", (d) => d.getByRole("slider", { name: "Contacts" }).fill("2"));
    await shown.getByRole("button", { name: "Done" }).click();
    const agent = (await env.keys()).find((k) => k.name === "Agent");
    assert.equal((await env.gw.admin("PATCH", `/keys/${agent.id}`, { rejection_webhook: receiver.url })).status, 200);

    const first = await request(secret, "POST", "/v1/contacts", { name: "Grace Hopper" });
    assert.equal(first.status, 202);
    const second = await request(secret, "POST", "/v1/contacts", { name: "Mallory" });
    assert.equal(second.status, 202);
    const before = env.origin.received.filter((r) => r.method === "POST").length;

    await page.getByRole("tab", { name: "Approvals" }).click();
    const rows = page.getByRole("table", { name: "Pending requests" }).getByRole("row", { name: /Agent/ });
    await poll(() => rows.count(), (n) => n === 2);
    await screenshot(page, "approvals-tab");
    // Newest first: the second write is on top.
    await rows.first().getByRole("button", { name: /Review/ }).click();
    let review = page.getByRole("dialog", { name: "POST /v1/contacts" });
    await review.getByText('"name": "Mallory"').waitFor();
    await review.getByRole("button", { name: "Reject" }).click();
    await review.getByRole("button", { name: "Reject request" }).click();
    await review.getByText("A reason is required").waitFor();
    await review.getByLabel("Reason for rejecting").fill("Not a real contact");
    await review.getByRole("button", { name: "Reject request" }).click();
    await review.getByText("by Ada Lovelace").waitFor();
    await page.keyboard.press("Escape");

    // The list keeps its rows until the reload after the decision arrives: one is left.
    assert.equal(await poll(() => rows.count(), (n) => n === 1), 1);
    await rows.getByRole("button", { name: /Review/ }).click();
    review = page.getByRole("dialog", { name: "POST /v1/contacts" });
    await review.getByText('"name": "Grace Hopper"').waitFor();
    await screenshot(page, "approval-detail");
    await review.getByRole("button", { name: "Approve" }).click();
    await review.getByText("The API answered 200").waitFor();
    await page.keyboard.press("Escape");

    const sent = env.origin.received.filter((r) => r.method === "POST").slice(before);
    assert.deepEqual(sent.map((r) => JSON.parse(r.body).name), ["Grace Hopper"], "the origin received the approved write once, the rejected one never");
    await poll(() => receiver.received.length, (n) => n >= 1);
    assert.equal(receiver.received.length, 1);
    assert.match(receiver.received[0].body, /Not a real contact/);
    await page.context().close();
  } finally {
    await receiver.close();
  }
});

test("an expired or revoked session's page says so; Log out ends the session", async () => {
  const page = await env.open({ permissions: ["keys:read"] });
  await page.getByRole("heading", { name: "API keys", level: 2 }).waitFor();
  // The token left the address bar.
  assert.ok(!page.url().includes("session="), page.url());
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "You are logged out" }).waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "This link has expired" }).waitFor();
  await screenshot(page, "link-expired");
  await page.context().close();

  // A link whose session was revoked by the provider: the same page, from the first load.
  const session = await env.mint({ permissions: ["keys:read"] });
  assert.equal((await env.gw.admin("DELETE", `/portal/sessions/${session.id}`)).status, 204);
  const stale = await env.open({ session });
  await stale.getByRole("heading", { name: "This link has expired" }).waitFor();
  await stale.context().close();
});

test("with the keyboard alone: create a key (focus stays in the dialog), then the row's menu (arrows, Escape back to its button)", async () => {
  await env.gw.admin("PUT", "/workspaces/acme", { plan: "pro" });
  const page = await env.open();
  const create = page.getByRole("button", { name: "Create API key" });
  await create.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Create API key" });
  await dialog.waitFor();
  await page.keyboard.type("Keyboard only");
  /** Tabs forward until `matches(active element)`, checking at each step that focus is inside the dialog. */
  const tabTo = async (what, matches) => {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      const at = await page.evaluate(() => {
        const el = document.activeElement;
        return { inDialog: !!el.closest("dialog"), label: el.getAttribute("aria-label") ?? el.labels?.[0]?.textContent ?? el.textContent, type: el.type };
      });
      assert.ok(at.inDialog, `focus left the dialog while looking for ${what}`);
      if (matches(at)) return;
    }
    assert.fail(`never reached ${what}`);
  };
  await tabTo("the Contacts slider", (at) => at.type === "range" && at.label === "Contacts");
  await page.keyboard.press("ArrowRight");
  assert.equal(await dialog.getByRole("slider", { name: "Contacts" }).getAttribute("aria-valuetext"), "Read");
  await tabTo("Create key", (at) => at.label === "Create key");
  await page.keyboard.press("Enter");
  const shown = page.getByRole("dialog", { name: "API key created" });
  await shown.waitFor();
  const secret = await shown.getByLabel("Your new API key").textContent();
  await tabTo("Done", (at) => at.label === "Done");
  await page.keyboard.press("Enter");
  await shown.waitFor({ state: "detached" });
  // Focus is back where the person started: the Create button.
  assert.equal(await poll(() => page.evaluate(() => document.activeElement.textContent), (t) => t === "Create API key", { timeoutMs: 5000 }), "Create API key");
  assert.equal((await env.gw.request("/v1/contacts", { key: secret })).status, 200);

  const menuButton = page.getByRole("button", { name: "Actions for Keyboard only" });
  /** The focused element's text once it is `expected` (focus moves after a render). */
  const focused = (expected) => poll(() => page.evaluate(() => document.activeElement?.textContent ?? null), (text) => text === expected, { timeoutMs: 5000 });
  await menuButton.focus();
  await page.keyboard.press("Enter");
  const menu = page.getByRole("menu", { name: "Actions for Keyboard only" });
  await menu.waitFor();
  assert.equal(await focused("Show details"), "Show details");
  await page.keyboard.press("ArrowDown");
  assert.equal(await focused("Edit"), "Edit");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowUp");
  assert.equal(await focused("Delete"), "Delete", "the arrows wrap around");
  await page.keyboard.press("Escape");
  await menu.waitFor({ state: "detached" });
  const label = () => document.activeElement.getAttribute("aria-label");
  assert.equal(await poll(() => page.evaluate(label), (l) => l === "Actions for Keyboard only", { timeoutMs: 5000 }), "Actions for Keyboard only");
  await page.context().close();
});

test("a reviewer without key permissions sees the Approvals tab alone; a session revoked while open turns the page into the expired one", async () => {
  const session = await env.mint({ permissions: ["approvals:review"] });
  const page = await env.open({ session });
  await page.getByRole("heading", { name: "Approvals", level: 2 }).waitFor();
  assert.equal(await page.getByRole("tab").count(), 0, "one section: no tabs");
  assert.equal(await page.getByRole("heading", { name: "API keys", level: 2 }).count(), 0);
  // The provider revokes the session; the page's next call is refused and it says so.
  assert.equal((await env.gw.admin("DELETE", `/portal/sessions/${session.id}`)).status, 204);
  await page.getByLabel("Status").selectOption("approved");
  await page.getByRole("heading", { name: "This link has expired" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "the token is forgotten");
  await page.context().close();
});

test("Edit adds a rejection webhook: its signing secret is shown once, and signs the rejection", async () => {
  await env.gw.admin("PUT", "/workspaces/acme", { plan: "pro" });
  const receiver = await startWebhookReceiver();
  try {
    const page = await env.open();
    const { secret, shown } = await createKeyInPage(page, "Hooked", (d) => d.getByRole("slider", { name: "Contacts" }).fill("2"));
    await shown.getByRole("button", { name: "Done" }).click();
    await rowAction(page, "Hooked", "Edit");
    const edit = page.getByRole("dialog", { name: "Edit “Hooked”" });
    await edit.getByLabel("Rejection webhook (optional)").fill(receiver.url);
    await edit.getByRole("button", { name: "Save changes" }).click();
    const once = page.getByRole("dialog", { name: "Webhook secret" });
    const webhookSecret = await once.getByLabel("The webhook signing secret").textContent();
    assert.ok(webhookSecret.length >= 32, webhookSecret);
    await once.getByRole("button", { name: "Done" }).click();
    await once.waitFor({ state: "detached" });
    assert.ok(!(await page.content()).includes(webhookSecret), "the webhook secret left the DOM");

    const queued = await request(secret, "POST", "/v1/contacts", { name: "x" });
    assert.equal(queued.status, 202);
    const { approval_id: id } = await queued.json();
    assert.equal((await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "no" })).status, 200);
    await poll(() => receiver.received.length, (n) => n >= 1);
    const delivery = receiver.received[0];
    assert.equal(verifyWebhook({ headers: delivery.headers, body: Buffer.from(delivery.body) }, webhookSecret).ok, true, "signed with the secret the page showed");
    await page.context().close();
  } finally {
    await receiver.close();
  }
});
