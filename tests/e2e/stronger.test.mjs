// Lifecycle rules a weaker actor cannot undo (issue 9), on workerd: who revoked a key bounds
// who may re-activate it; test and live keys see and decide only their own environment;
// a key never decides a request of a key related to it; only a key's creator (or the root
// token) edits or rotates it; and a request queued by a secret that no longer works is
// never sent.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway } from "./harness.mjs";

const env = useGateway();
const LIMITS = { per_minute: 60, per_day: 10_000 };
const SMALL = { per_minute: 10, per_day: 100 };

/** A key created by the root token. */
const rootKey = (workspace, scopes, extra = {}) =>
  env.gw.createKey({ name: `${scopes.join(" ")} in ${workspace}`, scopes, workspace, limits: LIMITS, ...extra });

/** A key created by `maker` (a key object with its secret). */
async function madeBy(maker, body) {
  const res = await env.gw.admin("POST", "/keys", { name: "made", limits: SMALL, ...body }, maker.key);
  assert.equal(res.status, 201, res.text);
  return res.json;
}

/** POSTs a write that waits for approval; returns the approval id. */
async function submit(key) {
  const res = await env.gw.request("/v1/contacts", { key: key.key, method: "POST", body: "{}", headers: { "content-type": "application/json" } });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return JSON.parse(text).approval_id;
}

const reachedOrigin = (id) => env.origin.received.filter((r) => r.headers["x-keygate-approval-id"] === id);

describe("re-activation", () => {
  test("a key cannot re-activate a key the root token revoked; it may undo its own revocation", async () => {
    const manager = await rootKey("react", ["api_keys:delete", "contacts:read"]);
    const target = await madeBy(manager, { scopes: ["contacts:read"] });
    assert.deepEqual(target.created_by, { type: "key", id: manager.id });
    assert.deepEqual(manager.created_by, { type: "root" });
    assert.equal(target.revoked_by, null);

    let res = await env.gw.admin("POST", `/keys/${target.id}/revoke`);
    assert.deepEqual(res.json.revoked_by, { type: "root" });
    res = await env.gw.admin("POST", `/keys/${target.id}/activate`, undefined, manager.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "reactivation_not_allowed");
    // The leaked secret stays dead.
    assert.equal((await env.gw.request("/v1/contacts", { key: target.key })).status, 401);
    assert.equal((await env.gw.admin("GET", `/keys/${target.id}`)).json.status, "revoked");

    // Another manager's revocation is not this one's to undo either.
    const other = await rootKey("react", ["api_keys:delete", "contacts:read"]);
    const second = await madeBy(manager, { scopes: ["contacts:read"] });
    res = await env.gw.admin("POST", `/keys/${second.id}/revoke`, undefined, other.key);
    assert.deepEqual(res.json.revoked_by, { type: "key", id: other.id });
    res = await env.gw.admin("POST", `/keys/${second.id}/activate`, undefined, manager.key);
    assert.equal(res.json.code, "reactivation_not_allowed");

    // Its own revocation it may undo; the root token may undo any.
    const third = await madeBy(manager, { scopes: ["contacts:read"] });
    res = await env.gw.admin("POST", `/keys/${third.id}/revoke`, undefined, manager.key);
    assert.deepEqual(res.json.revoked_by, { type: "key", id: manager.id });
    res = await env.gw.admin("POST", `/keys/${third.id}/activate`, undefined, manager.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.revoked_by, null);
    assert.equal((await env.gw.request("/v1/contacts", { key: third.key })).status, 200);
    res = await env.gw.admin("POST", `/keys/${target.id}/activate`);
    assert.equal(res.status, 200, res.text);
  });
});

describe("environments", () => {
  test("a test key neither sees nor decides a live key's queued write, nor lists or gets live keys", async () => {
    const agent = await rootKey("envs", ["contacts:write-approval"]);
    const tester = await rootKey("envs", ["approvals:write", "api_keys:read"], { environment: "test" });
    const id = await submit(agent);
    const as = (method, path) => env.gw.admin(method, path, undefined, tester.key);

    let res = await as("POST", `/approvals/${id}/approve`);
    assert.equal(res.status, 404, res.text);
    assert.deepEqual(reachedOrigin(id), []);
    assert.equal((await as("GET", `/approvals/${id}`)).status, 404);
    res = await as("GET", "/approvals");
    assert.equal(res.status, 200, res.text);
    assert.ok(!res.json.approvals.some((a) => a.id === id), res.text);

    res = await as("GET", "/keys");
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.keys.length >= 1);
    assert.ok(res.json.keys.every((k) => k.environment === "test"), res.text);
    assert.equal((await as("GET", `/keys/${agent.id}`)).status, 404);

    // And the other way round: a live reviewer does not decide a test key's request.
    const testAgent = await rootKey("envs", ["contacts:write-approval"], { environment: "test" });
    const liveReviewer = await rootKey("envs", ["approvals:write", "api_keys:read"]);
    const testId = await submit(testAgent);
    res = await env.gw.admin("POST", `/approvals/${testId}/approve`, undefined, liveReviewer.key);
    assert.equal(res.status, 404, res.text);
    assert.equal((await env.gw.admin("GET", `/keys/${testAgent.id}`, undefined, liveReviewer.key)).status, 404);
    // Each decides its own environment's.
    res = await as("POST", `/approvals/${testId}/approve`);
    assert.equal(res.status, 200, res.text);
    assert.equal(reachedOrigin(testId)[0].headers["x-keygate-environment"], "test");
  });
});

describe("related keys", () => {
  test("a key cannot approve through a twin it made, a sibling, or its own maker", async () => {
    const boss = await rootKey("twins", ["api_keys:write", "approvals:write", "contacts:write-approval"]);
    const twin = await madeBy(boss, { scopes: ["contacts:write-approval"] });
    let id = await submit(twin);
    let res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, boss.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "related_key_approval");
    res = await env.gw.admin("POST", `/approvals/${id}/reject`, { reason: "self" }, boss.key);
    assert.equal(res.json.code, "related_key_approval");

    // A sibling made by the same key.
    const sibling = await madeBy(boss, { scopes: ["approvals:write"] });
    res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, sibling.key);
    assert.equal(res.json.code, "related_key_approval");
    // The key that made it, deciding for its maker.
    const parentId = await submit(boss);
    res = await env.gw.admin("POST", `/approvals/${parentId}/approve`, undefined, sibling.key);
    assert.equal(res.json.code, "related_key_approval");
    assert.deepEqual(reachedOrigin(id), []);
    assert.deepEqual(reachedOrigin(parentId), []);

    // Keys the root token made are not siblings: an unrelated reviewer decides.
    const reviewer = await rootKey("twins", ["approvals:write"]);
    res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, reviewer.key);
    assert.equal(res.status, 200, res.text);
    assert.equal(reachedOrigin(id).length, 1);
  });

  test("a key cannot approve for a grandchild: the whole family of keys it made is related", async () => {
    const top = await rootKey("lineage", ["api_keys:write", "approvals:write", "contacts:write-approval"]);
    const middle = await madeBy(top, { scopes: ["api_keys:write", "contacts:write-approval"] });
    const bottom = await madeBy(middle, { scopes: ["contacts:write-approval"] });
    const id = await submit(bottom);
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, top.key);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "related_key_approval");
    assert.deepEqual(reachedOrigin(id), []);
    // An unrelated reviewer decides it.
    const reviewer = await rootKey("lineage", ["approvals:write"]);
    assert.equal((await env.gw.admin("POST", `/approvals/${id}/approve`, undefined, reviewer.key)).status, 200);
  });
});

describe("rotation and edits", () => {
  test("a key cannot narrow or rotate a key it did not create", async () => {
    const manager = await rootKey("takeover", ["api_keys:write", "contacts:read"]);
    const strong = await rootKey("takeover", ["contacts:read", "contacts:write"]);
    const peer = await rootKey("takeover", ["contacts:read"], { limits: SMALL });
    const as = (method, path, body) => env.gw.admin(method, path, body, manager.key);

    let res = await as("PATCH", `/keys/${strong.id}`, { scopes: ["contacts:read"] });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "not_key_creator");
    assert.deepEqual((await env.gw.admin("GET", `/keys/${strong.id}`)).json.scopes, ["contacts:read", "contacts:write"]);
    // Even a key entirely within its grants: whoever rotates receives the identity.
    res = await as("POST", `/keys/${peer.id}/rotate`, { grace_seconds: 0 });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.code, "not_key_creator");
    assert.equal((await env.gw.request("/v1/contacts", { key: peer.key })).status, 200);
    res = await as("PATCH", `/keys/${peer.id}`, { name: "mine" });
    assert.equal(res.json.code, "not_key_creator");

    // Its own creations it edits and rotates.
    const own = await madeBy(manager, { scopes: ["contacts:read"] });
    assert.equal((await as("PATCH", `/keys/${own.id}`, { name: "renamed" })).status, 200);
    assert.equal((await as("POST", `/keys/${own.id}/rotate`, { grace_seconds: 0 })).status, 200);
  });
});

describe("the secret that queued a request", () => {
  test("rotated out with grace 0, or revoked and re-activated since: 409 secret_retired, origin not called", async () => {
    for (const [label, retire] of [
      ["rotated", (k) => env.gw.admin("POST", `/keys/${k.id}/rotate`, { grace_seconds: 0 })],
      ["revoked", async (k) => {
        assert.equal((await env.gw.admin("POST", `/keys/${k.id}/revoke`)).status, 200);
        return env.gw.admin("POST", `/keys/${k.id}/activate`);
      }],
    ]) {
      const agent = await rootKey(`dead-${label}`, ["contacts:write-approval"]);
      const id = await submit(agent);
      assert.equal((await retire(agent)).status, 200);
      const res = await env.gw.admin("POST", `/approvals/${id}/approve`);
      assert.equal(res.status, 409, `${label}: ${res.text}`);
      assert.equal(res.json.code, "submitter_not_allowed");
      assert.equal(res.json.reason, "secret_retired");
      assert.deepEqual(reachedOrigin(id), []);
      const shown = (await env.gw.admin("GET", `/approvals/${id}`)).json;
      assert.equal(shown.status, "failed");
      assert.equal(shown.result.error, "secret_retired");
      assert.ok(!JSON.stringify(shown).includes(agent.key), "no secret in the approval");
    }
    // Within a rotation's grace period the old secret still works, and so does its request.
    const agent = await rootKey("dead-grace", ["contacts:write-approval"]);
    const id = await submit(agent);
    assert.equal((await env.gw.admin("POST", `/keys/${agent.id}/rotate`, { grace_seconds: 60 })).status, 200);
    const res = await env.gw.admin("POST", `/approvals/${id}/approve`);
    assert.equal(res.status, 200, res.text);
  });
});
