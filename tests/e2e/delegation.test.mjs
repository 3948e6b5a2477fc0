// Delegated key management: a key with grants on `api_keys` manages the keys of its own
// workspace, and can never give a key more than it holds itself.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway } from "./harness.mjs";

const env = useGateway();

/** A manager key in `workspace` holding `scopes`, with limits 60/min, 10,000/day. */
const manager = (workspace, scopes) =>
  env.gw.createKey({ name: `manager of ${workspace}`, scopes, workspace, limits: { per_minute: 60, per_day: 10_000 } });

describe("delegated management", () => {
  test("a manager creates, lists, edits, rotates and revokes keys of its own workspace", async () => {
    const boss = await manager("acme", ["api_keys:delete", "contacts:write", "tags:read"]);
    const as = (method, path, body) => env.gw.admin(method, path, body, boss.key);

    // Create: the workspace defaults to the manager's own.
    let res = await as("POST", "/keys", { name: "Zapier", scopes: ["contacts:read"], limits: { per_minute: 10, per_day: 100 } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.workspace, "acme");
    const made = res.json;
    assert.equal((await env.gw.request("/v1/contacts", { key: made.key })).status, 200);

    // List: only its workspace, even when asked for no workspace.
    await env.gw.createKey({ name: "Other tenant", scopes: ["contacts:read"], workspace: "globex" });
    const listed = (await as("GET", "/keys")).json.keys;
    assert.ok(listed.length >= 2);
    assert.ok(listed.every((k) => k.workspace === "acme"), JSON.stringify(listed.map((k) => k.workspace)));

    res = await as("PATCH", `/keys/${made.id}`, { scopes: ["contacts:write"] });
    assert.equal(res.status, 200, res.text);
    res = await as("POST", `/keys/${made.id}/rotate`, { grace_seconds: 0 });
    assert.equal(res.status, 200, res.text);
    assert.equal((await env.gw.request("/v1/contacts", { key: res.json.key, method: "POST" })).status, 200);
    assert.equal((await as("POST", `/keys/${made.id}/revoke`)).status, 200);
    assert.equal((await as("DELETE", `/keys/${made.id}`)).status, 204);
  });

  test("another workspace's keys are invisible: 404 by id, 403 by list filter or create", async () => {
    const boss = await manager("initech", ["api_keys:delete", "contacts:read"]);
    const foreign = await env.gw.createKey({ name: "Foreign", scopes: ["contacts:read"], workspace: "umbrella" });
    const as = (method, path, body) => env.gw.admin(method, path, body, boss.key);
    for (const [method, path, body] of [
      ["GET", `/keys/${foreign.id}`],
      ["PATCH", `/keys/${foreign.id}`, { name: "Mine now" }],
      ["POST", `/keys/${foreign.id}/revoke`],
      ["POST", `/keys/${foreign.id}/rotate`],
      ["DELETE", `/keys/${foreign.id}`],
    ]) {
      const res = await as(method, path, body);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
    }
    let res = await as("GET", "/keys?workspace=umbrella");
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "workspace_forbidden");
    res = await as("POST", "/keys", { name: "Plant", scopes: ["contacts:read"], workspace: "umbrella", limits: { per_minute: 1 } });
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "workspace_forbidden");
    // Untouched.
    const still = await env.gw.admin("GET", `/keys/${foreign.id}`);
    assert.equal(still.json.name, "Foreign");
    assert.equal(still.json.status, "active");
  });

  test("never a scope it does not hold: create and edit are refused and nothing changes", async () => {
    const boss = await manager("hooli", ["api_keys:write", "contacts:write"]);
    const as = (method, path, body) => env.gw.admin(method, path, body, boss.key);
    let res = await as("POST", "/keys", { name: "Escalate", scopes: ["contacts:delete"], limits: { per_minute: 5, per_day: 50 } });
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "scope_exceeds_own");
    assert.deepEqual(res.json.scopes, ["contacts:delete"]);
    res = await as("POST", "/keys", { name: "Escalate", scopes: ["admin"], limits: { per_minute: 5, per_day: 50 } });
    assert.equal(res.json.code, "scope_exceeds_own");
    // Nor its own powers to manage keys beyond its level.
    res = await as("POST", "/keys", { name: "Escalate", scopes: ["api_keys:delete"], limits: { per_minute: 5, per_day: 50 } });
    assert.equal(res.json.code, "scope_exceeds_own");
    // On the api_keys ladder, write includes read.
    const listed = await as("GET", "/keys?workspace=hooli");
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.keys.map((k) => k.name), ["manager of hooli"]);
  });

  test("never a higher limit: create and edit are refused and nothing changes", async () => {
    const boss = await manager("piedpiper", ["api_keys:delete", "contacts:write"]);
    const as = (method, path, body) => env.gw.admin(method, path, body, boss.key);
    let res = await as("POST", "/keys", { name: "Greedy", scopes: ["contacts:read"], limits: { per_minute: 61, per_day: 100 } });
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "limit_exceeds_own");
    // Following the policy's defaults (120/min) would also be above 60/min.
    res = await as("POST", "/keys", { name: "Greedy", scopes: ["contacts:read"] });
    assert.equal(res.json.code, "limit_exceeds_own");

    res = await as("POST", "/keys", { name: "Modest", scopes: ["contacts:read"], limits: { per_minute: 10, per_day: 100 } });
    assert.equal(res.status, 201, res.text);
    const modest = res.json;
    res = await as("PATCH", `/keys/${modest.id}`, { limits: { per_minute: 30, per_day: 20_000 } });
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "limit_exceeds_own");
    res = await as("PATCH", `/keys/${modest.id}`, { scopes: ["contacts:delete"] });
    assert.equal(res.json.code, "scope_exceeds_own");
    const after = (await env.gw.admin("GET", `/keys/${modest.id}`)).json;
    assert.deepEqual(after.limits, { per_minute: 10, per_day: 100, source: "key" });
    assert.deepEqual(after.scopes, ["contacts:read"]);

    // A key it did not make and that holds more: it may revoke it, not rotate or re-activate it.
    const strong = await env.gw.createKey({ name: "Strong", scopes: ["admin"], workspace: "piedpiper" });
    res = await as("POST", `/keys/${strong.id}/rotate`);
    assert.equal(res.status, 403);
    assert.equal(res.json.code, "scope_exceeds_own");
    assert.equal((await as("POST", `/keys/${strong.id}/revoke`)).status, 200);
    assert.equal((await as("POST", `/keys/${strong.id}/activate`)).status, 403);
  });

  test("each admin action needs its level on api_keys; a revoked manager loses it at once", async () => {
    const reader = await manager("levels", ["api_keys:read", "contacts:read"]);
    const target = await env.gw.createKey({ name: "Target", scopes: ["contacts:read"], workspace: "levels", limits: { per_minute: 5, per_day: 50 } });
    const as = (method, path, body) => env.gw.admin(method, path, body, reader.key);
    assert.equal((await as("GET", `/keys/${target.id}`)).status, 200);
    assert.equal((await as("GET", "/keys")).status, 200);
    for (const [method, path, body, scope] of [
      ["POST", "/keys", { name: "x", scopes: ["contacts:read"] }, "api_keys:write"],
      ["PATCH", `/keys/${target.id}`, { name: "y" }, "api_keys:write"],
      ["POST", `/keys/${target.id}/revoke`, undefined, "api_keys:delete"],
      ["DELETE", `/keys/${target.id}`, undefined, "api_keys:delete"],
    ]) {
      const res = await as(method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.json.required_scope, scope);
    }
    await env.gw.admin("POST", `/keys/${reader.id}/revoke`);
    const res = await as("GET", "/keys");
    assert.equal(res.status, 401);
    assert.equal(res.json.code, "key_revoked");
  });
});
