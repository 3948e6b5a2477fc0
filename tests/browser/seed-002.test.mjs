// Seed 002 (read/write per resource): Read and Write checkboxes, write not implying read,
// analytics read only; an optional expiry date; at least one permission; revoked keys in the
// Revoked / Expired section, never re-activated; usage for 24 hours, 7 days and 30 days. And
// the page on a phone-width screen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyInPage, rowAction, rowActions, screenshot, usePortal } from "./harness.mjs";

const env = usePortal({ policy: "seed-002-read-write" });

test("write without read: the key may POST leads but not GET them; analytics offers Read only", async () => {
  const page = await env.open();
  const { secret, shown } = await createKeyInPage(page, "CRM Integration", async (dialog) => {
    const leads = dialog.getByRole("group", { name: "Leads" });
    await leads.getByRole("checkbox", { name: "Write" }).check();
    assert.equal(await leads.getByRole("checkbox", { name: "Read" }).isChecked(), false, "write does not tick read");
    const analytics = dialog.getByRole("group", { name: "Analytics" });
    assert.deepEqual(await analytics.getByRole("checkbox").allTextContents(), [""]);
    assert.equal(await analytics.getByRole("checkbox").count(), 1);
    await analytics.getByRole("checkbox", { name: "Read" }).waitFor();
  });
  assert.match(secret, /^va_live_/);
  await shown.getByRole("button", { name: "Done" }).click();
  assert.match(await page.getByRole("row", { name: /CRM Integration/ }).textContent(), /Leads: Write/);
  assert.equal((await env.gw.request("/v1/leads", { key: secret, method: "POST", body: "{}" })).status, 200);
  assert.equal((await env.gw.request("/v1/leads", { key: secret })).status, 403);
  await page.context().close();
});

test("no permission chosen: the API's refusal is shown beside the form as its title and detail", async () => {
  const page = await env.open();
  await page.getByRole("button", { name: "Create API key" }).click();
  const dialog = page.getByRole("dialog", { name: "Create API key" });
  await dialog.getByLabel("Name").fill("Nothing");
  await dialog.getByRole("button", { name: "Create key" }).click();
  const alert = dialog.getByRole("alert");
  await alert.waitFor();
  const text = await alert.textContent();
  assert.match(text, /scopes/);
  assert.doesNotMatch(text, /[{}]/, "no raw JSON");
  // Nothing was made.
  assert.equal((await env.keys()).filter((k) => k.name === "Nothing").length, 0);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await page.context().close();
});

test("an expiry date, then revoke: the key moves to Revoked / Expired and cannot be re-activated", async () => {
  const page = await env.open();
  const { secret, shown } = await createKeyInPage(page, "Short Term", async (dialog) => {
    await dialog.getByLabel("Expires (optional)").fill("2031-06-30");
    await dialog.getByRole("group", { name: "Calls" }).getByRole("checkbox", { name: "Read" }).check();
  });
  await shown.getByRole("button", { name: "Done" }).click();
  const [key] = (await env.keys()).filter((k) => k.name === "Short Term");
  assert.match(key.expires_at, /^2031-06-30T/);
  assert.equal((await env.gw.request("/v1/calls", { key: secret })).status, 200);

  await rowAction(page, "Short Term", "Revoke");
  const confirm = page.getByRole("dialog", { name: "Revoke “Short Term”?" });
  await confirm.getByText("This cannot be undone.").waitFor();
  await confirm.getByRole("button", { name: "Revoke key" }).click();
  await page.getByRole("table", { name: "Revoked and expired keys" }).getByRole("row", { name: /Short Term/ }).waitFor();
  assert.equal((await env.gw.request("/v1/calls", { key: secret })).status, 401);
  assert.deepEqual(await rowActions(page, "Short Term"), ["Show details", "Delete"], "no Activate");
  await page.context().close();
});

test("usage for the last 24 hours, 7 days and 30 days; a phone-width screen shows each key as a card", async () => {
  const phone = await env.open({ viewport: { width: 390, height: 844 } });
  const { secret, shown } = await createKeyInPage(phone, "Production Backend", async (dialog) => {
    await dialog.getByRole("group", { name: "Calls" }).getByRole("checkbox", { name: "Read" }).check();
  });
  await shown.getByRole("button", { name: "Done" }).click();
  for (let i = 0; i < 2; i++) assert.equal((await env.gw.request("/v1/calls", { key: secret })).status, 200);
  await phone.reload();
  const row = phone.getByRole("row", { name: /Production Backend/ });
  for (const column of ["24 h", "7 d", "30 d"]) {
    await row.locator(`td[data-label="${column}"]`).getByText("2", { exact: true }).waitFor();
  }
  // Nothing wider than the screen: no sideways scrolling on a phone.
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width}px wide`);
  await screenshot(phone, "phone-keys-list");
  await phone.context().close();
});
