// The seed policies' plans and switches, each as its help page says a person sees it, on
// workerd with the seed policy itself.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway } from "./harness.mjs";

const setPlan = (gw, workspace, plan) => gw.admin("PUT", `/workspaces/${workspace}`, { plan });

describe("seed 000: API access requires the Pro plan", () => {
  const env = useGateway({ policy: "seed-000-ladders" });
  test("a Free workspace gets the upgrade answer; upgraded, its keys work; downgraded, they stop", async () => {
    const gw = env.gw;
    let res = await gw.admin("POST", "/keys", { name: "Zapier", workspace: "acme", scopes: ["contacts:read"] });
    assert.equal(res.status, 403, res.text);
    assert.deepEqual([res.json.code, res.json.plan, res.json.required_plan], ["plan_required", "free", "pro"]);

    assert.equal((await setPlan(gw, "acme", "pro")).status, 200);
    res = await gw.admin("POST", "/keys", { name: "Zapier", workspace: "acme", scopes: ["contacts:read"] });
    assert.equal(res.status, 201, res.text);
    const key = res.json.key;
    assert.equal((await gw.request("/v1/contacts", { key })).status, 200);

    assert.equal((await setPlan(gw, "acme", "free")).json.keys_updated, 1);
    const refused = await gw.request("/v1/contacts", { key });
    assert.equal(refused.status, 403);
    assert.deepEqual(
      (({ code, plan, required_plan }) => [code, plan, required_plan])(await refused.json()),
      ["plan_required", "free", "pro"],
    );
  });

  test("GET /policy lists the plans and the default one", async () => {
    const res = await env.gw.admin("GET", "/policy");
    assert.equal(res.json.default_plan, "free");
    assert.deepEqual(
      res.json.plans.map((p) => [p.name, p.api_access]),
      [["free", false], ["pro", true]],
    );
  });
});

describe("seed 001: enter a name, click Create", () => {
  const env = useGateway({ policy: "seed-001-simple" });
  test("a create with only a name gets the default scopes and works", async () => {
    const res = await env.gw.admin("POST", "/keys", { name: "Integration" });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.scopes, ["api:write"]);
    assert.equal((await env.gw.request("/v1/anything", { key: res.json.key, method: "POST" })).status, 200);
    const policy = await env.gw.admin("GET", "/policy");
    assert.deepEqual(policy.json.default_scopes, ["api:write"]);
  });

  test("Key: Manage is a member's keys:manage: create, list and delete; keys never manage keys", async () => {
    const gw = env.gw;
    const mint = async (permissions) => {
      const res = await gw.admin("POST", "/portal/sessions", {
        workspace: "team", member: { id: "u_1", name: "Grace" }, permissions,
      });
      assert.equal(res.status, 201, res.text);
      return res.json.token;
    };
    const manager = await mint(["keys:manage"]);
    let res = await gw.admin("POST", "/keys", { name: "CI" }, manager);
    assert.equal(res.status, 201, res.text);
    assert.deepEqual([res.json.workspace, res.json.scopes], ["team", ["api:write"]]);
    assert.deepEqual(res.json.created_by, { type: "member", id: "u_1", name: "Grace" });
    const made = res.json;
    assert.deepEqual((await gw.admin("GET", "/keys", undefined, manager)).json.keys.map((k) => k.id), [made.id]);

    // A member without Key: Manage sees the keys but makes none.
    const viewer = await mint(["keys:read"]);
    res = await gw.admin("POST", "/keys", { name: "Nope" }, viewer);
    assert.equal(res.status, 403, res.text);
    assert.deepEqual([res.json.code, res.json.permission], ["permission_required", "keys:manage"]);

    // The policy has no api_keys resource: a key cannot manage keys at all.
    res = await gw.admin("POST", "/keys", { name: "Twin" }, made.key);
    assert.equal(res.status, 403, res.text);

    assert.equal((await gw.admin("DELETE", `/keys/${made.id}`, undefined, manager)).status, 204);
    assert.equal((await gw.request("/v1/anything", { key: made.key })).status, 401);
  });
});

describe("seed 003: a module not in your plan is not offered", () => {
  const env = useGateway({ policy: "seed-003-modules" });
  test("Control does not include the audit module; Audit does", async () => {
    const gw = env.gw;
    const body = { name: "ERP", workspace: "buyer", scopes: ["company_account_audit:read"] };
    let res = await gw.admin("POST", "/keys", body);
    assert.equal(res.status, 403, res.text);
    assert.deepEqual([res.json.code, res.json.plan, res.json.scopes], ["scope_not_in_plan", "control", ["company_account_audit:read"]]);

    const check = await gw.admin("POST", "/keys", { name: "Checks", workspace: "buyer", scopes: ["company_account_check:read"] });
    assert.equal(check.status, 201, check.text);
    assert.equal((await gw.request("/v1/company-account-checks", { key: check.json.key })).status, 200);

    assert.equal((await setPlan(gw, "buyer", "audit")).status, 200);
    res = await gw.admin("POST", "/keys", body);
    assert.equal(res.status, 201, res.text);
    assert.equal((await gw.request("/v1/vendor-pairs", { key: res.json.key })).status, 200);

    // Back on Control: the audit key's requests stop, the check key's go on.
    await setPlan(gw, "buyer", "control");
    assert.equal((await gw.request("/v1/vendor-pairs", { key: res.json.key })).status, 403);
    assert.equal((await gw.request("/v1/company-account-checks", { key: check.json.key })).status, 200);
  });
});

describe("seed 004: read:all, write:all, admin — and per-plan limits", () => {
  const env = useGateway({ policy: "seed-004-coarse" });
  test("only the three coarse scopes exist", async () => {
    const gw = env.gw;
    const policy = await gw.admin("GET", "/policy");
    assert.deepEqual([...policy.json.scopes].sort(), ["admin", "read:all", "write:all"]);
    assert.equal(policy.json.fine_scopes, false);
    const res = await gw.admin("POST", "/keys", { name: "Fine", scopes: ["users:read"] });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.code, "unknown_scopes");
    assert.deepEqual([...res.json.valid_scopes].sort(), ["admin", "read:all", "write:all"]);
  });

  test("a key follows its plan's limits and is held to its maximum", async () => {
    const gw = env.gw;
    let res = await gw.admin("POST", "/keys", { name: "Reader", workspace: "startup", scopes: ["read:all"] });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.limits, { per_minute: 60, per_day: 1000, source: "plan" });
    const reader = res.json;
    res = await gw.admin("POST", "/keys", { name: "Greedy", workspace: "startup", scopes: ["read:all"], limits: { per_minute: 100, per_day: 1000 } });
    assert.equal(res.status, 403, res.text);
    assert.deepEqual([res.json.code, res.json.window, res.json.max], ["limit_exceeds_plan", "minute", 60]);
    // One window given: the other is the plan's default (Free's 1,000/day), not the policy's.
    res = await gw.admin("POST", "/keys", { name: "Slow", workspace: "startup", scopes: ["read:all"], limits: { per_minute: 30 } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.limits, { per_minute: 30, per_day: 1000, source: "key" });

    assert.equal((await setPlan(gw, "startup", "team")).status, 200);
    res = await gw.admin("GET", `/keys/${reader.id}`);
    assert.deepEqual(res.json.limits, { per_minute: 300, per_day: 50000, source: "plan" });
    const admitted = await gw.request("/v1/users", { key: reader.key });
    assert.equal(admitted.status, 200);
    assert.match(admitted.headers.get("ratelimit-policy"), /300;w=60/);
  });
});
