// Seed 003 (Trustpair modules): "the permissions available to you depend on your
// subscription; if a module is not visible, it is not included in your plan"; read-only or
// read/write per permission; "⋯ → Show details … only the last few characters are visible";
// revoke from the ⋯ menu, never re-activated; tokens cannot be edited.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyInPage, rowAction, rowActions, usePortal } from "./harness.mjs";

const env = usePortal({ policy: "seed-003-modules" });

test("the control plan: its modules usable, the others shown locked as not in the plan; an upgrade unlocks them", async () => {
  const page = await env.open();
  await page.getByRole("button", { name: "Create API key" }).click();
  const dialog = page.getByRole("dialog", { name: "Create API key" });
  await dialog.getByRole("slider", { name: "Company account check" }).waitFor();
  for (const module of ["Company account audit", "Payment check", "Document analysis", "Paid payment"]) {
    assert.equal(await dialog.getByRole("slider", { name: module }).count(), 0, module);
    await dialog.locator(".perm.locked", { hasText: module }).getByText("Not included in your plan").waitFor();
  }
  await page.keyboard.press("Escape");
  await page.context().close();

  assert.equal((await env.gw.admin("PUT", "/workspaces/acme", { plan: "payment" })).status, 200);
  const upgraded = await env.open();
  await upgraded.getByRole("button", { name: "Create API key" }).click();
  await upgraded.getByRole("dialog", { name: "Create API key" }).getByRole("slider", { name: "Payment check" }).waitFor();
  await upgraded.context().close();
  assert.equal((await env.gw.admin("PUT", "/workspaces/acme", { plan: "control" })).status, 200);
});

test("read-only or read/write per permission; Show details shows only the last characters; revoke, never re-activated, never edited", async () => {
  const page = await env.open();
  const { secret, shown } = await createKeyInPage(page, "SAP-Production", async (dialog) => {
    const cases = dialog.getByRole("slider", { name: "Cases" });
    await cases.fill("2");
    assert.equal(await cases.getAttribute("aria-valuetext"), "Write");
    await dialog.getByRole("group", { name: "Users" }).getByRole("checkbox", { name: "Read" }).check();
  });
  assert.match(secret, /^tpr_live_/);
  await shown.getByRole("button", { name: "Done" }).click();
  assert.deepEqual(await rowActions(page, "SAP-Production"), ["Show details", "Revoke", "Delete"], "no Edit, no Rotate");

  await rowAction(page, "SAP-Production", "Show details");
  const details = page.getByRole("dialog", { name: "Key “SAP-Production”" });
  await details.getByText("Cases: Write").waitFor();
  const text = await details.textContent();
  assert.ok(text.includes(`tpr_live_…${secret.slice(-4)}`), "the hint: prefix and last four");
  assert.ok(!text.includes(secret));
  await details.getByRole("button", { name: "Close" }).click();

  await rowAction(page, "SAP-Production", "Revoke");
  await page.getByRole("dialog", { name: "Revoke “SAP-Production”?" }).getByRole("button", { name: "Revoke key" }).click();
  await page.getByRole("table", { name: "Revoked and expired keys" }).getByRole("row", { name: /SAP-Production/ }).waitFor();
  assert.equal((await env.gw.request("/v1/cases", { key: secret })).status, 401);
  assert.deepEqual(await rowActions(page, "SAP-Production"), ["Show details", "Delete"]);
  await page.context().close();
});
