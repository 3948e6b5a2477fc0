// Exact per-key limits, end to end: counted in the key's Durable Object on workerd.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useGateway, parseRateLimit } from "./harness.mjs";

const env = useGateway();

function callsFor(keyId) {
  return env.origin.received.filter((r) => r.headers["x-keygate-key-id"] === keyId).length;
}

test("N requests pass, N+1 is a 429 with Retry-After, and the 429 uses no day budget", async () => {
  const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 3, per_day: 100 } });
  for (let i = 1; i <= 3; i++) {
    const res = await env.gw.request("/v1/contacts", { key });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit-policy"), '"minute";q=3;w=60, "day";q=100;w=86400');
    const state = parseRateLimit(res.headers.get("ratelimit"));
    assert.equal(state.minute.r, 3 - i);
    assert.equal(state.day.r, 100 - i);
    assert.equal(res.headers.get("x-ratelimit-limit"), "3");
    assert.equal(res.headers.get("x-ratelimit-remaining"), String(3 - i));
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await env.gw.request("/v1/contacts", { key });
    assert.equal(res.status, 429);
    const retryAfter = Number(res.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    const body = await res.json();
    assert.equal(body.code, "rate_limited");
    assert.equal(body.retry_after, retryAfter);
    // Throttled requests are not counted: the day window still shows exactly 3 used.
    assert.equal(parseRateLimit(res.headers.get("ratelimit")).day.r, 97);
  }
  assert.equal(callsFor(id), 3);
});

test("when the day is used up, Retry-After points at UTC midnight", async () => {
  const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 2, per_day: 2 } });
  assert.equal((await env.gw.request("/v1/contacts", { key })).status, 200);
  assert.equal((await env.gw.request("/v1/contacts", { key })).status, 200);
  const res = await env.gw.request("/v1/contacts", { key });
  assert.equal(res.status, 429);
  // Both windows are full; the day frees up later, so it decides the wait.
  const now = new Date();
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const expected = Math.ceil((midnight - now.getTime()) / 1000);
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(Math.abs(retryAfter - expected) <= 5, `Retry-After ${retryAfter}, expected about ${expected}`);
  assert.match((await res.json()).detail, /per-day/);
  const state = parseRateLimit(res.headers.get("ratelimit"));
  assert.equal(state.day.r, 0);
  assert.equal(state.minute.r, 0);
  assert.ok(state.day.t >= retryAfter - 1, "the day's reset is not earlier than Retry-After");
  assert.equal(callsFor(id), 2);
});

test("concurrent requests for one key never exceed its limit", async () => {
  const { key, id } = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 10, per_day: 1000 } });
  const statuses = await Promise.all(
    Array.from({ length: 40 }, () => env.gw.request("/v1/contacts", { key }).then(async (r) => (await r.arrayBuffer(), r.status))),
  );
  assert.equal(statuses.filter((s) => s === 200).length, 10);
  assert.equal(statuses.filter((s) => s === 429).length, 30);
  assert.equal(callsFor(id), 10);
});

test("limits are per key: one key's exhaustion leaves another untouched", async () => {
  const a = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 1, per_day: 10 } });
  const b = await env.gw.createKey({ scopes: ["contacts:read"], limits: { per_minute: 1, per_day: 10 } });
  assert.equal((await env.gw.request("/v1/contacts", { key: a.key })).status, 200);
  assert.equal((await env.gw.request("/v1/contacts", { key: a.key })).status, 429);
  assert.equal((await env.gw.request("/v1/contacts", { key: b.key })).status, 200);
});

test("a key without its own limits follows the policy defaults (120/min, 50,000/day)", async () => {
  const created = await env.gw.createKey({ scopes: ["contacts:read"] });
  assert.deepEqual(created.limits, { per_minute: 120, per_day: 50000, source: "policy" });
  const res = await env.gw.request("/v1/contacts", { key: created.key });
  assert.equal(res.headers.get("ratelimit-policy"), '"minute";q=120;w=60, "day";q=50000;w=86400');
});
