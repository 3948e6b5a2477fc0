// Scope evaluation end to end, on every grant kind of the demo policy (policies/demo.toml),
// plus the seed policies' distinctive rules.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway, startGateway, policyText } from "./harness.mjs";

const env = useGateway();

const ROUTES = {
  "contacts:read": ["GET", "/v1/contacts"],
  "contacts:write": ["POST", "/v1/contacts"],
  "contacts:delete": ["DELETE", "/v1/contacts/7"],
  "email:read": ["GET", "/v1/email"],
  "email:send": ["POST", "/v1/email/send"],
  "ai:use": ["POST", "/v1/ai/complete"],
  "tags:read": ["GET", "/v1/tags"],
  "tags:write": ["POST", "/v1/tags"],
  "documents:read": ["GET", "/v1/documents/9"],
  "documents:write": ["POST", "/v1/documents"],
  "analytics:read": ["GET", "/v1/analytics/daily"],
  "settings:read": ["GET", "/v1/settings"],
  "settings:write": ["PATCH", "/v1/settings"],
};

/**
 * Checks what a key with `scopes` may do: `allowed` and `approval` list route names (keys
 * of ROUTES); every other route must be a 403 naming exactly that scope.
 */
async function expectAccess(scopes, { allowed = [], approval = [] }) {
  const { key } = await env.gw.createKey({ scopes, limits: { per_minute: 1000, per_day: 10000 } });
  for (const [name, [method, path]] of Object.entries(ROUTES)) {
    let res;
    try {
      res = await env.gw.request(path, { key, method, body: method === "GET" ? undefined : "{}" });
    } catch (e) {
      throw new Error(`${method} ${path}: ${e.message} (${e.cause?.code} ${e.cause?.message})`);
    }
    const body = await res.text();
    const where = `${scopes.join(" ")} → ${method} ${path}: ${res.status} ${body}`;
    if (allowed.includes(name)) {
      assert.equal(res.status, 200, where);
    } else if (approval.includes(name)) {
      // Queued for a human: 202 with where it waits (tests/e2e/approvals.test.mjs has the rest).
      assert.equal(res.status, 202, where);
      assert.equal(JSON.parse(body).status, "pending", where);
      assert.match(res.headers.get("location") ?? "", /^\/_keygate\/v1\/approvals\/apr_[0-9A-Za-z]{22}$/, where);
    } else {
      assert.equal(res.status, 403, where);
      assert.equal(JSON.parse(body).required_scope, name, where);
    }
  }
}

describe("ladder: read < write-approval < write < delete-approval < delete", () => {
  test("read", () => expectAccess(["contacts:read"], { allowed: ["contacts:read"] }));
  test("write-approval", () =>
    expectAccess(["contacts:write-approval"], { allowed: ["contacts:read"], approval: ["contacts:write"] }));
  test("write", () => expectAccess(["contacts:write"], { allowed: ["contacts:read", "contacts:write"] }));
  test("delete-approval", () =>
    expectAccess(["contacts:delete-approval"], {
      allowed: ["contacts:read", "contacts:write"],
      approval: ["contacts:delete"],
    }));
  test("delete", () =>
    expectAccess(["contacts:delete"], { allowed: ["contacts:read", "contacts:write", "contacts:delete"] }));
});

describe("communication: read < send-approval < send", () => {
  test("read", () => expectAccess(["email:read"], { allowed: ["email:read"] }));
  test("send-approval", () => expectAccess(["email:send-approval"], { allowed: ["email:read"], approval: ["email:send"] }));
  test("send", () => expectAccess(["email:send"], { allowed: ["email:read", "email:send"] }));
});

describe("ai: use-approval < use", () => {
  test("use-approval", () => expectAccess(["ai:use-approval"], { approval: ["ai:use"] }));
  test("use", () => expectAccess(["ai:use"], { allowed: ["ai:use"] }));
});

describe("read_write: write includes read", () => {
  test("read", () => expectAccess(["tags:read"], { allowed: ["tags:read"] }));
  test("write", () => expectAccess(["tags:write"], { allowed: ["tags:read", "tags:write"] }));
});

describe("independent: write does not imply read", () => {
  test("write only", () => expectAccess(["documents:write"], { allowed: ["documents:write"] }));
  test("read only", () => expectAccess(["documents:read"], { allowed: ["documents:read"] }));
  test("both", () => expectAccess(["documents:read", "documents:write"], { allowed: ["documents:read", "documents:write"] }));
});

describe("read_only", () => {
  test("read", () => expectAccess(["analytics:read"], { allowed: ["analytics:read"] }));
});

describe("coarse scopes", () => {
  test("read:all reads everything, writes nothing", () =>
    expectAccess(["read:all"], {
      allowed: Object.keys(ROUTES).filter((name) => name.endsWith(":read")),
    }));
  test("write:all writes everything outside the Admin only group", () =>
    expectAccess(["write:all"], {
      // The ladder's write includes read; independent write does not; send/use are not writes.
      allowed: ["contacts:read", "contacts:write", "tags:read", "tags:write", "documents:write"],
    }));
  test("admin does everything, Admin only included", () => expectAccess(["admin"], { allowed: Object.keys(ROUTES) }));
  test("scopes add up", () =>
    expectAccess(["contacts:read", "email:send-approval", "analytics:read"], {
      allowed: ["contacts:read", "email:read", "analytics:read"],
      approval: ["email:send"],
    }));
});

describe("policy options", () => {
  test("unmapped routes can answer 403 instead of 404", async () => {
    const policy = policyText("demo").replace("unmapped_route_status = 404", "unmapped_route_status = 403");
    assert.notEqual(policy, policyText("demo"));
    const strict = await startGateway({ origin: env.origin.url, bindings: { KEYGATE_POLICY: policy } });
    try {
      const { key } = await strict.createKey({ scopes: ["admin"] });
      const res = await strict.request("/v1/not-mapped", { key });
      assert.equal(res.status, 403);
      assert.equal((await res.json()).code, "route_not_mapped");
    } finally {
      await strict.dispose();
    }
  });

  test("seed 004 (coarse scopes, sk_ keys): admin includes read:all and write:all", async () => {
    const seed = await startGateway({ origin: env.origin.url, policy: "seed-004-coarse" });
    try {
      const reader = await seed.createKey({ scopes: ["read:all"] });
      assert.match(reader.key, /^sk_live_/);
      assert.equal((await seed.request("/v1/projects", { key: reader.key })).status, 200);
      const denied = await seed.request("/v1/projects", { key: reader.key, method: "POST", body: "{}" });
      assert.equal(denied.status, 403);
      const admin = await seed.createKey({ scopes: ["admin"] });
      assert.equal((await seed.request("/v1/projects", { key: admin.key, method: "POST", body: "{}" })).status, 200);
    } finally {
      await seed.dispose();
    }
  });
});
