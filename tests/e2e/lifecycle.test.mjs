// The key lifecycle on workerd: edit, revoke, activate, rotate, delete, expiry, usage —
// each checked on the very next data-plane request.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useGateway, startGateway, startOrigin } from "./harness.mjs";

const env = useGateway();

const contacts = (key) => env.gw.request("/v1/contacts", { key });
const status = async (res) => {
  const text = await res.text();
  return { status: res.status, code: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text).code : undefined };
};

describe("edit", () => {
  test("scopes, limits, expiry and name take effect on the next request", async () => {
    const created = await env.gw.createKey({ name: "Before", scopes: ["contacts:read"] });
    assert.equal((await contacts(created.key)).status, 200);

    // Name: the origin sees the new one at once.
    let res = await env.gw.admin("PATCH", `/keys/${created.id}`, { name: "After" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.name, "After");
    res = await contacts(created.key);
    assert.equal((await res.json()).headers["x-keygate-key-name"], "After");

    // Scopes: the grant is gone on the next request.
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { scopes: ["tags:read"] });
    assert.deepEqual(res.json.scopes, ["tags:read"]);
    assert.deepEqual(await status(await contacts(created.key)), { status: 403, code: "insufficient_scope" });
    assert.equal((await env.gw.request("/v1/tags", { key: created.key })).status, 200);

    // Limits: lowered below what was used, the next request is throttled.
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { limits: { per_minute: 1, per_day: 100 } });
    assert.deepEqual(res.json.limits, { per_minute: 1, per_day: 100, source: "key" });
    const throttled = await env.gw.request("/v1/tags", { key: created.key });
    assert.equal(throttled.status, 429);
    assert.ok(Number(throttled.headers.get("retry-after")) >= 1);
    // One window alone keeps the other at its current value.
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { limits: { per_day: 90 } });
    assert.deepEqual(res.json.limits, { per_minute: 1, per_day: 90, source: "key" });
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { limits: { per_day: 0 } });
    assert.equal(res.status, 400);
    assert.equal(res.json.errors[0].field, "limits.per_day");
    // Null goes back to the policy's defaults.
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { limits: null });
    assert.equal(res.json.limits.source, "policy");
    assert.equal((await env.gw.request("/v1/tags", { key: created.key })).status, 200);

    // Expiry: set one second ahead, the key expires with it.
    const soon = new Date(Date.now() + 1200).toISOString();
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { expires_at: soon });
    assert.equal(res.status, 200, res.text);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(soon) - Date.now() + 300));
    assert.deepEqual(await status(await env.gw.request("/v1/tags", { key: created.key })), { status: 401, code: "key_expired" });
    // Clearing the expiry brings it back.
    res = await env.gw.admin("PATCH", `/keys/${created.id}`, { expires_at: null });
    assert.equal(res.json.status, "active");
    assert.equal((await env.gw.request("/v1/tags", { key: created.key })).status, 200);
  });

  test("invalid edits are 400 with every field named, and change nothing", async () => {
    const created = await env.gw.createKey({ name: "Steady", scopes: ["contacts:read"] });
    const res = await env.gw.admin("PATCH", `/keys/${created.id}`, {
      name: "",
      limits: { per_minute: 0 },
      expires_at: "2001-01-01T00:00:00Z",
      colour: "red",
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.errors.map((e) => e.field).sort(), ["colour", "expires_at", "limits.per_minute", "name"].sort());
    for (const body of [{}, "not json", { limits: { per_minute: -5 } }, { limits: { per_day: 1e12 } }]) {
      assert.equal((await env.gw.admin("PATCH", `/keys/${created.id}`, body)).status, 400, JSON.stringify(body));
    }
    const unknown = await env.gw.admin("PATCH", `/keys/${created.id}`, { scopes: ["contacts:fly"] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.code, "unknown_scopes");
    const after = await env.gw.admin("GET", `/keys/${created.id}`);
    assert.equal(after.json.name, "Steady");
    assert.deepEqual(after.json.scopes, ["contacts:read"]);
  });

  test("an expiry in the past at create time is a 400", async () => {
    const res = await env.gw.admin("POST", "/keys", { name: "Late", scopes: ["contacts:read"], expires_at: "2020-01-01T00:00:00Z" });
    assert.equal(res.status, 400);
    assert.equal(res.json.errors[0].field, "expires_at");
  });
});

describe("revoke, activate, delete", () => {
  test("revoke → 401 key_revoked; activate → works again", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"] });
    assert.equal((await contacts(created.key)).status, 200);
    assert.equal((await env.gw.admin("POST", `/keys/${created.id}/revoke`)).json.status, "revoked");
    assert.deepEqual(await status(await contacts(created.key)), { status: 401, code: "key_revoked" });
    const activated = await env.gw.admin("POST", `/keys/${created.id}/activate`);
    assert.equal(activated.status, 200);
    assert.equal(activated.json.status, "active");
    assert.equal(activated.json.revoked_at, null);
    assert.equal((await contacts(created.key)).status, 200);
  });

  test("delete → 401 on the next request, 404 for the id, gone from lists", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"], workspace: "deleting" });
    assert.equal((await contacts(created.key)).status, 200);
    const res = await env.gw.admin("DELETE", `/keys/${created.id}`);
    assert.equal(res.status, 204);
    assert.equal(res.text, "");
    assert.deepEqual(await status(await contacts(created.key)), { status: 401, code: "key_unknown" });
    assert.equal((await env.gw.admin("GET", `/keys/${created.id}`)).status, 404);
    assert.equal((await env.gw.admin("DELETE", `/keys/${created.id}`)).status, 404);
    assert.equal((await env.gw.admin("POST", `/keys/${created.id}/activate`)).status, 404);
    const listed = await env.gw.admin("GET", "/keys?workspace=deleting");
    assert.deepEqual(listed.json.keys, []);
  });

  test("after the revoke answers, no request with the key reaches the origin", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"] });
    const marker = `/v1/contacts?race=${created.id}`;
    const reached = () => env.origin.received.filter((r) => r.url === marker).length;
    let revokedAt = Infinity;
    let stop = false;
    const results = [];
    // Eight clients hammer the key while the revoke happens.
    const clients = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const sentAt = Date.now();
        const res = await env.gw.request(marker, { key: created.key });
        await res.arrayBuffer();
        results.push({ status: res.status, sentAt });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const revoke = await env.gw.admin("POST", `/keys/${created.id}/revoke`);
    assert.equal(revoke.status, 200);
    revokedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(clients);
    // Requests sent before the answer may have been admitted; none sent after it was.
    const late = results.filter((r) => r.sentAt > revokedAt);
    assert.ok(late.length > 0, "clients kept sending after the revoke");
    assert.deepEqual(late.filter((r) => r.status !== 401), []);
    const admitted = results.filter((r) => r.status === 200).length;
    assert.ok(admitted > 0, "some requests went through before the revoke");
    // The origin saw exactly the admitted requests: no refused one slipped through.
    assert.equal(reached(), admitted);
  });
});

describe("rotate", () => {
  test("the new secret works at once; the old one until the grace ends; usage and limits carry over", async () => {
    const created = await env.gw.createKey({
      name: "Rotating",
      scopes: ["contacts:read"],
      metadata: { owner: "ops" },
      workspace: "rot",
      limits: { per_minute: 3, per_day: 100 },
    });
    assert.equal((await contacts(created.key)).status, 200);
    assert.equal((await contacts(created.key)).status, 200);

    const res = await env.gw.admin("POST", `/keys/${created.id}/rotate`, { grace_seconds: 2 });
    assert.equal(res.status, 200, res.text);
    const rotated = res.json;
    assert.notEqual(rotated.key, created.key);
    assert.equal(rotated.id, created.id);
    assert.equal(rotated.hint, `kg_live_…${rotated.key.slice(-4)}`);
    for (const field of ["name", "scopes", "metadata", "workspace", "limits", "expires_at", "created_at"]) {
      assert.deepEqual(rotated[field], created[field], field);
    }
    assert.ok(Date.parse(rotated.previous_key_valid_until) - Date.now() <= 2_000);

    // Both work during the grace, and share one quota: 2 used + 1 = the limit of 3.
    assert.equal((await contacts(rotated.key)).status, 200);
    assert.deepEqual(await status(await contacts(created.key)), { status: 429, code: "rate_limited" });
    const got = await env.gw.admin("GET", `/keys/${created.id}`);
    assert.equal(got.json.usage.last_24h, 3);
    assert.ok(!got.text.includes(rotated.key));

    // The time is shown in whole seconds, rounded down: the end is within the second after.
    await new Promise((resolve) => setTimeout(resolve, Date.parse(rotated.previous_key_valid_until) - Date.now() + 1300));
    assert.deepEqual(await status(await contacts(created.key)), { status: 401, code: "key_unknown" });
  });

  test("grace 0 ends the old secret at once; a revoked key cannot be rotated", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"] });
    const rotated = (await env.gw.admin("POST", `/keys/${created.id}/rotate`)).json;
    assert.equal((await contacts(created.key)).status, 401);
    assert.equal((await contacts(rotated.key)).status, 200);
    await env.gw.admin("POST", `/keys/${created.id}/revoke`);
    const refused = await env.gw.admin("POST", `/keys/${created.id}/rotate`, { grace_seconds: 10 });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, "key_not_active");
    for (const body of [{ grace_seconds: -1 }, { grace_seconds: 2592001 }, { grace_seconds: "5" }, { grace: 5 }]) {
      assert.equal((await env.gw.admin("POST", `/keys/${created.id}/rotate`, body)).status, 400, JSON.stringify(body));
    }
  });
});

describe("usage", () => {
  test("admitted requests are counted per key; refusals are not", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"] });
    for (let i = 0; i < 4; i++) assert.equal((await contacts(created.key)).status, 200);
    assert.equal((await env.gw.request("/v1/contacts", { key: created.key, method: "POST" })).status, 403);
    const got = (await env.gw.admin("GET", `/keys/${created.id}`)).json;
    assert.deepEqual(got.usage, { last_24h: 4, last_7d: 4, last_30d: 4 });
    assert.ok(Math.abs(Date.parse(got.last_used_at) - Date.now()) < 60_000);
  });
});

describe("policy switches", () => {
  test("where the policy forbids re-activation, activate is a 409 that says so", async () => {
    const origin = await startOrigin();
    const gw = await startGateway({ origin: origin.url, policy: "seed-002-read-write" });
    try {
      const created = await gw.createKey({ scopes: ["contacts:read"] });
      assert.equal((await gw.admin("POST", `/keys/${created.id}/revoke`)).status, 200);
      const res = await gw.admin("POST", `/keys/${created.id}/activate`);
      assert.equal(res.status, 409);
      assert.equal(res.json.code, "lifecycle_not_allowed");
      assert.match(res.json.detail, /re-activating/);
      assert.equal((await gw.request("/v1/contacts", { key: created.key })).status, 401);
    } finally {
      await gw.dispose();
      await origin.close();
    }
  });
});

describe("restart", () => {
  test("keys, revocations and usage survive a restart of the runtime", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keygate-persist-"));
    const origin = await startOrigin();
    try {
      let gw = await startGateway({ origin: origin.url, persist: dir });
      const kept = await gw.createKey({ name: "Kept", scopes: ["contacts:read"], workspace: "persist" });
      const gone = await gw.createKey({ name: "Revoked", scopes: ["contacts:read"], workspace: "persist" });
      for (let i = 0; i < 3; i++) assert.equal((await gw.request("/v1/contacts", { key: kept.key })).status, 200);
      await gw.admin("POST", `/keys/${gone.id}/revoke`);
      await gw.dispose();

      gw = await startGateway({ origin: origin.url, persist: dir });
      try {
        assert.equal((await gw.request("/v1/contacts", { key: kept.key })).status, 200);
        assert.equal((await gw.request("/v1/contacts", { key: gone.key })).status, 401);
        const got = (await gw.admin("GET", `/keys/${kept.id}`)).json;
        assert.equal(got.usage.last_24h, 4);
        const listed = (await gw.admin("GET", "/keys?workspace=persist")).json.keys;
        assert.deepEqual(listed.map((k) => [k.name, k.status]), [["Revoked", "revoked"], ["Kept", "active"]]);
      } finally {
        await gw.dispose();
      }
    } finally {
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
