// The admin API, first part: create (shown once), get, revoke, policy; validation.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { useGateway, startGateway, ROOT_TOKEN } from "./harness.mjs";

const env = useGateway();

const KEY_FIELDS = [
  "created_at",
  "created_by",
  "enforcement",
  "environment",
  "expires_at",
  "hint",
  "id",
  "last_used_at",
  "limits",
  "metadata",
  "name",
  "rejection_webhook",
  "revoked_at",
  "revoked_by",
  "scopes",
  "status",
  "workspace",
];

describe("authentication", () => {
  test("a missing or wrong token is a 401; a key without api_keys grants is a 403", async () => {
    for (const token of ["", "wrong-token", ROOT_TOKEN + "x"]) {
      const res = await env.gw.admin("GET", "/policy", undefined, token);
      assert.equal(res.status, 401);
      assert.equal(res.json.code, "invalid_admin_token");
      assert.match(res.headers.get("www-authenticate"), /^Bearer/);
    }
    const { key } = await env.gw.createKey({ scopes: ["contacts:delete"] });
    const refused = await env.gw.admin("GET", "/policy", undefined, key);
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, "insufficient_scope");
    assert.equal(refused.json.required_scope, "api_keys:read");
    const admin = await env.gw.createKey({ scopes: ["admin"] });
    assert.equal((await env.gw.admin("GET", "/policy", undefined, admin.key)).status, 200);
  });
});

describe("keys", () => {
  test("create returns the key object and the secret, once", async () => {
    const res = await env.gw.admin("POST", "/keys", {
      name: "Zapier",
      scopes: ["contacts:read", "email:send-approval"],
      workspace: "acme",
      metadata: { team: "growth" },
      expires_at: "2099-01-01T00:00:00Z",
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const key = res.json;
    assert.deepEqual(Object.keys(key).sort(), [...KEY_FIELDS, "key"].sort());
    assert.match(key.key, /^kg_live_[0-9A-Za-z]{39}$/);
    assert.match(key.id, /^key_[0-9A-Za-z]{22}$/);
    assert.equal(res.headers.get("location"), `/_keygate/v1/keys/${key.id}`);
    assert.equal(key.hint, `kg_live_…${key.key.slice(-4)}`);
    assert.equal(key.status, "active");
    assert.equal(key.workspace, "acme");
    assert.equal(key.expires_at, "2099-01-01T00:00:00Z");
    assert.equal(key.last_used_at, null);
    assert.deepEqual(key.metadata, { team: "growth" });

    // Never again: the key object on GET has no secret and no hash.
    const got = await env.gw.admin("GET", `/keys/${key.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Object.keys(got.json).sort(), [...KEY_FIELDS, "usage"].sort());
    assert.deepEqual(got.json.usage, { last_24h: 0, last_7d: 0, last_30d: 0 });
    assert.ok(!got.text.includes(key.key));
    assert.ok(!/[0-9a-f]{64}/.test(got.text), "no hash in the key object");
  });

  test("a test-environment key carries the test prefix", async () => {
    const key = await env.gw.createKey({ scopes: ["contacts:read"], environment: "test" });
    assert.match(key.key, /^kg_test_/);
    assert.equal(key.environment, "test");
  });

  test("last_used_at follows use; revoke is idempotent and shows in the key", async () => {
    const created = await env.gw.createKey({ scopes: ["contacts:read"] });
    assert.equal((await env.gw.request("/v1/contacts", { key: created.key })).status, 200);
    const used = await env.gw.admin("GET", `/keys/${created.id}`);
    assert.ok(Date.now() - Date.parse(used.json.last_used_at) < 60_000);
    const first = await env.gw.admin("POST", `/keys/${created.id}/revoke`);
    const second = await env.gw.admin("POST", `/keys/${created.id}/revoke`);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.json.status, "revoked");
    assert.equal(second.json.revoked_at, first.json.revoked_at);
  });

  test("an expired key answers 401 key_expired and shows as expired", async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await env.gw.createKey({ scopes: ["contacts:read"], expires_at: expiresAt });
    assert.equal((await env.gw.request("/v1/contacts", { key: created.key })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now() + 300));
    const res = await env.gw.request("/v1/contacts", { key: created.key });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, "key_expired");
    assert.equal((await env.gw.admin("GET", `/keys/${created.id}`)).json.status, "expired");
  });

  test("unknown and malformed ids are 404; wrong methods are 405", async () => {
    assert.equal((await env.gw.admin("GET", "/keys/key_0000000000000000000000")).status, 404);
    assert.equal((await env.gw.admin("GET", "/keys/not-an-id")).status, 404);
    assert.equal((await env.gw.admin("POST", "/keys/key_0000000000000000000000/revoke")).status, 404);
    assert.equal((await env.gw.admin("GET", "/nothing-here")).status, 404);
    const wrong = await env.gw.admin("DELETE", "/policy");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET");
  });
});

describe("validation", () => {
  async function invalid(body) {
    const res = await env.gw.admin("POST", "/keys", body);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    return res.json;
  }

  test("every invalid field is named with the reason", async () => {
    const body = await invalid({
      scopes: [],
      workspace: "has spaces",
      expires_at: "2001-01-01T00:00:00Z",
      limits: { per_minute: 0 },
      rejection_webhook: "http://example.com/hook",
      environment: "prod",
      metadata: "not an object",
      colour: "blue",
    });
    assert.equal(body.code, "invalid_request");
    const fields = Object.fromEntries(body.errors.map((e) => [e.field, e.message]));
    assert.deepEqual(Object.keys(fields).sort(), [
      "colour",
      "environment",
      "expires_at",
      "limits",
      "metadata",
      "name",
      "rejection_webhook",
      "scopes",
      "workspace",
    ]);
    assert.match(fields.name, /required/);
    assert.match(fields.scopes, /at least one/);
    assert.match(fields.expires_at, /future/);
    assert.match(fields.limits, /per_minute/);
    assert.match(fields.rejection_webhook, /https/);
    assert.match(fields.colour, /unknown field/);
  });

  test("absurd or inconsistent limits are refused", async () => {
    for (const limits of [
      { per_minute: -1 },
      { per_minute: 1.5 },
      { per_day: 0 },
      { per_minute: 100, per_day: 10 },
      { per_minute: 10_000_000 },
      { per_hour: 5 },
    ]) {
      const body = await invalid({ name: "x", scopes: ["contacts:read"], limits });
      assert.ok(body.errors[0].field.startsWith("limits"), JSON.stringify(body));
    }
  });

  test("unknown scopes are a 400 that lists the valid ones", async () => {
    const body = await invalid({ name: "x", scopes: ["contacts:read", "contacts:admin", "everything"] });
    assert.equal(body.code, "unknown_scopes");
    assert.deepEqual(body.unknown_scopes, ["contacts:admin", "everything"]);
    assert.ok(body.valid_scopes.includes("contacts:write-approval"));
    assert.ok(body.valid_scopes.includes("admin"));
  });

  test("a body that is not a JSON object is a 400 naming the body", async () => {
    for (const raw of ["not json", "[1,2]", ""]) {
      const body = await invalid(raw);
      assert.equal(body.errors[0].field, "body");
    }
  });

  test("a loopback http webhook is accepted while HTTPS-only is off", async () => {
    const key = await env.gw.createKey({ scopes: ["contacts:read"], rejection_webhook: "http://127.0.0.1:9999/hook" });
    assert.equal(key.rejection_webhook, "http://127.0.0.1:9999/hook");
  });
});

describe("policy", () => {
  test("GET /policy shows the scope table in force", async () => {
    const res = await env.gw.admin("GET", "/policy");
    assert.equal(res.status, 200);
    const policy = res.json;
    const contacts = policy.resources.find((r) => r.name === "contacts");
    assert.deepEqual(contacts.levels, ["read", "write-approval", "write", "delete-approval", "delete"]);
    assert.equal(contacts.kind, "ladder");
    assert.equal(policy.resources.find((r) => r.name === "settings").group, "Admin only");
    assert.deepEqual(policy.routes[0], { method: "GET", path: "/v1/contacts", resource: "contacts", action: "read" });
    assert.ok(policy.scopes.includes("email:send-approval"));
    assert.ok(policy.scopes.includes("read:all"));
    assert.deepEqual(policy.limits, { per_minute: 120, per_day: 50000, enforcement: "exact", lease_seconds: 1 });
  });

  test("GET /policy says whether the bundled policy is in force or a KEYGATE_POLICY overrides it", async () => {
    // A KEYGATE_POLICY secret outlives every deploy and rollback: only this shows it.
    assert.equal((await env.gw.admin("GET", "/policy")).json.source, "variable");
    const bundled = await startGateway({ origin: env.origin.url, policy: null });
    try {
      const policy = (await bundled.admin("GET", "/policy")).json;
      assert.equal(policy.source, "bundled");
      assert.equal(policy.key_prefix, "kg", "the demo policy build.sh bundled");
    } finally {
      await bundled.dispose();
    }
  });
});
