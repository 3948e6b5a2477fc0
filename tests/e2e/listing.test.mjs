// Listing keys: filters, pagination that lists every key exactly once, and strong
// consistency (a list right after a create or a revoke shows it) — at 10,000 keys.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway } from "./harness.mjs";

const env = useGateway();
const BIG = Number(process.env.KEYGATE_LIST_KEYS ?? 10_000);

/** Follows next_cursor to the end; returns every key object and the page count. */
async function listAll(query, token) {
  const keys = [];
  let cursor = null;
  let pages = 0;
  do {
    const sep = query ? "&" : "";
    const res = await env.gw.admin("GET", `/keys?${query}${sep}limit=100${cursor ? `&cursor=${cursor}` : ""}`, undefined, token);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.keys.length <= 100);
    keys.push(...res.json.keys);
    cursor = res.json.next_cursor;
    pages++;
  } while (cursor);
  return { keys, pages };
}

/** Runs `count` jobs with `width` in flight at once. */
async function pool(count, width, job) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

describe("list", () => {
  test("filters by status and workspace; a list right after a change shows it", async () => {
    const a = await env.gw.createKey({ name: "A", scopes: ["contacts:read"], workspace: "filters" });
    let listed = (await env.gw.admin("GET", "/keys?workspace=filters")).json;
    assert.deepEqual(listed.keys.map((k) => k.id), [a.id]);
    assert.equal(listed.next_cursor, null);

    const b = await env.gw.createKey({ name: "B", scopes: ["contacts:read"], workspace: "filters" });
    const c = await env.gw.createKey({
      name: "C",
      scopes: ["contacts:read"],
      workspace: "filters",
      expires_at: new Date(Date.now() + 1000).toISOString(),
    });
    await env.gw.createKey({ name: "Elsewhere", scopes: ["contacts:read"], workspace: "other" });
    await env.gw.admin("POST", `/keys/${b.id}/revoke`);
    // Newest first.
    listed = (await env.gw.admin("GET", "/keys?workspace=filters")).json;
    assert.deepEqual(listed.keys.map((k) => k.name), ["C", "B", "A"]);
    assert.deepEqual((await env.gw.admin("GET", "/keys?workspace=filters&status=revoked")).json.keys.map((k) => k.name), ["B"]);

    await new Promise((resolve) => setTimeout(resolve, 1300));
    const by = async (status) => (await env.gw.admin("GET", `/keys?workspace=filters&status=${status}`)).json.keys.map((k) => k.name);
    assert.deepEqual(await by("active"), ["A"]);
    assert.deepEqual(await by("expired"), ["C"]);
    assert.deepEqual(await by("revoked"), ["B"]);

    // The list shows the key object: hint, never the secret.
    const object = listed.keys.find((k) => k.id === a.id);
    assert.equal(object.hint, `kg_live_…${a.key.slice(-4)}`);
    const text = JSON.stringify(listed);
    assert.ok(!text.includes(a.key) && !/[0-9a-f]{64}/.test(text));
    for (const field of ["id", "name", "hint", "workspace", "scopes", "status", "environment", "created_at", "expires_at", "last_used_at", "limits", "metadata", "rejection_webhook"]) {
      assert.ok(field in object, field);
    }
  });

  test("an edit and a use show in the list", async () => {
    const key = await env.gw.createKey({ name: "Before", scopes: ["contacts:read"], workspace: "fresh" });
    await env.gw.admin("PATCH", `/keys/${key.id}`, { name: "After" });
    assert.equal((await env.gw.request("/v1/contacts", { key: key.key })).status, 200);
    // last_used_at reaches the list in the background, within a moment of the first use.
    let listed;
    for (let i = 0; i < 50; i++) {
      listed = (await env.gw.admin("GET", "/keys?workspace=fresh")).json.keys[0];
      if (listed.last_used_at) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(listed.name, "After");
    assert.ok(listed.last_used_at, "last_used_at reached the list");
  });

  test("bad list parameters are a 400 naming each", async () => {
    const res = await env.gw.admin("GET", "/keys?status=sleeping&limit=0&cursor=nope&colour=red");
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.errors.map((e) => e.field).sort(), ["colour", "cursor", "limit", "status"]);
    assert.equal((await env.gw.admin("GET", "/keys?limit=101")).status, 400);
  });

  // Creating 10,000 keys takes one to four minutes on a 2-core machine.
  test(`a workspace with ${BIG} keys lists every key exactly once`, { timeout: 900_000 }, async () => {
    const started = Date.now();
    const ids = new Set();
    await pool(BIG, 16, async (i) => {
      const res = await env.gw.admin("POST", "/keys", { name: `bulk ${i}`, scopes: ["contacts:read"], workspace: "bulk" });
      assert.equal(res.status, 201, res.text);
      ids.add(res.json.id);
    });
    const created = Date.now();
    const { keys, pages } = await listAll("workspace=bulk");
    const listedMs = Date.now() - created;
    assert.equal(keys.length, BIG);
    assert.equal(new Set(keys.map((k) => k.id)).size, BIG, "no key listed twice");
    assert.ok(keys.every((k) => ids.has(k.id)), "only the workspace's keys");
    assert.equal(pages, Math.ceil(BIG / 100));
    // Newest first, strictly.
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1].created_at >= keys[i].created_at);

    // A revoke in the middle shows at once under the filters.
    const middle = keys[Math.floor(BIG / 2)];
    await env.gw.admin("POST", `/keys/${middle.id}/revoke`);
    const revoked = (await env.gw.admin("GET", "/keys?workspace=bulk&status=revoked")).json.keys;
    assert.deepEqual(revoked.map((k) => k.id), [middle.id]);
    const active = await listAll("workspace=bulk&status=active");
    assert.equal(active.keys.length, BIG - 1);
    console.log(`# listing: created ${BIG} keys in ${created - started} ms; listed them in ${pages} pages of 100 in ${listedMs} ms (${(listedMs / pages).toFixed(1)} ms per page)`);
  });
});
