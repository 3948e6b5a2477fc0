// The policy's switches and plans as GET /policy, the create and edit bodies and a refusal
// show them, beyond what seed-plans.test.mjs walks through: a policy without them (demo)
// as before, seed 004's coarse-only edit and the 403 naming the coarse scope to add, and
// a plan's full description (seed 000).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, startOrigin } from "./harness.mjs";

let origin;
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin?.close();
});

/** Runs `body` against a gateway on `policy`, disposing it after. */
async function withGateway(policy, body) {
  const gw = await startGateway({ origin: origin.url, policy });
  try {
    await body(gw);
  } finally {
    await gw.dispose();
  }
}

describe("a policy without plans or switches (demo)", () => {
  test("GET /policy shows none, and a create must still name its scopes", () =>
    withGateway("demo", async (gw) => {
      const policy = await gw.admin("GET", "/policy");
      assert.deepEqual(
        [policy.json.plans, policy.json.default_plan, policy.json.default_scopes, policy.json.fine_scopes],
        [[], null, [], true],
      );
      const res = await gw.admin("POST", "/keys", { name: "No scopes" });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, "invalid_request");
      assert.deepEqual(res.json.errors.map((e) => e.field), ["scopes"]);
    }));
});

describe("fine_scopes = false (seed 004)", () => {
  test("only read:all, write:all and admin are scopes; a 403 names the one to add", () =>
    withGateway("seed-004-coarse", async (gw) => {
      const policy = await gw.admin("GET", "/policy");
      assert.equal(policy.json.fine_scopes, false);
      assert.deepEqual(policy.json.scopes, ["read:all", "write:all", "admin"]);

      const refused = await gw.admin("POST", "/keys", { name: "Fine", scopes: ["read:all", "projects:read"] });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.code, "unknown_scopes");
      assert.deepEqual(refused.json.unknown_scopes, ["projects:read"]);
      assert.deepEqual(refused.json.valid_scopes, ["read:all", "write:all", "admin"]);

      const reader = await gw.createKey({ scopes: ["read:all"] });
      const edit = await gw.admin("PATCH", `/keys/${reader.id}`, { scopes: ["projects:write"] });
      assert.equal(edit.status, 400, edit.text);
      assert.equal(edit.json.code, "unknown_scopes");

      const write = await gw.request("/v1/projects", { key: reader.key, method: "POST", body: "{}" });
      assert.equal(write.status, 403);
      const problem = await write.json();
      assert.equal(problem.code, "insufficient_scope");
      assert.equal(problem.required_scope, "write:all");
      assert.equal(problem.approval_scope ?? null, null);
    }));
});

describe("plans in GET /policy (seed 000)", () => {
  test("Free without API access is the default, Pro offers every resource", () =>
    withGateway("seed-000-ladders", async (gw) => {
      const { status, json } = await gw.admin("GET", "/policy");
      assert.equal(status, 200);
      assert.equal(json.default_plan, "free");
      assert.deepEqual(
        json.plans.map((plan) => [plan.name, plan.api_access]),
        [["free", false], ["pro", true]],
      );
      const pro = json.plans[1];
      assert.deepEqual(pro.resources, json.resources.map((resource) => resource.name));
      assert.deepEqual(pro.limits, { per_minute: json.limits.per_minute, per_day: json.limits.per_day });
      assert.equal(pro.max_limits, null);
    }));
});
