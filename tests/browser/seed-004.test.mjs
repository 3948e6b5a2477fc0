// Seed 004 (coarse scopes only): read:all, write:all and admin, nothing finer; the Free
// plan's limits on the key; "edit the key, and add the necessary scope (e.g., write:all for
// POST/PATCH requests)".
import { test } from "node:test";
import assert from "node:assert/strict";
import { createKeyInPage, rowAction, usePortal } from "./harness.mjs";

const env = usePortal({ policy: "seed-004-coarse" });

test("only the three coarse scopes; the Free plan's limits; read:all reads but may not write until edited", async () => {
  const page = await env.open();
  const { secret, shown } = await createKeyInPage(page, "ci-pipeline", async (dialog) => {
    const level = dialog.getByRole("group", { name: "Permission level" });
    assert.deepEqual(await level.getByRole("checkbox").count(), 3);
    assert.equal(await dialog.getByRole("slider").count(), 0, "no per-resource controls");
    await dialog.getByText("Limits: 60 requests per minute, 1,000 per day").waitFor();
    await level.getByRole("checkbox", { name: "Read everything" }).check();
  });
  assert.match(secret, /^sk_live_/);
  await shown.getByRole("button", { name: "Done" }).click();
  assert.equal((await env.gw.request("/v1/projects", { key: secret })).status, 200);
  const refused = await env.gw.request("/v1/projects", { key: secret, method: "POST", body: "{}" });
  assert.equal(refused.status, 403);

  await rowAction(page, "ci-pipeline", "Edit");
  const edit = page.getByRole("dialog", { name: "Edit “ci-pipeline”" });
  await edit.getByRole("checkbox", { name: "Read and write everything" }).check();
  await edit.getByRole("button", { name: "Save changes" }).click();
  await edit.waitFor({ state: "detached" });
  assert.equal((await env.gw.request("/v1/projects", { key: secret, method: "POST", body: "{}" })).status, 200);
  await page.context().close();
});

test("a long list pages: 20 keys a page, Next page and First page", async () => {
  for (let i = 1; i <= 22; i++) {
    const res = await env.gw.admin("POST", "/keys", { name: `batch-${String(i).padStart(2, "0")}`, scopes: ["read:all"], workspace: "paged" });
    assert.equal(res.status, 201, res.text);
  }
  const page = await env.open({ workspace: "paged" });
  const active = page.getByRole("table", { name: "Active keys" });
  await active.getByRole("row", { name: /batch-22/ }).waitFor();
  // Newest first: 22 down to 3 on the first page.
  assert.equal(await active.getByRole("row", { name: /batch-/ }).count(), 20);
  assert.equal(await active.getByRole("row", { name: /batch-02/ }).count(), 0);
  const pager = page.getByRole("navigation", { name: "Active keys pages" });
  await pager.getByRole("button", { name: "Next page" }).click();
  await active.getByRole("row", { name: /batch-01/ }).waitFor();
  assert.equal(await active.getByRole("row", { name: /batch-/ }).count(), 2);
  assert.equal(await pager.getByRole("button", { name: "Next page" }).isDisabled(), true);
  await pager.getByRole("button", { name: "First page" }).click();
  await active.getByRole("row", { name: /batch-22/ }).waitFor();
  await page.context().close();
});
