// Lease mode end to end ([limits] enforcement = "lease"): the key's Durable Object lends the
// isolate requests to admit on its own. Never over the limit, whatever the concurrency; a
// revoke effective within the lease time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useGateway, policyText, parseRateLimit, sleep } from "./harness.mjs";

const LEASE_SECONDS = 3;
const POLICY = policyText("demo").replace(
  "[limits]\n",
  `[limits]\nenforcement = "lease"\nlease_seconds = ${LEASE_SECONDS}\n`,
);
assert.notEqual(POLICY, policyText("demo"), "the demo policy has a [limits] table to extend");

const env = useGateway({ bindings: { KEYGATE_POLICY: POLICY } });

function callsFor(keyId) {
  return env.origin.received.filter((r) => r.headers["x-keygate-key-id"] === keyId).length;
}

test("GET /policy says the policy's keys lease", async () => {
  const res = await env.gw.admin("GET", "/policy");
  assert.equal(res.status, 200);
  assert.equal(res.json.limits.enforcement, "lease");
  assert.equal(res.json.limits.lease_seconds, LEASE_SECONDS);
});

test("50 concurrent requests against 20 a minute: exactly 20 reach the origin, 30 are 429", async () => {
  const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 20, per_day: 1000 } });
  const statuses = await Promise.all(
    Array.from({ length: 50 }, () => env.gw.request("/v1/contacts", { key }).then(async (r) => (await r.arrayBuffer(), r.status))),
  );
  assert.equal(statuses.filter((s) => s === 200).length, 20, `statuses: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 429).length, 30, `statuses: ${statuses}`);
  assert.equal(callsFor(id), 20);
  // And the next ones, one at a time, are refused too: the minute is full.
  for (let i = 0; i < 5; i++) {
    const res = await env.gw.request("/v1/contacts", { key });
    await res.arrayBuffer();
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
  }
  assert.equal(callsFor(id), 20);
});

test("requests under a lease are admitted by the isolate: the limit headers show the lease's count", async () => {
  const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 1000, per_day: 100000 } });
  const remaining = [];
  for (let i = 0; i < 20; i++) {
    const res = await env.gw.request("/v1/contacts", { key });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    remaining.push(parseRateLimit(res.headers.get("ratelimit")).minute.r);
  }
  assert.equal(callsFor(id), 20);
  // In exact mode every request counts one and shows one less remaining. Under a lease the
  // object counted the whole lease when it lent it, and the requests it covers show that.
  const repeats = remaining.filter((r, i) => i > 0 && r === remaining[i - 1]).length;
  assert.ok(repeats > 0, `remaining: ${remaining}`);
  // Never more counted than the requests leased: nothing near the limit.
  assert.ok(remaining.every((r) => r >= 1000 - 200), `remaining: ${remaining}`);
});

test("a revoke is effective everywhere within the lease time", async () => {
  const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 1000, per_day: 100000 } });
  for (let i = 0; i < 10; i++) {
    const res = await env.gw.request("/v1/contacts", { key });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
  }
  const revoked = await env.gw.admin("POST", `/keys/${id}/revoke`);
  assert.equal(revoked.status, 200);
  const revokedAt = Date.now();
  // Requests keep going until one is refused, for at most twice the lease time.
  const after = [];
  while (Date.now() < revokedAt + 2 * LEASE_SECONDS * 1000) {
    const sentAt = Date.now();
    const res = await env.gw.request("/v1/contacts", { key });
    const body = await res.json();
    after.push({ sentAt, status: res.status, code: body.code });
    if (res.status === 401) break;
    await sleep(50);
  }
  const last = after.at(-1);
  assert.equal(last.status, 401, JSON.stringify(after));
  assert.equal(last.code, "key_revoked");
  // Every request admitted after the revoke was sent within the lease time of it: a lease
  // lent before the revoke ends within the lease time of being lent.
  for (const { sentAt, status } of after) {
    if (status === 200) assert.ok(sentAt < revokedAt + LEASE_SECONDS * 1000, JSON.stringify(after));
  }
  // From the lease time on, every request is refused.
  await sleep(Math.max(0, revokedAt + LEASE_SECONDS * 1000 - Date.now()));
  for (let i = 0; i < 3; i++) {
    const res = await env.gw.request("/v1/contacts", { key });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, "key_revoked");
  }
});

test("a key may choose exact mode under a leasing policy, and the key shows which it follows", async () => {
  const exact = await env.gw.createKey({ scopes: ["contacts:read"], enforcement: "exact", limits: { per_minute: 1000, per_day: 100000 } });
  assert.deepEqual(exact.enforcement, { mode: "exact", source: "key" });
  const remaining = [];
  for (let i = 0; i < 10; i++) {
    const res = await env.gw.request("/v1/contacts", { key: exact.key });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    remaining.push(parseRateLimit(res.headers.get("ratelimit")).minute.r);
  }
  // Every request counted alone, by the key's object.
  assert.deepEqual(remaining, Array.from({ length: 10 }, (_, i) => 999 - i));
  const follows = await env.gw.createKey({ scopes: ["contacts:read"] });
  assert.deepEqual(follows.enforcement, { mode: "lease", source: "policy" });
  const edited = await env.gw.admin("PATCH", `/keys/${exact.id}`, { enforcement: null });
  assert.equal(edited.status, 200);
  assert.deepEqual(edited.json.enforcement, { mode: "lease", source: "policy" });
  const refused = await env.gw.admin("PATCH", `/keys/${exact.id}`, { enforcement: "fast" });
  assert.equal(refused.status, 400);
});
